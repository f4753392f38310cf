"""`cirqliz backup` and `cirqliz restore` (docs/sauvegardes.md).

SQLite: a backup taken while another thread keeps writing restores into a fresh file with every
row of every table (counts and a content hash per table), an intact audit chain, and the audit
records of the moment (a prefix of the live chain). Restores refuse what is not a sound backup.
PostgreSQL: `cirqliz backup` runs pg_dump -Fc; pg_restore into a new database gives the same rows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from factories import T0

from cirqliz.cli import main
from cirqliz.clock import FixedClock
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.db.migrate import upgrade
from cirqliz.demo.seed import seed_demo
from cirqliz.issuance.audit import record_change
from cirqliz.ops.backup import head_revision, libpq_target, pg_tool, summarise
from cirqliz.settings import Settings

WRITES = 400  # at most, and at most WRITE_SECONDS: the writer stops by itself
WRITE_SECONDS = 20.0


def _sqlite(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _seed(url: str, keys: Path) -> None:
    engine = create_engine(Settings(database_url=url))
    try:
        await seed_demo(create_session_factory(engine), keys_root=keys, clock=FixedClock(T0))
    finally:
        await engine.dispose()


class Writer(threading.Thread):
    """Appends audit records, one small transaction at a time, until stopped (bounded)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.written, self.error = url, threading.Event(), 0, None
        self.started = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._write())
        except Exception as exc:  # reported by the test
            self.error = exc

    async def _write(self) -> None:
        engine = create_engine(Settings(database_url=self.url))
        deadline = time.monotonic() + WRITE_SECONDS
        try:
            maker = create_session_factory(engine)
            while not self.stop.is_set() and self.written < WRITES and time.monotonic() < deadline:
                async with maker() as session, session.begin():
                    await record_change(session, actor_id=None, entity="zone", entity_id=str(self.written),
                                        action="update", at=T0, after={"n": self.written, "texte": "é" * 50})
                self.written += 1
                if self.written == 20:
                    self.started.set()
                await asyncio.sleep(0.002)
        finally:
            self.started.set()
            await engine.dispose()


def _audit_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT seq, hash FROM audit_record ORDER BY seq").fetchall()


def test_sqlite_backup_while_writing_then_restore(tmp_path, monkeypatch, capsys):
    live = tmp_path / "live.db"
    upgrade(_sqlite(live))
    asyncio.run(_seed(_sqlite(live), tmp_path / "keys"))
    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", _sqlite(live))
    writer = Writer(_sqlite(live))
    writer.start()
    assert writer.started.wait(30)
    backup = tmp_path / "sauvegardes" / "cirqliz.db"
    try:
        assert main(["backup", str(backup)]) == 0
    finally:
        writer.stop.set()
        writer.join(60)
    assert writer.error is None and writer.written > 20
    out = capsys.readouterr().out
    assert f"sauvegarde écrite : {backup}" in out and "Chaîne d'audit intacte" in out
    assert not Path(f"{backup}-wal").exists()  # a self-contained file, and it stays one
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert main(["backup", str(backup)]) == 1  # no silent overwrite
    assert "existe déjà" in capsys.readouterr().err

    # the backup is a snapshot: its audit chain is a prefix of the live one, taken mid-writing
    saved, now = _audit_rows(backup), _audit_rows(live)
    assert saved == now[:len(saved)] and len(saved) < len(now)

    restored = tmp_path / "restauree" / "cirqliz.db"
    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", _sqlite(restored))
    assert main(["restore", str(backup)]) == 0
    assert "base restaurée" in capsys.readouterr().out
    original = asyncio.run(summarise(_sqlite(backup), digests=True))
    copy = asyncio.run(summarise(_sqlite(restored), digests=True))
    assert copy.counts == original.counts and copy.digests == original.digests
    assert copy.chain.intact and copy.chain.count == len(saved) and copy.revision == head_revision()
    for table in ("organisation", "user_account", "zone", "vehicle", "audit_record"):
        assert copy.counts[table] > 0, table
    # every table but the one the writer appended to is exactly the live database's
    current = asyncio.run(summarise(_sqlite(live), digests=True))
    for table, digest in current.digests.items():
        if table != "audit_record":
            assert copy.digests[table] == digest, table


@pytest.fixture
def backup_file(tmp_path) -> Path:
    """A sound backup of a seeded database."""
    live = tmp_path / "source.db"
    upgrade(_sqlite(live))
    asyncio.run(_seed(_sqlite(live), tmp_path / "keys"))
    path = tmp_path / "backup.db"
    shutil.copyfile(live, path)
    return path


def _restore(monkeypatch, target: Path, *args: str) -> int:
    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", _sqlite(target))
    return main(["restore", *args])


def test_restore_refuses_to_overwrite_without_force_and_keeps_a_bak(tmp_path, backup_file, monkeypatch, capsys):
    target = tmp_path / "prod.db"
    upgrade(_sqlite(target))
    before = target.read_bytes()
    assert _restore(monkeypatch, target, str(backup_file)) == 1
    assert "--force" in capsys.readouterr().err and target.read_bytes() == before
    assert _restore(monkeypatch, target, str(backup_file), "--force") == 0
    assert Path(f"{target}.bak").read_bytes() == before
    assert asyncio.run(summarise(_sqlite(target))).counts["organisation"] > 0


def test_restore_refuses_what_is_not_a_sound_backup(tmp_path, backup_file, monkeypatch, capsys):
    target = tmp_path / "new.db"
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("bonjour")
    assert _restore(monkeypatch, target, str(not_sqlite)) == 1
    assert "n'est pas une base SQLite" in capsys.readouterr().err

    old = tmp_path / "old.db"
    upgrade(_sqlite(old), "0003")
    assert _restore(monkeypatch, target, str(old)) == 1
    assert "version du schéma 0003" in capsys.readouterr().err

    with sqlite3.connect(backup_file) as conn:
        conn.execute("UPDATE audit_record SET action = 'delete' WHERE seq = 2")
    assert _restore(monkeypatch, target, str(backup_file)) == 1
    assert "Chaîne d'audit rompue au n° 2" in capsys.readouterr().err
    assert _restore(monkeypatch, target, str(tmp_path / "absent.db")) == 1
    assert not target.exists()  # nothing half-written


def test_restore_refuses_a_database_in_use(tmp_path, backup_file, monkeypatch, capsys):
    target = tmp_path / "busy.db"
    upgrade(_sqlite(target))
    holder = subprocess.Popen(  # another process with the database open (as the application would)
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL'); "
         "c.execute('SELECT count(*) FROM audit_record').fetchall(); print('ready', flush=True); time.sleep(30)",
         str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert _restore(monkeypatch, target, str(backup_file), "--force") == 1
        assert "en cours d'utilisation" in capsys.readouterr().err
        assert not Path(f"{target}.bak").exists()
    finally:
        holder.kill()
        holder.wait(10)
    assert _restore(monkeypatch, target, str(backup_file), "--force") == 0


# ---- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_backup_with_pg_dump_and_pg_restore(tmp_path, monkeypatch, capsys, request):
    request.getfixturevalue("postgres_server")
    pg_restore = pg_tool("pg_restore")
    if pg_tool("pg_dump") is None or pg_restore is None:
        message = "pg_dump / pg_restore not found (PATH, /usr/lib/postgresql/*/bin)"
        if os.environ.get("CIRQLIZ_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{message} (CIRQLIZ_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    from pg_databases import create_pg_database as _create_pg_database
    from pg_databases import drop_pg_database as _drop_pg_database
    from pg_databases import pg_url as _pg_url

    source, target = _create_pg_database(), _create_pg_database()
    try:
        url = _pg_url(source)
        upgrade(url)
        asyncio.run(_seed(url, tmp_path / "keys"))
        dump = tmp_path / f"cirqliz-{uuid.uuid4().hex[:6]}.dump"
        monkeypatch.setenv("CIRQLIZ_DATABASE_URL", url)
        assert main(["backup", str(dump)]) == 0
        assert "pg_dump -Fc" in capsys.readouterr().out and dump.stat().st_size > 0
        assert dump.read_bytes()[:5] == b"PGDMP"  # custom format
        assert main(["restore", str(dump)]) == 1  # PostgreSQL restores are pg_restore's job
        assert "pg_restore --clean" in capsys.readouterr().err
        dsn, env = libpq_target(_pg_url(target))
        done = subprocess.run([pg_restore, "--clean", "--if-exists", "--no-owner", "-d", dsn, str(dump)],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        original = asyncio.run(summarise(url, digests=True))
        copy = asyncio.run(summarise(_pg_url(target), digests=True))
        assert copy.counts == original.counts and copy.digests == original.digests
        assert copy.chain.intact and copy.chain.count == original.chain.count > 0
        assert copy.revision == head_revision()
    finally:
        _drop_pg_database(source)
        _drop_pg_database(target)
