"""A suspended zone stays in the trust bundle unchanged (its restriction is paused, its passes stay
valid); an incident closes it (red ZONE_CLOSED); an archived zone leaves the bundle (orange
UNKNOWN_ZONE: the agent's data no longer knows it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import AUTHORITY_PARIS_ID, T0, USER_REVIEWER_ID, ZONE_CENTRE_ID, make_submitted_application

from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import publish_bundle
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.issuance.zones import change_zone_status
from cirqliz.jobs.jobs import PUBLISH, run_job
from cirqliz.passcode.bundle import TrustBundle, open_bundle
from cirqliz.settings import Settings
from cirqliz.verify.core import Reason, Status, verify_pass

pytestmark = pytest.mark.usefixtures("world")
TUESDAY = T0 + timedelta(days=1)  # 09:00 in Paris: inside the pass's and the zone's hours


async def _publish(session_factory, store: KeyStore, clock) -> TrustBundle:
    async with session_factory() as session, session.begin():
        data, _ = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    return open_bundle(data, [store.root_public()])


async def _status(session_factory, clock, status: str) -> None:
    async with session_factory() as session, session.begin():
        await change_zone_status(session, zone_id=ZONE_CENTRE_ID, status=status, clock=clock)


async def test_suspended_zone_keeps_its_passes_valid_and_archiving_drops_it(session_factory, clock, tmp_path):
    store = KeyStore.init(tmp_path / "keys" / "paris", issuer="paris", clock=clock)
    signer = KeyStoreSigner(tmp_path / "keys", clock=clock)
    await _publish(session_factory, store, clock)  # the first key becomes usable
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock)
        (row,) = await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                           signer=signer, clock=clock)
    bundle = await _publish(session_factory, store, clock)
    assert verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY).reason is Reason.VALID

    await _status(session_factory, clock, "suspended")
    bundle = await _publish(session_factory, store, clock)
    centre = bundle.zone("CENTRE")
    assert centre is not None and centre.closures == ()
    verdict = verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY)
    assert (verdict.status, verdict.reason) == (Status.VALID, Reason.VALID)
    # The publication job sees the suspended zone as unchanged: no republication loop.
    clock.advance(timedelta(minutes=1))
    keys = KeyStoreSigner(tmp_path / "keys", clock=clock)
    assert (await run_job(session_factory, PUBLISH, clock=clock, settings=Settings(), signer=keys)).rows == 0

    await _status(session_factory, clock, "active")
    bundle = await _publish(session_factory, store, clock)
    assert bundle.zone("CENTRE").closures == ()
    assert verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY).reason is Reason.VALID

    await _status(session_factory, clock, "archived")
    bundle = await _publish(session_factory, store, clock)
    assert bundle.zone("CENTRE") is None
    gone = verify_pass(row.signed_text, bundle, zone="CENTRE", now=TUESDAY)
    assert (gone.status, gone.reason) == (Status.UNCERTAIN, Reason.UNKNOWN_ZONE)
