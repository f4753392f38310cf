"""Organisers' area (/organisateur) and the authority's pages about events, incidents, imports and
scheduled jobs (/autorite/evenements, /autorite/incidents, /autorite/evenements/import, /autorite/taches).

An organiser creates an event with temporary perimeters (drawn on the map, pasted as GeoJSON, or
imported from a Préfecture de Police file), submits it to an authority (whose admins are mailed),
and once approved issues passes to its suppliers from a CSV within the quota the authority
delegated. Both the organiser and the authority then reach each pass (PNG, printable page, phone
link — the professional's pass templates) and a ZIP of all; every download is audited. Suppliers
have no account: their phone link (/laissez-passer/<token>) is public and carries an HMAC.
Every organiser query is scoped to the user's organisation, every authority query to the user's
authority: other rows answer 404 like missing ones.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import AccessPass, Event, EventApproval, EventPass, Organisation, Zone, ZoneClosure
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.osm_hours import parse_opening_hours
from cirqliz.domain.windows import zone_info
from cirqliz.domain.zones import ZoneStatus
from cirqliz.imports.common import json_depth_error, json_too_deep
from cirqliz.imports.records import ImportFileError
from cirqliz.issuance.event_imports import ACTION_FR, FORMATS, import_event_perimeters, import_file
from cirqliz.issuance.event_passes import (
    SupplierPass,
    event_pass,
    event_passes,
    mail_supplier_passes,
    pass_id_from_token,
    passes_zip,
    phone_link,
    record_download,
)
from cirqliz.issuance.events import (
    EVENT_STATUS_FR,
    LEVEL_LABELS_FR,
    BulkIssueError,
    add_event_zone,
    approve_event,
    close_zone,
    create_organiser_event,
    event_zones,
    issue_supplier_passes,
    lift_closure,
    notify_closure,
    passes_issued,
    reject_event,
    submit_event,
)
from cirqliz.issuance.mail import notify_event_submitted
from cirqliz.issuance.pro_queries import organisation_names, zone_windows
from cirqliz.issuance.qr import qr_png, qr_svg
from cirqliz.jobs.jobs import FEEDS, JOBS, PARTNER_BUNDLES, PUBLISH, SWITCH, job_label_fr, last_runs, outcome_fr
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.controllers.authority import ZONE_STATUS_FR
from cirqliz.web.controllers.professional import HELPERS as PASS_HELPERS
from cirqliz.web.deps import DB, ClockDep, SignerDep
from cirqliz.web.hours_form import WEEKDAYS, hours_from_form, posted_hours_values, stored_hours_values
from cirqliz.web.rendering import page
from cirqliz.web.security import MIB, text_upload

ORGANISER = [requires(Role.ORGANISER)]
ADMIN = [requires(Role.AUTHORITY_ADMIN)]
PUBLIC = {"exclude_from_auth": True}
DISPLAY_TZ = "Europe/Paris"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_LIMIT = MAX_UPLOAD_BYTES + MIB  # request body: the file and the form fields
# The import page sends the previewed file back, base64 (4/3 of its size), to apply it.
IMPORT_LIMIT = MAX_UPLOAD_BYTES * 4 // 3 + MIB

NOTICES = {
    "event_created": "Événement créé (brouillon) : ajoutez ses périmètres puis soumettez-le à l'autorité.",
    "zone_added": "Périmètre ajouté.",
    "submitted": "Événement soumis à l'autorité : ses administrateurs sont prévenus par courriel.",
    "approved": "Événement approuvé : ses périmètres s'ouvriront et se fermeront d'eux-mêmes.",
    "rejected": "Événement refusé. L'organisateur voit le motif.",
    "closed": "Fermeture publiée : les agents la reçoivent avec les prochaines données de confiance.",
    "lifted": "Fermeture levée.",
}


def _when(value: datetime | None) -> str:
    return value.astimezone(zone_info(DISPLAY_TZ)).strftime("%d/%m/%Y %H:%M") if value else "—"


def _local_input(value: datetime | None) -> str:
    return value.astimezone(zone_info(DISPLAY_TZ)).strftime("%Y-%m-%dT%H:%M") if value else ""


HELPERS: dict[str, Any] = {
    "when": _when,
    "local_input": _local_input,
    "EVENT_STATUS": EVENT_STATUS_FR,
    "LEVELS": LEVEL_LABELS_FR,
    "ACTIONS": ACTION_FR,
    "ZONE_STATUS": ZONE_STATUS_FR,
    "FORMATS": FORMATS,
    "NOTICES": NOTICES,
}


def _render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Template:
    notice = NOTICES.get(request.query_params.get("ok", ""))
    context.setdefault("error", None)
    return page(request, template, status_code=status_code, notice=notice, **HELPERS, **context)


def _user(request: Request) -> CurrentUser:
    return request.user


def parse_local(text: str, label: str, tz: str = DISPLAY_TZ) -> datetime:
    """'2026-11-24T08:00' (a datetime-local field, Paris time) to aware UTC."""
    text = (text or "").strip()
    if not text:
        raise DomainError(f"{label} : date et heure obligatoires", code="datetime_missing")
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(f"{label} : date illisible ({text!r}, attendu AAAA-MM-JJTHH:MM)",
                          code="invalid_datetime") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=zone_info(tz)).astimezone(UTC)


async def _upload(form: Any, name: str, what: str = "fichier") -> bytes | None:
    """The bytes of a text file field (GeoJSON, CSV, XML, iCalendar): binary or non-UTF-8 files are refused."""
    upload = form.get(name)
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(content) > MAX_UPLOAD_BYTES:
            raise DomainError("fichier trop gros (5 Mo au plus)", code="upload_too_large")
        if content:
            text_upload(content, what=what)
        return content or None
    return None


# ---- organiser ------------------------------------------------------------------------------------


async def _organiser(request: Request, db: AsyncSession) -> Organisation:
    """The user's organiser, which must belong to an authority (403 otherwise)."""
    org = await db.get(Organisation, _user(request).organisation_for(Role.ORGANISER))
    if org is None or org.kind != OrganisationKind.ORGANISER:
        raise PermissionDeniedException("Cette page est réservée aux organisateurs d'événements.")
    if org.authority_id is None:
        raise PermissionDeniedException("Votre organisation n'est rattachée à aucune autorité : demandez à "
                                        "l'autorité qui instruit vos événements de vous inviter.")
    return org


async def _own_event(db: AsyncSession, organiser: Organisation, event_id: uuid.UUID) -> tuple[Event, EventApproval]:
    """An event of this organiser submitted to its own authority; 404 otherwise (as if missing)."""
    event = await db.get(Event, event_id)
    approval = await db.get(EventApproval, event_id)
    if (event is None or approval is None or event.organiser_id != organiser.id
            or approval.authority_id != organiser.authority_id):
        raise NotFound("événement introuvable", code="event_not_found")
    return event, approval


async def _home_context(request: Request, db: AsyncSession, organiser: Organisation, **extra: Any) -> dict[str, Any]:
    rows = (await db.exec(
        select(Event, EventApproval).join(EventApproval, col(EventApproval.event_id) == Event.id)
        .where(col(Event.organiser_id) == organiser.id, col(EventApproval.authority_id) == organiser.authority_id)
        .order_by(col(Event.starts_at).desc()))).all()
    authority = await db.get(Organisation, organiser.authority_id)
    return {"organiser": organiser, "events": rows, "authorities": [authority] if authority else [],
            "values": {}, **extra}


@get("/organisateur", guards=ORGANISER, name="organiser_home")
async def organiser_home(request: Request, db: DB) -> Template:
    """The organiser's events and the form that creates one."""
    organiser = await _organiser(request, db)
    return _render(request, "organisateur/home.html", **await _home_context(request, db, organiser))


@post("/organisateur/evenements", guards=ORGANISER, name="organiser_event_create")
async def event_create(request: Request, db: DB, clock: ClockDep) -> Response[Any]:
    """Create a draft event (name, start and end in Paris time) for the organiser's own authority."""
    organiser = await _organiser(request, db)
    form = await request.form()
    values = {k: form.get(k) for k in ("name", "authority_id", "starts_at", "ends_at")}
    try:
        authority_id = uuid.UUID(str(form.get("authority_id") or organiser.authority_id))
    except ValueError:
        authority_id = None
    try:
        if authority_id is None:
            raise DomainError("choisissez l'autorité à qui soumettre l'événement", code="event_authority")
        async with db.begin_nested():
            event = await create_organiser_event(
                db, organiser_id=organiser.id, authority_id=authority_id, name=str(form.get("name") or ""),
                starts_at=parse_local(str(form.get("starts_at") or ""), "début"),
                ends_at=parse_local(str(form.get("ends_at") or ""), "fin"), clock=clock, actor_id=_user(request).id)
    except DomainError as exc:
        return _render(request, "organisateur/home.html", status_code=422,
                       **await _home_context(request, db, organiser, error=exc.message, values=values))
    return Redirect(f"/organisateur/evenements/{event.id}?ok=event_created", status_code=303)


async def _event_context(request: Request, db: AsyncSession, event: Event, approval: EventApproval,
                         **extra: Any) -> dict[str, Any]:
    zones = await event_zones(db, event.id)
    authority = await db.get(Organisation, approval.authority_id)
    features = [{"type": "Feature", "properties": {"code": z.code}, "geometry": z.geometry} for z, _t, _s in zones]
    settings = request.app.state.settings
    return {
        "event": event, "approval": approval, "authority": authority, "zones": zones,
        "issued": await passes_issued(db, event.id),
        "passes": await event_passes(db, event.id), "h": PASS_HELPERS,
        "phone_link": lambda pass_id: phone_link(settings, pass_id),
        "geometry_json": json.dumps({"type": "FeatureCollection", "features": features}) if features else "",
        "editable": approval.status in ("draft", "rejected"),
        "values": {"level": "blue", "starts_at": _local_input(event.starts_at), "ends_at": _local_input(event.ends_at),
                   "hours": stored_hours_values(None)},
        "weekdays": WEEKDAYS,
        "problems": [], "report": None, "issued_lines": [], "mailed": None,
        **extra,
    }


@get("/organisateur/evenements/{event_id:uuid}", guards=ORGANISER, name="organiser_event")
async def event_detail(request: Request, db: DB, event_id: FromPath[uuid.UUID]) -> Template:
    """An event: its perimeters on a map, its status with the authority, and its passes."""
    organiser = await _organiser(request, db)
    event, approval = await _own_event(db, organiser, event_id)
    return _render(request, "organisateur/event.html", tile_url=request.app.state.settings.tile_url,
                   base=f"/organisateur/evenements/{event.id}", **await _event_context(request, db, event, approval))


async def _event_page(request: Request, db: AsyncSession, event: Event, approval: EventApproval, status: int,
                      **extra: Any) -> Template:
    await db.refresh(approval)
    return _render(request, "organisateur/event.html", status_code=status,
                   tile_url=request.app.state.settings.tile_url, base=f"/organisateur/evenements/{event.id}",
                   **await _event_context(request, db, event, approval, **extra))


@post("/organisateur/evenements/{event_id:uuid}/zones", guards=ORGANISER, name="organiser_zone_add",
      request_max_body_size=UPLOAD_LIMIT)
async def zone_add(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Add a perimeter drawn on the map (or pasted/uploaded GeoJSON), red or blue, with its times."""
    organiser = await _organiser(request, db)
    event, approval = await _own_event(db, organiser, event_id)
    form = await request.form()
    values = {k: form.get(k) for k in ("name", "level", "starts_at", "ends_at", "geojson")}
    values["hours"] = posted_hours_values(form)
    try:
        content = await _upload(form, "geometry_file", "fichier GeoJSON")
        text = content.decode("utf-8-sig") if content else str(form.get("geojson") or "").strip()
        if not text:
            raise DomainError("géométrie manquante : dessinez le périmètre sur la carte ou collez son GeoJSON",
                              code="geometry_missing")
        try:
            geometry = json.loads(text)
        except ValueError:
            raise DomainError("géométrie illisible : ce n'est pas du JSON", code="geometry_not_json") from None
        except RecursionError:
            raise json_depth_error("géométrie") from None
        if json_too_deep(geometry):  # recursive geometry code would fail on it
            raise json_depth_error("géométrie")
        if isinstance(geometry, dict) and geometry.get("type") == "FeatureCollection":
            features = geometry.get("features") or []
            if len(features) != 1:
                raise DomainError("un seul polygone par périmètre : pour un fichier de la Préfecture de Police, "
                                  "utilisez l'import", code="geometry_feature_count")
            geometry = features[0]
        opening_hours = hours_from_form(form)  # the hours form (days, times, holidays): no OSM syntax to type
        hours = list(parse_opening_hours(opening_hours).windows or ()) if opening_hours else []
        if opening_hours and not hours:
            raise DomainError("ces horaires ne peuvent pas être appliqués à un périmètre : choisissez des jours "
                              "et des heures", code="hours_not_expressible")
        async with db.begin_nested():
            await add_event_zone(
                db, event_id=event.id, name=str(form.get("name") or ""), level=str(form.get("level") or ""),
                geometry=geometry, starts_at=parse_local(str(form.get("starts_at") or ""), "début du périmètre"),
                ends_at=parse_local(str(form.get("ends_at") or ""), "fin du périmètre"), clock=clock, windows=hours,
                opening_hours=opening_hours,
                actor_id=_user(request).id)
    except (DomainError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, DomainError) else "fichier illisible : UTF-8 attendu"
        return await _event_page(request, db, event, approval, 422, error=message, values=values)
    return Redirect(f"/organisateur/evenements/{event.id}?ok=zone_added", status_code=303)


@post("/organisateur/evenements/{event_id:uuid}/import", guards=ORGANISER, name="organiser_zone_import",
      request_max_body_size=UPLOAD_LIMIT)
async def zone_import(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Import the perimeters of a Préfecture de Police GeoJSON file into the event."""
    organiser = await _organiser(request, db)
    event, approval = await _own_event(db, organiser, event_id)
    form = await request.form()
    try:
        content = await _upload(form, "perimeters_file", "fichier GeoJSON")
        if content is None:
            raise DomainError("choisissez un fichier GeoJSON de périmètres", code="file_missing")
        if approval.status not in ("draft", "rejected"):
            raise DomainError("événement soumis ou approuvé : il ne peut plus être modifié", code="event_not_editable")
        report = await import_event_perimeters(db, event_id=event.id, data=content, clock=clock,
                                               actor_id=_user(request).id)
    except DomainError as exc:
        return await _event_page(request, db, event, approval, 422, error=exc.message)
    return await _event_page(request, db, event, approval, 200, report=report)


@post("/organisateur/evenements/{event_id:uuid}/soumettre", guards=ORGANISER, name="organiser_event_submit")
async def event_submit(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Submit the event to its authority."""
    organiser = await _organiser(request, db)
    event, approval = await _own_event(db, organiser, event_id)
    try:
        async with db.begin_nested():
            await submit_event(db, event_id=event.id, clock=clock, actor_id=_user(request).id)
            await notify_event_submitted(db, event.id, settings=request.app.state.settings)
    except DomainError as exc:
        return await _event_page(request, db, event, approval, 422, error=exc.message)
    return Redirect(f"/organisateur/evenements/{event.id}?ok=submitted", status_code=303)


@post("/organisateur/evenements/{event_id:uuid}/laissez-passer", guards=ORGANISER, name="organiser_bulk_issue",
      request_max_body_size=UPLOAD_LIMIT)
async def bulk_issue(request: Request, db: DB, clock: ClockDep, signer: SignerDep,
                     event_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Issue passes to suppliers from a CSV (entreprise;immatriculation;zones;creneaux;email), all or
    nothing; with `send_mail`, each line with an address is mailed its pass's phone link."""
    organiser = await _organiser(request, db)
    event, approval = await _own_event(db, organiser, event_id)
    form = await request.form()
    try:
        content = await _upload(form, "csv_file", "fichier CSV")
        if content is None:
            raise DomainError("choisissez un fichier CSV", code="file_missing")
        async with db.begin_nested():
            result = await issue_supplier_passes(db, event_id=event.id, data=content, signer=signer, clock=clock,
                                                 actor_id=_user(request).id)
            mailed = None
            if form.get("send_mail"):
                mailed = await mail_supplier_passes(db, event=event, lines=result.lines,
                                                    settings=request.app.state.settings,
                                                    actor_id=_user(request).id, at=clock.now())
    except BulkIssueError as exc:
        return await _event_page(request, db, event, approval, 422, error=exc.message,
                                 problems=[p.describe() for p in exc.problems])
    except DomainError as exc:
        return await _event_page(request, db, event, approval, 422, error=exc.message)
    return await _event_page(request, db, event, approval, 200, issued_lines=result.lines, mailed=mailed)


# ---- suppliers' passes: PNG, printable page, ZIP (organiser and authority), phone link (public) ----


def _downloadable(item: SupplierPass) -> SupplierPass:
    if item.revoked:
        raise HTTPException(status_code=410, detail="Ce laissez-passer a été révoqué : il ne peut plus être "
                                                    "téléchargé ni présenté.")
    if not item.access_pass.signed_text:
        raise NotFound("ce laissez-passer n'a pas encore de code signé", code="pass_not_signed")
    return item


async def _pass_page_context(db: AsyncSession, item: SupplierPass) -> dict[str, Any]:
    """What the professional's pass templates (pro/pass_print.html, pro/pass_phone.html) expect."""
    row = item.access_pass
    return {"h": PASS_HELPERS, "p": row, "zones": list(item.zones),
            "authority": (await organisation_names(db, [row.authority_id])).get(row.authority_id, ""),
            "zone_hours": await zone_windows(db, [z.id for z in item.zones])}


async def _pass_png(request: Request, db: AsyncSession, clock: Any, event: Event, pass_id: uuid.UUID
                    ) -> Response[bytes]:
    item = _downloadable(await event_pass(db, event.id, pass_id))
    await record_download(db, actor_id=_user(request).id, event_id=event.id, passes=[item], fmt="png",
                          at=clock.now())
    return Response(qr_png(item.access_pass.signed_text or "", ecc="M", scale=8), media_type="image/png",
                    headers={"Content-Disposition": f'attachment; filename="{item.filename}"',
                             "Cache-Control": "private, no-store"})


async def _pass_print(request: Request, db: AsyncSession, clock: Any, event: Event, pass_id: uuid.UUID,
                      back_url: str, paper: str) -> Template:
    item = _downloadable(await event_pass(db, event.id, pass_id))
    await record_download(db, actor_id=_user(request).id, event_id=event.id, passes=[item], fmt="print",
                          at=clock.now())
    response = page(request, "pro/pass_print.html", svg=qr_svg(item.access_pass.signed_text or "", module=1),
                    paper="A5" if paper.upper() == "A5" else "A4", back_url=back_url,
                    **await _pass_page_context(db, item))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "evenement"


async def _passes_zip(request: Request, db: AsyncSession, clock: Any, event: Event) -> Response[bytes]:
    passes = await event_passes(db, event.id)
    if not passes:
        raise NotFound("aucun laissez-passer n'a encore été émis pour cet événement", code="no_event_pass")
    settings = request.app.state.settings
    data = passes_zip(passes, link=lambda pass_id: phone_link(settings, pass_id),
                      status_label=PASS_HELPERS.pass_status)
    await record_download(db, actor_id=_user(request).id, event_id=event.id,
                          passes=[p for p in passes if p.downloadable], fmt="zip", at=clock.now())
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="laissez-passer-{_slug(event.name)}.zip"',
                             "Cache-Control": "private, no-store"})


@get("/organisateur/evenements/{event_id:uuid}/laissez-passer.zip", guards=ORGANISER, name="organiser_passes_zip")
async def organiser_passes_zip(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID]
                               ) -> Response[bytes]:
    """Every pass of the event: a PNG each and a CSV of serials, plates, suppliers and phone links."""
    event, _approval = await _own_event(db, await _organiser(request, db), event_id)
    return await _passes_zip(request, db, clock, event)


@get("/organisateur/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/qr.png", guards=ORGANISER,
     name="organiser_pass_png")
async def organiser_pass_png(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID],
                             pass_id: FromPath[uuid.UUID]) -> Response[bytes]:
    """The screen QR code of one of the event's passes (PNG)."""
    event, _approval = await _own_event(db, await _organiser(request, db), event_id)
    return await _pass_png(request, db, clock, event, pass_id)


@get("/organisateur/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/imprimer", guards=ORGANISER,
     name="organiser_pass_print")
async def organiser_pass_print(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID],
                               pass_id: FromPath[uuid.UUID], format: FromQuery[str] = "A4") -> Template:
    """The printable page of one of the event's passes (A4 or A5)."""
    event, _approval = await _own_event(db, await _organiser(request, db), event_id)
    return await _pass_print(request, db, clock, event, pass_id,
                             f"/organisateur/evenements/{event.id}#laissez-passer", format)


@get("/laissez-passer/{token:str}", opt=PUBLIC, name="supplier_pass_phone")
async def supplier_pass_phone(request: Request, db: DB, token: FromPath[str]) -> Template:
    """A supplier's pass on the driver's phone, through the link its organiser sent (no account)."""
    pass_id = pass_id_from_token(request.app.state.settings.secret_key, token)
    link = await db.get(EventPass, pass_id) if pass_id else None
    row = await db.get(AccessPass, pass_id) if pass_id else None
    if link is None or row is None:
        raise NotFound("lien de laissez-passer invalide ou incomplet : vérifiez qu'il a été copié en entier",
                       code="pass_link_invalid")
    item = _downloadable(await event_pass(db, link.event_id, row.id))
    png = base64.b64encode(qr_png(item.access_pass.signed_text or "", ecc="M", scale=10)).decode("ascii")
    response = page(request, "pro/pass_phone.html", png=png, back_url="", **await _pass_page_context(db, item))
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# ---- authority: events ----------------------------------------------------------------------------


async def _authority(request: Request, db: AsyncSession) -> Organisation:
    org = await db.get(Organisation, _user(request).organisation_for(Role.AUTHORITY_ADMIN))
    if org is None or org.kind != OrganisationKind.AUTHORITY:
        raise PermissionDeniedException("Cette page est réservée aux autorités.")
    return org


async def _authority_event(db: AsyncSession, authority: Organisation, event_id: uuid.UUID
                           ) -> tuple[Event, EventApproval]:
    event = await db.get(Event, event_id)
    approval = await db.get(EventApproval, event_id)
    if event is None or approval is None or approval.authority_id != authority.id or approval.status == "draft":
        raise NotFound("événement introuvable", code="event_not_found")
    return event, approval


@get("/autorite/evenements", guards=ADMIN, name="authority_events")
async def authority_events(request: Request, db: DB) -> Template:
    """Events submitted to the authority (to approve first), approved and refused."""
    authority = await _authority(request, db)
    rows = (await db.exec(
        select(Event, EventApproval, Organisation).join(EventApproval, col(EventApproval.event_id) == Event.id)
        .join(Organisation, col(Organisation.id) == Event.organiser_id)
        .where(col(EventApproval.authority_id) == authority.id, col(EventApproval.status) != "draft")
        .order_by(col(EventApproval.status) != "submitted", col(Event.starts_at)))).all()
    return _render(request, "autorite/evenements.html", section="events", rows=rows,
                   waiting=sum(1 for _event, approval, _organiser in rows if approval.status == "submitted"))


async def _authority_event_page(request: Request, db: AsyncSession, event: Event, approval: EventApproval,
                                status: int = 200, **extra: Any) -> Template:
    await db.refresh(approval)
    organiser = await db.get(Organisation, event.organiser_id)
    return _render(request, "autorite/evenement.html", status_code=status, section="events", organiser=organiser,
                   tile_url=request.app.state.settings.tile_url, base=f"/autorite/evenements/{event.id}",
                   **await _event_context(request, db, event, approval, **extra))


@get("/autorite/evenements/{event_id:uuid}", guards=ADMIN, name="authority_event")
async def authority_event(request: Request, db: DB, event_id: FromPath[uuid.UUID]) -> Template:
    """An event submitted to the authority: perimeters on a map, dates, decision."""
    authority = await _authority(request, db)
    event, approval = await _authority_event(db, authority, event_id)
    return await _authority_event_page(request, db, event, approval)


@post("/autorite/evenements/{event_id:uuid}/approuver", guards=ADMIN, name="authority_event_approve")
async def authority_event_approve(request: Request, db: DB, clock: ClockDep,
                                  event_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Approve the event and delegate a number of passes to the organiser."""
    authority = await _authority(request, db)
    event, approval = await _authority_event(db, authority, event_id)
    form = await request.form()
    text = str(form.get("pass_quota") or "").strip()
    try:
        if not text.isdecimal():
            raise DomainError(f"quota de laissez-passer : nombre entier positif attendu ({text!r})",
                              code="invalid_number")
        async with db.begin_nested():
            await approve_event(db, event_id=event.id, pass_quota=int(text), clock=clock, actor_id=_user(request).id)
    except DomainError as exc:
        return await _authority_event_page(request, db, event, approval, 422, error=exc.message)
    return Redirect(f"/autorite/evenements/{event.id}?ok=approved", status_code=303)


@post("/autorite/evenements/{event_id:uuid}/refuser", guards=ADMIN, name="authority_event_reject")
async def authority_event_reject(request: Request, db: DB, clock: ClockDep,
                                 event_id: FromPath[uuid.UUID]) -> Response[Any]:
    """Refuse the event (reason required)."""
    authority = await _authority(request, db)
    event, approval = await _authority_event(db, authority, event_id)
    form = await request.form()
    try:
        async with db.begin_nested():
            await reject_event(db, event_id=event.id, reason=str(form.get("reason") or ""), clock=clock,
                               actor_id=_user(request).id)
    except DomainError as exc:
        return await _authority_event_page(request, db, event, approval, 422, error=exc.message)
    return Redirect(f"/autorite/evenements/{event.id}?ok=rejected", status_code=303)


@get("/autorite/evenements/{event_id:uuid}/laissez-passer.zip", guards=ADMIN, name="authority_event_passes_zip")
async def authority_passes_zip(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID]
                               ) -> Response[bytes]:
    """Every pass the organiser issued for the event, as the organiser gets them."""
    event, _approval = await _authority_event(db, await _authority(request, db), event_id)
    return await _passes_zip(request, db, clock, event)


@get("/autorite/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/qr.png", guards=ADMIN,
     name="authority_event_pass_png")
async def authority_pass_png(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID],
                             pass_id: FromPath[uuid.UUID]) -> Response[bytes]:
    """The screen QR code of one of the event's passes (PNG)."""
    event, _approval = await _authority_event(db, await _authority(request, db), event_id)
    return await _pass_png(request, db, clock, event, pass_id)


@get("/autorite/evenements/{event_id:uuid}/laissez-passer/{pass_id:uuid}/imprimer", guards=ADMIN,
     name="authority_event_pass_print")
async def authority_pass_print(request: Request, db: DB, clock: ClockDep, event_id: FromPath[uuid.UUID],
                               pass_id: FromPath[uuid.UUID], format: FromQuery[str] = "A4") -> Template:
    """The printable page of one of the event's passes (A4 or A5)."""
    event, _approval = await _authority_event(db, await _authority(request, db), event_id)
    return await _pass_print(request, db, clock, event, pass_id,
                             f"/autorite/evenements/{event.id}#laissez-passer", format)


# ---- authority: incidents ------------------------------------------------------------------------


async def _incidents_context(db: AsyncSession, authority: Organisation, clock: Any, **extra: Any) -> dict[str, Any]:
    zones = list((await db.exec(select(Zone).where(
        col(Zone.authority_id) == authority.id,
        col(Zone.status).in_((ZoneStatus.ACTIVE.value, ZoneStatus.SUSPENDED.value))).order_by(col(Zone.code)))).all())
    rows = (await db.exec(
        select(ZoneClosure, Zone).join(Zone, col(Zone.id) == ZoneClosure.zone_id)
        .where(col(ZoneClosure.authority_id) == authority.id).order_by(col(ZoneClosure.starts_at).desc()).limit(100)
    )).all()
    now = clock.now()
    return {"zones": zones, "closures": rows, "now": now, "values": {}, **extra}


@get("/autorite/incidents", guards=ADMIN, name="authority_incidents")
async def incidents(request: Request, db: DB, clock: ClockDep) -> Template:
    """Short-notice closures (incident messages): current, coming and past, and the form."""
    authority = await _authority(request, db)
    return _render(request, "autorite/incidents.html", section="incidents",
                   **await _incidents_context(db, authority, clock))


@post("/autorite/incidents", guards=ADMIN, name="authority_incident_create")
async def incident_create(request: Request, db: DB, clock: ClockDep) -> Response[Any]:
    """Close a zone until a time, with a reason; holders of passes for it are told by e-mail."""
    authority = await _authority(request, db)
    form = await request.form()
    values = {k: form.get(k) for k in ("zone_id", "ends_at", "reason")}
    try:
        try:
            zone_id = uuid.UUID(str(form.get("zone_id") or ""))
        except ValueError:
            raise DomainError("choisissez la zone à fermer", code="zone_missing") from None
        zone = await db.get(Zone, zone_id)
        if zone is None or zone.authority_id != authority.id:  # another authority's zone reads like a missing one
            raise DomainError("choisissez la zone à fermer", code="zone_missing")
        async with db.begin_nested():
            closure = await close_zone(db, zone_id=zone_id, authority_id=authority.id,
                                       ends_at=parse_local(str(form.get("ends_at") or ""), "fin de la fermeture"),
                                       reason=str(form.get("reason") or ""), clock=clock, actor_id=_user(request).id)
            await notify_closure(db, closure, settings=request.app.state.settings)
    except DomainError as exc:
        return _render(request, "autorite/incidents.html", status_code=422, section="incidents",
                       **await _incidents_context(db, authority, clock, error=exc.message, values=values))
    return Redirect("/autorite/incidents?ok=closed", status_code=303)


@post("/autorite/incidents/{closure_id:uuid}/lever", guards=ADMIN, name="authority_incident_lift")
async def incident_lift(request: Request, db: DB, clock: ClockDep, closure_id: FromPath[uuid.UUID]) -> Response[Any]:
    """End a closure now."""
    authority = await _authority(request, db)
    closure = await db.get(ZoneClosure, closure_id)
    if closure is None or closure.authority_id != authority.id:
        raise NotFound("fermeture introuvable", code="closure_not_found")
    try:
        async with db.begin_nested():
            await lift_closure(db, closure_id=closure.id, authority_id=authority.id, clock=clock,
                               actor_id=_user(request).id)
    except DomainError as exc:
        return _render(request, "autorite/incidents.html", status_code=422, section="incidents",
                       **await _incidents_context(db, authority, clock, error=exc.message))
    return Redirect("/autorite/incidents?ok=lifted", status_code=303)


# ---- authority: imports --------------------------------------------------------------------------


@get("/autorite/evenements/import", guards=ADMIN, name="authority_event_import_page")
async def imports_page(request: Request, db: DB) -> Template:
    """Upload a perimeter, DATEX II or iCalendar file: preview first, then apply."""
    await _authority(request, db)
    return _render(request, "autorite/evenements_import.html", section="events", report=None, payload="",
                   fmt="perimeters", filename="")


@post("/autorite/evenements/import", guards=ADMIN, name="authority_event_import", request_max_body_size=IMPORT_LIMIT)
async def import_upload(request: Request, db: DB, clock: ClockDep) -> Template:
    """`action=preview` (default) shows what would change, nothing stored; `action=apply` applies the
    very same file (sent back from the preview) in one transaction."""
    authority = await _authority(request, db)
    form = await request.form()
    fmt = str(form.get("format") or "")
    action = str(form.get("action") or "preview")
    filename = str(form.get("filename") or "")
    context: dict[str, Any] = {"section": "events", "fmt": fmt, "payload": "", "filename": filename, "report": None}
    try:
        if fmt not in FORMATS:
            raise DomainError("choisissez le format du fichier", code="import_format")
        if action == "apply":
            try:
                content = base64.b64decode(str(form.get("payload") or ""), validate=True)
            except (binascii.Error, ValueError):
                raise DomainError("aperçu expiré ou altéré : déposez le fichier à nouveau", code="payload") from None
            text_upload(content, what="fichier")
        else:
            upload = form.get("file")
            content = await _upload(form, "file", "fichier") or b""
            filename = upload.filename if isinstance(upload, UploadFile) else ""
        if not content:
            raise DomainError("choisissez un fichier", code="file_missing")
        report = await import_file(db, fmt=fmt, data=content, authority_id=authority.id, clock=clock,
                                   actor_id=_user(request).id, dry_run=action != "apply")
    except ImportFileError as exc:
        return _render(request, "autorite/evenements_import.html", status_code=422, error=exc.message, **context)
    except DomainError as exc:
        return _render(request, "autorite/evenements_import.html", status_code=422, error=exc.message, **context)
    context.update(report=report, filename=filename,
                   payload=base64.b64encode(content).decode("ascii") if report.dry_run else "")
    return _render(request, "autorite/evenements_import.html", **context)


# ---- authority: scheduled jobs -------------------------------------------------------------------


# A platform-wide run (job_run.authority_id null) of these jobs names in its detail the authorities,
# zones, feeds and partners it touched, and its row count adds up every authority's: an authority's
# admin sees its outcome only, and next to it the authority's own share (its own row, authority_id
# set: its bundle, its feeds, its partners). A failure's detail (an exception's text) can quote any
# row: it stays in the server logs and the operator's `cirqliz worker --once`.
PLATFORM_DETAIL_JOBS = frozenset(job.name for job in (SWITCH, PUBLISH, FEEDS, PARTNER_BUNDLES))


def _shown(run: Any) -> tuple[str, str]:
    """(rows, detail) of a run as an authority's admin may see them (the page lists no other
    authority's runs)."""
    if run.outcome == "failed":
        return "—", "Échec : le détail est dans les journaux du serveur (exploitant)."
    if run.authority_id is None and run.name in PLATFORM_DETAIL_JOBS and run.outcome != "skipped":
        return "—", "Toutes autorités : détail réservé à l'exploitant."
    return str(run.rows), run.detail or ""


@get("/autorite/taches", guards=ADMIN, name="authority_jobs")
async def jobs_page(request: Request, db: DB) -> Template:
    """Each scheduled job: last run, duration, outcome; rows and detail where they concern no
    authority in particular; and the latest runs and skips."""
    authority = await _authority(request, db)
    last, recent = await last_runs(db, authority_id=authority.id)
    settings = request.app.state.settings
    jobs = [(job, last.get(job.name), job.enabled(settings)) for job in JOBS]
    return _render(request, "autorite/taches.html", section="jobs", jobs=jobs, recent=recent, shown=_shown,
                   scheduler_enabled=settings.scheduler_enabled, outcome_fr=outcome_fr, job_label_fr=job_label_fr)


ROUTES = [
    organiser_home, event_create, event_detail, zone_add, zone_import, event_submit, bulk_issue,
    organiser_passes_zip, organiser_pass_png, organiser_pass_print, supplier_pass_phone,
    authority_events, authority_event, authority_event_approve, authority_event_reject,
    authority_passes_zip, authority_pass_png, authority_pass_print,
    incidents, incident_create, incident_lift,
    imports_page, import_upload,
    jobs_page,
]
