"""Windows evaluated in the zone's time zone across DST changes and midnight."""

from datetime import UTC, date, datetime, timedelta

import pytest

from cirqliz.domain.passes import pass_days
from cirqliz.domain.windows import TimeWindow, parse_window

PARIS = "Europe/Paris"
MORNING = parse_window("Mo-Su 07:00-11:00")
NIGHT = parse_window("Mo-Su 22:00-06:00")
EARLY = parse_window("Mo-Su 02:00-03:00")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "instant", "inside"),
    [
        # Sunday 29 March 2026: clocks go 02:00 → 03:00 (UTC+1 → UTC+2)
        (MORNING, utc(2026, 3, 28, 6, 0), True),    # Sat 07:00 CET
        (MORNING, utc(2026, 3, 29, 5, 0), True),    # Sun 07:00 CEST (05:00 UTC)
        (MORNING, utc(2026, 3, 29, 4, 59), False),  # Sun 06:59 CEST
        (MORNING, utc(2026, 3, 29, 9, 0), False),   # Sun 11:00 CEST
        (MORNING, utc(2026, 3, 28, 9, 59), True),   # Sat 10:59 CET
        # the hour 02:00-03:00 does not exist that night
        (EARLY, utc(2026, 3, 29, 0, 59), False),    # 01:59 CET
        (EARLY, utc(2026, 3, 29, 1, 0), False),     # 03:00 CEST
        (EARLY, utc(2026, 3, 30, 0, 30), True),     # Mon 02:30 CEST
        # Sunday 25 October 2026: 03:00 → 02:00 (UTC+2 → UTC+1), 02:00-03:00 happens twice
        (EARLY, utc(2026, 10, 25, 0, 30), True),    # first 02:30 (CEST)
        (EARLY, utc(2026, 10, 25, 1, 30), True),    # second 02:30 (CET)
        (EARLY, utc(2026, 10, 25, 2, 0), False),    # 03:00 CET
        (MORNING, utc(2026, 10, 25, 6, 0), True),   # 07:00 CET
        (MORNING, utc(2026, 10, 25, 5, 30), False), # 06:30 CET, though 07:30 summer time
        # across midnight, both sides of a DST night
        (NIGHT, utc(2026, 3, 28, 21, 0), True),     # Sat 22:00 CET
        (NIGHT, utc(2026, 3, 29, 3, 59), True),     # Sun 05:59 CEST
        (NIGHT, utc(2026, 3, 29, 4, 0), False),     # Sun 06:00 CEST
        (NIGHT, utc(2026, 10, 25, 4, 59), True),    # Sun 05:59 CET
        (NIGHT, utc(2026, 10, 25, 5, 0), False),    # Sun 06:00 CET
    ],
)
def test_windows_follow_local_time(window, instant, inside):
    assert window.contains(instant, PARIS) is inside


FRIDAY_NIGHT = parse_window("Fr 22:00-06:00")


@pytest.mark.parametrize(
    ("local_hour", "day", "inside"),
    [
        (23, date(2026, 3, 6), True),   # Friday 23:00
        (5, date(2026, 3, 7), True),    # Saturday 05:00, still Friday's window
        (6, date(2026, 3, 7), False),   # Saturday 06:00: closed
        (23, date(2026, 3, 7), False),  # Saturday 23:00: not a Friday
        (1, date(2026, 3, 6), False),   # Friday 01:00 belongs to Thursday's night
    ],
)
def test_midnight_crossing_belongs_to_the_opening_day(local_hour, day, inside):
    local = datetime(day.year, day.month, day.day, local_hour, 0)
    assert FRIDAY_NIGHT.contains_local(local) is inside


def test_last_day_applies_to_the_opening_day_of_a_night_window():
    window = TimeWindow(0b1111111, 22 * 60, 6 * 60, last_day=date(2026, 3, 6))
    assert window.contains_local(datetime(2026, 3, 7, 5, 0))   # opened on the last day
    assert not window.contains_local(datetime(2026, 3, 7, 23, 0))


def test_holidays_close_the_window_that_opens_on_them():
    window = TimeWindow(0b1111111, 22 * 60, 6 * 60, skip_public_holidays=True)
    may_day = {date(2026, 5, 1)}
    assert not window.contains_local(datetime(2026, 5, 1, 23, 0), may_day)
    assert not window.contains_local(datetime(2026, 5, 2, 1, 0), may_day)
    assert window.contains_local(datetime(2026, 4, 30, 23, 0), may_day)


@pytest.mark.parametrize(
    ("start", "duration", "days"),
    [
        (utc(2026, 3, 28, 23, 0), timedelta(hours=23), 1),   # the 23-hour Sunday, whole
        (utc(2026, 3, 28, 23, 0), timedelta(hours=24), 2),   # one hour into Monday
        (utc(2026, 3, 2, 8, 0), timedelta(hours=12), 1),
        (utc(2026, 3, 2, 8, 0), timedelta(hours=24), 2),
        (utc(2026, 3, 1, 23, 0), timedelta(hours=24), 1),    # exactly Monday, midnight to midnight
        (utc(2026, 10, 24, 22, 0), timedelta(hours=25), 1),  # the 25-hour Sunday
    ],
)
def test_pass_days_count_local_days(start, duration, days):
    assert len(pass_days(start, start + duration, PARIS)) == days


# ---- utc_offset_at: the verifier's local time by epoch arithmetic ----------------------------


def test_no_zone_changes_its_offset_twice_within_a_cached_span() -> None:
    """utc_offset_at caches a span whose two ends have the same offset: only right while no zone
    has two changes closer than a span (the closest in the tz database are days apart)."""
    import zoneinfo
    from zoneinfo import _zoneinfo as pure_zoneinfo  # the pure-Python reader exposes the transitions

    from cirqliz.domain import windows

    closest = min(
        (b - a, name)
        for name in zoneinfo.available_timezones()
        for zone in [pure_zoneinfo.ZoneInfo.no_cache(name)]
        for a, b in zip(zone._trans_utc, zone._trans_utc[1:], strict=False)
    )
    assert closest[0] > windows._SPAN, closest


@pytest.mark.parametrize("tz", ["Europe/Paris", "Australia/Lord_Howe", "Africa/Monrovia", "America/St_Johns"])
def test_utc_offset_at_follows_every_change_minute_by_minute(tz: str) -> None:
    """Scanned in order across changes (the cache is asked, hit and refilled), as a device would."""
    from cirqliz.domain import windows

    zone = windows.zone_info(tz)
    windows._OFFSET_SPANS.clear()
    for first in (1_774_746_000, 1_792_890_000, 63_000_000, -2_000_000_000):  # 2026 changes, 1972, 1906
        for seconds in range(first - 2 * 86_400, first + 2 * 86_400, 59):
            local = datetime.fromtimestamp(seconds, zone)
            offset = windows.utc_offset_at(seconds, tz)
            assert timedelta(seconds=offset) == local.utcoffset(), (tz, seconds)
            wall = seconds + offset
            assert (wall // 60 % 1440, (wall // 86_400 + 3) % 7) == (local.hour * 60 + local.minute, local.weekday())
