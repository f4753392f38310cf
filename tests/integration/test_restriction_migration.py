"""Migration 0010 on existing data, on SQLite and PostgreSQL: the `[source:id] label` markers of
imported rules move into fields (source, source_id, vehicle_class, critair_from), the names become
plain, the hours an import had put on its rules become the zone's restriction schedule and the
rules lose them; rules typed by hand are left alone; downgrading works."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.sql.sqltypes import UTCDateTime

from cirqliz.db.engine import create_engine
from cirqliz.db.migrate import downgrade, upgrade
from cirqliz.settings import Settings

T = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
AUTHORITY = uuid.uuid4()
ZFE, PER_CLASS, CEREMA, HAND = (uuid.uuid4() for _ in range(4))
WEEKDAYS = "Mo-Fr 08:00-20:00; PH off"
WEEKDAYS_JSON = [{"weekdays": 31, "start": 480, "end": 1200, "skip_public_holidays": True}]
SATURDAY_JSON = [{"weekdays": 32, "start": 600, "end": 1080}]
SQUARE = {"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.31, 48.8], [2.31, 48.81], [2.3, 48.81], [2.3, 48.8]]]}

ORGANISATION = sa.table("organisation", sa.column("id", sa.Uuid()), sa.column("kind", sa.String()),
                        sa.column("code", sa.String()), sa.column("name", sa.String()),
                        sa.column("next_zone_ref", sa.Integer()), sa.column("last_bundle_seq", sa.Integer()),
                        sa.column("created_at", UTCDateTime()))
ZONE_COLUMNS = ("id", "authority_id", "ref", "code", "name", "kind", "geometry", "time_zone", "status", "permanent",
                "data_version", "created_at", "updated_at")
ZONE = sa.table("zone", sa.column("id", sa.Uuid()), sa.column("authority_id", sa.Uuid()),
                sa.column("ref", sa.Integer()), sa.column("code", sa.String()), sa.column("name", sa.String()),
                sa.column("kind", sa.String()), sa.column("geometry", sa.JSON()), sa.column("time_zone", sa.String()),
                sa.column("status", sa.String()), sa.column("permanent", sa.Boolean()),
                sa.column("data_version", sa.Integer()), sa.column("created_at", UTCDateTime()),
                sa.column("updated_at", UTCDateTime()))
RULE = sa.table("access_rule", sa.column("id", sa.Uuid()), sa.column("zone_id", sa.Uuid()),
                sa.column("position", sa.Integer()), sa.column("name", sa.String()),
                sa.column("opening_hours", sa.Text()), sa.column("windows", sa.JSON()),
                sa.column("purposes", sa.JSON()), sa.column("categories", sa.JSON()),
                sa.column("max_crit_air", sa.Integer()), sa.column("max_weight_kg", sa.Integer()),
                sa.column("review_mode", sa.String()), sa.column("created_at", UTCDateTime()))
NEW_ZONE = sa.table("zone", sa.column("id", sa.Uuid()), sa.column("restriction_hours", sa.Text()),
                    sa.column("restriction_windows", sa.JSON()), sa.column("source", sa.String()),
                    sa.column("source_id", sa.String()), sa.column("source_properties", sa.JSON()))
NEW_RULE = sa.table("access_rule", sa.column("id", sa.Uuid()), sa.column("zone_id", sa.Uuid()),
                    sa.column("name", sa.String()), sa.column("opening_hours", sa.Text()),
                    sa.column("windows", sa.JSON()), sa.column("source", sa.String()),
                    sa.column("source_id", sa.String()), sa.column("vehicle_class", sa.String()),
                    sa.column("critair_from", sa.String()), sa.column("max_crit_air", sa.Integer()),
                    sa.column("max_weight_kg", sa.Integer()))


def _zone(zone_id: uuid.UUID, ref: int, code: str) -> dict[str, Any]:
    return {"id": zone_id, "authority_id": AUTHORITY, "ref": ref, "code": code, "name": code, "kind": "low_emission",
            "geometry": SQUARE, "time_zone": "Europe/Paris", "status": "active", "permanent": True,
            "data_version": 3, "created_at": T, "updated_at": T}


def _rule(zone_id: uuid.UUID, position: int, name: str, hours: str | None, windows: Any, **limits: Any) -> dict:
    return {"id": uuid.uuid4(), "zone_id": zone_id, "position": position, "name": name, "opening_hours": hours,
            "windows": windows, "purposes": [], "categories": limits.pop("categories", []),
            "max_crit_air": limits.get("max_crit_air"), "max_weight_kg": limits.get("max_weight_kg"),
            "review_mode": "manual", "created_at": T}


RULES = [
    # A ZFE imported before 0010: every class with the same hours, plus a rule typed by hand.
    _rule(ZFE, 0, "[zfe:200046977-ZFE-001] vp V4", WEEKDAYS, WEEKDAYS_JSON, categories=["M1"], max_crit_air=3),
    _rule(ZFE, 1, "[zfe:200046977-ZFE-001] pl V3", WEEKDAYS, WEEKDAYS_JSON, categories=["N2", "N3"],
          max_crit_air=2),
    _rule(ZFE, 2, "Livraisons du matin", "Mo-Fr 07:00-11:00", [{"weekdays": 31, "start": 420, "end": 660}],
          max_weight_kg=3500),
    # Hours that differ per class: the zone is restricted when any class is; each text kept.
    _rule(PER_CLASS, 0, "[zfe:200046977-ZFE-002] vp V5", WEEKDAYS, WEEKDAYS_JSON, categories=["M1"], max_crit_air=4),
    _rule(PER_CLASS, 1, "[zfe:200046977-ZFE-002] pl V2", "Sa 10:00-18:00", SATURDAY_JSON, max_crit_air=1),
    # A Cerema row with hours not expressible as windows (no windows).
    _rule(CEREMA, 0, "[cerema:13022:38] interdiction ≥ 3.5 t", "Mo-Sa 11:00-06:00; Su,PH 10:00-06:00", None,
          max_weight_kg=3500),
    # A zone with only hand-typed rules.
    _rule(HAND, 0, "Résidents", None, None),
    _rule(HAND, 1, "Livraisons", "Mo-Sa 06:00-11:00", [{"weekdays": 63, "start": 360, "end": 660}]),
]


async def _seed(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(ORGANISATION), [{
                "id": AUTHORITY, "kind": "authority", "code": "ville", "name": "Ville", "next_zone_ref": 5,
                "last_bundle_seq": 0, "created_at": T}])
            await connection.execute(sa.insert(ZONE), [
                _zone(ZFE, 1, "ZFE-200046977-ZFE-001"), _zone(PER_CLASS, 2, "ZFE-200046977-ZFE-002"),
                _zone(CEREMA, 3, "ARR-13022-38"), _zone(HAND, 4, "CENTRE")])
            await connection.execute(sa.insert(RULE), RULES)
    finally:
        await engine.dispose()


async def _read(url: str) -> tuple[dict[uuid.UUID, dict[str, Any]], dict[uuid.UUID, dict[str, Any]]]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            zones = (await connection.execute(sa.select(NEW_ZONE))).mappings().all()
            rules = (await connection.execute(sa.select(NEW_RULE))).mappings().all()
    finally:
        await engine.dispose()
    return {z["id"]: dict(z) for z in zones}, {r["id"]: dict(r) for r in rules}


async def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda c: {col["name"] for col in sa.inspect(c).get_columns(table)})
    finally:
        await engine.dispose()


def test_markers_move_into_fields_and_hours_to_the_zone(empty_database_url) -> None:
    url = empty_database_url
    upgrade(url, "0009")
    asyncio.run(_seed(url))
    upgrade(url, "0010")
    zones, rules = asyncio.run(_read(url))
    by_name = {rule["id"]: rule for rule in rules.values()}
    vp, pl, hand_delivery, vp2, pl2, cerema, residents, deliveries = (by_name[r["id"]] for r in RULES)

    # Imported ZFE rules: provenance and class in fields, plain names, no hours of their own.
    assert (vp["source"], vp["source_id"], vp["vehicle_class"], vp["critair_from"]) == (
        "zfe", "200046977-ZFE-001", "vp", "V4")
    assert (pl["vehicle_class"], pl["critair_from"]) == ("pl", "V3")
    for rule in (vp, pl, vp2, pl2, cerema):
        assert not rule["name"].startswith("[") and rule["opening_hours"] is None and rule["windows"] is None
    assert vp["max_crit_air"] == 3  # limits untouched
    # The zone gets the source's hours as its restriction schedule.
    zfe = zones[ZFE]
    assert (zfe["source"], zfe["source_id"]) == ("zfe", "200046977-ZFE-001")
    assert zfe["restriction_hours"] == WEEKDAYS and zfe["restriction_windows"] == WEEKDAYS_JSON
    # Per-class hours: union of the windows, each class's text in the source properties.
    per_class = zones[PER_CLASS]
    assert sorted(per_class["restriction_windows"], key=lambda w: w["weekdays"]) == WEEKDAYS_JSON + SATURDAY_JSON
    assert per_class["source_properties"] == {"vp_horaires": WEEKDAYS, "pl_horaires": "Sa 10:00-18:00"}
    # Cerema: hours not expressible as windows: the text, no windows (in force at all times).
    assert (cerema["source"], cerema["source_id"], cerema["vehicle_class"]) == ("cerema", "13022:38", "")
    assert zones[CEREMA]["restriction_hours"] == "Mo-Sa 11:00-06:00; Su,PH 10:00-06:00"
    assert zones[CEREMA]["restriction_windows"] is None and cerema["max_weight_kg"] == 3500
    # Rules typed by hand are left alone, in an imported zone or not; a hand-made zone has no schedule.
    for rule, seeded in ((hand_delivery, RULES[2]), (residents, RULES[6]), (deliveries, RULES[7])):
        assert rule["name"] == seeded["name"] and rule["opening_hours"] == seeded["opening_hours"]
        assert rule["windows"] == seeded["windows"] and rule["source"] == "" and rule["vehicle_class"] == ""
    assert zones[HAND]["source"] == "" and zones[HAND]["restriction_hours"] is None
    assert zones[HAND]["restriction_windows"] is None

    downgrade(url, "0009")
    assert "restriction_hours" not in asyncio.run(_columns(url, "zone"))
    assert "vehicle_class" not in asyncio.run(_columns(url, "access_rule"))
    upgrade(url)  # and up again, on the migrated data
    assert "restriction_windows" in asyncio.run(_columns(url, "zone"))
