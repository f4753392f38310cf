"""Export → import gives the same zones (issue 16), per format, on SQLite and PostgreSQL.

An authority's zones — drawn by hand and imported from a ZFE file, with restriction schedules,
access rules with Crit'Air thresholds and limits, order and information URLs, dates, and
multipolygons (one part of which self-intersects if its coordinates are rounded to 8 decimals)
— are exported, the file is imported into a fresh authority, and every zone must come back with
the same geometry (within the rounding of the format), restriction schedule, thresholds, URLs
and dates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from factories import AUTHORITY_PARIS_ID, USER_ADMIN_ID
from shapely.geometry import shape
from sqlmodel import col, select

from cirqliz.db.models import AccessRule, Organisation, Zone, window_from_json
from cirqliz.domain.windows import ALL_DAYS, MINUTES_PER_DAY, TimeWindow
from cirqliz.domain.zones import ZoneKind, ZoneStatus
from cirqliz.exports.datex2 import order_id
from cirqliz.exports.zfe import critair_classes
from cirqliz.imports.zfe import validate_zfe_document
from cirqliz.issuance.event_imports import import_file
from cirqliz.issuance.organisations import create_organisation
from cirqliz.issuance.zone_exports import zones_datex2, zones_geojson
from cirqliz.issuance.zone_imports import import_zone_file
from cirqliz.issuance.zones import add_access_rule, change_zone_status, create_zone, set_restriction_schedule

pytestmark = pytest.mark.usefixtures("world")

# Valid as drawn; rounded to 8 decimals the inner vertex lands on the bottom edge (self-intersection).
PINCHED = [[[2.33, 48.85], [2.34, 48.85], [2.34, 48.86], [2.335, 48.850000004], [2.33, 48.86], [2.33, 48.85]]]
SQUARE_EAST = [[[2.36, 48.85], [2.37, 48.85], [2.37, 48.86], [2.36, 48.86], [2.36, 48.85]]]
HOLED = [[[2.38, 48.84], [2.40, 48.84], [2.40, 48.86], [2.38, 48.86], [2.38, 48.84]],
         [[2.385, 48.845], [2.385, 48.855], [2.395, 48.855], [2.395, 48.845], [2.385, 48.845]]]
DATEX_TOLERANCE_DEG = 1e-7  # 8 decimals written: half of 1e-8, with room


@dataclass(frozen=True)
class Seeded:
    """Codes of the zones the test seeds (besides the world's CENTRE and ZFE)."""

    lez: str = "LEZ-MAIN"
    night: str = "NUIT-QUAIS"


async def _seed(session, clock, shared_data) -> Seeded:
    """Paris gets a hand-made low-emission multipolygon zone with dates, a restriction schedule,
    Crit'Air rules and URLs; a hand-made limited-traffic zone restricted at night with a
    delivery rule; and the zones of the national ZFE example file."""
    seeded = Seeded()
    async with session.begin():
        lez = await create_zone(session, authority_id=AUTHORITY_PARIS_ID, code=seeded.lez, name="ZFE du centre",
                                kind=ZoneKind.LOW_EMISSION.value, clock=clock, permanent=False,
                                starts_on=date(2025, 1, 1), ends_on=date(2027, 12, 31),
                                geometry={"type": "MultiPolygon", "coordinates": [PINCHED, SQUARE_EAST, HOLED]})
        await set_restriction_schedule(session, zone_id=lez.id, opening_hours="Mo-Fr 08:00-20:00; PH off",
                                       clock=clock)
        await add_access_rule(session, zone_id=lez.id, clock=clock, name="Voitures", categories=["M1"],
                              max_crit_air=2)
        await add_access_rule(session, zone_id=lez.id, clock=clock, name="Utilitaires et poids lourds",
                              categories=["N1", "N2", "N3"], max_crit_air=3, max_weight_kg=19000,
                              opening_hours="Mo-Sa 06:00-11:00")
        lez.url_order = "https://www.paris.fr/arretes/zfe-centre.pdf"
        lez.url_site = "https://www.paris.fr/zfe"
        session.add(lez)
        await change_zone_status(session, zone_id=lez.id, status=ZoneStatus.ACTIVE.value, clock=clock)
        night = await create_zone(session, authority_id=AUTHORITY_PARIS_ID, code=seeded.night, name="Quais la nuit",
                                  kind=ZoneKind.LIMITED_TRAFFIC.value, clock=clock,
                                  geometry={"type": "Polygon", "coordinates": SQUARE_EAST})
        await set_restriction_schedule(session, zone_id=night.id, opening_hours="Mo-Su 22:00-06:00", clock=clock)
        await add_access_rule(session, zone_id=night.id, clock=clock, name="Livraisons", categories=["N1", "N2"],
                              max_crit_air=3, max_weight_kg=7500, max_length_cm=1000, max_width_cm=255,
                              max_height_cm=350, opening_hours="Mo-Sa 04:00-06:00")
        night.url_order = "https://www.paris.fr/arretes/quais.pdf"
        session.add(night)
        await change_zone_status(session, zone_id=night.id, status=ZoneStatus.ACTIVE.value, clock=clock)
    async with session.begin():
        await import_zone_file(session, authority_id=AUTHORITY_PARIS_ID, clock=clock, actor_id=USER_ADMIN_ID,
                               data=(shared_data / "zfe" / "exemple-valide-zone.geojson").read_bytes(), fmt="zfe")
    return seeded


async def _fresh_authority(session, clock, code: str) -> Organisation:
    async with session.begin():
        return await create_organisation(session, kind="authority", code=code, name=f"Autorité {code}",
                                         siren="200046977", clock=clock)


async def _zones(session, authority_id, kinds: tuple[str, ...] | None = None, *, active: bool = True) -> list[Zone]:
    statement = select(Zone).where(col(Zone.authority_id) == authority_id)
    if active:  # what is exported; an import may leave temporary zones to switch on by their dates
        statement = statement.where(col(Zone.status) == ZoneStatus.ACTIVE.value)
    if kinds is not None:
        statement = statement.where(col(Zone.kind).in_(kinds))
    return list((await session.exec(statement.order_by(col(Zone.code)))).all())


async def _rules(session, zone: Zone) -> list[AccessRule]:
    return list((await session.exec(select(AccessRule).where(col(AccessRule.zone_id) == zone.id)
                                    .order_by(col(AccessRule.position), col(AccessRule.name)))).all())


def _schedule(zone: Zone) -> tuple[str | None, tuple[TimeWindow, ...]]:
    """The restriction schedule, with "always" in one spelling (no windows)."""
    windows = tuple(window_from_json(w) for w in zone.restriction_windows or ())
    if windows == (TimeWindow(ALL_DAYS, 0, MINUTES_PER_DAY),):
        windows = ()
    hours = zone.restriction_hours if zone.restriction_hours not in (None, "", "24/7") else None
    return hours, windows


def _start(zone: Zone) -> date:
    """The first day of the zone as the exports write it (its creation day when it has none)."""
    return zone.starts_on or zone.created_at.astimezone(UTC).date()


def _access(rules: list[AccessRule]) -> list[tuple[Any, ...]]:
    """What a pass holder may be and do under each rule, comparable across imports."""
    return sorted((tuple(sorted(r.categories or ())), r.max_crit_air, r.max_weight_kg, r.min_weight_kg,
                   r.max_length_cm, r.max_width_cm, r.max_height_cm,
                   tuple(window_from_json(w) for w in r.windows or ())) for r in rules)


def _close(a: dict[str, Any], b: dict[str, Any], tolerance: float) -> bool:
    first, second = shape(a), shape(b)
    # Every vertex within `tolerance`, and no more area moved than a band that wide along the outline.
    return first.geom_type == second.geom_type and first.hausdorff_distance(second) <= tolerance and \
        first.symmetric_difference(second).area <= first.length * tolerance


# ---- ZFE schema (GeoJSON) ---------------------------------------------------------------------


async def _zfe_round_trip(session, clock, shared_data) -> tuple[dict[str, Zone], dict[str, Zone], dict, dict]:
    await _seed(session, clock, shared_data)
    async with session.begin():
        paris = await session.get(Organisation, AUTHORITY_PARIS_ID)
        document = await zones_geojson(session, paris)
    validate_zfe_document(document)
    fresh = await _fresh_authority(session, clock, "rt-zfe")
    async with session.begin():
        report = await import_zone_file(session, authority_id=fresh.id, clock=clock,
                                        data=json.dumps(document).encode(), fmt="zfe")
    assert report.ok and len(report.created) == len(document["features"])
    async with session.begin():
        before = {f["properties"]["id"]: z for f, z in zip(
            document["features"], await _zones(session, AUTHORITY_PARIS_ID, (ZoneKind.LOW_EMISSION.value,)),
            strict=True)}
        after = {z.source_id: z for z in await _zones(session, fresh.id)}
        rules_before = {k: await _rules(session, z) for k, z in before.items()}
        rules_after = {k: await _rules(session, z) for k, z in after.items()}
    return before, after, rules_before, rules_after


async def test_zfe_round_trip_gives_the_same_zones(session, clock, shared_data):
    before, after, rules_before, rules_after = await _zfe_round_trip(session, clock, shared_data)
    # Hand-made zones get SIREN-ZFE-NNN ids; the imported one keeps the file's id.
    assert {"217500016-ZFE-002", "200046977-ZFE-001"} <= set(before)
    assert any(k.startswith("217500016-ZFE-") and before[k].code == "LEZ-MAIN" for k in before)
    assert set(after) == set(before)
    for ident, zone in before.items():
        back = after[ident]
        assert back.kind == ZoneKind.LOW_EMISSION.value
        assert _close(zone.geometry, back.geometry, 0.0), ident  # GeoJSON keeps every digit
        assert (_start(zone), zone.ends_on) == (_start(back), back.ends_on), ident
        assert (zone.url_order, zone.url_site) == (back.url_order, back.url_site), ident
        assert critair_classes(rules_before[ident]) == critair_classes(rules_after[ident]), ident
        assert _schedule(zone) == _schedule(back), ident


async def test_zfe_round_trip_of_the_hand_made_zone_in_detail(session, clock, shared_data):
    before, after, rules_before, rules_after = await _zfe_round_trip(session, clock, shared_data)
    ident = next(k for k, z in before.items() if z.code == "LEZ-MAIN")
    back = after[ident]
    assert back.geometry["type"] == "MultiPolygon" and len(back.geometry["coordinates"]) == 3
    assert (back.starts_on, back.ends_on) == (date(2025, 1, 1), date(2027, 12, 31))
    assert back.restriction_hours == "Mo-Fr 08:00-20:00; PH off"
    assert critair_classes(rules_after[ident]) == critair_classes(rules_before[ident]) == {
        "vp": "V3", "vul": "V4", "pl": "V4"}
    assert (back.url_order, back.url_site) == ("https://www.paris.fr/arretes/zfe-centre.pdf", "https://www.paris.fr/zfe")
    # Exporting the imported copy gives the same features (the ids included).
    async with session.begin():
        fresh = await session.get(Organisation, back.authority_id)
        again = await zones_geojson(session, fresh)
        paris = await session.get(Organisation, AUTHORITY_PARIS_ID)
        first = await zones_geojson(session, paris)
    assert sorted(json.dumps(f, sort_keys=True) for f in again["features"]) == sorted(
        json.dumps(f, sort_keys=True) for f in first["features"])


# ---- DATEX II ---------------------------------------------------------------------------------


async def _datex_round_trip(session, clock, shared_data) -> tuple[dict[str, Zone], dict[str, Zone], dict, dict]:
    await _seed(session, clock, shared_data)
    async with session.begin():
        paris = await session.get(Organisation, AUTHORITY_PARIS_ID)
        document = await zones_datex2(session, paris, permit_url="https://cirqliz.test/pro", validate=True)
    fresh = await _fresh_authority(session, clock, "rt-datex")
    async with session.begin():
        report = await import_file(session, fmt="datex2", data=document, authority_id=fresh.id, clock=clock)
    assert [i.reason for i in report.items if i.action == "skipped"] == []
    async with session.begin():
        zones = await _zones(session, AUTHORITY_PARIS_ID)
        before = {f"{order_id(z)}#1": z for z in zones}  # the importer's source id of a CirQliz order
        imported = await _zones(session, fresh.id, active=False)
        after = {z.source_id: z for z in imported if z.source_id}
        if not after:  # an importer that keeps the source id beside the zone (temporary_zone) only
            from cirqliz.db.models import TemporaryZone

            mapping = {m.zone_id: m.source_id for m in (await session.exec(
                select(TemporaryZone).where(col(TemporaryZone.authority_id) == fresh.id))).all()}
            after = {mapping[z.id]: z for z in imported if z.id in mapping}
        rules_before = {k: await _rules(session, z) for k, z in before.items()}
        rules_after = {k: await _rules(session, z) for k, z in after.items()}
    return before, after, rules_before, rules_after


async def test_datex2_round_trip_keeps_zones_geometry_and_dates(session, clock, shared_data):
    before, after, _, _ = await _datex_round_trip(session, clock, shared_data)
    assert set(after) == set(before)
    for ident, zone in before.items():
        back = after[ident]
        assert _close(zone.geometry, back.geometry, DATEX_TOLERANCE_DEG), ident  # the pinched part included
        assert back.ends_on == zone.ends_on, ident
        if zone.starts_on is not None:
            assert back.starts_on == zone.starts_on, ident


# The DATEX II export says the restriction schedule with the regulation's own ValidityCondition
# and each access rule as a set (permit, vehicle, hours) in the negated "unless" condition
# (cirqliz.exports.datex2); the import reads them back into the zone's schedule and its rules.


async def test_datex2_round_trip_keeps_restriction_schedule(session, clock, shared_data):
    before, after, _, _ = await _datex_round_trip(session, clock, shared_data)
    for ident, zone in before.items():
        assert _schedule(zone)[1] == _schedule(after[ident])[1], ident


async def test_datex2_round_trip_keeps_access_rules(session, clock, shared_data):
    before, after, rules_before, rules_after = await _datex_round_trip(session, clock, shared_data)
    assert set(after) == set(before)
    for ident in before:
        assert _access(rules_before[ident]) == _access(rules_after[ident]), ident
        assert critair_classes(rules_before[ident]) == critair_classes(rules_after[ident]), ident


async def test_datex2_round_trip_keeps_the_order_url(session, clock, shared_data):
    before, after, _, _ = await _datex_round_trip(session, clock, shared_data)
    assert {z.url_order for z in before.values()} >= {"https://www.paris.fr/arretes/zfe-centre.pdf",
                                                       "https://www.paris.fr/arretes/quais.pdf"}
    for ident, zone in before.items():  # DATEX II has no field for the information site (url_site)
        assert after[ident].url_order == zone.url_order, ident


# ---- the export command: refusals in French, exit codes -----------------------------------------


def _run(database_url: str, work) -> Any:
    """`work(session, clock)` in its own transaction, on its own engine (the CLI runs its own loop)."""
    import asyncio

    from cirqliz.clock import FixedClock
    from cirqliz.db.engine import create_engine, create_session_factory, transaction
    from cirqliz.settings import Settings

    async def main() -> Any:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with transaction(create_session_factory(engine)) as session:
                return await work(session, FixedClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC)))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _cli(monkeypatch, capsys, database_url: str, *argv: str) -> tuple[int, str, str]:
    from cirqliz.cli import main

    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", database_url)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_zfe_export_without_siren_is_refused_in_french(monkeypatch, capsys, database_url, tmp_path):
    async def seed(session, clock):
        authority = await create_organisation(session, kind="authority", code="sans-siren", name="Sans SIREN",
                                              clock=clock)
        zone = await create_zone(session, authority_id=authority.id, code="ZFE-A", name="ZFE A", clock=clock,
                                 kind=ZoneKind.LOW_EMISSION.value,
                                 geometry={"type": "Polygon", "coordinates": SQUARE_EAST})
        await add_access_rule(session, zone_id=zone.id, clock=clock, max_crit_air=2)
        await change_zone_status(session, zone_id=zone.id, status=ZoneStatus.ACTIVE.value, clock=clock)

    _run(database_url, seed)
    out_file = tmp_path / "zfe.geojson"
    code, out, err = _cli(monkeypatch, capsys, database_url, "export", "zones", "--format", "geojson",
                          "--authority", "sans-siren", "--out", str(out_file))
    assert code == 1 and out == "" and not out_file.exists()
    assert "export ZFE refusé" in err and "ZFE-A" in err and "cirqliz authority siren" in err
    # DATEX II needs no SIREN: the same zone goes out.
    code, out, err = _cli(monkeypatch, capsys, database_url, "export", "zones", "--format", "datex2",
                          "--authority", "sans-siren")
    assert code == 0 and b"CIRQLIZ-ZFE-A" in out.encode()
    # Once the SIREN is given, the ZFE file goes out with the schema's id.
    with pytest.raises(SystemExit) as refused:  # a wrong check digit: a usage error, in French
        _cli(monkeypatch, capsys, database_url, "authority", "siren", "sans-siren", "732 829 321")
    assert refused.value.code == 2 and "clé de contrôle" in capsys.readouterr().err
    code, out, err = _cli(monkeypatch, capsys, database_url, "authority", "siren", "sans-siren", "200046977")
    assert code == 0 and "200046977" in out
    code, out, err = _cli(monkeypatch, capsys, database_url, "export", "zones", "--format", "geojson",
                          "--authority", "sans-siren", "--out", str(out_file))
    assert code == 0, err
    (feature,) = json.loads(out_file.read_text())["features"]
    assert feature["properties"]["id"] == "200046977-ZFE-001" and feature["properties"]["vp_critair"] == "V3"


def test_cli_exports_of_an_authority_without_zones_are_valid(monkeypatch, capsys, database_url, shared_data,
                                                            tmp_path):
    from cirqliz.imports.datex2 import parse_datex2

    async def seed(session, clock):
        await create_organisation(session, kind="authority", code="vide", name="Sans zone", clock=clock)

    _run(database_url, seed)
    out_file = tmp_path / "vide.xml"
    code, out, err = _cli(monkeypatch, capsys, database_url, "export", "zones", "--format", "datex2",
                          "--authority", "vide", "--out", str(out_file))
    assert code == 0, err
    assert "aucune zone active pour vide : document valide sans zone" in err and "0 zone(s) écrite(s)" in err
    root = parse_datex2(out_file.read_bytes(), xsd_dir=shared_data / "dialog-datex2")  # valid against the XSDs
    assert root.find("{http://datex2.eu/schema/3/trafficRegulation}trafficRegulationsFromCompetentAuthorities") \
        is None
    code, out, err = _cli(monkeypatch, capsys, database_url, "export", "zones", "--format", "geojson",
                          "--authority", "vide")
    assert code == 0 and json.loads(out) == {"type": "FeatureCollection", "features": []}
    assert "aucune zone à faibles émissions active" in err
