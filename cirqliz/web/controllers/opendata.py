"""Open data and bulk files: public zone exports, zone imports and exemption lists.

- /donnees/{authority}/zones.geojson and zones.datex2.xml: public, no sign-in; the authority's
  active zones (low-emission ones for the ZFE schema), stable ids (zone codes, source ids).
- /autorite/import: authority admins upload a ZFE or Cerema file, see what would change (nothing
  is written), then apply it. Between the two steps the file waits server-side under a random
  token, bound to the user and the authority; the form carries the token and the file's SHA-256.
- /autorite/exports: exemption lists (plates: personal data) for the authority's admins and
  reviewers, streamed, each export audited with its row count; the same list for API tokens with
  the exports:read scope at /api/v1/exemptions.csv (and .json).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream, Template
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.engine import create_session_factory, transaction
from cirqliz.db.models import Organisation
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.issuance import authority_queries
from cirqliz.issuance.api_tokens import Scope
from cirqliz.issuance.exemptions import (
    FORMATS,
    STATUSES,
    ExemptionFilter,
    categories,
    category_label,
    counts_by_zone,
    export_filename,
    record_export_refusal,
    stream_export,
)
from cirqliz.issuance.zone_exports import authority_by_code, zones_datex2, zones_geojson
from cirqliz.issuance.zone_imports import ACTION_FR as IMPORT_ACTION_FR
from cirqliz.issuance.zone_imports import (
    FIELD_FR,
    ImportReport,
    ZoneImportRefused,
    import_zone_file,
)
from cirqliz.issuance.zone_imports import (
    FORMATS as IMPORT_FORMATS,
)
from cirqliz.issuance.zone_imports import PREVIEW_FR as IMPORT_PREVIEW_FR
from cirqliz.labels import EXEMPTION_STATUS_FR
from cirqliz.ops.metrics import EXPORT_REFUSALS
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.client import client_host
from cirqliz.web.controllers import api
from cirqliz.web.controllers.accounts import over_limit
from cirqliz.web.deps import DB, ClockDep
from cirqliz.web.rendering import page
from cirqliz.web.security import MIB, text_upload

REVIEW = [requires(Role.AUTHORITY_ADMIN, Role.REVIEWER)]
ADMIN = [requires(Role.AUTHORITY_ADMIN)]


REFUSAL_WINDOW = 60
log = logging.getLogger("cirqliz.web.exports")


def audited_refusal(*guards: Any) -> Any:
    """Wrap a guard of the exemption exports (plates: personal data).

    A refusal of a known user or token (wrong role, missing scope) goes to the audit log, with capped
    fields. A request without valid credentials gets a log line and a metric, not an audit record
    (anyone could fill the log), and past CIRQLIZ_EXPORT_REFUSAL_RATE_LIMIT per client address and
    minute a 429.
    """

    async def wrapped(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        try:
            for guard in guards:
                result = guard(connection, handler)
                if inspect.isawaitable(result):
                    await result
        except NotAuthorizedException:
            address = client_host(connection)
            EXPORT_REFUSALS.labels(_channel(connection), "401").inc()
            log.info("exemption export refused without valid credentials: %s from %s",
                     connection.url.path, address)
            limit = connection.app.state.settings.export_refusal_rate_limit
            if await over_limit(connection, "export_refusals", address, limit=limit,  # type: ignore[arg-type]
                                window=REFUSAL_WINDOW):
                raise HTTPException(status_code=429, detail=(
                    f"Trop de requêtes refusées depuis cette adresse ({limit} par minute au plus) : "
                    "réessayez dans une minute avec un jeton d'API valide."),
                    headers={"Retry-After": str(REFUSAL_WINDOW)}) from None
            raise
        except PermissionDeniedException as exc:
            await _audit_refusal(connection, exc.status_code)
            raise

    return wrapped


async def authority_token(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard, after api_guard: only a token of an authority reads exemption lists."""
    client: api.ApiClient = connection.state.api_client
    async with create_session_factory(connection.app.state.engine, read_only=True)() as session:
        org = await session.get(Organisation, client.organisation_id)
    if org is None or org.kind != OrganisationKind.AUTHORITY:
        raise PermissionDeniedException("Les listes de dérogations sont réservées aux jetons d'une autorité.")


def _channel(connection: ASGIConnection) -> str:
    return "api" if connection.url.path.startswith("/api/") else "web"


async def _audit_refusal(connection: ASGIConnection, status: int) -> None:
    """Record a refused export of a known user or token (its own transaction: the refusal rolls
    back the request's)."""
    EXPORT_REFUSALS.labels(_channel(connection), str(status)).inc()
    user = connection.scope.get("user")
    client = getattr(connection.state, "api_client", None)
    async with transaction(connection.app.state.session_maker) as session:
        await record_export_refusal(
            session, actor_id=getattr(user, "id", None), token_id=client.token_id if client else None,
            status=status, path=connection.url.path, query=connection.query_params.multi_items(),
            client=client_host(connection), at=connection.app.state.clock.now())


EXPORT_GUARDS = [audited_refusal(REVIEW[0])]
PUBLIC = {"exclude_from_auth": True}
MAX_IMPORT_BYTES = 20 * 1024 * 1024
UPLOAD_TTL_SECONDS = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
GEOJSON_MEDIA_TYPE = "application/geo+json"
IMPORT_FORMAT_FR = {"zfe": "ZFE (schéma national, GeoJSON)", "cerema": "Arrêtés marchandises Cerema (CSV)"}
EXPORT_FORMAT_FR = {"csv": "CSV (UTF-8, virgules)", "csv-fr": "CSV pour tableur français (point-virgule)",
                    "json": "JSON"}
STATUS_FR = EXEMPTION_STATUS_FR
ACTION_FR = IMPORT_ACTION_FR
ACTION_FR_PREVIEW = IMPORT_PREVIEW_FR


def _user(request: Request) -> CurrentUser:
    return request.user


async def _authority(request: Request, db: AsyncSession, *roles: Role) -> Organisation:
    org_id = _user(request).organisation_for(*(roles or (Role.AUTHORITY_ADMIN, Role.REVIEWER)))
    org = await db.get(Organisation, org_id)
    if org is None or org.kind != OrganisationKind.AUTHORITY:
        raise PermissionDeniedException("Cette page est réservée aux autorités.")
    return org


def _render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Template:
    return page(request, f"donnees/{template}", status_code=status_code, notice=None,
                IMPORT_FORMATS=IMPORT_FORMAT_FR, EXPORT_FORMATS=EXPORT_FORMAT_FR, STATUSES=STATUS_FR,
                FIELDS=FIELD_FR, **context)


# ---- public zone files ----------------------------------------------------------------------


@get("/donnees/{authority_code:str}/zones.geojson", opt=PUBLIC, name="opendata_zfe")
async def zones_geojson_file(db: DB, authority_code: FromPath[str]) -> Response[bytes]:
    """The authority's active low-emission zones, ZFE schema (etalab/schema-zfe) GeoJSON."""
    authority = await authority_by_code(db, authority_code)
    document = await zones_geojson(db, authority)
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, media_type=GEOJSON_MEDIA_TYPE, headers=_public_headers(body))


@get("/donnees/{authority_code:str}/zones.datex2.xml", opt=PUBLIC, name="opendata_datex2")
async def zones_datex2_file(request: Request, db: DB, authority_code: FromPath[str]) -> Response[bytes]:
    """The authority's active zones, DATEX II TrafficRegulationPublication (noEntry unless permit)."""
    authority = await authority_by_code(db, authority_code)
    permit_url = str(request.base_url).rstrip("/") + "/pro"
    body = await zones_datex2(db, authority, permit_url=permit_url)
    return Response(body, media_type=MediaType.XML, headers=_public_headers(body))


def _public_headers(body: bytes) -> dict[str, str]:
    return {"ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"', "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*"}


# ---- zone import ----------------------------------------------------------------------------


def _upload_dir(request: Request) -> Path:
    folder = Path(request.app.state.get("import_dir") or Path(tempfile.gettempdir()) / "cirqliz-imports")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _sweep(folder: Path) -> None:
    limit = time.time() - UPLOAD_TTL_SECONDS
    for path in folder.glob("*.upload*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue


def _keep(request: Request, data: bytes, meta: dict[str, Any]) -> str:
    folder = _upload_dir(request)
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.upload").write_bytes(data)
    (folder / f"{token}.upload.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def _kept(request: Request, token: str, sha256: str, authority: Organisation) -> tuple[bytes, dict[str, Any]]:
    """The file kept for this token, if it belongs to this user and authority and still has its hash."""
    expired = DomainError("fichier introuvable ou expiré : déposez-le à nouveau", code="import_upload_expired")
    if not _TOKEN.match(token or ""):
        raise expired
    folder = _upload_dir(request)
    try:
        meta = json.loads((folder / f"{token}.upload.json").read_text(encoding="utf-8"))
        data = (folder / f"{token}.upload").read_bytes()
    except (OSError, ValueError):
        raise expired from None
    if (meta.get("user_id") != str(_user(request).id) or meta.get("authority_id") != str(authority.id)
            or time.time() - float(meta.get("at", 0)) > UPLOAD_TTL_SECONDS):
        raise expired
    if hashlib.sha256(data).hexdigest() != meta.get("sha256") or sha256 != meta.get("sha256"):
        raise DomainError("le fichier conservé ne correspond plus à l'aperçu : déposez-le à nouveau",
                          code="import_upload_mismatch")
    return data, meta


def _forget(request: Request, token: str) -> None:
    folder = _upload_dir(request)
    for name in (f"{token}.upload", f"{token}.upload.json"):
        (folder / name).unlink(missing_ok=True)


@get("/autorite/import", guards=ADMIN, name="authority_import")
async def import_form(request: Request, db: DB) -> Template:
    """Upload a ZFE or Cerema file."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    return _render(request, "import.html", authority=authority, error=None, fmt="zfe")


@post("/autorite/import", guards=ADMIN, name="authority_import_preview", request_max_body_size=MAX_IMPORT_BYTES + MIB)
async def import_preview(request: Request, db: DB, clock: ClockDep) -> Template:
    """Read the file and show what applying it would change; nothing is written."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    form = await request.form()
    fmt = str(form.get("format") or "zfe")
    upload = form.get("file")
    try:
        if fmt not in IMPORT_FORMATS:
            raise DomainError(f"format d'import inconnu : {fmt!r}", code="import_format_unknown")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise DomainError("aucun fichier : choisissez le fichier à importer", code="import_no_file")
        data = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise DomainError("fichier trop gros (20 Mo au plus)", code="import_too_large")
        text_upload(data, what="fichier")
        report = await import_zone_file(db, authority_id=authority.id, data=data, fmt=fmt, clock=clock,
                                        actor_id=_user(request).id, dry_run=True)
    except DomainError as exc:
        return _render(request, "import.html", status_code=422, authority=authority, error=exc.message, fmt=fmt)
    token = None
    if report.ok and report.changes_anything:
        token = _keep(request, data, {"user_id": str(_user(request).id), "authority_id": str(authority.id),
                                      "format": fmt, "sha256": report.sha256, "filename": upload.filename[:200],
                                      "at": time.time()})
    return _render(request, "import_report.html", status_code=200 if report.ok else 422, authority=authority,
                   report=report, token=token, filename=upload.filename, applied=False, error=None,
                   ACTIONS=ACTION_FR_PREVIEW)


@post("/autorite/import/appliquer", guards=ADMIN, name="authority_import_apply")
async def import_apply(request: Request, db: DB, clock: ClockDep) -> Template:
    """Apply the file previewed under this token, all or nothing."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    form = await request.form()
    token = str(form.get("token") or "")
    try:
        data, meta = _kept(request, token, str(form.get("sha256") or ""), authority)
        async with db.begin_nested():
            report: ImportReport = await import_zone_file(db, authority_id=authority.id, data=data,
                                                          fmt=meta["format"], clock=clock, actor_id=_user(request).id)
    except ZoneImportRefused as exc:
        return _render(request, "import_report.html", status_code=422, authority=authority, report=exc.report,
                       token=None, filename=None, applied=False, error=exc.message, ACTIONS=ACTION_FR_PREVIEW)
    except DomainError as exc:
        return _render(request, "import.html", status_code=422, authority=authority, error=exc.message, fmt="zfe")
    _forget(request, token)
    return _render(request, "import_report.html", authority=authority, report=report, token=None,
                   filename=meta.get("filename"), applied=True, error=None, ACTIONS=ACTION_FR)


# ---- exemption lists ------------------------------------------------------------------------


def _filters(zone: str, active_on: str, category: str, status: str) -> ExemptionFilter:
    return ExemptionFilter.parse(zone=zone, active_on=active_on, category=category, status=status)


def _stream(request: Request, authority: Organisation, filters: ExemptionFilter, fmt: str, *,
            actor_id: uuid.UUID | None, token_id: uuid.UUID | None, channel: str) -> Stream:
    state = request.app.state
    clock = state.clock
    read_maker = create_session_factory(state.engine, read_only=True)
    body = stream_export(read_maker, state.session_maker, authority_id=authority.id, filters=filters, fmt=fmt,
                         clock=clock, actor_id=actor_id, token_id=token_id, channel=channel)
    filename = export_filename(authority.code, fmt, clock.now())
    return Stream(body, media_type=FORMATS[fmt][0], headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


async def _counts_page(db: AsyncSession, authority: Organisation, clock: Any, number: int) -> dict[str, Any]:
    """One page of the counts table (its zones only are counted) and every zone for the form."""
    result = await authority_queries.zones_page(db, authority.id, number=number)
    return {"counts": await counts_by_zone(db, authority.id, clock.now(), zone_ids=[z.id for z in result.rows]),
            "result": result, "zones": await authority_queries.authority_zones(db, authority.id), "filters": {}}


@get("/autorite/exports", guards=REVIEW, name="authority_exports")
async def exports_page(
    request: Request, db: DB, clock: ClockDep, number: Annotated[int, QueryParameter(name="page")] = 1
) -> Template:
    """Counts per zone (one page of zones at a time) and the form of the exemption list export."""
    authority = await _authority(request, db)
    return _render(request, "exports.html", authority=authority, **await _counts_page(db, authority, clock, number),
                   categories=categories(), category_label=category_label, error=None,
                   values={"format": "csv-fr"}, zfe_refusal=await _zfe_refusal(db, authority))


async def _zfe_refusal(db: AsyncSession, authority: Organisation) -> str | None:
    """Why the public ZFE file of the authority is refused (e.g. no SIREN for the id of a zone made
    here), shown next to its link; None when it is served."""
    try:
        await zones_geojson(db, authority)
    except DomainError as exc:
        return exc.message
    return None


@get("/autorite/exports/derogations", guards=EXPORT_GUARDS, name="authority_exports_download")
async def exports_download(
    request: Request, db: DB, clock: ClockDep, zone: FromQuery[str] = "", active_on: FromQuery[str] = "",
    category: FromQuery[str] = "", status: FromQuery[str] = "",
) -> Response[Any]:
    """The exemption list, streamed (query: format=csv|csv-fr|json, zone, active_on, category, status)."""
    authority = await _authority(request, db)
    fmt = request.query_params.get("format") or "csv"
    try:
        if fmt not in FORMATS:
            raise DomainError(f"format inconnu : {fmt!r} (attendu : {', '.join(FORMATS)})", code="invalid_format")
        filters = _filters(zone, active_on, category, status)
    except DomainError as exc:
        return _render(request, "exports.html", status_code=422, authority=authority,
                       **await _counts_page(db, authority, clock, 1), categories=categories(),
                       category_label=category_label,
                       error=exc.message, values=dict(request.query_params),
                       zfe_refusal=await _zfe_refusal(db, authority))
    return _stream(request, authority, filters, fmt, actor_id=_user(request).id, token_id=None, channel="web")


async def _api_exemptions(request: Request, db: DB, fmt: str, zone: str, active_on: str, category: str,
                          status: str) -> Response[Any]:
    client: api.ApiClient = request.state.api_client
    authority = await db.get(Organisation, client.organisation_id)
    if authority is None or authority.kind != OrganisationKind.AUTHORITY:  # the authority_token guard checked it
        raise PermissionDeniedException("Les listes de dérogations sont réservées aux jetons d'une autorité.")
    try:
        filters = _filters(zone, active_on, category, status)
    except DomainError as exc:
        return Response({"status_code": 400, "code": exc.code, "detail": exc.message}, status_code=400,
                        media_type=MediaType.JSON)
    return _stream(request, authority, filters, fmt, actor_id=None, token_id=client.token_id, channel="api")


@get("/exemptions.csv", opt={"scope": Scope.EXPORTS_READ.value, "exclude_from_auth": True},
     name="api_exemptions_csv", summary="Liste des dérogations ZFE (CSV)")
async def exemptions_csv_api(
    request: Request, db: DB, zone: FromQuery[str] = "", active_on: FromQuery[str] = "",
    category: FromQuery[str] = "", status: FromQuery[str] = "", variant: FromQuery[str] = "",
) -> Response[Any]:
    """The authority's exemption list as CSV, streamed (scope exports:read). Filters: zone (code),
    active_on (YYYY-MM-DD), category, status (active, upcoming, expired). Columns: plate, country,
    source, category, zone_code, zone_ref, start, end, serial, status, with codes and ISO 8601
    instants. variant=fr gives the French spreadsheet file instead: UTF-8 with a BOM, ';', French
    headers (Immatriculation;Pays;…;Statut) and labels, dates as JJ/MM/AAAA (passes: JJ/MM/AAAA HH:MM
    in the zone's time zone). Every export is audited."""
    return await _api_exemptions(request, db, "csv-fr" if variant == "fr" else "csv", zone, active_on, category,
                                 status)


@get("/exemptions.json", opt={"scope": Scope.EXPORTS_READ.value, "exclude_from_auth": True},
     name="api_exemptions_json", summary="Liste des dérogations ZFE (JSON)")
async def exemptions_json_api(
    request: Request, db: DB, zone: FromQuery[str] = "", active_on: FromQuery[str] = "",
    category: FromQuery[str] = "", status: FromQuery[str] = "",
) -> Response[Any]:
    """The authority's exemption list as one JSON array, streamed (scope exports:read); same
    filters and fields as exemptions.csv."""
    return await _api_exemptions(request, db, "json", zone, active_on, category, status)


_API = api.ROUTES[0]

ROUTES = [
    zones_geojson_file, zones_datex2_file,
    import_form, import_preview, import_apply,
    exports_page, exports_download,
    Router(path="/api/v1", route_handlers=[exemptions_csv_api, exemptions_json_api],
           guards=[audited_refusal(api.api_guard, authority_token)],
           opt={"exclude_from_auth": True}, tags=["API v1"], security=[{"BearerToken": []}],
           exception_handlers=dict(_API.exception_handlers)),
]

__all__ = ["ROUTES", "STATUSES"]
