"""Bulk approval on PostgreSQL: submitted single-vehicle applications approved through the service the
"accept the selected" button calls (cirqliz.issuance.bulk_approval.approve_many: a chunk per
transaction, batch statements, real KeyStoreSigner, audit chained through record_change), against a
bare baseline on the same database.

Setup, not timed: a scratch database migrated and seeded with the demo world (its keystore with a
published key), then 2 × 10,000 (quick: 2 × 500) submitted applications of the demo company, one
vehicle each in PARIS-CENTRE, inserted in bulk: one half for each side.
Baseline (no ORM, same chunks of 250 in one transaction each): one executemany UPDATE of the
statuses, the passes signed with the key loaded once, one executemany INSERT each of the passes,
pass zones, transitions and audit records (two per application, hash-chained in Python after one
read of the chain's head). The service's mails are not part of either side (the web page queues
them in the same transaction).
The two sides alternate block by block (1,000 applications; which goes first alternates), so they
meet the same table sizes and machine noise. Targets: applications/s ≥ 1,000 for the service, and
service time ≤ 4 × the baseline's.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from bench.harness import Config, Row, migrate, not_measured, postgres_unreachable, postgres_url, scratch_postgres
from cirqliz.clock import SystemClock, to_epoch
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.db.models import (
    AccessPass,
    Application,
    ApplicationTransitionRecord,
    ApplicationVehicle,
    ApplicationZone,
    AuditRecord,
    PassZone,
    Vehicle,
    Zone,
)
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, COMPANY_ID, USER_IDS, VEHICLES, ZONE_IDS, seed_demo
from cirqliz.domain.passes import new_serial, serial_hex
from cirqliz.issuance.audit import GENESIS, canonical_record, chain_hash
from cirqliz.issuance.bulk_approval import CHUNK, approve_many
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.signing import KeyStoreSigner
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.token import sign_pass
from cirqliz.settings import Settings

ORDER = 72
BLOCK = 1000
RATE_LIMIT = 1000.0
RATIO_LIMIT = 4.0


async def _seed(engine: Any, count: int, now: datetime) -> list[uuid.UUID]:
    vehicles = [v[0] for v in VEHICLES if v[1] == COMPANY_ID]
    ids = [uuid.uuid4() for _ in range(count)]
    for start in range(0, count, 1000):
        part = ids[start:start + 1000]
        async with engine.begin() as conn:
            await conn.execute(insert(Application), [{
                "id": i, "organisation_id": COMPANY_ID, "applicant_id": USER_IDS["pro"], "authority_id": AUTHORITY_ID,
                "purpose": 1, "not_before": now - timedelta(hours=1), "expires_at": now + timedelta(days=30),
                "windows": [], "status": "submitted", "created_at": now, "updated_at": now, "submitted_at": now}
                for i in part])
            await conn.execute(insert(ApplicationZone), [
                {"application_id": i, "zone_id": ZONE_IDS["PARIS-CENTRE"]} for i in part])
            await conn.execute(insert(ApplicationVehicle), [
                {"application_id": i, "vehicle_id": vehicles[(start + n) % len(vehicles)]} for n, i in enumerate(part)])
    return ids


async def _bare_chunk(engine: Any, ids: list[uuid.UUID], key: Any, zone: Zone, clock: SystemClock) -> None:
    reviewer = USER_IDS["reviewer"]
    async with engine.begin() as conn:
        now = clock.now()
        a, av, v = (Application.__table__, ApplicationVehicle.__table__,  # type: ignore[attr-defined]
                    Vehicle.__table__)  # type: ignore[attr-defined]
        rows = (await conn.execute(
            select(a.c.id, a.c.not_before, a.c.expires_at, av.c.vehicle_id, v.c.plate)
            .join(av, av.c.application_id == a.c.id).join(v, v.c.id == av.c.vehicle_id)
            .where(a.c.id.in_(ids)))).all()
        app_table = Application.__table__  # type: ignore[attr-defined]
        await conn.execute(update(app_table).where(app_table.c.id == bindparam("b_id"))
                           .values(status="approved", updated_at=now, decided_at=now, decided_by_id=reviewer),
                           [{"b_id": r[0]} for r in rows])
        passes, links, transitions, audit = [], [], [], []
        for app_id, not_before, expires_at, vehicle_id, plate in rows:
            serial = new_serial()
            claims = PassClaims(iss=AUTHORITY_CODE, iat=to_epoch(now), nbf=to_epoch(not_before),
                                exp=to_epoch(expires_at), cti=serial, zones=(zone.ref,), plate=plate, purpose=1,
                                windows=(), zone_data_version=zone.data_version)
            pass_id = uuid.uuid4()
            passes.append({"id": pass_id, "serial": serial_hex(serial), "application_id": app_id,
                           "vehicle_id": vehicle_id, "authority_id": AUTHORITY_ID, "plate": plate,
                           "purpose": 1, "not_before": not_before, "expires_at": expires_at, "windows": [],
                           "zone_refs": [zone.ref], "status": "active", "kid": key.kid.hex(),
                           "signed_text": sign_pass(claims, key), "issued_at": now, "issued_by_id": reviewer,
                           "updated_at": now})
            links.append({"pass_id": pass_id, "zone_id": zone.id})
            transitions.append({"id": uuid.uuid4(), "application_id": app_id, "from_status": "submitted",
                                "to_status": "approved", "action": "approve", "actor_id": reviewer, "reason": None,
                                "at": now})
            audit.append(("application", str(app_id), "approve", {"status": "submitted"},
                          {"status": "approved", "reason": None}))
            audit.append(("pass", str(pass_id), "issue", None,
                          {"serial": serial_hex(serial), "application_id": str(app_id)}))
        head = (await conn.execute(select(AuditRecord.__table__.c.seq, AuditRecord.__table__.c.hash)  # type: ignore[attr-defined]
                                   .where(AuditRecord.__table__.c.seq.is_not(None))  # type: ignore[attr-defined]
                                   .order_by(AuditRecord.__table__.c.seq.desc()).limit(1))).first()  # type: ignore[attr-defined]
        seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
        records = []
        for entity, entity_id, action, before, after in audit:
            seq += 1
            digest = chain_hash(prev, canonical_record(seq, now, reviewer, entity, entity_id, action, before, after))
            records.append({"id": uuid.uuid4(), "at": now, "actor_id": reviewer, "entity": entity,
                            "entity_id": entity_id, "action": action, "before": before, "after": after, "seq": seq,
                            "prev_hash": prev, "hash": digest})
            prev = digest
        await conn.execute(insert(AccessPass.__table__), passes)  # type: ignore[attr-defined]
        await conn.execute(insert(PassZone.__table__), links)  # type: ignore[attr-defined]
        await conn.execute(insert(ApplicationTransitionRecord.__table__), transitions)  # type: ignore[attr-defined]
        await conn.execute(insert(AuditRecord.__table__), records)  # type: ignore[attr-defined]


async def _measure(url: str, keys_root: Path, n: int) -> dict[str, Any]:
    clock = SystemClock()
    engine = create_engine(Settings(database_url=url, keys_dir=str(keys_root)))
    try:
        maker = create_session_factory(engine)
        await seed_demo(maker, keys_root=keys_root, clock=clock)
        now = clock.now()
        service_ids = await _seed(engine, n, now)
        bare_ids = await _seed(engine, n, now)
        signer = KeyStoreSigner(keys_root, clock=clock)
        key = KeyStore(keys_root / AUTHORITY_CODE, clock=clock).signing_key()
        async with maker() as session:
            zone = await session.get(Zone, ZONE_IDS["PARIS-CENTRE"])
        assert zone is not None
        spent = {"service": 0.0, "bare": 0.0}
        accepted = 0

        async def service(block: list[uuid.UUID]) -> None:
            nonlocal accepted
            outcomes = await approve_many(maker, authority_id=AUTHORITY_ID, raw_ids=[str(i) for i in block],
                                          reviewer_id=USER_IDS["reviewer"], signer=signer, clock=clock)
            accepted += sum(1 for o in outcomes if o.ok)

        async def bare(block: list[uuid.UUID]) -> None:
            for start in range(0, len(block), CHUNK):
                await _bare_chunk(engine, block[start:start + CHUNK], key, zone, clock)

        for b, start in enumerate(range(0, n, BLOCK)):
            steps = [("service", service, service_ids[start:start + BLOCK]),
                     ("bare", bare, bare_ids[start:start + BLOCK])]
            for side, work, block in steps if b % 2 == 0 else reversed(steps):
                began = time.perf_counter()
                await work(block)
                spent[side] += time.perf_counter() - began
        async with engine.connect() as conn:
            passes = (await conn.execute(select(func.count()).select_from(AccessPass.__table__))).scalar_one()  # type: ignore[attr-defined]
        async with maker() as session:
            from cirqliz.issuance.audit import verify_chain

            chain = await verify_chain(session)
        return {"service_s": spent["service"], "bare_s": spent["bare"], "accepted": accepted, "passes": passes,
                "chain_intact": chain.intact, "n": n}
    finally:
        await engine.dispose()


def run(config: Config) -> list[Row]:
    n = config.scale(10_000, 500)
    rate_name = f"bulk approval of {n:,} applications, PostgreSQL: service (applications/s)"
    ratio_name = f"bulk approval of {n:,} applications, PostgreSQL: service time vs bare executemany"
    reason = postgres_unreachable()
    if reason:
        return [not_measured(rate_name, "applications/s", reason), not_measured(ratio_name, "s", reason)]
    with scratch_postgres() as name, tempfile.TemporaryDirectory(prefix="cirqliz-bench-bulk-") as tmp:
        url = postgres_url(name)
        migrate(url)
        result = asyncio.run(_measure(url, Path(tmp) / "keys", n))
    ok = result["accepted"] == n and result["passes"] == 2 * n and result["chain_intact"]
    check = "" if ok else (f"; ACCEPTED {result['accepted']}, PASSES {result['passes']} (expected {n}, {2 * n}), "
                           f"chain intact: {result['chain_intact']}")
    rate, bare_rate = n / result["service_s"], n / result["bare_s"]
    note = (f"{n:,} per side in blocks of {BLOCK:,}, chunks of {CHUNK} per transaction; baseline "
            f"{bare_rate:,.0f} applications/s (executemany, no ORM){check}")
    return [
        Row(rate_name, "applications/s", rate, None, target_on="value", op=">=", limit=RATE_LIMIT, note=note, ok=ok,
            extra={"service_s": result["service_s"], "bare_s": result["bare_s"]}),
        Row(ratio_name, "s", result["service_s"], result["bare_s"], limit=RATIO_LIMIT, note=note, ok=ok),
    ]
