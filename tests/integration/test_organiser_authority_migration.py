"""Migration 0007 attaches existing organisers to an authority, on SQLite and PostgreSQL: the one their
events were submitted to (the most events wins), else the only authority, else none."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from cirqliz.db.engine import create_engine
from cirqliz.db.migrate import upgrade
from cirqliz.settings import Settings

T = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
A, B = uuid.uuid4(), uuid.uuid4()
BUSY, IDLE = uuid.uuid4(), uuid.uuid4()  # organisers: with events (1 to A, 2 to B), without


async def _execute(url: str, statements: list[tuple[str, list[dict]]]) -> list:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as connection:
            for sql, rows in statements:
                if rows:
                    await connection.execute(sa.text(sql), rows)
            if statements:
                return []
            result = await connection.execute(sa.text(
                "SELECT id, authority_id FROM organisation WHERE kind = 'organiser'"))
            return [(uuid.UUID(str(i)), uuid.UUID(str(a)) if a else None) for i, a in result.all()]
    finally:
        await engine.dispose()


def _ids(url: str, value: uuid.UUID) -> object:
    return value.hex if url.startswith("sqlite") else value


def _seed(url: str, authorities: list[uuid.UUID]) -> list[tuple[str, list[dict]]]:
    org = ("INSERT INTO organisation (id, kind, code, name, next_zone_ref, last_bundle_seq, created_at) "
           "VALUES (:id, :kind, :code, :name, 1, 0, :at)")
    rows = [{"id": _ids(url, a), "kind": "authority", "code": f"a{n}", "name": f"A{n}", "at": T}
            for n, a in enumerate(authorities)]
    rows += [{"id": _ids(url, o), "kind": "organiser", "code": f"o{n}", "name": f"O{n}", "at": T}
             for n, o in enumerate((BUSY, IDLE))]
    events, approvals = [], []
    for target in (A, B, B) if len(authorities) > 1 else ():
        event = uuid.uuid4()
        events.append({"id": _ids(url, event), "org": _ids(url, BUSY), "at": T, "end": T + timedelta(days=1)})
        approvals.append({"id": _ids(url, event), "auth": _ids(url, target), "at": T})
    return [
        (org, rows),
        ("INSERT INTO event (id, organiser_id, name, starts_at, ends_at, created_at) "
         "VALUES (:id, :org, 'E', :at, :end, :at)", events),
        ("INSERT INTO event_approval (event_id, authority_id, status, pass_quota, updated_at) "
         "VALUES (:id, :auth, 'approved', 0, :at)", approvals),
    ]


def test_organisers_go_to_the_authority_of_their_events(empty_database_url) -> None:
    url = empty_database_url
    upgrade(url, "0006")
    asyncio.run(_execute(url, _seed(url, [A, B])))
    upgrade(url)
    assigned = dict(asyncio.run(_execute(url, [])))
    assert assigned == {BUSY: B, IDLE: None}  # two authorities: the one without events is left alone


def test_organisers_go_to_the_only_authority(empty_database_url) -> None:
    url = empty_database_url
    upgrade(url, "0006")
    asyncio.run(_execute(url, _seed(url, [A])))
    upgrade(url)
    assert dict(asyncio.run(_execute(url, []))) == {BUSY: A, IDLE: A}
