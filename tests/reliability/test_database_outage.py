"""A PostgreSQL restart under load: every page answers 200 or a French 503 with Retry-After (never
a 500), and service resumes by itself once the database is back (pool_pre_ping).

The test starts its own throwaway cluster (initdb + pg_ctl, as the `postgres` user when run as root)
so that it can stop and start it; it skips when the PostgreSQL binaries are missing, and fails
instead when CIRQLIZ_REQUIRE_POSTGRES=1 (CI).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .harness import free_port, prepare_database, server_env, sign_in, start_server

pytestmark = pytest.mark.slow  # initdb and a restart: handed out first to the parallel workers
PG_BIN = Path(os.environ.get("CIRQLIZ_PG_BIN", "/usr/lib/postgresql/15/bin"))
PAGES = ("/pro", "/pro/laissez-passer", "/pro/vehicules")
WORKERS = 4
LOAD_BEFORE_S = 1.5
DOWN_S = 1.0
LOAD_AFTER_S = 4.0
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1:`port`, data in `folder`."""

    folder: Path
    port: int
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.folder), *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self.pg_ctl("-o", f"-p {self.port} -k {self.folder} -c fsync=off -c listen_addresses=127.0.0.1",
                    "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A fresh cluster, started; stopped and removed afterwards."""
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="cirqliz-pg-"))
    try:
        if not (PG_BIN / "initdb").exists() or (as_postgres and not shutil.which("runuser")):
            raise RuntimeError(f"PostgreSQL binaries not found in {PG_BIN} (CIRQLIZ_PG_BIN)")
        if as_postgres:
            shutil.chown(folder, "postgres", "postgres")
        subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(folder), "-A", "trust", "-U", "postgres",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        made = Cluster(folder, free_port(), as_postgres)
        made.start()
    except (RuntimeError, OSError, subprocess.SubprocessError, LookupError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        reason = f"cannot make a throwaway PostgreSQL cluster: {exc}"
        if os.environ.get("CIRQLIZ_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (CIRQLIZ_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    try:
        yield made
    finally:
        try:
            made.stop()
        except subprocess.SubprocessError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Answer:
    sent: float
    status: int
    retry_after: str | None
    text: str


async def _load(client: httpx.AsyncClient, stop_at: float, answers: list[Answer]) -> None:
    """One signed-in person reading pages in a loop until `stop_at` (time.monotonic())."""
    try:
        turn = 0
        while time.monotonic() < stop_at:
            sent = time.monotonic()
            response = await client.get(PAGES[turn % len(PAGES)])
            answers.append(Answer(sent, response.status_code, response.headers.get("retry-after"),
                                  response.text if response.status_code != 200 else ""))
            turn += 1
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()


def test_pages_answer_503_not_500_while_postgresql_restarts(tmp_path: Path, cluster: Cluster) -> None:
    prepare_database(cluster.url, tmp_path / "keys")
    server = start_server(server_env(tmp_path, cluster.url), tmp_path, name="outage")
    answers: list[Answer] = []
    try:
        async def scenario() -> tuple[float, float]:
            # Everyone signs in before the clock starts: on a loaded machine a sign-in could otherwise
            # meet the outage, and the test would fail for its own set-up.
            clients = [httpx.AsyncClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) for _ in range(WORKERS)]
            await asyncio.gather(*(sign_in(client, "pro") for client in clients))
            stop_at = time.monotonic() + LOAD_BEFORE_S + DOWN_S + LOAD_AFTER_S + 2
            load = [asyncio.create_task(_load(client, stop_at, answers)) for client in clients]
            await asyncio.sleep(LOAD_BEFORE_S)
            await asyncio.to_thread(cluster.stop)
            went_down = time.monotonic()
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(cluster.start)
            came_back = time.monotonic()
            await asyncio.gather(*load)
            return went_down, came_back

        went_down, came_back = asyncio.run(scenario())
        after = httpx.get(f"{server.base_url}/readyz", timeout=REQUEST_TIMEOUT_S)
    finally:
        server.stop()
    statuses = sorted({a.status for a in answers})
    assert statuses and set(statuses) <= {200, 503}, (statuses, [a.text[:300] for a in answers if a.status != 200
                                                                  and a.status != 503][:3], server.log_tail())
    outage = [a for a in answers if a.status == 503]
    assert outage, "no request met the outage: the test did not test anything"
    assert all(a.retry_after and "momentanément indisponible" in a.text for a in outage), outage[0].text[:300]
    assert any(a.status == 200 and a.sent < went_down for a in answers)
    # Service resumed by itself: every page asked a second after the restart was served.
    resumed = [a for a in answers if a.sent > came_back + 1.0]
    assert resumed and all(a.status == 200 for a in resumed), [a.status for a in resumed]
    assert after.status_code == 200
