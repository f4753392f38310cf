"""Issue 14, items 3 and 9: parallel supplier-CSV posts never issue more passes than the event's
quota, and parallel uploads never store more supporting documents than the caps allow.

Each task has its own session (its own connection and transaction), as six browser tabs would. On
PostgreSQL the transactions really interleave; on SQLite they queue on the write lock.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    ORGANISER_FESTIVAL_ID,
    SQUARE,
    USER_ADMIN_ID,
    USER_ALICE_ID,
    make_application,
)
from sqlmodel import col, func, select

from cirqliz.db.models import AuditRecord, EventPass, SupportingDocument
from cirqliz.domain.documents import DocumentQuota
from cirqliz.issuance.applications import attach_document
from cirqliz.issuance.events import (
    BulkIssueError,
    add_event_zone,
    approve_event,
    create_organiser_event,
    issue_supplier_passes,
    submit_event,
)

pytestmark = pytest.mark.usefixtures("world")
QUOTA = 5
CALLS = 6


async def _approved_event(session_factory, clock, *, quota):
    start = clock.now() + timedelta(days=2)
    async with session_factory() as session, session.begin():
        event = await create_organiser_event(session, organiser_id=ORGANISER_FESTIVAL_ID,
                                             authority_id=AUTHORITY_PARIS_ID, name="Festival",
                                             starts_at=start, ends_at=start + timedelta(days=1), clock=clock)
        zone = await add_event_zone(session, event_id=event.id, name="Scène", level="red", geometry=SQUARE,
                                    starts_at=start, ends_at=start + timedelta(days=1), clock=clock)
        await submit_event(session, event_id=event.id, clock=clock)
        await approve_event(session, event_id=event.id, pass_quota=quota, clock=clock, actor_id=USER_ADMIN_ID)
    return event, zone


def _csv(call: int, zone_code: str, lines: int) -> str:
    rows = [f"Traiteur {call};AB-{call}{i:02d}-CD;{zone_code};" for i in range(lines)]
    return "entreprise;immatriculation;zones;creneaux\n" + "\n".join(rows) + "\n"


async def _bulk(session_factory, *, event_id, data, signer, clock):
    async with session_factory() as session, session.begin():
        result = await issue_supplier_passes(session, event_id=event_id, data=data, signer=signer, clock=clock)
        await asyncio.sleep(0.05)  # hold the transaction open while the others run
        return len(result.passes)


async def _count(session_factory, model, *where):
    async with session_factory() as session, session.begin():
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def test_parallel_bulk_issues_never_exceed_the_quota(session_factory, clock, signer):
    event, zone = await _approved_event(session_factory, clock, quota=QUOTA)
    outcomes = await asyncio.gather(
        *(_bulk(session_factory, event_id=event.id, data=_csv(call, zone.code, QUOTA), signer=signer, clock=clock)
          for call in range(CALLS)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if o == QUOTA]
    refused = [o for o in outcomes if isinstance(o, BulkIssueError)]
    assert len(winners) == 1 and len(refused) == CALLS - 1, outcomes
    for error in refused:
        (problem,) = error.problems
        assert problem.field == "quota"
        assert problem.message.startswith(f"quota dépassé : {QUOTA} laissez-passer demandés, 0 restant(s) sur "
                                          f"{QUOTA}")
    assert await _count(session_factory, EventPass, col(EventPass.event_id) == event.id) == QUOTA
    assert await _count(session_factory, AuditRecord, col(AuditRecord.action) == "bulk_issue") == 1


async def test_parallel_small_bulk_issues_fill_the_quota_exactly(session_factory, clock, signer):
    event, zone = await _approved_event(session_factory, clock, quota=QUOTA)
    outcomes = await asyncio.gather(
        *(_bulk(session_factory, event_id=event.id, data=_csv(call, zone.code, 2), signer=signer, clock=clock)
          for call in range(CALLS)),
        return_exceptions=True,
    )
    assert sorted(o for o in outcomes if isinstance(o, int)) == [2, 2], outcomes
    assert sum(isinstance(o, BulkIssueError) for o in outcomes) == CALLS - 2, outcomes
    assert await _count(session_factory, EventPass, col(EventPass.event_id) == event.id) == 4


# ---- supporting documents (item 9) ------------------------------------------------------------


async def _attach(session_factory, *, application_id, tag, size, quota, store, clock):
    head = f"%PDF-1.4\n%{tag}\n".encode()
    async with session_factory() as session, session.begin():
        document = await attach_document(session, application_id=application_id, filename=f"{tag}.pdf",
                                         content_type="application/pdf", content=head + b"0" * (size - len(head)),
                                         store=store, actor_id=USER_ALICE_ID, clock=clock, quota=quota)
        await asyncio.sleep(0.05)  # hold the transaction open while the others run
        return document.id


async def test_parallel_uploads_never_exceed_the_document_caps(session_factory, clock, document_store):
    async with session_factory() as session, session.begin():
        first = await make_application(session, clock)
        second = await make_application(session, clock)
    per_application = DocumentQuota(max_per_application=2, max_bytes_per_organisation=10**6)
    outcomes = await asyncio.gather(
        *(_attach(session_factory, application_id=first.id, tag=f"p{i}", size=100, quota=per_application,
                  store=document_store, clock=clock) for i in range(5)),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 3 and all(getattr(e, "code", None) == "documents_per_application" for e in refused), \
        outcomes
    assert await _count(session_factory, SupportingDocument, col(SupportingDocument.application_id) == first.id) == 2
    # 2 × 100 bytes stored: 1000 more bytes fit once, across two applications of the organisation
    per_organisation = DocumentQuota(max_per_application=10, max_bytes_per_organisation=1250)
    outcomes = await asyncio.gather(
        *(_attach(session_factory, application_id=app.id, tag=f"o{i}", size=1000, quota=per_organisation,
                  store=document_store, clock=clock) for i, app in enumerate([first, second, first, second])),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 3 and all(getattr(e, "code", None) == "documents_organisation_full" for e in refused), \
        outcomes
    assert await _count(session_factory, SupportingDocument) == 3
