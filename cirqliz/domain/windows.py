"""Time windows: when a zone admits pass holders, or when a given pass may be used.

A window is a weekday mask (bit 0 = Monday ... bit 6 = Sunday) with a start and an end minute of
the local day. When `end <= start` the window crosses midnight: it opens on a masked day at
`start` and closes the next day at `end`. Windows are always evaluated in the zone's IANA time
zone, so a 07:00-11:00 window stays 07:00-11:00 local on both sides of a DST change. Optional
first/last days (local dates, inclusive) and "not on public holidays" refer to the day on which
the window opened.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cirqliz.domain.errors import WindowError

MINUTES_PER_DAY = 1440
ALL_DAYS = 0b1111111
WEEKDAY_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_EPOCH_DAY = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=256)
def zone_info(name: str) -> ZoneInfo:
    """The IANA time zone `name`, cached; a WindowError if it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        # OSError: a name like "Europe" is a folder of the tz database, not a zone
        raise WindowError(f"fuseau horaire inconnu : {name!r}", code="unknown_time_zone") from exc


def day_number(day: date) -> int:
    """Days since 1970-01-01 (how dates travel in passes and bundles)."""
    return day.toordinal() - _EPOCH_DAY


def day_from_number(number: int) -> date:
    """Inverse of day_number."""
    return date.fromordinal(number + _EPOCH_DAY)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A weekly recurring window, optionally bounded by dates and closed on public holidays."""

    weekdays: int
    start: int
    end: int
    first_day: date | None = None
    last_day: date | None = None
    skip_public_holidays: bool = False

    def __post_init__(self) -> None:
        for name in ("weekdays", "start", "end"):
            if type(getattr(self, name)) is not int:
                raise WindowError(f"{name} doit être un entier", code="invalid_window")
        if not 0 < self.weekdays <= ALL_DAYS:
            raise WindowError("aucun jour de la semaine choisi", code="invalid_window_days")
        if not 0 <= self.start < MINUTES_PER_DAY:
            raise WindowError("heure de début hors de 00:00–23:59", code="invalid_window_start")
        if not 0 < self.end <= MINUTES_PER_DAY:
            raise WindowError("heure de fin hors de 00:01–24:00", code="invalid_window_end")
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise WindowError("la date de début suit la date de fin", code="invalid_window_dates")

    @property
    def crosses_midnight(self) -> bool:
        """True when the window closes on the day after it opens."""
        return self.end <= self.start

    def opening_day(self, local: datetime) -> date | None:
        """The local day on which the window containing wall time `local` opened, if any."""
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        if self.crosses_midnight:
            if minute >= self.start and self.weekdays >> weekday & 1:
                return local.date()
            if minute < self.end and self.weekdays >> ((weekday - 1) % 7) & 1:
                return local.date() - timedelta(days=1)
            return None
        if self.start <= minute < self.end and self.weekdays >> weekday & 1:
            return local.date()
        return None

    def contains_local(self, local: datetime, holidays: Container[date] = ()) -> bool:
        """Whether wall time `local` (in the zone's time zone) falls inside this window."""
        if self.first_day is None and self.last_day is None and not self.skip_public_holidays:
            # The common window (no dates, no holidays): the opening day itself is not needed, so
            # skip building date objects; this runs on every verify.
            minute = local.hour * 60 + local.minute
            weekday = local.weekday()
            if self.end <= self.start:
                return bool(
                    (minute >= self.start and self.weekdays >> weekday & 1)
                    or (minute < self.end and self.weekdays >> (weekday - 1) % 7 & 1)
                )
            return self.start <= minute < self.end and bool(self.weekdays >> weekday & 1)
        day = self.opening_day(local)
        if day is None:
            return False
        if self.first_day is not None and day < self.first_day:
            return False
        if self.last_day is not None and day > self.last_day:
            return False
        return not (self.skip_public_holidays and day in holidays)

    def contains(self, instant: datetime, tz: str, holidays: Container[date] = ()) -> bool:
        """Whether the aware instant falls inside this window, evaluated in IANA zone `tz`."""
        return self.contains_local(to_local(instant, tz), holidays)

    def describe(self) -> str:
        """Short human form, e.g. 'Mo-Fr 07:00-11:00'."""
        days = _describe_days(self.weekdays)
        text = f"{days} {format_minute(self.start)}-{format_minute(self.end)}"
        if self.first_day or self.last_day:
            text += f" [{self.first_day or '…'} → {self.last_day or '…'}]"
        if self.skip_public_holidays:
            text += " sauf fériés"
        return text


def to_local(instant: datetime, tz: str) -> datetime:
    """The wall time of an aware instant in IANA zone `tz`."""
    if instant.tzinfo is None:
        raise WindowError("instant sans fuseau horaire : passer une heure UTC", code="naive_time")
    return instant.astimezone(zone_info(tz))


def local_from_epoch(seconds: int, tz: str) -> datetime:
    """Wall time in `tz` of UTC epoch seconds."""
    return datetime.fromtimestamp(seconds, zone_info(tz))  # same as via UTC, one object fewer


# utc_offset_at keeps, per zone, the last span of _SPAN seconds found to have one UTC offset
# throughout: its two ends have the same offset, and offsets never change twice within a span
# (the closest two changes in the tz database are days apart; tests/unit/test_windows_dst.py checks).
_SPAN = 3600
_OFFSET_SPANS: dict[str, tuple[int, int, int]] = {}


def _offset_seconds(seconds: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(seconds, zone).utcoffset() or timedelta()
    return offset.days * 86400 + offset.seconds


def utc_offset_at(seconds: int, tz: str) -> int:
    """The UTC offset in seconds of IANA zone `tz` at UTC epoch `seconds`: local wall time is
    seconds + offset, as `local_from_epoch` has it, without building a datetime on most calls."""
    span = _OFFSET_SPANS.get(tz)
    if span is not None and span[0] <= seconds < span[1]:
        return span[2]
    zone = zone_info(tz)
    offset = _offset_seconds(seconds, zone)
    start = seconds - seconds % _SPAN
    try:
        same = _offset_seconds(start, zone) == offset == _offset_seconds(start + _SPAN - 1, zone)
    except (OverflowError, ValueError, OSError):  # a span that ends past the datetime range
        same = False
    if same and (span is not None or len(_OFFSET_SPANS) < 256):
        _OFFSET_SPANS[tz] = (start, start + _SPAN, offset)
    return offset


def any_window_contains(
    windows: Iterable[TimeWindow], local: datetime, holidays: Container[date] = ()
) -> bool:
    """True when at least one window contains the wall time `local`."""
    return any(w.contains_local(local, holidays) for w in windows)


def format_minute(minute: int) -> str:
    """Minute of day as HH:MM (1440 is 24:00)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_minute(text: str) -> int:
    """'HH:MM' to minute of day; '24:00' is allowed as an end."""
    try:
        hours, minutes = text.strip().split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError as exc:
        raise WindowError(f"heure illisible : {text!r} (attendu HH:MM)", code="invalid_time") from exc
    if not (0 <= int(minutes) < 60 and 0 <= value <= MINUTES_PER_DAY):
        raise WindowError(f"heure hors limites : {text!r}", code="invalid_time")
    return value


def parse_weekdays(text: str) -> int:
    """'Mo-Fr', 'Mo,We,Sa' or 'Mo-Su' (also French 'lu-ve') to a weekday mask."""
    french = ("lu", "ma", "me", "je", "ve", "sa", "di")
    lookup = {n.lower(): i for i, n in enumerate(WEEKDAY_NAMES)} | {n: i for i, n in enumerate(french)}
    mask = 0
    for part in text.lower().split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in lookup or last not in lookup:
                raise WindowError(f"jours illisibles : {text!r}", code="invalid_days")
            i = lookup[first]
            while True:
                mask |= 1 << i
                if i == lookup[last]:
                    break
                i = (i + 1) % 7
        elif part in lookup:
            mask |= 1 << lookup[part]
        else:
            raise WindowError(f"jours illisibles : {text!r}", code="invalid_days")
    return mask


def parse_window(spec: str) -> TimeWindow:
    """A compact window spec 'Mo-Fr 07:00-11:00' (days optional: every day)."""
    spec = spec.strip()
    days_text, _, hours_text = spec.rpartition(" ")
    if "-" not in hours_text:
        raise WindowError(f"créneau illisible : {spec!r} (ex. « Mo-Fr 07:00-11:00 »)")
    start_text, _, end_text = hours_text.partition("-")
    mask = parse_weekdays(days_text) if days_text else ALL_DAYS
    return TimeWindow(mask, parse_minute(start_text), parse_minute(end_text))


def _describe_days(mask: int) -> str:
    if mask == ALL_DAYS:
        return "Mo-Su"
    days = [i for i in range(7) if mask >> i & 1]
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{WEEKDAY_NAMES[days[0]]}-{WEEKDAY_NAMES[days[-1]]}"
    return ",".join(WEEKDAY_NAMES[i] for i in days)



def periods_as_windows(periods: Iterable[tuple[datetime, datetime]], tz: str) -> tuple[TimeWindow, ...]:
    """Dated local windows covering the periods [start, end) (aware datetimes) in IANA zone `tz`.

    How an event zone's dated periods travel in a bundle's restriction schedule: a period within
    one local day is one window on that day; a longer one is its first day from the start to
    24:00, its whole days in between (one window with first and last days), and its last day
    from 00:00 to the end (none when it ends at local midnight). Seconds widen a period to whole
    minutes. In the hour that repeats when clocks go back, wall-time windows cannot tell the two
    occurrences apart: both are covered, so the restriction is never shorter than the period.
    Windows that touch or overlap are merged; the result is sorted by day, then start.
    """
    pieces: list[tuple[date, date, int, int]] = []
    for start, end in periods:
        if start.tzinfo is None or end.tzinfo is None:
            raise WindowError("période sans fuseau horaire : passer des heures UTC", code="naive_time")
        first = math.floor(start.timestamp()) // 60 * 60
        last = -(-math.ceil(end.timestamp()) // 60) * 60
        if last < first:
            raise WindowError("la fin d'une période précède son début", code="invalid_period")
        cut = _constant_offset_pieces(first, last, zone_info(tz))
        for n, (piece_start, piece_end, offset) in enumerate(cut):
            # Up to a change where clocks go forward, the skipped wall times are covered too (they
            # never occur), so the two sides join into one window.
            end_offset = max(offset, cut[n + 1][2]) if n + 1 < len(cut) else offset
            pieces += _wall_pieces(_wall(piece_start, offset), _wall(piece_end, end_offset))
    return tuple(
        TimeWindow(ALL_DAYS, begin, finish, first_day=first_day, last_day=last_day)
        for first_day, last_day, begin, finish in _merged(pieces)
    )


def _wall(epoch: int, offset: timedelta) -> datetime:
    """Wall time at `epoch` with UTC offset `offset` (as a UTC datetime: only its fields are used)."""
    return datetime.fromtimestamp(epoch, UTC) + offset


def _constant_offset_pieces(first: int, last: int, zone: ZoneInfo) -> list[tuple[int, int, timedelta]]:
    """[first, last) cut where the UTC offset of `zone` changes: (start, end, offset) pieces."""
    def offset(epoch: int) -> timedelta:
        return datetime.fromtimestamp(epoch, zone).utcoffset() or timedelta()

    out = []
    piece, current, known = first, offset(first), first  # offset(known) == current
    while known < last - 1:
        # One probe a day: offsets change at most once a day (twice a year in practice).
        probe = min(known + 86400, last - 1)
        if offset(probe) == current:
            known = probe
            continue
        low, high = known, probe  # offset(low) == current != offset(high)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == current else (low, middle)
        out.append((piece, high, current))
        piece, current, known = high, offset(high), high
    if piece < last:
        out.append((piece, last, current))
    return out


def _wall_pieces(begin: datetime, finish: datetime) -> list[tuple[date, date, int, int]]:
    """(first day, last day, start, end) covering the wall times [begin, finish), one offset."""
    begin_minute, finish_minute = begin.hour * 60 + begin.minute, finish.hour * 60 + finish.minute
    day, last_day = begin.date(), finish.date()
    if finish <= begin:
        return []
    if day == last_day:
        return [(day, day, begin_minute, finish_minute)]
    out = []
    if begin_minute:
        out.append((day, day, begin_minute, MINUTES_PER_DAY))
        day += timedelta(days=1)
    if day < last_day:
        out.append((day, last_day - timedelta(days=1), 0, MINUTES_PER_DAY))
    if finish_minute:
        out.append((last_day, last_day, 0, finish_minute))
    return out


def _merged(pieces: list[tuple[date, date, int, int]]) -> list[tuple[date, date, int, int]]:
    """Merge pieces on the same day that touch, and whole-day ranges that touch, until none do."""
    out = sorted(set(pieces))
    while True:
        pair = next(
            ((a, b, joined) for n, a in enumerate(out) for b in out[n + 1 :] if (joined := _join(a, b)) is not None),
            None,
        )
        if pair is None:
            return out
        a, b, joined = pair
        out = sorted((set(out) - {a, b}) | {joined})


def _join(a: tuple[date, date, int, int], b: tuple[date, date, int, int]) -> tuple[date, date, int, int] | None:
    whole = (0, MINUTES_PER_DAY)
    if a[2:] == whole and b[2:] == whole and a[0] <= b[1] + timedelta(days=1) and b[0] <= a[1] + timedelta(days=1):
        return (min(a[0], b[0]), max(a[1], b[1]), 0, MINUTES_PER_DAY)
    if a[0] == a[1] == b[0] == b[1] and a[2] <= b[3] and b[2] <= a[3]:
        return (a[0], a[0], min(a[2], b[2]), max(a[3], b[3]))
    return None
