"""A bundle's zones encoded once and kept (issue 18): the payload assembled from kept pieces is
byte for byte the deterministic encoding of the whole, on the golden vectors and on random bundles."""

from __future__ import annotations

import base64
import dataclasses
import json
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirqliz.domain.windows import TimeWindow
from cirqliz.passcode import bundle as bundle_module
from cirqliz.passcode.bundle import (
    DELTA,
    FULL,
    BundleContent,
    BundleZone,
    Closure,
    apply_delta,
    decode_payload,
    encode_delta,
    encode_full,
    sorted_revocations,
)
from cirqliz.passcode.cbor import Encoded, array_head, dumps_deterministic, first_problem
from cirqliz.passcode.cose import decode_sign1
from cirqliz.passcode.errors import SchemeError

from ._support import ZONES, content

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _plain_full(c: BundleContent) -> bytes:
    """Today's encoding from scratch: every zone as a map inside the one deterministic encoding."""
    out = bundle_module._common_out(c, FULL)
    out[bundle_module.B_REVOKED] = c.revoked
    out[bundle_module.B_ZONES] = [bundle_module._zone_out(z) for z in sorted(c.zones, key=lambda z: z.ref)]
    if c.partners:
        out[bundle_module.B_PARTNERS] = bundle_module._partners_out(c.partners)
    return dumps_deterministic(out)


def _plain_delta(base: BundleContent, new: BundleContent) -> bytes:
    old_zones = {z.ref: z for z in base.zones}
    out = bundle_module._common_out(new, DELTA)
    old_set, new_set = set(bundle_module._split(base.revoked)), set(bundle_module._split(new.revoked))
    out[bundle_module.B_BASE_SEQ] = base.seq
    out[bundle_module.B_REVOKED_ADDED] = sorted_revocations(new_set - old_set)
    out[bundle_module.B_REVOKED_REMOVED] = sorted_revocations(old_set - new_set)
    out[bundle_module.B_ZONES_CHANGED] = [bundle_module._zone_out(z) for z in sorted(new.zones, key=lambda z: z.ref)
                                          if old_zones.get(z.ref) != z]
    out[bundle_module.B_ZONES_REMOVED] = sorted(set(old_zones) - {z.ref for z in new.zones})
    if bundle_module._partners_out(base.partners) != bundle_module._partners_out(new.partners):
        out[bundle_module.B_PARTNERS] = bundle_module._partners_out(new.partners)
    return dumps_deterministic(out)


@contextmanager
def _counting_zone_encodings():
    """The refs of the zones encoded from scratch inside the block."""
    encoded: list[int] = []
    zone_out = bundle_module._zone_out

    def counting(z: BundleZone) -> dict[int, Any]:
        encoded.append(z.ref)
        return zone_out(z)

    with mock.patch.object(bundle_module, "_zone_out", counting):
        yield encoded


def _vector_payloads() -> list[tuple[str, str, bytes]]:
    out = []
    for file in sorted(VECTORS.glob("*.json")):
        for name, text in json.loads(file.read_text())["bundles"].items():
            try:
                message = decode_sign1(base64.b64decode(text), deterministic=True)
            except SchemeError:  # a deliberately broken vector (tampered…)
                continue
            out.append((file.stem, name, message.payload))
    return out


VECTOR_PAYLOADS = _vector_payloads()


def test_the_golden_vectors_are_read():
    kinds = [decode_payload(payload)[0] for _file, _name, payload in VECTOR_PAYLOADS]
    assert kinds.count(FULL) >= 10 and kinds.count(DELTA) >= 3


@pytest.mark.parametrize(("file", "name", "payload"), VECTOR_PAYLOADS, ids=[f"{f}-{n}" for f, n, _ in VECTOR_PAYLOADS])
def test_golden_vector_bundles_encode_to_their_signed_payload_from_kept_zones(file, name, payload):
    kind, decoded, delta = decode_payload(payload)
    if kind == DELTA:
        fulls = [decode_payload(p)[1] for f, _n, p in VECTOR_PAYLOADS if f == file and decode_payload(p)[0] == FULL]
        base = next(c for c in fulls if c.seq == delta["base_seq"] and c.iss == decoded.iss)
        new = apply_delta(base, decoded, delta)
        assert encode_delta(base, new) == payload == _plain_delta(base, new)
        with _counting_zone_encodings() as encoded:
            assert encode_delta(base, new) == payload
        assert encoded == []
        return
    assert encode_full(decoded) == payload == _plain_full(decoded)
    with _counting_zone_encodings() as encoded:
        assert encode_full(decoded) == payload  # every zone from its kept item
        # The same zone objects in another bundle (the next seq): kept items again, right bytes.
        later = dataclasses.replace(decoded, seq=decoded.seq + 1, zones=decoded.zones[::-1])
        assert encode_full(later) == _plain_full(later)
    assert len(encoded) == len(decoded.zones)  # _plain_full's, not encode_full's


# ---- random bundles ---------------------------------------------------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
days = st.dates(date(2000, 1, 1), date(2100, 12, 31))


@st.composite
def windows(draw: st.DrawFn) -> TimeWindow:
    bounds = sorted(draw(st.lists(days, max_size=2)))
    first = draw(st.sampled_from([None, *bounds[:1]]))
    last = draw(st.sampled_from([None, *bounds[1:]]))
    return TimeWindow(draw(st.integers(1, 0b1111111)), draw(st.integers(0, 1439)), draw(st.integers(1, 1440)),
                      first, last, draw(st.booleans()))


ints = st.integers(-(2**40), 2**40)
rings = st.lists(st.tuples(ints, ints), max_size=30).map(lambda pairs: tuple(v for p in pairs for v in p))
geometries = st.none() | st.lists(st.lists(rings, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3).map(tuple)
bundle_zones = st.builds(
    BundleZone, ref=st.integers(0, 2**40), code=texts, name=texts, kind=texts,
    tz=st.sampled_from(["Europe/Paris", "UTC"]),
    windows=st.lists(windows(), max_size=3).map(tuple), valid_from=st.none() | st.integers(0, 2**33),
    valid_until=st.none() | st.integers(0, 2**33),
    closures=st.lists(st.builds(Closure, st.integers(0, 2**33), st.integers(0, 2**33), texts), max_size=2).map(tuple),
    geometry=geometries, restriction=st.lists(windows(), max_size=2).map(tuple),
)
zone_lists = st.lists(bundle_zones, max_size=30, unique_by=lambda z: z.ref)
revocations = st.lists(st.binary(min_size=8, max_size=8), max_size=40)


def _content(zones: list[BundleZone], revoked: list[bytes], seq: int = 7) -> BundleContent:
    return dataclasses.replace(content(seq=seq, zones=tuple(zones)), revoked=sorted_revocations(revoked))


@FAST
@given(zones=zone_lists, revoked=revocations)
def test_a_random_full_bundle_from_kept_zones_is_its_plain_encoding(zones, revoked):
    c = _content(zones, revoked)
    plain = _plain_full(c)
    assert first_problem(plain) is None
    assert encode_full(c) == plain
    with _counting_zone_encodings() as encoded:
        assert encode_full(c) == plain
        assert encode_full(dataclasses.replace(c, seq=8, zones=c.zones[::-1])) == _plain_full(
            dataclasses.replace(c, seq=8))
    assert len(encoded) == len(zones)  # only the reference encoding's


@FAST
@given(old=zone_lists, new=zone_lists, kept=st.integers(0, 30), revoked=revocations)
def test_a_random_delta_from_kept_zones_is_its_plain_encoding(old, new, kept, revoked):
    refs = {z.ref for z in new}
    shared = [z for z in old[:kept] if z.ref not in refs]  # the same objects in both bundles
    base, later = _content(old, revoked[::2]), _content(new + shared, revoked[1::2], seq=8)
    plain = _plain_delta(base, later)
    assert encode_delta(base, later) == plain
    with _counting_zone_encodings() as encoded:
        assert encode_delta(base, later) == plain  # the changed zones from their kept items
    assert encoded == []


def test_equal_zones_of_other_types_are_not_taken_for_each_other():
    """1 == True in Python, not in CBOR: a zone is kept by object, not by value."""
    one = BundleZone(1, "A", "A", "pedestrian", "UTC", geometry=(((1, 2, 3, 4),),))
    true = BundleZone(True, "A", "A", "pedestrian", "UTC", geometry=(((True, 2, 3, 4),),))
    assert one == true and hash(one) == hash(true)
    plain = {zone.ref.__class__: _plain_full(_content([zone], [])) for zone in (one, true)}
    assert plain[int] != plain[bool]
    for zone in (one, true):
        assert encode_full(_content([zone], [])) == plain[type(zone.ref)]
    with _counting_zone_encodings() as encoded:
        for zone in (one, true, one):
            assert encode_full(_content([zone], [])) == plain[type(zone.ref)]
    assert encoded == []  # each from its own kept item
    with pytest.raises(TypeError):
        encode_full(_content([BundleZone(1, "A", "A", "pedestrian", "UTC", geometry=(((1.0, 2, 3, 4),),))], []))


def test_a_zone_with_lists_inside_is_encoded_each_time_not_kept():
    ring = [2_350_000, 48_860_000, 2_351_000, 48_861_000]
    listed = BundleZone(1, "A", "A", "pedestrian", "UTC", geometry=[[ring]])  # type: ignore[arg-type]
    tupled = BundleZone(2, "B", "B", "pedestrian", "UTC", geometry=((tuple(ring),),))
    first = encode_full(_content([listed, tupled], []))
    ring[0] += 1  # the caller changes its list afterwards
    with _counting_zone_encodings() as encoded:
        again = encode_full(_content([listed, tupled], []))
    assert encoded == [1]  # the listed zone again, the other one from its kept item
    assert again == _plain_full(_content([listed, tupled], [])) != first


def test_kept_zones_are_bounded(monkeypatch):
    monkeypatch.setattr(bundle_module, "ZONE_ITEMS_KEPT", 5)
    zones = [dataclasses.replace(ZONES[0], ref=100 + n) for n in range(12)]
    c = _content(zones, [])
    assert encode_full(c) == _plain_full(c)
    assert len(bundle_module._zone_items) <= 5


# ---- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 23, 24, 255, 256, 65_535, 65_536, 70_000])
def test_array_head_is_cbor2s(count):
    assert array_head(count) == cbor2.dumps([0] * count)[: len(cbor2.dumps([0] * count)) - count]


def test_array_head_of_huge_and_negative_counts():
    assert array_head(2**32) == b"\x9b\x00\x00\x00\x01\x00\x00\x00\x00"
    assert array_head(2**32 - 1) == b"\x9a\xff\xff\xff\xff"
    with pytest.raises(ValueError):
        array_head(-1)


def test_an_encoded_part_is_written_as_it_is_and_unknown_types_still_fail():
    inner = dumps_deterministic({2: "b", 1: [1, 2]})
    assert dumps_deterministic({3: Encoded(inner), 1: [Encoded(inner)]}) == dumps_deterministic(
        {3: {2: "b", 1: [1, 2]}, 1: [{1: [1, 2], 2: "b"}]})
    with pytest.raises(cbor2.CBOREncodeError):
        dumps_deterministic({1: object()})
