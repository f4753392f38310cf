"""Issuing passes (sign + store) through the services, on SQLite and on PostgreSQL (information).

Each backend gets a scratch database (SQLite: a temporary file; PostgreSQL: CREATE DATABASE
bench_<random>, dropped afterwards), migrated with Alembic and seeded with the demo world
(cirqliz.demo.seed: the authority, its three zones used here, its keystore with a published key).
Setup, not timed: 100 vehicles of the demo company and one approved application per batch.

Measured: 10,000 passes (quick: 200) in batches of 100, one transaction per batch, each batch
issued by cirqliz.issuance.applications._issue_passes — what approve_application and the bulk
approval call: every pass signed by the real KeyStoreSigner (keyring and key cached, reloaded when
the keyring changes), one INSERT … ON CONFLICT (serial) DO NOTHING for the batch (a taken serial is
drawn again, no savepoint), one INSERT of the pass zones, the audit records chained at commit.
Baseline, same database, same batches and transactions: the same claims signed with the key
loaded once (cirqliz.passcode.token.sign_pass) and the same access_pass and pass_zone rows
stored with one bare executemany INSERT each per batch. Batches of the two alternate (and which
goes first alternates), so they see the same table sizes and machine noise. The first batch of
each side is a warm-up, not counted: 9,900 passes are timed per side (quick: 100).
Second row: approve_application on 1,000 (quick: 50) submitted single-vehicle applications, one
transaction each (status, transition, eligibility, pass, audit), against sign + bare INSERT of the
pass and its zones in one transaction each, alternating application by application.
Rows: ms per pass (per application), ratio service / baseline; target ≤ 3 (issue 18).
If PostgreSQL does not answer, its row says 'not measured' with the reason.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.fixtures import WINDOWS
from bench.harness import (
    Config,
    Row,
    migrate,
    not_measured,
    postgres_unreachable,
    postgres_url,
    scratch_postgres,
)
from cirqliz.clock import FixedClock, to_epoch
from cirqliz.db.engine import create_engine, create_session_factory, transaction
from cirqliz.db.models import (
    AccessPass,
    Application,
    ApplicationVehicle,
    ApplicationZone,
    PassZone,
    Vehicle,
    Zone,
    window_to_json,
)
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, COMPANY_ID, USER_IDS, ZONE_IDS, seed_demo
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.passes import PassStatus, new_serial, serial_hex
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance.applications import _issue_passes, approve_application
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.issuance.vehicles import register_vehicle
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.token import sign_pass
from cirqliz.settings import Settings

ORDER = 70
BATCH = 100
AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ZONE_CODES = ("PARIS-CENTRE", "MARAIS-PIETON", "ZFE-GRAND-PARIS")


def _plate_letters(i: int) -> str:
    letters = "ABCDEFGHJKLMNPRSTVXYZ"
    return letters[i % len(letters)] + letters[i // len(letters) % len(letters)]


RATIO_LIMIT = 3.0


def _name(backend: str, n: int) -> str:
    return f"issue {n:,} passes, {backend}: _issue_passes vs sign + bare INSERT"


def _approve_name(backend: str, n: int) -> str:
    return f"approve {n:,} applications, {backend}: approve_application vs sign + bare INSERT"


async def _setup(maker: Any, batches: int, clock: FixedClock) -> tuple[list[Vehicle], list[Application],
                                                                         list[Application], list[Zone]]:
    not_before, expires_at = AT - timedelta(hours=1), AT + timedelta(days=90)
    async with transaction(maker) as session:
        vehicles = [
            await register_vehicle(session, organisation_id=COMPANY_ID, plate=f"BX-{100 + i:03d}-{_plate_letters(i)}",
                                   category="N1", crit_air=1, energy="diesel", clock=clock)
            for i in range(BATCH)
        ]
        apps: list[Application] = []
        for _ in range(2 * batches):
            app = Application(
                organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], authority_id=AUTHORITY_ID,
                purpose=int(Purpose.DELIVERY), not_before=not_before, expires_at=expires_at,
                windows=[window_to_json(w) for w in WINDOWS], status=ApplicationStatus.APPROVED.value,
                created_at=AT, updated_at=AT, decided_at=AT, decided_by_id=USER_IDS["reviewer"],
            )
            session.add(app)
            apps.append(app)
        zones = [await session.get(Zone, ZONE_IDS[code]) for code in ZONE_CODES]
    return vehicles, apps[:batches], apps[batches:], [z for z in zones if z is not None]


async def _submitted(maker: Any, vehicles: list[Vehicle], zones: list[Zone], count: int,
                     clock: FixedClock) -> list[tuple[uuid.UUID, Vehicle]]:
    """`count` submitted applications, one vehicle each (in turn), in the first zone."""
    made = []
    async with transaction(maker) as session:
        for i in range(count):
            vehicle = vehicles[i % len(vehicles)]
            app = Application(
                organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], authority_id=AUTHORITY_ID,
                purpose=int(Purpose.DELIVERY), not_before=AT - timedelta(hours=1), expires_at=AT + timedelta(days=30),
                windows=[window_to_json(w) for w in WINDOWS], status=ApplicationStatus.SUBMITTED.value,
                created_at=AT, updated_at=AT, submitted_at=AT)
            session.add(app)
            await session.flush()
            session.add(ApplicationZone(application_id=app.id, zone_id=zones[0].id))
            session.add(ApplicationVehicle(application_id=app.id, vehicle_id=vehicle.id))
            made.append((app.id, vehicle))
    return made


async def _approved_apps(maker: Any, count: int) -> list[Application]:
    """Applications already approved, for the baseline's passes."""
    apps = []
    async with transaction(maker) as session:
        for _ in range(count):
            app = Application(
                organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], authority_id=AUTHORITY_ID,
                purpose=int(Purpose.DELIVERY), not_before=AT - timedelta(hours=1), expires_at=AT + timedelta(days=30),
                windows=[window_to_json(w) for w in WINDOWS], status=ApplicationStatus.APPROVED.value,
                created_at=AT, updated_at=AT, decided_at=AT, decided_by_id=USER_IDS["reviewer"])
            session.add(app)
            apps.append(app)
    return apps


async def _approve(maker: Any, app_id: uuid.UUID, signer: KeyStoreSigner, clock: FixedClock) -> None:
    async with transaction(maker) as session:
        await approve_application(session, application_id=app_id, reviewer_id=USER_IDS["reviewer"], signer=signer,
                                  clock=clock)


async def _measure(url: str, keys_root: Path, n: int, approvals_n: int) -> dict[str, Any]:
    clock = FixedClock(AT)
    engine = create_engine(Settings(database_url=url, keys_dir=str(keys_root)))
    try:
        maker = create_session_factory(engine)
        await seed_demo(maker, keys_root=keys_root, clock=clock)
        batches = max(1, n // BATCH)
        vehicles, service_apps, bare_apps, zones = await _setup(maker, batches, clock)
        signer = KeyStoreSigner(keys_root, clock=clock)
        key = KeyStore(keys_root / AUTHORITY_CODE, clock=clock).signing_key()
        windows = tuple(WINDOWS)
        windows_json = [window_to_json(w) for w in windows]
        zone_refs = [z.ref for z in zones]
        data_version = max(z.data_version for z in zones)

        async def service_batch(app: Application) -> None:
            async with transaction(maker) as session:
                await _issue_passes(session, app=app, vehicles=vehicles, zones=zones, windows=windows,
                                    issuer=AUTHORITY_CODE, signer=signer, issued_by=USER_IDS["reviewer"],
                                    at=AT, serial_source=new_serial)

        async def bare_batch(app: Application, batch: list[Vehicle] | None = None) -> None:
            passes, links = [], []
            async with engine.begin() as conn:
                for vehicle in batch or vehicles:
                    serial = new_serial()
                    claims = PassClaims(
                        iss=AUTHORITY_CODE, iat=to_epoch(AT), nbf=to_epoch(app.not_before),
                        exp=to_epoch(app.expires_at), cti=serial, zones=tuple(zone_refs), plate=vehicle.plate,
                        purpose=app.purpose, windows=windows, zone_data_version=data_version,
                    )
                    pass_id = uuid.uuid4()
                    passes.append({
                        "id": pass_id, "serial": serial_hex(serial), "application_id": app.id,
                        "vehicle_id": vehicle.id, "authority_id": app.authority_id, "plate": vehicle.plate,
                        "purpose": app.purpose, "not_before": app.not_before, "expires_at": app.expires_at,
                        "windows": windows_json, "zone_refs": zone_refs, "status": PassStatus.ACTIVE.value,
                        "kid": key.kid.hex(), "signed_text": sign_pass(claims, key), "issued_at": AT,
                        "issued_by_id": USER_IDS["reviewer"], "updated_at": AT,
                    })
                    links += [{"pass_id": pass_id, "zone_id": z.id} for z in zones]
                await conn.execute(insert(AccessPass.__table__), passes)  # type: ignore[arg-type]
                await conn.execute(insert(PassZone.__table__), links)  # type: ignore[arg-type]

        await service_batch(service_apps[0])  # warm-up (first-use costs), not counted…
        await bare_batch(bare_apps[0])
        spent = {"service": 0.0, "bare": 0.0}
        for b in range(1, batches):  # …so n - 100 passes are timed on each side
            steps = [("service", service_batch, service_apps[b]), ("bare", bare_batch, bare_apps[b])]
            for side, work, app in steps if b % 2 else reversed(steps):
                start = time.perf_counter()
                await work(app)
                spent[side] += time.perf_counter() - start
        approvals = await _submitted(maker, vehicles, zones, approvals_n, clock)
        bare_apps_2 = await _approved_apps(maker, approvals_n)
        approved = {"service": 0.0, "bare": 0.0}
        for i, (app_id, vehicle) in enumerate(approvals):
            steps = [("service", _approve(maker, app_id, signer, clock)),
                     ("bare", bare_batch(bare_apps_2[i], [vehicle]))]
            for side, work in steps if i % 2 else reversed(steps):
                start = time.perf_counter()
                await work
                if i:  # the first application of each side is a warm-up
                    approved[side] += time.perf_counter() - start
        async with engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(AccessPass.__table__)
                                         .where(AccessPass.__table__.c.signed_text.is_not(None)))).scalar_one()
        timed = (batches - 1) * BATCH
        return {"service_s": spent["service"], "bare_s": spent["bare"], "timed": timed,
                "stored": stored, "expected": 2 * batches * BATCH + 2 * approvals_n,
                "approve_s": approved["service"], "approve_bare_s": approved["bare"], "approvals": approvals_n - 1}
    finally:
        await engine.dispose()


def _row(backend: str, n: int, result: dict[str, Any], note: str) -> list[Row]:
    timed = result["timed"]
    if timed <= 0:
        return [not_measured(_name(backend, n), "ms", "too few passes to time (one warm-up batch only)")]
    ours, bare = result["service_s"] / timed, result["bare_s"] / timed
    ok = result["stored"] == result["expected"]
    check = "" if ok else f"; STORED {result['stored']} rows, expected {result['expected']}"
    rows = [Row(
        _name(backend, n), "ms", ours * 1e3, bare * 1e3, limit=RATIO_LIMIT,
        note=f"{1 / ours:,.0f} passes/s vs {1 / bare:,.0f} passes/s; {timed:,} timed per side "
             f"in batches of {BATCH} (one warm-up batch each){note}{check}",
        ok=ok,
        extra={"passes_per_s": 1 / ours, "baseline_passes_per_s": 1 / bare, "timed_per_side": timed},
    )]
    approvals = result["approvals"]
    ours, bare = result["approve_s"] / approvals, result["approve_bare_s"] / approvals
    rows.append(Row(
        _approve_name(backend, approvals + 1), "ms", ours * 1e3, bare * 1e3, limit=RATIO_LIMIT,
        note=f"one single-vehicle application per transaction on each side; {approvals:,} timed per side "
             f"(one warm-up each){note}{check}", ok=ok))
    return rows


def run(config: Config) -> list[Row]:
    n = config.scale(10_000, 200)
    approvals_n = config.scale(1_000, 50)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cirqliz-bench-issue-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        migrate(url)
        result = asyncio.run(_measure(url, Path(tmp) / "keys-sqlite", n, approvals_n))
        rows += _row("SQLite", n, result, "; WAL, synchronous=NORMAL")
    reason = postgres_unreachable()
    if reason:
        rows += [not_measured(_name("PostgreSQL", n), "ms", reason),
                 not_measured(_approve_name("PostgreSQL", approvals_n), "ms", reason)]
        return rows
    with scratch_postgres() as name, tempfile.TemporaryDirectory(prefix="cirqliz-bench-issue-") as tmp:
        url = postgres_url(name)
        migrate(url)
        result = asyncio.run(_measure(url, Path(tmp) / "keys-pg", n, approvals_n))
        rows += _row("PostgreSQL", n, result, "; asyncpg")
    return rows
