"""Offline verify, text to verdict, against the bare ES256 check of the same signature (BRIEF §8).

Measured: cirqliz.verify.verify_pass on the sample pass (3 zones, 2 windows, a plate), the bundle
loaded once, as a scan runs: text, checkpoint zone and time. Baseline: `cryptography`'s ECDSA
P-256 verify of the same signature, already in DER, over the same Sig_structure — the part no
verifier can skip. The ratio is everything else (Base45, CBOR, claims, rules) on top of it.
A second row, for information, adds the optional plate the agent typed ("AB-123-CD").
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench.fixtures import sample
from bench.harness import Config, Row, interleaved
from cirqliz.passcode.token import parse_pass_text
from cirqliz.verify import Status, verify_pass

ORDER = 10
NAME = "offline verify vs bare ES256 check"
TYPED_PLATE = "AB-123-CD"


def run(config: Config) -> list[Row]:
    s = sample()
    message = parse_pass_text(s.text)
    tbs = message.to_be_signed()
    sig = message.signature
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public = s.key.verify_key().public
    ecdsa = ec.ECDSA(hashes.SHA256())

    verdict = verify_pass(s.text, s.bundle, zone=s.zone, now=s.now, plate=TYPED_PLATE)
    if verdict.status is not Status.VALID:
        return [Row(NAME, "µs", None, note=f"sample pass is not VALID: {verdict.reason}", ok=False)]
    public.verify(der, tbs, ecdsa)  # raises if the baseline is not a real check

    timings = interleaved(
        {
            "verify": lambda: verify_pass(s.text, s.bundle, zone=s.zone, now=s.now),
            "verify+plate": lambda: verify_pass(s.text, s.bundle, zone=s.zone, now=s.now, plate=TYPED_PLATE),
            "bare": lambda: public.verify(der, tbs, ecdsa),
        },
        # short batches, many of them: the best batch is then one that no other process disturbed
        number=config.scale(50, 20),
        repeats=config.scale(301, 5),
    )
    ours, bare, with_plate = timings["verify"], timings["bare"], timings["verify+plate"]
    return [
        Row(
            NAME,
            "µs",
            ours.best * 1e6,
            bare.best * 1e6,
            limit=1.2,
            extra={"median_us": ours.median * 1e6, "baseline_median_us": bare.median * 1e6,
                   "median_ratio": ours.median / bare.median, "text_chars": len(s.text)},
        ),
        Row(
            "  same, with the typed plate to compare",
            "µs",
            with_plate.best * 1e6,
            bare.best * 1e6,
            extra={"median_ratio": with_plate.median / bare.median},
        ),
    ]
