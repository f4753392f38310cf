"""An authority's zones out as open data: export views of stored zones for cirqliz.exports (ZFE
schema GeoJSON, DATEX II), with stable identifiers (zone code, source id) and versions
(data_version)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import AccessRule, Organisation, Zone, ZoneSchedule, window_from_json
from cirqliz.domain.errors import NotFound
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.windows import ALL_DAYS, MINUTES_PER_DAY, TimeWindow
from cirqliz.domain.zones import ZoneKind, ZoneStatus
from cirqliz.exports.datex2 import PermitRule, export_datex2
from cirqliz.exports.zfe import critair_classes, export_zfe
from cirqliz.imports.common import inclusive_end, local_day_start
from cirqliz.imports.zfe import VEHICLE_CLASSES

_ALWAYS = (TimeWindow(ALL_DAYS, 0, MINUTES_PER_DAY),)


@dataclass(frozen=True, slots=True)
class ZoneView:
    """A stored zone as the exporters read it (cirqliz.exports.zfe.ZoneLike).

    `windows`/`opening_hours` are the zone's restriction schedule (ADR 0007) and `periods` its
    dated periods (zone_schedule rows); `rules` holds the ZFE thresholds per vehicle class
    (`critair`) and the access rules as DATEX II says them (`access`); `extra` is the source's
    other properties, verbatim.
    """

    source: str
    source_id: str
    code: str
    name: str
    kind: str
    ref: int
    geometry: dict[str, Any]
    tz: str
    valid_from: datetime | None
    valid_until: datetime | None
    windows: tuple[TimeWindow, ...]
    opening_hours: str | None
    rules: dict[str, Any]
    extra: dict[str, Any]
    version: str
    updated_at: datetime
    url_order: str | None = None
    url_site: str | None = None
    periods: tuple[tuple[datetime, datetime | None], ...] = ()


def _windows(data: list[dict[str, Any]] | None) -> tuple[TimeWindow, ...]:
    windows = tuple(window_from_json(w) for w in data or ())
    return () if windows == _ALWAYS else windows


def permit_rule(rule: AccessRule) -> PermitRule:
    """What DATEX II can say of a stored access rule (hours not expressible as windows: the rule
    is written as valid at any time while the restriction is in force)."""
    return PermitRule(
        name=rule.name, categories=tuple(rule.categories or ()), max_crit_air=rule.max_crit_air,
        max_weight_kg=rule.max_weight_kg, min_weight_kg=rule.min_weight_kg, max_length_cm=rule.max_length_cm,
        max_width_cm=rule.max_width_cm, max_height_cm=rule.max_height_cm, windows=_windows(rule.windows),
    )


def zone_view(zone: Zone, rules: Sequence[AccessRule],
              periods: Sequence[tuple[datetime, datetime | None]] = ()) -> ZoneView:
    """The export view of a zone, its rules and its dated periods, from their fields: provenance
    (source, source_id, URLs, source properties), restriction schedule, and the Crit'Air
    thresholds per ZFE class (cirqliz.exports.zfe.critair_classes)."""
    extra = dict(zone.source_properties or {})
    critair = {name: {"critair_from": value, "opening_hours": extra.get(f"{name}_horaires")}
               for name, value in critair_classes(rules).items()}
    start = zone.starts_on or zone.created_at.astimezone(UTC).date()
    windows = _windows(zone.restriction_windows)
    return ZoneView(
        source=zone.source or "cirqliz", source_id=zone.source_id or zone.code, code=zone.code, name=zone.name,
        kind=zone.kind, ref=zone.ref, geometry=zone.geometry, tz=zone.time_zone,
        valid_from=local_day_start(start, zone.time_zone),
        valid_until=inclusive_end(zone.ends_on, zone.time_zone) if zone.ends_on else None,
        windows=windows, opening_hours=zone.restriction_hours,
        rules={"critair": critair, "access": tuple(permit_rule(r) for r in rules)},
        extra={k: v for k, v in extra.items() if not (k.endswith("_horaires") and k[:-9] in VEHICLE_CLASSES)},
        version=str(zone.data_version), updated_at=zone.updated_at, url_order=zone.url_order,
        url_site=zone.url_site, periods=tuple(periods),
    )


async def authority_by_code(session: AsyncSession, code: str) -> Organisation:
    """The authority with this code, or NotFound."""
    row = (await session.exec(select(Organisation).where(col(Organisation.code) == code))).first()
    if row is None or row.kind != OrganisationKind.AUTHORITY:
        raise NotFound(f"autorité inconnue : {code}", code="not_found")
    return row


async def published_zones(session: AsyncSession, authority_id: uuid.UUID, *,
                          kinds: Iterable[str] | None = None) -> list[ZoneView]:
    """The authority's active zones (of `kinds`), by code, as export views."""
    statement = select(Zone).where(col(Zone.authority_id) == authority_id,
                                   col(Zone.status) == ZoneStatus.ACTIVE.value)
    if kinds is not None:
        statement = statement.where(col(Zone.kind).in_(list(kinds)))
    zones = list((await session.exec(statement.order_by(col(Zone.code)))).all())
    rules: dict[uuid.UUID, list[AccessRule]] = {z.id: [] for z in zones}
    periods: dict[uuid.UUID, list[tuple[datetime, datetime | None]]] = {z.id: [] for z in zones}
    if zones:
        for rule in (await session.exec(select(AccessRule).where(col(AccessRule.zone_id).in_(list(rules)))
                                        .order_by(col(AccessRule.position), col(AccessRule.name)))).all():
            rules[rule.zone_id].append(rule)
        for row in (await session.exec(select(ZoneSchedule).where(col(ZoneSchedule.zone_id).in_(list(periods)))
                                       .order_by(col(ZoneSchedule.starts_at), col(ZoneSchedule.ends_at)))).all():
            periods[row.zone_id].append((row.starts_at, row.ends_at))
    return [zone_view(z, rules[z.id], periods[z.id]) for z in zones]


async def zones_geojson(session: AsyncSession, authority: Organisation) -> dict[str, Any]:
    """The authority's active low-emission zones as a ZFE schema document (validated);
    ExportFileError (French) when one cannot be written, e.g. a zone made in CirQliz while the
    authority has no SIREN for its id."""
    zones = await published_zones(session, authority.id, kinds=[ZoneKind.LOW_EMISSION.value])
    return export_zfe(zones, siren=authority.siren)


async def zones_datex2(session: AsyncSession, authority: Organisation, *, permit_url: str | None = None,
                       validate: bool = False) -> bytes:
    """The authority's active zones as a DATEX II TrafficRegulationPublication (valid, without
    regulations, when it has none).

    The publication time is the latest change of a published zone (the authority's creation when
    there is none): the same data gives the same document.
    """
    zones = await published_zones(session, authority.id)
    published = max((z.updated_at for z in zones), default=authority.created_at)
    return export_datex2(zones, publication_time=published.astimezone(UTC).replace(microsecond=0),
                         authority=authority.name, creator=authority.code[:32], permit_url=permit_url,
                         validate=validate)
