"""Sign-in lock-out without denial of service: device cookies (docs/adr/0010-device-cookies.md).

Anyone who knows an address can fail ten times and lock the account for untrusted attempts; a browser
where the account signed in before (or reset its password) keeps its own, per device-cookie, limit.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from litestar.testing import TestClient

from cirqliz.demo.seed import DEMO_PASSWORD, USERS
from cirqliz.web.app import create_app
from cirqliz.web.controllers.public import DEVICE_ATTEMPTS, LOGIN_ATTEMPTS, LOGIN_ATTEMPTS_PER_ACCOUNT
from cirqliz.web.device_cookies import DEVICE_COOKIE, DEVICE_COOKIE_DAYS, DEVICE_COOKIE_PATH, DEVICE_TOKENS

from .conftest import WebWorld, csrf_token, text_of
from .mailbox import link_in, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`)

AGENT, PRO, OTHER = USERS["agent"][0], USERS["pro"][0], USERS["other_pro"][0]
HOME = "192.0.2.10"
"""The owner's address; the attacker's are 198.51.100.x."""
WRONG = "pas-le-bon-mot-de-passe"
HINT = "Vous pouvez encore vous connecter depuis un appareil où vous vous êtes déjà connecté"
TOO_MANY = "Trop de tentatives : réessayez dans quelques minutes."
REDIS_URL = os.environ.get("CIRQLIZ_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def peer(peer: dict[str, str]) -> dict[str, str]:
    """The shared `peer` fixture (tests/web/conftest.py), starting from HOME."""
    peer["host"] = HOME
    return peer


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A fresh key namespace in the test Redis, deleted afterwards (skips when Redis does not answer,
    fails instead with CIRQLIZ_REQUIRE_REDIS=1, as tests/reliability does)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as exc:  # any failure means "not reachable"
        if os.environ.get("CIRQLIZ_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    namespace = f"cirqliz-test-lockout-{uuid.uuid4().hex[:12]}"
    try:
        yield namespace
    finally:
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


# ---- helpers -----------------------------------------------------------------------------------


def _attempt(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/connexion", data={"email": email, "password": password,
                                           "_csrf_token": csrf_token(client)}, follow_redirects=False)


def _device(client: TestClient) -> str | None:
    """The device cookie the browser holds, if any."""
    return next((c.value for c in client.cookies.jar if c.name == DEVICE_COOKIE), None)


def _forget_device(client: TestClient) -> None:
    if _device(client) is not None:
        client.cookies.delete(DEVICE_COOKIE)


def _present(client: TestClient, value: str) -> None:
    """The browser holds `value` as its device cookie (and no other)."""
    _forget_device(client)
    client.cookies.set(DEVICE_COOKIE, value, domain="testserver.local", path=DEVICE_COOKIE_PATH)


def _trusted_by(client: TestClient, email: str, password: str = DEMO_PASSWORD) -> str:
    """Sign in as `email` (then out again): the device cookie the browser got."""
    response = _attempt(client, email, password)
    assert response.status_code == 303, response.text[:300]
    value = _device(client)
    assert value, "no device cookie after a successful sign-in"
    client.post("/deconnexion", data={"_csrf_token": csrf_token(client)}, follow_redirects=False)
    return value


def _attack(client: TestClient, peer: dict[str, str], email: str, times: int = 50) -> list[int]:
    """`times` wrong passwords for `email`, each from another address, without any device cookie."""
    held = _device(client)
    _forget_device(client)
    statuses = []
    for i in range(times):
        peer["host"] = f"198.51.100.{i + 1}"
        statuses.append(_attempt(client, email, WRONG).status_code)
    peer["host"] = HOME
    if held is not None:
        _present(client, held)
    return statuses


def _device_set_cookie(response: httpx.Response) -> str | None:
    return next((h for h in response.headers.get_list("set-cookie") if h.startswith(f"{DEVICE_COOKIE}=")), None)


def _locked(statuses: list[int]) -> None:
    assert statuses[:LOGIN_ATTEMPTS_PER_ACCOUNT] == [400] * LOGIN_ATTEMPTS_PER_ACCOUNT, statuses
    assert set(statuses[LOGIN_ATTEMPTS_PER_ACCOUNT:]) == {429}, statuses


@pytest.fixture(params=["memory", "redis"])
def lockout_client(request, web_world: WebWorld, peer) -> Iterator[TestClient]:
    """A client of the world's app, its rate-limit stores in memory or in Redis (CIRQLIZ_REDIS_URL)."""
    if request.param == "memory":
        app = web_world.app
    else:
        namespace = request.getfixturevalue("redis_namespace")
        app = create_app(replace(web_world.settings, redis_url=REDIS_URL, redis_namespace=namespace),
                         clock=web_world.clock)
    with TestClient(app) as client:
        yield client
    if request.param == "redis":
        asyncio.run(app.stores.get("login_attempts")._redis.aclose())  # type: ignore[attr-defined]


# ---- the attack --------------------------------------------------------------------------------


def test_an_attacker_cannot_lock_the_owner_out_of_a_trusted_device(lockout_client: TestClient, peer) -> None:
    client = lockout_client
    device = _trusted_by(client, AGENT)
    _locked(_attack(client, peer, AGENT, times=50))

    _forget_device(client)  # another computer: the lock-out holds, even with the right password
    refused = _attempt(client, AGENT, DEMO_PASSWORD)
    assert refused.status_code == 429
    assert TOO_MANY in text_of(refused.text) and HINT in text_of(refused.text)

    _present(client, device)  # the agent's own computer, on the morning of the event
    signed_in = _attempt(client, AGENT, DEMO_PASSWORD)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/scan"
    assert client.get("/moi", follow_redirects=False).headers["location"] == "/scan"
    renewed = _device(client)
    assert renewed and renewed != device  # a new nonce: a fresh failure count

    _forget_device(client)
    assert _attempt(client, AGENT, DEMO_PASSWORD).status_code == 429  # still locked for the others


def test_device_cookie_brute_force_is_limited_and_then_ignored(lockout_client: TestClient, peer) -> None:
    client = lockout_client
    stolen = _trusted_by(client, PRO)
    _locked(_attack(client, peer, PRO, times=LOGIN_ATTEMPTS_PER_ACCOUNT + 1))
    _present(client, stolen)  # a stolen laptop
    tries = [_attempt(client, PRO, f"{WRONG}-{i}").status_code for i in range(DEVICE_ATTEMPTS)]
    assert tries == [400] * DEVICE_ATTEMPTS  # trusted: not held back by the account's lock-out
    assert _attempt(client, PRO, DEMO_PASSWORD).status_code == 429  # spent: now an untrusted attempt


def test_failures_from_a_trusted_device_do_not_count_for_untrusted_attempts(web_world, peer) -> None:
    with TestClient(web_world.app) as client:
        device = _trusted_by(client, PRO)
        _present(client, device)
        assert [_attempt(client, PRO, WRONG).status_code for _ in range(DEVICE_ATTEMPTS)] == [400] * DEVICE_ATTEMPTS
        # Another browser at the same address: had those failures counted per address and account,
        # the LOGIN_ATTEMPTS limit would refuse it.
        _forget_device(client)
        assert _attempt(client, PRO, DEMO_PASSWORD).status_code == 303
        # The spent cookie itself is ignored: its attempts are untrusted ones, counted and limited.
        _present(client, device)
        statuses = [_attempt(client, PRO, WRONG).status_code for _ in range(LOGIN_ATTEMPTS + 1)]
        assert statuses == [400] * LOGIN_ATTEMPTS + [429]


def test_forged_expired_or_other_account_cookies_give_no_exemption(web_world, peer) -> None:
    with TestClient(web_world.app) as client:
        others = _trusted_by(client, OTHER)
        own = _trusted_by(client, PRO)  # this browser now holds both accounts
        assert own.count("~") == 1 and others in own.split("~")[1]
        _locked(_attack(client, peer, PRO, times=LOGIN_ATTEMPTS_PER_ACCOUNT + 1))
        nonce, expires, mac = own.split("~")[0].split(".")
        forged = [
            others,  # another account's cookie
            f"{nonce}.{expires}.{'A' * 43}",  # a made-up signature
            f"{nonce}.{int(expires) + 86400}.{mac}",  # a longer life than it was given
            f"{'B' * 22}.{expires}.{mac}",  # another nonce under the same signature
            "~".join([others] * 50 + [own]),  # the real one past the tokens read
            "n-importe-quoi." + "x" * 3000,
        ]
        for value in forged:
            _present(client, value)
            response = _attempt(client, PRO, DEMO_PASSWORD)
            assert response.status_code == 429, value[:80]
            assert _device_set_cookie(response) is None
        _present(client, own)
        web_world.clock.advance(timedelta(days=DEVICE_COOKIE_DAYS, seconds=1))
        assert _attempt(client, PRO, DEMO_PASSWORD).status_code == 429  # expired
        web_world.clock.advance(-timedelta(days=DEVICE_COOKIE_DAYS, seconds=1))
        assert _attempt(client, PRO, DEMO_PASSWORD).status_code == 303


def test_a_shared_computer_is_trusted_for_each_account_that_signed_in_there(web_world, peer) -> None:
    accounts = [USERS[who][0] for who in ("admin", "reviewer", "agent", "organiser", "pro", "other_pro")]
    with TestClient(web_world.app) as client:
        for email in accounts:
            _trusted_by(client, email)
        held = _device(client)
        assert held and held.count("~") == DEVICE_TOKENS - 1  # the most recent ones
        for email in accounts:
            _locked(_attack(client, peer, email, times=LOGIN_ATTEMPTS_PER_ACCOUNT + 1))
        # The first account is the one forgotten; the others still sign in from here.
        assert _attempt(client, accounts[0], DEMO_PASSWORD).status_code == 429
        for email in accounts[1:]:
            _present(client, held)
            assert _attempt(client, email, DEMO_PASSWORD).status_code == 303, email


# ---- what it tells, the cookie's flags ---------------------------------------------------------


def test_lock_out_answers_alike_with_or_without_an_account_and_sets_no_device_cookie(web_world, peer) -> None:
    unknown = "personne@exemple.fr"
    with TestClient(web_world.app) as client:
        pages = {}
        for email in (PRO, unknown):
            statuses = []
            for i in range(LOGIN_ATTEMPTS_PER_ACCOUNT + 1):
                peer["host"] = f"203.0.113.{i + 1}"
                response = _attempt(client, email, WRONG)
                statuses.append(response.status_code)
                assert _device_set_cookie(response) is None
            _locked(statuses)
            pages[email] = text_of(response.text).replace(email, "ADRESSE")
            assert HINT in pages[email]
        assert pages[PRO] == pages[unknown]
        assert _device(client) is None


def test_device_cookie_flags(web_world, peer) -> None:
    with TestClient(web_world.app) as client:
        response = _attempt(client, PRO, DEMO_PASSWORD)
    header = _device_set_cookie(response)
    assert header is not None
    cookie = SimpleCookie(header)[DEVICE_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/connexion"
    assert int(cookie["max-age"]) == DEVICE_COOKIE_DAYS * 86400
    assert not cookie["secure"]  # served over http in tests, as the session cookie
    assert PRO not in cookie.value and PRO.replace("@", "%40") not in cookie.value  # no address in it

    production = replace(web_world.settings, env="production")
    with TestClient(create_app(production, clock=web_world.clock), base_url="https://testserver.local") as client:
        response = _attempt(client, PRO, DEMO_PASSWORD)
        assert response.status_code == 303
        cookie = SimpleCookie(_device_set_cookie(response))[DEVICE_COOKIE]
        assert cookie["secure"] is True
        session = next(h for h in response.headers.get_list("set-cookie") if h.startswith("cirqliz_session="))
        assert "secure" in session.lower()  # the same rule as the session cookie


# ---- the way out: a password reset -------------------------------------------------------------


def test_a_password_reset_works_while_locked_and_lets_the_owner_in(web_world, peer) -> None:
    with TestClient(web_world.app) as client:
        _locked(_attack(client, peer, PRO, times=LOGIN_ATTEMPTS_PER_ACCOUNT + 5))
        assert _attempt(client, PRO, DEMO_PASSWORD).status_code == 429

        asked = client.post("/mot-de-passe-oublie", data={"email": PRO, "_csrf_token": csrf_token(client)})
        assert asked.status_code == 200
        link = link_in(mails_to(web_world, PRO)[0].body, "/mot-de-passe/")
        assert client.get(link).status_code == 200
        new_password = "nouveau-secret-2026"
        done = client.post(link, data={"password": new_password, "password_again": new_password,
                                       "_csrf_token": csrf_token(client)})
        assert done.status_code == 200 and "Mot de passe modifié" in done.text
        assert _device_set_cookie(done) is not None  # the link proved the mailbox: this browser is trusted

        assert _attempt(client, PRO, DEMO_PASSWORD).status_code == 400  # the old password is gone
        signed_in = _attempt(client, PRO, new_password)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/pro"

        _forget_device(client)  # any other browser: still locked until the window ends
        assert _attempt(client, PRO, new_password).status_code == 429
