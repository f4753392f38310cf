"""Concurrent approvals and fleet issuance: one pass per approval, never a shared serial.

Each task uses its own session (its own connection), as two reviewers or two worker processes
would. On PostgreSQL the transactions really interleave; on SQLite they queue on the write lock.
"""

import asyncio
import secrets
from datetime import timedelta

from factories import (
    AUTHORITY_PARIS_ID,
    SQUARE,
    USER_REVIEWER_2_ID,
    USER_REVIEWER_ID,
    make_application,
    make_submitted_application,
    make_vehicle,
    make_zone,
)
from sqlmodel import col, func, select

from cirqliz.db.models import AccessPass, ApplicationTransitionRecord, AuditRecord, PassZone, Zone
from cirqliz.domain.errors import EligibilityError, TransitionError
from cirqliz.issuance.applications import approve_application, submit_application
from cirqliz.issuance.zones import create_zone


async def _count(session_factory, model, *where):
    async with session_factory() as session, session.begin():
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def _approve(session_factory, *, application_id, reviewer_id, signer, clock, serials=None):
    async with session_factory() as session, session.begin():
        extra = {"serial_source": serials} if serials else {}
        passes = await approve_application(session, application_id=application_id,
                                           reviewer_id=reviewer_id, signer=signer, clock=clock,
                                           **extra)
        await asyncio.sleep(0.05)  # hold the transaction open while the other one runs
        return [p.serial for p in passes]


async def test_two_concurrent_approvals_make_one_pass_and_one_trail(
    world, session_factory, clock, signer
):
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock)
    outcomes = await asyncio.gather(
        _approve(session_factory, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                 signer=signer, clock=clock),
        _approve(session_factory, application_id=app.id, reviewer_id=USER_REVIEWER_2_ID,
                 signer=signer, clock=clock),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, list)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], TransitionError)
    assert await _count(session_factory, AccessPass, col(AccessPass.application_id) == app.id) == 1
    assert await _count(session_factory, ApplicationTransitionRecord,
                        col(ApplicationTransitionRecord.to_status) == "approved") == 1
    assert await _count(session_factory, AuditRecord, col(AuditRecord.action) == "approve") == 1
    assert await _count(session_factory, AuditRecord, col(AuditRecord.entity) == "pass") == 1


async def test_many_concurrent_approvals_still_make_one_pass(world, session_factory, clock, signer):
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock)
    outcomes = await asyncio.gather(
        *(_approve(session_factory, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                   signer=signer, clock=clock) for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, list) for o in outcomes) == 1
    assert all(isinstance(o, list | TransitionError) for o in outcomes), outcomes
    assert await _count(session_factory, AccessPass) == 1
    assert await _count(session_factory, AuditRecord, col(AuditRecord.action) == "approve") == 1


class CollidingSerials:
    """Hands out the same serial to the first few callers, then random ones."""

    def __init__(self, collisions: int) -> None:
        self.collisions = collisions
        self.calls = 0
        self.fixed = bytes.fromhex("C0FFEE00C0FFEE00")

    def __call__(self) -> bytes:
        self.calls += 1
        return self.fixed if self.calls <= self.collisions else secrets.token_bytes(8)


async def test_concurrent_fleet_approvals_never_share_a_serial(
    world, session_factory, clock, signer
):
    apps = []
    async with session_factory() as session, session.begin():
        for fleet in range(2):
            vehicles = [await make_vehicle(session, clock, plate=f"F{fleet}-{i:03d}-AA".replace(
                f"F{fleet}", f"F{'AB'[fleet]}")) for i in range(3)]
            apps.append(await make_submitted_application(
                session, clock, vehicle_ids=[v.id for v in vehicles]))
    serials = CollidingSerials(collisions=4)
    outcomes = await asyncio.gather(
        *(_approve(session_factory, application_id=a.id, reviewer_id=USER_REVIEWER_ID,
                   signer=signer, clock=clock, serials=serials) for a in apps),
    )
    issued = [s for outcome in outcomes for s in outcome]
    assert len(issued) == 6 and len(set(issued)) == 6
    assert serials.calls >= 9  # every collision was retried with a fresh serial
    async with session_factory() as session, session.begin():
        stored = (await session.exec(select(AccessPass.serial))).all()
        linked = (await session.exec(select(AccessPass.serial).join(PassZone, col(PassZone.pass_id) == AccessPass.id))
                  ).all()
    assert sorted(stored) == sorted(issued)
    # each stored pass has its zone, once (on PostgreSQL they go in with the pass, in the same statement)
    assert sorted(linked) == sorted(issued)
    # every stored serial was signed; a pass signed with a serial already taken was not stored (signing
    # comes before the one INSERT of a fleet, which skips a taken serial instead of a savepoint each)
    signed = [c.serial.hex().upper() for c in signer.signed]
    assert set(issued) <= set(signed)
    assert {s for s in signed if s not in issued} <= {serials.fixed.hex().upper()}


async def test_concurrent_zone_creations_get_distinct_refs(world, session_factory, clock):
    async def create(code):
        async with session_factory() as session, session.begin():
            zone = await create_zone(session, authority_id=AUTHORITY_PARIS_ID, code=code,
                                     name=code, kind="pedestrian", geometry=SQUARE, clock=clock)
            await asyncio.sleep(0.02)
            return zone.ref

    refs = await asyncio.gather(*(create(f"P{i}") for i in range(4)))
    assert sorted(refs) == [3, 4, 5, 6]  # the world already holds refs 1 and 2
    assert await _count(session_factory, Zone) == 6


async def test_quota_is_not_overrun_by_concurrent_approvals(world, session_factory, clock, signer):
    rule = {"opening_hours": "24/7", "max_pass_days": 1, "quota_days_per_year": 1}
    async with session_factory() as session, session.begin():
        zone = await make_zone(session, clock, code="QUOTA", kind="low_emission", rule=rule)
        van = await make_vehicle(session, clock, plate="QQ-123-QQ")
        ids = []
        for day in (1, 2):
            start = clock.now() + timedelta(days=day)
            app = await make_application(session, clock, zone_ids=[zone.id], vehicle_ids=[van.id],
                                         windows=[], not_before=start,
                                         expires_at=start + timedelta(hours=2))
            await submit_application(session, application_id=app.id, actor_id=app.applicant_id,
                                     clock=clock)
            ids.append(app.id)
    outcomes = await asyncio.gather(
        *(_approve(session_factory, application_id=i, reviewer_id=USER_REVIEWER_ID,
                   signer=signer, clock=clock) for i in ids),
        return_exceptions=True,
    )
    assert sum(isinstance(o, list) for o in outcomes) == 1
    assert any(isinstance(o, EligibilityError) for o in outcomes), outcomes
    assert await _count(session_factory, AccessPass) == 1
