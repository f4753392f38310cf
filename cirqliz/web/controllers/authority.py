"""The authority's back office (/autorite); the public trust-bundle files are in bundles.py.

Reviewing pages (dashboard, applications, passes, checks, audit) are open to authority admins
and reviewers; zones, keys and publishing to admins only. Every query is scoped to the user's
authority: another authority's rows answer 404, exactly like missing ones.
"""

from __future__ import annotations

import asyncio
import csv
import io
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
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.engine import create_session_factory, transaction
from cirqliz.db.models import AccessPass, Application, Organisation, window_from_json
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.hours_form import describe_windows
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.purposes import Purpose, purpose_label
from cirqliz.domain.vehicles import category_explained_fr
from cirqliz.domain.windows import to_local
from cirqliz.issuance import authority_queries as q
from cirqliz.issuance import dashboard_stats as stats
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
from cirqliz.issuance.bulk_approval import BulkJob, BulkOutcome, approve_many, create_job, parse_ids
from cirqliz.issuance.bulk_approval import load_job as load_bulk_job
from cirqliz.issuance.bulk_approval import run_job as run_bulk_job
from cirqliz.issuance.documents import FileDocumentStore
from cirqliz.issuance.events import events_waiting
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.mail import notify_application_change
from cirqliz.issuance.partners import own_root_fingerprint
from cirqliz.issuance.passes import reinstate_pass, revoke_pass, suspend_pass
from cirqliz.issuance.publication import publish_bundle
from cirqliz.jobs.jobs import worker_name
from cirqliz.labels import AUDIT_ENTITY_FR, KEY_ROLE_FR
from cirqliz.passcode.bundle import REVOCATION_HASH_BYTES, BundleContent
from cirqliz.passcode.errors import SchemeError
from cirqliz.passcode.keys import algorithm_from_name
from cirqliz.verify.messages import reason_label, status_label
from cirqliz.web import audit_text, charts
from cirqliz.web.auth import CurrentUser, requires
from cirqliz.web.controllers.scanner import CLOCK_WARNING_S, clock_is_off, clock_offset_text
from cirqliz.web.deps import DB, ClockDep, SignerDep
from cirqliz.web.i18n import gettext_for, negotiate
from cirqliz.web.labels import (
    APPLICATION_STATUS_FR,
    ENERGY_FR,
    KEY_STATUS_FR,
    PASS_STATUS_FR,
    REVIEW_MODE_FR,
    ZONE_KIND_FR,
    ZONE_STATUS_FR,
)
from cirqliz.web.rendering import DISPLAY_TZ, inclusive_days, page
from cirqliz.web.served import stored_file_response

REVIEW = [requires(Role.AUTHORITY_ADMIN, Role.REVIEWER)]
ADMIN = [requires(Role.AUTHORITY_ADMIN)]
PAGE_SIZE = 50

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
    "APP_STATUS": APPLICATION_STATUS_FR,
    "PASS_STATUS": PASS_STATUS_FR,
    "ZONE_STATUS": ZONE_STATUS_FR,
    "ZONE_KINDS": ZONE_KIND_FR,
    "REVIEW_MODES": REVIEW_MODE_FR,
    "KEY_STATUS": KEY_STATUS_FR,
    "KEY_ROLES": KEY_ROLE_FR,
    "ENERGY": ENERGY_FR,
    "category_label": category_explained_fr,
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

CHART_VERDICTS = (("VALID", "#18753c", "solid"), ("REFUSED", "#ce0500", "hatch"), ("UNCERTAIN", "#8f4a00", "dots"))
# Cells that a spreadsheet would run as a formula are quoted (stored text: zone names, reasons).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class DashboardStats:
    """Everything the dashboard's charts and their CSV files show, for one period."""

    period: stats.Period
    per_day: list[stats.DayCount]
    per_zone: list[stats.ZoneCount]
    per_hour: list[stats.HourCounts]
    refused_applications: list[stats.ReasonCount]
    refused_checks: list[stats.ReasonCount]

    @property
    def applications_total(self) -> int:
        """Applications submitted over the period."""
        return sum(d.count for d in self.per_day)

    @property
    def checks_total(self) -> int:
        """Checks over the period."""
        return sum(h.total for h in self.per_hour)

    @property
    def passes_total(self) -> int:
        """Pass–zone pairs in force now (a pass valid in two zones counts in each)."""
        return sum(z.count for z in self.per_zone)


async def _dashboard_stats(db: AsyncSession, authority: Organisation, clock: Clock, days: int) -> DashboardStats:
    period = stats.period_ending(clock.now(), days, stats.authority_time_zone(authority))
    checks = await stats.check_charts(db, authority.id, period)
    return DashboardStats(
        period=period,
        per_day=await stats.applications_per_day(db, authority.id, period),
        per_zone=await stats.active_passes_per_zone(db, authority.id, clock.now()),
        per_hour=checks.per_hour,
        refused_applications=await stats.refused_applications_by_reason(db, authority.id, period),
        refused_checks=checks.refused_by_reason,
    )


def _hour(hour: int) -> str:
    return f"{hour} h"


def _reason_text(row: stats.ReasonCount, *, check: bool, lang: str = "fr", other: str = "Autres motifs") -> str:
    """A refusal reason as people read it: the reviewer's words, or a check reason's sentence."""
    if row.reason is None:
        return other
    if check:
        return reason_label(row.reason or None, lang)
    return row.reason or "—"


def _charts(data: DashboardStats, lang: str, _: Any) -> dict[str, Any]:
    """The dashboard's SVG charts (titles and descriptions in the page's language)."""
    first, last = data.period.first.strftime("%d/%m/%Y"), data.period.last.strftime("%d/%m/%Y")
    span = _("du %(first)s au %(last)s") % {"first": first, "last": last}
    out: dict[str, Any] = {}
    if data.applications_total:
        out["applications"] = charts.bar_chart(
            [d.day.strftime("%d/%m") for d in data.per_day], [d.count for d in data.per_day],
            chart_id="chart-demandes", title=_("Demandes déposées par jour"),
            desc=_("Diagramme en barres, une barre par jour %(span)s : %(n)s demandes en tout.")
            % {"span": span, "n": charts.format_number(data.applications_total)})
    if data.passes_total:
        out["passes"] = charts.horizontal_bar_chart(
            [z.name for z in data.per_zone], [z.count for z in data.per_zone],
            chart_id="chart-zones", title=_("Laissez-passer en cours par zone"),
            desc=_("Barres horizontales, une par zone, de la plus fournie à la moins fournie."))
    if data.checks_total:
        series = [charts.Series(status_label(v, lang), [h.by_verdict.get(v, 0) for h in data.per_hour], colour,
                                pattern) for v, colour, pattern in CHART_VERDICTS]
        out["checks"] = charts.stacked_bar_chart(
            [_hour(h.hour) for h in data.per_hour], series, chart_id="chart-controles",
            title=_("Contrôles par heure de la journée, selon le verdict"),
            desc=_("Barres empilées, une par heure de 0 h à 23 h, %(span)s : de bas en haut %(order)s "
                   "(motifs : plein, hachuré, pointillé). %(n)s contrôles en tout.")
            % {"span": span, "order": ", ".join(s.label for s in series),
               "n": charts.format_number(data.checks_total)})
    if data.refused_applications:
        rows = data.refused_applications
        out["refused_applications"] = charts.horizontal_bar_chart(
            [_reason_text(r, check=False, lang=lang, other=_("Autres motifs")) for r in rows], [r.count for r in rows],
            chart_id="chart-motifs-demandes", title=_("Demandes refusées par motif"),
            desc=_("Barres horizontales, une par motif de refus écrit par l'instructeur, %(span)s.") % {"span": span})
    if data.refused_checks:
        rows = data.refused_checks
        out["refused_checks"] = charts.horizontal_bar_chart(
            [_reason_text(r, check=True, lang=lang, other=_("Autres motifs")) for r in rows], [r.count for r in rows],
            chart_id="chart-motifs-controles", title=_("Contrôles refusés par motif"),
            desc=_("Barres horizontales, une par motif de refus du contrôle, %(span)s.") % {"span": span})
    return out


@get("/autorite", guards=REVIEW, name="authority_home")
async def dashboard(
    request: Request, db: DB, clock: ClockDep, signer: SignerDep,
    periode: Annotated[str, QueryParameter(name="periode")] = "",
) -> Template:
    """Counts of applications, passes and zones, events waiting for a decision, the age of the
    last published bundle, and charts over the last 7 or 30 days (?periode=)."""
    days = stats.parse_period(periode)
    authority = await _authority(request, db)
    keystore = _keystore(signer, authority)
    latest = keystore.latest_bundle() if keystore else None
    bundle = None
    if latest is not None:
        issued = latest.content.issued_at
        bundle = {"seq": latest.seq, "issued_at": issued,
                  "age_hours": max(0, int(clock.now().timestamp()) - issued) // 3600,
                  "stale": int(clock.now().timestamp()) - issued > latest.content.max_age}
    data = await _dashboard_stats(db, authority, clock, days)
    lang = negotiate(request)
    return _render(
        request, "dashboard.html", authority=authority,
        applications=await q.application_counts(db, authority.id),
        passes=await q.pass_counts(db, authority.id),
        zones=await q.zone_counts(db, authority.id),
        bundle=bundle,
        events_waiting=await events_waiting(db, authority.id),
        stats=data, charts=_charts(data, lang, gettext_for(lang)), periods=stats.PERIODS,
        hour_label=_hour, reason_text=_reason_text, format_number=charts.format_number,
        verdict_label=status_label, chart_verdicts=CHART_VERDICTS,
    )


def _csv_cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_rows(name: str, data: DashboardStats) -> tuple[list[str], list[list[Any]]] | None:
    """French headers and rows of one chart's CSV; None for an unknown name."""
    if name == "demandes-par-jour":
        return ["Jour", "Demandes déposées"], [[d.day.strftime("%d/%m/%Y"), d.count] for d in data.per_day]
    if name == "laissez-passer-par-zone":
        return (["Code de la zone", "Zone", "Laissez-passer en cours"],
                [[z.code, z.name, z.count] for z in data.per_zone])
    if name == "controles-par-heure":
        labels = [status_label(v) for v, _, _ in CHART_VERDICTS]
        return (["Heure", *labels, "Total"],
                [[_hour(h.hour), *(h.by_verdict.get(v, 0) for v, _, _ in CHART_VERDICTS), h.total]
                 for h in data.per_hour])
    if name == "demandes-refusees-par-motif":
        return ["Motif du refus", "Demandes refusées"], [[_reason_text(r, check=False), r.count]
                                                         for r in data.refused_applications]
    if name == "controles-refuses-par-motif":
        return ["Motif du refus", "Contrôles refusés"], [[_reason_text(r, check=True), r.count]
                                                          for r in data.refused_checks]
    return None


DASHBOARD_CSV = ("demandes-par-jour", "laissez-passer-par-zone", "controles-par-heure",
                 "demandes-refusees-par-motif", "controles-refuses-par-motif")


@get("/autorite/tableau-de-bord/{file:str}", guards=REVIEW, name="authority_dashboard_csv")
async def dashboard_csv(
    request: Request, db: DB, clock: ClockDep, file: FromPath[str],
    periode: Annotated[str, QueryParameter(name="periode")] = "",
) -> Response[bytes]:
    """One dashboard chart as a French spreadsheet CSV (UTF-8 with BOM, ';', local dates)."""
    days = stats.parse_period(periode)
    name = file.removesuffix(".csv")
    if not file.endswith(".csv") or name not in DASHBOARD_CSV:
        raise NotFound(f"fichier inconnu : {file[:60]}", code="not_found")
    authority = await _authority(request, db)
    data = await _dashboard_stats(db, authority, clock, days)
    headers, rows = _csv_rows(name, data) or ([], [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([[_csv_cell(cell) for cell in row] for row in rows])
    filename = f"{name}-{days}-jours-{data.period.last.isoformat()}.csv"
    return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


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
    counts, counts_capped = await q.application_counts_capped(db, authority.id)
    return _render(
        request, "applications.html", result=result, plates=plates, zone_codes=codes,
        counts=counts, counts_capped=counts_capped, zones=await q.authority_zones(db, authority.id),
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
# Up to this many applications the answer is the result itself; beyond, the approval runs in the
# background and the answer is its progress page (a big selection would hold the request for minutes).
BULK_INLINE = 200
_BULK_TASKS: set[asyncio.Task] = set()  # running background approvals (a reference keeps them alive)


def _bulk_mails(request: Request) -> Any:
    settings = request.app.state.settings

    async def notify(session: AsyncSession, outcomes: list[BulkOutcome], _processed: int) -> None:
        for outcome in outcomes:
            if outcome.ok and outcome.application_id is not None:
                await notify_application_change(session, outcome.application_id, settings=settings)

    return notify


def _spaced(count: int) -> str:
    """1200 → « 1 200 » (French thousands, narrow no-break space)."""
    return f"{count:,}".replace(",", "\u202f")


async def _bulk_result(request: Request, authority_id: uuid.UUID, outcomes: list[BulkOutcome],
                       db: AsyncSession | None = None, **extra: Any) -> Template:
    """The result page; labels are read in `db` when given (a second transaction would wait for the
    request's own on SQLite), else in short transactions of their own."""
    maker = request.app.state.session_maker
    labels: dict[uuid.UUID, str] = {}
    known = [o.application_id for o in outcomes if o.application_id is not None]
    for start in range(0, len(known), BULK_LABELS_CHUNK):  # only this authority's applications are labelled
        part = known[start:start + BULK_LABELS_CHUNK]
        if db is not None:
            labels |= await q.application_labels(db, part, authority_id)
            continue
        async with transaction(maker) as session:
            labels |= await q.application_labels(session, part, authority_id)
    rows = [{"id": o.application_id if o.application_id in labels else None,
             "label": labels.get(o.application_id, o.raw) if o.application_id else o.raw,
             "ok": o.ok, "message": o.message, "passes": o.passes} for o in outcomes]
    return _render(request, "bulk_result.html", outcomes=rows, succeeded=sum(1 for o in outcomes if o.ok),
                   failed=sum(1 for o in outcomes if not o.ok), **extra)


@post("/autorite/demandes/acceptation-groupee", guards=REVIEW, name="authority_applications_bulk")
async def application_bulk_approve(request: Request, clock: ClockDep, signer: SignerDep) -> Response[Any]:
    """Approve the selected applications of this authority, a chunk per transaction: a small selection
    answers with the result, a large one starts a background run and answers with its progress page."""
    maker = request.app.state.session_maker
    user = _user(request)
    async with transaction(maker) as session:
        authority = await _authority(request, session)
    form = await request.form()
    raw_ids = [str(i) for i in form.getall("ids", [])]
    if len(parse_ids(raw_ids)) <= BULK_INLINE:
        outcomes = await approve_many(maker, authority_id=authority.id, raw_ids=raw_ids, reviewer_id=user.id,
                                      signer=signer, clock=clock, on_chunk=_bulk_mails(request))
        return await _bulk_result(request, authority.id, outcomes)
    job_id = await create_job(maker, authority_id=authority.id, reviewer_id=user.id, raw_ids=raw_ids, clock=clock,
                              worker=worker_name())
    task = asyncio.create_task(run_bulk_job(maker, job_id, signer=signer, clock=clock,
                                            on_chunk=_bulk_mails(request)))
    _BULK_TASKS.add(task)
    task.add_done_callback(_BULK_TASKS.discard)
    return Redirect(f"/autorite/demandes/acceptation-groupee/{job_id}", status_code=303)


async def _bulk_job(request: Request, db: AsyncSession, job_id: uuid.UUID) -> BulkJob:
    authority = await _authority(request, db)
    job = await load_bulk_job(db, job_id, authority.id)
    if job is None:  # unknown, or another authority's run
        raise NotFound("acceptation groupée introuvable", code="bulk_job_not_found")
    return job


def _reader(request: Request) -> AsyncSession:
    # Read-only (SQLite: a DEFERRED transaction reads the last commit without queueing behind the
    # running approval's write transaction, which would otherwise hold the page for a whole chunk).
    return create_session_factory(request.app.state.engine, read_only=True)()


@get("/autorite/demandes/acceptation-groupee/{job_id:uuid}", guards=REVIEW, name="authority_bulk_progress")
async def application_bulk_progress(request: Request, clock: ClockDep, job_id: FromPath[uuid.UUID]) -> Template:
    """A background bulk approval: its progress (the page reloads itself), then its result; a run cut
    short (server restarted) says so and stops reloading."""
    async with _reader(request) as db:
        job = await _bulk_job(request, db, job_id)
        if not job.finished:
            stalled = job.stalled(clock.now())
            return _render(request, "bulk_progress.html", job=job, refresh_s=None if stalled else 2,
                           stalled=stalled, format_count=_spaced)
        return await _bulk_result(request, job.authority_id, job.outcomes(), db, job=job)


@get("/autorite/demandes/acceptation-groupee/{job_id:uuid}/etat", guards=REVIEW, name="authority_bulk_state")
async def application_bulk_state(request: Request, clock: ClockDep, job_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    """The progress of a background bulk approval, for a page that polls instead of reloading."""
    async with _reader(request) as db:
        job = await _bulk_job(request, db, job_id)
    return {"total": job.total, "processed": job.processed, "accepted": job.accepted,
            "failed": len(job.failed), "finished": job.finished, "outcome": job.outcome,
            "stalled": job.stalled(clock.now())}


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
    counts, counts_capped = await q.pass_counts_capped(db, authority.id)
    return _render(request, "passes.html", result=result, zones=zones, zone_by_ref={z.ref: z.code for z in zones},
                   counts=counts, counts_capped=counts_capped,
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
    found = await q.audit_subjects(db, authority.id, result.rows)
    admin = any(m.role == Role.AUTHORITY_ADMIN.value and m.organisation_id == authority.id
                for m in _user(request).roles)
    lang = negotiate(request)
    subjects = {r.id: audit_text.subject(r, found, admin=admin, lang=lang) for r in result.rows}
    # The whole log's hash chain (ADR 0006); bounded to its tail so the page stays fast on long logs.
    chain = await verify_chain(db, tail=AUDIT_PAGE_CHAIN_TAIL)
    return _render(request, "audit.html", result=result, names=names, subjects=subjects, filters={"entity": entity},
                   number=number, chain=chain, hidden_fields=() if admin else audit_text.ADMIN_ONLY_FIELDS,
                   value_names=audit_text.value_names(found, lang))


@get("/autorite/controles", guards=REVIEW, name="authority_checks")
async def check_list(
    request: Request,
    db: DB,
    verdict: FromQuery[str] = "",
    zone: FromQuery[str] = "",
    serial: FromQuery[str] = "",
    horloge: FromQuery[str] = "",
    number: Annotated[int, QueryParameter(name="page", ge=1)] = 1,
) -> Template:
    """Agents' checks (uploaded from their scanners); those made by a phone whose clock was off are
    flagged, counted, and can be listed alone (`horloge=decalee`)."""
    authority = await _authority(request, db)
    verdict = verdict if verdict in VERDICTS else ""
    horloge = "decalee" if horloge == "decalee" else ""
    filters = {"verdict": verdict, "zone_id": _uuid_or_none(zone), "serial": serial}
    result = await q.list_checks(db, authority.id, **filters, clock_off_s=CLOCK_WARNING_S if horloge else None,
                                 offset=_offset(number), limit=PAGE_SIZE)
    clock_off = result if horloge else await q.list_checks(db, authority.id, **filters, clock_off_s=CLOCK_WARNING_S,
                                                           limit=1)
    issuers = {c.issuer for c, _zone, _agent in result.rows if c.issuer and c.issuer != authority.code}
    return _render(request, "checks.html", result=result, zones=await q.authority_zones(db, authority.id),
                   verdicts=VERDICTS, number=number, home_code=authority.code,
                   issuer_names=await q.issuer_names(db, authority.id, issuers),
                   filters={"verdict": verdict, "zone": zone, "serial": serial, "horloge": horloge},
                   verdict_label=status_label, reason_label=reason_label, clock_off=clock_off,
                   clock_warning_min=CLOCK_WARNING_S // 60, clock_is_off=clock_is_off, clock_text=clock_offset_text)


# ---- keys and publishing ------------------------------------------------------------------


@get("/autorite/cles", guards=ADMIN, name="authority_keys")
async def key_list(request: Request, db: DB, signer: SignerDep) -> Template:
    """Root and signing keys (public facts only: kid, algorithm, status, publication)."""
    authority = await _authority(request, db, Role.AUTHORITY_ADMIN)
    keystore = _keystore(signer, authority)
    return _render(request, "keys.html", authority=authority, keys=keystore.describe() if keystore else None,
                   error=None, fingerprint=own_root_fingerprint(signer, authority.code) if keystore else None)


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


def _facts(content: BundleContent, size: int, clock: Clock) -> dict[str, Any]:
    return {
        "seq": content.seq, "issued_at": content.issued_at, "size": size,
        "revocations": len(content.revoked) // REVOCATION_HASH_BYTES, "zones": len(content.zones),
        "keys": len(content.keys), "max_age_hours": content.max_age // 3600,
        "age_hours": max(0, int(clock.now().timestamp()) - content.issued_at) // 3600,
    }


def _bundle_facts(keystore: KeyStore | None, clock: Clock) -> dict[str, Any] | None:
    latest = keystore.latest_bundle() if keystore else None
    if keystore is None or latest is None:
        return None
    path = _bundle_path(keystore, latest.seq)
    return _facts(latest.content, path.stat().st_size if path.exists() else 0, clock)


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
    # The facts of the bundle just written, not read back and decoded again (issue 18: that decode
    # was most of this request at city scale).
    facts = _facts(content, len(data), clock)
    return _render(request, "publish.html", authority=authority, latest=facts, published=facts, has_keys=True)


ROUTES = [
    dashboard, dashboard_csv,  # the zone pages are in zones_admin.ROUTES
    application_list, application_bulk_approve, application_bulk_progress, application_bulk_state,
    application_detail, application_approve, application_reject,
    application_ask_info, application_document,
    pass_list, pass_detail, pass_suspend, pass_reinstate, pass_revoke,
    audit_log, check_list,
    key_list, key_rotate, key_withdraw, publish_page, publish,
]
