"""Eligibility rules, table by table: vehicle criteria, Crit'Air, purposes, quotas, windows,
durations."""

from datetime import UTC, date, datetime, timedelta

import pytest

from cirqliz.domain.eligibility import (
    AccessRuleSpec,
    PassRequest,
    VehicleCriteria,
    check_duration,
    check_purpose,
    check_quota,
    check_vehicle,
    check_windows,
    check_zone_period,
    evaluate_rule,
    evaluate_rules,
    quota_left,
)
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import CritAir, Energy, VehicleCategory, VehicleProfile
from cirqliz.domain.windows import TimeWindow, parse_window
from cirqliz.domain.zones import ReviewMode

N1, N3, M1 = VehicleCategory.N1, VehicleCategory.N3, VehicleCategory.M1


def van(**changes):
    fields = {"plate": "AB123CD", "category": N1, "crit_air": CritAir.TWO, "energy": Energy.DIESEL,
              "gross_weight_kg": 3000, "length_cm": 550}
    fields.update(changes)
    return VehicleProfile(**fields)


VEHICLE_CASES = [
    # (vehicle changes, criteria, expected refusal codes)
    ({}, VehicleCriteria(), []),
    ({}, VehicleCriteria(categories=frozenset({N1, VehicleCategory.N2})), []),
    ({"category": N3}, VehicleCriteria(categories=frozenset({N1})), ["vehicle_category"]),
    ({"category": M1}, VehicleCriteria(categories=frozenset({N1})), ["vehicle_category"]),
    ({"crit_air": CritAir.ZERO, "energy": Energy.ELECTRIC}, VehicleCriteria(max_crit_air=CritAir.ONE), []),
    ({"crit_air": CritAir.ONE}, VehicleCriteria(max_crit_air=CritAir.ONE), []),
    ({"crit_air": CritAir.TWO}, VehicleCriteria(max_crit_air=CritAir.TWO), []),
    ({"crit_air": CritAir.THREE}, VehicleCriteria(max_crit_air=CritAir.TWO), ["crit_air_too_high"]),
    ({"crit_air": CritAir.FIVE}, VehicleCriteria(max_crit_air=CritAir.FOUR), ["crit_air_too_high"]),
    ({"crit_air": None}, VehicleCriteria(max_crit_air=CritAir.FIVE), ["crit_air_unclassified"]),
    ({"crit_air": None}, VehicleCriteria(), []),
    ({"gross_weight_kg": 3500}, VehicleCriteria(max_weight_kg=3500), []),
    ({"gross_weight_kg": 3501}, VehicleCriteria(max_weight_kg=3500), ["weight_too_high"]),
    ({"gross_weight_kg": None}, VehicleCriteria(max_weight_kg=3500), ["weight_unknown"]),
    ({"length_cm": 800}, VehicleCriteria(max_length_cm=800), []),
    ({"length_cm": 1200}, VehicleCriteria(max_length_cm=800), ["length_too_high"]),
    ({"length_cm": None}, VehicleCriteria(max_length_cm=800), ["length_unknown"]),
    (
        {"category": N3, "crit_air": CritAir.FOUR, "gross_weight_kg": 19000, "length_cm": 1200},
        VehicleCriteria(frozenset({N1}), CritAir.TWO, 7500, 1000),
        ["vehicle_category", "crit_air_too_high", "weight_too_high", "length_too_high"],
    ),
]


@pytest.mark.parametrize(("changes", "criteria", "expected"), VEHICLE_CASES)
def test_vehicle_criteria(changes, criteria, expected):
    refusals = check_vehicle(van(**changes), criteria)
    assert [r.code for r in refusals] == expected
    assert all(r.message for r in refusals)


def test_crit_air_message_is_french_and_specific():
    (refusal,) = check_vehicle(van(crit_air=CritAir.FOUR), VehicleCriteria(max_crit_air=CritAir.TWO))
    assert refusal.message == "Crit'Air 4 : la zone exige Crit'Air 2 ou mieux"


@pytest.mark.parametrize(
    ("purpose", "allowed", "ok"),
    [
        (Purpose.DELIVERY, frozenset(), True),
        (Purpose.DELIVERY, frozenset({Purpose.DELIVERY}), True),
        (Purpose.TAXI, frozenset({Purpose.DELIVERY, Purpose.ARTISAN}), False),
    ],
)
def test_purposes(purpose, allowed, ok):
    assert (check_purpose(purpose, allowed) == []) is ok


@pytest.mark.parametrize(
    ("limit", "used", "requested", "left", "codes"),
    [
        (None, 1000, 5, None, []),
        (24, 0, 1, 24, []),
        (24, 23, 1, 1, []),
        (24, 24, 1, 0, ["quota_exceeded"]),
        (24, 20, 5, 4, ["quota_exceeded"]),
        (24, 30, 1, 0, ["quota_exceeded"]),  # over-used (quota lowered since): nothing left
        (0, 0, 1, 0, ["quota_exceeded"]),
    ],
)
def test_quotas(limit, used, requested, left, codes):
    assert quota_left(limit=limit, used=used) == left
    assert [r.code for r in check_quota(limit=limit, used=used, requested=requested)] == codes


def test_quota_message_says_what_is_left():
    (refusal,) = check_quota(limit=24, used=22, requested=3)
    assert "2 restant(s)" in refusal.message and "24" in refusal.message


T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("duration", "max_days", "codes"),
    [
        (timedelta(days=1), 1, []),
        (timedelta(days=1, seconds=1), 1, ["duration_too_long"]),
        (timedelta(days=365), None, []),
        (timedelta(0), 10, ["empty_period"]),
        (timedelta(hours=-1), None, ["empty_period"]),
    ],
)
def test_durations(duration, max_days, codes):
    refusals = check_duration(not_before=T, expires_at=T + duration, max_days=max_days)
    assert [r.code for r in refusals] == codes


W = parse_window
MAY = (date(2026, 5, 1), date(2026, 5, 31))

WINDOW_CASES = [
    # (requested, allowed, ok)
    ([W("Mo-Fr 08:00-10:00")], [W("Mo-Sa 07:00-11:00")], True),
    ([W("Mo-Fr 07:00-11:00")], [W("Mo-Sa 07:00-11:00")], True),
    ([W("Mo-Fr 06:59-10:00")], [W("Mo-Sa 07:00-11:00")], False),
    ([W("Mo-Fr 08:00-11:01")], [W("Mo-Sa 07:00-11:00")], False),
    ([W("Su 08:00-10:00")], [W("Mo-Sa 07:00-11:00")], False),
    ([W("Mo-Fr 08:00-10:00"), W("Sa 09:00-10:00")], [W("Mo-Sa 07:00-11:00")], True),
    ([W("Mo-Fr 08:00-10:00"), W("Su 09:00-10:00")], [W("Mo-Sa 07:00-11:00")], False),
    # union of two allowed windows covers a request spanning both
    ([W("Mo 09:00-15:00")], [W("Mo-Fr 07:00-12:00"), W("Mo-Fr 12:00-16:00")], True),
    ([W("Mo 09:00-15:00")], [W("Mo-Fr 07:00-12:00"), W("Mo-Fr 12:30-16:00")], False),
    # midnight: Friday 23:00 to Saturday 02:00 is inside a Fr 22:00-06:00 window
    ([W("Fr 23:00-02:00")], [W("Mo-Fr 22:00-06:00")], True),
    ([W("Sa 23:00-02:00")], [W("Mo-Fr 22:00-06:00")], False),
    # an allowed Sunday-night window spills into Monday morning
    ([W("Mo 00:00-05:00")], [W("Su 22:00-06:00")], True),
    ([W("Mo 05:00-07:00")], [W("Su 22:00-06:00")], False),
    # requesting nothing means "the zone's hours"; a zone without windows is open at all hours
    ([], [W("Mo-Fr 07:00-11:00")], True),
    ([W("Su 03:00-04:00")], [], True),
]


@pytest.mark.parametrize(("requested", "allowed", "ok"), WINDOW_CASES)
def test_windows_inside_zone_hours(requested, allowed, ok):
    refusals = check_windows(requested, allowed, first_day=MAY[0], last_day=MAY[1])
    assert (refusals == []) is ok
    assert all(r.code == "window_outside_zone_hours" for r in refusals)


@pytest.mark.parametrize(
    ("allowed", "span", "ok"),
    [
        (TimeWindow(0b1111111, 420, 660, date(2026, 5, 1), date(2026, 5, 31)), MAY, True),
        (TimeWindow(0b1111111, 420, 660, date(2026, 5, 2), date(2026, 5, 31)), MAY, False),
        (TimeWindow(0b1111111, 420, 660, date(2026, 4, 1), date(2026, 5, 30)), MAY, False),
        (TimeWindow(0b1111111, 420, 660, date(2026, 4, 1), date(2026, 6, 30)), MAY, True),
    ],
)
def test_dated_zone_windows_must_cover_the_whole_span(allowed, span, ok):
    refusals = check_windows([W("Mo 08:00-09:00")], [allowed], first_day=span[0], last_day=span[1])
    assert (refusals == []) is ok


def test_holiday_closure_counts_only_for_requests_that_also_skip_holidays():
    allowed = [TimeWindow(0b11111, 480, 1200, skip_public_holidays=True)]
    plain = W("Mo-Fr 09:00-10:00")
    skipping = TimeWindow(0b11111, 540, 600, skip_public_holidays=True)
    assert check_windows([plain], allowed, first_day=MAY[0], last_day=MAY[1])
    assert check_windows([skipping], allowed, first_day=MAY[0], last_day=MAY[1]) == []


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "ok"),
    [
        (None, None, True),
        (date(2026, 3, 2), date(2026, 3, 3), True),
        (date(2026, 3, 3), date(2026, 3, 10), False),
        (date(2026, 2, 1), date(2026, 3, 2), False),
    ],
)
def test_temporary_zone_dates(starts_on, ends_on, ok):
    # 2 March 09:00 → 3 March 09:00, Paris time
    refusals = check_zone_period(not_before=T, expires_at=T + timedelta(days=1),
                                 time_zone="Europe/Paris", starts_on=starts_on, ends_on=ends_on)
    assert (refusals == []) is ok


ZFE_DAY_PASS = AccessRuleSpec(max_pass_days=1, quota_days_per_year=24,
                              review_mode=ReviewMode.AUTOMATIC, name="Pass ZFE 24 h")
CENTRE = AccessRuleSpec(
    windows=(W("Mo-Sa 07:00-11:00"),),
    purposes=frozenset({Purpose.DELIVERY}),
    criteria=VehicleCriteria(categories=frozenset({N1}), max_crit_air=CritAir.THREE),
    max_pass_days=31,
)


def request(**changes):
    fields = {"vehicle": van(), "purpose": Purpose.DELIVERY, "not_before": T,
              "expires_at": T + timedelta(days=1), "time_zone": "Europe/Paris",
              "windows": (W("Mo-Fr 08:00-10:00"),)}
    fields.update(changes)
    return PassRequest(**fields)


RULE_CASES = [
    # 09:00 → 21:00 Paris: one day
    ("day pass within quota", request(expires_at=T + timedelta(hours=12)), ZFE_DAY_PASS, 23, []),
    ("day pass, quota spent", request(), ZFE_DAY_PASS, 24, ["quota_exceeded"]),
    # 2 March 09:00 → 3 March 09:00 touches two local days
    ("24 h across midnight uses two days", request(), ZFE_DAY_PASS, 23, ["quota_exceeded"]),
    ("two-day pass", request(expires_at=T + timedelta(days=2)), ZFE_DAY_PASS, 0,
     ["duration_too_long"]),
    ("old diesel in a day pass zone", request(vehicle=van(crit_air=None)), ZFE_DAY_PASS, 0, []),
    ("centre ok", request(expires_at=T + timedelta(days=30)), CENTRE, 0, []),
    ("centre, Crit'Air 4", request(vehicle=van(crit_air=CritAir.FOUR)), CENTRE, 0,
     ["crit_air_too_high"]),
    ("centre, taxi", request(purpose=Purpose.TAXI), CENTRE, 0, ["purpose_not_allowed"]),
    ("centre, Sunday", request(windows=(W("Su 08:00-10:00"),)), CENTRE, 0,
     ["window_outside_zone_hours"]),
    ("centre, 40 days", request(expires_at=T + timedelta(days=40)), CENTRE, 0,
     ["duration_too_long"]),
]


@pytest.mark.parametrize(("name", "req", "rule", "used", "codes"), RULE_CASES,
                         ids=[c[0] for c in RULE_CASES])
def test_evaluate_rule(name, req, rule, used, codes):
    assert [r.code for r in evaluate_rule(req, rule, quota_used=used)] == codes


def test_evaluate_rules_picks_the_admitting_rule_or_the_closest_refusal():
    taxi = request(purpose=Purpose.TAXI, expires_at=T + timedelta(hours=2))
    decision = evaluate_rules(taxi, [CENTRE, ZFE_DAY_PASS])
    assert decision.eligible and decision.rule is ZFE_DAY_PASS
    refused = evaluate_rules(request(purpose=Purpose.TAXI, vehicle=van(crit_air=CritAir.FIVE)),
                             [CENTRE])
    assert not refused.eligible
    assert {r.code for r in refused.refusals} == {"purpose_not_allowed", "crit_air_too_high"}
    assert evaluate_rules(request(), []).refusals[0].code == "no_access_rule"
