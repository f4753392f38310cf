"""Issue 16 in Chromium: an authority admin maintains a zone from the back office — redraws its
perimeter on the map, sets its restriction schedule with the hours form (no OpenStreetMap syntax)
and edits one of its access rules — then publishes; the published bundle carries the new perimeter
and schedule, and the pages say the hours in French. Then a Cerema order kept without geometry is
placed on the map and becomes a zone. Every page is walked at 1280 px and 390 px: no horizontal
overflow, no axe-core violation, no raw English value.

Screenshots go to tests/artifacts/screenshots/zone-*.png; with CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 also
to docs/images/zone-*.png (small PNGs, for the authorities' guide).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cirqliz.demo.seed import AUTHORITY_ID, USER_IDS, ZONE_IDS
from cirqliz.domain.windows import TimeWindow

from .harness import DOC_IMAGES, LiveServer, launch_chromium, sign_in, update_doc_screenshots, write_doc_image
from .page_audit import axe_violations, english_words

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail with CIRQLIZ_REQUIRE_BROWSER=1) and say why
    expect = None

TIMEOUT = 15_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCAL = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)")
PARIS = ZONE_IDS["PARIS-CENTRE"]
CARROS = Path(__file__).parents[2] / ".." / "shared" / "data" / "cerema-marchandises" / "exemples" / "carros.csv"


class Walk:
    """One browser, a desktop and a phone page signed in as the demo admin, and what went wrong."""

    def __init__(self, browser: Any, base: str, screenshots: Path) -> None:
        self.base, self.screenshots, self.errors = base, screenshots, []
        self.pages = {}
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris")
            context.route(LOCAL, lambda route: route.abort())  # map tiles and anything foreign
            page = context.new_page()
            page.on("pageerror", lambda exc, n=name: self.errors.append(f"{n}: {exc}"))
            page.on("response", lambda r, n=name: self.errors.append(f"{n}: {r.status} {r.url}")
                    if r.status >= 500 else None)
            sign_in(page, base, "admin", "/autorite/zones")
            self.pages[name] = page

    @property
    def desktop(self) -> Any:
        return self.pages["desktop"]

    def check(self, path: str, shot: str) -> None:
        """Open `path` on both pages: no overflow, no axe violation, no raw English; screenshots."""
        for name, page in self.pages.items():
            page.goto(self.base + path)
            expect(page.locator("main h1")).to_be_visible()
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name} {path}: {overflow} px of horizontal overflow"
            violations = axe_violations(page)
            assert violations == [], f"{name} {path}: {violations}"
            words = english_words(page.locator("main").inner_text())
            assert words == [], f"{name} {path}: {words}"
            png = page.screenshot(full_page=True)
            (self.screenshots / f"zone-{shot}-{name}.png").write_bytes(png)
            if update_doc_screenshots():
                write_doc_image(page.screenshot(full_page=False), DOC_IMAGES / f"zone-{shot}-{name}.png")


@pytest.fixture(scope="module")
def walk(playwright_sync: Any, live_server: LiveServer, screenshots: Path) -> Any:
    browser = launch_chromium(playwright_sync)
    expect.set_options(timeout=TIMEOUT)
    try:
        yield Walk(browser, live_server.base_url, screenshots)
    finally:
        browser.close()


def _click_square(page: Any) -> None:
    area = page.locator("#zone-map.leaflet-container")
    expect(area).to_be_visible()
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    for dx, dy in ((0.4, 0.35), (0.6, 0.35), (0.6, 0.6), (0.4, 0.6)):
        page.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
    expect(page.locator("#geojson")).to_have_value(re.compile(r'^\{"type":"Polygon"'))


def test_edit_perimeter_schedule_and_rule_then_publish(walk: Walk, live_server: LiveServer) -> None:
    page, base = walk.desktop, walk.base
    walk.check("/autorite/zones", "liste")
    walk.check(f"/autorite/zones/{PARIS}", "page")
    before = live_server.keystore.latest_bundle()
    [old] = [z for z in before.content.zones if z.code == "PARIS-CENTRE"]

    # 1. The restriction schedule, with the hours form: Monday to Friday, 8:00–20:00, except holidays.
    page.goto(f"{base}/autorite/zones/{PARIS}")
    form = page.locator('form[action$="/horaires"]')
    form.get_by_label("Selon les jours et les heures ci-dessous").check()
    for day in range(5):
        form.locator(f'input[name="w0_days"][value="{day}"]').check()
    form.get_by_label("De", exact=True).first.fill("08:00")
    form.get_by_label("À", exact=True).first.fill("20:00")
    form.get_by_label("Sauf les jours fériés").check()
    form.get_by_role("button", name="Enregistrer les horaires").click()
    expect(page.get_by_role("status")).to_contain_text("Horaires de la réglementation enregistrés")
    expect(page.locator(".restriction")).to_have_text("Réglementée : lun.–ven. 8 h–20 h, sauf jours fériés")

    # 2. The perimeter, redrawn on the map.
    page.get_by_role("link", name="Modifier le périmètre").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Périmètre de PARIS-CENTRE")
    _click_square(page)
    page.screenshot(path=str(walk.screenshots / "zone-perimetre-trace.png"))
    if update_doc_screenshots():
        write_doc_image(page.screenshot(full_page=False), DOC_IMAGES / "zone-perimetre-trace.png")
    page.get_by_role("button", name="Enregistrer le périmètre").click()
    expect(page.get_by_role("status")).to_contain_text("Périmètre enregistré")

    # 3. A rule: its hours become Monday to Friday 7:00–11:00, its name changes.
    page.locator(".rule").first.get_by_role("link", name=re.compile("Modifier ou supprimer")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Règle d'accès")
    page.get_by_label("Nom de la règle").fill("Livraisons du matin")
    rule_form = page.locator('form.form').first
    rule_form.get_by_label("Selon les jours et les heures ci-dessous").check()
    for day in range(7):
        box = rule_form.locator(f'input[name="w0_days"][value="{day}"]')
        box.set_checked(day < 5)
    for i in range(1, 3):
        for day in range(7):
            rule_form.locator(f'input[name="w{i}_days"][value="{day}"]').set_checked(False)
        rule_form.locator(f'input[name="w{i}_start"]').fill("")
        rule_form.locator(f'input[name="w{i}_end"]').fill("")
    rule_form.locator('input[name="w0_start"]').fill("07:00")
    rule_form.locator('input[name="w0_end"]').fill("11:00")
    rule_form.get_by_role("button", name="Enregistrer la règle").click()
    expect(page.get_by_role("status")).to_contain_text("Règle d'accès modifiée")
    card = page.locator(".rule").filter(has_text="Livraisons du matin")
    expect(card).to_contain_text("lun.–ven. 7 h–11 h")
    rule_url = card.get_by_role("link", name=re.compile("Modifier ou supprimer")).get_attribute("href")
    walk.check(rule_url, "regle")
    walk.check(f"/autorite/zones/{PARIS}/perimetre", "perimetre")

    # 4. Publish: the bundle carries the new perimeter and restriction schedule.
    page.goto(f"{base}/autorite/publier")
    page.get_by_role("button", name="Publier maintenant").click()
    expect(page.get_by_role("status").filter(has_text="effectuée")).to_be_visible()
    after = live_server.keystore.latest_bundle()
    assert after.seq == before.seq + 1
    [new] = [z for z in after.content.zones if z.code == "PARIS-CENTRE"]
    assert new.restriction == (TimeWindow(0b0011111, 480, 1200, skip_public_holidays=True),)
    assert new.geometry != old.geometry
    assert TimeWindow(0b0011111, 420, 660) in new.windows
    walk.check("/autorite/zones", "liste-apres")
    expect(walk.desktop.get_by_role("row").filter(has_text="PARIS-CENTRE")).to_contain_text(
        "lun.–ven. 8 h–20 h, sauf jours fériés")
    assert walk.errors == []


def test_place_an_order_kept_without_geometry(walk: Walk, live_server: LiveServer) -> None:
    if not CARROS.exists():
        pytest.skip(f"shared data missing: {CARROS}")
    from cirqliz.imports.cerema import import_cerema
    from cirqliz.issuance.zone_imports import apply_zone_records

    batch = import_cerema(CARROS.read_bytes())

    async def keep(session: Any) -> None:
        await apply_zone_records(session, authority_id=AUTHORITY_ID, records=batch, clock=live_server.clock,
                                 actor_id=USER_IDS["admin"], source="cerema")

    live_server.run(keep)
    page, base = walk.desktop, walk.base
    page.goto(f"{base}/autorite/zones")
    page.get_by_role("link", name="13 arrêtés à localiser").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Arrêtés à localiser")
    walk.check("/autorite/arretes", "arretes")
    page.goto(f"{base}/autorite/arretes")
    page.locator(".order").filter(has_text="Chemin des Baraques").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chemin des Baraques")
    walk.check(page.url.removeprefix(base), "arrete")
    _click_square(page)
    page.get_by_role("button", name="Créer la zone de cet arrêté").click()
    expect(page.get_by_role("status")).to_contain_text("Arrêté localisé")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ARR-06033-4")
    expect(page.locator(".provenance")).to_contain_text("arrêtés de circulation des marchandises (Cerema)")
    walk.check(page.url.removeprefix(base).split("?")[0], "arrete-zone")
    assert walk.errors == []
