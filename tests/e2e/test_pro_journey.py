"""Issue 17, the professional's journey to the end, in Chromium at 390 px and 1280 px:

1. sign-up with mistakes: every error at once, next to its field, what was typed kept;
2. a draft that is not eligible: no "Déposer la demande", the reason why; edited through the form,
   then eligible and submitted;
3. a reviewer revokes the pass with a reason: the company sees "Révoqué" and the reason, no QR code
   anywhere (the phone link answers 410 with a French page), and gets the e-mail;
4. the phone page works offline after a reload (its service worker), also with the server gone;
   signing out forgets it.

Each page is checked with axe-core (0 violations) and for raw English product words. Screenshots:
tests/artifacts/screenshots/pro-journey-*.png; with CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 also
docs/images/pro-*-390.png and -1280.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cirqliz.demo.seed import USER_IDS, VEHICLES, ZONE_IDS

from .harness import (
    DOC_IMAGES,
    LiveServer,
    issue_pass,
    launch_chromium,
    sign_in,
    start_live_server,
    update_doc_screenshots,
    write_doc_image,
)
from .page_audit import axe_violations, english_words

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail with CIRQLIZ_REQUIRE_BROWSER=1) and say why
    expect = None

TIMEOUT = 15_000
SIZES = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}
LOCAL = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)")
ZFE = ZONE_IDS["ZFE-GRAND-PARIS"]


class Person:
    """One person's browser context at one width, with page errors and server errors collected."""

    def __init__(self, browser: Any, base: str, width: str) -> None:
        self.context = browser.new_context(viewport=SIZES[width], locale="fr-FR", timezone_id="Europe/Paris")
        self.context.route(LOCAL, lambda route: route.abort())  # map tiles: no network in tests
        self.page = self.context.new_page()
        self.width = width
        self.base = base
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    def audit(self, name: str, screenshots: Path, *, doc: bool = True) -> None:
        """axe-core and raw English words on the current page, no horizontal overflow, a screenshot."""
        page = self.page
        violations = axe_violations(page)
        assert violations == [], (page.url, violations)
        visible = page.evaluate("() => document.body.innerText")
        assert english_words(visible) == [], (page.url, english_words(visible))
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (page.url, self.width, overflow)
        page.screenshot(path=str(screenshots / f"pro-journey-{name}-{self.width}.png"), full_page=True)
        if doc and update_doc_screenshots():
            write_doc_image(page.screenshot(full_page=False), DOC_IMAGES / f"pro-{name}-{self.width}.png")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Iterator[Any]:
    browser = launch_chromium(playwright_sync)
    expect.set_options(timeout=TIMEOUT)
    yield browser
    browser.close()


@pytest.mark.parametrize("width", list(SIZES))
def test_sign_up_shows_every_error_next_to_its_field(browser: Any, live_server: LiveServer, screenshots: Path,
                                                     width: str) -> None:
    person = Person(browser, live_server.base_url, width)
    page = person.page
    try:
        page.goto(f"{live_server.base_url}/inscription")
        page.get_by_label("Raison sociale").fill("Livraisons du Canal")
        page.get_by_label("SIREN ou SIRET").fill("732829321")  # wrong Luhn key
        page.get_by_label("Adresse électronique").fill("livraisons.canal.fr")
        page.get_by_label("Mot de passe", exact=True).fill("court")
        page.get_by_label("Mot de passe (confirmation)").fill("autre")
        page.get_by_role("button", name="Créer le compte").click()
        summary = page.locator("#erreurs")
        expect(summary).to_contain_text("Le compte n'a pas été créé")
        expect(summary.get_by_role("link")).to_have_count(5)  # name, number, person, address, both passwords
        for field, words in (("company_id", "Luhn"), ("display_name", "Indiquez vos prénom et nom"),
                             ("email", "Adresse électronique invalide"), ("password", "trop court"),
                             ("password_again", "pas identiques")):
            expect(page.locator(f"#{field}_error")).to_contain_text(words)
            expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#company_name_error")).to_have_count(0)
        expect(page.get_by_label("Raison sociale")).to_have_value("Livraisons du Canal")
        expect(page.get_by_label("Adresse électronique")).to_have_value("livraisons.canal.fr")
        expect(page.get_by_label("Mot de passe", exact=True)).to_have_value("")
        person.audit("inscription-erreurs", screenshots)
        assert person.errors == []
    finally:
        person.close()


def _register_old_van(server: LiveServer) -> Any:
    """A Crit'Air 4 van of the demo company: not eligible for the low-emission zone."""
    from cirqliz.issuance.vehicles import register_vehicle

    async def work(session: Any) -> Any:
        vehicle = await register_vehicle(session, organisation_id=VEHICLES[0][1], plate="GL-444-DD", category="N1",
                                         crit_air=4, energy="diesel", clock=server.clock, actor_id=USER_IDS["pro"])
        return vehicle.id

    return server.run(work)


def test_a_draft_is_edited_until_eligible_then_submitted(browser: Any, live_server: LiveServer,
                                                         screenshots: Path) -> None:
    base = live_server.base_url
    old_van = _register_old_van(live_server)
    for width in SIZES:
        person = Person(browser, base, width)
        page = person.page
        try:
            sign_in(page, base, "pro", "/pro/demandes/nouvelle")
            page.locator(f"#zone-{ZFE}").check()
            page.locator(f"#vehicle-{old_van}").check()
            page.get_by_role("button", name="Vérifier l'éligibilité").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Demande n°")
            expect(page.locator("#non-eligible")).to_contain_text(
                "GL-444-DD ne remplit pas les conditions de la zone ZFE-GRAND-PARIS")
            expect(page.get_by_role("button", name="Déposer la demande")).to_have_count(0)
            expect(page.locator("#depot-impossible")).to_be_visible()
            person.audit("brouillon-non-eligible", screenshots)

            page.get_by_role("link", name="Modifier le brouillon").first.click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Modifier le brouillon n°")
            page.locator(f"#vehicle-{old_van}").uncheck()
            page.locator(f"#vehicle-{VEHICLES[0][0]}").check()
            page.get_by_label("Commentaire pour l'instructeur (facultatif)").fill("Livraisons du matin.")
            person.audit("brouillon-modifier", screenshots)
            page.get_by_role("button", name="Vérifier l'éligibilité").click()
            expect(page.get_by_role("status").first).to_have_text(
                "Brouillon modifié. Vérifiez l'éligibilité puis déposez la demande.")
            expect(page.locator("#eligibilite")).to_contain_text("Éligible")
            page.get_by_role("button", name="Déposer la demande").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text("Déposée")
            expect(page.get_by_role("link", name="Modifier le brouillon")).to_have_count(0)
            assert person.errors == []
        finally:
            person.close()


def test_a_revoked_pass_says_so_everywhere_and_gives_no_qr_code(browser: Any, live_server: LiveServer,
                                                               screenshots: Path) -> None:
    base = live_server.base_url
    issued = issue_pass(live_server, vehicle=1)
    reviewer = Person(browser, base, "1280")
    try:
        sign_in(reviewer.page, base, "reviewer", f"/autorite/laissez-passer/{issued.id}")
        reviewer.page.get_by_label("Motif de la révocation (obligatoire, définitive)").fill("Véhicule vendu.")
        reviewer.page.get_by_role("button", name="Révoquer définitivement").click()
        expect(reviewer.page.get_by_role("status")).to_contain_text("Laissez-passer révoqué")
    finally:
        reviewer.close()
    from cirqliz.issuance.mail import Mailer

    mails = [m for m in Mailer.for_settings(live_server.settings).outbox() if "révoqué" in m.subject]
    assert any(issued.serial in m.body and "Motif : Véhicule vendu." in m.body and "EF-456-GH" in m.body
               and m.to == "pro@demo.cirqliz.fr" for m in mails), [m.subject for m in mails]

    for width in SIZES:
        person = Person(browser, base, width)
        page = person.page
        try:
            sign_in(page, base, "pro", f"/pro/laissez-passer/{issued.id}")
            expect(page.get_by_role("heading", level=1)).to_contain_text("Révoqué")
            expect(page.locator("#etat")).to_contain_text("« Véhicule vendu. »")
            expect(page.get_by_role("img", name=re.compile("Code QR"))).to_have_count(0)
            for name in ("Version téléphone (à présenter à l'écran)", "Image PNG (écran)", "Version imprimable A4"):
                expect(page.get_by_role("link", name=name)).to_have_count(0)
            expect(page.get_by_role("button", name="Renouveler")).to_have_count(0)
            person.audit("laissez-passer-revoque", screenshots)

            response = page.goto(f"{base}/pro/laissez-passer/{issued.id}/telephone")
            assert response is not None and response.status == 410
            expect(page.get_by_role("alert")).to_contain_text("Ce laissez-passer a été révoqué")
            expect(page.locator("img.qr")).to_have_count(0)
            person.audit("telephone-revoque", screenshots)

            page.goto(f"{base}/pro/laissez-passer?statut=revoked")
            expect(page.get_by_role("row", name=re.compile(issued.serial))).to_contain_text("Révoqué")
            person.audit("laissez-passer-liste", screenshots)
            assert person.errors == []
        finally:
            person.close()


def _wait_kept(page: Any) -> None:
    page.wait_for_function("() => document.body.dataset.offline === 'pret'", timeout=TIMEOUT)
    expect(page.locator("#hors-ligne")).to_have_text(
        "Enregistré sur ce téléphone : cette page s’affiche aussi sans réseau.")


def test_the_phone_page_shows_the_pass_offline_after_a_reload(browser: Any, screenshots: Path,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    """A server of its own, stopped while offline: the reload can only come from the phone."""
    server = start_live_server(tmp_path_factory.mktemp("offline"))
    person = Person(browser, server.base_url, "390")
    page = person.page
    try:
        issued = issue_pass(server)
        url = f"{server.base_url}/pro/laissez-passer/{issued.id}/telephone"
        sign_in(page, server.base_url, "pro", f"/pro/laissez-passer/{issued.id}/telephone")
        expect(page.locator(".plate")).to_have_text("AB-123-CD")
        _wait_kept(page)
        person.audit("telephone", screenshots)
        page.wait_for_function("async () => !!(await navigator.serviceWorker.ready).active", timeout=TIMEOUT)
        scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
        assert scope == f"{server.base_url}/pro/laissez-passer/"

        person.context.set_offline(True)
        server.stop()
        page.reload()
        assert page.url == url
        expect(page.locator(".plate")).to_have_text("AB-123-CD")
        expect(page.get_by_role("img", name=f"Code QR du laissez-passer {issued.serial}")).to_be_visible()
        assert page.evaluate("() => document.querySelector('img.qr').naturalWidth") > 100
        _wait_kept(page)  # the copy on the phone is said to be there, even offline
        expect(page.locator(".serial")).to_have_text(issued.serial)
        page.screenshot(path=str(screenshots / "pro-journey-telephone-hors-ligne-390.png"), full_page=True)
        if update_doc_screenshots():
            write_doc_image(page.screenshot(full_page=False), DOC_IMAGES / "pro-telephone-hors-ligne-390.png")
        # Other pages are not kept: only what the person opened.
        page.goto(f"{server.base_url}/pro/laissez-passer/00000000-0000-4000-9000-0000000000ff/telephone")
        expect(page.get_by_role("heading", level=1)).to_have_text("Pas de réseau")
    finally:
        person.close()
        server.stop()


def test_signing_out_forgets_the_passes_kept_on_the_phone(browser: Any, live_server: LiveServer) -> None:
    base = live_server.base_url
    issued = issue_pass(live_server, vehicle=2)
    person = Person(browser, base, "390")
    page = person.page
    try:
        sign_in(page, base, "pro", f"/pro/laissez-passer/{issued.id}/telephone")
        _wait_kept(page)
        page.wait_for_function("async () => !!(await navigator.serviceWorker.ready).active", timeout=TIMEOUT)
        assert page.evaluate("async () => (await caches.keys())") == ["cirqliz-passes"]
        page.goto(f"{base}/pro")
        with page.expect_navigation():
            page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_role("link", name="Se connecter").first).to_be_visible()
        assert page.evaluate("async () => (await caches.keys())") == []
        assert page.evaluate("async () => (await navigator.serviceWorker.getRegistrations()).length") == 0
        # Signed out, the pass page sends to sign-in and shows no QR code.
        page.goto(f"{base}/pro/laissez-passer/{issued.id}/telephone")
        expect(page).to_have_url(re.compile(r"/connexion"))
        expect(page.locator("img.qr")).to_have_count(0)
        assert person.errors == []
    finally:
        person.close()
