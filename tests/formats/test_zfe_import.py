"""ZFE national schema GeoJSON import (etalab/schema-zfe)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cirqliz.domain.errors import DomainError
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ZoneKind, parse_zone_code, validate_geometry
from cirqliz.imports import ImportFileError, import_zfe
from cirqliz.imports.zfe import critair_rule

from .helpers import PARIS, area_m2, depth


@pytest.fixture(scope="module")
def zone_file(shared_data):
    return (shared_data / "zfe" / "exemple-valide-zone.geojson").read_bytes()


@pytest.fixture(scope="module")
def lanes_file(shared_data):
    return (shared_data / "zfe" / "exemple-valide-voie-speciale.geojson").read_bytes()


def test_schema_is_read_from_the_open_data_folder(shared_data, monkeypatch, tmp_path):
    from cirqliz.imports.common import ImportFileError, reference_file

    assert reference_file("zfe/schema.json") == shared_data / "zfe" / "schema.json"
    monkeypatch.setenv("CIRQLIZ_OPEN_DATA_DIR", str(tmp_path))
    with pytest.raises(ImportFileError, match="CIRQLIZ_OPEN_DATA_DIR"):
        reference_file("zfe/schema.json")


def test_zone_example(zone_file):
    batch = import_zfe(zone_file)
    assert batch.problems == ()
    [zone] = batch.records
    assert zone.source == "zfe" and zone.source_id == "200046977-ZFE-001"
    assert zone.code == "ZFE-200046977-ZFE-001" == parse_zone_code(zone.code)
    assert zone.kind is ZoneKind.LOW_EMISSION
    assert zone.geometry["type"] == "Polygon" and depth(zone.geometry["coordinates"]) == 2
    assert validate_geometry(zone.geometry) == zone.geometry
    assert 70e6 < area_m2(zone.geometry) < 90e6
    # 1 July 2019 00:00 in Paris (summer time) is 30 June 22:00 UTC; date_fin 2023-07-01 is inclusive.
    assert zone.valid_from == datetime(2019, 6, 30, 22, 0, tzinfo=UTC)
    assert zone.valid_until == datetime(2023, 7, 1, 22, 0, tzinfo=UTC)
    assert zone.valid_until.astimezone(ZoneInfo(PARIS)).isoformat() == "2023-07-02T00:00:00+02:00"
    assert zone.permanent is False
    assert zone.opening_hours == "Mo-Fr 08:00-20:00; PH off"
    assert zone.windows == (TimeWindow(0b0011111, 480, 1200, None, None, True),)
    vp = zone.rules["critair"]["vp"]
    assert vp["critair_from"] == "V4" and vp["max_crit_air"] == 3 and vp["categories"] == ["M1"]
    assert set(zone.rules["critair"]) == {"vp", "vul", "pl", "autobus_autocars", "deux_rm"}
    assert zone.extra["url_arrete"].startswith("https://cdn.paris.fr/")


def test_special_lanes_are_buffered(lanes_file):
    batch = import_zfe(lanes_file)
    assert batch.problems == ()
    assert [r.source_id for r in batch.records] == [
        "TRONROUT0000000000176896", "TRONROUT0000000000176893", "TRONROUT0000000000176882",
        "TRONROUT0000000000176879"]
    for record in batch.records:
        assert record.geometry["type"] == "Polygon"
        assert record.extra["geometry_buffered_from"] == "LineString" and record.extra["buffer_m"] == 10.0
        assert record.extra["source_geometry"]["type"] == "LineString"
        assert 1_000 < area_m2(record.geometry) < 10_000


def test_reimport_gives_identical_records(zone_file, lanes_file):
    assert import_zfe(zone_file) == import_zfe(zone_file.decode("utf-8"))
    assert import_zfe(lanes_file) == import_zfe(lanes_file)


@pytest.mark.parametrize(("value", "max_allowed"), [("EL", None), ("V1", 0), ("V3", 2), ("V5", 4), ("NC", 5)])
def test_critair_order(value, max_allowed):
    assert critair_rule(value)["max_crit_air"] == max_allowed


def _document(**props):
    base = {"id": "200046977-ZFE-009", "date_debut": "2025-01-01"}
    base.update(props)
    square = [[[2.30, 48.85], [2.31, 48.85], [2.31, 48.86], [2.30, 48.86], [2.30, 48.85]]]
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": base, "geometry": {"type": "Polygon",
                                                                               "coordinates": square}}]}


def test_truncated_json_is_a_typed_error(zone_file):
    with pytest.raises(ImportFileError) as caught:
        import_zfe(zone_file[:500])
    assert caught.value.code == "import_not_json" and "JSON" in caught.value.message


def test_not_utf8_is_a_typed_error():
    with pytest.raises(ImportFileError) as caught:
        import_zfe("{\"type\": \"FeatureCollection\", \"name\": \"é\"}".encode("latin-1"))
    assert caught.value.code == "import_not_utf8"


@pytest.mark.parametrize(("props", "path"), [
    ({"vp_critair": "V9", "vp_horaires": "24/7"}, "$.features[0].properties.vp_critair"),
    ({"date_debut": 20250101}, "$.features[0].properties.date_debut"),
    ({"vp_critair": "V3"}, "$.features[0].properties"),
])
def test_schema_violation_names_the_path(props, path):
    with pytest.raises(ImportFileError) as caught:
        import_zfe(json.dumps(_document(**props)))
    assert caught.value.code == "import_schema_violation"
    assert path in caught.value.message


def test_missing_required_property():
    document = _document()
    del document["features"][0]["properties"]["date_debut"]
    with pytest.raises(ImportFileError, match="date_debut"):
        import_zfe(json.dumps(document))


def test_bad_items_are_problems_not_crashes():
    document = _document(vp_critair="V2", vp_horaires="Mo-Fr 25:00-99:00")
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    good = _document(vp_critair="V2", vp_horaires="Mo-Fr 07:00-19:00")["features"][0]
    good["properties"]["id"] = "200046977-ZFE-010"
    document["features"] += [{"type": "Feature", "properties": {"id": "X-1", "date_debut": "2025-01-01"},
                              "geometry": bowtie}, good]
    batch = import_zfe(json.dumps(document))
    assert [r.source_id for r in batch.records] == ["200046977-ZFE-010"]
    assert [(p.item, p.field) for p in batch.errors] == [(1, "vp_horaires"), (2, "geometry")]
    assert all(isinstance(p.message, str) and p.message for p in batch.problems)


def test_permanent_zone_without_end():
    [zone] = import_zfe(json.dumps(_document(pl_critair="V3", pl_horaires="24/7"))).records
    assert zone.permanent and zone.valid_until is None
    assert zone.valid_from == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)  # winter: UTC+1


def test_domain_errors_only():
    for data in (b"", b"[]", b"null", b"{\"type\": \"FeatureCollection\", \"features\": [1]}"):
        with pytest.raises(DomainError):
            import_zfe(data)
