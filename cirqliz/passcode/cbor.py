"""Strict CBOR: one item, no trailing bytes, deterministic encoding (RFC 8949 §4.2.1).

Decoding is cbor2's; determinism is checked by walking the bytes once (`first_problem`):
shortest heads, definite lengths, map keys in bytewise order of their encodings without
repeats, no floating-point values, no tags inside the item (the profile's only tag is the
COSE_Sign1 tag around a whole message). cbor2's `canonical=True` sorts keys length-first
(RFC 7049), which is not the same order, so encoding sorts keys itself.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from cirqliz.passcode.errors import MalformedError


def loads_one(data: bytes, what: str) -> Any:
    """Decode exactly one CBOR item from `data`; MalformedError on bad CBOR or trailing bytes."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedError(f"{what} : octets attendus", code="not_bytes")
    fp = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(fp).decode()
    except RecursionError:
        raise MalformedError(f"{what} : imbrication trop profonde", code="bad_cbor") from None
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, MemoryError, IndexError, KeyError) as exc:
        raise MalformedError(f"{what} : CBOR illisible{_why(data, exc)}", code="bad_cbor") from exc
    if fp.tell() != len(data):
        raise MalformedError(
            f"{what} : {len(data) - fp.tell()} octet(s) en trop après l'élément CBOR",
            code="trailing_bytes",
        )
    return obj


def _why(data: bytes, exc: BaseException) -> str:
    """Why cbor2 could not decode `data`, in French (its own text is English), or ''."""
    problem = first_problem(bytes(data))
    if problem is not None:
        return f" ({problem[1]})"
    if isinstance(exc, cbor2.CBORDecodeEOF):
        return " (CBOR tronqué)"
    if isinstance(exc.__cause__ or exc.__context__, UnicodeDecodeError):
        return " (texte qui n'est pas de l'UTF-8)"
    return ""


def loads_deterministic(data: bytes, what: str) -> Any:
    """Decode one item and refuse it unless its encoding is the deterministic one."""
    obj = loads_one(data, what)
    problem = first_problem(bytes(data))
    if problem is not None:
        raise MalformedError(f"{what} : {problem[1]}", code=problem[0])
    if data[:1] and data[0] >> 5 == 6 and not isinstance(obj, cbor2.CBORTag):
        # A tag the decoder turns into a value (2: bignum, 1: date…): that value's deterministic
        # encoding is not the input, and the profile knows only COSE's tags (left as tags).
        raise MalformedError(f"{what} : étiquette CBOR à signification prédéfinie à l'octet 0, non admise",
                             code="bad_cbor")
    return obj


# Values that need no rewriting (exact types: a bool or an enum still takes the general path).
_LEAVES = frozenset((int, str, bytes, type(None)))


def _bytewise(obj: Any) -> Any:
    if type(obj) in _LEAVES:
        return obj
    if isinstance(obj, dict):
        items = [(cbor2.dumps(k), k, _bytewise(v)) for k, v in obj.items()]
        return {k: v for _, k, v in sorted(items, key=lambda item: item[0])}
    if isinstance(obj, list | tuple):
        # Leaves are kept without a call each: a bundle's zone outlines are long lists of integers.
        return [v if type(v) in _LEAVES else _bytewise(v) for v in obj]
    if isinstance(obj, cbor2.CBORTag):
        return cbor2.CBORTag(obj.tag, _bytewise(obj.value))
    if isinstance(obj, float):
        raise TypeError("nombres à virgule flottante interdits dans ce profil")
    return obj


class Encoded:
    """A CBOR item already encoded deterministically (by `dumps_deterministic`, or `array_head`
    followed by such items), which `dumps_deterministic` writes as it is: a part that did not change
    is encoded once, not on every call (issue 18: a bundle's zones)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def _write_encoded(encoder: Any, value: Any) -> None:
    if type(value) is Encoded:
        encoder.write(value.data)
        return
    raise cbor2.CBOREncodeError(f"cannot encode type {type(value)}")


def array_head(count: int) -> bytes:
    """The head of a definite-length array of `count` items (shortest form, as cbor2 writes it)."""
    if count < 0:
        raise ValueError("longueur de tableau négative")
    if count < 24:
        return bytes((0x80 | count,))
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if count < 1 << (8 * size):
            return bytes((0x80 | ai,)) + count.to_bytes(size, "big")
    raise ValueError("tableau trop long")


def dumps_deterministic(obj: Any) -> bytes:
    """Encode with deterministic CBOR: map keys in bytewise order, shortest forms, no floats.
    `Encoded` parts are written as they are (never as map keys)."""
    return cbor2.dumps(_bytewise(obj), default=_write_encoded)


class _Problem(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def first_problem(data: bytes) -> tuple[str, str] | None:
    """The first reason `data` is not deterministic CBOR of this profile, or None."""
    try:
        _item(data, 0, 0)
    except _Problem as problem:
        return problem.code, problem.detail
    except IndexError:
        return "bad_cbor", "CBOR tronqué"
    return None


def diagnose(data: bytes) -> tuple[str, str]:
    """Name the first reason `data` is not deterministic CBOR: (code, explanation)."""
    return first_problem(data) or ("non_canonical", "encodage non déterministe (RFC 8949 §4.2.1)")


def _head(data: bytes, pos: int) -> tuple[int, int, int, int]:
    ib = data[pos]
    major, ai = ib >> 5, ib & 31
    pos += 1
    if ai < 24:
        return major, ai, ai, pos
    if ai == 31:
        raise _Problem("indefinite_length", f"élément de longueur indéfinie à l'octet {pos - 1}")
    if ai > 27:
        raise _Problem("bad_cbor", f"information additionnelle réservée à l'octet {pos - 1}")
    size = 1 << (ai - 24)
    if pos + size > len(data):
        raise IndexError
    value = int.from_bytes(data[pos : pos + size], "big")
    if major != 7 and value < (24 if size == 1 else 1 << (4 * size)):
        raise _Problem("non_minimal", f"longueur ou entier à l'octet {pos - 1} pas sous sa forme la plus courte")
    return major, ai, value, pos + size


def _item(data: bytes, pos: int, depth: int) -> int:
    if depth > 32:
        raise _Problem("bad_cbor", "imbrication trop profonde")
    start = pos
    major, ai, value, pos = _head(data, pos)
    if major in (2, 3):
        return pos + value
    if major == 4:
        for _ in range(value):
            pos = _item(data, pos, depth + 1)
        return pos
    if major == 5:
        previous = None
        for _ in range(value):
            key_start = pos
            pos = _item(data, pos, depth + 1)
            key = data[key_start:pos]
            if previous is not None:
                if key == previous:
                    raise _Problem("duplicate_key", f"clé répétée dans une table à l'octet {key_start}")
                if key < previous:
                    raise _Problem("unsorted_keys", f"clés de table hors de l'ordre déterministe à l'octet {key_start}")
            previous = key
            pos = _item(data, pos, depth + 1)
        return pos
    if major == 6:
        if depth > 0:
            raise _Problem("bad_cbor",
                           f"étiquette CBOR à l'octet {start} : pas d'étiquette admise à l'intérieur du message")
        return _item(data, pos, depth + 1)
    if major == 7 and ai in (25, 26, 27):
        raise _Problem("float", f"nombre à virgule flottante à l'octet {start}")
    return pos
