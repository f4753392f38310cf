// The API viewer at /schema: Swagger UI (served from /vendor) on the document at data-spec-url.
// Kept out of the page so the Content-Security-Policy needs no 'unsafe-inline'.
window.addEventListener('DOMContentLoaded', () => {
  const container = document.getElementById('swagger-container');
  window.ui = window.SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: '#swagger-container',
    validatorUrl: null,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
  });
});
