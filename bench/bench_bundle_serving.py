"""Bundle endpoints against a static file of the same size, served by the same app (issue 18: >= 0.8×).

The real application (cirqliz.web.app.create_app, env "production", scheduler off) runs under
uvicorn with 2 workers, exactly as bench_online runs it (bench.bench_online.serve: same launcher,
listening socket with TCP_NODELAY on accepted connections). To that same application, and so
behind the same middleware, hooks and server settings, the benchmark adds a Litestar static files
router at /bundle/bench-static/ (under /bundle/, so the same cookie and session exclusions apply)
serving two files written for the run: one of the size of the full bundle, one of the size of the
delta.

Rows, anonymous GET, 32 keep-alive connections (the asyncio HTTP/1.1 client of bench_online), 2 rounds
alternating which side goes first, best of each:
- `GET /bundle/<code>.cose` (the full bundle, from the cache) vs the static file of its size;
- `GET /bundle/<code>.cose?since=N` (a delta signed once, then from the cache) vs the static file
  of its size.
The ratio is the bundle endpoint's requests per second over the static file's (target >= 0.8).
Database: a scratch PostgreSQL database (SQLite file when PostgreSQL does not answer), migrated,
the demo world seeded and published twice (seq 2, so `since=1` gives a delta).
Quick mode: one round, 1 s per measurement after a 0.5 s warm-up (full: 8 s after 2 s).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.bench_online import CONNECTIONS, _python_load, _sqlite, serve
from bench.harness import Config, Row, migrate, postgres_unreachable, postgres_url, scratch_postgres

ORDER = 101
MODULE = "bench.bench_bundle_serving"
STATIC_ENV = "CIRQLIZ_BENCH_STATIC_DIR"
STATIC_PATH = "/bundle/bench-static"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FULL_NAME = "GET /bundle/<code>.cose (cached) vs static file, same app (req/s)"
DELTA_NAME = "GET /bundle/<code>.cose?since=N (cached delta) vs static file (req/s)"


def cirqliz_with_static() -> Any:
    """The real application from CIRQLIZ_* variables, plus a static files router over the run's folder."""
    from litestar.static_files import create_static_files_router

    from cirqliz.settings import Settings
    from cirqliz.web.app import create_app

    app = create_app(Settings.from_env())
    app.register(create_static_files_router(path=STATIC_PATH, directories=[os.environ[STATIC_ENV]],
                                            name="bench_static", opt={"exclude_from_auth": True}))
    return app


async def _seed(url: str, keys: Path) -> str:
    """The demo world, published twice; the authority's code."""
    from cirqliz.clock import FixedClock
    from cirqliz.db.engine import create_engine, create_session_factory
    from cirqliz.demo.seed import AUTHORITY_CODE, seed_demo
    from cirqliz.settings import Settings

    clock = FixedClock(T0)
    engine = create_engine(Settings(database_url=url))
    try:
        maker = create_session_factory(engine)
        await seed_demo(maker, keys_root=keys, clock=clock)
        clock.advance(timedelta(minutes=5))
        await seed_demo(maker, keys_root=keys, clock=clock)  # a second call republishes: seq 2
    finally:
        await engine.dispose()
    return AUTHORITY_CODE


def _get(port: int, path: str, seconds: float) -> dict[str, float]:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    return asyncio.run(_python_load(port, request, seconds))


def _row(name: str, ours: list[dict[str, float]], static: list[dict[str, float]], size: int) -> Row:
    best, base = max(ours, key=lambda x: x["rps"]), max(static, key=lambda x: x["rps"])
    bad = sum(x["bad"] for x in ours + static)
    note = (f"{size:,} bytes; static file of the same size by a Litestar static files router in the same app; "
            f"uvicorn 2 workers, TCP_NODELAY; asyncio client, {CONNECTIONS} connections, best of each")
    if bad:
        note = f"{bad:.0f} non-2xx answers under load; {note}"
    return Row(name, "req/s", best["rps"], base["rps"], op=">=", limit=0.8, note=note, ok=not bad,
               extra={"ours": ours, "static": static, "bytes": size})


def run(config: Config) -> list[Row]:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # quick: the smoke run checks the rows, 0.5 s of 32 connections is hundreds of requests per side
    seconds, warm, rounds = (0.5, 0.0, 1) if config.quick else (8, 2, 2)  # quick: no warm-up load
    with tempfile.TemporaryDirectory(prefix="cirqliz-bench-bundles-") as tmp:
        folder = Path(tmp)
        static = folder / "static"
        static.mkdir()
        unreachable = postgres_unreachable()
        with (_sqlite(folder) if unreachable else scratch_postgres()) as database:
            url = database if unreachable else postgres_url(database)
            migrate(url)
            code = asyncio.run(_seed(url, folder / "keys"))
            env = {
                "CIRQLIZ_DATABASE_URL": url, "CIRQLIZ_ENV": "production",
                "CIRQLIZ_SECRET_KEY": secrets.token_urlsafe(32), "CIRQLIZ_KEYS_DIR": str(folder / "keys"),
                "CIRQLIZ_DOCUMENTS_DIR": str(folder / "documents"), "CIRQLIZ_OUTBOX_DIR": str(folder / "outbox"),
                "CIRQLIZ_REDIS_URL": "", "CIRQLIZ_SCHEDULER_ENABLED": "0", STATIC_ENV: str(static),
            }
            with serve("cirqliz_with_static", env, folder / "server.log", "nodelay", module=MODULE) as port:
                base = f"http://127.0.0.1:{port}"
                full = httpx.get(f"{base}/bundle/{code}.cose", timeout=30)
                delta = httpx.get(f"{base}/bundle/{code}.cose", params={"since": 1}, timeout=30)
                problems = [f"{what}: HTTP {r.status_code}" for what, r in (("full", full), ("delta", delta))
                            if r.status_code != 200]
                if not problems and delta.headers.get("x-bundle-kind") != "delta":
                    problems.append(f"since=1 gave a {delta.headers.get('x-bundle-kind')} bundle, not a delta")
                if problems:
                    return [Row(FULL_NAME, "req/s", None, note="; ".join(problems), ok=False)]
                (static / "full.bin").write_bytes(os.urandom(len(full.content)))
                (static / "delta.bin").write_bytes(os.urandom(len(delta.content)))
                for name in ("full.bin", "delta.bin"):
                    answer = httpx.get(f"{base}{STATIC_PATH}/{name}", timeout=30)
                    if answer.status_code != 200 or answer.content != (static / name).read_bytes():
                        return [Row(FULL_NAME, "req/s", None, ok=False,
                                    note=f"the static file {name} is not served: HTTP {answer.status_code}")]
                rows = []
                for name, path, static_path, size in (
                    (FULL_NAME, f"/bundle/{code}.cose", f"{STATIC_PATH}/full.bin", len(full.content)),
                    (DELTA_NAME, f"/bundle/{code}.cose?since=1", f"{STATIC_PATH}/delta.bin", len(delta.content)),
                ):
                    results: dict[str, list[dict[str, float]]] = {"ours": [], "static": []}
                    for r in range(rounds):
                        for side in ("static", "ours") if r % 2 == 0 else ("ours", "static"):
                            target = path if side == "ours" else static_path
                            if warm:
                                _get(port, target, warm)
                            results[side].append(_get(port, target, seconds))
                    rows.append(_row(name, results["ours"], results["static"], size))
    shutil.rmtree(folder, ignore_errors=True)
    return rows
