"""A deployment as an operator's shell describes it (CIRQLIZ_* variables, a database migrated with
`cirqliz db upgrade`, no demo seed), shared by the command-line onboarding tests.

A plain module (not a conftest): test files import the `install` fixture from it.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_driver import Run, run_cli
from litestar.testing import TestClient

from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.settings import Settings

SECRET = "onboarding-test-secret-0123456789-abcdefghij"
PASSWORD = "un-mot-de-passe-solide-2026"
BASE_URL = "https://cirqliz.example.fr"
LINK_PREFIX = "Lien d'invitation : "


@dataclass
class Install:
    """A deployment: its folders, its database and the settings of its web application."""

    root: Path
    database_url: str

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    def settings(self) -> Settings:
        return Settings(database_url=self.database_url, env="test", secret_key=SECRET, keys_dir=str(self.keys),
                        outbox_dir=str(self.root / "outbox"), documents_dir=str(self.root / "documents"),
                        base_url=BASE_URL, scheduler_enabled=False)

    def query(self, work: Any) -> Any:
        """`work(session)` on the deployment's database (reads)."""
        return self._on_database(work, commit=False)

    def run(self, work: Any) -> Any:
        """`work(session)` in one committed transaction on the deployment's database."""
        return self._on_database(work, commit=True)

    def _on_database(self, work: Any, *, commit: bool) -> Any:
        async def main() -> Any:
            engine = create_engine(self.settings())
            try:
                maker = create_session_factory(engine)
                if commit:
                    async with transaction(maker) as session:
                        return await work(session)
                async with maker() as session:
                    return await work(session)
            finally:
                await engine.dispose()

        return asyncio.run(main())


@pytest.fixture
def install(empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Install:
    """Production-like variables and an empty database migrated with `cirqliz db upgrade`."""
    for name in list(os.environ):
        if name.startswith("CIRQLIZ_"):
            monkeypatch.delenv(name)
    for name, value in {"CIRQLIZ_DATABASE_URL": empty_database_url, "CIRQLIZ_ENV": "production",
                        "CIRQLIZ_SECRET_KEY": SECRET, "CIRQLIZ_KEYS_DIR": str(tmp_path / "keys"),
                        "CIRQLIZ_OUTBOX_DIR": str(tmp_path / "outbox"), "CIRQLIZ_BASE_URL": BASE_URL}.items():
        monkeypatch.setenv(name, value)
    assert run_cli(capsys, "db", "upgrade").rc == 0
    return Install(tmp_path, empty_database_url)


def links_in(run: Run) -> list[str]:
    """The invitation links a command printed (without SMTP)."""
    return [line.removeprefix(LINK_PREFIX) for line in run.out.splitlines() if line.startswith(LINK_PREFIX)]


def accept(client: TestClient, link: str, name: str = "Anne Admin") -> str:
    """Open the invitation link, set a password; the page the person lands on."""
    path = link.removeprefix(BASE_URL)
    assert client.get(path).status_code == 200
    response = client.post(path, data={"display_name": name, "password": PASSWORD, "password_again": PASSWORD,
                                       "_csrf_token": client.cookies.get("cirqliz_csrf")}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"]
