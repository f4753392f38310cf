"""Property-based tests (hypothesis) of the pass scheme: round trips, and total functions on junk.

Example counts are bounded so the whole directory stays well under a minute.
"""

from __future__ import annotations

import base45 as base45_pypi
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cirqliz.domain.windows import TimeWindow
from cirqliz.passcode.base45 import ALPHABET, b45decode, b45encode
from cirqliz.passcode.bundle import open_bundle, sign_bundle
from cirqliz.passcode.claims import MAX_TIME, PassClaims, decode_claims
from cirqliz.passcode.cose import verify_sign1
from cirqliz.passcode.errors import BundleError, MalformedError
from cirqliz.passcode.token import PREFIX, parse_pass_text, sign_pass
from cirqliz.verify.core import Reason, Verdict, verify_pass

from ._support import ED_SIGNER, ROOT, SIGNER, T0, bundle, claims, content

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEDIUM = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=1500, deadline=None)

TRUST = bundle()
GOOD = sign_pass(claims(), SIGNER)
GOOD_ED = sign_pass(claims(), ED_SIGNER)
assert verify_pass(GOOD, TRUST, zone="MARAIS", now=T0).reason is Reason.VALID
assert verify_pass(GOOD_ED, TRUST, zone="MARAIS", now=T0).reason is Reason.VALID


# ---- strategies ---------------------------------------------------------------------------------

plates = st.one_of(
    st.from_regex(r"\A[A-Z0-9]{1,12}\Z", fullmatch=True),
    st.from_regex(r"\A[A-Z]{1,3}:[A-Z0-9]{1,12}\Z", fullmatch=True),
)
windows = st.builds(
    TimeWindow,
    weekdays=st.integers(1, 0b1111111),
    start=st.integers(0, 1439),
    end=st.integers(1, 1440),
)


@st.composite
def pass_claims(draw: st.DrawFn) -> PassClaims:
    nbf = draw(st.integers(0, MAX_TIME - 2))
    exp = draw(st.integers(nbf + 1, MAX_TIME - 1))
    return PassClaims(
        iss=draw(st.text(min_size=1, max_size=64)),
        iat=draw(st.integers(0, MAX_TIME - 1)),
        nbf=nbf,
        exp=exp,
        cti=draw(st.binary(min_size=8, max_size=8)),
        zones=tuple(draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=32, unique=True))),
        plate=draw(plates),
        purpose=draw(st.integers(0, 2**16 - 1)),
        windows=tuple(draw(st.lists(windows, max_size=16))),
        zone_data_version=draw(st.integers(0, 2**32 - 1)),
    )


# ---- round trips --------------------------------------------------------------------------------


@FAST
@given(c=pass_claims(), ed=st.booleans())
def test_claims_round_trip_through_a_signed_pass(c: PassClaims, ed: bool) -> None:
    key = ED_SIGNER if ed else SIGNER
    text = sign_pass(c, key)
    assert text.startswith(PREFIX)
    assert set(text[len(PREFIX) :]) <= set(ALPHABET)
    message = parse_pass_text(text)
    assert message.kid == key.kid
    verify_sign1(message, key.verify_key())
    assert decode_claims(message.payload) == c
    assert sign_pass(decode_claims(message.payload), key)[:4] == PREFIX


@MANY
@given(data=st.binary(max_size=300))
def test_base45_round_trip_and_agrees_with_the_pypi_package(data: bytes) -> None:
    text = b45encode(data)
    assert b45decode(text) == data
    assert text == base45_pypi.b45encode(data).decode("ascii")
    assert base45_pypi.b45decode(text) == data


@MANY
@given(text=st.text(alphabet=ALPHABET, max_size=60))
def test_base45_decode_agrees_with_the_pypi_package_on_any_alphabet_text(text: str) -> None:
    try:
        theirs: bytes | None = base45_pypi.b45decode(text)
    except ValueError:
        theirs = None
    try:
        ours: bytes | None = b45decode(text)
    except MalformedError as exc:
        assert exc.code == "bad_base45"
        ours = None
    assert ours == theirs


@FAST
@given(text=st.text(max_size=60))
def test_base45_decode_of_any_text_raises_only_malformed(text: str) -> None:
    try:
        b45decode(text)
    except MalformedError as exc:
        assert exc.code == "bad_base45"


# ---- verify_pass never raises and is never fooled ---------------------------------------------


def _verdict(text: str) -> Verdict:
    verdict = verify_pass(text, TRUST, zone="MARAIS", now=T0)
    assert isinstance(verdict, Verdict)
    assert isinstance(verdict.reason, Reason)
    return verdict


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """(original, mutated): substitutions, insertions and deletions of characters."""
    original = draw(st.sampled_from([GOOD, GOOD_ED]))
    chars = list(original)
    chars_alphabet = st.sampled_from(ALPHABET + "abc#\u00e9\u0000")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["sub", "ins", "del"]))
        i = draw(st.integers(0, len(chars) - 1))
        if op == "sub":
            chars[i] = draw(chars_alphabet)
        elif op == "ins":
            chars.insert(i, draw(chars_alphabet))
        elif len(chars) > 1:
            del chars[i]
    return original, "".join(chars)


@MANY
@given(pair=mutated())
def test_mutated_texts_are_never_valid(pair: tuple[str, str]) -> None:
    original, text = pair
    verdict = _verdict(text)
    if text != original:
        assert verdict.reason is not Reason.VALID, text
        assert not verdict.valid


@MEDIUM
@given(cut=st.integers(0, len(GOOD) - 1))
def test_truncated_texts_are_never_valid(cut: int) -> None:
    assert _verdict(GOOD[:cut]).reason is not Reason.VALID
    assert _verdict(GOOD[cut + 1 :]).reason is not Reason.VALID


@MEDIUM
@given(body=st.text(alphabet=ALPHABET, max_size=400))
def test_random_base45_texts_with_the_prefix_are_never_valid(body: str) -> None:
    assert _verdict(PREFIX + body).reason is not Reason.VALID


@MEDIUM
@given(text=st.text(max_size=400))
def test_random_unicode_texts_are_never_valid(text: str) -> None:
    assert _verdict(text).reason is not Reason.VALID
    assert _verdict(PREFIX + text).reason is not Reason.VALID


@FAST
@given(text=st.text(max_size=50), zone=st.text(max_size=20), now=st.integers(0, 2**40), plate=st.text(max_size=15))
def test_verify_never_raises_whatever_the_other_inputs(text: str, zone: str, now: int, plate: str) -> None:
    assert isinstance(verify_pass(text, TRUST, zone=zone, now=now, plate=plate, last_seen=now // 2), Verdict)
    assert isinstance(verify_pass(GOOD, TRUST, zone=zone, now=now, plate=plate, last_seen=now // 2), Verdict)


# ---- bundles and claims: only the scheme's own errors -----------------------------------------

ROOTS = [ROOT.verify_key()]
REAL_BUNDLE = sign_bundle(content(), ROOT)


@MANY
@given(data=st.binary(max_size=400))
def test_open_bundle_of_random_bytes_raises_only_bundle_error(data: bytes) -> None:
    with pytest.raises(BundleError):
        open_bundle(data, ROOTS)


@MEDIUM
@given(i=st.integers(0, len(REAL_BUNDLE) - 1), flip=st.integers(1, 255))
def test_open_bundle_of_a_flipped_byte_raises_only_bundle_error(i: int, flip: int) -> None:
    data = bytearray(REAL_BUNDLE)
    data[i] ^= flip
    with pytest.raises(BundleError):
        open_bundle(bytes(data), ROOTS)


@MANY
@given(data=st.binary(max_size=300))
def test_decode_claims_of_random_bytes_raises_only_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        decode_claims(data)


@MEDIUM
@given(i=st.integers(0, 200), value=st.integers(0, 255))
def test_decode_claims_of_a_changed_byte_is_the_same_claims_or_malformed(i: int, value: int) -> None:
    original = claims(windows=(TimeWindow(0b11111, 420, 660),)).to_cbor()
    assume(i < len(original))
    data = bytearray(original)
    data[i] = value
    try:
        decoded = decode_claims(bytes(data))
    except MalformedError:
        return
    assert decoded.to_cbor() == bytes(data)
