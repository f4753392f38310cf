"""Property-based tests (hypothesis): round trips of Base45 and CBOR, decoders total on junk (typed
errors only), importers on documents that are structured but wrong (GeoJSON-like dicts, CSV rows of
random cells, iCalendar with random properties).

"Typed" means the project's own errors: SchemeError (scheme) and DomainError (domain, importers);
anything else propagates and fails the test. Example counts are bounded (the CI profile of
tests/conftest.py derandomises them).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirqliz.domain.errors import DomainError
from cirqliz.domain.zones import validate_geometry
from cirqliz.imports.cerema import import_cerema
from cirqliz.imports.ical import import_ical
from cirqliz.imports.perimeters import import_perimeters
from cirqliz.imports.zfe import import_zfe
from cirqliz.issuance.events import read_supplier_csv
from cirqliz.issuance.pro_queries import parse_fleet_csv
from cirqliz.passcode.base45 import ALPHABET, b45decode, b45encode
from cirqliz.passcode.cbor import dumps_deterministic, loads_deterministic
from cirqliz.passcode.errors import MalformedError, SchemeError
from fuzz.runner import run_one
from fuzz.targets import targets_by_name

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TARGETS = targets_by_name()


# ---- round trips ----------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    text = b45encode(data)
    assert set(text) <= set(ALPHABET)
    assert b45decode(text) == data


@FAST
@given(st.text(alphabet=ALPHABET + "abcé\x00", max_size=60))
def test_base45_decode_is_total(text: str) -> None:
    try:
        decoded = b45decode(text)
    except MalformedError as exc:
        assert exc.code == "bad_base45"
    else:
        assert b45encode(decoded) == text


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.integers(-1000, 1000) | st.text(max_size=8), children, max_size=6),
    max_leaves=30,
)


@FAST
@given(cbor_values)
def test_cbor_deterministic_round_trip(value: object) -> None:
    encoded = dumps_deterministic(value)
    assert loads_deterministic(encoded, "test") == value
    assert dumps_deterministic(loads_deterministic(encoded, "test")) == encoded


# ---- decoders: arbitrary bytes give a typed error or a value ----------------------------------------

FAST_DECODERS = ["base45", "cbor", "cose", "claims", "pass_text", "verify", "bundle_open", "bundle_payload",
                 "plate", "opening_hours", "window", "geometry", "zone_file", "fleet_csv", "supplier_csv"]


@pytest.mark.parametrize("name", FAST_DECODERS)
def test_decoder_on_arbitrary_bytes(name: str) -> None:
    target = TARGETS[name]

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=400) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
    def check(data: bytes) -> None:
        run_one(data, target)  # typed errors are absorbed, anything else fails the test

    check()


@FAST
@given(st.binary(max_size=300))
def test_scheme_errors_carry_a_code_and_a_message(data: bytes) -> None:
    try:
        loads_deterministic(data, "x")
    except SchemeError as exc:
        assert exc.code != SchemeError.code and exc.message, exc  # a specific code, not the class default


# ---- importers on structured but wrong documents ---------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | st.text(
    max_size=30)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=10), c,
                                                                                                max_size=5),
                           max_leaves=25)
positions = st.lists(st.floats(-200, 200, allow_nan=False), min_size=0, max_size=3)
rings = st.lists(positions, max_size=6)
geometries = st.fixed_dictionaries({
    "type": st.sampled_from(["Polygon", "MultiPolygon", "LineString", "Point", "Feature", "GeometryCollection", 3]),
    "coordinates": st.one_of(st.lists(rings, max_size=3), st.lists(st.lists(rings, max_size=2), max_size=2),
                             positions, json_values),
})
pp_dates = st.one_of(st.just("2024/08/28 18:00:00.000"), st.just("2024/03/31 02:30:00.000"),
                     st.from_regex(r"\A[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z"), json_values)
features = st.fixed_dictionaries({
    "type": st.sampled_from(["Feature", "feature", 1]),
    "properties": st.one_of(st.fixed_dictionaries({
        "EVENEMENT": json_scalars, "TYPE_PERI": json_scalars, "DATE_DEBUT": pp_dates, "DATE_FIN": pp_dates,
        "COMPE": json_scalars, "TRI": json_scalars}), json_values),
    "geometry": st.one_of(geometries, json_values),
})
collections = st.fixed_dictionaries({"type": st.sampled_from(["FeatureCollection", "Feature"]),
                                     "features": st.one_of(st.lists(features, max_size=4), json_values)})


def _dump(document: object) -> bytes:
    return json.dumps(document, allow_nan=True).encode()


@SLOW
@given(geometries)
def test_geometry_upload_gives_a_geometry_or_a_typed_error(geometry: dict) -> None:
    try:
        result = validate_geometry(_dump(geometry).decode())
    except DomainError as exc:
        assert exc.code.startswith("geometry_")
    else:
        assert result["type"] in ("Polygon", "MultiPolygon")


@SLOW
@given(collections)
def test_perimeters_on_wrong_feature_collections(document: dict) -> None:
    try:
        batch = import_perimeters(_dump(document))
    except DomainError as exc:
        assert exc.code.startswith("import_")
        return
    for problem in batch.problems:
        assert problem.describe()
    for record in batch.records:
        assert record.valid_from < record.valid_until


zfe_properties = st.fixed_dictionaries({
    "id": json_scalars, "date_debut": st.one_of(st.just("2024-01-01"), json_scalars),
    "date_fin": st.one_of(st.just("2030-12-31"), st.just("2020-01-01"), json_scalars),
    "vp_critair": st.sampled_from(["EL", "V1", "V2", "V3", "V4", "V5", "NC", "V9", None]),
    "vp_horaires": st.one_of(st.sampled_from(["24/7", "Mo-Fr 07:00-20:00", "PH off", "", "nonsense"]), json_scalars),
})


@SLOW
@given(st.lists(st.fixed_dictionaries({"type": st.just("Feature"), "properties": zfe_properties,
                                        "geometry": st.one_of(geometries, json_values)}), max_size=3))
def test_zfe_on_wrong_documents(shared_data, features: list) -> None:
    try:
        batch = import_zfe(_dump({"type": "FeatureCollection", "features": features}))
    except DomainError as exc:
        assert exc.code.startswith("import_")
        return
    assert len(batch.records) <= len(features)


cells = st.one_of(st.text(max_size=20), st.sampled_from(["", "0", "²", "3,5", "AB-123-CD", "N1", "V2", "24/7",
                                                          "Mo-Fr 07:00-11:00", "POLYGON((0 0,1 0,1 1,0 0))"]))


def _csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@SLOW
@given(st.lists(st.lists(cells, min_size=0, max_size=40), max_size=4))
def test_cerema_rows_of_random_cells(shared_data, rows: list[list[str]]) -> None:
    header = (shared_data / "cerema-marchandises" / "exemple-valide.csv").read_text(encoding="utf-8").splitlines()[0]
    data = _csv([header.split(","), *rows])
    batch = import_cerema(data)  # the header is right: no file-level error
    assert len(batch.records) <= len(rows)


@SLOW
@given(st.lists(st.lists(cells, max_size=8), max_size=5), st.sampled_from([";", ","]))
def test_fleet_and_supplier_csv_rows_of_random_cells(rows: list[list[str]], delimiter: str) -> None:
    fleet = _csv([["plaque", "categorie", "critair", "energie", "poids_kg", "longueur_cm"], *rows], delimiter)
    lines, problems = parse_fleet_csv(fleet)
    assert len(lines) <= len(rows) and all(p.message for p in problems)
    supplier = _csv([["entreprise", "immatriculation", "zones", "creneaux"], *rows], delimiter)
    accepted, refused = read_supplier_csv(supplier, {})
    assert accepted == []  # no zone is known, so no line can be accepted
    assert all(p.describe() for p in refused)


ical_names = st.sampled_from(["UID", "DTSTART", "DTEND", "RRULE", "EXDATE", "RDATE", "DURATION", "GEO", "SUMMARY",
                              "LOCATION", "X-CIRQLIZ-ZONE", "RECURRENCE-ID", "DTSTART;TZID=Europe/Paris",
                              "DTSTART;VALUE=DATE", "DTSTART;TZID=Europe", "RRULE;X=1"])
ical_values = st.one_of(
    st.sampled_from(["20240907T070000", "20240907T070000Z", "20240230", "FREQ=DAILY;COUNT=3", "FREQ=WEEKLY;BYDAY=SA",
                     "FREQ=DAILY;INTERVAL=0", "FREQ=SECONDLY", "FREQ=MINUTELY;BYSECOND=1,2,3", "P1D", "-P1D",
                     "48.85;2.35", "PARIS-CENTRE", "x"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(ical_names, ical_values), max_size=8), min_size=1, max_size=3))
def test_ical_events_with_random_properties(events: list[list[tuple[str, str]]]) -> None:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//fuzz//FR"]
    for number, properties in enumerate(events):
        lines += ["BEGIN:VEVENT", f"UID:e{number}@test", *(f"{n}:{v}" for n, v in properties), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    try:
        batch = import_ical("\r\n".join(lines).encode(), start=datetime(2024, 8, 1, tzinfo=UTC),
                            end=datetime(2025, 2, 1, tzinfo=UTC))
    except DomainError as exc:
        assert exc.code.startswith("import_")
        return
    for record in batch.records:
        assert all(a <= b for a, b in record.occurrences)
