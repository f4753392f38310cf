"""Pass text: `CQ1:` + Base45 of a COSE_Sign1 whose payload is the pass claims.

The prefix says what the message is, so the COSE_Sign1 is sent untagged (RFC 9052 §2 allows it
where the context determines the type) to save a byte; a tagged one is accepted too.
The whole text stays in the QR alphanumeric alphabet, so the code is as small as it can be.
"""

from __future__ import annotations

import re
from typing import Any

from cirqliz.passcode.base45 import b45decode, b45encode
from cirqliz.passcode.claims import _AFTER_ISS, PassClaims
from cirqliz.passcode.cose import (
    _SIG1_PREFIX,
    HEADER_ALG,
    HEADER_KID,
    Sign1,
    decode_sign1,
    read_sign1_parts,
    sign1,
)
from cirqliz.passcode.errors import MalformedError
from cirqliz.passcode.keys import SigningKey

PREFIX = "CQ1:"
_PREFIX_LEN = len(PREFIX)
MAX_TEXT = 2000


def sign_pass(claims: PassClaims, key: SigningKey) -> str:
    """Sign the claims and return the pass text."""
    return PREFIX + b45encode(sign1(claims.to_cbor(), key, tagged=False))


def parse_pass_text(text: str) -> Sign1:
    """Prefix, Base45 and COSE layers of a pass, strictly; the signature is not checked here."""
    if not isinstance(text, str):
        raise MalformedError("le texte du laissez-passer doit être une chaîne de caractères", code="not_text")
    if len(text) > MAX_TEXT:
        raise MalformedError(f"texte du laissez-passer de plus de {MAX_TEXT} caractères", code="too_long")
    if not text.startswith(PREFIX):
        raise MalformedError(f"pas un laissez-passer CirQliz : le texte doit commencer par {PREFIX!r}",
                             code="bad_prefix")
    message = decode_sign1(b45decode(text[len(PREFIX) :]), deterministic=True)
    if HEADER_ALG not in message.protected:
        where = "que dans l'en-tête non protégé" if HEADER_ALG in message.unprotected else "dans aucun en-tête"
        raise MalformedError(f"l'algorithme (alg) doit être dans l'en-tête protégé ; il n'est {where}",
                             code="alg_not_protected")
    kid = message.protected.get(HEADER_KID)
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise MalformedError("l'en-tête protégé doit porter un identifiant de clé (kid) de 8 octets", code="bad_kid")
    return message


def _pass_bytes(text: str) -> bytes | None:
    """The Base45-decoded bytes of a text that starts like a pass, or None (the strict reader decides)."""
    if type(text) is not str or len(text) > MAX_TEXT or not text.startswith(PREFIX):
        return None
    try:
        return b45decode(text[_PREFIX_LEN:])
    except MalformedError:
        return None


def read_pass_parts(text: str) -> tuple[int, bytes, bytes, bytes, bytes] | None:
    """(alg, kid, Sig_structure bytes, payload, signature) of a pass in the layout `sign_pass`
    writes, or None for anything else: `parse_pass_text` then decides and names the problem.

    The verifier's fast path: Base45 and the fixed COSE layout, nothing else built.
    """
    data = _pass_bytes(text)
    return None if data is None else read_sign1_parts(data)


# A whole pass as `sign_pass` writes it, in one match: the COSE layout of cose._common_layout
# (optional tag 18, protected {1: -7 or -8, 4: kid}, empty unprotected map) with a payload of 24 to
# 65535 bytes whose head is in its shortest form, then the claims as claims._read_claims_common
# reads them (iss head, iss, then _AFTER_ISS), then the 64-byte signature and the end. Lengths the
# pattern cannot count (payload, iss) are compared with their heads afterwards; a lazy iss that
# stopped too early only sends the pass to the slower readers, which decide.
_PASS = re.compile(
    rb"\xd2?\x84\x4d\xa2\x01[\x26\x27]\x04\x48.{8}\xa0"
    rb"(?:\x58[\x18-\xff]|\x59[\x01-\xff].)"
    rb"\xa6\x01(?:[\x61-\x77]|\x78[\x18-\xff])(.{1,255}?)"
    + _AFTER_ISS.pattern
    + rb"\x58\x40.{64}",
    re.DOTALL,
)


def read_pass_fast(text: str) -> tuple[int, bytes, bytes, bytes, bytes, tuple[Any, ...] | None] | None:
    """(alg, kid, Sig_structure bytes, payload, signature, claim parts) of a pass, or None when
    `parse_pass_text` must decide and name the problem. The first five are `read_pass_parts`'s;
    claim parts, when the claims are in the usual layout, are the arguments of
    `claims.claims_from_match`, which gives what `read_claims_common(payload)` would (None: ask it).
    The claims themselves are built once the signature is checked: nothing is cached from a forgery.

    The verifier's fast path: Base45, then one match for the COSE layout and the claims.
    """
    data = _pass_bytes(text)
    if data is None:
        return None
    match = _PASS.fullmatch(data)
    if match is not None:
        iss, block, plate_head, plate, tail = match.groups()
        pos = 1 if data[0] == 0xD2 else 0
        start = pos + 16  # the payload's head, then its length (one byte, or two)
        if data[start] == 0x58:
            size, payload_start = data[start + 1], start + 2
        else:
            size, payload_start = data[start + 1] << 8 | data[start + 2], start + 3
        end = len(data) - 66  # the signature's head
        iss_head = data[payload_start + 2]
        at = payload_start + 3 if iss_head < 0x78 else payload_start + 4  # iss
        if end - payload_start == size and len(iss) == (iss_head - 0x60 if iss_head < 0x78 else data[at - 1]):
            try:
                issuer = iss.decode("utf-8")
            except UnicodeDecodeError:
                issuer = ""  # not text: the claims reader refuses it too (None below)
            return (
                -7 if data[pos + 4] == 0x26 else -8,
                data[pos + 7 : pos + 15],
                b"".join((_SIG1_PREFIX, data[pos + 1 : pos + 15], b"\x40", data[start:end])),
                data[payload_start:end],
                data[end + 2 :],
                (issuer, data, at + len(iss), block, plate_head, plate, tail) if 0 < len(issuer) <= 64 else None,
            )
    parts = read_sign1_parts(data)
    return None if parts is None else (*parts, None)
