"""Issue 14, accounts: safe defaults (1), sessions ended in the database (6), no account enumeration
(10), rate limits keyed on an address nobody can choose and per account (11)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import argon2
import httpx
import pytest
import uvicorn
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz import cli
from cirqliz.db.models import Organisation, UserAccount
from cirqliz.demo.seed import DEMO_PASSWORD, USER_IDS, USERS
from cirqliz.issuance.accounts import disable_user
from cirqliz.settings import Settings, SettingsError
from cirqliz.web.app import create_app
from cirqliz.web.auth import SESSION_MAX_AGE
from cirqliz.web.client import resolve_client
from cirqliz.web.controllers.public import LOGIN_ATTEMPTS, LOGIN_ATTEMPTS_PER_ACCOUNT

from .conftest import WebWorld, csrf_token, login, post_form, text_of
from .live_server import live_server
from .mailbox import in_db, link_in, mails_to, outbox, outbox_web_world  # noqa: F401 (fixture `web_world`)
from .test_security import _plant, _session

NEW_PASSWORD = "nouveau-secret-2026"
PRO = USERS["pro"][0]




def _app(world: WebWorld, **changes: object) -> TestClient:
    """A client of a fresh application (fresh in-memory stores) over the world's database."""
    return TestClient(create_app(replace(world.settings, **changes), clock=world.clock))


def _fail_login(client: TestClient, email: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/connexion", data={"email": email, "password": "pas-le-bon-1",
                                           "_csrf_token": csrf_token(client)}, headers=headers or {})


# ---- 1. production by default ------------------------------------------------------------------


@pytest.fixture
def bare_env(monkeypatch, tmp_path) -> None:
    """No CIRQLIZ_ENV, no secret key: what a fresh deployment has."""
    monkeypatch.setenv("CIRQLIZ_ENV", "-")  # then deleted: restored afterwards, although `serve` writes it
    monkeypatch.delenv("CIRQLIZ_ENV")
    monkeypatch.delenv("CIRQLIZ_SECRET_KEY", raising=False)
    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("CIRQLIZ_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("CIRQLIZ_SCHEDULER_ENABLED", "0")


def test_serve_and_worker_without_demo_refuse_the_default_secret(bare_env, monkeypatch, capsys) -> None:
    started: list[str] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: started.append("serve"))

    async def worker(*_args: object) -> int:
        started.append("worker")
        return 0

    monkeypatch.setattr(cli, "_worker", worker)
    for command in (["serve"], ["worker"]):
        assert cli.main(command) == 1, command
        err = capsys.readouterr().err
        assert "configuration refusée : CIRQLIZ_SECRET_KEY doit être défini quand CIRQLIZ_ENV vaut 'production'" in err
        assert "Traceback" not in err
    assert started == []
    monkeypatch.delenv("CIRQLIZ_ENV")
    from cirqliz.web.asgi import create  # what `uvicorn --factory cirqliz.web.asgi:create` runs

    with pytest.raises(SettingsError, match="CIRQLIZ_SECRET_KEY"):
        create()


def test_serve_demo_still_runs_in_development_without_configuration(bare_env, monkeypatch, capsys) -> None:
    apps: list[object] = []

    def run(self: uvicorn.Server, *args: object, **kwargs: object) -> None:
        self.config.load()  # builds the application as the server would
        apps.append(self.config.loaded_app)

    monkeypatch.setattr(uvicorn.Server, "run", run)
    assert cli.main(["serve", "--demo"]) == 0
    out = capsys.readouterr().out
    assert apps and "chaque compte de démonstration a le mot de passe" in out
    # roles through their labels, never as raw values
    assert "Administrateur de l'autorité, Instructeur" in out and "authority_admin" not in out


def test_demo_user_ids_are_not_predictable() -> None:
    code = "from cirqliz.demo.seed import USER_IDS; print(USER_IDS['admin'])"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(2)}
    assert len(runs) == 2  # each process, so each database it seeds, has its own
    assert all(uuid.UUID(text).version == 4 for text in runs)
    assert str(USER_IDS["admin"]) not in runs and "00000000-0000-4000-b000-000000000001" not in runs


def test_the_outbox_is_shown_in_development_to_this_host_only(web_world, peer) -> None:
    with _app(web_world, env="development") as dev:
        post_form(dev, "/mot-de-passe-oublie", {"email": PRO})
        assert dev.get("/dev/outbox").status_code == 404  # a visitor from elsewhere
        assert dev.get("/dev/outbox", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 404
        peer["host"] = "127.0.0.1"
        page = dev.get("/dev/outbox")
        assert page.status_code == 200 and "/mot-de-passe/" in page.text
    # Behind a proxy on this host, the visitor is who the proxy says, not the proxy (for /metrics too).
    with _app(web_world, env="development", trusted_proxies="127.0.0.1") as proxied:
        remote = {"X-Forwarded-For": "198.51.100.4"}
        assert proxied.get("/dev/outbox", headers=remote).status_code == 404
        assert proxied.get("/metrics", headers=remote).status_code == 403
        assert proxied.get("/dev/outbox").status_code == 200
    for env in ("test", "production"):
        secret = {"secret_key": "x" * 40} if env == "production" else {}
        with _app(web_world, env=env, **secret) as other:
            assert other.get("/dev/outbox").status_code == 404, env


# ---- 6. sessions end in the database ------------------------------------------------------------


def test_password_reset_in_the_same_second_ends_sessions_after_a_restart(web_world) -> None:
    with _app(web_world) as first, TestClient(first.app) as thief:
        login(first, "pro")
        stolen = _session(first)
        _plant(thief, stolen)
        assert thief.get("/pro", follow_redirects=False).status_code == 200
        # The clock is fixed: the reset happens in the very second of the sign-in.
        post_form(first, "/mot-de-passe-oublie", {"email": PRO})
        link = link_in(mails_to(web_world, PRO)[0].body, "/mot-de-passe/")
        changed = post_form(first, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
        assert changed.status_code == 200, changed.text
        assert thief.get("/pro", follow_redirects=False).status_code == 303
    with _app(web_world) as restarted:  # a new process: nothing in memory
        _plant(restarted, stolen)
        assert restarted.get("/pro", follow_redirects=False).status_code == 303


def test_sign_out_ends_that_session_only_across_a_restart(web_world) -> None:
    with _app(web_world) as desktop, _app(web_world) as phone:
        login(desktop, "agent")
        login(phone, "agent")
        copied, phone_cookie = _session(desktop), _session(phone)
        assert post_form(desktop, "/deconnexion", follow_redirects=False).status_code == 303
    with _app(web_world) as restarted:
        _plant(restarted, copied)
        assert restarted.get("/scan", follow_redirects=False).status_code == 303
        _plant(restarted, phone_cookie)  # the field agent's phone is still signed in
        assert restarted.get("/scan", follow_redirects=False).status_code == 200


def test_disabling_a_user_ends_their_sessions_even_if_enabled_again(web_world) -> None:
    with _app(web_world) as client:
        login(client, "pro")
        cookie = _session(client)

    async def disable(session):
        await disable_user(session, user_id=USER_IDS["pro"], actor_id=USER_IDS["admin"], clock=web_world.clock)

    async def enable(session):
        user = await session.get(UserAccount, USER_IDS["pro"])
        user.is_active = True
        session.add(user)

    in_db(web_world, disable)
    in_db(web_world, enable)
    with _app(web_world) as restarted:
        _plant(restarted, cookie)
        assert restarted.get("/pro", follow_redirects=False).status_code == 303
        login(restarted, "pro")  # a new sign-in works
        assert restarted.get("/pro", follow_redirects=False).status_code == 200


def test_a_session_ends_after_its_lifetime_even_if_used(web_world, client) -> None:
    login(client, "pro")
    used = 0
    while used < SESSION_MAX_AGE - 60:  # a page at least every 20 minutes: never idle (ADR 0011)
        step = min(20 * 60, SESSION_MAX_AGE - 60 - used)
        web_world.clock.advance(timedelta(seconds=step))
        used += step
        assert client.get("/pro", follow_redirects=False).status_code == 200  # renews the cookie...
    web_world.clock.advance(timedelta(seconds=120))
    assert client.get("/pro", follow_redirects=False).status_code == 303  # ...not the session


# ---- 10. no account enumeration -------------------------------------------------------------------


def test_a_failed_sign_in_costs_one_argon2_check_whether_the_account_exists_or_not(client, monkeypatch) -> None:
    calls: list[str] = []
    verify = argon2.PasswordHasher.verify

    def counting(self, hash, password):  # type: ignore[no-untyped-def]
        calls.append(hash)
        return verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    answers = {}
    for email in (PRO, "personne@exemple.fr", "pas-une-adresse"):
        calls.clear()
        response = _fail_login(client, email)
        answers[email] = (response.status_code, text_of(response.text).replace(email, "…"))
        assert len(calls) == 1, email
    assert len(set(answers.values())) == 1


def test_registration_with_a_taken_address_answers_as_a_new_one(client, web_world) -> None:
    form = {"company_name": "Livraisons Rapides SAS", "display_name": "Rita Rapide", "password": "livrer-vite-2026",
            "password_again": "livrer-vite-2026"}
    new = post_form(client, "/inscription", form | {"company_id": "732829320", "email": "rita@livraisons.fr"})
    taken = post_form(client, "/inscription", form | {"company_id": "404833048", "email": PRO})
    assert new.status_code == taken.status_code == 200
    assert text_of(new.text) == text_of(taken.text)
    [to_owner] = mails_to(web_world, PRO)
    assert "existe déjà" in to_owner.body and "/mot-de-passe-oublie" in to_owner.body

    async def companies(session):
        return (await session.exec(select(Organisation.siren).where(col(Organisation.siren) == "404833048"))).all()

    assert in_db(web_world, companies) == []
    assert client.get("/moi", follow_redirects=False).headers["location"].startswith("/connexion")


# ---- 11. rate limits ---------------------------------------------------------------------------


def test_the_client_address_is_the_peer_unless_it_is_a_trusted_proxy() -> None:
    proxies = Settings(trusted_proxies="127.0.0.1, 10.0.0.0/24").proxy_networks
    assert resolve_client("203.0.113.7", ["1.2.3.4"], ()) == "203.0.113.7"
    assert resolve_client("127.0.0.1", ["1.2.3.4"], ()) == "127.0.0.1"
    assert resolve_client("203.0.113.7", ["1.2.3.4"], proxies) == "203.0.113.7"
    # nginx appends the address it saw: the right-most untrusted one; what the client wrote is left of it
    assert resolve_client("127.0.0.1", ["1.2.3.4, 198.51.100.9"], proxies) == "198.51.100.9"
    assert resolve_client("10.0.0.5", ["1.2.3.4, 198.51.100.9", "10.0.0.8"], proxies) == "198.51.100.9"
    assert resolve_client("127.0.0.1", ["pas-une-ip"], proxies) == "127.0.0.1"
    assert resolve_client("127.0.0.1", [], proxies) == "127.0.0.1"
    # a dual-stack listener sees the IPv4 proxy as an IPv4-mapped IPv6 address
    assert resolve_client("::ffff:10.0.0.5", ["1.2.3.4, 198.51.100.9"], proxies) == "198.51.100.9"
    assert resolve_client("10.0.0.5", ["::ffff:198.51.100.9"], proxies) == "198.51.100.9"
    assert Settings().proxy_networks == ()
    with pytest.raises(SettingsError, match="CIRQLIZ_TRUSTED_PROXIES : 'nginx' n'est ni une adresse IP"):
        Settings.from_env({"CIRQLIZ_TRUSTED_PROXIES": "127.0.0.1,nginx"})


@pytest.fixture
def served(web_world, monkeypatch) -> Iterator[str]:
    """`cirqliz serve`'s uvicorn configuration on a free loopback port, over the world's database."""
    settings = web_world.settings
    for name, value in {"ENV": settings.env, "SECRET_KEY": settings.secret_key, "DATABASE_URL": settings.database_url,
                        "KEYS_DIR": settings.keys_dir, "OUTBOX_DIR": settings.outbox_dir,
                        "SCHEDULER_ENABLED": "0", "TRUSTED_PROXIES": ""}.items():
        monkeypatch.setenv(f"CIRQLIZ_{name}", value)
    with live_server(lambda port: cli.uvicorn_config(host="127.0.0.1", port=port)) as base:
        yield base


def test_a_forged_forwarded_for_from_this_host_does_not_reset_the_limit(served) -> None:
    with httpx.Client(base_url=served, timeout=10) as browser:
        browser.get("/connexion")
        token = browser.cookies["cirqliz_csrf"]
        statuses = []
        for i in range(LOGIN_ATTEMPTS + 1):
            response = browser.post("/connexion", data={"email": PRO, "password": "pas-le-bon-1",
                                                         "_csrf_token": token},
                                    headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})
            statuses.append(response.status_code)
    assert statuses == [400] * LOGIN_ATTEMPTS + [429]


def test_served_answers_carry_no_server_banner_and_one_access_line(served, capfd) -> None:
    """`cirqliz serve`: no `server: uvicorn` header, and uvicorn's text access line is off (the
    application writes its JSON one, with the client's address)."""
    capfd.readouterr()
    response = httpx.get(f"{served}/healthz", timeout=10)
    assert response.status_code == 200 and "server" not in response.headers
    config = cli.uvicorn_config(host="127.0.0.1", port=1)
    assert config.access_log is False and config.server_header is False
    assert '"GET /healthz HTTP/1.1" 200' not in "".join(capfd.readouterr())


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(web_world, peer) -> None:
    peer["host"] = "127.0.0.1"
    with _app(web_world, trusted_proxies="127.0.0.1") as client:
        first = {"X-Forwarded-For": "198.51.100.1"}
        for _ in range(LOGIN_ATTEMPTS):
            assert _fail_login(client, PRO, first).status_code == 400
        assert _fail_login(client, PRO, first).status_code == 429
        assert _fail_login(client, PRO, {"X-Forwarded-For": "198.51.100.2"}).status_code == 400


@pytest.mark.parametrize("email", [PRO, "personne@exemple.fr"])
def test_sign_in_failures_are_limited_per_account_from_any_address(web_world, peer, email) -> None:
    with _app(web_world) as client:
        for i in range(LOGIN_ATTEMPTS_PER_ACCOUNT):
            peer["host"] = f"203.0.113.{i + 1}"
            assert _fail_login(client, email).status_code == 400
        peer["host"] = "192.0.2.200"
        limited = _fail_login(client, email)
        assert limited.status_code == 429
        assert "Trop de tentatives : réessayez dans quelques minutes." in text_of(limited.text)
        right = post_form(client, "/connexion", {"email": email, "password": DEMO_PASSWORD}, follow_redirects=False)
        assert right.status_code == 429  # even the right password, until the window ends
        assert _fail_login(client, "autre@demo.cirqliz.fr").status_code == 400  # other accounts: untouched
