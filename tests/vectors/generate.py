"""Write tests/vectors/passes.json: golden vectors of the pass format, with a fixed clock.

Run `python -m tests.vectors.generate` to regenerate (ECDSA signatures are randomised, so the
texts change; the expectations below are written by hand and never computed by the verifier).
The browser's verifier runs the same file.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cirqliz.domain.holidays import holidays_between
from cirqliz.domain.windows import day_number, parse_window
from cirqliz.passcode.base45 import b45decode, b45encode
from cirqliz.passcode.bundle import (
    BundleContent,
    BundleKey,
    BundleZone,
    Closure,
    revocation_hash,
    sign_bundle,
    sign_delta,
    sorted_revocations,
)
from cirqliz.passcode.claims import PassClaims
from cirqliz.passcode.cose import to_be_signed
from cirqliz.passcode.keys import SigningKey
from cirqliz.passcode.token import PREFIX, sign_pass

OUT = Path(__file__).with_name("passes.json")
ISS = "FR-TEST"


def ts(text: str) -> int:
    """Epoch seconds of an ISO 8601 string with offset."""
    return int(datetime.fromisoformat(text).timestamp())


def p256(scalar: int) -> SigningKey:
    """A fixed P-256 test key (never use outside tests)."""
    return SigningKey.from_private(ec.derive_private_key(scalar, ec.SECP256R1()))


def ed(seed: int) -> SigningKey:
    """A fixed Ed25519 test key."""
    return SigningKey.from_private(ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


T0 = ts("2026-05-04T09:00:00+02:00")  # a Monday, summer time
ROOT = p256(0x5EED_0001)
OTHER_ROOT = p256(0x5EED_0002)
K1, K2, K3, K4, K5, K9 = p256(0x1001), ed(7), p256(0x1003), p256(0x1004), p256(0x1005), p256(0x1009)


def key_entry(key: SigningKey, not_before: int, zones: tuple[int, ...] | None = None) -> BundleKey:
    return BundleKey(key.kid, key.alg, key.verify_key().spki(), not_before, zones=zones)


ZONES = (
    BundleZone(
        1, "PARIS-CENTRE", "Paris Centre", "limited_traffic", "Europe/Paris", (parse_window("Mo-Sa 07:00-13:00"),)
    ),
    BundleZone(
        2, "MARAIS", "Marais piéton", "pedestrian", "Europe/Paris",
        (replace(parse_window("Mo-Su 06:00-11:00"), skip_public_holidays=True),),
    ),
    BundleZone(3, "ZFE", "ZFE métropole", "low_emission", "Europe/Paris"),
    BundleZone(
        4, "FESTIVAL", "Périmètre festival", "event_perimeter", "Europe/Paris", (parse_window("Sa 19:00-06:00"),),
        valid_from=ts("2026-05-09T12:00:00+02:00"), valid_until=ts("2026-05-10T12:00:00+02:00"),
    ),
    BundleZone(
        5, "QUAIS", "Voies sur berge", "limited_traffic", "Europe/Paris",
        closures=(Closure(T0 - 3600, T0 + 3600, "Crue de la Seine : voies fermées"),),
    ),
)
REVOKED_SERIAL = bytes.fromhex("DEADBEEF00000001")
HOLIDAYS = tuple(sorted(day_number(d) for d in holidays_between(2025, 2027)))


def content(seq: int, issued_at: int, revoked: list[bytes], zones: tuple[BundleZone, ...] = ZONES) -> BundleContent:
    return BundleContent(
        iss=ISS,
        seq=seq,
        issued_at=issued_at,
        max_age=14 * 86400,
        keys=(
            key_entry(K1, T0 - 30 * 86400),
            key_entry(K2, T0 - 30 * 86400),
            key_entry(K4, T0 - 30 * 86400, zones=(3,)),
            key_entry(K5, T0 - 86400),
            key_entry(K3, T0 - 30 * 86400),
        ),
        withdrawn=frozenset({K3.kid}),
        revoked=sorted_revocations(revocation_hash(ISS, s) for s in revoked),
        zones=zones,
        holidays=HOLIDAYS,
        zone_data_version=3,
    )


def claims(n: int, **overrides: object) -> PassClaims:
    base = {
        "iss": ISS,
        "iat": T0 - 86400 * 2 + 60,
        "nbf": T0 - 86400 * 2,
        "exp": T0 + 86400 * 60,
        "cti": bytes.fromhex(f"{n:016X}"),
        "zones": (1, 2),
        "plate": "AB123CD",
        "purpose": 1,
        "zone_data_version": 3,
    }
    base.update(overrides)
    return PassClaims(**base)  # type: ignore[arg-type]


def flip_signature(text: str) -> str:
    raw = bytearray(b45decode(text[len(PREFIX):]))
    raw[-5] ^= 0x01
    return PREFIX + b45encode(bytes(raw))


def with_header(text: str, *, tagged: bool = False, unprotected: dict | None = None, drop_alg: bool = False) -> str:
    """Re-wrap a signed pass (signature kept) with other outer encodings."""
    prot, unprot, payload, sig = cbor2.loads(b45decode(text[len(PREFIX):]))
    if drop_alg:  # move alg to the unprotected header and re-sign so only the placement is wrong
        prot = cbor2.dumps({4: K1.kid}, canonical=True)
        sig = K1.sign(to_be_signed(prot, payload))
        unprot = {1: -7}
    if unprotected is not None:
        unprot = unprotected
    body = [prot, unprot, payload, sig]
    encoded = cbor2.dumps(cbor2.CBORTag(18, body) if tagged else body, canonical=True)
    return PREFIX + b45encode(encoded)


def at(text: str) -> int:
    return ts(text)


def build() -> dict:
    main = content(7, T0 - 3600, [REVOKED_SERIAL])
    older = content(6, T0 - 7200, [])
    after = content(8, T0 + 1800, [REVOKED_SERIAL, bytes.fromhex(f"{2:016X}")])
    autumn = content(9, ts("2026-10-24T04:00:00Z"), [REVOKED_SERIAL])
    bundles = {
        "main": sign_bundle(main, ROOT),
        "older": sign_bundle(older, ROOT),
        "autumn": sign_bundle(autumn, ROOT),
        "delta_7_8": sign_delta(main, after, ROOT),
        "delta_6_8": sign_delta(older, after, ROOT),
        "other_root": sign_bundle(main, OTHER_ROOT),
    }
    tampered = bytearray(bundles["main"])
    tampered[-10] ^= 0x01
    bundles["tampered"] = bytes(tampered)

    valid = sign_pass(claims(1), K1)
    cases = []

    def case(name: str, text: str, zone: str, when: int, status: str, reason: str, *, bundle: object = "main",
             plate: str | None = None, last_seen: int | None = None) -> None:
        cases.append({"name": name, "text": text, "bundle": bundle, "zone": zone, "at": when, "plate": plate,
                      "last_seen": last_seen, "status": status, "reason": reason})

    case("valid_es256", valid, "PARIS-CENTRE", T0, "VALID", "VALID")
    case("valid_ed25519", sign_pass(claims(3), K2), "PARIS-CENTRE", T0, "VALID", "VALID")
    case("valid_tagged_cose", with_header(valid, tagged=True), "PARIS-CENTRE", T0, "VALID", "VALID")
    case("unprotected_header_ignored", with_header(valid, unprotected={4: b"x"}), "PARIS-CENTRE", T0, "VALID", "VALID")
    case("valid_pass_window", sign_pass(claims(4, windows=(parse_window("Mo-Fr 08:30-09:30"),)), K1),
         "PARIS-CENTRE", T0, "VALID", "VALID")
    case("outside_pass_window", sign_pass(claims(5, windows=(parse_window("Mo-Fr 10:00-11:00"),)), K1),
         "PARIS-CENTRE", T0, "REFUSED", "OUTSIDE_HOURS")
    case("outside_zone_hours", valid, "PARIS-CENTRE", T0 + 6 * 3600, "REFUSED", "OUTSIDE_HOURS")
    case("sunday_zone_closed_to_passes", valid, "PARIS-CENTRE", at("2026-05-10T09:00:00+02:00"), "REFUSED",
         "OUTSIDE_HOURS")
    case("expired", sign_pass(claims(6, nbf=T0 - 10 * 86400, exp=T0 - 86400), K1), "PARIS-CENTRE", T0,
         "REFUSED", "EXPIRED")
    case("not_yet_valid", sign_pass(claims(7, nbf=T0 + 86400, exp=T0 + 5 * 86400), K1), "PARIS-CENTRE", T0,
         "REFUSED", "NOT_YET_VALID")
    case("within_skew_of_nbf", sign_pass(claims(8, nbf=T0 + 120, exp=T0 + 5 * 86400), K1), "PARIS-CENTRE", T0,
         "VALID", "VALID")
    case("wrong_zone", sign_pass(claims(9, zones=(2,)), K1), "PARIS-CENTRE", T0, "REFUSED", "WRONG_ZONE")
    case("revoked", sign_pass(claims(int.from_bytes(REVOKED_SERIAL, "big")), K1), "PARIS-CENTRE", T0,
         "REFUSED", "REVOKED")
    case("key_withdrawn", sign_pass(claims(10), K3), "PARIS-CENTRE", T0, "REFUSED", "KEY_WITHDRAWN")
    case("unknown_key", sign_pass(claims(11), K9), "PARIS-CENTRE", T0, "REFUSED", "UNKNOWN_KEY")
    case("wrong_issuer", sign_pass(claims(12, iss="FR-OTHER"), K1), "PARIS-CENTRE", T0, "REFUSED", "UNKNOWN_KEY")
    case("bad_signature", flip_signature(valid), "PARIS-CENTRE", T0, "REFUSED", "BAD_SIGNATURE")
    case("malformed_prefix", "CQ2:" + valid[4:], "PARIS-CENTRE", T0, "REFUSED", "MALFORMED")
    case("malformed_base45", valid[:40] + "a" + valid[41:], "PARIS-CENTRE", T0, "REFUSED", "MALFORMED")
    case("malformed_truncated", valid[:-6], "PARIS-CENTRE", T0, "REFUSED", "MALFORMED")
    case("alg_only_unprotected", with_header(valid, drop_alg=True), "PARIS-CENTRE", T0, "REFUSED", "MALFORMED")
    case("key_not_authorised_zone", sign_pass(claims(13), K4), "PARIS-CENTRE", T0, "REFUSED", "KEY_NOT_AUTHORISED")
    case("key_for_its_zone", sign_pass(claims(14, zones=(3,)), K4), "ZFE", T0, "VALID", "VALID")
    case("key_not_valid_at_iat", sign_pass(claims(15, iat=T0 - 2 * 86400), K5), "PARIS-CENTRE", T0,
         "REFUSED", "KEY_NOT_AUTHORISED")
    case("unknown_zone", valid, "NOWHERE", T0, "UNCERTAIN", "UNKNOWN_ZONE")
    case("zone_closed", sign_pass(claims(16, zones=(5,)), K1), "QUAIS", T0, "REFUSED", "ZONE_CLOSED")
    case("plate_mismatch", valid, "PARIS-CENTRE", T0, "REFUSED", "PLATE_MISMATCH", plate="ZZ-999-ZZ")
    case("plate_match_loose", valid, "PARIS-CENTRE", T0, "VALID", "VALID", plate="ab 123-cd")
    case("stale_bundle", valid, "PARIS-CENTRE", T0 + 15 * 86400, "UNCERTAIN", "STALE_BUNDLE")
    case("clock_before_bundle", valid, "PARIS-CENTRE", T0 - 3 * 3600, "UNCERTAIN", "CLOCK_SUSPECT")
    case("clock_before_last_scan", valid, "PARIS-CENTRE", T0, "UNCERTAIN", "CLOCK_SUSPECT", last_seen=T0 + 3600)
    case("clock_back_cannot_revive", sign_pass(claims(17, exp=T0 + 5 * 86400), K1), "PARIS-CENTRE", T0,
         "REFUSED", "EXPIRED", last_seen=T0 + 10 * 86400)
    case("holiday_closed", valid, "MARAIS", at("2026-05-08T09:00:00+02:00"), "REFUSED", "OUTSIDE_HOURS")
    case("day_before_holiday_open", valid, "MARAIS", at("2026-05-07T09:00:00+02:00"), "VALID", "VALID")
    fest = sign_pass(claims(18, zones=(4,)), K1)
    case("event_overnight_window", fest, "FESTIVAL", at("2026-05-10T02:00:00+02:00"), "VALID", "VALID")
    case("event_after_window", fest, "FESTIVAL", at("2026-05-10T07:00:00+02:00"), "REFUSED", "OUTSIDE_HOURS")
    case("event_zone_not_yet_in_force", fest, "FESTIVAL", at("2026-05-09T10:00:00+02:00"), "REFUSED", "OUTSIDE_HOURS")
    autumn_pass = sign_pass(claims(19, exp=ts("2026-12-01T00:00:00Z")), K1)
    case("dst_summer_side_open", autumn_pass, "PARIS-CENTRE", at("2026-10-24T05:30:00Z"), "VALID", "VALID",
         bundle="autumn")
    case("dst_winter_side_open", autumn_pass, "PARIS-CENTRE", at("2026-10-26T06:30:00Z"), "VALID", "VALID",
         bundle="autumn")
    case("dst_winter_side_closed", autumn_pass, "PARIS-CENTRE", at("2026-10-26T05:30:00Z"), "REFUSED",
         "OUTSIDE_HOURS", bundle="autumn")
    case("revoked_by_delta", sign_pass(claims(2), K1), "PARIS-CENTRE", T0 + 3600, "REFUSED", "REVOKED",
         bundle=["main", "delta_7_8"])
    case("before_delta_not_revoked", sign_pass(claims(2), K1), "PARIS-CENTRE", T0, "VALID", "VALID")

    bundle_cases = [
        {"name": "main_opens", "chain": ["main"], "expect": "ok"},
        {"name": "delta_applies", "chain": ["main", "delta_7_8"], "expect": "ok"},
        {"name": "delta_on_wrong_base", "chain": ["main", "delta_6_8"], "expect": "bundle_delta_base"},
        {"name": "delta_without_base", "chain": ["delta_7_8"], "expect": "bundle_delta_base"},
        {"name": "rollback_refused", "chain": ["main", "older"], "expect": "bundle_rollback"},
        {"name": "tampered_refused", "chain": ["tampered"], "expect": "bundle_bad_signature"},
        {"name": "other_root_refused", "chain": ["other_root"], "expect": "bundle_unknown_root"},
    ]
    return {
        "description": "CirQliz pass format golden vectors; see docs/pass-format.md. Times are UTC epoch seconds.",
        "generated": datetime(2026, 11, 22, tzinfo=UTC).date().isoformat(),
        "skew": 300,
        "root_spki": base64.b64encode(ROOT.verify_key().spki()).decode(),
        "bundles": {name: base64.b64encode(data).decode() for name, data in bundles.items()},
        "cases": cases,
        "bundle_cases": bundle_cases,
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")
