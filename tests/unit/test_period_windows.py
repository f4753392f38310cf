"""periods_as_windows: dated UTC periods as dated local windows (an event zone's restriction)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cirqliz.domain.errors import WindowError
from cirqliz.domain.windows import ALL_DAYS, TimeWindow, periods_as_windows

PARIS = "Europe/Paris"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(PARIS))  # type: ignore[misc]


def day(d: date, start: int, end: int, last: date | None = None) -> TimeWindow:
    return TimeWindow(ALL_DAYS, start, end, first_day=d, last_day=last or d)


def _repeated(instant: datetime, tz: str) -> bool:
    """Whether the wall time of `instant` occurs twice (the hour when clocks go back)."""
    zone = ZoneInfo(tz)
    wall = instant.astimezone(zone).replace(tzinfo=None)
    return wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()


def assert_covers_exactly(start: datetime, end: datetime, tz: str = PARIS, margin: int = 180) -> None:
    """Minute by minute around the period: inside a window iff inside the period (the repeated
    hour of an autumn change may be covered on both occurrences, never less)."""
    windows = periods_as_windows([(start, end)], tz)
    instant = start - timedelta(minutes=margin)
    while instant < end + timedelta(minutes=margin):
        covered = any(w.contains(instant, tz) for w in windows)
        inside = start <= instant < end
        if inside:
            assert covered, instant
        elif covered:
            assert _repeated(instant, tz), instant
        instant += timedelta(minutes=1)


def test_a_period_within_one_local_day_is_one_window() -> None:
    windows = periods_as_windows([(paris(2026, 5, 9, 12), paris(2026, 5, 9, 18, 30))], PARIS)
    assert windows == (day(date(2026, 5, 9), 720, 1110),)
    assert_covers_exactly(paris(2026, 5, 9, 12), paris(2026, 5, 9, 18, 30))


def test_utc_periods_are_placed_in_local_time() -> None:
    # 22:30 UTC on 8 May is 00:30 on 9 May in Paris (summer time).
    assert periods_as_windows([(utc(2026, 5, 8, 22, 30), utc(2026, 5, 9, 1))], PARIS) == (
        day(date(2026, 5, 9), 30, 180),
    )


def test_a_multi_day_period_is_first_day_whole_days_and_last_day() -> None:
    start, end = paris(2026, 5, 9, 12), paris(2026, 5, 13, 6)
    assert periods_as_windows([(start, end)], PARIS) == (
        day(date(2026, 5, 9), 720, 1440),
        day(date(2026, 5, 10), 0, 1440, date(2026, 5, 12)),
        day(date(2026, 5, 13), 0, 360),
    )
    assert_covers_exactly(start, end)


def test_two_days_have_no_middle_window() -> None:
    assert periods_as_windows([(paris(2026, 5, 9, 20), paris(2026, 5, 10, 2))], PARIS) == (
        day(date(2026, 5, 9), 1200, 1440),
        day(date(2026, 5, 10), 0, 120),
    )


def test_a_period_ending_at_local_midnight_needs_no_extra_window() -> None:
    assert periods_as_windows([(paris(2026, 5, 9, 12), paris(2026, 5, 10))], PARIS) == (
        day(date(2026, 5, 9), 720, 1440),
    )
    assert periods_as_windows([(paris(2026, 5, 9, 12), paris(2026, 5, 12))], PARIS) == (
        day(date(2026, 5, 9), 720, 1440),
        day(date(2026, 5, 10), 0, 1440, date(2026, 5, 11)),
    )


def test_whole_days_from_midnight_to_midnight_are_one_window() -> None:
    assert periods_as_windows([(paris(2026, 7, 13), paris(2026, 7, 16))], PARIS) == (
        day(date(2026, 7, 13), 0, 1440, date(2026, 7, 15)),
    )
    assert_covers_exactly(paris(2026, 7, 13), paris(2026, 7, 16))


def test_spring_forward_day_inside_a_period() -> None:
    # Clocks go 02:00 -> 03:00 on Sunday 29 March 2026: the skipped hour joins the two sides.
    start, end = paris(2026, 3, 28, 12), paris(2026, 3, 30, 12)
    assert periods_as_windows([(start, end)], PARIS) == (
        day(date(2026, 3, 28), 720, 1440),
        day(date(2026, 3, 29), 0, 1440),
        day(date(2026, 3, 30), 0, 720),
    )
    assert_covers_exactly(start, end)


def test_spring_forward_within_one_night() -> None:
    # 01:30 CET to 03:30 CEST is one hour of real time, and one window of wall time.
    start, end = utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30)
    assert periods_as_windows([(start, end)], PARIS) == (day(date(2026, 3, 29), 90, 210),)
    assert_covers_exactly(start, end)


def test_fall_back_day_inside_a_period() -> None:
    # Clocks go 03:00 -> 02:00 on Sunday 25 October 2026: that day lasts 25 hours.
    start, end = paris(2026, 10, 24, 20), paris(2026, 10, 26, 8)
    assert periods_as_windows([(start, end)], PARIS) == (
        day(date(2026, 10, 24), 1200, 1440),
        day(date(2026, 10, 25), 0, 1440),
        day(date(2026, 10, 26), 0, 480),
    )
    assert_covers_exactly(start, end)


def test_fall_back_night_ending_after_the_change() -> None:
    start, end = paris(2026, 10, 24, 22), paris(2026, 10, 25, 6)
    assert periods_as_windows([(start, end)], PARIS) == (
        day(date(2026, 10, 24), 1320, 1440),
        day(date(2026, 10, 25), 0, 360),
    )
    assert_covers_exactly(start, end)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc(2026, 10, 25, 0, 40), utc(2026, 10, 25, 1, 10)),  # 02:40 CEST to 02:10 CET
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 0)),  # 02:30 CEST to 03:00 CET
        (utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 0, 30)),  # ends at the first 02:30
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 5, 0)),  # starts at the second 02:30
    ],
)
def test_periods_with_an_end_in_the_repeated_hour(start: datetime, end: datetime) -> None:
    windows = periods_as_windows([(start, end)], PARIS)
    assert all(not (w.end <= w.start) for w in windows)  # never a window read as crossing midnight
    assert_covers_exactly(start, end)


def test_seconds_widen_the_period_to_whole_minutes() -> None:
    start, end = paris(2026, 5, 9, 12, 0, 30), paris(2026, 5, 9, 13, 0, 1)
    assert periods_as_windows([(start, end)], PARIS) == (day(date(2026, 5, 9), 720, 781),)


def test_touching_or_overlapping_periods_merge() -> None:
    periods = [
        (paris(2026, 5, 10), paris(2026, 5, 11)),
        (paris(2026, 5, 9, 12), paris(2026, 5, 9, 18)),
        (paris(2026, 5, 9, 17), paris(2026, 5, 10)),
        (paris(2026, 5, 11), paris(2026, 5, 11, 4)),
        (paris(2026, 5, 20, 8), paris(2026, 5, 20, 9)),
    ]
    assert periods_as_windows(periods, PARIS) == (
        day(date(2026, 5, 9), 720, 1440),
        day(date(2026, 5, 10), 0, 1440),
        day(date(2026, 5, 11), 0, 240),
        day(date(2026, 5, 20), 480, 540),
    )


def test_a_year_long_period_stays_three_windows() -> None:
    start, end = paris(2026, 1, 1, 6), paris(2026, 12, 31, 18)
    assert periods_as_windows([(start, end)], PARIS) == (
        day(date(2026, 1, 1), 360, 1440),
        day(date(2026, 1, 2), 0, 1440, date(2026, 12, 30)),
        day(date(2026, 12, 31), 0, 1080),
    )


def test_other_time_zones() -> None:
    # New York goes back on Sunday 1 November 2026 at 02:00 EDT.
    start, end = datetime(2026, 10, 31, 20, tzinfo=ZoneInfo("America/New_York")), utc(2026, 11, 1, 12)
    assert_covers_exactly(start, end, "America/New_York")
    assert periods_as_windows([(utc(2026, 6, 1, 12), utc(2026, 6, 1, 13))], "Asia/Kolkata") == (
        day(date(2026, 6, 1), 1050, 1110),
    )


def test_empty_periods_give_nothing_and_bad_ones_are_refused() -> None:
    assert periods_as_windows([], PARIS) == ()
    assert periods_as_windows([(paris(2026, 5, 9, 12), paris(2026, 5, 9, 12))], PARIS) == ()
    with pytest.raises(WindowError) as info:
        periods_as_windows([(paris(2026, 5, 9, 12), paris(2026, 5, 9, 11))], PARIS)
    assert info.value.code == "invalid_period"
    with pytest.raises(WindowError) as info:
        periods_as_windows([(datetime(2026, 5, 9, 12), paris(2026, 5, 9, 13))], PARIS)
    assert info.value.code == "naive_time"
    with pytest.raises(WindowError) as info:
        periods_as_windows([(paris(2026, 5, 9, 12), paris(2026, 5, 9, 13))], "Europe/Nowhere")
    assert info.value.code == "unknown_time_zone"
