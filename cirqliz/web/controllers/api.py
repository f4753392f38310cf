"""The API for fleet operators' systems, under /api/v1, with bearer tokens of organisations.

Authentication, per-token rate limit and scope are checked by one guard, in that order:
no or unknown token → 401, too many requests → 429, scope missing → 403. Every read is scoped
to the token's organisation (another organisation's rows answer 404). Errors are JSON with a
French `detail`. The session cookie and CSRF are not used here.
"""

from __future__ import annotations

import html
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response, Router, asgi, get, post
from litestar._asgi.utils import is_valid_host
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.router import Router as LitestarRouter
from litestar.serialization import encode_json
from litestar.types import ASGIApp, Receive, Send
from litestar.types import Scope as ASGIScope
from sqlmodel import col, select

from cirqliz.clock import to_epoch
from cirqliz.db.models import AccessPass, ApiToken, Organisation, PartnerBundle, Vehicle, Zone, window_from_json
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.plates import normalise_plate
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import TimeWindow, parse_window
from cirqliz.domain.zones import ZoneStatus
from cirqliz.issuance import partners
from cirqliz.issuance.api_tokens import (
    PassFilter,
    Scope,
    api_application,
    api_pass,
    api_passes,
    authenticate_token,
    hash_api_token,
    zone_codes_of_passes,
)
from cirqliz.issuance.applications import (
    application_vehicles,
    application_zones,
    create_application,
    submit_application,
)
from cirqliz.issuance.keystore import KEYRING, KeyStore, authority_keys_folder
from cirqliz.issuance.mail import notify_application_change
from cirqliz.issuance.qr import qr_png
from cirqliz.passcode.base45 import b45decode
from cirqliz.passcode.bundle import TrustBundle
from cirqliz.passcode.claims import decode_claims
from cirqliz.passcode.errors import SchemeError
from cirqliz.passcode.token import PREFIX as PASS_PREFIX
from cirqliz.passcode.token import parse_pass_text, read_pass_fast, read_pass_parts
from cirqliz.verify import Reason, Status, Verdict, verify_pass
from cirqliz.verify.federation import ZONE_SEPARATOR, TrustSet, parse_zone_ref, verify_federated
from cirqliz.web.api_document import french_api_document
from cirqliz.web.bodies import decode_json_body
from cirqliz.web.deps import DB, ClockDep, SignerDep
from cirqliz.web.errors import message_fr
from cirqliz.web.security import FORM_LIMIT

API_RATE_WINDOW = 60
LAST_USED_EVERY = timedelta(minutes=5)
MAX_LIST = 500


@dataclass(frozen=True, slots=True)
class ApiClient:
    """The organisation behind the request's token."""

    token_id: uuid.UUID
    organisation_id: uuid.UUID
    scopes: frozenset[str]
    rate_key: str  # the token's key in the rate-limit store (its id as text)


# ---- errors ----------------------------------------------------------------------------------


def _json_error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response({"status_code": status, "code": code, "detail": detail}, status_code=status,
                    media_type=MediaType.JSON, headers=headers)


def _on_unauthorised(_: Request, exc: NotAuthorizedException) -> Response:
    return _json_error(401, "not_authenticated", exc.detail, {"WWW-Authenticate": 'Bearer realm="cirqliz"'})


def _on_forbidden(_: Request, exc: PermissionDeniedException) -> Response:
    return _json_error(403, "forbidden", exc.detail)


def _on_invalid(_: Request, exc: ValidationException) -> Response:
    return _json_error(400, "invalid_request", "Requête illisible : le corps doit être un objet JSON valide "
                       "(Content-Type: application/json) et les paramètres du chemin bien formés.")


def _on_http(_: Request, exc: HTTPException) -> Response:
    headers = dict(exc.headers or {})  # e.g. Allow with a 405
    if exc.status_code == 429:
        headers["Retry-After"] = str(API_RATE_WINDOW)
    # Litestar's own refusals (405, …) carry an English reason phrase: said in French.
    return _json_error(exc.status_code, "http_error", message_fr(exc.status_code, exc.detail), headers or None)


class InvalidField(DomainError):
    """A body or query field is missing or wrong (400, with the field's name)."""

    code = "invalid_field"

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name} : {message}")
        self.field = name


def _on_invalid_field(_: Request, exc: InvalidField) -> Response:
    response = _json_error(400, exc.code, exc.message)
    response.content["field"] = exc.field
    return response


# ---- authentication --------------------------------------------------------------------------


def _bearer(scope: ASGIScope) -> str:
    # The first Authorization header, read from the scope (ASGI names are lower-case) without
    # building the connection's Headers.
    header = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            header = value.decode("latin-1")
            break
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("Jeton d'API manquant : envoyez l'en-tête « Authorization: Bearer <jeton> ».")
    return token.strip()


# Authenticated tokens are remembered for a few seconds per process, so a busy client does not
# cost a database round trip per request; a revocation takes effect within TOKEN_CACHE_SECONDS
# (at once in the process that revoked it, see forget_token). At most TOKEN_CACHE_SIZE tokens.
TOKEN_CACHE_SECONDS = 15.0
TOKEN_CACHE_SIZE = 10_000
_token_cache: dict[str, tuple[float, ApiClient]] = {}
_monotonic = time.monotonic  # the cache's clock (tests replace it)
_window_clock = time.time  # the rate limit's fixed windows (tests pin it: a burst must not straddle two)


def forget_token(token_id: uuid.UUID) -> None:
    """Drop a token from this process's cache (after revoking it)."""
    for key, (_, client) in list(_token_cache.items()):
        if client.token_id == token_id:
            _token_cache.pop(key, None)


def _remembered(key: str) -> ApiClient | None:
    cached = _token_cache.get(key)
    return cached[1] if cached is not None and _monotonic() - cached[0] < TOKEN_CACHE_SECONDS else None


async def _authenticate(state: State, token: str, key: str) -> ApiClient:
    """The token's client from the database (remembered for TOKEN_CACHE_SECONDS); 401 when unknown or revoked."""
    async with state.session_maker() as session, session.begin():
        row = await authenticate_token(session, token)
        if row is None:
            _token_cache.pop(key, None)
            raise NotAuthorizedException("Jeton d'API inconnu ou révoqué.")
        now = state.clock.now()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            row.last_used_at = now  # recorded at most every few minutes
            session.add(row)
        client = ApiClient(row.id, row.organisation_id, frozenset(row.scopes), str(row.id))
    if len(_token_cache) >= TOKEN_CACHE_SIZE:
        _token_cache.clear()
    _token_cache[key] = (_monotonic(), client)
    return client


async def api_guard(connection: ASGIConnection, handler: BaseRouteHandler | None = None) -> None:
    """Authenticate the bearer token, count the request, check the handler's scope.

    Also the API router's before-request hook (`api_before_request`, called with the request alone,
    the handler then taken from the scope): the same checks at the same point (before the body is
    read), without the copy of the route handler Litestar makes for every guard call."""
    scope = connection.scope
    await _guard(scope["litestar_app"], scope, (handler or scope["route_handler"]).opt.get("scope"))


async def _guard(app: Litestar, scope: ASGIScope, needed: str | None) -> ApiClient:
    """api_guard's checks for a request's scope: the token's client (401), the request counted (429),
    the scope `needed` (403); the client is also written to the scope's state (request.state.api_client)."""
    token = _bearer(scope)
    key = hash_api_token(token)
    client = _remembered(key) or await _authenticate(app.state, token, key)
    limit = int(app.state.api_rate_limit)  # settings.api_rate_limit unless a test or benchmark changed it
    # Every request counts (accounts.over_limit's fixed window, inlined: this runs on every API call;
    # every store of web/stores.py counts atomically).
    bucket = f"{client.rate_key}:{int(_window_clock()) // API_RATE_WINDOW}"
    if await app.stores.get("api_rate").increment(bucket, API_RATE_WINDOW) > limit:  # type: ignore[attr-defined]
        raise HTTPException(status_code=429, detail=f"Trop de requêtes : {limit} par minute au plus pour ce jeton.")
    # request.state.api_client, written before the scope check (a refusal names the token) straight
    # into the scope's state: no State object (and its lock) made per request.
    scope["state"]["api_client"] = client
    if needed and needed not in client.scopes:
        raise PermissionDeniedException(f"Ce jeton n'a pas le droit « {needed} ».")
    return client


api_before_request = api_guard


def _client(request: Request) -> ApiClient:
    return request.state.api_client


def _opt(scope: Scope) -> dict[str, Any]:
    return {"scope": scope.value, "exclude_from_auth": True}


# ---- bodies ----------------------------------------------------------------------------------


@dataclass
class ApplicationRequest:
    """A pass application, created and submitted at once.

    - zones: zone codes, e.g. ["PARIS-CENTRE"] (zones of one authority);
    - vehicles: plates of the organisation's registered vehicles, e.g. ["AB-123-CD"];
    - purpose: purpose code (1 delivery, 2 artisan, 3 resident, 4 emergency, 5 event supplier,
      6 removal, 7 public service, 8 health care, 9 taxi, 99 other) or its name ("delivery");
    - not_before, expires_at: ISO 8601 date-times with a UTC offset;
    - windows (optional): ["Mo-Fr 07:00-11:00"], hours the pass is limited to;
    - comment (optional): free text for the reviewer.
    """

    zones: Any = None
    vehicles: Any = None
    purpose: Any = None
    not_before: Any = None
    expires_at: Any = None
    windows: Any = None
    comment: Any = None
    authority: Any = None


def _text_list(value: Any, name: str, *, required: bool = True) -> list[str]:
    if value is None and not required:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidField(name, "liste de textes attendue, p. ex. [\"PARIS-CENTRE\"]")
    if required and not value:
        raise InvalidField(name, "au moins un élément est requis")
    return [v.strip() for v in value]


def _datetime(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidField(name, "date et heure ISO 8601 attendues, p. ex. « 2026-11-24T07:00:00+01:00 »")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(name, f"date illisible : {value!r} (format ISO 8601 attendu)") from exc
    if parsed.tzinfo is None:
        raise InvalidField(name, "précisez le fuseau horaire (p. ex. « +01:00 » ou « Z »)")
    return parsed


def _purpose(value: Any) -> Purpose:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        try:
            return Purpose(value)
        except ValueError:
            pass
    elif isinstance(value, str) and value.strip():
        key = value.strip().upper().replace("-", "_").replace(" ", "_")
        if key.isdecimal():
            return _purpose(int(key))
        if key in Purpose.__members__:
            return Purpose[key]
    codes = ", ".join(f"{int(p)} ({p.name.lower()})" for p in Purpose)
    raise InvalidField("purpose", f"motif inconnu : {value!r} ; valeurs possibles : {codes}")


def _windows(value: Any) -> list[TimeWindow]:
    specs = _text_list(value, "windows", required=False)
    windows = []
    for spec in specs:
        try:
            windows.append(parse_window(spec))
        except DomainError as exc:
            raise InvalidField("windows", exc.message) from exc
    return windows


async def _zones_by_code(db: DB, codes: list[str], authority: str | None) -> list[Zone]:
    statement = select(Zone).where(col(Zone.code).in_(codes), col(Zone.status) == ZoneStatus.ACTIVE.value)
    if authority:
        statement = statement.join(Organisation, col(Organisation.id) == Zone.authority_id).where(
            col(Organisation.code) == authority.strip().lower())
    zones = list((await db.exec(statement)).all())
    found = {z.code for z in zones}
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidField("zones", f"zone inconnue ou fermée aux demandes : {', '.join(missing)}")
    if len({z.authority_id for z in zones}) > 1:
        raise InvalidField("zones", "ces codes désignent des zones de plusieurs autorités : précisez « authority » "
                                    "(toutes les zones d'une demande relèvent de la même autorité)")
    return zones


async def _vehicles_by_plate(db: DB, organisation_id: uuid.UUID, plates: list[str]) -> list[Vehicle]:
    normalised = []
    for plate in plates:
        try:
            normalised.append(normalise_plate(plate))
        except DomainError as exc:
            raise InvalidField("vehicles", exc.message) from exc
    rows = list((await db.exec(select(Vehicle).where(
        col(Vehicle.organisation_id) == organisation_id, col(Vehicle.plate).in_(normalised)))).all())
    found = {v.plate for v in rows}
    missing = [p for p, n in zip(plates, normalised, strict=True) if n not in found]
    if missing:
        raise InvalidField("vehicles", f"véhicule non enregistré dans votre flotte : {', '.join(missing)}")
    return rows


# ---- views -----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _pass_json(row: AccessPass, zones: list[str], *, text: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "serial": row.serial,
        "status": row.status,
        "plate": row.plate,
        "purpose": row.purpose,
        "zones": zones,
        "not_before": _iso(row.not_before),
        "expires_at": _iso(row.expires_at),
        "windows": [window_from_json(w).describe() for w in row.windows],
        "issued_at": _iso(row.issued_at),
        "application_id": str(row.application_id) if row.application_id else None,
        "qr_png": f"/api/v1/passes/{row.serial}.png",
    }
    if text:
        data["text"] = row.signed_text
    return data


async def _application_json(db: DB, application_id: uuid.UUID, organisation_id: uuid.UUID) -> dict[str, Any]:
    app = await api_application(db, organisation_id, application_id)
    zones = await application_zones(db, app.id)
    vehicles = await application_vehicles(db, app.id)
    passes = list((await db.exec(select(AccessPass).where(col(AccessPass.application_id) == app.id)
                                 .order_by(col(AccessPass.plate)))).all())
    codes = await zone_codes_of_passes(db, [p.id for p in passes])
    return {
        "id": str(app.id),
        "status": app.status,
        "status_label": ApplicationStatus(app.status).label_fr,
        "purpose": app.purpose,
        "zones": [z.code for z in zones],
        "vehicles": [v.plate for v in vehicles],
        "not_before": _iso(app.not_before),
        "expires_at": _iso(app.expires_at),
        "windows": [window_from_json(w).describe() for w in app.windows],
        "comment": app.comment,
        "created_at": _iso(app.created_at),
        "submitted_at": _iso(app.submitted_at),
        "decided_at": _iso(app.decided_at),
        "decision_reason": app.decision_reason,
        "passes": [_pass_json(p, codes[p.id]) for p in passes],
    }


# ---- handlers --------------------------------------------------------------------------------


@post("/applications", opt=_opt(Scope.APPLICATIONS_WRITE), name="api_application_create", status_code=201,
      summary="Déposer une demande de laissez-passer")
async def create_application_api(
    request: Request, db: DB, clock: ClockDep, signer: SignerDep, data: JSONBody[ApplicationRequest],
) -> dict[str, Any]:
    """Create and submit an application (scope applications:write). 201 with the application;
    400 for an invalid field, 422 when the zones' rules refuse it (every reason in `detail`)."""
    client = _client(request)
    codes = _text_list(data.zones, "zones")
    plates = _text_list(data.vehicles, "vehicles")
    purpose = _purpose(data.purpose)
    not_before = _datetime(data.not_before, "not_before")
    expires_at = _datetime(data.expires_at, "expires_at")
    if expires_at <= not_before:
        raise InvalidField("expires_at", "la fin de validité doit suivre le début")
    windows = _windows(data.windows)
    if data.comment is not None and (not isinstance(data.comment, str) or len(data.comment) > 2000):
        raise InvalidField("comment", "texte de 2000 caractères au plus attendu")
    if data.authority is not None and not isinstance(data.authority, str):
        raise InvalidField("authority", "code d'autorité (texte) attendu")
    zones = await _zones_by_code(db, codes, data.authority)
    vehicles = await _vehicles_by_plate(db, client.organisation_id, plates)
    applicant = await _token_owner(db, client)
    async with db.begin_nested():
        app = await create_application(
            db, organisation_id=client.organisation_id, applicant_id=applicant, zone_ids=[z.id for z in zones],
            vehicle_ids=[v.id for v in vehicles], purpose=int(purpose), not_before=not_before, expires_at=expires_at,
            clock=clock, windows=windows, comment=data.comment or None,
        )
        await submit_application(db, application_id=app.id, actor_id=applicant, clock=clock, signer=signer)
    await notify_application_change(db, app.id, settings=request.app.state.settings)
    return await _application_json(db, app.id, client.organisation_id)


async def _token_owner(db: DB, client: ApiClient) -> uuid.UUID:
    """The applicant recorded for API applications: the person who created the token."""
    row = await db.get(ApiToken, client.token_id)
    if row is None or row.created_by_id is None:
        raise DomainError("ce jeton n'a pas de créateur connu : créez un nouveau jeton", code="token_without_owner")
    return row.created_by_id


@get("/applications/{application_id:uuid}", opt=_opt(Scope.APPLICATIONS_WRITE), name="api_application",
     summary="Lire une demande")
async def get_application_api(request: Request, db: DB, application_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    """One of the organisation's applications, with its passes (scope applications:write)."""
    return await _application_json(db, application_id, _client(request).organisation_id)


def _int_param(value: str | None, name: str, default: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdecimal() or not 0 <= int(value) <= high:  # isdigit() accepts "²"
        raise InvalidField(name, f"entier entre 0 et {high} attendu")
    return int(value)


@get("/passes", opt=_opt(Scope.PASSES_READ), name="api_passes", summary="Lister les laissez-passer")
async def list_passes_api(
    request: Request,
    db: DB,
    status: FromQuery[str | None] = None,
    plate: FromQuery[str | None] = None,
    zone: FromQuery[str | None] = None,
    valid_at: FromQuery[str | None] = None,
    limit: FromQuery[str | None] = None,
    offset: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """The organisation's passes, newest first (scope passes:read). Filters: status
    (active, suspended, revoked, expired), plate, zone (code), valid_at (ISO 8601), limit, offset."""
    if status and status not in {s.value for s in PassStatus}:
        raise InvalidField("status", f"statut inconnu : {status!r} (active, suspended, revoked, expired)")
    normalised = None
    if plate:
        try:
            normalised = normalise_plate(plate)
        except DomainError as exc:
            raise InvalidField("plate", exc.message) from exc
    filters = PassFilter(
        status=status or None, plate=normalised, zone=zone or None,
        valid_at=_datetime(valid_at, "valid_at") if valid_at else None,
        limit=_int_param(limit, "limit", 100, MAX_LIST), offset=_int_param(offset, "offset", 0, 10**9),
    )
    rows = await api_passes(db, _client(request).organisation_id, filters)
    codes = await zone_codes_of_passes(db, [r.id for r in rows])
    return {"passes": [_pass_json(r, codes[r.id]) for r in rows], "count": len(rows),
            "limit": filters.limit, "offset": filters.offset}


@get("/passes/{ref:str}", opt=_opt(Scope.PASSES_READ), name="api_pass", media_type=MediaType.JSON,
     summary="Lire un laissez-passer (texte, QR code)")
async def get_pass_api(request: Request, db: DB, ref: FromPath[str]) -> Response[Any]:
    """One pass by serial: JSON with the signed text, status and validity; `<serial>.png` gives the
    QR code image (scope passes:read)."""
    png = ref.lower().endswith(".png")
    serial = ref[:-4] if png else ref
    row = await api_pass(db, _client(request).organisation_id, serial)
    if png:
        if not row.signed_text:
            raise NotFound("ce laissez-passer n'a pas de texte signé", code="not_found")
        return Response(qr_png(row.signed_text), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=300"})
    codes = await zone_codes_of_passes(db, [row.id])
    return Response(_pass_json(row, codes[row.id], text=True), media_type=MediaType.JSON)


# ---- verification ----------------------------------------------------------------------------


# The start of a pass as sign_pass writes it (cose._common_layout: optional tag 18, protected
# {1: alg, 4: kid}, empty unprotected map, payload head), then the claims map whose first entry is
# iss (key 1) as a short text: group 1 is the text's head byte, the text follows the match.
_ISS_HEAD = re.compile(rb"\xd2?\x84\x4d\xa2\x01[\x26\x27]\x04\x48.{8}\xa0(?:\x58.|\x59..)[\xa1-\xb7]\x01([\x61-\x77])",
                       re.DOTALL)
_ISS_CHARS = 72  # Base45 characters giving 48 bytes: that layout and an iss of up to 23 bytes


def _issuer_at_start(text: str) -> str | None:
    """The issuer written in a pass of the layout every CirQliz pass has, read from the text's first
    characters only (the verifier decodes the whole pass anyway); None for any other text. Not yet
    trusted: only ever compared with authority codes."""
    if type(text) is not str or not text.startswith(PASS_PREFIX):
        return None
    try:
        head = b45decode(text[len(PASS_PREFIX):len(PASS_PREFIX) + _ISS_CHARS])
    except SchemeError:
        return None
    found = _ISS_HEAD.match(head)
    if found is None:
        return None
    size = found[1][0] - 0x60
    issuer = head[found.end():found.end() + size]
    try:
        return issuer.decode() if len(issuer) == size else None
    except UnicodeDecodeError:
        return None


def _peek_issuer(text: str) -> str | None:
    """The issuer written in a pass, not yet trusted: only ever compared with authority codes.

    The verifier's fast reader first (the layout every CirQliz pass has), the strict one otherwise."""
    try:
        parts = read_pass_parts(text)
        payload = parts[3] if parts is not None else parse_pass_text(text).payload
        return decode_claims(payload).iss
    except (SchemeError, ValueError, TypeError, KeyError):
        return None


# Codes found to be authorities are remembered for a minute per process (the set stays as small as
# the list of authorities): a busy checkpoint does not cost a database round trip per check.
KNOWN_ISSUER_SECONDS = 60.0


def _known_recently(state: State, issuer: str) -> bool:
    """Whether `issuer` was found to be an authority less than KNOWN_ISSUER_SECONDS ago."""
    known: dict[str, float] | None = getattr(state, "known_issuers", None)
    seen = known.get(issuer) if known is not None else None
    return seen is not None and time.monotonic() - seen < KNOWN_ISSUER_SECONDS


async def _known_authority(state: State, issuer: str) -> str | None:
    """`issuer` if it is exactly the code of an authority in the database, else None."""
    if _known_recently(state, issuer):
        return issuer
    known: dict[str, float] | None = getattr(state, "known_issuers", None)
    if known is None:
        known = state.known_issuers = {}
    async with state.session_maker() as db:
        code = (await db.exec(select(Organisation.code).where(
            col(Organisation.code) == issuer, col(Organisation.kind) == OrganisationKind.AUTHORITY.value,
        ).limit(1))).first()
    if code is None:
        known.pop(issuer, None)
        return None
    known[code] = time.monotonic()
    return code


BUNDLE_RECHECK_SECONDS = 1.0
"""How long the keyring's modification time is trusted before it is looked at again (a stat is a
system call, dear on virtual machines): a newly published bundle is used within this time."""


def latest_bundle(state: State, authority_code: str) -> TrustBundle:
    """The latest trust bundle of a known authority (a code from the database, never from a pass),
    opened once per (authority, seq) and kept in app.state.

    The keyring file's modification time, looked at most every BUNDLE_RECHECK_SECONDS, tells
    whether a newer bundle was published: the keyring is read again only then, and a bundle is
    opened (root signature checked) only once per seq; older seqs of that authority are then
    dropped, so memory holds one bundle per authority.
    """
    seqs: dict[str, tuple[int, int, float]] | None = getattr(state, "bundle_seqs", None)
    bundles: dict[tuple[str, int], TrustBundle] | None = getattr(state, "bundle_cache", None)
    if seqs is None or bundles is None:
        seqs, bundles = state.bundle_seqs, state.bundle_cache = {}, {}
    known = seqs.get(authority_code)
    if known is not None and _monotonic() - known[2] < BUNDLE_RECHECK_SECONDS:
        bundle = bundles.get((authority_code, known[1]))
        if bundle is not None:
            return bundle
    # The keyring's path per authority, worked out once (a code from the database, never a pass).
    keyrings: dict[str, tuple[Path, str]] | None = getattr(state, "bundle_keyrings", None)
    if keyrings is None:
        keyrings = state.bundle_keyrings = {}
    try:
        folder, keyring = keyrings[authority_code]
    except KeyError:
        try:
            folder = authority_keys_folder(state.settings.keys_dir, authority_code)
        except SchemeError as exc:
            raise _no_bundle(authority_code) from exc
        folder, keyring = keyrings[authority_code] = (folder, str(folder / KEYRING))
    checked = _monotonic()
    try:
        stamp = os.stat(keyring).st_mtime_ns
    except OSError as exc:
        raise _no_bundle(authority_code) from exc
    if known is None or known[0] != stamp:
        store = KeyStore(folder, clock=state.clock)
        seq = store.last_seq
        if seq and (authority_code, seq) not in bundles:
            bundle = store.latest_bundle()
            if bundle is not None:
                for key in [k for k in bundles if k[0] == authority_code]:
                    del bundles[key]
                bundles[(authority_code, seq)] = bundle
    else:
        seq = known[1]
    seqs[authority_code] = (stamp, seq, checked)
    bundle = bundles.get((authority_code, seq))
    if bundle is None:
        raise _no_bundle(authority_code)
    return bundle


def _no_bundle(authority_code: str) -> DomainError:
    return DomainError(f"l'autorité « {authority_code} » n'a pas publié de paquet de confiance", code="no_bundle")


def _unknown_issuer(now: int) -> dict[str, Any]:
    """The verdict for a pass whose issuer is no known authority: refused, nothing of it echoed."""
    verdict = Verdict(Status.REFUSED, Reason.UNKNOWN_KEY,
                      "le laissez-passer nomme un émetteur qui n'est pas une autorité connue", now)
    return verdict.as_json() | {"bundle_seq": None, "issuer": None}


VERIFY_BODY_LIMIT = FORM_LIMIT
"""Largest body POST /verify reads: the application's limit for any route without its own."""
_JSON_HEADERS = ((b"content-type", b"application/json"),)


async def _read_body(scope: ASGIScope, receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) past `limit` bytes, before reading it when Content-Length says so."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise ClientException("En-tête Content-Length illisible.")
            if int(value) > limit:
                raise RequestEntityTooLarge()  # web/errors.py's French 413, as Litestar's own limit
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientException("Connexion interrompue avant la fin du corps de la requête.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge()  # web/errors.py's French 413, as Litestar's own limit
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_json(send: Send, content: Any, status: int = 200) -> None:
    """`content` as a JSON response (Litestar's encoder, as a handler's return value would be)."""
    body = encode_json(content)
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


VERIFY_PATH = "/api/v1/verify"
_LANE_ERROR = "cirqliz.verify_lane_error"
"""Scope key of a refusal met by verify_lane: the route below raises it, so that Litestar answers it."""


@asgi("/verify", opt=_opt(Scope.VERIFY) | {"guarded_inline": True}, name="api_verify", copy_scope=False)
async def verify_api(scope: ASGIScope, receive: Receive, send: Send) -> None:
    """POST /api/v1/verify (documented in VERIFY_OPERATION): a plain ASGI handler, the checkpoints'
    hot path, without Litestar's request parsing and response building around it. What the API
    router gives its other routes is done here in the same order: the API checks (token, rate
    limit, scope) before the body is read, then the same exception handlers for every refusal.
    Most POSTs are served by verify_lane before Litestar's router; this route answers the others
    (and the lane's refusals, with the exception handlers of the API)."""
    refused = scope.get(_LANE_ERROR)
    if refused is not None:
        raise refused
    if scope["method"] != "POST":
        raise MethodNotAllowedException("Méthode non autorisée : envoyez POST.", headers={"Allow": "POST"})
    await send_json(send, await _verify_request(scope, receive))


async def _verify_request(scope: ASGIScope, receive: Receive) -> dict[str, Any]:
    """The verdict of a POST /verify request: checks, body, verdict (refusals raise)."""
    app = scope["litestar_app"]
    client = await _guard(app, scope, _VERIFY_SCOPE)
    data = decode_json_body(await _read_body(scope, receive, VERIFY_BODY_LIMIT))
    if type(data) is not dict:
        raise ValidationException("body must be a JSON object")  # _on_invalid's French answer
    return await _verify(app.state, client, data.get("text"), data.get("zone"), data.get("plate"))


_VERIFY_SCOPE = Scope.VERIFY.value


def verify_lane(app: ASGIApp) -> ASGIApp:
    """`app` (Litestar's handler) with POST /api/v1/verify served before Litestar's router.

    Checkpoints call this route far more than any other: routing it, and the route's own layers,
    cost about as much as the token, rate-limit and scope checks together (ADR 0012). The lane
    runs the same code as the route (`_verify_request`) for the exact path; a request the router
    would refuse first (an invalid Host header) goes to the router. A refusal (401, 429, 403,
    400, 413…) is handed to the router with the request, and the route raises it, so Litestar's
    exception handlers of the API answer it exactly as without the lane."""

    async def lane(scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["path"] != VERIFY_PATH or scope["method"] != "POST" or scope.get("root_path") or not _sane_host(scope):
            await app(scope, receive, send)
            return
        try:
            verdict = await _verify_request(scope, receive)
        except Exception as exc:
            scope[_LANE_ERROR] = exc  # type: ignore[literal-required]
            await app(scope, receive, send)
            return
        await send_json(send, verdict)

    return lane


def _sane_host(scope: ASGIScope) -> bool:
    """Whether the Host header (if any) is one Litestar's router accepts."""
    for name, value in scope["headers"]:
        if name == b"host":
            return is_valid_host(value)
    return True


async def _verify(state: State, client: ApiClient, text: Any, zone: Any, plate: Any) -> dict[str, Any]:
    """The verdict of POST /verify for these body fields (VERIFY_OPERATION says what they are)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidField("text", "texte du laissez-passer attendu (contenu du QR code, « CQ1:… »)")
    if not isinstance(zone, str) or not zone.strip():
        raise InvalidField("zone", "code de la zone du point de contrôle attendu, p. ex. « PARIS-CENTRE »")
    if plate is not None and not isinstance(plate, str):
        raise InvalidField("plate", "plaque (texte) attendue")
    text, zone, plate = text.strip(), zone.strip(), plate or None
    now = to_epoch(state.clock.now())  # the app's clock, without a dependency to resolve per check
    start = None
    if ZONE_SEPARATOR not in zone:
        # The usual check: a pass of an authority of this platform at one of its zones. Its issuer
        # is read by the verifier's fast reader (then given to it), or else from the first
        # characters only; anything else takes the full reading below.
        read = read_pass_fast(text)
        claim_parts = read[5] if read is not None else None
        start = claim_parts[0] if claim_parts is not None else _issuer_at_start(text)
        if start and (_known_recently(state, start) or await _known_authority(state, start)):
            return _verdict_json(state, start, text, zone, now, plate, read)
    claimed = _peek_issuer(text)
    if ZONE_SEPARATOR in zone:
        try:
            parse_zone_ref(zone)
        except ValueError:
            raise InvalidField("zone", "attendu CODE ou AUTORITÉ/CODE, p. ex. « metro/ZFE-METRO »") from None
        return await _verify_federated(state, client, text, zone, claimed, now, plate)
    if claimed is None:  # unreadable text: find the authority from the zone
        async with state.session_maker() as db:
            row = (await db.exec(select(Organisation.code).join(Zone, col(Zone.authority_id) == Organisation.id)
                                 .where(col(Zone.code) == zone).limit(1))).first()
        if row is None:
            raise InvalidField("zone", f"zone inconnue : {zone!r}")
        issuer = row
    else:
        known = None if claimed == start else await _known_authority(state, claimed)  # already asked
        if known is None:
            # Not an authority of this platform: perhaps a remote partner of the token's authority.
            return await _verify_federated(state, client, text, zone, claimed, now, plate)
        issuer = known
    return _verdict_json(state, issuer, text, zone, now, plate)


def _verdict_json(state: State, issuer: str, text: str, zone: str, now: int, plate: str | None,
                  read: tuple[Any, ...] | None = None) -> dict[str, Any]:
    """The verdict with the latest bundle of `issuer`, an authority of this platform (`read`: what
    read_pass_fast gave for `text`, if known)."""
    bundle = latest_bundle(state, issuer)
    result = verify_pass(text, bundle, zone=zone, now=now, plate=plate, read=read).as_json()
    result["bundle_seq"] = bundle.content.seq
    result["issuer"] = issuer
    return result


async def _token_authority(state: State, client: ApiClient) -> Organisation | None:
    """The token's organisation when it is an authority (its partners are trusted too), else None."""
    async with state.session_maker() as db:
        org = await db.get(Organisation, client.organisation_id)
    return org if org is not None and org.kind == OrganisationKind.AUTHORITY.value else None


async def _remote_partner_bundles(state: State,
                                  authority: Organisation) -> dict[str, tuple[bytes, TrustBundle, str]]:
    """The authority's partners that are not on this platform, with their last accepted bundle (root
    SPKI, opened bundle, name given by the admin); each stored bundle is opened once per (iss, root,
    seq) in this process."""
    cache: dict[tuple[str, str], tuple[int, TrustBundle]] | None = state.get("partner_bundle_cache")
    if cache is None:
        cache = state.partner_bundle_cache = {}
    found: dict[str, tuple[bytes, TrustBundle, str]] = {}
    async with state.session_maker() as db:
        for partner in await partners.partners_of(db, authority.id):
            if await partners.is_local(db, state.signer, partner.iss, partner.root_spki):
                continue
            key = (partner.iss, partner.fingerprint)
            seq = (await db.exec(select(PartnerBundle.seq).where(col(PartnerBundle.iss) == partner.iss,
                                                                  col(PartnerBundle.fingerprint) == partner.fingerprint)
                                 )).first()
            if seq is None:
                continue
            held = cache.get(key)
            if held is None or held[0] != seq:
                row = await db.get(PartnerBundle, key)
                if row is None:
                    continue
                try:
                    held = cache[key] = (row.seq, partners.open_partner_bundle(row.data, partner.root_spki))
                except DomainError:
                    continue
            found[partner.iss] = (partner.root_spki, held[1], partner.name)
    return found


async def _local_bundle(state: State, code: str | None) -> TrustBundle | None:
    """The latest bundle of an authority of this platform, or None."""
    if not code or await _known_authority(state, code) is None:
        return None
    try:
        return latest_bundle(state, code)
    except DomainError:
        return None


async def _verify_federated(state: State, client: ApiClient, text: str, zone: str, claimed: str | None, now: int,
                            plate: str | None) -> dict[str, Any]:
    """The verdict with several bundles (verify_federated): the token authority's (home) or else the
    issuer's, the other local authorities concerned, and the token authority's remote partners."""
    authority = await _token_authority(state, client)
    zone_iss, _code = parse_zone_ref(zone)
    remote = await _remote_partner_bundles(state, authority) if authority is not None else {}
    home = await _local_bundle(state, authority.code) if authority is not None else None
    issuer_local = await _local_bundle(state, claimed)
    if home is None:
        home = issuer_local
    if home is None:
        if claimed is not None and claimed in remote:
            home = remote[claimed][1]
        else:
            return _unknown_issuer(now)
    trusted: dict[str, TrustBundle] = {iss: bundle for iss, (_root, bundle, _name) in remote.items()}
    roots = {iss: root for iss, (root, _bundle, _name) in remote.items()}
    for bundle in (issuer_local, await _local_bundle(state, zone_iss)):
        if bundle is not None:
            trusted.setdefault(bundle.iss, bundle)
    trusted.pop(home.iss, None)
    trust = TrustSet(home, trusted, roots)
    verdict = verify_federated(text, trust, zone=zone, now=now, plate=plate)
    result = verdict.as_json()
    used = trust.authority(verdict.issuer) if verdict.issuer else None
    result["bundle_seq"] = (used or home).content.seq if verdict.issuer else None
    if verdict.issuer and not result["issuer_name"]:
        # Bundles without B_NAME: the name the admin gave the partner, or the local authority's.
        name = remote[verdict.issuer][2] if verdict.issuer in remote else None
        result["issuer_name"] = name or await _authority_name(state, verdict.issuer)
    return result


async def _authority_name(state: State, code: str) -> str | None:
    """The name of an authority of this platform (None for any other code)."""
    async with state.session_maker() as db:
        return (await db.exec(select(Organisation.name).where(
            col(Organisation.code) == code, col(Organisation.kind) == OrganisationKind.AUTHORITY.value))).first()


# ---- OpenAPI (/schema) -----------------------------------------------------------------------

VIEWER = "/vendor/swagger-ui-dist"
API_DESCRIPTION = """API de CirQliz pour les logiciels de flotte des professionnels.

Authentification : `Authorization: Bearer <jeton>`, un jeton créé par l'entreprise sur /pro/api,
avec ses droits (scopes) : applications:write, passes:read, verify, exports:read.
Erreurs : JSON `{"status_code", "code", "detail"}`, `detail` en français.
401 sans jeton valide, 403 sans le droit requis, 404 pour ce qui n'appartient pas à l'organisation
du jeton, 429 au-delà de la limite de requêtes par minute et par jeton (chaque requête compte).
Un jeton révoqué est refusé (401) au plus tard TTL secondes après sa révocation : chaque
processus du serveur garde un jeton reconnu en mémoire pendant ce temps.
""".replace("TTL", f"{TOKEN_CACHE_SECONDS:.0f}")


class LocalSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Swagger UI from the npm package served under /vendor: no CDN, no online validator, no
    favicon from elsewhere, and no OAuth2 redirect page (the API uses bearer tokens)."""

    def __init__(self) -> None:
        super().__init__(
            path="/", js_url=f"{VIEWER}/swagger-ui-bundle.js", css_url=f"{VIEWER}/swagger-ui.css",
            standalone_preset_js_url=f"{VIEWER}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{VIEWER}/favicon-32x32.png'>",
        )

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        """Swagger UI's page without inline script or style (the Content-Security-Policy forbids them):
        /static/common/swagger-init.js loads the document from /schema/openapi.json, validator off.
        A header leads back to the site (the viewer has no menu of its own)."""
        title = html.escape(str(openapi_schema["info"]["title"]))
        return (
            "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title}</title>{self.favicon}"
            f"<link rel=\"stylesheet\" href=\"{self.css_url}\">"
            "<link rel=\"stylesheet\" href=\"/static/common/swagger.css\">"
            f"<script src=\"{self.js_url}\" defer></script>"
            f"<script src=\"{self.standalone_preset_js_url}\" defer></script>"
            "<script src=\"/static/common/swagger-init.js\" defer></script>"
            "</head><body><header class=\"schema-back\"><a href=\"/\">← Retour à CirQliz</a></header>"
            "<div id=\"swagger-container\" data-spec-url=\"/schema/openapi.json\"></div></body></html>"
        ).encode()

    def receive_router(self, router: LitestarRouter) -> None:
        """No extra route."""
        return


_ERROR = {"$ref": "#/components/schemas/ApiError"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
VERIFY_SCHEMAS: dict[str, Any] = {
    "VerifyRequest": {
        "type": "object", "required": ["text", "zone"],
        "properties": {
            "text": {"type": "string",
                     "description": "Texte du laissez-passer, tel que lu dans le QR code (« CQ1:… »)."},
            "zone": {"type": "string", "description": "Code de la zone du point de contrôle (« PARIS-CENTRE »), "
                                                      "ou « AUTORITÉ/CODE » pour une zone d'une autre autorité."},
            "plate": {**_NULLABLE_TEXT, "description": "Plaque lue sur le véhicule (facultatif)."},
        },
    },
    "Verdict": {
        "type": "object",
        "required": ["status", "reason", "message_fr", "message_en", "checked_at", "issuer", "bundle_seq"],
        "properties": {
            "status": {"type": "string", "enum": [s.value for s in Status],
                       "description": "VALID (accès autorisé), REFUSED, UNCERTAIN (à vérifier autrement)."},
            "reason": {"type": "string", "enum": [r.value for r in Reason]},
            "detail": {"type": "string"},
            "message_fr": {"type": "string"}, "message_en": {"type": "string"},
            "checked_at": {"type": "integer", "description": "Instant du contrôle (secondes depuis 1970, UTC)."},
            "zone": _NULLABLE_TEXT, "kid": _NULLABLE_TEXT,
            "claims": {"type": ["object", "null"], "description": "Contenu du laissez-passer quand il a été lu."},
            "issuer": _NULLABLE_TEXT, "issuer_name": _NULLABLE_TEXT, "zone_authority": _NULLABLE_TEXT,
            "bundle_seq": {"type": ["integer", "null"], "description": "Numéro du paquet de confiance utilisé."},
        },
    },
    "ApiError": {
        "type": "object", "required": ["status_code", "detail"],
        "properties": {"status_code": {"type": "integer"}, "code": {"type": "string"},
                       "detail": {"type": "string", "description": "Message en français."},
                       "field": {"type": "string", "description": "Champ en cause (400 invalid_field)."}},
    },
}
VERIFY_OPERATION: dict[str, Any] = {
    "tags": ["API v1"],
    "summary": "Contrôler un laissez-passer",
    "description": (
        "Contrôle un laissez-passer à un point de contrôle, maintenant, avec le dernier paquet de confiance "
        "de l'autorité émettrice (droit `verify`). Répond toujours 200 avec le verdict : status (VALID, "
        "REFUSED, UNCERTAIN), reason, message_fr, message_en, claims, issuer, issuer_name, zone_authority. "
        "`zone` est un code de zone, ou `AUTORITÉ/CODE` pour une zone d'une autre autorité (fédération : un "
        "laissez-passer ne couvre jamais la zone d'une autre autorité). Sont reconnues les autorités de "
        "cette plateforme et, pour le jeton d'une autorité, les derniers paquets acceptés de ses partenaires. "
        "Un laissez-passer d'un émetteur inconnu est refusé (UNKNOWN_KEY)."),
    "operationId": "ApiV1VerifyVerifyApi",
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/VerifyRequest"}}}},
    "responses": {
        "200": {"description": "Le verdict.", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Verdict"}}}},
        **{str(status): {"description": text, "content": {"application/json": {"schema": _ERROR}}}
           for status, text in ((400, "Requête illisible ou champ invalide."),
                                (401, "Jeton absent, inconnu ou révoqué."),
                                (403, "Le jeton n'a pas le droit `verify`."),
                                (405, "Méthode autre que POST."),
                                (413, "Corps de requête trop grand."),
                                (429, "Trop de requêtes pour ce jeton (en-tête Retry-After)."))},
    },
    "deprecated": False,
    "security": [{"BearerToken": []}],
}
"""POST /api/v1/verify in the OpenAPI document: the handler is a plain ASGI one, which Litestar does
not describe, so its operation is written here and added where the document is served
(DocumentJsonRenderPlugin); tests/fuzz/test_api_schemathesis.py checks answers against it."""
PLAIN_OPERATIONS = {"/api/v1/verify": {"post": VERIFY_OPERATION}}


def with_plain_operations(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document (as a dict) with the plain ASGI handlers' operations and schemas."""
    paths = schema.setdefault("paths", {})
    for path, item in PLAIN_OPERATIONS.items():
        paths.setdefault(path, item)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, value in VERIFY_SCHEMAS.items():
        schemas.setdefault(name, value)
    return schema


class DocumentJsonRenderPlugin(JsonRenderPlugin):
    """/schema/openapi.json: Litestar's document with the plain ASGI handlers' operations added, and
    the API's operations described in French (web/api_document.py)."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        """The document as JSON (the cached dict is completed once: setdefault keeps it as it is after)."""
        return super().render(request, french_api_document(with_plain_operations(openapi_schema)))


def documented_routes(route_handlers: Sequence[Any], *, production: bool,
                      page_middleware: Sequence[Any] = ()) -> list[Any]:
    """The application's route handlers: routers under /api/ as they are, everything else (pages, back
    office, public files) in one router with `page_middleware` (sessions, CSRF: none of it runs for
    an API request). In production that router is left out of the OpenAPI document, which then
    lists only the API."""
    documented = [h for h in route_handlers if isinstance(h, LitestarRouter) and h.path.startswith("/api/")]
    hidden = [h for h in route_handlers if not any(h is d for d in documented)]
    pages = LitestarRouter(path="/", route_handlers=hidden, middleware=list(page_middleware),
                           **({"include_in_schema": False} if production else {}))
    return [*documented, pages]


def openapi_config() -> OpenAPIConfig:
    """The OpenAPI document and its viewer at /schema (JSON at /schema/openapi.json)."""
    return OpenAPIConfig(
        title="CirQliz API",
        version="1",
        description=API_DESCRIPTION,
        path="/schema",
        render_plugins=[LocalSwaggerRenderPlugin(), DocumentJsonRenderPlugin()],
        components=Components(security_schemes={
            "BearerToken": SecurityScheme(type="http", scheme="bearer", description="Jeton d'API (/pro/api)"),
        }),
        use_handler_docstrings=True,
    )


ROUTES = [
    Router(
        path="/api/v1",
        route_handlers=[create_application_api, get_application_api, list_passes_api, get_pass_api, verify_api],
        # Authentication, rate limit and scope of every route here (tests/web/test_api.py checks that
        # no handler replaces this hook with its own).
        before_request=api_before_request,
        opt={"exclude_from_auth": True},
        tags=["API v1"],
        security=[{"BearerToken": []}],
        exception_handlers={
            NotAuthorizedException: _on_unauthorised,
            PermissionDeniedException: _on_forbidden,
            ValidationException: _on_invalid,
            InvalidField: _on_invalid_field,
            HTTPException: _on_http,
        },
    )
]
