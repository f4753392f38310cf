"""QR images of pass texts: the module matrix from `qrcode`, drawn directly with Pillow.

`qrcode.make()` tries all eight masks, searches the version by encoding the data, computes the
error correction with generic polynomial objects and renders through its image factory. Here the
mask is fixed, the version comes from arithmetic, the codewords (data and Reed-Solomon, for QR
alphanumeric mode) are computed with table lookups, and only the module placement is left to
`qrcode`; the matrix is the one `qrcode` would build for the same version and mask (tests compare
them), drawn with Pillow from bytes. Several times faster (bench/), and it decodes everywhere.

Screens and paper both use ECC level M (version 9 for a 3-zone pass), with a quiet zone of 4
modules. Paper used level Q (version 11): for the same printed size its modules are 13 % smaller,
and on the degraded photo set of bench/bench_field.py it was read in 98–98.5 % of the photos
against 99 % at M (its extra misses combine low contrast or perspective with heavy JPEG, where
module size matters more than redundancy; the photos both levels miss have a finder pattern or
the format information unreadable, which no ECC level repairs).
"""

from __future__ import annotations

import io
from bisect import bisect_left
from functools import lru_cache
from typing import Literal

import qrcode
import qrcode.base
import qrcode.constants
import qrcode.util
from PIL import Image

Ecc = Literal["M", "Q"]
_LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "Q": qrcode.constants.ERROR_CORRECT_Q}
QUIET_ZONE = 4
SCREEN_ECC: Ecc = "M"
PAPER_ECC: Ecc = "M"  # not Q: see the module docstring
_ALPHANUMERIC = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALPHA_VALUES = bytes(_ALPHANUMERIC.find(bytes((c,))) % 256 for c in range(256))  # 0xFF: not allowed


def qr_matrix(text: str, ecc: Ecc = "M", mask: int = 2) -> list[list[bool]]:
    """The module matrix (with quiet zone) of `text` in alphanumeric mode."""
    level = _LEVELS[ecc]
    code = qrcode.QRCode(error_correction=level, border=QUIET_ZONE, mask_pattern=mask)
    code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM), optimize=0)
    fast = _codewords(text, level)
    if fast is None:  # not plain QR alphanumeric text: let qrcode do everything (and raise)
        code.make(fit=True)
    else:
        # `data_cache` is where qrcode keeps the codewords it computes in makeImpl; giving it ours
        # (the same list, tests check) skips its slow version search and Reed-Solomon.
        code.version, code.data_cache = fast
        code.make(fit=False)
    return code.get_matrix()


def qr_version(text: str, ecc: Ecc = "M") -> int:
    """The QR version (1–40) that `text` needs at level `ecc`."""
    fast = _codewords(text, _LEVELS[ecc])
    if fast is not None:
        return fast[0]
    return (len(qr_matrix(text, ecc)) - 2 * QUIET_ZONE - 17) // 4


def qr_image(text: str, *, ecc: Ecc = "M", scale: int = 8) -> Image.Image:
    """A black-on-white 1-bit image of the code, `scale` pixels per module."""
    matrix = qr_matrix(text, ecc)
    size = len(matrix)
    raw = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), raw)
    if scale > 1:
        image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    # Only 0 and 255: no dithering is needed (same pixels, and much faster than the default).
    return image.convert("1", dither=Image.Dither.NONE)


def qr_png(text: str, *, ecc: Ecc = "M", scale: int = 8) -> bytes:
    """PNG bytes of the code."""
    out = io.BytesIO()
    qr_image(text, ecc=ecc, scale=scale).save(out, format="PNG", optimize=False)
    return out.getvalue()


def qr_svg(text: str, *, ecc: Ecc = PAPER_ECC, module: int = 1) -> str:
    """An SVG of the code, one path, crisp at any print size."""
    matrix = qr_matrix(text, ecc)
    size = len(matrix) * module
    parts = [
        f"M{x * module},{y * module}h{module}v{module}h-{module}z"
        for y, row in enumerate(matrix)
        for x, dark in enumerate(row)
        if dark
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{"".join(parts)}"/></svg>'
    )


# ---- codewords of alphanumeric text (what qrcode.util.create_data returns, computed faster) ----

_EXP = [0] * 512  # GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1, exp table doubled
_LOG = [0] * 256
_value = 1
for _i in range(255):
    _EXP[_i] = _EXP[_i + 255] = _value
    _LOG[_value] = _i
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D


@lru_cache(maxsize=64)
def _generator_products(ec_count: int) -> list[list[int]]:
    """For each byte f, f times the Reed-Solomon generator polynomial (leading 1 dropped)."""
    generator = [1]
    for i in range(ec_count):  # multiply by (x - α^i)
        generator = [
            (generator[j] if j < len(generator) else 0)
            ^ (_EXP[_LOG[generator[j - 1]] + i] if 0 < j <= len(generator) and generator[j - 1] else 0)
            for j in range(len(generator) + 1)
        ]
    tail = generator[1:]
    return [[0] * ec_count] + [
        [_EXP[_LOG[f] + _LOG[g]] if g else 0 for g in tail] for f in range(1, 256)
    ]


def _ec_codewords(data: list[int], ec_count: int) -> list[int]:
    """The Reed-Solomon remainder of `data` (polynomial division, one table row per byte)."""
    products = _generator_products(ec_count)
    remainder = [0] * ec_count
    for byte in data:
        row = products[byte ^ remainder[0]]
        remainder = [r ^ p for r, p in zip(remainder[1:], row, strict=False)]  # shift one byte, add
        remainder.append(row[-1])
    return remainder


@lru_cache(maxsize=8)
def _bit_limits(level: int) -> list[int]:
    return qrcode.util.BIT_LIMIT_TABLE[level]


def _codewords(text: str, level: int) -> tuple[int, list[int]] | None:
    """(version, codewords) as qrcode would pick and compute them, or None if not alphanumeric."""
    try:
        values = text.encode("ascii").translate(_ALPHA_VALUES)
    except UnicodeEncodeError:
        return None
    n = len(values)
    if not n or b"\xff" in values:
        return None
    # Version: the smallest whose capacity holds mode (4 bits), count and data, as best_fit finds it.
    data_bits = 11 * (n // 2) + 6 * (n % 2)
    version = 1
    for count_bits, last_version in ((9, 9), (11, 26), (13, 40)):
        version = bisect_left(_bit_limits(level), 4 + count_bits + data_bits, version)
        if version <= last_version:
            break
        version = max(version, last_version + 1)
    if version > 40:
        return None
    count_bits = 9 if version <= 9 else 11 if version <= 26 else 13
    # Bits: mode 0010, the count, then 11 bits per pair of characters and 6 for an odd last one.
    acc = 0b0010 << count_bits | n
    for i in range(0, n - 1, 2):
        acc = acc << 11 | (values[i] * 45 + values[i + 1])
    if n % 2:
        acc = acc << 6 | values[-1]
    bits = 4 + count_bits + data_bits
    blocks = qrcode.base.rs_blocks(version, level)
    capacity = sum(block.data_count for block in blocks) * 8
    terminator = min(capacity - bits, 4)  # up to four 0 bits, then 0s to a whole byte
    acc <<= terminator
    bits += terminator
    acc <<= -bits % 8
    bits += -bits % 8
    data = list(acc.to_bytes(bits // 8, "big"))
    data += [qrcode.util.PAD0, qrcode.util.PAD1] * ((capacity // 8 - len(data)) // 2 + 1)
    del data[capacity // 8 :]
    # Split into blocks, add each block's error correction, interleave (as create_bytes does).
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_ec_codewords(chunk, block.total_count - block.data_count))
    out = []
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return version, out
