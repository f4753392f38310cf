"""Library-level verdicts with a fixed clock: every Reason of cirqliz.verify.core has a test.

Bundles and passes are built with cirqliz.passcode directly (tests/scheme/_support.py); times are
fixed epoch seconds, so nothing depends on the machine's clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cirqliz.domain.windows import ALL_DAYS, TimeWindow, day_number
from cirqliz.passcode.bundle import BundleZone
from cirqliz.passcode.token import sign_pass
from cirqliz.verify.core import DEFAULT_SKEW, Reason, Status, Verdict, verify_pass

from ._support import (
    DAY,
    ED_SIGNER,
    ISS,
    OTHER,
    SIGNER,
    T0,
    ZONES,
    at,
    bundle,
    claims,
    forged,
    key_entry,
)

GOOD = sign_pass(claims(), SIGNER)


def check(text: str = GOOD, zone: str = "MARAIS", now: int = T0, **kw: object) -> Verdict:
    """verify_pass against kw['trust'], else the default bundle issued one hour before `now`."""
    trust = kw.pop("trust", None) or bundle(issued_at=(now if isinstance(now, int) else T0) - 3600)
    return verify_pass(text, trust, zone=zone, now=now, **kw)  # type: ignore[arg-type]


# ---- VALID ---------------------------------------------------------------------------------------


def test_valid_pass_es256() -> None:
    verdict = check()
    assert verdict.reason is Reason.VALID
    assert verdict.status is Status.VALID and verdict.valid
    assert verdict.claims == claims()
    assert verdict.kid == SIGNER.kid
    assert verdict.zone is not None and verdict.zone.code == "MARAIS"
    assert verdict.checked_at == T0


def test_valid_pass_ed25519() -> None:
    verdict = check(sign_pass(claims(), ED_SIGNER))
    assert verdict.reason is Reason.VALID
    assert verdict.kid == ED_SIGNER.kid


def test_valid_with_datetime_now_and_matching_plate_typed_loosely() -> None:
    now = datetime.fromtimestamp(T0, UTC)
    assert check(now=now, plate="ab-123-cd").reason is Reason.VALID  # type: ignore[arg-type]


def test_valid_inside_zone_window() -> None:
    # CENTRE: Mo-Sa 07:00-13:00; T0 is Wednesday 09:30 in Paris.
    assert check(zone="CENTRE").reason is Reason.VALID


# ---- MALFORMED, UNKNOWN_KEY, KEY_WITHDRAWN, BAD_SIGNATURE ---------------------------------------


@pytest.mark.parametrize("text", ["", "hello", "CQ1:", "CQ1:!!!", GOOD[:-3], GOOD.lower(), "HC1:" + GOOD[4:]])
def test_malformed(text: str) -> None:
    verdict = check(text)
    assert verdict.reason is Reason.MALFORMED
    assert verdict.status is Status.REFUSED
    assert verdict.detail


def test_non_string_input_is_a_verdict_not_an_exception() -> None:
    assert check(b"CQ1:" + GOOD[4:].encode()).reason is Reason.MALFORMED  # type: ignore[arg-type]


def test_unknown_key() -> None:
    verdict = check(sign_pass(claims(), OTHER))
    assert verdict.reason is Reason.UNKNOWN_KEY
    assert verdict.kid == OTHER.kid
    assert verdict.status is Status.REFUSED


def test_unknown_issuer_is_unknown_key() -> None:
    verdict = check(sign_pass(claims(iss="FR-ELSEWHERE"), SIGNER))
    assert verdict.reason is Reason.UNKNOWN_KEY


def test_key_withdrawn_while_still_listed() -> None:
    trust = bundle(withdrawn=frozenset({SIGNER.kid}))
    verdict = check(trust=trust)
    assert verdict.reason is Reason.KEY_WITHDRAWN
    assert verdict.status is Status.REFUSED


def test_key_withdrawn_and_no_longer_listed() -> None:
    """As KeyStore.build_bundle publishes it: the withdrawn kid is listed, its key entry is gone."""
    trust = bundle(keys=(key_entry(ED_SIGNER),), withdrawn=frozenset({SIGNER.kid}))
    verdict = check(trust=trust)
    assert verdict.reason is Reason.KEY_WITHDRAWN, verdict


def test_bad_signature_forged_kid() -> None:
    verdict = check(sign_pass(claims(), forged(OTHER, SIGNER.kid)))
    assert verdict.reason is Reason.BAD_SIGNATURE
    assert verdict.status is Status.REFUSED


def test_bad_signature_alg_of_message_disagrees_with_key() -> None:
    # An Ed25519 key presented under the kid of an ES256 key: the header says EdDSA, the key is ES256.
    verdict = check(sign_pass(claims(), forged(ED_SIGNER, SIGNER.kid)))
    assert verdict.reason is Reason.BAD_SIGNATURE


def test_bad_signature_changed_claims() -> None:
    # Re-sign other claims with OTHER, then graft the signature of the good pass: payload and
    # signature disagree.
    from cirqliz.passcode.base45 import b45decode, b45encode
    from cirqliz.passcode.token import PREFIX

    good = b45decode(GOOD[4:])
    other = b45decode(sign_pass(claims(plate="ZZ999ZZ"), SIGNER)[4:])
    grafted = other[:-64] + good[-64:]
    verdict = check(PREFIX + b45encode(grafted))
    assert verdict.reason is Reason.BAD_SIGNATURE


# ---- KEY_NOT_AUTHORISED -------------------------------------------------------------------------


def test_key_not_yet_valid_at_iat() -> None:
    trust = bundle(keys=(key_entry(SIGNER, not_before=T0 - DAY + 1),))
    assert check(trust=trust).reason is Reason.KEY_NOT_AUTHORISED


def test_key_no_longer_valid_at_iat() -> None:
    trust = bundle(keys=(key_entry(SIGNER, not_after=T0 - DAY),))
    assert check(trust=trust).reason is Reason.KEY_NOT_AUTHORISED


def test_key_valid_exactly_from_iat() -> None:
    trust = bundle(keys=(key_entry(SIGNER, not_before=T0 - DAY, not_after=T0 - DAY + 1),))
    assert check(trust=trust).reason is Reason.VALID


def test_key_restricted_to_other_zones() -> None:
    trust = bundle(keys=(key_entry(SIGNER, zones=(8,)),))
    verdict = check(trust=trust, zone="AUTRE")
    assert verdict.reason is Reason.KEY_NOT_AUTHORISED
    assert verdict.status is Status.REFUSED


def test_key_restricted_to_the_pass_zones_is_fine() -> None:
    trust = bundle(keys=(key_entry(SIGNER, zones=(2, 8)),))
    assert check(sign_pass(claims(zones=(2,)), SIGNER), trust=trust).reason is Reason.VALID


# ---- REVOKED, EXPIRED, NOT_YET_VALID ------------------------------------------------------------


def test_revoked() -> None:
    c = claims()
    trust = bundle(revoked=((ISS, bytes(8)), (ISS, c.cti), ("FR-X", b"\xff" * 8)))
    verdict = check(trust=trust)
    assert verdict.reason is Reason.REVOKED
    assert verdict.status is Status.REFUSED


def test_revocation_of_the_same_serial_by_another_issuer_does_not_apply() -> None:
    trust = bundle(revoked=(("FR-OTHER", claims().cti),))
    assert check(trust=trust).reason is Reason.VALID


def test_expired_after_exp_plus_skew() -> None:
    exp = claims().exp
    trust = bundle(issued_at=exp - 3600)
    assert check(now=exp + DEFAULT_SKEW, trust=trust).reason is Reason.EXPIRED
    assert check(now=exp + DEFAULT_SKEW - 1, trust=trust).reason is Reason.VALID


def test_not_yet_valid_before_nbf_minus_skew() -> None:
    c = claims(nbf=T0 + DAY, iat=T0 - DAY)
    text = sign_pass(c, SIGNER)
    assert check(text, now=c.nbf - DEFAULT_SKEW - 1).reason is Reason.NOT_YET_VALID
    assert check(text, now=c.nbf - DEFAULT_SKEW).reason is Reason.VALID


def test_turning_the_clock_back_never_revives_an_expired_pass() -> None:
    exp = claims().exp
    trust = bundle(issued_at=exp - 3600)
    last_seen = exp + 3600  # this device already saw a time after expiry
    for device in (exp - 20 * DAY, exp - 3600, exp - 1, exp, exp + 10):
        verdict = check(now=device, trust=trust, last_seen=last_seen)
        assert verdict.reason is not Reason.VALID, device
        assert verdict.status is not Status.VALID
        assert verdict.reason is Reason.EXPIRED
        assert verdict.checked_at == last_seen


def test_turning_the_clock_before_the_bundle_never_revives_an_expired_pass() -> None:
    exp = claims().exp
    trust = bundle(issued_at=exp + 3600)  # the bundle itself proves expiry has passed
    verdict = check(now=exp - DAY, trust=trust)
    assert verdict.reason is Reason.EXPIRED


# ---- zones: UNKNOWN_ZONE, WRONG_ZONE, ZONE_CLOSED -----------------------------------------------


def test_unknown_zone_is_uncertain() -> None:
    verdict = check(zone="ATLANTIDE")
    assert verdict.reason is Reason.UNKNOWN_ZONE
    assert verdict.status is Status.UNCERTAIN


def test_wrong_zone() -> None:
    verdict = check(zone="AUTRE")
    assert verdict.reason is Reason.WRONG_ZONE
    assert verdict.status is Status.REFUSED


def test_zone_closed_during_closure_only() -> None:
    verdict = check(zone="FERMEE")  # closure 09:00-12:00 on 4 March
    assert verdict.reason is Reason.ZONE_CLOSED
    assert verdict.detail == "Incident : manifestation"
    assert check(zone="FERMEE", now=at(2026, 3, 4, 12)).reason is Reason.VALID
    assert check(zone="FERMEE", now=at(2026, 3, 4, 8, 59)).reason is Reason.VALID


# ---- PLATE_MISMATCH -----------------------------------------------------------------------------


@pytest.mark.parametrize("plate", ["AB-123-CE", "XY999ZZ", "AB123C", "D:AB123CD1"])
def test_plate_mismatch(plate: str) -> None:
    verdict = check(plate=plate)
    assert verdict.reason is Reason.PLATE_MISMATCH
    assert verdict.status is Status.REFUSED


@pytest.mark.parametrize("plate", ["AB123CD", "ab-123-cd", "AB 123 CD", "AB.123.CD"])
def test_plate_match_forgiving_separators(plate: str) -> None:
    assert check(plate=plate).reason is Reason.VALID


# ---- STALE_BUNDLE, CLOCK_SUSPECT ----------------------------------------------------------------


def test_stale_bundle_is_never_valid() -> None:
    trust = bundle(issued_at=T0 - 3 * DAY - 1, max_age=3 * DAY)
    verdict = check(trust=trust)
    assert verdict.reason is Reason.STALE_BUNDLE
    assert verdict.status is Status.UNCERTAIN
    assert check(trust=bundle(issued_at=T0 - 3 * DAY, max_age=3 * DAY)).reason is Reason.VALID


def test_clock_suspect_device_earlier_than_bundle_issued_at() -> None:
    trust = bundle(issued_at=T0)
    verdict = check(now=T0 - DEFAULT_SKEW - 1, trust=trust)
    assert verdict.reason is Reason.CLOCK_SUSPECT
    assert verdict.status is Status.UNCERTAIN
    assert check(now=T0 - DEFAULT_SKEW, trust=trust).reason is Reason.VALID


def test_clock_suspect_device_earlier_than_last_seen() -> None:
    verdict = check(now=T0 - 2 * DEFAULT_SKEW, last_seen=T0)
    assert verdict.reason is Reason.CLOCK_SUSPECT
    assert verdict.status is Status.UNCERTAIN
    assert check(now=T0 - DEFAULT_SKEW, last_seen=T0).reason is Reason.VALID


# ---- OUTSIDE_HOURS ------------------------------------------------------------------------------


def test_outside_zone_hours() -> None:
    # CENTRE: Mo-Sa 07:00-13:00 in Paris.
    assert check(zone="CENTRE", now=at(2026, 3, 4, 13)).reason is Reason.OUTSIDE_HOURS
    assert check(zone="CENTRE", now=at(2026, 3, 4, 6, 59)).reason is Reason.OUTSIDE_HOURS
    assert check(zone="CENTRE", now=at(2026, 3, 4, 7)).reason is Reason.VALID
    assert check(zone="CENTRE", now=at(2026, 3, 8, 9)).reason is Reason.OUTSIDE_HOURS  # Sunday
    assert check(zone="CENTRE", now=at(2026, 3, 7, 9)).reason is Reason.VALID  # Saturday


def test_outside_pass_hours() -> None:
    # The pass itself: Tuesdays and Thursdays 08:00-10:00, in an always-open zone.
    text = sign_pass(claims(windows=(TimeWindow(0b0001010, 480, 600),)), SIGNER)
    verdict = check(text, now=at(2026, 3, 4, 9))  # Wednesday
    assert verdict.reason is Reason.OUTSIDE_HOURS
    assert verdict.status is Status.REFUSED
    assert check(text, now=at(2026, 3, 5, 9)).reason is Reason.VALID  # Thursday
    assert check(text, now=at(2026, 3, 5, 10)).reason is Reason.OUTSIDE_HOURS


def test_pass_and_zone_windows_must_both_hold() -> None:
    text = sign_pass(claims(windows=(TimeWindow(ALL_DAYS, 600, 900),)), SIGNER)  # 10:00-15:00
    assert check(text, zone="CENTRE", now=at(2026, 3, 4, 11)).reason is Reason.VALID
    assert check(text, zone="CENTRE", now=at(2026, 3, 4, 9)).reason is Reason.OUTSIDE_HOURS  # pass
    assert check(text, zone="CENTRE", now=at(2026, 3, 4, 14)).reason is Reason.OUTSIDE_HOURS  # zone


def test_outside_zone_validity_period() -> None:
    # EVENEMENT is in force from 09:00 to 10:00 on 4 March only.
    assert check(zone="EVENEMENT", now=at(2026, 3, 4, 9, 30)).reason is Reason.VALID
    assert check(zone="EVENEMENT", now=at(2026, 3, 4, 8, 59)).reason is Reason.OUTSIDE_HOURS
    assert check(zone="EVENEMENT", now=at(2026, 3, 4, 10)).reason is Reason.OUTSIDE_HOURS


# ---- windows across DST, midnight and public holidays -------------------------------------------

DST_PASS = sign_pass(claims(nbf=at(2026, 1, 1), iat=at(2026, 1, 1), exp=at(2027, 1, 1)), SIGNER)


def dst_check(when: datetime, text: str = DST_PASS, zone: str = "DST") -> Reason:
    now = int(when.timestamp())
    return check(text, zone=zone, now=now, trust=bundle(issued_at=now - 3600)).reason


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # Before the spring change Paris is UTC+1: 07:00-11:00 local is 06:00-10:00 UTC.
        (utc(2026, 3, 28, 5, 59), Reason.OUTSIDE_HOURS),
        (utc(2026, 3, 28, 6, 0), Reason.VALID),
        (utc(2026, 3, 28, 9, 59), Reason.VALID),
        (utc(2026, 3, 28, 10, 0), Reason.OUTSIDE_HOURS),
        # Sunday 29 March 2026, from 01:00 UTC Paris is UTC+2: 07:00-11:00 local is 05:00-09:00 UTC.
        (utc(2026, 3, 29, 4, 59), Reason.OUTSIDE_HOURS),
        (utc(2026, 3, 29, 5, 0), Reason.VALID),
        (utc(2026, 3, 29, 8, 59), Reason.VALID),
        (utc(2026, 3, 29, 9, 0), Reason.OUTSIDE_HOURS),
        (utc(2026, 3, 30, 5, 30), Reason.VALID),
        (utc(2026, 3, 30, 9, 30), Reason.OUTSIDE_HOURS),
        # Saturday 24 October still UTC+2; Sunday 25 October from 01:00 UTC back to UTC+1.
        (utc(2026, 10, 24, 5, 0), Reason.VALID),
        (utc(2026, 10, 24, 9, 0), Reason.OUTSIDE_HOURS),
        (utc(2026, 10, 25, 5, 30), Reason.OUTSIDE_HOURS),
        (utc(2026, 10, 25, 6, 0), Reason.VALID),
        (utc(2026, 10, 25, 9, 59), Reason.VALID),
        (utc(2026, 10, 25, 10, 0), Reason.OUTSIDE_HOURS),
    ],
)
def test_zone_window_across_dst(when: datetime, expected: Reason) -> None:
    assert dst_check(when) is expected


def test_pass_window_across_dst() -> None:
    text = sign_pass(
        claims(nbf=at(2026, 1, 1), iat=at(2026, 1, 1), exp=at(2027, 1, 1), windows=(TimeWindow(ALL_DAYS, 420, 660),)),
        SIGNER,
    )
    # The same 07:30 local on both sides of each change: different UTC instants, both valid.
    assert dst_check(utc(2026, 3, 28, 6, 30), text, "MARAIS") is Reason.VALID
    assert dst_check(utc(2026, 3, 30, 5, 30), text, "MARAIS") is Reason.VALID
    assert dst_check(utc(2026, 3, 30, 6, 30), text, "MARAIS") is Reason.VALID  # 08:30 CEST
    assert dst_check(utc(2026, 3, 28, 5, 30), text, "MARAIS") is Reason.OUTSIDE_HOURS  # 06:30 CET
    assert dst_check(utc(2026, 10, 24, 5, 30), text, "MARAIS") is Reason.VALID  # 07:30 CEST
    assert dst_check(utc(2026, 10, 26, 5, 30), text, "MARAIS") is Reason.OUTSIDE_HOURS  # 06:30 CET
    assert dst_check(utc(2026, 10, 26, 6, 30), text, "MARAIS") is Reason.VALID  # 07:30 CET


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ((2026, 3, 6, 21, 59), Reason.OUTSIDE_HOURS),
        ((2026, 3, 6, 22, 0), Reason.VALID),
        ((2026, 3, 6, 23, 45), Reason.VALID),
        ((2026, 3, 7, 0, 0), Reason.VALID),
        ((2026, 3, 7, 5, 59), Reason.VALID),
        ((2026, 3, 7, 6, 0), Reason.OUTSIDE_HOURS),
        ((2026, 3, 7, 12, 0), Reason.OUTSIDE_HOURS),
    ],
)
def test_zone_window_across_midnight(local: tuple[int, int, int, int, int], expected: Reason) -> None:
    # NUIT: every day 22:00-06:00 in Paris.
    now = at(*local)
    assert check(zone="NUIT", now=now, trust=bundle(issued_at=now - 3600)).reason is expected


def test_pass_window_across_midnight_belongs_to_its_opening_day() -> None:
    # Friday nights only, 22:00-06:00: Saturday 02:00 is in (opened Friday), Friday 02:00 is not.
    text = sign_pass(claims(windows=(TimeWindow(0b0010000, 1320, 360),)), SIGNER)
    cases = {
        (2026, 3, 6, 23, 0): Reason.VALID,  # Friday
        (2026, 3, 7, 2, 0): Reason.VALID,  # Saturday, window opened Friday
        (2026, 3, 6, 2, 0): Reason.OUTSIDE_HOURS,  # Friday early: opened Thursday
        (2026, 3, 7, 23, 0): Reason.OUTSIDE_HOURS,  # Saturday night
    }
    for local, expected in cases.items():
        now = at(*local)
        assert check(text, now=now, trust=bundle(issued_at=now - 3600)).reason is expected, local


def test_window_skipping_public_holidays() -> None:
    # MATIN: every day 07:00-11:00 except on French public holidays (from bundle.holidays).
    c = claims(nbf=at(2026, 4, 1), iat=at(2026, 4, 1), exp=at(2026, 8, 1))
    text = sign_pass(c, SIGNER)

    def reason(*local: int, holidays: tuple[int, ...] | None = None) -> Reason:
        now = at(*local)
        kw = {} if holidays is None else {"holidays": holidays}
        return check(text, zone="MATIN", now=now, trust=bundle(issued_at=now - 3600, **kw)).reason

    assert reason(2026, 4, 30, 8) is Reason.VALID  # Thursday
    assert reason(2026, 5, 1, 8) is Reason.OUTSIDE_HOURS  # Friday 1 May, fête du Travail
    assert reason(2026, 5, 2, 8) is Reason.VALID
    assert reason(2026, 7, 14, 8) is Reason.OUTSIDE_HOURS  # fête nationale
    # The holiday list comes from the bundle: without it, 1 May is an ordinary Friday.
    assert reason(2026, 5, 1, 8, holidays=()) is Reason.VALID
    assert reason(2026, 5, 4, 8, holidays=(day_number(date(2026, 5, 4)),)) is Reason.OUTSIDE_HOURS


def test_zone_without_holiday_flag_ignores_holidays() -> None:
    now = at(2026, 5, 1, 8)
    text = sign_pass(claims(nbf=at(2026, 4, 1), iat=at(2026, 4, 1), exp=at(2026, 8, 1)), SIGNER)
    assert check(text, zone="DST", now=now, trust=bundle(issued_at=now - 3600)).reason is Reason.VALID


# ---- the verdict object -------------------------------------------------------------------------


def test_verdict_json_has_messages_in_both_languages() -> None:
    for verdict in (check(), check("nope"), check(zone="AUTRE")):
        data = verdict.as_json()
        assert data["status"] == verdict.status.value
        assert data["reason"] == verdict.reason.value
        assert data["message_fr"] and data["message_en"]
        assert data["message_fr"] != data["message_en"]


def test_every_reason_has_messages() -> None:
    from cirqliz.verify.messages import message

    for reason in Reason:
        assert message(reason, "fr")
        assert message(reason, "en")


# ---- one scenario per Reason, so a new Reason without a test fails here ------------------------

SCENARIOS = {
    Reason.VALID: lambda: check(),
    Reason.MALFORMED: lambda: check("CQ1:ABC"),
    Reason.UNKNOWN_KEY: lambda: check(sign_pass(claims(), OTHER)),
    Reason.KEY_WITHDRAWN: lambda: check(trust=bundle(withdrawn=frozenset({SIGNER.kid}))),
    Reason.BAD_SIGNATURE: lambda: check(sign_pass(claims(), forged(OTHER, SIGNER.kid))),
    Reason.KEY_NOT_AUTHORISED: lambda: check(trust=bundle(keys=(key_entry(SIGNER, zones=(8,)),))),
    Reason.REVOKED: lambda: check(trust=bundle(revoked=((ISS, claims().cti),))),
    Reason.EXPIRED: lambda: check(sign_pass(claims(exp=T0 - 3600), SIGNER)),
    Reason.NOT_YET_VALID: lambda: check(sign_pass(claims(nbf=T0 + 3600), SIGNER)),
    Reason.UNKNOWN_ZONE: lambda: check(zone="NOWHERE"),
    Reason.WRONG_ZONE: lambda: check(zone="AUTRE"),
    Reason.ZONE_CLOSED: lambda: check(zone="FERMEE"),
    Reason.PLATE_MISMATCH: lambda: check(plate="ZZ-999-ZZ"),
    Reason.STALE_BUNDLE: lambda: check(trust=bundle(issued_at=T0 - 10 * DAY)),
    Reason.CLOCK_SUSPECT: lambda: check(now=T0 - DAY, last_seen=T0),
    Reason.OUTSIDE_HOURS: lambda: check(zone="CENTRE", now=at(2026, 3, 4, 20)),
    Reason.NOT_RESTRICTED: lambda: check(zone="ZFE", now=at(2026, 3, 4, 21), trust=bundle(
        issued_at=T0, zones=(*ZONES, BundleZone(9, "ZFE", "ZFE", "low_emission", "Europe/Paris",
                                                restriction=(TimeWindow(0b0011111, 480, 1200),))))),
}


def test_every_reason_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(Reason)


@pytest.mark.parametrize("reason", list(Reason), ids=lambda r: r.value)
def test_scenario_produces_its_reason(reason: Reason) -> None:
    verdict = SCENARIOS[reason]()
    assert verdict.reason is reason
    assert (verdict.status is Status.VALID) == (reason in (Reason.VALID, Reason.NOT_RESTRICTED))


# ---- details: French, for the agent and the operator --------------------------------------------

FRENCH_DETAILS = {
    Reason.VALID: "",
    Reason.MALFORMED: "message COSE : 1 octet(s) en trop après l'élément CBOR",
    Reason.UNKNOWN_KEY: "clé {other} absente du paquet de confiance n° 1",
    Reason.KEY_WITHDRAWN: "clé {signer} retirée",
    Reason.BAD_SIGNATURE: "signature invalide",
    Reason.KEY_NOT_AUTHORISED: "clé non autorisée pour ces zones",
    Reason.REVOKED: "numéro de série 0123456789ABCDEF révoqué",
    Reason.EXPIRED: "expiré le 04/03/2026 à 07:30 UTC",
    Reason.NOT_YET_VALID: "valide à partir du 04/03/2026 à 09:30 UTC",
    Reason.UNKNOWN_ZONE: "zone 'NOWHERE' absente du paquet de confiance n° 1",
    Reason.WRONG_ZONE: "laissez-passer pour les références de zone [1, 2, 3, 4, 5, 6, 7]",
    Reason.ZONE_CLOSED: "Incident : manifestation",
    Reason.PLATE_MISMATCH: "laissez-passer établi pour AB123CD",
    Reason.STALE_BUNDLE: "paquet de confiance âgé de 240 h 0 min (au plus 72 h 0 min)",
    Reason.CLOCK_SUSPECT: "horloge de l'appareil en retard de 24 h 0 min",
    Reason.OUTSIDE_HOURS: "hors des horaires de la zone ; heure locale mer. 20:00",
    Reason.NOT_RESTRICTED: "réglementation pas en vigueur ; heure locale mer. 21:00",
}


@pytest.mark.parametrize("reason", list(Reason), ids=lambda r: r.value)
def test_scenario_detail_is_french(reason: Reason) -> None:
    expected = FRENCH_DETAILS[reason].format(signer=SIGNER.kid.hex(), other=OTHER.kid.hex())
    assert SCENARIOS[reason]().detail == expected


def test_stale_bundle_detail_gives_hours_and_minutes() -> None:
    verdict = check(trust=bundle(issued_at=T0 - 7200, max_age=3600))
    assert verdict.reason is Reason.STALE_BUNDLE
    assert verdict.detail == "paquet de confiance âgé de 2 h 0 min (au plus 1 h 0 min)"


def test_pass_hours_detail_and_an_instant_past_year_9999() -> None:
    pass_hours = claims(windows=(TimeWindow(ALL_DAYS, 7 * 60, 8 * 60),))
    verdict = check(sign_pass(pass_hours, SIGNER))
    assert verdict.detail == "hors des horaires du laissez-passer ; heure locale mer. 09:30"
    # A time no calendar date can show is named by its number, never an exception.
    far = check(sign_pass(claims(nbf=2**40 - 2, exp=2**40 - 1), SIGNER))
    assert (far.reason, far.detail) == (Reason.NOT_YET_VALID, "valide à partir du 1099511627774 (horodatage Unix)")
