"""Base45 (RFC 9285), the alphabet of QR alphanumeric mode.

Hand-written rather than taken from the `base45` package because the decode is the slowest step
of a verify in pure Python; this one works on whole slices and big integers, never per group in
Python (tests compare it with that package).
"""

from __future__ import annotations

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
        raise MalformedError("Base45 : caractère non ASCII", code="bad_base45") from None
    values = raw.translate(_VALUES)
    if 0xFF in values:  # an int operand is a plain memchr, several times faster than b"\xff"
        pos = values.index(0xFF)
        raise MalformedError(
            f"Base45 : le caractère {text[pos]!r} en position {pos} n'est pas dans l'alphabet",
            code="bad_base45",
        )
    n = len(values)
    if n % 3 == 1:
        raise MalformedError("Base45 : longueur impossible (un caractère isolé à la fin)", code="bad_base45")
    full = n - n % 3
    # All groups at once with big-integer arithmetic instead of a Python loop (4-5x faster).
    # Read as one big-endian integer, group g = (a, b, c) sits in the 24-bit slot counted from the
    # top, as a·2^16 + b·2^8 + c; masking out c, b and a of every slot and recombining them as
    # a + 45b + 2025c gives each group's 16-bit word in the same slot (a valid group is below
    # 2^16; an invalid one below 2^17, so nothing carries into the next slot). Back to bytes, each
    # slot is [overflow byte, high, low]: the overflow bytes must be zero and are dropped.
    masks = _MASKS.get(full) or _group_masks(full // 3)
    mask = masks[0]
    v = int.from_bytes(values[:full], "big")
    words = 2025 * (v & mask) + 45 * (v >> 8 & mask) + (v >> 16 & mask)
    if words & masks[1]:
        raise MalformedError("Base45 : un groupe de 3 caractères dépasse 65535", code="bad_base45")
    out = bytearray(words.to_bytes(full, "big"))
    del out[::3]
    if n % 3 == 2:
        last = values[full] + values[full + 1] * 45
        if last > 0xFF:
            raise MalformedError("Base45 : le dernier groupe de 2 caractères dépasse 255", code="bad_base45")
        out.append(last)
    return bytes(out)


_MASKS: dict[int, tuple[int, int]] = {}  # by the length of the full groups, in characters


def _group_masks(groups: int) -> tuple[int, int]:
    """0xFF in the low byte of each of `groups` 24-bit slots, and the same shifted to their overflow
    byte (cached for pass-sized inputs)."""
    mask = int.from_bytes(b"\xff\x00\x00" * groups, "little")
    masks = (mask, mask << 16)
    if groups <= 1024:
        _MASKS[3 * groups] = masks
    return masks
