"""Passes after issuance: suspension, revocation, expiry, exemptions and agents' checks."""

import uuid
from datetime import date, timedelta

import pytest
from factories import (
    USER_ADMIN_ID,
    USER_AGENT_ID,
    USER_REVIEWER_ID,
    VEHICLE_OLD_ID,
    ZONE_CENTRE_ID,
    ZONE_ZFE_ID,
    make_submitted_application,
)
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, AuditRecord, PassCheck, Revocation
from cirqliz.domain.errors import DomainError, ReasonRequired, TransitionError
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.passes import (
    expire_passes,
    grant_exemption,
    record_check,
    reinstate_pass,
    revoke_pass,
    suspend_pass,
)

pytestmark = pytest.mark.usefixtures("world")


@pytest.fixture
async def issued(session, clock, signer):
    async with session.begin():
        app = await make_submitted_application(session, clock)
        (row,) = await approve_application(session, application_id=app.id,
                                           reviewer_id=USER_REVIEWER_ID, signer=signer,
                                           clock=clock)
    return row.id, row.serial


async def test_suspend_reinstate_revoke(session, clock, issued):
    pass_id, _ = issued
    with pytest.raises(ReasonRequired):
        async with session.begin():
            await suspend_pass(session, pass_id=pass_id, actor_id=USER_ADMIN_ID, reason="",
                               clock=clock)
    async with session.begin():
        assert (await suspend_pass(session, pass_id=pass_id, actor_id=USER_ADMIN_ID,
                                   reason="contrôle", clock=clock)).status == "suspended"
        assert (await reinstate_pass(session, pass_id=pass_id, actor_id=USER_ADMIN_ID,
                                     clock=clock)).status == "active"
        revocation = await revoke_pass(session, pass_id=pass_id, actor_id=USER_ADMIN_ID,
                                       reason="véhicule vendu", clock=clock)
    assert revocation.reason == "véhicule vendu"
    with pytest.raises(TransitionError):
        async with session.begin():
            await revoke_pass(session, pass_id=pass_id, actor_id=USER_ADMIN_ID, reason="encore",
                              clock=clock)
    async with session.begin():
        trail = (await session.exec(select(AuditRecord.action).where(
            col(AuditRecord.entity_id) == str(pass_id)).order_by(col(AuditRecord.at)))).all()
        revocations = (await session.exec(select(Revocation))).all()
    assert sorted(trail) == sorted(["issue", "suspended", "active", "revoked"])
    assert len(revocations) == 1


async def test_expire_in_one_statement(session, clock, issued):
    pass_id, _ = issued
    async with session.begin():
        assert await expire_passes(session, clock=clock) == 0
    clock.advance(timedelta(days=40))
    async with session.begin():
        assert await expire_passes(session, clock=clock) == 1
        assert await expire_passes(session, clock=clock) == 0
    session.expunge_all()
    async with session.begin():
        assert (await session.get(AccessPass, pass_id)).status == "expired"


async def test_checks_upload_idempotently(session, clock, issued):
    pass_id, serial = issued
    check_id = uuid.uuid4()
    for _ in range(2):
        async with session.begin():
            check = await record_check(session, check_id=check_id, agent_id=USER_AGENT_ID,
                                       checked_at=clock.now(), verdict="VALID",
                                       serial=serial.lower(), zone_id=ZONE_CENTRE_ID,
                                       device_id="phone-1", clock=clock)
    assert check.pass_id == pass_id and check.serial == serial
    async with session.begin():
        unknown = await record_check(session, check_id=uuid.uuid4(), agent_id=USER_AGENT_ID,
                                     checked_at=clock.now(), verdict="UNKNOWN_KEY",
                                     serial="0011223344556677", clock=clock)
        assert unknown.pass_id is None
        assert len((await session.exec(select(PassCheck))).all()) == 2


async def test_exemptions_only_in_low_emission_zones(session, clock):
    async with session.begin():
        exemption = await grant_exemption(session, zone_id=ZONE_ZFE_ID, plate="123 abc 75",
                                          kind="local", starts_on=date(2026, 3, 1),
                                          ends_on=date(2026, 12, 31), actor_id=USER_ADMIN_ID,
                                          vehicle_id=VEHICLE_OLD_ID, reason="véhicule de collection",
                                          clock=clock)
    assert exemption.plate == "123ABC75"
    with pytest.raises(DomainError):
        async with session.begin():
            await grant_exemption(session, zone_id=ZONE_CENTRE_ID, plate="AB-123-CD",
                                  kind="local", starts_on=date(2026, 3, 1),
                                  ends_on=date(2026, 12, 31), actor_id=USER_ADMIN_ID, clock=clock)
