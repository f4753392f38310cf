"""No Content-Security-Policy violation in Chromium on the pages of every audience (issue 9).

The policy (cirqliz/web/security.py) forbids inline scripts, inline styles and event-handler
attributes. Each page is loaded in Chromium with a listener for `securitypolicyviolation` events
(installed before any page script) and the console watched for "Content Security Policy" messages;
any report fails the test. `test_the_detector_sees_an_inline_script` shows the check can fail: the
same page with an inline script, style and handler injected is reported.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from cirqliz.demo.seed import ZONE_IDS

from .harness import LiveServer, issue_pass, launch_chromium, publish, sign_in

TIMEOUT = 20_000
FOREIGN = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)")  # map tiles: no network in tests
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""
PARIS = ZONE_IDS["PARIS-CENTRE"]


class Watched:
    """A page of one person, with the CSP reports and page errors collected."""

    def __init__(self, browser: Any, base: str, who: str | None) -> None:
        self.context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
        self.context.add_init_script(LISTEN)
        self.context.route(FOREIGN, lambda route: route.abort())
        self.page = self.context.new_page()
        self.reports: list[str] = []
        self.page.on("console", lambda m: self.reports.append(f"console: {m.text}")
                     if "Content Security Policy" in m.text else None)
        self.page.on("pageerror", lambda exc: self.reports.append(f"page error: {exc}"))
        self.base = base
        if who is not None:
            sign_in(self.page, base, who, "/moi")

    def visit(self, path: str) -> list[str]:
        """Load `path`, let its scripts run, and return what was reported there."""
        self.reports.clear()
        response = self.page.goto(f"{self.base}{path}", wait_until="load")
        assert response is not None and response.status < 500, f"{path}: {response and response.status}"
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        self.page.wait_for_timeout(300)  # deferred scripts, maps, late reports
        found = self.page.evaluate("window.__csp || []")
        return [f"{path}: {line}" for line in [*found, *self.reports]]


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Any:
    chromium = launch_chromium(playwright_sync)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def pass_id(live_server: LiveServer) -> str:
    issued = issue_pass(live_server)
    publish(live_server)
    return str(issued.id)


def pages(pass_id: str) -> dict[str | None, list[str]]:
    """Pages of each audience (None: not signed in)."""
    return {
        None: ["/", "/connexion", "/inscription", "/mot-de-passe-oublie", "/page-inconnue", "/schema"],
        "pro": ["/pro", "/pro/vehicules", "/pro/vehicules/import", "/pro/demandes", "/pro/demandes/nouvelle",
                "/pro/laissez-passer", f"/pro/laissez-passer/{pass_id}", f"/pro/laissez-passer/{pass_id}/imprimer",
                f"/pro/laissez-passer/{pass_id}/imprimer?format=A5", f"/pro/laissez-passer/{pass_id}/telephone",
                "/pro/equipe", "/pro/api"],
        "admin": ["/autorite", "/autorite/zones", "/autorite/zones/nouvelle", f"/autorite/zones/{PARIS}",
                  "/autorite/demandes", "/autorite/laissez-passer", "/autorite/journal", "/autorite/cles",
                  "/autorite/publier", "/autorite/import", "/autorite/exports", "/autorite/evenements",
                  "/autorite/evenements/import", "/autorite/incidents", "/autorite/taches", "/autorite/equipe"],
        "organiser": ["/organisateur"],
        "agent": ["/scan"],
    }


@pytest.mark.parametrize("who", [None, "pro", "admin", "organiser", "agent"],
                         ids=["connexion", "pro", "autorite", "organisateur", "scan"])
def test_no_csp_violation_on_any_page(browser: Any, live_server: LiveServer, pass_id: str, who: str | None) -> None:
    watched = Watched(browser, live_server.base_url, who)
    try:
        reports = []
        for path in pages(pass_id)[who]:
            reports += watched.visit(path)
        if who == "agent":
            page = watched.page
            page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
            # The zxing-wasm decoder compiles under the policy ('wasm-unsafe-eval', nothing more).
            compiled = page.evaluate("""async () => {
                const config = JSON.parse(document.getElementById('scanner-config').textContent);
                const camera = await import('/static/scanner/camera.js');
                try { await camera.prepareDecoder(config.wasmUrl, { now: true }); return 'ok'; }
                catch (e) { return String(e); }
            }""")
            assert compiled == "ok", compiled
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT)
            reports += [f"/scan: {line}" for line in [*page.evaluate("window.__csp"), *watched.reports]]
        if who == "organiser":
            reports += _organiser_event_page(watched)
        assert not reports, "\n".join(reports)
    finally:
        watched.context.close()


def _organiser_event_page(watched: Watched) -> list[str]:
    """Create an event through the form, then watch its page (map of perimeters)."""
    page = watched.page
    page.goto(f"{watched.base}/organisateur")
    page.fill("input[name=name]", "Concert CSP")
    page.fill("input[name=starts_at]", "2026-12-01T08:00")
    page.fill("input[name=ends_at]", "2026-12-02T20:00")
    with page.expect_navigation():
        page.click('form[action="/organisateur/evenements"] button[type=submit]')
    path = page.url.removeprefix(watched.base).split("?")[0]
    assert re.fullmatch(r"/organisateur/evenements/[0-9a-f-]{36}", path), page.url
    return watched.visit(path)


def test_the_detector_sees_an_inline_script(browser: Any, live_server: LiveServer) -> None:
    """The check above can fail: /connexion served with an inline script, style and handler is reported."""
    watched = Watched(browser, live_server.base_url, None)
    try:
        def inject(route: Any) -> None:
            original = route.fetch()
            body = original.text().replace(
                "</main>", '<script>document.title = "x";</script><p style="color:red" '
                           'onmouseover="alert(1)">x</p></main>')
            route.fulfill(response=original, body=body)

        watched.page.route(f"{live_server.base_url}/connexion", inject)
        reports = watched.visit("/connexion")
        assert any("script-src" in line for line in reports), reports
        assert any("style-src" in line for line in reports), reports
        assert watched.page.title() != "x"  # and the script did not run
    finally:
        watched.context.close()
