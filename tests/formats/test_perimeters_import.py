"""Préfecture de Police event perimeters (Paris 2024) and their local-time dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cirqliz.domain.errors import DomainError
from cirqliz.domain.zones import ZoneKind, parse_zone_code
from cirqliz.imports import ImportFileError, PerimeterMapping, import_perimeters, parse_pp_datetime
from cirqliz.imports.perimeters import PerimeterDateError

from .helpers import PARIS, area_m2, depth


@pytest.fixture(scope="module")
def jop_file(shared_data):
    return (shared_data / "jop" / "para_ouverture.geojson").read_bytes()


def test_paralympic_opening_perimeter(jop_file):
    batch = import_perimeters(jop_file)
    assert batch.problems == ()
    [zone] = batch.records
    assert zone.kind is ZoneKind.EVENT_PERIMETER and zone.permanent is False
    assert zone.name == "CER3 - Ceremonie d'ouverture Jeux Paralympiques — périmètre Rouge"
    assert zone.code == parse_zone_code(zone.code) and zone.code.startswith("PP-CER-ROUGE-")
    # DATE_DEBUT '2024/08/28 18:00:00.000' is Paris summer time (UTC+2).
    assert zone.valid_from == datetime(2024, 8, 28, 16, 0, tzinfo=UTC)
    assert zone.valid_from.astimezone(ZoneInfo(PARIS)).strftime("%d/%m/%Y %H:%M") == "28/08/2024 18:00"
    assert zone.valid_until == datetime(2024, 8, 28, 23, 0, tzinfo=UTC)
    assert zone.valid_until.astimezone(ZoneInfo(PARIS)).strftime("%d/%m/%Y %H:%M") == "29/08/2024 01:00"
    assert zone.geometry["type"] == "Polygon" and depth(zone.geometry["coordinates"]) == 2
    assert 3e6 < area_m2(zone.geometry) < 6e6
    assert zone.extra["competition"] == "Para" and zone.extra["sort_key"] == "CER"
    assert zone.rules == {"perimeter_type": "Rouge"}


def test_reimport_same_ids(jop_file):
    assert import_perimeters(jop_file) == import_perimeters(jop_file)


def _feature(geometry, **props):
    base = {"EVENEMENT": "Marathon", "TYPE_PERI": "Bleu", "COMPE": "Athlé", "TRI": "MAR",
            "DATE_DEBUT": "2024/08/10 06:00:00.000", "DATE_FIN": "2024/08/10 14:00:00.000"}
    base.update(props)
    return {"type": "Feature", "properties": base, "geometry": geometry}


SQUARE = [[[2.30, 48.85, 35.0], [2.31, 48.85, 35.0], [2.31, 48.86, 35.0], [2.30, 48.86, 35.0], [2.30, 48.85, 35.0]]]


def test_null_geometry_multipolygon_and_bad_dates():
    features = [
        _feature(None),
        _feature({"type": "MultiPolygon", "coordinates": [SQUARE]}, TYPE_PERI="Rouge"),
        _feature({"type": "Polygon", "coordinates": SQUARE}, TYPE_PERI="Gris", DATE_DEBUT="10/08/2024 06:00"),
        _feature({"type": "Polygon", "coordinates": SQUARE}, TYPE_PERI="Vert",
                 DATE_FIN="2024/08/10 05:00:00.000"),
        _feature({"type": "Polygon", "coordinates": "oops"}, TYPE_PERI="Noir"),
    ]
    batch = import_perimeters(json.dumps({"type": "FeatureCollection", "features": features}))
    [zone] = batch.records
    assert zone.geometry["type"] == "MultiPolygon" and depth(zone.geometry["coordinates"]) == 2
    assert zone.extra["source_geometry_type"] == "MultiPolygon"
    assert [(p.item, p.field) for p in batch.problems] == [
        (1, "geometry"), (3, "DATE_DEBUT"), (4, "DATE_FIN"), (5, "geometry")]


def test_custom_mapping():
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": SQUARE},
               "properties": {"nom": "Fête de la musique", "zone": "piéton", "debut": "2025/06/21 16:00:00.000",
                              "fin": "2025/06/22 02:00:00.000", "ref": "FDLM-2025-01"}}
    mapping = PerimeterMapping(event="nom", perimeter_type="zone", start="debut", end="fin", identifier="ref",
                               source="ville-lyon", code_prefix="LYON")
    [zone] = import_perimeters(json.dumps({"type": "FeatureCollection", "features": [feature]}),
                               mapping=mapping).records
    assert zone.source == "ville-lyon" and zone.source_id == "FDLM-2025-01" and zone.code.startswith("LYON-")
    assert zone.valid_until == datetime(2025, 6, 22, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("data", [b'{"type": "FeatureCollection", "features": [', b"[]", b'{"type": "Feature"}'])
def test_unreadable_files(data):
    with pytest.raises(ImportFileError):
        import_perimeters(data)


def test_dates_across_dst():
    assert parse_pp_datetime("2024/01/15 12:00:00.000") == datetime(2024, 1, 15, 11, 0, tzinfo=UTC)
    assert parse_pp_datetime("2024/07/15 12:00:00.500") == datetime(2024, 7, 15, 10, 0, 0, 500_000, tzinfo=UTC)
    # 27 October 2024 02:30 happens twice: the first (summer time) is taken.
    assert parse_pp_datetime("2024/10/27 02:30:00.000") == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    with pytest.raises(PerimeterDateError) as caught:
        parse_pp_datetime("2024/03/31 02:30:00.000")  # does not exist in Paris
    assert caught.value.code == "nonexistent_local_time"
    for impossible in ("2024/02/30 10:00:00.000", "0001/01/01 00:00:00.000", "２０２４/01/15 12:00:00.000"):
        with pytest.raises(PerimeterDateError):
            parse_pp_datetime(impossible)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=30), st.none(), st.integers(), st.from_regex(
    r"\A\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?\Z")))
def test_date_parser_raises_only_typed_errors(text):
    try:
        value = parse_pp_datetime(text)
    except DomainError as exc:
        assert exc.message
    else:
        assert value.tzinfo is UTC
