"""The authority's dashboard with a month of activity, in Chromium at 390 px and 1280 px: the five
charts are drawn, axe-core finds no violation (CSP kept), nothing overflows a phone, and the CSV
link downloads a French file.

The page audit (test_every_page.py) crawls the dashboard too, but over the bare demo world, where
every chart shows its empty state; this test gives the charts data. With
CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 it also writes docs/images/autorite-tableau-de-bord-390.png and
-1280.png.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cirqliz.demo.seed import COMPANY_ID, USER_IDS, VEHICLES, ZONE_IDS
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance.applications import create_application, reject_application, submit_application
from cirqliz.issuance.passes import record_check
from cirqliz.web import charts

from .harness import (
    DOC_IMAGES,
    issue_pass,
    launch_chromium,
    sign_in,
    update_doc_screenshots,
    write_doc_image,
)
from .page_audit import axe_violations, english_words

pytestmark = pytest.mark.e2e
PARIS = ZoneInfo("Europe/Paris")
HOURS = (7, 7, 8, 8, 8, 9, 9, 10, 10, 11, 12, 14, 15, 16, 17, 17, 18, 19, 22, 23)
REFUSALS = ("REVOKED", "EXPIRED", "OUTSIDE_HOURS", "OUTSIDE_HOURS", "WRONG_ZONE", "PLATE_MISMATCH")
REJECTIONS = ("Justificatif illisible", "Véhicule non éligible dans cette zone", "Demande en double",
              "Justificatif illisible")


def seed_activity(server) -> None:
    """A month of checks by the demo agent, applications (some refused) and passes in two zones."""
    now = server.clock.now()
    today = now.astimezone(PARIS).date()
    rng = random.Random(17)
    for vehicle, zones in ((0, ("PARIS-CENTRE",)), (1, ("PARIS-CENTRE", "MARAIS-PIETON")), (2, ("PARIS-CENTRE",))):
        issue_pass(server, zones=zones, vehicle=vehicle)

    async def work(session) -> None:
        for back in range(30):
            day = today - timedelta(days=back)
            for _ in range(rng.randint(4, 18)):
                when = datetime.combine(day, time(rng.choice(HOURS), rng.randint(0, 59)), PARIS)
                if when >= now:
                    continue
                verdict = rng.choices(("VALID", "REFUSED", "UNCERTAIN"), (76, 17, 7))[0]
                reason = {"VALID": "VALID", "REFUSED": rng.choice(REFUSALS), "UNCERTAIN": "STALE_BUNDLE"}[verdict]
                await record_check(session, check_id=uuid.uuid4(), agent_id=USER_IDS["agent"], checked_at=when,
                                   verdict=verdict, reason_code=reason, zone_id=ZONE_IDS["PARIS-CENTRE"],
                                   clock=server.clock)
            for n in range(rng.choice((0, 1, 1, 2, 3))):
                when = datetime.combine(day, time(8 + 3 * n, 15), PARIS)
                if when >= now:
                    continue
                clock = type(server.clock)(when)
                app = await create_application(
                    session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"],
                    zone_ids=[ZONE_IDS["PARIS-CENTRE"]], vehicle_ids=[VEHICLES[n % 3][0]],
                    purpose=Purpose.DELIVERY, not_before=now, expires_at=now + timedelta(days=20), clock=clock)
                await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=clock)
                if rng.random() < 0.4:
                    await reject_application(session, application_id=app.id, reviewer_id=USER_IDS["reviewer"],
                                             reason=rng.choice(REJECTIONS), clock=clock)

    server.run(work)


@pytest.fixture(scope="module")
def busy_server(live_server):
    """The live server with a month of activity."""
    seed_activity(live_server)
    return live_server


@pytest.mark.parametrize("width", [390, 1280])
def test_the_dashboard_charts_are_accessible_and_fit(busy_server, playwright_sync, screenshots, width: int) -> None:
    browser = launch_chromium(playwright_sync)
    try:
        context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900}, accept_downloads=True)
        page = context.new_page()
        sign_in(page, busy_server.base_url, "admin", "/autorite")
        problems = []
        for path in ("/autorite", "/autorite?periode=30"):
            page.goto(busy_server.base_url + path)
            assert page.locator("svg.chart-svg[role=img]").count() == 5, path
            page.locator("details.chart-data summary").first.click()  # an open table is audited too
            problems += [f"{path}: axe {v['id']} ({v['impact']}): {v['help']} — {v['targets'][:3]}"
                         for v in axe_violations(page)]
            problems += [f"{path}: mot anglais ou code brut : {w}" for w in english_words(page.inner_text("body"))]
            name = "autorite-tableau-de-bord" + ("-30" if "30" in path else "")
            (screenshots / f"{name}-{width}.png").write_bytes(page.screenshot(full_page=True))
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 1:
                problems.append(f"{path}: déborde de {overflow} px en largeur")
            # Each chart fits its card and keeps a readable type size.
            for box in page.eval_on_selector_all(
                    "svg.chart-svg", "els => els.map(e => [e.getBoundingClientRect().width, "
                                     "e.closest('.card').getBoundingClientRect().width])"):
                assert box[0] <= box[1], box
                assert box[0] / charts.WIDTH * charts.FONT >= 10.5, f"chart text under 10.5 px at {width} px: {box}"
        assert not problems, "\n".join(problems)
        page.goto(busy_server.base_url + "/autorite")
        shot = page.screenshot(full_page=True)
        if update_doc_screenshots():
            write_doc_image(shot, DOC_IMAGES / f"autorite-tableau-de-bord-{width}.png", max_bytes=250_000)
        with page.expect_download() as download:
            page.locator("a[href^='/autorite/tableau-de-bord/controles-par-heure.csv']").click()
        content = open(download.value.path(), "rb").read()
        assert content.startswith("\ufeffHeure;Valide;Refusé;À vérifier;Total".encode())
        context.close()
    finally:
        browser.close()
