"""Imports and exports on an install without the published schemas (no ../shared, nothing fetched).

CIRQLIZ_OPEN_DATA_DIR points at an empty folder: the built-in checks alone validate what is read
and written. The real published files still import to the same records as with the schemas, broken
files are still refused with French messages, and both exports are still produced and checked.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cirqliz.exports import ExportFileError, export_datex2, export_zfe
from cirqliz.imports import ImportFileError, import_cerema, import_datex2, import_perimeters, import_zfe
from cirqliz.opendata import BUILTIN, PUBLISHED, opendata_status

from .test_cerema_import import GOOD, _csv
from .test_import_messages import LEAK, _xml_cases

PUBLISHED_AT = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
REAL_FILES = [
    (import_zfe, "zfe/exemple-valide-zone.geojson"),
    (import_zfe, "zfe/exemple-valide-voie-speciale.geojson"),
    (import_cerema, "cerema-marchandises/exemple-valide.csv"),
    (import_cerema, "cerema-marchandises/exemples/carros.csv"),
    (import_datex2, "dialog-datex2/example.xml"),
    (import_datex2, "dialog-datex2/sample.xml"),
    (import_perimeters, "jop/para_ouverture.geojson"),
]


@pytest.fixture
def no_schemas(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty open-data folder, as on a server where nothing was fetched."""
    folder = tmp_path / "opendata"
    folder.mkdir()
    monkeypatch.setenv("CIRQLIZ_OPEN_DATA_DIR", str(folder))
    return folder


def test_status_says_built_in_checks_only(no_schemas, shared_data):
    assert opendata_status().summary() == {"zfe": BUILTIN, "cerema": BUILTIN, "datex2": BUILTIN}
    assert opendata_status(shared_data).summary() == {"zfe": PUBLISHED, "cerema": PUBLISHED, "datex2": PUBLISHED}


@pytest.mark.parametrize(("read", "name"), REAL_FILES, ids=[name for _, name in REAL_FILES])
def test_real_files_import_as_with_the_schemas(shared_data, monkeypatch, tmp_path, read, name):
    data = (shared_data / name).read_bytes()
    monkeypatch.setenv("CIRQLIZ_OPEN_DATA_DIR", str(tmp_path))
    assert set(opendata_status().summary().values()) == {BUILTIN}
    without = read(data)  # first: nothing cached from the published schemas may help
    monkeypatch.setenv("CIRQLIZ_OPEN_DATA_DIR", str(shared_data))
    with_schemas = read(data)
    assert without.records and without.errors == ()
    if read is import_cerema:  # without the VEH_USAGES vocabulary, usages are kept but not compared
        assert without.records == with_schemas.records
    else:
        assert without == with_schemas


def _zfe(**props) -> dict:
    square = [[[2.30, 48.85], [2.31, 48.85], [2.31, 48.86], [2.30, 48.86], [2.30, 48.85]]]
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
        "type": "Polygon", "coordinates": square}, "properties": {"id": "200046977-ZFE-009",
                                                                  "date_debut": "2025-01-01", **props}}]}


def _without(document: dict, key: str) -> dict:
    del document["features"][0]["properties"][key]
    return document


@pytest.mark.parametrize(("document", "path"), [
    (_zfe(vp_critair="V9", vp_horaires="24/7"), "$.features[0].properties.vp_critair"),
    (_zfe(date_debut=20250101), "$.features[0].properties.date_debut"),
    (_zfe(date_debut="2025-02-30"), "$.features[0].properties.date_debut"),
    (_zfe(date_fin="01/07/2025"), "$.features[0].properties.date_fin"),
    (_zfe(vp_critair="V3"), "$.features[0].properties"),
    (_zfe(pl_horaires="24/7"), "$.features[0].properties"),
    (_zfe(vp_critair="V3", vp_horaires=24), "$.features[0].properties.vp_horaires"),
    (_zfe(id=""), "$.features[0].properties.id"),
    (_without(_zfe(), "date_debut"), "$.features[0].properties"),
    ({"type": "FeatureCollection", "features": {"a": 1}}, "$.features"),
    ({"type": "Feature", "features": []}, "$.type"),
    ({**_zfe(), "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Circle"}}]},
     "$.features[0].geometry"),
])
def test_broken_zfe_documents_are_refused_in_french(no_schemas, document, path):
    with pytest.raises(ImportFileError) as caught:
        import_zfe(json.dumps(document))
    assert caught.value.code == "import_schema_violation"
    assert path in caught.value.message and not LEAK.search(caught.value.message.split(" : ", 1)[1])


def test_cerema_rows_are_checked_by_the_built_in_schema(no_schemas):
    rows = [
        GOOD,
        {**GOOD, "ID": "2", "COLL_NOM": ""},
        {**GOOD, "ID": "3", "REGL_MODALITE": "Peut-être", "VEH_TONNAGE": "99", "COLL_INSEE": "123"},
        {**GOOD, "ID": "4", "VEH_CQAS": "2|7", "VEH_MOTORS": "Vapeur"},
        {**GOOD, "ID": "5", "ARR_DATE": "31/01/2024", "GEOM_DEBUT": "200,100", "INTERV_DUREE": "3h"},
        {**GOOD, "ID": "1"},
        {**GOOD, "ID": "7", "VEH_USAGES": "Livraison|Licornes"},
    ]
    batch = import_cerema(_csv(rows))
    assert [r.source_id for r in batch.records] == ["2A004:1", "2A004:7"]
    assert batch.records[1].usages == ("Livraison", "Licornes")
    assert sorted((p.item, p.field) for p in batch.problems) == [
        (3, "COLL_NOM"), (4, "COLL_INSEE"), (4, "REGL_MODALITE"), (4, "VEH_TONNAGE"), (5, "VEH_CQAS"),
        (5, "VEH_MOTORS"), (6, "ARR_DATE"), (6, "GEOM_DEBUT"), (6, "INTERV_DUREE"), (7, "ID")]
    assert all(not LEAK.search(p.message) for p in batch.problems if p.field != "VEH_MOTORS")


def test_cerema_missing_column_is_a_file_error(no_schemas):
    with pytest.raises(ImportFileError, match="COLL_INSEE"):
        import_cerema(_csv([GOOD]).replace("COLL_INSEE", "INSEE", 1))


def test_broken_datex2_documents_are_refused_in_french(no_schemas, shared_data):
    example = (shared_data / "dialog-datex2" / "example.xml").read_bytes()
    for name, data in _xml_cases(example).items():
        with pytest.raises(ImportFileError) as caught:
            import_datex2(data)
        assert not LEAK.search(caught.value.message), (name, caught.value.message)
    with pytest.raises(ImportFileError) as caught:
        import_datex2(_xml_cases(example)["unknown child"])
    message = caught.value.message
    assert "ligne 23" in message and "« trafficRegulationOrder »" in message and "« foo »" in message
    for broken in (example.replace(b'xsi:type="AccessRestriction"', b'xsi:type="AccessRestri`tion"'),
                   example.replace(b"<operator>and</operator>", b"<operator>nand</operator>"),
                   example.replace(b"<com:applicableDay>saturday", b"<com:applicableDay>samedi"),
                   example.replace(b"<negate>false</negate>", b"<negate>non</negate>", 1),
                   example.replace(b' version="1"', b""),
                   example.replace(b"<com:publicationTime>2022-11-10T15:11:00.000Z", b"<com:publicationTime>hier")):
        with pytest.raises(ImportFileError) as caught:
            import_datex2(broken)
        assert caught.value.code == "import_schema_violation" and "ligne" in caught.value.message


def test_exports_are_produced_and_checked(no_schemas, shared_data):
    zfe = import_zfe((shared_data / "zfe" / "exemple-valide-zone.geojson").read_bytes()).records
    jop = import_perimeters((shared_data / "jop" / "para_ouverture.geojson").read_bytes()).records
    geojson = export_zfe(zfe)
    assert import_zfe(json.dumps(geojson)).records == zfe
    with pytest.raises(ExportFileError) as caught:
        export_zfe([dataclasses.replace(zfe[0], rules={"critair": {"vp": {"critair_from": "V9"}}})])
    assert "vp_critair" in caught.value.message and not LEAK.search(caught.value.message.split(" : ", 1)[1])
    document = export_datex2([*zfe, *jop], publication_time=PUBLISHED_AT, authority="Ville de Paris",
                             validate=True)
    back = import_datex2(document)
    assert [r.source_id for r in back.records] == [f"CIRQLIZ-{z.code}#1" for z in [*zfe, *jop]]
    with pytest.raises(ImportFileError):
        import_datex2(document.replace(b"noEntry", b"noParty"))
    with pytest.raises(ImportFileError, match="introuvables"):  # asking for the XSDs explicitly still needs them
        export_datex2(zfe, publication_time=PUBLISHED_AT, authority="Paris", validate=True, xsd_dir=no_schemas)
