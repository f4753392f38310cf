"""Expiring 1,000,000 passes on PostgreSQL: the service against the bare SQL UPDATE (BRIEF §8: <= 1.2×).

Setup (not timed): a scratch database bench_<random>, migrated with Alembic, one authority, then
1,000,000 access_pass rows due to expire (95 % active, 5 % suspended, expired within the last
16 hours) and 50,000 that are not (active, expiring later), written by one INSERT … SELECT over
generate_series with realistic row sizes (a 258-character signed text, windows and zone refs as
JSON, unique serials, all of the table's indexes); then VACUUM (FREEZE, ANALYZE) and a CHECKPOINT.
Two identical copies are made from it (CREATE DATABASE … TEMPLATE, STRATEGY FILE_COPY).

Measured, on copy A: cirqliz.issuance.passes.expire_passes in one transaction (an AsyncSession
from the application's own engine and session factory, asyncpg), commit included.
Baseline, on copy B: the bare statement in one transaction on the same kind of engine:
    UPDATE access_pass SET status = 'expired', updated_at = :now
    WHERE status IN ('active', 'suspended') AND expires_at <= :now
Both start after a CHECKPOINT with a connection already open. Two rounds (`ROUNDS`), alternating
which goes first, the table keeps the best of each (2 copies per round, each dropped once used);
an UPDATE of 1M rows takes 40-50 s on the 2-core reference machine, so this benchmark is most of
the suite's time (about 4 of its 9 minutes). Quick mode: 10,000 rows, one round.
Both must report the same number of rows changed.

The statements expire_passes sends are recorded (SQLAlchemy before_cursor_execute): the note says
whether it is set-based (a single UPDATE of access_pass, plus its one audit INSERT) — if it were
not, the row says so (the service is not this module's to change).
If PostgreSQL does not answer, the row says 'not measured' with the reason.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text

from bench.harness import (
    Config,
    Row,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    not_measured,
    postgres_admin,
    postgres_unreachable,
    postgres_url,
)
from cirqliz.clock import FixedClock
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.issuance.passes import expire_passes
from cirqliz.settings import Settings

ORDER = 80
ROUNDS = 2
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
AUTHORITY = "00000000-0000-4000-a000-0000000000a1"
TEXT = "CQ1:" + "6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3" * 6  # 274 chars, Base45 alphabet
BARE_SQL = text(
    "UPDATE access_pass SET status = 'expired', updated_at = :now "
    "WHERE status IN ('active', 'suspended') AND expires_at <= :now"
)

_POPULATE = """
INSERT INTO access_pass (id, serial, application_id, vehicle_id, authority_id, plate, purpose, not_before,
                         expires_at, windows, zone_refs, status, kid, signed_text, issued_at, issued_by_id,
                         updated_at)
SELECT gen_random_uuid(), upper(lpad(to_hex(i), 16, '0')), NULL, NULL, %(authority)s,
       'AB' || lpad((i %% 1000)::text, 3, '0') || 'CD', 1 + i %% 9,
       %(now)s::timestamptz - interval '90 days',
       CASE WHEN i <= %(due)s THEN %(now)s::timestamptz - (i %% 960) * interval '1 minute'
            ELSE %(now)s::timestamptz + (1 + i %% 90) * interval '1 day' END,
       '[{"weekdays": 31, "start": 420, "end": 660}, {"weekdays": 32, "start": 480, "end": 750}]',
       '[101, 102, 103]',
       CASE WHEN i <= %(due)s AND i %% 20 = 0 THEN 'suspended' ELSE 'active' END,
       '0123456789abcdef', %(text)s, %(now)s::timestamptz - interval '91 days', NULL,
       %(now)s::timestamptz - interval '91 days'
FROM generate_series(1, %(total)s) AS i
"""


def _populate(database: str, due: int) -> None:
    import psycopg

    with psycopg.connect(postgres_url(database, "postgresql"), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO organisation (id, kind, code, name, next_zone_ref, created_at) "
            "VALUES (%s, 'authority', 'bench75', 'Ville de Banc', 1, now())", (AUTHORITY,))
        conn.execute(_POPULATE, {"authority": AUTHORITY, "now": NOW, "due": due, "total": due + due // 20,
                                 "text": TEXT})
        conn.execute("VACUUM (FREEZE, ANALYZE) access_pass")
        conn.execute("CHECKPOINT")


async def _expire(database: str, *, service: bool) -> tuple[float, int, list[str]]:
    engine = create_engine(Settings(database_url=postgres_url(database)))
    statements: list[str] = []
    try:
        maker = create_session_factory(engine)
        async with engine.connect() as conn:  # open the pooled connection before timing
            await conn.execute(text("SELECT 1"))
        with postgres_admin() as admin:
            admin.execute("CHECKPOINT")

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(" ".join(statement.split()))

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        start = time.perf_counter()
        if service:
            async with maker() as session, session.begin():
                count = await expire_passes(session, clock=FixedClock(NOW))
        else:
            async with engine.begin() as conn:
                count = (await conn.execute(BARE_SQL, {"now": NOW})).rowcount
        elapsed = time.perf_counter() - start
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        return elapsed, count, statements
    finally:
        await engine.dispose()


def _set_based(statements: list[str]) -> tuple[bool, str]:
    touching = [s for s in statements if "access_pass" in s]
    updates = [s for s in touching if s.upper().startswith("UPDATE ACCESS_PASS")]
    others = [s for s in statements if "access_pass" not in s]
    ok = len(touching) == 1 and len(updates) == 1 and "WHERE" in updates[0].upper()
    summary = (f"{len(statements)} statement(s): {len(updates)} UPDATE access_pass"
               + (f" ({updates[0][:120]}…)" if updates else "")
               + (f", {len(touching) - len(updates)} other on access_pass" if len(touching) > len(updates) else "")
               + (f", then {'; '.join(' '.join(s.split()[:3]) for s in others)}" if others else ""))
    return ok, summary


def run(config: Config) -> list[Row]:
    due = config.scale(1_000_000, 10_000)
    rounds = config.scale(ROUNDS, 1)
    name = f"expire {due:,} passes (PostgreSQL): expire_passes vs bare UPDATE"
    reason = postgres_unreachable()
    if reason:
        return [not_measured(name, "s", reason)]
    created: list[str] = []
    try:
        template = create_postgres_database()
        created.append(template)
        migrate(postgres_url(template))
        start = time.perf_counter()
        _populate(template, due)
        populate_s = time.perf_counter() - start
        copies = []
        for _ in range(2 * rounds):
            copies.append(create_postgres_database(template))
            created.append(copies[-1])
        samples: dict[str, list[float]] = {"service": [], "bare": []}
        counts: dict[str, set[int]] = {"service": set(), "bare": set()}
        statements: list[str] = []
        for r in range(rounds):
            order = [("service", True), ("bare", False)] if r % 2 == 0 else [("bare", False), ("service", True)]
            for i, (side, service) in enumerate(order):
                elapsed, count, sent = asyncio.run(_expire(copies[2 * r + i], service=service))
                samples[side].append(elapsed)
                counts[side].add(count)
                if service:
                    statements = sent
                drop_postgres_database(copies[2 * r + i])  # free the disk as soon as done
    finally:
        for database in created:
            drop_postgres_database(database)
    set_based, summary = _set_based(statements)
    same = counts["service"] == counts["bare"] == {due}
    ours, bare = min(samples["service"]), min(samples["bare"])
    problems = []
    if not same:
        problems.append(f"rows changed: service {sorted(counts['service'])}, bare {sorted(counts['bare'])}, "
                        f"expected {due}")
    if not set_based:
        problems.append("expire_passes is NOT set-based")
    note = (f"{'; '.join(problems) + '; ' if problems else ''}expire_passes sent {summary}; "
            f"{rounds} round(s), best of each; populating took {populate_s:.0f} s")
    return [
        Row(name, "s", ours, bare, limit=1.2, note=note, ok=same,
            extra={"set_based": set_based, "service_s": samples["service"], "bare_s": samples["bare"],
                   "statements": statements, "rows": due, "populate_s": populate_s}),
    ]
