"""A long invitation link on a phone (task H10): in Chromium at 390 px the link shown after an
invitation without a mail server wraps inside the page instead of widening it, on the organiser's page
and on both team pages. A browser test (tests/e2e/harness.py) kept beside the other small fixes; the
screenshots go to tests/artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirqliz.demo.seed import ORGANISER_ID
from tests.e2e.harness import (
    REQUIRE_BROWSER_ENV,
    LiveServer,
    chromium_missing,
    launch_chromium,
    sign_in,
    start_live_server,
)

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).parents[1] / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
# (who, page with the form, field values, what is submitted)
FORMS = (
    ("admin", f"/autorite/organisateurs/{ORGANISER_ID}", {}, "organisateur"),
    ("admin", "/autorite/equipe", {"select#role": "agent"}, "equipe-autorite"),
    ("pro", "/pro/equipe", {}, "equipe-pro"),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(f"{REQUIRE_BROWSER_ENV}=1 but the browser tests cannot run: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    live = start_live_server(tmp_path_factory.mktemp("live-h10"))
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.parametrize(("who", "path", "fields", "name"), FORMS, ids=[f[3] for f in FORMS])
def test_the_invitation_link_wraps_on_a_phone(server: LiveServer, who: str, path: str, fields: dict[str, str],
                                              name: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport=PHONE)
            sign_in(page, server.base_url, who, next_path=path)
            page.fill("input#email", f"invitee.{name}@example.fr")
            for selector, value in fields.items():
                page.select_option(selector, value)
            with page.expect_navigation():
                page.click("form.form button[type=submit]")
            link = page.locator("code.invitation-link")
            assert link.count() == 1, page.content()[:2000]
            text = link.inner_text()
            assert text.startswith(f"{server.settings.base_url.rstrip('/')}/invitation/") and len(text) > 60
            link.scroll_into_view_if_needed()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"h10-lien-invitation-{name}-390.png"), full_page=True)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"the page is {overflow} px wider than the phone"
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            assert box["height"] > 30  # on several lines
        finally:
            browser.close()
