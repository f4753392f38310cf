"""Security headers on every response, and the checks of uploaded files.

The Content-Security-Policy forbids inline scripts and styles everywhere: pages load their
JavaScript and CSS from /static and /vendor only (see docs/adr/0005-security-headers-and-uploads.md).
'wasm-unsafe-eval' lets the scanner compile the zxing-wasm decoder; it does not allow `eval`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cirqliz.domain.errors import DomainError
from cirqliz.settings import Settings


def tile_origin(tile_url: str) -> str:
    """The origin of a map tile URL template ('{s}.' subdomains become '*.'); '' when there is none."""
    parts = urlsplit(tile_url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    """The policy of every page: only this site, plus the map tile host for images."""
    images = " ".join(filter(None, ["'self'", "data:", "blob:", tile_origin(settings.tile_url)]))
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        f"img-src {images}",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "media-src 'self' blob:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ])


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers added to every response (a handler may set its own value first)."""
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    return _with_hsts(headers, settings)


def _with_hsts(headers: dict[str, str], settings: Settings) -> dict[str, str]:
    if settings.hsts_seconds > 0:
        headers["Strict-Transport-Security"] = f"max-age={settings.hsts_seconds}"
    return headers


def api_security_headers(settings: Settings) -> dict[str, str]:
    """The headers of the API's JSON answers (/api/…), the set OWASP's REST Security Cheat Sheet gives
    for them: no sniffing, no framing and nothing else loaded (the policy of a document that is only
    data), never stored by a cache (passes and plates are personal data), HSTS when configured. The
    pages' other headers (referrer, permissions, opener policies) have nothing to act on in JSON, and
    every header line costs the server on every call (the checkpoints' hot path)."""
    return _with_hsts({
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }, settings)


def security_header_pairs(settings: Settings, *, api: bool = False) -> list[tuple[bytes, bytes]]:
    """`security_headers(settings)` (`api_security_headers` with api=True) as raw ASGI pairs
    (lower-case names), added by the application's outermost middleware (web/observability.py) to
    every HTTP response a handler did not give its own value: pages, error pages, static files, and
    the API's answers."""
    headers = api_security_headers(settings) if api else security_headers(settings)
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


# ---- uploaded files ----------------------------------------------------------------------------

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")
MIB = 1024 * 1024
FORM_LIMIT = 1 * MIB
"""Request body limit of every route without a limit of its own (forms, JSON)."""


def text_upload(content: bytes, *, what: str, legacy_encoding: str | None = None) -> str:
    """The text of an uploaded CSV/GeoJSON/XML/ICS file; DomainError (French) when it is binary (NUL
    bytes, control characters) or not UTF-8 (or `legacy_encoding` when given, e.g. cp1252 spreadsheets)."""
    # Control bytes are the same in UTF-8 and in the legacy 8-bit encodings: one scan of the bytes.
    if _CONTROL.search(content):
        raise DomainError(f"{what} refusé : c'est un fichier binaire, pas un fichier texte "
                          "(enregistrez-le en texte UTF-8)", code="upload_binary")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if legacy_encoding is None:
            raise DomainError(f"{what} refusé : ce n'est pas du texte UTF-8 (octet invalide à la position "
                              f"{exc.start})", code="upload_not_utf8") from None
        text = content.decode(legacy_encoding, errors="replace")
    return text
