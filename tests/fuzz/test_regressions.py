"""One test per crash the fuzz campaign found (an untyped exception on bad input), now a typed error.

Each names the input class the fuzzer produced; see the report of `python -m fuzz`.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cirqliz.domain.errors import DomainError, GeometryError, WindowError
from cirqliz.domain.vehicles import parse_crit_air
from cirqliz.domain.windows import zone_info
from cirqliz.domain.zones import validate_geometry
from cirqliz.imports.datex2 import import_datex2
from cirqliz.imports.ical import import_ical
from cirqliz.imports.perimeters import import_perimeters
from cirqliz.imports.records import ImportFileError
from cirqliz.issuance.events import read_supplier_csv
from cirqliz.issuance.pro_queries import parse_fleet_csv
from cirqliz.issuance.zonefile import zones_from_text
from cirqliz.passcode.errors import KeyStoreError, UnsupportedError
from cirqliz.passcode.keys import Algorithm, SigningKey, VerifyKey

WINDOW = {"start": datetime(2024, 8, 1, tzinfo=UTC), "end": datetime(2025, 2, 1, tzinfo=UTC)}


def test_public_key_with_an_unknown_algorithm_oid_is_refused() -> None:
    # bundle key entries: cryptography raises UnsupportedAlgorithm (not a ValueError) for an unknown OID
    spki = SigningKey.generate(Algorithm.ES256).verify_key().spki()
    unknown = spki.replace(b"\x86\x48\xce\x3d\x02\x01", b"\x86\x48\xce\x73\x02\x01", 1)
    assert unknown != spki
    with pytest.raises(UnsupportedError) as refused:
        VerifyKey.from_spki(unknown)
    assert refused.value.code == "bad_key"


@pytest.mark.parametrize("name", ["Europe", "Europe/", "America"])
def test_time_zone_folder_is_an_unknown_time_zone(name: str) -> None:
    # ZoneInfo("Europe") raises IsADirectoryError (bundle zones, imports, iCalendar TZID)
    with pytest.raises(WindowError):
        zone_info(name)


@pytest.mark.parametrize("geojson", [
    {"type": "Feature", "geometry": "Polygon"},
    {"type": "Polygon", "coordinates": [[True, [0, 0], [1, 1], False]]},
    {"type": "Polygon", "coordinates": [[1, 2, 3, 4]]},
])
def test_geometry_upload_with_wrong_json_types(geojson: dict) -> None:
    with pytest.raises(GeometryError):
        validate_geometry(json.dumps(geojson))


@pytest.mark.parametrize("text", [
    '[{"code": "A", "name": "n", "kind": "k", "tz": "Europe/Paris", "ref": "LineString"}]',
    '[{"code": "A", "name": "n", "kind": "k", "tz": "Europe/Paris", "ref": 1, "windows": [3]}]',
    '[{"code": "A", "name": "n", "kind": "k", "tz": "Europe/Paris", "ref": 1, "geometry": [[[[1e400, 0]]]]}]',
    '[{"code": ["A"], "name": "n", "kind": "k", "tz": "Europe/Paris", "ref": 1}]',
    '[{"code": "A", "name": "n", "kind": "k", "tz": "Europe/Paris", "ref": 1, "closures": [{"start": 5}]}]',
    '[{"code": "A", "name": "\\ud800", "kind": "k", "tz": "Europe/Paris", "ref": 1}]',
    '[true]', '[[[[[[[[[[' * 200,
])
def test_zone_file_with_wrong_types(text: str) -> None:
    with pytest.raises(KeyStoreError):
        zones_from_text(text)


@pytest.mark.parametrize(("field", "message"), [
    ('"valid_from": "nope"', "zone A, valid_from : 'nope' n'est pas une date-heure ISO 8601"),
    ('"kind": 3', "zone : le champ kind doit être un texte non vide"),
])
def test_zone_file_errors_keep_their_precise_message(field: str, message: str) -> None:
    text = '[{"code": "A", "name": "n", "kind": "k", "tz": "Europe/Paris", "ref": 1, ' + field + "}]"
    with pytest.raises(KeyStoreError) as refused:
        zones_from_text(text)
    assert message in refused.value.message and "bon type" not in refused.value.message


def test_unicode_digits_in_fleet_csv() -> None:
    # "²".isdigit() is True but int("²") raises ValueError
    with pytest.raises(DomainError):
        parse_crit_air("²")
    lines, problems = parse_fleet_csv("plaque;categorie;critair;energie;poids_kg;longueur_cm\n"
                                      "AB-123-CD;N1;²;diesel;²;\n".encode())
    assert lines == [] and {p.column for p in problems} == {"poids_kg"}
    lines, problems = parse_fleet_csv(b"plaque;categorie;critair\nAB-123-CD;N1;\xc2\xb2\n")
    assert lines == [] and problems[0].column == "critair"


def test_supplier_csv_that_the_csv_module_refuses() -> None:
    lines, problems = read_supplier_csv("entreprise;immatriculation;zones\nA;AB-123-CD;" + "x" * 200_000, {})
    assert lines == [] and "illisible" in problems[0].message
    lines, problems = read_supplier_csv('entreprise;immatriculation;zones\n"A\rB";AB-123-CD;Z\r', {})
    assert lines == []  # the zone is unknown: a line problem, not an exception


def test_fleet_csv_that_the_csv_module_refuses() -> None:
    lines, problems = parse_fleet_csv(("plaque;categorie\nAB-123-CD;" + "x" * 200_000).encode())
    assert lines == [] and "illisible" in problems[0].message


def test_perimeters_with_an_unpaired_surrogate_escape() -> None:
    document = ('{"type": "FeatureCollection", "features": '
                '[{"type": "Feature", "properties": {"EVENEMENT": "\\ud800"}}]}')
    with pytest.raises(ImportFileError) as refused:
        import_perimeters(document.encode())
    assert refused.value.code == "import_not_json"
    with pytest.raises(ImportFileError):
        import_perimeters("\ud800")


@pytest.fixture
def datex2_example(shared_data: Path) -> bytes:
    return (shared_data / "dialog-datex2" / "example.xml").read_bytes()


def test_datex2_with_an_unknown_xsi_type(datex2_example: bytes) -> None:
    broken = datex2_example.replace(b'xsi:type="AccessRestriction"', b'xsi:type="AccessRestri`tion"', 1)
    with pytest.raises(ImportFileError) as refused:
        import_datex2(broken)
    assert refused.value.code == "import_schema_violation"


def test_datex2_with_an_unknown_encoding(datex2_example: bytes) -> None:
    with pytest.raises(ImportFileError) as refused:
        import_datex2(datex2_example.replace(b'encoding="UTF-8"', b'encoding="UmF-8"', 1))
    assert refused.value.code == "import_not_xml"


def _calendar(*event_lines: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//FR", "BEGIN:VEVENT", "UID:e@t",
             *event_lines, "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize("rule", ["FREQ=DAILY;INTERVAL=0", "FREQ=SECONDLY", "FREQ=MINUTELY;BYSECOND=1,2,3"])
def test_ical_recurrence_that_would_never_end(rule: str) -> None:
    # INTERVAL=0 made the expansion loop for ever (and grow to gigabytes); SECONDLY from 1970 runs for hours
    started = time.monotonic()
    batch = import_ical(_calendar("DTSTART:19700101T000000Z", f"RRULE:{rule}"), **WINDOW)
    assert time.monotonic() - started < 5
    assert batch.records == () and batch.problems[0].code == "recurrence_too_long"


def test_ical_with_too_many_occurrences_in_the_window() -> None:
    batch = import_ical(_calendar("DTSTART:20240801T000000Z", "RRULE:FREQ=HOURLY;BYMINUTE=0,30"), **WINDOW)
    assert batch.records == () and batch.problems[0].code == "too_many_occurrences"


def test_ical_with_two_rrules() -> None:
    batch = import_ical(_calendar("DTSTART:20240907T070000Z", "DTEND:20240907T080000Z",
                                  "RRULE:FREQ=WEEKLY;COUNT=2", "RRULE:FREQ=MONTHLY;COUNT=2"), **WINDOW)
    (record,) = batch.records
    assert record.rrule is not None and "WEEKLY" in record.rrule and "MONTHLY" in record.rrule
    assert len(record.occurrences) >= 3


@pytest.mark.parametrize("tzid", ["Europe", "Europe/"])
def test_ical_tzid_naming_a_folder(tzid: str) -> None:
    data = _calendar(f"DTSTART;TZID={tzid}:20240907T070000")
    with pytest.raises(ImportFileError) as refused:
        import_ical(data, **WINDOW)
    assert refused.value.code == "import_not_ical"


def test_perimeter_with_a_non_finite_coordinate_is_skipped_in_french() -> None:
    """Found by the campaign: NaN reached the repair of an invalid multipolygon and the geometry
    engine raised its own exception (GEOSException) instead of a typed, French refusal."""
    import warnings

    from cirqliz.imports.perimeters import import_perimeters

    document = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"EVENEMENT":"X",'
                '"TYPE_PERI":"rouge","DATE_DEBUT":"2024/07/26 08:00:00.000","DATE_FIN":"2024/07/26 20:00:00.000"},'
                '"geometry":{"type":"MultiPolygon","coordinates":[[[[2.3,48.8],[2.31,48.8],[NaN,48.81],[2.3,48.8]]],'
                '[[[2.3,48.8],[2.31,48.8],[2.31,48.81],[2.3,48.8]]]]}}]}')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's note on the NaN
        batch = import_perimeters(document.encode())
    assert batch.records == () and [item.status for item in batch.items] == ["skipped"]
    assert [p.message for p in batch.problems] == ["géométrie illisible : une coordonnée n'est pas un nombre fini"]


def test_cbor_tags_with_a_built_in_meaning_are_refused() -> None:
    """Found by the campaign: a top-level tag 2 (bignum) decoded to an integer whose deterministic
    encoding is not the input; tags the decoder gives a meaning to are refused."""
    from cirqliz.passcode.cbor import loads_deterministic
    from cirqliz.passcode.errors import MalformedError

    for hex_text in ("c245c3a4cacb36", "c11a5f5e1000"):  # a bignum, an epoch date
        with pytest.raises(MalformedError, match="signification prédéfinie"):
            loads_deterministic(bytes.fromhex(hex_text), "fuzz")
