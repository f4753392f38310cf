"""The authority's dashboard charts and their CSV files (issue 17): numbers from seeded data in the
authority's local days and hours, only the signed-in authority's data, both periods, empty states,
French CSV, the REVIEW guard, hostile names escaped; and the grouped queries on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from factories import AUTHORITY_PARIS_ID, USER_AGENT_ID, ZONE_CENTRE_ID
from litestar.testing import TestClient

from cirqliz.clock import FixedClock
from cirqliz.db.models import Zone
from cirqliz.demo.seed import COMPANY_ID, USER_IDS, VEHICLES, ZONE_IDS
from cirqliz.domain.errors import DomainError
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance import dashboard_stats as stats
from cirqliz.issuance.applications import (
    approve_application,
    create_application,
    provide_information,
    reject_application,
    request_information,
    submit_application,
)
from cirqliz.issuance.passes import record_check

from .conftest import WEB_T0, login, text_of
from .two_authorities import B_USER_IDS, B_ZONE_ID, TwoAuthorities, add_second_authority, run, sign_in

HOSTILE = '<script>alert("z")</script> & Zone "Ω" </svg><img src=x>'
A_ZONE = ZONE_IDS["PARIS-CENTRE"]
B_REASON = "Motif propre à la Ville Bis"
FORMULA_REASON = "=1+1 motif piège"
CSV_FILES = ("demandes-par-jour", "laissez-passer-par-zone", "controles-par-heure",
             "demandes-refusees-par-motif", "controles-refuses-par-motif")


def at(text: str) -> datetime:
    """A UTC instant written as 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _application(session, world, submitted: datetime, authority_zone=A_ZONE, vehicle=VEHICLES[0][0]):
    clock = FixedClock(submitted)
    app = await create_application(
        session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], zone_ids=[authority_zone],
        vehicle_ids=[vehicle], purpose=int(Purpose.DELIVERY), not_before=WEB_T0,
        expires_at=WEB_T0 + timedelta(days=7), clock=clock)
    await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=clock)
    return app


async def _check(session, when: datetime, verdict: str, reason: str | None, *, agent=None, zone=A_ZONE):
    await record_check(session, check_id=uuid.uuid4(), agent_id=agent or USER_IDS["agent"], checked_at=when,
                       verdict=verdict, reason_code=reason, zone_id=zone, clock=FixedClock(WEB_T0))


def seed_charts(world) -> None:
    """Authority A's data (on top of add_second_authority's: 2 applications submitted and 1 VALID
    check at WEB_T0, Monday 23/11 09:00 in Paris, and 1 pass in force in PARIS-CENTRE), and B's
    refusals that A must never see."""

    async def work(session):
        zone = await session.get(Zone, A_ZONE)
        zone.name = HOSTILE
        session.add(zone)
        # 00:30 in Paris on Monday 23/11 is still Sunday in UTC: it counts for Monday.
        monday = await _application(session, world, at("2026-11-22 23:30"), vehicle=VEHICLES[1][0])
        await approve_application(session, application_id=monday.id, reviewer_id=USER_IDS["reviewer"],
                                  signer=world.app.state.signer, clock=FixedClock(WEB_T0))
        # 23:30 in Paris on Sunday 22/11.
        sunday = await _application(session, world, at("2026-11-22 22:30"), vehicle=VEHICLES[2][0])
        await reject_application(session, application_id=sunday.id, reviewer_id=USER_IDS["reviewer"],
                                 reason="  Justificatif illisible ", clock=FixedClock(at("2026-11-23 07:00")))
        older = await _application(session, world, at("2026-11-10 09:00"), vehicle=VEHICLES[2][0])
        await reject_application(session, application_id=older.id, reviewer_id=USER_IDS["reviewer"],
                                 reason=FORMULA_REASON, clock=FixedClock(at("2026-11-10 10:00")))
        await _check(session, at("2026-11-22 22:30"), "VALID", "VALID")  # 23:30 in Paris: hour 23
        await _check(session, at("2026-11-23 07:15"), "REFUSED", "REVOKED")  # 08:15
        await _check(session, at("2026-11-23 07:45"), "REFUSED", "REVOKED")  # 08:45
        await _check(session, at("2026-11-20 12:00"), "UNCERTAIN", "STALE_BUNDLE")  # 13:00
        await _check(session, at("2026-11-05 10:00"), "REFUSED", "EXPIRED")  # 11:00, 30 days only
        # Authority B: a refused check and a refused application A must not see.
        await _check(session, at("2026-11-23 06:00"), "REFUSED", "PLATE_MISMATCH", agent=B_USER_IDS["agent"],
                     zone=B_ZONE_ID)
        bis = await create_application(
            session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], zone_ids=[B_ZONE_ID],
            vehicle_ids=[VEHICLES[1][0]], purpose=int(Purpose.DELIVERY), not_before=WEB_T0,
            expires_at=WEB_T0 + timedelta(days=7), clock=world.clock)
        await submit_application(session, application_id=bis.id, actor_id=USER_IDS["pro"], clock=world.clock)
        await reject_application(session, application_id=bis.id, reviewer_id=B_USER_IDS["reviewer"],
                                 reason=B_REASON, clock=world.clock)

    run(world, work)


@pytest.fixture
def two(web_world) -> TwoAuthorities:
    """Authorities A (demo) and B, with the chart data above."""
    both = add_second_authority(web_world)
    seed_charts(web_world)
    return both


def svg(page: str, chart_id: str) -> str:
    """The <svg> element of one chart."""
    found = re.search(rf'<svg [^>]*id="{chart_id}">.*?</svg>', page, re.S)
    assert found, f"no chart {chart_id}"
    return found.group(0)


def tooltips(page: str, chart_id: str) -> dict[str, str]:
    """Each bar's tooltip in a chart: {category: numbers}."""
    titles = re.findall(r'<g class="bar"><title>([^<]*)</title>', svg(page, chart_id))
    return dict(html.unescape(t).split(" : ", 1) for t in titles)


def read_csv(client: TestClient, name: str, period: int = 7) -> list[list[str]]:
    response = client.get(f"/autorite/tableau-de-bord/{name}.csv", params={"periode": period})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM for spreadsheets"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


# ---- the page --------------------------------------------------------------------------------


def test_the_charts_count_in_local_days_and_hours_over_seven_days(client, two) -> None:
    sign_in(client, two.a, "reviewer")
    page = client.get("/autorite").text
    days = tooltips(page, "chart-demandes")
    assert list(days) == ["17/11", "18/11", "19/11", "20/11", "21/11", "22/11", "23/11"]
    # 23:30 in Paris on Sunday counts for Sunday; 00:30 on Monday (Sunday in UTC) for Monday.
    assert days["22/11"] == "1" and days["23/11"] == "3" and days["21/11"] == "0"
    hours = tooltips(page, "chart-controles")
    assert list(hours) == [f"{h} h" for h in range(24)]
    assert hours["23 h"] == "Valide 1 ; Refusé 0 ; À vérifier 0"  # 22:30 UTC = 23:30 in Paris
    assert hours["22 h"] == "Valide 0 ; Refusé 0 ; À vérifier 0"
    assert hours["8 h"] == "Valide 0 ; Refusé 2 ; À vérifier 0"
    assert hours["9 h"] == "Valide 1 ; Refusé 0 ; À vérifier 0"
    assert hours["13 h"] == "Valide 0 ; Refusé 0 ; À vérifier 1"
    assert hours["11 h"] == "Valide 0 ; Refusé 0 ; À vérifier 0"  # the EXPIRED refusal is 18 days old
    refused = tooltips(page, "chart-motifs-controles")
    assert refused == {"Laissez-passer révoqué par l'autorité.": "2"}
    assert tooltips(page, "chart-motifs-demandes") == {"Justificatif illisible": "1"}
    zones = tooltips(page, "chart-zones")
    assert zones[HOSTILE] == "2"
    # Verdicts as a legend with words, stacked in the legend's order, told apart by patterns too.
    checks = svg(page, "chart-controles")
    assert re.search(r'class="legend"[^>]*>Valide<', checks) and ">Refusé<" in checks and ">À vérifier<" in checks
    assert "<pattern" in checks and "url(#chart-controles-p1)" in checks
    # Accessible: each chart an image named by its title and description, its figures in a table.
    for chart_id in ("chart-demandes", "chart-controles", "chart-zones", "chart-motifs-controles"):
        element = svg(page, chart_id)
        assert 'role="img"' in element and f'aria-labelledby="{chart_id}-t {chart_id}-d"' in element
        assert f'<title id="{chart_id}-t">' in element and f'<desc id="{chart_id}-d">' in element
    assert page.count('<details class="chart-data">') == 5
    visible = html.unescape(text_of(page))
    assert "Du 17/11/2026 au 23/11/2026 inclus" in visible
    assert "REVOKED" not in visible and "STALE_BUNDLE" not in visible and ">REFUSED<" not in page


def test_thirty_days_add_the_older_rows(client, two) -> None:
    sign_in(client, two.a, "admin")
    page = client.get("/autorite", params={"periode": "30"}).text
    days = tooltips(page, "chart-demandes")
    assert len(days) == 30 and next(iter(days)) == "25/10" and days["10/11"] == "1"
    assert sum(int(v) for v in days.values()) == 5
    assert tooltips(page, "chart-controles")["11 h"] == "Valide 0 ; Refusé 1 ; À vérifier 0"
    assert tooltips(page, "chart-motifs-controles") == {
        "Laissez-passer révoqué par l'autorité.": "2", "Laissez-passer expiré.": "1"}
    assert tooltips(page, "chart-motifs-demandes") == {FORMULA_REASON: "1", "Justificatif illisible": "1"}
    assert 'href="/autorite?periode=30" aria-current="true"' in page
    assert "/autorite/tableau-de-bord/controles-par-heure.csv?periode=30" in page


def test_another_authoritys_data_never_shows(client, two) -> None:
    sign_in(client, two.a, "admin")
    for period in (7, 30):
        page = html.unescape(client.get("/autorite", params={"periode": period}).text)
        assert B_REASON not in page and "Bis Centre" not in page
        assert "La plaque du véhicule ne correspond pas" not in page
        everything = "".join(client.get(f"/autorite/tableau-de-bord/{name}.csv", params={"periode": period}).text
                             for name in CSV_FILES)
        assert B_REASON not in everything and "Bis Centre" not in everything and "plaque" not in everything
    # And B sees its own, not A's.
    with TestClient(two.world.app) as other:
        sign_in(other, two.b, "reviewer")
        page = html.unescape(other.get("/autorite").text)
        assert B_REASON in page and "Bis Centre" in page and "La plaque du véhicule ne correspond pas" in page
        assert "Justificatif illisible" not in page and HOSTILE not in page


def test_hostile_zone_names_are_escaped(client, two) -> None:
    sign_in(client, two.a, "admin")
    page = client.get("/autorite").text
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert html.escape(HOSTILE, quote=True) in svg(page, "chart-zones")
    assert ["PARIS-CENTRE", HOSTILE, "2"] in read_csv(client, "laissez-passer-par-zone")


def test_an_empty_period_says_so_in_french(client, web_world) -> None:
    login(client, "reviewer")
    page = html.unescape(text_of(client.get("/autorite").text))
    assert "Aucun contrôle sur la période." in page
    assert "Aucune demande déposée sur la période." in page
    assert "Aucun laissez-passer en cours." in page
    assert "Aucune demande refusée sur la période." in page
    assert "Aucun contrôle refusé sur la période." in page
    assert "<svg" not in client.get("/autorite").text.split("Activité", 1)[1]
    assert read_csv(client, "controles-refuses-par-motif") == [["Motif du refus", "Contrôles refusés"]]


def test_an_unknown_period_or_file_is_a_clear_french_error(client, web_world) -> None:
    login(client, "admin")
    response = client.get("/autorite", params={"periode": "365"})
    assert response.status_code == 422 and "période inconnue" in html.unescape(response.text)
    response = client.get("/autorite/tableau-de-bord/demandes-par-jour.csv", params={"periode": "abc"})
    assert response.status_code == 422
    assert client.get("/autorite/tableau-de-bord/secret.csv").status_code == 404
    assert client.get("/autorite/tableau-de-bord/demandes-par-jour.json").status_code == 404


# ---- the CSV files ----------------------------------------------------------------------------


def test_csv_files_are_french_and_match_the_charts(client, two) -> None:
    sign_in(client, two.a, "reviewer")
    days = read_csv(client, "demandes-par-jour")
    assert days[0] == ["Jour", "Demandes déposées"]
    assert days[1:] == [[f"{d}/11/2026", n] for d, n in
                        (("17", "0"), ("18", "0"), ("19", "0"), ("20", "0"), ("21", "0"), ("22", "1"), ("23", "3"))]
    hours = read_csv(client, "controles-par-heure")
    assert hours[0] == ["Heure", "Valide", "Refusé", "À vérifier", "Total"]
    assert hours[24] == ["23 h", "1", "0", "0", "1"] and hours[9] == ["8 h", "0", "2", "0", "2"]
    assert len(hours) == 25
    zones = read_csv(client, "laissez-passer-par-zone")
    assert zones[0] == ["Code de la zone", "Zone", "Laissez-passer en cours"]
    assert zones[1] == ["PARIS-CENTRE", HOSTILE, "2"]
    assert read_csv(client, "controles-refuses-par-motif") == [
        ["Motif du refus", "Contrôles refusés"], ["Laissez-passer révoqué par l'autorité.", "2"]]
    month = read_csv(client, "demandes-refusees-par-motif", period=30)
    assert month[0] == ["Motif du refus", "Demandes refusées"]
    # A reason that a spreadsheet would run as a formula is kept as text.
    assert ["'" + FORMULA_REASON, "1"] in month and ["Justificatif illisible", "1"] in month
    response = client.get("/autorite/tableau-de-bord/controles-par-heure.csv", params={"periode": 30})
    assert 'filename="controles-par-heure-30-jours-2026-11-23.csv"' in response.headers["content-disposition"]


@pytest.mark.parametrize("who", ["pro", "agent", "organiser"])
def test_csv_and_charts_are_for_reviewers_only(client, web_world, who) -> None:
    login(client, who)
    assert client.get("/autorite/tableau-de-bord/demandes-par-jour.csv").status_code == 403
    assert client.get("/autorite").status_code == 403


def test_anonymous_csv_goes_to_sign_in(client, web_world) -> None:
    response = client.get("/autorite/tableau-de-bord/demandes-par-jour.csv", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion")


def test_english_page_keeps_french_csv(client, two) -> None:
    sign_in(client, two.a, "admin")
    page = client.get("/autorite", params={"lang": "en"}).text
    assert "Checks by hour of the day, by verdict" in page and "Download as CSV" in page
    assert "Valid 1 ; Refused 0 ; To check 0" in html.unescape(svg(page, "chart-controles"))
    assert read_csv(client, "controles-par-heure")[0][0] == "Heure"


# ---- the queries on both databases ------------------------------------------------------------


async def test_grouped_queries_on_sqlite_and_postgresql(session, world, clock) -> None:
    """DST week (Paris leaves summer time on Sunday 25/10/2026 at 03:00): local days and hours
    stay right, and the checks are counted in one statement whatever their number."""
    checks = [
        ("2026-10-24 21:30", "VALID"),  # 23:30 on Saturday 24/10 (UTC+2)
        ("2026-10-24 22:30", "REFUSED"),  # 00:30 on Sunday 25/10 (UTC+2)
        ("2026-10-25 00:30", "REFUSED"),  # 02:30 summer time
        ("2026-10-25 01:30", "VALID"),  # 02:30 again, winter time
        ("2026-10-25 22:30", "UNCERTAIN"),  # 23:30 on Sunday (UTC+1)
    ]
    async with session.begin():
        for when, verdict in checks:
            await record_check(session, check_id=uuid.uuid4(), agent_id=USER_AGENT_ID, checked_at=at(when),
                               verdict=verdict, zone_id=ZONE_CENTRE_ID, clock=clock,
                               reason_code="EXPIRED" if verdict == "REFUSED" else None)
    period = stats.period_ending(at("2026-10-26 12:00"), 7, "Europe/Paris")
    assert (period.first.isoformat(), period.start, period.end) == (
        "2026-10-20", at("2026-10-19 22:00"), at("2026-10-26 23:00"))
    async with session.begin():
        hours = await stats.checks_per_hour(session, AUTHORITY_PARIS_ID, period)
        refused = await stats.refused_checks_by_reason(session, AUTHORITY_PARIS_ID, period)
        other = await stats.checks_per_hour(session, uuid.uuid4(), period)
    assert hours[23].by_verdict == {"VALID": 1, "REFUSED": 0, "UNCERTAIN": 1}
    assert hours[0].by_verdict == {"VALID": 0, "REFUSED": 1, "UNCERTAIN": 0}
    assert hours[2].by_verdict == {"VALID": 1, "REFUSED": 1, "UNCERTAIN": 0}
    assert sum(h.total for h in hours) == 5
    assert refused == [stats.ReasonCount("EXPIRED", 2)]
    assert sum(h.total for h in other) == 0


def test_an_application_counts_on_the_day_it_was_submitted_not_when_completed(client, web_world) -> None:
    async def work(session):
        app = await _application(session, web_world, at("2026-11-18 10:00"))
        await request_information(session, application_id=app.id, reviewer_id=USER_IDS["reviewer"],
                                  reason="Carte grise ?", clock=FixedClock(at("2026-11-19 10:00")))
        await provide_information(session, application_id=app.id, actor_id=USER_IDS["pro"],
                                  clock=FixedClock(at("2026-11-20 10:00")))

    run(web_world, work)
    login(client, "reviewer")
    days = dict(read_csv(client, "demandes-par-jour")[1:])
    assert days["18/11/2026"] == "1" and days["20/11/2026"] == "0"


def test_half_hour_time_zones_are_bucketed_by_quarter_hours() -> None:
    period = stats.period_ending(at("2026-11-23 12:00"), 7, "Asia/Kolkata")
    assert stats.bucket_seconds(period) == 900
    assert stats.bucket_seconds(stats.period_ending(at("2026-11-23 12:00"), 30, "Europe/Paris")) == 3600


def test_the_authoritys_time_zone_is_used_and_a_broken_one_falls_back_to_paris() -> None:
    from cirqliz.db.models import Organisation

    def org(tz):
        return Organisation(kind="authority", code="x", name="X", time_zone=tz, created_at=WEB_T0)

    assert stats.authority_time_zone(org("America/Cayenne")) == "America/Cayenne"
    assert stats.authority_time_zone(org(None)) == "Europe/Paris"
    assert stats.authority_time_zone(org("Mars/Olympus")) == "Europe/Paris"
    assert stats.authority_time_zone(org("../etc")) == "Europe/Paris"
    # 23:30 in Cayenne (UTC-3) on Monday is Tuesday 02:30 UTC: still Monday there.
    period = stats.period_ending(at("2026-11-24 02:30"), 7, "America/Cayenne")
    assert period.last.isoformat() == "2026-11-23"


def test_period_parsing() -> None:
    assert stats.parse_period(None) == 7 and stats.parse_period("30") == 30 and stats.parse_period(" 7 ") == 7
    for bad in ("0", "14", "-7", "7.0", "trente"):
        with pytest.raises(DomainError, match="période inconnue"):
            stats.parse_period(bad)
