"""OSM opening_hours strings: parsing, conversion to windows, writing back, round trips."""

import csv
import json
from datetime import date, datetime, timedelta

import opening_hours
import pytest

from cirqliz.domain.errors import OpeningHoursError
from cirqliz.domain.osm_hours import (
    check_opening_hours,
    parse_opening_hours,
    windows_to_opening_hours,
)
from cirqliz.domain.windows import TimeWindow, any_window_contains, parse_window

EXPRESSIBLE = [
    ("24/7", ["Mo-Su 00:00-24:00"]),
    ("Mo-Fr 08:00-20:00; PH off", ["Mo-Fr 08:00-20:00 sauf fériés"]),
    ("Mo-Fr 07:00-11:00,14:00-16:00", ["Mo-Fr 07:00-11:00", "Mo-Fr 14:00-16:00"]),
    ("Mo,We,Fr 22:00-02:00", ["Mo,We,Fr 22:00-02:00"]),
    ("Mo-Fr 22:00-30:00", ["Mo-Fr 22:00-06:00"]),
    ("Sa-Mo 10:00-12:00", ["Mo,Sa,Su 10:00-12:00"]),
    ("Mo-Fr 08:00-12:00; We 14:00-16:00", ["Mo,Tu,Th,Fr 08:00-12:00", "We 14:00-16:00"]),
    ("Mo-Fr 08:00-12:00, We 14:00-16:00", ["Mo-Fr 08:00-12:00", "We 14:00-16:00"]),
    ("Fr 22:00-06:00, Sa 23:00-05:00", ["Fr 22:00-06:00", "Sa 23:00-05:00"]),
    ("Mo-Fr 08:00-12:00, 2026 Jul 01-2026 Aug 31 Mo-Fr 06:00-22:00",
     ["Mo-Fr 08:00-12:00", "Mo-Fr 06:00-22:00 [2026-07-01 → 2026-08-31]"]),
    ("Mo-Fr; Sa 08:00-12:00", ["Mo-Fr 00:00-24:00", "Sa 08:00-12:00"]),
    ("Mo-Sa 07:00-11:00; We off", ["Mo,Tu,Th,Fr,Sa 07:00-11:00"]),
    ("2026 Jul 01-2026 Aug 31 Mo-Su 06:00-22:00",
     ["Mo-Su 06:00-22:00 [2026-07-01 → 2026-08-31]"]),
]
RAW_ONLY = [
    "Mo-Sa 11:00-06:00; Su,PH 10:00-06:00",  # holidays opened, not closed
    "Mo 22:00-02:00; Tu 10:00-12:00",       # Tuesday's rule overrides Monday night's tail
    "sunrise-sunset",
    "Jan-Mar Mo-Fr 08:00-12:00",
    "Mo-Fr 08:00-12:00 || \"sur rendez-vous\"",
]


@pytest.mark.parametrize(("text", "described"), EXPRESSIBLE)
def test_expressible_strings_become_windows_and_round_trip(text, described):
    spec = parse_opening_hours(text)
    assert spec.expressible
    assert [w.describe() for w in spec.windows] == described
    written = windows_to_opening_hours(spec.windows)
    assert parse_opening_hours(written).windows == spec.windows
    assert _same_meaning(text, written)


@pytest.mark.parametrize("text", RAW_ONLY)
def test_other_strings_are_kept_raw(text):
    spec = parse_opening_hours(text)
    assert spec.windows is None
    assert spec.raw == text


@pytest.mark.parametrize("text", ["", "Mo-Fr 25:00-26:00", "lundi 8h-12h", "Mo-Fr 08:00-"])
def test_invalid_strings_refused_with_a_reason(text):
    with pytest.raises(OpeningHoursError) as info:
        parse_opening_hours(text)
    assert info.value.code in ("invalid_opening_hours", "empty_opening_hours")
    assert "horaires" in info.value.message


@pytest.mark.parametrize(
    "windows",
    [
        [parse_window("Mo-Fr 07:00-11:00"), parse_window("We 14:00-16:00")],
        [parse_window("Fr 22:00-06:00"), parse_window("Sa 23:00-05:00")],
        [parse_window("Mo-Fr 07:00-11:00"), parse_window("Mo-Fr 10:00-12:00")],
        [TimeWindow(0b0011111, 480, 1200, skip_public_holidays=True)],
        [TimeWindow(0b1000001, 0, 1440, date(2026, 6, 1), date(2026, 6, 30))],
    ],
)
def test_windows_written_mean_the_same(windows):
    text = windows_to_opening_hours(windows)
    for day in range(14):
        for minute in range(0, 1440, 15):
            local = datetime(2026, 6, 1) + timedelta(days=day, minutes=minute)
            expected = any_window_contains(windows, local)
            assert opening_hours.OpeningHours(text).is_open(local) is expected, (text, local)


def test_mixed_holiday_rules_cannot_be_written():
    with pytest.raises(OpeningHoursError):
        windows_to_opening_hours([parse_window("Mo 08:00-09:00"),
                                  TimeWindow(1, 600, 660, skip_public_holidays=True)])


def test_public_holidays_off_matches_the_library_on_may_day():
    spec = parse_opening_hours("Mo-Fr 08:00-20:00; PH off")
    library = opening_hours.OpeningHours(spec.raw, country="FR")
    may_day, next_day = datetime(2026, 5, 1, 10, 0), datetime(2026, 5, 4, 10, 0)
    holidays = {date(2026, 5, 1)}
    assert library.is_open(may_day) is any_window_contains(spec.windows, may_day, holidays) is False
    assert library.is_open(next_day) is any_window_contains(spec.windows, next_day, holidays) is True


def _same_meaning(a: str, b: str) -> bool:
    """Same open/closed state every 5 minutes over a fortnight and around summer 2026."""
    first, second = opening_hours.OpeningHours(a), opening_hours.OpeningHours(b)
    for start in (datetime(2026, 1, 5), datetime(2026, 6, 22), datetime(2026, 8, 24)):
        for step in range(0, 14 * 24 * 60, 5):
            local = start + timedelta(minutes=step)
            if first.is_open(local) != second.is_open(local):
                return False
    return True


def _shared_hours(shared_data):
    found = []
    for path in sorted((shared_data / "zfe").glob("*.geojson")):
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            for key, value in feature["properties"].items():
                if key.endswith("_horaires") and value:
                    found.append((f"{path.name}:{key}", value))
    for path in sorted((shared_data / "cerema-marchandises").rglob("*.csv")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # the referentials are Latin-1 (and have no hours)
        for row in csv.DictReader(text.splitlines()):
            if row.get("PERIODE_JH"):
                found.append((f"{path.name}:PERIODE_JH", row["PERIODE_JH"]))
    return found


def test_shared_examples_parse_and_round_trip(shared_data):
    examples = _shared_hours(shared_data)
    assert len({text for _, text in examples}) >= 3, "expected several distinct hour strings"
    expressible = 0
    for where, text in examples:
        spec = parse_opening_hours(text)
        assert spec.raw == check_opening_hours(text), where
        if spec.windows is None:
            # kept verbatim: reading the stored string back gives the same meaning
            assert _same_meaning(parse_opening_hours(spec.raw).raw, text), where
            continue
        expressible += 1
        written = windows_to_opening_hours(spec.windows)
        assert parse_opening_hours(written).windows == spec.windows, where
        assert _same_meaning(written, text), where
    assert expressible >= 2  # "Mo-Fr 08:00-20:00; PH off" and "24/7" at least
