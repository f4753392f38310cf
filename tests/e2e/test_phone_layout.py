"""The main journeys' pages on a 390 px phone and a 1280 px screen, in Chromium: no table scrolls
sideways inside its frame on a phone (its rows become cards, the <table> stays for wide screens and
assistive technologies), every button, field and disclosure is a 44 px target, and a long term in a
list of facts does not squeeze its value into a sliver on a wide screen; the printable pass keeps its
plate on one line on a phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from cirqliz.demo.seed import COMPANY_ID, ORGANISER_ID, USER_IDS, VEHICLES, ZONE_IDS

from .harness import LiveServer, issue_pass, launch_chromium, sign_in

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}
OWN_VEHICLES = [vehicle for vehicle in VEHICLES if vehicle[1] == COMPANY_ID]
SQUARE = ('{"type": "Polygon", "coordinates": [[[2.34, 48.85], [2.36, 48.85], [2.36, 48.87], [2.34, 48.87], '
          '[2.34, 48.85]]]}')

SCROLLING_TABLES = """() => [...document.querySelectorAll('.table-wrap')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.querySelector('caption') || e).textContent.trim().slice(0, 40)
               + ` ${e.scrollWidth}>${e.clientWidth}`)"""
SMALL_TARGETS = """() => [...document.querySelectorAll('button, .button, select, summary, '
        + 'input:not([type=checkbox]):not([type=radio]):not([type=hidden]):not([type=file]), label.pick')]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map(e => [e, e.getBoundingClientRect()])
    .filter(([, r]) => r.height < 44 - 0.5)
    .map(([e, r]) => `${e.tagName.toLowerCase()} « ${(e.innerText || e.name || '').trim().slice(0, 30)} »`
                     + ` ${Math.round(r.height)} px`)"""


@pytest.fixture(scope="module")
def issued(live_server: LiveServer) -> str:
    """A pass of the demo company's first vehicle (so that the passes list has a row): its id."""
    return str(issue_pass(live_server).id)


@pytest.fixture(scope="module")
def submitted(live_server: LiveServer, issued: str) -> str:
    """An application by the demo company for its three vehicles, with a comment, submitted: its id."""
    from cirqliz.domain.purposes import Purpose
    from cirqliz.issuance.applications import create_application, submit_application

    now = live_server.clock.now()

    async def work(session: Any) -> str:
        app = await create_application(
            session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"],
            zone_ids=[ZONE_IDS["PARIS-CENTRE"], ZONE_IDS["MARAIS-PIETON"]],
            vehicle_ids=[vehicle[0] for vehicle in OWN_VEHICLES], purpose=Purpose.DELIVERY,
            not_before=now + timedelta(days=1), expires_at=now + timedelta(days=30),
            comment="Livraisons quotidiennes du marché, deux passages par jour.", clock=live_server.clock,
        )
        await submit_application(session, application_id=app.id, actor_id=USER_IDS["pro"], clock=live_server.clock)
        return str(app.id)

    return live_server.run(work)


@pytest.fixture(scope="module")
def event(browser: Any, live_server: LiveServer) -> None:
    """The demo organiser's event, created with a perimeter and submitted through its pages."""
    with _page(browser, live_server, "organiser", "/organisateur", WIDE) as page:
        page.fill("#name", "Festival des Quais 2026")
        page.fill("#starts_at", "2026-12-01T08:00")
        page.fill("#ends_at", "2026-12-03T20:00")
        with page.expect_navigation():
            page.get_by_role("button", name="Créer l'événement (brouillon)").click()
        page.fill("#zone-name", "Quai de la scène")
        page.locator("input[name=level][value=red]").check()
        page.fill("#zone-start", "2026-12-01T10:00")
        page.fill("#zone-end", "2026-12-03T18:00")
        page.fill("#geojson", SQUARE)
        with page.expect_navigation():
            page.get_by_role("button", name="Ajouter le périmètre").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Soumettre l'événement").click()
        assert "ok=submitted" in page.url, page.url


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Iterator[Any]:
    chromium = launch_chromium(playwright_sync)
    yield chromium
    chromium.close()


@contextmanager
def _page(browser: Any, live_server: LiveServer, who: str, path: str, size: dict[str, int]) -> Iterator[Any]:
    """`path` signed in as `who` on a fresh phone or screen of `size`; the context closed afterwards."""
    context = browser.new_context(viewport=size, locale="fr-FR")
    try:
        page = context.new_page()
        sign_in(page, live_server.base_url, who, path)
        page.goto(live_server.base_url + path)
        yield page
    finally:
        context.close()


def test_the_vehicles_of_an_application_read_on_a_phone_without_scrolling_sideways(
        browser: Any, live_server: LiveServer, submitted: str) -> None:
    with _page(browser, live_server, "reviewer", f"/autorite/demandes/{submitted}", PHONE) as page:
        assert page.evaluate(SCROLLING_TABLES) == []
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
        rows = page.locator("table.vehicles tbody tr")
        assert rows.count() == len(OWN_VEHICLES)
        assert rows.first.inner_text().splitlines()[0].strip() == "AB-123-CD"  # the plate heads its card
        said = rows.first.evaluate("""tr => [...tr.cells].slice(1).map(td => getComputedStyle(td, '::before').content
            + ' ' + td.textContent.trim())""")  # each other value says its column
        assert said[:4] == ['"Catégorie : " N1 — camionnette, PTAC ≤ 3,5 t', '"Crit\'Air : " 1', '"Énergie : " Gazole',
                            '"Poids (kg) : " —']
        box = rows.first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_the_vehicles_stay_a_table_on_a_wide_screen(browser: Any, live_server: LiveServer, submitted: str) -> None:
    with _page(browser, live_server, "reviewer", f"/autorite/demandes/{submitted}", WIDE) as page:
        table = page.locator("table.vehicles")
        assert table.evaluate("t => getComputedStyle(t.querySelector('thead')).position") != "absolute"
        assert table.evaluate("t => getComputedStyle(t.querySelector('tbody tr')).display") == "table-row"
        assert page.get_by_role("columnheader", name="Énergie").is_visible()
        assert page.get_by_role("cell", name="AB-123-CD").is_visible()


@pytest.mark.parametrize(("who", "path"), [
    ("reviewer", "/autorite/demandes"),
    ("reviewer", "/autorite/laissez-passer"),
    ("admin", "/autorite/organisateurs"),
    ("admin", f"/autorite/organisateurs/{ORGANISER_ID}"),
    ("admin", "/autorite/evenements"),
    ("admin", "/autorite/taches"),
    ("organiser", "/organisateur"),
])
def test_the_lists_read_on_a_phone_without_scrolling_sideways(
        browser: Any, live_server: LiveServer, submitted: str, event: None, who: str, path: str) -> None:
    with _page(browser, live_server, who, path, PHONE) as page:
        assert page.locator(".table-wrap tbody tr").count() >= 1
        assert page.evaluate(SCROLLING_TABLES) == []


@pytest.mark.parametrize(("who", "path"), [
    ("reviewer", "/autorite/demandes"),  # the sign-out button, the filters' fields, the rows' checkboxes
    ("admin", "/autorite"),  # the charts' « Voir les chiffres »
    ("pro", "/pro/demandes/nouvelle"),
])
def test_buttons_fields_and_disclosures_are_44_px_targets_on_a_phone(
        browser: Any, live_server: LiveServer, submitted: str, who: str, path: str) -> None:
    with _page(browser, live_server, who, path, PHONE) as page:
        assert page.evaluate(SMALL_TARGETS) == []


def test_a_long_term_does_not_squeeze_its_value_on_a_wide_screen(
        browser: Any, live_server: LiveServer, submitted: str) -> None:
    with _page(browser, live_server, "reviewer", f"/autorite/demandes/{submitted}", WIDE) as page:
        widths = page.evaluate("""() => {
            const dl = document.querySelector('#h-request').parentElement.querySelector('dl');
            const dt = [...dl.querySelectorAll('dt')].find(dt => dt.textContent.includes('Commentaire'));
            const dd = dt.nextElementSibling;
            return [dd.getBoundingClientRect().width, dl.getBoundingClientRect().width];
        }""")
        assert widths[0] >= widths[1] / 2, widths


def test_the_printable_pass_keeps_its_plate_on_one_line_on_a_phone(
        browser: Any, live_server: LiveServer, issued: str) -> None:
    with _page(browser, live_server, "pro", f"/pro/laissez-passer/{issued}/imprimer", PHONE) as page:
        lines = page.evaluate("""() => { const range = document.createRange();
            range.selectNodeContents(document.querySelector('.plate'));
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; }""")
        assert lines == 1
        assert page.evaluate(SMALL_TARGETS) == []  # « Imprimer »
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_the_map_buttons_are_44_px_targets_on_a_phone(browser: Any, live_server: LiveServer) -> None:
    with _page(browser, live_server, "admin", f"/autorite/zones/{ZONE_IDS['PARIS-CENTRE']}", PHONE) as page:
        page.wait_for_selector(".zone-map .leaflet-control-zoom-in", timeout=20_000)
        heights = page.evaluate("""() => [...document.querySelectorAll('.zone-map .leaflet-bar a')]
            .map(a => Math.round(a.getBoundingClientRect().height))""")
        assert heights and min(heights) >= 44, heights  # Leaflet's own: 30 px
