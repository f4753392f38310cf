"""Strict decoding of pass texts: each defect is refused with its own error code.

Messages are built by hand (cbor2 + the scheme's Base45) and, where the point is the claims,
validly signed with cirqliz.passcode.cose.sign1, so only the targeted defect is wrong.
"""

from __future__ import annotations

import cbor2
import pytest

from cirqliz.passcode.base45 import b45decode, b45encode
from cirqliz.passcode.cbor import loads_deterministic
from cirqliz.passcode.claims import decode_claims
from cirqliz.passcode.cose import decode_sign1, sign1, to_be_signed
from cirqliz.passcode.errors import MalformedError, SchemeError
from cirqliz.passcode.token import PREFIX, parse_pass_text, sign_pass
from cirqliz.verify.core import Reason, verify_pass

from ._support import SIGNER, T0, bundle, claims, raw_sign1, text_of

GOOD_CLAIMS = claims()
GOOD = sign_pass(GOOD_CLAIMS, SIGNER)
TRUST = bundle()


def code_of_text(text: str) -> str:
    with pytest.raises(MalformedError) as info:
        parse_pass_text(text)
    return info.value.code


def code_of_claims(payload: bytes) -> str:
    with pytest.raises(MalformedError) as info:
        decode_claims(payload)
    return info.value.code


def verdict_for_payload(payload: bytes):
    """Sign `payload` as a pass with a trusted key and verify it."""
    text = PREFIX + b45encode(sign1(payload, SIGNER, tagged=False))
    return verify_pass(text, TRUST, zone="MARAIS", now=T0)


def claims_map(**changes: object) -> dict[object, object]:
    """The claims of GOOD as a plain map, with changes."""
    data = dict(cbor2.loads(GOOD_CLAIMS.to_cbor()))
    data.update(changes)
    return data


def test_reference_pass_is_valid() -> None:
    assert verify_pass(GOOD, TRUST, zone="MARAIS", now=T0).reason is Reason.VALID
    assert decode_claims(GOOD_CLAIMS.to_cbor()) == GOOD_CLAIMS


# ---- text layers --------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "CQ2:", "cq1:", "CQ1", "HC1:", " CQ1:"])
def test_wrong_prefix(prefix: str) -> None:
    assert code_of_text(prefix + GOOD[4:]) == "bad_prefix"


@pytest.mark.parametrize("bad", ["a", "#", "é", "\n", "_"])
def test_bad_base45_character(bad: str) -> None:
    middle = len(GOOD) // 2
    assert code_of_text(GOOD[:middle] + bad + GOOD[middle + 1 :]) == "bad_base45"


@pytest.mark.parametrize("tail", ["A", "GGW", ":::"])
def test_bad_base45_length_or_overflow(tail: str) -> None:
    assert code_of_text(GOOD + tail) == "bad_base45"


def test_trailing_bytes_after_the_cose_item() -> None:
    raw = b45decode(GOOD[4:])
    assert code_of_text(text_of(raw + b"\x00")) == "trailing_bytes"
    assert code_of_text(text_of(raw + raw)) == "trailing_bytes"


def test_trailing_bytes_after_the_claims() -> None:
    assert code_of_claims(GOOD_CLAIMS.to_cbor() + b"\xa0") == "trailing_bytes"
    verdict = verdict_for_payload(GOOD_CLAIMS.to_cbor() + b"\x00")
    assert verdict.reason is Reason.MALFORMED


@pytest.mark.parametrize("length", [63, 65, 0, 128])
def test_signature_not_64_bytes(length: int) -> None:
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, signature=b"\x01" * length)
    assert code_of_text(text_of(cose)) == "bad_signature_length"


def test_signature_of_65_bytes_with_a_valid_prefix() -> None:
    good_sig = b45decode(GOOD[4:])[-64:]
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, signature=good_sig + b"\x00")
    assert code_of_text(text_of(cose)) == "bad_signature_length"
    assert verify_pass(text_of(cose), TRUST, zone="MARAIS", now=T0).reason is Reason.MALFORMED


def test_unknown_critical_header() -> None:
    protected = {1: -7, 2: [99], 4: SIGNER.kid, 99: 0}
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected=protected)
    with pytest.raises(SchemeError) as info:
        parse_pass_text(text_of(cose))
    assert info.value.code == "unknown_critical"


def test_known_critical_header_is_accepted() -> None:
    protected = {1: -7, 2: [1], 4: SIGNER.kid}
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected=protected)
    assert verify_pass(text_of(cose), TRUST, zone="MARAIS", now=T0).reason is Reason.VALID


def test_alg_not_protected() -> None:
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected={4: SIGNER.kid}, unprotected={1: -7})
    assert code_of_text(text_of(cose)) == "alg_not_protected"
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected={4: SIGNER.kid})
    assert code_of_text(text_of(cose)) == "alg_not_protected"


def test_kid_must_be_8_bytes_in_the_protected_header() -> None:
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected={1: -7}, unprotected={4: SIGNER.kid})
    assert code_of_text(text_of(cose)) == "bad_kid"
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected={1: -7, 4: SIGNER.kid[:7]})
    assert code_of_text(text_of(cose)) == "bad_kid"


def test_unsupported_alg_in_the_protected_header_is_refused() -> None:
    # Refused while decoding (docs/pass-format.md §5 rule 1), even with a 64-byte signature.
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected={1: -35, 4: SIGNER.kid})
    assert code_of_text(text_of(cose)) == "unsupported_alg"
    verdict = verify_pass(text_of(cose), TRUST, zone="MARAIS", now=T0)
    assert verdict.reason is Reason.MALFORMED
    assert "ES384" in verdict.detail


@pytest.mark.parametrize(
    ("alg", "name", "length"), [(-35, "ES384", 96), (-36, "ES512", 132), (-257, "RS256", 256), (-999, "-999", 64)]
)
def test_the_algorithm_is_checked_before_the_signature_length(alg: int, name: str, length: int) -> None:
    """An algorithm the profile refuses has signatures of its own size: the refusal names the
    algorithm, not the length that follows from it."""
    cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected={1: alg, 4: SIGNER.kid}, signature=b"\x01" * length)
    with pytest.raises(SchemeError) as info:
        parse_pass_text(text_of(cose))
    assert info.value.code == "unsupported_alg" and name in info.value.message
    verdict = verify_pass(text_of(cose), TRUST, zone="MARAIS", now=T0)
    assert verdict.reason is Reason.MALFORMED and name in verdict.detail
    with pytest.raises(SchemeError) as info:  # plain COSE too (bundles, conformance vectors)
        decode_sign1(cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(cose)), canonical=True))
    assert info.value.code == "unsupported_alg"


def test_a_known_algorithm_with_a_signature_of_the_wrong_length_names_the_length() -> None:
    for alg in (-7, -8):
        cose = raw_sign1(GOOD_CLAIMS.to_cbor(), SIGNER, protected={1: alg, 4: SIGNER.kid}, signature=bytes(96))
        assert code_of_text(text_of(cose)) == "bad_signature_length"


def test_other_cose_tags_are_refused() -> None:
    body = cbor2.loads(b45decode(GOOD[4:]))
    for tag, code in ((98, "wrong_message_type"), (17, "wrong_message_type"), (999, "wrong_tag")):
        cose = cbor2.dumps(cbor2.CBORTag(tag, body), canonical=True)
        assert code_of_text(text_of(cose)) == code


def test_tagged_sign1_is_accepted_too() -> None:
    cose = sign1(GOOD_CLAIMS.to_cbor(), SIGNER, tagged=True)
    assert verify_pass(text_of(cose), TRUST, zone="MARAIS", now=T0).reason is Reason.VALID


# ---- indefinite lengths and non-canonical CBOR -------------------------------------------------------


def _indefinite_outer(raw: bytes) -> bytes:
    """The same untagged COSE_Sign1 with its outer array written with indefinite length."""
    assert raw[0] == 0x84
    return b"\x9f" + raw[1:] + b"\xff"


def test_indefinite_length_outer_array() -> None:
    cose = _indefinite_outer(b45decode(GOOD[4:]))
    assert decode_sign1(cose).payload == GOOD_CLAIMS.to_cbor()  # generic COSE would accept it
    assert code_of_text(text_of(cose)) == "indefinite_length"


def test_indefinite_length_claims_map() -> None:
    definite = GOOD_CLAIMS.to_cbor()
    assert definite[0] == 0xA6  # a map of 6 claims
    indefinite = b"\xbf" + definite[1:] + b"\xff"
    assert cbor2.loads(indefinite) == cbor2.loads(definite)
    assert code_of_claims(indefinite) == "indefinite_length"
    assert verdict_for_payload(indefinite).reason is Reason.MALFORMED


def test_indefinite_length_text_in_claims() -> None:
    # iss "FR-TEST" as an indefinite text string of two chunks.
    definite = GOOD_CLAIMS.to_cbor()
    iss = cbor2.dumps("FR-TEST")
    chunked = b"\x7f" + cbor2.dumps("FR-") + cbor2.dumps("TEST") + b"\xff"
    payload = definite.replace(iss, chunked, 1)
    assert payload != definite
    assert code_of_claims(payload) == "indefinite_length"


def test_duplicate_map_keys_in_the_claims() -> None:
    body = GOOD_CLAIMS.to_cbor()
    # The map of 6 claims becomes a map of 7: a second cti entry right after the first one, so
    # the keys are otherwise in deterministic order and only the repeat is wrong.
    pairs = list(cbor2.loads(body).items())
    encoded = [cbor2.dumps(k) + cbor2.dumps(v) for k, v in pairs]
    cti = cbor2.dumps(7) + cbor2.dumps(GOOD_CLAIMS.cti)
    i = encoded.index(cti)
    dup = [*encoded[: i + 1], cbor2.dumps(7) + cbor2.dumps(b"\xff" * 8), *encoded[i + 1 :]]
    payload = b"\xa7" + b"".join(dup)
    assert code_of_claims(payload) in {"duplicate_key", "non_canonical"}
    verdict = verdict_for_payload(payload)
    assert verdict.reason is Reason.MALFORMED
    assert verdict.claims is None


def test_unsorted_keys_in_the_claims() -> None:
    data = claims_map()
    unsorted = {k: data[k] for k in sorted(data, key=lambda k: -k if isinstance(k, int) else 0)}
    payload = cbor2.dumps(unsorted)  # insertion order, not canonical
    assert payload != GOOD_CLAIMS.to_cbor()
    assert cbor2.loads(payload) == cbor2.loads(GOOD_CLAIMS.to_cbor())
    assert code_of_claims(payload) == "unsorted_keys"
    assert verdict_for_payload(payload).reason is Reason.MALFORMED


def test_non_minimal_integer_in_the_claims() -> None:
    body = GOOD_CLAIMS.to_cbor()
    # 0x01 (key 1, iss) written on two bytes: 0x18 0x01.
    assert body[1] == 0x01
    payload = body[:1] + b"\x18\x01" + body[2:]
    assert code_of_claims(payload) == "non_minimal"


@pytest.mark.parametrize("claim", [4, 5, 6])
def test_float_time_in_signed_claims(claim: int) -> None:
    value = float(claims_map()[claim])
    payload = cbor2.dumps(claims_map(**{}) | {claim: value}, canonical=True)
    assert code_of_claims(payload) in {"float_time", "float"}
    verdict = verdict_for_payload(payload)  # a valid signature over bad claims
    assert verdict.reason is Reason.MALFORMED
    assert verdict.kid == SIGNER.kid


def test_float_time_with_a_fraction() -> None:
    payload = cbor2.dumps(claims_map() | {4: T0 + 30.5 * 86400}, canonical=True)
    assert code_of_claims(payload) in {"float_time", "float"}


def test_float_in_the_protected_header_is_refused() -> None:
    """docs/pass-format.md §2: floating-point values are refused (`float`) by strict decoding."""
    protected_raw = b"\xa2\x01\xf9\xc7\x00\x04\x48" + SIGNER.kid  # {1: -7.0 (half float), 4: kid}
    assert cbor2.loads(protected_raw) == {1: -7.0, 4: SIGNER.kid}
    payload = GOOD_CLAIMS.to_cbor()
    signature = SIGNER.sign(to_be_signed(protected_raw, payload))
    cose = cbor2.dumps([protected_raw, {}, payload, signature], canonical=True)
    verdict = verify_pass(text_of(cose), TRUST, zone="MARAIS", now=T0)
    assert verdict.reason is not Reason.VALID
    assert code_of_text(text_of(cose)) == "float"
    assert verdict.reason is Reason.MALFORMED


@pytest.mark.parametrize(
    ("mutation", "code"),
    [
        ({99: 1}, "unknown_claim"),
        ({-65537: {0: 1, 1: [1], 3: "AB123CD", 4: 1, 5: 0, 9: 1}}, "unknown_claim"),
        ({-65537: {0: 2, 1: [1], 3: "AB123CD", 4: 1, 5: 0}}, "unknown_profile"),
        ({-65537: {0: 1, 1: [1], 2: [1, 600, 60, 3], 3: "AB123CD", 4: 1, 5: 0}}, "bad_claims"),
        ({-65537: {0: 1, 1: [1], 2: [0, 600, 660], 3: "AB123CD", 4: 1, 5: 0}}, "bad_window"),
        ({7: b"\x00" * 7}, "bad_claims"),
        ({4: -1}, "bad_claims"),
    ],
)
def test_claims_refused_with_codes(mutation: dict[object, object], code: str) -> None:
    payload = cbor2.dumps(claims_map() | mutation, canonical=True)
    assert code_of_claims(payload) == code


def test_missing_claim() -> None:
    data = claims_map()
    del data[7]
    assert code_of_claims(cbor2.dumps(data, canonical=True)) == "missing_claim"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xa2\x01\x00\x01\x00", "duplicate_key"),
        (b"\xa2\x02\x00\x01\x00", "unsorted_keys"),
        (b"\x9f\x01\xff", "indefinite_length"),
        (b"\x5f\x41\x00\xff", "indefinite_length"),
        (b"\x18\x01", "non_minimal"),
        (b"\x59\x00\x01\x00", "non_minimal"),
        (b"\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00", "float"),  # 1.0 as a double: not shortest
        (b"\xf9\x3c\x00", "float"),  # 1.0 as a half float: shortest form, still a float
        (b"\xa1\x01\xf9\x3c\x00", "float"),
    ],
    ids=lambda v: v.hex() if isinstance(v, bytes) else v,
)
def test_deterministic_loader_names_each_problem(data: bytes, code: str) -> None:
    with pytest.raises(MalformedError) as info:
        loads_deterministic(data, "test")
    assert info.value.code == code
