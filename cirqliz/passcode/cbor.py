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
        raise MalformedError(f"{what}: expected bytes", code="not_bytes")
    fp = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(fp).decode()
    except RecursionError:
        raise MalformedError(f"{what}: nested too deeply", code="bad_cbor") from None
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, MemoryError, IndexError, KeyError) as exc:
        raise MalformedError(f"{what}: not valid CBOR ({exc})", code="bad_cbor") from exc
    if fp.tell() != len(data):
        raise MalformedError(
            f"{what}: {len(data) - fp.tell()} trailing byte(s) after the CBOR item",
            code="trailing_bytes",
        )
    return obj


def loads_deterministic(data: bytes, what: str) -> Any:
    """Decode one item and refuse it unless its encoding is the deterministic one."""
    obj = loads_one(data, what)
    problem = first_problem(bytes(data))
    if problem is not None:
        raise MalformedError(f"{what}: {problem[1]}", code=problem[0])
    if data[:1] and data[0] >> 5 == 6 and not isinstance(obj, cbor2.CBORTag):
        # A tag the decoder turns into a value (2: bignum, 1: date…): that value's deterministic
        # encoding is not the input, and the profile knows only COSE's tags (left as tags).
        raise MalformedError(f"{what}: CBOR tag with a built-in meaning at byte 0 is not allowed", code="bad_cbor")
    return obj


def _bytewise(obj: Any) -> Any:
    if isinstance(obj, dict):
        items = [(cbor2.dumps(k), k, _bytewise(v)) for k, v in obj.items()]
        return {k: v for _, k, v in sorted(items, key=lambda item: item[0])}
    if isinstance(obj, list | tuple):
        return [_bytewise(v) for v in obj]
    if isinstance(obj, cbor2.CBORTag):
        return cbor2.CBORTag(obj.tag, _bytewise(obj.value))
    if isinstance(obj, float):
        raise TypeError("floating-point values are not allowed in this profile")
    return obj


def dumps_deterministic(obj: Any) -> bytes:
    """Encode with deterministic CBOR: map keys in bytewise order, shortest forms, no floats."""
    return cbor2.dumps(_bytewise(obj))


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
        return "bad_cbor", "truncated CBOR"
    return None


def diagnose(data: bytes) -> tuple[str, str]:
    """Name the first reason `data` is not deterministic CBOR: (code, explanation)."""
    return first_problem(data) or ("non_canonical", "encoding is not the deterministic one (RFC 8949 §4.2.1)")


def _head(data: bytes, pos: int) -> tuple[int, int, int, int]:
    ib = data[pos]
    major, ai = ib >> 5, ib & 31
    pos += 1
    if ai < 24:
        return major, ai, ai, pos
    if ai == 31:
        raise _Problem("indefinite_length", f"indefinite-length item at byte {pos - 1}")
    if ai > 27:
        raise _Problem("bad_cbor", f"reserved additional information at byte {pos - 1}")
    size = 1 << (ai - 24)
    if pos + size > len(data):
        raise IndexError
    value = int.from_bytes(data[pos : pos + size], "big")
    if major != 7 and value < (24 if size == 1 else 1 << (4 * size)):
        raise _Problem("non_minimal", f"length or integer at byte {pos - 1} is not in its shortest form")
    return major, ai, value, pos + size


def _item(data: bytes, pos: int, depth: int) -> int:
    if depth > 32:
        raise _Problem("bad_cbor", "nested too deeply")
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
                    raise _Problem("duplicate_key", f"duplicate map key at byte {key_start}")
                if key < previous:
                    raise _Problem("unsorted_keys", f"map keys not in deterministic order at byte {key_start}")
            previous = key
            pos = _item(data, pos, depth + 1)
        return pos
    if major == 6:
        if depth > 0:
            raise _Problem("bad_cbor", f"CBOR tag at byte {start}: tags are not allowed inside the message")
        return _item(data, pos, depth + 1)
    if major == 7 and ai in (25, 26, 27):
        raise _Problem("float", f"floating-point value at byte {start}")
    return pos
