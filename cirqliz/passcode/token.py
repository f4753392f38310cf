"""Pass text: `CQ1:` + Base45 of a COSE_Sign1 whose payload is the pass claims.

The prefix says what the message is, so the COSE_Sign1 is sent untagged (RFC 9052 §2 allows it
where the context determines the type) to save a byte; a tagged one is accepted too.
The whole text stays in the QR alphanumeric alphabet, so the code is as small as it can be.
"""

from __future__ import annotations

from cirqliz.passcode.base45 import b45decode, b45encode
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.cose import HEADER_ALG, HEADER_KID, Sign1, decode_sign1, read_sign1_parts, sign1
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


def read_pass_parts(text: str) -> tuple[int, bytes, bytes, bytes, bytes] | None:
    """(alg, kid, Sig_structure bytes, payload, signature) of a pass in the layout `sign_pass`
    writes, or None for anything else: `parse_pass_text` then decides and names the problem.

    The verifier's fast path: Base45 and the fixed COSE layout, nothing else built.
    """
    if type(text) is not str or len(text) > MAX_TEXT or not text.startswith(PREFIX):
        return None
    try:
        data = b45decode(text[_PREFIX_LEN:])
    except MalformedError:
        return None
    return read_sign1_parts(data)
