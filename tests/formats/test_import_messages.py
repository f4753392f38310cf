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


# ---- ZFE and Cerema, through the importers and the zone import (report, CLI lines) ----------

# English words an import message must not contain (the engines' and our own former English).
ENGLISH = re.compile(
    r"Self-intersection|Ring Self|Too few points|\b(is not|expected|Expected|Expecting|Invalid|invalid|required|"
    r"element|warning|warnings|error|errors|line|lines|skipped|created|updated|unchanged|item|items|row|rows|"
    r"field|nothing|refused|applied|dry run|cannot|must|missing|unknown|value|property|found|failed|the|of|and|"
    r"with|without|not|column|columns|unexpected|delimiter|quote|ParseException|WKTReadingError|None|null byte)\b")


def _zfe(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def _feature(ident: str = "200046977-ZFE-009", geometry: object = None, **props: object) -> dict:
    base = {"id": ident, "date_debut": "2025-01-01", "vp_critair": "V3", "vp_horaires": "Mo-Fr 08:00-20:00"}
    base.update(props)
    return {"type": "Feature", "properties": {k: v for k, v in base.items() if v is not ...},
            "geometry": {"type": "Polygon", "coordinates": SQUARE} if geometry is None else geometry}


OVERLAP = {"type": "MultiPolygon", "coordinates": [SQUARE, [[[2.35, 48.86], [2.37, 48.86], [2.37, 48.88],
                                                             [2.35, 48.88], [2.35, 48.86]]]]}
ZFE_CASES = {
    "not json": b"zfe", "truncated": b'{"type": "FeatureCollection", "features": [',
    "not a collection": b'{"type": "Feature"}', "no features": b'{"type": "FeatureCollection"}',
    "missing id": _zfe(_feature(id=...)), "missing date": _zfe(_feature(date_debut=...)),
    "bad date": _zfe(_feature(date_debut="01/01/2025")), "bad critair": _zfe(_feature(vp_critair="V9")),
    "hours without critair": _zfe(_feature(vp_critair=...)), "bad url": _zfe(_feature(url_arrete=3)),
    "end before start": _zfe(_feature(date_fin="2024-01-01")),
    "bowtie": _zfe(_feature(geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})),
    "overlapping parts": _zfe(_feature(geometry=OVERLAP)),
    "text coordinates": _zfe(_feature(geometry={"type": "Polygon", "coordinates": [[["a", "b"]]]})),
    "no geometry": _zfe({**_feature(), "geometry": None}),
    "circle": _zfe(_feature(geometry={"type": "Circle", "coordinates": [0, 0]})),
    "bad hours": _zfe(_feature(vp_horaires="n'importe quand")),
    "hours not expressible": _zfe(_feature(vp_horaires="Mo-Fr 08:00-20:00; SH off")),
    "hours per class": _zfe(_feature(pl_critair="V4", pl_horaires="Sa 10:00-18:00")),
    "hours per class, one not expressible": _zfe(_feature(pl_critair="V4", pl_horaires="Mo 08:00-20:00; SH off")),
    "everything refused": _zfe(_feature(vp_critair="EL")),
    "duplicate id": _zfe(_feature(), _feature()),
    "same code": _zfe(_feature("A B"), _feature("A-B")),
}

CEREMA_HEADER = ("ID,COLL_NOM,COLL_INSEE,ARR_DATE,ARR_REF,ARR_OBJET,ARR_URL,REGL_MODALITE,VEH_TONNAGE_MODALITE,"
                 "VEH_TONNAGE,VEH_USAGES,VEH_MOTORS,VEH_CQAS,PERIODE_JH,EMPRISE_DESIGNATION,INTERV_DUREE,GEOM_WKT,"
                 "GEOM_DEBUT")
CEREMA_GOOD = ["1", "Commune de Test", "06033", "2020-01-01", "NC", "NC", "", "Interdit", "à partir de", "3.5", "",
               "", "", "Mo-Fr 22:00-06:00", "Rue Haute", "", "POLYGON((7 43, 7.01 43, 7.01 43.01, 7 43.01, 7 43))",
               ""]


def _cerema(**changes: str) -> bytes:
    names = CEREMA_HEADER.split(",")
    row = list(CEREMA_GOOD)
    for name, value in changes.items():
        row[names.index(name)] = value
    return ("\n".join([CEREMA_HEADER, ",".join(f'"{cell}"' for cell in row)]) + "\n").encode()


CEREMA_CASES = {
    "empty": b"", "not utf-8": "ID;COLL_NOM\né".encode("latin-1"), "header only": CEREMA_HEADER.encode(),
    "missing column": b"ID,COLL_NOM\n1,Commune\n", "nul byte": CEREMA_HEADER.encode() + b"\n1,\x00\n",
    "unclosed quote": CEREMA_HEADER.encode() + b'\n"1,Commune\n',
    "column count": CEREMA_HEADER.encode() + b"\n1,2,3\n", "unknown column": _cerema().replace(b"ID,", b"IDX,ID,", 1),
    "blank row": CEREMA_HEADER.encode() + b"\n" + b"," * 17 + b"\n",
    "required": _cerema(COLL_NOM=""), "bad date": _cerema(ARR_DATE="hier"), "date NC": _cerema(ARR_DATE="NC"),
    "bad insee": _cerema(COLL_INSEE="123"), "bad enum": _cerema(REGL_MODALITE="Peut-être"),
    "bad number": _cerema(VEH_TONNAGE="lourd"), "too heavy": _cerema(VEH_TONNAGE="99"),
    "infinite": _cerema(VEH_TONNAGE="inf"), "bad uri": _cerema(ARR_URL="pas une adresse"),
    "bad time": _cerema(INTERV_DUREE="trois heures"), "bad point": _cerema(GEOM_DEBUT="ici"),
    "far point": _cerema(GEOM_DEBUT="500,500"), "bad motors": _cerema(VEH_MOTORS="Vapeur"),
    "bad crit'air": _cerema(VEH_CQAS="9"), "unknown usage": _cerema(VEH_USAGES="Licornes"),
    "tonnage without mode": _cerema(VEH_TONNAGE_MODALITE=""), "bad hours": _cerema(PERIODE_JH="quand il pleut"),
    "hours not expressible": _cerema(PERIODE_JH="Mo-Sa 11:00-06:00; Su,PH 10:00-06:00"),
    "bad wkt": _cerema(GEOM_WKT="LINESTRING(7 43, oups)"), "wkt garbage": _cerema(GEOM_WKT="CERCLE(1)"),
    "bowtie wkt": _cerema(GEOM_WKT="POLYGON((7 43, 7.01 43.01, 7.01 43, 7 43.01, 7 43))"),
    "empty wkt": _cerema(GEOM_WKT="POLYGON EMPTY"), "no geometry": _cerema(GEOM_WKT=""),
    "duplicate id": _cerema() + _cerema().split(b"\n", 1)[1],
}


def _reader_messages(read, data: bytes) -> list[str]:
    try:
        batch = read(data)
    except ImportFileError as exc:
        return [exc.message]
    return [p.describe() for p in batch.problems] + [i.describe() for i in batch.items]


@pytest.mark.parametrize(("fmt", "name"), [("zfe", n) for n in ZFE_CASES] + [("cerema", n) for n in CEREMA_CASES])
def test_zfe_and_cerema_reader_messages_are_french(fmt, name):
    from cirqliz.imports import import_cerema

    read, data = (import_zfe, ZFE_CASES[name]) if fmt == "zfe" else (import_cerema, CEREMA_CASES[name])
    messages = _reader_messages(read, data)
    assert messages or name == "header only", name  # every item gets a line; a file error is a message
    for message in messages:
        assert not ENGLISH.search(message) and not LEAK.search(message), (name, message)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_zone_import_report_messages_are_french(session, clock, world):
    """Every hostile file through the zone import (dry run and real run): the report's summary,
    item lines, problems and refusal message, as the CLI and the page show them."""
    from factories import AUTHORITY_PARIS_ID

    from cirqliz.issuance.zone_imports import ZoneImportRefused, import_zone_file

    seen = 0
    for fmt, cases in (("zfe", ZFE_CASES), ("cerema", CEREMA_CASES)):
        for name, data in cases.items():
            messages: list[str] = []
            for dry_run in (True, False):
                try:
                    async with session.begin():
                        report = await import_zone_file(session, authority_id=AUTHORITY_PARIS_ID, data=data,
                                                        fmt=fmt, clock=clock, dry_run=dry_run)
                        await session.rollback()
                except ZoneImportRefused as exc:
                    report = exc.report
                    messages.append(exc.message)
                except ImportFileError as exc:
                    messages.append(exc.message)
                    continue
                messages += [report.summary_fr(), *(i.describe(preview=dry_run) for i in report.items),
                             *(p.describe() for p in report.problems)]
                if not report.ok:
                    messages.append(report.refusal_message())
                messages += [o.describe() for o in report.outcomes]
            for message in messages:
                assert not ENGLISH.search(message) and not LEAK.search(message), (fmt, name, message)
            seen += len(messages)
    assert seen > 100
