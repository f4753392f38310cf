"""Zones from open-data files into the database (SQLite and PostgreSQL), and back out."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from factories import AUTHORITY_PARIS_ID, USER_ADMIN_ID, make_zone
from sqlmodel import col, select

from cirqliz.db.models import AccessRule, AuditRecord, Organisation, TrafficOrder, Zone
from cirqliz.domain.zones import ZoneStatus
from cirqliz.exports.datex2 import summary
from cirqliz.imports import ImportFileError, import_cerema, import_zfe
from cirqliz.imports.datex2 import parse_datex2
from cirqliz.imports.zfe import validate_zfe_document
from cirqliz.issuance.zone_exports import zones_datex2, zones_geojson
from cirqliz.issuance.zone_imports import (
    ZoneImportRefused,
    apply_zone_records,
    import_zone_file,
    parse_rule_marker,
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
                   z.data_version, z.updated_at, z.restriction_hours, z.restriction_windows, z.source, z.source_id,
                   z.url_order, z.url_site, z.source_properties) for z in zones],
        "rules": [(r.id, r.zone_id, r.name, r.opening_hours, r.windows, r.categories, r.max_crit_air, r.source,
                   r.source_id, r.vehicle_class, r.critair_from, r.min_weight_kg, r.max_weight_kg, r.max_length_cm,
                   r.max_width_cm, r.max_height_cm) for r in rules],
        "orders": [(o.id, o.source_id, o.rules, o.status, o.updated_at)
                   for o in (await session.exec(select(TrafficOrder).order_by(col(TrafficOrder.id)))).all()],
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
            # The source's hours are the zone's restriction schedule; its links and provenance are fields.
            assert zone.restriction_hours == "Mo-Fr 08:00-20:00; PH off"
            assert zone.restriction_windows == [{"weekdays": 31, "start": 480, "end": 1200,
                                                 "skip_public_holidays": True}]
            assert (zone.source, zone.source_id) == ("zfe", record.source_id)
            assert zone.url_order.startswith("https://cdn.paris.fr/") and zone.url_site.endswith("/ZFE")
            assert zone.source_properties == (record.extra or None)
            rules = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).all()
            assert len(rules) == 5
            assert {r.vehicle_class for r in rules} == {"vp", "vul", "pl", "autobus_autocars", "deux_rm"}
            vp = next(r for r in rules if r.categories == ["M1"])
            assert (vp.source, vp.source_id, vp.vehicle_class, vp.critair_from) == ("zfe", record.source_id, "vp",
                                                                                     "V4")
            assert vp.name == "Voitures particulières — Crit'Air V4 et au-delà restreints"
            assert parse_rule_marker(vp.name) is None and "[" not in vp.name
            # Rules have no hours of their own: a holder may enter whenever the restriction is in force.
            assert vp.max_crit_air == 3 and vp.opening_hours is None and vp.windows is None
        before = await _state(session)
    clock.advance(timedelta(hours=1))
    again = await _import(session, clock, data)
    assert again.ok and len(again.unchanged) == len(expected)
    assert not again.created and not again.updated
    assert again.counts()["unchanged"] == again.counts()["items"] == len(json.loads(data)["features"])
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
    # vp now differs from the other classes: the restriction is their union, each text kept.
    assert set(report.updated[0].changes) == {"ends_on", "rules", "restriction_hours", "restriction_windows",
                                              "source_properties"}
    [item] = report.items
    assert item.action == "updated" and "date de fin" in item.notes[-1]
    async with session.begin():
        await session.refresh(zone)
        assert zone.ends_on.isoformat() == "2024-12-31" and zone.data_version > version
        assert {"weekdays": 127, "start": 0, "end": 1440} in zone.restriction_windows
        assert zone.source_properties["vp_horaires"] == "24/7"
        assert zone.source_properties["pl_horaires"] == "Mo-Fr 08:00-20:00; PH off"
        rules = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).all()
        names = sorted(r.name for r in rules)
        assert "Règle saisie à la main" in names and len(rules) == 6
        assert next(r for r in rules if r.name == "Règle saisie à la main").source == ""
        vp = next(r for r in rules if r.vehicle_class == "vp")
        assert vp.max_crit_air == 2 and vp.critair_from == "V3" and vp.opening_hours is None
        assert vp.name == "Voitures particulières — Crit'Air V3 et au-delà restreints"
        audit = (await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "zone",
                                                              col(AuditRecord.action) == "import_update"))).all()
        assert audit and "restriction_windows" in audit[-1].after


async def test_hand_made_changes_to_provenance_are_seen_and_restored(session, clock, shared_data):
    """'Unchanged' compares the new fields too: a zone whose links or restriction were edited is updated."""
    data = _read(shared_data, "exemple-valide-zone.geojson")
    await _import(session, clock, data)
    async with session.begin():
        zone = (await session.exec(select(Zone).where(col(Zone.code) == "ZFE-200046977-ZFE-001"))).one()
        zone.url_site = None
        zone.restriction_windows = None
        session.add(zone)
        vp = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id,
                                                          col(AccessRule.vehicle_class) == "vp"))).one()
        vp.max_height_cm = 300
        session.add(vp)
    report = await _import(session, clock, data, dry_run=True)
    assert set(report.updated[0].changes) == {"url_site", "restriction_windows", "rules"}


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
    assert errors and errors[0].item == 2 and errors[0].field == "vp_horaires" and errors[0].unit == "entité"
    items = caught.value.report.items
    assert [i.action for i in items] == ["created", "skipped", "created", "created"]
    assert "vp_horaires" in items[1].notes[0]
    assert caught.value.message.startswith("import refusé, rien n'a été enregistré : 1 erreur(s) ; entité 2")
    async with session.begin():
        assert await _state(session) == before


async def test_failure_while_writing_rolls_everything_back(session, clock, shared_data, monkeypatch):
    from cirqliz.issuance import zone_imports

    calls = []
    real = zone_imports.change_zone_status

    async def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:  # the third zone of four
            raise RuntimeError("panne simulée")
        return await real(*args, **kwargs)

    monkeypatch.setattr(zone_imports, "change_zone_status", failing)
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


async def test_cerema_example_imports_rows_with_geometry_and_keeps_the_others_as_orders(session, clock,
                                                                                          shared_data):
    data = (shared_data / "cerema-marchandises" / "exemple-valide.csv").read_bytes()
    report = await _import(session, clock, data, fmt="cerema")
    assert report.ok
    assert len(report.created) == 1 and not report.skipped
    assert [(i.index, i.line, i.action, i.order_action, i.source_id) for i in report.items] == [
        (2, 2, "order", "created", "13090:11"), (3, 3, "created", None, "13022:38")]
    assert report.counts() | {"warnings": 0} == {"items": 2, "created": 1, "updated": 0, "unchanged": 0,
                                                  "to_locate": 1, "skipped": 0, "repaired": 0, "errors": 0,
                                                  "warnings": 0}
    assert report.items[0].describe().startswith("ligne 2 [13090:11, Avenue Philippe Solari] : à localiser")
    assert report.warnings  # the hours that TimeWindow cannot express
    async with session.begin():
        zone = (await session.exec(select(Zone).where(col(Zone.code) == report.created[0].code))).one()
        assert zone.kind == "limited_traffic" and zone.geometry["type"] in ("Polygon", "MultiPolygon")
        # Hours not expressible as windows: the text is the reference, no windows (in force at all times).
        assert zone.restriction_hours == "Mo-Sa 11:00-06:00; Su,PH 10:00-06:00" and zone.restriction_windows is None
        assert (zone.source, zone.source_id) == ("cerema", "13022:38")
        assert zone.source_properties["INTERV_DUREE"] == "03:00:00"
        rule = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).one()
        assert rule.max_weight_kg == 3500 and rule.max_length_cm == 800 and rule.windows is None
        assert rule.opening_hours is None and (rule.source, rule.source_id) == ("cerema", "13022:38")
        assert rule.name == "Interdiction — Poids lourds ≥ 3,5 t, longueur max. 8 m"
        order = (await session.exec(select(TrafficOrder))).one()
        assert (order.source, order.source_id, order.status, order.code) == ("cerema", "13090:11", "to_locate",
                                                                             "ARR-13090-11")
        assert order.name == "Avenue Philippe Solari" and order.insee == "13090" and order.order_ref == "124/6"
        assert order.restriction_hours == "24/7" and order.rules["tonnage_t"] == 9
        audit = (await session.exec(select(AuditRecord).where(col(AuditRecord.entity) == "traffic_order"))).all()
        assert [a.action for a in audit] == ["import_create"]
        before = await _state(session)
    again = await _import(session, clock, data, fmt="cerema")
    assert len(again.unchanged) == 1 and not again.created
    assert [(i.action, i.order_action) for i in again.items] == [("order", "unchanged"), ("unchanged", None)]
    assert not again.changes_anything
    async with session.begin():
        assert await _state(session) == before
    # The order changes in the file: the order is updated, audited, still to locate.
    changed = data.replace(b"124/6", b"124/7")
    clock.advance(timedelta(hours=1))
    third = await _import(session, clock, changed, fmt="cerema")
    assert [(i.action, i.order_action) for i in third.items] == [("order", "updated"), ("unchanged", None)]
    async with session.begin():
        order = (await session.exec(select(TrafficOrder))).one()
        assert order.order_ref == "124/7" and order.status == "to_locate"


async def test_a_file_that_now_gives_the_geometry_locates_the_order(session, clock, shared_data):
    data = (shared_data / "cerema-marchandises" / "exemple-valide.csv").read_text(encoding="utf-8")
    await _import(session, clock, data.encode(), fmt="cerema")
    line = next(row for row in data.splitlines() if row.startswith("11,"))
    drawn = line[:-len(",,,,")] + ',"LINESTRING(5.44 43.52, 5.45 43.53)",,,'
    assert len(next(csv.reader([drawn]))) == len(next(csv.reader([line])))  # GEOM_WKT filled, nothing else
    clock.advance(timedelta(hours=1))
    report = await _import(session, clock, data.replace(line, drawn).encode(), fmt="cerema")
    assert [(i.source_id, i.action) for i in report.items] == [("13090:11", "created"), ("13022:38", "unchanged")]
    assert report.located == ["ARR-13090-11"] and "localisé par cette zone" in report.items[0].notes[-1]
    async with session.begin():
        order = (await session.exec(select(TrafficOrder))).one()
        zone = (await session.exec(select(Zone).where(col(Zone.code) == "ARR-13090-11"))).one()
        assert order.status == "located" and order.zone_id == zone.id
        assert zone.url_order == "https://www.mesarretesmunicipaux.fr/13090.pdf"
        rule = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id))).one()
        assert rule.max_weight_kg == 9000 and rule.max_length_cm == 1500 and rule.max_width_cm == 300
        assert rule.max_crit_air == 1
        assert rule.name == "Autorisation — ≤ 9 t, longueur max. 15 m, largeur max. 3 m, hauteur max. 3 m, Livraison"
    again = await _import(session, clock, data.replace(line, drawn).encode(), fmt="cerema")
    assert not again.changes_anything and not again.located


async def test_real_town_file_every_row_accounted_for(session, clock, shared_data):
    """Carros: 13 rows, dates given, references 'NC', no geometry at all: 13 orders to locate."""
    data = (shared_data / "cerema-marchandises" / "exemples" / "carros.csv").read_bytes()
    rows = len(data.decode("utf-8").strip().splitlines()) - 1
    report = await _import(session, clock, data, fmt="cerema")
    counts = report.counts()
    assert report.ok and counts["items"] == rows == 13 == counts["to_locate"]
    assert counts["created"] + counts["updated"] + counts["unchanged"] + counts["to_locate"] + counts["skipped"] == rows
    assert [i.line for i in report.items] == list(range(2, 15))
    async with session.begin():
        orders = (await session.exec(select(TrafficOrder).order_by(col(TrafficOrder.code)))).all()
        assert len(orders) == 13 and {o.insee for o in orders} == {"06033"}
        baraques = next(o for o in orders if o.source_id == "06033:4")
        assert baraques.name == "Chemin des Baraques" and baraques.rules["except_usages"] == ["Services publics"]
        assert baraques.rules["tonnage_t"] == 19 and baraques.order_ref == "NC"


async def test_order_without_a_date_is_kept(session, clock, shared_data):
    text = (shared_data / "cerema-marchandises" / "exemples" / "carros.csv").read_text(encoding="utf-8")
    text = text.replace("06033,2018-04-11,", "06033,NC,")
    report = await _import(session, clock, text.encode(), fmt="cerema")
    assert report.ok and report.counts()["to_locate"] == 13
    async with session.begin():
        assert {o.order_date for o in (await session.exec(select(TrafficOrder))).all()} == {None}


@pytest.mark.parametrize(("folder", "name"), [
    ("zfe", "exemple-valide-zone.geojson"), ("zfe", "exemple-valide-voie-speciale.geojson"),
    ("cerema-marchandises", "exemple-valide.csv"), ("cerema-marchandises", "exemples/carros.csv")])
async def test_report_totals_equal_the_input_on_real_files(session, clock, shared_data, folder, name):
    data = (shared_data / folder / name).read_bytes()
    fmt = "zfe" if folder == "zfe" else "cerema"
    expected = (len(json.loads(data)["features"]) if fmt == "zfe"
                else len(import_cerema(data).items))
    if fmt == "cerema":
        assert expected == len(data.decode("utf-8").strip().splitlines()) - 1  # no multi-line cell in them
    for dry_run in (True, False, False):
        report = await _import(session, clock, data, fmt=fmt, dry_run=dry_run)
        counts = report.counts()
        assert counts["items"] == expected == len(report.items)
        assert sum(counts[k] for k in ("created", "updated", "unchanged", "to_locate", "skipped")) == expected
        assert all(i.source_id and i.name for i in report.items)
        assert len({(i.unit, i.index) for i in report.items}) == expected


async def test_broken_items_are_skipped_with_reasons_and_refuse_the_import(session, clock):
    rows = ["ID,COLL_NOM,COLL_INSEE,ARR_DATE,ARR_REF,ARR_OBJET,REGL_MODALITE,EMPRISE_DESIGNATION,GEOM_WKT",
            "1,Commune,06033,2020-01-01,NC,NC,Interdit,Rue A,",
            "2,Commune,06033,hier,NC,NC,Interdit,Rue B,",
            "3,Commune,06033,2020-01-01,NC,NC,Interdit,Rue C,\"POLYGON((7 43, 7.01 43.01, 7.01 43, 7 43.01, 7 43))\""]
    text = "\n".join(rows) + "\n"
    preview = await _import(session, clock, text, fmt="cerema", dry_run=True)
    assert not preview.ok
    assert [(i.index, i.action) for i in preview.items] == [(2, "order"), (3, "skipped"), (4, "skipped")]
    assert "ARR_DATE" in preview.items[1].notes[0] and "recoupe" in preview.items[2].notes[0]
    with pytest.raises(ZoneImportRefused):
        await _import(session, clock, text, fmt="cerema")
    async with session.begin():
        assert (await session.exec(select(TrafficOrder))).all() == []


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
    # Zones of the world (one hand-made low-emission zone, ref 2) export too, with the schema's
    # SIREN-ZFE-NNN id from Paris's SIREN.
    assert "217500016-ZFE-002" in exported


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


ENGLISH_OUTPUT = re.compile(r"\b(created|updated|unchanged|skipped|errors?|warnings?|dry run|applied|refused|"
                            r"nothing|written|cannot|element|line|item)\b", re.I)


def _cli(monkeypatch, capsys, database_url, *argv):
    from cirqliz.cli import main

    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", database_url)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_import_export_and_exemptions(monkeypatch, capsys, database_url, shared_data, tmp_path):
    path = str(shared_data / "zfe" / "exemple-valide-voie-speciale.geojson")
    code, out, _ = _cli(monkeypatch, capsys, database_url, "import", "zfe", path, "--authority", "paris", "--dry-run")
    assert code == 0 and "4 zone(s) à créer" in out and "aperçu, rien n'a été enregistré" in out
    assert out.count("entité ") == 4 and "à créer" in out
    code, out, _ = _cli(monkeypatch, capsys, database_url, "import", "zfe", path, "--authority", "paris",
                        "--actor", "admin@paris.test", "--json")
    assert code == 0 and json.loads(out)["counts"]["created"] == 4 and len(json.loads(out)["items"]) == 4
    code, out, _ = _cli(monkeypatch, capsys, database_url, "import", "zfe", path, "--authority", "paris")
    assert code == 0 and "4 inchangée(s)" in out and "(appliqué)" in out
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection"')
    code, _, err = _cli(monkeypatch, capsys, database_url, "import", "zfe", str(bad), "--authority", "paris")
    assert code == 1 and "JSON" in err
    code, _, err = _cli(monkeypatch, capsys, database_url, "import", "zfe", str(tmp_path / "none"), "--authority",
                        "paris")
    assert code == 2 and "fichier introuvable" in err
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
    assert code == 0 and listing.read_bytes().startswith("\ufeffImmatriculation;Pays".encode())
    code, _, err = _cli(monkeypatch, capsys, database_url, "export", "exemptions", "--authority", "paris",
                        "--actor", "alice@acme.test")
    assert code == 1 and "alice@acme.test" in err


def test_cli_import_report_is_french_and_a_refused_dry_run_fails(monkeypatch, capsys, database_url, shared_data,
                                                                 tmp_path):
    path = str(shared_data / "cerema-marchandises" / "exemple-valide.csv")
    code, out, err = _cli(monkeypatch, capsys, database_url, "import", "cerema", path, "--authority", "paris",
                          "--dry-run")
    assert code == 0 and not err
    assert not ENGLISH_OUTPUT.search(out), out
    assert "2 élément(s) lu(s)" in out and "1 arrêté(s) à localiser" in out
    assert "ligne 2 [13090:11, Avenue Philippe Solari] : à localiser" in out
    # Each remark once, its kind said once.
    assert all(line.count("avertissement") <= 1 for line in out.splitlines())
    assert out.count("non traduisibles en créneaux") == 1
    broken = tmp_path / "broken.csv"
    text = (shared_data / "cerema-marchandises" / "exemple-valide.csv").read_text(encoding="utf-8")
    broken.write_text(text.replace("2021-03-14,124/6", "14/03/2021,124/6", 1), encoding="utf-8")
    code, out, err = _cli(monkeypatch, capsys, database_url, "import", "cerema", str(broken), "--authority", "paris",
                          "--dry-run")
    assert code == 1, out
    assert "import refusé, rien n'a été enregistré : 1 erreur(s) ; ligne 2, champ ARR_DATE" in err
    assert "ligne 2 [11, Avenue Philippe Solari] : ignorée — champ ARR_DATE" in out and out.count("ARR_DATE") == 1
    assert "1 zone(s) à créer" in out
    assert not ENGLISH_OUTPUT.search(out + err), out + err
    code, _, err = _cli(monkeypatch, capsys, database_url, "import", "cerema", str(broken), "--authority", "paris")
    assert code == 1 and "import refusé" in err and not ENGLISH_OUTPUT.search(err)


async def test_repaired_item_is_created_and_counted_repaired(session, clock):
    square = [[[2.30, 48.85], [2.31, 48.85], [2.31, 48.86], [2.30, 48.86], [2.30, 48.85]]]
    other = [[[2.305, 48.855], [2.32, 48.855], [2.32, 48.87], [2.305, 48.87], [2.305, 48.855]]]
    document = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
        "type": "MultiPolygon", "coordinates": [square, other]}, "properties": {
        "id": "200046977-ZFE-042", "date_debut": "2025-01-01", "vp_critair": "V3", "vp_horaires": "24/7"}}]}
    report = await _import(session, clock, json.dumps(document))
    [item] = report.items
    assert item.action == "created" and item.repaired and report.counts()["repaired"] == 1
    assert item.describe() == ("entité 1 [200046977-ZFE-042, ZFE 200046977-ZFE-042] : créée, géométrie réparée "
                               "→ ZFE-200046977-ZFE-042 — parties superposées fusionnées")
    async with session.begin():
        zone = (await session.exec(select(Zone).where(col(Zone.code) == "ZFE-200046977-ZFE-042"))).one()
        assert zone.geometry["type"] == "Polygon"
        assert zone.source_properties["source_geometry"]["type"] == "MultiPolygon"
    again = await _import(session, clock, json.dumps(document))
    assert [(i.action, i.repaired) for i in again.items] == [("unchanged", True)]
