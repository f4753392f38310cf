"""Streaming 1,000,000 exemption rows as CSV on PostgreSQL (issue 18: >= 0.8x the bare cursor + csv.writer
on the same rows; brief: >= 100,000 rows/s, flat memory).

Setup (not timed): a scratch database bench_<random>, migrated with Alembic, one authority with two
low-emission zones, then 1,000,000 Exemption rows written by one INSERT … SELECT over
generate_series (900,000 in zone ZFE, 100,000 in zone PETITE; normalised plates, 1 in 20 foreign
'D:…', the three kinds, dates spread around the export day so all three statuses occur, no pass,
all of the table's indexes); then VACUUM (FREEZE, ANALYZE) and a CHECKPOINT.

Measured: cirqliz.issuance.exemptions.stream_export, format csv, no filter (1,000,000 rows), with
the application's own engine and session factories (read-only reader, asyncpg), its default batch
size; the async generator is consumed chunk by chunk, counting bytes and lines, nothing kept. Its
audit record (written at the end) is included in the time and must say 1,000,000 rows, complete.
Baseline: the same rows and columns as the service's exemption query (same joins, same ORDER BY),
read with a bare asyncpg server-side cursor (`cursor.fetch` by the same batch size, in a
transaction) and written with csv.writer to a StringIO per batch, encoded, not kept. Rows/s are
the best of `ROUNDS` rounds, alternating which goes first; the target is on the ratio ours/baseline
(>= RATIO_LIMIT); the note says whether the brief's absolute rate (RATE_LIMIT rows/s) was reached too.

Memory: tracemalloc's peak (above what was allocated before the export started) while streaming
100,000 rows (filter zone=PETITE, after an untraced warm-up of that export) and while streaming
1,000,000 rows (no filter, already warmed up by the timed rounds); flat memory means peak(1M) / peak(100k) stays near 1
(target <= 1.5). tracemalloc slows Python down, so those runs are not timed.
Quick mode: 10,000 vs 50,000 rows. The scratch database is always dropped.
If PostgreSQL does not answer, the rows say 'not measured' with the reason.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench.harness import (
    Config,
    Row,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    not_measured,
    postgres_unreachable,
    postgres_url,
)
from cirqliz.clock import FixedClock
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.issuance.exemptions import DEFAULT_BATCH, ExemptionFilter, stream_export
from cirqliz.settings import Settings

ORDER = 85
ROUNDS = 2
MIB = 1024 * 1024
MEMORY_LIMIT = 1.5
RATE_LIMIT = 100_000
RATIO_LIMIT = 0.8
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AUTHORITY = uuid.UUID("00000000-0000-4000-a000-0000000000e1")
BIG_ZONE, SMALL_ZONE = "ZFE", "PETITE"
BIG_ZONE_ID = "00000000-0000-4000-a000-0000000000e2"
SMALL_ZONE_ID = "00000000-0000-4000-a000-0000000000e3"

_ZONE = """
INSERT INTO zone (id, authority_id, ref, code, name, kind, geometry, time_zone, status, permanent, data_version,
                  created_at, updated_at)
VALUES (%(id)s, %(authority)s, %(ref)s, %(code)s, %(name)s, 'low_emission',
        '{"type": "Polygon", "coordinates": [[[2.29, 48.85], [2.35, 48.85], [2.35, 48.88], [2.29, 48.85]]]}',
        'Europe/Paris', 'active', true, 1, %(now)s, %(now)s)
"""

# Plates: AB123CD-style from i (unique), every 20th a German one ('D:' + 7 characters, as normalised).
_POPULATE = """
INSERT INTO exemption (id, zone_id, vehicle_id, plate, kind, starts_on, ends_on, pass_id, reason, created_by_id,
                       created_at)
SELECT gen_random_uuid(),
       CASE WHEN i <= %(small)s THEN %(small_zone)s::uuid ELSE %(big_zone)s::uuid END,
       NULL,
       CASE WHEN i %% 20 = 0 THEN 'D:B' ELSE '' END
         || chr(65 + (i / 17576) %% 26) || chr(65 + (i / 676) %% 26) || lpad((i %% 1000)::text, 3, '0')
         || chr(65 + (i / 26) %% 26) || chr(65 + i %% 26),
       (ARRAY['national', 'local', 'day_pass'])[1 + i %% 3],
       %(today)s::date - 400 + i %% 600,
       %(today)s::date - 400 + i %% 600 + CASE WHEN i %% 3 = 2 THEN 0 ELSE 30 + i %% 335 END,
       NULL,
       CASE WHEN i %% 3 = 1 THEN 'Véhicule de collection' ELSE NULL END,
       NULL,
       %(now)s::timestamptz - (i %% 400) * interval '1 day'
FROM generate_series(1, %(total)s) AS i
"""

# The service's exemption query (same columns, joins, filter and order), written by hand.
_BARE_SQL = """
SELECT e.plate, e.kind, z.code, z.ref, z.time_zone, e.starts_on, e.ends_on, p.serial
FROM exemption AS e
JOIN zone AS z ON z.id = e.zone_id
LEFT OUTER JOIN access_pass AS p ON p.id = e.pass_id
WHERE z.authority_id = $1
ORDER BY e.plate, e.id
"""


def _populate(database: str, total: int, small: int) -> None:
    import psycopg

    with psycopg.connect(postgres_url(database, "postgresql"), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO organisation (id, kind, code, name, next_zone_ref, created_at) "
            "VALUES (%s, 'authority', 'benchzfe', 'Métropole de Banc', 3, %s)", (AUTHORITY, NOW))
        for ref, (zone_id, code) in enumerate([(BIG_ZONE_ID, BIG_ZONE), (SMALL_ZONE_ID, SMALL_ZONE)], start=1):
            conn.execute(_ZONE, {"id": zone_id, "authority": AUTHORITY, "ref": ref, "code": code,
                                 "name": f"Zone {code}", "now": NOW})
        conn.execute(_POPULATE, {"small": small, "total": total, "small_zone": SMALL_ZONE_ID,
                                 "big_zone": BIG_ZONE_ID, "today": NOW.date(), "now": NOW})
        conn.execute("VACUUM (FREEZE, ANALYZE) exemption")
        conn.execute("CHECKPOINT")


def _audited(database: str) -> list[tuple[Any, Any]]:
    """(rows, complete) of every export audit record, oldest first."""
    import psycopg

    with psycopg.connect(postgres_url(database, "postgresql"), autocommit=True) as conn:
        return conn.execute(
            "SELECT after->>'rows', after->>'complete' FROM audit_record WHERE action = 'export_exemptions' "
            "ORDER BY at, id").fetchall()


async def _consume(chunks: AsyncIterator[bytes]) -> tuple[int, int]:
    """Bytes and CSV lines of a stream (header included), nothing kept."""
    size = lines = 0
    async for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\r\n")
    return size, lines


class _Bench:
    """The application's engine and session factories on the scratch database, plus a bare asyncpg connection."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.engine = create_engine(Settings(database_url=postgres_url(database)))
        self.read = create_session_factory(self.engine, read_only=True)
        self.write = create_session_factory(self.engine)
        self.raw: Any = None

    async def open(self) -> None:
        import asyncpg
        from sqlalchemy import text

        async with self.engine.connect() as conn:  # open the pooled connection before timing
            await conn.execute(text("SELECT 1"))
        self.raw = await asyncpg.connect(postgres_url(self.database, "postgresql"))

    async def close(self) -> None:
        if self.raw is not None:
            await self.raw.close()
        await self.engine.dispose()

    async def ours(self, zone: str | None = None) -> tuple[int, int]:
        return await _consume(stream_export(
            self.read, self.write, authority_id=AUTHORITY, filters=ExemptionFilter(zone=zone), fmt="csv",
            clock=FixedClock(NOW), actor_id=None, channel="bench"))

    async def bare(self) -> tuple[int, int]:
        async def chunks() -> AsyncIterator[bytes]:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerow(("plate", "kind", "zone_code", "zone_ref", "time_zone", "starts_on", "ends_on",
                             "serial"))
            yield buffer.getvalue().encode("utf-8")
            async with self.raw.transaction():
                cursor = await self.raw.cursor(_BARE_SQL, AUTHORITY)
                while records := await cursor.fetch(DEFAULT_BATCH):
                    buffer.seek(0)
                    buffer.truncate()
                    writer.writerows(records)
                    yield buffer.getvalue().encode("utf-8")

        return await _consume(chunks())


async def _timed(func: Callable[[], Awaitable[tuple[int, int]]]) -> tuple[float, int, int]:
    gc.collect()
    start = time.perf_counter()
    size, lines = await func()
    return time.perf_counter() - start, size, lines - 1


async def _peak(func: Callable[[], Awaitable[tuple[int, int]]], *, warm_up: bool) -> tuple[int, int]:
    """tracemalloc peak above the allocations live when the export starts, and the rows streamed."""
    if warm_up:  # untraced: statement compilation, caches
        await func()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        _, lines = await func()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before, lines - 1


async def _measure(database: str, total: int, small: int, rounds: int) -> dict[str, Any]:
    bench = _Bench(database)
    try:
        await bench.open()
        sides: dict[str, Callable[[], Awaitable[tuple[int, int]]]] = {"ours": bench.ours, "bare": bench.bare}
        seconds: dict[str, list[float]] = {"ours": [], "bare": []}
        sizes: dict[str, set[int]] = {"ours": set(), "bare": set()}
        rows: dict[str, set[int]] = {"ours": set(), "bare": set()}
        for round_ in range(rounds):
            for side in ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours"):
                elapsed, size, count = await _timed(sides[side])
                seconds[side].append(elapsed)
                sizes[side].add(size)
                rows[side].add(count)
        peak_small, rows_small = await _peak(lambda: bench.ours(SMALL_ZONE), warm_up=True)
        peak_big, rows_big = await _peak(bench.ours, warm_up=False)  # the timed rounds warmed it up
    finally:
        await bench.close()
    return {"seconds": seconds, "bytes": sizes, "rows": rows, "peak_small": peak_small, "rows_small": rows_small,
            "peak_big": peak_big, "rows_big": rows_big}


def run(config: Config) -> list[Row]:
    total = config.scale(1_000_000, 50_000)
    small = config.scale(100_000, 10_000)
    rate_name = f"export {total:,} exemption rows as CSV (PostgreSQL): stream_export vs bare cursor"
    memory_name = f"export peak Python memory: {total:,} rows vs {small:,} rows (tracemalloc)"
    reason = postgres_unreachable()
    if reason:
        return [not_measured(rate_name, "rows/s", reason, op=">=", limit=RATIO_LIMIT),
                not_measured(memory_name, "MiB", reason, limit=MEMORY_LIMIT)]
    database = create_postgres_database()
    try:
        migrate(postgres_url(database))
        start = time.perf_counter()
        _populate(database, total, small)
        populate_s = time.perf_counter() - start
        start = time.perf_counter()
        result = asyncio.run(_measure(database, total, small, ROUNDS))
        measure_s = time.perf_counter() - start
        audited = _audited(database)
    finally:
        drop_postgres_database(database)

    ours_s, bare_s = min(result["seconds"]["ours"]), min(result["seconds"]["bare"])
    problems = []
    if result["rows"]["ours"] != {total} or result["rows"]["bare"] != {total}:
        problems.append(f"rows streamed: ours {sorted(result['rows']['ours'])}, bare {sorted(result['rows']['bare'])}, "
                        f"expected {total}")
    expected = sorted([str(total)] * (ROUNDS + 1) + [str(small)] * 2)  # timed rounds, warm-up and traced runs
    if sorted(rows for rows, _ in audited) != expected or any(complete != "true" for _, complete in audited):
        problems.append(f"audit records of the exports: {audited}, expected rows {expected}, all complete")
    rate_ok = not problems
    ours_bytes = max(result["bytes"]["ours"])
    rate_note = (f"{'; '.join(problems) + '; ' if problems else ''}"
                 f"best of {ROUNDS} round(s): ours {ours_s:.2f} s for {ours_bytes / MIB:.1f} MiB of CSV, "
                 f"bare asyncpg cursor + csv.writer {bare_s:.2f} s; target ours/bare >= {RATIO_LIMIT:g}; "
                 f">= {RATE_LIMIT:,} rows/s: {'yes' if total / ours_s >= RATE_LIMIT else 'no'}; "
                 f"populating took {populate_s:.0f} s, measuring {measure_s:.0f} s")
    rate = Row(rate_name, "rows/s", total / ours_s, total / bare_s, op=">=", limit=RATIO_LIMIT,
               note=rate_note, ok=rate_ok,
               extra={"rows": total, "ours_s": result["seconds"]["ours"], "bare_s": result["seconds"]["bare"],
                      "ours_bytes": sorted(result["bytes"]["ours"]), "bare_bytes": sorted(result["bytes"]["bare"]),
                      "batch_size": DEFAULT_BATCH, "populate_s": populate_s, "audit": audited})

    memory_ok = result["rows_small"] == small and result["rows_big"] == total
    streamed = (result["rows_small"], result["rows_big"])
    memory_note = (("" if memory_ok else f"rows streamed under tracemalloc: {streamed}, expected {(small, total)}; ")
                   + f"measured = peak while streaming {total:,} rows, baseline = peak while streaming {small:,} rows "
                   f"(zone {SMALL_ZONE}); ratio = peak({total:,}) / peak({small:,}), flat memory <= {MEMORY_LIMIT:g}")
    memory = Row(memory_name, "MiB", result["peak_big"] / MIB, result["peak_small"] / MIB, limit=MEMORY_LIMIT,
                 note=memory_note, ok=memory_ok,
                 extra={"peak_big_bytes": result["peak_big"], "peak_small_bytes": result["peak_small"],
                        "rows_big": result["rows_big"], "rows_small": result["rows_small"]})
    return [rate, memory]
