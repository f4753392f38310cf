"""Publishing the trust bundle of an authority from the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import shape
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import AccessPass, AccessRule, Organisation, Zone, ZoneClosure, window_from_json
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.zones import ZoneStatus
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.passcode.bundle import BundleContent, BundleZone, Closure, geometry_from_lonlat

# Bundle geometry only helps agents pick their zone: ~5 m tolerance keeps it small.
SIMPLIFY_DEGREES = 0.00005
PUBLISHED_STATUSES = (ZoneStatus.ACTIVE.value, ZoneStatus.SUSPENDED.value)
# A suspended zone (no new applications; an event zone between two occurrences) stays in the bundle
# unchanged: its restriction is paused, not closed to everyone, so passes already issued stay valid.
# Closing a zone to traffic is an incident (a dated closure), which agents see as ZONE_CLOSED.


def _polygons(geometry: dict[str, Any]) -> list[list[list[tuple[float, float]]]]:
    simplified = shape(geometry).simplify(SIMPLIFY_DEGREES, preserve_topology=True)
    polygons = [simplified] if simplified.geom_type == "Polygon" else list(simplified.geoms)
    return [
        [list(p.exterior.coords), *[list(i.coords) for i in p.interiors]]
        for p in polygons
    ]


def _local_epoch(day: Any, tz: str, *, end: bool = False) -> int:
    moment = datetime.combine(day, time.max if end else time.min, tzinfo=ZoneInfo(tz))
    return int(moment.timestamp()) + (1 if end else 0)


async def _closures(session: AsyncSession, zone_id: uuid.UUID, now: datetime | None) -> tuple[Closure, ...]:
    """Incident closures of a zone still in force or to come at `now` (issue 6)."""
    query = select(ZoneClosure).where(ZoneClosure.zone_id == zone_id)
    if now is not None:
        query = query.where(ZoneClosure.ends_at > now)
    rows = (await session.exec(query.order_by(col(ZoneClosure.starts_at), col(ZoneClosure.id)))).all()
    return tuple(Closure(int(c.starts_at.timestamp()), int(c.ends_at.timestamp()), c.reason) for c in rows)


async def bundle_zones(
    session: AsyncSession, authority_id: uuid.UUID, *, now: datetime | None = None
) -> list[BundleZone]:
    """The authority's published zones as the bundle carries them (closures ending after `now`)."""
    zones = (await session.exec(
        select(Zone).where(Zone.authority_id == authority_id, col(Zone.status).in_(PUBLISHED_STATUSES))
        .order_by(Zone.ref)
    )).all()
    out = []
    for zone in zones:
        rules = (await session.exec(select(AccessRule).where(AccessRule.zone_id == zone.id))).all()
        # A rule without windows admits pass holders at any time: then the zone has no limit.
        windows: list = []
        if rules and all(r.windows for r in rules):
            windows = [window_from_json(w) for r in rules for w in (r.windows or [])]
        out.append(BundleZone(
            ref=zone.ref, code=zone.code, name=zone.name, kind=zone.kind, tz=zone.time_zone,
            windows=tuple(dict.fromkeys(windows)),
            valid_from=_local_epoch(zone.starts_on, zone.time_zone) if zone.starts_on else None,
            valid_until=_local_epoch(zone.ends_on, zone.time_zone, end=True) if zone.ends_on else None,
            closures=await _closures(session, zone.id, now),
            geometry=geometry_from_lonlat(_polygons(zone.geometry)),
        ))
    return out


async def revoked_serials(session: AsyncSession, authority_id: uuid.UUID, *, now: datetime) -> list[bytes]:
    """Serials of revoked or suspended passes that have not expired yet."""
    rows = (await session.exec(
        select(AccessPass.serial).where(
            AccessPass.authority_id == authority_id,
            col(AccessPass.status).in_((PassStatus.REVOKED.value, PassStatus.SUSPENDED.value)),
            AccessPass.expires_at > now,
        )
    )).all()
    return [bytes.fromhex(serial) for serial in rows]


async def publish_bundle(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    keystore: KeyStore,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
    max_age: int = 3 * 86400,
) -> tuple[bytes, BundleContent]:
    """Build, sign and store the authority's next trust bundle, and audit it."""
    authority = await get_or_raise(session, Organisation, authority_id)
    zones = await bundle_zones(session, authority_id, now=clock.now())
    serials = await revoked_serials(session, authority_id, now=clock.now())
    version = max((z.data_version for z in (await session.exec(
        select(Zone).where(Zone.authority_id == authority_id))).all()), default=0)
    # after_seq: a keys/ folder restored from an older copy must not make the seq go back
    # (phones would refuse every new bundle as a rollback until it caught up).
    data, content = keystore.build_bundle(
        zones=zones, revoked=[(authority.code, s) for s in serials], max_age=max_age, zone_data_version=version,
        after_seq=authority.last_bundle_seq,
    )
    authority.last_bundle_seq = content.seq
    await record_change(session, actor_id=actor_id, entity="bundle", entity_id=str(content.seq),
                        action="publish", at=datetime.now(UTC) if clock is None else clock.now(),
                        after={"authority": authority.code, "seq": content.seq, "zones": len(zones),
                               "revocations": len(serials), "bytes": len(data)})
    return data, content
