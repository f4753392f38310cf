"""Engine and session factory built from settings (never at import time).

One transaction per use case: the caller opens it (`async with session.begin()` or
`transaction(maker)`), services only flush.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.settings import Settings


def create_engine(settings: Settings, **engine_options: Any) -> AsyncEngine:
    """An async engine for `settings.database_url`; SQLite gets WAL, foreign keys and a busy
    timeout on every connection."""
    url = make_url(settings.database_url)
    options: dict[str, Any] = {"echo": settings.database_echo}
    if url.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": settings.sqlite_busy_timeout_ms / 1000}
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        options["pool_pre_ping"] = True
    options.update(engine_options)
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        # A read-only URI (file:…?mode=ro&uri=true) may not switch the file to WAL, nor need to.
        install_sqlite_pragmas(engine, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                               wal=url.query.get("mode") != "ro")
    return engine


def install_sqlite_pragmas(engine: AsyncEngine, *, busy_timeout_ms: int = 5000, wal: bool = True) -> None:
    """Set WAL (unless `wal` is false), foreign keys and busy timeout on each new connection, and
    begin transactions with BEGIN IMMEDIATE so that concurrent writers queue on the busy timeout
    instead of failing when a read lock cannot be upgraded."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the driver's implicit BEGIN breaks SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


# Execution option read by the SQLite "begin" listener: "IMMEDIATE" (default) or "DEFERRED".
SQLITE_BEGIN = "sqlite_begin"


def create_session_factory(
    engine: AsyncEngine, *, read_only: bool = False
) -> async_sessionmaker[AsyncSession]:
    """sqlmodel AsyncSession factory; objects stay readable after commit.

    `read_only=True` begins SQLite transactions DEFERRED, so readers do not queue behind
    writers (WAL gives them a snapshot); use it only for sessions that never write.
    """
    bind = engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"}) if read_only else engine
    return async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on error."""
    async with maker() as session, session.begin():
        yield session
