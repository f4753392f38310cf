"""Backups and restores of the database (docs/sauvegardes.md).

SQLite: `backup_sqlite` copies the live database with SQLite's online backup API (a consistent
snapshot while the application keeps writing: WAL readers do not block writers) into a temporary
file, switches the copy out of WAL mode, checks it, then renames it into place. `restore_sqlite`
checks a backup (SQLite file, integrity, our Alembic head, intact audit chain) before it replaces
the database, keeping the previous file as `.bak`.

PostgreSQL: `backup_postgres` runs `pg_dump -Fc`; restoring is `pg_restore --clean` (documented,
not wrapped: it needs the operator's own credentials and a stopped application).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import URL, make_url

from cirqliz.db.base import metadata
from cirqliz.db.engine import SQLITE_BEGIN, create_engine, create_session_factory
from cirqliz.issuance.audit import ChainReport, verify_chain
from cirqliz.settings import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


class BackupError(Exception):
    """A backup or restore that must not go on; `message` is French, for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class DatabaseSummary:
    """Rows per table, the audit chain and the schema revision of a database."""

    counts: dict[str, int]
    chain: ChainReport
    revision: str | None
    digests: dict[str, str] = field(default_factory=dict)

    def lines_fr(self) -> list[str]:
        """Human lines for the CLI."""
        rows = sum(self.counts.values())
        busiest = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:6]
        return [f"révision du schéma : {self.revision or 'inconnue'}",
                f"{rows} lignes dans {len(self.counts)} tables (" + ", ".join(f"{t} {n}" for t, n in busiest) + ", …)",
                self.chain.message_fr()]


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL, or None for another database (or an in-memory one)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def head_revision() -> str:
    """The Alembic head of the packaged migrations."""
    from alembic.script import ScriptDirectory

    from cirqliz.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def summarise(database_url: str, *, digests: bool = False) -> DatabaseSummary:
    """Row counts of every table of our schema, the audit chain, and optionally a content hash per
    table (every row, in primary-key order: equal digests mean equal contents). A SQLite file is
    opened read-only: a backup stays the self-contained file it was written as (no switch to WAL)."""
    path = sqlite_path(database_url)
    if path is not None:
        database_url = f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"}).connect() as conn:
            present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            revision = None
            if "alembic_version" in present:
                revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            counts: dict[str, int] = {}
            hashes: dict[str, str] = {}
            for table in metadata.sorted_tables:
                if table.name not in present:
                    continue
                counts[table.name] = int((await conn.execute(
                    text(f'SELECT count(*) FROM "{table.name}"'))).scalar() or 0)  # noqa: S608 (our table names)
                if digests:
                    digest = hashlib.sha256()
                    result = await conn.stream(select(table).order_by(*table.primary_key.columns))
                    async for row in result:
                        digest.update(repr(tuple(row)).encode())
                    hashes[table.name] = digest.hexdigest()
        maker = create_session_factory(engine, read_only=True)
        async with maker() as session:
            chain = await verify_chain(session)
    finally:
        await engine.dispose()
    return DatabaseSummary(counts, chain, revision, hashes)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(source: Path, dest: Path, *, force: bool = False) -> int:
    """Copy the live database `source` to `dest` (atomic rename); return the copy's size in bytes."""
    if not source.is_file():
        raise BackupError(f"base introuvable : {source}")
    if dest.exists() and not force:
        raise BackupError(f"{dest} existe déjà (--force pour le remplacer)")
    if dest.resolve() == source.resolve():
        raise BackupError("la sauvegarde ne peut pas remplacer la base elle-même")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _copy_sqlite(f"file:{source}?mode=ro", tmp)
        with sqlite3.connect(f"file:{tmp}?mode=ro", uri=True) as copy:
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"copie incohérente : {check}")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"sauvegarde impossible : {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest.stat().st_size


def _copy_sqlite(source: str, dest: Path) -> None:
    """Copy the SQLite database `source` (a path or a file: URI) to `dest` through SQLite's online
    backup API: one consistent snapshot, writers go on (WAL). The copy is a self-contained file in
    rollback-journal mode (no -wal beside it). sqlite3.Error propagates."""
    src = sqlite3.connect(source, uri=True, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _check_sqlite_backup(path: Path) -> DatabaseSummary:
    """Refuse a file (a copy SQLite itself wrote) that is not a sound backup of this version of CirQliz."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError:
                row = None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path} est illisible : {exc}") from exc
    if check != "ok":
        raise BackupError(f"{path} est endommagée : {check}")
    head = head_revision()
    if row is None or row[0] != head:
        raise BackupError(f"version du schéma {row[0] if row else 'absente'} au lieu de {head} : "
                          "ce n'est pas une sauvegarde de cette version de CirQliz")
    summary = asyncio.run(summarise(f"sqlite+aiosqlite:///{path}"))
    if not summary.chain.intact:
        raise BackupError(f"sauvegarde refusée : {summary.chain.message_fr()}")
    return summary


def _database_in_use(path: Path) -> bool:
    """True when another process has the database open, or a lock on it.

    Every connection in WAL mode keeps a shared lock on one byte of the -shm file (SQLite's "DMS"
    slot, offset 128) for as long as it is open: if we cannot lock that byte exclusively, someone
    else has the database open. Then a checkpoint folds the WAL into the file (busy if a reader
    still needs it), so no WAL is left behind for the new file.
    """
    import fcntl

    shm = Path(f"{path}-shm")
    if shm.exists():
        with shm.open("rb+") as fh:
            try:
                fcntl.lockf(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
            except OSError:
                return True
            fcntl.lockf(fh.fileno(), fcntl.LOCK_UN, 1, 128)
    try:
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("ROLLBACK")
            return bool(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return True


def restore_sqlite(backup: Path, target: Path, *, force: bool = False) -> tuple[DatabaseSummary, Path | None]:
    """Replace `target` with a checked copy of `backup`; return the summary and the `.bak` kept."""
    if not backup.is_file():
        raise BackupError(f"sauvegarde introuvable : {backup}")
    if target.exists() and not force:
        raise BackupError(f"{target} existe déjà : --force pour la remplacer (l'ancienne est gardée en .bak)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with backup.open("rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            raise BackupError(f"{backup} n'est pas une base SQLite")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.restore")
    tmp.unlink(missing_ok=True)
    try:
        # Through SQLite, not a file copy: a backup left in WAL mode may hold changes in its -wal.
        try:
            _copy_sqlite(str(backup), tmp)
        except sqlite3.Error as exc:
            raise BackupError(f"{backup} est illisible : {exc}") from exc
        summary = _check_sqlite_backup(tmp)
        kept: Path | None = None
        if target.exists():
            if _database_in_use(target):
                raise BackupError(f"{target} est en cours d'utilisation : arrêtez l'application avant de restaurer")
            kept = target.with_name(target.name + ".bak")
            os.replace(target, kept)
        for suffix in ("-wal", "-shm"):  # checkpointed above: never apply an old WAL to the new file
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return summary, kept


def pg_tool(name: str) -> str | None:
    """Path of a PostgreSQL client program (PATH first, then the Debian folders)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in PG_BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    return None


def libpq_target(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it (PGPASSWORD), so the
    password never shows in the process list."""
    url: URL = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def backup_postgres(database_url: str, dest: Path, *, force: bool = False) -> int:
    """`pg_dump -Fc` of the database into `dest` (temporary file, then rename); return its size."""
    import subprocess

    pg_dump = pg_tool("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump introuvable : installez postgresql-client, ou lancez vous-même "
                          "« pg_dump -Fc -f sauvegarde.dump <base> » (voir docs/sauvegardes.md)")
    if dest.exists() and not force:
        raise BackupError(f"{dest} existe déjà (--force pour le remplacer)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    target, env = libpq_target(database_url)
    try:
        done = subprocess.run([pg_dump, "-Fc", "--no-owner", "-f", str(tmp), target], env=env,
                              capture_output=True, text=True, timeout=3600, check=False)
        if done.returncode != 0:
            raise BackupError(f"pg_dump a échoué : {done.stderr.strip()}")
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return dest.stat().st_size


def describe_size(size: int) -> str:
    """1 234 567 octets → '1.2 Mo'."""
    if size < 1024:
        return f"{size} octets"
    value = size / 1024
    for unit in ("Ko", "Mo"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} Go"
