"""Publishing again with nothing changed (issue 18): the zones, revocation list and zone data version
read by the last publication are used again while the database's change counter (migration 0014)
says nothing changed, so no outline or serial is read; after any change, whoever wrote it, after
time alone ends a closure, a dated period or a listed pass, and after a rolled back publication,
the bundle says exactly what a publication with every cache emptied says.

Publishing right after a change reads only what the change touched: outlines are kept per process
by (zone id, geometry_version), a value the database gives whenever an outline is written
(migration 0016), and revocation hashes by serial; every way of writing an outline (ORM, bulk
UPDATE, a version written by hand, a zone deleted and inserted again with its old id) still gives
exactly a cold publication."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    SQUARE,
    USER_ADMIN_ID,
    USER_REVIEWER_ID,
    ZONE_CENTRE_ID,
    ZONE_ZFE_ID,
    FakeSigner,
    make_submitted_application,
    make_zone,
)
from sqlalchemy import delete, event, update
from sqlmodel import select

from cirqliz.db.models import AccessPass, AccessRule, Zone, ZoneClosure, ZoneSchedule
from cirqliz.issuance import publication
from cirqliz.issuance.applications import approve_application
from cirqliz.issuance.events import close_zone, replace_schedule
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.passes import revoke_pass
from cirqliz.issuance.publication import publish_bundle
from cirqliz.passcode import bundle as bundle_module
from cirqliz.passcode.bundle import FULL, decode_payload, encode_full, revocation_hash
from cirqliz.passcode.cose import decode_sign1

pytestmark = pytest.mark.usefixtures("world")


@pytest.fixture
def store(tmp_path, clock):
    return KeyStore.init(tmp_path / "keys" / "paris", issuer="paris", clock=clock)


async def _publish(session_factory, store, clock) -> bytes:
    async with session_factory() as session, session.begin():
        data, _content = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    return data


def _said(data: bytes):
    """What a stored bundle says, its seq aside (each publication takes the next one); its payload
    checked to be the deterministic encoding of that content."""
    payload = decode_sign1(data, deterministic=True).payload
    kind, content, _ = decode_payload(payload)
    assert kind == FULL and payload == encode_full(content)
    return replace(content, seq=0)


def _forget() -> None:
    """Empty every cache of the publication path (a cold process)."""
    for kept in (getattr(publication, "_inputs_kept", {}), publication._zones_kept, publication._simplified,
                 getattr(publication, "_hashes_kept", {}), getattr(publication, "_last_revocations", {}),
                 bundle_module._zone_items):
        kept.clear()


async def _cold(session_factory, store, clock):
    _forget()
    return _said(await _publish(session_factory, store, clock))


async def _pass(session_factory, clock, *, hours: int = 24 * 20) -> AccessPass:
    async with session_factory() as session, session.begin():
        app = await make_submitted_application(session, clock, not_before=clock.now(),
                                               expires_at=clock.now() + timedelta(hours=hours))
        await approve_application(session, application_id=app.id, reviewer_id=USER_REVIEWER_ID,
                                  signer=FakeSigner(), clock=clock)
        return (await session.exec(select(AccessPass).where(AccessPass.application_id == app.id))).one()


def _listed(content, row: AccessPass) -> bool:
    entry = revocation_hash("paris", bytes.fromhex(row.serial))
    return any(content.revoked[i:i + 8] == entry for i in range(0, len(content.revoked), 8))


async def test_publishing_again_with_nothing_changed_reads_no_outline_and_no_serial(
        session_factory, engine, store, clock):
    revoked = await _pass(session_factory, clock)
    async with session_factory() as session, session.begin():
        await revoke_pass(session, pass_id=revoked.id, actor_id=USER_ADMIN_ID, reason="Volé", clock=clock)
    first = _said(await _publish(session_factory, store, clock))
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_rest):
        seen.append(statement.lower())

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        again = _said(await _publish(session_factory, store, clock))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    assert seen and not [s for s in seen if "geometry" in s or "access_pass" in s or "zone_closure" in s]
    assert again == first and _listed(again, revoked) and len(again.zones) >= 2
    assert await _cold(session_factory, store, clock) == again


async def _outline(session, clock):
    zone = await session.get(Zone, ZONE_CENTRE_ID)
    zone.geometry = {"type": "Polygon", "coordinates": [[[lon + 0.01, lat] for lon, lat in SQUARE["coordinates"][0]]]}
    session.add(zone)  # data_version unchanged: not every outline edit bumps it


async def _rule(session, clock):
    rule = (await session.exec(select(AccessRule).where(AccessRule.zone_id == ZONE_CENTRE_ID))).first()
    rule.windows = [{"weekdays": 1, "start": 360, "end": 420}]
    session.add(rule)


async def _period(session, clock):
    await replace_schedule(session, zone_id=ZONE_ZFE_ID, source="event", source_ref="fete", clock=clock,
                           periods=[(clock.now() + timedelta(days=2), clock.now() + timedelta(days=3))])


async def _closure(session, clock):
    await close_zone(session, zone_id=ZONE_CENTRE_ID, authority_id=AUTHORITY_PARIS_ID,
                     ends_at=clock.now() + timedelta(hours=5), reason="Travaux", clock=clock)


async def _renamed_by_bulk_update(session, clock):
    # No ORM object: only the database's triggers can tell the cache.
    await session.exec(update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(name="Centre historique"))


async def _zone_back_to_draft(session, clock):
    await session.exec(update(Zone).where(Zone.id == ZONE_ZFE_ID).values(status="draft"))


def _moved(by: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon, lat + by] for lon, lat in SQUARE["coordinates"][0]]]}


async def _outline_by_bulk_update(session, clock):
    # No ORM object: only the database's triggers (migration 0016) can give a new geometry_version.
    await session.exec(update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(geometry=_moved(0.02)))


async def _outline_with_its_old_version_by_hand(session, clock):
    # A writer copying a row writes the version it read: the database gives a new one anyway.
    old = (await session.exec(select(Zone.geometry_version).where(Zone.id == ZONE_CENTRE_ID))).one()
    await session.exec(update(Zone).where(Zone.id == ZONE_CENTRE_ID)
                       .values(geometry=_moved(-0.02), geometry_version=old))


async def _zone_deleted(session, clock):
    for table in (AccessRule, ZoneSchedule, ZoneClosure):
        await session.exec(delete(table).where(table.zone_id == ZONE_ZFE_ID))
    await session.exec(delete(Zone).where(Zone.id == ZONE_ZFE_ID))


async def _zone_added(session, clock):
    await make_zone(session, clock, code="NOUVELLE", name="Nouvelle zone", geometry=_moved(0.05))


@pytest.mark.parametrize("change", [_outline, _rule, _period, _closure, _renamed_by_bulk_update,
                                    _zone_back_to_draft, _outline_by_bulk_update,
                                    _outline_with_its_old_version_by_hand, _zone_deleted, _zone_added])
async def test_after_a_change_the_bundle_says_what_a_cold_publication_says(session_factory, store, clock, change):
    await _publish(session_factory, store, clock)
    before = _said(await _publish(session_factory, store, clock))  # from what the first one kept
    async with session_factory() as session, session.begin():
        await change(session, clock)
    after = _said(await _publish(session_factory, store, clock))
    assert after != before
    assert await _cold(session_factory, store, clock) == after


async def test_a_revocation_is_listed_and_time_alone_removes_it(session_factory, store, clock):
    short = await _pass(session_factory, clock, hours=3)
    await _publish(session_factory, store, clock)
    async with session_factory() as session, session.begin():
        await revoke_pass(session, pass_id=short.id, actor_id=USER_ADMIN_ID, reason="Volé", clock=clock)
    listed = _said(await _publish(session_factory, store, clock))
    assert _listed(listed, short)
    clock.advance(timedelta(hours=4))  # expired: no write, the counter did not move
    expired = _said(await _publish(session_factory, store, clock))
    assert not _listed(expired, short)
    assert await _cold(session_factory, store, clock) == expired


async def test_a_closure_and_a_dated_period_that_end_leave_the_bundle_without_any_write(
        session_factory, store, clock):
    async with session_factory() as session, session.begin():
        await _closure(session, clock)
        await replace_schedule(session, zone_id=ZONE_ZFE_ID, source="event", source_ref="fete", clock=clock,
                               periods=[(clock.now() - timedelta(hours=1), clock.now() + timedelta(hours=7)),
                                        (clock.now() + timedelta(days=2), clock.now() + timedelta(days=3))])
    first = _said(await _publish(session_factory, store, clock))
    centre = next(z for z in first.zones if z.code == "CENTRE")
    assert [c.reason for c in centre.closures] == ["Travaux"]
    clock.advance(timedelta(hours=6))
    closed_ended = _said(await _publish(session_factory, store, clock))
    assert not next(z for z in closed_ended.zones if z.code == "CENTRE").closures
    assert await _cold(session_factory, store, clock) == closed_ended
    clock.advance(timedelta(hours=2))  # the first period is over
    period_ended = _said(await _publish(session_factory, store, clock))
    zfe = [z.restriction for z in (closed_ended, period_ended) for z in z.zones if z.code == "ZFE"]
    assert zfe[0] != zfe[1]
    assert await _cold(session_factory, store, clock) == period_ended


async def test_a_rolled_back_publication_leaves_nothing_behind(session_factory, store, clock):
    await _publish(session_factory, store, clock)
    with pytest.raises(RuntimeError):
        async with session_factory() as session, session.begin():
            zone = await session.get(Zone, ZONE_CENTRE_ID)
            zone.name = "Nom jamais enregistré"
            session.add(zone)
            await session.flush()
            await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
            raise RuntimeError("annulé")
    async with session_factory() as session, session.begin():
        await _rule(session, clock)  # one more change: the counter is where the rolled back one left it
    after = _said(await _publish(session_factory, store, clock))
    assert "Nom jamais enregistré" not in {z.name for z in after.zones}
    assert await _cold(session_factory, store, clock) == after



def _reading_outlines(engine):
    """A listener recording the statements that read a zone's outline (not its geometry_version)."""
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_rest):
        if re.search(r"zone\.geometry\b(?!_)", statement.lower()):
            seen.append(statement)
    return seen, listener


async def test_publishing_after_a_rule_change_reads_no_outline_and_hashes_no_serial_again(
        session_factory, engine, store, clock, monkeypatch):
    revoked = [await _pass(session_factory, clock) for _ in range(3)]
    async with session_factory() as session, session.begin():
        for row in revoked[:2]:
            await revoke_pass(session, pass_id=row.id, actor_id=USER_ADMIN_ID, reason="Volé", clock=clock)
    await _publish(session_factory, store, clock)
    hashed: list[bytes] = []
    real_hash = publication.revocation_hash

    def counting_hash(iss, cti):
        hashed.append(cti)
        return real_hash(iss, cti)

    monkeypatch.setattr(publication, "revocation_hash", counting_hash)
    async with session_factory() as session, session.begin():
        await _rule(session, clock)
        await revoke_pass(session, pass_id=revoked[2].id, actor_id=USER_ADMIN_ID, reason="Volé", clock=clock)
    seen, listener = _reading_outlines(engine)
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        after = _said(await _publish(session_factory, store, clock))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    assert seen == []
    assert hashed == [bytes.fromhex(revoked[2].serial)]
    assert all(_listed(after, row) for row in revoked)
    assert [(w.weekdays, w.start, w.end) for w in next(z for z in after.zones if z.code == "CENTRE").windows] \
        == [(1, 360, 420)]
    assert await _cold(session_factory, store, clock) == after


async def test_after_an_outline_change_only_that_outline_is_read(session_factory, engine, store, clock):
    await _publish(session_factory, store, clock)
    async with session_factory() as session, session.begin():
        await _outline_by_bulk_update(session, clock)
    seen, listener = _reading_outlines(engine)
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        after = _said(await _publish(session_factory, store, clock))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    assert len(seen) == 1 and " in " in seen[0].lower()  # by the ids of the zones not kept: one here
    assert next(z for z in after.zones if z.code == "CENTRE").geometry[0][0][1] == 48_870_000
    assert await _cold(session_factory, store, clock) == after


async def test_a_zone_deleted_then_added_again_with_its_old_id_carries_its_new_outline(
        session_factory, store, clock):
    async with session_factory() as session, session.begin():
        zone = await make_zone(session, clock, code="EPHEMERE", name="Zone éphémère", geometry=_moved(0.05))
    zone_id, first_ref = zone.id, zone.ref
    listed = _said(await _publish(session_factory, store, clock))
    assert next(z for z in listed.zones if z.code == "EPHEMERE").ref == first_ref
    async with session_factory() as session, session.begin():
        await session.exec(delete(AccessRule).where(AccessRule.zone_id == zone_id))
        await session.exec(delete(Zone).where(Zone.id == zone_id))
    gone = _said(await _publish(session_factory, store, clock))  # its old outline still kept
    assert "EPHEMERE" not in {z.code for z in gone.zones}
    async with session_factory() as session, session.begin():
        await make_zone(session, clock, zone_id=zone_id, code="EPHEMERE", name="Zone éphémère",
                        geometry=_moved(-0.05))
    back = _said(await _publish(session_factory, store, clock))
    again = next(z for z in back.zones if z.code == "EPHEMERE")
    assert again.ref != first_ref  # refs are never reused; the id is the old one
    assert again.geometry != next(z for z in listed.zones if z.code == "EPHEMERE").geometry
    assert await _cold(session_factory, store, clock) == back


async def test_an_outline_change_rolled_back_with_its_publication_is_not_kept(session_factory, store, clock):
    await _publish(session_factory, store, clock)
    with pytest.raises(RuntimeError):
        async with session_factory() as session, session.begin():
            await session.exec(update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(geometry=_moved(0.03)))
            await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
            raise RuntimeError("annulé")
    async with session_factory() as session, session.begin():
        await session.exec(update(Zone).where(Zone.id == ZONE_CENTRE_ID).values(geometry=_moved(-0.03)))
    after = _said(await _publish(session_factory, store, clock))
    assert next(z for z in after.zones if z.code == "CENTRE").geometry[0][0][1] == 48_820_000
    assert await _cold(session_factory, store, clock) == after
