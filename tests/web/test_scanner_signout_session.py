"""The server side of a sign-out made offline on the scanner (static/scanner/signout.js): the page names
its session by a tag, /moi/session says which session the phone holds now, and /deconnexion can be
posted by script with the CSRF header alone; a session already over answers 401, never a sign-out."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from litestar.testing import TestClient

from cirqliz.web.auth import SESSION_MAX_AGE

from .conftest import WebWorld, csrf_token, login

JSON = {"accept": "application/json"}


def _page_session(client: TestClient) -> str:
    html = client.get("/scan").text
    config = re.search(r'<script type="application/json" id="scanner-config">(.*?)</script>', html, re.S)
    assert config, html[:500]
    return str(json.loads(config.group(1))["session"])


def _script_sign_out(client: TestClient, token: str) -> object:
    """What signout.js sends: the token in the x-csrftoken header, redirects not followed."""
    return client.post("/deconnexion", headers={**JSON, "x-csrftoken": token,
                                                 "content-type": "application/x-www-form-urlencoded"},
                       content=f"_csrf_token={token}", follow_redirects=False)


def test_the_page_and_the_probe_name_the_same_session_and_a_new_sign_in_another(client: TestClient) -> None:
    login(client, "agent")
    probe = client.get("/moi/session", headers=JSON)
    assert probe.status_code == 200, probe.text
    assert probe.headers["cache-control"] == "no-store"
    tag = probe.json()["session"]
    assert re.fullmatch(r"[0-9a-f]{32}", tag)
    assert _page_session(client) == tag
    assert client.get("/moi/session", headers=JSON).json()["session"] == tag  # stable for the session
    login(client, "agent")  # signing in again: a new session id, so another tag
    assert client.get("/moi/session", headers=JSON).json()["session"] != tag


def test_anonymous_probe_is_refused(client: TestClient) -> None:
    anonymous = client.get("/moi/session", headers=JSON)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"


def test_sign_out_by_script_ends_the_session_for_the_old_cookie_too(client: TestClient, web_world: WebWorld) -> None:
    login(client, "agent")
    old_cookie = client.cookies.get("cirqliz_session")
    token = csrf_token(client)
    refused = client.post("/deconnexion", headers={**JSON, "content-type": "application/x-www-form-urlencoded"},
                          content="", follow_redirects=False)
    assert refused.status_code == 403  # no token: the CSRF check still applies to scripts
    answer = _script_sign_out(client, token)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert client.get("/moi/session", headers=JSON).status_code == 401
    # Someone who kept a copy of the cookie gets nothing either.
    with TestClient(web_world.app) as copy:
        copy.cookies.set("cirqliz_session", old_cookie)
        assert copy.get("/moi/session", headers=JSON).status_code == 401
        again = copy.get("/scan", follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"].startswith("/connexion")


def test_a_session_already_expired_answers_401_to_the_probe_and_the_sign_out(
    client: TestClient, web_world: WebWorld,
) -> None:
    login(client, "agent")
    token = csrf_token(client)
    web_world.clock.advance(timedelta(seconds=SESSION_MAX_AGE + 1))
    assert client.get("/moi/session", headers=JSON).status_code == 401
    late = _script_sign_out(client, token)
    assert late.status_code == 401  # nothing left to end: signout.js drops its mark on this answer
