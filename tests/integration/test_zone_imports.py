"""Zones from open-data files into the database (SQLite and PostgreSQL), and back out."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from factories import AUTHORITY_PARIS_ID, USER_ADMIN_ID, make_zone
from sqlmodel import col, select

from cirqliz.db.models import AccessRule, AuditRecord, Organisation, Zone
from cirqliz.domain.zones import ZoneStatus
from cirqliz.exports.datex2 import summary
from cirqliz.imports import ImportFileError, import_zfe
from cirqliz.imports.datex2 import parse_datex2
from cirqliz.imports.zfe import validate_zfe_document
from cirqliz.issuance.zone_imports import (
    ZoneImportRefused,
    apply_zone_records,
    import_zone_file,
    parse_rule_marker,
    zones_datex2,
    zones_geojson,
)

pytestmark = pytest.mark.usefixtures("world")

ZFE_FILES = ("exemple-valide-zone.geojson", "exemple-valide-voie-speciale.geojson")


def _read(shared_data: Path, name: str) -> bytes:
    return (shared_data / "zfe" / name).read_bytes()


async def _state(session) -> dict:
    """Every zone of Paris with its rules and every audit record: what 'nothing changed' compares."""
    zones = (await session.exec(select(Zone).where(col(Zone.authority_id) == AUTHORITY_PARIS_ID)
                                .order_by(col(Zone.code)))).all()
    rules = (await session.exec(select(AccessRule).order_by(col(AccessRule.id)))).all()
    audit = (await session.exec(select(AuditRecord.id))).all()
    return {
        "zones": [(z.id, z.code, z.name, z.kind, z.status, z.geometry, z.starts_on, z.ends_on, z.permanent,
                   z.data_version, z.updated_at) for z in zones],
        "rules": [(r.id, r.zone_id, r.name, r.opening_hours, r.windows, r.categories, r.max_crit_air)
                  for r in rules],
        "audit": sorted(str(a) for a in audit),
        "next_ref": (await session.get(Organisation, AUTHORITY_PARIS_ID)).next_zone_ref,
    }


async def _import(session, clock, data, fmt="zfe", **kwargs):
    async with session.begin():
        return await import_zone_file(session, authority_id=AUTHORITY_PARIS_ID, data=data, fmt=fmt, clock=clock,
                                      actor_id=USER_ADMIN_ID, **kwargs)


@pytest.mark.parametrize("name", ZFE_FILES)
async def test_zfe_example_imports_then_reimport_changes_nothing(session, clock, shared_data, name):
    data = _read(shared_data, name)
    expected = import_zfe(data).records
    report = await _import(session, clock, data)
    assert report.ok and len(report.created) == len(expected) > 0
    assert not report.updated and not report.unchanged
    async with session.begin():
        for record in expected:
            zone = (await session.exec(select(Zone).where(col(Zone.code) == record.code))).one()
            assert zone.status == ZoneStatus.ACTIVE and zone.kind == "low_emission"
            assert zone.geometry == record.geometry
            assert zone.starts_on.isoformat() == "2019-07-01" and zone.ends_on.isoformat() == "2023-07-01"
            rules = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).all()
            assert len(rules) == 5
            vp = next(r for r in rules if r.categories == ["M1"])
            assert parse_rule_marker(vp.name) == ("zfe", record.source_id, "vp V4")
            assert vp.max_crit_air == 3 and vp.opening_hours == "Mo-Fr 08:00-20:00; PH off"
            assert vp.windows and vp.windows[0]["skip_public_holidays"] is True
        before = await _state(session)
    clock.advance(timedelta(hours=1))
    again = await _import(session, clock, data)
    assert again.ok and len(again.unchanged) == len(expected)
    assert not again.created and not again.updated
    async with session.begin():
        assert await _state(session) == before


async def test_changed_file_updates_zone_and_replaces_only_imported_rules(session, clock, shared_data):
    data = _read(shared_data, "exemple-valide-zone.geojson")
    await _import(session, clock, data)
    document = json.loads(data)
    props = document["features"][0]["properties"]
    props["vp_critair"] = "V3"
    props["vp_horaires"] = "24/7"
    props["date_fin"] = "2024-12-31"
    async with session.begin():
        zone = (await session.exec(select(Zone).where(col(Zone.code) == "ZFE-200046977-ZFE-001"))).one()
        hand = AccessRule(zone_id=zone.id, position=9, name="Règle saisie à la main", opening_hours="24/7",
                          windows=[], purposes=[], categories=[], created_at=clock.now())
        session.add(hand)
        version = zone.data_version
    clock.advance(timedelta(hours=1))
    report = await _import(session, clock, json.dumps(document))
    assert [o.action for o in report.outcomes] == ["updated"]
    assert set(report.updated[0].changes) == {"ends_on", "rules"}
    async with session.begin():
        await session.refresh(zone)
        assert zone.ends_on.isoformat() == "2024-12-31" and zone.data_version > version
        rules = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).all()
        names = sorted(r.name for r in rules)
        assert "Règle saisie à la main" in names and len(rules) == 6
        vp = next(r for r in rules if r.categories == ["M1"])
        assert vp.max_crit_air == 2 and vp.opening_hours == "24/7"


async def test_malformed_file_changes_nothing(session, clock, shared_data):
    async with session.begin():
        before = await _state(session)
    with pytest.raises(ImportFileError):
        await _import(session, clock, b'{"type": "FeatureCollection", "features": [')
    # A valid document with one bad feature: the whole import is refused.
    document = json.loads(_read(shared_data, "exemple-valide-voie-speciale.geojson"))
    document["features"][1]["properties"]["vp_horaires"] = "n'importe quoi"
    with pytest.raises(ZoneImportRefused) as caught:
        await _import(session, clock, json.dumps(document))
    errors = caught.value.report.errors
    assert errors and errors[0].item == 2 and errors[0].field == "vp_horaires"
    async with session.begin():
        assert await _state(session) == before


async def test_failure_while_writing_rolls_everything_back(session, clock, shared_data, monkeypatch):
    from cirqliz.issuance import zone_imports

    calls = []
    real = zone_imports.add_access_rule

    async def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 7:
            raise RuntimeError("panne simulée")
        return await real(*args, **kwargs)

    monkeypatch.setattr(zone_imports, "add_access_rule", failing)
    async with session.begin():
        before = await _state(session)
    with pytest.raises(RuntimeError):
        await _import(session, clock, _read(shared_data, "exemple-valide-voie-speciale.geojson"))
    async with session.begin():
        assert await _state(session) == before


async def test_dry_run_writes_nothing_and_previews(session, clock, shared_data):
    async with session.begin():
        before = await _state(session)
    report = await _import(session, clock, _read(shared_data, "exemple-valide-voie-speciale.geojson"), dry_run=True)
    assert report.dry_run and len(report.created) == 4 and report.ok
    async with session.begin():
        assert await _state(session) == before


async def test_cerema_example_imports_rows_with_geometry_and_reports_others(session, clock, shared_data):
    data = (shared_data / "cerema-marchandises" / "exemple-valide.csv").read_bytes()
    report = await _import(session, clock, data, fmt="cerema")
    assert report.ok
    assert len(report.created) == 1 and len(report.skipped) == 1
    assert "géométrie" in report.skipped[0].reasons[0]
    assert report.warnings  # the hours that TimeWindow cannot express
    async with session.begin():
        zone = (await session.exec(select(Zone).where(col(Zone.code) == report.created[0].code))).one()
        assert zone.kind == "limited_traffic" and zone.geometry["type"] in ("Polygon", "MultiPolygon")
        rule = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).one()
        assert rule.max_weight_kg == 3500 and rule.windows is None
        assert rule.opening_hours == "Mo-Sa 11:00-06:00; Su,PH 10:00-06:00"
    again = await _import(session, clock, data, fmt="cerema")
    assert len(again.unchanged) == 1 and not again.created


async def test_archived_zone_with_same_code_is_skipped(session, clock, shared_data):
    async with session.begin():
        await make_zone(session, clock, code="ZFE-200046977-ZFE-001", kind="low_emission", activate=False)
        zone = (await session.exec(select(Zone).where(col(Zone.code) == "ZFE-200046977-ZFE-001"))).one()
        zone.status = ZoneStatus.ARCHIVED.value
        session.add(zone)
    report = await _import(session, clock, _read(shared_data, "exemple-valide-zone.geojson"))
    assert [o.action for o in report.outcomes] == ["skipped"]
    assert "archivée" in report.outcomes[0].reasons[0]


async def test_records_without_batch(session, clock, shared_data):
    records = import_zfe(_read(shared_data, "exemple-valide-zone.geojson")).records
    async with session.begin():
        report = await apply_zone_records(session, authority_id=AUTHORITY_PARIS_ID, records=records, clock=clock)
    assert len(report.created) == 1


@pytest.mark.parametrize("name", ZFE_FILES)
async def test_exported_zfe_validates_and_keeps_values(session, clock, shared_data, name):
    data = _read(shared_data, name)
    await _import(session, clock, data)
    async with session.begin():
        paris = await session.get(Organisation, AUTHORITY_PARIS_ID)
        document = await zones_geojson(session, paris)
    validate_zfe_document(document)
    source = {f["properties"]["id"]: f for f in json.loads(data)["features"]}
    exported = {f["properties"]["id"]: f for f in document["features"]}
    assert set(source) <= set(exported)
    keys = ["date_debut", "date_fin"] + [f"{c}_{s}" for c in ("vp", "vul", "pl", "autobus_autocars", "deux_rm")
                                         for s in ("critair", "horaires")]
    for ident, feature in source.items():
        for key in keys:
            assert exported[ident]["properties"].get(key) == feature["properties"].get(key), (ident, key)
    if name == "exemple-valide-zone.geojson":
        assert exported[next(iter(source))]["geometry"] == import_zfe(data).records[0].geometry
    # Zones of the world (one hand-made low-emission zone) export too, with their code as id.
    assert "ZFE" in exported


async def test_exported_datex2_validates(session, clock, shared_data):
    await _import(session, clock, _read(shared_data, "exemple-valide-voie-speciale.geojson"))
    await _import(session, clock, (shared_data / "cerema-marchandises" / "exemple-valide.csv").read_bytes(),
                  fmt="cerema")
    async with session.begin():
        paris = await session.get(Organisation, AUTHORITY_PARIS_ID)
        document = await zones_datex2(session, paris, permit_url="https://cirqliz.test/pro")
        again = await zones_datex2(session, paris, permit_url="https://cirqliz.test/pro")
    assert document == again  # same data, same document
    parse_datex2(document)  # validates against the XSDs
    orders = summary(document)
    ids = {o["id"] for o in orders}
    assert {"CIRQLIZ-CENTRE", "CIRQLIZ-ZFE", "CIRQLIZ-ZFE-TRONROUT0000000000176896"} <= ids
    assert b"PermitCondition" in document


# ---- CLI ----------------------------------------------------------------------------------


def _cli(monkeypatch, capsys, database_url, *argv):
    from cirqliz.cli import main

    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", database_url)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_import_export_and_exemptions(monkeypatch, capsys, database_url, shared_data, tmp_path):
    path = str(shared_data / "zfe" / "exemple-valide-voie-speciale.geojson")
    code, out, _ = _cli(monkeypatch, capsys, database_url, "import", "zfe", path, "--authority", "paris", "--dry-run")
    assert code == 0 and "created 4" in out and "dry run" in out
    code, out, _ = _cli(monkeypatch, capsys, database_url, "import", "zfe", path, "--authority", "paris",
                        "--actor", "admin@paris.test", "--json")
    assert code == 0 and json.loads(out)["counts"]["created"] == 4
    code, out, _ = _cli(monkeypatch, capsys, database_url, "import", "zfe", path, "--authority", "paris")
    assert code == 0 and "unchanged 4" in out
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection"')
    code, _, err = _cli(monkeypatch, capsys, database_url, "import", "zfe", str(bad), "--authority", "paris")
    assert code == 1 and "JSON" in err
    code, _, err = _cli(monkeypatch, capsys, database_url, "import", "zfe", str(tmp_path / "none"), "--authority",
                        "paris")
    assert code == 2
    code, _, err = _cli(monkeypatch, capsys, database_url, "import", "zfe", path, "--authority", "lyon")
    assert code == 1 and "lyon" in err
    geojson = tmp_path / "zones.geojson"
    code, *_ = _cli(monkeypatch, capsys, database_url, "export", "zones", "--format", "geojson", "--authority",
                    "paris", "--out", str(geojson))
    assert code == 0
    validate_zfe_document(json.loads(geojson.read_text()))
    code, out, _ = _cli(monkeypatch, capsys, database_url, "export", "zones", "--format", "datex2", "--authority",
                        "paris")
    assert code == 0
    parse_datex2(out.encode())
    listing = tmp_path / "list.csv"
    code, *_ = _cli(monkeypatch, capsys, database_url, "export", "exemptions", "--authority", "paris",
                    "--format", "csv-fr", "--out", str(listing), "--actor", "instruction@paris.test")
    assert code == 0 and listing.read_bytes().startswith(b"\xef\xbb\xbfplate;country")
    code, _, err = _cli(monkeypatch, capsys, database_url, "export", "exemptions", "--authority", "paris",
                        "--actor", "alice@acme.test")
    assert code == 1 and "alice@acme.test" in err
