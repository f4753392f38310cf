"""Every message an import gives a person about a broken file is French: no engine's English text,
no object address (``<Element … at 0x7f…>``), no traceback. Broken XML (DATEX II), iCalendar and
GeoJSON (Préfecture de Police perimeters, ZFE) files go through the importers and every
file-level error and per-item problem is scanned."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from cirqliz.imports import ImportFileError, import_datex2, import_ical, import_perimeters
from cirqliz.imports.zfe import import_zfe

# Object reprs and tracebacks, and the words of the XML, JSON, iCalendar and geometry engines' English.
LEAK = re.compile(
    r"0x[0-9a-fA-F]+|object at|Traceback|<[A-Z]\w+ |\b(failed|validating|Unexpected|Expected|expected|Expecting|"
    r"invalid|syntax|error|line \d|column|not well-formed|token|must be|not allowed|attribute|element|"
    r"is not|got|property|Cannot|value|found|required|unknown|Invalid|Extra data|delimiter|Unterminated|"
    r"frequency|parse|missing|schemas)\b")
START = datetime(2024, 9, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)


def _messages(read, data) -> list[str]:
    try:
        batch = read(data)
    except ImportFileError as exc:
        return [exc.message]
    return [problem.describe() for problem in batch.problems]


def _xml_cases(example: bytes) -> dict[str, bytes]:
    return {
        "bad value": example.replace(b"<status>madeAndImplemented</status>", b"<status>peut-etre</status>"),
        "missing child": example.replace(b"<regulationId>T-SN2022-05-154</regulationId>", b""),
        "unknown child": example.replace(b"<status>", b"<foo>x</foo><status>", 1),
        "attribute": example.replace(b"<status>", b'<status bad="1">', 1),
        "xsi:type": example.replace(b'xsi:type="', b'xsi:type="nope', 1),
        "not xml": b"not xml at all", "empty": b"", "truncated": example[:500], "json": b'{"a": 1}',
        "entity": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + example.split(b"?>", 1)[1],
        "encoding": b'<?xml version="1.0" encoding="klingon"?><a/>',
        "other root": b'<a xmlns="urn:x"/>',
        "bad date": example.replace(b"2022-05-10", b"2022-13-45", 1),
    }


def test_datex2_errors_are_french_with_line_and_element(xsd_dir):
    example = (xsd_dir / "example.xml").read_bytes()
    for name, data in _xml_cases(example).items():
        for message in _messages(lambda d: import_datex2(d, xsd_dir=xsd_dir), data):
            assert not LEAK.search(message), (name, message)
    [message] = _messages(lambda d: import_datex2(d, xsd_dir=xsd_dir), _xml_cases(example)["unknown child"])
    assert "ligne 23" in message and "« trafficRegulationOrder »" in message and "« foo »" in message


ICAL = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//FR\r\nBEGIN:VEVENT\r\nUID:1@t\r\n{}\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n")
ICAL_CASES = {
    "empty": b"", "not ical": b"hello", "json": b'{"a": 1}',
    "unfinished": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
    "bad rrule": ICAL.format("DTSTART:20241001T070000Z\r\nRRULE:FREQ=SOMETIMES").encode(),
    "bad until": ICAL.format("DTSTART:20241001T070000Z\r\nRRULE:FREQ=DAILY;UNTIL=2024XX").encode(),
    "bad dtstart": ICAL.format("DTSTART:2024-10-01").encode(),
    "bad tzid": ICAL.format("DTSTART;TZID=Nowhere/Land:20241001T070000").encode(),
    "bad rdate": ICAL.format("DTSTART:20241001T070000Z\r\nRDATE:hier").encode(),
    "bad duration": ICAL.format("DTSTART:20241001T070000Z\r\nDURATION:long").encode(),
    "interval 0": ICAL.format("DTSTART:20241001T070000Z\r\nRRULE:FREQ=DAILY;INTERVAL=0").encode(),
}


@pytest.mark.parametrize("name", ICAL_CASES)
def test_ical_errors_are_french(name):
    for message in _messages(lambda d: import_ical(d, start=START, end=END), ICAL_CASES[name]):
        assert not LEAK.search(message), (name, message)


SQUARE = [[[2.34, 48.85], [2.36, 48.85], [2.36, 48.87], [2.34, 48.87], [2.34, 48.85]]]


def _collection(geometry: object, **props: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geometry}]}).encode()


GEOJSON_CASES = {
    "empty": b"", "truncated": b'{"type": "FeatureCollection", "features": [', "extra": b"{} {}",
    "bad escape": b'{"a": "\\x"}', "deep": b"[" * 5000 + b"]" * 5000, "long int": b"1" * 5000,
    "not a collection": b'{"type": "Point"}', "list": b"[1, 2]",
    "bowtie": _collection({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
    "two points": _collection({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),
    "text coordinates": _collection({"type": "Polygon", "coordinates": [[["a", "b"]]]}),
    "no geometry": _collection(None), "unknown type": _collection({"type": "Circle", "coordinates": [0, 0]}),
    "square, bad dates": _collection({"type": "Polygon", "coordinates": SQUARE}, DATE_DEBUT="demain"),
}


@pytest.mark.parametrize("name", GEOJSON_CASES)
def test_geojson_errors_are_french(name, shared_data):
    for read in (import_perimeters, import_zfe):
        for message in _messages(read, GEOJSON_CASES[name]):
            assert not LEAK.search(message), (name, read.__name__, message)
