"""Exception handlers: a clear message a person understands, HTML for pages, JSON for the API."""

from __future__ import annotations

import logging

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.passcode.errors import SchemeError
from cirqliz.web.rendering import page, wants_json
from cirqliz.web.stores import STORE_DOWN

log = logging.getLogger("cirqliz.web")


def _error(request: Request, status: int, message: str, code: str) -> Response:
    if wants_json(request):
        return Response({"status_code": status, "code": code, "detail": message}, status_code=status,
                        media_type=MediaType.JSON)
    return page(request, "errors/error.html", status_code=status, status=status, message=message, code=code)


def on_domain_error(request: Request, exc: DomainError) -> Response:
    """Business refusals: 404 for missing rows, 422 for the rest, with the French message."""
    status = 404 if isinstance(exc, NotFound) else 422
    return _error(request, status, exc.message, exc.code)


def on_scheme_error(request: Request, exc: SchemeError) -> Response:
    """Pass or bundle data that cannot be read."""
    return _error(request, 422, exc.message, exc.code)


def on_integrity_error(request: Request, exc: IntegrityError) -> Response:
    """A uniqueness or reference constraint refused the change; nothing was stored."""
    log.info("integrity error: %s", exc.orig)
    return _error(request, 409, "Cette opération entre en conflit avec des données existantes (doublon ?). "
                  "Rien n'a été enregistré.", "conflict")


def on_not_authorized(request: Request, exc: NotAuthorizedException) -> Response:
    """Anonymous on a protected page: to the sign-in page (401 for the API)."""
    if wants_json(request):
        return _error(request, 401, "Authentification requise.", "not_authenticated")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/connexion?next={target}", status_code=303)


def on_forbidden(request: Request, exc: PermissionDeniedException) -> Response:
    """Signed in, but not with a role that may do this."""
    return _error(request, 403, exc.detail or "Accès refusé.", "forbidden")


def on_not_found(request: Request, exc: NotFoundException) -> Response:
    """Unknown page."""
    return _error(request, 404, "Page introuvable.", "not_found")


def on_validation(request: Request, exc: ValidationException) -> Response:
    """A request whose fields could not be read."""
    details = "; ".join(str(e.get("message", e)) for e in (exc.extra or []) if isinstance(e, dict))
    return _error(request, 400, f"Données invalides. {details}".strip(), "invalid_request")


def on_too_large(request: Request, exc: RequestEntityTooLarge) -> Response:
    """A body over the route's limit (read before anything is stored): 413 with the limit in French."""
    try:
        limit = request.route_handler.resolve_request_max_body_size()
    except Exception:  # no route resolved: say it without the figure
        limit = None
    size = f" : au plus {limit / 1048576:.0f} Mo pour cette page" if limit else ""
    return _error(request, 413, f"Envoi trop volumineux{size}. Rien n'a été enregistré.", "too_large")


def on_store_down(request: Request, exc: RedisError) -> Response:
    """Redis (the shared store of rate limits and signed-out sessions) does not answer: a clear 503,
    never a 500, and never a request let through uncounted."""
    log.warning("shared store unreachable on %s: %s", request.url.path, exc)
    return _error(request, 503, STORE_DOWN, "store_unavailable")


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    """Other HTTP errors keep their status, with a readable message."""
    return _error(request, exc.status_code, exc.detail, "http_error")


def on_server_error(request: Request, exc: Exception) -> Response:
    """Unexpected failure: logged with its traceback, a sober message to the person."""
    log.exception("unhandled error on %s", request.url.path)
    return _error(request, HTTP_500_INTERNAL_SERVER_ERROR, "Erreur interne : l'équipe technique est prévenue.",
                  "internal_error")


EXCEPTION_HANDLERS = {
    DomainError: on_domain_error,
    SchemeError: on_scheme_error,
    IntegrityError: on_integrity_error,
    NotAuthorizedException: on_not_authorized,
    PermissionDeniedException: on_forbidden,
    NotFoundException: on_not_found,
    ValidationException: on_validation,
    RequestEntityTooLarge: on_too_large,
    RedisError: on_store_down,
    HTTPException: on_http_exception,
    HTTP_500_INTERNAL_SERVER_ERROR: on_server_error,
}
