"""insert_rows (cirqliz.db.bulk_insert), on SQLite and PostgreSQL: COPY (PostgreSQL) stores exactly
what an INSERT of the same rows stores, JSON null and SQL NULL included; a violated constraint is an
IntegrityError either way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from cirqliz.db.bulk_insert import COPY_MIN_ROWS, insert_rows
from cirqliz.db.models import AuditRecord

T = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)
TABLE = AuditRecord.__table__  # type: ignore[attr-defined]


def _rows(first_seq: int, count: int) -> list[dict]:
    return [{"id": uuid.uuid4(), "at": T + timedelta(microseconds=n), "actor_id": None, "entity": "pass",
             "entity_id": f"e-{n}", "action": "issue", "before": None if n % 2 else {"status": "submitted"},
             "after": {"serial": "ABC", "zones": [1, 2], "note": "élan \u2028 ✓ \"q\"", "n": n, "ok": n % 3 == 0,
                       "none": None},
             "seq": first_seq + n, "prev_hash": "0" * 64, "hash": f"{n:064x}"} for n in range(count)]


async def _stored(engine, seqs: range) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(
            "SELECT seq, at, actor_id, entity, entity_id, action, CAST(\"before\" AS TEXT), \"before\" IS NULL, "
            "CAST(\"after\" AS TEXT), prev_hash, hash FROM audit_record WHERE seq BETWEEN :a AND :b ORDER BY seq"),
            {"a": seqs.start, "b": seqs.stop - 1})).all()]


async def test_copy_stores_what_an_insert_stores(engine, backend, monkeypatch):
    import asyncpg

    copies = []
    original = asyncpg.Connection.copy_records_to_table
    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table",
                        lambda self, *a, **k: copies.append(a) or original(self, *a, **k))
    count = COPY_MIN_ROWS + 8
    async with engine.begin() as conn:
        await conn.execute(text("SELECT 1"))  # the transaction has begun, as COPY needs
        await conn.run_sync(insert_rows, TABLE, _rows(1, count))
        await conn.execute(insert(TABLE), _rows(1001, count))
    assert len(copies) == (1 if backend == "postgresql" else 0)
    copied, inserted = await _stored(engine, range(1, 1 + count)), await _stored(engine, range(1001, 1001 + count))
    assert len(copied) == count
    assert [r[1:] for r in copied] == [r[1:] for r in inserted]
    assert copied[1][6:8] == inserted[1][6:8] == ("null", False)  # Python None: JSON null, as an INSERT stores it


async def test_few_rows_go_through_an_insert_and_conflicts_raise(engine):
    async with engine.begin() as conn:
        await conn.execute(text("SELECT 1"))
        await conn.run_sync(insert_rows, TABLE, _rows(1, 2))
        await conn.run_sync(insert_rows, TABLE, [])
    assert len(await _stored(engine, range(1, 3))) == 2
    with pytest.raises(IntegrityError):  # seq is unique
        async with engine.begin() as conn:
            await conn.execute(text("SELECT 1"))
            await conn.run_sync(insert_rows, TABLE, _rows(2, COPY_MIN_ROWS))
    assert len(await _stored(engine, range(1, 100))) == 2
