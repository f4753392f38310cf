"""Migration 0017: the partial index of the listed passes, and the revocation-list queries using it.

Both databases: the index exists after upgrade with its columns and predicate, downgrade removes
it; the publisher's two queries (as the application sends them) are planned on it, on PostgreSQL
even as a generic plan of a prepared statement (the statuses must be literals for that).
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from factories import AUTHORITY_PARIS_ID
from sqlalchemy import event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import FixedClock
from cirqliz.db.engine import create_engine
from cirqliz.db.migrate import downgrade, upgrade
from cirqliz.db.models import AccessPass
from cirqliz.issuance import publication
from cirqliz.settings import Settings

INDEX = "ix_access_pass_listed"


def _listed_index(connection: Any) -> tuple[dict[str, Any] | None, str]:
    """The index as reflected (None when missing) and its definition as the database stores it."""
    found = next((i for i in inspect(connection).get_indexes("access_pass") if i["name"] == INDEX), None)
    if connection.dialect.name == "postgresql":
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    else:
        sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    definition = connection.execute(text(sql), {"name": INDEX}).scalar()
    return found, definition or ""


async def _inspect_index(url: str) -> tuple[dict[str, Any] | None, str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_listed_index)
    finally:
        await engine.dispose()


async def test_upgrade_creates_the_partial_index_and_downgrade_removes_it(empty_database_url):
    url = empty_database_url
    await asyncio.to_thread(upgrade, url, "0016")
    assert (await _inspect_index(url))[0] is None
    await asyncio.to_thread(upgrade, url, "0017")
    found, definition = await _inspect_index(url)
    assert found is not None
    assert found["column_names"] == ["authority_id", "expires_at", "serial"]
    assert not found["unique"]
    assert "revoked" in definition and "suspended" in definition and "active" not in definition
    assert "WHERE" in definition.upper()
    await asyncio.to_thread(downgrade, url, "0016")
    assert await _inspect_index(url) == (None, "")
    await asyncio.to_thread(upgrade, url)
    assert (await _inspect_index(url))[0] is not None


async def _passes(session_factory: async_sessionmaker[AsyncSession], clock: FixedClock, count: int) -> None:
    """`count` passes of the authority, one in ten revoked or suspended, half of them expired."""
    statuses = ("active",) * 8 + ("revoked", "suspended")
    now = clock.now()
    async with session_factory() as session, session.begin():
        for n in range(count):
            session.add(AccessPass(
                serial=f"{0xA000000000000000 + n:016X}", authority_id=AUTHORITY_PARIS_ID, plate=f"AA-{n:03d}-ZZ",
                purpose=1, not_before=now - timedelta(days=30),
                expires_at=now + timedelta(days=(-10 if n % 20 < 10 else 10) + n % 7), windows=[], zone_refs=[],
                status=statuses[n % len(statuses)], issued_at=now - timedelta(days=30),
                updated_at=now - timedelta(days=30)))


async def _sent(engine: AsyncEngine, call: Callable[[], Awaitable[Any]]) -> list[tuple[str, Any]]:
    """The statements (and parameters) on access_pass that `call` sends."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "access_pass" in statement:
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        await call()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    return sent


async def _plan(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    """The plan of a statement as sent; on PostgreSQL the generic plan of it as a prepared statement
    (what a driver's statement cache may run after a few executions), index scans preferred."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        name = f"listed_{uuid.uuid4().hex[:8]}"
        await connection.exec_driver_sql("SET enable_seqscan = off")
        await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE {name} AS {statement}")
        values = ", ".join(f"'{value.isoformat() if hasattr(value, 'isoformat') else value}'" for value in parameters)
        rows = await connection.exec_driver_sql(f"EXPLAIN EXECUTE {name}({values})")
        plan = "\n".join(str(row[0]) for row in rows)
        await connection.rollback()
        return plan


async def test_the_revocation_list_queries_use_the_index(engine, session_factory, world, clock):
    await _passes(session_factory, clock, 200)
    now = clock.now()
    async with session_factory() as session:
        listed = await publication.revoked_serials(session, AUTHORITY_PARIS_ID, now=now)
    # Revoked or suspended, not expired: n % 10 in (8, 9) and n % 20 >= 10.
    assert sorted(listed) == sorted(bytes.fromhex(f"{0xA000000000000000 + n:016X}") for n in range(200)
                                    if n % 10 >= 8 and n % 20 >= 10)

    async def both() -> None:
        async with session_factory() as session:
            await publication.revoked_serials(session, AUTHORITY_PARIS_ID, now=now)
            await publication._revocation_list(session, AUTHORITY_PARIS_ID, "paris", now)

    sent = await _sent(engine, both)
    assert len(sent) == 2
    for statement, parameters in sent:
        assert "IN ('revoked', 'suspended')" in statement  # the index predicate, as is
        plan = await _plan(engine, statement, parameters)
        assert INDEX in plan, plan
        if engine.dialect.name == "postgresql":
            assert "Index Only Scan" in plan, plan
