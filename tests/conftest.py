"""Shared fixtures: clock, fake signer, shared data, and databases on SQLite and PostgreSQL.

Database tests take `database_url` (a migrated, empty database created for the test) or
`empty_database_url` (no tables), each parametrised over SQLite and PostgreSQL. PostgreSQL
variants skip when 127.0.0.1:5432 does not answer, and fail instead when
CIRQLIZ_REQUIRE_POSTGRES=1 (CI). CIRQLIZ_TEST_POSTGRES overrides the server's URL.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from factories import T0, FakeSigner, seed_world
from pg_databases import DatabasePool as _DatabasePool
from pg_databases import admin_connect as _admin_connect
from pg_databases import create_pg_database as _create_pg_database
from pg_databases import drop_pg_database as _drop_pg_database
from pg_databases import pg_url as _pg_url
from pg_databases import server_url as _server_url
from remote_files import REAL_FETCH_URL, RemoteFiles
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import FixedClock
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.db.migrate import upgrade
from cirqliz.issuance.documents import FileDocumentStore
from cirqliz.settings import Settings

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
SHARED_DATA = REPO.parent / "shared" / "data"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


# --- plain fixtures ------------------------------------------------------------------------

@pytest.fixture
def clock() -> FixedClock:
    """Monday 2 March 2026, 08:00 UTC (09:00 in Paris)."""
    return FixedClock(T0)


@pytest.fixture
def signer() -> FakeSigner:
    """A signer that returns deterministic text and remembers what it signed."""
    return FakeSigner()


@pytest.fixture
def document_store(tmp_path: Path) -> FileDocumentStore:
    """Supporting documents stored under the test's tmp_path."""
    return FileDocumentStore(tmp_path / "documents")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the clone, or a skip saying so (a failure with CIRQLIZ_REQUIRE_SHARED=1, as in CI)."""
    if not SHARED_DATA.is_dir():
        reason = (f"{SHARED_DATA} is absent: the third-party example files (ZFE, Cerema, DATEX II, "
                  "Préfecture de Police) live beside the clone, not in it")
        if os.environ.get("CIRQLIZ_REQUIRE_SHARED") == "1":
            pytest.fail(f"{reason} (CIRQLIZ_REQUIRE_SHARED=1)")
        pytest.skip(reason)
    return SHARED_DATA


# --- PostgreSQL server ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server() -> Iterator[None]:
    """Check once that PostgreSQL answers; skip (or fail when required) if it does not."""
    try:
        with _admin_connect() as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any connection failure means "not reachable"
        reason = f"PostgreSQL not reachable at {_server_url().render_as_string()}: {exc}"
        if os.environ.get("CIRQLIZ_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (CIRQLIZ_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    yield


@pytest.fixture(scope="session")
def postgres_pool(postgres_server: None) -> Iterator[_DatabasePool]:
    """Makes the per-test databases ahead of time and drops them in the background (one per test process)."""
    pool = _DatabasePool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_pool: _DatabasePool) -> Iterator[str]:
    """A database migrated to head once per session (per xdist worker), copied for each test."""
    name = _create_pg_database()
    try:
        upgrade(_pg_url(name))
        yield name
    finally:
        postgres_pool.forget(name)
        _drop_pg_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


# --- the `world` of tests/factories.py, seeded once per session ----------------------------------
# Seeding it costs ~0.1 s per test (more on PostgreSQL: one round trip per flush), paid by some 500
# tests. A test that uses `world` gets a copy of a template that already holds it, seeded with the
# same clock time (T0) and the same services; `world` then only checks that the test's clock is
# still at T0, the time the rows carry.

def _seed_world_into(database_url: str) -> None:
    """Seed the world at T0 into a migrated database (in a thread: a test's event loop may be running)."""

    async def seed() -> None:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with create_session_factory(engine)() as session, session.begin():
                await seed_world(session, FixedClock(T0))
        finally:
            await engine.dispose()  # SQLite: the WAL is checkpointed into the file copied for each test

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, seed()).result()


@pytest.fixture(scope="session")
def sqlite_world_template(sqlite_template: Path) -> Path:
    """The migrated SQLite template with the world seeded (see _seed_world_into)."""
    path = sqlite_template.with_name("world.db")
    shutil.copyfile(sqlite_template, path)
    _seed_world_into(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_world_template(postgres_pool: _DatabasePool, postgres_template: str) -> Iterator[str]:
    """The migrated PostgreSQL template with the world seeded (see _seed_world_into)."""
    name = _create_pg_database(template=postgres_template)
    try:
        _seed_world_into(_pg_url(name))
        yield name
    finally:
        postgres_pool.forget(name)
        _drop_pg_database(name)


_WORLD_SEEDED = pytest.StashKey[bool]()


# --- per-test databases --------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """'sqlite' or 'postgresql'."""
    return request.param


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database with no tables, on the backend of this test variant."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}"
        return
    pool: _DatabasePool = request.getfixturevalue("postgres_pool")
    name = pool.take()
    try:
        yield _pg_url(name)
    finally:
        pool.release(name)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database migrated to head, on the backend of this test variant (already holding the
    world when the test uses `world`)."""
    with_world = "world" in request.fixturenames
    request.node.stash[_WORLD_SEEDED] = with_world
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_world_template" if with_world else "sqlite_template")
        path = tmp_path / "cirqliz.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    pool: _DatabasePool = request.getfixturevalue("postgres_pool")
    name = pool.take(request.getfixturevalue("postgres_world_template" if with_world else "postgres_template"))
    try:
        yield _pg_url(name)
    finally:
        pool.release(name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine built the way the application builds it."""
    engine = create_engine(Settings(database_url=database_url))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The application's session factory on the test database."""
    return create_session_factory(engine)


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session with no transaction open: tests open one per use case (`session.begin()`)."""
    async with session_factory() as session:
        yield session


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession], clock: FixedClock,
                request: pytest.FixtureRequest) -> None:
    """The named organisations, users, vehicles and zones of tests/factories.py, committed (copied
    from the session's template by `database_url`, seeded at T0)."""
    if request.node.stash.get(_WORLD_SEEDED, False):
        if clock.now() != T0:
            pytest.fail(f"the world is seeded at {T0.isoformat()} but the test's clock is already at "
                        f"{clock.now().isoformat()}: move the clock after `world`, not before")
        return
    async with session_factory() as session, session.begin():
        await seed_world(session, clock)


# --- parallel runs: ./dev test runs pytest-xdist (-n <cores + 1> --dist loadgroup) ------------------
# Tests are handed out one at a time, except that a module sharing a fixture built once per module
# or class (a live server, a browser, a built wheel) goes whole to one worker, so that the fixture
# is built once, not once per worker. (xdist's own xdist_group marks do nothing under pytest 9: it
# renames node ids through an attribute pytest no longer reads, so the grouping is done here.)
_SHARED_SCOPE = re.compile(r"""scope\s*=\s*["'](?:module|class|package)["']""")


@functools.cache
def _shares_a_fixture(path: Path) -> bool:
    """Whether a test module, or a conftest.py of its folders, declares a module-, class- or package-scoped fixture."""
    files = [path, *(folder / "conftest.py" for folder in path.parents if folder.name and TESTS in folder.parents)]
    return any(f.is_file() and _SHARED_SCOPE.search(f.read_text(encoding="utf-8")) for f in files)


def _scope_of(nodeid: str, rootdir: Path) -> str:
    """The unit of work of a test: its module when the module shares a fixture, else the test itself."""
    module = nodeid.split("::", 1)[0]
    return module if _shares_a_fixture(rootdir / module) else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With --dist loadgroup: one test at a time, a module sharing a fixture as one unit, handed out in
    the workers' collection order (longest units first, see pytest_collection_modifyitems)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    rootdir = config.rootpath
    config.option.loadscopereorder = False  # xdist would sort the units by their number of tests

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope_of(nodeid, rootdir)

    return SharedFixtureScheduling(config, log)


# --- longest first: the parallel run ends when its longest worker does ----------------------------
# tests/durations.json holds the seconds (set-up + call + tear-down) of the tests that take 2 s or
# more, from a full local run; `CIRQLIZ_RECORD_DURATIONS=tests/durations.json ./dev test` writes it
# again. It only orders the work: a test missing from it (a new one) counts as UNKNOWN_SECONDS.
DURATIONS = TESTS / "durations.json"
RECORD_DURATIONS_ENV = "CIRQLIZ_RECORD_DURATIONS"
UNKNOWN_SECONDS = {"slow": 60.0, "e2e": 5.0}  # by marker; any other test: DEFAULT_SECONDS
DEFAULT_SECONDS = 0.2
FULL_SIZES = bool(os.environ.get("CI") or os.environ.get("CIRQLIZ_SLOW"))  # crash, fuzz, load at full size


@functools.cache
def _recorded_durations() -> dict[str, float]:
    try:
        return json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _estimated_seconds(item: pytest.Item) -> float:
    known = _recorded_durations().get(item.nodeid)
    if known is not None:
        return known
    for marker, seconds in UNKNOWN_SECONDS.items():
        if item.get_closest_marker(marker) is not None:
            return seconds
    return DEFAULT_SECONDS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In xdist workers, the units of work (see _scope_of) are put longest first, their tests kept in
    order, so that the scheduler hands out the long ones first and the short ones fill in at the end
    (no long test left alone on one core while the other has finished). With the full sizes (CI,
    CIRQLIZ_SLOW=1) the tests marked `slow` go first whatever the file says. Without xdist the order
    does not change. The sort is the same on every worker (xdist requires identical collections)."""
    if not hasattr(config, "workerinput"):
        return
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(_scope_of(item.nodeid, config.rootpath), []).append(item)

    def cost(unit: list[pytest.Item]) -> tuple[bool, float]:
        slow_first = FULL_SIZES and any(item.get_closest_marker("slow") for item in unit)
        return (not slow_first, -sum(_estimated_seconds(item) for item in unit))

    items[:] = [item for unit in sorted(units.values(), key=cost) for item in unit]  # stable sort


_recorded: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With CIRQLIZ_RECORD_DURATIONS: add up each test's phases (in the controller, from every worker)."""
    if os.environ.get(RECORD_DURATIONS_ENV) and not os.environ.get("PYTEST_XDIST_WORKER"):
        _recorded[report.nodeid] = _recorded.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With CIRQLIZ_RECORD_DURATIONS=PATH: write the tests of 2 s or more to PATH (see DURATIONS)."""
    path = os.environ.get(RECORD_DURATIONS_ENV)
    if path and not os.environ.get("PYTEST_XDIST_WORKER") and _recorded:
        kept = {nodeid: round(seconds, 1) for nodeid, seconds in sorted(_recorded.items()) if seconds >= 2.0}
        Path(path).write_text(json.dumps(kept, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")


# --- passwords: Argon2 at its cheapest in the test processes --------------------------------------
# The production parameters (RFC 9106, 64 MiB, 3 passes, 4 lanes) cost ~0.15 s of CPU per sign-in,
# paid hundreds of times by the suite. A hash records its parameters, so everything the tests do
# (hash, verify, the equal-work refusal) works the same; `cirqliz serve` processes the tests start
# keep the production hasher, and tests/unit/test_password_cost.py checks its parameters.
from argon2 import PasswordHasher as _PasswordHasher  # noqa: E402

from cirqliz.issuance import passwords as _passwords  # noqa: E402

_passwords._hasher = _PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # salt, hash lengths: as in production


# --- property-based tests: reproducible in CI ------------------------------------------------
# CI runs with a fixed seed so a landing never depends on chance; locally examples stay random.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")


@pytest.fixture
def remote() -> Iterator[RemoteFiles]:
    """A partner authority's server on 127.0.0.1 (issue 19), stopped after the test."""
    server = RemoteFiles()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def private_network_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let partner fetches reach the tests' servers on 127.0.0.1, which production refuses
    (CIRQLIZ_PARTNER_PRIVATE_ADDRESSES); REAL_FETCH_URL keeps the production behaviour."""
    from cirqliz.issuance import partners

    monkeypatch.setattr(partners, "fetch_url", lambda url, **kw: REAL_FETCH_URL(url, **(kw | {"allow_private": True})))
