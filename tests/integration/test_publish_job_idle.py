"""The publish job with nothing changed (issue 18): no new seq, no signature, no geometry simplified
again, and a number of SQL statements that does not grow with the number of zones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_zone
from sqlalchemy import event

from cirqliz.db.models import Zone
from cirqliz.issuance import keystore as keystore_module
from cirqliz.issuance import publication
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.jobs.jobs import PUBLISH, run_job
from cirqliz.settings import Settings

pytestmark = pytest.mark.usefixtures("world")
SETTINGS = Settings()


@pytest.fixture
def keys(tmp_path, clock):
    KeyStore.init(tmp_path / "keys" / "paris", issuer="paris", clock=clock)
    return KeyStoreSigner(tmp_path / "keys", clock=clock)


@pytest.fixture
def spies(monkeypatch):
    """Counts of bundle signatures and of zone geometries simplified."""
    counts = {"signed": 0, "simplified": 0}
    sign, simplify = keystore_module.sign_bundle, publication._polygons

    def counting_sign(*args, **kwargs):
        counts["signed"] += 1
        return sign(*args, **kwargs)

    def counting_simplify(*args, **kwargs):
        counts["simplified"] += 1
        return simplify(*args, **kwargs)

    monkeypatch.setattr(keystore_module, "sign_bundle", counting_sign)
    monkeypatch.setattr(publication, "_polygons", counting_simplify)
    return counts




async def _idle_run(session_factory, engine, clock, keys, spies):
    """One run of the job after a minute with nothing changed: (run, statements, signatures, simplifications)."""
    clock.advance(timedelta(minutes=1))
    before = dict(spies)
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_rest):
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        run = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    return run, len(seen), spies["signed"] - before["signed"], spies["simplified"] - before["simplified"]


async def test_nothing_changed_signs_nothing_and_costs_the_same_whatever_the_zones(
        session_factory, engine, clock, keys, spies):
    first = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert (first.outcome, first.rows) == ("ok", 1)
    seq = keys.keystore("paris").last_seq

    run, few, signed, simplified = await _idle_run(session_factory, engine, clock, keys, spies)
    assert (run.outcome, run.rows, run.detail) == ("ok", 0, "à jour")
    assert (signed, simplified) == (0, 0)
    assert keys.keystore("paris").last_seq == seq

    # Twenty more zones (each with its own outline): the first run publishes them, simplifying
    # each once; the idle run after it simplifies none and runs as many statements as before.
    async with session_factory() as session, session.begin():
        for i in range(20):
            ring = [[2.3 + i * 0.01 + dx, 48.8 + dy] for dx, dy in ((0, 0), (0.005, 0), (0.005, 0.005), (0, 0))]
            await make_zone(session, clock, geometry={"type": "Polygon", "coordinates": [ring]})
    clock.advance(timedelta(minutes=1))
    before = dict(spies)
    grown = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert grown.rows == 1 and spies["signed"] - before["signed"] == 1
    assert spies["simplified"] - before["simplified"] <= 20
    seq = keys.keystore("paris").last_seq

    run, many, signed, simplified = await _idle_run(session_factory, engine, clock, keys, spies)
    assert (run.rows, signed, simplified) == (0, 0, 0)
    assert keys.keystore("paris").last_seq == seq
    assert many == few, f"{few} statements with the first zones, {many} with 20 more"


async def test_an_outline_edited_without_a_new_data_version_is_published(session_factory, clock, keys, spies):
    first = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert first.rows == 1
    async with session_factory() as session, session.begin():
        zone = await session.get(Zone, (await make_zone(session, clock)).id)
    clock.advance(timedelta(minutes=1))
    assert (await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)).rows == 1
    bigger = {"type": "Polygon", "coordinates": [[[2.30, 48.80], [2.40, 48.80], [2.40, 48.90], [2.30, 48.80]]]}
    async with session_factory() as session, session.begin():
        row = await session.get(Zone, zone.id)
        version = row.data_version
        row.geometry = bigger  # the cache must not hide this edit (same id, same data_version)
        session.add(row)
    clock.advance(timedelta(minutes=1))
    run = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert run.rows == 1
    latest = keys.keystore("paris").latest_bundle().content
    published = next(z for z in latest.zones if z.code == zone.code)
    async with session_factory() as session:
        assert (await session.get(Zone, zone.id)).data_version == version
    assert published.geometry == publication.geometry_from_lonlat(publication._polygons(bigger))
