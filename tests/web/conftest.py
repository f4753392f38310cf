"""Web test fixtures: an application on a fresh SQLite database seeded with the demo world.

Named people come from cirqliz.demo.seed.USERS ("admin", "reviewer", "agent", "organiser",
"pro", "other_pro"); they all use DEMO_PASSWORD.
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
from litestar.testing import TestClient

from cirqliz.clock import FixedClock
from cirqliz.db.migrate import upgrade
from cirqliz.demo.seed import DEMO_PASSWORD, USERS, seed_demo_database
from cirqliz.settings import Settings
from cirqliz.web.app import create_app

WEB_T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris


class WebWorld:
    """An application with its settings, clock and folders.

    The app is built on first use of `.app` (building one takes a second or more): fixtures that
    wrap `web_world` with other settings and their own app do not pay for this one.
    """

    def __init__(self, app: Litestar | None, settings: Settings, clock: FixedClock, root: Path) -> None:
        self._app = app
        self.settings = settings
        self.clock = clock
        self.root = root

    def __repr__(self) -> str:
        return f"WebWorld(root={self.root!r}, settings={self.settings!r})"

    @property
    def app(self) -> Litestar:
        """The application over `settings`, built once."""
        if self._app is None:
            self._app = create_app(self.settings, clock=self.clock)
        return self._app


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


@pytest.fixture
def web_world(tmp_path: Path, web_world_template: Path) -> WebWorld:
    """A migrated SQLite database with the demo world (a copy of the session's template), and the app over it."""
    shutil.copytree(web_world_template, tmp_path, dirs_exist_ok=True)
    settings = web_settings(tmp_path)
    return WebWorld(None, settings, FixedClock(WEB_T0), tmp_path)


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
