"""Idle limit of signed-in web sessions (ADR 0011, web/auth.py): an office page (authority, organiser,
professional) on a session unused for CIRQLIZ_SESSION_IDLE_MINUTES signs it out, says why on the sign-in
page and keeps the page asked for; the agents' scanner keeps its own rules (a whole shift, offline)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.testing import TestClient
from sqlmodel import func, select

from cirqliz.clock import to_epoch
from cirqliz.db.models import SignedOutSession
from cirqliz.demo.seed import AUTHORITY_ID, USER_IDS
from cirqliz.domain.organisations import Role
from cirqliz.issuance.organisations import add_membership
from cirqliz.settings import Settings, SettingsError
from cirqliz.web.app import _secret

from .conftest import WebWorld, csrf_token, login, post_form, text_of
from .mailbox import in_db

LIMIT = timedelta(minutes=30)  # the default
PAST = LIMIT + timedelta(minutes=2)  # idle past the limit (it is never applied before: see IDLE_REFRESH_S)
MESSAGE = "Votre session a expiré après 30 minutes d'inactivité. Reconnectez-vous."
JSON = {"accept": "application/json"}


def _visible(html: str) -> str:
    return unescape(text_of(html))


def _signed_out_count(world: WebWorld) -> int:
    async def work(session):  # type: ignore[no-untyped-def]
        return (await session.exec(select(func.count()).select_from(SignedOutSession))).one()

    return int(in_db(world, work))


def _session_set_cookie(response: object) -> str | None:
    """The value of the session cookie a response sets, None when it sends none."""
    for header in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        if header.startswith("cirqliz_session="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def _seen(world: WebWorld, value: str) -> int:
    """The time of last activity a session cookie holds (decrypted with the application's key)."""
    backend = ClientSideSessionBackend(CookieBackendConfig(secret=_secret(world.settings, "session"),
                                                           key="cirqliz_session"))
    return int(backend.load_data([value.encode()])["seen"])


def test_an_active_session_is_kept_and_an_idle_one_is_not(client: TestClient, web_world: WebWorld) -> None:
    login(client, "pro")
    for _ in range(6):  # two hours of work, a page every 20 minutes
        web_world.clock.advance(timedelta(minutes=20))
        assert client.get("/pro", follow_redirects=False).status_code == 200
    web_world.clock.advance(LIMIT)  # exactly the limit: not yet
    assert client.get("/pro", follow_redirects=False).status_code == 200
    web_world.clock.advance(PAST)
    gone = client.get("/pro", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/connexion?")


def test_idle_sign_out_says_why_keeps_the_page_and_cannot_be_undone(client: TestClient, web_world: WebWorld) -> None:
    login(client, "admin")
    old_cookie = client.cookies.get("cirqliz_session")
    before = _signed_out_count(web_world)
    web_world.clock.advance(PAST)
    target = "/autorite/demandes?statut=submitted&page=2"
    answer = client.get(target, follow_redirects=False)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/connexion"
    assert parse_qs(location.query) == {"next": [target], "inactivite": ["1"]}
    assert _session_set_cookie(answer) == "null"  # the browser's cookie is cleared
    assert _signed_out_count(web_world) == before + 1  # recorded as a sign-out is

    page = client.get(answer.headers["location"])
    assert MESSAGE in _visible(page.text)
    assert f'name="next" value="{target}"' in unescape(page.text)

    # Going back: the browser has no session any more, and the old cookie is refused too.
    again = client.get("/autorite", follow_redirects=False)
    assert again.status_code == 303 and "inactivite" not in again.headers["location"]
    with TestClient(web_world.app) as copy:
        copy.cookies.set("cirqliz_session", old_cookie)
        assert copy.get("/autorite", follow_redirects=False).status_code == 303

    # Signing in again from that page leads to the page asked for.
    back = post_form(client, "/connexion", {"email": "admin@demo.cirqliz.fr", "password": "demo-cirqliz-2026",
                                            "next": target}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == target
    assert client.get("/autorite", follow_redirects=False).status_code == 200


def test_a_copy_kept_active_elsewhere_ends_with_the_idle_session(client: TestClient, web_world: WebWorld) -> None:
    login(client, "pro")
    with TestClient(web_world.app) as thief:
        thief.cookies.set("cirqliz_session", client.cookies.get("cirqliz_session"))
        web_world.clock.advance(timedelta(minutes=20))
        assert thief.get("/pro", follow_redirects=False).status_code == 200  # the copy's own activity
        web_world.clock.advance(timedelta(minutes=13))
        assert client.get("/pro", follow_redirects=False).status_code == 303  # the owner's session: idle
        # The copy is not idle yet (13 minutes), but its session is signed out.
        assert thief.get("/pro", follow_redirects=False).status_code == 303


def test_json_clients_get_401_with_the_reason(client: TestClient, web_world: WebWorld) -> None:
    login(client, "organiser")
    web_world.clock.advance(PAST)
    answer = client.get("/organisateur", headers=JSON, follow_redirects=False)
    assert answer.status_code == 401
    assert answer.json()["code"] == "session_idle" and answer.json()["detail"] == MESSAGE


def test_the_time_of_last_activity_is_rewritten_at_most_once_a_minute(client: TestClient,
                                                                      web_world: WebWorld) -> None:
    login(client, "pro")
    signed_in = to_epoch(web_world.clock.now())
    assert _seen(web_world, client.cookies.get("cirqliz_session")) == signed_in
    web_world.clock.advance(timedelta(seconds=30))
    assert _session_set_cookie(client.get("/pro")) is None  # nothing changed: no cookie sent again
    web_world.clock.advance(timedelta(seconds=31))
    sent = _session_set_cookie(client.get("/pro"))
    assert sent is not None and _seen(web_world, sent) == signed_in + 61
    web_world.clock.advance(timedelta(seconds=59))
    assert _session_set_cookie(client.get("/pro")) is None
    assert _seen(web_world, client.cookies.get("cirqliz_session")) == signed_in + 61


def test_zero_turns_the_limit_off(web_world: WebWorld) -> None:
    world = web_world.with_settings(replace(web_world.settings, session_idle_minutes=0))
    with TestClient(world.app) as client:
        login(client, "pro")
        web_world.clock.advance(timedelta(hours=5))
        assert client.get("/pro", follow_redirects=False).status_code == 200


def test_a_shorter_limit_from_the_environment_is_the_one_applied(web_world: WebWorld) -> None:
    settings = Settings.from_env({"CIRQLIZ_SESSION_IDLE_MINUTES": "1"})
    assert settings.session_idle_minutes == 1 and Settings.from_env({}).session_idle_minutes == 30
    with pytest.raises(SettingsError, match="CIRQLIZ_SESSION_IDLE_MINUTES"):
        Settings.from_env({"CIRQLIZ_SESSION_IDLE_MINUTES": "-1"})
    world = web_world.with_settings(replace(web_world.settings, session_idle_minutes=5))
    with TestClient(world.app) as client:
        login(client, "reviewer")
        web_world.clock.advance(timedelta(minutes=7))
        answer = client.get("/autorite")
        assert "Votre session a expiré après 5 minutes d'inactivité. Reconnectez-vous." in _visible(answer.text)


# ---- the scanner keeps its own rules ------------------------------------------------------------------


def _sync(client: TestClient) -> int:
    """What the scanner's background sync sends: its unsent checks (none), by script with the CSRF header."""
    return client.post("/scan/api/checks", json=[], headers={"x-csrftoken": csrf_token(client)},
                       follow_redirects=False).status_code


def test_an_agent_scanner_lasts_the_shift_and_its_sync_is_not_activity(client: TestClient,
                                                                       web_world: WebWorld) -> None:
    login(client, "agent")
    for _ in range(4):  # offline for two hours at a time, then the phone syncs
        web_world.clock.advance(timedelta(hours=2))
        assert _sync(client) == 200
        assert client.get("/scan", follow_redirects=False).status_code == 200
        assert client.get("/moi/session", headers=JSON).status_code == 200
    # The scanner's requests do not rewrite the session (so they do not keep an office session alive).
    web_world.clock.advance(timedelta(minutes=5))
    assert _session_set_cookie(client.get("/scan")) is None


def test_scanner_use_does_not_keep_the_office_pages_of_the_same_session_open(client: TestClient,
                                                                             web_world: WebWorld) -> None:
    async def also_agent(session):  # type: ignore[no-untyped-def]
        await add_membership(session, user_id=USER_IDS["reviewer"], organisation_id=AUTHORITY_ID,
                             role=Role.AGENT, clock=web_world.clock)

    in_db(web_world, also_agent)
    login(client, "reviewer")
    for _ in range(4):  # an hour in the field
        web_world.clock.advance(timedelta(minutes=15))
        assert client.get("/scan", follow_redirects=False).status_code == 200
        assert _sync(client) == 200
    # « Quitter le contrôle » leads to the home page: not shown signed in, but the scanner's session
    # is not ended there.
    home = client.get("/")
    assert 'href="/connexion"' in home.text and "Iris Instructrice" not in home.text
    assert client.get("/scan", follow_redirects=False).status_code == 200
    # An office page ends it: the scanner's hour was not office activity.
    office = client.get("/autorite", follow_redirects=False)
    assert office.status_code == 303 and "inactivite=1" in office.headers["location"]
    assert client.get("/scan", follow_redirects=False).status_code == 303
