"""The sample pass and bundle every benchmark measures: 3 zones, 2 windows, a plate.

Built deterministically (fixed times, fixed serial) with a fresh ES256 key each process, so the
pass text has the size of a real one and the verify path is the one agents run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cirqliz.domain.windows import TimeWindow
from cirqliz.passcode.bundle import BundleContent, BundleKey, BundleZone, TrustBundle
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.keys import Algorithm, SigningKey
from cirqliz.passcode.token import sign_pass

ISSUER = "PARIS75"  # 7 characters, as in the brief's pass-length target
IAT = 1_767_225_600  # 2026-01-01T00:00:00Z
NOW = IAT + 86_400 * 14 + 9 * 3600  # a Thursday, 10:00 in Paris: inside both windows
PLATE = "AB123CD"
ZONES = (101, 102, 103)
WINDOWS = (TimeWindow(0b0011111, 7 * 60, 11 * 60), TimeWindow(0b0100000, 8 * 60, 12 * 60 + 30))


@dataclass(frozen=True)
class Sample:
    """One signed pass, its signer and a bundle that trusts it."""

    key: SigningKey
    claims: PassClaims
    text: str
    bundle: TrustBundle
    zone: str
    now: int


@lru_cache(maxsize=1)
def sample() -> Sample:
    """The sample (built once per process)."""
    key = SigningKey.generate(Algorithm.ES256)
    claims = PassClaims(
        iss=ISSUER,
        iat=IAT,
        nbf=IAT,
        exp=IAT + 86_400 * 90,
        cti=bytes.fromhex("0123456789abcdef"),
        zones=ZONES,
        plate=PLATE,
        purpose=3,
        windows=WINDOWS,
        zone_data_version=12,
    )
    zones = tuple(
        BundleZone(
            ref=ref,
            code=f"PC-{i}",
            name=f"Paris Centre {i}",
            kind="ztl",
            tz="Europe/Paris",
            windows=(TimeWindow(0b1111111, 6 * 60, 20 * 60),),
        )
        for i, ref in enumerate(ZONES)
    )
    content = BundleContent(
        iss=ISSUER,
        seq=7,
        issued_at=NOW - 3600,
        max_age=7 * 86_400,
        keys=(BundleKey(key.kid, key.alg, key.verify_key().spki(), not_before=IAT - 86_400),),
        revoked=b"".join(sorted(i.to_bytes(8, "big") for i in range(1, 1001))),
        zones=zones,
    )
    return Sample(key, claims, sign_pass(claims, key), TrustBundle.from_content(content), "PC-1", NOW)
