"""Write tests/vectors/passes.json and federation.json: golden vectors of the pass format and of
the federation of trust (issue 19, ADR 0009), with a fixed clock.

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
    BundlePartner,
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
FEDERATION_OUT = Path(__file__).with_name("federation.json")
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


# ---- federation of trust (tests/vectors/federation.json) ------------------------------------------

FEDERATION_DESCRIPTION = (
    "CirQliz federation of trust golden vectors (issue 19, docs/pass-format.md 'Federation', ADR 0009). "
    "Times are UTC epoch seconds; skew is the verifier's clock tolerance. "
    "'bundles': name -> base64 COSE_Sign1 bundle (full or delta). 'home_root_spki': base64 SPKI DER of the "
    "HOME root (VILLE), the only key a scanner pins; partner roots come from the home bundle's key 16. "
    "How to build the trust set of a case or bundle case: (1) open 'home' (a bundle name, or a list of "
    "names = a chain: each opened with the previous one as current) with the home root; "
    "(2) if 'held' is present ({iss: bundle name}), held = open_trust_set(first bundle of the home chain "
    "opened alone, held bytes, current=none) -- the partner bundles the scanner already holds; "
    "(3) trust, refusals = open_trust_set(home, {iss: bytes of partners[iss]}, current=held or none). "
    "An iss offered in 'partners' but not listed in the home bundle is dropped silently (no refusal). "
    "'cases': {name, home, partners, held?, text, zone ('CODE' = home zone, 'ISS/CODE'), at, plate, "
    "last_seen, status, reason, issuer, issuer_name, zone_authority}: verify_federated(text, trust, zone, "
    "now=at, plate, last_seen, skew) must give status, reason, issuer, issuer_name and zone_authority "
    "(null = none). 'bundle_cases': {name, home, partners, held?, refusals: {iss: BundleError code}, "
    "trusted: {iss: seq of every partner bundle in the resulting trust set}, home_seq, home_partners: "
    "[iss listed by the home bundle]}. 'roots_spki' (base64 SPKI DER of every root, by iss) is informative: "
    "a verifier must take partner roots from the home bundle, never from here."
)

F_T0 = T0  # Monday 4 May 2026, 09:00 in Paris
VILLE_ROOT, METRO_ROOT, PREF_ROOT, ROGUE_ROOT = p256(0xF00D_0001), p256(0xF00D_0002), ed(31), p256(0xF00D_0004)
VILLE_K, METRO_K, PREF_K, ROGUE_K = p256(0xF00D_1001), ed(41), p256(0xF00D_1003), p256(0xF00D_1004)
SHARED_K = p256(0xF00D_1005)  # one key listed by both METRO and PREF (a shared issuing provider)
METRO_REVOKED = bytes.fromhex("BADC0FFEE0000001")
PARTNER_URL = "https://{}.example/bundles/{}.cose"


def _authority(iss: str, seq: int, keys: tuple[BundleKey, ...], zones: tuple[BundleZone, ...], *,
               name: str = "", max_age: int = 14 * 86400, issued_at: int = F_T0 - 3600,
               revoked: tuple[bytes, ...] = (), partners: tuple[BundlePartner, ...] = ()) -> BundleContent:
    return BundleContent(
        iss=iss, seq=seq, issued_at=issued_at, max_age=max_age, keys=keys,
        revoked=sorted_revocations(revocation_hash(iss, s) for s in revoked),
        zones=zones, holidays=HOLIDAYS, zone_data_version=1, name=name, partners=partners,
    )


def _partner(iss: str, name: str, root: SigningKey) -> BundlePartner:
    return BundlePartner(iss, name, root.verify_key().spki(), PARTNER_URL.format(iss.lower(), iss))


def _fclaims(iss: str, n: int, zones: tuple[int, ...], **overrides: object) -> PassClaims:
    base = {
        "iss": iss, "iat": F_T0 - 2 * 86400 + 60, "nbf": F_T0 - 2 * 86400, "exp": F_T0 + 60 * 86400,
        "cti": bytes.fromhex(f"{n:016X}"), "zones": zones, "plate": "AB123CD", "purpose": 1,
        "zone_data_version": 1,
    }
    base.update(overrides)
    return PassClaims(**base)  # type: ignore[arg-type]


def build_federation() -> dict:
    """VILLE (home) trusts METRO and PREF; ROGUE is nobody's partner. Zone refs overlap on purpose
    (ref 1 in every authority): only the namespacing keeps a VILLE pass out of METRO's zone 1."""
    nb = F_T0 - 30 * 86400
    ville_zones = (
        BundleZone(1, "CENTRE", "Centre-ville", "limited_traffic", "Europe/Paris"),
        BundleZone(2, "MARCHE", "Rue du marché", "pedestrian", "Europe/Paris"),
    )
    metro_zones = (
        BundleZone(1, "ZFE", "ZFE métropolitaine", "low_emission", "Europe/Paris"),
        BundleZone(2, "ZFE-JOUR", "ZFE en semaine 8 h–20 h", "low_emission", "Europe/Paris",
                   restriction=(parse_window("Mo-Fr 08:00-20:00"),)),
    )
    pref_zones = (BundleZone(1, "SOMMET", "Périmètre du sommet", "event_perimeter", "Europe/Paris"),)
    partners_v1 = (_partner("METRO", "Métropole", METRO_ROOT), _partner("PREF", "Préfecture de Test", PREF_ROOT))
    ville_keys = (key_entry(VILLE_K, nb),)
    ville_v1 = _authority("VILLE", 1, ville_keys, ville_zones, name="Ville de Test", partners=partners_v1)
    ville_v2 = _authority("VILLE", 2, ville_keys, ville_zones, name="Ville de Test", partners=partners_v1[:1],
                          issued_at=F_T0 - 1800)
    # seq 3: a zone added, partners unchanged (the delta 2 -> 3 carries no key 16)
    ville_v3 = replace(ville_v2, seq=3, issued_at=F_T0 - 900,
                       zones=(*ville_zones, BundleZone(3, "GARE", "Parvis de la gare", "pedestrian", "Europe/Paris")))
    metro_keys = (key_entry(METRO_K, nb), key_entry(SHARED_K, nb))
    metro = {seq: _authority("METRO", seq, metro_keys, metro_zones, name="Métropole de Test", max_age=2 * 86400,
                             revoked=(METRO_REVOKED,), issued_at=F_T0 - 3600 * (6 - seq))
             for seq in (3, 5)}
    pref = _authority("PREF", 1, (key_entry(PREF_K, nb), key_entry(SHARED_K, nb)), pref_zones)  # no B_NAME
    rogue = _authority("ROGUE", 1, (key_entry(ROGUE_K, nb),), ville_zones, name="Autorité inconnue")
    bundles = {
        "ville_v1": sign_bundle(ville_v1, VILLE_ROOT),
        "ville_v2": sign_bundle(ville_v2, VILLE_ROOT),
        "ville_delta_1_2": sign_delta(ville_v1, ville_v2, VILLE_ROOT),
        "ville_delta_2_3": sign_delta(ville_v2, ville_v3, VILLE_ROOT),
        "metro_5": sign_bundle(metro[5], METRO_ROOT),
        "metro_3": sign_bundle(metro[3], METRO_ROOT),
        "pref": sign_bundle(pref, PREF_ROOT),
        "rogue": sign_bundle(rogue, ROGUE_ROOT),
        "metro_by_rogue_root": sign_bundle(metro[5], ROGUE_ROOT),
        "metro_root_other_iss": sign_bundle(replace(metro[5], iss="METRO-BIS"), METRO_ROOT),
    }
    everyone = {"METRO": "metro_5", "PREF": "pref"}
    ville_pass = sign_pass(_fclaims("VILLE", 1, (1, 2)), VILLE_K)
    metro_pass = sign_pass(_fclaims("METRO", 2, (1, 2)), METRO_K)
    pref_pass = sign_pass(_fclaims("PREF", 3, (1,)), PREF_K)
    evening = F_T0 + 12 * 3600  # Monday 21:00 in Paris: ZFE-JOUR's restriction (Mo-Fr 08-20) is over
    cases: list[dict[str, Any]] = []

    def case(name: str, text: str, zone: str, status: str, reason: str, issuer: str | None,
             issuer_name: str | None, zone_authority: str | None, *, when: int = F_T0, home: object = "ville_v1",
             partners: dict[str, str] | None = None, held: dict[str, str] | None = None,
             plate: str | None = None) -> None:
        row: dict[str, Any] = {"name": name, "home": home, "partners": everyone if partners is None else partners}
        if held is not None:
            row["held"] = held
        row |= {"text": text, "zone": zone, "at": when, "plate": plate, "last_seen": None, "status": status,
                "reason": reason, "issuer": issuer, "issuer_name": issuer_name, "zone_authority": zone_authority}
        cases.append(row)

    case("ville_pass_at_home_zone", ville_pass, "CENTRE", "VALID", "VALID", "VILLE", "Ville de Test", "VILLE")
    case("ville_pass_home_prefix_same_zone", ville_pass, "VILLE/CENTRE", "VALID", "VALID", "VILLE", "Ville de Test",
         "VILLE")
    case("metro_pass_at_metro_zone", metro_pass, "METRO/ZFE", "VALID", "VALID", "METRO", "Métropole de Test", "METRO")
    case("pref_pass_at_pref_zone_name_from_home_entry", pref_pass, "PREF/SOMMET", "VALID", "VALID", "PREF",
         "Préfecture de Test", "PREF")
    case("shared_kid_picks_bundle_by_iss", sign_pass(_fclaims("PREF", 4, (1,)), SHARED_K), "PREF/SOMMET", "VALID",
         "VALID", "PREF", "Préfecture de Test", "PREF")
    case("shared_kid_metro_pass", sign_pass(_fclaims("METRO", 5, (1,)), SHARED_K), "METRO/ZFE", "VALID", "VALID",
         "METRO", "Métropole de Test", "METRO")
    case("metro_pass_at_ville_zone", metro_pass, "CENTRE", "REFUSED", "WRONG_ZONE", "METRO", "Métropole de Test",
         "VILLE")
    case("ville_pass_at_metro_zone_same_ref", ville_pass, "METRO/ZFE", "REFUSED", "WRONG_ZONE", "VILLE",
         "Ville de Test", "METRO")
    case("pref_pass_at_metro_zone", pref_pass, "METRO/ZFE", "REFUSED", "WRONG_ZONE", "PREF", "Préfecture de Test",
         "METRO")
    case("rogue_pass_offered_not_listed", sign_pass(_fclaims("ROGUE", 6, (1,)), ROGUE_K), "CENTRE", "REFUSED",
         "UNKNOWN_KEY", None, None, "VILLE", partners={**everyone, "ROGUE": "rogue"})
    case("pref_pass_home_v2_without_pref", pref_pass, "PREF/SOMMET", "REFUSED", "UNKNOWN_KEY", None, None,
         None, home="ville_v2")
    case("pref_pass_home_v2_at_home_zone", pref_pass, "CENTRE", "REFUSED", "UNKNOWN_KEY", None, None, "VILLE",
         home="ville_v2")
    case("pref_pass_after_home_delta_drops_held_pref", pref_pass, "CENTRE", "REFUSED", "UNKNOWN_KEY", None, None,
         "VILLE", home=["ville_v1", "ville_delta_1_2"], held=everyone, partners={"METRO": "metro_5"})
    case("metro_pass_after_home_delta", metro_pass, "METRO/ZFE", "VALID", "VALID", "METRO", "Métropole de Test",
         "METRO", home=["ville_v1", "ville_delta_1_2"], held=everyone, partners={"METRO": "metro_5"})
    case("metro_revoked", sign_pass(_fclaims("METRO", int.from_bytes(METRO_REVOKED, "big"), (1,)), METRO_K),
         "METRO/ZFE", "REFUSED", "REVOKED", "METRO", "Métropole de Test", "METRO")
    case("ville_pass_same_serial_not_revoked_by_metro",
         sign_pass(_fclaims("VILLE", int.from_bytes(METRO_REVOKED, "big"), (1,)), VILLE_K), "CENTRE", "VALID",
         "VALID", "VILLE", "Ville de Test", "VILLE")
    stale = F_T0 + 3 * 86400  # METRO's bundle (max_age 2 days) is stale, VILLE's (14 days) is not
    case("metro_stale_metro_pass", metro_pass, "METRO/ZFE", "UNCERTAIN", "STALE_BUNDLE", "METRO",
         "Métropole de Test", "METRO", when=stale)
    case("metro_stale_ville_pass", ville_pass, "CENTRE", "VALID", "VALID", "VILLE", "Ville de Test", "VILLE",
         when=stale)
    case("unknown_authority", ville_pass, "NOPE/X", "UNCERTAIN", "UNKNOWN_ZONE", "VILLE", "Ville de Test", None)
    case("unknown_zone_of_partner", metro_pass, "METRO/NOWHERE", "UNCERTAIN", "UNKNOWN_ZONE", "METRO",
         "Métropole de Test", "METRO")
    case("empty_authority_part", ville_pass, "/CENTRE", "UNCERTAIN", "UNKNOWN_ZONE", "VILLE", "Ville de Test", None)
    case("empty_zone_part", ville_pass, "VILLE/", "UNCERTAIN", "UNKNOWN_ZONE", "VILLE", "Ville de Test", None)
    case("ville_pass_at_metro_restricted_zone_evening", ville_pass, "METRO/ZFE-JOUR", "VALID", "NOT_RESTRICTED",
         "VILLE", "Ville de Test", "METRO", when=evening)
    case("ville_pass_at_metro_restricted_zone_in_force", ville_pass, "METRO/ZFE-JOUR", "REFUSED", "WRONG_ZONE",
         "VILLE", "Ville de Test", "METRO")
    case("metro_pass_at_metro_restricted_zone_in_force", metro_pass, "METRO/ZFE-JOUR", "VALID", "VALID", "METRO",
         "Métropole de Test", "METRO")
    case("metro_rollback_keeps_held", metro_pass, "METRO/ZFE", "VALID", "VALID", "METRO", "Métropole de Test",
         "METRO", held={"METRO": "metro_5"}, partners={"METRO": "metro_3"})
    case("metro_wrong_root_not_trusted", metro_pass, "CENTRE", "REFUSED", "UNKNOWN_KEY", None, None, "VILLE",
         partners={"METRO": "metro_by_rogue_root"})
    case("metro_plate_mismatch", metro_pass, "METRO/ZFE", "REFUSED", "PLATE_MISMATCH", "METRO", "Métropole de Test",
         "METRO", plate="ZZ-999-ZZ")
    case("metro_bad_signature", flip_signature(metro_pass), "METRO/ZFE", "REFUSED", "BAD_SIGNATURE", None, None,
         "METRO")

    def bundle_case(name: str, refusals: dict[str, str], trusted: dict[str, int], *, home: object = "ville_v1",
                    partners: dict[str, str] | None = None, held: dict[str, str] | None = None,
                    home_seq: int = 1, home_partners: tuple[str, ...] = ("METRO", "PREF")) -> dict[str, Any]:
        row: dict[str, Any] = {"name": name, "home": home, "partners": everyone if partners is None else partners}
        if held is not None:
            row["held"] = held
        return row | {"refusals": refusals, "trusted": trusted, "home_seq": home_seq,
                      "home_partners": list(home_partners)}

    bundle_cases = [
        bundle_case("all_partners_open", {}, {"METRO": 5, "PREF": 1}),
        bundle_case("metro_rollback", {"METRO": "bundle_rollback"}, {"METRO": 5},
                    held={"METRO": "metro_5"}, partners={"METRO": "metro_3"}),
        bundle_case("metro_older_opens_when_nothing_held", {}, {"METRO": 3},
                    partners={"METRO": "metro_3"}),
        bundle_case("metro_signed_by_rogue_root", {"METRO": "bundle_unknown_root"}, {"PREF": 1},
                    partners={"METRO": "metro_by_rogue_root", "PREF": "pref"}),
        bundle_case("metro_refused_held_kept", {"METRO": "bundle_unknown_root"}, {"METRO": 5},
                    held={"METRO": "metro_5"}, partners={"METRO": "metro_by_rogue_root"}),
        bundle_case("partner_bundle_wrong_issuer", {"METRO": "bundle_wrong_issuer"}, {},
                    partners={"METRO": "metro_root_other_iss"}),
        bundle_case("pref_bundle_under_metro_entry", {"METRO": "bundle_unknown_root"}, {},
                    partners={"METRO": "pref"}),
        bundle_case("rogue_offered_is_dropped", {}, {"METRO": 5, "PREF": 1},
                    partners={**everyone, "ROGUE": "rogue"}),
        bundle_case("home_v2_drops_pref", {}, {"METRO": 5}, home="ville_v2", home_seq=2, home_partners=("METRO",)),
        bundle_case("home_delta_1_2_removes_pref", {}, {"METRO": 5}, home=["ville_v1", "ville_delta_1_2"],
                    held=everyone, partners={"METRO": "metro_5"}, home_seq=2, home_partners=("METRO",)),
        bundle_case("home_delta_2_3_keeps_partners", {}, {"METRO": 5}, home=["ville_v2", "ville_delta_2_3"],
                    partners={"METRO": "metro_5"}, home_seq=3, home_partners=("METRO",)),
    ]
    return {
        "description": FEDERATION_DESCRIPTION,
        "generated": datetime(2026, 12, 7, tzinfo=UTC).date().isoformat(),
        "skew": 300,
        "home_root_spki": base64.b64encode(VILLE_ROOT.verify_key().spki()).decode(),
        "roots_spki": {iss: base64.b64encode(k.verify_key().spki()).decode()
                       for iss, k in (("VILLE", VILLE_ROOT), ("METRO", METRO_ROOT), ("PREF", PREF_ROOT),
                                      ("ROGUE", ROGUE_ROOT))},
        "bundles": {name: base64.b64encode(data).decode() for name, data in bundles.items()},
        "cases": cases,
        "bundle_cases": bundle_cases,
    }


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
            raise SystemExit(f"cases {lost} are in the vectors file but no longer generated")
        out[key] = [before.get(c["name"], c) for c in new[key]]
    return out


if __name__ == "__main__":
    for out, builder in ((OUT, build), (FEDERATION_OUT, build_federation)):
        fresh = builder()
        if out.exists() and "--fresh" not in sys.argv[1:]:
            fresh = merged(json.loads(out.read_text()), fresh)
        out.write_text(json.dumps(fresh, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {out}")
