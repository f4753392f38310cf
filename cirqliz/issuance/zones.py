"""Services for zones and their access rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import (
    AccessRule,
    Event,
    Organisation,
    Zone,
    window_from_json,
    window_to_json,
)
from cirqliz.domain.eligibility import AccessRuleSpec, VehicleCriteria
from cirqliz.domain.errors import DomainError, OpeningHoursError, ZoneError
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.osm_hours import parse_opening_hours, windows_to_opening_hours
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import CritAir, VehicleCategory
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import (
    ReviewMode,
    ZoneKind,
    ZoneStatus,
    check_time_zone,
    check_zone_dates,
    check_zone_transition,
    parse_zone_code,
    validate_geometry,
)
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.lookup import get_or_raise

ZONE_FIELDS = ("ref", "code", "name", "kind", "status", "time_zone", "permanent", "starts_on",
               "ends_on", "delegated_to_id", "event_id")


async def _allocate_ref(session: AsyncSession, authority_id: uuid.UUID) -> int:
    """Take the authority's next zone ref atomically (the row lock orders concurrent creations)."""
    result = await session.exec(
        update(Organisation)
        .where(col(Organisation.id) == authority_id)
        .values(next_zone_ref=Organisation.next_zone_ref + 1)
        .returning(Organisation.next_zone_ref)
        .execution_options(synchronize_session=False)
    )
    return int(result.one()[0]) - 1


async def create_zone(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    code: str,
    name: str,
    kind: str,
    geometry: Mapping[str, Any] | str,
    clock: Clock,
    time_zone: str = "Europe/Paris",
    permanent: bool = True,
    starts_on: date | None = None,
    ends_on: date | None = None,
    delegated_to_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
) -> Zone:
    """Create a draft zone with the authority's next ref; geometry and dates are checked."""
    authority = await get_or_raise(session, Organisation, authority_id)
    if authority.kind != OrganisationKind.AUTHORITY:
        raise ZoneError("seule une autorité possède des zones", code="zone_owner_not_authority")
    if delegated_to_id is not None:
        delegate = await get_or_raise(session, Organisation, delegated_to_id)
        if delegate.kind != OrganisationKind.ORGANISER:
            raise ZoneError("une zone ne peut être déléguée qu'à un organisateur",
                            code="delegate_not_organiser")
    check_zone_dates(permanent=permanent, starts_on=starts_on, ends_on=ends_on)
    zone_code = parse_zone_code(code)
    shape = validate_geometry(geometry)
    check_time_zone(time_zone)
    ref = await _allocate_ref(session, authority_id)
    now = clock.now()
    zone = Zone(
        id=zone_id or uuid.uuid4(),
        authority_id=authority_id,
        ref=ref,
        code=zone_code,
        name=name.strip(),
        kind=ZoneKind(kind).value,
        geometry=shape,
        time_zone=time_zone,
        status=ZoneStatus.DRAFT.value,
        permanent=permanent,
        starts_on=starts_on,
        ends_on=ends_on,
        delegated_to_id=delegated_to_id,
        event_id=event_id,
        created_at=now,
        updated_at=now,
    )
    session.add(zone)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id,
                        action="create", at=now, after=snapshot(zone, *ZONE_FIELDS))
    return zone


async def change_zone_status(
    session: AsyncSession,
    *,
    zone_id: uuid.UUID,
    status: str,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Zone:
    """Activate, suspend, reactivate or archive a zone (archived zones keep their ref)."""
    zone = await get_or_raise(session, Zone, zone_id)
    before = zone.status
    target = check_zone_transition(zone.status, status)
    now = clock.now()
    zone.status = target.value
    zone.updated_at = now
    zone.data_version += 1
    session.add(zone)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id,
                        action=f"status_{target.value}", at=now,
                        before={"status": before}, after={"status": zone.status})
    return zone


async def add_access_rule(
    session: AsyncSession,
    *,
    zone_id: uuid.UUID,
    clock: Clock,
    opening_hours: str | None = None,
    windows: Sequence[TimeWindow] | None = None,
    purposes: Iterable[int] = (),
    categories: Iterable[str] = (),
    max_crit_air: int | None = None,
    max_weight_kg: int | None = None,
    max_length_cm: int | None = None,
    quota_days_per_year: int | None = None,
    max_pass_days: int | None = None,
    review_mode: str = ReviewMode.MANUAL.value,
    name: str = "",
    actor_id: uuid.UUID | None = None,
) -> AccessRule:
    """Add an access rule; hours come either as an opening_hours string or as windows.

    An opening_hours string that TimeWindow cannot express is kept verbatim with no windows:
    such a rule is always reviewed by a person.
    """
    zone = await get_or_raise(session, Zone, zone_id)
    if opening_hours is not None and windows is not None:
        raise DomainError("indiquer les horaires soit en opening_hours, soit en créneaux",
                          code="hours_twice")
    stored_windows: list[dict[str, Any]] | None = []
    raw: str | None = None
    mode = ReviewMode(review_mode)
    if opening_hours is not None:
        spec = parse_opening_hours(opening_hours)
        raw = spec.raw
        if spec.windows is None:
            stored_windows = None
            mode = ReviewMode.MANUAL
        else:
            stored_windows = [window_to_json(w) for w in spec.windows]
    elif windows:
        stored_windows = [window_to_json(w) for w in windows]
        try:
            raw = windows_to_opening_hours(windows)
        except OpeningHoursError:
            raw = None
    purpose_codes = sorted({int(Purpose(p)) for p in purposes})
    category_codes = sorted({VehicleCategory(c).value for c in categories})
    crit_air = None if max_crit_air is None else int(CritAir(max_crit_air))
    position = len((await session.exec(
        select(AccessRule.id).where(col(AccessRule.zone_id) == zone_id))).all())
    now = clock.now()
    rule = AccessRule(
        zone_id=zone.id, position=position, name=name, opening_hours=raw, windows=stored_windows,
        purposes=purpose_codes, categories=category_codes, max_crit_air=crit_air,
        max_weight_kg=max_weight_kg, max_length_cm=max_length_cm,
        quota_days_per_year=quota_days_per_year, max_pass_days=max_pass_days,
        review_mode=mode.value, created_at=now,
    )
    session.add(rule)
    zone.data_version += 1
    zone.updated_at = now
    session.add(zone)
    await session.flush()
    await record_change(
        session, actor_id=actor_id, entity="access_rule", entity_id=rule.id, action="create",
        at=now, after=snapshot(rule, "zone_id", "opening_hours", "windows", "purposes",
                               "categories", "max_crit_air", "max_weight_kg", "max_length_cm",
                               "quota_days_per_year", "max_pass_days", "review_mode"),
    )
    return rule


def rule_spec(rule: AccessRule) -> AccessRuleSpec:
    """The domain view of a stored rule (hours not expressible as windows: not checked here,
    and review forced to manual)."""
    windows = tuple(window_from_json(w) for w in rule.windows or ())
    return AccessRuleSpec(
        windows=windows,
        purposes=frozenset(Purpose(p) for p in rule.purposes),
        criteria=VehicleCriteria(
            categories=frozenset(VehicleCategory(c) for c in rule.categories),
            max_crit_air=None if rule.max_crit_air is None else CritAir(rule.max_crit_air),
            max_weight_kg=rule.max_weight_kg,
            max_length_cm=rule.max_length_cm,
        ),
        quota_days_per_year=rule.quota_days_per_year,
        max_pass_days=rule.max_pass_days,
        review_mode=ReviewMode.MANUAL if rule.windows is None else ReviewMode(rule.review_mode),
        name=rule.name,
    )


async def zone_rules(session: AsyncSession, zone_id: uuid.UUID) -> list[AccessRule]:
    """A zone's rules in order."""
    result = await session.exec(
        select(AccessRule).where(col(AccessRule.zone_id) == zone_id).order_by(
            col(AccessRule.position))
    )
    return list(result.all())


async def create_event(
    session: AsyncSession,
    *,
    organiser_id: uuid.UUID,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Event:
    """Register an event for which temporary zones will be defined."""
    organiser = await get_or_raise(session, Organisation, organiser_id)
    if organiser.kind == OrganisationKind.COMPANY:
        raise DomainError("une entreprise n'organise pas d'événement dans CirQliz",
                          code="event_by_company")
    if ends_at <= starts_at:
        raise DomainError("la fin de l'événement doit suivre son début", code="event_dates")
    now = clock.now()
    event = Event(organiser_id=organiser_id, name=name.strip(), starts_at=starts_at,
                  ends_at=ends_at, created_at=now)
    session.add(event)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="event", entity_id=event.id,
                        action="create", at=now,
                        after={"name": event.name, "starts_at": starts_at, "ends_at": ends_at})
    return event
