"""Trust bundle size and opening time (BRIEF §8: 100,000 revocations <= 1.8 MB, a delta of 100 <= 4 KB).

Built by the real keystore (cirqliz.issuance.keystore.KeyStore in a temporary directory: root key,
a signing key, French public holidays for three years) with 20 zones, each with a 160-vertex
polygon and two access windows, and 100,000 revoked passes (random 8-byte serials, seeded).
A second bundle adds 100 revocations; the delta between the two is KeyStore.delta_since.

Rows (sizes in bytes; 1.8 MB and 4 KB are read as 1,800,000 and 4,000 bytes, the stricter way):
- the full bundle, against its baseline: the bare revocation list (100,000 × 8 bytes), i.e. the
  ratio is the whole bundle over the part no format can avoid;
- the delta, against the bare 100 added entries (800 bytes);
- opening the full bundle once (open_bundle: root signature, deterministic CBOR decode, sort check
  of the list, index), against the bare ES256 check of the bundle's signature (hashing ~0.8 MB).
Quick mode: the same sizes (they take well under a second to build), fewer timing repeats.
"""

from __future__ import annotations

import math
import random
import tempfile
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench.harness import Config, Row, interleaved
from cirqliz.clock import FixedClock
from cirqliz.domain.windows import TimeWindow
from cirqliz.issuance.keystore import KeyStore
from cirqliz.passcode.bundle import REVOCATION_HASH_BYTES, BundleZone, geometry_from_lonlat, open_bundle
from cirqliz.passcode.cose import decode_sign1

ORDER = 50
ISSUER = "PARIS75"
REVOCATIONS = 100_000
DELTA_REVOCATIONS = 100
FULL_LIMIT = 1_800_000
DELTA_LIMIT = 4_000
ZONES = 20
VERTICES = 160


def _zones() -> list[BundleZone]:
    """20 zones around Paris, each a 160-vertex ring (about 5 m precision once scaled)."""
    rng = random.Random(20260101)
    zones = []
    for i in range(ZONES):
        lon0, lat0 = 2.35 + rng.uniform(-0.1, 0.1), 48.86 + rng.uniform(-0.06, 0.06)
        ring = []
        for k in range(VERTICES):
            angle = 2 * math.pi * k / VERTICES
            radius = 0.004 * (1 + 0.3 * rng.random())
            ring.append((lon0 + radius * math.cos(angle), lat0 + radius * math.sin(angle) * 0.66))
        ring.append(ring[0])
        zones.append(BundleZone(
            ref=i + 1, code=f"ZONE-{i + 1:02d}", name=f"Zone à trafic limité n° {i + 1}",
            kind="limited_traffic", tz="Europe/Paris",
            windows=(TimeWindow(0b0111111, 7 * 60, 13 * 60), TimeWindow(0b1000000, 9 * 60, 12 * 60)),
            geometry=geometry_from_lonlat([[ring]]),
        ))
    return zones


def run(config: Config) -> list[Row]:
    rng = random.Random(42)
    serials = list({rng.randbytes(8) for _ in range(REVOCATIONS + DELTA_REVOCATIONS)})
    revoked = [(ISSUER, s) for s in serials[:REVOCATIONS]]
    more = [(ISSUER, s) for s in serials[REVOCATIONS : REVOCATIONS + DELTA_REVOCATIONS]]
    zones = _zones()
    clock = FixedClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))  # holidays 2025-2027, reproducible
    with tempfile.TemporaryDirectory(prefix="cirqliz-bench-bundle-") as tmp:
        store = KeyStore.init(f"{tmp}/keys", issuer=ISSUER, clock=clock)
        full, content = store.build_bundle(zones=zones, revoked=revoked)
        store.build_bundle(zones=zones, revoked=revoked + more)
        delta = store.delta_since(content.seq)
        root = store.root_public()

    opened = open_bundle(full, [root])
    if opened.revoked_count() != REVOCATIONS:
        return [Row("trust bundle, 100,000 revocations", "bytes", None, ok=False,
                    note=f"the bundle holds {opened.revoked_count()} revocations, not {REVOCATIONS}")]
    after = open_bundle(delta, [root], current=opened)
    if after.revoked_count() != REVOCATIONS + DELTA_REVOCATIONS:
        return [Row("trust bundle delta, +100 revocations", "bytes", None, ok=False,
                    note=f"the delta gives {after.revoked_count()} revocations")]

    message = decode_sign1(full, deterministic=True)
    tbs = message.to_be_signed()
    sig = message.signature
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public = root.public
    ecdsa = ec.ECDSA(hashes.SHA256())
    public.verify(der, tbs, ecdsa)  # the baseline is a real check
    timings = interleaved(
        {"open": lambda: open_bundle(full, [root]), "bare": lambda: public.verify(der, tbs, ecdsa)},
        number=1,
        repeats=config.scale(15, 3),
    )
    bare_list = REVOCATIONS * REVOCATION_HASH_BYTES
    zones_note = f"{ZONES} zones of {VERTICES} vertices, 3 years of holidays, 2 keys"
    return [
        Row("trust bundle, 100,000 revocations", "bytes", len(full), bare_list, target_on="value",
            limit=FULL_LIMIT, note=f"baseline: the bare list ({REVOCATIONS:,} × 8 bytes); {zones_note}",
            extra={"mb": len(full) / 1e6}),
        Row("trust bundle delta, +100 revocations", "bytes", len(delta),
            DELTA_REVOCATIONS * REVOCATION_HASH_BYTES, target_on="value", limit=DELTA_LIMIT,
            note="baseline: the 100 bare entries; the delta repeats keys, holidays and the signature"),
        Row("open the 100k bundle (verify + index)", "ms", timings["open"].best * 1e3,
            timings["bare"].best * 1e3, note="baseline: the bare ES256 check of the bundle signature",
            extra={"median_ms": timings["open"].median * 1e3,
                   "baseline_median_ms": timings["bare"].median * 1e3}),
    ]
