"""What walking the going-live guide (docs/premier-jour.md) showed in the command line (task H6):
`cirqliz serve --port N` left the links' base address on port 8000, and `cirqliz user list` printed
role codes and « aucun compte » when an invitation was pending."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import uvicorn
from cli_driver import run_cli
from deployment import Install, accept, links_in
from litestar.testing import TestClient

from cirqliz.cli import listening_base_url
from cirqliz.demo.seed import DEMO_PASSWORD, USERS
from cirqliz.settings import Settings
from cirqliz.web.app import create_app

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """`cirqliz serve` runs up to the point where uvicorn would listen; the configs it would serve."""
    served: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **k: served.append(self.config))
    for name in list(os.environ):
        if name.startswith("CIRQLIZ_"):
            monkeypatch.delenv(name)
    # set (then emptied) so that monkeypatch puts back what `serve` writes into the environment
    monkeypatch.setenv("CIRQLIZ_ENV", "")
    monkeypatch.setenv("CIRQLIZ_BASE_URL", "")
    return served


def test_the_listening_address_of_serve() -> None:
    assert listening_base_url("127.0.0.1", 8791) == "http://127.0.0.1:8791"
    assert listening_base_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert listening_base_url("::", 8443) == "http://[::1]:8443"
    assert listening_base_url("cirqliz.local", 80) == "http://cirqliz.local:80"


def test_serve_demo_on_another_port_links_to_that_port(no_server, tmp_path: Path, capsys,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`cirqliz serve --demo --port 8791`: the API address on /pro/api (and the links of mails and
    phones) named http://127.0.0.1:8000, where nobody listens."""
    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("CIRQLIZ_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("CIRQLIZ_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("CIRQLIZ_DOCUMENTS_DIR", str(tmp_path / "documents"))
    monkeypatch.setenv("CIRQLIZ_SCHEDULER_ENABLED", "0")
    run = run_cli(capsys, "serve", "--demo", "--port", "8791")
    assert run.rc == 0, run.err
    assert [c.port for c in no_server] == [8791]
    settings = Settings.from_env()  # what every worker process reads
    assert settings.base_url == "http://127.0.0.1:8791"
    assert "adresse des liens : http://127.0.0.1:8791" in run.out
    with TestClient(create_app(settings)) as client:
        client.get("/connexion")
        signed_in = client.post("/connexion", data={"email": USERS["pro"][0], "password": DEMO_PASSWORD,
                                                    "_csrf_token": client.cookies.get("cirqliz_csrf")},
                                follow_redirects=False)
        assert signed_in.status_code == 303
        api = client.get("/pro/api").text
    assert "http://127.0.0.1:8791/api/v1" in api and ":8000" not in api


def test_an_explicit_base_address_is_kept(no_server, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRQLIZ_BASE_URL", "https://laissez-passer.ville-exemple.fr")
    monkeypatch.setenv("CIRQLIZ_SECRET_KEY", "walk-test-secret-0123456789-abcdefghijklmn")
    assert run_cli(capsys, "serve", "--port", "8791").rc == 0
    assert Settings.from_env().base_url == "https://laissez-passer.ville-exemple.fr"


@SQLITE_ONLY
def test_user_list_names_roles_and_pending_invitations(install: Install, capsys) -> None:
    created = run_cli(capsys, "authority", "create", "lyon", "--name", "Métropole de Lyon", "--admin", "admin@lyon.fr")
    assert created.rc == 0, created.err
    for args in (("user", "list"), ("user", "list", "--authority", "lyon")):
        listing = run_cli(capsys, *args)
        assert listing.rc == 0, listing.err
        assert "aucun compte actif ; 1 invitation en attente : admin@lyon.fr" in listing.out, args
        assert "lyon : Administrateur de l'autorité, Instructeur" in listing.out, args
        assert "authority_admin" not in listing.out and "reviewer" not in listing.out, args
        assert listing.out.count("admin@lyon.fr") == 2, args  # one invitation line (two roles) and the summary
        assert "aucun compte\n" not in listing.out

    [link] = links_in(created)
    with TestClient(create_app(install.settings())) as client:
        accept(client, link, "Anne Admin")
    listing = run_cli(capsys, "user", "list", "--authority", "lyon")
    [line] = [x for x in listing.out.splitlines() if x.startswith("admin@lyon.fr")]
    assert "actif" in line and "lyon : Administrateur de l'autorité, Instructeur" in line and "(Anne Admin)" in line
    assert "en attente" not in listing.out and "aucun compte" not in listing.out
