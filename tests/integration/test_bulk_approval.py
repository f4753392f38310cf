"""Bulk approval (cirqliz.issuance.bulk_approval) on SQLite and PostgreSQL: whole approvals by chunk,
ineligible ones reported, other authorities' ids refused, reruns idempotent, the audit chain intact."""

from __future__ import annotations

import gc
import uuid
from datetime import timedelta

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    COMPANY_BETA_ID,
    USER_REVIEWER_ID,
    VEHICLE_EV_ID,
    VEHICLE_OLD_ID,
    VEHICLE_VAN_ID,
    FakeSigner,
    make_submitted_application,
    make_zone,
)
from sqlalchemy import func, update
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, Application, ApplicationTransitionRecord, AuditRecord, PassZone
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance import applications
from cirqliz.issuance.audit import verify_chain
from cirqliz.issuance.bulk_approval import approve_many, create_job, load_job, run_job

pytestmark = pytest.mark.usefixtures("world")


async def _submitted(session_factory, clock, count: int) -> list[str]:
    ids = []
    async with session_factory() as session, session.begin():
        for n in range(count):
            app = await make_submitted_application(session, clock,
                                                   vehicle_ids=[(VEHICLE_VAN_ID, VEHICLE_EV_ID)[n % 2]])
            ids.append(str(app.id))
    return ids


async def _count(session_factory, model, *where) -> int:
    async with session_factory() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def test_bulk_approval_makes_whole_approvals_and_keeps_the_chain(session_factory, clock, signer):
    ids = await _submitted(session_factory, clock, 7)
    audit_before = await _count(session_factory, AuditRecord)
    transitions_before = await _count(session_factory, ApplicationTransitionRecord)
    outcomes = await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID, raw_ids=ids,
                                  reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock, chunk_size=3)
    assert [o.raw for o in outcomes] == ids and all(o.ok and o.passes == 1 for o in outcomes)
    assert await _count(session_factory, Application, col(Application.status) == "approved") == 7
    assert await _count(session_factory, AccessPass) == 7
    assert await _count(session_factory, PassZone) == 7
    assert await _count(session_factory, ApplicationTransitionRecord) == transitions_before + 7
    # one "approve" per application and one "issue" per pass
    assert await _count(session_factory, AuditRecord) == audit_before + 14
    assert await _count(session_factory, AuditRecord, col(AuditRecord.action) == "issue") == 7
    async with session_factory() as session:
        report = await verify_chain(session)
        stored = set((await session.exec(select(AccessPass.serial))).all())
    assert report.intact, report.message_fr()
    assert stored == {c.serial.hex().upper() for c in signer.signed}

    again = await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID, raw_ids=ids,
                               reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock)
    assert not any(o.ok for o in again)
    assert all("la demande est acceptée" in (o.message or "") for o in again)
    assert await _count(session_factory, AccessPass) == 7
    assert await _count(session_factory, AuditRecord) == audit_before + 14


async def test_ineligible_and_foreign_ids_are_reported_and_untouched(session_factory, clock, signer):
    ids = await _submitted(session_factory, clock, 3)
    async with session_factory() as session, session.begin():  # the rules refuse it since its submission
        await session.exec(update(Application).where(col(Application.id) == uuid.UUID(ids[1]))  # type: ignore[call-overload]
                           .values(purpose=int(Purpose.TAXI)))
    outcomes = await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID,
                                  raw_ids=[*ids, "pas-un-identifiant"], reviewer_id=USER_REVIEWER_ID,
                                  signer=signer, clock=clock)
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert outcomes[1].message == "non éligible : GH-789-JK / CENTRE : motif « Taxi, VTC » non admis dans cette zone"
    assert outcomes[3].message == "demande introuvable : pas-un-identifiant"
    assert await _count(session_factory, Application, col(Application.status) == "submitted") == 1
    assert await _count(session_factory, AccessPass, col(AccessPass.application_id) == uuid.UUID(ids[1])) == 0

    # Another organisation's scope: the ids are unknown there, nothing changes.
    more = await _submitted(session_factory, clock, 2)
    refused = await approve_many(session_factory, authority_id=COMPANY_BETA_ID, raw_ids=more,
                                 reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock)
    assert [o.message for o in refused] == [f"demande introuvable : {i}" for i in more]
    assert await _count(session_factory, Application, col(Application.status) == "submitted") == 3


async def test_a_background_run_records_its_progress_and_result(session_factory, clock, signer):
    ids = await _submitted(session_factory, clock, 5)
    job_id = await create_job(session_factory, authority_id=AUTHORITY_PARIS_ID, reviewer_id=USER_REVIEWER_ID,
                              raw_ids=[*ids, ids[0]], clock=clock)
    async with session_factory() as session:
        job = await load_job(session, job_id, AUTHORITY_PARIS_ID)
        assert job is not None and (job.total, job.processed, job.finished) == (5, 0, False)
        assert await load_job(session, job_id, COMPANY_BETA_ID) is None  # another authority's run
    seen = []

    async def watch(session, outcomes, processed):
        seen.append(((await load_job(session, job_id, AUTHORITY_PARIS_ID)).processed, processed))

    await run_job(session_factory, job_id, signer=signer, clock=clock, chunk_size=2, on_chunk=watch)
    assert seen == [(2, 2), (4, 4), (5, 5)]  # written with each chunk, in its transaction
    async with session_factory() as session:
        job = await load_job(session, job_id, AUTHORITY_PARIS_ID)
    assert job.finished and job.outcome == "ok" and job.accepted == 5
    assert [o.ok for o in job.outcomes()] == [True] * 5


async def test_identical_requests_are_assessed_once_per_chunk(session_factory, clock, signer, monkeypatch):
    ids = await _submitted(session_factory, clock, 6)  # the same request for two vehicle profiles
    calls = []
    original = applications.evaluate_rules
    monkeypatch.setattr(applications, "evaluate_rules", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    outcomes = await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID, raw_ids=ids,
                                  reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock, chunk_size=3)
    assert all(o.ok for o in outcomes)
    assert len(calls) == 4  # per chunk: once for the van's profile, once for the electric van's
    assert {c.vehicle.plate for c in calls} == {c.plate for c in signer.signed}


class BatchCountingSigner(FakeSigner):
    """A FakeSigner that counts the batches it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def for_batch(self) -> FakeSigner:
        self.batches += 1
        return self


async def test_each_chunk_signs_its_passes_as_one_batch(session_factory, clock):
    ids = await _submitted(session_factory, clock, 5)
    signer = BatchCountingSigner()
    outcomes = await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID, raw_ids=ids,
                                  reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock, chunk_size=2)
    assert all(o.ok for o in outcomes) and len(signer.signed) == 5
    assert signer.batches == 3


async def test_chunks_run_with_the_cyclic_collector_paused(session_factory, clock, signer):
    ids = await _submitted(session_factory, clock, 4)
    seen = []

    async def watch(session, outcomes, processed):
        seen.append(gc.isenabled())

    assert gc.isenabled()
    await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID, raw_ids=ids[:3],
                       reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock, chunk_size=2, on_chunk=watch)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()  # paused by its caller: left paused
    try:
        outcomes = await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID, raw_ids=ids[3:],
                                      reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock)
        assert outcomes[0].ok and not gc.isenabled()
    finally:
        gc.enable()


async def test_quota_applications_are_approved_one_at_a_time_within_the_chunk(session_factory, clock, signer):
    rule = {"opening_hours": "Mo-Fr 08:00-20:00; PH off", "max_pass_days": 1, "quota_days_per_year": 2}
    async with session_factory() as session, session.begin():
        zone = await make_zone(session, clock, code="QUOTA", kind="low_emission", rule=rule)
    ids = await _submitted(session_factory, clock, 2)  # no quota: the batch path
    async with session_factory() as session, session.begin():
        for day in range(3):
            start = clock.now().replace(hour=7) + timedelta(days=day + 1)  # 08:00 Paris
            app = await make_submitted_application(session, clock, zone_ids=[zone.id], vehicle_ids=[VEHICLE_OLD_ID],
                                                   windows=[], not_before=start,
                                                   expires_at=start + timedelta(hours=10))
            ids.insert(1 + day, str(app.id))
    outcomes = await approve_many(session_factory, authority_id=AUTHORITY_PARIS_ID, raw_ids=ids,
                                  reviewer_id=USER_REVIEWER_ID, signer=signer, clock=clock)
    assert [o.ok for o in outcomes] == [True, True, True, False, True]
    assert "quota" in (outcomes[3].message or "")
    assert await _count(session_factory, AccessPass) == 4
    assert await _count(session_factory, Application, col(Application.status) == "submitted") == 1
    async with session_factory() as session:
        assert (await verify_chain(session)).intact
