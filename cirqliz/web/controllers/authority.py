"""The authority's back office (/autorite); the public trust-bundle files are in bundles.py.

Reviewing pages (dashboard, applications, passes, checks, audit) are open to authority admins
and reviewers; zones, keys and publishing to admins only. Every query is scoped to the user's
authority: another authority's rows answer 404, exactly like missing ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.engine import transaction
from cirqliz.db.models import AccessPass, Application, Organisation, window_from_json
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.hours_form import describe_windows
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.purposes import Purpose, purpose_label
from cirqliz.domain.windows import to_local
from cirqliz.domain.zones import ReviewMode, ZoneKind, ZoneStatus
from cirqliz.issuance import authority_queries as q
from cirqliz.issuance.applications import (
    application_vehicles,
    application_zones,
    approve_application,
    assess_application,
    reject_application,
    request_information,
    transitions_of,
)
from cirqliz.issuance.audit import record_change, verify_chain
from cirqliz.issuance.documents import FileDocumentStore
from cirqliz.issuance.events import events_waiting
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.mail import notify_application_change
from cirqliz.issuance.passes import reinstate_pass, revoke_pass, suspend_pass
from cirqliz.issuance.publication import publish_bundle
from cirqliz.passcode.bundle import REVOCATION_HASH_BYTES
from cirqliz.passcode.errors import SchemeError
from cirqliz.passcode.keys import algorithm_from_name
from cirqliz.verify.messages import reason_label, status_label
from cirqliz.web import audit_text
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.deps import DB, ClockDep, SignerDep
from cirqliz.web.rendering import DISPLAY_TZ, inclusive_days, page
from cirqliz.web.served import stored_file_response

REVIEW = [requires(Role.AUTHORITY_ADMIN, Role.REVIEWER)]
ADMIN = [requires(Role.AUTHORITY_ADMIN)]
PAGE_SIZE = 50

PASS_STATUS_FR = {
    PassStatus.ACTIVE.value: "actif",
    PassStatus.SUSPENDED.value: "suspendu",
    PassStatus.REVOKED.value: "révoqué",
    PassStatus.EXPIRED.value: "expiré",
}
ZONE_STATUS_FR = {
    ZoneStatus.DRAFT.value: "brouillon",
    ZoneStatus.ACTIVE.value: "active",
    ZoneStatus.SUSPENDED.value: "suspendue",
    ZoneStatus.ARCHIVED.value: "archivée",
}
ZONE_KIND_FR = {
    ZoneKind.LIMITED_TRAFFIC.value: "zone à trafic limité",
    ZoneKind.PEDESTRIAN.value: "aire piétonne",
    ZoneKind.LOW_EMISSION.value: "zone à faibles émissions",
    ZoneKind.EVENT_PERIMETER.value: "périmètre d'événement",
}
REVIEW_MODE_FR = {ReviewMode.MANUAL.value: "examen par un instructeur", ReviewMode.AUTOMATIC.value: "automatique"}
KEY_STATUS_FR = {"root": "racine", "pending": "en attente de publication", "active": "active", "withdrawn": "retirée"}
AUDIT_ENTITY_FR = {
    "zone": "zone", "access_rule": "règle d'accès", "application": "demande", "pass": "laissez-passer",
    "bundle": "publication", "key": "clé", "traffic_order": "arrêté de circulation",
}
VERDICTS = ("VALID", "REFUSED", "UNCERTAIN")

# Messages shown after a redirect (?ok=…): fixed texts, never reflected input (the zone pages'
# are in zones_admin.ZONE_NOTICES).
NOTICES = {
    "approved": "Demande acceptée : les laissez-passer sont émis.",
    "rejected": "Demande refusée. Le demandeur est informé du motif.",
    "info_requested": "Complément demandé au demandeur.",
    "suspended": "Laissez-passer suspendu. Publiez les données pour que les agents le refusent.",
    "reinstated": "Laissez-passer rétabli. Publiez les données pour les agents.",
    "revoked": "Laissez-passer révoqué. Publiez les données pour que les agents le refusent.",
    "rotated": "Nouvelle clé créée : elle signera après la prochaine publication.",
    "withdrawn": "Clé retirée : publiez les données pour que les agents refusent ses laissez-passer.",
}


# ---- helpers ------------------------------------------------------------------------------


def _when(value: datetime | int | None, tz: str = DISPLAY_TZ) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC)
    return to_local(value, tz).strftime("%d/%m/%Y %H:%M")


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _windows_text(windows: Any) -> str:
    """Windows in French ('lun.–ven. 7 h–11 h'); '' for none."""
    items = [window_from_json(w) if isinstance(w, Mapping) else w for w in windows or ()]
    return describe_windows(items) if items else ""


def _compact_json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


HELPERS: dict[str, Any] = {
    "when": _when,
    "day": _day,
    "period_days": inclusive_days,
    "windows_text": _windows_text,
    "compact_json": _compact_json,
    "audit_sentence": audit_text.action_sentence,
    "audit_changes": audit_text.changes,
    "purpose_label": purpose_label,
    "APP_STATUS": {s.value: s.label_fr for s in ApplicationStatus},
    "PASS_STATUS": PASS_STATUS_FR,
    "ZONE_STATUS": ZONE_STATUS_FR,
    "ZONE_KINDS": ZONE_KIND_FR,
    "REVIEW_MODES": REVIEW_MODE_FR,
    "KEY_STATUS": KEY_STATUS_FR,
    "AUDIT_ENTITIES": AUDIT_ENTITY_FR,
    "PURPOSES": [(int(p), p.label_fr) for p in Purpose],
    "NOTICES": NOTICES,
}


def _render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Template:
    notice = NOTICES.get(request.query_params.get("ok", ""))
    return page(request, f"autorite/{template}", status_code=status_code, notice=notice, **HELPERS, **context)


def _user(request: Request) -> CurrentUser:
    return request.user


async def _authority(request: Request, db: AsyncSession, *roles: Role) -> Organisation:
    """The authority in which the user holds one of `roles` (403 if that is not an authority)."""
    org_id = _user(request).organisation_for(*(roles or (Role.AUTHORITY_ADMIN, Role.REVIEWER)))
    org = await db.get(Organisation, org_id)
    if org is None or org.kind != OrganisationKind.AUTHORITY:
        raise PermissionDeniedException("Cette page est réservée aux autorités.")
    return org


def _offset(number: int) -> int:
    return (max(number, 1) - 1) * PAGE_SIZE


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _int_or_none(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.lstrip("-").isdecimal() else None


def _optional_int(form: Any, name: str, label: str) -> int | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    if not text.isdecimal():
        raise DomainError(f"{label} : un nombre entier positif est attendu ({text!r})", code="invalid_number")
    return int(text)


def _optional_date(form: Any, name: str, label: str) -> date | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError(f"{label} : date illisible ({text!r}, attendu AAAA-MM-JJ)", code="invalid_date") from None


def _keystore(signer: Any, authority: Organisation) -> KeyStore | None:
    try:
        return signer.keystore(authority.code)
    except DomainError:
        return None


def _bundle_path(keystore: KeyStore, seq: int) -> Path:
    # Layout documented in cirqliz.issuance.keystore: bundles/<seq>.cose
    return keystore.path / "bundles" / f"{seq}.cose"


# ---- dashboard ----------------------------------------------------------------------------


@get("/autorite", guards=REVIEW, name="authority_home")
async def dashboard(request: Request, db: DB, clock: ClockDep, signer: SignerDep) -> Template:
    """Counts of applications, passes and zones, events waiting for a decision, and the age of the
    last published bundle."""
    authority = await _authority(request, db)
    keystore = _keystore(signer, authority)
    latest = keystore.latest_bundle() if keystore else None
    bundle = None
    if latest is not None:
        issued = latest.content.issued_at
        bundle = {"seq": latest.seq, "issued_at": issued,
                  "age_hours": max(0, int(clock.now().timestamp()) - issued) // 3600,
                  "stale": int(clock.now().timestamp()) - issued > latest.content.max_age}
    return _render(
        request, "dashboard.html", authority=authority,
        applications=await q.application_counts(db, authority.id),
        passes=await q.pass_counts(db, authority.id),
        zones=await q.zone_counts(db, authority.id),
        bundle=bundle,
        events_waiting=await events_waiting(db, authority.id),
    )


# ---- zones: cirqliz/web/controllers/zones_admin.py -------------------------------------------


# ---- review -------------------------------------------------------------------------------


@get("/autorite/demandes", guards=REVIEW, name="authority_applications")
async def application_list(
    request: Request,
    db: DB,
    status: FromQuery[str] = "submitted",
    zone: FromQuery[str] = "",
    purpose: FromQuery[str] = "",
    search: Annotated[str, QueryParameter(name="q")] = "",
    number: Annotated[int, QueryParameter(name="page", ge=1)] = 1,
) -> Template:
    """The review queue, with filters and counts per status."""
    authority = await _authority(request, db)
    status = status if status in HELPERS["APP_STATUS"] or status == "" else "submitted"
    result = await q.list_applications(
        db, authority.id, status=status, zone_id=_uuid_or_none(zone), purpose=_int_or_none(purpose),
        text=search, offset=_offset(number), limit=PAGE_SIZE,
    )
    plates, codes = await q.plates_and_zones(db, [a.id for a, _org in result.rows])
    return _render(
        request, "applications.html", result=result, plates=plates, zone_codes=codes,
        counts=await q.application_counts(db, authority.id), zones=await q.authority_zones(db, authority.id),
        filters={"status": status, "zone": zone, "purpose": purpose, "q": search}, number=number,
        statuses=[s.value for s in ApplicationStatus if s is not ApplicationStatus.DRAFT],
    )


async def _application_context(db: AsyncSession, app: Application, **extra: Any) -> dict[str, Any]:
    vehicles = await application_vehicles(db, app.id)
    zones = await application_zones(db, app.id)
    decisions: list[tuple[Any, Any, Any]] = []
    if app.status in (ApplicationStatus.SUBMITTED.value, ApplicationStatus.NEEDS_INFO.value):
        assessed = await assess_application(db, app)
        by_id_v = {v.id: v for v in vehicles}
        by_id_z = {z.id: z for z in zones}
        decisions = [(by_id_v[v], by_id_z[z], d) for (v, z), d in assessed.items()]
    timeline = await transitions_of(db, app.id)
    names = await q.user_names(db, [t.actor_id for t in timeline] + [app.applicant_id])
    return {
        "app": app,
        "company": await db.get(Organisation, app.organisation_id),
        "vehicles": vehicles,
        "zones": zones,
        "decisions": decisions,
        "documents": await q.application_documents(db, app.id),
        "timeline": timeline,
        "names": names,
        "passes": await q.application_passes(db, app.id),
        "error": None,
        **extra,
    }


@get("/autorite/demandes/{application_id:uuid}", guards=REVIEW, name="authority_application")
async def application_detail(request: Request, db: DB, application_id: FromPath[uuid.UUID]) -> Template:
    """One application: company, vehicles, zones, period, documents, eligibility, history, actions."""
    authority = await _authority(request, db)
    app = await q.scoped(db, Application, application_id, authority.id)
    if app.status == ApplicationStatus.DRAFT.value:
        raise NotFound("demande introuvable", code="application_not_found")
    return _render(request, "application.html", **await _application_context(db, app))


@dataclass
class ReasonForm:
    """A decision with its reason (or question)."""

    reason: str = ""


ReasonBody = Annotated[ReasonForm, Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _decide(request: Request, db: AsyncSession, application_id: uuid.UUID, action: Any, notice: str,
                  **kwargs: Any) -> Response[Any]:
    authority = await _authority(request, db)
    app = await q.scoped(db, Application, application_id, authority.id)
    try:
        async with db.begin_nested():
            await action(db, application_id=app.id, **kwargs)
    except DomainError as exc:
        await db.refresh(app)
        return _render(request, "application.html", status_code=422,
                       **await _application_context(db, app, error=exc.message))
    await notify_application_change(db, app.id, settings=request.app.state.settings)
    return Redirect(f"/autorite/demandes/{app.id}?ok={notice}", status_code=303)


@post("/autorite/demandes/{application_id:uuid}/accepter", guards=REVIEW, name="authority_application_approve")
async def application_approve(
    request: Request, db: DB, clock: ClockDep, signer: SignerDep, application_id: FromPath[uuid.UUID], data: ReasonBody,
) -> Response[Any]:
    """Approve: eligibility is checked again and one signed pass is issued per vehicle."""
    return await _decide(request, db, application_id, approve_application, "approved",
                         reviewer_id=_user(request).id, signer=signer, clock=clock,
                         reason=data.reason.strip() or None)


@post("/autorite/demandes/{application_id:uuid}/refuser", guards=REVIEW, name="authority_application_reject")
async def application_reject(
    request: Request, db: DB, clock: ClockDep, application_id: FromPath[uuid.UUID], data: ReasonBody,
) -> Response[Any]:
    """Reject, with a reason shown to the applicant."""
    return await _decide(request, db, application_id, reject_application, "rejected",
                         reviewer_id=_user(request).id, clock=clock, reason=data.reason)


@post("/autorite/demandes/{application_id:uuid}/complement", guards=REVIEW, name="authority_application_info")
async def application_ask_info(
    request: Request, db: DB, clock: ClockDep, application_id: FromPath[uuid.UUID], data: ReasonBody,
) -> Response[Any]:
    """Ask the applicant for more information (question required)."""
    return await _decide(request, db, application_id, request_information, "info_requested",
                         reviewer_id=_user(request).id, clock=clock, reason=data.reason)


BULK_LABELS_CHUNK = 500


@post("/autorite/demandes/acceptation-groupee", guards=REVIEW, name="authority_applications_bulk")
async def application_bulk_approve(request: Request, clock: ClockDep, signer: SignerDep) -> Template:
    """Approve the selected applications, each in its own transaction; report each outcome."""
    maker = request.app.state.session_maker
    user = _user(request)
    async with transaction(maker) as session:
        authority = await _authority(request, session)
    form = await request.form()
    ids = list(dict.fromkeys(str(i) for i in form.getall("ids", [])))
    outcomes = []
    labels: dict[uuid.UUID, str] = {}
    for position, raw in enumerate(ids):
        if position % BULK_LABELS_CHUNK == 0:  # labels (and the authority check) a chunk at a time
            chunk = [u for u in map(_uuid_or_none, ids[position:position + BULK_LABELS_CHUNK]) if u is not None]
            async with transaction(maker) as session:
                labels = await q.application_labels(session, chunk, authority.id)
        app_id = _uuid_or_none(raw)
        label = labels.get(app_id, raw) if app_id is not None else raw
        try:
            if app_id is None or app_id not in labels:
                raise NotFound(f"demande introuvable : {raw}", code="application_not_found")
            async with transaction(maker) as session:
                passes = await approve_application(session, application_id=app_id, reviewer_id=user.id,
                                                   signer=signer, clock=clock)
                await notify_application_change(session, app_id, settings=request.app.state.settings)
            outcomes.append({"id": app_id, "label": label, "ok": True, "message": None, "passes": len(passes)})
        except DomainError as exc:
            outcomes.append({"id": app_id, "label": label, "ok": False, "message": exc.message, "passes": 0})
        except IntegrityError:  # e.g. approved at the same moment by someone else: nothing stored here
            outcomes.append({"id": app_id, "label": label, "ok": False, "passes": 0,
                             "message": "conflit avec une opération simultanée : rien n'a été enregistré"})
    return _render(request, "bulk_result.html", outcomes=outcomes,
                   succeeded=sum(1 for o in outcomes if o["ok"]), failed=sum(1 for o in outcomes if not o["ok"]))


@get("/autorite/demandes/{application_id:uuid}/justificatifs/{document_id:uuid}", guards=REVIEW,
     name="authority_document")
async def application_document(
    request: Request, db: DB, application_id: FromPath[uuid.UUID], document_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    """Download a supporting document of an application of this authority."""
    authority = await _authority(request, db)
    document = await q.scoped_document(db, document_id, application_id, authority.id)
    data = FileDocumentStore(request.app.state.settings.documents_dir).read(document.storage_key)
    if data is None:
        raise NotFound("fichier du justificatif introuvable", code="document_file_missing")
    return stored_file_response(data, document.filename)


# ---- passes -------------------------------------------------------------------------------


@get("/autorite/laissez-passer", guards=REVIEW, name="authority_passes")
async def pass_list(
    request: Request,
    db: DB,
    status: FromQuery[str] = "",
    zone: FromQuery[str] = "",
    search: Annotated[str, QueryParameter(name="q")] = "",
    number: Annotated[int, QueryParameter(name="page", ge=1)] = 1,
) -> Template:
    """Issued passes with filters (status, zone, plate or serial)."""
    authority = await _authority(request, db)
    status = status if status in PASS_STATUS_FR else ""
    result = await q.list_passes(db, authority.id, status=status, zone_id=_uuid_or_none(zone), text=search,
                                 offset=_offset(number), limit=PAGE_SIZE)
    zones = await q.authority_zones(db, authority.id)
    return _render(request, "passes.html", result=result, zones=zones, zone_by_ref={z.ref: z.code for z in zones},
                   counts=await q.pass_counts(db, authority.id),
                   filters={"status": status, "zone": zone, "q": search}, number=number)


async def _pass_context(db: AsyncSession, row: AccessPass, **extra: Any) -> dict[str, Any]:
    revocation = await q.pass_revocation(db, row.id)
    names = await q.user_names(db, [row.issued_by_id, revocation.revoked_by_id if revocation else None])
    return {"p": row, "zones": await q.pass_zones(db, row.id), "revocation": revocation, "names": names,
            "error": None, **extra}


@get("/autorite/laissez-passer/{pass_id:uuid}", guards=REVIEW, name="authority_pass")
async def pass_detail(request: Request, db: DB, pass_id: FromPath[uuid.UUID]) -> Template:
    """One pass and its actions."""
    authority = await _authority(request, db)
    row = await q.scoped(db, AccessPass, pass_id, authority.id)
    return _render(request, "pass.html", **await _pass_context(db, row))


async def _pass_action(request: Request, db: AsyncSession, pass_id: uuid.UUID, action: Any, notice: str,
                       **kwargs: Any) -> Response[Any]:
    authority = await _authority(request, db)
    row = await q.scoped(db, AccessPass, pass_id, authority.id)
    try:
        async with db.begin_nested():
            await action(db, pass_id=row.id, actor_id=_user(request).id, settings=request.app.state.settings,
                         **kwargs)
    except DomainError as exc:
        await db.refresh(row)
        return _render(request, "pass.html", status_code=422, **await _pass_context(db, row, error=exc.message))
    return Redirect(f"/autorite/laissez-passer/{row.id}?ok={notice}", status_code=303)


@post("/autorite/laissez-passer/{pass_id:uuid}/suspendre", guards=REVIEW, name="authority_pass_suspend")
async def pass_suspend(request: Request, db: DB, clock: ClockDep, pass_id: FromPath[uuid.UUID], data: ReasonBody
                       ) -> Response[Any]:
    """Suspend a pass (reason required)."""
    return await _pass_action(request, db, pass_id, suspend_pass, "suspended", reason=data.reason, clock=clock)


@post("/autorite/laissez-passer/{pass_id:uuid}/retablir", guards=REVIEW, name="authority_pass_reinstate")
async def pass_reinstate(request: Request, db: DB, clock: ClockDep, pass_id: FromPath[uuid.UUID], data: ReasonBody
                         ) -> Response[Any]:
    """Lift a suspension."""
    return await _pass_action(request, db, pass_id, reinstate_pass, "reinstated",
                              reason=data.reason.strip() or None, clock=clock)


@post("/autorite/laissez-passer/{pass_id:uuid}/revoquer", guards=REVIEW, name="authority_pass_revoke")
async def pass_revoke(request: Request, db: DB, clock: ClockDep, pass_id: FromPath[uuid.UUID], data: ReasonBody
                      ) -> Response[Any]:
    """Revoke a pass for good (reason required)."""
    return await _pass_action(request, db, pass_id, revoke_pass, "revoked", reason=data.reason, clock=clock)


# ---- audit and checks ---------------------------------------------------------------------

AUDIT_PAGE_CHAIN_TAIL = 2000


@get("/autorite/journal", guards=REVIEW, name="authority_audit")
async def audit_log(
    request: Request,
    db: DB,
    entity: FromQuery[str] = "",
    number: Annotated[int, QueryParameter(name="page", ge=1)] = 1,
) -> Template:
    """The audit trail of the authority's zones, applications, passes, keys and publications."""
    authority = await _authority(request, db)
    entity = entity if entity in AUDIT_ENTITY_FR else ""
    result = await q.audit_page(db, authority.id, entity=entity, offset=_offset(number), limit=PAGE_SIZE)
    names = await q.user_names(db, [r.actor_id for r in result.rows])
    # The whole log's hash chain (ADR 0006); bounded to its tail so the page stays fast on long logs.
    chain = await verify_chain(db, tail=AUDIT_PAGE_CHAIN_TAIL)
    return _render(request, "audit.html", result=result, names=names, filters={"entity": entity}, number=number,
                   chain=chain)


@get("/autorite/controles", guards=REVIEW, name="authority_checks")
async def check_list(
    request: Request,
    db: DB,
    verdict: FromQuery[str] = "",
    zone: FromQuery[str] = "",
    serial: FromQuery[str] = "",
    number: Annotated[int, QueryParameter(name="page", ge=1)] = 1,
) -> Template:
    """Agents' checks (uploaded from their scanners)."""
    authority = await _authority(request, db)
    verdict = verdict if verdict in VERDICTS else ""
    result = await q.list_checks(db, authority.id, verdict=verdict, zone_id=_uuid_or_none(zone), serial=serial,
                                 offset=_offset(number), limit=PAGE_SIZE)
    return _render(request, "checks.html", result=result, zones=await q.authority_zones(db, authority.id),
                   verdicts=VERDICTS, filters={"verdict": verdict, "zone": zone, "serial": serial}, number=number,
                   verdict_label=status_label, reason_label=reason_label)


# ---- keys and publishing ------------------------------------------------------------------


@get("/autorite/cles", guards=ADMIN, name="authority_keys")
async def key_list(request: Request, db: DB, signer: SignerDep) -> Template:
    """Root and signing keys (public facts only: kid, algorithm, status, publication)."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    keystore = _keystore(signer, authority)
    return _render(request, "keys.html", authority=authority, keys=keystore.describe() if keystore else None,
                   error=None)


@dataclass
class RotateForm:
    """A new signing key."""

    alg: str = "ES256"


@post("/autorite/cles/rotation", guards=ADMIN, name="authority_key_rotate")
async def key_rotate(
    request: Request, db: DB, clock: ClockDep, signer: SignerDep,
    data: Annotated[RotateForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Add a signing key (ES256 or Ed25519); pending until the next publication."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    keystore = signer.keystore(authority.code)
    if data.alg not in ("ES256", "Ed25519"):
        raise DomainError(f"algorithme inconnu : {data.alg!r} (ES256 ou Ed25519)", code="unsupported_alg")
    entry = keystore.rotate(algorithm_from_name(data.alg))
    await record_change(db, actor_id=_user(request).id, entity="key", entity_id=entry.kid, action="rotate",
                        at=clock.now(), after={"authority": authority.code, "alg": entry.alg, "status": entry.status})
    return Redirect("/autorite/cles?ok=rotated", status_code=303)


@dataclass
class WithdrawForm:
    """Withdrawal of a signing key, confirmed."""

    confirm: str = ""


@post("/autorite/cles/{kid:str}/retrait", guards=ADMIN, name="authority_key_withdraw")
async def key_withdraw(
    request: Request, db: DB, clock: ClockDep, signer: SignerDep, kid: FromPath[str],
    data: Annotated[WithdrawForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Withdraw a signing key (after confirmation): its passes fail once the next bundle is out."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    keystore = signer.keystore(authority.code)
    if data.confirm != "oui":
        return _render(request, "keys.html", status_code=422, authority=authority, keys=keystore.describe(),
                       error="cochez la case de confirmation pour retirer la clé")
    if kid.lower() == keystore.root_kid or not any(k.kid == kid.lower() for k in keystore.keys):
        raise NotFound(f"clé de signature introuvable : {kid}", code="key_not_found")
    try:
        entry = keystore.withdraw(kid)
    except SchemeError as exc:
        return _render(request, "keys.html", status_code=422, authority=authority, keys=keystore.describe(),
                       error=exc.message)
    await record_change(db, actor_id=_user(request).id, entity="key", entity_id=entry.kid, action="withdraw",
                        at=clock.now(), after={"authority": authority.code, "status": entry.status})
    return Redirect("/autorite/cles?ok=withdrawn", status_code=303)


def _bundle_facts(keystore: KeyStore | None, clock: Clock) -> dict[str, Any] | None:
    latest = keystore.latest_bundle() if keystore else None
    if keystore is None or latest is None:
        return None
    content = latest.content
    path = _bundle_path(keystore, latest.seq)
    return {
        "seq": latest.seq, "issued_at": content.issued_at, "size": path.stat().st_size if path.exists() else 0,
        "revocations": latest.revoked_count(), "zones": len(content.zones), "keys": len(content.keys),
        "max_age_hours": content.max_age // 3600,
        "age_hours": max(0, int(clock.now().timestamp()) - content.issued_at) // 3600,
    }


@get("/autorite/publier", guards=ADMIN, name="authority_publish_page")
async def publish_page(request: Request, db: DB, clock: ClockDep, signer: SignerDep) -> Template:
    """The last published bundle and the button that publishes the next one."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    keystore = _keystore(signer, authority)
    return _render(request, "publish.html", authority=authority, latest=_bundle_facts(keystore, clock),
                   published=None, has_keys=keystore is not None)


@post("/autorite/publier", guards=ADMIN, name="authority_publish")
async def publish(request: Request, db: DB, clock: ClockDep, signer: SignerDep) -> Template:
    """Build and sign the next trust bundle (zones, rules, keys, revocations)."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    keystore = signer.keystore(authority.code)
    data, content = await publish_bundle(db, authority_id=authority.id, keystore=keystore, clock=clock,
                                         actor_id=_user(request).id)
    published = {"seq": content.seq, "size": len(data), "revocations": len(content.revoked) // REVOCATION_HASH_BYTES,
                 "zones": len(content.zones), "keys": len(content.keys)}
    return _render(request, "publish.html", authority=authority, latest=_bundle_facts(keystore, clock),
                   published=published, has_keys=True)


ROUTES = [
    dashboard,  # the zone pages are in zones_admin.ROUTES
    application_list, application_bulk_approve, application_detail, application_approve, application_reject,
    application_ask_info, application_document,
    pass_list, pass_detail, pass_suspend, pass_reinstate, pass_revoke,
    audit_log, check_list,
    key_list, key_rotate, key_withdraw, publish_page, publish,
]
