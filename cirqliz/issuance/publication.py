"""Publishing the trust bundle of an authority from the database."""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy import Text, cast, event, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import (
    LISTED_PASS_STATUSES,
    AccessPass,
    AccessRule,
    Organisation,
    Zone,
    ZoneClosure,
    ZoneSchedule,
    window_from_json,
)
from cirqliz.domain.windows import ALL_DAYS, TimeWindow, periods_as_windows
from cirqliz.domain.zones import ZoneStatus
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.issuance.partners import bundle_partners
from cirqliz.passcode.bundle import (
    BundleContent,
    BundleZone,
    Closure,
    Geometry,
    geometry_from_lonlat,
    revocation_hash,
    sorted_revocations,
)

# Bundle geometry only helps agents pick their zone: ~5 m tolerance keeps it small.
SIMPLIFY_DEGREES = 0.00005
# Dated periods of an event zone carried in the bundle: the next ones only (a long recurrence
# would otherwise grow every bundle); the publish job runs often enough to roll them forward.
MAX_PERIODS = 32
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


SIMPLIFIED_KEPT = 20_000
"""Zones whose simplified bundle geometry is kept per process (a few KB each)."""
_simplified: OrderedDict[tuple[uuid.UUID, int], Geometry] = OrderedDict()
"""Simplified outlines by (zone id, geometry_version): the database gives a zone a geometry_version
never given before whenever its outline is written (migration 0016), so a pair names one outline."""


def _kept_outline(zone_id: uuid.UUID, version: int) -> Geometry | None:
    found = _simplified.get((zone_id, version))
    if found is not None:
        _simplified.move_to_end((zone_id, version))
    return found


def _outline(zone_id: uuid.UUID, version: int, text: str) -> Geometry:
    """The simplified outline of the zone's geometry (JSON text) at `version`, made once."""
    found = _kept_outline(zone_id, version)
    if found is None:
        found = _simplified[(zone_id, version)] = geometry_from_lonlat(_polygons(json.loads(text)))
        while len(_simplified) > SIMPLIFIED_KEPT:
            _simplified.popitem(last=False)
    return found


def _local_epoch(day: Any, tz: str, *, end: bool = False) -> int:
    moment = datetime.combine(day, time.max if end else time.min, tzinfo=ZoneInfo(tz))
    return int(moment.timestamp()) + (1 if end else 0)


async def _closures(session: AsyncSession, zone_ids: Any,
                    now: datetime | None) -> tuple[dict[uuid.UUID, tuple[Closure, ...]], datetime | None]:
    """Incident closures of the zones (ids, or a subquery giving them) still in force or to come at
    `now` (issue 6), per zone, and when the first of them ends."""
    found: dict[uuid.UUID, list[Closure]] = {}
    first_end: datetime | None = None
    query = select(ZoneClosure).where(col(ZoneClosure.zone_id).in_(zone_ids))
    if now is not None:
        query = query.where(ZoneClosure.ends_at > now)
    for c in (await session.exec(query.order_by(col(ZoneClosure.starts_at), col(ZoneClosure.id)))).all():
        found.setdefault(c.zone_id, []).append(
            Closure(int(c.starts_at.timestamp()), int(c.ends_at.timestamp()), c.reason))
        first_end = c.ends_at if first_end is None else min(first_end, c.ends_at)
    return {k: tuple(v) for k, v in found.items()}, first_end


def _intersect(period: TimeWindow, weekly: TimeWindow) -> TimeWindow | None:
    """The part of a dated period window that a weekly window also covers, when one window can say it."""
    start, end = max(period.start, weekly.start), min(period.end, weekly.end)
    first = max((d for d in (period.first_day, weekly.first_day) if d), default=None)
    last = min((d for d in (period.last_day, weekly.last_day) if d), default=None)
    days = period.weekdays & weekly.weekdays
    if start >= end or not days or (first and last and first > last):
        return None
    return TimeWindow(days, start, end, first, last, weekly.skip_public_holidays)


def restriction_schedule(zone: Any, periods: list[ZoneSchedule], now: datetime | None) -> tuple[TimeWindow, ...]:
    """When the zone's restriction is in force, as the bundle carries it (ADR 0007): its weekly
    restriction windows, within its dated periods when it has some; () means at all times.

    Hours that cannot be expressed as windows give () (in force at all times: a pass is asked for).
    `zone` is a Zone or a row with its restriction_windows and time_zone.
    A weekly window crossing midnight cannot be intersected with a period in one window: the
    periods alone are kept then (restricted for longer, never shorter).
    """
    weekly = tuple(window_from_json(w) for w in zone.restriction_windows or ())
    current = [p for p in periods if p.ends_at is not None and (now is None or p.ends_at > now)][:MAX_PERIODS]
    if not current or any(p.ends_at is None for p in periods):
        return weekly
    dated = periods_as_windows([(p.starts_at, p.ends_at) for p in current if p.ends_at], zone.time_zone)
    if not weekly:
        return dated
    if any(w.crosses_midnight for w in weekly) or any(w.crosses_midnight for w in dated):
        return dated
    both = [x for d in dated for w in weekly if (x := _intersect(d, w)) is not None]
    # Nothing in common: the restriction is never in force during the periods; a window of one
    # minute on the day before the first period says so without meaning "at all times".
    return tuple(dict.fromkeys(both)) or (TimeWindow(ALL_DAYS, 0, 1, dated[0].first_day, dated[0].first_day),)


ZONES_KEPT = 20_000
"""Bundle zones kept per process, by everything they are made from (see bundle_zones)."""
ID, GEOMETRY_VERSION = 0, 10  # positions in the rows of _read_zones's first query
OUTLINES_BY_ID = 200
"""Outlines to read at most by a list of zone ids; more are read with every published zone's."""
_zones_kept: OrderedDict[tuple[Any, ...], BundleZone] = OrderedDict()


def _json_text(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _bundle_zone(zone: Any, rule_texts: tuple[str | None, ...], periods: list[ZoneSchedule],
                 closures: tuple[Closure, ...], geometry: Geometry, now: datetime | None) -> BundleZone:
    """The zone as the bundle carries it, from its row (JSON columns as text), its rules' windows
    (as text), its dated periods, closures and simplified outline."""
    zone_rules = [_json_text(t) for t in rule_texts]
    # A rule without windows admits pass holders at any time: then the zone has no limit.
    windows: list = []
    if zone_rules and all(zone_rules):
        windows = [window_from_json(w) for rule_windows in zone_rules for w in rule_windows]
    restricted = SimpleNamespace(restriction_windows=_json_text(zone.restriction_text), time_zone=zone.time_zone)
    return BundleZone(
        ref=zone.ref, code=zone.code, name=zone.name, kind=zone.kind, tz=zone.time_zone,
        windows=tuple(dict.fromkeys(windows)),
        restriction=restriction_schedule(restricted, periods, now),
        valid_from=_local_epoch(zone.starts_on, zone.time_zone) if zone.starts_on else None,
        valid_until=_local_epoch(zone.ends_on, zone.time_zone, end=True) if zone.ends_on else None,
        closures=closures,
        geometry=geometry,
    )


async def bundle_zones(
    session: AsyncSession, authority_id: uuid.UUID, *, now: datetime | None = None
) -> list[BundleZone]:
    """The authority's published zones as the bundle carries them (closures ending after `now`)."""
    return (await _read_zones(session, authority_id, now))[0]


async def _read_zones(
    session: AsyncSession, authority_id: uuid.UUID, now: datetime | None
) -> tuple[list[BundleZone], datetime | None]:
    """The authority's published zones as the bundle carries them (closures ending after `now`), and
    the first moment after `now` when that list would say something else with the same data (a
    closure or a dated period ending), None if never.

    A constant number of queries whatever the number of zones (issue 18), and little work per zone
    that did not change: plain rows instead of ORM objects, JSON columns read as their stored text,
    outlines (kilobytes each) read only for the zones whose (id, geometry_version) this process has
    not simplified yet, and a zone whose row, outline, rules' windows and closures are the same as
    at an earlier call (and that has no dated period, which depends on `now`) is that call's
    BundleZone object, not a new one: nothing decoded, and its bundle encoding is kept
    (cirqliz.passcode.bundle).
    """
    published = (Zone.authority_id == authority_id, col(Zone.status).in_(PUBLISHED_STATUSES))
    # Columns only: read through the connection (no ORM row processing), after the flush the ORM
    # would have done.
    await session.flush()
    connection = await session.connection()
    zones = (await connection.execute(
        select(Zone.id, Zone.ref, Zone.code, Zone.name, Zone.kind, Zone.time_zone,  # type: ignore[call-overload]
               cast(col(Zone.restriction_windows), Text).label("restriction_text"), Zone.starts_on, Zone.ends_on,
               Zone.data_version, Zone.geometry_version)
        .where(*published).order_by(Zone.ref)
    )).all()
    # Rows by position (ID, …, GEOMETRY_VERSION): a Row's attributes by name cost more than the rest
    # of the loop for a zone that did not change.
    outlines = {row[ID]: found for row in zones
                if (found := _kept_outline(row[ID], row[GEOMETRY_VERSION])) is not None}
    missing = [row[ID] for row in zones if row[ID] not in outlines]
    if missing:
        # With the version read again beside the text: another transaction may have written the
        # outline since the first query (PostgreSQL reads each statement's own snapshot).
        query = select(Zone.id, Zone.geometry_version,  # type: ignore[call-overload]
                       cast(col(Zone.geometry), Text))
        # A few ids as parameters; many (a cold process): every published zone, as the first query.
        query = query.where(col(Zone.id).in_(missing)) if len(missing) <= OUTLINES_BY_ID else query.where(*published)
        for zone_id, version, text in (await connection.execute(query)).all():
            outlines[zone_id] = _outline(zone_id, version, text)
        # A zone deleted meanwhile has no outline: left out, as the next publication will.
        zones = [row for row in zones if row[ID] in outlines]
    # The other tables are read through a subquery, not a list of every zone id as bound parameters
    # (rendering a thousand of them costs more than the query); all the authority's zones, not only
    # the published ones, so a status changed by another transaction meanwhile leaves no listed zone
    # without its rules.
    ids = select(Zone.id).where(Zone.authority_id == authority_id)
    rules: dict[uuid.UUID, list[str | None]] = {}
    periods: dict[uuid.UUID, list[ZoneSchedule]] = {}
    if zones:
        found = await connection.execute(select(AccessRule.zone_id,  # type: ignore[call-overload]
                                                cast(col(AccessRule.windows), Text))
                                         .where(col(AccessRule.zone_id).in_(ids))
                                         # a stable order: the same rules always give the same bundle
                                         .order_by(col(AccessRule.position), col(AccessRule.id)))
        for zone_id, rule_windows in found.all():
            rules.setdefault(zone_id, []).append(rule_windows)
        for period in (await session.exec(select(ZoneSchedule).where(col(ZoneSchedule.zone_id).in_(ids))
                                          .order_by(col(ZoneSchedule.starts_at)))).all():
            periods.setdefault(period.zone_id, []).append(period)
    closures, first_end = await _closures(session, ids, now) if zones else ({}, None)
    ends = [p.ends_at for found in periods.values() for p in found
            if p.ends_at is not None and (now is None or p.ends_at > now)]
    if ends:
        first_end = min(ends) if first_end is None else min(first_end, *ends)
    out = []
    for zone in zones:
        row = tuple(zone)
        zone_id = row[ID]
        rule_texts = tuple(rules.get(zone_id, ()))
        # Most zones have neither: no lookup then.
        zone_closures = closures.get(zone_id, ()) if closures else ()
        geometry = outlines[zone_id]
        zone_periods = periods.get(zone_id) if periods else None
        if zone_periods:  # what the bundle says of them depends on `now`: made each time
            out.append(_bundle_zone(zone, rule_texts, zone_periods, zone_closures, geometry, now))
            continue
        # The outline by identity: a kept BundleZone holds its outline object, so no other object
        # has that id while the entry is kept, and the same (id, geometry_version) gives the same object.
        key = (row, id(geometry), rule_texts, zone_closures)
        kept = _zones_kept.get(key)
        if kept is None or kept.geometry is not geometry:
            kept = _zones_kept[key] = _bundle_zone(zone, rule_texts, [], zone_closures, geometry, now)
            while len(_zones_kept) > ZONES_KEPT:
                _zones_kept.popitem(last=False)
        else:
            _zones_kept.move_to_end(key)
        out.append(kept)
    return out, first_end


# Statuses rendered as literals, in the order of ix_access_pass_listed's predicate (migration 0017):
# neither planner matches bound parameters to a partial index's WHERE (PostgreSQL's generic plans,
# SQLite always).
_LISTED = col(AccessPass.status).in_(sa.bindparam("listed_statuses", LISTED_PASS_STATUSES, expanding=True,
                                                  literal_execute=True))


def _listed(authority_id: uuid.UUID, now: datetime) -> tuple[Any, ...]:
    """The authority's passes the bundle lists at `now`: revoked or suspended, not expired yet."""
    return (AccessPass.authority_id == authority_id, _LISTED, AccessPass.expires_at > now)


async def _zone_data_version(session: AsyncSession, authority_id: uuid.UUID) -> int:
    return (await session.exec(
        select(func.max(Zone.data_version)).where(Zone.authority_id == authority_id))).one() or 0


async def revoked_serials(session: AsyncSession, authority_id: uuid.UUID, *, now: datetime) -> list[bytes]:
    """Serials of revoked or suspended passes that have not expired yet (in no particular order).

    Read as one comma-separated text, not a row per pass (issue 18: thousands of them at city scale)."""
    joined = (await session.exec(
        select(func.aggregate_strings(AccessPass.serial, ","))  # type: ignore[call-overload]
        .where(*_listed(authority_id, now))
    )).one()
    return [bytes.fromhex(serial) for serial in joined.split(",")] if joined else []


# ---- the inputs of a bundle, kept while the database says nothing changed (issue 18) ---------------
# Publishing again at city scale re-read every zone's outline (~2 MB) and hashed every revoked
# serial, though most publications follow no change of them. The database bumps a change counter
# (bundle_change, migration 0014) in the very transaction that writes a zone, a rule, a dated
# period, a closure or a listed pass, whatever wrote it; the publish job already relies on it. So
# what a publication read (zones, revocation list, zone data version) is kept per keys folder and
# authority with the counter read before reading them (a change committed meanwhile bumps it past
# that value), and used again while: the counter is the same, the last stored bundle is the one
# this process wrote from them (another database or another publisher: read again), the clock has
# not gone back, and nothing read has ended since (a closure, a dated period or a listed pass:
# `until`). It is kept only once the transaction that read it has committed (a rolled back write
# of its own would otherwise stay in it). Any other case reads everything, as before.

BUNDLE_CHANGE = sa.table("bundle_change", sa.column("id", sa.Integer), sa.column("changes", sa.BigInteger))


@dataclass(frozen=True)
class BundleInputs:
    """What a bundle carries from the database besides the authority's name and partners."""

    zones: tuple[BundleZone, ...]
    revoked: bytes  # the revocation list (sorted_revocations of the revocation hashes)
    revocations: int  # how many passes it lists
    zone_data_version: int


@dataclass(frozen=True)
class _Kept:
    changes: int
    stamp: tuple[int, int, int] | None
    read_at: datetime
    until: datetime | None
    inputs: BundleInputs


_inputs_kept: dict[tuple[str, uuid.UUID, str], _Kept] = {}


def bundle_stamp(folder: Path, seq: int) -> tuple[int, int, int] | None:
    """(seq, mtime_ns, size) of bundle `seq` stored in a keys folder, None if missing: tells a bundle
    file from any other written later under the same seq."""
    try:
        info = (folder / "bundles" / f"{seq}.cose").stat()
    except OSError:
        return None
    return (seq, info.st_mtime_ns, info.st_size)


async def _changes(session: AsyncSession) -> int | None:
    found = (await session.exec(select(BUNDLE_CHANGE.c.changes)  # type: ignore[call-overload]
                                .where(BUNDLE_CHANGE.c.id == 1))).first()
    return None if found is None else int(found)


async def _revocation_list(session: AsyncSession, authority_id: uuid.UUID, iss: str,
                           now: datetime) -> tuple[bytes, int, datetime | None]:
    """The revocation list of the authority's listed passes at `now`, how many passes, and when the
    first of them expires."""
    joined, first_end = (await session.exec(
        select(func.aggregate_strings(AccessPass.serial, ","),  # type: ignore[call-overload]
               func.min(AccessPass.expires_at)).where(*_listed(authority_id, now))
    )).one()
    if not joined:
        return b"", 0, None
    last = _last_revocations.get(iss)
    if last is not None and last[0] == joined:  # the same serials in the same order: the same list
        return last[1], last[2], first_end
    serials = joined.split(",")
    revoked = sorted_revocations(_revocation_hashes(iss, serials))
    if len(_last_revocations) >= 64:
        _last_revocations.clear()
    _last_revocations[iss] = (joined, revoked, len(serials))
    return revoked, len(serials), first_end


REVOCATION_HASHES_KEPT = 500_000
"""Revocation hashes kept per process (about 150 bytes each), by authority code and serial."""
_hashes_kept: dict[str, dict[str, bytes]] = {}
_last_revocations: dict[str, tuple[str, bytes, int]] = {}
"""Per authority code: the last serials read (as one text), their revocation list and count."""


def _revocation_hashes(iss: str, serials: list[str]) -> list[bytes]:
    """The revocation hashes of the serials (hex text) under `iss`, each computed once per process:
    a publication after one revocation hashes one serial, not every listed one."""
    kept = _hashes_kept.setdefault(iss, {})
    out = []
    for serial in serials:
        found = kept.get(serial)
        if found is None:
            found = kept[serial] = revocation_hash(iss, bytes.fromhex(serial))
        out.append(found)
    if sum(len(k) for k in _hashes_kept.values()) > REVOCATION_HASHES_KEPT:
        _hashes_kept.clear()  # bounded: the ones listed now are kept
        if len(serials) <= REVOCATION_HASHES_KEPT:
            _hashes_kept[iss] = dict(zip(serials, out, strict=True))
    return out


async def bundle_inputs(session: AsyncSession, authority: Organisation, keys_folder: Path | None,
                        now: datetime) -> tuple[BundleInputs, Callable[[int], None]]:
    """The authority's bundle inputs at `now` (read, or kept from an earlier publication: see above),
    and a function to call with the seq of the bundle stored from them (it keeps them)."""
    changes = await _changes(session)  # first: see above
    key = (str(keys_folder), authority.id, authority.code)  # the code: the revocation hashes depend on it
    kept = _inputs_kept.get(key)
    if (kept is not None and changes is not None and keys_folder is not None and kept.changes == changes
            and kept.read_at <= now and (kept.until is None or now < kept.until)
            and kept.stamp is not None and kept.stamp == bundle_stamp(keys_folder, authority.last_bundle_seq)):
        inputs, until = kept.inputs, kept.until
    else:
        zones, zones_end = await _read_zones(session, authority.id, now)
        revoked, count, revoked_end = await _revocation_list(session, authority.id, authority.code, now)
        version = await _zone_data_version(session, authority.id)
        inputs = BundleInputs(tuple(zones), revoked, count, version)
        until = min((t for t in (zones_end, revoked_end) if t is not None), default=None)

    def keep(seq: int) -> None:
        if changes is None or keys_folder is None:
            return
        entry = _Kept(changes, bundle_stamp(keys_folder, seq), now, until, inputs)

        def remember(_session: Any) -> None:
            _inputs_kept[key] = entry
        _inputs_kept.pop(key, None)
        event.listen(session.sync_session, "after_commit", remember, once=True)
    return inputs, keep


async def publish_bundle(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    keystore: KeyStore,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
    max_age: int = 3 * 86400,
    zones: list[BundleZone] | None = None,
    serials: list[bytes] | None = None,
) -> tuple[bytes, BundleContent]:
    """Build, sign and store the authority's next trust bundle, and audit it.

    `zones` and `serials`, when the caller has just read them in the same transaction (the publish
    job does, to compare with the last bundle), are used as they are instead of being read again;
    otherwise they come from bundle_inputs (kept from the last publication while nothing changed).
    """
    authority = await get_or_raise(session, Organisation, authority_id)
    now = clock.now()
    keep: Callable[[int], None] | None = None
    if zones is None and serials is None:
        inputs, keep = await bundle_inputs(session, authority, getattr(keystore, "path", None), now)
        zones, revoked, count, version = list(inputs.zones), inputs.revoked, inputs.revocations, \
            inputs.zone_data_version
    else:
        if zones is None:
            zones = await bundle_zones(session, authority_id, now=now)
        if serials is None:
            serials = await revoked_serials(session, authority_id, now=now)
        revoked, count = sorted_revocations(revocation_hash(authority.code, s) for s in serials), len(serials)
        version = await _zone_data_version(session, authority_id)
    # after_seq: a keys/ folder restored from an older copy must not make the seq go back
    # (phones would refuse every new bundle as a rollback until it caught up).
    data, content = keystore.build_bundle(
        zones=zones, revoked_entries=revoked, max_age=max_age, zone_data_version=version,
        after_seq=authority.last_bundle_seq, name=authority.name,
        partners=await bundle_partners(session, authority_id),
    )
    authority.last_bundle_seq = content.seq
    if keep is not None:
        keep(content.seq)
    await record_change(session, actor_id=actor_id, entity="bundle", entity_id=str(content.seq),
                        action="publish", at=now,
                        after={"authority": authority.code, "seq": content.seq, "zones": len(zones),
                               "revocations": count, "bytes": len(data)})
    return data, content
