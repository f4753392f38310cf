"""iCalendar feeds with recurrence: occurrences in UTC, local times kept across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cirqliz.imports import ImportFileError, import_ical

from .helpers import PARIS

START = datetime(2024, 9, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def market(fixtures_dir):
    return (fixtures_dir / "market.ics").read_bytes()


def test_weekly_market_stays_at_seven_local_across_october_change(market):
    batch = import_ical(market, start=START, end=END)
    assert batch.problems == ()
    records = {r.source_id: r for r in batch.records}
    market = records["marche-place-carnot@cirqliz.test"]
    assert market.zone_code == "MARCHE-CARNOT" and market.geo == (45.7485, 4.8467) and market.tz == PARIS
    # 7 Sept to 30 Nov: 13 Saturdays, minus the EXDATE of 2 November.
    assert len(market.occurrences) == 12
    local = [(a.astimezone(ZoneInfo(PARIS)), b.astimezone(ZoneInfo(PARIS))) for a, b in market.occurrences]
    assert {(a.hour, a.minute, b.hour, b.minute) for a, b in local} == {(7, 0, 13, 30)}
    assert all(a.weekday() == 5 for a, _ in local)
    assert datetime(2024, 10, 26, 5, 0, tzinfo=UTC) == market.occurrences[7][0]   # CEST, UTC+2
    assert datetime(2024, 11, 9, 6, 0, tzinfo=UTC) == market.occurrences[8][0]    # CET, UTC+1
    assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in market.occurrences)


def test_night_across_the_change_lasts_nine_hours(market):
    records = {r.source_id: r for r in import_ical(market, start=START, end=END).records}
    [(start, end)] = records["brocante@cirqliz.test"].occurrences
    assert records["brocante@cirqliz.test"].zone_code == "QUAI-SUD"  # LOCATION is a zone code
    assert end - start == timedelta(hours=9)


def test_all_day_event_in_default_zone(market):
    records = {r.source_id: r for r in import_ical(market, start=START, end=END).records}
    fete = records["fete@cirqliz.test"]
    assert fete.zone_code is None and fete.location == "Rue des Écoles, Lyon"
    assert fete.occurrences == ((datetime(2024, 10, 10, 22, 0, tzinfo=UTC), datetime(2024, 10, 12, 22, 0, tzinfo=UTC)),)


def test_window_limits_occurrences(market):
    batch = import_ical(market, start=datetime(2024, 11, 1, tzinfo=UTC), end=datetime(2024, 11, 20, tzinfo=UTC))
    records = {r.source_id: r for r in batch.records}
    assert len(records["marche-place-carnot@cirqliz.test"].occurrences) == 2  # 9 and 16 Nov; 2 Nov excluded
    assert records["brocante@cirqliz.test"].occurrences == ()


def test_bad_rrule_is_a_problem_and_other_events_survive(fixtures_dir):
    batch = import_ical((fixtures_dir / "bad-rrule.ics").read_bytes(), start=START, end=END)
    assert [r.source_id for r in batch.records] == ["bon@cirqliz.test"]
    assert len(batch.records[0].occurrences) == 3
    [problem] = batch.problems
    assert (problem.item, problem.field, problem.item_id) == (1, "RRULE", "casse@cirqliz.test")


def test_reimport_is_identical(market):
    assert import_ical(market, start=START, end=END) == import_ical(market.decode(), start=START, end=END)


@pytest.mark.parametrize("data", [b"", b"hello", b"BEGIN:VEVENT\nEND:VEVENT\n", b"\xff\xfe"])
def test_unreadable_calendars(data):
    with pytest.raises(ImportFileError):
        import_ical(data, start=START, end=END)


def test_naive_window_is_refused(market):
    with pytest.raises(ImportFileError):
        import_ical(market, start=datetime(2024, 9, 1), end=END)


def test_event_without_start_is_a_problem():
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//FR\r\nBEGIN:VEVENT\r\nUID:x@t\r\n"
           "SUMMARY:sans date\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    batch = import_ical(ics, start=START, end=END)
    assert batch.records == () and batch.problems[0].field == "DTSTART"
