"""What the professional area reads and changes, always scoped to one organisation.

Every lookup by id takes the organisation: a row of another organisation is reported as
NotFound, exactly like a row that does not exist (nobody learns which ids exist elsewhere).
Like the other services, nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, any_, func, or_
from sqlalchemy.orm import load_only
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import (
    AccessPass,
    AccessRule,
    Application,
    ApplicationVehicle,
    ApplicationZone,
    AuditRecord,
    Organisation,
    PassZone,
    Revocation,
    SupportingDocument,
    UserAccount,
    Vehicle,
    Zone,
    window_from_json,
)
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.vehicles import vehicle_profile
from cirqliz.domain.zones import ZoneStatus
from cirqliz.issuance.applications import create_application
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.authority_queries import PAGE_SIZE, Page, page_offset
from cirqliz.issuance.mail import plate_display
from cirqliz.issuance.vehicles import VEHICLE_FIELDS, register_vehicle

# ---- scoped lookups -------------------------------------------------------------------------


def _not_found(label: str, row_id: uuid.UUID) -> NotFound:
    return NotFound(f"{label} introuvable : {row_id}", code="not_found")


async def scoped_vehicle(session: AsyncSession, organisation_id: uuid.UUID, vehicle_id: uuid.UUID) -> Vehicle:
    """The organisation's vehicle with this id, or NotFound."""
    row = await session.get(Vehicle, vehicle_id)
    if row is None or row.organisation_id != organisation_id:
        raise _not_found("véhicule", vehicle_id)
    return row


async def scoped_application(
    session: AsyncSession, organisation_id: uuid.UUID, application_id: uuid.UUID
) -> Application:
    """The organisation's application with this id, or NotFound."""
    row = await session.get(Application, application_id)
    if row is None or row.organisation_id != organisation_id:
        raise _not_found("demande", application_id)
    return row


def _pass_of_organisation(organisation_id: uuid.UUID) -> Any:
    """Condition: the pass was issued on one of the organisation's applications or vehicles."""
    return or_(
        col(AccessPass.application_id).in_(
            select(Application.id).where(col(Application.organisation_id) == organisation_id)),
        col(AccessPass.vehicle_id).in_(
            select(Vehicle.id).where(col(Vehicle.organisation_id) == organisation_id)),
    )


async def scoped_pass(session: AsyncSession, organisation_id: uuid.UUID, pass_id: uuid.UUID) -> AccessPass:
    """The organisation's pass with this id, or NotFound."""
    row = (await session.exec(
        select(AccessPass).where(col(AccessPass.id) == pass_id, _pass_of_organisation(organisation_id))
    )).first()
    if row is None:
        raise _not_found("laissez-passer", pass_id)
    return row


async def scoped_document(
    session: AsyncSession, organisation_id: uuid.UUID, document_id: uuid.UUID
) -> SupportingDocument:
    """A supporting document of one of the organisation's applications, or NotFound."""
    row = (await session.exec(
        select(SupportingDocument)
        .join(Application, col(Application.id) == SupportingDocument.application_id)
        .where(col(SupportingDocument.id) == document_id, col(Application.organisation_id) == organisation_id)
    )).first()
    if row is None:
        raise _not_found("justificatif", document_id)
    return row


# ---- lists ----------------------------------------------------------------------------------


async def fleet(session: AsyncSession, organisation_id: uuid.UUID) -> list[Vehicle]:
    """The organisation's vehicles, by plate (for the application form's choices)."""
    return list((await session.exec(
        select(Vehicle).where(col(Vehicle.organisation_id) == organisation_id).order_by(col(Vehicle.plate))
    )).all())


async def fleet_page(
    session: AsyncSession, organisation_id: uuid.UUID, *, number: int = 1, limit: int = PAGE_SIZE
) -> Page:
    """One page of the organisation's vehicles, by plate (two statements whatever the fleet's size)."""
    where = col(Vehicle.organisation_id) == organisation_id
    total = int((await session.exec(select(func.count()).select_from(Vehicle).where(where))).one())
    offset = page_offset(number, total, limit)
    rows = (await session.exec(
        select(Vehicle).where(where).order_by(col(Vehicle.plate), col(Vehicle.id)).offset(offset).limit(limit)
    )).all()
    return Page(list(rows), total, offset, limit)


async def organisation_applications(
    session: AsyncSession, organisation_id: uuid.UUID, *, status: str | None = None, limit: int | None = None
) -> list[Application]:
    """The organisation's applications, newest first (optionally of one status)."""
    statement = select(Application).where(col(Application.organisation_id) == organisation_id)
    if status:
        statement = statement.where(col(Application.status) == status)
    statement = statement.order_by(col(Application.created_at).desc(), col(Application.id))
    if limit:
        statement = statement.limit(limit)
    return list((await session.exec(statement)).all())


async def applications_page(
    session: AsyncSession, organisation_id: uuid.UUID, *, status: str | None = None, number: int = 1,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of the organisation's applications, newest first (optionally of one status)."""
    where: list[Any] = [col(Application.organisation_id) == organisation_id]
    if status:
        where.append(col(Application.status) == status)
    total = int((await session.exec(select(func.count()).select_from(Application).where(*where))).one())
    offset = page_offset(number, total, limit)
    rows = (await session.exec(
        select(Application).where(*where).order_by(col(Application.created_at).desc(), col(Application.id))
        .offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit)


def _passes_of_organisation(session: AsyncSession, organisation_id: uuid.UUID) -> Any:
    """Condition: the pass was issued on one of the organisation's applications or vehicles.

    On PostgreSQL each side is `= ANY(array of the organisation's ids)`: one bitmap scan of each
    index of access_pass (application_id, vehicle_id), reading only the organisation's passes,
    where `IN (subquery) OR IN (subquery)` reads every pass of every company."""
    if session.get_bind().dialect.name != "postgresql":
        return _pass_of_organisation(organisation_id)
    applications = select(Application.id).where(col(Application.organisation_id) == organisation_id)
    vehicles = select(Vehicle.id).where(col(Vehicle.organisation_id) == organisation_id)
    # ARRAY(subquery): an array value (one InitPlan), not a subquery that ANY would turn into a join.
    return or_(col(AccessPass.application_id) == any_(func.array(applications.scalar_subquery())),
               col(AccessPass.vehicle_id) == any_(func.array(vehicles.scalar_subquery())))


def pass_state_condition(status: str, now: datetime) -> Any:
    """SQL for "the pass stands in `status` now" (an active or suspended pass past its end is expired)."""
    live = (PassStatus.ACTIVE.value, PassStatus.SUSPENDED.value)
    if status == PassStatus.EXPIRED.value:
        return or_(col(AccessPass.status) == status,
                   and_(col(AccessPass.status).in_(live), col(AccessPass.expires_at) <= now))
    if status in live:
        return and_(col(AccessPass.status) == status, col(AccessPass.expires_at) > now)
    return col(AccessPass.status) == status


async def organisation_passes(
    session: AsyncSession, organisation_id: uuid.UUID, *, status: str | None = None,
    application_id: uuid.UUID | None = None,
) -> list[AccessPass]:
    """The organisation's passes, newest first (optionally of one status, or of one application)."""
    statement = select(AccessPass).where(_pass_of_organisation(organisation_id))
    if status:
        statement = statement.where(col(AccessPass.status) == status)
    if application_id is not None:
        statement = statement.where(col(AccessPass.application_id) == application_id)
    statement = statement.order_by(col(AccessPass.issued_at).desc(), col(AccessPass.serial))
    return list((await session.exec(statement)).all())


async def passes_page(
    session: AsyncSession, organisation_id: uuid.UUID, *, now: datetime, state: str | None = None,
    number: int = 1, limit: int = PAGE_SIZE,
) -> Page:
    """One page of the organisation's passes, newest first, optionally of one state as it stands
    `now` (see pass_state_condition)."""
    where: list[Any] = [_passes_of_organisation(session, organisation_id)]
    if state:
        where.append(pass_state_condition(state, now))
    # The page and the count in one statement (a window count): finding the organisation's passes
    # is what grows with them, so it is done once. Only a page past the end needs a second look.
    newest = (col(AccessPass.issued_at).desc(), col(AccessPass.serial))
    offset = page_offset(number, number * limit, limit)
    found = (await session.exec(select(AccessPass, func.count().over()).where(*where).order_by(*newest)
                                .offset(offset).limit(limit))).all()
    if found:
        return Page([row for row, _total in found], int(found[0][1]), offset, limit)
    total = int((await session.exec(select(func.count()).select_from(AccessPass).where(*where))).one())
    if total == 0:
        return Page([], 0, 0, limit)
    offset = page_offset(number, total, limit)  # before `offset` tried above: the last page
    rows = (await session.exec(select(AccessPass).where(*where).order_by(*newest).offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit)


async def passes_zones(session: AsyncSession, pass_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Zone]]:
    """The zones of several passes, by ref, in one statement (code and ref only: no geometry)."""
    found: dict[uuid.UUID, list[Zone]] = {p: [] for p in pass_ids}
    if found:
        rows = (await session.exec(
            select(PassZone.pass_id, Zone).join(Zone, col(Zone.id) == PassZone.zone_id)
            .where(col(PassZone.pass_id).in_(list(found)))
            .options(load_only(Zone.id, Zone.code, Zone.ref, Zone.name))  # type: ignore[arg-type]
            .order_by(col(Zone.ref)))).all()
        for pass_id, zone in rows:
            found[pass_id].append(zone)
    return found


async def pass_status_reason(session: AsyncSession, row: AccessPass) -> str | None:
    """Why a pass is revoked or suspended, as the authority wrote it (None for other statuses)."""
    if row.status == PassStatus.REVOKED.value:
        return (await session.exec(select(Revocation.reason).where(col(Revocation.pass_id) == row.id))).first()
    if row.status == PassStatus.SUSPENDED.value:
        record = (await session.exec(
            select(AuditRecord).where(col(AuditRecord.entity) == "pass", col(AuditRecord.entity_id) == str(row.id),
                                      col(AuditRecord.action) == PassStatus.SUSPENDED.value)
            .order_by(col(AuditRecord.at).desc(), col(AuditRecord.seq).desc()).limit(1)
        )).first()
        return (record.after or {}).get("reason") if record is not None else None
    return None


async def application_documents(session: AsyncSession, application_id: uuid.UUID) -> list[SupportingDocument]:
    """Documents attached to an application, oldest first."""
    return list((await session.exec(
        select(SupportingDocument).where(col(SupportingDocument.application_id) == application_id)
        .order_by(col(SupportingDocument.uploaded_at), col(SupportingDocument.filename))
    )).all())


async def pass_zones(session: AsyncSession, pass_id: uuid.UUID) -> list[Zone]:
    """The zones a pass opens, by ref."""
    return list((await session.exec(
        select(Zone).join(PassZone, col(PassZone.zone_id) == Zone.id)
        .where(col(PassZone.pass_id) == pass_id).order_by(col(Zone.ref))
    )).all())


async def applications_plates(
    session: AsyncSession, application_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Plates of the vehicles of several applications, by plate (one statement, for lists)."""
    found: dict[uuid.UUID, list[str]] = {i: [] for i in application_ids}
    if found:
        for app_id, plate in (await session.exec(
                select(ApplicationVehicle.application_id, Vehicle.plate)
                .join(Vehicle, col(Vehicle.id) == ApplicationVehicle.vehicle_id)
                .where(col(ApplicationVehicle.application_id).in_(list(found))).order_by(col(Vehicle.plate)))).all():
            found[app_id].append(plate)
    return found


async def applications_zone_codes(
    session: AsyncSession, application_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Zone codes of several applications, by zone ref (one statement, for lists)."""
    found: dict[uuid.UUID, list[str]] = {i: [] for i in application_ids}
    if found:
        for app_id, code in (await session.exec(
                select(ApplicationZone.application_id, Zone.code)
                .join(Zone, col(Zone.id) == ApplicationZone.zone_id)
                .where(col(ApplicationZone.application_id).in_(list(found))).order_by(col(Zone.ref)))).all():
            found[app_id].append(code)
    return found


async def display_names(session: AsyncSession, user_ids: Sequence[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of users (for timelines)."""
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    rows = await session.exec(select(UserAccount).where(col(UserAccount.id).in_(wanted)))
    return {u.id: u.display_name for u in rows.all()}


async def organisation_names(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names of organisations (authorities on passes)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.exec(select(Organisation).where(col(Organisation.id).in_(wanted)))
    return {o.id: o.name for o in rows.all()}


@dataclass(frozen=True)
class ZoneChoice:
    """An active zone a professional may apply for, with its hours and shape."""

    zone: Zone
    authority_name: str
    windows: tuple[Any, ...]
    any_time: bool
    max_crit_air: int | None
    max_pass_days: int | None


async def zones_open_to_applications(session: AsyncSession) -> list[ZoneChoice]:
    """Every active zone, by authority then ref, with the hours of its access rules."""
    rows = (await session.exec(
        select(Zone, Organisation).join(Organisation, col(Organisation.id) == Zone.authority_id)
        .where(col(Zone.status) == ZoneStatus.ACTIVE.value)
        .order_by(col(Organisation.name), col(Zone.ref))
    )).all()
    choices = []
    for zone, authority in rows:
        rules = (await session.exec(
            select(AccessRule).where(col(AccessRule.zone_id) == zone.id).order_by(col(AccessRule.position))
        )).all()
        windows = tuple(dict.fromkeys(window_from_json(w) for r in rules for w in (r.windows or [])))
        limits = [r.max_crit_air for r in rules]
        days = [r.max_pass_days for r in rules]
        choices.append(ZoneChoice(
            zone=zone, authority_name=authority.name, windows=windows,
            any_time=bool(rules) and any(not r.windows and r.windows is not None for r in rules),
            max_crit_air=None if not limits or None in limits else max(x for x in limits if x is not None),
            max_pass_days=None if not days or None in days else max(x for x in days if x is not None),
        ))
    return choices


async def zone_windows(session: AsyncSession, zone_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, ...]]:
    """The hours of the access rules of some zones (what a pass without its own hours follows)."""
    out: dict[uuid.UUID, tuple[Any, ...]] = {}
    for zone_id in zone_ids:
        rules = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone_id))).all()
        out[zone_id] = tuple(dict.fromkeys(window_from_json(w) for r in rules for w in (r.windows or [])))
    return out


# ---- dashboard ------------------------------------------------------------------------------


@dataclass
class DashboardCounts:
    """The figures on the professional's home page."""

    vehicles: int = 0
    applications: dict[str, int] = field(default_factory=dict)
    active_passes: int = 0
    expiring_soon: int = 0


async def dashboard_counts(
    session: AsyncSession, organisation_id: uuid.UUID, *, now: datetime, soon: timedelta = timedelta(days=30)
) -> DashboardCounts:
    """Vehicles, applications by status, valid passes and passes ending within `soon`."""
    counts = DashboardCounts()
    counts.vehicles = (await session.exec(
        select(func.count()).select_from(Vehicle).where(col(Vehicle.organisation_id) == organisation_id)
    )).one()
    rows = await session.exec(
        select(Application.status, func.count()).where(col(Application.organisation_id) == organisation_id)
        .group_by(col(Application.status))
    )
    counts.applications = {status: n for status, n in rows.all()}
    valid = select(func.count()).select_from(AccessPass).where(
        _pass_of_organisation(organisation_id), col(AccessPass.status) == PassStatus.ACTIVE.value,
        col(AccessPass.expires_at) > now,
    )
    counts.active_passes = (await session.exec(valid)).one()
    counts.expiring_soon = (await session.exec(valid.where(col(AccessPass.expires_at) <= now + soon))).one()
    return counts


# ---- vehicles -------------------------------------------------------------------------------


async def plate_taken(
    session: AsyncSession, organisation_id: uuid.UUID, plate: str, *, except_id: uuid.UUID | None = None
) -> bool:
    """Whether the organisation already has a vehicle with this normalised plate."""
    statement = select(Vehicle.id).where(col(Vehicle.organisation_id) == organisation_id,
                                         col(Vehicle.plate) == plate)
    if except_id is not None:
        statement = statement.where(col(Vehicle.id) != except_id)
    return (await session.exec(statement)).first() is not None


def _duplicate(plate: str) -> DomainError:
    shown = plate_display(plate)  # as people write it: AB-123-CD
    return DomainError(f"le véhicule {shown} est déjà enregistré dans votre flotte", code="duplicate_plate")


async def add_vehicle(
    session: AsyncSession, *, organisation_id: uuid.UUID, actor_id: uuid.UUID, clock: Clock, **fields: Any
) -> Vehicle:
    """register_vehicle, with a clear message when the plate is already in the fleet."""
    profile = vehicle_profile(**fields)
    if await plate_taken(session, organisation_id, profile.plate):
        raise _duplicate(profile.plate)
    return await register_vehicle(session, organisation_id=organisation_id, actor_id=actor_id, clock=clock,
                                  **fields)


async def update_vehicle(
    session: AsyncSession,
    *,
    vehicle: Vehicle,
    actor_id: uuid.UUID,
    clock: Clock,
    plate: str,
    category: str,
    crit_air: str | int | None,
    energy: str,
    gross_weight_kg: int | None = None,
    length_cm: int | None = None,
) -> Vehicle:
    """Change a vehicle's fields (checked like a new vehicle); passes already issued keep theirs."""
    profile = vehicle_profile(plate=plate, category=category, crit_air=crit_air, energy=energy,
                              gross_weight_kg=gross_weight_kg, length_cm=length_cm)
    if await plate_taken(session, vehicle.organisation_id, profile.plate, except_id=vehicle.id):
        raise _duplicate(profile.plate)
    before = snapshot(vehicle, *VEHICLE_FIELDS)
    vehicle.plate = profile.plate
    vehicle.category = profile.category.value
    vehicle.crit_air = None if profile.crit_air is None else int(profile.crit_air)
    vehicle.energy = profile.energy.value
    vehicle.gross_weight_kg = profile.gross_weight_kg
    vehicle.length_cm = profile.length_cm
    session.add(vehicle)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="vehicle", entity_id=vehicle.id, action="update",
                        at=clock.now(), before=before, after=snapshot(vehicle, *VEHICLE_FIELDS))
    return vehicle


# ---- fleet CSV ------------------------------------------------------------------------------

FLEET_COLUMNS = ("plaque", "categorie", "critair", "energie", "poids_kg", "longueur_cm")
FLEET_REQUIRED = ("plaque", "categorie")
MAX_FLEET_LINES = 5000


@dataclass(frozen=True)
class FleetProblem:
    """One thing wrong in a fleet file: line number (1 = header), column, French message."""

    line: int
    column: str
    message: str


@dataclass(frozen=True)
class FleetLine:
    """One vehicle read from a fleet file."""

    line: int
    fields: dict[str, Any]


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 (what spreadsheet software writes)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _int_field(raw: str, column: str, line: int, problems: list[FleetProblem]) -> int | None:
    text = raw.strip().replace(" ", "").replace("\u00a0", "")
    if not text:
        return None
    if not text.isdecimal():  # isdigit() also accepts "²", which int() refuses
        problems.append(FleetProblem(line, column, f"nombre entier attendu, lu {raw.strip()!r}"))
        return None
    return int(text)


def parse_fleet_csv(
    content: bytes, *, energies: dict[str, str] | None = None
) -> tuple[list[FleetLine], list[FleetProblem]]:
    """Read a fleet file (header plaque;categorie;critair;energie;poids_kg;longueur_cm, `;` or `,`).

    Every line is checked like a vehicle typed in the form; the problems name line and column.
    `energies` maps extra spellings (e.g. French labels) to energy codes.
    """
    text = decode_text(content)
    if not text.strip():
        return [], [FleetProblem(1, "", "fichier vide")]
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    try:
        return _read_fleet_rows(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), energies)
    except csv.Error as exc:
        return [], [FleetProblem(1, "", f"fichier CSV illisible : {exc}")]


def _read_fleet_rows(
    rows: list[list[str]], energies: dict[str, str] | None
) -> tuple[list[FleetLine], list[FleetProblem]]:
    reader = iter(rows)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in FLEET_REQUIRED if c not in header]
    unknown = [h for h in header if h and h not in FLEET_COLUMNS]
    problems: list[FleetProblem] = []
    if missing:
        problems.append(FleetProblem(1, ", ".join(missing), "colonne obligatoire absente de l'en-tête "
                                     f"(attendu : {';'.join(FLEET_COLUMNS)})"))
    if unknown:
        problems.append(FleetProblem(1, ", ".join(unknown), "colonne inconnue"))
    if problems:
        return [], problems
    lines: list[FleetLine] = []
    seen: dict[str, int] = {}
    spellings = {k.lower(): v for k, v in (energies or {}).items()}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(lines) >= MAX_FLEET_LINES:
            problems.append(FleetProblem(number, "", f"au plus {MAX_FLEET_LINES} véhicules par fichier"))
            break
        if len(row) > len(header):
            problems.append(FleetProblem(number, "", f"{len(row)} colonnes pour {len(header)} dans l'en-tête"))
            continue
        values = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        before = len(problems)
        weight = _int_field(values.get("poids_kg", ""), "poids_kg", number, problems)
        length = _int_field(values.get("longueur_cm", ""), "longueur_cm", number, problems)
        energy_raw = values.get("energie", "").strip()
        energy = spellings.get(energy_raw.lower(), energy_raw.lower()) or "other"
        fields = {"plate": values.get("plaque", ""), "category": category_code(values.get("categorie", "")),
                  "crit_air": values.get("critair", "") or None, "energy": energy,
                  "gross_weight_kg": weight, "length_cm": length}
        if len(problems) > before:
            continue
        try:
            profile = vehicle_profile(**fields)
        except DomainError as exc:
            problems.append(FleetProblem(number, _column_of(exc.code), exc.message))
            continue
        if profile.plate in seen:
            problems.append(FleetProblem(number, "plaque",
                                         f"{profile.plate} figure déjà à la ligne {seen[profile.plate]}"))
            continue
        seen[profile.plate] = number
        lines.append(FleetLine(number, fields | {"plate": profile.plate}))
    if not lines and not problems:
        problems.append(FleetProblem(2, "", "aucun véhicule dans le fichier"))
    return lines, problems


def category_code(raw: str) -> str:
    """'n1' -> 'N1', 'l3e' -> 'L3e' (the spelling of VehicleCategory)."""
    text = raw.strip().upper()
    return text[:-1] + "e" if text.startswith("L") and text.endswith("E") else text


def _column_of(code: str) -> str:
    if "plate" in code:
        return "plaque"
    if "category" in code:
        return "categorie"
    if "crit_air" in code:
        return "critair"
    if "energy" in code:
        return "energie"
    return "poids_kg / longueur_cm"


async def import_fleet(
    session: AsyncSession, *, organisation_id: uuid.UUID, lines: Sequence[FleetLine], actor_id: uuid.UUID,
    clock: Clock,
) -> tuple[list[Vehicle], list[FleetProblem]]:
    """Register every line, or nothing: returns the problems (plates already in the fleet) and
    stores nothing when there are any. Run it inside a savepoint so a late failure undoes all."""
    problems = [FleetProblem(line.line, "plaque", f"le véhicule {line.fields['plate']} est déjà enregistré "
                             "dans votre flotte")
                for line in lines if await plate_taken(session, organisation_id, line.fields["plate"])]
    if problems:
        return [], problems
    vehicles = [await register_vehicle(session, organisation_id=organisation_id, actor_id=actor_id, clock=clock,
                                       **line.fields) for line in lines]
    return vehicles, []


# ---- renewal --------------------------------------------------------------------------------


async def renewal_draft(
    session: AsyncSession, *, organisation_id: uuid.UUID, access_pass: AccessPass, actor_id: uuid.UUID,
    clock: Clock,
) -> Application:
    """A draft application for the same vehicle, zones, purpose and hours as a pass, starting
    when the pass ends and lasting as long (at the earliest now, if the pass has already ended)."""
    duration = access_pass.expires_at - access_pass.not_before
    start = max(access_pass.expires_at, clock.now())
    zones = await pass_zones(session, access_pass.id)
    if access_pass.vehicle_id is None:
        raise DomainError("ce laissez-passer n'est lié à aucun véhicule de votre flotte", code="no_vehicle")
    vehicle = await scoped_vehicle(session, organisation_id, access_pass.vehicle_id)
    comment = None
    if access_pass.application_id is not None:
        previous = await session.get(Application, access_pass.application_id)
        comment = previous.comment if previous is not None else None
    return await create_application(
        session, organisation_id=organisation_id, applicant_id=actor_id, zone_ids=[z.id for z in zones],
        vehicle_ids=[vehicle.id], purpose=access_pass.purpose, not_before=start, expires_at=start + duration,
        clock=clock, windows=[window_from_json(w) for w in access_pass.windows],
        comment=(f"Renouvellement du laissez-passer {access_pass.serial}." + (f"\n{comment}" if comment else "")),
    )
