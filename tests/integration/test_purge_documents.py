"""The purge job removes the files of purged supporting documents, once no row refers to them.

Documents are stored by content hash (var/documents/ab/abcd…): the same bytes attached to two
applications are one file, so a file goes only when the last row naming its hash goes, and only
after the purge commits (a run that fails keeps rows and files).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from factories import USER_ALICE_ID, USER_REVIEWER_ID, VEHICLE_EV_ID, make_submitted_application
from sqlmodel import col, select

from cirqliz.db.models import Application, JobRun, SupportingDocument
from cirqliz.issuance.applications import attach_document, reject_application
from cirqliz.jobs.jobs import LOCK_BASE, PURGE, Job, JobContext, JobOutcome, run_job
from cirqliz.settings import Settings

pytestmark = pytest.mark.usefixtures("world")
SHARED = b"%PDF-1.4\n%shared by two applications\n"
ONLY = b"%PDF-1.4\n%only in rejected applications\n"


async def _attach(session, app_id, name, content, store, clock) -> SupportingDocument:
    return await attach_document(session, application_id=app_id, filename=name, content_type="application/pdf",
                                 content=content, store=store, actor_id=USER_ALICE_ID, clock=clock)


async def _world(session_factory, clock, store):
    """Two rejected applications (SHARED + ONLY, and ONLY) and an open one holding SHARED."""
    async with session_factory() as session, session.begin():
        first = await make_submitted_application(session, clock)
        shared = await _attach(session, first.id, "kbis.pdf", SHARED, store, clock)
        only = await _attach(session, first.id, "carte-grise.pdf", ONLY, store, clock)
        second = await make_submitted_application(session, clock, vehicle_ids=[VEHICLE_EV_ID])
        await _attach(session, second.id, "carte-grise.pdf", ONLY, store, clock)
        still_open = await make_submitted_application(session, clock)
        await _attach(session, still_open.id, "kbis.pdf", SHARED, store, clock)
        for app in (first, second):
            await reject_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID, reason="non",
                                     clock=clock)
    return store.root / shared.storage_key, store.root / only.storage_key, still_open.id


async def test_purge_removes_files_no_row_refers_to(session_factory, clock, document_store):
    shared_file, only_file, open_id = await _world(session_factory, clock, document_store)
    assert shared_file.read_bytes() == SHARED and only_file.read_bytes() == ONLY
    settings = replace(Settings(), documents_dir=str(document_store.root))
    clock.advance(timedelta(days=366))
    run = await run_job(session_factory, PURGE, clock=clock, settings=settings)
    assert run.outcome == "ok" and run.rows == 2, run.detail  # the two rejected applications
    assert "1 fichier(s) justificatif(s)" in run.detail
    assert not only_file.exists()  # its two rows are gone
    assert shared_file.read_bytes() == SHARED  # the open application still names it
    async with session_factory() as session:
        rows = (await session.exec(select(SupportingDocument))).all()
        assert [(r.application_id, r.sha256) for r in rows] == [(open_id, shared_file.name)]
    # A second purge has nothing more to remove, and a file already gone is not an error.
    clock.advance(timedelta(days=1))
    again = await run_job(session_factory, PURGE, clock=clock, settings=settings)
    assert again.outcome == "ok" and "0 fichier(s)" in again.detail
    assert shared_file.exists()


async def test_a_failed_purge_keeps_rows_and_files(session_factory, clock, document_store):
    shared_file, only_file, _ = await _world(session_factory, clock, document_store)
    settings = replace(Settings(), documents_dir=str(document_store.root))

    async def purge_then_fail(ctx: JobContext) -> JobOutcome:
        await PURGE.run(ctx)
        raise RuntimeError("panne après la purge")

    failing = Job("purge_then_fail", LOCK_BASE + 99, timedelta(days=1), purge_then_fail, "Purge qui échoue")
    clock.advance(timedelta(days=366))
    run = await run_job(session_factory, failing, clock=clock, settings=settings)
    assert run.outcome == "failed"
    assert only_file.read_bytes() == ONLY and shared_file.read_bytes() == SHARED
    async with session_factory() as session:
        assert len((await session.exec(select(SupportingDocument))).all()) == 4
        rejected = (await session.exec(select(Application).where(col(Application.status) == "rejected"))).all()
        assert len(rejected) == 2
        assert (await session.exec(select(JobRun).where(col(JobRun.name) == "purge_then_fail"))).one().outcome \
            == "failed"
