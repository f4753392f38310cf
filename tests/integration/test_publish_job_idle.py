"""The publish job with nothing changed (issue 18): no new seq, no signature, no geometry simplified
again, and a number of SQL statements that does not grow with the number of zones; it decides so
without reading the zones and serials (a change counter bumped by the database), and still sees
every kind of change, including what time alone removes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    USER_ADMIN_ID,
    USER_REVIEWER_ID,
    ZONE_CENTRE_ID,
    ZONE_ZFE_ID,
    FakeSigner,
    make_submitted_application,
    make_zone,
)
from sqlalchemy import event, text
from sqlmodel import select

from cirqliz.db.models import AccessPass, AccessRule, Zone
from cirqliz.issuance import keystore as keystore_module
from cirqliz.issuance import publication
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.events import close_zone, replace_schedule
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.passes import reinstate_pass, revoke_pass, suspend_pass
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.jobs import jobs as jobs_module
from cirqliz.jobs.jobs import PUBLISH, run_job
from cirqliz.passcode.bundle import revocation_hash
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


# ---- deciding "nothing changed" without reading the data (change counter, migration 0014) ----------


@pytest.fixture
def reads(monkeypatch):
    """How many times the publish job read the zones and the revoked serials in full."""
    counts = {"zones": 0, "serials": 0}
    zones, serials = jobs_module.bundle_zones, jobs_module.revoked_serials

    async def counting_zones(*args, **kwargs):
        counts["zones"] += 1
        return await zones(*args, **kwargs)

    async def counting_serials(*args, **kwargs):
        counts["serials"] += 1
        return await serials(*args, **kwargs)

    monkeypatch.setattr(jobs_module, "bundle_zones", counting_zones)
    monkeypatch.setattr(jobs_module, "revoked_serials", counting_serials)
    return counts


async def _job(session_factory, clock, keys, reads, *, after=timedelta(minutes=1)):
    """Run the job `after` later: (rows published, full reads of zones and serials)."""
    clock.advance(after)
    before = dict(reads)
    run = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert run.outcome == "ok", run.detail
    return run.rows, reads["zones"] - before["zones"] + reads["serials"] - before["serials"]


def _latest(keys):
    return keys.keystore("paris").latest_bundle().content


async def _published_and_idle(session_factory, clock, keys, reads) -> None:
    """The first bundle, then a run that decides "nothing changed" without reading the data."""
    assert (await _job(session_factory, clock, keys, reads))[0] == 1
    assert await _job(session_factory, clock, keys, reads) == (0, 0)


async def _pass(session_factory, clock, *, hours: int = 24 * 20) -> AccessPass:
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock, not_before=clock.now(),
                                               expires_at=clock.now() + timedelta(hours=hours))
        await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                  signer=FakeSigner(), clock=clock)
        return (await session.exec(select(AccessPass).where(AccessPass.application_id == app.id))).one()


def _listed(keys, row: AccessPass) -> bool:
    return revocation_hash("paris", bytes.fromhex(row.serial)) in _latest(keys).revoked


async def test_a_revocation_a_suspension_and_a_reinstatement_are_each_published(session_factory, clock, keys, reads):
    revoked, suspended = await _pass(session_factory, clock), await _pass(session_factory, clock)
    await _published_and_idle(session_factory, clock, keys, reads)
    async with session_factory() as session, session.begin():
        await revoke_pass(session, pass_id=revoked.id, actor_id=USER_ADMIN_ID, reason="Volé", clock=clock)
    assert (await _job(session_factory, clock, keys, reads))[0] == 1
    assert _listed(keys, revoked)
    assert await _job(session_factory, clock, keys, reads) == (0, 0)
    async with session_factory() as session, session.begin():
        await suspend_pass(session, pass_id=suspended.id, actor_id=USER_ADMIN_ID, reason="Contrôle", clock=clock)
    assert (await _job(session_factory, clock, keys, reads))[0] == 1
    assert _listed(keys, suspended)
    async with session_factory() as session, session.begin():
        await reinstate_pass(session, pass_id=suspended.id, actor_id=USER_ADMIN_ID, clock=clock)
    assert (await _job(session_factory, clock, keys, reads))[0] == 1
    assert not _listed(keys, suspended) and _listed(keys, revoked)
    assert await _job(session_factory, clock, keys, reads) == (0, 0)


async def test_a_pass_issued_changes_nothing_and_reads_nothing(session_factory, clock, keys, reads):
    await _published_and_idle(session_factory, clock, keys, reads)
    await _pass(session_factory, clock)
    assert await _job(session_factory, clock, keys, reads) == (0, 0)


def _zone_edit(sql: str):
    async def edit(session, clock):
        await session.exec(text(sql).bindparams(zone=ZONE_CENTRE_ID.hex if session.bind.dialect.name == "sqlite"
                                                 else ZONE_CENTRE_ID))
    return edit


async def _close(session, clock):
    await close_zone(session, zone_id=ZONE_CENTRE_ID, authority_id=AUTHORITY_PARIS_ID,
                     ends_at=clock.now() + timedelta(hours=5), reason="Travaux", clock=clock)


async def _period(session, clock):
    await replace_schedule(session, zone_id=ZONE_CENTRE_ID, source="event", source_ref="fete",
                           periods=[(clock.now() + timedelta(days=2), clock.now() + timedelta(days=3))], clock=clock)


async def _rule(session, clock):
    rule = (await session.exec(select(AccessRule).where(AccessRule.zone_id == ZONE_CENTRE_ID))).one()
    rule.windows = [{"weekdays": 1, "start": 360, "end": 420}]
    session.add(rule)


async def _new_zone(session, clock):
    await make_zone(session, clock, code="NOUVELLE")


@pytest.mark.parametrize("change", [
    pytest.param(_zone_edit("UPDATE zone SET status = 'archived' WHERE id = :zone"), id="zone status by hand (SQL)"),
    pytest.param(_zone_edit("UPDATE zone SET name = 'Autre nom' WHERE id = :zone"), id="zone name, no new version"),
    pytest.param(_rule, id="access rule windows"),
    pytest.param(_period, id="dated period"),
    pytest.param(_close, id="closure"),
    pytest.param(_new_zone, id="new zone"),
])
async def test_each_kind_of_zone_change_is_published(session_factory, clock, keys, reads, change):
    await _published_and_idle(session_factory, clock, keys, reads)
    before = _latest(keys)
    async with session_factory() as session, session.begin():
        await change(session, clock)
    assert (await _job(session_factory, clock, keys, reads))[0] == 1
    assert _latest(keys).zones != before.zones
    assert await _job(session_factory, clock, keys, reads) == (0, 0)


async def test_what_time_alone_removes_is_published(session_factory, clock, keys, reads):
    """A revoked pass that expires, a closure that ends and a dated period that ends leave the
    bundle with no write at all: the job sees them, well before the daily refresh."""
    short = await _pass(session_factory, clock, hours=3)
    async with session_factory() as session, session.begin():
        await revoke_pass(session, pass_id=short.id, actor_id=USER_ADMIN_ID, reason="Volé", clock=clock)
        await close_zone(session, zone_id=ZONE_CENTRE_ID, authority_id=AUTHORITY_PARIS_ID,
                         ends_at=clock.now() + timedelta(hours=5), reason="Travaux", clock=clock)
        await replace_schedule(session, zone_id=ZONE_ZFE_ID, source="event", source_ref="fete", clock=clock,
                               periods=[(clock.now() - timedelta(hours=1), clock.now() + timedelta(hours=7)),
                                        (clock.now() + timedelta(days=2), clock.now() + timedelta(days=3))])
    await _published_and_idle(session_factory, clock, keys, reads)
    assert _listed(keys, short)
    centre = next(z for z in _latest(keys).zones if z.code == "CENTRE")
    zfe = next(z for z in _latest(keys).zones if z.code == "ZFE").restriction
    assert centre.closures

    assert (await _job(session_factory, clock, keys, reads, after=timedelta(hours=3)))[0] == 1
    assert not _listed(keys, short)
    assert await _job(session_factory, clock, keys, reads) == (0, 0)
    assert (await _job(session_factory, clock, keys, reads, after=timedelta(hours=2)))[0] == 1
    assert not next(z for z in _latest(keys).zones if z.code == "CENTRE").closures
    assert (await _job(session_factory, clock, keys, reads, after=timedelta(hours=2)))[0] == 1
    assert next(z for z in _latest(keys).zones if z.code == "ZFE").restriction != zfe
    assert await _job(session_factory, clock, keys, reads) == (0, 0)


async def test_a_bundle_published_elsewhere_is_compared_in_full_once(session_factory, clock, keys, reads):
    await _published_and_idle(session_factory, clock, keys, reads)
    async with session_factory() as session, session.begin():  # what POST /autorite/publier does
        await publication.publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=keys.keystore("paris"),
                                         clock=clock)
    assert await _job(session_factory, clock, keys, reads) == (0, 2)  # zones and serials, once
    assert await _job(session_factory, clock, keys, reads) == (0, 0)
    clock.advance(timedelta(minutes=-30))  # a clock that goes back: compared in full
    assert await _job(session_factory, clock, keys, reads) == (0, 2)


async def _changes(session_factory) -> int:
    async with session_factory() as session:
        return await jobs_module.bundle_changes(session)


async def test_the_database_bumps_the_counter_for_every_bundle_input(session_factory, clock):
    """Triggers (migration 0014): every write that can change a bundle bumps it in its transaction;
    issuing an active pass does not."""
    async def bumps(change) -> int:
        before = await _changes(session_factory)
        async with session_factory() as session, session.begin():
            await change(session)
        return await _changes(session_factory) - before

    before = await _changes(session_factory)
    row = await _pass(session_factory, clock)  # an active pass issued: no bump
    assert await _changes(session_factory) == before

    def sql(statement: str, **values):
        async def run(session):
            sqlite = session.bind.dialect.name == "sqlite"
            await session.exec(text(statement).bindparams(
                **{k: v.hex if sqlite and isinstance(v, uuid.UUID) else v for k, v in values.items()}))
        return run

    assert await bumps(sql("UPDATE access_pass SET plate = 'ZZ999ZZ' WHERE id = :p", p=row.id)) == 0
    assert await bumps(sql("UPDATE access_pass SET status = 'suspended' WHERE id = :p", p=row.id)) >= 1
    assert await bumps(sql("UPDATE access_pass SET status = 'active' WHERE id = :p", p=row.id)) >= 1
    assert await bumps(sql("UPDATE zone SET name = 'x' WHERE id = :z", z=ZONE_CENTRE_ID)) >= 1
    assert await bumps(sql("UPDATE access_rule SET name = 'x' WHERE zone_id = :z", z=ZONE_CENTRE_ID)) >= 1
    assert await bumps(lambda session: _period(session, clock)) >= 1
    assert await bumps(sql("DELETE FROM zone_schedule WHERE zone_id = :z", z=ZONE_CENTRE_ID)) >= 1
    assert await bumps(lambda session: _close(session, clock)) >= 1
    assert await bumps(sql("DELETE FROM zone_closure WHERE zone_id = :z", z=ZONE_CENTRE_ID)) >= 1
    assert await bumps(sql("DELETE FROM access_rule WHERE zone_id = :z", z=ZONE_CENTRE_ID)) >= 1
    assert await bumps(sql("INSERT INTO authority_partner (id, authority_id, iss, name, bundle_url, root_spki, "
                           "fingerprint, added_at) VALUES (:i, :a, 'lyon', 'Lyon', 'https://lyon.test/b.cose', "
                           ":k, 'AB', :t)", i=uuid.uuid4(), a=AUTHORITY_PARIS_ID, k=b"k", t=clock.now())) >= 1
    assert await bumps(sql("DELETE FROM authority_partner WHERE iss = 'lyon'")) >= 1


async def test_without_the_counter_row_every_run_compares_in_full(session_factory, clock, keys, reads):
    await _published_and_idle(session_factory, clock, keys, reads)
    async with session_factory() as session, session.begin():
        await session.exec(text("DELETE FROM bundle_change"))
    assert await _job(session_factory, clock, keys, reads) == (0, 2)
    assert await _job(session_factory, clock, keys, reads) == (0, 2)
