"""Write tests/vectors/passes.json: golden vectors of the pass format, with a fixed clock.

Run `python -m tests.vectors.generate` to add new cases: bundles and cases already in the file
keep their bytes (ECDSA signatures are randomised, so a fresh build would change every text), and
their expectations must not change; `--fresh` rewrites everything. The expectations below are
written by hand and never computed by the verifier. The browser's verifier runs the same file.
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cirqliz.domain.holidays import holidays_between
from cirqliz.domain.windows import day_number, parse_window, periods_as_windows
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
# Zones with a restriction schedule (ADR 0007): outside it anyone may enter (NOT_RESTRICTED).
RESTRICTED_ZONES = (
    BundleZone(
        6, "ZFE-JOUR", "ZFE en semaine 8 h–20 h", "low_emission", "Europe/Paris",
        restriction=(parse_window("Mo-Fr 08:00-20:00"),),
    ),
    BundleZone(
        7, "ZTL", "Zone à trafic limité sauf fériés", "limited_traffic", "Europe/Paris",
        windows=(parse_window("Mo-Sa 07:30-11:00"),),  # deliveries, while the restriction is in force
        restriction=(replace(parse_window("Mo-Sa 07:30-19:30"), skip_public_holidays=True),),
    ),
    BundleZone(
        8, "FETE", "Fête de quartier", "event_perimeter", "Europe/Paris",
        restriction=periods_as_windows(
            [(datetime.fromisoformat("2026-05-09T12:00:00+02:00"),
              datetime.fromisoformat("2026-05-10T12:00:00+02:00"))],
            "Europe/Paris",
        ),
    ),
    BundleZone(
        9, "ZFE-CRUE", "ZFE des quais", "low_emission", "Europe/Paris",
        restriction=(parse_window("Mo-Fr 08:00-20:00"),),
        closures=(Closure(T0 + 11 * 3600, T0 + 13 * 3600, "Crue de la Seine : quais fermés"),),
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
    restricted = content(10, T0 - 3600, [REVOKED_SERIAL], ZONES + RESTRICTED_ZONES)
    restricted_autumn = content(11, ts("2026-10-23T00:00:00Z"), [REVOKED_SERIAL], ZONES + RESTRICTED_ZONES)
    bundles = {
        "main": sign_bundle(main, ROOT),
        "older": sign_bundle(older, ROOT),
        "autumn": sign_bundle(autumn, ROOT),
        "delta_7_8": sign_delta(main, after, ROOT),
        "delta_6_8": sign_delta(older, after, ROOT),
        "other_root": sign_bundle(main, OTHER_ROOT),
        "restricted": sign_bundle(restricted, ROOT),
        "restricted_autumn": sign_bundle(restricted_autumn, ROOT),
        "delta_7_10": sign_delta(main, restricted, ROOT),
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

    restricted_cases(case, valid)

    bundle_cases = [
        {"name": "main_opens", "chain": ["main"], "expect": "ok"},
        {"name": "delta_applies", "chain": ["main", "delta_7_8"], "expect": "ok"},
        {"name": "delta_on_wrong_base", "chain": ["main", "delta_6_8"], "expect": "bundle_delta_base"},
        {"name": "delta_without_base", "chain": ["delta_7_8"], "expect": "bundle_delta_base"},
        {"name": "rollback_refused", "chain": ["main", "older"], "expect": "bundle_rollback"},
        {"name": "tampered_refused", "chain": ["tampered"], "expect": "bundle_bad_signature"},
        {"name": "other_root_refused", "chain": ["other_root"], "expect": "bundle_unknown_root"},
        {"name": "restricted_opens", "chain": ["restricted"], "expect": "ok"},
        {"name": "delta_carries_restriction", "chain": ["main", "delta_7_10"], "expect": "ok"},
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


def restricted_cases(case: Any, valid: str) -> None:
    """Zones with a restriction schedule (ADR 0007): NOT_RESTRICTED once the pass is authentic."""
    r = "restricted"
    passed = sign_pass(claims(20, zones=(6, 7, 8, 9)), K1)
    evening = T0 + 12 * 3600  # Monday 21:00 in Paris: ZFE-JOUR's restriction (Mo-Fr 08-20) is over
    case("restriction_inside_valid", passed, "ZFE-JOUR", T0, "VALID", "VALID", bundle=r)
    case("restriction_outside_not_restricted", passed, "ZFE-JOUR", evening, "VALID", "NOT_RESTRICTED", bundle=r)
    case("restriction_weekend_not_restricted", passed, "ZFE-JOUR", at("2026-05-09T10:00:00+02:00"), "VALID",
         "NOT_RESTRICTED", bundle=r)
    case("restriction_ends_at_its_end_minute", passed, "ZFE-JOUR", at("2026-05-04T20:00:00+02:00"), "VALID",
         "NOT_RESTRICTED", bundle=r)
    case("restriction_last_minute_inside", passed, "ZFE-JOUR", at("2026-05-04T19:59:00+02:00"), "VALID", "VALID",
         bundle=r)
    case("wrong_zone_outside_restriction", valid, "ZFE-JOUR", evening, "VALID", "NOT_RESTRICTED", bundle=r)
    case("wrong_zone_inside_restriction", valid, "ZFE-JOUR", T0, "REFUSED", "WRONG_ZONE", bundle=r)
    revoked = sign_pass(claims(int.from_bytes(REVOKED_SERIAL, "big"), zones=(6,)), K1)
    case("revoked_outside_restriction", revoked, "ZFE-JOUR", evening, "VALID", "NOT_RESTRICTED", bundle=r)
    case("revoked_inside_restriction", revoked, "ZFE-JOUR", T0, "REFUSED", "REVOKED", bundle=r)
    expired = sign_pass(claims(21, zones=(6,), nbf=T0 - 10 * 86400, exp=T0 - 86400), K1)
    case("expired_inside_restriction", expired, "ZFE-JOUR", T0, "REFUSED", "EXPIRED", bundle=r)
    case("expired_outside_restriction", expired, "ZFE-JOUR", evening, "VALID", "NOT_RESTRICTED", bundle=r)
    case("bad_signature_outside_restriction", flip_signature(passed), "ZFE-JOUR", evening, "REFUSED",
         "BAD_SIGNATURE", bundle=r)
    case("unknown_key_outside_restriction", sign_pass(claims(22, zones=(6,)), K9), "ZFE-JOUR", evening, "REFUSED",
         "UNKNOWN_KEY", bundle=r)
    case("key_withdrawn_outside_restriction", sign_pass(claims(23, zones=(6,)), K3), "ZFE-JOUR", evening, "REFUSED",
         "KEY_WITHDRAWN", bundle=r)
    case("malformed_outside_restriction", passed[:-6], "ZFE-JOUR", evening, "REFUSED", "MALFORMED", bundle=r)
    # A dated period (event perimeter): Saturday 9 May 12:00 to Sunday 10 May 12:00, Paris time.
    case("dated_restriction_inside", passed, "FETE", at("2026-05-09T20:00:00+02:00"), "VALID", "VALID", bundle=r)
    case("dated_restriction_overnight_inside", passed, "FETE", at("2026-05-10T02:00:00+02:00"), "VALID", "VALID",
         bundle=r)
    case("dated_restriction_before", passed, "FETE", at("2026-05-09T11:59:00+02:00"), "VALID", "NOT_RESTRICTED",
         bundle=r)
    case("dated_restriction_after", passed, "FETE", at("2026-05-10T12:00:00+02:00"), "VALID", "NOT_RESTRICTED",
         bundle=r)
    case("dated_restriction_same_weekday_next_week", passed, "FETE", at("2026-05-16T20:00:00+02:00"), "VALID",
         "NOT_RESTRICTED", bundle=r)
    case("dated_restriction_inside_wrong_zone", valid, "FETE", at("2026-05-09T20:00:00+02:00"), "REFUSED",
         "WRONG_ZONE", bundle=r)
    # Public holidays: ZTL's restriction (Mo-Sa 07:30-19:30) is not in force on them.
    case("holiday_restriction_lifted", passed, "ZTL", at("2026-05-08T10:00:00+02:00"), "VALID", "NOT_RESTRICTED",
         bundle=r)
    case("day_before_holiday_restricted", passed, "ZTL", at("2026-05-07T10:00:00+02:00"), "VALID", "VALID", bundle=r)
    case("restricted_outside_access_window", passed, "ZTL", at("2026-05-07T12:00:00+02:00"), "REFUSED",
         "OUTSIDE_HOURS", bundle=r)
    case("sunday_ztl_not_restricted", passed, "ZTL", at("2026-05-10T10:00:00+02:00"), "VALID", "NOT_RESTRICTED",
         bundle=r)
    # What the restriction never overrides: a stale bundle, a suspect clock, an incident closure.
    case("stale_bundle_outside_restriction", passed, "ZFE-JOUR", evening + 15 * 86400, "UNCERTAIN", "STALE_BUNDLE",
         bundle=r)
    case("clock_suspect_outside_restriction", passed, "ZFE-JOUR", evening - 3600, "UNCERTAIN", "CLOCK_SUSPECT",
         bundle=r, last_seen=evening)
    case("closure_outside_restriction", passed, "ZFE-CRUE", evening, "REFUSED", "ZONE_CLOSED", bundle=r)
    case("after_closure_outside_restriction", passed, "ZFE-CRUE", T0 + 13 * 3600, "VALID", "NOT_RESTRICTED",
         bundle=r)
    # DST: Monday 26 October 2026 06:30 UTC is 07:30 in Paris (winter time), before 08:00; the same
    # UTC time on Friday 23 October (summer time) is 08:30, inside.
    autumn = sign_pass(claims(24, zones=(6,), exp=ts("2026-12-01T00:00:00Z")), K1)
    case("dst_restriction_summer_side_inside", autumn, "ZFE-JOUR", at("2026-10-23T06:30:00Z"), "VALID", "VALID",
         bundle="restricted_autumn")
    case("dst_restriction_winter_side_outside", autumn, "ZFE-JOUR", at("2026-10-26T06:30:00Z"), "VALID",
         "NOT_RESTRICTED", bundle="restricted_autumn")
    case("dst_restriction_winter_side_inside", autumn, "ZFE-JOUR", at("2026-10-26T07:00:00Z"), "VALID", "VALID",
         bundle="restricted_autumn")
    # Zones with a restriction travel in deltas too.
    case("restriction_by_delta", passed, "ZFE-JOUR", evening, "VALID", "NOT_RESTRICTED", bundle=["main", "delta_7_10"])


def merged(old: dict, new: dict) -> dict:
    """`new` with the bundles and cases `old` already has kept byte for byte (only additions).

    A case already in `old` must keep its expectation; a kept pass text is verified against kept
    bundles, and a new delta applies to the kept base, whose content is the same (only the
    randomised signature would differ).
    """
    out = dict(new)
    out["bundles"] = old["bundles"] | {k: v for k, v in new["bundles"].items() if k not in old["bundles"]}
    out["generated"] = old.get("generated", new["generated"])
    for key in ("cases", "bundle_cases"):
        before = {c["name"]: c for c in old[key]}
        for case in new[key]:
            kept = before.get(case["name"])
            if kept is None:
                continue
            changed = {k for k in case if k != "text" and case[k] != kept.get(k)}
            if changed:
                raise SystemExit(f"case {case['name']}: {sorted(changed)} would change; "
                                 "existing vectors keep their meaning")
        names = {c["name"] for c in new[key]}
        lost = [name for name in before if name not in names]
        if lost:
            raise SystemExit(f"cases {lost} are in {OUT.name} but no longer generated")
        out[key] = [before.get(c["name"], c) for c in new[key]]
    return out


if __name__ == "__main__":
    fresh = build()
    if OUT.exists() and "--fresh" not in sys.argv[1:]:
        fresh = merged(json.loads(OUT.read_text()), fresh)
    OUT.write_text(json.dumps(fresh, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")
