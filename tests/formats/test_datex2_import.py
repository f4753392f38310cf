"""DATEX II v3 TrafficRegulationPublication import (DiaLog)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ZoneKind, parse_zone_code
from cirqliz.imports import ImportFileError, import_datex2
from cirqliz.imports.datex2 import datex2_schema

from .helpers import PARIS, area_m2


@pytest.fixture(scope="module")
def example(xsd_dir):
    return (xsd_dir / "example.xml").read_bytes()


@pytest.mark.parametrize("name", ["example.xml", "sample.xml"])
def test_dialog_documents(xsd_dir, name):
    batch = import_datex2((xsd_dir / name).read_bytes(), xsd_dir=xsd_dir)
    assert batch.problems == ()
    [zone] = batch.records
    assert zone.source == "datex2" and zone.source_id == "T-SN2022-05-154#1" and zone.version == "1"
    assert zone.code == "TRO-T-SN2022-05-154-1" == parse_zone_code(zone.code)
    assert zone.kind is ZoneKind.LIMITED_TRAFFIC and zone.permanent is False
    assert zone.name.startswith("Arrêté temporaire portant réglementation de la circulation")
    assert zone.valid_from == datetime(2022, 5, 10, 9, 0, tzinfo=UTC)
    assert zone.valid_until.astimezone(ZoneInfo(PARIS)).isoformat() == "2022-06-10T18:30:00+02:00"
    # Every day but Saturday and Sunday, not on public holidays.
    assert zone.windows == (TimeWindow(0b0011111, 0, 1440, None, None, True),)
    # The GML line (latitude first) is near Savenay (47.36 N, 1.94 W), buffered to 10 m.
    assert zone.extra["source_geometry"] == [
        {"type": "LineString", "coordinates": [[-1.944703, 47.366334], [-1.94021, 47.370631]]}]
    assert zone.extra["geometry_buffered_from"] == ["LineString"] and zone.extra["buffer_m"] == 10.0
    assert zone.geometry["type"] == "Polygon" and 10_000 < area_m2(zone.geometry) < 14_000
    assert zone.extra["issuing_authority"] == "Commune de Savenay"
    assert zone.rules["vehicle_conditions"] == [
        {"negate": False, "characteristics": {"vehicleUsage": "cityLogistics"}},
        {"negate": True, "characteristics": {"lengthCharacteristic": {"comparisonOperator": "lessThan",
                                                                      "vehicleLength": "12"}}}]
    assert zone.rules["regulation_types"][0] == {"type": "AccessRestriction", "accessRestrictionType": "noEntry"}


def test_example_has_a_speed_limit_too(example, xsd_dir):
    [zone] = import_datex2(example, xsd_dir=xsd_dir).records
    assert [t["type"] for t in zone.rules["regulation_types"]] == ["AccessRestriction", "SpeedLimit"]


def test_schema_is_loaded_once(xsd_dir):
    assert datex2_schema(xsd_dir) is datex2_schema(str(xsd_dir))


def test_reimport_is_identical(example, xsd_dir):
    assert import_datex2(example, xsd_dir=xsd_dir) == import_datex2(example.decode("utf-8"), xsd_dir=xsd_dir)


def test_document_failing_the_xsd(example, xsd_dir):
    broken = example.replace(b"<status>madeAndImplemented</status>", b"<status>peut-etre</status>")
    with pytest.raises(ImportFileError) as caught:
        import_datex2(broken, xsd_dir=xsd_dir)
    assert caught.value.code == "import_schema_violation"
    assert caught.value.message == ("document DATEX II non conforme au schéma, ligne 40, élément « status » : valeur "
                                    "non permise par le schéma")


def test_missing_required_element(example, xsd_dir):
    broken = example.replace(b"<regulationId>T-SN2022-05-154</regulationId>", b"")
    with pytest.raises(ImportFileError, match="non conforme"):
        import_datex2(broken, xsd_dir=xsd_dir)


@pytest.mark.parametrize("data", [b"", b"<d2:payload", b"not xml at all", "{\"json\": true}"])
def test_not_xml(data, xsd_dir):
    with pytest.raises(ImportFileError):
        import_datex2(data, xsd_dir=xsd_dir)


def test_entities_are_refused(example, xsd_dir):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
            + example.split(b"?>", 1)[1].replace(b"Commune de Savenay", b"&a;"))
    with pytest.raises(ImportFileError) as caught:
        import_datex2(bomb, xsd_dir=xsd_dir)
    assert caught.value.code == "import_forbidden_xml"


def test_missing_xsd_folder(tmp_path, example):
    with pytest.raises(ImportFileError, match="introuvables"):
        import_datex2(example, xsd_dir=tmp_path)


def test_location_that_cannot_be_used_is_a_problem(example, xsd_dir):
    odd = example.replace(b"<loc:gmlLineString>", b'<loc:gmlLineString srsName="EPSG:2154">')
    batch = import_datex2(odd, xsd_dir=xsd_dir)
    assert batch.records == ()
    assert [(p.item, p.field, p.code) for p in batch.problems] == [(1, "location", "unsupported_crs")]
