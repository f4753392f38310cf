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

from sqlalchemy import Uuid, case, cast, func, or_, text
from sqlalchemy.orm import aliased, load_only
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import (
    AccessPass,
    AccessRule,
    ApiToken,
    Application,
    ApplicationVehicle,
    ApplicationZone,
    AuditRecord,
    AuthorityPartner,
    Event,
    Exemption,
    Invitation,
    Membership,
    Organisation,
    PassCheck,
    PassZone,
    Revocation,
    SupportingDocument,
    TrafficOrder,
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
from cirqliz.issuance.mail import plate_display

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
    return {app_id: f"{name} — {', '.join(plate_display(p) for p in plates[app_id])}" for app_id, name in rows}


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


def _as_stored_id(session: AsyncSession, text: ColumnElement[Any]) -> ColumnElement[Any]:
    """A uuid string in the form the id columns store, so that the id side keeps its primary-key
    index (casting every id to text instead reads whole tables)."""
    if session.get_bind().dialect.name == "sqlite":  # ids stored as 32 hex digits
        return func.replace(text, "-", "")
    return cast(text, Uuid)


def _entity_uuid(session: AsyncSession) -> ColumnElement[Any]:
    """`audit_record.entity_id` as a stored id, for the entities named by a uuid only (CASE keeps
    every other value, e.g. the "*" of the expiry sweep, out of the cast)."""
    uuid_like = col(AuditRecord.entity).in_(UUID_ENTITIES) & (func.length(AuditRecord.entity_id) == 36)
    return case((uuid_like, _as_stored_id(session, col(AuditRecord.entity_id))), else_=None)


def _json_text(key: str) -> ColumnElement[Any]:
    """`key` of the record's `after`, else of its `before` (a deletion keeps only `before`)."""
    return func.coalesce(col(AuditRecord.after)[key].as_string(), col(AuditRecord.before)[key].as_string())


def _json_uuid(session: AsyncSession, key: str, entities: tuple[str, ...]) -> ColumnElement[Any]:
    """`_json_text(key)` as a stored id, for records about `entities` only."""
    value = _json_text(key)
    return case((col(AuditRecord.entity).in_(entities) & (func.length(value) == 36), _as_stored_id(session, value)),
                else_=None)


def _org_owner(org_id: Any) -> Any:
    """The authority an organisation belongs to: itself for an authority, its authority for an
    organiser; a company belongs to none (its own id, never an authority's)."""
    return (select(func.coalesce(Organisation.authority_id, Organisation.id))
            .where(col(Organisation.id) == org_id).scalar_subquery())


# Entities whose audit records are named by the row's uuid.
UUID_ENTITIES = ("zone", "access_rule", "application", "pass", "traffic_order", "exemption", "event", "api_token",
                 "organisation", "invitation")
# Entities whose records carry the authority's code (`authority` in after/before).
CODED_ENTITIES = ("bundle", "key", "partner", "import")
# Entities whose records are named by the authority's own id.
AUTHORITY_NAMED_ENTITIES = ("zone_import", "export")


async def audit_page(
    session: AsyncSession,
    authority_id: uuid.UUID,
    *,
    entity: str = "",
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """Audit records about the authority's own objects, newest first: its zones, rules, traffic
    orders, applications, passes, exemptions, events, API tokens, bundles, keys, partners and
    imports; the authority itself and its organisers, their members and invitations. A record about
    another organisation is never listed, even when its actor is also one of the authority's members.

    Each record is tested by a primary-key lookup of its entity's authority (scalar subqueries:
    an EXISTS or IN would be turned into a hash of every application and pass), newest first
    along the index on `at`, so a page reads about `offset + limit` records whatever the log's
    length; the count stops at COUNT_CAP records past the page ("plus de …")."""
    authority = await get_or_raise(session, Organisation, authority_id)
    entity_id = _entity_uuid(session)
    ent = col(AuditRecord.entity)

    def owner(model: Any, column: Any = None) -> Any:
        # correlate: nested in _org_owner's subquery, it must still read the outer audit_record
        return select(column if column is not None else model.authority_id).where(model.id == entity_id) \
            .correlate(AuditRecord).scalar_subquery()

    zone_owner = owner(Zone)
    rule_owner = (select(Zone.authority_id).join(AccessRule, col(AccessRule.zone_id) == Zone.id)
                  .where(col(AccessRule.id) == entity_id).scalar_subquery())
    # A deleted rule is found by the zone its record's `before` names.
    deleted_rule_owner = (select(Zone.authority_id)
                          .where(col(Zone.id) == _json_uuid(session, "zone_id", ("access_rule",))).scalar_subquery())
    exemption_owner = (select(Zone.authority_id).join(Exemption, col(Exemption.zone_id) == Zone.id)
                       .where(col(Exemption.id) == entity_id).scalar_subquery())
    member_org = _json_uuid(session, "organisation_id", ("membership", "invitation"))
    invitation_org = func.coalesce(owner(Invitation, Invitation.organisation_id), member_org)
    # One CASE (only the record's own entity's lookup runs), not an OR of "entity = … AND …": an OR of
    # entity tests lets PostgreSQL gather every matching record through the entity index, then sort.
    owner_of_record = case(
        (ent == "zone", zone_owner),
        # A rule; the rules of a zone replaced at once by an import (named by the zone's id); a deleted
        # rule, by the zone its record's `before` names.
        (ent == "access_rule", func.coalesce(rule_owner, zone_owner, deleted_rule_owner)),
        (ent == "application", owner(Application)),
        (ent == "pass", owner(AccessPass)),
        (ent == "traffic_order", owner(TrafficOrder)),
        (ent == "exemption", exemption_owner),
        (ent == "event", _org_owner(owner(Event, Event.organiser_id))),
        (ent == "api_token", _org_owner(owner(ApiToken, ApiToken.organisation_id))),
        (ent == "organisation", _org_owner(entity_id)),
        (ent == "membership", _org_owner(member_org)),
        (ent == "invitation", _org_owner(invitation_org)),
        (ent == "user", _org_owner(_json_uuid(session, "team_id", ("user",)))),
        else_=None,
    )
    scope = or_(
        owner_of_record == authority_id,
        ent.in_(CODED_ENTITIES) & (_json_text("authority") == authority.code),
        ent.in_(AUTHORITY_NAMED_ENTITIES) & (col(AuditRecord.entity_id) == str(authority_id)),
    )
    if session.get_bind().dialect.name == "postgresql":
        # The lookups' estimated cost (each record's, over the whole log) sets off PostgreSQL's JIT,
        # whose compilation takes seconds where the query itself reads about a page of records.
        await session.exec(text("SET LOCAL jit = off"))  # type: ignore[call-overload]
    where: list[Any] = [scope]
    if entity:
        where.append(ent == entity)
    newest = (col(AuditRecord.at).desc(), col(AuditRecord.seq).desc(), col(AuditRecord.id))  # same time: latest first
    total, capped = await capped_count(session, select(AuditRecord.id).where(*where).order_by(*newest),
                                       max(offset, 0) + COUNT_CAP)
    offset = _clamp(offset, total, limit)
    rows = (await session.exec(select(AuditRecord).where(*where).order_by(*newest)
                               .offset(offset).limit(limit))).all()
    return Page(list(rows), total, offset, limit, capped)


@dataclass(frozen=True, slots=True)
class AuditSubjects:
    """What the records of a journal page are about, found in one query per kind of object:
    `objects[(kind, id)]` the fields of an object a record is about or names in its values (absent:
    deleted, or not the authority's), `people[user id]` display names of the persons they name."""

    objects: dict[tuple[str, str], dict[str, Any]]
    people: dict[str, str]


def _uuids(values: Iterable[Any]) -> set[uuid.UUID]:
    found = set()
    for value in values:
        try:
            found.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    return found


def _value_ids(value: Any) -> Iterable[Any]:
    """Every string inside a record's before/after that may be an object's uuid."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _value_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _value_ids(item)
    elif isinstance(value, str) and len(value) == 36:
        yield value


def _person_id(record: AuditRecord) -> Any:
    """The user a user, membership or invitation record is about (None when it names none)."""
    if record.entity == "user":
        return record.entity_id
    return (record.after or {}).get("user_id") or (record.before or {}).get("user_id")


async def audit_subjects(session: AsyncSession, authority_id: uuid.UUID, records: Sequence[AuditRecord]
                         ) -> AuditSubjects:
    """The objects the `records` are about or name in their values (zones, organisations, people,
    applications, events, passes), the authority's own only for zones, rules, orders, applications,
    passes, events and tokens: one query per kind of object present, none per record."""
    ids: dict[str, set[uuid.UUID]] = {}
    for record in records:
        ids.setdefault(record.entity, set()).update(_uuids([record.entity_id]))
    named = _uuids(v for r in records for v in (*_value_ids(r.before), *_value_ids(r.after)))
    objects: dict[tuple[str, str], dict[str, Any]] = {}

    def keep(kind: str, rows: Iterable[Any]) -> None:
        for row in rows:
            data = dict(row._mapping) if hasattr(row, "_mapping") else {"id": row}  # one column: scalars
            objects[(kind, str(data["id"]))] = data

    # An import names the rules it replaces by their zone's id; a pass record names its zones by their
    # reference numbers (the small integers signed in passes): both read in one statement.
    zone_ids = ids.get("zone", set()) | ids.get("access_rule", set()) | named
    refs = {v for r in records if r.entity == "pass" for data in (r.before, r.after)
            for v in ((data or {}).get("zones") or []) if type(v) is int}
    if zone_ids or refs:
        for row in (await session.exec(
                select(Zone.id, Zone.name, Zone.code, Zone.ref)
                .where(or_(col(Zone.id).in_(zone_ids), col(Zone.ref).in_(refs)),
                       col(Zone.authority_id) == authority_id))).all():
            if row.id in zone_ids:
                objects[("zone", str(row.id))] = {"id": row.id, "name": row.name, "code": row.code}
            if row.ref in refs:
                objects[("zone_ref", str(row.ref))] = {"id": row.ref, "code": row.code}
    if ids.get("access_rule"):
        keep("access_rule", (await session.exec(
            select(AccessRule.id, AccessRule.name, col(Zone.id).label("zone_id"), col(Zone.name).label("zone_name"),
                   col(Zone.code).label("zone_code"))
            .join(Zone, col(Zone.id) == AccessRule.zone_id)
            .where(col(AccessRule.id).in_(ids["access_rule"]), col(Zone.authority_id) == authority_id))).all())
    if ids.get("application", set()) | named:
        keep("application", (await session.exec(
            select(Application.id, Application.status).where(
                col(Application.id).in_(ids.get("application", set()) | named),
                col(Application.authority_id) == authority_id))).all())
    if ids.get("pass", set()) | named:
        keep("pass", (await session.exec(
            select(AccessPass.id, AccessPass.serial).where(col(AccessPass.id).in_(ids.get("pass", set()) | named),
                                                           col(AccessPass.authority_id) == authority_id))).all())
    if ids.get("traffic_order"):
        keep("traffic_order", (await session.exec(
            select(TrafficOrder.id, TrafficOrder.name, TrafficOrder.code)
            .where(col(TrafficOrder.id).in_(ids["traffic_order"]), col(TrafficOrder.authority_id) == authority_id)
        )).all())
    owned = func.coalesce(Organisation.authority_id, Organisation.id) == authority_id
    if ids.get("organisation", set()) | named:  # the organisations the authority's records name (companies too)
        keep("organisation", (await session.exec(
            select(Organisation.id, Organisation.name, Organisation.kind)
            .where(col(Organisation.id).in_(ids.get("organisation", set()) | named)))).all())
    if ids.get("event", set()) | named:
        keep("event", (await session.exec(
            select(Event.id, Event.name).join(Organisation, col(Organisation.id) == Event.organiser_id)
            .where(col(Event.id).in_(ids.get("event", set()) | named), owned))).all())
    if ids.get("api_token"):
        keep("api_token", (await session.exec(
            select(ApiToken.id, ApiToken.name).join(Organisation, col(Organisation.id) == ApiToken.organisation_id)
            .where(col(ApiToken.id).in_(ids["api_token"]), owned))).all())
    person_ids = _uuids(_person_id(r) for r in records if r.entity in ("user", "membership", "invitation")) | named
    people: dict[str, str] = {}
    if person_ids:
        people = {str(user_id): name for user_id, name in (await session.exec(
            select(UserAccount.id, UserAccount.display_name).where(col(UserAccount.id).in_(person_ids)))).all()}
    return AuditSubjects(objects, people)


def _members(authority_id: uuid.UUID) -> Any:
    return select(Membership.user_id).where(col(Membership.organisation_id) == authority_id)


async def issuer_names(session: AsyncSession, authority_id: uuid.UUID, codes: Iterable[str]) -> dict[str, str]:
    """Names of pass issuers met in checks: the name this authority gave a partner, else the name of an
    authority of this platform; codes found in neither are left out (shown as they are)."""
    wanted = set(codes)
    if not wanted:
        return {}
    names = {code: name for code, name in (await session.exec(
        select(Organisation.code, Organisation.name).where(
            col(Organisation.code).in_(wanted), col(Organisation.kind) == OrganisationKind.AUTHORITY.value))).all()}
    names.update((await session.exec(select(AuthorityPartner.iss, AuthorityPartner.name).where(
        col(AuthorityPartner.authority_id) == authority_id, col(AuthorityPartner.iss).in_(wanted)))).all())
    return names


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

