"""Every link each audience is shown leads somewhere (task H5): starting from each role's home, follow
the same-host <a href> of every page (GET only, bounded), and fail on a server error or on a 404
reached through a link a page itself displays; every POST form carries the CSRF token.

The demo world is given an application of each outcome, a pass and an approved event first, so the
pages behind them (application, pass, phone page, event) are walked too."""

from __future__ import annotations

import html
import re
from collections import deque
from urllib.parse import urljoin, urlparse

import pytest
from litestar.testing import TestClient

from .conftest import login, post_form
from .test_professional import approve, new_application, submitted_application

HOMES = {"anonyme": None, "pro": "/pro", "organiser": "/organisateur", "agent": "/scan",
         "reviewer": "/autorite", "admin": "/autorite"}
MAX_PAGES = 400
SKIPPED = ("/deconnexion",)  # GET ends the session: the rest of the walk would be anonymous
HOST = "testserver.local"


def _links(page: str, here: str) -> list[str]:
    found = []
    for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page):
        url = urlparse(urljoin(f"http://{HOST}{here}", html.unescape(href)))
        if url.netloc != HOST or url.path.startswith(SKIPPED) or "lang=" in url.query:
            continue
        found.append(url.path + (f"?{url.query}" if url.query else ""))
    return found


def walk(client: TestClient, start: str) -> tuple[int, list[str]]:
    """(pages fetched, problems) of a breadth-first walk from `start`."""
    came_from: dict[str, str] = {start: "(départ)"}
    queue, fetched, problems = deque([start]), 0, []
    while queue and fetched < MAX_PAGES:
        path = queue.popleft()
        fetched += 1
        response = client.get(path)
        if response.status_code >= 500 or response.status_code == 404:
            problems.append(f"{response.status_code} {path} (lien de {came_from[path]})")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for form in re.findall(r"<form\b[^>]*>.*?</form>", response.text, flags=re.S | re.I):
            if re.search(r'method="post"', form, re.I) and "_csrf_token" not in form:
                problems.append(f"formulaire sans jeton CSRF sur {path} : {form[:80]}")
        for link in _links(response.text, path):
            if link not in came_from:
                came_from[link] = path
                queue.append(link)
    return fetched, problems


@pytest.fixture
def lived_in_world(web_world):
    """The demo world with a draft, a submitted, an approved (its pass), a needs-info and a refused
    application, and an approved event with a perimeter."""
    with TestClient(web_world.app, base_url=f"http://{HOST}") as pro:
        login(pro, "pro")
        new_application(pro)
        submitted_application(pro)
        approve(web_world, submitted_application(pro))
        asked, refused = submitted_application(pro), submitted_application(pro)
    with TestClient(web_world.app, base_url=f"http://{HOST}") as reviewer:
        login(reviewer, "reviewer")
        assert post_form(reviewer, f"/autorite/demandes/{asked}/complement",
                         {"reason": "Joignez le bon de livraison."}).status_code == 200
        assert post_form(reviewer, f"/autorite/demandes/{refused}/refuser",
                         {"reason": "Hors périmètre."}).status_code == 200
    return web_world


@pytest.mark.parametrize("role", list(HOMES))
def test_every_link_shown_to_each_role_leads_somewhere(lived_in_world, role: str) -> None:
    with TestClient(lived_in_world.app, base_url=f"http://{HOST}") as client:
        if HOMES[role] is not None:
            login(client, role)
        fetched, problems = walk(client, HOMES[role] or "/")
    assert fetched > 5, fetched  # the walk really went somewhere
    assert not problems, "\n".join(problems)
