"""The restriction schedule of a zone (ADR 0007): in the trust bundle, and in both verifiers.

A zone's `restriction` windows say when its restriction is in force; outside them, once the pass
is authentic, the bundle fresh, the clock plausible and no closure in force, the verdict is
NOT_RESTRICTED (green). The JavaScript verifier is replayed through tests/drill/twin.mjs on the
same bundles and passes, and must agree.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirqliz.domain.windows import ALL_DAYS, TimeWindow, day_from_number, day_number
from cirqliz.passcode.bundle import (
    Z_RESTRICTION,
    BundleZone,
    Closure,
    TrustBundle,
    encode_full,
    open_bundle,
    sign_bundle,
    sign_delta,
)
from cirqliz.passcode.cbor import dumps_deterministic, loads_deterministic
from cirqliz.passcode.cose import sign1
from cirqliz.passcode.errors import BundleError
from cirqliz.passcode.token import sign_pass
from cirqliz.verify.core import DEFAULT_SKEW, Reason, Status, Verdict, verify_pass
from cirqliz.verify.messages import message

from ._support import (
    DAY,
    HOLIDAYS,
    ISS,
    OTHER,
    PASS_ZONES,
    ROOT,
    SIGNER,
    T0,
    ZONES,
    at,
    claims,
    content,
    forged,
    key_entry,
)

TWIN = Path(__file__).parents[1] / "drill" / "twin.mjs"
MO_FR = 0b0011111
WEEKDAYS_8_20 = TimeWindow(MO_FR, 480, 1200)
ZFE = BundleZone(9, "ZFE", "ZFE en semaine", "low_emission", "Europe/Paris", restriction=(WEEKDAYS_8_20,))
ZONES_R = (*ZONES, ZFE)
PASS = sign_pass(claims(zones=(*PASS_ZONES, 9)), SIGNER)
OTHER_ZONE_PASS = sign_pass(claims(zones=(1,)), SIGNER)
EVENING = at(2026, 3, 4, 21)  # Wednesday 21:00 in Paris: after the weekday restriction
MORNING = at(2026, 3, 4, 9, 30)  # inside it
ROOTS = [ROOT.verify_key()]


def trust(zones: tuple[BundleZone, ...] = ZONES_R, *, issued_at: int = T0 - 3600, **kw: Any) -> TrustBundle:
    """A signed and opened bundle (as an agent holds it) with the restricted zones."""
    return open_bundle(sign_bundle(content(zones=zones, issued_at=issued_at, **kw), ROOT), ROOTS)


HELD = trust()


def check(text: str = PASS, zone: str = "ZFE", now: int = EVENING, held: TrustBundle | None = None,
          **kw: Any) -> Verdict:
    """verify_pass against `held`, else the restricted bundle issued one hour before `now`."""
    return verify_pass(text, held or trust(issued_at=now - 3600), zone=zone, now=now, **kw)


# ---- bundle encoding ----------------------------------------------------------------------------


def test_restriction_round_trips_through_a_signed_bundle() -> None:
    dated = TimeWindow(ALL_DAYS, 720, 1440, first_day=date(2026, 5, 9), last_day=date(2026, 5, 9))
    holiday = TimeWindow(0b0111111, 450, 1170, skip_public_holidays=True)
    zone = replace(ZFE, restriction=(WEEKDAYS_8_20, dated, holiday))
    c = content(zones=(*ZONES, zone))
    opened = open_bundle(sign_bundle(c, ROOT), ROOTS)
    assert opened.content == c
    assert opened.zone("ZFE").restriction == (WEEKDAYS_8_20, dated, holiday)  # type: ignore[union-attr]


def test_zones_without_restriction_keep_their_bytes() -> None:
    """An empty restriction is not written: bundles without one are byte for byte as before."""
    payload = loads_deterministic(encode_full(content()), "bundle")
    assert all(Z_RESTRICTION not in zone for zone in payload[8])
    with_field = loads_deterministic(encode_full(content(zones=ZONES_R)), "bundle")
    assert [Z_RESTRICTION in zone for zone in with_field[8]] == [False] * len(ZONES) + [True]
    assert with_field[8][-1][Z_RESTRICTION] == [[MO_FR, 480, 1200]]


def test_restriction_uses_the_window_encoding_with_flags_and_days() -> None:
    dated = TimeWindow(ALL_DAYS, 0, 1440, first_day=date(2026, 5, 9), last_day=date(2026, 5, 11))
    zone = replace(ZFE, restriction=(replace(WEEKDAYS_8_20, skip_public_holidays=True), dated))
    payload = loads_deterministic(encode_full(content(zones=(zone,))), "bundle")
    assert payload[8][0][Z_RESTRICTION] == [
        [MO_FR, 480, 1200, 1],
        [ALL_DAYS, 0, 1440, 0, day_number(date(2026, 5, 9)), day_number(date(2026, 5, 11))],
    ]


def test_a_delta_carries_a_restriction_added_changed_or_removed() -> None:
    base = content(seq=1)
    added = content(seq=2, zones=ZONES_R)
    changed = content(seq=3, zones=(*ZONES, replace(ZFE, restriction=(TimeWindow(MO_FR, 420, 1140),))))
    removed = content(seq=4, zones=(*ZONES, replace(ZFE, restriction=())))
    held = open_bundle(sign_bundle(base, ROOT), ROOTS)
    for new, old in ((added, base), (changed, added), (removed, changed)):
        held = open_bundle(sign_delta(old, new, ROOT), ROOTS, current=held)
        assert held.content == new
    assert check(held=held).reason is Reason.VALID  # the restriction was removed: in force at all times


def _zone_payload(**zone_changes: Any) -> bytes:
    """A full bundle payload whose ZFE zone map gets `zone_changes` (integer keys as text 'k11')."""
    payload = cbor2.loads(encode_full(content(zones=ZONES_R)))
    zone = payload[8][-1]
    for key, value in zone_changes.items():
        if value is None:
            zone.pop(int(key[1:]), None)
        else:
            zone[int(key[1:])] = value
    return dumps_deterministic(payload)


BAD_RESTRICTIONS = {
    "empty_array": [],
    "not_an_array": {1: 2},
    "a_number": 5,
    "window_not_an_array": [7],
    "window_two_fields": [[MO_FR, 480]],
    "window_five_fields": [[MO_FR, 480, 1200, 0, 1]],
    "no_weekday": [[0, 480, 1200]],
    "start_past_the_day": [[MO_FR, 1440, 1200]],
    "end_zero": [[MO_FR, 480, 0]],
    "negative_minute": [[MO_FR, -1, 1200]],
    "text_minute": [[MO_FR, "08:00", 1200]],
    "flags_not_an_integer": [[MO_FR, 480, 1200, "1"]],
    "first_after_last": [[MO_FR, 480, 1200, 0, 20_500, 20_400]],
    "day_past_year_9999": [[MO_FR, 480, 1200, 0, 10**8, None]],
}


@pytest.mark.parametrize("case", sorted(BAD_RESTRICTIONS))
def test_bad_restrictions_are_refused_as_malformed_bundles(case: str) -> None:
    data = sign1(_zone_payload(k11=BAD_RESTRICTIONS[case]), ROOT)
    with pytest.raises(BundleError) as info:
        open_bundle(data, ROOTS)
    assert info.value.code == "bundle_malformed"
    assert "réglementation" in info.value.message


def test_dated_restriction_with_open_ends_is_accepted() -> None:
    data = sign1(_zone_payload(k11=[[MO_FR, 480, 1200, 1, 20_500, None]]), ROOT)
    (window,) = open_bundle(data, ROOTS).zone("ZFE").restriction  # type: ignore[union-attr]
    assert window.first_day == day_from_number(20_500) and window.last_day is None and window.skip_public_holidays


# ---- verdicts -----------------------------------------------------------------------------------


def test_outside_the_restriction_is_green_with_its_message() -> None:
    verdict = check()
    assert verdict.reason is Reason.NOT_RESTRICTED
    assert verdict.status is Status.VALID and verdict.valid
    assert verdict.message_fr == "Zone non réglementée à cette heure : accès libre."
    assert verdict.message_en == "Zone not restricted at this time: free access."
    assert message("NOT_RESTRICTED", "fr") == verdict.message_fr
    assert verdict.zone == HELD.zone("ZFE") and verdict.claims is not None and verdict.kid == SIGNER.kid
    assert "heure locale mer. 21:00" in verdict.detail
    data = verdict.as_json()
    assert (data["status"], data["reason"], data["zone"]) == ("VALID", "NOT_RESTRICTED", "ZFE")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ((2026, 3, 4, 7, 59), Reason.NOT_RESTRICTED),
        ((2026, 3, 4, 8, 0), Reason.VALID),
        ((2026, 3, 4, 19, 59), Reason.VALID),
        ((2026, 3, 4, 20, 0), Reason.NOT_RESTRICTED),
        ((2026, 3, 7, 10, 0), Reason.NOT_RESTRICTED),  # Saturday
        ((2026, 3, 8, 10, 0), Reason.NOT_RESTRICTED),  # Sunday
        ((2026, 3, 9, 10, 0), Reason.VALID),  # Monday
    ],
)
def test_inside_or_outside_the_weekday_restriction(local: tuple[int, ...], expected: Reason) -> None:
    assert check(now=at(*local)).reason is expected


def test_a_zone_without_restriction_never_gives_not_restricted() -> None:
    for now in (EVENING, at(2026, 3, 7, 23), at(2026, 3, 8, 3)):
        assert check(zone="MARAIS", now=now).reason is Reason.VALID
    assert check(zone="CENTRE", now=EVENING).reason is Reason.OUTSIDE_HOURS  # its access windows, as before


@pytest.mark.parametrize(
    ("name", "text", "kw", "expected"),
    [
        ("forged", sign_pass(claims(), forged(OTHER, SIGNER.kid)), {}, Reason.BAD_SIGNATURE),
        ("unknown key", sign_pass(claims(), OTHER), {}, Reason.UNKNOWN_KEY),
        ("other issuer", sign_pass(claims(iss="FR-AILLEURS"), SIGNER), {}, Reason.UNKNOWN_KEY),
        ("unreadable", PASS[:-5], {}, Reason.MALFORMED),
    ],
)
def test_authenticity_comes_first(name: str, text: str, kw: dict[str, Any], expected: Reason) -> None:
    assert check(text, **kw).reason is expected, name


def test_withdrawn_or_unauthorised_keys_are_reported_outside_the_restriction() -> None:
    held = trust(issued_at=EVENING - 3600, withdrawn=frozenset({SIGNER.kid}))
    assert check(held=held).reason is Reason.KEY_WITHDRAWN
    held = trust(issued_at=EVENING - 3600, keys=(key_entry(SIGNER, zones=(8,)),))
    assert check(held=held).reason is Reason.KEY_NOT_AUTHORISED


def test_revoked_expired_not_yet_valid_wrong_zone_and_plate_do_not_matter_outside() -> None:
    c = claims(zones=(9,))
    revoked = trust(issued_at=MORNING - 3600, revoked=((ISS, c.cti),))
    assert check(sign_pass(c, SIGNER), held=revoked).reason is Reason.NOT_RESTRICTED
    assert check(sign_pass(c, SIGNER), held=revoked, now=MORNING).reason is Reason.REVOKED
    expired = sign_pass(claims(zones=(9,), nbf=T0 - 10 * DAY, iat=T0 - 10 * DAY, exp=T0 - DAY), SIGNER)
    assert check(expired).reason is Reason.NOT_RESTRICTED
    assert check(expired, now=MORNING).reason is Reason.EXPIRED
    early = sign_pass(claims(zones=(9,), nbf=EVENING + 10 * DAY, exp=EVENING + 20 * DAY), SIGNER)
    assert check(early).reason is Reason.NOT_RESTRICTED
    assert check(early, now=MORNING).reason is Reason.NOT_YET_VALID
    assert check(OTHER_ZONE_PASS).reason is Reason.NOT_RESTRICTED
    assert check(OTHER_ZONE_PASS, now=MORNING).reason is Reason.WRONG_ZONE
    assert check(plate="ZZ-999-ZZ").reason is Reason.NOT_RESTRICTED
    assert check(plate="ZZ-999-ZZ", now=MORNING).reason is Reason.PLATE_MISMATCH


def test_stale_bundle_suspect_clock_and_closure_are_never_overridden() -> None:
    stale = trust(issued_at=EVENING - 4 * DAY, max_age=3 * DAY)
    assert check(held=stale).reason is Reason.STALE_BUNDLE
    assert check(held=trust(issued_at=EVENING - 3 * DAY, max_age=3 * DAY)).reason is Reason.NOT_RESTRICTED
    # The device clock is behind the last scan: its "now" cannot say the restriction is over.
    assert check(now=EVENING - 3600, last_seen=EVENING).reason is Reason.CLOCK_SUSPECT
    assert check(now=EVENING - DEFAULT_SKEW, last_seen=EVENING).reason is Reason.NOT_RESTRICTED
    closed = replace(ZFE, closures=(Closure(EVENING - 3600, EVENING + 3600, "Crue : quais fermés"),))
    held = trust((*ZONES, closed), issued_at=EVENING - 3600)
    verdict = check(held=held)
    assert (verdict.reason, verdict.detail) == (Reason.ZONE_CLOSED, "Crue : quais fermés")
    assert check(held=held, now=EVENING + 3600).reason is Reason.NOT_RESTRICTED


def test_a_revoked_pass_at_a_stale_bundle_is_still_refused() -> None:
    """Without the restriction shortcut the usual order applies: definitive refusals first."""
    c = claims(zones=(9,))
    held = trust(issued_at=EVENING - 4 * DAY, max_age=3 * DAY, revoked=((ISS, c.cti),))
    assert check(sign_pass(c, SIGNER), held=held).reason is Reason.REVOKED


def test_inside_the_restriction_the_access_windows_still_apply() -> None:
    # Deliveries 07:30-11:00 while the restriction (Mo-Sa 07:30-19:30) is in force.
    ztl = BundleZone(9, "ZFE", "ZTL", "limited_traffic", "Europe/Paris", windows=(TimeWindow(0b0111111, 450, 660),),
                     restriction=(TimeWindow(0b0111111, 450, 1170),))
    held = trust((*ZONES, ztl), issued_at=T0 - DAY, max_age=7 * DAY)
    assert check(now=at(2026, 3, 4, 10), held=held).reason is Reason.VALID
    assert check(now=at(2026, 3, 4, 12), held=held).reason is Reason.OUTSIDE_HOURS
    assert check(now=at(2026, 3, 4, 20), held=held).reason is Reason.NOT_RESTRICTED
    assert check(now=at(2026, 3, 8, 10), held=held).reason is Reason.NOT_RESTRICTED  # Sunday


def test_zone_dates_keep_outside_hours_inside_the_restriction_windows() -> None:
    dated = replace(ZFE, restriction=(TimeWindow(ALL_DAYS, 0, 1440),), valid_from=T0 + DAY)
    assert check(held=trust((*ZONES, dated), issued_at=EVENING - 3600)).reason is Reason.OUTSIDE_HOURS


def test_public_holidays_lift_a_restriction_that_skips_them() -> None:
    lifted = replace(ZFE, restriction=(replace(WEEKDAYS_8_20, skip_public_holidays=True),))
    c = claims(zones=(9,), nbf=at(2026, 4, 1), iat=at(2026, 4, 1), exp=at(2026, 8, 1))
    text = sign_pass(c, SIGNER)

    def reason(*local: int, holidays: tuple[int, ...] = HOLIDAYS, zone: BundleZone = lifted) -> Reason:
        now = at(*local)
        return check(text, now=now, held=trust((*ZONES, zone), issued_at=now - 3600, holidays=holidays)).reason

    assert reason(2026, 5, 1, 10) is Reason.NOT_RESTRICTED  # Friday 1 May
    assert reason(2026, 4, 30, 10) is Reason.VALID
    assert reason(2026, 5, 1, 10, holidays=()) is Reason.VALID  # holidays come from the bundle
    assert reason(2026, 5, 1, 10, zone=ZFE) is Reason.VALID  # no holiday flag: in force


def test_restriction_windows_across_midnight_and_dst() -> None:
    night = replace(ZFE, restriction=(TimeWindow(0b0010000, 1320, 360),))  # Friday nights 22:00-06:00
    c = claims(zones=(9,), nbf=at(2026, 1, 1), iat=at(2026, 1, 1), exp=at(2027, 1, 1))
    text = sign_pass(c, SIGNER)

    def reason(now: int, zone: BundleZone) -> Reason:
        return check(text, now=now, held=trust((*ZONES, zone), issued_at=now - 3600)).reason

    assert reason(at(2026, 3, 7, 2), night) is Reason.VALID  # Saturday 02:00, opened Friday
    assert reason(at(2026, 3, 6, 2), night) is Reason.NOT_RESTRICTED  # Friday 02:00, opened Thursday
    # Monday 26 October 2026, 06:30 UTC: 07:30 in Paris (winter time), before 08:00.
    utc = ZoneInfo("UTC")
    assert reason(int(datetime(2026, 10, 26, 6, 30, tzinfo=utc).timestamp()), ZFE) is Reason.NOT_RESTRICTED
    assert reason(int(datetime(2026, 10, 23, 6, 30, tzinfo=utc).timestamp()), ZFE) is Reason.VALID  # 08:30 CEST


# ---- property: NOT_RESTRICTED exactly outside every window, in both verifiers -------------------

PARIS = ZoneInfo("Europe/Paris")
HOLIDAY_DATES = frozenset(day_from_number(d) for d in HOLIDAYS)
LONG_PASS = sign_pass(
    claims(zones=(9,), nbf=at(2025, 12, 1), iat=at(2025, 12, 1), exp=at(2027, 2, 1)), SIGNER
)


def _inside(window: TimeWindow, epoch: int) -> bool:
    """Independent oracle: is the wall time of `epoch` in Paris inside `window`?"""
    local = datetime.fromtimestamp(epoch, PARIS)
    minute = local.hour * 60 + local.minute
    today = local.date()
    opened = []
    if window.start < window.end:
        if window.start <= minute < window.end:
            opened.append(today)
    else:
        if minute >= window.start:
            opened.append(today)
        if minute < window.end:
            opened.append(today - timedelta(days=1))
    return any(
        window.weekdays >> day.weekday() & 1
        and (window.first_day is None or day >= window.first_day)
        and (window.last_day is None or day <= window.last_day)
        and not (window.skip_public_holidays and day in HOLIDAY_DATES)
        for day in opened
    )


def _expected(restriction: tuple[TimeWindow, ...], epoch: int) -> str:
    return "VALID" if any(_inside(w, epoch) for w in restriction) else "NOT_RESTRICTED"


FIRST, LAST = day_number(date(2026, 1, 1)), day_number(date(2026, 12, 31))


@st.composite
def restriction_windows(draw: st.DrawFn) -> TimeWindow:
    dated = draw(st.booleans())
    first = draw(st.one_of(st.none(), st.integers(FIRST, LAST))) if dated else None
    last = draw(st.one_of(st.none(), st.integers(first or FIRST, LAST))) if dated else None
    return TimeWindow(
        draw(st.integers(1, ALL_DAYS)),
        draw(st.integers(0, 1439)),
        draw(st.integers(1, 1440)),
        first_day=None if first is None else day_from_number(first),
        last_day=None if last is None else day_from_number(last),
        skip_public_holidays=draw(st.booleans()),
    )


instants = st.integers(at(2026, 1, 1), at(2026, 12, 31, 23, 59))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(restriction=st.lists(restriction_windows(), min_size=1, max_size=3).map(tuple), now=instants)
def test_not_restricted_iff_outside_every_window(restriction: tuple[TimeWindow, ...], now: int) -> None:
    zone = replace(ZFE, restriction=restriction)
    held = TrustBundle.from_content(content(zones=(zone,), issued_at=now - 3600))
    verdict = verify_pass(LONG_PASS, held, zone="ZFE", now=now)
    assert verdict.reason.value == _expected(restriction, now)
    assert verdict.status is Status.VALID


def _random_restriction(rng: random.Random) -> tuple[TimeWindow, ...]:
    out = []
    for _ in range(rng.randint(1, 3)):
        first = rng.choice([None, rng.randint(FIRST, LAST)])
        last = rng.choice([None, rng.randint(first or FIRST, LAST)])
        # Starts and ends near the hours that matter (DST changes at 02:00/03:00, midnight).
        start = rng.choice([0, 120, 180, 480, rng.randint(0, 1439)])
        end = rng.choice([1440, 120, 180, 1200, rng.randint(1, 1440)])
        out.append(TimeWindow(rng.randint(1, ALL_DAYS), start, end,
                              first_day=None if first is None else day_from_number(first),
                              last_day=None if last is None else day_from_number(last),
                              skip_public_holidays=rng.random() < 0.5))
    return tuple(out)


def _random_instant(rng: random.Random) -> int:
    # A third of the times on the DST nights and public holidays of 2026.
    special = [at(2026, 3, 29), at(2026, 10, 25), at(2026, 5, 1), at(2026, 5, 8), at(2026, 12, 25)]
    if rng.random() < 0.35:
        return rng.choice(special) + rng.randint(-6 * 3600, 30 * 3600)
    return rng.randint(at(2026, 1, 1), at(2026, 12, 31, 23, 59))


def test_the_javascript_verifier_agrees_on_random_restrictions(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI for the JavaScript verifier")
        pytest.skip("node is not installed: the JavaScript verifier is not compared")
    rng = random.Random(20261207)
    bundles: dict[str, str] = {}
    steps: list[dict[str, Any]] = []
    expected: list[tuple[str, str]] = []
    for n in range(250):
        restriction = _random_restriction(rng)
        now = _random_instant(rng)
        closures = (Closure(now - 60, now + 60, "fermée"),) if n % 25 == 0 else ()
        zone = replace(ZFE, restriction=restriction, closures=closures)
        c = content(zones=(zone,), issued_at=now - 3600 if n % 20 else now - 5 * DAY)
        data = sign_bundle(c, ROOT)
        held = open_bundle(data, ROOTS)
        verdict = verify_pass(LONG_PASS, held, zone="ZFE", now=now)
        if n % 25 == 0:
            assert verdict.reason is Reason.ZONE_CLOSED
        elif n % 20 == 0:
            assert verdict.reason is Reason.STALE_BUNDLE
        else:
            assert verdict.reason.value == _expected(restriction, now), (restriction, now)
        bundles[f"b{n}"] = base64.b64encode(data).decode()
        steps += [{"op": "new_device"}, {"op": "sync", "bundle": f"b{n}"},
                  {"op": "check", "text": LONG_PASS, "zone": "ZFE", "at": now}]
        expected.append((verdict.status.value, verdict.reason.value))
    assert {r for _, r in expected} >= {"VALID", "NOT_RESTRICTED", "ZONE_CLOSED", "STALE_BUNDLE"}
    drill = tmp_path / "restriction.json"
    drill.write_text(json.dumps({"root": base64.b64encode(ROOT.verify_key().spki()).decode(),
                                 "bundles": bundles, "steps": steps}))
    done = subprocess.run([node, str(TWIN), str(drill)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert all(r["ok"] for r in results if r["op"] == "sync")
    got = [(r["status"], r["reason"]) for r in results if r["op"] == "check"]
    assert got == expected


def test_the_javascript_verifier_refuses_the_same_bad_restrictions(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI for the JavaScript verifier")
        pytest.skip("node is not installed: the JavaScript verifier is not compared")
    bundles = {name: base64.b64encode(sign1(_zone_payload(k11=bad), ROOT)).decode()
               for name, bad in BAD_RESTRICTIONS.items()}
    bundles["good"] = base64.b64encode(sign1(_zone_payload(k11=[[MO_FR, 480, 1200, 1, 20_500, None]]), ROOT)).decode()
    steps = [s for name in bundles for s in ({"op": "new_device"}, {"op": "sync", "bundle": name})]
    drill = tmp_path / "bad.json"
    drill.write_text(json.dumps({"root": base64.b64encode(ROOT.verify_key().spki()).decode(),
                                 "bundles": bundles, "steps": steps}))
    done = subprocess.run([node, str(TWIN), str(drill)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    results = dict(zip(bundles, json.loads(done.stdout), strict=True))
    assert results.pop("good")["ok"] is True
    assert {name: r.get("code") for name, r in results.items()} == dict.fromkeys(BAD_RESTRICTIONS, "bundle_malformed")


# ---- the `cirqliz` command ------------------------------------------------------------------------


def test_cli_shows_the_restriction_and_verifies_outside_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli_driver import run_cli

    root = tmp_path / "root.pem"
    root.write_bytes(ROOT.verify_key().pem())
    file = tmp_path / "bundle.cose"
    file.write_bytes(sign_bundle(content(zones=ZONES_R, issued_at=EVENING - 3600), ROOT))
    shown = run_cli(capsys, "bundle", "show", str(file), "--root", str(root))
    assert shown.rc == 0, shown
    (line,) = [x for x in shown.out.splitlines() if " ZFE " in x]
    assert line.endswith("réglementée : Mo-Fr 08:00-20:00")
    assert "réglementée" not in next(x for x in shown.out.splitlines() if " MARAIS " in x)
    data = json.loads(run_cli(capsys, "bundle", "show", str(file), "--root", str(root), "--json").out)
    assert [z["restriction"] for z in data["zones"] if z["code"] == "ZFE"] == [["Mo-Fr 08:00-20:00"]]

    def verify(when: int) -> Any:
        return run_cli(capsys, "verify", PASS, "--bundle", str(file), "--zone", "ZFE", "--root", str(root),
                       "--at", datetime.fromtimestamp(when, PARIS).isoformat())

    outside = verify(EVENING)
    assert outside.rc == 0
    assert outside.out.startswith("VALIDE — Zone non réglementée à cette heure : accès libre.\n  code : NOT_RESTRICTED")
    revoked = tmp_path / "revoked.cose"
    revoked.write_bytes(sign_bundle(content(zones=ZONES_R, issued_at=EVENING - 3600, revoked=((ISS, claims().cti),)),
                                    ROOT))
    run = run_cli(capsys, "verify", PASS, "--bundle", str(revoked), "--zone", "ZFE", "--root", str(root),
                  "--at", datetime.fromtimestamp(EVENING - 2 * 3600, PARIS).isoformat())
    assert run.rc == 1 and run.out.startswith("REFUSÉ — ") and "\n  code : REVOKED\n" in run.out
