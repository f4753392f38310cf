"""Engine and sessions: SQLite pragmas on every connection, one transaction per use case."""

import pytest
from factories import T0
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.models import Vehicle
from cirqliz.settings import Settings


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_pragmas_on_every_connection(engine):
    # Readers begin DEFERRED, so several may hold a transaction at once under WAL.
    readers = engine.execution_options(sqlite_begin="DEFERRED")
    connections = [await readers.connect() for _ in range(3)]
    try:
        for connection in connections:
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        for connection in connections:
            await connection.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_writers_queue_instead_of_failing(world, session_factory, clock):
    import asyncio

    async def rename(name):
        async with session_factory() as session, session.begin():
            await session.exec(text("SELECT name FROM zone WHERE code = 'CENTRE'"))
            await asyncio.sleep(0.05)  # the other writer tries now
            await session.exec(text(f"UPDATE zone SET name = '{name}' WHERE code = 'CENTRE'"))

    await asyncio.gather(rename("a"), rename("b"))


async def test_foreign_keys_enforced(session):
    import uuid

    with pytest.raises(IntegrityError):
        async with session.begin():
            session.add(Vehicle(organisation_id=uuid.uuid4(), plate="AB123CD", category="N1",
                                energy="diesel", created_at=T0))


async def test_check_constraints_enforced(world, session):
    with pytest.raises(IntegrityError):
        async with session.begin():
            await session.exec(text("UPDATE zone SET status = 'open' WHERE code = 'CENTRE'"))


async def test_transaction_commits_or_rolls_back_as_a_whole(world, session_factory):
    with pytest.raises(RuntimeError):
        async with transaction(session_factory) as session:
            await session.exec(text("UPDATE zone SET name = 'changé' WHERE code = 'CENTRE'"))
            raise RuntimeError("boom")
    async with transaction(session_factory) as session:
        name = (await session.exec(text("SELECT name FROM zone WHERE code = 'CENTRE'"))).scalar()
    assert name == "Paris Centre"


async def test_nothing_is_created_at_import_time():
    import cirqliz.db.engine as module

    assert not [n for n, v in vars(module).items() if type(v).__name__ == "AsyncEngine"]
    engine = create_engine(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    assert create_session_factory(engine).kw["expire_on_commit"] is False
    assert create_session_factory(engine, read_only=True).kw["bind"] is not engine
    await engine.dispose()


def test_alembic_needs_no_secret_and_creates_the_sqlite_directory(tmp_path, monkeypatch):
    from cirqliz.db.migrate import upgrade

    monkeypatch.setenv("CIRQLIZ_ENV", "production")
    monkeypatch.delenv("CIRQLIZ_SECRET_KEY", raising=False)
    path = tmp_path / "var" / "nested" / "cirqliz.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    assert path.exists()
