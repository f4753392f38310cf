"""Page rendering: every template gets the language, `_`, the user and the CSRF input."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from cirqliz.domain.errors import DomainError
from cirqliz.domain.plates import parse_plate
from cirqliz.web.i18n import LANG_COOKIE, gettext_for, negotiate


def plate_display(value: str | None) -> str:
    """A stored (normalised) plate as people write it: 'AB-123-CD', or as stored if unreadable."""
    if not value:
        return ""
    try:
        return parse_plate(value).display
    except DomainError:
        return value


def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A Template response with the common context."""
    lang = negotiate(request)
    user = request.scope.get("user")
    response = Template(
        template_name=template,
        context={"lang": lang, "_": gettext_for(lang), "user": user, "plate": plate_display, **context},
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def wants_json(request: Request) -> bool:
    """API paths and clients that ask for JSON get JSON errors instead of pages."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")
