"""Base45 (RFC 9285), the alphabet of QR alphanumeric mode.

Hand-written rather than taken from the `base45` package because the decode is the slowest step
of a verify in pure Python; this one works on whole slices (tests compare it with that package).
"""

from __future__ import annotations

import struct

from cirqliz.passcode.errors import MalformedError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUES = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else 0xFF for c in range(256))
_ENC = ALPHABET.encode("ascii")


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    out = bytearray()
    n = len(data)
    for i in range(0, n - 1, 2):
        v = data[i] << 8 | data[i + 1]
        v, c = divmod(v, 45)
        e, d = divmod(v, 45)
        out += bytes((_ENC[c], _ENC[d], _ENC[e]))
    if n % 2:
        d, c = divmod(data[-1], 45)
        out += bytes((_ENC[c], _ENC[d]))
    return out.decode("ascii")


def b45decode(text: str) -> bytes:
    """Decode Base45 text; MalformedError names the problem (character, length, overflow)."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedError("Base45: non-ASCII character", code="bad_base45") from None
    values = raw.translate(_VALUES)
    if b"\xff" in values:
        pos = values.index(b"\xff")
        raise MalformedError(
            f"Base45: character {text[pos]!r} at position {pos} is not in the alphabet",
            code="bad_base45",
        )
    n = len(values)
    if n % 3 == 1:
        raise MalformedError("Base45: length leaves a single dangling character", code="bad_base45")
    full = n - n % 3
    triples = zip(values[0:full:3], values[1:full:3], values[2:full:3], strict=True)
    words = [a + b * 45 + c * 2025 for a, b, c in triples]
    if words and max(words) > 0xFFFF:
        raise MalformedError("Base45: a 3-character group exceeds 65535", code="bad_base45")
    out = struct.pack(f">{len(words)}H", *words)
    if n % 3 == 2:
        last = values[full] + values[full + 1] * 45
        if last > 0xFF:
            raise MalformedError("Base45: the final 2-character group exceeds 255", code="bad_base45")
        out += bytes((last,))
    return out
