"""Exports: ZFE schema GeoJSON and DATEX II TrafficRegulationPublication."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace
from xml.etree.ElementTree import Element

import jsonschema
import pytest
import shapely
from shapely.geometry import shape

from cirqliz.db.models import AccessRule, Zone, window_to_json
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ZoneKind, validate_geometry
from cirqliz.exports import ExportFileError, export_datex2, export_zfe
from cirqliz.exports.datex2 import CIRQLIZ_NS, PermitRule, order_id
from cirqliz.exports.geometry import export_geometry
from cirqliz.exports.zfe import critair_classes
from cirqliz.imports import ImportFileError, import_datex2, import_perimeters, import_zfe
from cirqliz.imports.common import geojson_registry
from cirqliz.imports.datex2 import NS, parse_datex2
from cirqliz.imports.records import ZoneRecord
from cirqliz.imports.zfe import validate_zfe_document
from cirqliz.issuance.zone_exports import ZoneView, zone_view

PUBLISHED = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
# English words of the JSON/XML/geometry engines that must never reach a person.
LEAK = re.compile(r"\b(is not|not one of|invalid|error|element|attribute|expected|Self-intersection|failed|"
                  r"value|required|must|allowed)\b")
SQUARE = {"type": "Polygon", "coordinates": [[[4.83, 45.76], [4.84, 45.76], [4.84, 45.77], [4.83, 45.77],
                                              [4.83, 45.76]]]}


@pytest.mark.parametrize("name", ["exemple-valide-zone.geojson", "exemple-valide-voie-speciale.geojson"])
def test_zfe_round_trip_keeps_every_value(shared_data, name):
    original = json.loads((shared_data / "zfe" / name).read_text())
    exported = export_zfe(import_zfe(json.dumps(original)).records)
    validate_zfe_document(exported)
    assert len(exported["features"]) == len(original["features"])
    for before, after in zip(original["features"], exported["features"], strict=True):
        props = dict(before["properties"])
        if "url_site" in props:  # the examples' spelling; the schema's property is url_site_information
            props["url_site_information"] = props.pop("url_site")
        for key, value in props.items():
            assert after["properties"][key] == value, key
        assert set(after["properties"]) == set(props)
        assert after["geometry"] == before["geometry"]  # a road section goes out as its line again
        _check_published_schema(shared_data, exported)


def _check_published_schema(shared_data, document) -> None:
    """The document against the published schema.json itself (not only the built-in checks)."""
    schema = json.loads((shared_data / "zfe" / "schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, registry=geojson_registry(),
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    assert [e.message for e in validator.iter_errors(document)] == []


def _zone(code: str, **changes) -> ZoneRecord:
    base = ZoneRecord(source="cirqliz", source_id=code, code=code, name=f"Zone {code}", kind=ZoneKind.LIMITED_TRAFFIC,
                      geometry=SQUARE, valid_from=datetime(2024, 1, 1, 23, 0, tzinfo=UTC))
    return dataclasses.replace(base, **changes)


def _made_here(**changes) -> ZoneView:
    """A low-emission zone drawn in CirQliz (no source), as the export view of a stored zone."""
    base = ZoneView(source="cirqliz", source_id="LYON-ZFE", code="LYON-ZFE", name="ZFE lyonnaise",
                    kind=ZoneKind.LOW_EMISSION.value, ref=7, geometry=SQUARE, tz="Europe/Paris",
                    valid_from=datetime(2024, 1, 1, 23, 0, tzinfo=UTC), valid_until=None,
                    windows=(TimeWindow(0b0011111, 420, 1140),), opening_hours=None,
                    rules={"critair": {"vp": {"critair_from": "V3"}, "pl": {"critair_from": "V2",
                                                                             "opening_hours": "24/7"}}},
                    extra={}, version="1", updated_at=PUBLISHED)
    return dataclasses.replace(base, **changes)


def test_zfe_export_of_a_zone_made_in_cirqliz_fills_every_field(shared_data):
    zone = _made_here(valid_until=datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
                      url_order="https://www.grandlyon.com/arrete-zfe.pdf",
                      url_site="https://www.grandlyon.com/zfe")
    document = export_zfe([zone], siren="200046977")
    props = document["features"][0]["properties"]
    assert props == {"id": "200046977-ZFE-007", "date_debut": "2024-01-02", "date_fin": "2026-12-31",
                     "vp_critair": "V3", "vp_horaires": "Mo-Fr 07:00-19:00", "pl_critair": "V2", "pl_horaires": "24/7",
                     "url_arrete": "https://www.grandlyon.com/arrete-zfe.pdf",
                     "url_site_information": "https://www.grandlyon.com/zfe"}
    assert document["features"][0]["geometry"] == SQUARE
    _check_published_schema(shared_data, document)
    # The restriction's own text is written as given (here with public holidays off).
    text = _made_here(opening_hours="Mo-Fr 08:00-20:00; PH off", windows=(
        TimeWindow(0b0011111, 480, 1200, skip_public_holidays=True),))
    assert export_zfe([text], siren="200046977")["features"][0]["properties"]["vp_horaires"] == \
        "Mo-Fr 08:00-20:00; PH off"
    # Always in force: "24/7".
    always = export_zfe([_made_here(windows=())], siren="200046977")["features"][0]["properties"]
    assert always["vp_horaires"] == "24/7"


def test_zfe_id_of_an_imported_zone_is_its_source_id_and_needs_no_siren(shared_data):
    record = import_zfe((shared_data / "zfe" / "exemple-valide-zone.geojson").read_bytes()).records[0]
    document = export_zfe([record])  # no SIREN: not needed for a zone that came with its id
    assert document["features"][0]["properties"]["id"] == record.source_id


def test_zfe_export_refuses_a_zone_made_here_without_siren():
    with pytest.raises(ExportFileError) as caught:
        export_zfe([_made_here()])
    assert caught.value.code == "export_no_siren"
    assert "LYON-ZFE" in caught.value.message and "SIREN" in caught.value.message
    assert "cirqliz authority siren" in caught.value.message and not LEAK.search(caught.value.message)


def test_zfe_export_refuses_two_zones_with_one_id(shared_data):
    record = import_zfe((shared_data / "zfe" / "exemple-valide-zone.geojson").read_bytes()).records[0]
    twin = dataclasses.replace(record, code="AUTRE")
    with pytest.raises(ExportFileError) as caught:
        export_zfe([record, twin])
    assert caught.value.code == "export_duplicate_id" and record.source_id in caught.value.message


def _rule(**fields) -> SimpleNamespace:
    values = {"vehicle_class": "", "critair_from": None, "max_crit_air": None, "categories": []}
    values.update(fields)
    return SimpleNamespace(**values)


def test_critair_thresholds_from_rules():
    # Imported rules name their class and threshold: kept as they are, EL included.
    assert critair_classes([_rule(vehicle_class="vp", critair_from="V4", max_crit_air=3, categories=["M1"]),
                            _rule(vehicle_class="pl", critair_from="EL", max_crit_air=0)]) == {
        "vp": "V4", "pl": "EL"}
    # A hand-made rule: max Crit'Air 2 for every class refuses from V3 on.
    assert critair_classes([_rule(max_crit_air=2)]) == {c: "V3" for c in
                                                       ("vp", "vul", "pl", "autobus_autocars", "deux_rm")}
    # Categories choose the classes; the most permissive rule of a class wins; 5 refuses only "NC".
    assert critair_classes([_rule(max_crit_air=1, categories=["N1", "N2"]), _rule(max_crit_air=3, categories=["N1"]),
                            _rule(max_crit_air=5, categories=["L3e"]), _rule(max_crit_air=0, categories=["M1"])]) == {
        "vp": "V1", "vul": "V4", "pl": "V2", "deux_rm": "NC"}
    # A derogation pass (no Crit'Air limit) says nothing of the thresholds; an imported class wins
    # over a hand-made rule of the same class.
    assert critair_classes([_rule(), _rule(max_crit_air=4, categories=["M1"]),
                            _rule(vehicle_class="vp", critair_from="V2")]) == {"vp": "V2"}


def test_zone_view_reads_fields_not_names():
    now = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    zone = Zone(authority_id=uuid.uuid4(), ref=12, code="ZFE-X", name="[zfe:faux] vp V5", kind="low_emission",
                geometry=SQUARE, time_zone="Europe/Paris", status="active", permanent=False,
                starts_on=date(2024, 7, 1), ends_on=date(2025, 6, 30), source="zfe", source_id="200046977-ZFE-002",
                url_order="https://example.fr/arrete.pdf", url_site="https://example.fr/zfe",
                restriction_hours="Mo-Fr 08:00-20:00",
                restriction_windows=[window_to_json(TimeWindow(0b0011111, 480, 1200))],
                source_properties={"vul_horaires": "Mo-Sa 07:00-21:00", "commentaire": "phase 2"},
                created_at=now, updated_at=now)
    rules = [AccessRule(zone_id=zone.id, name="[zfe:faux] pl V5", purposes=[], categories=["N1"], max_crit_air=2,
                        source="zfe", source_id="200046977-ZFE-002", vehicle_class="vul", critair_from="V3",
                        created_at=now),
             AccessRule(zone_id=zone.id, name="Livraisons", purposes=[1], categories=["M1"], max_crit_air=1,
                        max_weight_kg=3500, opening_hours="Mo-Fr 07:00-11:00",
                        windows=[window_to_json(TimeWindow(0b0011111, 420, 660))], created_at=now)]
    view = zone_view(zone, rules)
    props = export_zfe([view])["features"][0]["properties"]
    assert props == {"id": "200046977-ZFE-002", "date_debut": "2024-07-01", "date_fin": "2025-06-30",
                     "vp_critair": "V2", "vp_horaires": "Mo-Fr 08:00-20:00",
                     "vul_critair": "V3", "vul_horaires": "Mo-Sa 07:00-21:00",
                     "url_arrete": "https://example.fr/arrete.pdf", "url_site_information": "https://example.fr/zfe",
                     "commentaire": "phase 2"}
    access = view.rules["access"]
    assert access[1].windows == (TimeWindow(0b0011111, 420, 660),) and access[1].max_weight_kg == 3500


def test_zfe_export_refuses_what_the_schema_refuses():
    with pytest.raises(ExportFileError, match="vp_critair"):
        export_zfe([_zone("BAD", source="zfe", rules={"critair": {"vp": {"critair_from": "V9"}}})])
    with pytest.raises(ExportFileError, match="date_debut"):
        export_zfe([_zone("NOSTART", valid_from=None)])


def test_zfe_export_refusal_is_french(shared_data):
    # Published schema in use: its refusal was jsonschema's English ("'V9' is not one of [...]").
    with pytest.raises(ExportFileError) as caught:
        export_zfe([_zone("BAD", source="zfe", rules={"critair": {"vp": {"critair_from": "V9"}}})])
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


# ---- DATEX II: any state, the restriction schedule and the access rules ---------------------------


def test_datex2_empty_publication_is_valid(xsd_dir):
    document = export_datex2([], publication_time=PUBLISHED, authority="Ville", validate=True, xsd_dir=xsd_dir)
    root = parse_datex2(document, xsd_dir=xsd_dir)  # the XSDs accept it
    assert root.find("tro:trafficRegulationsFromCompetentAuthorities", NS) is None
    batch = import_datex2(document, xsd_dir=xsd_dir)
    assert batch.records == () and batch.problems == ()


_NS = {**NS, "cq": CIRQLIZ_NS}


def _find(element: Element, path: str) -> list[Element]:
    return element.findall(path, _NS)


def _texts(element: Element, path: str) -> list[str]:
    return [(e.text or "").strip() for e in element.findall(path, _NS)]


def _xsi(element: Element) -> str:
    return element.get(f"{{{NS['xsi']}}}type") or ""


def test_datex2_carries_restriction_schedule_access_rules_and_order_url(xsd_dir):
    delivery = PermitRule("Livraisons", categories=("N1", "N2"), max_crit_air=3, max_weight_kg=7500,
                          max_length_cm=1000, max_width_cm=255, max_height_cm=350,
                          windows=(TimeWindow(0b0111111, 420, 660),))
    zone = _zone("LIVRAISONS", windows=(TimeWindow(0b0011111, 450, 1170, skip_public_holidays=True),),
                 rules={"access": (delivery, PermitRule("Riverains"))}, url_order="https://example.fr/arrete.pdf")
    document = export_datex2([zone], publication_time=PUBLISHED, authority="Ville", permit_url="https://x.fr/pro",
                             validate=True, xsd_dir=xsd_dir)
    root = parse_datex2(document, xsd_dir=xsd_dir)
    order = root.find(".//tro:trafficRegulationOrder", NS)
    assert _texts(order, "tro:_trafficRegulationOrderExtension/tro:trafficRegulationOrderExtended/dx:publicUrl") == [
        "https://example.fr/arrete.pdf"]
    top = order.find("tro:trafficRegulation/tro:condition", NS)
    validity, location, unless = _find(top, "tro:conditions")
    assert _xsi(location) == "tro:LocationCondition"
    # When: weekdays 07:30-19:30 except public holidays.
    spec = validity.find("tro:validityByOrder/com:validityTimeSpecification", NS)
    (period,) = _find(spec, "com:validPeriod")
    assert _texts(period, "com:recurringTimePeriodOfDay/com:startTimeOfPeriod") == ["07:30:00"]
    assert _texts(period, "com:recurringTimePeriodOfDay/com:endTimeOfPeriod") == ["19:30:00"]
    assert _texts(period, "com:recurringDayWeekMonthPeriod/com:applicableDay") == [
        "monday", "tuesday", "wednesday", "thursday", "friday"]
    assert _texts(spec, "com:exceptionPeriod/com:recurringSpecialDay/com:specialDayType") == ["publicHoliday"]
    # Unless: a permit of one of the rules, the first only for some vehicles and hours.
    assert (_xsi(unless), _texts(unless, "tro:negate"), _texts(unless, "tro:operator")) == (
        "tro:ConditionSet", ["true"], ["or"])
    first, second = _find(unless, "tro:conditions")
    assert _xsi(second) == "tro:PermitCondition" and _texts(second, "tro:negate") == ["false"]
    assert _texts(second, "tro:whereToApplyForPermit") == ["https://x.fr/pro"]
    permit, vehicle, hours = _find(first, "tro:conditions")
    assert [_xsi(c) for c in (permit, vehicle, hours)] == [
        "tro:PermitCondition", "tro:VehicleCondition", "tro:ValidityCondition"]
    characteristics = vehicle.find("tro:vehicleCharacteristics", NS)
    assert _texts(characteristics, "com:vehicleType") == ["lightCommercialVehicle", "heavyGoodsVehicle"]
    assert _texts(characteristics, "com:_vehicleCharacteristicsExtension/cq:vehicleCategory") == ["N1", "N2"]
    assert _texts(characteristics, "com:grossWeightCharacteristic/com:grossVehicleWeight") == ["7.5"]
    assert _texts(characteristics, "com:grossWeightCharacteristic/com:comparisonOperator") == ["lessThanOrEqualTo"]
    assert _texts(characteristics, "com:lengthCharacteristic/com:vehicleLength") == ["10"]
    assert _texts(characteristics, "com:widthCharacteristic/com:vehicleWidth") == ["2.55"]
    assert _texts(characteristics, "com:heightCharacteristic/com:vehicleHeight") == ["3.5"]
    assert _texts(characteristics, "com:emissions/com:emissionClassificationOther") == [
        "critair0", "critair1", "critair2", "critair3"]
    rule_period = hours.find("tro:validityByOrder/com:validityTimeSpecification/com:validPeriod", NS)
    assert _texts(rule_period, "com:recurringTimePeriodOfDay/com:startTimeOfPeriod") == ["07:00:00"]
    assert len(_texts(rule_period, "com:recurringDayWeekMonthPeriod/com:applicableDay")) == 6
    # Rules that limit nothing: the plain "unless a permit" of before.
    plain = export_datex2([dataclasses.replace(zone, rules={"access": (PermitRule("Tous"),)})],
                          publication_time=PUBLISHED, authority="Ville", validate=True, xsd_dir=xsd_dir)
    conditions = parse_datex2(plain, xsd_dir=xsd_dir).find(".//tro:trafficRegulation/tro:condition", NS)
    assert [_xsi(c) for c in _find(conditions, "tro:conditions")][-1] == "tro:PermitCondition"


def test_datex2_dated_periods_of_the_restriction(xsd_dir):
    july = (datetime(2024, 7, 13, 16, 0, tzinfo=UTC), datetime(2024, 7, 15, 4, 0, tzinfo=UTC))
    later = (datetime(2024, 8, 1, 6, 0, tzinfo=UTC), None)
    event = _zone("FETE", periods=(july, later))
    spec = parse_datex2(export_datex2([event], publication_time=PUBLISHED, authority="Ville", validate=True,
                                      xsd_dir=xsd_dir), xsd_dir=xsd_dir).find(".//com:validityTimeSpecification", NS)
    periods = _find(spec, "com:validPeriod")
    assert [(_texts(p, "com:startOfPeriod"), _texts(p, "com:endOfPeriod")) for p in periods] == [
        (["2024-07-13T16:00:00Z"], ["2024-07-15T04:00:00Z"]), (["2024-08-01T06:00:00Z"], [])]
    # Periods and hours: in force during both (each period cut to each window's days).
    evenings = dataclasses.replace(event, windows=(TimeWindow(0b1111111, 18 * 60, 1440),))
    spec = parse_datex2(export_datex2([evenings], publication_time=PUBLISHED, authority="Ville", validate=True,
                                      xsd_dir=xsd_dir), xsd_dir=xsd_dir).find(".//com:validityTimeSpecification", NS)
    periods = _find(spec, "com:validPeriod")
    assert len(periods) == 2
    assert _texts(periods[0], "com:recurringTimePeriodOfDay/com:startTimeOfPeriod") == ["18:00:00"]
    assert _texts(periods[0], "com:startOfPeriod") == ["2024-07-13T16:00:00Z"]


def test_datex2_refusal_is_french(xsd_dir):
    # A country code the XSD refuses: the validator's English never reaches the message.
    with pytest.raises(ExportFileError) as caught:
        export_datex2([_zone("A1")], publication_time=PUBLISHED, authority="Ville", country="france",
                      validate=True, xsd_dir=xsd_dir)
    message = caught.value.message
    assert message.startswith("export DATEX II refusé : ") and "country" in message
    assert not LEAK.search(message.replace("« country »", ""))


# ---- coordinates: rounding never breaks a polygon ---------------------------------------------

# Valid as stored: the inner vertex is 4e-9 degree (0.4 mm) above the bottom edge. Rounded to 8
# decimals it lands on that edge: the ring touches itself and the polygon is invalid.
PINCHED = {"type": "Polygon", "coordinates": [[[4.83, 45.76], [4.84, 45.76], [4.84, 45.77], [4.835, 45.760000004],
                                               [4.83, 45.77], [4.83, 45.76]]]}


def test_rounding_that_would_break_a_polygon_keeps_more_decimals():
    validate_geometry(PINCHED)
    naive = {"type": "Polygon", "coordinates": [[[round(x, 8), round(y, 8)] for x, y in PINCHED["coordinates"][0]]]}
    assert not shapely.is_valid(shape(naive))  # the defect: 8 decimals make it self-intersect
    written, digits = export_geometry(PINCHED)
    assert digits is not None and digits > 8
    validate_geometry(written)
    assert shape(written).equals_exact(shape(PINCHED), 1e-12)
    # An ordinary polygon keeps 8 decimals.
    square = {"type": "Polygon", "coordinates": [[[4.830000000001, 45.76], [4.84, 45.76], [4.84, 45.77],
                                                  [4.83, 45.77], [4.830000000001, 45.76]]]}
    assert export_geometry(square) == ({"type": "Polygon", "coordinates": [[[4.83, 45.76], [4.84, 45.76],
                                        [4.84, 45.77], [4.83, 45.77], [4.83, 45.76]]]}, 8)


def test_invalid_stored_polygon_is_repaired_not_written_broken():
    bowtie = {"type": "Polygon", "coordinates": [[[4.83, 45.76], [4.84, 45.77], [4.84, 45.76], [4.83, 45.77],
                                                  [4.83, 45.76]]]}
    written, _ = export_geometry(bowtie)
    validate_geometry(written)
    assert written["type"] == "MultiPolygon" and abs(shape(written).area - 2 * 0.01 * 0.005 / 2) < 1e-12


def test_datex2_reimport_keeps_a_zone_that_rounding_would_break(xsd_dir):
    zones = [_zone("PINCE", geometry=PINCHED), _zone("MULTI", geometry={"type": "MultiPolygon", "coordinates": [
        PINCHED["coordinates"], [[[4.85, 45.76], [4.86, 45.76], [4.86, 45.77], [4.85, 45.76]]]]})]
    document = export_datex2(zones, publication_time=PUBLISHED, authority="Ville", validate=True, xsd_dir=xsd_dir)
    assert b"45.760000004" in document
    batch = import_datex2(document, xsd_dir=xsd_dir)
    assert batch.problems == () and len(batch.records) == 2
    for zone, back in zip(zones, batch.records, strict=True):
        assert shape(back.geometry).symmetric_difference(shape(zone.geometry)).area < 1e-12
