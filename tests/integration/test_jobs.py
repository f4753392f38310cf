"""Scheduled jobs: exact-once expiry, temporary zones switching at their boundaries, one run per
tick with two workers on PostgreSQL, incremental publication, incident closures in the bundle,
purge, and the APScheduler wiring."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    ORGANISER_FESTIVAL_ID,
    SQUARE,
    T0,
    USER_ADMIN_ID,
    USER_AGENT_ID,
    USER_REVIEWER_ID,
    ZONE_CENTRE_ID,
    make_submitted_application,
)
from sqlmodel import col, select

from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.db.models import AccessPass, Application, JobRun, PassCheck, Zone
from cirqliz.issuance.applications import approve_application, reject_application
from cirqliz.issuance.events import (
    add_event_zone,
    approve_event,
    close_zone,
    create_organiser_event,
    submit_event,
    switch_temporary_zones,
)
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import publish_bundle
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.jobs.jobs import EXPIRE, PUBLISH, PURGE, SWITCH, Job, JobOutcome, jobs_for, run_job
from cirqliz.jobs.scheduler import JobScheduler
from cirqliz.passcode.bundle import open_bundle
from cirqliz.settings import Settings
from cirqliz.verify.core import Reason, verify_pass

pytestmark = pytest.mark.usefixtures("world")
SETTINGS = Settings()


async def _runs(session_factory, name):
    async with session_factory() as session:
        return list((await session.exec(select(JobRun).where(col(JobRun.name) == name)
                                        .order_by(col(JobRun.started_at), col(JobRun.outcome)))).all())


async def _issue(session_factory, clock, signer, **overrides):
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock, **overrides)
        (row,) = await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                           signer=signer, clock=clock)
    return row


# ---- expiry ----------------------------------------------------------------------------------------


async def test_passes_expire_exactly_once(session_factory, clock, signer):
    row = await _issue(session_factory, clock, signer, not_before=T0 + timedelta(hours=1),
                       expires_at=T0 + timedelta(days=1))
    clock.set(T0 + timedelta(days=1) - timedelta(seconds=1))
    first = await run_job(session_factory, EXPIRE, clock=clock, settings=SETTINGS)
    assert (first.outcome, first.rows) == ("ok", 0)
    clock.set(T0 + timedelta(days=1))  # exactly at expires_at
    run = await run_job(session_factory, EXPIRE, clock=clock, settings=SETTINGS)
    assert (run.outcome, run.rows) == ("ok", 1)
    again = await run_job(session_factory, EXPIRE, clock=clock, settings=SETTINGS)  # same tick
    assert again.outcome == "skipped" and again.rows == 0
    clock.advance(timedelta(minutes=1))  # next tick: runs, changes nothing
    later = await run_job(session_factory, EXPIRE, clock=clock, settings=SETTINGS)
    assert (later.outcome, later.rows) == ("ok", 0)
    async with session_factory() as session:
        assert (await session.get(AccessPass, row.id)).status == "expired"
    assert [r.outcome for r in await _runs(session_factory, "expire_passes")].count("ok") == 3


# ---- temporary zones ----------------------------------------------------------------------------


async def _approved_event_zone(session_factory, clock, start, end, *, approve=True):
    async with session_factory() as session, session.begin():
        event = await create_organiser_event(session, organiser_id=ORGANISER_FESTIVAL_ID,
                                             authority_id=AUTHORITY_PARIS_ID, name="Festival d'été",
                                             starts_at=start - timedelta(hours=2), ends_at=end + timedelta(hours=2),
                                             clock=clock)
        zone = await add_event_zone(session, event_id=event.id, name="Scène principale", level="red",
                                    geometry=SQUARE, starts_at=start, ends_at=end, clock=clock)
        await submit_event(session, event_id=event.id, clock=clock)
        if approve:
            await approve_event(session, event_id=event.id, pass_quota=10, clock=clock, actor_id=USER_ADMIN_ID)
    return event, zone


async def _status(session_factory, zone_id):
    async with session_factory() as session:
        return (await session.get(Zone, zone_id)).status


async def _switch(session_factory, clock):
    async with session_factory() as session, session.begin():
        return await switch_temporary_zones(session, clock=clock)


async def test_temporary_zone_switches_exactly_at_its_boundaries(session_factory, clock):
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=1, hours=6)
    _event, zone = await _approved_event_zone(session_factory, clock, start, end)
    second = timedelta(seconds=1)
    expected = [
        (start - second, "draft", 0),
        (start, "active", 1),
        (start + second, "active", 0),
        (end - second, "active", 0),
        (end, "archived", 1),
        (end + second, "archived", 0),
    ]
    for when, status, changed in expected:
        clock.set(when)
        result = await _switch(session_factory, clock)
        assert (await _status(session_factory, zone.id), result.rows) == (status, changed), when
    assert (await _switch(session_factory, clock)).rows == 0  # idempotent


async def test_next_boundary_is_reported_and_unapproved_zones_stay_off(session_factory, clock):
    start, end = T0 + timedelta(hours=3), T0 + timedelta(hours=5)
    _event, zone = await _approved_event_zone(session_factory, clock, start, end, approve=False)
    clock.set(start + timedelta(minutes=1))
    assert (await _switch(session_factory, clock)).rows == 0
    assert await _status(session_factory, zone.id) == "draft"
    clock.set(T0)
    _event2, zone2 = await _approved_event_zone(session_factory, clock, start, end)
    result = await _switch(session_factory, clock)
    assert result.next_boundary == start and result.rows == 0
    clock.set(start)
    run = await run_job(session_factory, SWITCH, clock=clock, settings=SETTINGS)
    assert (run.outcome, run.rows) == ("ok", 1) and zone2.code in (run.detail or "")


# ---- two workers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_workers_never_both_run_the_same_job_for_a_tick(database_url, clock):
    ran = []

    async def slow(ctx):
        ran.append(ctx.tick)
        await asyncio.sleep(0.5)  # hold the advisory lock while the other worker tries
        return JobOutcome(1, "lent")

    job = Job("slow_test_job", 0x4351_00FF, timedelta(minutes=1), slow, "Tâche lente (test)")
    engines = [create_engine(Settings(database_url=database_url)) for _ in range(2)]
    try:
        makers = [create_session_factory(e) for e in engines]
        runs = await asyncio.gather(*(run_job(m, job, clock=clock, settings=SETTINGS, worker=f"w{i}")
                                      for i, m in enumerate(makers)))
        assert sorted(r.outcome for r in runs) == ["ok", "skipped"]
        skipped = next(r for r in runs if r.outcome == "skipped")
        assert "verrou" in skipped.detail and len(ran) == 1
        # The real expiry job, twice at once, and once more later in the same tick: one run.
        runs = await asyncio.gather(*(run_job(m, EXPIRE, clock=clock, settings=SETTINGS) for m in makers))
        runs.append(await run_job(makers[0], EXPIRE, clock=clock, settings=SETTINGS))
        assert sorted(r.outcome for r in runs) == ["ok", "skipped", "skipped"]
        recorded = await _runs(makers[1], "slow_test_job") + await _runs(makers[1], "expire_passes")
        assert sorted(r.outcome for r in recorded) == ["ok", "ok", "skipped", "skipped", "skipped"]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_failing_job_is_recorded_and_changes_nothing(session_factory, clock):
    async def broken(ctx):
        ctx.session.add(PassCheck(agent_id=USER_AGENT_ID, checked_at=ctx.clock.now(), verdict="VALID"))
        await ctx.session.flush()
        raise RuntimeError("panne simulée")

    run = await run_job(session_factory, Job("broken", 0x4351_00FE, timedelta(minutes=1), broken, "Cassée"),
                        clock=clock, settings=SETTINGS)
    assert run.outcome == "failed" and "panne simulée" in run.detail
    async with session_factory() as session:
        assert (await session.exec(select(PassCheck))).all() == []


# ---- publication and incidents ------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path, clock):
    KeyStore.init(tmp_path / "keys" / "paris", issuer="paris", clock=clock)
    return KeyStoreSigner(tmp_path / "keys", clock=clock)


async def test_publication_is_incremental(session_factory, clock, keys):
    first = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert (first.outcome, first.rows) == ("ok", 1) and "paris n° 1" in first.detail
    clock.advance(timedelta(minutes=1))
    unchanged = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert (unchanged.outcome, unchanged.rows) == ("ok", 0)
    async with session_factory() as session, session.begin():
        await close_zone(session, zone_id=ZONE_CENTRE_ID, authority_id=AUTHORITY_PARIS_ID,
                         ends_at=clock.now() + timedelta(hours=2), reason="Fuite de gaz", clock=clock)
    clock.advance(timedelta(minutes=1))
    changed = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert (changed.outcome, changed.rows) == ("ok", 1) and "paris n° 2" in changed.detail
    bundle = keys.keystore("paris").latest_bundle()
    centre = next(z for z in bundle.content.zones if z.code == "CENTRE")
    assert [c.reason for c in centre.closures] == ["Fuite de gaz"]
    # Once the closure is over, the next bundle drops it (a change again).
    clock.advance(timedelta(hours=3))
    after = await run_job(session_factory, PUBLISH, clock=clock, settings=SETTINGS, signer=keys)
    assert after.rows == 1
    centre = next(z for z in keys.keystore("paris").latest_bundle().content.zones if z.code == "CENTRE")
    assert centre.closures == ()


async def test_incident_closure_makes_a_valid_pass_zone_closed(session_factory, clock, keys):
    store = keys.keystore("paris")
    async with session_factory() as session, session.begin():
        await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)  # key usable
    row = await _issue(session_factory, clock, keys)
    at = T0 + timedelta(days=1)  # Tuesday 09:00 in Paris: inside every window
    async with session_factory() as session, session.begin():
        data, _ = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    bundle = open_bundle(data, [store.root_public()])
    assert verify_pass(row.signed_text, bundle, zone="CENTRE", now=at).reason is Reason.VALID
    async with session_factory() as session, session.begin():
        await close_zone(session, zone_id=ZONE_CENTRE_ID, authority_id=AUTHORITY_PARIS_ID,
                         ends_at=T0 + timedelta(days=2), reason="Manifestation non déclarée", clock=clock)
        data, _ = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    bundle = open_bundle(data, [store.root_public()])
    verdict = verify_pass(row.signed_text, bundle, zone="CENTRE", now=at)
    assert verdict.reason is Reason.ZONE_CLOSED and verdict.detail == "Manifestation non déclarée"
    assert verify_pass(row.signed_text, bundle, zone="CENTRE", now=T0 + timedelta(days=2, hours=1)
                       ).reason is not Reason.ZONE_CLOSED


async def test_closure_holders_are_notified(session_factory, clock, signer, tmp_path):
    from cirqliz.issuance.events import notify_closure
    from cirqliz.issuance.mail import Mailer

    await _issue(session_factory, clock, signer, not_before=T0 + timedelta(hours=1))
    settings = replace(SETTINGS, outbox_dir=str(tmp_path / "outbox"))
    async with session_factory() as session, session.begin():
        closure = await close_zone(session, zone_id=ZONE_CENTRE_ID, authority_id=AUTHORITY_PARIS_ID,
                                   ends_at=T0 + timedelta(hours=4), reason="Incendie", clock=clock)
        assert await notify_closure(session, closure, settings=settings) == 1
    [mail] = Mailer.for_settings(settings).outbox()
    assert mail.to == "alice@acme.test" and "CENTRE" in mail.subject and "Incendie" in mail.body


# ---- purge ------------------------------------------------------------------------------------------


async def test_purge_deletes_what_is_past_retention(session_factory, clock):
    async with session_factory() as session, session.begin():
        session.add(PassCheck(agent_id=USER_AGENT_ID, checked_at=T0 - timedelta(days=91), verdict="VALID"))
        session.add(PassCheck(agent_id=USER_AGENT_ID, checked_at=T0 - timedelta(days=89), verdict="VALID"))
        app = await make_submitted_application(session, clock)
        await reject_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID, reason="non",
                                 clock=clock)
    clock.advance(timedelta(days=366))
    run = await run_job(session_factory, PURGE, clock=clock, settings=SETTINGS)
    assert run.outcome == "ok" and run.rows == 3  # both checks are now past 90 days, and the application
    async with session_factory() as session:
        assert (await session.exec(select(PassCheck))).all() == []
        assert (await session.get(Application, app.id)) is None


# ---- scheduler ----------------------------------------------------------------------------------


async def test_scheduler_runs_jobs_and_stops(session_factory, clock):
    settings = replace(SETTINGS, scheduler_enabled=True)
    scheduler = JobScheduler(maker=session_factory, settings=settings, clock=clock)
    assert [j.name for j in scheduler.jobs] == [j.name for j in jobs_for(settings)]
    assert "import_feeds" not in [j.name for j in scheduler.jobs]  # no feed configured
    scheduler.start()
    try:
        for job in scheduler.scheduler.get_jobs():
            assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time == 30
        await scheduler.run(EXPIRE)
        scheduler._wake_at(datetime.now(UTC) + timedelta(hours=1))
        assert scheduler.scheduler.get_job("switch_zones_at_boundary") is not None
    finally:
        scheduler.shutdown()
    assert [r.outcome for r in await _runs(session_factory, "expire_passes")] == ["ok"]


async def test_feed_folder_is_imported_by_the_job(session_factory, clock, tmp_path, shared_data):
    from cirqliz.jobs.jobs import FEEDS

    folder = tmp_path / "feeds" / "paris"
    folder.mkdir(parents=True)
    (folder / "jop.geojson").write_bytes((shared_data / "jop" / "para_ouverture.geojson").read_bytes())
    settings = replace(SETTINGS, feeds_dir=str(tmp_path / "feeds"))
    assert "import_feeds" in [j.name for j in jobs_for(settings)]
    run = await run_job(session_factory, FEEDS, clock=clock, settings=settings)
    assert (run.outcome, run.rows) == ("ok", 1) and "1 créée" in run.detail
    clock.advance(timedelta(minutes=15))
    again = await run_job(session_factory, FEEDS, clock=clock, settings=settings)
    assert (again.outcome, again.rows) == ("ok", 0) and "1 inchangée" in again.detail
