"""Publishing at city scale (issue 18): a zone that did not change is the same BundleZone object
from one bundle_zones call to the next, and its bundle encoding is kept; any change of what the
bundle says of it (outline even without a new data_version, rule windows, closure, name) gives a
new one, and the bundle still says exactly what the database says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import AUTHORITY_PARIS_ID, SQUARE, T0, ZONE_CENTRE_ID, ZONE_ZFE_ID
from sqlmodel import select

from cirqliz.db.models import AccessRule, Zone, ZoneClosure
from cirqliz.issuance.keystore import KeyStore
from cirqliz.issuance.publication import bundle_zones, publish_bundle
from cirqliz.passcode import bundle as bundle_module
from cirqliz.passcode.bundle import FULL, decode_payload, encode_full
from cirqliz.passcode.cbor import dumps_deterministic
from cirqliz.passcode.cose import decode_sign1

pytestmark = pytest.mark.usefixtures("world")


async def _zones(session_factory, clock) -> dict[str, bundle_module.BundleZone]:
    async with session_factory() as session:
        return {z.code: z for z in await bundle_zones(session, AUTHORITY_PARIS_ID, now=clock.now())}


def _plain(content: bundle_module.BundleContent) -> bytes:
    """The full payload encoded from scratch, every zone as a map (no kept part)."""
    out = bundle_module._common_out(content, FULL)
    out[bundle_module.B_REVOKED] = content.revoked
    out[bundle_module.B_ZONES] = [bundle_module._zone_out(z) for z in sorted(content.zones, key=lambda z: z.ref)]
    if content.partners:
        out[bundle_module.B_PARTNERS] = bundle_module._partners_out(content.partners)
    return dumps_deterministic(out)


async def test_unchanged_zones_are_the_same_objects_and_each_change_makes_a_new_one(session_factory, clock):
    first = await _zones(session_factory, clock)
    again = await _zones(session_factory, clock)
    assert first.keys() == again.keys() and all(again[code] is first[code] for code in first)

    # The outline edited without a new data_version (not every edit bumps it).
    async with session_factory() as session, session.begin():
        zone = await session.get(Zone, ZONE_CENTRE_ID)
        ring = [[lon + 0.01, lat] for lon, lat in SQUARE["coordinates"][0]]
        zone.geometry = {"type": "Polygon", "coordinates": [ring]}
        session.add(zone)
    moved = await _zones(session_factory, clock)
    assert moved["CENTRE"] is not first["CENTRE"] and moved["CENTRE"].geometry != first["CENTRE"].geometry
    assert moved["CENTRE"].geometry[0][0][0] == first["CENTRE"].geometry[0][0][0] + 10_000
    others = [code for code in first if code != "CENTRE"]
    assert others and all(moved[code] is first[code] for code in others)

    # A rule's windows.
    async with session_factory() as session, session.begin():
        rule = (await session.exec(select(AccessRule).where(AccessRule.zone_id == ZONE_CENTRE_ID))).first()
        rule.windows = [{"weekdays": 1, "start": 600, "end": 660}]
        session.add(rule)
    ruled = await _zones(session_factory, clock)
    assert ruled["CENTRE"] is not moved["CENTRE"]
    assert [(w.weekdays, w.start, w.end) for w in ruled["CENTRE"].windows] == [(1, 600, 660)]

    # A closure of another zone, and a new name.
    async with session_factory() as session, session.begin():
        session.add(ZoneClosure(zone_id=ZONE_ZFE_ID, authority_id=AUTHORITY_PARIS_ID, starts_at=T0,
                                ends_at=T0 + timedelta(hours=2), reason="Travaux", created_at=T0))
        zone = await session.get(Zone, ZONE_CENTRE_ID)
        zone.name = "Centre historique"
        session.add(zone)
    closed = await _zones(session_factory, clock)
    zfe = next(code for code, z in closed.items() if z.closures)
    assert closed[zfe] is not ruled[zfe] and [c.reason for c in closed[zfe].closures] == ["Travaux"]
    assert closed["CENTRE"] is not ruled["CENTRE"] and closed["CENTRE"].name == "Centre historique"


async def test_a_second_bundle_encodes_no_unchanged_zone_again_and_says_the_same(
        session_factory, clock, tmp_path, monkeypatch):
    store = KeyStore.init(tmp_path / "keys" / "paris", issuer="paris", clock=clock)
    async with session_factory() as session, session.begin():
        first, _ = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    encoded: list[int] = []
    zone_out = bundle_module._zone_out

    def counting(z):
        encoded.append(z.ref)
        return zone_out(z)

    monkeypatch.setattr(bundle_module, "_zone_out", counting)
    async with session_factory() as session, session.begin():
        data, content = await publish_bundle(session, authority_id=AUTHORITY_PARIS_ID, keystore=store, clock=clock)
    assert encoded == []
    payload = decode_sign1(data, deterministic=True).payload
    kind, decoded, _ = decode_payload(payload)
    assert kind == FULL and decoded == content and len(content.zones) >= 2
    assert payload == _plain(content) == encode_full(decoded)
    assert decode_payload(decode_sign1(first, deterministic=True).payload)[1].zones == content.zones
