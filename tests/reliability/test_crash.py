"""Crash safety of the bulk approval, on SQLite and PostgreSQL.

Thousands of submitted applications (one vehicle each) are approved by one bulk approval request
(answered at once with a progress page: the approval runs in the background, a chunk per
transaction); the server's process group is killed with SIGKILL once a tenth of the passes exist. Right after the
crash the database must hold only whole approvals (status, pass, audit record together or nothing)
and SQLite must pass its integrity check; after a restart, the same bulk approval completes the
remainder and the invariants still hold.

5,000 applications per backend in CI (CI=true) or with CIRQLIZ_SLOW=1, about two minutes each on a
2-core machine; 1,000 in a local `./dev test` (still several chunks on both backends: the kill lands
after the first ones, with most of the run ahead). CIRQLIZ_CRASH_COUNT overrides both.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cirqliz.db.engine import SQLITE_BEGIN, create_engine
from cirqliz.db.models import AccessPass, Application
from cirqliz.settings import Settings

from .harness import (
    ServerProcess,
    bulk_outcomes,
    check_invariants,
    post_form,
    prepare_database,
    seed_submitted,
    server_env,
    sign_in,
    start_server,
)

pytestmark = pytest.mark.slow  # minutes: handed out first to the parallel workers
FULL = bool(os.environ.get("CI") or os.environ.get("CIRQLIZ_SLOW"))
COUNT = int(os.environ.get("CIRQLIZ_CRASH_COUNT", "5000" if FULL else "1000"))
BULK_PATH = "/autorite/demandes/acceptation-groupee"
POLL = 0.1
BULK_TIMEOUT = 900.0


def test_kill_during_bulk_approval(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    _crash_and_restart(backend, tmp_path, request, COUNT)


def _crash_and_restart(backend: str, tmp_path: Path, request: pytest.FixtureRequest, count: int) -> None:
    if backend == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}"
    else:
        database_url = request.getfixturevalue("pg_database_url")
    prepare_database(database_url, tmp_path / "keys")
    started = time.perf_counter()
    ids = seed_submitted(database_url, count)
    seeded = time.perf_counter() - started
    env = server_env(tmp_path, database_url)

    server = start_server(env, tmp_path, name="first")
    try:
        before_kill, kill_at = asyncio.run(_approve_then_kill(server, database_url, ids))
    finally:
        server.stop()
    crashed = asyncio.run(check_invariants(database_url))
    if backend == "sqlite":
        _integrity_check(database_url)
    assert not crashed.problems, f"after the kill: {crashed.problems[:10]}"
    assert before_kill <= crashed.approved_ids, "approvals committed before the kill are gone"
    assert crashed.approved_ids, "killed before the first chunk committed: nothing was tested"
    assert len(crashed.approved_ids) < count, "the bulk approval finished before the kill: nothing was tested"

    server = start_server(env, tmp_path, name="restarted")
    try:
        outcomes, rerun = asyncio.run(_approve_all(server, ids))
    finally:
        server.stop()
    final = asyncio.run(check_invariants(database_url))
    if backend == "sqlite":
        _integrity_check(database_url)
    approved_now = {i for i, ok in outcomes.items() if ok}
    print(f"\ncrash test ({backend}): {count} applications seeded in {seeded:.1f} s; kill after {kill_at:.1f} s "
          f"with {len(before_kill)} approvals seen ({crashed.passes} passes right after the kill); "
          f"restart: {len(approved_now)} approved by the second bulk request in {rerun:.1f} s "
          f"({len(approved_now) / rerun:.0f}/s); final: {final.passes} passes, {final.applications}")
    assert not final.problems, final.problems[:10]
    assert set(outcomes) == set(ids), "the bulk result does not list every application"
    assert approved_now.isdisjoint(crashed.approved_ids), "an application was approved twice"
    assert approved_now | crashed.approved_ids == set(ids)
    assert final.approved_ids == set(ids) and final.passes == count
    assert final.applications == {"approved": count}


async def _signed_in(server: ServerProcess) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=server.base_url, timeout=BULK_TIMEOUT)
    await sign_in(client, "reviewer")
    return client


async def _approve_then_kill(server: ServerProcess, database_url: str, ids: list[str]) -> tuple[set[str], float]:
    """Send the bulk approval, SIGKILL the server once a tenth of the passes exist (mid-way, not at the
    start); the approved ids seen just before the kill and the seconds it took to get there."""
    kill_after = max(1, len(ids) // 10)
    client = await _signed_in(server)
    engine = create_engine(Settings(database_url=database_url))
    # Read-only polling: on SQLite a DEFERRED transaction reads a WAL snapshot without waiting, where
    # the default BEGIN IMMEDIATE would queue for the write lock against the server's approvals (and
    # could lose the race past the busy timeout: "database is locked").
    reader = engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
    started = time.perf_counter()
    try:
        answer = await post_form(client, BULK_PATH, [("ids", i) for i in ids])
        assert answer.status_code == 303, answer.text[:2000]
        progress = answer.headers["location"]
        while True:
            async with reader.connect() as conn:
                passes = (await conn.execute(select(func.count()).select_from(AccessPass))).scalar_one()
                if passes >= kill_after:
                    approved = {str(i) for i in (await conn.execute(
                        select(Application.id).where(Application.status == "approved"))).scalars()}
                    break
            page = await client.get(progress)  # on SQLite it may wait for a chunk's commit (busy: 503)
            if page.status_code == 200 and 'http-equiv="refresh"' not in page.text:
                pytest.fail("the bulk approval finished before the kill")
            if time.perf_counter() - started > BULK_TIMEOUT:
                pytest.fail(f"only {passes} passes after {BULK_TIMEOUT} s")
            await asyncio.sleep(POLL)
        elapsed = time.perf_counter() - started
        server.kill9()
        with pytest.raises(httpx.HTTPError):  # no answer: the process is gone
            await client.get(progress)
    finally:
        await engine.dispose()
        await client.aclose()
    return approved, elapsed


async def _approve_all(server: ServerProcess, ids: list[str]) -> tuple[dict[str, bool], float]:
    """The same bulk approval again, to completion: the outcome per id and the seconds it took."""
    client = await _signed_in(server)
    try:
        started = time.perf_counter()
        answer = await post_form(client, BULK_PATH, [("ids", i) for i in ids])
        assert answer.status_code == 303, answer.text[:2000]
        while True:  # the progress page reloads itself until the result replaces it
            response = await client.get(answer.headers["location"])
            assert response.status_code == 200, response.text[:2000]
            if 'http-equiv="refresh"' not in response.text:
                break
            if time.perf_counter() - started > BULK_TIMEOUT:
                pytest.fail(f"the bulk approval did not finish within {BULK_TIMEOUT} s")
            await asyncio.sleep(POLL)
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    return bulk_outcomes(response.text), elapsed


def _integrity_check(database_url: str) -> None:
    path = database_url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
