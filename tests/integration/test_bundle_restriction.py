"""The zone's restriction schedule reaches the trust bundle (ADR 0007): outside it the verdict is
NOT_RESTRICTED (no pass needed), inside it the pass is checked as before; an event zone's dated
periods are its restriction; the bundle is built with a constant number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import AUTHORITY_PARIS_ID, T0, USER_REVIEWER_ID, ZONE_CENTRE_ID, make_submitted_application
from sqlalchemy import event

from cirqliz.db.models import Zone, ZoneSchedule, window_to_json
from cirqliz.domain.windows import TimeWindow
from cirqliz.issuance import publication
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import bundle_zones, publish_bundle, restriction_schedule
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.passcode.bundle import TrustBundle, open_bundle
from cirqliz.verify.core import Reason, verify_pass

pytestmark = pytest.mark.usefixtures("world")
WEEKDAYS = 0b0011111
TUESDAY_0900 = T0 + timedelta(days=1)  # 09:00 in Paris (T0 is Monday 2 March 2026, 09:00 local)


async def _publish(session_factory, store: KeyStore, clock) -> TrustBundle:
    async with session_factory() as session, session.begin():
        data, _ = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    return open_bundle(data, [store.root_public()])


async def _restrict(session_factory, hours: str, windows: list[TimeWindow]) -> None:
    async with session_factory() as session, session.begin():
        zone = await session.get(Zone, ZONE_CENTRE_ID)
        zone.restriction_hours = hours
        zone.restriction_windows = [window_to_json(w) for w in windows]
        zone.data_version += 1
        session.add(zone)


async def _pass(session_factory, clock, tmp_path):
    store = KeyStore.init(tmp_path / "keys" / "paris", issuer="paris", clock=clock)
    await _publish(session_factory, store, clock)  # the first key becomes usable
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock)
        (row,) = await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                           signer=KeyStoreSigner(tmp_path / "keys", clock=clock), clock=clock)
    return store, row


async def test_outside_the_restriction_no_pass_is_needed(session_factory, clock, tmp_path):
    store, row = await _pass(session_factory, clock, tmp_path)
    await _restrict(session_factory, "Mo-Fr 08:00-20:00", [TimeWindow(WEEKDAYS, 8 * 60, 20 * 60)])
    bundle = await _publish(session_factory, store, clock)
    assert bundle.zone("CENTRE").restriction == (TimeWindow(WEEKDAYS, 480, 1200),)
    assert verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY_0900).reason is Reason.VALID
    evening = verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY_0900 + timedelta(hours=12))
    assert evening.reason is Reason.NOT_RESTRICTED and evening.valid
    # Inside the restriction but outside the rule's access hours (Mo-Sa 07:00-11:00): refused as before.
    noon = verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY_0900 + timedelta(hours=4))
    assert noon.reason is Reason.OUTSIDE_HOURS


async def test_hours_that_windows_cannot_say_keep_the_zone_restricted(session_factory, clock, tmp_path):
    store, row = await _pass(session_factory, clock, tmp_path)
    async with session_factory() as session, session.begin():
        zone = await session.get(Zone, ZONE_CENTRE_ID)
        zone.restriction_hours, zone.restriction_windows = "Mo-Fr 08:00-20:00; week 01-10 off", None
        session.add(zone)
    bundle = await _publish(session_factory, store, clock)
    assert bundle.zone("CENTRE").restriction == ()
    evening = verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY_0900 + timedelta(hours=12))
    assert evening.reason is Reason.OUTSIDE_HOURS  # a pass is asked for: never waved through by mistake


async def test_dated_periods_are_the_restriction_of_an_event_zone(session_factory, clock, tmp_path):
    store, row = await _pass(session_factory, clock, tmp_path)
    start = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # Tuesday 08:00 Paris
    async with session_factory() as session, session.begin():
        session.add(ZoneSchedule(zone_id=ZONE_CENTRE_ID, starts_at=start, ends_at=start + timedelta(hours=3),
                                 source="event", created_at=clock.now()))
        session.add(ZoneSchedule(zone_id=ZONE_CENTRE_ID, starts_at=start + timedelta(days=2),
                                 ends_at=start + timedelta(days=2, hours=3), source="event", created_at=clock.now()))
    bundle = await _publish(session_factory, store, clock)
    assert len(bundle.zone("CENTRE").restriction) == 2
    assert verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY_0900).reason is Reason.VALID
    wednesday = verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY_0900 + timedelta(days=1))
    assert wednesday.reason is Reason.NOT_RESTRICTED
    thursday = verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY_0900 + timedelta(days=2))
    assert thursday.reason is Reason.VALID


async def test_weekly_restriction_within_periods_is_their_intersection(clock):
    zone = Zone(ref=1, code="Z", name="Z", kind="event_perimeter", geometry={}, time_zone="Europe/Paris",
                status="active", authority_id=AUTHORITY_PARIS_ID, created_at=T0, updated_at=T0,
                restriction_windows=[window_to_json(TimeWindow(WEEKDAYS, 10 * 60, 12 * 60))])
    period = ZoneSchedule(zone_id=zone.id, starts_at=datetime(2026, 3, 3, 7, 0, tzinfo=UTC),
                          ends_at=datetime(2026, 3, 3, 16, 0, tzinfo=UTC), source="event", created_at=T0)
    (window,) = restriction_schedule(zone, [period], now=T0)
    assert (window.weekdays, window.start, window.end) == (WEEKDAYS, 600, 720)
    assert window.first_day == window.last_day == datetime(2026, 3, 3).date()
    # Periods all past: the weekly schedule alone (the zone's own dates end it).
    assert restriction_schedule(zone, [period], now=T0 + timedelta(days=30)) == (TimeWindow(WEEKDAYS, 600, 720),)


async def test_bundle_zones_cost_a_constant_number_of_queries(session_factory, clock, engine):
    async def count() -> int:
        statements: list[str] = []

        def listen(*args):
            statements.append(args[2])

        event.listen(engine.sync_engine, "before_cursor_execute", listen)
        publication._simplified.clear()  # outlines are read (one query) only when not kept: read each time
        try:
            async with session_factory() as session:
                await bundle_zones(session, AUTHORITY_PARIS_ID, now=clock.now())
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", listen)
        return len(statements)

    before = await count()
    async with session_factory() as session, session.begin():
        for n in range(5):
            session.add(Zone(ref=100 + n, code=f"EXTRA{n}", name=f"Extra {n}", kind="pedestrian",
                             geometry={"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.31, 48.8], [2.31, 48.81],
                                                                           [2.3, 48.8]]]},
                             time_zone="Europe/Paris", status="active", authority_id=AUTHORITY_PARIS_ID,
                             created_at=T0, updated_at=T0))
    assert await count() == before
