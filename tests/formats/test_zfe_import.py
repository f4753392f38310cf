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
    # The links go to fields, every other property stays verbatim in `extra` (none here).
    assert zone.url_order == "https://cdn.paris.fr/paris/2021/05/28/23fb2b69cfa451a4e517f1bc6e3001b7.pdf"
    assert zone.url_site == "https://www.metropolegrandparis.fr/fr/ZFE"
    assert zone.extra == {}
    [item] = batch.items
    assert (item.index, item.status, item.unit, item.source_id, item.records) == (
        1, "kept", "entité", "200046977-ZFE-001", 1)


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
    assert [(i.index, i.status, i.source_id) for i in batch.items] == [
        (n, "kept", r.source_id) for n, r in enumerate(batch.records, start=1)]
    assert all("élargie" in i.notes[0] for i in batch.items)


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
    assert all(p.unit == "entité" and p.describe().startswith("entité ") for p in batch.problems)
    # Every feature is accounted for: two skipped with their reason, one kept.
    assert [(i.index, i.status, i.source_id, i.records) for i in batch.items] == [
        (1, "skipped", "200046977-ZFE-009", 0), (2, "skipped", "X-1", 0), (3, "kept", "200046977-ZFE-010", 1)]
    assert "vp_horaires" in batch.items[0].notes[0]
    assert "recoupe" in batch.items[1].notes[0] and "Self" not in batch.items[1].notes[0]


def test_duplicate_ids_are_items_skipped():
    document = _document(vp_critair="V2", vp_horaires="24/7")
    document["features"].append(json.loads(json.dumps(document["features"][0])))
    batch = import_zfe(json.dumps(document))
    assert len(batch.records) == 1
    assert [(i.index, i.status) for i in batch.items] == [(1, "kept"), (2, "skipped")]
    assert "en double" in batch.items[1].notes[0]
    [error] = batch.errors
    assert (error.item, error.code, error.unit) == (2, "duplicate_id", "entité")


def test_other_properties_are_kept_verbatim_and_links_in_fields():
    nested = {"commune": ["Paris", "Montreuil"], "niveau": 2}
    document = _document(vp_critair="V3", vp_horaires="24/7", nom="ZFE du test", details=nested,
                         url_arrete="https://exemple.test/arrete.pdf",
                         url_site_information="https://exemple.test/zfe")
    [zone] = import_zfe(json.dumps(document)).records
    assert zone.extra == {"nom": "ZFE du test", "details": nested}
    assert zone.url_order == "https://exemple.test/arrete.pdf" and zone.url_site == "https://exemple.test/zfe"


def test_hours_that_differ_per_class_give_the_union_and_keep_each_text():
    batch = import_zfe(json.dumps(_document(vp_critair="V3", vp_horaires="Mo-Fr 08:00-20:00",
                                            pl_critair="V4", pl_horaires="Sa 10:00-18:00")))
    [zone] = batch.records
    assert zone.hours_expressible
    assert set(zone.windows) == {TimeWindow(0b0011111, 480, 1200), TimeWindow(0b0100000, 600, 1080)}
    assert zone.opening_hours is not None and "Sa 10:00-18:00" in zone.opening_hours
    assert zone.extra == {"vp_horaires": "Mo-Fr 08:00-20:00", "pl_horaires": "Sa 10:00-18:00"}
    [warning] = batch.warnings
    assert warning.code == "hours_per_class" and "réunion" in warning.message
    # The rules keep each class's own text too.
    assert zone.rules["critair"]["pl"]["opening_hours"] == "Sa 10:00-18:00"


def test_hours_not_expressible_keep_the_text_and_no_windows():
    batch = import_zfe(json.dumps(_document(vp_critair="V3", vp_horaires="Mo-Fr 08:00-20:00; SH off")))
    [zone] = batch.records
    assert zone.opening_hours == "Mo-Fr 08:00-20:00; SH off" and zone.windows == ()
    assert not zone.hours_expressible
    assert [w.code for w in batch.warnings] == ["hours_not_expressible"]
    mixed = import_zfe(json.dumps(_document(vp_critair="V3", vp_horaires="Mo-Fr 08:00-20:00; SH off",
                                            pl_critair="V3", pl_horaires="24/7")))
    [zone] = mixed.records
    assert zone.windows == () and not zone.hours_expressible and zone.opening_hours is None
    assert zone.extra["vp_horaires"] == "Mo-Fr 08:00-20:00; SH off"


def test_permanent_zone_without_end():
    [zone] = import_zfe(json.dumps(_document(pl_critair="V3", pl_horaires="24/7"))).records
    assert zone.permanent and zone.valid_until is None
    assert zone.valid_from == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)  # winter: UTC+1


def test_domain_errors_only():
    for data in (b"", b"[]", b"null", b"{\"type\": \"FeatureCollection\", \"features\": [1]}"):
        with pytest.raises(DomainError):
            import_zfe(data)


def test_overlapping_parts_are_merged_and_reported_repaired():
    """Repair, don't drop: a multipolygon whose parts overlap covers the same ground once merged."""
    other = [[[2.305, 48.855], [2.32, 48.855], [2.32, 48.87], [2.305, 48.87], [2.305, 48.855]]]
    document = _document(vp_critair="V3", vp_horaires="24/7")
    square = document["features"][0]["geometry"]["coordinates"]
    document["features"][0]["geometry"] = {"type": "MultiPolygon", "coordinates": [square, other]}
    batch = import_zfe(json.dumps(document))
    [zone] = batch.records
    [item] = batch.items
    assert item.status == "repaired" and item.notes == ("parties superposées fusionnées",)
    assert zone.geometry["type"] == "Polygon" and validate_geometry(zone.geometry) == zone.geometry
    assert zone.extra["geometry_repairs"] == ["parties superposées fusionnées"]
    assert zone.extra["source_geometry"]["type"] == "MultiPolygon"  # the source's own drawing, for provenance
    # A contour crossing itself cannot be repaired without guessing: skipped, in French.
    bowtie = _document(vp_critair="V3", vp_horaires="24/7")
    bowtie["features"][0]["geometry"]["coordinates"] = [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]
    [skipped] = import_zfe(json.dumps(bowtie)).items
    assert skipped.status == "skipped" and "recoupe" in skipped.notes[0]
