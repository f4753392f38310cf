"""City scale (issue 18): every list page and action at a tenth of Paris 2024 and at full size.

Setup (not timed): a scratch PostgreSQL database, migrated, with the demo world (authority demo75
and its keys, the company « Transports Exemple », the demo people), copied twice (CREATE DATABASE
… TEMPLATE); each copy then gets, by COPY in big batches (psycopg, not the ORM):

| rows                | full     | 1/10   |
|---------------------|----------|--------|
| companies           | 5,000    | 500    |
| vehicles            | 50,000   | 5,000  |
| applications        | 60,000   | 6,000  |
| passes (+ zones)    | 60,000   | 6,000  |
| checks              | 200,000  | 20,000 |
| audit records       | 100,000  | 10,000 |
| zones (+ one rule)  | 1,000    | 100    |

The demo company holds 3,000 applications and 5,000 vehicles at full size (300 and 500 at a
tenth): its pages are the ones timed. Zones are irregular rings of 40-120 vertices around Paris;
audit records continue the real hash chain; then VACUUM ANALYZE.

Timed: the application (cirqliz.web.app.create_app, scheduler off, FixedClock) in-process through
Litestar's TestClient, one per size, signed in as the demo professional and admin; each page or
action is called on both sizes alternately (harness.interleaved), the table shows the median of
each: measured = full size, baseline = 1/10, target ratio <= 2; the note gives the full-size time
against the 300 ms target and the SQL statements of one call at each size (SQLAlchemy
before_cursor_execute on the app's engine). The publish and expiry-reminders jobs run through
cirqliz.jobs.jobs.run_job (a new tick each run); bundles are read anonymously. The memory row is
the growth of the process's resident set across 200 page requests at full size (after a warm-up),
target <= 16 MB.
Quick mode: a twentieth and a two-hundredth of the sizes, 2 repeats instead of 9, 20 requests for memory.
The "after one change" publish row makes one small change before each timed publication, outside
the timing: the hours of one zone's rule, alternately 07:00-11:00 and 07:00-12:00, through
cirqliz.issuance.zones.update_access_rule (what the rule form calls), committed.
CIRQLIZ_BENCH_SCALE_ONLY=word[,word…] measures only the rows whose name contains one of the words
(case-insensitive; `publish` names the three publish rows), on the same worlds: e.g.
`CIRQLIZ_BENCH_SCALE_ONLY=publish python -m bench --only scale`.
If PostgreSQL does not answer, the rows say 'not measured' with the reason.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    RESULTS_DIR,
    Config,
    Row,
    Timing,
    create_postgres_database,
    drop_postgres_database,
    interleaved,
    migrate,
    not_measured,
    postgres_unreachable,
    postgres_url,
)

ORDER = 95
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris
PAGE_LIMIT_MS = 300.0
RATIO_LIMIT = 2.0
MEMORY_LIMIT_MB = 16.0
SIGNED_TEXT = "CQ1:" + "6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3" * 6


@dataclass(frozen=True)
class Sizes:
    """How many rows of each kind a world holds."""

    companies: int
    vehicles: int
    applications: int
    checks: int
    audit: int
    zones: int
    company_applications: int  # of the demo company (its pages are the ones timed)
    company_vehicles: int

    def divided(self, by: int) -> Sizes:
        return Sizes(*(max(2, n // by) for n in (
            self.companies, self.vehicles, self.applications, self.checks, self.audit, self.zones,
            self.company_applications, self.company_vehicles)))


PARIS_2024 = Sizes(companies=5_000, vehicles=50_000, applications=60_000, checks=200_000, audit=100_000,
                   zones=1_000, company_applications=3_000, company_vehicles=5_000)

# (row name, method, path) — the pages and actions of issue 18, in its order.
PAGES = (
    ("/pro/demandes (company's applications)", "pro", "/pro/demandes"),
    ("/pro/laissez-passer", "pro", "/pro/laissez-passer"),
    ("/pro/vehicules", "pro", "/pro/vehicules"),
    ("/autorite/zones", "admin", "/autorite/zones"),
    ("/autorite/exports (counts table)", "admin", "/autorite/exports"),
    ("/autorite/journal", "admin", "/autorite/journal"),
    ("/autorite/controles", "admin", "/autorite/controles"),
    ("/autorite/demandes", "admin", "/autorite/demandes"),
    ("/autorite/laissez-passer", "admin", "/autorite/laissez-passer"),
)


ONLY_ENV = "CIRQLIZ_BENCH_SCALE_ONLY"
PUBLISH_AFTER_CHANGE = "POST /autorite/publier after one change"
ONLY_GROUPS = {"publish": ("POST /autorite/publier", PUBLISH_AFTER_CHANGE, "publish job (publish_bundles)")}


def _selected(name: str) -> bool:
    """Whether the row `name` is measured in this run (see CIRQLIZ_BENCH_SCALE_ONLY above)."""
    words = [w.strip().lower() for w in os.environ.get(ONLY_ENV, "").split(",") if w.strip()]
    return not words or any(name in ONLY_GROUPS.get(w, ()) or w in name.lower() for w in words)


# ---- the worlds ---------------------------------------------------------------------------------


def _letters(n: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ"
    return alphabet[n // len(alphabet) % len(alphabet)] + alphabet[n % len(alphabet)]


def _plate(i: int) -> str:
    """A distinct SIV-shaped plate per index (normalised: AB123CD)."""
    return f"{_letters(i // 1000)}{i % 1000:03d}{_letters(i // 529_000 + 7)}"


def _ring(rng: random.Random) -> list[list[float]]:
    """An irregular closed ring of 40-120 vertices, 200 m to 1.5 km across, somewhere in Paris."""
    lon0, lat0 = 2.35 + rng.uniform(-0.12, 0.12), 48.86 + rng.uniform(-0.07, 0.07)
    size = rng.uniform(0.002, 0.012)
    count = rng.randint(40, 120)
    ring = []
    for k in range(count):
        angle = 2 * math.pi * k / count
        radius = size * (0.75 + 0.5 * rng.random())
        ring.append([round(lon0 + radius * math.cos(angle), 6), round(lat0 + radius * math.sin(angle) * 0.66, 6)])
    ring.append(ring[0])
    return ring


async def _seed_demo(url: str, keys: Path) -> None:
    from cirqliz.clock import FixedClock
    from cirqliz.db.engine import create_engine, create_session_factory
    from cirqliz.demo.seed import seed_demo
    from cirqliz.settings import Settings

    engine = create_engine(Settings(database_url=url))
    try:
        await seed_demo(create_session_factory(engine), keys_root=keys, clock=FixedClock(T0))
    finally:
        await engine.dispose()


def _copy(conn: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def populate(database: str, sizes: Sizes, seed: int = 2024) -> None:
    """Add `sizes` rows to a database holding the demo world (COPY, one transaction)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from cirqliz.demo.seed import AUTHORITY_ID, COMPANY_ID, USER_IDS
    from cirqliz.issuance.audit import canonical_record, chain_hash

    rng = random.Random(seed)
    url = make_url(postgres_url(database, driver="postgresql"))
    conn = psycopg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                           dbname=url.database)
    pro, admin, agent = USER_IDS["pro"], USER_IDS["admin"], USER_IDS["agent"]
    try:
        with conn.transaction():
            companies = [COMPANY_ID] + [uuid.UUID(int=rng.getrandbits(128), version=4)
                                        for _ in range(sizes.companies - 1)]
            _copy(conn, "organisation", ("id", "kind", "code", "name", "siren", "next_zone_ref", "last_bundle_seq",
                                         "created_at"),
                  ((c, "company", f"bench-co-{i}", f"Société n° {i}", f"{300_000_000 + i}", 1, 0,
                    T0 - timedelta(days=400)) for i, c in enumerate(companies) if i))

            zones: list[uuid.UUID] = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(sizes.zones)]
            first_ref = 100
            kinds = ("limited_traffic", "pedestrian", "limited_traffic", "event_perimeter")
            _copy(conn, "zone", ("id", "authority_id", "ref", "code", "name", "kind", "geometry", "time_zone", "status",
                                 "permanent", "data_version", "source", "source_id", "created_at", "updated_at"),
                  ((z, AUTHORITY_ID, first_ref + i, f"Z-{first_ref + i}", f"Secteur réglementé n° {i + 1}",
                    kinds[i % len(kinds)], json.dumps({"type": "Polygon", "coordinates": [_ring(rng)]}),
                    "Europe/Paris", "active", True, 1, "", "", T0 - timedelta(days=300), T0 - timedelta(days=300))
                   for i, z in enumerate(zones)))
            ref_of = {z: first_ref + i for i, z in enumerate(zones)}
            conn.execute("UPDATE organisation SET next_zone_ref = %s WHERE id = %s",
                         (first_ref + sizes.zones, AUTHORITY_ID))
            windows = json.dumps([{"weekdays": 63, "start": 420, "end": 660}])
            _copy(conn, "access_rule", ("id", "zone_id", "position", "name", "windows", "purposes", "categories",
                                        "review_mode", "source", "source_id", "vehicle_class", "created_at"),
                  ((uuid.uuid4(), z, 0, "Livraisons", windows, "[1, 2]", '["N1", "N2"]', "manual", "", "", "",
                    T0 - timedelta(days=300)) for z in zones))

            # Vehicles: the demo company's first, then the others' round-robin.
            vehicles = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(sizes.vehicles)]
            owner = [COMPANY_ID if i < sizes.company_vehicles else companies[1 + i % (len(companies) - 1)]
                     for i in range(sizes.vehicles)]
            _copy(conn, "vehicle", ("id", "organisation_id", "plate", "category", "crit_air", "energy", "created_at"),
                  ((v, owner[i], _plate(i), "N1" if i % 3 else "N2", i % 4, "diesel", T0 - timedelta(days=200))
                   for i, v in enumerate(vehicles)))

            # Applications (one vehicle, one or two zones each) and one pass per application.
            others = sizes.vehicles - sizes.company_vehicles
            statuses = ("approved",) * 6 + ("submitted", "submitted", "needs_info", "rejected")
            apps = []
            for i in range(sizes.applications):
                mine = i < sizes.company_applications
                v = i % sizes.company_vehicles if mine else sizes.company_vehicles + i % max(others, 1)
                created = T0 - timedelta(minutes=7 * (sizes.applications - i))
                apps.append((uuid.UUID(int=rng.getrandbits(128), version=4), v, created, statuses[i % len(statuses)],
                             [zones[i % len(zones)]] + ([zones[(i * 7 + 3) % len(zones)]] if i % 3 == 0 else [])))
            _copy(conn, "application", ("id", "organisation_id", "applicant_id", "authority_id", "purpose",
                                        "not_before", "expires_at", "windows", "status", "created_at", "updated_at",
                                        "submitted_at"),
                  ((a, owner[v], pro, AUTHORITY_ID, 1 + n % 3, created, created + timedelta(days=90), "[]", status,
                    created, created, created) for n, (a, v, created, status, _z) in enumerate(apps)))
            _copy(conn, "application_vehicle", ("application_id", "vehicle_id"),
                  ((a, vehicles[v]) for a, v, *_rest in apps))
            _copy(conn, "application_zone", ("application_id", "zone_id"),
                  ((a, z) for a, _v, _c, _s, zs in apps for z in dict.fromkeys(zs)))

            pass_statuses = ("active",) * 17 + ("suspended", "revoked", "expired")
            passes = []
            for n, (a, v, created, _status, zs) in enumerate(apps):
                not_before = created + timedelta(days=1)
                expires = T0 + timedelta(hours=rng.randint(-30 * 24, 120 * 24))
                passes.append((uuid.UUID(int=rng.getrandbits(128), version=4), a, v, not_before,
                               max(expires, not_before + timedelta(days=1)), pass_statuses[n % len(pass_statuses)], zs))
            _copy(conn, "access_pass", ("id", "serial", "application_id", "vehicle_id", "authority_id", "plate",
                                        "purpose", "not_before", "expires_at", "windows", "zone_refs", "status", "kid",
                                        "signed_text", "issued_at", "issued_by_id", "updated_at"),
                  ((p, f"{0xB000000000000000 + n:016X}", a, vehicles[v], AUTHORITY_ID, _plate(v), 1, nb, exp, "[]",
                    json.dumps([ref_of[z] for z in dict.fromkeys(zs)]), status, "bench", SIGNED_TEXT, nb, admin, nb)
                   for n, (p, a, v, nb, exp, status, zs) in enumerate(passes)))
            _copy(conn, "pass_zone", ("pass_id", "zone_id"),
                  ((p, z) for p, _a, _v, _nb, _e, _s, zs in passes for z in dict.fromkeys(zs)))
            _copy(conn, "revocation", ("id", "pass_id", "reason", "revoked_by_id", "revoked_at"),
                  ((uuid.uuid4(), p, "Véhicule vendu", admin, nb + timedelta(days=2))
                   for p, _a, _v, nb, _e, status, _zs in passes if status == "revoked"))

            verdicts = ("VALID",) * 8 + ("REFUSED", "UNCERTAIN")
            _copy(conn, "pass_check", ("id", "serial", "pass_id", "agent_id", "zone_id", "checked_at", "verdict",
                                       "reason_code", "plate_seen", "device_id", "uploaded_at"),
                  ((uuid.uuid4(), f"{0xB000000000000000 + k % len(passes):016X}", passes[k % len(passes)][0], agent,
                    zones[k % len(zones)], T0 - timedelta(seconds=13 * (sizes.checks - k)), verdicts[k % 10],
                    None if k % 10 < 8 else "outside_hours", _plate(passes[k % len(passes)][2]), f"phone-{k % 40}",
                    T0 - timedelta(seconds=13 * (sizes.checks - k) - 60)) for k in range(sizes.checks)))

            head = conn.execute("SELECT seq, hash FROM audit_record WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
            seq, prev = (int(head[0]), head[1]) if head else (0, "")
            start = T0 - timedelta(days=60)
            step = timedelta(days=59) / sizes.audit

            def audit_rows() -> Iterator[tuple[Any, ...]]:
                nonlocal seq, prev
                for k in range(sizes.audit):
                    seq += 1
                    kind = k % 10
                    if kind < 4:
                        entity, entity_id, action, actor = "application", str(apps[k % len(apps)][0]), "approve", admin
                    elif kind < 8:
                        entity, entity_id, action, actor = "pass", str(passes[k % len(passes)][0]), "issue", admin
                    elif kind == 8:
                        entity, entity_id, action, actor = "zone", str(zones[k % len(zones)]), "update", admin
                    else:
                        entity, entity_id, action, actor = "vehicle", str(vehicles[k % len(vehicles)]), "create", pro
                    at = start + step * k
                    after = {"status": action, "n": k}
                    digest = chain_hash(prev, canonical_record(seq, at, actor, entity, entity_id, action, None, after))
                    yield (uuid.uuid4(), at, actor, entity, entity_id, action, None, json.dumps(after), seq, prev,
                           digest)
                    prev = digest

            _copy(conn, "audit_record", ("id", "at", "actor_id", "entity", "entity_id", "action", "before", "after",
                                         "seq", "prev_hash", "hash"), audit_rows())
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    finally:
        conn.close()


@contextmanager
def worlds(sizes: dict[str, Sizes], folder: Path) -> Iterator[dict[str, tuple[str, Path]]]:
    """Databases (and keys folders) with the demo world plus `sizes` rows each, dropped afterwards."""
    template = create_postgres_database()
    made: list[str] = []
    try:
        migrate(postgres_url(template))
        asyncio.run(_seed_demo(postgres_url(template), folder / "keys-template"))
        out = {}
        for name, size in sizes.items():
            database = create_postgres_database(template)
            made.append(database)
            shutil.copytree(folder / "keys-template", folder / f"keys-{name}")
            populate(database, size)
            out[name] = (database, folder / f"keys-{name}")
        yield out
    finally:
        for database in [*made, template]:
            drop_postgres_database(database)


# ---- timing -------------------------------------------------------------------------------------


class Site:
    """One world's application in-process, with a signed-in client per person and a statement counter."""

    def __init__(self, database: str, keys: Path, folder: Path, stack: ExitStack) -> None:
        from litestar.testing import TestClient
        from sqlalchemy import event

        from cirqliz.clock import FixedClock
        from cirqliz.settings import Settings
        from cirqliz.web.app import create_app

        self.settings = Settings(
            database_url=postgres_url(database), env="test",
            secret_key="bench-secret-key-not-for-production-0123456789",
            keys_dir=str(keys), documents_dir=str(folder / "documents"), outbox_dir=str(folder / "outbox"),
            scheduler_enabled=False)
        self.clock = FixedClock(T0)
        self.app = create_app(self.settings, clock=self.clock)
        # One client (one event loop for the app's connections); each person has a cookie jar.
        self.client = stack.enter_context(TestClient(self.app))
        self.jars: dict[str, httpx.Cookies] = {"anonymous": httpx.Cookies()}
        self.statements = 0

        def count(*_args: Any) -> None:
            self.statements += 1

        event.listen(self.app.state.engine.sync_engine, "before_cursor_execute", count)
        for who in ("pro", "admin"):
            self._login(who)
        self.ticks = 0

    def _login(self, who: str) -> None:
        from cirqliz.demo.seed import DEMO_PASSWORD, USERS

        client = self.client
        client.cookies = httpx.Cookies()
        client.get("/connexion")
        token = client.cookies.get("cirqliz_csrf")
        response = client.post("/connexion", data={"email": USERS[who][0], "password": DEMO_PASSWORD,
                                                   "_csrf_token": token}, follow_redirects=False)
        if response.status_code != 303:
            raise RuntimeError(f"sign-in of {who} refused: {response.status_code}")
        self.jars[who] = httpx.Cookies(client.cookies)

    def _as(self, who: str) -> Any:
        self.client.cookies = self.jars[who]
        return self.client

    def get(self, who: str, path: str) -> int:
        return self._as(who).get(path).status_code

    def post(self, who: str, path: str) -> int:
        client = self._as(who)
        return client.post(path, data={"_csrf_token": client.cookies.get("cirqliz_csrf")},
                           follow_redirects=False).status_code

    def job(self, name: str) -> int:
        """Run a job once through run_job (a new tick each time); 200 when it ran, 500 otherwise."""
        from cirqliz.jobs.jobs import JOBS_BY_NAME, run_job

        self.ticks += 1
        tick = T0 + timedelta(minutes=self.ticks)
        app = self.app

        async def go() -> str:
            run = await run_job(app.state.session_maker, JOBS_BY_NAME[name], clock=self.clock,
                                settings=self.settings, signer=app.state.signer, tick=tick)
            return run.outcome

        outcome = self.client.blocking_portal.call(go)
        return 200 if outcome == "ok" else 500

    def change_one_rule(self) -> None:
        """One small change, committed: the hours of the first zone's rule, alternately 07:00-11:00
        and 07:00-12:00, through the service the rule form calls."""
        from sqlmodel import col, select

        from cirqliz.db.models import AccessRule, Zone
        from cirqliz.demo.seed import AUTHORITY_ID, USER_IDS
        from cirqliz.domain.windows import TimeWindow
        from cirqliz.issuance.zones import update_access_rule

        self.rule_changes = getattr(self, "rule_changes", 0) + 1
        end = 660 if self.rule_changes % 2 else 720
        app, clock = self.app, self.clock

        async def go() -> None:
            async with app.state.session_maker() as session, session.begin():
                rule = (await session.exec(
                    select(AccessRule).join(Zone, col(Zone.id) == AccessRule.zone_id)
                    .where(Zone.authority_id == AUTHORITY_ID, Zone.code == "Z-100"))).one()
                await update_access_rule(session, rule_id=rule.id, clock=clock,
                                         windows=[TimeWindow(63, 420, end)], purposes=rule.purposes,
                                         categories=rule.categories, review_mode=rule.review_mode,
                                         name=rule.name, actor_id=USER_IDS["admin"])

        self.client.blocking_portal.call(go)

    def latest_seq(self) -> int:
        from cirqliz.demo.seed import AUTHORITY_CODE

        keystore = self.app.state.signer.keystore(AUTHORITY_CODE)
        latest = keystore.latest_bundle()
        return latest.seq if latest else 0


Action = tuple[str, Callable[[], int], Callable[[], None] | None]


def _actions(site: Site) -> list[Action]:
    """(row name, the timed call, what to do before each call outside the timing, if anything)."""
    from cirqliz.demo.seed import AUTHORITY_CODE

    since = max(0, site.latest_seq() - 1)

    def publish() -> int:
        return 200 if site.post("admin", "/autorite/publier") in (200, 303) else 500

    return [
        ("POST /autorite/publier", publish, None),
        (PUBLISH_AFTER_CHANGE, publish, site.change_one_rule),
        ("publish job (publish_bundles)", lambda: site.job("publish_bundles"), None),
        (f"GET /bundle/{AUTHORITY_CODE}.cose (anonymous)",
         lambda: site.get("anonymous", f"/bundle/{AUTHORITY_CODE}.cose"), None),
        ("GET bundle ?since=N delta (anonymous)",
         lambda: site.get("anonymous", f"/bundle/{AUTHORITY_CODE}.cose?since={since}"), None),
        ("expiry reminders job", lambda: site.job("expiry_reminders"), None),
    ]


def _interleaved_prepared(calls: dict[str, Callable[[], object]], prepares: dict[str, Callable[[], None]],
                          repeats: int) -> dict[str, Timing]:
    """harness.interleaved with number=1, calling prepares[name]() before each timed call, untimed."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for name in names:  # warm up
        prepares[name]()
        calls[name]()
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            prepares[name]()
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                start = time.perf_counter()
                calls[name]()
                samples[name].append(time.perf_counter() - start)
            finally:
                if gc_was_enabled:
                    gc.enable()
    return {name: Timing(min(values), statistics.median(values), repeats, 1) for name, values in samples.items()}


def _measure(name: str, small: Site, full: Site, calls: tuple[Callable[[], int], Callable[[], int]],
             repeats: int, prepares: tuple[Callable[[], None], Callable[[], None]] | None = None) -> Row:
    """Time `calls` (1/10 size, full size) side by side; `prepares`, when given, run before each
    call, outside the timing and outside the statement count."""
    statuses = {}
    counts = {}
    for label, site, call, prepare in (("small", small, calls[0], prepares and prepares[0]),
                                       ("full", full, calls[1], prepares and prepares[1])):
        if prepare:
            prepare()
        before = site.statements
        statuses[label] = call()
        counts[label] = site.statements - before
    if any(status != 200 for status in statuses.values()):
        return Row(f"scale: {name}", "ms", None, ok=False, note=f"answer {statuses} (expected 200)")
    funcs = {"small": lambda: calls[0](), "full": lambda: calls[1]()}
    if prepares is None:
        timings = interleaved(funcs, number=1, repeats=repeats)
    else:
        timings = _interleaved_prepared(funcs, {"small": prepares[0], "full": prepares[1]}, repeats)
    full_ms, small_ms = timings["full"].median * 1e3, timings["small"].median * 1e3
    verdict = "met" if full_ms <= PAGE_LIMIT_MS else "NOT met"
    return Row(f"scale: {name}", "ms", full_ms, small_ms, limit=RATIO_LIMIT,
               note=(f"full size {full_ms:.0f} ms (≤ {PAGE_LIMIT_MS:.0f} ms: {verdict}); baseline = 1/10 size; "
                     f"SQL statements 1/10 → full: {counts['small']} → {counts['full']}"),
               extra={"full_ms": full_ms, "small_ms": small_ms, "statements_small": counts["small"],
                      "statements_full": counts["full"], "best_full_ms": timings["full"].best * 1e3,
                      "best_small_ms": timings["small"].best * 1e3, "under_300_ms": full_ms <= PAGE_LIMIT_MS})


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _memory(full: Site, requests: int) -> Row:
    paths = [(who, path) for _name, who, path in PAGES]
    for who, path in paths * 2:  # warm-up: templates, caches, pools
        full.get(who, path)
    gc.collect()
    before = _rss_mb()
    for k in range(requests):
        who, path = paths[k % len(paths)]
        full.get(who, path)
    gc.collect()
    growth = max(_rss_mb() - before, 0.001)
    return Row(f"scale: memory growth over {requests} page requests (full size)", "MB", growth, target_on="value",
               limit=MEMORY_LIMIT_MB, note="resident set after minus before, after a warm-up round of every page",
               extra={"rss_before_mb": before})


def run(config: Config) -> list[Row]:
    reason = postgres_unreachable()
    if reason:
        return [not_measured(f"scale: {name}", "ms", reason) for name, _w, _p in PAGES]
    full_sizes = PARIS_2024.divided(20) if config.quick else PARIS_2024
    sizes = {"small": full_sizes.divided(10), "full": full_sizes}
    repeats = config.scale(9, 2)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cirqliz-bench-scale-") as tmp, \
            worlds(sizes, Path(tmp)) as made, ExitStack() as stack:
        stack.enter_context(_server_log_to_file())
        small, full = (Site(*made[name], Path(tmp) / name, stack) for name in ("small", "full"))
        for name, who, path in PAGES:
            if _selected(name):
                rows.append(_measure(name, small, full, (lambda w=who, p=path: small.get(w, p),
                                                          lambda w=who, p=path: full.get(w, p)), repeats))
        for (name, small_call, small_prep), (_same, full_call, full_prep) in zip(_actions(small), _actions(full),
                                                                                   strict=True):
            if _selected(name):
                prepares = (small_prep, full_prep) if small_prep and full_prep else None
                rows.append(_measure(name, small, full, (small_call, full_call), repeats, prepares))
        if _selected("memory"):
            rows.append(_memory(full, config.scale(200, 20)))
        if not rows:
            return [not_measured(f"scale: {ONLY_ENV}={os.environ.get(ONLY_ENV)}", "ms", "no row matches")]
        note = (f"full size: {full_sizes.applications:,} applications ({full_sizes.company_applications:,} of the "
                f"timed company), {full_sizes.checks:,} checks, {full_sizes.audit:,} audit records, "
                f"{full_sizes.zones:,} zones")
        rows[0].note = f"{rows[0].note}; {note}"
    return rows


@contextmanager
def _server_log_to_file() -> Iterator[Path]:
    """The app's JSON log lines go to bench/results/bench-scale-server.log instead of the terminal."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "bench-scale-server.log"
    from cirqliz.web.observability import configure_logging

    configure_logging()  # what create_app does: its handler is then swapped for the file
    logger = logging.getLogger("cirqliz")
    moved = [h for h in logger.handlers if getattr(h, "_cirqliz", False)]
    propagate = logger.propagate
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler._cirqliz = True  # type: ignore[attr-defined]  # so that create_app adds no terminal handler
    if moved:
        handler.setFormatter(moved[0].formatter)
        for log_filter in moved[0].filters:
            handler.addFilter(log_filter)
    for h in moved:
        logger.removeHandler(h)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        handler.close()
        for h in moved:
            logger.addHandler(h)
        logger.propagate = propagate
