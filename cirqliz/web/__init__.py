"""The web application: server-rendered pages (French first), the API and the scanner PWA."""
