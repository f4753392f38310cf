"""Issue 4's acceptance in Chromium, through the pages only: a new company registers itself, adds a
vehicle, applies for PARIS-CENTRE; a reviewer approves; the company downloads the PNG of its pass,
which zxing-cpp decodes and `cirqliz verify` (a subprocess) accepts with the bundle an admin
published from the back office. Then a rejection after a request for more information, and a
revocation that the next published bundle carries (`cirqliz verify`: REVOKED; the agents' scanner
too, filming the same pass with a fake camera).

Screenshots of the pages go to tests/artifacts/screenshots/web-*.png (git-ignored); with
CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 a curated dozen is also written, as small PNGs, to docs/images/
for the guides (docs/guide-*.md). Every wait is an explicit Playwright wait.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cirqliz.demo.seed import AUTHORITY_CODE, ZONE_IDS

from .harness import (
    DOC_IMAGES,
    LIVE_T0,
    LiveServer,
    launch_chromium,
    sign_in,
    sign_in_with,
    update_doc_screenshots,
    write_doc_image,
    write_y4m,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip (or fail with CIRQLIZ_REQUIRE_BROWSER=1) and say why
    expect = None

TIMEOUT = 15_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHECK_AT = LIVE_T0 + timedelta(minutes=30)  # Monday 09:30 in Paris: inside PARIS-CENTRE's hours
TODAY = "2026-11-23"  # the live server's day (FixedClock at LIVE_T0)
LAST_DAY = "2026-12-22"
CLI = Path(sys.executable).with_name("cirqliz")
LOCAL = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)")

COMPANY = "Livraisons Rapides du Centre"
SIREN = "732829320"
PERSON = "Camille Martin"
EMAIL = "camille.martin@livraisons-rapides.example.fr"
PASSWORD = "Colis-2026-rapides"
PLATE = "FR-482-TZ"
FLEET_CSV = (
    "plaque;categorie;critair;energie;poids_kg;longueur_cm\n"
    "GB-204-LM;N2;2;diesel;7500;820\n"
    "HK-317-PR;N1;0;electric;3100;540\n"
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class Journey:
    """What the tests of this module hand on to each other (the pass of the main path)."""

    playwright: Any
    browser: Any
    base: str
    screenshots: Path
    folder: Path
    pages: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    pass_id: str | None = None
    serial: str | None = None
    png: Path | None = None
    agent: Any = None
    clock: Any = None

    def later(self, minutes: int = 1) -> None:
        """Let the server's (fixed) clock move on between two people's steps. Steps at one same
        instant show in a random order in an application's history (ties are ordered by a random
        uuid in transitions_of): reported, not hidden here."""
        self.clock.advance(timedelta(minutes=minutes))

    def page(self, who: str) -> Any:
        """A desktop page in a browser context of its own (one person's cookies); foreign requests
        (map tiles) are aborted, page errors and server errors (5xx) collected in `errors`."""
        if who not in self.pages:
            context = self.browser.new_context(viewport=DESKTOP, locale="fr-FR", timezone_id="Europe/Paris",
                                               accept_downloads=True)
            context.route(LOCAL, lambda route: route.abort())
            page = context.new_page()
            page.on("pageerror", lambda exc: self.errors.append(f"{who}: {exc}"))
            page.on("response", lambda r: self.errors.append(f"{who}: {r.status} {r.url}") if r.status >= 500 else None)
            self.pages[who] = page
        return self.pages[who]

    def shot(self, page: Any, name: str, *, doc: str | None = None, doc_from: str | None = None,
             full_page: bool = True) -> None:
        """tests/artifacts/screenshots/web-NAME.png; with CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 also
        docs/images/DOC.png: what the viewport shows (from the element `doc_from` when given, at
        the top), as a small palette PNG."""
        page.screenshot(path=str(self.screenshots / f"web-{name}.png"), full_page=full_page)
        if doc and update_doc_screenshots():
            if doc_from:
                page.locator(doc_from).first.evaluate("element => element.scrollIntoView({block: 'start'})")
            write_doc_image(page.screenshot(full_page=False), DOC_IMAGES / f"{doc}.png")


@pytest.fixture(scope="module")
def journey(playwright_sync: Any, live_server: LiveServer, screenshots: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Any:
    browser = launch_chromium(playwright_sync)
    expect.set_options(timeout=TIMEOUT)
    state = Journey(playwright_sync, browser, live_server.base_url, screenshots, tmp_path_factory.mktemp("web"),
                    clock=live_server.clock)
    yield state
    if state.agent is not None:
        state.agent.context.browser.close()
    browser.close()


@pytest.fixture(autouse=True)
def _no_errors_yet(journey: Journey) -> None:
    """Each test asserts on the page and server errors of its own steps only."""
    journey.errors.clear()


@pytest.fixture(scope="module")
def company(journey: Journey) -> Any:
    """A new company registered through /inscription, then signed in (on /pro): its page."""
    base = journey.base
    pro = journey.page("pro")
    pro.goto(f"{base}/connexion")
    expect(pro.get_by_role("heading", name="Connexion")).to_be_visible()
    journey.shot(pro, "connexion")
    pro.get_by_role("link", name="Créer un compte entreprise").click()
    expect(pro).to_have_url(f"{base}/inscription")
    pro.get_by_label("Raison sociale").fill(COMPANY)
    pro.get_by_label("SIREN ou SIRET").fill(SIREN)
    pro.get_by_label("Vos prénom et nom").fill(PERSON)
    pro.get_by_label("Adresse électronique").fill(EMAIL)
    pro.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    pro.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    journey.shot(pro, "pro-inscription", doc="pro-inscription")
    pro.get_by_role("button", name="Créer le compte").click()
    # The same answer as for an address that already has an account (issue 14): then sign in.
    expect(pro.get_by_role("heading", name="Vérifiez votre boîte aux lettres")).to_be_visible()
    sign_in_with(pro, base, EMAIL, PASSWORD)
    expect(pro).to_have_url(f"{base}/pro")
    expect(pro.get_by_role("heading", name="Mon espace professionnel")).to_be_visible()
    assert journey.errors == []
    return pro


def _signed_in(journey: Journey, who: str, next_path: str) -> Any:
    page = journey.page(who)
    if not page.url.startswith(journey.base):
        sign_in(page, journey.base, who, next_path)
        expect(page).to_have_url(re.compile(re.escape(journey.base + next_path)))
    return page


def _publish(journey: Journey, folder: Path, *, screenshot: bool = False) -> tuple[int, Path, Path]:
    """The admin publishes from /autorite/publier; (seq, bundle file, root key file) as served."""
    admin = _signed_in(journey, "admin", "/autorite")
    admin.get_by_role("navigation").get_by_role("link", name="Publication").click()
    expect(admin.get_by_role("heading", name="Publication des données des agents")).to_be_visible()
    if screenshot:  # before publishing: the summary after it shows a bug (test_publish_summary_counts_the_keys)
        journey.shot(admin, "autorite-publication", doc="autorite-publication")
    admin.get_by_role("button", name="Publier maintenant").click()
    done = admin.get_by_role("status").filter(has_text="effectuée")
    expect(done).to_be_visible()
    seq = int(re.search(r"Publication n° (\d+) effectuée", done.inner_text()).group(1))
    bundle = admin.context.request.get(f"{journey.base}/bundle/{AUTHORITY_CODE}.cose")
    assert bundle.ok and bundle.headers["x-bundle-seq"] == str(seq)
    root = admin.context.request.get(f"{journey.base}/bundle/{AUTHORITY_CODE}/root.pem")
    assert root.ok and root.text().startswith("-----BEGIN PUBLIC KEY-----")
    bundle_file, root_file = folder / f"bundle-{seq}.cose", folder / "root.pem"
    bundle_file.write_bytes(bundle.body())
    root_file.write_bytes(root.body())
    return seq, bundle_file, root_file


def _verify(image: Path, bundle: Path, root: Path) -> tuple[int, dict[str, Any]]:
    """`cirqliz verify --image … --json` as a subprocess: (exit code, verdict)."""
    assert CLI.exists(), f"no {CLI}: install the project in its virtual environment (pip install -e .)"
    done = subprocess.run(
        [str(CLI), "verify", "--image", str(image), "--bundle", str(bundle), "--zone", "PARIS-CENTRE",
         "--at", CHECK_AT.isoformat(), "--root", str(root), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def _open_in_queue(journey: Journey, reviewer: Any, plate: str) -> None:
    """From the reviewer's dashboard, open the submitted application of the company for `plate`."""
    reviewer.goto(f"{journey.base}/autorite")
    reviewer.get_by_role("link", name="Instruire les demandes").click()
    expect(reviewer.get_by_role("heading", name="Demandes à instruire")).to_be_visible()
    # The back office shows plates as printed (FR-482-TZ), as the company's pages do.
    row = reviewer.get_by_role("row").filter(has_text=COMPANY).filter(has_text=plate)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=COMPANY).click()
    expect(reviewer.get_by_role("heading", name=f"Demande de {COMPANY}")).to_be_visible()


def _apply(journey: Journey, pro: Any, plate: str, purpose: str, comment: str = "") -> str:
    """Fill the application form for PARIS-CENTRE, check eligibility, submit; the application's URL."""
    pro.get_by_role("navigation").get_by_role("link", name="Nouvelle demande").click()
    expect(pro.get_by_role("heading", name="Demander un laissez-passer")).to_be_visible()
    pro.locator(f"#zone-{ZONE_IDS['PARIS-CENTRE']}").check()
    pro.get_by_role("checkbox", name=re.compile(plate)).check()
    pro.get_by_label("Motif", exact=True).select_option(label=purpose)
    pro.get_by_label("Du", exact=True).fill(TODAY)
    pro.get_by_label("Au (inclus)").fill(LAST_DAY)
    if comment:
        pro.get_by_label("Commentaire pour l'instructeur (facultatif)").fill(comment)
    if plate == PLATE:
        journey.shot(pro, "pro-demande-formulaire", doc="pro-demande", doc_from="h1")
    pro.get_by_role("button", name="Vérifier l'éligibilité").click()
    expect(pro).to_have_url(re.compile(r"/pro/demandes/[0-9a-f-]{36}\?ok=brouillon"))
    expect(pro.get_by_text("Éligible : chaque véhicule remplit les conditions")).to_be_visible()
    if plate == PLATE:
        journey.shot(pro, "pro-demande-eligibilite")
    pro.get_by_role("button", name="Déposer la demande").click()
    expect(pro.get_by_role("status")).to_have_text("Demande déposée : elle est maintenant en cours d'instruction.")
    expect(pro.get_by_role("heading", level=1)).to_contain_text("Déposée")
    return pro.url.split("?")[0]


def test_company_registers_applies_is_approved_and_its_pass_verifies(
    journey: Journey, company: Any, live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import zxingcpp
    from PIL import Image

    base, pro = journey.base, company
    folder = tmp_path_factory.mktemp("main-path")
    journey.shot(pro, "pro-tableau-de-bord-vide")

    # A vehicle through the form.
    pro.get_by_role("link", name="Ajouter un véhicule").click()
    expect(pro.get_by_role("heading", name="Ajouter un véhicule")).to_be_visible()
    pro.get_by_label("Immatriculation").fill(PLATE)
    pro.get_by_label("Catégorie").select_option("N1")
    pro.get_by_label("Vignette Crit'Air").select_option("1")
    pro.get_by_label("Énergie").select_option("diesel")
    pro.get_by_label("Poids total autorisé en charge (kg, facultatif)").fill("3 500")
    journey.shot(pro, "pro-vehicule-formulaire")
    pro.get_by_role("button", name="Enregistrer").click()
    expect(pro).to_have_url(f"{base}/pro/vehicules?ok=vehicule")
    expect(pro.get_by_role("status")).to_have_text("Véhicule enregistré.")
    expect(pro.get_by_role("row").filter(has_text=PLATE)).to_contain_text("Crit'Air 1")

    # The application, for today (the server's clock) and 30 days.
    app_url = _apply(journey, pro, PLATE, "Livraison", "Livraisons de colis aux commerces de la rue de Rivoli.")
    journey.later()

    # The reviewer approves it.
    reviewer = _signed_in(journey, "reviewer", "/autorite")
    reviewer.goto(f"{base}/autorite/demandes")
    journey.shot(reviewer, "autorite-demandes", doc="autorite-demandes")
    _open_in_queue(journey, reviewer, PLATE)
    expect(reviewer.locator(".decisions")).to_contain_text("recevable")
    journey.shot(reviewer, "autorite-demande", doc="autorite-instruction")
    reviewer.get_by_label("Commentaire (facultatif)").fill("Conforme aux règles de la zone.")
    reviewer.get_by_role("button", name="Accepter et émettre les laissez-passer").click()
    expect(reviewer.get_by_role("status")).to_have_text("Demande acceptée : les laissez-passer sont émis.")
    expect(reviewer.get_by_role("heading", name="Laissez-passer émis")).to_be_visible()

    # The company sees it accepted, with its history, and opens its pass.
    pro.goto(app_url)
    expect(pro.get_by_role("heading", level=1)).to_contain_text("Acceptée")
    timeline = pro.locator("ol.timeline")
    expect(timeline).to_contain_text("Demande déposée")
    expect(timeline).to_contain_text("Demande acceptée")
    expect(timeline).to_contain_text("par Iris Instructrice")
    journey.shot(pro, "pro-demande-suivi", doc="pro-suivi", doc_from="h1")
    pro.get_by_role("region", name="Laissez-passer délivrés").get_by_role("link").click()
    expect(pro.get_by_role("heading", level=1)).to_contain_text("Valide")
    journey.pass_id = pro.url.rsplit("/", 1)[1]
    journey.serial = pro.locator("h1 code").inner_text()
    assert re.fullmatch(r"[0-9A-F]{16}", journey.serial), journey.serial
    journey.shot(pro, "pro-laissez-passer", doc="pro-laissez-passer")

    # The PNG, downloaded as the company does; zxing-cpp reads the pass text in it.
    with pro.expect_download() as download:
        pro.get_by_role("link", name="Image PNG (écran)").click()
    assert download.value.suggested_filename == f"laissez-passer-{journey.serial}.png"
    png = folder / download.value.suggested_filename
    download.value.save_as(png)
    # One code, one text: zxing-cpp can report the same symbol twice for some module patterns.
    (decoded_text,) = {result.text for result in zxingcpp.read_barcodes(Image.open(png))}
    assert decoded_text.startswith("CQ1:"), decoded_text[:10]
    journey.png = png

    # Phone and printable versions.
    phone = pro.context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(f"{base}/pro/laissez-passer/{journey.pass_id}/telephone")
    expect(phone.locator("p.plate")).to_have_text(PLATE)
    expect(phone.locator("img.qr")).to_have_js_property("complete", True)
    journey.shot(phone, "pro-laissez-passer-telephone", doc="pro-telephone", full_page=False)
    phone.goto(f"{base}/pro/laissez-passer/{journey.pass_id}/imprimer")
    expect(phone.locator(".qr svg")).to_be_visible()
    phone.set_viewport_size(DESKTOP)
    journey.shot(phone, "pro-laissez-passer-impression")
    phone.close()
    pro.goto(f"{base}/pro")
    expect(pro.get_by_role("row").filter(has_text=PLATE)).to_contain_text("Acceptée")
    journey.shot(pro, "pro-tableau-de-bord")

    # An admin publishes; the CLI verifies the downloaded image with that bundle and the root key.
    _seq, bundle, root = _publish(journey, folder, screenshot=True)
    journey.shot(journey.pages["admin"], "autorite-publication-effectuee")
    code, verdict = _verify(png, bundle, root)
    assert (code, verdict["status"], verdict["reason"]) == (0, "VALID", "VALID"), verdict
    assert verdict["claims"]["serial"].upper() == journey.serial
    assert verdict["claims"]["plate"] == PLATE.replace("-", "")

    # The agent's scanner, filming that same pass (fake camera), says VALID.
    agent = _agent_page(journey, decoded_text)
    assert _scan(agent) == ("VALID", "VALID")
    expect(agent.locator("#v-plate")).to_have_text(PLATE)
    journey.shot(agent, "agent-valide", doc="agent-valide", full_page=False)
    agent.click("#back")
    expect(agent.locator("#home")).to_be_visible()
    assert journey.errors == []


def _agent_page(journey: Journey, text: str) -> Any:
    """The scanner at phone size, signed in as the demo agent, in a Chromium whose fake camera
    films the QR code of `text`; zone PARIS-CENTRE chosen, bundle synced."""
    if journey.agent is None:
        y4m = write_y4m(text, journey.folder / "pass.y4m")
        browser = launch_chromium(journey.playwright, y4m)
        context = browser.new_context(viewport=PHONE, locale="fr-FR", timezone_id="Europe/Paris")
        context.grant_permissions(["camera"], origin=journey.base)
        context.clock.install(time=CHECK_AT)
        context.clock.resume()
        context.route(LOCAL, lambda route: route.abort())
        page = context.new_page()
        page.on("pageerror", lambda exc: journey.errors.append(f"agent: {exc}"))
        sign_in(page, journey.base, "agent", "/scan")
        page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
        page.select_option("#zone", "PARIS-CENTRE")
        journey.shot(page, "agent-accueil", doc="agent-accueil", full_page=False)
        journey.agent = page
    return journey.agent


def _scan(page: Any) -> tuple[str, str]:
    """Press the scan button and wait for the next verdict: (status, reason)."""
    before = int(page.evaluate("Number(document.body.dataset.verdicts ?? 0)"))
    page.click("#start")
    page.wait_for_function(f"() => Number(document.body.dataset.verdicts ?? 0) > {before}", timeout=TIMEOUT)
    data = page.evaluate("({...document.querySelector('#verdict').dataset})")
    return data["status"], data["reason"]


def test_rejection_after_a_request_for_more_information(journey: Journey, company: Any) -> None:
    base, pro = journey.base, company

    # Two more vehicles from a CSV file.
    pro.goto(f"{base}/pro/vehicules")
    pro.get_by_role("link", name="Importer un fichier CSV").click()
    expect(pro.get_by_role("heading", name="Importer une flotte (fichier CSV)")).to_be_visible()
    pro.get_by_label("Fichier CSV").set_input_files(
        {"name": "flotte.csv", "mimeType": "text/csv", "buffer": FLEET_CSV.encode("utf-8")})
    pro.get_by_role("button", name="Importer").click()
    expect(pro.get_by_role("status")).to_have_text("2 véhicule(s) enregistré(s).")
    journey.shot(pro, "pro-import-flotte")
    pro.get_by_role("link", name="Voir la flotte").click()
    expect(pro.get_by_role("row").filter(has_text=re.compile("GB-204-LM|HK-317-PR"))).to_have_count(2)
    journey.shot(pro, "pro-vehicules")

    app_url = _apply(journey, pro, "GB-204-LM", "Artisan, chantier")
    journey.later()

    # The reviewer asks a question; the company answers with a document; the reviewer rejects.
    reviewer = _signed_in(journey, "reviewer", "/autorite")
    _open_in_queue(journey, reviewer, "GB-204-LM")
    reviewer.get_by_label("Question au demandeur (obligatoire)").fill("Merci de joindre le devis du chantier.")
    reviewer.get_by_role("button", name="Demander un complément").click()
    expect(reviewer.get_by_role("status")).to_have_text("Complément demandé au demandeur.")
    journey.later()

    pro.goto(app_url)
    question = pro.get_by_role("region", name="Question de l'instructeur")
    expect(question).to_contain_text("Merci de joindre le devis du chantier.")
    question.get_by_label("Votre réponse").fill("Voici le devis signé ; le chantier est rue Saint-Denis.")
    question.get_by_label("Justificatifs à ajouter (facultatif)").set_input_files(
        {"name": "devis.pdf", "mimeType": "application/pdf", "buffer": PDF})
    journey.shot(pro, "pro-complement", doc="pro-complement", full_page=False)
    question.get_by_role("button", name="Envoyer le complément").click()
    expect(pro.get_by_role("status")).to_have_text("Complément envoyé : la demande retourne à l'instruction.")
    expect(pro.get_by_role("region", name="Justificatifs")).to_contain_text("devis.pdf")
    journey.later()

    _open_in_queue(journey, reviewer, "GB-204-LM")
    expect(reviewer.get_by_role("link", name="devis.pdf")).to_be_visible()
    reason = "Le chantier est hors du périmètre de la zone PARIS-CENTRE."
    reviewer.get_by_label("Motif du refus (obligatoire)").fill(reason)
    reviewer.get_by_role("button", name="Refuser").click()
    expect(reviewer.get_by_role("status")).to_have_text("Demande refusée. Le demandeur est informé du motif.")

    # The company sees "refusée" and the reason, in the summary and in its timeline.
    pro.goto(app_url)
    expect(pro.get_by_role("heading", level=1).locator(".badge")).to_have_text("Refusée")
    last = pro.locator("ol.timeline > li").last
    expect(last).to_contain_text("Demande refusée")
    expect(last.locator(".badge")).to_have_text("Refusée")
    expect(last.locator("blockquote")).to_have_text(reason)
    steps = pro.locator("ol.timeline > li strong")
    expect(steps).to_have_text(["Demande déposée", "Complément demandé par l'instructeur", "Complément fourni",
                                "Demande refusée"])
    expect(pro.get_by_role("region", name="Ce qui est demandé")).to_contain_text(reason)
    journey.shot(pro, "pro-demande-refusee")
    pro.goto(f"{base}/pro/demandes")
    expect(pro.get_by_role("row").filter(has_text="GB-204-LM")).to_contain_text("Refusée")
    assert journey.errors == []


def test_revocation_reaches_the_cli_and_the_scanner(journey: Journey, tmp_path_factory: pytest.TempPathFactory
                                                    ) -> None:
    if journey.pass_id is None or journey.png is None:
        pytest.skip("needs the pass issued by test_company_registers_applies_is_approved_and_its_pass_verifies")
    base = journey.base
    folder = tmp_path_factory.mktemp("revocation")

    # The admin finds the pass by its serial and revokes it, with a reason.
    admin = _signed_in(journey, "admin", "/autorite")
    admin.get_by_role("navigation").get_by_role("link", name="Laissez-passer").click()
    admin.get_by_label("Plaque ou numéro").fill(journey.serial)
    admin.get_by_role("button", name="Filtrer").click()
    admin.get_by_role("link", name=journey.serial).click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text(journey.serial)
    admin.get_by_label("Motif de la révocation (obligatoire, définitive)").fill("Véhicule déclaré volé.")
    admin.get_by_role("button", name="Révoquer définitivement").click()
    expect(admin.get_by_role("status")).to_have_text(
        "Laissez-passer révoqué. Publiez les données pour que les agents le refusent.")
    expect(admin.locator("dl.facts")).to_contain_text("« Véhicule déclaré volé. »")
    journey.shot(admin, "autorite-laissez-passer-revoque")

    # Until the next publication, nothing changes for the agents; then the CLI says REVOKED.
    _seq, bundle, root = _publish(journey, folder)
    code, verdict = _verify(journey.png, bundle, root)
    assert (code, verdict["status"], verdict["reason"]) == (1, "REFUSED", "REVOKED"), verdict

    # The company sees it revoked; the agent's scanner, once synced, refuses it.
    pro = journey.pages["pro"]
    pro.goto(f"{base}/pro/laissez-passer/{journey.pass_id}")
    expect(pro.get_by_role("heading", level=1)).to_contain_text("Révoqué")
    expect(pro.get_by_text("Ce laissez-passer n'est plus utilisable")).to_be_visible()
    if journey.agent is not None:
        agent = journey.agent
        agent.click("#sync")
        agent.wait_for_function(f"() => document.body.dataset.bundleSeq === '{_seq}'", timeout=TIMEOUT)
        assert _scan(agent) == ("REFUSED", "REVOKED")
        expect(agent.locator("#v-status")).to_have_text("REFUSÉ")
        journey.shot(agent, "agent-refuse", doc="agent-refuse", full_page=False)
        agent.click("#back")
        agent.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)
        admin.goto(f"{base}/autorite/controles")
        expect(admin.get_by_role("row").filter(has_text="Laissez-passer révoqué par l")).to_have_count(1)
        journey.shot(admin, "autorite-controles")
    assert journey.errors == []


def test_back_office_zones_keys_and_audit(journey: Journey) -> None:
    base = journey.base
    admin = _signed_in(journey, "admin", "/autorite")
    admin.goto(f"{base}/autorite")
    expect(admin.get_by_role("heading", name="Ville de Démo")).to_be_visible()
    journey.shot(admin, "autorite-tableau-de-bord")

    # Zones: the list, then a new zone drawn on the map, a rule, activation.
    admin.get_by_role("navigation").get_by_role("link", name="Zones").click()
    expect(admin.get_by_role("row").filter(has_text="PARIS-CENTRE")).to_contain_text("lun.–sam. 7 h–13 h")
    journey.shot(admin, "autorite-zones")
    admin.get_by_role("link", name="Nouvelle zone").click()
    admin.get_by_label("Code").fill("HALLES-LIVRAISONS")
    admin.get_by_label("Nom", exact=True).fill("Les Halles — livraisons")
    admin.get_by_label("Type de zone").select_option("limited_traffic")
    area = admin.locator("#zone-map.leaflet-container")
    expect(area).to_be_visible()
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    for dx, dy in ((0.35, 0.3), (0.65, 0.3), (0.7, 0.65), (0.3, 0.7)):
        admin.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
    expect(admin.locator("#geojson")).to_have_value(re.compile(r'^\{"type":"Polygon"'))
    expect(admin.locator("#zone-map path.leaflet-interactive")).to_have_count(5)  # 4 vertices, 1 polygon
    journey.shot(admin, "autorite-zone-nouvelle", doc="autorite-zone-carte", full_page=False)
    admin.get_by_role("button", name="Créer la zone (brouillon)").click()
    expect(admin.get_by_role("status")).to_have_text(
        "Zone créée (brouillon) : ajoutez ses règles d'accès puis activez-la.")
    expect(admin.get_by_role("heading", level=1)).to_have_text("HALLES-LIVRAISONS — Les Halles — livraisons")

    admin.get_by_label("Nom de la règle").fill("Livraisons du matin")
    # The hours form (issue 17): days and times, no OpenStreetMap syntax.
    add_rule = admin.locator('form[action$="/regles"]')
    add_rule.get_by_label("Selon les jours et les heures ci-dessous").check()
    for day in range(5):
        add_rule.locator(f'input[name="w0_days"][value="{day}"]').check()
    add_rule.locator('input[name="w0_start"]').fill("07:00")
    add_rule.locator('input[name="w0_end"]').fill("11:00")
    add_rule.locator('input[name="w1_days"][value="5"]').check()
    add_rule.locator('input[name="w1_start"]').fill("07:00")
    add_rule.locator('input[name="w1_end"]').fill("10:00")
    admin.get_by_role("checkbox", name="Livraison", exact=True).check()
    admin.get_by_label("Crit'Air maximal").select_option("2")
    admin.get_by_label("Durée maximale d'un laissez-passer (jours)").fill("90")
    admin.get_by_role("button", name="Ajouter la règle").click()
    expect(admin.get_by_role("status")).to_have_text("Règle d'accès ajoutée. Publiez les données pour les agents.")
    rule = admin.locator(".rule").filter(has_text="Livraisons du matin")
    expect(rule).to_contain_text("lun.–ven. 7 h–11 h ; sam. 7 h–10 h")
    expect(rule).to_contain_text("Crit'Air 2 au plus")
    admin.get_by_role("button", name="Activer").click()
    expect(admin.get_by_role("status")).to_have_text("Statut de la zone modifié. Publiez les données pour les agents.")
    expect(admin.locator("h1 + p .badge")).to_have_text("active")
    admin.locator("#regles").scroll_into_view_if_needed()
    journey.shot(admin, "autorite-zone-regles")

    # Keys and the audit trail (the zone's creation is in it, by Alice Admin).
    admin.get_by_role("navigation").get_by_role("link", name="Clés").click()
    expect(admin.get_by_role("heading", name="Clés de signature", level=1)).to_be_visible()
    expect(admin.get_by_role("row").filter(has_text="racine")).not_to_have_count(0)
    journey.shot(admin, "autorite-cles")
    admin.get_by_role("navigation").get_by_role("link", name="Journal").click()
    expect(admin.get_by_role("row").filter(has_text="HALLES-LIVRAISONS").first).to_contain_text("Alice Admin")
    journey.shot(admin, "autorite-journal")
    assert journey.errors == []


def test_publish_summary_counts_the_keys(journey: Journey, tmp_path_factory: pytest.TempPathFactory) -> None:
    _publish(journey, tmp_path_factory.mktemp("publish-summary"))
    summary = journey.pages["admin"].get_by_role("status").filter(has_text="effectuée").inner_text()
    # `published.keys` in Jinja is the dict's method: the template must index the key.
    assert re.search(r"clés : \d+", summary), summary
