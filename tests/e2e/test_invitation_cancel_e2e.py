"""Cancelling a pending invitation on a phone (390 px), in Chromium: the team page lists the pending
invitations as cards with their « Annuler l'invitation » button inside the screen (nothing overflows,
no axe violation), the tap cancels it, the page says « Invitation à … annulée » and the list is empty;
the same on an organiser's page."""

from __future__ import annotations

from typing import Any

import pytest

from cirqliz.demo.seed import AUTHORITY_ID, ORGANISER_ID, USER_IDS
from cirqliz.issuance.accounts import invite_member

from .harness import LiveServer, launch_chromium, sign_in
from .page_audit import axe_violations

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Any:
    chromium = launch_chromium(playwright_sync)
    yield chromium
    chromium.close()


def _invite(server: LiveServer, email: str, organisation_id: Any, role: str) -> None:
    async def work(session: Any) -> None:
        await invite_member(session, organisation_id=organisation_id, email=email, role=role,
                            invited_by=USER_IDS["admin"], clock=server.clock, secret_key=server.settings.secret_key)

    server.run(work)


def _check_phone_layout(page: Any) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
    button = page.get_by_role("button", name="Annuler l'invitation à", exact=False).first
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert box["height"] >= 24, box  # a finger-sized target
    assert axe_violations(page) == []


@pytest.mark.parametrize("where", ["team", "organiser"])
def test_an_admin_cancels_an_invitation_on_a_phone(live_server: LiveServer, browser: Any, where: str) -> None:
    email = f"erreur-{where}@exemple.fr"
    if where == "team":
        _invite(live_server, email, AUTHORITY_ID, "reviewer")
        path = "/autorite/equipe"
    else:
        _invite(live_server, email, ORGANISER_ID, "organiser")
        path = f"/autorite/organisateurs/{ORGANISER_ID}"
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="fr-FR")
    try:
        page = context.new_page()
        sign_in(page, live_server.base_url, "admin", path)
        page.goto(live_server.base_url + path)
        row = page.locator("table.invitations tr", has_text=email)
        assert row.count() == 1
        _check_phone_layout(page)
        with page.expect_navigation():
            row.get_by_role("button", name=f"Annuler l'invitation à {email}").tap()
        assert f"Invitation à {email} annulée" in page.locator("[role=status]").first.inner_text()
        assert page.locator("table.invitations tr", has_text=email).count() == 0
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
    finally:
        context.close()
