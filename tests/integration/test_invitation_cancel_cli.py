"""`cirqliz user invite` of an address already invited replaces the pending invitation and says so in
French; `cirqliz user uninvite` cancels an address's pending invitations into an authority (a wrong
address from `authority create`), and `user list` stops listing them (SQLite and PostgreSQL)."""

from __future__ import annotations

from cli_driver import run_cli
from deployment import BASE_URL, Install, links_in
from litestar.testing import TestClient

from cirqliz.settings import Settings
from cirqliz.web.app import create_app


def _user_list(capsys) -> str:
    listed = run_cli(capsys, "user", "list", "--authority", "lyon")
    assert listed.rc == 0, listed.err
    return listed.out


def test_invite_again_replaces_and_uninvite_cancels(install: Install, capsys) -> None:
    created = run_cli(capsys, "authority", "create", "lyon", "--name", "Métropole de Lyon", "--admin",
                      "mauvaise@lyon.fr")
    assert created.rc == 0, created.err
    (first_link,) = links_in(created)
    fresh = run_cli(capsys, "user", "invite", "agent@lyon.fr", "--authority", "lyon", "--role", "agent")
    assert fresh.rc == 0 and "remplacée" not in fresh.out

    again = run_cli(capsys, "user", "invite", "Mauvaise@lyon.fr", "--authority", "lyon", "--role", "authority_admin")
    assert again.rc == 0, again.err
    assert ("L'invitation précédente à mauvaise@lyon.fr (administrateur de l'autorité et instructeur) a été "
            "remplacée : son lien ne fonctionne plus.") in again.out
    (second_link,) = links_in(again)
    assert "mauvaise@lyon.fr" in _user_list(capsys)

    cancelled = run_cli(capsys, "user", "uninvite", "mauvaise@lyon.fr", "--authority", "lyon")
    assert cancelled.rc == 0, cancelled.err
    assert cancelled.out.strip() == ("Invitation à mauvaise@lyon.fr annulée (lyon : administrateur de l'autorité) : "
                                     "son lien ne fonctionne plus.")
    listed = _user_list(capsys)
    assert "mauvaise@lyon.fr" not in listed and "agent@lyon.fr" in listed

    nothing = run_cli(capsys, "user", "uninvite", "mauvaise@lyon.fr", "--authority", "lyon")
    assert nothing.rc == 1 and "aucune invitation en attente pour mauvaise@lyon.fr" in nothing.err
    assert run_cli(capsys, "user", "uninvite", "pas-une-adresse", "--authority", "lyon").rc == 2

    with TestClient(create_app(Settings.from_env())) as client:
        for link in (first_link, second_link):
            page = client.get(link.removeprefix(BASE_URL))
            assert page.status_code == 400 and "Cette invitation a été annulée" in page.text, link
