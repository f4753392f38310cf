"""Web test fixtures: an application on a fresh SQLite database seeded with the demo world.

Named people come from cirqliz.demo.seed.USERS ("admin", "reviewer", "agent", "organiser",
"pro", "other_pro"); they all use DEMO_PASSWORD.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass
class WebWorld:
    """An application with its settings, clock and folders."""

    app: Litestar
    settings: Settings
    clock: FixedClock
    root: Path


def _seed(settings: Settings, clock: FixedClock) -> None:
    asyncio.run(seed_demo_database(settings, clock=clock))


@pytest.fixture
def web_world(tmp_path: Path) -> WebWorld:
    """A migrated SQLite database with the demo world, and the app over it."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}",
        env="test",
        secret_key="test-secret-key-not-for-production-0123456789",
        keys_dir=str(tmp_path / "keys"),
        documents_dir=str(tmp_path / "documents"),
        outbox_dir=str(tmp_path / "outbox"),
        scheduler_enabled=False,
    )
    upgrade(settings.database_url)
    clock = FixedClock(WEB_T0)
    _seed(settings, clock)
    return WebWorld(create_app(settings, clock=clock), settings, clock, tmp_path)


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
