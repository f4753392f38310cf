"""Every page of a signed-in person names its session (static/common/signout-pending.js): a sign-out made
offline on any page records that tag, so it ends that session and never a later one. GET /moi/session,
open to every role, says which session the browser holds; the pages load the first-frame gate (a
blocking script after the tag it reads) and its CSS rule, and the professionals get the same sign-out
that holds without network as the agents."""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from .conftest import WebWorld, csrf_token, login

JSON = {"accept": "application/json"}
META = re.compile(r'<meta name="cirqliz-session" content="([^"]*)">')
HOMES = {"pro": "/pro", "agent": "/", "admin": "/autorite", "reviewer": "/autorite", "organiser": "/organisateur"}


def _head(html: str) -> str:
    return html.split("</head>", 1)[0]


def _tag(client: TestClient) -> str:
    probe = client.get("/moi/session", headers=JSON)
    assert probe.status_code == 200, probe.text
    assert probe.headers["cache-control"] == "no-store"
    tag = probe.json()["session"]
    assert re.fullmatch(r"[0-9a-f]{32}", tag), tag
    return str(tag)


@pytest.mark.parametrize("who", list(HOMES))
def test_every_page_of_a_signed_in_person_names_its_session_and_loads_the_gate(client: TestClient, who: str) -> None:
    login(client, who)
    tag = _tag(client)
    for url in (HOMES[who], "/mentions-legales"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        head = _head(response.text)
        assert META.findall(head) == [tag], url
        gate = '<script src="/static/common/signout-gate.js"></script>'  # blocking: no defer, no async
        assert gate in head, url
        assert head.index(gate) > head.index('<meta name="cirqliz-session"'), "the gate reads the tag: after it"
        assert '<link rel="stylesheet" href="/static/common/signout.css">' in head
        assert '<script type="module" src="/static/common/signout-pending.js"></script>' in head
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", head), "no inline script (CSP)"
    login(client, who)  # a new sign-in: a new session, another tag on the pages
    assert META.findall(_head(client.get(HOMES[who]).text)) == [_tag(client)] != [tag]


def test_anonymous_pages_carry_no_tag_and_the_probe_is_refused(client: TestClient) -> None:
    head = _head(client.get("/").text)
    assert "cirqliz-session" not in head and "signout" not in head
    anonymous = client.get("/moi/session", headers=JSON)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert client.get("/moi/session", follow_redirects=False).headers["location"].startswith("/connexion")


def test_the_scanner_page_and_the_site_pages_give_the_same_tag(client: TestClient) -> None:
    login(client, "agent")
    scanner = client.get("/scan").text
    assert '<script src="/static/common/signout-gate.js"></script>' in _head(scanner)
    assert f'"session": "{_tag(client)}"' in scanner
    assert client.get("/scan/api/session", headers=JSON).status_code == 404  # moved to /moi/session


def test_professional_sign_out_by_script_ends_the_session_for_the_old_cookie(
    client: TestClient, web_world: WebWorld,
) -> None:
    """What signout-pending.js does once the network answers, for a professional: probe, then POST."""
    login(client, "pro")
    page = client.get("/pro").text
    tag = META.findall(page)[0]
    assert '<script type="module" src="/static/pro/pass-offline-signout.js"></script>' in page
    assert _tag(client) == tag
    old_cookie = client.cookies.get("cirqliz_session")
    token = csrf_token(client)
    answer = client.post("/deconnexion", headers={**JSON, "x-csrftoken": token,
                                                   "content-type": "application/x-www-form-urlencoded"},
                         content=f"_csrf_token={token}", follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/moi/session", headers=JSON).status_code == 401  # the mark is dropped on this answer
    with TestClient(web_world.app) as copy:
        copy.cookies.set("cirqliz_session", old_cookie)
        assert copy.get("/moi/session", headers=JSON).status_code == 401
        again = copy.get("/pro", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"].startswith("/connexion")


def test_the_gate_and_its_rule_are_served(client: TestClient) -> None:
    gate = client.get("/static/common/signout-gate.js")
    assert gate.status_code == 200 and gate.headers["content-type"].startswith("text/javascript")
    assert "'cirqliz.signoutPending'" in gate.text and 'meta[name="cirqliz-session"]' in gate.text
    rule = client.get("/static/common/signout.css").text
    assert "html[data-signout-pending] body > :not(#signout-pending) { display: none !important; }" in rule
    module = client.get("/static/common/signout-pending.js").text
    assert "export const SESSION_URL = '/moi/session';" in module


def test_every_common_file_the_scanner_uses_is_cached_for_offline_use() -> None:
    """The scanner works offline: the common sign-out files it loads are in its service worker's list."""
    from cirqliz.web.controllers.scanner import STATIC, TEMPLATES, scanner_assets

    used = set(re.findall(r'"(/static/common/[^"]+)"', (TEMPLATES / "scanner" / "index.html").read_text()))
    for module in (STATIC / "scanner").glob("*.js"):
        used |= {f"/static/common/{name}" for name in re.findall(r"'\.\./common/([^']+)'", module.read_text())}
    assert used == {"/static/common/signout-gate.js", "/static/common/signout-pending.js"}
    assert used <= set(scanner_assets())
