"""Online verify endpoint against a hello-world Litestar app, same server and load (issue 18: >= 0.6×).

Both apps run under uvicorn on 127.0.0.1 and free ports, started as subprocesses
(`python -m bench.bench_online <factory> <port> <socket>`: exactly what `uvicorn --workers N`
does — uvicorn's Config and Multiprocess supervisor, its default loop and HTTP implementation)
and stopped at the end whatever happens (SIGTERM to their process group, SIGKILL after 10 s).
Both receive the same request: POST /api/v1/verify with the same headers and JSON body.

Workers: the target row runs ONE uvicorn worker per server. The load generator (wrk, one thread)
runs on the same 2-core machine and takes one core; one worker then has the other core to
itself, and requests per second are 1 / the server's CPU time per request, for both servers
alike. With two workers per server, three processes share two cores and the workers share one
listening socket: how the accepts fall between them (asyncio accepts in bursts, one worker can
take nearly all of wrk's 32 connections) decides the rate, and the same code measured 0.35 to
0.97 from one run to the next while its CPU per request stayed within a few per cent. The
two-worker set-up stays as an information row.

Two socket set-ups, each for both apps:
- `nodelay` (the target row and the two-worker row): the listening socket is created with proto
  IPPROTO_TCP, so asyncio sets TCP_NODELAY on every accepted connection, as it does for a
  single-process uvicorn. This measures the servers, not TCP;
- `stock` (information, two workers): uvicorn's own Config.bind_socket(), as `uvicorn --workers N`
  uses it (`cirqliz serve --workers N` now sets TCP_NODELAY on its listening socket). That socket is
  made with proto 0, asyncio then does not set TCP_NODELAY, and every keep-alive response
  (headers and body written separately) waits ~40 ms for the client's delayed ACK: measured
  with wrk on the hello world, 22 req/s on one connection
  and ~710 req/s at 32 connections, against ~5,000 with TCP_NODELAY. The row shows how much of
  that a production deployment with several workers would see.

- ours: the real application (cirqliz.web.app.create_app, env "production", scheduler off) and
  its POST /api/v1/verify — bearer-token guard (token looked up in the database, then remembered
  for TOKEN_CACHE_SECONDS per process; rate-limit counter in the app's store on every request:
  in-process memory, since the `redis` client is not installed here), the outermost middleware
  (request id, security headers, metrics, JSON access line), the issuing authority's latest
  trust bundle (opened once, cached), verify_pass, JSON verdict.
  The only change for the benchmark is app.state.api_rate_limit raised so that the guard's
  limit (120 per minute per token) does not turn the run into 429s; the counting still happens.
  Database: a scratch PostgreSQL database (SQLite file when PostgreSQL does not answer),
  migrated, seeded with the demo world, a pass issued through the services, an API token with
  the `verify` scope; a FixedClock inside the pass's hours so the verdict is VALID.
  If the endpoint is missing from the application, a minimal Litestar app in this module that
  loads the bundle once and calls verify_pass per request is measured instead (the note says so).
- hello world: a Litestar app whose handler reads the body (without parsing it) and returns
  {"hello": "world"}.
- ceiling (information, full runs only, one round, `nodelay`, one worker): `raw_verify_app`, the same
  check in a plain ASGI function, no framework at all: what the row could reach were the endpoint
  nothing but the check, on this server.
- without log and metrics (information, full runs only, one round, `nodelay`, one worker): the real
  application with its JSON access line and its request metrics turned off, against hello world: what
  those two operational features cost of the row (production keeps both).
- floor (information, one round, `nodelay`, one worker): the stand-in below, a Litestar app that only parses
  the body and calls verify_pass, against hello world: the most the row could reach on this stack
  with the same check and nothing of what the application adds around it.

Load: `wrk` (1 thread, 32 connections, 6 s; quick: 1 s) when it is on PATH, else an asyncio
HTTP/1.1 keep-alive client in this process (32 connections, same duration). A warm-up load of
2 s (quick: none, one uvicorn worker for every row, no two-worker row) precedes each measurement;
the target row runs 4 rounds in full mode, alternating which server goes first, and keeps the
best of each; the others run one. Each server is started once and serves every row that uses it. Both answers
are checked (200, and VALID for ours) before loading; non-2xx answers under load are counted and
make the row fail. Both servers run in the same interpreter, so uvicorn's "auto" picks the same
event loop and HTTP parser for both (the note names them). The note also gives each server's CPU
time per request (its process group's user + system time over the measured load): on a machine
shared with other work the request rates swing with the load, the CPU cost of a request far less.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BENCH_DIR,
    Config,
    Row,
    free_port,
    migrate,
    postgres_unreachable,
    postgres_url,
    scratch_postgres,
)

ORDER = 100
NAME = "online verify endpoint vs hello-world Litestar (req/s)"
TWO_WORKERS_NAME = "  same, 2 uvicorn workers per server (accept balance decides; see CPU per request)"
STOCK_NAME = "  same, stock `uvicorn --workers 2` socket (no TCP_NODELAY)"
FLOOR_NAME = "  floor: Litestar + verify_pass only (no token, log, metrics, headers) vs hello world"
CEILING_NAME = "  ceiling: plain ASGI function + verify_pass, no framework, vs hello world"
QUIET_NAME = "  the application without its access log and metrics (what those two cost) vs hello world"
PATH = "/api/v1/verify"
CONNECTIONS = 32
WORKERS = 1  # the target row's workers per server (see the module's docstring)
MORE_WORKERS = 2  # the information rows' (quick runs, the smoke test: one, started sooner)
WORKERS_ENV = "CIRQLIZ_BENCH_WORKERS"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris: inside PARIS-CENTRE's hours
FIXED_TIME_ENV = "CIRQLIZ_BENCH_FIXED_TIME"
BUNDLE_ENV = "CIRQLIZ_BENCH_BUNDLE"
ROOT_ENV = "CIRQLIZ_BENCH_ROOT"


# ---- the apps (uvicorn --factory imports these in its workers) ------------------------------


def hello_world() -> Any:
    """The hello-world app: reads the request body (not parsed), answers a constant JSON."""
    from litestar import Litestar, Request, post

    @post(PATH, status_code=200)
    async def hello(request: Request) -> dict[str, str]:
        await request.body()
        return {"hello": "world"}

    return Litestar(route_handlers=[hello])


def cirqliz_app() -> Any:
    """The real application from CIRQLIZ_* variables, at the fixed time, rate limit raised."""
    from cirqliz.clock import FixedClock
    from cirqliz.settings import Settings
    from cirqliz.web.app import create_app

    app = create_app(Settings.from_env(), clock=FixedClock(datetime.fromisoformat(os.environ[FIXED_TIME_ENV])))
    app.state.api_rate_limit = 10**9
    return app


def cirqliz_app_quiet() -> Any:
    """The real application with its JSON access line and request metrics off (information row: how
    much of the gap those two operational features make; production keeps both)."""
    os.environ["CIRQLIZ_METRICS_ENABLED"] = "0"
    app = cirqliz_app()
    logging.getLogger("cirqliz.access").setLevel(logging.WARNING)
    return app


def _stand_in_bundle() -> tuple[Any, int]:
    """The stand-ins' trust bundle (opened once, from BUNDLE_ENV and ROOT_ENV) and fixed time."""
    from cirqliz.clock import to_epoch
    from cirqliz.passcode.bundle import open_bundle
    from cirqliz.passcode.keys import VerifyKey

    bundle = open_bundle(Path(os.environ[BUNDLE_ENV]).read_bytes(),
                         [VerifyKey.from_pem(Path(os.environ[ROOT_ENV]).read_bytes())])
    return bundle, to_epoch(datetime.fromisoformat(os.environ[FIXED_TIME_ENV]))


def minimal_verify_app() -> Any:
    """Stand-in when the application has no verify endpoint: bundle loaded once, verify_pass per request."""
    from litestar import Litestar, post

    from cirqliz.verify import verify_pass

    bundle, now = _stand_in_bundle()

    @post(PATH, status_code=200)
    async def verify(data: dict[str, Any]) -> dict[str, Any]:
        return verify_pass(data["text"], bundle, zone=data["zone"], now=now, plate=data.get("plate")).as_json()

    return Litestar(route_handlers=[verify])


def raw_verify_app() -> Any:
    """The ceiling (information, full runs): verify_pass in a plain ASGI function, no framework and
    nothing around it (body read once, msgspec JSON both ways), the bundle loaded once."""
    import msgspec

    from cirqliz.verify import verify_pass

    bundle, now = _stand_in_bundle()
    decode, encode = msgspec.json.Decoder().decode, msgspec.json.Encoder().encode

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan: nothing to start
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = decode(body)
        answer = encode(verify_pass(data["text"], bundle, zone=data["zone"], now=now,
                                    plate=data.get("plate")).as_json())
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


def has_verify_endpoint() -> bool:
    """Whether the application routes POST /api/v1/verify."""
    try:
        from cirqliz.settings import Settings
        from cirqliz.web.app import create_app

        app = create_app(Settings(scheduler_enabled=False))
        from litestar.routes import ASGIRoute

        # An HTTP route with POST, or a plain ASGI handler (every method: it answers 405 itself).
        return any(route.path == PATH and ("POST" in getattr(route, "methods", ()) or isinstance(route, ASGIRoute))
                   for route in app.routes)
    except Exception:  # the application does not even build: measure the stand-in
        return False


# ---- setup: a database with a pass and a token ----------------------------------------------


async def _seed(url: str, keys: Path) -> dict[str, str]:
    from cirqliz.clock import FixedClock
    from cirqliz.db.engine import create_engine, create_session_factory, transaction
    from cirqliz.demo.seed import AUTHORITY_CODE, COMPANY_ID, USER_IDS, VEHICLES, ZONE_IDS, seed_demo
    from cirqliz.domain.purposes import Purpose
    from cirqliz.issuance.api_tokens import create_api_token
    from cirqliz.issuance.applications import approve_application, create_application, submit_application
    from cirqliz.issuance.signing import KeyStoreSigner
    from cirqliz.settings import Settings

    clock = FixedClock(T0)
    engine = create_engine(Settings(database_url=url))
    try:
        maker = create_session_factory(engine)
        await seed_demo(maker, keys_root=keys, clock=clock)
        signer = KeyStoreSigner(keys, clock=clock)
        async with transaction(maker) as session:
            app = await create_application(
                session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"],
                zone_ids=[ZONE_IDS["PARIS-CENTRE"]], vehicle_ids=[VEHICLES[0][0]], purpose=Purpose.DELIVERY,
                not_before=T0 - timedelta(hours=1), expires_at=T0 + timedelta(days=30), clock=clock,
            )
            await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=clock)
            (issued,) = await approve_application(session, application_id=app.id, reviewer_id=USER_IDS["reviewer"],
                                                  signer=signer, clock=clock)
            _, token = await create_api_token(session, organisation_id=COMPANY_ID, name="bench", scopes=["verify"],
                                              created_by=USER_IDS["pro"], clock=clock)
        store = signer.keystore(AUTHORITY_CODE)
        return {"text": issued.signed_text or "", "plate": VEHICLES[0][2], "token": token,
                "bundle": str(store.path / "bundles" / f"{store.last_seq}.cose"),
                "root": str(store.path / "public" / f"{store.root_kid}.pem")}
    finally:
        await engine.dispose()


# ---- servers ------------------------------------------------------------------------------

_GROUPS: dict[int, int] = {}
"""Port → process group of the server listening there (its supervisor and workers)."""


def group_cpu_seconds(group: int) -> float:
    """User + system CPU seconds used so far by the live processes of a process group (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == group:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _serve_main(factory: str, port: int, socket_mode: str, module: str = "bench.bench_online") -> None:
    """What `uvicorn --factory bench.bench_online:<factory> --workers N` does (uvicorn.main.run:
    bind the socket, uvicorn's Multiprocess supervisor), the listening socket made either by
    uvicorn (`stock`) or with proto IPPROTO_TCP (`nodelay`) so that asyncio sets TCP_NODELAY on
    every accepted connection."""
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(f"{module}:{factory}", factory=True, host="127.0.0.1", port=port,
                            workers=int(os.environ.get(WORKERS_ENV, WORKERS)), log_level="warning",
                            access_log=False, timeout_graceful_shutdown=5)
    if socket_mode == "stock":
        sock = config.bind_socket()
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


@contextmanager
def serve(factory: str, env: dict[str, str], log: Path, socket_mode: str = "nodelay",
          module: str = "bench.bench_online") -> Iterator[int]:
    """<module>:<factory> under uvicorn with env[WORKERS_ENV] workers on a free port (see _serve_main); its port."""
    port = free_port()
    command = [sys.executable, "-m", "bench.bench_online", factory, str(port), socket_mode, module]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=BENCH_DIR.parent, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{factory} exited ({process.returncode}): {log.read_text()[-500:]}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{factory} did not start in 60 s: {log.read_text()[-500:]}") from None
                time.sleep(0.2)
        _GROUPS[port] = process.pid  # start_new_session: the group's id is the supervisor's pid
        yield port
    finally:
        _GROUPS.pop(port, None)
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass


# ---- load ---------------------------------------------------------------------------------


def _wrk(port: int, headers: dict[str, str], body: str, seconds: float, folder: Path) -> dict[str, float]:
    script = folder / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "--latency",
         "-s", str(script),
         f"http://127.0.0.1:{port}{PATH}"],
        capture_output=True, text=True, timeout=seconds + 60,
    )
    out = result.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if result.returncode or not rate:
        raise RuntimeError(f"wrk failed: {result.stderr or out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    latency = float(p50.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[p50.group(2)] if p50 else float("nan")
    return {"rps": float(rate.group(1)), "bad": float(bad.group(1)) if bad else 0.0,
            "socket_errors": float(sum(int(errors.group(i)) for i in (1, 2, 3))) if errors else 0.0,
            "timeouts": float(errors.group(4)) if errors else 0.0, "p50_ms": latency}


async def _python_load(port: int, request: bytes, seconds: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def connection() -> tuple[int, int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = bad = 0
        try:
            while loop.time() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if length is None:
                    raise RuntimeError("response without Content-Length")
                await reader.readexactly(int(length.group(1)))
                done += 1
                bad += head[9:10] != b"2"
        finally:
            writer.close()
        return done, bad

    start = loop.time()
    results = await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    elapsed = loop.time() - start
    return {"rps": sum(d for d, _ in results) / elapsed, "bad": float(sum(b for _, b in results)),
            "socket_errors": 0.0, "timeouts": 0.0, "p50_ms": float("nan")}


def load(port: int, headers: dict[str, str], body: str, seconds: float, folder: Path) -> dict[str, float]:
    """Requests per second of POST PATH with `body` at 32 connections for `seconds`."""
    if shutil.which("wrk"):
        return _wrk(port, headers, body, seconds, folder)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
               f"Content-Length: {len(body.encode())}\r\n\r\n{body}").encode()
    return asyncio.run(_python_load(port, request, seconds))


# ---- the benchmark --------------------------------------------------------------------------


def _compare(ports: dict[str, int], headers: dict[str, str], body: str, *, seconds: float, warm: float,
             rounds: int, folder: Path) -> dict[str, list[dict[str, float]]]:
    """Load each server in turn (warm-up, then measure), `rounds` times, alternating the order."""
    results: dict[str, list[dict[str, float]]] = {"ours": [], "hello": []}
    for r in range(rounds):
        for side in ("hello", "ours") if r % 2 == 0 else ("ours", "hello"):
            if warm:
                load(ports[side], headers, body, warm, folder)
            # The servers' own CPU per request as well: on a machine shared with other work the
            # request rates swing with the load, the CPU each request costs much less.
            group = _GROUPS.get(ports[side])
            before = group_cpu_seconds(group) if group else 0.0
            result = load(ports[side], headers, body, seconds, folder)
            if group and result["rps"] > 0:
                result["cpu_us"] = (group_cpu_seconds(group) - before) / (result["rps"] * seconds) * 1e6
            results[side].append(result)
    return results


def _check(ports: dict[str, int], headers: dict[str, str], body: str) -> list[str]:
    """Both servers answer 200, and ours says VALID."""
    checks = {side: httpx.post(f"http://127.0.0.1:{port}{PATH}", headers=headers, content=body, timeout=30)
              for side, port in ports.items()}
    problems = [f"{side}: HTTP {r.status_code} {r.text[:200]}" for side, r in checks.items() if r.status_code != 200]
    if not problems and checks["ours"].json().get("status") != "VALID":
        problems.append(f"ours: verdict {checks['ours'].text[:200]}")
    return problems


def _row(name: str, results: dict[str, list[dict[str, float]]], *, limit: float | None, what: str,
         setup: str) -> Row:
    best = {side: max(runs, key=lambda x: x["rps"]) for side, runs in results.items()}
    bad = sum(x["bad"] + x["socket_errors"] for runs in results.values() for x in runs)
    timeouts = sum(x.get("timeouts", 0.0) for runs in results.values() for x in runs)
    note = f"{what}; {setup}"
    cpu = {side: min((x["cpu_us"] for x in runs if "cpu_us" in x), default=None) for side, runs in results.items()}
    if cpu["ours"] and cpu["hello"]:
        note += (f"; server CPU per request {cpu['ours']:.0f} µs vs {cpu['hello']:.0f} µs "
                 f"(ratio {cpu['hello'] / cpu['ours']:.2f})")
    if best["ours"]["p50_ms"] == best["ours"]["p50_ms"]:  # not NaN: wrk reported latencies
        note += f"; p50 latency {best['ours']['p50_ms']:.3g} ms vs {best['hello']['p50_ms']:.3g} ms"
    if timeouts:
        note = f"{timeouts:.0f} requests over wrk's 10 s timeout (an overloaded machine); {note}"
    if bad:
        note = f"{bad:.0f} non-2xx answers or socket errors under load; {note}"
    return Row(name, "req/s", best["ours"]["rps"], best["hello"]["rps"], op=">=", limit=limit, note=note,
               ok=not bad, extra={"runs": results})


def run(config: Config) -> list[Row]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # create_app configures INFO logging
    # quick (the smoke test): one short round, only to show the rows are well formed
    seconds, warm, rounds = (1.0, 0.0, 1) if config.quick else (6, 2, 4)  # quick: no warm-up load
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cirqliz-bench-online-") as tmp:
        folder = Path(tmp)
        unreachable = postgres_unreachable()
        with (_sqlite(folder) if unreachable else scratch_postgres()) as database:
            url = database if unreachable else postgres_url(database)
            migrate(url)
            seeded = asyncio.run(_seed(url, folder / "keys"))
            endpoint = has_verify_endpoint()
            env = {
                "CIRQLIZ_DATABASE_URL": url, "CIRQLIZ_ENV": "production",
                "CIRQLIZ_SECRET_KEY": secrets.token_urlsafe(32), "CIRQLIZ_KEYS_DIR": str(folder / "keys"),
                "CIRQLIZ_DOCUMENTS_DIR": str(folder / "documents"), "CIRQLIZ_OUTBOX_DIR": str(folder / "outbox"),
                "CIRQLIZ_REDIS_URL": "", "CIRQLIZ_SCHEDULER_ENABLED": "0",
                FIXED_TIME_ENV: T0.isoformat(), BUNDLE_ENV: seeded["bundle"], ROOT_ENV: seeded["root"],
            }
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {seeded['token']}"}
            body = json.dumps({"text": seeded["text"], "zone": "PARIS-CENTRE", "plate": seeded["plate"]})
            ours_factory = "cirqliz_app" if endpoint else "minimal_verify_app"
            database_kind = "SQLite" if unreachable else "PostgreSQL"
            tool = "wrk -t1" if shutil.which("wrk") else "asyncio client"
            what = "POST /api/v1/verify of the application" if endpoint else (
                "NO /api/v1/verify in the application: a minimal Litestar app in bench/ calling verify_pass")
            # The floor: the same check in a Litestar app with nothing else (what the application's
            # token guard, rate limit, request id, access log, metrics and headers add is the rest).
            floor = (("nodelay", FLOOR_NAME, None, 1, "minimal_verify_app", WORKERS),) if endpoint else ()
            if endpoint and not config.quick:
                floor += (("nodelay", CEILING_NAME, None, 1, "raw_verify_app", WORKERS),
                          ("nodelay", QUIET_NAME, None, 1, "cirqliz_app_quiet", WORKERS))
            more = 1 if config.quick else MORE_WORKERS
            with ExitStack() as servers:
                started: dict[tuple[str, str, int], int] = {}

                def port_of(factory: str, mode: str, workers: int) -> int:
                    # One server per (app, socket set-up, workers), kept for every row that uses it
                    # (the one-worker nodelay hello world serves the target row and the floor row).
                    if (factory, mode, workers) not in started:
                        started[factory, mode, workers] = servers.enter_context(
                            serve(factory, env | {WORKERS_ENV: str(workers)},
                                  folder / f"{factory}-{mode}-{workers}.log", mode))
                    return started[factory, mode, workers]

                rows += _rounds(port_of, ours_factory, floor, headers, body, seconds=seconds, warm=warm,
                                rounds=rounds, folder=folder, more=more, tool=tool,
                                database_kind=database_kind, what=what, endpoint=endpoint, quick=config.quick)
    return rows


def _rounds(port_of: Any, ours_factory: str, floor: tuple[Any, ...], headers: dict[str, str], body: str, *,
            seconds: float, warm: float, rounds: int, folder: Path, more: int, tool: str,
            database_kind: str, what: str, endpoint: bool, quick: bool) -> list[Row]:
    """The rows: the target (one worker, nodelay), two workers, the stock socket, the floor; each
    against a hello world with the same settings."""
    rows: list[Row] = []
    two_workers = () if quick else (("nodelay", TWO_WORKERS_NAME, None, 1, ours_factory, more),)
    for mode, name, limit, mode_rounds, factory, workers in (
        ("nodelay", NAME, 0.6, rounds, ours_factory, WORKERS),
        *two_workers,
        ("stock", STOCK_NAME, None, 1, ours_factory, more),
        *floor,
    ):
        ports = {"ours": port_of(factory, mode, workers), "hello": port_of("hello_world", mode, workers)}
        problems = _check(ports, headers, body)
        if problems:
            rows.append(Row(name, "req/s", None, note="; ".join(problems), ok=False))
            continue
        results = _compare(ports, headers, body, seconds=seconds, warm=warm, rounds=mode_rounds,
                           folder=folder)
        socket_note = ("listening socket with TCP_NODELAY on accepted connections" if mode == "nodelay"
                       else "uvicorn's own socket, as stock `uvicorn --workers 2` (`cirqliz serve` now sets "
                            "TCP_NODELAY): ~40 ms delayed-ACK stall per keep-alive response")
        setup = (f"uvicorn {workers} worker(s) each, {_implementations()}, {socket_note}; {tool}, "
                 f"{CONNECTIONS} keep-alive connections, "
                 f"{seconds} s, {mode_rounds} round(s), best of each; {database_kind}, rate-limit store "
                 "in memory")
        rows.append(_row(name, results, limit=limit, setup=setup,
                         what=what if factory == ours_factory else f"bench.bench_online.{factory}"))
        rows[-1].extra.update(endpoint=endpoint, database=database_kind, socket=mode, workers=workers)
    return rows


def _implementations() -> str:
    """The event loop and HTTP parser uvicorn's "auto" picks, in both servers alike (same interpreter)."""
    from importlib.util import find_spec

    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    http = "httptools" if find_spec("httptools") else "h11"
    return f"loop {loop}, http {http}"


@contextmanager
def _sqlite(folder: Path) -> Iterator[str]:
    yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"


if __name__ == "__main__":  # the server launcher used by serve()
    _serve_main(sys.argv[1], int(sys.argv[2]), sys.argv[3], *sys.argv[4:5])
