"""Issue 15: the first-day guide (docs/premier-jour.md), followed literally on an empty PostgreSQL database.

The test reads the guide's ```bash blocks and runs them in order, as one terminal session would
(exported variables and the working directory carry over from one block to the next), after
replacing the example values the guide lists in its table (/srv/cirqliz, the database URL, the
public address, the port). The `cirqliz serve` block runs in the background. Between the blocks,
Chromium does what the guide's prose says: the administrator accepts the invitation printed by
`cirqliz authority create`, draws a zone, adds a rule, activates it and publishes; a company
registers, adds a vehicle and applies; the administrator (also a reviewer) approves; the agent
invited by `cirqliz user invite` opens /scan on a phone-sized page, syncs, and the fake camera
filming the company's pass gives VALIDE. No demo seed anywhere: the database holds only what the
journey created.

```sh blocks (packages, root, network) are not run. Screenshots go to tests/artifacts/screenshots/;
with CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 the guide's images are rewritten in docs/images/.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pg_databases import create_pg_database, drop_pg_database, pg_url, server_url

from .harness import (
    DOC_IMAGES,
    _free_port,
    launch_chromium,
    sign_in_with,
    update_doc_screenshots,
    write_doc_image,
    write_y4m,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the playwright_sync fixture skips (or fails with CIRQLIZ_REQUIRE_BROWSER=1) and says why
    expect = None

GUIDE = Path(__file__).parents[2] / "docs" / "premier-jour.md"
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
IMAGE = re.compile(r"!\[[^\]]*\]\((images/premier-jour-[a-z-]+\.png)\)")
INVITATION = re.compile(r"^Lien d'invitation : (\S+)$", re.MULTILINE)
# The guide's example values, as its table lists them, and what the test puts in their place.
GUIDE_DATABASE_URL = "postgresql+asyncpg://cirqliz:MOT_DE_PASSE_BDD@127.0.0.1:5432/cirqliz"
GUIDE_BASE_URL = "https://laissez-passer.ville-exemple.fr"
GUIDE_HOME = "/srv/cirqliz"
GUIDE_PORT = "--port 8000"

TIMEOUT = 20_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCAL = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)")  # map tiles and any other site: aborted

AUTHORITY = "ville-exemple"
AUTHORITY_NAME = "Ville d'Exemple"
ADMIN = ("Claire Responsable", "responsable@ville-exemple.fr", "Premier-jour-2026")
AGENT = ("Hugo Martin", "agent.martin@ville-exemple.fr", "Controle-rue-2026")
ZONE = ("CENTRE-VILLE", "Centre-ville — livraisons")
COMPANY = ("Primeurs du Marché", "732829320")
PRO = ("Léa Fontaine", "lea.fontaine@primeurs-du-marche.example.fr", "Cagettes-2026-fraiches")
PLATE = "GE-731-KX"


# ---- the terminal --------------------------------------------------------------------------------

def guide_blocks(text: str, replacements: dict[str, str]) -> list[str]:
    """The guide's ```bash blocks in order, with its example values replaced (each must occur)."""
    for example in replacements:
        assert example in text, f"docs/premier-jour.md no longer mentions {example!r}: update the test's table"
    blocks = []
    for block in BASH_BLOCK.findall(text):
        for example, value in replacements.items():
            block = block.replace(example, value)
        blocks.append(block)
    return blocks


class Terminal:
    """One shell session run block by block: each block is a `bash -e -o pipefail` whose exported
    variables and working directory the next block starts from."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.cwd = folder
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log = folder / "serve.log"

    def run(self, block: str, *, retry_for: float = 0) -> str:
        """Run a block (again every second for up to `retry_for` seconds while it fails); fail with its
        output when it keeps failing; its stdout."""
        state, cwd = self.folder / ".env0", self.folder / ".cwd"
        script = f"{block}\nenv -0 > {shlex.quote(str(state))}\npwd > {shlex.quote(str(cwd))}\n"
        deadline = time.monotonic() + retry_for
        while True:
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=self.cwd, env=self.env,
                                  capture_output=True, text=True, timeout=120, check=False)
            if done.returncode == 0 or time.monotonic() >= deadline:
                break
            time.sleep(1)
        assert done.returncode == 0, (
            f"exit {done.returncode}:\n{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
        self.env = dict(item.split("=", 1) for item in state.read_text().split("\0") if "=" in item)
        self.cwd = Path(cwd.read_text().strip())
        return done.stdout

    def start(self, block: str, health_url: str) -> None:
        """Run a one-line serving block in the background and wait until `health_url` answers 200."""
        (line,) = block.strip().splitlines()
        with self.server_log.open("wb") as log:
            self.server = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=self.cwd, env=self.env,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 30
        while True:
            assert self.server.poll() is None, f"`{line}` stopped:\n{self.server_log.read_text()}"
            try:
                with opener.open(health_url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"`{line}` did not answer:\n{self.server_log.read_text()}"
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the background server (SIGTERM, then SIGKILL after 10 s)."""
        if self.server is None or self.server.poll() is not None:
            return
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(timeout=5)


def _clean_path() -> str:
    """PATH without this virtual environment: the guide's own `activate` must make `cirqliz` found."""
    own = str(Path(sys.prefix) / "bin")
    return os.pathsep.join(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and p != own)


@pytest.fixture
def fresh_database(postgres_server: None) -> Iterator[str]:
    """An empty PostgreSQL database (no tables: the guide's `cirqliz db upgrade` makes them)."""
    name = create_pg_database()
    try:
        yield name
    finally:
        drop_pg_database(name)


# ---- the browser ---------------------------------------------------------------------------------

class Shots:
    """tests/artifacts/screenshots/premier-jour-*.png, and the guide's images on demand."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, page: Any, name: str) -> None:
        png = page.screenshot(path=str(self.folder / f"premier-jour-{name}.png"))
        if update_doc_screenshots():
            write_doc_image(png, DOC_IMAGES / f"premier-jour-{name}.png")


def _context(browser: Any, viewport: dict[str, int], errors: list[str], who: str) -> Any:
    context = browser.new_context(viewport=viewport, locale="fr-FR", timezone_id="Europe/Paris",
                                  accept_downloads=True)
    context.route(LOCAL, lambda route: route.abort())
    context.on("page", lambda page: page.on("pageerror", lambda exc: errors.append(f"{who}: {exc}")))
    context.on("response", lambda r: errors.append(f"{who}: {r.status} {r.url}") if r.status >= 500 else None)
    return context


def _accept_invitation(page: Any, link: str, person: tuple[str, str, str]) -> None:
    name, email, password = person
    page.goto(link)
    expect(page.get_by_role("heading", name="Invitation")).to_be_visible()
    expect(page.locator("p.lead")).to_contain_text(email)
    page.get_by_label("Vos prénom et nom").fill(name)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_label("Mot de passe (confirmation)").fill(password)


def _admin_sets_up_the_zone(admin: Any, shot: Shots) -> None:
    """Zones → Nouvelle zone (drawn on the map), a rule, activation, as the guide's section 8."""
    admin.get_by_role("navigation").get_by_role("link", name="Zones").click()
    admin.get_by_role("link", name="Nouvelle zone").click()
    admin.get_by_label("Code").fill(ZONE[0])
    admin.get_by_label("Nom", exact=True).fill(ZONE[1])
    area = admin.locator("#zone-map.leaflet-container")
    expect(area).to_be_visible()
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    for dx, dy in ((0.35, 0.3), (0.65, 0.3), (0.7, 0.65), (0.3, 0.7)):
        admin.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
    expect(admin.locator("#geojson")).to_have_value(re.compile(r'^\{"type":"Polygon"'))
    admin.get_by_role("button", name="Créer la zone (brouillon)").click()
    expect(admin.get_by_role("status")).to_have_text(
        "Zone créée (brouillon) : ajoutez ses règles d'accès puis activez-la.")

    admin.get_by_label("Nom de la règle").fill("Livraisons")
    admin.get_by_role("radio", name="À toute heure de la réglementation").check()
    admin.get_by_role("checkbox", name="Livraison", exact=True).check()
    admin.get_by_label("Crit'Air maximal").select_option(label="Crit'Air 2")
    admin.get_by_label("Durée maximale d'un laissez-passer (jours)").fill("90")
    admin.get_by_role("radio", name="Par un instructeur").check()
    admin.get_by_role("button", name="Ajouter la règle").click()
    expect(admin.get_by_role("status")).to_have_text("Règle d'accès ajoutée. Publiez les données pour les agents.")
    expect(admin.locator("li.rule").filter(has_text="Livraisons")).to_contain_text(
        "à toute heure de la réglementation")
    admin.get_by_role("button", name="Activer").click()
    expect(admin.get_by_role("status")).to_have_text("Statut de la zone modifié. Publiez les données pour les agents.")
    expect(admin.locator("h1 + p .badge")).to_have_text("active")
    admin.evaluate("window.scrollTo(0, 0)")
    shot(admin, "zone")


def _admin_publishes(admin: Any, shot: Shots) -> int:
    admin.get_by_role("navigation").get_by_role("link", name="Publication").click()
    admin.get_by_role("button", name="Publier maintenant").click()
    done = admin.get_by_role("status").filter(has_text="effectuée")
    expect(done).to_be_visible()
    shot(admin, "publication")
    return int(re.search(r"Publication n° (\d+) effectuée", done.inner_text()).group(1))


def _company_applies(pro: Any, base: str, shot: Shots) -> None:
    """Section 11: register, sign in (registering does not sign in), a vehicle, an application."""
    name, email, password = PRO
    pro.goto(f"{base}/connexion")
    pro.get_by_role("link", name="Créer un compte entreprise").click()
    pro.get_by_label("Raison sociale").fill(COMPANY[0])
    pro.get_by_label("SIREN ou SIRET").fill(COMPANY[1])
    pro.get_by_label("Vos prénom et nom").fill(name)
    pro.get_by_label("Adresse électronique").fill(email)
    pro.get_by_label("Mot de passe", exact=True).fill(password)
    pro.get_by_label("Mot de passe (confirmation)").fill(password)
    pro.get_by_role("button", name="Créer le compte").click()
    expect(pro.get_by_role("heading", name="Vérifiez votre boîte aux lettres")).to_be_visible()
    sign_in_with(pro, base, email, password)
    expect(pro).to_have_url(f"{base}/pro")

    pro.get_by_role("link", name="Ajouter un véhicule").click()
    pro.get_by_label("Immatriculation").fill(PLATE)
    pro.get_by_label("Catégorie").select_option("N1")
    pro.get_by_label("Vignette Crit'Air").select_option("0")
    pro.get_by_label("Énergie").select_option("electric")
    pro.get_by_role("button", name="Enregistrer").click()
    expect(pro.get_by_role("status")).to_have_text("Véhicule enregistré.")

    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    pro.get_by_role("navigation").get_by_role("link", name="Nouvelle demande").click()
    pro.get_by_role("checkbox", name=re.compile(ZONE[0])).check()
    pro.get_by_role("checkbox", name=re.compile(PLATE)).check()
    pro.get_by_label("Motif", exact=True).select_option(label="Livraison")
    pro.get_by_label("Du", exact=True).fill(today.isoformat())
    pro.get_by_label("Au (inclus)").fill((today + timedelta(days=29)).isoformat())
    pro.get_by_role("button", name="Vérifier l'éligibilité").click()
    expect(pro.get_by_text("Éligible : chaque véhicule remplit les conditions")).to_be_visible()
    pro.get_by_role("button", name="Déposer la demande").click()
    expect(pro.get_by_role("status")).to_have_text("Demande déposée : elle est maintenant en cours d'instruction.")
    shot(pro, "demande")


def _reviewer_approves(admin: Any, base: str) -> None:
    """Section 12: the administrator, also a reviewer, accepts the application."""
    admin.goto(f"{base}/autorite")
    admin.get_by_role("link", name="Instruire les demandes").click()
    row = admin.get_by_role("row").filter(has_text=COMPANY[0])
    expect(row).to_have_count(1)
    row.get_by_role("link", name=COMPANY[0]).click()
    expect(admin.locator(".decisions")).to_contain_text("recevable")
    admin.get_by_role("button", name="Accepter et émettre les laissez-passer").click()
    expect(admin.get_by_role("status")).to_have_text("Demande acceptée : les laissez-passer sont émis.")


def _pass_text(pro: Any, base: str, folder: Path) -> str:
    """The company opens its pass and downloads the PNG; the text its QR code holds."""
    import zxingcpp
    from PIL import Image

    pro.goto(f"{base}/pro/laissez-passer")
    pro.get_by_role("row").filter(has_text=PLATE).get_by_role("link").first.click()
    expect(pro.get_by_role("heading", level=1)).to_contain_text("Valide")
    with pro.expect_download() as download:
        pro.get_by_role("link", name="Image PNG (écran)").click()
    png = folder / "laissez-passer.png"
    download.value.save_as(png)
    # One code, one text: zxing-cpp can report the same symbol twice for some module patterns.
    (decoded_text,) = {result.text for result in zxingcpp.read_barcodes(Image.open(png))}
    assert decoded_text.startswith("CQ1:"), decoded_text[:10]
    return decoded_text


# ---- the journey ---------------------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.e2e
def test_the_first_day_guide_from_an_empty_database_to_a_valid_scan(
    fresh_database: str, playwright_sync: Any, tmp_path: Path, screenshots: Path,
) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    machine = tmp_path / "machine"
    home = machine / "srv"
    home.mkdir(parents=True)
    assert (Path(sys.prefix) / "bin" / "activate").is_file(), "run the tests from the project's venv (./dev test)"
    (home / "venv").symlink_to(sys.prefix)  # the guide's `pip install .`, already done in this venv
    blocks = iter(guide_blocks(text, {
        GUIDE_DATABASE_URL: pg_url(fresh_database), GUIDE_BASE_URL: base, GUIDE_HOME: str(home),
        GUIDE_PORT: f"--port {port}",
    }))
    terminal = Terminal(machine, {"PATH": _clean_path(), "HOME": str(machine), "LANG": "C.UTF-8"})
    shot = Shots(screenshots)
    errors: list[str] = []
    browser = launch_chromium(playwright_sync)
    expect.set_options(timeout=TIMEOUT)
    try:
        # Sections 2–6: install check, configuration, tables, the authority, serve, doctor.
        def next_block(command: str) -> str:
            block = next(blocks)
            assert any(line.startswith(command) for line in block.splitlines()), (
                f"the guide's next bash block has no `{command}…`:\n{block}")
            return block

        assert "cirqliz est installé" in terminal.run(next_block(". "))
        terminal.run(next_block("install -d"))
        terminal.run(next_block("set -a;"))
        assert terminal.env["CIRQLIZ_ENV"] == "production"
        assert len(terminal.env["CIRQLIZ_SECRET_KEY"]) >= 60
        terminal.run(next_block("cirqliz db upgrade"))
        created = terminal.run(next_block(f"cirqliz authority create {AUTHORITY} "))
        (admin_link,) = INVITATION.findall(created)
        assert admin_link.startswith(f"{base}/invitation/")
        terminal.start(next_block("cirqliz serve "), f"{base}/healthz")
        # The guide: the scheduled jobs first run a few seconds after the start, then doctor is all green.
        assert "point(s) à corriger" not in terminal.run(next_block("cirqliz doctor"), retry_for=30)

        # Section 7: the administrator's invitation.
        admin = _context(browser, DESKTOP, errors, "admin").new_page()
        _accept_invitation(admin, admin_link, ADMIN)
        shot(admin, "invitation")
        admin.get_by_role("button", name="Accepter l'invitation").click()
        expect(admin).to_have_url(f"{base}/autorite")
        expect(admin.get_by_role("heading", name=AUTHORITY_NAME)).to_be_visible()

        # Sections 8–9: a zone, its rule, activation; publication.
        _admin_sets_up_the_zone(admin, shot)
        seq = _admin_publishes(admin, shot)
        assert seq >= 2  # the first bundle came with `cirqliz authority create`

        # Section 10: the agent's invitation, by the command.
        invited = terminal.run(next_block(f"cirqliz user invite --authority {AUTHORITY} --role agent "))
        (agent_link,) = INVITATION.findall(invited)
        assert next(blocks, None) is None, "the guide has bash blocks this test does not follow"

        # Sections 11–12: the company applies, the administrator (reviewer) approves.
        pro = _context(browser, PHONE, errors, "pro").new_page()
        _company_applies(pro, base, shot)
        _reviewer_approves(admin, base)
        pass_text = _pass_text(pro, base, tmp_path)

        # Section 13: the agent's phone, whose (fake) camera films the company's pass.
        camera = launch_chromium(playwright_sync, write_y4m(pass_text, tmp_path / "pass.y4m"))
        try:
            phone = _context(camera, PHONE, errors, "agent")
            phone.grant_permissions(["camera"], origin=base)
            agent = phone.new_page()
            _accept_invitation(agent, agent_link, AGENT)
            agent.get_by_role("button", name="Accepter l'invitation").click()
            expect(agent).to_have_url(f"{base}/scan")
            agent.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
            assert agent.evaluate("document.body.dataset.syncStatus") == "updated"
            assert agent.evaluate("document.body.dataset.bundleSeq") == str(seq)
            expect(agent.locator("#bundle-age")).to_contain_text(f"Données n° {seq}")
            agent.select_option("#zone", ZONE[0])
            agent.click("#start")
            agent.wait_for_function("() => Number(document.body.dataset.verdicts ?? 0) > 0", timeout=TIMEOUT)
            verdict = agent.evaluate("({...document.querySelector('#verdict').dataset})")
            assert (verdict["status"], verdict["reason"]) == ("VALID", "VALID"), verdict
            expect(agent.locator("#v-status")).to_have_text("VALIDE")
            expect(agent.locator("#v-plate")).to_have_text(PLATE)
            shot(agent, "valide")
        finally:
            camera.close()
    finally:
        browser.close()
        terminal.stop()
    assert errors == []
    _assert_nothing_but_the_journey(fresh_database, home / "keys")
    for image in IMAGE.findall(text):  # after the run: CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 writes them
        assert (GUIDE.parent / image).is_file(), f"the guide shows {image}, which does not exist"


def _assert_nothing_but_the_journey(database: str, keys: Path) -> None:
    """No demo data anywhere: the database and the keys folder hold only what the guide created."""
    import psycopg

    url = server_url()
    with psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                         password=url.password, dbname=database, connect_timeout=3) as conn:
        organisations = {row[0] for row in conn.execute("SELECT name FROM organisation")}
        users = {row[0] for row in conn.execute("SELECT email FROM user_account")}
        zones = {row[0] for row in conn.execute("SELECT code FROM zone")}
        passes = conn.execute("SELECT plate FROM access_pass").fetchall()
    assert organisations == {AUTHORITY_NAME, COMPANY[0]}
    assert users == {ADMIN[1], AGENT[1], PRO[1]}
    assert zones == {ZONE[0]}
    assert passes == [(PLATE.replace("-", ""),)]
    assert sorted(p.name for p in keys.iterdir()) == [AUTHORITY]


def test_the_guide_runs_every_cirqliz_command_it_shows() -> None:
    """Each `cirqliz …` line of the guide's shell blocks is either run by the journey (```bash) or an
    installation step (```sh, not run): a command added in another fence would escape the test. The
    systemd unit starts the service as the tested block does."""
    text = GUIDE.read_text(encoding="utf-8")
    fences = re.findall(r"^```(\w*)\n(.*?)^```\s*$", text, re.MULTILINE | re.DOTALL)
    for language, body in fences:
        if language not in ("bash", "sh"):
            assert not re.search(r"^\s*cirqliz ", body, re.MULTILINE), f"a cirqliz command in a ```{language} block"
    bash = "\n".join(body for language, body in fences if language == "bash")
    for command in ("cirqliz db upgrade", "cirqliz authority create", "cirqliz serve", "cirqliz doctor",
                    "cirqliz user invite"):
        assert re.search(rf"^{command}\b", bash, re.MULTILINE), f"{command} is no longer in a ```bash block"
    # The systemd unit starts the service the way the tested block does.
    (serve,) = re.findall(r"^cirqliz serve .*$", bash, re.MULTILINE)
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", text, re.MULTILINE)
    assert exec_start == f"{GUIDE_HOME}/venv/bin/{serve}"
