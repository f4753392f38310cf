"""Exports: ZFE schema GeoJSON and DATEX II TrafficRegulationPublication."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

import pytest
from shapely.geometry import shape

from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ZoneKind
from cirqliz.exports import ExportFileError, export_datex2, export_zfe
from cirqliz.exports.datex2 import order_id
from cirqliz.imports import ImportFileError, import_datex2, import_perimeters, import_zfe
from cirqliz.imports.records import ZoneRecord
from cirqliz.imports.zfe import validate_zfe_document

PUBLISHED = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
SQUARE = {"type": "Polygon", "coordinates": [[[4.83, 45.76], [4.84, 45.76], [4.84, 45.77], [4.83, 45.77],
                                              [4.83, 45.76]]]}


@pytest.mark.parametrize("name", ["exemple-valide-zone.geojson", "exemple-valide-voie-speciale.geojson"])
def test_zfe_round_trip_keeps_every_value(shared_data, name):
    original = json.loads((shared_data / "zfe" / name).read_text())
    exported = export_zfe(import_zfe(json.dumps(original)).records)
    validate_zfe_document(exported)
    assert len(exported["features"]) == len(original["features"])
    for before, after in zip(original["features"], exported["features"], strict=True):
        for key, value in before["properties"].items():
            assert after["properties"][key] == value, key
        assert set(after["properties"]) == set(before["properties"])
        assert after["geometry"] == before["geometry"]


def _zone(code: str, **changes) -> ZoneRecord:
    base = ZoneRecord(source="cirqliz", source_id=code, code=code, name=f"Zone {code}", kind=ZoneKind.LIMITED_TRAFFIC,
                      geometry=SQUARE, valid_from=datetime(2024, 1, 1, 23, 0, tzinfo=UTC))
    return dataclasses.replace(base, **changes)


def test_zfe_export_of_a_zone_made_in_cirqliz():
    zone = _zone("LYON-ZFE", kind=ZoneKind.LOW_EMISSION,
                 windows=(TimeWindow(0b0011111, 420, 1140),),
                 rules={"critair": {"vp": {"critair_from": "V3"}, "pl": {"critair_from": "V2",
                                                                          "opening_hours": "24/7"}}})
    document = export_zfe([zone])
    props = document["features"][0]["properties"]
    assert props == {"id": "LYON-ZFE", "date_debut": "2024-01-02", "vp_critair": "V3",
                     "vp_horaires": "Mo-Fr 07:00-19:00", "pl_critair": "V2", "pl_horaires": "24/7"}


def test_zfe_export_refuses_what_the_schema_refuses():
    with pytest.raises(ExportFileError, match="vp_critair"):
        export_zfe([_zone("BAD", rules={"critair": {"vp": {"critair_from": "V9"}}})])
    with pytest.raises(ExportFileError, match="date_debut"):
        export_zfe([_zone("NOSTART", valid_from=None)])


def test_zfe_export_refusal_is_french(shared_data):
    # Published schema in use: its refusal was jsonschema's English ("'V9' is not one of [...]").
    with pytest.raises(ExportFileError) as caught:
        export_zfe([_zone("BAD", rules={"critair": {"vp": {"critair_from": "V9"}}})])
    assert caught.value.message == ("export ZFE non conforme au schéma, à $.features[0].properties.vp_critair : "
                                    "valeur hors de la liste permise")


def _zones(shared_data) -> list:
    zfe = import_zfe((shared_data / "zfe" / "exemple-valide-zone.geojson").read_bytes()).records[0]
    jop = import_perimeters((shared_data / "jop" / "para_ouverture.geojson").read_bytes()).records[0]
    night = _zone("NUIT-QUAIS", valid_from=None, windows=(
        TimeWindow(0b0011111, 22 * 60, 6 * 60),                                 # Mo-Fr 22:00 → 06:00 next day
        TimeWindow(0b1100000, 20 * 60, 1440, date(2024, 7, 1), date(2024, 8, 31)),  # summer week-ends
    ))
    market = _zone("MARCHE-TEMP", permanent=False, valid_from=datetime(2024, 9, 6, 22, 0, tzinfo=UTC),
                   valid_until=datetime(2024, 11, 30, 23, 0, tzinfo=UTC),
                   windows=(TimeWindow(0b0100000, 6 * 60, 14 * 60, skip_public_holidays=True),))
    return [zfe, jop, night, market]


def test_datex2_export_validates_and_reads_back(shared_data, xsd_dir):
    zones = _zones(shared_data)
    document = export_datex2(zones, publication_time=PUBLISHED, authority="Métropole de Lyon",
                             permit_url="https://cirqliz.example/demandes", validate=True, xsd_dir=xsd_dir)
    assert b"PermitCondition" in document and b"<tro:negate>true</tro:negate>" in document
    batch = import_datex2(document, xsd_dir=xsd_dir)
    assert batch.problems == ()
    assert [r.extra["regulation_id"] for r in batch.records] == [z.code for z in zones]
    for zone, back in zip(zones, batch.records, strict=True):
        assert back.source_id == f"{order_id(zone)}#1"
        assert back.valid_from == (zone.valid_from or PUBLISHED)
        assert back.valid_until == zone.valid_until
        assert back.windows == zone.windows
        # Coordinates are written with 8 decimals (about a millimetre).
        original = shape(zone.geometry)
        assert shape(back.geometry).symmetric_difference(original).area < 1e-6 * original.area
        assert back.rules["permit_conditions"] == [{"negate": True, "whereToApplyForPermit":
                                                    "https://cirqliz.example/demandes",
                                                    "locationRelatedPermit": "true"}]
    night = batch.records[2]
    assert night.permanent and night.windows[0].crosses_midnight
    assert batch.records[3].permanent is False and batch.records[3].windows[0].skip_public_holidays


def test_datex2_export_is_deterministic(shared_data):
    zones = _zones(shared_data)
    first = export_datex2(zones, publication_time=PUBLISHED, authority="Ville")
    again = export_datex2([dataclasses.replace(z) for z in zones], publication_time=PUBLISHED, authority="Ville")
    assert first == again
    assert b'id="CIRQLIZ-NUIT-QUAIS" version="1"' in first
    other = export_datex2(zones[:2], publication_time=PUBLISHED, authority="Ville")
    assert other.split(b'id="', 1)[1][:36] != first.split(b'id="', 1)[1][:36]


def test_datex2_export_refuses_mixed_holidays_and_naive_times():
    mixed = _zone("MIXTE", windows=(TimeWindow(1, 0, 60, skip_public_holidays=True), TimeWindow(2, 0, 60)))
    with pytest.raises(ExportFileError):
        export_datex2([mixed], publication_time=PUBLISHED, authority="Ville")
    with pytest.raises(ExportFileError):
        export_datex2([_zone("A1")], publication_time=datetime(2024, 1, 1), authority="Ville")


def test_exported_document_fails_validation_when_tampered(shared_data, xsd_dir):
    document = export_datex2(_zones(shared_data)[:1], publication_time=PUBLISHED, authority="Ville")
    with pytest.raises(ImportFileError):
        import_datex2(document.replace(b"noEntry", b"noParty"), xsd_dir=xsd_dir)
