"""Statistics of the authority's dashboard charts, each one grouped SQL statement scoped to one
authority.

Times are stored in UTC and shown in the authority's time zone. SQL groups rows into UTC buckets
(an hour, or a quarter of an hour where the zone's offset is not whole hours) that both SQLite and
PostgreSQL compute the same way; Python then moves each bucket to its local day and hour, so a
check at 23:30 in Paris on a winter Monday (22:30 UTC) counts for Monday, 23 h, and the doubled or
missing hour of a DST change lands where the wall clock says.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, Integer, and_, cast, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import (
    AccessPass,
    Application,
    ApplicationTransitionRecord,
    Membership,
    Organisation,
    PassCheck,
    PassZone,
    Zone,
)
from cirqliz.domain.applications import ApplicationAction
from cirqliz.domain.errors import DomainError
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.zones import ZoneStatus

PERIODS = (7, 30)
DEFAULT_PERIOD = 7
DEFAULT_TIME_ZONE = "Europe/Paris"
VERDICTS = ("VALID", "REFUSED", "UNCERTAIN")
MAX_REASONS = 8  # longer tails are summed into one "other reasons" line


@dataclass(frozen=True, slots=True)
class Period:
    """The last `days` local days up to today, as a half-open UTC interval [start, end)."""

    days: int
    first: date
    last: date
    time_zone: str
    start: datetime
    end: datetime

    @property
    def tz(self) -> ZoneInfo:
        """The authority's time zone."""
        return ZoneInfo(self.time_zone)

    def day_list(self) -> list[date]:
        """Every local day of the period, oldest first."""
        return [self.first + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True, slots=True)
class DayCount:
    """How many on one local day."""

    day: date
    count: int


@dataclass(frozen=True, slots=True)
class ZoneCount:
    """How many in one zone (its code and name for display)."""

    zone_id: uuid.UUID
    code: str
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Checks in one local hour of the day (0–23), by verdict."""

    hour: int
    by_verdict: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All verdicts together."""
        return sum(self.by_verdict.values())


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """How many were refused for one reason (`reason` None: the tail of rarer reasons)."""

    reason: str | None
    count: int


def parse_period(text: str | None) -> int:
    """The number of days asked by `?periode=` (7 or 30; 7 when absent); a typed error otherwise."""
    text = (text or "").strip()
    if not text:
        return DEFAULT_PERIOD
    if text.isdecimal() and int(text) in PERIODS:
        return int(text)
    raise DomainError(f"période inconnue : {text[:20]!r} (7 ou 30 jours)", code="invalid_period")


def authority_time_zone(authority: Organisation) -> str:
    """The IANA time zone in which the authority reads its days and hours (Paris when unset or
    unknown to this machine's time-zone database: the dashboard must still open)."""
    try:
        return str(ZoneInfo(authority.time_zone)) if authority.time_zone else DEFAULT_TIME_ZONE
    except (ValueError, ZoneInfoNotFoundError):
        return DEFAULT_TIME_ZONE


def period_ending(now: datetime, days: int, time_zone: str) -> Period:
    """The `days` local days ending with today (in `time_zone`) as UTC bounds."""
    tz = ZoneInfo(time_zone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tz).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time.min, tz).astimezone(UTC)
    return Period(days=days, first=first, last=today, time_zone=time_zone, start=start, end=end)


def bucket_seconds(period: Period) -> int:
    """3600 when every UTC offset of the period is whole hours, else 900 (e.g. India, Marquesas)."""
    tz = period.tz
    at = period.start
    while at < period.end:
        offset = at.astimezone(tz).utcoffset() or timedelta(0)
        if offset.total_seconds() % 3600:
            return 900
        at += timedelta(hours=1)
    return 3600


def _bucket(session: AsyncSession, column: Any, seconds: int) -> Any:
    """The UTC bucket number of a timestamp column: floor(epoch seconds / `seconds`), in SQL."""
    if session.get_bind().dialect.name == "sqlite":  # naive UTC text; strftime('%s') is its epoch
        return cast(func.strftime("%s", column), Integer).op("/")(seconds)
    # date_part gives a double: several times cheaper than extract's numeric over 200,000 rows.
    return cast(func.floor(func.date_part("epoch", column).op("/")(seconds)), BigInteger)


def _local(bucket: int, seconds: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(int(bucket) * seconds, UTC).astimezone(tz)


def _checks_scope(authority_id: uuid.UUID) -> Any:
    """Checks in the authority's zones, of its passes, or by its agents (as on the checks page)."""
    zones = select(Zone.id).where(col(Zone.authority_id) == authority_id)
    passes = select(AccessPass.id).where(col(AccessPass.authority_id) == authority_id)
    members = select(Membership.user_id).where(col(Membership.organisation_id) == authority_id)
    return or_(col(PassCheck.zone_id).in_(zones), col(PassCheck.pass_id).in_(passes),
               col(PassCheck.agent_id).in_(members))


async def applications_per_day(session: AsyncSession, authority_id: uuid.UUID, period: Period) -> list[DayCount]:
    """Applications submitted to the authority on each local day of the period (zeros included),
    from their submit transitions (`submitted_at` moves when the applicant answers a question)."""
    seconds = bucket_seconds(period)
    record = ApplicationTransitionRecord
    bucket = _bucket(session, record.at, seconds).label("bucket")
    rows = (await session.exec(
        select(bucket, func.count())
        .join(Application, col(Application.id) == record.application_id)
        .where(col(Application.authority_id) == authority_id,
               col(record.action) == ApplicationAction.SUBMIT.value,
               col(record.at) >= period.start, col(record.at) < period.end)
        .group_by(bucket))).all()
    counts = dict.fromkeys(period.day_list(), 0)
    tz = period.tz
    for value, count in rows:
        day = _local(value, seconds, tz).date()
        if day in counts:
            counts[day] += int(count)
    return [DayCount(day, count) for day, count in counts.items()]


@dataclass(frozen=True, slots=True)
class CheckCharts:
    """The two check charts of a period: by local hour and verdict, and refusals by reason."""

    per_hour: list[HourCounts]
    refused_by_reason: list[ReasonCount]


async def check_charts(session: AsyncSession, authority_id: uuid.UUID, period: Period) -> CheckCharts:
    """Checks of the period by local hour of the day (0–23) and verdict (when agents check, and
    when they refuse), and refused checks by reason code, most frequent first: one grouped
    statement, so the period's checks are read once."""
    seconds = bucket_seconds(period)
    bucket = _bucket(session, PassCheck.checked_at, seconds).label("bucket")
    rows = (await session.exec(
        select(bucket, PassCheck.verdict, PassCheck.reason_code, func.count())
        .where(_checks_scope(authority_id),
               col(PassCheck.checked_at) >= period.start, col(PassCheck.checked_at) < period.end)
        .group_by(bucket, PassCheck.verdict, PassCheck.reason_code))).all()
    hours: list[dict[str, int]] = [dict.fromkeys(VERDICTS, 0) for _ in range(24)]
    reasons: dict[str, int] = {}
    tz = period.tz
    for value, verdict, reason, count in rows:
        slot = hours[_local(value, seconds, tz).hour]
        slot[verdict] = slot.get(verdict, 0) + int(count)
        if verdict == "REFUSED":
            reasons[reason or ""] = reasons.get(reason or "", 0) + int(count)
    return CheckCharts([HourCounts(hour, counts) for hour, counts in enumerate(hours)], _top(list(reasons.items())))


async def checks_per_hour(session: AsyncSession, authority_id: uuid.UUID, period: Period) -> list[HourCounts]:
    """`check_charts(...).per_hour`."""
    return (await check_charts(session, authority_id, period)).per_hour


async def active_passes_per_zone(session: AsyncSession, authority_id: uuid.UUID, now: datetime) -> list[ZoneCount]:
    """Passes in force now (active, not expired) per zone of the authority, most first; zones
    without passes are listed too, except archived ones."""
    in_force = and_(col(AccessPass.id) == PassZone.pass_id,
                    col(AccessPass.authority_id) == authority_id,
                    col(AccessPass.status) == PassStatus.ACTIVE.value,
                    col(AccessPass.expires_at) > now)
    count = func.count(AccessPass.id)
    rows = (await session.exec(
        select(Zone.id, Zone.code, Zone.name, Zone.status, count)
        .outerjoin(PassZone, col(PassZone.zone_id) == Zone.id)
        .outerjoin(AccessPass, in_force)
        .where(col(Zone.authority_id) == authority_id)
        .group_by(Zone.id, Zone.code, Zone.name, Zone.status))).all()
    found = [ZoneCount(zone_id, code, name, int(n)) for zone_id, code, name, status, n in rows
             if n or status != ZoneStatus.ARCHIVED.value]
    return sorted(found, key=lambda z: (-z.count, z.name.casefold(), z.code))


def _top(rows: Sequence[tuple[str | None, int]]) -> list[ReasonCount]:
    ranked = sorted(((reason, int(n)) for reason, n in rows), key=lambda r: (-r[1], r[0] or ""))
    top = [ReasonCount(reason, n) for reason, n in ranked[:MAX_REASONS]]
    rest = sum(n for _, n in ranked[MAX_REASONS:])
    return top + ([ReasonCount(None, rest)] if rest else [])


async def refused_applications_by_reason(session: AsyncSession, authority_id: uuid.UUID,
                                         period: Period) -> list[ReasonCount]:
    """Refusals of the period by the reason the reviewer wrote (the reject transition's reason,
    spaces trimmed), most frequent first; beyond MAX_REASONS, one line with reason None."""
    reason = func.trim(ApplicationTransitionRecord.reason).label("reason")
    rows = (await session.exec(
        select(reason, func.count())
        .join(Application, col(Application.id) == ApplicationTransitionRecord.application_id)
        .where(col(Application.authority_id) == authority_id,
               col(ApplicationTransitionRecord.action) == ApplicationAction.REJECT.value,
               col(ApplicationTransitionRecord.at) >= period.start, col(ApplicationTransitionRecord.at) < period.end)
        .group_by(reason))).all()
    return _top([(r or "", n) for r, n in rows])


async def refused_checks_by_reason(session: AsyncSession, authority_id: uuid.UUID,
                                   period: Period) -> list[ReasonCount]:
    """`check_charts(...).refused_by_reason`."""
    return (await check_charts(session, authority_id, period)).refused_by_reason
