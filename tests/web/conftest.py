"""Web test fixtures: an application on a fresh SQLite database seeded with the demo world.

Named people come from cirqliz.demo.seed.USERS ("admin", "reviewer", "agent", "organiser",
"pro", "other_pro"); they all use DEMO_PASSWORD.

Each test gets a fresh copy of the demo world in the same folder of its test process, so that its
settings are equal from test to test and one application per settings serves every test of the
process (`AppCache`): building one costs ~0.2 s of CPU (Litestar parses every handler), more than
most tests. Before each test the app is put back to its first state: `app.state` rebuilt from
`initial_state` (a new signer, the test's clock), new stores (rate limits), and an app whose routes
a test changed is built again.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.routes import BaseRoute
from litestar.testing import TestClient, transport

from cirqliz.clock import FixedClock
from cirqliz.db.migrate import upgrade
from cirqliz.demo.seed import DEMO_PASSWORD, USERS, seed_demo_database
from cirqliz.settings import Settings
from cirqliz.web.app import create_app, initial_state
from cirqliz.web.stores import create_stores

WEB_T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris


class AppCache:
    """Applications built once per test process and settings, handed out in their first state."""

    SIZE = 8  # a few variants of the settings (tests wrap web_world with other limits)

    def __init__(self) -> None:
        self._apps: dict[Settings, tuple[Litestar, tuple[BaseRoute, ...]]] = {}
        self._lent: set[Settings] = set()
        self.built = 0

    def next_test(self) -> None:
        """A new test starts: every app may be handed out (once) again."""
        self._lent.clear()

    def app(self, settings: Settings, clock: FixedClock) -> Litestar:
        """The app over `settings`, with a fresh state on `clock` and fresh stores (a new app when one
        over the same settings is already in use by this test: two worlds never share a state)."""
        if settings in self._lent:
            return create_app(settings, clock=clock)
        self._lent.add(settings)
        held = self._apps.get(settings)
        if held is not None and _same_routes(held[0].routes, held[1]):
            app = held[0]
            app.state.clear()
            app.state.update(initial_state(settings, clock))
            app.stores = create_stores(settings)
            return app
        app = create_app(settings, clock=clock)
        self.built += 1
        if held is None and len(self._apps) >= self.SIZE:
            self._apps.pop(next(iter(self._apps)))
        self._apps[settings] = (app, tuple(app.routes))
        return app


def _same_routes(routes: list[BaseRoute], first: tuple[BaseRoute, ...]) -> bool:
    # A test may register a handler of its own (app.register): that app is not handed out again.
    return len(routes) == len(first) and all(a is b for a, b in zip(routes, first, strict=True))


class WebWorld:
    """An application with its settings, clock and folders.

    The app is taken on first use of `.app` (from the process's AppCache when `apps` is given, else
    built): fixtures that wrap `web_world` with other settings (`with_settings`) do not pay for this one.
    """

    def __init__(self, app: Litestar | None, settings: Settings, clock: FixedClock, root: Path,
                 *, apps: AppCache | None = None) -> None:
        self._app = app
        self._apps = apps
        self.settings = settings
        self.clock = clock
        self.root = root

    def __repr__(self) -> str:
        return f"WebWorld(root={self.root!r}, settings={self.settings!r})"

    @property
    def app(self) -> Litestar:
        """The application over `settings`, built once."""
        if self._app is None:
            if self._apps is not None:
                self._app = self._apps.app(self.settings, self.clock)
            else:
                self._app = create_app(self.settings, clock=self.clock)
        return self._app

    def with_settings(self, settings: Settings) -> WebWorld:
        """The same world (folder, clock) served by an app over other settings."""
        return WebWorld(None, settings, self.clock, self.root, apps=self._apps)


def _seed(settings: Settings, clock: FixedClock) -> None:
    asyncio.run(seed_demo_database(settings, clock=clock))


def web_settings(root: Path) -> Settings:
    """The settings of a web world whose database, keys, documents and outbox are under `root`."""
    return Settings(
        database_url=f"sqlite+aiosqlite:///{root / 'cirqliz.db'}",
        env="test",
        secret_key="test-secret-key-not-for-production-0123456789",
        keys_dir=str(root / "keys"),
        documents_dir=str(root / "documents"),
        outbox_dir=str(root / "outbox"),
        scheduler_enabled=False,
    )


@pytest.fixture(scope="session")
def web_world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder migrated and seeded with the demo world once per session (per xdist worker): each
    `web_world` gets a copy of it instead of running Alembic and the seed again."""
    root = tmp_path_factory.mktemp("web-world-template")
    settings = web_settings(root)
    upgrade(settings.database_url)
    _seed(settings, FixedClock(WEB_T0))  # its engine is disposed: the WAL is checkpointed into cirqliz.db
    return root


@pytest.fixture(scope="session")
def web_apps() -> AppCache:
    """The applications of this test process, one per settings (see the module's docstring)."""
    return AppCache()


@pytest.fixture(scope="session")
def web_world_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every `web_world` of this test process uses in turn (emptied before each test)."""
    return tmp_path_factory.mktemp("web-world")


@pytest.fixture
def web_world(web_world_home: Path, web_world_template: Path, web_apps: AppCache) -> WebWorld:
    """A migrated SQLite database with the demo world (a fresh copy of the session's template), and the app over it."""
    web_apps.next_test()
    shutil.rmtree(web_world_home)
    shutil.copytree(web_world_template, web_world_home)
    return WebWorld(None, web_settings(web_world_home), FixedClock(WEB_T0), web_world_home, apps=web_apps)


@pytest.fixture
def client(web_world: WebWorld) -> Iterator[TestClient]:
    """An anonymous client (log in with `login(client, "pro")`)."""
    with TestClient(web_world.app) as test_client:
        yield test_client


def csrf_token(client: TestClient) -> str:
    """The CSRF token (fetches a page first if the cookie is not set yet)."""
    token = client.cookies.get("cirqliz_csrf")
    if token is None:
        client.get("/connexion")
        token = client.cookies.get("cirqliz_csrf")
    assert token, "no CSRF cookie"
    return token


def post_form(client: TestClient, url: str, data: dict | None = None, **kwargs) -> object:
    """POST a form with the CSRF token added."""
    return client.post(url, data={**(data or {}), "_csrf_token": csrf_token(client)}, **kwargs)


def login(client: TestClient, who: str) -> TestClient:
    """Sign in as one of the demo people."""
    email = USERS[who][0]
    response = post_form(client, "/connexion", {"email": email, "password": DEMO_PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def text_of(html: str) -> str:
    """Visible text of a page, whitespace folded (for assertions on messages)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The TCP peer address of the test client's requests (Litestar's is "testclient"): set ["host"]."""
    current = {"host": "203.0.113.7"}
    parse = transport.TestClientTransport.parse_request

    def with_peer(self, request):  # type: ignore[no-untyped-def]
        scope = parse(self, request)
        scope["client"] = (current["host"], 50000)
        return scope

    monkeypatch.setattr(transport.TestClientTransport, "parse_request", with_peer)
    return current
