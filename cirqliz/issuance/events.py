"""Events of organisers and their temporary zones, the authority's approval, passes issued by the
organiser within its quota, incident closures, and the switching of temporary zones.

Every function works inside the caller's transaction and only flushes; the caller commits.

Life cycle of an event (table `event_approval`): draft → submitted → approved | rejected; a
rejected event may be edited and submitted again. Its zones belong to the authority (delegated to
the organiser) and carry one `zone_schedule` row each; they switch on and off by themselves
(`switch_temporary_zones`, run by the scheduler) once the authority approved the event.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import (
    AccessPass,
    Event,
    EventApproval,
    EventPass,
    Organisation,
    PassZone,
    TemporaryZone,
    Zone,
    ZoneClosure,
    ZoneSchedule,
    window_to_json,
)
from cirqliz.domain.errors import DomainError, ReasonRequired, TransitionError
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.passes import PassStatus, new_serial, serial_hex
from cirqliz.domain.plates import normalise_plate
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import TimeWindow, parse_window, zone_info
from cirqliz.domain.zones import ZoneKind, ZoneStatus, check_zone_transition
from cirqliz.imports.common import derive_code
from cirqliz.issuance.accounts import normalise_email
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.issuance.signer import ClaimsInput, PassSigner
from cirqliz.issuance.zones import add_access_rule, change_zone_status, create_event, create_zone
from cirqliz.labels import EVENT_STATUS_FR

EVENT_SOURCE = "event"
LEVELS = {"red": "rouge", "blue": "bleu"}
LEVEL_LABELS_FR = {
    "red": "rouge : aucune circulation motorisée sans laissez-passer",
    "blue": "bleu : les véhicules ont besoin d'un laissez-passer",
}
EDITABLE = ("draft", "rejected")
SERIAL_ATTEMPTS = 5
MAX_CSV_LINES = 5000
MAX_CLOSURE_REASON = 200


# ---- events -----------------------------------------------------------------------------------


async def create_organiser_event(
    session: AsyncSession,
    *,
    organiser_id: uuid.UUID,
    authority_id: uuid.UUID,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Event:
    """A draft event of an organiser, to be submitted to `authority_id`."""
    if not name.strip():
        raise DomainError("le nom de l'événement est obligatoire", code="event_name_missing")
    organiser = await get_or_raise(session, Organisation, organiser_id)
    if organiser.kind != OrganisationKind.ORGANISER:
        raise DomainError("seul un organisateur crée un événement ici", code="event_by_non_organiser")
    if organiser.authority_id is None or authority_id != organiser.authority_id:
        raise DomainError("un organisateur soumet ses événements à son autorité de rattachement seulement",
                          code="event_authority")
    authority = await get_or_raise(session, Organisation, authority_id)
    if authority.kind != OrganisationKind.AUTHORITY:
        raise DomainError("l'événement doit être soumis à une autorité", code="event_authority")
    event = await create_event(session, organiser_id=organiser_id, name=name, starts_at=starts_at,
                               ends_at=ends_at, clock=clock, actor_id=actor_id)
    session.add(EventApproval(event_id=event.id, authority_id=authority_id, updated_at=clock.now()))
    await session.flush()
    return event


async def event_approval(session: AsyncSession, event_id: uuid.UUID) -> EventApproval:
    """The approval row of an event (every event created here has one)."""
    return await get_or_raise(session, EventApproval, event_id)


async def event_zones(
    session: AsyncSession, event_id: uuid.UUID
) -> list[tuple[Zone, TemporaryZone, list[ZoneSchedule]]]:
    """The event's zones with their temporary-zone facts and schedule, by ref."""
    rows = (await session.exec(
        select(Zone, TemporaryZone).join(TemporaryZone, col(TemporaryZone.zone_id) == Zone.id)
        .where(col(TemporaryZone.event_id) == event_id).order_by(col(Zone.ref))
    )).all()
    out = []
    for zone, temporary in rows:
        schedule = list((await session.exec(
            select(ZoneSchedule).where(col(ZoneSchedule.zone_id) == zone.id).order_by(col(ZoneSchedule.starts_at))
        )).all())
        out.append((zone, temporary, schedule))
    return out


def _check_editable(approval: EventApproval) -> None:
    if approval.status not in EDITABLE:
        raise TransitionError(
            f"événement {EVENT_STATUS_FR[approval.status]} : il ne peut plus être modifié",
            code="event_not_editable")


def local_dates(starts_at: datetime, ends_at: datetime | None, tz: str) -> tuple[Any, Any]:
    """Local first and last days of [starts_at, ends_at) (ends_at exclusive)."""
    first = starts_at.astimezone(zone_info(tz)).date()
    last = (ends_at - timedelta(microseconds=1)).astimezone(zone_info(tz)).date() if ends_at else None
    return first, last


async def add_event_zone(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    name: str,
    level: str,
    geometry: Any,
    starts_at: datetime,
    ends_at: datetime,
    clock: Clock,
    windows: Sequence[TimeWindow] = (),
    time_zone: str = "Europe/Paris",
    actor_id: uuid.UUID | None = None,
    source: str = EVENT_SOURCE,
    source_id: str | None = None,
    opening_hours: str | None = None,
) -> Zone:
    """A temporary perimeter of the event (red or blue), in force from `starts_at` to `ends_at`
    (within the event's own dates), during `windows` when given: its restriction schedule (ADR
    0007; `opening_hours` is their text as typed). Pass holders may enter whenever it is in force."""
    event = await get_or_raise(session, Event, event_id)
    approval = await event_approval(session, event_id)
    _check_editable(approval)
    if level not in LEVELS:
        raise DomainError(f"niveau de périmètre inconnu : {level!r} (rouge ou bleu)", code="invalid_level")
    if not name.strip():
        raise DomainError("le nom du périmètre est obligatoire", code="zone_name_missing")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise DomainError("dates sans fuseau horaire", code="naive_time")
    if ends_at <= starts_at:
        raise DomainError("la fin du périmètre doit suivre son début", code="zone_period_order")
    if starts_at < event.starts_at or ends_at > event.ends_at:
        raise DomainError("le périmètre doit être en vigueur pendant l'événement (entre son début et sa fin)",
                          code="zone_outside_event")
    count = (await session.exec(
        select(func.count()).select_from(TemporaryZone).where(col(TemporaryZone.event_id) == event_id))).one()
    first, last = local_dates(starts_at, ends_at, time_zone)
    code = derive_code("EV", f"{event.id.hex[:6]}-{int(count) + 1}")
    zone = await create_zone(
        session, authority_id=approval.authority_id, code=code, name=name, kind=ZoneKind.EVENT_PERIMETER.value,
        geometry=geometry, clock=clock, time_zone=time_zone, permanent=False, starts_on=first, ends_on=last,
        delegated_to_id=event.organiser_id, event_id=event.id, actor_id=actor_id,
    )
    if windows:
        zone.restriction_windows = [window_to_json(w) for w in windows]
        zone.restriction_hours = opening_hours or "; ".join(w.describe() for w in windows)
        session.add(zone)
    await add_access_rule(session, zone_id=zone.id, clock=clock,
                          purposes=[p for p in Purpose if p is not Purpose.OTHER],
                          name=f"Périmètre {LEVELS[level]}", actor_id=actor_id)
    now = clock.now()
    session.add(TemporaryZone(zone_id=zone.id, authority_id=approval.authority_id, event_id=event.id, level=level,
                              auto_switch=False, source=source, source_id=source_id or str(zone.id),
                              created_at=now, updated_at=now))
    session.add(ZoneSchedule(zone_id=zone.id, starts_at=starts_at, ends_at=ends_at, source=source,
                             source_ref=str(event.id), created_at=now))
    approval.updated_at = now
    session.add(approval)
    await session.flush()
    return zone


async def submit_event(session: AsyncSession, *, event_id: uuid.UUID, clock: Clock,
                       actor_id: uuid.UUID | None = None) -> EventApproval:
    """Send the event to its authority (it needs at least one perimeter)."""
    approval = await event_approval(session, event_id)
    _check_editable(approval)
    if not await event_zones(session, event_id):
        raise DomainError("ajoutez au moins un périmètre avant de soumettre l'événement", code="event_without_zone")
    return await _decide(session, approval, "submitted", clock=clock, actor_id=actor_id)


async def approve_event(session: AsyncSession, *, event_id: uuid.UUID, pass_quota: int, clock: Clock,
                        actor_id: uuid.UUID | None = None) -> EventApproval:
    """The authority approves a submitted event and delegates `pass_quota` passes; its zones will
    switch on and off by themselves."""
    if pass_quota < 0:
        raise DomainError("le quota de laissez-passer ne peut pas être négatif", code="quota_negative")
    approval = await event_approval(session, event_id)
    if approval.status != "submitted":
        raise TransitionError(f"seul un événement soumis peut être approuvé (il est "
                              f"{EVENT_STATUS_FR[approval.status]})", code="event_not_submitted")
    approval.pass_quota = pass_quota
    approval = await _decide(session, approval, "approved", clock=clock, actor_id=actor_id)
    for _zone, temporary, _schedule in await event_zones(session, event_id):
        temporary.auto_switch = True
        temporary.updated_at = clock.now()
        session.add(temporary)
    await session.flush()
    return approval


async def reject_event(session: AsyncSession, *, event_id: uuid.UUID, reason: str, clock: Clock,
                       actor_id: uuid.UUID | None = None) -> EventApproval:
    """The authority refuses a submitted event (reason required, shown to the organiser)."""
    if not (reason or "").strip():
        raise ReasonRequired("un motif est obligatoire pour refuser un événement")
    approval = await event_approval(session, event_id)
    if approval.status != "submitted":
        raise TransitionError(f"seul un événement soumis peut être refusé (il est "
                              f"{EVENT_STATUS_FR[approval.status]})", code="event_not_submitted")
    approval.decision_reason = reason.strip()
    return await _decide(session, approval, "rejected", clock=clock, actor_id=actor_id)


async def _decide(session: AsyncSession, approval: EventApproval, status: str, *, clock: Clock,
                  actor_id: uuid.UUID | None) -> EventApproval:
    before = approval.status
    now = clock.now()
    approval.status = status
    approval.updated_at = now
    if status == "submitted":
        approval.submitted_at = now
        approval.decision_reason = None
    else:
        approval.decided_at = now
        approval.decided_by_id = actor_id
    session.add(approval)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="event", entity_id=approval.event_id, action=status,
                        at=now, before={"status": before},
                        after={"status": status, "pass_quota": approval.pass_quota,
                               "reason": approval.decision_reason})
    return approval


async def events_waiting(session: AsyncSession, authority_id: uuid.UUID) -> int:
    """Events submitted to the authority and not decided yet."""
    return int((await session.exec(
        select(func.count()).select_from(EventApproval)
        .where(col(EventApproval.authority_id) == authority_id, col(EventApproval.status) == "submitted"))).one())


async def _locked_approval(session: AsyncSession, event_id: uuid.UUID) -> EventApproval:
    """The approval row, re-read FOR UPDATE (PostgreSQL) so the quota is counted under the lock."""
    approval = (await session.exec(
        select(EventApproval).where(col(EventApproval.event_id) == event_id).with_for_update()
        .execution_options(populate_existing=True))).first()
    if approval is None:
        return await event_approval(session, event_id)  # raises the usual "not found"
    return approval


async def passes_issued(session: AsyncSession, event_id: uuid.UUID) -> int:
    """Passes of the event that count against its quota (a revoked pass gives its place back)."""
    return int((await session.exec(
        select(func.count()).select_from(EventPass).join(AccessPass, col(AccessPass.id) == EventPass.pass_id)
        .where(col(EventPass.event_id) == event_id, col(AccessPass.status) != PassStatus.REVOKED.value)
    )).one())


# ---- organiser's bulk issue -------------------------------------------------------------------

CSV_COLUMNS = {
    "company": ("entreprise", "societe", "société", "company"),
    "plate": ("immatriculation", "plaque", "plate"),
    "zones": ("zones", "zone"),
    "slots": ("creneaux", "créneaux", "horaires", "slots"),
    "email": ("email", "e-mail", "courriel", "mail", "adresse e-mail", "adresse électronique"),
}


@dataclass(frozen=True, slots=True)
class LineProblem:
    """What is wrong with one line of the CSV (line numbers count the header as line 1)."""

    line: int
    field: str
    message: str

    def describe(self) -> str:
        """'ligne 3, champ immatriculation : …'"""
        return f"ligne {self.line}, champ {self.field} : {self.message}"


@dataclass
class BulkLine:
    """One accepted line of the CSV."""

    line: int
    company: str
    plate: str
    zones: list[Zone]
    windows: list[TimeWindow]
    serial: str | None = None
    email: str | None = None  # the supplier's address (optional column), for sending it its pass
    pass_id: uuid.UUID | None = None


class BulkIssueError(DomainError):
    """The CSV has at least one bad line: nothing was issued; `problems` names each line and field."""

    code = "bulk_issue_refused"

    def __init__(self, problems: Sequence[LineProblem], message: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__(message or f"{len(self.problems)} problème(s) : aucun laissez-passer émis")


@dataclass
class BulkResult:
    """The passes issued from a CSV, line by line."""

    lines: list[BulkLine] = field(default_factory=list)
    passes: list[AccessPass] = field(default_factory=list)


def _columns(header: Sequence[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for key, aliases in CSV_COLUMNS.items():
        for alias in aliases:
            if alias in names:
                found[key] = names.index(alias)
                break
    return found


def _split(text: str, separators: str) -> list[str]:
    for sep in separators:
        text = text.replace(sep, "|")
    return [p.strip() for p in text.split("|") if p.strip()]


def read_supplier_csv(data: bytes | str, zones_by_code: dict[str, Zone]) -> tuple[list[BulkLine], list[LineProblem]]:
    """Lines of a supplier CSV (entreprise, immatriculation, zones, créneaux, email) and their problems.

    Delimiter ';' or ','; several zones separated by '|', '+' or spaces; several slots by '|'
    (each like 'Lu-Ve 07:00-11:00' or 'Mo-Fr 07:00-11:00'; empty: the zones' own hours). The
    optional `email` column gives the supplier's address, where its pass can be sent.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], [LineProblem(1, "fichier", "le fichier n'est pas en UTF-8")]
    else:
        text = data
    sample = text[:2048]
    delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        return [], [LineProblem(1, "fichier", f"fichier CSV illisible : {exc}")]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return [], [LineProblem(1, "fichier", "fichier vide : une ligne d'en-tête puis une ligne par véhicule")]
    columns = _columns(rows[0])
    missing = [CSV_COLUMNS[k][0] for k in ("company", "plate", "zones") if k not in columns]
    if missing:
        return [], [LineProblem(1, "en-tête", f"colonne(s) manquante(s) : {', '.join(missing)} "
                                              "(attendu : entreprise;immatriculation;zones;creneaux;email)")]
    if len(rows) - 1 > MAX_CSV_LINES:
        return [], [LineProblem(1, "fichier", f"trop de lignes ({len(rows) - 1}, {MAX_CSV_LINES} au plus)")]
    lines: list[BulkLine] = []
    problems: list[LineProblem] = []
    seen: dict[tuple[str, tuple[str, ...]], int] = {}

    def cell(row: list[str], key: str) -> str:
        index = columns.get(key)
        return row[index].strip() if index is not None and index < len(row) else ""

    for number, row in enumerate(rows[1:], start=2):
        local: list[LineProblem] = []
        company = cell(row, "company")
        if not company:
            local.append(LineProblem(number, "entreprise", "valeur obligatoire absente"))
        elif len(company) > 200:
            local.append(LineProblem(number, "entreprise", "200 caractères au plus"))
        plate = ""
        try:
            plate = normalise_plate(cell(row, "plate"))
        except DomainError as exc:
            local.append(LineProblem(number, "immatriculation", exc.message))
        codes = [c.upper() for c in _split(cell(row, "zones"), "+ ,")]
        zones: list[Zone] = []
        if not codes:
            local.append(LineProblem(number, "zones", "au moins une zone de l'événement est attendue"))
        for code in codes:
            zone = zones_by_code.get(code)
            if zone is None:
                known = ", ".join(sorted(zones_by_code)) or "aucune"
                local.append(LineProblem(number, "zones", f"zone {code!r} inconnue pour cet événement "
                                                          f"(zones : {known})"))
            elif zone not in zones:
                zones.append(zone)
        windows: list[TimeWindow] = []
        for slot in _split(cell(row, "slots"), ""):
            try:
                windows.append(parse_window(_english_days(slot)))
            except DomainError as exc:
                local.append(LineProblem(number, "creneaux", exc.message))
        email = cell(row, "email") or None
        if email is not None:
            try:
                email = normalise_email(email)
            except DomainError:
                local.append(LineProblem(number, "email", f"adresse électronique invalide : {email!r}"))
        if plate and zones and not local:
            key = (plate, tuple(sorted(z.code for z in zones)))
            if key in seen:
                local.append(LineProblem(number, "immatriculation",
                                         f"{plate} figure déjà ligne {seen[key]} pour les mêmes zones"))
            else:
                seen[key] = number
        problems.extend(local)
        if not local:
            lines.append(BulkLine(number, company, plate, zones, windows, email=email))
    return lines, problems


_FRENCH_DAYS = {"Lu": "Mo", "Ma": "Tu", "Me": "We", "Je": "Th", "Ve": "Fr", "Sa": "Sa", "Di": "Su"}


def _english_days(slot: str) -> str:
    days, _, hours = slot.strip().rpartition(" ")
    if not days:
        return slot
    for fr, en in _FRENCH_DAYS.items():
        days = days.replace(fr, en)
    return f"{days} {hours}"


async def _check_own_authority(session: AsyncSession, event: Event) -> None:
    """An organiser issues passes (signed with the authority's key) only for events of its own
    authority, whatever older rows say."""
    organiser = await get_or_raise(session, Organisation, event.organiser_id)
    approval = await event_approval(session, event.id)
    if organiser.authority_id is None or approval.authority_id != organiser.authority_id:
        raise DomainError("cet événement ne relève pas de l'autorité de rattachement de l'organisateur",
                          code="event_of_other_authority")


async def issue_supplier_passes(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    data: bytes | str,
    signer: PassSigner,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
    serial_source: Callable[[], bytes] = new_serial,
) -> BulkResult:
    """Issue one signed pass per line of a supplier CSV, all or nothing (BulkIssueError lists every
    bad line and field; the quota delegated by the authority is checked before anything is issued).
    Passes are valid from the event's start to its end, for its purpose 'event supplier'."""
    event = await get_or_raise(session, Event, event_id)
    await _check_own_authority(session, event)
    # The approval row is locked until this transaction ends, so parallel uploads count the passes
    # one after the other (SQLite: BEGIN IMMEDIATE already serialises writers).
    approval = await _locked_approval(session, event_id)
    if approval.status != "approved":
        raise TransitionError("l'événement doit être approuvé par l'autorité avant d'émettre des laissez-passer",
                              code="event_not_approved")
    zones = {zone.code: zone for zone, _t, _s in await event_zones(session, event_id)}
    lines, problems = read_supplier_csv(data, zones)
    if problems:
        raise BulkIssueError(problems)
    if not lines:
        raise BulkIssueError([LineProblem(1, "fichier", "aucune ligne à traiter")])
    used = await passes_issued(session, event_id)
    left = approval.pass_quota - used
    if len(lines) > left:
        raise BulkIssueError([LineProblem(
            lines[max(left, 0)].line, "quota",
            f"quota dépassé : {len(lines)} laissez-passer demandés, {max(left, 0)} restant(s) sur "
            f"{approval.pass_quota} délégués par l'autorité")])
    authority = await get_or_raise(session, Organisation, approval.authority_id)
    now = clock.now()
    result = BulkResult(lines=lines)
    for line in lines:
        row = await _issue(session, event=event, authority=authority, line=line, signer=signer, at=now,
                           actor_id=actor_id, serial_source=serial_source)
        line.serial, line.pass_id = row.serial, row.id
        result.passes.append(row)
    await record_change(session, actor_id=actor_id, entity="event", entity_id=event.id, action="bulk_issue", at=now,
                        after={"passes": len(result.passes), "quota": approval.pass_quota, "used": used + len(lines)})
    return result


async def _issue(session: AsyncSession, *, event: Event, authority: Organisation, line: BulkLine,
                 signer: PassSigner, at: datetime, actor_id: uuid.UUID | None,
                 serial_source: Callable[[], bytes]) -> AccessPass:
    serial = b""
    row: AccessPass | None = None
    for _attempt in range(SERIAL_ATTEMPTS):
        serial = serial_source()
        hex_serial = serial_hex(serial)
        taken = (await session.exec(select(AccessPass.id).where(col(AccessPass.serial) == hex_serial))).first()
        if taken is None:
            row = AccessPass(
                serial=hex_serial, authority_id=authority.id, plate=line.plate, purpose=int(Purpose.EVENT_SUPPLIER),
                not_before=event.starts_at, expires_at=event.ends_at,
                windows=[window_to_json(w) for w in line.windows], zone_refs=[z.ref for z in line.zones],
                status=PassStatus.ACTIVE.value, issued_at=at, issued_by_id=actor_id, updated_at=at,
            )
            break
    if row is None:
        raise DomainError("impossible d'attribuer un numéro de laissez-passer unique", code="serial_exhausted")
    signed = signer.sign(claims_input=ClaimsInput(
        issuer=authority.code, serial=serial, issued_at=at, not_before=event.starts_at, expires_at=event.ends_at,
        plate=line.plate, zone_refs=tuple(z.ref for z in line.zones), purpose=Purpose.EVENT_SUPPLIER,
        windows=tuple(line.windows), zone_data_version=max(z.data_version for z in line.zones),
    ))
    row.signed_text, row.kid = signed.text, signed.kid
    session.add(row)
    await session.flush()
    for zone in line.zones:
        session.add(PassZone(pass_id=row.id, zone_id=zone.id))
    session.add(EventPass(pass_id=row.id, event_id=event.id, company=line.company, line=line.line))
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="pass", entity_id=row.id, action="issue", at=at,
                        after={"serial": row.serial, "plate": row.plate, "zones": row.zone_refs,
                               "event_id": event.id, "company": line.company})
    return row


# ---- switching temporary zones ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SwitchResult:
    """What a switching run changed, and the next boundary to come (for an exact wake-up)."""

    switched_on: tuple[str, ...] = ()
    switched_off: tuple[str, ...] = ()
    next_boundary: datetime | None = None

    @property
    def rows(self) -> int:
        """Zones whose status changed."""
        return len(self.switched_on) + len(self.switched_off)


async def switch_temporary_zones(session: AsyncSession, *, clock: Clock) -> SwitchResult:
    """Switch temporary zones on at the start of a schedule row and off at its end (end exclusive).

    A zone in force becomes active; out of force it is suspended, or archived when it is temporary
    and nothing is scheduled any more. Zones not yet approved (`auto_switch` false) are left alone.
    Idempotent: a second run at the same time changes nothing.
    """
    now = clock.now()
    zones = (await session.exec(
        select(Zone).join(TemporaryZone, col(TemporaryZone.zone_id) == Zone.id)
        .where(col(TemporaryZone.auto_switch).is_(True),
               col(Zone.status).in_((ZoneStatus.DRAFT.value, ZoneStatus.ACTIVE.value, ZoneStatus.SUSPENDED.value)))
        .order_by(col(Zone.ref))
    )).all()
    if not zones:
        return SwitchResult()
    ids = [z.id for z in zones]
    schedules = (await session.exec(select(ZoneSchedule).where(col(ZoneSchedule.zone_id).in_(ids)))).all()
    by_zone: dict[uuid.UUID, list[ZoneSchedule]] = {}
    boundaries: list[datetime] = []
    for s in schedules:
        by_zone.setdefault(s.zone_id, []).append(s)
        boundaries += [b for b in (s.starts_at, s.ends_at) if b is not None and b > now]
    on: list[str] = []
    off: list[str] = []
    for zone in zones:
        rows = by_zone.get(zone.id, [])
        if not rows:
            continue
        in_force = any(s.starts_at <= now and (s.ends_at is None or now < s.ends_at) for s in rows)
        future = any(s.starts_at > now for s in rows)
        target: ZoneStatus | None = None
        if in_force and zone.status != ZoneStatus.ACTIVE:
            target = ZoneStatus.ACTIVE
        elif not in_force and zone.status == ZoneStatus.ACTIVE:
            target = ZoneStatus.SUSPENDED if future or zone.permanent else ZoneStatus.ARCHIVED
        elif not in_force and zone.status == ZoneStatus.SUSPENDED and not future and not zone.permanent:
            target = ZoneStatus.ARCHIVED
        if target is None:
            continue
        check_zone_transition(zone.status, target.value)
        await change_zone_status(session, zone_id=zone.id, status=target.value, clock=clock)
        (on if target is ZoneStatus.ACTIVE else off).append(zone.code)
    return SwitchResult(tuple(on), tuple(off), min(boundaries) if boundaries else None)


async def replace_schedule(session: AsyncSession, *, zone_id: uuid.UUID, source: str, source_ref: str,
                           periods: Sequence[tuple[datetime, datetime | None]], clock: Clock) -> bool:
    """Make the zone's schedule rows from (source, source_ref) exactly `periods`; True if it changed."""
    existing = (await session.exec(select(ZoneSchedule).where(
        col(ZoneSchedule.zone_id) == zone_id, col(ZoneSchedule.source) == source,
        col(ZoneSchedule.source_ref) == source_ref))).all()
    have = {(s.starts_at, s.ends_at): s for s in existing}
    want = set(dict.fromkeys(periods))
    if set(have) == want:
        return False
    stale = [s.id for key, s in have.items() if key not in want]
    if stale:
        await session.exec(delete(ZoneSchedule).where(col(ZoneSchedule.id).in_(stale)))  # type: ignore[call-overload]
    now = clock.now()
    for start, end in sorted(want - set(have), key=lambda p: p[0]):
        session.add(ZoneSchedule(zone_id=zone_id, starts_at=start, ends_at=end, source=source,
                                 source_ref=source_ref, created_at=now))
    await session.flush()
    return True


# ---- incident closures --------------------------------------------------------------------------


async def close_zone(
    session: AsyncSession,
    *,
    zone_id: uuid.UUID,
    authority_id: uuid.UUID,
    ends_at: datetime,
    reason: str,
    clock: Clock,
    starts_at: datetime | None = None,
    actor_id: uuid.UUID | None = None,
) -> ZoneClosure:
    """Publish an incident message: the zone is closed from `starts_at` (default now) until
    `ends_at`; the next trust bundle carries it, so agents refuse passes with ZONE_CLOSED."""
    zone = await get_or_raise(session, Zone, zone_id)
    if zone.authority_id != authority_id:
        raise DomainError("cette zone ne relève pas de l'autorité", code="zone_of_other_authority")
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("un motif est obligatoire pour fermer une zone")
    if len(reason) > MAX_CLOSURE_REASON:
        raise DomainError(f"motif trop long ({len(reason)} caractères, {MAX_CLOSURE_REASON} au plus)",
                          code="reason_too_long")
    now = clock.now()
    start = starts_at or now
    if ends_at.tzinfo is None or start.tzinfo is None:
        raise DomainError("dates sans fuseau horaire", code="naive_time")
    if ends_at <= max(start, now):
        raise DomainError("la fin de la fermeture doit être dans le futur et suivre son début",
                          code="closure_period")
    closure = ZoneClosure(zone_id=zone.id, authority_id=authority_id, starts_at=start, ends_at=ends_at,
                          reason=reason, created_by_id=actor_id, created_at=now)
    session.add(closure)
    zone.data_version += 1
    zone.updated_at = now
    session.add(zone)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="close", at=now,
                        after={"closure": str(closure.id), "starts_at": start, "ends_at": ends_at, "reason": reason})
    return closure


async def lift_closure(session: AsyncSession, *, closure_id: uuid.UUID, authority_id: uuid.UUID, clock: Clock,
                       actor_id: uuid.UUID | None = None) -> ZoneClosure:
    """End a closure now (the next bundle no longer carries it)."""
    closure = await get_or_raise(session, ZoneClosure, closure_id)
    if closure.authority_id != authority_id:
        raise DomainError("cette fermeture ne relève pas de l'autorité", code="closure_of_other_authority")
    now = clock.now()
    if closure.lifted_at is not None or closure.ends_at <= now:
        raise TransitionError("cette fermeture est déjà terminée", code="closure_over")
    closure.lifted_at = now
    if closure.starts_at >= now:
        closure.ends_at = closure.starts_at + timedelta(seconds=1)  # never began: keep the CHECK true
    else:
        closure.ends_at = now
    session.add(closure)
    zone = await get_or_raise(session, Zone, closure.zone_id)
    zone.data_version += 1
    zone.updated_at = now
    session.add(zone)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="reopen", at=now,
                        after={"closure": str(closure.id)})
    return closure


async def closure_pass_holders(session: AsyncSession, closure: ZoneClosure) -> list[AccessPass]:
    """Active passes for the closed zone that are valid at some time during the closure."""
    return list((await session.exec(
        select(AccessPass).join(PassZone, col(PassZone.pass_id) == AccessPass.id)
        .where(col(PassZone.zone_id) == closure.zone_id, col(AccessPass.status) == PassStatus.ACTIVE.value,
               col(AccessPass.expires_at) > closure.starts_at, col(AccessPass.not_before) < closure.ends_at)
        .order_by(col(AccessPass.serial))
    )).all())


async def notify_closure(session: AsyncSession, closure: ZoneClosure, *, settings: Any, mailer: Any = None) -> int:
    """Mail the holders of passes for the closed zone (after the commit); returns the number of
    messages queued. Organisers' supplier passes have no known address and are not mailed."""
    from cirqliz.issuance.mail import Mailer, _pass_recipients  # the mailer's own recipient rules

    mailer = mailer or Mailer.for_settings(settings)
    zone = await get_or_raise(session, Zone, closure.zone_id)
    addresses: dict[str, list[AccessPass]] = {}
    for row in await closure_pass_holders(session, closure):
        for address in await _pass_recipients(session, row):
            addresses.setdefault(address, []).append(row)
    for address, rows in sorted(addresses.items()):
        mailer.send_after_commit(session, mailer.compose("zone_closed", to=address, zone=zone, closure=closure,
                                                         passes=rows))
    closure.notified = len(addresses)
    session.add(closure)
    await session.flush()
    return len(addresses)
