"""iCalendar feeds: one ItemReport per VEVENT in file order (issue 16), overrides of an occurrence
(same UID, RECURRENCE-ID) counted with their event, skipped events with their French reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cirqliz.imports import import_ical

from .test_import_messages import LEAK

START = datetime(2024, 9, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)
FEED = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//essai//FR\r\n"
    "BEGIN:VEVENT\r\nUID:marche@essai\r\nSUMMARY:Marché\r\nDTSTART:20241005T050000Z\r\nDTEND:20241005T113000Z\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=4\r\nX-CIRQLIZ-ZONE:MARCHE-CARNOT\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nSUMMARY:Sans identifiant\r\nDTSTART:20241006T050000Z\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:marche@essai\r\nRECURRENCE-ID:20241012T050000Z\r\nSUMMARY:Marché (décalé)\r\n"
    "DTSTART:20241012T060000Z\r\nDTEND:20241012T123000Z\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:casse@essai\r\nSUMMARY:Règle cassée\r\nDTSTART:20241001T070000Z\r\n"
    "RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:sans-date@essai\r\nSUMMARY:Sans date\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_every_vevent_is_accounted_for_in_file_order():
    batch = import_ical(FEED, start=START, end=END)
    assert len(batch.items) == FEED.count("BEGIN:VEVENT") == 5
    assert [i.index for i in batch.items] == [1, 2, 3, 4, 5]
    assert [i.line for i in batch.items] == [4, 12, 16, 23, 29]
    assert {FEED.split("\r\n")[i.line - 1] for i in batch.items} == {"BEGIN:VEVENT"}
    assert [i.status for i in batch.items] == ["kept", "skipped", "kept", "skipped", "skipped"]
    assert [i.records for i in batch.items] == [1, 0, 0, 0, 0]
    assert {i.unit for i in batch.items} == {p.unit for p in batch.problems} == {"événement"}
    assert sum(i.records for i in batch.items) == len(batch.records) == 1
    [record] = batch.records
    assert len(record.occurrences) == 4 and datetime(2024, 10, 12, 6, 0, tzinfo=UTC) in [a for a, _ in
                                                                                      record.occurrences]


def test_items_say_why_and_with_what_in_french():
    items = import_ical(FEED, start=START, end=END).items
    assert items[1].notes == ("UID : événement sans UID",) and items[1].name == "Sans identifiant"
    assert items[2].notes == ("occurrence modifiée ou complément de l'événement 1 (même UID), lue avec lui",)
    assert items[3].notes == ("RRULE : propriété illisible : valeur non conforme à la RFC 5545",)
    assert items[4].notes == ("DTSTART : événement sans date de début",)
    # Problems number events as the file does (a VEVENT's position), not UID groups.
    assert [(p.item, p.field) for p in import_ical(FEED, start=START, end=END).problems] == [
        (2, "UID"), (4, "RRULE"), (5, "DTSTART")]
    for item in items:
        text = item.describe()
        assert text.startswith(f"événement {item.index} (ligne {item.line})")
        assert not LEAK.search(text), text
        assert text.count("ignoré") == (item.status == "skipped")


def test_an_override_of_a_broken_event_is_skipped_with_it():
    broken = FEED.replace("DTEND:20241005T113000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4", "RRULE:FREQ=WEEKLY;INTERVAL=0")
    items = import_ical(broken, start=START, end=END).items
    assert items[0].status == items[2].status == "skipped"
    assert items[2].notes == ("fait partie de l'événement 1 (même UID), ignoré avec lui",)


@pytest.mark.parametrize("name", ["market.ics", "bad-rrule.ics"])
def test_the_fixture_feeds_give_one_item_per_vevent(fixtures_dir, name):
    data = (fixtures_dir / name).read_bytes()
    batch = import_ical(data, start=START, end=END)
    assert len(batch.items) == data.count(b"BEGIN:VEVENT")
    assert len([i for i in batch.items if i.status != "skipped"]) == len(batch.records)
    assert all(i.line is not None for i in batch.items)
