"""iCalendar feeds with recurrence: occurrences in UTC, local times kept across DST."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cirqliz.imports import ImportFileError, ical, import_ical

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


# ---- budgets: a small file must not ask for unbounded work ------------------------------------

def _calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{i}@budget\r\nDTSTART:20241001T000000Z\r\nDTEND:20241001T001000Z\r\n"
                   f"{text}\r\nEND:VEVENT\r\n" for i, text in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//budget//FR\r\n{body}END:VCALENDAR\r\n".encode()


def _dates(count: int, *, period: bool = False) -> str:
    first = datetime(2024, 10, 2, tzinfo=UTC)
    stamps = [(first + timedelta(minutes=15 * i)).strftime("%Y%m%dT%H%M%SZ") for i in range(count)]
    return ",".join(f"{s}/PT5M" for s in stamps) if period else ",".join(stamps)


def test_many_small_recurrences_are_refused_as_a_whole_and_quickly():
    # 12 events of ~8 800 dates each: every one within its own budget, 100 000 together. Each was
    # expanded in turn (about a minute of work for a 600-byte file); the file is refused up front.
    hostile = _calendar(*["RRULE:FREQ=MINUTELY;INTERVAL=15"] * 12)
    assert len(hostile) < 2000
    started = time.monotonic()
    with pytest.raises(ImportFileError) as caught:
        import_ical(hostile, start=START, end=END)
    assert time.monotonic() - started < 2
    assert caught.value.code == "import_too_complex" and "fichier trop complexe" in caught.value.message


@pytest.mark.parametrize("period", [False, True], ids=["dates", "periods"])
def test_rdate_occurrences_count_in_the_file_budget(period):
    # Each event lists 4 000 RDATE values (within its own budget of 5 000 occurrences); six of them
    # make 24 000 occurrences, more than a file may produce.
    hostile = _calendar(*[f"RDATE{';VALUE=PERIOD' if period else ''}:{_dates(4000, period=period)}"] * 6)
    started = time.monotonic()
    with pytest.raises(ImportFileError) as caught:
        import_ical(hostile, start=START, end=END)
    assert time.monotonic() - started < 5
    assert caught.value.code == "import_too_complex"


def test_rdate_and_exdate_values_count_as_dates_to_walk(monkeypatch):
    one = import_ical(_calendar(f"RDATE:{_dates(5001)}"), start=START, end=END)
    assert [p.code for p in one.problems] == ["too_many_occurrences"]
    # With a file budget of 100 dates (smaller than the real one, to keep the file small): 2 x
    # (DTSTART + 10 RDATE + 45 EXDATE) = 112 dates to walk.
    monkeypatch.setattr(ical, "MAX_FILE_STEPS", 100)
    busy = _calendar(*[f"RDATE:{_dates(10)}\r\nEXDATE:{_dates(45)}"] * 2)
    with pytest.raises(ImportFileError, match="trop complexe"):
        import_ical(busy, start=START, end=END)
    assert import_ical(_calendar(f"RDATE:{_dates(10)}\r\nEXDATE:{_dates(45)}"), start=START, end=END).records


def test_reading_stops_at_the_deadline(market):
    with pytest.raises(ImportFileError) as caught:
        import_ical(market, start=START, end=END, deadline=time.monotonic() - 1)
    assert caught.value.code == "import_too_complex"


def test_an_occurrence_without_length_is_reported_not_stored():
    batch = import_ical(_calendar("RRULE:FREQ=DAILY;COUNT=2").replace(b"DTEND:20241001T001000Z\r\n", b""),
                        start=START, end=END)
    assert batch.records == () and [p.code for p in batch.problems] == ["dates_order"]
