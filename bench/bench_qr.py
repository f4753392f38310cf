"""QR PNG rendering: cirqliz.issuance.qr.qr_png against `qrcode.make(text)` saved as PNG.

BRIEF §8: at least 5x faster (ratio <= 0.2) and still decodable — both images are decoded by
zxing-cpp and must give back the pass text, or the row fails whatever the timing.
"""

from __future__ import annotations

import io

import qrcode
import zxingcpp
from PIL import Image

from bench.fixtures import sample
from bench.harness import Config, Row, interleaved
from cirqliz.issuance.qr import qr_png

ORDER = 40


def _qrcode_make_png(text: str) -> bytes:
    out = io.BytesIO()
    qrcode.make(text).save(out)  # the library's defaults: mask search, its own PNG writer
    return out.getvalue()


def decodes(png: bytes, text: str) -> str | None:
    """None when zxing-cpp reads `text` back from the PNG, else what went wrong."""
    image = Image.open(io.BytesIO(png))
    results = zxingcpp.read_barcodes(image)
    if not results:
        return "zxing-cpp found no code"
    if results[0].text != text:
        return f"zxing-cpp read {results[0].text[:20]!r}…, not the pass text"
    return None


def run(config: Config) -> list[Row]:
    text = sample().text
    ours, theirs = qr_png(text), _qrcode_make_png(text)
    checks = (("qr_png", decodes(ours, text)), ("qrcode.make", decodes(theirs, text)))
    problems = [f"{who}: {problem}" for who, problem in checks if problem]
    timings = interleaved(
        {"ours": lambda: qr_png(text), "qrcode": lambda: _qrcode_make_png(text)},
        number=config.scale(5, 1),
        repeats=config.scale(15, 3),
    )
    note = "; ".join(problems) if problems else "both decoded by zxing-cpp"
    return [
        Row(
            "QR PNG: qr_png vs qrcode.make",
            "ms",
            timings["ours"].best * 1e3,
            timings["qrcode"].best * 1e3,
            limit=0.2,
            note=note,
            ok=not problems,
            extra={"decoded": not problems, "png_bytes": len(ours), "baseline_png_bytes": len(theirs),
                   "median_ratio": timings["ours"].median / timings["qrcode"].median},
        )
    ]
