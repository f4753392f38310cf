"""A sign-out made without network on the pages of the site (static/common/signout-pending.js), in Chromium:
the professional's kept passes are wiped and the page says « Déconnexion enregistrée : elle sera terminée
dès le retour du réseau. », nothing else; back online the server session ends (the old cookie is sent to
/connexion) and the pass pages show nothing. The page is hidden from its first frame while the sign-out
waits, and a sign-out recorded from an agent's site page names its session: a later sign-in is left alone."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .harness import IssuedPass, LiveServer, issue_pass, launch_chromium, session_elsewhere, sign_in
from .page_audit import axe_violations

TIMEOUT = 20_000
PENDING = "Déconnexion enregistrée : elle sera terminée dès le retour du réseau."
AGENT_PENDING = f"{PENDING} Ce téléphone ne montre plus rien de l'agent."

# What the browser holds, read from any page of the site.
STATE = """async () => ({
  caches: await caches.keys(),
  workers: (await navigator.serviceWorker.getRegistrations()).map((r) => new URL(r.scope).pathname),
  pending: localStorage.getItem('cirqliz.signoutPending'),
})"""

# Recorded at DOMContentLoaded, before signout-pending.js has replaced anything: what the first frame shows.
FIRST_FRAME = """document.addEventListener('DOMContentLoaded', () => {
  const main = document.querySelector('#contenu');
  window.firstFrame = main ? { main: getComputedStyle(main).display,
                               gate: document.documentElement.dataset.signoutPending ?? null } : null;
});"""
QR_FIRST_FRAME = """document.addEventListener('DOMContentLoaded', () => {
  const main = document.querySelector('main');
  window.qrFirstFrame = main ? { qr: getComputedStyle(main).display,
                                 gate: document.documentElement.dataset.signoutPending ?? null } : null;
});"""


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Any:
    """One Chromium for the module; each test is a fresh browser (context)."""
    chromium = launch_chromium(playwright_sync)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def a_pass(live_server: LiveServer) -> IssuedPass:
    return issue_pass(live_server, vehicle=1)


def _phone_url(base: str, issued: IssuedPass) -> str:
    return f"{base}/pro/laissez-passer/{issued.id}/telephone"


def _signed_in_professional(browser: Any, base: str, issued: IssuedPass) -> tuple[Any, Any, str, str]:
    """A fresh phone with the professional signed in, the pass page kept for use offline, then on /pro.
    Returns (context, page, the page's session tag, the organisation's name)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    sign_in(page, base, "pro", f"/pro/laissez-passer/{issued.id}/telephone")
    page.wait_for_function("() => document.body.dataset.offline === 'pret'", timeout=TIMEOUT)
    page.wait_for_function("async () => !!(await navigator.serviceWorker.ready).active", timeout=TIMEOUT)
    assert page.evaluate(STATE)["caches"] == ["cirqliz-passes"]
    page.goto(f"{base}/pro")
    tag = page.get_attribute('meta[name="cirqliz-session"]', "content")
    organisation = page.inner_text("footer").split("·")[-1].split("\n")[0].strip()
    assert tag and len(tag) == 32 and organisation
    return context, page, tag, organisation


def _settled_content(page: Any) -> str:
    """The page's HTML once Chromium has put its offline error page in place."""
    for _ in range(50):
        try:
            return str(page.content())
        except Exception as exc:  # Playwright's Error while the error page replaces the document
            if "navigating" not in str(exc):
                raise
            page.wait_for_timeout(100)
    raise AssertionError("the page never settled")


def _late_module(context: Any, path: str = "/static/pro/pass-offline-signout.js") -> None:
    """A module after signout-pending.js in the page (a side's sign-out steps) arrives a second late: the
    browser runs its timers meanwhile, so signout-pending.js must wait for DOMContentLoaded to start. The
    sleep holds only this response (the browser goes on) and decides nothing the test asserts."""

    def late(route: Any) -> None:
        time.sleep(1)
        route.continue_()

    context.route(f"**{path}", late)


def _session_status(browser: Any, base: str, cookies: list[dict[str, Any]]) -> tuple[int, str]:
    return session_elsewhere(browser, base, cookies, "/pro")


def _sign_out_offline(context: Any, page: Any, text: str = PENDING) -> None:
    context.set_offline(True)
    page.click("header form[action='/deconnexion'] button[type=submit]")
    page.wait_for_selector("#signout-pending", timeout=TIMEOUT)
    assert page.inner_text("#signout-pending") == text


def test_professional_offline_sign_out_ends_the_session_when_the_network_returns(
    browser: Any, live_server: LiveServer, a_pass: IssuedPass,
) -> None:
    base = live_server.base_url
    context, page, tag, organisation = _signed_in_professional(browser, base, a_pass)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    cookies = context.cookies()

    _sign_out_offline(context, page)
    assert page.inner_text("body").strip() == PENDING  # no menu, no name, no organisation
    assert organisation not in page.content()
    state = page.evaluate(STATE)
    assert state["caches"] == [] and state["workers"] == []  # the kept passes are gone already
    assert json.loads(state["pending"]) == {"session": tag}
    assert axe_violations(page) == []
    # Until the network is back the server still takes the cookie: that is what the mark is for.
    assert _session_status(browser, base, cookies) == (200, f"{base}/pro")

    context.set_offline(False)
    page.wait_for_url(f"{base}/connexion", timeout=TIMEOUT)
    assert page.evaluate(STATE)["pending"] is None
    status, lands = _session_status(browser, base, cookies)
    assert status == 401 and "/connexion" in lands  # the old cookie is refused
    # The pass pages show nothing: online, sign-in; offline, no copy was kept.
    page.goto(_phone_url(base, a_pass))
    assert "/connexion" in page.url and page.locator("img.qr").count() == 0
    context.set_offline(True)
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(_phone_url(base, a_pass))
    assert a_pass.serial not in _settled_content(page)
    context.set_offline(False)
    assert errors == []
    context.close()


def test_a_waiting_sign_out_hides_every_page_of_the_professional_from_its_first_frame(
    browser: Any, live_server: LiveServer, a_pass: IssuedPass,
) -> None:
    """The page that recorded the sign-out was closed offline; back online, the sign-out request does not
    get through yet: /pro and the pass page show the message only, never the pass, then sign-in."""
    base = live_server.base_url
    context, page, _, organisation = _signed_in_professional(browser, base, a_pass)
    cookies = context.cookies()
    _sign_out_offline(context, page)
    page.close()
    context.set_offline(False)
    context.route("**/deconnexion", lambda route: route.abort())
    _late_module(context)

    again = context.new_page()
    errors: list[str] = []
    again.on("pageerror", lambda exc: errors.append(str(exc)))
    again.add_init_script(FIRST_FRAME)
    again.goto(f"{base}/pro")
    assert again.url == f"{base}/pro"  # the server still knows the session: it sent the page
    again.wait_for_selector("#signout-pending", timeout=TIMEOUT)
    again.wait_for_function("() => window.firstFrame !== undefined", timeout=TIMEOUT)
    assert again.evaluate("window.firstFrame") == {"main": "none", "gate": "1"}
    again.wait_for_function("() => document.documentElement.dataset.signoutState === 'waiting'", timeout=TIMEOUT)
    assert again.inner_text("body").strip() == PENDING
    assert organisation not in again.content()

    # The phone page of the pass: hidden from its first frame, not kept again, replaced by the message.
    again.add_init_script(QR_FIRST_FRAME)
    again.goto(_phone_url(base, a_pass))
    again.wait_for_selector("#signout-pending", timeout=TIMEOUT)
    again.wait_for_function("() => window.qrFirstFrame !== undefined", timeout=TIMEOUT)
    assert again.evaluate("window.qrFirstFrame") == {"qr": "none", "gate": "1"}
    assert again.locator("img.qr").count() == 0 and a_pass.serial not in again.content()
    state = again.evaluate(STATE)
    assert state["caches"] == [] and state["workers"] == [] and state["pending"] is not None
    assert _session_status(browser, base, cookies)[0] == 200

    context.unroute("**/deconnexion")
    again.evaluate("window.dispatchEvent(new Event('online'))")
    again.wait_for_url(f"{base}/connexion", timeout=TIMEOUT)
    assert again.evaluate(STATE)["pending"] is None
    assert _session_status(browser, base, cookies)[0] == 401
    assert errors == []
    context.close()


def test_the_next_page_ends_a_waiting_sign_out_with_the_professional_steps_even_when_they_load_late(
    browser: Any, live_server: LiveServer, a_pass: IssuedPass,
) -> None:
    """The first forgetting left a copy of a pass (cut short: it is bounded in time); the next page, back
    online, ends the session and forgets again with every side's steps, those of its last module too."""
    base = live_server.base_url
    context, page, _, _ = _signed_in_professional(browser, base, a_pass)
    cookies = context.cookies()
    _sign_out_offline(context, page)
    page.evaluate("""async (url) => (await caches.open('cirqliz-passes')).put(url, new Response('pass'))""",
                  _phone_url(base, a_pass))
    assert page.evaluate(STATE)["caches"] == ["cirqliz-passes"]
    page.close()
    context.set_offline(False)
    _late_module(context)

    again = context.new_page()
    errors: list[str] = []
    again.on("pageerror", lambda exc: errors.append(str(exc)))
    again.goto(f"{base}/pro", wait_until="commit")
    again.wait_for_url(f"{base}/connexion", timeout=TIMEOUT)
    state = again.evaluate(STATE)
    assert state["pending"] is None and state["caches"] == []
    assert _session_status(browser, base, cookies)[0] == 401
    assert errors == []
    context.close()


def test_a_waiting_agent_sign_out_on_a_site_page_has_the_scanner_sentence_even_when_it_loads_late(
    browser: Any, live_server: LiveServer,
) -> None:
    """The scanner's steps (scanner/signout.js, after signout-pending.js in base.html) are in place before
    the next page shows the waiting message: it carries their sentence."""
    base = live_server.base_url
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    sign_in(page, base, "agent", "/mentions-legales")
    _sign_out_offline(context, page, AGENT_PENDING)
    page.close()
    context.set_offline(False)
    context.route("**/deconnexion", lambda route: route.abort())
    _late_module(context, "/static/scanner/signout.js")

    again = context.new_page()
    errors: list[str] = []
    again.on("pageerror", lambda exc: errors.append(str(exc)))
    again.goto(f"{base}/mentions-legales")
    again.wait_for_function("() => document.documentElement.dataset.signoutState === 'waiting'", timeout=TIMEOUT)
    assert again.inner_text("body").strip() == AGENT_PENDING
    assert errors == []
    context.close()


def test_an_agent_sign_out_from_a_site_page_names_its_session_and_spares_a_later_sign_in(
    browser: Any, live_server: LiveServer,
) -> None:
    """Signed out offline from the site's header (not the scanner): the mark carries the page's tag. The
    page is closed; back online, the next agent signs in first: that session is not ended, its pages show."""
    base = live_server.base_url
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    sign_in(page, base, "agent", "/mentions-legales")
    tag = page.get_attribute('meta[name="cirqliz-session"]', "content")
    _sign_out_offline(context, page, AGENT_PENDING)
    assert json.loads(page.evaluate(STATE)["pending"]) == {"session": tag}
    page.close()
    context.set_offline(False)

    nxt = context.new_page()
    errors: list[str] = []
    nxt.on("pageerror", lambda exc: errors.append(str(exc)))
    nxt.add_init_script(FIRST_FRAME)
    sign_in(nxt, base, "agent", "/mentions-legales")
    assert nxt.get_attribute('meta[name="cirqliz-session"]', "content") != tag
    assert nxt.evaluate("window.firstFrame") == {"main": "block", "gate": None}  # shown at once
    assert nxt.evaluate(STATE)["pending"] is None
    nxt.wait_for_timeout(500)
    assert not nxt.is_visible("#signout-pending")
    nxt.goto(f"{base}/moi")
    assert "/connexion" not in nxt.url  # still signed in
    assert errors == []
    context.close()
