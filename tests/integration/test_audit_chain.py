"""The hash-chained audit log (ADR 0006): a normal flow chains; editing, deleting or reordering one
record is found at its seq; concurrent transactions append without gap or duplicate; the
migration chains records that existed before it; `cirqliz audit verify` says so."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from factories import USER_REVIEWER_ID, make_submitted_application
from sqlalchemy import text
from sqlmodel import col, select

from cirqliz.cli import main
from cirqliz.db.engine import create_engine, create_session_factory
from cirqliz.db.migrate import upgrade
from cirqliz.db.models import AuditRecord
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.audit import AUDIT_LOCK_ID, GENESIS, record_change, verify_chain
from cirqliz.issuance.passes import expire_passes
from cirqliz.settings import Settings


async def _flow(session_factory, clock, signer) -> None:
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock)
    async with session_factory() as session, session.begin():
        await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID, signer=signer,
                                  clock=clock)
    clock.advance(timedelta(days=400))
    async with session_factory() as session, session.begin():
        assert await expire_passes(session, clock=clock) >= 1


async def _report(session_factory):
    async with session_factory() as session, session.begin():
        return await verify_chain(session)


async def _seqs(session_factory) -> list[int]:
    async with session_factory() as session, session.begin():
        return list((await session.exec(select(AuditRecord.seq).order_by(col(AuditRecord.seq)))).all())


async def _sql(session_factory, statement: str, **params) -> None:
    """Raw SQL, as someone with database access would type it (`:json` casts on PostgreSQL)."""
    async with session_factory() as session, session.begin():
        json = "CAST(:json AS json)" if session.bind.dialect.name == "postgresql" else ":json"
        await session.exec(text(statement.replace(":json", json)).bindparams(**params))  # type: ignore[call-overload]


async def test_a_normal_flow_gives_an_intact_chain(world, session_factory, clock, signer):
    await _flow(session_factory, clock, signer)
    report = await _report(session_factory)
    seqs = await _seqs(session_factory)
    assert report.intact, report
    assert report.count == len(seqs) >= 5 and seqs == list(range(1, len(seqs) + 1))
    assert report.message_fr() == f"Chaîne d'audit intacte ({len(seqs)} enregistrements)"
    async with session_factory() as session, session.begin():
        first = (await session.exec(select(AuditRecord).where(col(AuditRecord.seq) == 1))).one()
        second = (await session.exec(select(AuditRecord).where(col(AuditRecord.seq) == 2))).one()
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash and len(first.hash or "") == 64


async def test_editing_a_records_content_is_found_at_its_seq(world, session_factory, clock, signer):
    await _flow(session_factory, clock, signer)
    await _sql(session_factory, "UPDATE audit_record SET after = :json WHERE seq = 3",
               json='{"status": "approved", "reason": "falsifié"}')
    report = await _report(session_factory)
    assert not report.intact and report.broken_seq == 3 and report.count == 2
    assert "modifié" in (report.problem or "")
    assert report.message_fr().startswith("Chaîne d'audit rompue au n° 3")


async def test_editing_a_records_time_or_actor_is_found(world, session_factory, clock, signer):
    await _flow(session_factory, clock, signer)
    async with session_factory() as session, session.begin():
        record = (await session.exec(select(AuditRecord).where(col(AuditRecord.seq) == 2))).one()
        record.at = record.at + timedelta(seconds=1)  # through the ORM: hashes are not recomputed
    assert (await _report(session_factory)).broken_seq == 2


async def test_deleting_a_record_is_found(world, session_factory, clock, signer):
    await _flow(session_factory, clock, signer)
    await _sql(session_factory, "DELETE FROM audit_record WHERE seq = 2")
    report = await _report(session_factory)
    assert not report.intact and report.broken_seq == 2 and "manquant" in (report.problem or "")


async def test_deleting_a_record_and_renumbering_is_found(world, session_factory, clock, signer):
    await _flow(session_factory, clock, signer)
    await _sql(session_factory, "DELETE FROM audit_record WHERE seq = 2")
    await _sql(session_factory, "UPDATE audit_record SET seq = -seq WHERE seq > 2")
    await _sql(session_factory, "UPDATE audit_record SET seq = -seq - 1 WHERE seq < 0")
    report = await _report(session_factory)
    assert not report.intact and report.broken_seq == 2


async def test_reordering_two_records_is_found(world, session_factory, clock, signer):
    await _flow(session_factory, clock, signer)
    await _sql(session_factory, "UPDATE audit_record SET seq = -1 WHERE seq = 2")
    await _sql(session_factory, "UPDATE audit_record SET seq = 2 WHERE seq = 3")
    await _sql(session_factory, "UPDATE audit_record SET seq = 3 WHERE seq = -1")
    report = await _report(session_factory)
    assert not report.intact and report.broken_seq == 2


async def test_a_record_outside_the_chain_is_found(world, session_factory, clock, signer):
    await _flow(session_factory, clock, signer)
    await _sql(session_factory, "UPDATE audit_record SET seq = NULL, hash = NULL WHERE seq = 4")
    report = await _report(session_factory)
    assert not report.intact and "sans numéro" in (report.problem or "")


async def test_several_records_in_one_transaction_and_a_rolled_back_savepoint(world, session_factory, clock):
    base = len(await _seqs(session_factory))  # the world's own records
    async with session_factory() as session, session.begin():
        for i in range(3):
            await record_change(session, actor_id=None, entity="zone", entity_id=f"z{i}", action="create",
                                at=clock.now(), after={"i": i, "nom": "Zone é"})
        await session.flush()  # one written before the commit (then updated when chained)
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                await record_change(session, actor_id=None, entity="zone", entity_id="gone", action="create",
                                    at=clock.now())
                await session.flush()
                raise RuntimeError("rolled back")
        await record_change(session, actor_id=None, entity="zone", entity_id="z3", action="create", at=clock.now())
    async with session_factory() as session, session.begin():
        rows = (await session.exec(select(AuditRecord).where(col(AuditRecord.seq) > base)
                                   .order_by(col(AuditRecord.seq)))).all()
    assert [(r.seq - base, r.entity_id) for r in rows] == [(1, "z0"), (2, "z1"), (3, "z2"), (4, "z3")]
    assert (await _report(session_factory)).intact


async def test_a_rolled_back_transaction_leaves_no_hole(world, session_factory, clock):
    base = len(await _seqs(session_factory))
    with pytest.raises(RuntimeError):
        async with session_factory() as session, session.begin():
            await record_change(session, actor_id=None, entity="zone", entity_id="x", action="create",
                                at=clock.now())
            raise RuntimeError("rolled back")
    async with session_factory() as session, session.begin():
        await record_change(session, actor_id=None, entity="zone", entity_id="y", action="create", at=clock.now())
    assert await _seqs(session_factory) == list(range(1, base + 2))
    assert (await _report(session_factory)).intact


async def test_concurrent_transactions_append_without_gap_or_duplicate(world, session_factory, clock):
    async def writer(n: int) -> None:
        async with session_factory() as session, session.begin():
            for i in range(5):
                await record_change(session, actor_id=None, entity="pass", entity_id=f"{n}-{i}", action="issue",
                                    at=clock.now(), after={"writer": n, "i": i})
                await asyncio.sleep(0.005)  # on PostgreSQL the transactions really interleave

    base = len(await _seqs(session_factory))
    await asyncio.gather(*(writer(n) for n in range(8)))
    seqs = await _seqs(session_factory)
    assert seqs == list(range(1, base + 41))
    report = await _report(session_factory)
    assert report.intact and report.count == base + 40
    async with session_factory() as session, session.begin():
        rows = (await session.exec(select(AuditRecord).where(col(AuditRecord.seq) > base)
                                   .order_by(col(AuditRecord.seq)))).all()
    # one transaction's records stay together and in the order they were recorded
    for start in range(0, 40, 5):
        writers = {r.after["writer"] for r in rows[start:start + 5]}
        assert len(writers) == 1 and [r.after["i"] for r in rows[start:start + 5]] == list(range(5))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: the write transaction is the lock
async def test_a_commit_waiting_for_the_chain_reads_the_head_committed_meanwhile(world, session_factory, clock):
    """PostgreSQL: the commit takes the chain's lock and reads its head in one call (migration 0019); the
    head is read after the lock is granted, so a record committed while it waited is seen, not forked."""
    base = len(await _seqs(session_factory))
    holder = session_factory()
    await holder.begin()
    await record_change(holder, actor_id=None, entity="pass", entity_id="first", action="issue", at=clock.now())
    await holder.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=AUDIT_LOCK_ID))  # type: ignore[call-overload]

    async def second() -> None:
        async with session_factory() as session, session.begin():
            await record_change(session, actor_id=None, entity="pass", entity_id="second", action="issue",
                                at=clock.now())

    waiting = asyncio.create_task(second())
    for _ in range(500):  # until the second commit waits for the lock (bounded: 10 s)
        async with session_factory() as session:
            # This database's waits only: pg_locks lists the whole server (other tests run beside this one).
            blocked = (await session.exec(text(  # type: ignore[call-overload]
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = :key"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).bindparams(key=AUDIT_LOCK_ID))).one()[0]
        if blocked or waiting.done():
            break
        await asyncio.sleep(0.02)
    assert blocked == 1 and not waiting.done()
    await holder.commit()
    await holder.close()
    await waiting
    assert await _seqs(session_factory) == list(range(1, base + 3))
    assert (await _report(session_factory)).intact


async def test_checking_only_the_tail(session_factory, clock):
    async with session_factory() as session, session.begin():
        for i in range(12):
            await record_change(session, actor_id=None, entity="zone", entity_id=str(i), action="create",
                                at=clock.now())
    await _sql(session_factory, "UPDATE audit_record SET action = 'delete' WHERE seq = 2")
    async with session_factory() as session, session.begin():
        tail = await verify_chain(session, tail=5)
        full = await verify_chain(session)
    assert tail.intact and tail.partial and tail.count == 5 and tail.first_seq == 8
    assert "5 derniers" in tail.message_fr()
    assert not full.intact and full.broken_seq == 2


async def test_the_migration_chains_existing_records_in_time_order(empty_database_url, clock):
    url = empty_database_url
    await asyncio.to_thread(upgrade, url, "0003")
    t = clock.now()
    ids = sorted(uuid.uuid4() for _ in range(3))
    rows = [(ids[2], t + timedelta(minutes=5), '{"n": 3}'), (ids[1], t, '{"n": 2, "é": "ü"}'),
            (ids[0], t, None), (uuid.uuid4(), t - timedelta(days=1), '{"n": 0}')]
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as conn:
            for rid, at, after in rows:
                await conn.execute(text(
                    "INSERT INTO audit_record (id, at, actor_id, entity, entity_id, action, before, after) "
                    "VALUES (:id, :at, NULL, 'zone', 'z', 'create', NULL, "
                    + ("CAST(:after AS json))" if url.startswith("postgresql") else ":after)")).bindparams(
                        id=rid.hex if url.startswith("sqlite") else rid, at=at, after=after))
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(Settings(database_url=url))
    try:
        maker = create_session_factory(engine)
        async with maker() as session, session.begin():
            chained = (await session.exec(select(AuditRecord).order_by(col(AuditRecord.seq)))).all()
            assert [r.after for r in chained] == [{"n": 0}, None, {"n": 2, "é": "ü"}, {"n": 3}]
            assert [r.seq for r in chained] == [1, 2, 3, 4]
            assert (await verify_chain(session)).intact
        async with maker() as session, session.begin():  # the application appends after them
            await record_change(session, actor_id=None, entity="zone", entity_id="z", action="update", at=t)
        async with maker() as session, session.begin():
            report = await verify_chain(session)
        assert report.intact and report.count == 5
    finally:
        await engine.dispose()


def test_cli_audit_verify_says_intact_then_broken(database_url, monkeypatch, capsys, clock):
    async def seed() -> None:
        engine = create_engine(Settings(database_url=database_url))
        try:
            maker = create_session_factory(engine)
            async with maker() as session, session.begin():
                for i in range(3):
                    await record_change(session, actor_id=None, entity="zone", entity_id=str(i),
                                        action="create", at=clock.now(), after={"i": i})
        finally:
            await engine.dispose()

    async def tamper() -> None:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE audit_record SET entity_id = 'autre' WHERE seq = 2"))
        finally:
            await engine.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("CIRQLIZ_DATABASE_URL", database_url)
    assert main(["audit", "verify"]) == 0
    assert "Chaîne d'audit intacte (3 enregistrements)" in capsys.readouterr().out
    asyncio.run(tamper())
    assert main(["audit", "verify"]) == 1
    assert "Chaîne d'audit rompue au n° 2" in capsys.readouterr().err
