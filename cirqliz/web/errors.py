"""Exception handlers: a clear message a person understands, HTML for pages, JSON for the API."""

from __future__ import annotations

import logging
import re
import sqlite3
from http import HTTPStatus
from urllib.parse import quote

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
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.passcode.errors import SchemeError
from cirqliz.web.rendering import page, wants_json
from cirqliz.web.stores import STORE_DOWN

log = logging.getLogger("cirqliz.web")
RETRY_AFTER_S = 5
"""Seconds a client is told to wait (Retry-After) when a service the application needs is down."""
DATABASE_DOWN = "Service momentanément indisponible (base de données injoignable) : réessayez dans un instant."
DATA_REFUSED = ("Données refusées : une valeur ne peut pas être enregistrée (caractère non autorisé, texte trop "
                "long ou nombre hors limites). Rien n'a été enregistré.")
CSRF_REFUSED = ("Formulaire refusé : jeton de sécurité absent ou expiré. Rechargez la page, puis envoyez "
                "le formulaire à nouveau.")
# Litestar's own (English) messages, and what a person reads instead.
_LITESTAR_FR = {
    "CSRF token verification failed": CSRF_REFUSED,
    "Invalid multipart/form-data": "Formulaire illisible (multipart/form-data invalide).",
    "Request Entity Too Large": "Envoi trop volumineux. Rien n'a été enregistré.",
}
# The French for a status whose message is Litestar's default (the HTTP reason phrase, in English).
_STATUS_FR = {
    400: "Requête invalide.",
    401: "Authentification requise.",
    403: "Accès refusé.",
    404: "Page introuvable.",
    405: "Méthode non autorisée pour cette adresse.",
    406: "Format de réponse non disponible.",
    408: "Délai dépassé : la requête a mis trop de temps à arriver.",
    409: "Conflit avec l'état actuel des données.",
    413: "Envoi trop volumineux. Rien n'a été enregistré.",
    415: "Type de contenu non pris en charge.",
    429: "Trop de requêtes : réessayez dans un instant.",
    500: "Erreur interne : l'équipe technique est prévenue.",
    503: "Service momentanément indisponible : réessayez dans un instant.",
}


def _error(request: Request, status: int, message: str, code: str,
           headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return Response({"status_code": status, "code": code, "detail": message}, status_code=status,
                        media_type=MediaType.JSON, headers=headers)
    response = page(request, "errors/error.html", status_code=status, status=status, message=message, code=code)
    response.headers.update(headers or {})
    return response


def message_fr(status: int, detail: str | None) -> str:
    """A Litestar exception's message in French: ours pass unchanged, Litestar's English defaults
    (the HTTP reason phrase, "CSRF token verification failed"…) are replaced."""
    if detail in _LITESTAR_FR:
        return _LITESTAR_FR[detail]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = None
    if not detail or detail == phrase:
        return _STATUS_FR.get(status, "Requête refusée.")
    return detail


def _unavailable(request: Request, message: str, code: str) -> Response:
    """503 with Retry-After: a service the application needs (Redis, the database) does not answer."""
    return _error(request, 503, message, code, {"Retry-After": str(RETRY_AFTER_S)})


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
    # Encoded, so that the page's own query (« ?a=1&b=2 ») comes back whole after sign-in.
    return Redirect(f"/connexion?next={quote(target, safe='/')}", status_code=303)


def on_forbidden(request: Request, exc: PermissionDeniedException) -> Response:
    """Signed in, but not with a role that may do this."""
    if exc.detail == "CSRF token verification failed":
        return _error(request, 403, CSRF_REFUSED, "csrf_failed")
    return _error(request, 403, message_fr(403, exc.detail), "forbidden")


def on_not_found(request: Request, exc: NotFoundException) -> Response:
    """Unknown page."""
    return _error(request, 404, "Page introuvable.", "not_found")


# msgspec's (English) validation messages, as Litestar passes them on, and their French.
_TYPES_FR = {"int": "un nombre entier", "str": "un texte", "float": "un nombre", "bool": "un booléen",
             "array": "une liste", "object": "un objet", "null": "rien", "uuid": "un UUID",
             "datetime": "une date et heure", "date": "une date", "time": "une heure", "bytes": "des octets",
             "decimal": "un nombre décimal"}


def _type_fr(expected: str) -> str:
    """French for msgspec's type names, unions too ("int | null" → "un nombre entier ou rien")."""
    names = [name.strip() for name in expected.split("|")]
    # An optional value that is present must be of the other type: "null" says nothing useful there.
    shown = [name for name in names if name != "null"] or names
    return " ou ".join(_TYPES_FR.get(name, "une valeur valide") for name in shown)

_VALIDATION_FR = (
    (re.compile(r"Expected `([^`]+)`, got `([^`]+)`"),
     lambda m: f"{_type_fr(m[1])} attendu, reçu {_type_fr(m[2])}"),
    (re.compile(r"Expected `([^`]+)` ([<>]=?) (\S+)"), lambda m: f"valeur {m[2]} {m[3]} attendue"),
    (re.compile(r"Object missing required field `([^`]+)`"), lambda m: f"champ obligatoire manquant : {m[1]}"),
    (re.compile(r"Object contains unknown field `([^`]+)`"), lambda m: f"champ inconnu : {m[1]}"),
    (re.compile(r"Invalid enum value (.*)"), lambda m: f"valeur inconnue : {m[1][:40]}"),
    (re.compile(r"Invalid UUID"), lambda m: "UUID invalide"),
    (re.compile(r"Integer value out of range|Number out of range"), lambda m: "nombre hors limites"),
)


def validation_message_fr(message: str, key: str | None = None) -> str:
    """French for one field error of a request; our own messages (French already) pass unchanged."""
    for pattern, french in _VALIDATION_FR:
        found = pattern.search(message)
        if found:
            text = french(found)
            break
    else:
        # Ours are French; an English one we do not know is not shown.
        text = message if re.search(r"[àâçéèêëîïôûù]|\s:\s", message) else "valeur invalide"
    return f"{key} : {text}" if key and key != "data" and not text.startswith(f"{key} ") else text


def on_validation(request: Request, exc: ValidationException) -> Response:
    """A request whose fields could not be read: each field's error in French."""
    details = "; ".join(validation_message_fr(str(e.get("message", "")), e.get("key"))
                        for e in (exc.extra or []) if isinstance(e, dict))
    # Litestar drops the JSON path msgspec gives (" - at `$[0].checked_at`"): say where it was.
    where = re.search(r" - at `(\$[^`]{0,80})`", str(exc.__cause__ or ""))
    if where and details:
        details += f" (à {where[1]})"
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
    return _unavailable(request, STORE_DOWN, "store_unavailable")


def database_unreachable(exc: BaseException) -> bool:
    """Whether an error says the database cannot be reached or used right now (down, restarting,
    connection lost, SQLite locked), rather than that a statement is wrong."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # SQLAlchemy wraps the driver's error (asyncpg's "the database system is shutting down" is a
    # plain DBAPIError): look along the chain of causes.
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, sqlite3.OperationalError):
            return True
        if type(seen).__module__.startswith("asyncpg") and type(seen).__name__ in _ASYNCPG_OUTAGES:
            return True
        # OSError (refused, reset, timed out) raised by a driver while connecting, not wrapped by
        # SQLAlchemy; the same error from elsewhere (mail, files) is not a database outage.
        if isinstance(seen, OSError) and _raised_by_database_driver(seen):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


def _raised_by_database_driver(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        filename = traceback.tb_frame.f_code.co_filename
        if any(f"{sep}{name}{sep}" in filename for name in _DRIVERS for sep in ("/", "\\")):
            return True
        traceback = traceback.tb_next
    return False


_DRIVERS = ("asyncpg", "sqlalchemy", "aiosqlite", "psycopg")


_ASYNCPG_OUTAGES = frozenset({
    "ConnectionDoesNotExistError", "ConnectionFailureError", "CannotConnectNowError", "AdminShutdownError",
    "CrashShutdownError", "PostgresConnectionError", "ClientCannotConnectError", "TooManyConnectionsError",
    "InternalClientError", "InterfaceError", "ConnectionRejectionError",
})


def database_refused_value(exc: BaseException) -> bool:
    """Whether the database refused a value sent to it (SQLSTATE class 22, "data exception": NUL in
    a text, text too long, number out of range…): the request's fault, not the server's."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, DataError):
            return True
        sqlstate = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith("22"):
            return True
        if type(seen).__module__.startswith("asyncpg") and type(seen).__name__ in _ASYNCPG_DATA_ERRORS:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


_ASYNCPG_DATA_ERRORS = frozenset({
    "DataError", "CharacterNotInRepertoireError", "UntranslatableCharacterError",
    "StringDataRightTruncationError", "NumericValueOutOfRangeError", "InvalidTextRepresentationError",
    "InvalidDatetimeFormatError", "DatetimeFieldOverflowError",
})


def _value_refused(request: Request, exc: BaseException) -> Response:
    log.info("database refused a value on %s: %s", request.url.path, type(getattr(exc, "orig", exc)).__name__)
    return _error(request, 400, DATA_REFUSED, "invalid_data")


def on_database_error(request: Request, exc: Exception) -> Response:
    """The database is down or restarting: a French 503 with Retry-After (like Redis), never a 500;
    a value it refuses (NUL character, too long, out of range) is a French 400; any other database
    error is an internal error."""
    if database_unreachable(exc):
        log.warning("database unreachable on %s: %s", request.url.path, type(exc).__name__)
        return _unavailable(request, DATABASE_DOWN, "database_unavailable")
    if database_refused_value(exc):
        return _value_refused(request, exc)
    return on_server_error(request, exc)


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    """Other HTTP errors keep their status and headers (Allow with a 405), with a readable message
    (French for Litestar's own)."""
    return _error(request, exc.status_code, message_fr(exc.status_code, exc.detail), "http_error",
                  dict(exc.headers) if exc.headers else None)


def on_server_error(request: Request, exc: Exception) -> Response:
    """Unexpected failure: logged with its traceback, a sober message to the person (a value the
    database refused, raised by its driver unwrapped, is a 400)."""
    if database_refused_value(exc):
        return _value_refused(request, exc)
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
    DBAPIError: on_database_error,
    OSError: on_database_error,
    HTTPException: on_http_exception,
    HTTP_500_INTERNAL_SERVER_ERROR: on_server_error,
}
