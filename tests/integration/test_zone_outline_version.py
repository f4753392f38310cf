"""zone.geometry_version (migration 0016, issue 18): the database gives a zone a new value whenever
its outline is written, whoever writes it (ORM, bulk UPDATE, a value written by hand), and only
then; every zone has its own; the triggers of migrations 0014 and 0016 are all on the zone table,
also after a downgrade to 0015 and an upgrade again (SQLite keeps triggers only if the table is
not rebuilt), and the upgrade gives existing zones their values."""

from __future__ import annotations

import asyncio

import pytest
from factories import SQUARE, ZONE_CENTRE_ID, ZONE_ZFE_ID, make_zone
from sqlalchemy import text, update
from sqlmodel import select

from cirqliz.db.migrate import downgrade, upgrade
from cirqliz.db.models import AccessRule, Zone

pytestmark = pytest.mark.usefixtures("world")

BUNDLE_CHANGE_TRIGGERS = {f"bundle_change_zone_{op}" for op in ("insert", "update", "delete")}
OUTLINE_TRIGGERS = {"zone_geometry_version_insert", "zone_geometry_version_update"}


async def _versions(session_factory) -> dict:
    async with session_factory() as session:
        return dict((await session.exec(select(Zone.id, Zone.geometry_version))).all())


async def _change(session_factory, *statements) -> None:
    async with session_factory() as session, session.begin():
        for statement in statements:
            await session.exec(statement)


def _moved(by: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon + by, lat] for lon, lat in SQUARE["coordinates"][0]]]}


async def _zone_triggers(engine) -> set[str]:
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'zone'::regclass AND NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'zone'"
        return set((await connection.execute(text(query))).scalars())


async def test_every_outline_write_and_only_it_gives_a_new_version(session_factory, clock):
    start = await _versions(session_factory)
    assert len(set(start.values())) == len(start) >= 2 and 0 not in start.values()
    seen = {start[ZONE_CENTRE_ID]}

    async def centre_after(*statements) -> int:
        await _change(session_factory, *statements)
        return (await _versions(session_factory))[ZONE_CENTRE_ID]

    # Not the outline: the version stays.
    assert await centre_after(update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(name="Centre")) in seen
    assert await centre_after(update(AccessRule).where(AccessRule.zone_id == ZONE_CENTRE_ID)
                              .values(windows=[{"weekdays": 1, "start": 360, "end": 420}])) in seen
    # The ORM.
    async with session_factory() as session, session.begin():
        zone = await session.get(Zone, ZONE_CENTRE_ID)
        zone.geometry = _moved(0.01)
        session.add(zone)
    by_orm = (await _versions(session_factory))[ZONE_CENTRE_ID]
    assert by_orm not in seen
    seen.add(by_orm)
    # A bulk UPDATE; then the same outline written again (same text): no new version.
    by_bulk = await centre_after(update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(geometry=_moved(0.02)))
    assert by_bulk not in seen
    seen.add(by_bulk)
    assert await centre_after(update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(geometry=_moved(0.02))) \
        == by_bulk
    # A version written by hand, with or without the outline: replaced by a new one.
    by_hand = await centre_after(update(Zone).where(Zone.id == ZONE_CENTRE_ID)
                                 .values(geometry_version=start[ZONE_CENTRE_ID]))
    assert by_hand not in seen
    seen.add(by_hand)
    both = await centre_after(update(Zone).where(Zone.id == ZONE_CENTRE_ID)
                              .values(geometry=_moved(0.03), geometry_version=by_hand))
    assert both not in seen
    # Other zones untouched; a new zone gets its own.
    async with session_factory() as session, session.begin():
        added = await make_zone(session, clock, code="NEUVE", name="Zone neuve")
    end = await _versions(session_factory)
    assert end[ZONE_ZFE_ID] == start[ZONE_ZFE_ID]
    assert end[added.id] not in {*seen, both, 0, *start.values()}


async def test_an_outline_write_also_bumps_the_bundle_change_counter(session_factory):
    async def changes() -> int:
        async with session_factory() as session:
            return (await session.exec(text("SELECT changes FROM bundle_change WHERE id = 1"))).one()[0]

    before = await changes()
    await _change(session_factory, update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(geometry=_moved(0.04)))
    assert await changes() > before


async def test_the_zone_triggers_of_0014_and_0016_survive_a_downgrade_and_upgrade(
        database_url, engine, session_factory):
    assert BUNDLE_CHANGE_TRIGGERS | OUTLINE_TRIGGERS <= await _zone_triggers(engine)
    await engine.dispose()
    await asyncio.to_thread(downgrade, database_url, "0015")
    async with engine.connect() as connection:
        columns = (await connection.execute(text("SELECT * FROM zone"))).keys()
    assert "geometry_version" not in columns
    triggers = await _zone_triggers(engine)
    assert BUNDLE_CHANGE_TRIGGERS <= triggers and not triggers & OUTLINE_TRIGGERS
    await engine.dispose()
    await asyncio.to_thread(upgrade, database_url)
    assert BUNDLE_CHANGE_TRIGGERS | OUTLINE_TRIGGERS <= await _zone_triggers(engine)
    versions = await _versions(session_factory)  # the existing zones' values (backfill)
    assert len(versions) >= 2 and len(set(versions.values())) == len(versions) and 0 not in versions.values()
    before = versions[ZONE_CENTRE_ID]
    await _change(session_factory, update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(geometry=_moved(0.05)))
    assert (await _versions(session_factory))[ZONE_CENTRE_ID] != before
