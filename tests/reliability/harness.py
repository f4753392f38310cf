"""Building blocks of the reliability tests (no pytest imports): real `cirqliz serve` processes on
free local ports, a migrated and seeded database, HTTP sessions signed in as demo people, and the
database invariants every run must keep (one pass per approved vehicle, unique serials, audit).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from cirqliz.clock import SystemClock
from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.migrate import upgrade
from cirqliz.db.models import AccessPass, Application, ApplicationVehicle, AuditRecord
from cirqliz.demo.seed import DEMO_PASSWORD, USERS, seed_demo_database
from cirqliz.settings import Settings

SECRET_KEY = "reliability-tests-secret-key-0123456789abcdef"  # test processes only
CSRF_COOKIE = "cirqliz_csrf"
START_TIMEOUT = 40.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(database_url: str, keys_dir: Path) -> None:
    """Migrate `database_url` to head and seed the demo world (keys under `keys_dir`), real clock."""
    upgrade(database_url)
    asyncio.run(seed_demo_database(Settings(database_url=database_url, keys_dir=str(keys_dir)), clock=SystemClock()))


def server_env(folder: Path, database_url: str, *, redis_url: str = "", redis_namespace: str = "",
               extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `cirqliz serve` process of the tests (scheduler off: a worker's job)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRQLIZ_")}
    env |= {
        "CIRQLIZ_DATABASE_URL": database_url,
        "CIRQLIZ_ENV": "test",
        "CIRQLIZ_SECRET_KEY": SECRET_KEY,
        "CIRQLIZ_KEYS_DIR": str(folder / "keys"),
        "CIRQLIZ_DOCUMENTS_DIR": str(folder / "documents"),
        "CIRQLIZ_OUTBOX_DIR": str(folder / "outbox"),
        "CIRQLIZ_SCHEDULER_ENABLED": "0",
        "CIRQLIZ_REDIS_URL": redis_url,
        "CIRQLIZ_REDIS_NAMESPACE": redis_namespace or "cirqliz",
        "PYTHONUNBUFFERED": "1",
    }
    return env | (extra or {})


@dataclass
class ServerProcess:
    """One `cirqliz serve` process group (its own session, so a kill reaches every worker)."""

    port: int
    process: subprocess.Popen
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output (for failure messages)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill9(self) -> None:
        """SIGKILL the whole process group: no shutdown, no flush, like a power cut of the process."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the group, then SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill9()


def start_server(env: dict[str, str], folder: Path, *, workers: int = 1, name: str = "server") -> ServerProcess:
    """Start `cirqliz serve` on a free port and wait until /healthz answers."""
    port = free_port()
    log = folder / f"{name}-{port}.log"
    script = Path(sys.executable).with_name("cirqliz")
    command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                     "import sys; from cirqliz.cli import main; sys.exit(main())"]
    command += ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = ServerProcess(port, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"cirqliz serve exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"cirqliz serve did not answer within {START_TIMEOUT} s:\n{server.log_tail()}")
        time.sleep(0.2)


def create_token(database_url: str, *, scopes: Sequence[str] = ("verify", "passes:read"), name: str = "essai",
                 who: str = "pro") -> str:
    """An API token of the demo company of `who` ('pro' or 'other_pro'); its text."""
    from cirqliz.demo.seed import USER_IDS
    from cirqliz.issuance.api_tokens import create_api_token

    organisation_id = USERS[who][2]

    async def work() -> str:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with transaction(create_session_factory(engine)) as session:
                _, token = await create_api_token(session, organisation_id=organisation_id, name=name,
                                                  scopes=scopes, created_by=USER_IDS[who], clock=SystemClock())
        finally:
            await engine.dispose()
        return token

    return asyncio.run(work())


def add_vehicles(database_url: str, *, who: str, count: int, first: int = 100) -> list[uuid.UUID]:
    """`count` more vehicles for the demo company of `who`, plus the ones it has; every id."""
    from cirqliz.demo.seed import VEHICLES
    from cirqliz.issuance.vehicles import register_vehicle

    organisation_id = USERS[who][2]
    letters = "BCDFGHJKLMNPRSTVWXZ"

    async def work() -> list[uuid.UUID]:
        engine = create_engine(Settings(database_url=database_url))
        ids = [v[0] for v in VEHICLES if v[1] == organisation_id]
        try:
            async with transaction(create_session_factory(engine)) as session:
                for n in range(first, first + count):
                    plate = f"{letters[n % 19]}{letters[n // 19 % 19]}-{n % 1000:03d}-{letters[n // 7 % 19]}Q"
                    vehicle = await register_vehicle(session, organisation_id=organisation_id, plate=plate,
                                                     category="N1", crit_air=1, energy="diesel", clock=SystemClock())
                    ids.append(vehicle.id)
        finally:
            await engine.dispose()
        return ids

    return asyncio.run(work())


def seed_submitted(database_url: str, count: int, *, chunk: int = 1000) -> list[str]:
    """`count` submitted applications of the demo company, one vehicle each in PARIS-CENTRE, inserted
    in bulk (no per-row service call: the tests need thousands quickly); their ids."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from cirqliz.db.models import ApplicationZone
    from cirqliz.demo.seed import AUTHORITY_ID, COMPANY_ID, USER_IDS, VEHICLES, ZONE_IDS

    now = datetime.now(UTC)
    vehicles = [v[0] for v in VEHICLES if v[1] == COMPANY_ID]
    ids = [uuid.uuid4() for _ in range(count)]

    async def work() -> None:
        engine = create_engine(Settings(database_url=database_url))
        try:
            for start in range(0, count, chunk):
                part = ids[start:start + chunk]
                async with engine.begin() as conn:
                    await conn.execute(insert(Application), [{
                        "id": i, "organisation_id": COMPANY_ID, "applicant_id": USER_IDS["pro"],
                        "authority_id": AUTHORITY_ID, "purpose": 1, "not_before": now - timedelta(hours=1),
                        "expires_at": now + timedelta(days=30), "windows": [], "status": "submitted",
                        "created_at": now, "updated_at": now, "submitted_at": now} for i in part])
                    await conn.execute(insert(ApplicationZone), [
                        {"application_id": i, "zone_id": ZONE_IDS["PARIS-CENTRE"]} for i in part])
                    await conn.execute(insert(ApplicationVehicle), [
                        {"application_id": i, "vehicle_id": vehicles[(start + n) % len(vehicles)]}
                        for n, i in enumerate(part)])
        finally:
            await engine.dispose()

    asyncio.run(work())
    return [str(i) for i in ids]


# ---- HTTP sessions ------------------------------------------------------------------------


async def csrf(client: httpx.AsyncClient) -> str:
    """The CSRF token of this client (a GET of the sign-in page sets the cookie)."""
    token = client.cookies.get(CSRF_COOKIE)
    if token is None:
        await client.get("/connexion")
        token = client.cookies.get(CSRF_COOKIE)
    if not token:
        raise RuntimeError("no CSRF cookie")
    return token


async def post_form(client: httpx.AsyncClient, url: str, data: dict | Sequence[tuple[str, str]], **kwargs: object
                    ) -> httpx.Response:
    """POST an urlencoded form with the CSRF token (a dict, or pairs for repeated fields)."""
    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    pairs.append(("_csrf_token", await csrf(client)))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return await client.post(url, content=urlencode(pairs), headers=headers, **kwargs)  # type: ignore[arg-type]


async def sign_in(client: httpx.AsyncClient, who: str) -> None:
    """Sign in as a demo person ('pro', 'reviewer', …); the session cookie stays in the client."""
    response = await post_form(client, "/connexion", {"email": USERS[who][0], "password": DEMO_PASSWORD})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in of {who} refused: {response.status_code} {response.text[:300]}")


BULK_OUTCOME = re.compile(r'<li class="(ok|failed)">.*?href="/autorite/demandes/([0-9a-f-]{36})"', re.S)


def bulk_outcomes(html: str) -> dict[str, bool]:
    """Application id -> approved, from the bulk approval result page."""
    return {app_id: kind == "ok" for kind, app_id in BULK_OUTCOME.findall(html)}


# ---- database invariants ------------------------------------------------------------------


@dataclass
class Invariants:
    """What the database holds after a run, and every broken invariant found."""

    applications: dict[str, int] = field(default_factory=dict)
    """Applications by status."""
    passes: int = 0
    problems: list[str] = field(default_factory=list)
    approved_ids: set[str] = field(default_factory=set)
    statuses: dict[str, str] = field(default_factory=dict)
    """Application id -> status."""
    serials: set[str] = field(default_factory=set)


async def check_invariants(database_url: str) -> Invariants:
    """One pass per vehicle of each approved application, none elsewhere, unique serials, an audit
    record (entity 'pass', action 'issue') per pass."""
    engine = create_engine(Settings(database_url=database_url))
    found = Invariants()
    try:
        async with engine.connect() as session:
            found.statuses = {str(i): status for i, status in (await session.execute(
                select(Application.id, Application.status))).all()}
            found.applications = dict(Counter(found.statuses.values()))
            approved = {i for i, status in found.statuses.items() if status == "approved"}
            found.approved_ids = approved
            wanted = {(str(a), str(v)) for a, v in (await session.execute(
                select(ApplicationVehicle.application_id, ApplicationVehicle.vehicle_id)
                .join(Application, Application.id == ApplicationVehicle.application_id)
                .where(Application.status == "approved"))).all()}
            passes = (await session.execute(
                select(AccessPass.id, AccessPass.application_id, AccessPass.vehicle_id, AccessPass.serial,
                       AccessPass.signed_text))).all()
            audited = {r for r in (await session.execute(
                select(AuditRecord.entity_id).where(AuditRecord.entity == "pass", AuditRecord.action == "issue")
            )).scalars()}
    finally:
        await engine.dispose()
    found.passes = len(passes)
    per_pair: dict[tuple[str, str], int] = {}
    serial_count: dict[str, int] = {}
    for pass_id, app_id, vehicle_id, serial, text in passes:
        pair = (str(app_id), str(vehicle_id))
        per_pair[pair] = per_pair.get(pair, 0) + 1
        serial_count[serial] = serial_count.get(serial, 0) + 1
        if str(app_id) not in approved:
            found.problems.append(f"pass {serial} belongs to application {app_id}, which is not approved")
        if str(pass_id) not in audited and pass_id.hex not in audited:
            found.problems.append(f"pass {serial} has no audit record (pass/issue)")
        if not text:
            found.problems.append(f"pass {serial} has no signed text")
    found.serials = set(serial_count)
    found.problems += [f"serial {s} is used {n} times" for s, n in serial_count.items() if n > 1]
    found.problems += [f"application {a} vehicle {v} has {per_pair.get((a, v), 0)} passes, not 1"
                       for a, v in sorted(wanted) if per_pair.get((a, v), 0) != 1]
    return found


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def new_namespace(prefix: str) -> str:
    """A Redis key namespace of its own for one test."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
