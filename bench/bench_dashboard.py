"""The authority dashboard's check charts over 200,000 checks, on PostgreSQL and SQLite.

Setup (not timed): a scratch database (PostgreSQL bench_<random>, or a SQLite file in a temporary
folder), migrated with Alembic; the two authorities, people and zones of tests/factories.py; then
200,000 pass_check rows of authority Paris spread over the last 40 days (75 % VALID, 18 % REFUSED
with five reason codes, 7 % UNCERTAIN) and 20,000 of another authority, by one INSERT … SELECT
(generate_series on PostgreSQL, a recursive CTE on SQLite); then ANALYZE.

Measured: cirqliz.issuance.dashboard_stats.check_charts for the 30-day period in Europe/Paris (what
the dashboard page runs for its two check charts: one grouped statement), in one transaction from
the application's own engine and session factory.
Baseline: the bare statement that reads the same period once,
    SELECT verdict, count(*) FROM pass_check WHERE checked_at >= :start AND checked_at < :end
    GROUP BY verdict
(no scope, no hour buckets), in the same kind of transaction. Interleaved rounds, best of each;
target: ours <= 6x the baseline (a query per row or per hour would be hundreds of times slower).
Both must count the same Paris checks (the other authority's 20,000 are outside the scope).
Quick mode: 10,000 checks. If PostgreSQL does not answer, its row says 'not measured'.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.harness import (
    Config,
    Row,
    migrate,
    not_measured,
    postgres_unreachable,
    postgres_url,
    scratch_postgres,
)
from cirqliz.clock import FixedClock
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.issuance import dashboard_stats as stats
from cirqliz.settings import Settings

ORDER = 85
ROUNDS = 5
LIMIT = 6.0
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
OTHER_AUTHORITY_CHECKS = 20_000
TESTS = Path(__file__).resolve().parents[1] / "tests"

_BARE = text("SELECT verdict, count(*) FROM pass_check WHERE checked_at >= :start AND checked_at < :end "
             "GROUP BY verdict")

# i -> a time in the last 40 days, a verdict and a reason (same spread on both databases).
_PG_ROWS = """
INSERT INTO pass_check (id, agent_id, zone_id, checked_at, verdict, reason_code)
SELECT gen_random_uuid(), CAST(:agent AS uuid), CAST(:zone AS uuid),
       CAST(:now AS timestamptz) - ((i * 7919) % 3456000) * interval '1 second',
       CASE WHEN i % 100 < 75 THEN 'VALID' WHEN i % 100 < 93 THEN 'REFUSED' ELSE 'UNCERTAIN' END,
       CASE WHEN i % 100 BETWEEN 75 AND 92 THEN (ARRAY['REVOKED','EXPIRED','OUTSIDE_HOURS','WRONG_ZONE',
            'PLATE_MISMATCH'])[1 + i % 5] END
FROM generate_series(1, :total) AS i
"""
_SQLITE_ROWS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :total)
INSERT INTO pass_check (id, agent_id, zone_id, checked_at, verdict, reason_code)
SELECT lower(hex(randomblob(16))), :agent, :zone,
       strftime('%Y-%m-%d %H:%M:%f', :now, '-' || ((i * 7919) % 3456000) || ' seconds'),
       CASE WHEN i % 100 < 75 THEN 'VALID' WHEN i % 100 < 93 THEN 'REFUSED' ELSE 'UNCERTAIN' END,
       CASE WHEN i % 100 BETWEEN 75 AND 92 THEN
            CASE i % 5 WHEN 0 THEN 'REVOKED' WHEN 1 THEN 'EXPIRED' WHEN 2 THEN 'OUTSIDE_HOURS'
                       WHEN 3 THEN 'WRONG_ZONE' ELSE 'PLATE_MISMATCH' END END
FROM n
"""


def _ids(sqlite: bool, *values: Any) -> list[str]:
    return [v.hex if sqlite else str(v) for v in values]


async def _populate(url: str, total: int) -> None:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from factories import (  # the tests' named world: two authorities, their agents and zones
        T0,
        USER_AGENT_ID,
        ZONE_CENTRE_ID,
        seed_world,
    )

    from cirqliz.issuance.organisations import add_membership, create_organisation, create_user
    from cirqliz.issuance.zones import create_zone

    sqlite = url.startswith("sqlite")
    engine = create_engine(Settings(database_url=url))
    maker = create_session_factory(engine)
    clock = FixedClock(T0)
    try:
        async with maker() as session, session.begin():
            await seed_world(session, clock)
            other = await create_organisation(session, kind="authority", code="autre", name="Autre ville",
                                              clock=clock)
            agent = await create_user(session, email="agent@autre.test", display_name="Agent", clock=clock)
            await add_membership(session, user_id=agent.id, organisation_id=other.id, role="agent", clock=clock)
            zone = await create_zone(session, authority_id=other.id, code="AUTRE", name="Autre",
                                     kind="limited_traffic", clock=clock,
                                     geometry={"type": "Polygon", "coordinates": [[[4.8, 45.7], [4.9, 45.7],
                                                                                   [4.9, 45.8], [4.8, 45.7]]]})
            rows = _SQLITE_ROWS if sqlite else _PG_ROWS
            now = NOW.strftime("%Y-%m-%d %H:%M:%S") if sqlite else NOW
            for agent_id, zone_id, count in ((USER_AGENT_ID, ZONE_CENTRE_ID, total),
                                             (agent.id, zone.id, OTHER_AUTHORITY_CHECKS)):
                a, z = _ids(sqlite, agent_id, zone_id)  # asyncpg casts text to uuid; SQLite stores hex
                params = {"agent": a, "zone": z, "now": now, "total": count}
                await (await session.connection()).execute(text(rows), params)
        async with maker() as session, session.begin():
            await (await session.connection()).execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def _measure(url: str, rounds: int) -> tuple[float, float, int, int]:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from factories import AUTHORITY_PARIS_ID

    engine = create_engine(Settings(database_url=url))
    maker = create_session_factory(engine)
    period = stats.period_ending(NOW, 30, "Europe/Paris")
    sqlite = url.startswith("sqlite")
    bounds = {"start": period.start, "end": period.end}
    if sqlite:
        bounds = {k: v.strftime("%Y-%m-%d %H:%M:%S") for k, v in bounds.items()}

    async def ours() -> int:
        async with maker() as session, session.begin():
            charts = await stats.check_charts(session, AUTHORITY_PARIS_ID, period)
        return sum(h.total for h in charts.per_hour)

    async def bare() -> int:
        async with maker() as session, session.begin():
            return sum(n for _, n in (await (await session.connection()).execute(_BARE, bounds)).all())

    try:
        counted = {"ours": await ours(), "bare": await bare()}  # warm-up
        best = {"ours": float("inf"), "bare": float("inf")}
        for round_ in range(rounds):
            for name in ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours"):
                start = time.perf_counter()
                await (ours() if name == "ours" else bare())
                best[name] = min(best[name], time.perf_counter() - start)
    finally:
        await engine.dispose()
    return best["ours"], best["bare"], counted["ours"], counted["bare"]


def _row(name: str, url: str, total: int, rounds: int) -> Row:
    asyncio.run(_populate(url, total))
    ours, bare, counted, everything = asyncio.run(_measure(url, rounds))
    # The bare count includes the other authority's checks of the period; ours must not.
    ok = 0 < counted < everything
    note = (f"{total:,} checks, 30 days: {counted:,} of this authority in the period, {everything:,} in all; "
            "1 grouped statement")
    return Row(name, "ms", ours * 1000, bare * 1000, limit=LIMIT, note=note, ok=ok)


def run(config: Config) -> list[Row]:
    """Rows: the dashboard's check charts on PostgreSQL, then on SQLite."""
    total = config.scale(200_000, 10_000)
    rounds = config.scale(ROUNDS, 2)
    rows = []
    name = f"dashboard check charts, {total // 1000}k checks, PostgreSQL"
    reason = postgres_unreachable()
    if reason:
        rows.append(not_measured(name, "ms", reason, limit=LIMIT))
    else:
        with scratch_postgres() as database:
            url = postgres_url(database)
            migrate(url)
            rows.append(_row(name, url, total, rounds))
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        migrate(url)
        rows.append(_row(f"dashboard check charts, {total // 1000}k checks, SQLite", url, total, rounds))
    return rows
