"""Bulk approval (cirqliz.issuance.bulk_approval) on SQLite and PostgreSQL: whole approvals by chunk,
ineligible ones reported, other authorities' ids refused, reruns idempotent, the audit chain intact."""

from __future__ import annotations

import uuid

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    COMPANY_BETA_ID,
    USER_REVIEWER_ID,
    VEHICLE_EV_ID,
    VEHICLE_VAN_ID,
    make_submitted_application,
)
from sqlalchemy import func, update
from sqlmodel import col, select

from cirqliz.db.models import AccessPass, Application, ApplicationTransitionRecord, AuditRecord, PassZone
from cirqliz.domain.purposes import Purpose
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
