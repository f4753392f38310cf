"""Services for zones and their access rules."""

from __future__ import annotations

import hashlib
import json
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
from cirqliz.domain.windows import ALL_DAYS, MINUTES_PER_DAY, TimeWindow
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
    _bump(session, zone, now)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id,
                        action=f"status_{target.value}", at=now,
                        before={"status": before}, after={"status": zone.status})
    return zone


RULE_FIELDS = ("name", "opening_hours", "windows", "purposes", "categories", "max_crit_air", "max_weight_kg",
               "min_weight_kg", "max_length_cm", "max_width_cm", "max_height_cm", "quota_days_per_year",
               "max_pass_days", "review_mode")
_LIMITS = ("max_weight_kg", "min_weight_kg", "max_length_cm", "max_width_cm", "max_height_cm")


def _rule_values(
    *,
    opening_hours: str | None,
    windows: Sequence[TimeWindow] | None,
    purposes: Iterable[int],
    categories: Iterable[str],
    max_crit_air: int | None,
    review_mode: str,
    name: str,
    limits: Mapping[str, int | None],
    quota_days_per_year: int | None,
    max_pass_days: int | None,
) -> dict[str, Any]:
    """The columns of a rule, checked (French errors); hours come as opening_hours or windows.

    An opening_hours string that TimeWindow cannot express is kept verbatim with no windows:
    such a rule is always reviewed by a person.
    """
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
    for label, value in (("quota annuel", quota_days_per_year), *limits.items()):
        if value is not None and value < 0:
            raise DomainError(f"{_LIMIT_FR.get(label, label)} : un nombre positif est attendu",
                              code="invalid_number")
    if max_pass_days is not None and max_pass_days < 1:
        raise DomainError("durée maximale d'un laissez-passer : 1 jour au moins", code="invalid_number")
    low, high = limits.get("min_weight_kg"), limits.get("max_weight_kg")
    if low is not None and high is not None and low > high:
        raise DomainError("le poids minimal dépasse le poids maximal", code="weight_range")
    return {
        "name": name.strip()[:200], "opening_hours": raw, "windows": stored_windows,
        "purposes": sorted({int(Purpose(p)) for p in purposes}),
        "categories": sorted({VehicleCategory(c).value for c in categories}),
        "max_crit_air": None if max_crit_air is None else int(CritAir(max_crit_air)),
        **{k: limits.get(k) for k in _LIMITS},
        "quota_days_per_year": quota_days_per_year, "max_pass_days": max_pass_days,
        "review_mode": mode.value,
    }


_LIMIT_FR = {"max_weight_kg": "poids maximal", "min_weight_kg": "poids minimal", "max_length_cm": "longueur maximale",
             "max_width_cm": "largeur maximale", "max_height_cm": "hauteur maximale"}


def _bump(session: AsyncSession, zone: Zone, now: datetime) -> None:
    """A change of the zone's data: agents get it with the next bundle (ADR 0007)."""
    zone.data_version += 1
    zone.updated_at = now
    session.add(zone)


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
    min_weight_kg: int | None = None,
    max_width_cm: int | None = None,
    max_height_cm: int | None = None,
    source: str = "",
    source_id: str = "",
    vehicle_class: str = "",
    critair_from: str | None = None,
) -> AccessRule:
    """Add an access rule; hours come either as an opening_hours string or as windows (see
    _rule_values). `source`… `critair_from` are the provenance of an imported rule (ADR 0007)."""
    zone = await get_or_raise(session, Zone, zone_id)
    values = _rule_values(
        opening_hours=opening_hours, windows=windows, purposes=purposes, categories=categories,
        max_crit_air=max_crit_air, review_mode=review_mode, name=name,
        limits={"max_weight_kg": max_weight_kg, "min_weight_kg": min_weight_kg, "max_length_cm": max_length_cm,
                "max_width_cm": max_width_cm, "max_height_cm": max_height_cm},
        quota_days_per_year=quota_days_per_year, max_pass_days=max_pass_days,
    )
    # After the last one: positions keep their order when rules are deleted in between.
    positions = (await session.exec(select(AccessRule.position).where(col(AccessRule.zone_id) == zone_id))).all()
    position = max(positions, default=-1) + 1
    now = clock.now()
    rule = AccessRule(zone_id=zone.id, position=position, created_at=now, source=source, source_id=source_id,
                      vehicle_class=vehicle_class, critair_from=critair_from, **values)
    session.add(rule)
    _bump(session, zone, now)
    await session.flush()
    await record_change(
        session, actor_id=actor_id, entity="access_rule", entity_id=rule.id, action="create",
        at=now, after=snapshot(rule, "zone_id", *RULE_FIELDS),
    )
    return rule


async def update_access_rule(
    session: AsyncSession,
    *,
    rule_id: uuid.UUID,
    clock: Clock,
    opening_hours: str | None = None,
    windows: Sequence[TimeWindow] | None = None,
    purposes: Iterable[int] = (),
    categories: Iterable[str] = (),
    max_crit_air: int | None = None,
    max_weight_kg: int | None = None,
    min_weight_kg: int | None = None,
    max_length_cm: int | None = None,
    max_width_cm: int | None = None,
    max_height_cm: int | None = None,
    quota_days_per_year: int | None = None,
    max_pass_days: int | None = None,
    review_mode: str = ReviewMode.MANUAL.value,
    name: str = "",
    actor_id: uuid.UUID | None = None,
) -> AccessRule:
    """Replace what a rule says (name, hours, purposes, vehicles, limits, review); its provenance
    stays. Passes already issued are not touched (ADR 0007): they are judged against the rule as
    it is at scan time. No change, no new data version."""
    rule = await get_or_raise(session, AccessRule, rule_id)
    zone = await get_or_raise(session, Zone, rule.zone_id)
    values = _rule_values(
        opening_hours=opening_hours, windows=windows, purposes=purposes, categories=categories,
        max_crit_air=max_crit_air, review_mode=review_mode, name=name,
        limits={"max_weight_kg": max_weight_kg, "min_weight_kg": min_weight_kg, "max_length_cm": max_length_cm,
                "max_width_cm": max_width_cm, "max_height_cm": max_height_cm},
        quota_days_per_year=quota_days_per_year, max_pass_days=max_pass_days,
    )
    before = snapshot(rule, *RULE_FIELDS)
    for key, value in values.items():
        setattr(rule, key, value)
    after = snapshot(rule, *RULE_FIELDS)
    if after == before:
        return rule
    now = clock.now()
    session.add(rule)
    _bump(session, zone, now)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="access_rule", entity_id=rule.id, action="update",
                        at=now, before={k: v for k, v in before.items() if after[k] != v},
                        after={k: v for k, v in after.items() if before[k] != v})
    return rule


async def delete_access_rule(
    session: AsyncSession, *, rule_id: uuid.UUID, clock: Clock, actor_id: uuid.UUID | None = None,
) -> Zone:
    """Delete a rule: no new application can rely on it; passes already issued are not revoked
    (ADR 0007). The zone (with its new data version) is returned."""
    rule = await get_or_raise(session, AccessRule, rule_id)
    zone = await get_or_raise(session, Zone, rule.zone_id)
    before = snapshot(rule, "zone_id", "source", "source_id", *RULE_FIELDS)
    now = clock.now()
    await session.delete(rule)
    _bump(session, zone, now)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="access_rule", entity_id=rule_id, action="delete",
                        at=now, before=before)
    return zone


def geometry_summary(geometry: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a perimeter: type, parts, vertices, bounds and a digest (a whole
    geometry can weigh megabytes)."""
    polygons = geometry["coordinates"] if geometry.get("type") == "MultiPolygon" else [geometry.get("coordinates")]
    points = [p for polygon in polygons for ring in polygon for p in ring]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    canonical = json.dumps(geometry, sort_keys=True, separators=(",", ":"))
    return {"type": geometry.get("type"), "parts": len(polygons), "vertices": len(points),
            "bbox": [round(min(lons), 6), round(min(lats), 6), round(max(lons), 6), round(max(lats), 6)],
            "sha256": hashlib.sha256(canonical.encode()).hexdigest()}


async def change_zone_geometry(
    session: AsyncSession, *, zone_id: uuid.UUID, geometry: Mapping[str, Any] | str, clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Zone:
    """Replace a zone's perimeter (checked and normalised by validate_geometry; French errors)."""
    zone = await get_or_raise(session, Zone, zone_id)
    shape = validate_geometry(geometry)
    if shape == zone.geometry:
        return zone
    before = geometry_summary(zone.geometry)
    zone.geometry = shape
    now = clock.now()
    _bump(session, zone, now)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="geometry",
                        at=now, before={"geometry": before}, after={"geometry": geometry_summary(shape)})
    return zone


def restriction_of(opening_hours: str | None) -> tuple[str | None, list[dict[str, Any]] | None]:
    """(restriction_hours, restriction_windows) for an opening_hours value: (None, None) when the
    restriction is in force at all times; windows None when the text cannot be expressed (then
    the zone counts as restricted at all times, ADR 0007)."""
    text = (opening_hours or "").strip()
    if not text:
        return None, None
    spec = parse_opening_hours(text)
    if spec.windows is None:
        return spec.raw, None
    if list(spec.windows) == [TimeWindow(ALL_DAYS, 0, MINUTES_PER_DAY)]:
        return None, None
    return spec.raw, [window_to_json(w) for w in spec.windows]


async def set_restriction_schedule(
    session: AsyncSession, *, zone_id: uuid.UUID, opening_hours: str | None, clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Zone:
    """Set when the zone's restriction is in force (None: at all times). Outside it anyone may
    enter; passes already issued keep working (ADR 0007)."""
    zone = await get_or_raise(session, Zone, zone_id)
    hours, windows = restriction_of(opening_hours)
    before = snapshot(zone, "restriction_hours", "restriction_windows")
    if (hours, windows) == (zone.restriction_hours, zone.restriction_windows):
        return zone
    zone.restriction_hours, zone.restriction_windows = hours, windows
    now = clock.now()
    _bump(session, zone, now)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="restriction",
                        at=now, before=before, after=snapshot(zone, "restriction_hours", "restriction_windows"))
    return zone


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
