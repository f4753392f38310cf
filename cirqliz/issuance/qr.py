"""QR images of pass texts: the module matrix from `qrcode`, drawn directly with Pillow.

`qrcode.make()` tries all eight masks and renders through its image factory; choosing the mask
and drawing the matrix ourselves is several times faster (bench/) and still decodes everywhere.
Screens use ECC level M, paper level Q (docs/adr/0001-pass-format.md).
"""

from __future__ import annotations

import io
from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image

Ecc = Literal["M", "Q"]
_LEVELS = {"M": qrcode.constants.ERROR_CORRECT_M, "Q": qrcode.constants.ERROR_CORRECT_Q}
QUIET_ZONE = 4


def qr_matrix(text: str, ecc: Ecc = "M", mask: int = 2) -> list[list[bool]]:
    """The module matrix (with quiet zone) of `text` in alphanumeric mode."""
    code = qrcode.QRCode(error_correction=_LEVELS[ecc], border=QUIET_ZONE, mask_pattern=mask)
    code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM), optimize=0)
    code.make(fit=True)
    return code.get_matrix()


def qr_version(text: str, ecc: Ecc = "M") -> int:
    """The QR version (1–40) that `text` needs at level `ecc`."""
    return (len(qr_matrix(text, ecc)) - 2 * QUIET_ZONE - 17) // 4


def qr_image(text: str, *, ecc: Ecc = "M", scale: int = 8) -> Image.Image:
    """A black-on-white 1-bit image of the code, `scale` pixels per module."""
    matrix = qr_matrix(text, ecc)
    size = len(matrix)
    raw = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), raw)
    if scale > 1:
        image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    return image.convert("1")


def qr_png(text: str, *, ecc: Ecc = "M", scale: int = 8) -> bytes:
    """PNG bytes of the code."""
    out = io.BytesIO()
    qr_image(text, ecc=ecc, scale=scale).save(out, format="PNG", optimize=False)
    return out.getvalue()


def qr_svg(text: str, *, ecc: Ecc = "Q", module: int = 1) -> str:
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
