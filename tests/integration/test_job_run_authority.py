"""Job runs belong to an authority (issue H4), on SQLite and PostgreSQL: a publication records the
platform-wide run and each authority's share of it (`job_run.authority_id`), a bulk approval is its
authority's run, an authority's list holds its own runs and the platform's, never another's; and
migration 0015 attaches the existing bulk approval runs to their authority."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from factories import AUTHORITY_PARIS_ID, USER_REVIEWER_ID
from sqlmodel import col, select

from cirqliz.db.engine import create_engine
from cirqliz.db.migrate import upgrade
from cirqliz.db.models import JobRun
from cirqliz.issuance.bulk_approval import JOB_NAME, job_row
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.organisations import create_organisation
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.jobs.jobs import PUBLISH, last_runs, run_job
from cirqliz.settings import Settings

LYON_ID = uuid.UUID("00000000-0000-4000-a000-00000000c001")


@pytest.mark.usefixtures("world")
async def test_each_authority_lists_its_own_runs_and_the_platforms(session_factory, clock, tmp_path) -> None:
    async with session_factory() as session, session.begin():
        await create_organisation(session, kind="authority", code="lyon", name="Ville de Lyon", clock=clock,
                                  organisation_id=LYON_ID)
        bulk = job_row(authority_id=LYON_ID, reviewer_id=None, raw_ids=[str(uuid.uuid4())], at=clock.now())
        session.add(bulk)
    for code in ("paris", "lyon"):
        KeyStore.init(tmp_path / "keys" / code, issuer=code, clock=clock)
    signer = KeyStoreSigner(tmp_path / "keys", clock=clock)

    run = await run_job(session_factory, PUBLISH, clock=clock, settings=Settings(), signer=signer)
    assert (run.outcome, run.rows, run.authority_id) == ("ok", 2, None)
    assert "lyon n° 1" in run.detail and "paris n° 1" in run.detail
    async with session_factory() as session:
        rows = (await session.exec(select(JobRun).where(col(JobRun.name) == PUBLISH.name))).all()
        shares = {r.authority_id: (r.rows, r.detail, r.tick) for r in rows if r.authority_id is not None}
        assert shares == {AUTHORITY_PARIS_ID: (1, "paquet n° 1 publié", run.tick),
                          LYON_ID: (1, "paquet n° 1 publié", run.tick)}
        assert (await session.get(JobRun, bulk.id)).authority_id == LYON_ID
        last, recent = await last_runs(session, authority_id=AUTHORITY_PARIS_ID)
        operator_last, operator_recent = await last_runs(session)

    assert {r.authority_id for r in recent} == {None, AUTHORITY_PARIS_ID}  # never Lyon's share
    assert last[PUBLISH.name].authority_id == AUTHORITY_PARIS_ID  # its own share first: its own detail
    assert JOB_NAME not in {r.name for r in recent}  # bulk approvals have their own page
    assert {r.authority_id for r in operator_recent} == {None}  # the operator's view: the platform's runs
    assert operator_last[PUBLISH.name].id == run.id


async def _execute(url: str, sql: str, rows: list[dict]) -> list:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as connection:
            if rows:
                await connection.execute(sa.text(sql), rows)
                return []
            return list((await connection.execute(sa.text(sql))).all())
    finally:
        await engine.dispose()


async def test_migration_0015_attaches_bulk_approval_runs_to_their_authority(empty_database_url) -> None:
    url = empty_database_url
    sqlite = url.startswith("sqlite")
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def stored(value: uuid.UUID) -> object:
        return value.hex if sqlite else value

    await asyncio.to_thread(upgrade, url, "0014")
    await _execute(url, "INSERT INTO organisation (id, kind, code, name, next_zone_ref, last_bundle_seq, created_at) "
                        "VALUES (:id, 'authority', 'paris', 'Paris', 1, 0, :at)",
                   [{"id": stored(AUTHORITY_PARIS_ID), "at": at}])
    runs = {
        "bulk": (JOB_NAME, json.dumps({"authority_id": str(AUTHORITY_PARIS_ID), "reviewer_id": str(USER_REVIEWER_ID),
                                       "ids": []})),
        "unknown": (JOB_NAME, json.dumps({"authority_id": str(uuid.uuid4()), "ids": []})),
        "broken": (JOB_NAME, "pas du JSON"),
        "publish": ("publish_bundles", f"publiés : paris n° 1 {AUTHORITY_PARIS_ID}"),
    }
    ids = {key: uuid.uuid4() for key in runs}
    await _execute(url, "INSERT INTO job_run (id, name, tick, started_at, duration_ms, outcome, rows, detail, worker) "
                        "VALUES (:id, :name, :at, :at, 0, 'ok', 0, :detail, '')",
                   [{"id": stored(ids[key]), "name": name, "at": at, "detail": detail}
                    for key, (name, detail) in runs.items()])
    await asyncio.to_thread(upgrade, url, "0015")
    found = {uuid.UUID(str(i)): a for i, a in await _execute(url, "SELECT id, authority_id FROM job_run", [])}
    assert uuid.UUID(str(found[ids["bulk"]])) == AUTHORITY_PARIS_ID
    assert found[ids["unknown"]] is None and found[ids["broken"]] is None and found[ids["publish"]] is None
