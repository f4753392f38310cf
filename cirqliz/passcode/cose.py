"""COSE_Sign1 (RFC 9052 §4.2): sign and verify, with the profile's strict header rules.

Rules that come from public bug trackers of COSE libraries and DCC verifiers:
- the algorithm is taken from the key, never from the message; a protected `alg` that
  disagrees with the key is refused, and `alg` in the unprotected header is ignored;
- an empty protected map is signed as an empty byte string;
- a `crit` header naming a label this profile does not process is refused;
- a protected `alg` must be one this profile accepts, checked before the signature's length
  (another algorithm has signatures of another size: the refusal names the algorithm);
- signatures must be exactly 64 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, cast

import cbor2

from cirqliz.passcode.cbor import dumps_deterministic, loads_deterministic, loads_one
from cirqliz.passcode.errors import MalformedError, SignatureError, UnsupportedError
from cirqliz.passcode.keys import SigningKey, VerifyKey, algorithm_from_label

HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
UNDERSTOOD_HEADERS = frozenset({HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID})

TAG_SIGN1 = 18
OTHER_COSE_TAGS = {
    98: "COSE_Sign (plusieurs signataires)",
    17: "COSE_Mac0",
    97: "COSE_Mac",
    16: "COSE_Encrypt0",
    96: "COSE_Encrypt",
}
_SIG1_PREFIX = b"\x84\x6aSignature1"
_SHORT_BSTR_HEADS = [bytes((0x40 | n,)) for n in range(24)]


@dataclass(frozen=True, slots=True)
class Sign1:
    """A decoded COSE_Sign1 whose signature has not been checked yet."""

    protected_raw: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes
    tagged: bool

    @property
    def kid(self) -> bytes | None:
        """kid from the protected header, else from the unprotected one (generic COSE only)."""
        kid = self.protected.get(HEADER_KID, self.unprotected.get(HEADER_KID))
        return kid if isinstance(kid, bytes) else None

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        """The Sig_structure bytes that the signature covers."""
        return to_be_signed(self.protected_raw if self.protected else b"", self.payload, external_aad)


def _bstr(data: bytes) -> bytes:
    n = len(data)
    if n < 24:
        return _SHORT_BSTR_HEADS[n] + data
    if n < 0x100:
        return bytes((0x58, n)) + data
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big") + data
    return b"\x5a" + n.to_bytes(4, "big") + data


def to_be_signed(protected_raw: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """Sig_structure ["Signature1", protected, external_aad, payload] as CBOR."""
    aad = _bstr(external_aad) if external_aad else b"\x40"
    return b"".join((_SIG1_PREFIX, _bstr(protected_raw), aad, _bstr(payload)))


def decode_sign1(data: bytes, *, deterministic: bool = False) -> Sign1:
    """Parse a COSE_Sign1 (tagged 18 or untagged); MalformedError/UnsupportedError if it is not one.

    With `deterministic`, the outer structure and the protected header must be deterministic CBOR.
    """
    if deterministic:
        message = _read_sign1_common(data)
        if message is not None:
            return message
    return _decode_sign1_generic(data, deterministic=deterministic)


def _common_layout(data: object) -> tuple[int, int, int] | None:
    """Where the parts of the shape this profile signs are: [h'A2 01 alg 04 48 kid', {}, payload, sig64].

    Reads the bytes in place instead of decoding with cbor2 and re-encoding to prove determinism
    (several times faster). It only ever accepts: every byte is checked against the one
    deterministic encoding of that shape, and anything else (other headers, long lengths, wrong
    sizes, trailing bytes) returns None so that `_decode_sign1_generic` decides and names the
    problem. Returns (start of the array, alg, start of the signature's head); the payload's
    head starts at array start + 16. tests/scheme/test_fast_decoder.py compares both paths on
    mutated messages.
    """
    if type(data) is not bytes:
        return None
    n = len(data)
    pos = 1 if data[:1] == b"\xd2" else 0  # tag 18
    # array(4), then bstr(13) holding map(2) {1: one-byte int, 4: bstr(8)}, then the empty map
    if data[pos : pos + 4] != b"\x84\x4d\xa2\x01" or n < pos + 17:
        return None
    # alg: -7 (ES256, 0x26) or -8 (EdDSA, 0x27); any other is for the generic path to name
    alg = data[pos + 4]
    if alg == 0x26:
        alg_value = -7
    elif alg == 0x27:
        alg_value = -8
    else:
        return None
    if data[pos + 5 : pos + 7] != b"\x04\x48" or data[pos + 15] != 0xA0:
        return None
    # payload: a byte string whose length is in its shortest form
    head = data[pos + 16]
    at = pos + 17
    if 0x40 <= head < 0x58:
        size = head - 0x40
    elif head == 0x58 and at < n and data[at] >= 24:
        size, at = data[at], at + 1
    elif head == 0x59 and at < n and data[at]:
        size, at = int.from_bytes(data[at : at + 2], "big"), at + 2
    elif head == 0x5A and data[at : at + 2] != b"\x00\x00":
        size, at = int.from_bytes(data[at : at + 4], "big"), at + 4
    else:
        return None
    at += size
    # signature: bstr(64), and nothing after it
    if at + 66 != n or data[at : at + 2] != b"\x58\x40":
        return None
    return pos, alg_value, at


def read_sign1_parts(data: bytes) -> tuple[int, bytes, bytes, bytes, bytes] | None:
    """(alg, kid, Sig_structure bytes, payload, signature) of a message in the shape this profile
    signs, or None (then `decode_sign1` decides and names the problem).

    The verifier's path: no Sign1 or header map is built, and the Sig_structure is assembled
    from the message's own slices (its protected bstr and payload bstr are already in the
    shortest form the Sig_structure needs: the same bytes as `to_be_signed`).
    """
    layout = _common_layout(data)
    if layout is None:
        return None
    pos, alg_value, sig = layout
    payload_head = data[pos + 16]
    payload_start = pos + 17 + (0 if payload_head < 0x58 else 1 << (payload_head - 0x58))
    return (
        alg_value,
        data[pos + 7 : pos + 15],
        b"".join((_SIG1_PREFIX, data[pos + 1 : pos + 15], b"\x40", data[pos + 16 : sig])),
        data[payload_start:sig],
        data[sig + 2 :],
    )


def _read_sign1_common(data: object) -> Sign1 | None:
    """Fast path of `decode_sign1` for the shape this profile signs (see `_common_layout`)."""
    layout = _common_layout(data)
    if layout is None:
        return None
    pos, alg_value, sig = layout
    data = cast(bytes, data)  # _common_layout accepts bytes only
    payload_head = data[pos + 16]
    payload_start = pos + 17 + (0 if payload_head < 0x58 else 1 << (payload_head - 0x58))
    # Sign1(...) without its frozen-dataclass __init__ (see _SIGN1_SLOTS): same object, faster.
    set_protected_raw, set_protected, set_unprotected, set_payload, set_signature, set_tagged = _SIGN1_SLOTS
    message = object.__new__(Sign1)
    set_protected_raw(message, data[pos + 2 : pos + 15])
    set_protected(message, {HEADER_ALG: alg_value, HEADER_KID: data[pos + 7 : pos + 15]})
    set_unprotected(message, {})
    set_payload(message, data[payload_start:sig])
    set_signature(message, data[sig + 2 :])
    set_tagged(message, pos == 1)
    return message


# Sign1 is a frozen dataclass: its generated __init__ sets each field through object.__setattr__
# by name. It runs on every scan, so the fast path sets the slots through their descriptors
# (Sign1 has no __post_init__ to run).
_SIGN1_SLOTS = tuple(Sign1.__dict__[f.name].__set__ for f in fields(Sign1))


def _decode_sign1_generic(data: bytes, *, deterministic: bool = False) -> Sign1:
    """Any COSE_Sign1, decoded by cbor2 and checked item by item (the reference behaviour)."""
    obj = loads_deterministic(data, "message COSE") if deterministic else loads_one(data, "message COSE")
    tagged = False
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != TAG_SIGN1:
            kind = OTHER_COSE_TAGS.get(obj.tag)
            if kind:
                raise UnsupportedError(f"type de message inattendu : {kind}, COSE_Sign1 attendu",
                                       code="wrong_message_type")
            raise MalformedError(f"étiquette CBOR {obj.tag} inattendue, 18 (COSE_Sign1) attendue", code="wrong_tag")
        obj, tagged = obj.value, True
    if not isinstance(obj, list | tuple) or len(obj) != 4:
        raise MalformedError("un COSE_Sign1 doit être un tableau de 4 éléments", code="not_sign1")
    protected_raw, unprotected, payload, signature = obj
    if not isinstance(protected_raw, bytes):
        raise MalformedError("l'en-tête protégé doit être une chaîne d'octets", code="bad_protected")
    if not isinstance(unprotected, Mapping):
        raise MalformedError("l'en-tête non protégé doit être une table associative", code="bad_unprotected")
    if not isinstance(payload, bytes):
        raise MalformedError("le contenu doit être une chaîne d'octets (contenu détaché refusé)", code="bad_payload")
    if not isinstance(signature, bytes):
        raise MalformedError("la signature doit être une chaîne d'octets", code="bad_signature_type")
    protected: Mapping[Any, Any] = {}
    if protected_raw:
        loaded = (
            loads_deterministic(protected_raw, "en-tête protégé")
            if deterministic
            else loads_one(protected_raw, "en-tête protégé")
        )
        if not isinstance(loaded, Mapping):
            raise MalformedError("l'en-tête protégé doit coder une table associative", code="bad_protected")
        protected = loaded
    _check_crit(protected)
    if HEADER_ALG in protected:
        algorithm_from_label(protected[HEADER_ALG])  # UnsupportedError naming it, before the length
    if len(signature) != 64:
        raise MalformedError(
            f"signature de {len(signature)} octets au lieu de 64", code="bad_signature_length"
        )
    return Sign1(bytes(protected_raw), protected, unprotected, payload, signature, tagged)


def _check_crit(protected: Mapping[Any, Any]) -> None:
    crit = protected.get(HEADER_CRIT)
    if crit is None:
        return
    if not isinstance(crit, list | tuple) or not crit:
        raise MalformedError("l'en-tête crit doit être un tableau non vide", code="bad_crit")
    # Labels are ints or text; anything else (even unhashable arrays) is simply not understood.
    unknown = [label for label in crit
               if type(label) is not int or label not in UNDERSTOOD_HEADERS or label == HEADER_CRIT]
    if unknown:
        raise UnsupportedError(f"en-tête(s) critique(s) inconnu(s) : {unknown}", code="unknown_critical")
    missing = [label for label in crit if label not in protected]
    if missing:
        raise MalformedError(f"en-tête(s) critique(s) {missing} absent(s) de l'en-tête protégé", code="bad_crit")


def check_alg(message: Sign1, key: VerifyKey) -> None:
    """Refuse a protected `alg` that is unsupported or disagrees with the key's algorithm."""
    if HEADER_ALG in message.protected:
        alg = algorithm_from_label(message.protected[HEADER_ALG])
        if alg is not key.alg:
            raise SignatureError(
                f"le message annonce {alg.label} mais la clé est {key.alg.label}", code="alg_mismatch"
            )


def verify_sign1(message: Sign1, key: VerifyKey, external_aad: bytes = b"") -> None:
    """Verify the signature with `key` (its algorithm, not the message's); SignatureError if not."""
    check_alg(message, key)
    key.verify(message.signature, message.to_be_signed(external_aad))


def sign1(payload: bytes, key: SigningKey, *, tagged: bool = True, external_aad: bytes = b"") -> bytes:
    """COSE_Sign1 with protected {1: alg, 4: kid} and an empty unprotected header."""
    protected_raw = dumps_deterministic({HEADER_ALG: int(key.alg), HEADER_KID: key.kid})
    signature = key.sign(to_be_signed(protected_raw, payload, external_aad))
    body = [protected_raw, {}, payload, signature]
    return dumps_deterministic(cbor2.CBORTag(TAG_SIGN1, body) if tagged else body)
