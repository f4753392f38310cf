"""COSE conformance against the cose-wg Examples (../shared/data/cose-wg, see its NOTES.md).

Keys come from the vectors' JWKs (x/y base64url, or x_hex); the verification key is wrapped with
kid b"11" as the vectors use it. The algorithm is the key's, never the message's.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519

from cirqliz.passcode.base45 import b45encode
from cirqliz.passcode.cose import decode_sign1, verify_sign1
from cirqliz.passcode.errors import MalformedError, SchemeError, SignatureError, UnsupportedError
from cirqliz.passcode.keys import VerifyKey
from cirqliz.passcode.token import PREFIX, parse_pass_text

from ._support import SIGNER, claims

CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _coordinate(jwk: dict[str, Any], name: str) -> bytes:
    return bytes.fromhex(jwk[f"{name}_hex"]) if f"{name}_hex" in jwk else _b64url(jwk[name])


def public_key(jwk: dict[str, Any]) -> Any:
    """The cryptography public key of a JWK from the vectors."""
    if jwk["kty"] == "EC":
        x, y = _coordinate(jwk, "x"), _coordinate(jwk, "y")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), CURVES[jwk["crv"]])
        return numbers.public_key()
    if jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_coordinate(jwk, "x"))
    if jwk["kty"] == "OKP" and jwk["crv"] == "Ed448":
        return ed448.Ed448PublicKey.from_public_bytes(_coordinate(jwk, "x"))
    raise AssertionError(f"unexpected key {jwk}")


def load(shared: Path, name: str) -> dict[str, Any]:
    return json.loads((shared / "cose-wg" / name).read_text())


def message_bytes(vector: dict[str, Any]) -> bytes:
    return bytes.fromhex(vector["output"]["cbor"])


def signer_input(vector: dict[str, Any]) -> dict[str, Any]:
    return vector["input"]["sign0"]


def verify_vector(vector: dict[str, Any]) -> None:
    """Decode + verify a Sign1 vector with its key; raises the scheme's errors when refused."""
    sign0 = signer_input(vector)
    key = VerifyKey.from_public(public_key(sign0["key"]), kid=b"11")
    message = decode_sign1(message_bytes(vector))
    verify_sign1(message, key, bytes.fromhex(sign0.get("external", "")))


@pytest.fixture(scope="module")
def cose(shared_data: Path) -> Path:
    return shared_data


# ---- sign1-tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sign-pass-01", "sign-pass-02", "sign-pass-03"])
def test_sign_pass_vectors_verify(cose: Path, name: str) -> None:
    vector = load(cose, f"sign1-tests/{name}.json")
    verify_vector(vector)
    message = decode_sign1(message_bytes(vector))
    assert message.payload == vector["input"]["plaintext"].encode()
    assert message.to_be_signed(bytes.fromhex(signer_input(vector).get("external", ""))) == bytes.fromhex(
        vector["intermediates"]["ToBeSign_hex"]
    )


def test_sign_pass_03_is_untagged(cose: Path) -> None:
    assert decode_sign1(message_bytes(load(cose, "sign1-tests/sign-pass-03.json"))).tagged is False
    assert decode_sign1(message_bytes(load(cose, "sign1-tests/sign-pass-02.json"))).tagged is True


def test_sign_pass_01_alg_only_unprotected_verifies_with_the_keys_alg(cose: Path) -> None:
    message = decode_sign1(message_bytes(load(cose, "sign1-tests/sign-pass-01.json")))
    assert 1 not in message.protected
    assert message.unprotected[1] == -7


def test_sign_pass_02_without_its_external_aad_fails(cose: Path) -> None:
    vector = load(cose, "sign1-tests/sign-pass-02.json")
    key = VerifyKey.from_public(public_key(signer_input(vector)["key"]), kid=b"11")
    with pytest.raises(SignatureError):
        verify_sign1(decode_sign1(message_bytes(vector)), key)


FAIL_CODES = {
    "sign-fail-01": {"wrong_tag"},  # CBOR tag 998
    "sign-fail-02": {"bad_signature"},  # payload changed
    "sign-fail-03": {"unsupported_alg"},  # alg -999
    "sign-fail-04": {"unsupported_alg"},  # alg "unknown"
    "sign-fail-06": {"bad_signature"},  # protected attribute added
    "sign-fail-07": {"bad_signature"},  # protected attribute removed
}


@pytest.mark.parametrize("name", sorted(FAIL_CODES))
def test_sign_fail_vectors_are_refused(cose: Path, name: str) -> None:
    vector = load(cose, f"sign1-tests/{name}.json")
    assert vector["fail"] is True
    with pytest.raises(SchemeError) as info:
        verify_vector(vector)
    assert info.value.code in FAIL_CODES[name], info.value.message


def test_every_sign_fail_vector_is_listed(cose: Path) -> None:
    present = {p.stem for p in (cose / "cose-wg" / "sign1-tests").glob("sign-fail-*.json")}
    assert present == set(FAIL_CODES)


# ---- ECDSA and EdDSA examples ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ecdsa-examples/ecdsa-sig-01", "eddsa-examples/eddsa-sig-01"])
def test_supported_algorithm_vectors_verify(cose: Path, name: str) -> None:
    verify_vector(load(cose, f"{name}.json"))


@pytest.mark.parametrize(
    "name",
    [
        "ecdsa-examples/ecdsa-sig-02",  # P-384 / ES384
        "ecdsa-examples/ecdsa-sig-03",  # P-521 / ES512
        "ecdsa-examples/ecdsa-sig-04",  # P-256 with SHA-512 (ES512)
        "eddsa-examples/eddsa-sig-02",  # Ed448
    ],
)
def test_unsupported_algorithm_vectors_are_refused(cose: Path, name: str) -> None:
    vector = load(cose, f"{name}.json")
    with pytest.raises(UnsupportedError) as info:
        verify_vector(vector)
    assert info.value.code == "unsupported_alg"


@pytest.mark.parametrize(
    "name", ["ecdsa-examples/ecdsa-sig-02", "ecdsa-examples/ecdsa-sig-03", "eddsa-examples/eddsa-sig-02"]
)
def test_keys_of_other_curves_cannot_be_wrapped(cose: Path, name: str) -> None:
    jwk = signer_input(load(cose, f"{name}.json"))["key"]
    with pytest.raises(UnsupportedError) as info:
        VerifyKey.from_public(public_key(jwk), kid=b"11")
    assert info.value.code == "unsupported_alg"


@pytest.mark.parametrize(
    "name", ["ecdsa-examples/ecdsa-sig-02", "ecdsa-examples/ecdsa-sig-03", "eddsa-examples/eddsa-sig-02"]
)
def test_messages_of_other_curves_are_refused_whatever_the_key(cose: Path, name: str) -> None:
    """Without a key to blame, decoding refuses the message itself."""
    data = message_bytes(load(cose, f"{name}.json"))
    with pytest.raises(SchemeError) as info:
        decode_sign1(data)
    # Their signatures are not 64 bytes (96, 132, 114): the decoder names the algorithm first when
    # the profile refuses it (ES384, ES512); Ed448 says EdDSA, whose length is then the problem.
    expected = "bad_signature_length" if name.startswith("eddsa") else "unsupported_alg"
    assert info.value.code == expected, info.value.message


def test_p256_with_sha512_is_refused_while_decoding(cose: Path) -> None:
    vector = load(cose, "ecdsa-examples/ecdsa-sig-04.json")
    with pytest.raises(UnsupportedError) as info:
        decode_sign1(message_bytes(vector))
    assert info.value.code == "unsupported_alg"
    assert "ES512" in info.value.message


@pytest.mark.parametrize(
    "name",
    [
        "ecdsa-examples/ecdsa-01",
        "ecdsa-examples/ecdsa-02",
        "ecdsa-examples/ecdsa-03",
        "ecdsa-examples/ecdsa-04",
        "eddsa-examples/eddsa-01",
        "eddsa-examples/eddsa-02",
    ],
)
def test_cose_sign_is_the_wrong_message_type(cose: Path, name: str) -> None:
    with pytest.raises(UnsupportedError) as info:
        decode_sign1(message_bytes(load(cose, f"{name}.json")))
    assert info.value.code == "wrong_message_type"


# ---- CWT (RFC 8392 appendix A) -------------------------------------------------------------------


def test_cwt_a3_verifies_and_its_claims_are_rfc_8392s(cose: Path) -> None:
    vector = load(cose, "CWT/A_3.json")
    verify_vector(vector)
    claims_map = cbor2.loads(decode_sign1(message_bytes(vector)).payload)
    assert dict(claims_map) == {
        1: "coap://as.example.com",
        2: "erikw",
        3: "coap://light.example.com",
        4: 1444064944,
        5: 1443944944,
        6: 1443944944,
        7: bytes.fromhex("0b71"),
    }


@pytest.mark.parametrize("name", ["A_4", "A_5", "A_6", "A_7"])
def test_cwt_mac_and_encrypted_are_refused_as_unsupported(cose: Path, name: str) -> None:
    with pytest.raises(UnsupportedError) as info:
        decode_sign1(message_bytes(load(cose, f"CWT/{name}.json")))
    assert info.value.code == "wrong_message_type"


def test_cwt_a3_is_not_a_cirqliz_pass(cose: Path) -> None:
    """A real COSE_Sign1 CWT behind the CQ1: prefix is still refused: no kid, foreign claims."""
    text = PREFIX + b45encode(message_bytes(load(cose, "CWT/A_3.json")))
    with pytest.raises(MalformedError):
        parse_pass_text(text)


# ---- the pass profile is stricter than COSE ---------------------------------------------------------


def test_pass_profile_refuses_alg_only_in_the_unprotected_header() -> None:
    payload = claims().to_cbor()
    protected_raw = cbor2.dumps({4: SIGNER.kid}, canonical=True)
    from cirqliz.passcode.cose import to_be_signed

    signature = SIGNER.sign(to_be_signed(protected_raw, payload))
    message = cbor2.dumps([protected_raw, {1: -7}, payload, signature], canonical=True)
    # Plain COSE accepts it (the algorithm comes from the key)...
    verify_sign1(decode_sign1(message), SIGNER.verify_key())
    # ...the pass profile does not.
    with pytest.raises(MalformedError) as info:
        parse_pass_text(PREFIX + b45encode(message))
    assert info.value.code == "alg_not_protected"
