"""`cirqliz doctor` (issue 15): exit 0 on a healthy install, 1 naming what to fix on a broken one."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_driver import run_cli

from cirqliz.clock import FixedClock
from cirqliz.db.migrate import downgrade
from cirqliz.ops.doctor import FAIL, expected_heads, run_doctor

SECRET = "doctor-test-secret-0123456789-abcdefghijklmn"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A production-like install on SQLite: migrated, one authority created with the CLI."""
    for name in list(os.environ):
        if name.startswith("CIRQLIZ_"):
            monkeypatch.delenv(name)
    values = {"CIRQLIZ_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cirqliz.db'}", "CIRQLIZ_ENV": "production",
              "CIRQLIZ_SECRET_KEY": SECRET, "CIRQLIZ_KEYS_DIR": str(tmp_path / "keys"),
              "CIRQLIZ_OUTBOX_DIR": str(tmp_path / "outbox")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def healthy(env: dict[str, str], capsys) -> dict[str, str]:
    assert run_cli(capsys, "db", "upgrade").rc == 0
    assert run_cli(capsys, "authority", "create", "lyon", "--name", "Lyon", "--admin", "a@lyon.fr").rc == 0
    assert run_cli(capsys, "worker", "--once").rc == 0  # the scheduler has run
    return env


def failing(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("✗")]


def test_a_healthy_install_exits_0(healthy, capsys) -> None:
    run = run_cli(capsys, "doctor")
    assert run.rc == 0, run.out
    assert failing(run.out) == []
    for label in ("réglages", "clé secrète", "base de données", "clés de lyon", "paquet de confiance de lyon",
                  "tâches planifiées", "courriel", "données ouvertes"):
        assert any(label in line for line in run.out.splitlines()), label
    assert "les courriels sont écrits dans" in run.out  # no SMTP: says where mail goes
    assert run.out.rstrip().endswith("tout est en ordre")


def test_a_private_key_readable_by_others_is_named(healthy, capsys) -> None:
    key = next((Path(healthy["CIRQLIZ_KEYS_DIR"]) / "lyon" / "private").glob("*.pem"))
    key.chmod(0o644)
    run = run_cli(capsys, "doctor")
    assert run.rc == 1
    [line] = failing(run.out)
    assert "clés de lyon" in line and "mode 0644" in line and f"chmod 600 {key}" in line


def test_a_missing_keys_folder_is_named(healthy, capsys) -> None:
    folder = Path(healthy["CIRQLIZ_KEYS_DIR"]) / "lyon"
    folder.rename(folder.with_name("ailleurs"))
    run = run_cli(capsys, "doctor")
    assert run.rc == 1
    assert any("clés de lyon" in line and "pas de trousseau" in line for line in failing(run.out)), run.out


def test_a_database_not_migrated_is_named(env, capsys) -> None:
    run = run_cli(capsys, "doctor")
    assert run.rc == 1
    assert any("base de données" in line and "cirqliz db upgrade" in line for line in failing(run.out)), run.out


def test_a_database_behind_the_code_is_named(healthy, capsys) -> None:
    from alembic.script import ScriptDirectory

    from cirqliz.db.migrate import alembic_config

    previous = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(expected_heads()[0]).down_revision
    downgrade(healthy["CIRQLIZ_DATABASE_URL"], previous)
    run = run_cli(capsys, "doctor")
    assert run.rc == 1
    assert any(f"pas à jour (révision {previous}" in line for line in failing(run.out)), run.out


def test_a_stale_bundle_is_named(healthy) -> None:
    later = FixedClock(datetime.now(UTC) + timedelta(days=2))
    report = asyncio.run(run_doctor(healthy, clock=later))
    bad = [c for c in report.checks if c.status == FAIL]
    assert not report.ok
    assert any(c.label == "paquet de confiance de lyon" and "périmé" in c.detail for c in bad), bad


def test_no_scheduler_and_a_default_secret_are_named(env, capsys, monkeypatch) -> None:
    assert run_cli(capsys, "db", "upgrade").rc == 0
    assert run_cli(capsys, "authority", "create", "lyon", "--name", "Lyon", "--admin", "a@lyon.fr").rc == 0
    run = run_cli(capsys, "doctor")
    assert run.rc == 1
    assert any("tâches planifiées" in line and "cirqliz worker" in line for line in failing(run.out)), run.out
    monkeypatch.delenv("CIRQLIZ_SECRET_KEY")
    monkeypatch.delenv("CIRQLIZ_ENV")  # production by default, as `cirqliz serve`
    run = run_cli(capsys, "doctor")
    assert run.rc == 1
    assert any("réglages" in line and "CIRQLIZ_SECRET_KEY" in line for line in failing(run.out)), run.out
