"""`cirqliz authority create` and `cirqliz user invite` without CIRQLIZ_BASE_URL (task H10): they cannot
know the server's address (`cirqliz serve` derives it from --host/--port, they run apart), so they
say, on the line after the link, which address the link assumes instead of leaving a guess unsaid."""

from __future__ import annotations

import pytest
from cli_driver import Run, run_cli
from deployment import BASE_URL, LINK_PREFIX, Install

from cirqliz.issuance.mail import Mailer
from cirqliz.settings import Settings

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
DEFAULT = Settings.__dataclass_fields__["base_url"].default
NOTE = f"Adresse du site non configurée (CIRQLIZ_BASE_URL) : le lien suppose {DEFAULT}."


def _create(capsys) -> Run:
    return run_cli(capsys, "authority", "create", "lyon", "--name", "Métropole de Lyon", "--admin", "admin@lyon.fr")


def _invite(capsys, email: str = "agent@lyon.fr") -> Run:
    return run_cli(capsys, "user", "invite", email, "--authority", "lyon", "--role", "agent")


def _line_after_link(run: Run) -> str:
    lines = run.out.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith(LINK_PREFIX)]
    assert at + 1 < len(lines), run.out
    return lines[at + 1]


@SQLITE_ONLY
def test_without_a_base_url_both_commands_say_which_address_the_link_assumes(
        install: Install, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIRQLIZ_BASE_URL")
    created = _create(capsys)
    assert created.rc == 0, created.err
    assert _line_after_link(created) == NOTE
    assert f"{LINK_PREFIX}{DEFAULT}/invitation/" in created.out
    assert created.out.count("CIRQLIZ_BASE_URL") == 1  # said once, after the link
    invited = _invite(capsys)
    assert invited.rc == 0, invited.err
    assert _line_after_link(invited) == NOTE
    assert invited.out.splitlines()[-1] == NOTE  # the last thing read

    monkeypatch.setenv("CIRQLIZ_BASE_URL", "")  # set but empty: as unset
    assert _line_after_link(_invite(capsys, "autre@lyon.fr")) == NOTE


@SQLITE_ONLY
def test_with_a_base_url_nothing_is_added(install: Install, capsys) -> None:
    created = _create(capsys)
    invited = _invite(capsys)
    for run in (created, invited):
        assert run.rc == 0, run.err
        assert f"{LINK_PREFIX}{BASE_URL}/invitation/" in run.out
        assert "CIRQLIZ_BASE_URL" not in run.out + run.err
    assert invited.out.splitlines()[-1].startswith(LINK_PREFIX)


@SQLITE_ONLY
def test_a_mailed_link_is_noted_too(install: Install, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """With SMTP the link is in the mail only: it assumes the same address, so the note is printed too."""
    assert _create(capsys).rc == 0
    sent: list[str] = []
    monkeypatch.setattr(Mailer, "send_smtp", lambda self, message: sent.append(message["To"]))
    monkeypatch.setenv("CIRQLIZ_SMTP_HOST", "smtp.example.fr")
    monkeypatch.delenv("CIRQLIZ_BASE_URL")
    invited = _invite(capsys)
    assert invited.rc == 0, invited.err
    assert sent == ["agent@lyon.fr"]
    assert LINK_PREFIX not in invited.out
    assert invited.out.splitlines()[-2].startswith("invitation envoyée par courriel à agent@lyon.fr")
    assert invited.out.splitlines()[-1] == NOTE
