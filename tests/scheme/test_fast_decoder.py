"""The fast paths of the verifier decide exactly as the reference paths do (differential tests).

For speed, the verifier reads the usual pass layout in place (cose._read_sign1_common,
claims._read_claims_common), decodes Base45 with big-integer arithmetic, builds DER signatures
and QR codewords by hand. Each fast path only ever accepts or gives up; here every public entry
point is compared with its reference on valid passes and on random mutations of them: same
value, or the same error class, code and message.
"""

from __future__ import annotations

import dataclasses
import random
import struct
from datetime import UTC, date, datetime, timedelta

import cbor2
import pytest
import qrcode
import qrcode.util
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirqliz.domain.windows import TimeWindow, zone_info
from cirqliz.issuance import qr
from cirqliz.passcode import claims as claims_module
from cirqliz.passcode import cose
from cirqliz.passcode.base45 import ALPHABET, b45decode, b45encode
from cirqliz.passcode.bundle import BundleContent, BundleKey, BundleZone, TrustBundle
from cirqliz.passcode.claims import PassClaims, decode_claims
from cirqliz.passcode.cose import decode_sign1, sign1
from cirqliz.passcode.errors import MalformedError, SchemeError
from cirqliz.passcode.keys import Algorithm, SigningKey, _raw_to_der
from cirqliz.passcode.token import PREFIX, read_pass_fast, read_pass_parts, sign_pass
from cirqliz.verify import core as verify_core
from cirqliz.verify import verify_pass

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = SigningKey.generate(Algorithm.ES256)
ED_KEY = SigningKey.generate(Algorithm.EDDSA)
T0 = 1_772_613_000  # 2026-03-04T08:30:00Z, a Wednesday


def outcome(func, *args, **kwargs):
    """The value, or (error class, code, message): what callers can observe."""
    try:
        return ("ok", func(*args, **kwargs))
    except SchemeError as exc:
        return ("error", type(exc).__name__, exc.code, exc.message)


# ---- strategies -----------------------------------------------------------------------------

windows = st.builds(
    TimeWindow,
    weekdays=st.integers(1, 127),
    start=st.integers(0, 1439),
    end=st.integers(1, 1440),
)
plates = st.from_regex(r"\A(?:[A-Z]{1,3}:)?[A-Z0-9]{1,12}\Z")
times = st.integers(0, 2**33)


@st.composite
def pass_claims(draw: st.DrawFn) -> PassClaims:
    nbf = draw(times)
    return PassClaims(
        iss=draw(st.text(min_size=1, max_size=64).filter(lambda s: "\x00" not in s) | st.just("PARIS75")),
        iat=draw(times),
        nbf=nbf,
        exp=nbf + draw(st.integers(1, 2**32)),
        cti=draw(st.binary(min_size=8, max_size=8)),
        zones=tuple(draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 300), min_size=1, max_size=32,
                                  unique=True))),
        plate=draw(plates),
        purpose=draw(st.integers(0, 2**16 - 1)),
        windows=tuple(draw(st.lists(windows, max_size=16))),
        zone_data_version=draw(st.integers(0, 2**32 - 1)),
    )


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, value) edits: replace, insert, delete, truncate, flip a bit."""
    out = bytearray(data)
    for kind, position, value in edits:
        if not out:
            break
        i = position % len(out)
        if kind == 0:
            out[i] = value
        elif kind == 1:
            out.insert(i, value)
        elif kind == 2:
            del out[i]
        elif kind == 3:
            del out[i:]
        else:
            out[i] ^= 1 << (value % 8)
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3)


# ---- Base45 ---------------------------------------------------------------------------------


def reference_b45decode(text: str) -> bytes:
    """The original per-group decoder (before the big-integer version)."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedError("Base45 : caractère non ASCII", code="bad_base45") from None
    table = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else 0xFF for c in range(256))
    values = raw.translate(table)
    if b"\xff" in values:
        pos = values.index(b"\xff")
        raise MalformedError(
            f"Base45 : le caractère {text[pos]!r} en position {pos} n'est pas dans l'alphabet", code="bad_base45"
        )
    n = len(values)
    if n % 3 == 1:
        raise MalformedError("Base45 : longueur impossible (un caractère isolé à la fin)", code="bad_base45")
    full = n - n % 3
    triples = zip(values[0:full:3], values[1:full:3], values[2:full:3], strict=True)
    words = [a + b * 45 + c * 2025 for a, b, c in triples]
    if words and max(words) > 0xFFFF:
        raise MalformedError("Base45 : un groupe de 3 caractères dépasse 65535", code="bad_base45")
    out = struct.pack(f">{len(words)}H", *words)
    if n % 3 == 2:
        last = values[full] + values[full + 1] * 45
        if last > 0xFF:
            raise MalformedError("Base45 : le dernier groupe de 2 caractères dépasse 255", code="bad_base45")
        out += bytes((last,))
    return out


@FAST
@given(st.text(alphabet=ALPHABET, max_size=900) | st.text(max_size=40))
def test_base45_decode_matches_the_reference(text: str) -> None:
    assert outcome(b45decode, text) == outcome(reference_b45decode, text)


@FAST
@given(st.binary(max_size=1500))
def test_base45_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


def test_base45_edges() -> None:
    for text in ["", "00", "FGW", "GGW", "ZZZ", ":::", "::", "U5", "U6", "0" * 3000, "ÉA"]:
        assert outcome(b45decode, text) == outcome(reference_b45decode, text), text


# ---- COSE_Sign1 -----------------------------------------------------------------------------


def reference_decode_sign1(data: bytes) -> object:
    return cose._decode_sign1_generic(data, deterministic=True)


@FAST
@given(pass_claims(), st.booleans(), st.booleans(), edits)
def test_sign1_fast_reader_matches_the_generic_one(claims: PassClaims, tagged: bool, ed: bool, changes) -> None:
    message = sign1(claims.to_cbor(), ED_KEY if ed else KEY, tagged=tagged)
    assert outcome(decode_sign1, message, deterministic=True) == outcome(reference_decode_sign1, message)
    assert cose._read_sign1_common(message) == reference_decode_sign1(message)  # the usual layout: fast path taken
    mutated = mutate(message, changes)
    assert outcome(decode_sign1, mutated, deterministic=True) == outcome(reference_decode_sign1, mutated)


def reference_parts(data: bytes) -> object:
    message = reference_decode_sign1(data)
    return (message.protected[1], message.protected[4], message.to_be_signed(), message.payload, message.signature)


@FAST
@given(pass_claims(), st.booleans(), st.booleans(), edits)
def test_sign1_parts_reader_matches_the_generic_one(claims: PassClaims, tagged: bool, ed: bool, changes) -> None:
    """The verifier's reader (no Sign1 built, Sig_structure from the message's own slices)."""
    message = sign1(claims.to_cbor(), ED_KEY if ed else KEY, tagged=tagged)
    assert cose.read_sign1_parts(message) == reference_parts(message)  # the usual layout: never gives up
    mutated = mutate(message, changes)
    parts = cose.read_sign1_parts(mutated)
    if parts is not None:  # it only ever accepts what the strict decoder accepts, with the same bytes
        assert parts == reference_parts(mutated)


def reference_pass_parts(text: str):
    """What the verifier read before read_pass_fast: the COSE parts, then the claims of the payload."""
    parts = read_pass_parts(text)
    if parts is None:
        return None
    return (*parts, claims_module.read_claims_common(parts[3]))


def fast_pass_parts(text: str):
    parts = read_pass_fast(text)
    if parts is None:
        return None
    *cose_parts, claim_parts = parts
    claims = claims_module.claims_from_match(*claim_parts) if claim_parts is not None else None
    return (*cose_parts, claims), claim_parts is not None


@FAST
@given(pass_claims(), st.booleans(), st.booleans(), edits)
def test_pass_reader_matches_the_parts_and_claims_readers(claims: PassClaims, tagged: bool, ed: bool,
                                                          changes) -> None:
    """read_pass_fast (one match for COSE and claims) gives what read_pass_parts and the claims
    reader give, on passes and on mutations of them; on the passes it exists for, it never leaves
    the claims to the slower reader."""
    message = sign1(claims.to_cbor(), ED_KEY if ed else KEY, tagged=tagged)
    for i, data in enumerate((message, mutate(message, changes))):
        text = PREFIX + b45encode(data)
        expected = reference_pass_parts(text)
        got = fast_pass_parts(text)
        if expected is None:
            assert got is None
            continue
        assert got is not None
        (*cose_parts, fast_claims), matched = got
        assert tuple(cose_parts) == expected[:5]
        assert fast_claims == expected[5] if matched else expected[5] is None or i == 1
        if i == 0 and all(0x10000 <= t < 2**32 for t in (claims.iat, claims.nbf, claims.exp)):
            assert matched and fast_claims == claims  # the layout the reader exists for: it must not give up


def test_pass_reader_gives_up_on_an_iss_whose_head_miscounts() -> None:
    claims = PassClaims(iss="PARIS75", iat=T0, nbf=T0, exp=T0 + 1, cti=bytes(8), zones=(1,), plate="AB1",
                        purpose=3)
    payload = claims.to_cbor()
    assert payload[2] == 0x67
    for head in (0x66, 0x68):
        text = PREFIX + b45encode(sign1(payload[:2] + bytes((head,)) + payload[3:], KEY, tagged=False))
        assert read_pass_fast(text)[5] is None
        assert fast_pass_parts(text)[0][:5] == reference_pass_parts(text)[:5]
    # a signed pass whose iss is not UTF-8: malformed, never claims with an empty or mangled iss
    text = PREFIX + b45encode(sign1(payload[:3] + b"\xff" + payload[4:], KEY, tagged=False))
    assert read_pass_fast(text)[5] is None
    verdict = verify_pass(text, BUNDLE, zone="Z1", now=T0)
    assert (verdict.reason.value, verdict.claims) == ("MALFORMED", None)


@pytest.mark.parametrize(
    "body",
    [
        [b"\xa2\x01\x26\x04\x48" + bytes(8), {}, b"x" * 300, bytes(64)],  # 2-byte payload length
        [b"\xa2\x01\x26\x04\x48" + bytes(8), {}, b"x" * 70000, bytes(64)],  # 4-byte payload length
        [b"\xa2\x01\x26\x04\x48" + bytes(8), {4: b"k"}, b"", bytes(64)],  # unprotected kid
        [b"\xa2\x01\x26\x04\x47" + bytes(7), {}, b"", bytes(64)],  # 7-byte kid
        [b"\xa2\x01\x38\x22\x04\x48" + bytes(8), {}, b"", bytes(64)],  # alg -35
        [b"\xa3\x01\x26\x02\x81\x01\x04\x48" + bytes(8), {}, b"", bytes(64)],  # crit
        [b"", {}, b"", bytes(64)],
        [b"\xa2\x01\x26\x04\x48" + bytes(8), {}, b"", bytes(63)],
    ],
)
def test_sign1_unusual_shapes(body: list) -> None:
    for data in (cbor2.dumps(body, canonical=True), cbor2.dumps(cbor2.CBORTag(18, body), canonical=True)):
        assert outcome(decode_sign1, data, deterministic=True) == outcome(reference_decode_sign1, data)
        parts = cose.read_sign1_parts(data)
        if parts is not None:
            assert parts == reference_parts(data)
        for cut in (1, 2, 70):
            assert outcome(decode_sign1, data[:-cut], deterministic=True) == outcome(
                reference_decode_sign1, data[:-cut]
            )
    # non-minimal payload length: the same item, encoded one size too long
    data = b"\x84\x4d\xa2\x01\x26\x04\x48" + bytes(8) + b"\xa0\x58\x05hello\x58\x40" + bytes(64)
    assert outcome(decode_sign1, data, deterministic=True) == outcome(reference_decode_sign1, data)


# ---- claims ---------------------------------------------------------------------------------


@FAST
@given(pass_claims(), edits)
def test_claims_fast_reader_matches_the_generic_one(claims: PassClaims, changes) -> None:
    payload = claims.to_cbor()
    assert decode_claims(payload) == claims
    fast = claims_module._read_claims_common(payload)
    if all(0x10000 <= t < 2**32 for t in (claims.iat, claims.nbf, claims.exp)):
        assert fast == claims  # the layout the reader exists for: it must not give up
    else:
        assert fast in (None, claims)
    mutated = mutate(payload, changes)
    assert outcome(decode_claims, mutated) == outcome(claims_module._decode_claims_generic, mutated)


@FAST
@given(pass_claims(), st.data())
def test_claims_that_are_valid_cbor_but_not_deterministic(claims: PassClaims, data: st.DataObject) -> None:
    """Same map, other encodings: keys reordered, values re-encoded longer, floats, extra keys."""
    raw = cbor2.loads(claims.to_cbor())
    profile = dict(raw[-65537])
    choice = data.draw(st.integers(0, 6))
    if choice == 0:
        encoded = cbor2.dumps(dict(reversed(list(raw.items()))))
    elif choice == 1:
        encoded = cbor2.dumps({**raw, 4: float(raw[4])})
    elif choice == 2:
        profile[data.draw(st.sampled_from([0, 1, 3, 4, 5, 6]))] = data.draw(
            st.integers(-5, 2**33) | st.text(max_size=3) | st.lists(st.integers(0, 2**17), max_size=4)
        )
        encoded = cbor2.dumps({**raw, -65537: profile}, canonical=True)
    elif choice == 3:
        encoded = cbor2.dumps({**raw, data.draw(st.integers(-70000, 70000)): 1}, canonical=True)
    elif choice == 4:
        del raw[data.draw(st.sampled_from(sorted(raw)))]
        encoded = cbor2.dumps(raw, canonical=True)
    elif choice == 5:
        profile[2] = data.draw(st.lists(st.integers(0, 2**17), max_size=7))
        encoded = cbor2.dumps({**raw, -65537: profile}, canonical=True)
    else:
        encoded = cbor2.dumps({**raw, 1: data.draw(st.text(max_size=70) | st.binary(max_size=3))}, canonical=True)
    assert outcome(decode_claims, encoded) == outcome(claims_module._decode_claims_generic, encoded)


def test_claims_hand_made_non_minimal_heads() -> None:
    good = PassClaims("PARIS75", T0, T0, T0 + 86400, bytes(8), (101, 102), "AB123CD", 3,
                      (TimeWindow(31, 420, 660),), 12).to_cbor()
    assert claims_module._read_claims_common(good) is not None
    variants = [
        good.replace(b"\x18\x65", b"\x19\x00\x65", 1),  # zone ref 101 on 2 bytes
        good.replace(b"\x67PARIS75", b"\x78\x07PARIS75", 1),  # text length on 2 bytes
        good.replace(b"\x82\x18\x65", b"\x98\x02\x18\x65", 1),  # array length on 2 bytes
        good.replace(b"\x04\x03", b"\x04\x18\x03", 1),  # purpose on 2 bytes
        good.replace(b"\x05\x0c", b"\x05\x1a\x00\x00\x00\x0c", 1),  # zone data version on 5 bytes
        good.replace(b"\x82\x18\x65\x18\x66", b"\x9f\x18\x65\x18\x66\xff", 1),  # indefinite array
        good + b"\x00",
        good[:-1],
    ]
    for data in variants:
        assert data != good
        assert outcome(decode_claims, data) == outcome(claims_module._decode_claims_generic, data)
        assert outcome(decode_claims, data)[0] == "error"


# ---- the whole verify -----------------------------------------------------------------------


def _bundle() -> TrustBundle:
    zones = tuple(
        BundleZone(ref, f"Z{ref}", f"Zone {ref}", "limited_traffic", "Europe/Paris",
                   windows=(TimeWindow(127, 360, 1200),) if ref % 2 else ())
        for ref in (1, 2, 3)
    )
    return TrustBundle.from_content(BundleContent(
        iss="PARIS75", seq=3, issued_at=T0 - 3600, max_age=7 * 86400,
        keys=(BundleKey(KEY.kid, KEY.alg, KEY.verify_key().spki(), not_before=0),), zones=zones,
    ))


BUNDLE = _bundle()


def reference_verify(monkeypatch: pytest.MonkeyPatch, *args, **kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(cose, "_read_sign1_common", lambda data: None)
        patch.setattr(cose, "_common_layout", lambda data: None)  # the verifier's reader too
        patch.setattr(claims_module, "_read_claims_common", lambda payload: None)
        patch.setattr(verify_core, "read_claims_common", lambda payload: None)  # called directly there
        patch.setattr(verify_core, "read_pass_fast", lambda text: None)  # COSE layout and claims in one match
        patch.setattr(verify_core, "_inside_at", _reference_inside_at)
        return verify_pass(*args, **kwargs)


def _reference_inside_at(windows, t, tz, minute, weekday, holidays):
    return verify_core._inside(windows, datetime.fromtimestamp(t, UTC).astimezone(zone_info(tz)), holidays)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.data())
def test_verdicts_match_the_reference_path(monkeypatch: pytest.MonkeyPatch, data: st.DataObject) -> None:
    claims = PassClaims(
        iss="PARIS75", iat=T0 - 86400, nbf=T0 - 86400, exp=T0 + data.draw(st.integers(-86399, 90000)),
        cti=data.draw(st.binary(min_size=8, max_size=8)),
        zones=tuple(data.draw(st.sets(st.integers(1, 4), min_size=1))),
        plate="AB123CD", purpose=1, windows=tuple(data.draw(st.lists(windows, max_size=3))),
    )
    text = sign_pass(claims, KEY)
    raw = b45decode(text[len(PREFIX):])
    if data.draw(st.booleans()):
        text = PREFIX + b45encode(mutate(raw, data.draw(edits)))
    now = T0 + data.draw(st.integers(-86400, 86400))
    zone = data.draw(st.sampled_from(["Z1", "Z2", "Z3", "ZX"]))
    plate = data.draw(st.none() | st.just("AB-123-CD") | st.just("XY"))
    ours = verify_pass(text, BUNDLE, zone=zone, now=now, plate=plate)
    reference = reference_verify(monkeypatch, text, BUNDLE, zone=zone, now=now, plate=plate)
    assert (ours.status, ours.reason, ours.detail, ours.claims, ours.kid, ours.zone) == (
        reference.status, reference.reason, reference.detail, reference.claims, reference.kid, reference.zone,
    )
    # The online verifier reads the text first (for its issuer) and hands that reading over.
    given_read = verify_pass(text, BUNDLE, zone=zone, now=now, plate=plate, read=read_pass_fast(text))
    assert given_read == ours


# ---- signatures, windows, local time --------------------------------------------------------


@FAST
@given(st.binary(min_size=64, max_size=64) | st.builds(lambda k, rest: bytes(k) + rest,
                                                       st.integers(0, 40), st.binary(min_size=24, max_size=64)))
def test_der_signature_matches_cryptography(signature: bytes) -> None:
    signature = signature[:64].ljust(64, b"\x00")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    assert _raw_to_der(signature) == encode_dss_signature(r, s)


def reference_contains(window: TimeWindow, local: datetime, holidays=()) -> bool:
    day = window.opening_day(local)
    if day is None:
        return False
    if window.first_day is not None and day < window.first_day:
        return False
    if window.last_day is not None and day > window.last_day:
        return False
    return not (window.skip_public_holidays and day in holidays)


@FAST
@given(windows, st.integers(0, 2**32), st.sampled_from(["Europe/Paris", "America/Cayenne", "Pacific/Noumea"]))
def test_window_fast_check_matches_the_reference(window: TimeWindow, seconds: int, tz: str) -> None:
    local = datetime.fromtimestamp(seconds, UTC).astimezone(zone_info(tz))
    assert window.contains_local(local) == reference_contains(window, local)
    dated = dataclasses.replace(window, first_day=local.date() - timedelta(days=1), skip_public_holidays=True)
    holidays = {local.date(), date(2026, 1, 1)}
    assert dated.contains_local(local, holidays) == reference_contains(dated, local, holidays)


@FAST
@given(st.integers(0, 2**33), st.sampled_from(["Europe/Paris", "Australia/Lord_Howe", "UTC", "America/New_York"]))
def test_local_time_is_the_same_as_through_utc(seconds: int, tz: str) -> None:
    from cirqliz.domain.windows import local_from_epoch

    expected = datetime.fromtimestamp(seconds, UTC).astimezone(zone_info(tz))
    got = local_from_epoch(seconds, tz)
    assert (got, got.replace(tzinfo=None), got.fold, got.utcoffset()) == (
        expected, expected.replace(tzinfo=None), expected.fold, expected.utcoffset(),
    )


@FAST
@given(st.lists(windows, min_size=1, max_size=3), st.integers(0, 2**32), st.integers(0, 2),
       st.sampled_from(["Europe/Paris", "Australia/Lord_Howe", "America/Cayenne"]))
def test_window_check_at_a_minute_matches_contains_local(ws: list[TimeWindow], seconds: int, kind: int,
                                                          tz: str) -> None:
    """core._inside_at (minute and weekday read once) decides as TimeWindow.contains_local."""
    from cirqliz.domain.windows import local_from_epoch

    local = local_from_epoch(seconds, tz)
    if kind == 1:  # dated, closed on public holidays: contains_local's other branch
        ws[0] = dataclasses.replace(ws[0], first_day=local.date() - timedelta(days=1), skip_public_holidays=True)
    elif kind == 2:
        ws[0] = dataclasses.replace(ws[0], last_day=local.date() - timedelta(days=1))
    holidays = {local.date()} if seconds % 2 else set()
    got = verify_core._inside_at(tuple(ws), seconds, tz, local.hour * 60 + local.minute, local.weekday(), holidays)
    assert got == any(w.contains_local(local, holidays) for w in ws)


def test_green_verdict_and_fast_claims_are_the_objects_their_constructors_build() -> None:
    """The fast paths build PassClaims and the green Verdict without __init__ (slot twins)."""
    claims = PassClaims(iss="PARIS75", iat=T0 - 86400, nbf=T0 - 86400, exp=T0 + 86400, cti=bytes(range(8)),
                        zones=(1, 3), plate="AB123CD", purpose=1, windows=(TimeWindow(127, 0, 1440),))
    verdict = verify_pass(sign_pass(claims, KEY), BUNDLE, zone="Z1", now=T0)
    assert verdict.reason.value == "VALID"
    assert type(verdict) is verify_core.Verdict and type(verdict.claims) is PassClaims
    rebuilt = verify_core.Verdict(*(getattr(verdict, f.name) for f in dataclasses.fields(verify_core.Verdict)))
    assert (verdict, repr(verdict), hash(verdict)) == (rebuilt, repr(rebuilt), hash(rebuilt))
    assert (verdict.claims, hash(verdict.claims)) == (claims, hash(claims))
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.detail = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.claims.plate = "x"  # type: ignore[misc]


@pytest.mark.parametrize("zones", [(2, 3), (3,), tuple(range(24)), tuple(range(2, 34)),
                                   (23, 24, 255, 256, 2**16, 2**32 - 1)])
@pytest.mark.parametrize("flat", [(), (2, 3, 4), (3, 2, 5, 127, 0, 1440), (1, 3, 24) * 8, (1, 2, 3) * 16])
def test_claims_reader_takes_item_values_that_look_like_keys(zones: tuple[int, ...], flat: tuple[int, ...]) -> None:
    """Zone refs and window numbers 2 and 3 are the bytes of the keys that follow their arrays."""
    ws = tuple(TimeWindow(*flat[i : i + 3]) for i in range(0, len(flat), 3))
    claims = PassClaims(iss="PARIS75", iat=T0, nbf=T0, exp=T0 + 1, cti=bytes(8), zones=zones, plate="F:AB123",
                        purpose=3, windows=ws, zone_data_version=2)
    payload = claims.to_cbor()
    assert claims_module._read_claims_common(payload) == claims
    assert claims_module._decode_claims_generic(payload) == claims


@pytest.mark.parametrize("delta", [-2, -1, 1, 2])
@pytest.mark.parametrize("array", ["zones", "windows"])
def test_claims_reader_refuses_an_array_head_that_miscounts_its_items(array: str, delta: int) -> None:
    claims = PassClaims(iss="PARIS75", iat=T0, nbf=T0, exp=T0 + 1, cti=bytes(8), zones=(5, 6, 7, 8), plate="AB1",
                        purpose=3, windows=(TimeWindow(1, 60, 120), TimeWindow(2, 60, 120)))
    payload = bytearray(claims.to_cbor())
    at = payload.index(b"\x84\x05\x06\x07\x08") if array == "zones" else payload.index(b"\x02\x86") + 1
    payload[at] += delta
    assert claims_module._read_claims_common(bytes(payload)) is None
    assert outcome(decode_claims, bytes(payload))[0] == "error"


def test_a_simple_value_is_not_the_int_key_it_equals() -> None:
    """cbor2 decodes simple(5) (0xe5) as a value equal to 5: it is not the profile's key 5 (the JS
    decoder refuses it as unknown_claim too; it was accepted here, found by test_properties)."""
    claims = PassClaims(iss="PARIS75", iat=T0, nbf=T0, exp=T0 + 1, cti=bytes(8), zones=(1,), plate="AB1",
                        purpose=3, zone_data_version=0)
    payload = claims.to_cbor()
    assert payload.endswith(b"\x05\x00")
    changed = payload[:-2] + b"\xe5\x00"
    result = outcome(decode_claims, changed)
    assert result[:3] == ("error", "MalformedError", "unknown_claim")


# ---- QR codewords ---------------------------------------------------------------------------

QR_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=QR_ALPHABET, min_size=1, max_size=2000), st.sampled_from(["M", "Q"]))
def test_qr_codewords_and_version_match_qrcode(text: str, ecc: str) -> None:
    level = qr._LEVELS[ecc]
    reference = qrcode.QRCode(error_correction=level)
    reference.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM), optimize=0)
    try:
        version = reference.best_fit()
    except qrcode.exceptions.DataOverflowError:
        assert qr._codewords(text, level) is None
        return
    expected = qrcode.util.create_data(version, level, reference.data_list)
    assert qr._codewords(text, level) == (version, expected)
    assert qr.qr_version(text, ecc) == version


@pytest.mark.parametrize("length", [1, 2, 40, 258, 300, 551])
def test_qr_matrix_is_the_one_qrcode_builds(length: int) -> None:
    text = "".join(random.Random(length).choice(QR_ALPHABET) for _ in range(length))
    for ecc in ("M", "Q"):
        code = qrcode.QRCode(error_correction=qr._LEVELS[ecc], border=qr.QUIET_ZONE, mask_pattern=2)
        code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM), optimize=0)
        code.make(fit=True)
        assert qr.qr_matrix(text, ecc) == code.get_matrix()


@FAST
@given(st.text(min_size=1, max_size=64), st.binary(min_size=8, max_size=8))
def test_revocation_hash_is_the_specified_sha256(iss: str, cti: bytes) -> None:
    """revocation_hash uses CPython's own SHA-256 (faster for one short message): same digest."""
    import hashlib

    from cirqliz.passcode.bundle import revocation_hash

    expected = hashlib.sha256(iss.encode() + b"\x00" + cti).digest()[:8]
    assert revocation_hash(iss, cti) == expected
    assert revocation_hash(iss, cti) == expected  # the issuer's cached prefix state is not changed


@FAST
@given(plates)
def test_loose_key_of_a_normalised_plate_is_what_follows_the_colon(plate: str) -> None:
    """The verifier compares a typed plate with the pass's (normalised) plate this way."""
    from cirqliz.domain.plates import loose_key

    assert loose_key(plate) == plate.rpartition(":")[2]


@pytest.mark.parametrize("offset", [0.25, 0.75, 59.5, 3600.5])
def test_a_float_last_seen_decides_as_the_reference_path(monkeypatch: pytest.MonkeyPatch, offset: float) -> None:
    """The local minute comes from epoch arithmetic: a float time (a hand-edited CLI state) still
    works and is floored as datetime floors it."""
    claims = PassClaims(iss="PARIS75", iat=T0 - 86400, nbf=T0 - 86400, exp=T0 + 86400, cti=bytes(8), zones=(1,),
                        plate="AB123CD", purpose=1, windows=(TimeWindow(127, 9 * 60 + 30, 10 * 60 + 31),))
    text = sign_pass(claims, KEY)
    for base in (T0 - 3600, T0 + 59, T0 + 3540):  # 08:30, 09:31 and 10:29 in Paris, before and in the window
        ours = verify_pass(text, BUNDLE, zone="Z1", now=base, last_seen=base + offset)
        reference = reference_verify(monkeypatch, text, BUNDLE, zone="Z1", now=base, last_seen=base + offset)
        assert (ours.reason, ours.detail, ours.checked_at) == (reference.reason, reference.detail, reference.checked_at)

