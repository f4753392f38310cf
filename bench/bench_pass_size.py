"""Pass size: characters of the sample pass and the QR version it needs (BRIEF §8: <= 260 chars).

The sample has 3 zones, 2 windows, a plate and a 7-character issuer; the EU DCC median is 552.
"""

from __future__ import annotations

from bench.fixtures import sample
from bench.harness import Config, Row
from cirqliz.issuance.qr import qr_version

ORDER = 30
EU_DCC_MEDIAN = 552


def run(config: Config) -> list[Row]:
    text = sample().text
    note = f"3 zones, 2 windows, a plate, issuer {sample().claims.iss!r}; EU DCC median {EU_DCC_MEDIAN}"
    return [
        Row("pass length", "chars", len(text), target_on="value", limit=260, note=note),
        Row("QR version at ECC M (screens and paper, ADR 0008)", "version", qr_version(text, "M")),
        Row("QR version at ECC Q (not used)", "version", qr_version(text, "Q")),
    ]
