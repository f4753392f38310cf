"""Builders shared by the scheme tests: fixed keys, zones, bundles and passes at fixed times.

Everything here goes through the public APIs of cirqliz.passcode (no keystore, no CLI), so a
verdict test says exactly which claims, bundle and instant produced it.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import cbor2

from cirqliz.domain.holidays import holidays_between
from cirqliz.domain.windows import ALL_DAYS, TimeWindow, day_number
from cirqliz.passcode.base45 import b45encode
from cirqliz.passcode.bundle import (
    BundleContent,
    BundleKey,
    BundleZone,
    Closure,
    TrustBundle,
    open_bundle,
    revocation_hash,
    sign_bundle,
    sorted_revocations,
)
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.cose import to_be_signed
from cirqliz.passcode.keys import Algorithm, SigningKey, VerifyKey
from cirqliz.passcode.token import PREFIX

ISS = "FR-TEST"
PARIS = ZoneInfo("Europe/Paris")
DAY = 86400
MO_SA = 0b0111111


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: ZoneInfo = PARIS) -> int:
    """Epoch seconds of a wall time in `tz` (Europe/Paris by default)."""
    return int(datetime(year, month, day, hour, minute, tzinfo=tz).timestamp())


# The reference instant of most tests: Wednesday 4 March 2026, 09:30 in Paris (08:30 UTC).
T0 = at(2026, 3, 4, 9, 30)

ROOT = SigningKey.generate(Algorithm.ES256)
SIGNER = SigningKey.generate(Algorithm.ES256)
ED_SIGNER = SigningKey.generate(Algorithm.EDDSA)
OTHER = SigningKey.generate(Algorithm.ES256)

ZONES = (
    BundleZone(1, "CENTRE", "Centre", "limited_traffic", "Europe/Paris", windows=(TimeWindow(MO_SA, 420, 780),)),
    BundleZone(2, "MARAIS", "Marais", "pedestrian", "Europe/Paris"),
    BundleZone(3, "NUIT", "Nuit", "event_perimeter", "Europe/Paris", windows=(TimeWindow(ALL_DAYS, 1320, 360),)),
    BundleZone(
        4,
        "MATIN",
        "Matin sauf fériés",
        "limited_traffic",
        "Europe/Paris",
        windows=(TimeWindow(ALL_DAYS, 420, 660, skip_public_holidays=True),),
    ),
    BundleZone(
        5,
        "FERMEE",
        "Fermée",
        "pedestrian",
        "Europe/Paris",
        closures=(Closure(at(2026, 3, 4, 9), at(2026, 3, 4, 12), "Incident : manifestation"),),
    ),
    BundleZone(
        6, "EVENEMENT", "Événement", "event_perimeter", "Europe/Paris",
        valid_from=at(2026, 3, 4, 9), valid_until=at(2026, 3, 4, 10),
    ),
    BundleZone(7, "DST", "Matin", "limited_traffic", "Europe/Paris", windows=(TimeWindow(ALL_DAYS, 420, 660),)),
    BundleZone(8, "AUTRE", "Autre", "limited_traffic", "Europe/Paris"),
)
PASS_ZONES = (1, 2, 3, 4, 5, 6, 7)
HOLIDAYS = tuple(sorted(day_number(d) for d in holidays_between(2025, 2027)))


def key_entry(
    key: SigningKey,
    *,
    not_before: int = T0 - 365 * DAY,
    not_after: int | None = None,
    zones: tuple[int, ...] | None = None,
) -> BundleKey:
    """The bundle entry publishing `key`."""
    return BundleKey(key.kid, key.alg, key.verify_key().spki(), not_before, not_after, zones)


def content(
    *,
    seq: int = 1,
    issued_at: int = T0 - 3600,
    max_age: int = 3 * DAY,
    keys: tuple[BundleKey, ...] | None = None,
    withdrawn: frozenset[bytes] = frozenset(),
    revoked: tuple[tuple[str, bytes], ...] = (),
    zones: tuple[BundleZone, ...] = ZONES,
    holidays: tuple[int, ...] = HOLIDAYS,
    iss: str = ISS,
) -> BundleContent:
    """A full bundle content trusting SIGNER and ED_SIGNER unless told otherwise."""
    return BundleContent(
        iss=iss,
        seq=seq,
        issued_at=issued_at,
        max_age=max_age,
        keys=keys if keys is not None else (key_entry(SIGNER), key_entry(ED_SIGNER)),
        withdrawn=withdrawn,
        revoked=sorted_revocations(revocation_hash(i, c) for i, c in revoked),
        zones=tuple(sorted(zones, key=lambda z: z.ref)),
        holidays=holidays,
    )


def bundle(root: SigningKey = ROOT, **kw: object) -> TrustBundle:
    """A bundle signed by `root` and opened again, as a verifier would hold it."""
    return open_bundle(sign_bundle(content(**kw), root), [root.verify_key()])  # type: ignore[arg-type]


def claims(**changes: object) -> PassClaims:
    """Pass claims valid from T0 - 1 day for 30 days in zones 1-7 (override any field)."""
    base = PassClaims(
        iss=ISS,
        iat=T0 - DAY,
        nbf=T0 - DAY,
        exp=T0 + 30 * DAY,
        cti=bytes.fromhex("0123456789abcdef"),
        zones=PASS_ZONES,
        plate="AB123CD",
        purpose=1,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def forged(key: SigningKey, kid: bytes) -> SigningKey:
    """`key`'s private key presented under another kid (a forger copying a trusted kid)."""
    return SigningKey(kid, key.alg, key.private)


def raw_sign1(
    payload: bytes,
    key: SigningKey,
    *,
    protected: dict[object, object] | None = None,
    unprotected: dict[object, object] | None = None,
    signature: bytes | None = None,
    protected_raw: bytes | None = None,
) -> bytes:
    """An untagged COSE_Sign1 built by hand with cbor2 (validly signed unless `signature` is given)."""
    if protected_raw is None:
        header = {1: int(key.alg), 4: key.kid} if protected is None else protected
        protected_raw = cbor2.dumps(header, canonical=True) if header else b""
    if signature is None:
        signature = key.sign(to_be_signed(protected_raw, payload))
    return cbor2.dumps([protected_raw, unprotected or {}, payload, signature], canonical=True)


def text_of(cose: bytes) -> str:
    """Pass text of raw COSE bytes."""
    return PREFIX + b45encode(cose)


def verify_key_of(key: SigningKey) -> VerifyKey:
    """The public half of `key`."""
    return key.verify_key()


def local_date(epoch: int) -> date:
    """The Paris date of an instant."""
    return datetime.fromtimestamp(epoch, PARIS).date()
