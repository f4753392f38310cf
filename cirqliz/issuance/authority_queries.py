"""Read queries of the authority back office, each scoped to one authority, and zone edits.

Lists are paged (`offset`, `limit`) and return the total count with the rows; rows of other
authorities are never returned (`scoped` raises NotFound for them, as for a missing row).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Uuid, case, cast, func, or_
from sqlalchemy.orm import aliased, load_only
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import (
    AccessPass,
    AccessRule,
    Application,
    ApplicationVehicle,
    ApplicationZone,
    AuditRecord,
    Membership,
    Organisation,
    PassCheck,
    PassZone,
    Revocation,
    SupportingDocument,
    UserAccount,
    Vehicle,
    Zone,
)
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.errors import NotFound
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.zones import ZoneKind, check_time_zone, check_zone_dates
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.lookup import get_or_raise

T = TypeVar("T", bound=SQLModel)


PAGE_SIZE = 50
COUNT_CAP = 1000  # a list whose count would scan more says "plus de" instead (see capped_count)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its rows and how many rows match in total (`capped`: at least `total`)."""

    rows: list[Any]
    total: int
    offset: int
    limit: int
    capped: bool = False

    @property
    def has_next(self) -> bool:
        """Whether another page follows."""
        return self.offset + self.limit < self.total

    @property
    def number(self) -> int:
        """The page's number, from 1."""
        return self.offset // max(self.limit, 1) + 1

    @property
    def pages(self) -> int:
        """How many pages (at least 1; a lower bound when `capped`)."""
        return max(1, -(-self.total // max(self.limit, 1)))


def _clamp(offset: int, total: int, limit: int) -> int:
    """`offset` brought back to the first row of the last page when past it (never below 0)."""
    return page_offset(max(offset, 0) // max(limit, 1) + 1, total, limit)


def page_offset(number: int, total: int, limit: int = PAGE_SIZE) -> int:
    """The offset of page `number` (from 1), brought back to the last page when past it (and to
    the first when below 1): a stale link to page 60 of a list now 3 pages long shows page 3."""
    last = max(1, -(-total // max(limit, 1)))
    return (min(max(number, 1), last) - 1) * limit


async def capped_count(session: AsyncSession, statement: Any, cap: int) -> tuple[int, bool]:
    """How many rows `statement` (a SELECT) gives, reading at most `cap` + 1 of them: (count,
    whether there are more than `cap`). Constant cost where a full count would grow with the table."""
    limited = statement.limit(cap + 1).subquery()
    found = int((await session.exec(select(func.count()).select_from(limited))).one())
    return min(found, cap), found > cap


# ---- scoping ------------------------------------------------------------------------------


async def authority_by_code(session: AsyncSession, code: str) -> Organisation:
    """The authority with this code (NotFound for unknown codes and non-authorities)."""
    row = (await session.exec(select(Organisation).where(
        col(Organisation.code) == code.strip().lower(),
        col(Organisation.kind) == OrganisationKind.AUTHORITY.value,
    ))).first()
    if row is None:
        raise NotFound(f"autorité introuvable : {code}", code="authority_not_found")
    return row


async def scoped(session: AsyncSession, model: type[T], row_id: uuid.UUID, authority_id: uuid.UUID) -> T:
    """A Zone, Application or AccessPass of this authority; NotFound otherwise (no leak)."""
    row = await session.get(model, row_id)
    if row is None or getattr(row, "authority_id", None) != authority_id:
        raise NotFound(f"introuvable : {row_id}", code="not_found")
    return row


async def scoped_document(
    session: AsyncSession, document_id: uuid.UUID, application_id: uuid.UUID, authority_id: uuid.UUID
) -> SupportingDocument:
    """A supporting document of an application of this authority; NotFound otherwise."""
    await scoped(session, Application, application_id, authority_id)
    document = await session.get(SupportingDocument, document_id)
    if document is None or document.application_id != application_id:
        raise NotFound(f"justificatif introuvable : {document_id}", code="document_not_found")
    return document


# ---- dashboard ----------------------------------------------------------------------------


async def _count_by(session: AsyncSession, column: Any, *where: Any) -> dict[str, int]:
    rows = (await session.exec(select(column, func.count()).where(*where).group_by(column))).all()
    return {str(status): int(n) for status, n in rows}


async def application_counts(session: AsyncSession, authority_id: uuid.UUID) -> dict[str, int]:
    """Applications of the authority by status (drafts are the applicants' business: left out)."""
    counts = await _count_by(session, col(Application.status), col(Application.authority_id) == authority_id)
    counts.pop("draft", None)
    return counts


async def pass_counts(session: AsyncSession, authority_id: uuid.UUID) -> dict[str, int]:
    """Passes of the authority by status."""
    return await _count_by(session, col(AccessPass.status), col(AccessPass.authority_id) == authority_id)


async def _status_counts_capped(session: AsyncSession, model: Any, authority_id: uuid.UUID, statuses: list[str],
                                cap: int | None) -> tuple[dict[str, int], set[str]]:
    """Rows of `model` of the authority by status, each count stopping at `cap` (COUNT_CAP by default;
    one statement, each status read along the (authority_id, status…) index): the counts, and the
    statuses with more than `cap`. Constant cost where exact counts grow with the table (issue 18)."""
    cap = COUNT_CAP if cap is None else cap

    def capped(status: str) -> Any:
        rows = (select(col(model.id)).where(col(model.authority_id) == authority_id,
                                            col(model.status) == status).limit(cap + 1).subquery())
        return select(func.count()).select_from(rows).scalar_subquery()

    found = (await session.exec(select(*(capped(s).label(s) for s in statuses)))).one()
    counts = {s: min(int(n), cap) for s, n in zip(statuses, found, strict=True) if n}
    return counts, {s for s, n in zip(statuses, found, strict=True) if n > cap}


async def pass_counts_capped(session: AsyncSession, authority_id: uuid.UUID,
                             cap: int | None = None) -> tuple[dict[str, int], set[str]]:
    """Passes of the authority by status, each count stopping at `cap` (see _status_counts_capped)."""
    return await _status_counts_capped(session, AccessPass, authority_id, [s.value for s in PassStatus], cap)


async def application_counts_capped(session: AsyncSession, authority_id: uuid.UUID,
                                    cap: int | None = None) -> tuple[dict[str, int], set[str]]:
    """Applications of the authority by status, drafts left out, each count stopping at `cap`."""
    statuses = [s.value for s in ApplicationStatus if s is not ApplicationStatus.DRAFT]
    return await _status_counts_capped(session, Application, authority_id, statuses, cap)


async def zone_counts(session: AsyncSession, authority_id: uuid.UUID) -> dict[str, int]:
    """Zones of the authority by status."""
    return await _count_by(session, col(Zone.status), col(Zone.authority_id) == authority_id)


# ---- zones --------------------------------------------------------------------------------


# What lists and dropdowns show of a zone: never its geometry (kilobytes per zone, read and parsed
# for nothing), nor its imported properties. Reading another attribute of these rows raises.
ZONE_LIST_COLUMNS = (Zone.id, Zone.authority_id, Zone.ref, Zone.code, Zone.name, Zone.kind, Zone.time_zone,
                     Zone.status, Zone.permanent, Zone.starts_on, Zone.ends_on, Zone.restriction_hours,
                     Zone.source, Zone.data_version, Zone.updated_at)


def _zone_list_select() -> Any:
    return select(Zone).options(load_only(*ZONE_LIST_COLUMNS, raiseload=True))  # type: ignore[arg-type]


async def authority_zones(session: AsyncSession, authority_id: uuid.UUID) -> list[Any]:
    """Every zone of the authority, by ref, for dropdowns and links: plain rows with `id`, `ref`,
    `code`, `name`, `kind` and `status` (no ORM objects: a city has a thousand zones)."""
    return list((await session.exec(
        select(Zone.id, Zone.ref, Zone.code, Zone.name, Zone.kind, Zone.status)
        .where(col(Zone.authority_id) == authority_id).order_by(col(Zone.ref)))).all())


async def zones_page(session: AsyncSession, authority_id: uuid.UUID, *, number: int = 1,
                     limit: int = PAGE_SIZE) -> Page:
    """One page of the authority's zones, by ref, without geometry."""
    where = col(Zone.authority_id) == authority_id
    total = int((await session.exec(select(func.count()).select_from(Zone).where(where))).one())
    offset = page_offset(number, total, limit)
    rows = (await session.exec(_zone_list_select().where(where).order_by(col(Zone.ref))
                               .offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit)


async def rules_by_zone(session: AsyncSession, zone_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[AccessRule]]:
    """The rules of several zones, in order."""
    found: dict[uuid.UUID, list[AccessRule]] = {z: [] for z in zone_ids}
    if zone_ids:
        rows = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id).in_(zone_ids))
                                   .order_by(col(AccessRule.position)))).all()
        for rule in rows:
            found[rule.zone_id].append(rule)
    return found


async def update_zone(
    session: AsyncSession,
    *,
    zone_id: uuid.UUID,
    name: str,
    kind: str,
    time_zone: str,
    permanent: bool,
    starts_on: date | None,
    ends_on: date | None,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Zone:
    """Change a zone's name, kind, time zone and dates (code, ref and geometry stay); audited."""
    zone = await get_or_raise(session, Zone, zone_id)
    fields = ("name", "kind", "time_zone", "permanent", "starts_on", "ends_on")
    before = snapshot(zone, *fields)
    check_zone_dates(permanent=permanent, starts_on=starts_on, ends_on=ends_on)
    check_time_zone(time_zone)
    zone.name = name.strip() or zone.name
    zone.kind = ZoneKind(kind).value
    zone.time_zone = time_zone
    zone.permanent = permanent
    zone.starts_on = starts_on
    zone.ends_on = ends_on
    after = snapshot(zone, *fields)
    if after == before:
        return zone
    now = clock.now()
    zone.data_version += 1
    zone.updated_at = now
    session.add(zone)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="update",
                        at=now, before={k: v for k, v in before.items() if after[k] != v},
                        after={k: v for k, v in after.items() if before[k] != v})
    return zone


# ---- applications -------------------------------------------------------------------------


def _plate_pattern(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


async def list_applications(
    session: AsyncSession,
    authority_id: uuid.UUID,
    *,
    status: str = "",
    zone_id: uuid.UUID | None = None,
    purpose: int | None = None,
    text: str = "",
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Applications of the authority (not drafts), oldest submitted first; rows are
    (Application, Organisation)."""
    where: list[Any] = [col(Application.authority_id) == authority_id, col(Application.status) != "draft"]
    if status:
        where.append(col(Application.status) == status)
    if zone_id is not None:
        where.append(col(Application.id).in_(
            select(ApplicationZone.application_id).where(col(ApplicationZone.zone_id) == zone_id)))
    if purpose is not None:
        where.append(col(Application.purpose) == purpose)
    if text.strip():
        needle = f"%{text.strip()}%"
        plate = _plate_pattern(text)
        conditions = [col(Organisation.name).ilike(needle), col(Organisation.siren) == plate]
        if plate:
            conditions.append(col(Application.id).in_(
                select(ApplicationVehicle.application_id)
                .join(Vehicle, col(Vehicle.id) == ApplicationVehicle.vehicle_id)
                .where(col(Vehicle.plate).contains(plate))))
        where.append(or_(*conditions))
    base = select(Application, Organisation).join(Organisation, col(Organisation.id) == Application.organisation_id)
    count = select(func.count()).select_from(Application)
    if text.strip():  # the company's name is only needed to search it
        count = count.join(Organisation, col(Organisation.id) == Application.organisation_id)
    total = int((await session.exec(count.where(*where))).one())
    offset = _clamp(offset, total, limit)
    rows = (await session.exec(
        base.where(*where).order_by(col(Application.submitted_at), col(Application.created_at),
                                    col(Application.id))
        .offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit)


async def plates_and_zones(
    session: AsyncSession, application_ids: Iterable[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[str]], dict[uuid.UUID, list[str]]]:
    """Plates and zone codes of several applications (for lists)."""
    ids = list(application_ids)
    plates: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    codes: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if ids:
        for app_id, plate in (await session.exec(
                select(ApplicationVehicle.application_id, Vehicle.plate)
                .join(Vehicle, col(Vehicle.id) == ApplicationVehicle.vehicle_id)
                .where(col(ApplicationVehicle.application_id).in_(ids)).order_by(col(Vehicle.plate)))).all():
            plates[app_id].append(plate)
        for app_id, code in (await session.exec(
                select(ApplicationZone.application_id, Zone.code)
                .join(Zone, col(Zone.id) == ApplicationZone.zone_id)
                .where(col(ApplicationZone.application_id).in_(ids)).order_by(col(Zone.ref)))).all():
            codes[app_id].append(code)
    return plates, codes


async def application_labels(
    session: AsyncSession, application_ids: Iterable[uuid.UUID], authority_id: uuid.UUID
) -> dict[uuid.UUID, str]:
    """« Company — plates » of those applications that belong to this authority (the others are absent)."""
    rows = (await session.exec(
        select(Application.id, Organisation.name)
        .join(Organisation, col(Organisation.id) == Application.organisation_id)
        .where(col(Application.id).in_(list(application_ids)), col(Application.authority_id) == authority_id)
    )).all()
    plates, _codes = await plates_and_zones(session, [app_id for app_id, _ in rows])
    return {app_id: f"{name} — {', '.join(plates[app_id])}" for app_id, name in rows}


async def application_documents(session: AsyncSession, application_id: uuid.UUID) -> list[SupportingDocument]:
    """Supporting documents of an application, oldest first."""
    return list((await session.exec(
        select(SupportingDocument).where(col(SupportingDocument.application_id) == application_id)
        .order_by(col(SupportingDocument.uploaded_at)))).all())


async def application_passes(session: AsyncSession, application_id: uuid.UUID) -> list[AccessPass]:
    """Passes issued for an application."""
    return list((await session.exec(
        select(AccessPass).where(col(AccessPass.application_id) == application_id)
        .order_by(col(AccessPass.plate)))).all())


async def user_names(session: AsyncSession, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of users by id."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = (await session.exec(select(UserAccount.id, UserAccount.display_name)
                               .where(col(UserAccount.id).in_(ids)))).all()
    return {user_id: name for user_id, name in rows}


# ---- passes -------------------------------------------------------------------------------


async def list_passes(
    session: AsyncSession,
    authority_id: uuid.UUID,
    *,
    status: str = "",
    zone_id: uuid.UUID | None = None,
    text: str = "",
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Passes of the authority, newest first; `text` matches the plate or the serial."""
    where: list[Any] = [col(AccessPass.authority_id) == authority_id]
    if status:
        where.append(col(AccessPass.status) == status)
    if zone_id is not None:
        where.append(col(AccessPass.id).in_(select(PassZone.pass_id).where(col(PassZone.zone_id) == zone_id)))
    needle = _plate_pattern(text)
    if needle:
        where.append(or_(col(AccessPass.plate).contains(needle), col(AccessPass.serial).contains(needle)))
    # The count stops COUNT_CAP rows past the page ("plus de …"): a full count reads every pass.
    total, capped = await capped_count(session, select(col(AccessPass.id)).where(*where),
                                       max(offset, 0) + COUNT_CAP)
    offset = _clamp(offset, total, limit)
    rows = (await session.exec(select(AccessPass).where(*where)
                               .order_by(col(AccessPass.issued_at).desc(), col(AccessPass.serial))
                               .offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit, capped)


async def pass_zones(session: AsyncSession, pass_id: uuid.UUID) -> list[Zone]:
    """Zones a pass opens, by ref."""
    return list((await session.exec(
        select(Zone).join(PassZone, col(PassZone.zone_id) == Zone.id)
        .where(col(PassZone.pass_id) == pass_id).order_by(col(Zone.ref)))).all())


async def pass_revocation(session: AsyncSession, pass_id: uuid.UUID) -> Revocation | None:
    """The revocation of a pass, if revoked."""
    return (await session.exec(select(Revocation).where(col(Revocation.pass_id) == pass_id))).first()


# ---- audit and checks ---------------------------------------------------------------------


def _entity_uuid(session: AsyncSession) -> ColumnElement[Any]:
    """`audit_record.entity_id` in the form the id columns store, so that the id side keeps its
    primary-key index (casting every id to text instead reads whole tables). Only rows about the
    scoped entities, whose entity_id is always str(uuid), are converted (CASE keeps the others
    out of the cast)."""
    scoped_entities = col(AuditRecord.entity).in_(SCOPED_ENTITIES)
    if session.get_bind().dialect.name == "sqlite":  # ids stored as 32 hex digits
        return case((scoped_entities, func.replace(AuditRecord.entity_id, "-", "")), else_=None)
    return case((scoped_entities, cast(AuditRecord.entity_id, Uuid)), else_=None)


SCOPED_ENTITIES = ("zone", "access_rule", "application", "pass")


def _members(authority_id: uuid.UUID) -> Any:
    return select(Membership.user_id).where(col(Membership.organisation_id) == authority_id)


AUDIT_ENTITIES = ("zone", "access_rule", "application", "pass", "bundle", "key")


async def audit_page(
    session: AsyncSession,
    authority_id: uuid.UUID,
    *,
    entity: str = "",
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Audit records about the authority's zones, rules, applications and passes, plus every
    record whose actor is a member of the authority (bundles, keys); newest first.

    Each record is tested by a primary-key lookup of its entity's authority (scalar subqueries:
    an EXISTS or IN would be turned into a hash of every application and pass), newest first
    along the index on `at`, so a page reads about `offset + limit` records whatever the log's
    length; the count stops at COUNT_CAP records past the page ("plus de …")."""
    entity_id = _entity_uuid(session)

    zone_owner = select(Zone.authority_id).where(col(Zone.id) == entity_id).scalar_subquery()
    rule_owner = (select(Zone.authority_id).join(AccessRule, col(AccessRule.zone_id) == Zone.id)
                  .where(col(AccessRule.id) == entity_id).scalar_subquery())
    application_owner = select(Application.authority_id).where(col(Application.id) == entity_id).scalar_subquery()
    pass_owner = select(AccessPass.authority_id).where(col(AccessPass.id) == entity_id).scalar_subquery()
    scope = or_(
        col(AuditRecord.actor_id).in_(_members(authority_id)),
        (col(AuditRecord.entity) == "zone") & (zone_owner == authority_id),
        (col(AuditRecord.entity) == "access_rule") & (rule_owner == authority_id),
        (col(AuditRecord.entity) == "application") & (application_owner == authority_id),
        (col(AuditRecord.entity) == "pass") & (pass_owner == authority_id),
    )
    where: list[Any] = [scope]
    if entity:
        where.append(col(AuditRecord.entity) == entity)
    newest = (col(AuditRecord.at).desc(), col(AuditRecord.seq).desc(), col(AuditRecord.id))  # same time: latest first
    total, capped = await capped_count(session, select(AuditRecord.id).where(*where).order_by(*newest),
                                       max(offset, 0) + COUNT_CAP)
    offset = _clamp(offset, total, limit)
    rows = (await session.exec(select(AuditRecord).where(*where).order_by(*newest)
                               .offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit, capped)


async def list_checks(
    session: AsyncSession,
    authority_id: uuid.UUID,
    *,
    verdict: str = "",
    zone_id: uuid.UUID | None = None,
    serial: str = "",
    clock_off_s: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Agents' checks in the authority's zones, of its passes, or by its agents; newest first.
    Rows are (PassCheck, zone code or None, agent name). With `clock_off_s`, only the checks made
    by a phone whose clock was more than that many seconds off the server's (either way)."""
    # Primary-key lookups of each check's zone and pass (scalar subqueries): the page walks the
    # index on checked_at, where IN or EXISTS over the authority's passes hashes all of them first.
    zone = aliased(Zone)  # the rows' query joins Zone too: the subquery must not correlate to it
    zone_owner = select(zone.authority_id).where(zone.id == PassCheck.zone_id).scalar_subquery()
    pass_owner = select(AccessPass.authority_id).where(col(AccessPass.id) == PassCheck.pass_id).scalar_subquery()
    where: list[Any] = [or_(col(PassCheck.agent_id).in_(_members(authority_id)), zone_owner == authority_id,
                            pass_owner == authority_id)]
    if verdict:
        where.append(col(PassCheck.verdict) == verdict)
    if zone_id is not None:
        where.append(col(PassCheck.zone_id) == zone_id)
    needle = _plate_pattern(serial)
    if needle:
        where.append(or_(col(PassCheck.serial).contains(needle), col(PassCheck.plate_seen).contains(needle)))
    if clock_off_s is not None:
        where.append(or_(col(PassCheck.clock_offset_s) > clock_off_s, col(PassCheck.clock_offset_s) < -clock_off_s))
    newest = (col(PassCheck.checked_at).desc(), col(PassCheck.id))
    total, capped = await capped_count(session, select(PassCheck.id).where(*where).order_by(*newest),
                                       max(offset, 0) + COUNT_CAP)
    offset = _clamp(offset, total, limit)
    rows = (await session.exec(
        select(PassCheck, Zone.code, UserAccount.display_name)
        .outerjoin(Zone, col(Zone.id) == PassCheck.zone_id)
        .join(UserAccount, col(UserAccount.id) == PassCheck.agent_id)
        .where(*where).order_by(*newest)
        .offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit, capped)

