"""Browser tests: the real application served by uvicorn, driven through Debian's chromium.

Fixtures for any e2e test:
- `live_server` (module scope): a `harness.LiveServer` — `.base_url` (http://127.0.0.1:PORT),
  `.settings`, `.clock` (FixedClock at harness.LIVE_T0, Monday 09:00 in Paris), `.app`,
  `.run(async fn(session))` to use the real services on the same SQLite database (seeded with
  cirqliz.demo.seed: sign in as "agent", "pro", "admin"… with harness.sign_in).
- `playwright_sync` (module scope): a started `playwright.sync_api` instance.
- `screenshots`: the folder tests/artifacts/screenshots/ (git-ignored).

Without chromium (or the playwright package) the tests are skipped with the reason, unless
CIRQLIZ_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import REQUIRE_BROWSER_ENV, LiveServer, chromium_missing, start_live_server

ARTIFACTS = Path(__file__).parents[1] / "artifacts"


def require_browser() -> None:
    """Skip (or fail in CI) when the browser cannot run."""
    reason = chromium_missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{REQUIRE_BROWSER_ENV}=1 but the browser tests cannot run: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The application on 127.0.0.1 and a free port, over a fresh seeded SQLite database."""
    server = start_live_server(tmp_path_factory.mktemp("live"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def playwright_sync() -> Iterator[object]:
    """playwright.sync_api, started (skips without a browser)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where browser tests save screenshots (git-ignored)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
