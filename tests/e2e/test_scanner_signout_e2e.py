"""Signing out of the scanner on a shared phone, in Chromium: afterwards no cache, service worker or
check record of the agent is left, and /scan opened offline shows no name; unsent checks are sent
first, and when they cannot be (offline) the agent is asked before they are erased. A sign-out made
offline is recorded on the phone and finished when the network returns: the server session ends."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from cirqliz.db.models import PassCheck
from cirqliz.demo.seed import USER_IDS

from .harness import LIVE_T0, IssuedPass, LiveServer, issue_pass, launch_chromium, session_elsewhere, sign_in
from .page_audit import axe_violations

DEVICE_TIME = LIVE_T0 + timedelta(minutes=5)
TIMEOUT = 20_000

# What the phone holds for the scanner, read from a page of the site (the inspector tab).
DEVICE_STATE = """async () => {
  const caches_ = (await caches.keys()).filter((name) => name.startsWith('cirqliz-scanner-'));
  const workers = (await navigator.serviceWorker.getRegistrations())
    .map((r) => new URL(r.scope).pathname).filter((path) => path.startsWith('/scan'));
  let checks = null;
  let kv = [];
  if ((await indexedDB.databases()).some((d) => d.name === 'cirqliz-scanner')) {
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open('cirqliz-scanner');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const all = (name, keys) => new Promise((resolve) => {
      const store = db.transaction(name).objectStore(name);
      const req = keys ? store.getAllKeys() : store.getAll();
      req.onsuccess = () => resolve(req.result);
    });
    checks = await all('checks');
    kv = await all('kv', true);
    db.close();
  }
  let page = null;
  for (const name of caches_) {
    const hit = await (await caches.open(name)).match('/scan');
    if (hit) page = await hit.text();
  }
  const pending = localStorage.getItem('cirqliz.signoutPending');
  return { caches: caches_, workers, checks, kv, page, pending };
}"""

QUESTION_3 = "3 contrôles ne sont pas encore envoyés. Se déconnecter quand même les effacera de ce téléphone."
PENDING = ("Déconnexion enregistrée : elle sera terminée dès le retour du réseau. Ce téléphone ne montre plus rien "
           "de l'agent.")


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Any:
    """One Chromium for the module; each test is a fresh phone (context)."""
    chromium = launch_chromium(playwright_sync)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def a_pass(live_server: LiveServer) -> IssuedPass:
    """A valid pass for PARIS-CENTRE, pasted as text (no camera needed)."""
    return issue_pass(live_server)


def _signed_in_scanner(browser: Any, base: str) -> tuple[Any, Any, Any, str]:
    """A fresh phone (context) with the agent signed in on /scan, the service worker in control and
    the page cached; plus an inspector tab on the site. Returns (context, scanner, inspector, agent name)."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    context.clock.install(time=DEVICE_TIME)
    context.clock.resume()
    page = context.new_page()
    sign_in(page, base, "agent", "/scan")
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
    page.select_option("#zone", "PARIS-CENTRE")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT)
    agent = page.evaluate("JSON.parse(document.querySelector('#scanner-config').textContent).agent")
    inspector = context.new_page()
    inspector.goto(f"{base}/healthz")
    state = inspector.evaluate(DEVICE_STATE)
    # Before sign-out the phone does hold the agent's page, as a shared phone would.
    assert state["caches"] and state["workers"] == ["/scan"]
    assert agent and agent in state["page"]
    # The phone shows the scanner, not the inspector: a tab left behind gets no animation frames, and
    # Playwright then waited about 2 s at each click for the button to be "stable".
    page.bring_to_front()
    return context, page, inspector, agent


def _check_pass(page: Any, text: str) -> None:
    """Paste a pass text into the manual field and check it (a check record with its serial)."""
    before = int(page.evaluate("Number(document.body.dataset.verdicts ?? 0)"))
    page.fill("#serial", text)
    page.click("#serial-form button[type=submit]")
    page.wait_for_function(f"() => Number(document.body.dataset.verdicts ?? 0) > {before}", timeout=TIMEOUT)
    page.click("#back")
    page.wait_for_selector("#home:not([hidden])")


def _checks_on_server(server: LiveServer) -> list[PassCheck]:
    async def query(session: Any) -> list[PassCheck]:
        rows = await session.exec(select(PassCheck).where(col(PassCheck.agent_id) == USER_IDS["agent"]))
        return list(rows.all())

    return server.run(query)


def _settled_content(page: Any) -> str:
    """The page's HTML once Chromium has finished putting its error page in place."""
    for _ in range(50):
        try:
            return str(page.content())
        except Exception as exc:  # Playwright's Error while the error page replaces the document
            if "navigating" not in str(exc):
                raise
            page.wait_for_timeout(100)
    raise AssertionError("the page never settled")


def _assert_forgotten(inspector: Any, base: str, agent: str) -> None:
    """Nothing of the agent on the phone, and /scan opened offline shows no name."""
    state = inspector.evaluate(DEVICE_STATE)
    assert state["caches"] == []
    assert state["workers"] == []
    assert state["checks"] == []
    assert state["page"] is None
    assert any(key.startswith("bundle:") for key in state["kv"])  # public trust data may stay
    inspector.context.set_offline(True)
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        inspector.goto(f"{base}/scan")
    assert agent not in _settled_content(inspector)  # the browser's offline page, not the agent's
    inspector.context.set_offline(False)


def test_sign_out_sends_the_checks_then_leaves_nothing(
    browser: Any, live_server: LiveServer, a_pass: IssuedPass,
) -> None:
    base = live_server.base_url
    context, page, inspector, agent = _signed_in_scanner(browser, base)
    errors: list[str] = []
    questions: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    before = len(_checks_on_server(live_server))

    # Two checks the server could not take yet (its upload fails): unsent at sign-out time.
    context.route("**/scan/api/checks", lambda route: route.abort())
    for _ in range(2):
        _check_pass(page, a_pass.text)
    page.wait_for_function("() => document.body.dataset.pending === '2'", timeout=TIMEOUT)
    held = inspector.evaluate(DEVICE_STATE)["checks"]
    assert {c["serial"] for c in held} == {a_pass.serial}  # whose car was checked where: personal data
    context.unroute("**/scan/api/checks")

    with page.expect_navigation(url=f"{base}/", timeout=TIMEOUT):
        page.click("#signout button[type=submit]")
    assert questions == []  # sent at sign-out: nothing to ask
    assert len(_checks_on_server(live_server)) == before + 2
    _assert_forgotten(inspector, base, agent)
    # "Back" offline does not bring the agent's page out of the browser's own caches either.
    context.set_offline(True)
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        page.go_back()
    assert agent not in _settled_content(page)
    context.set_offline(False)
    # Signed out on the server too: online, /scan asks to sign in, with no name.
    page.goto(f"{base}/scan")
    assert "/connexion" in page.url
    assert agent not in page.content()
    assert errors == []
    context.close()


def test_offline_sign_out_asks_before_erasing_unsent_checks(
    browser: Any, live_server: LiveServer, a_pass: IssuedPass,
) -> None:
    base = live_server.base_url
    context, page, inspector, agent = _signed_in_scanner(browser, base)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    before = len(_checks_on_server(live_server))
    context.set_offline(True)
    for _ in range(3):
        _check_pass(page, a_pass.text)
    page.wait_for_function("() => document.body.dataset.pending === '3'", timeout=TIMEOUT)

    # The agent's answers, given as the question opens: a dialog left open freezes the page, and a click
    # whose question opened before Playwright finished the click then never returned (seen under load).
    answers: list[bool] = []
    questions: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        if answers.pop(0):
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", answer)

    # "No": the agent stays signed in, the checks and the page stay. The question comes once the unsent
    # checks are counted and an upload tried (IndexedDB, a failed fetch): waited for, however long that takes.
    answers.append(False)
    with page.expect_event("dialog", timeout=TIMEOUT):
        page.click("#signout button[type=submit]")
    assert questions == [QUESTION_3]
    page.wait_for_timeout(500)  # time enough for a wrong sign-out to erase or leave
    assert page.url == f"{base}/scan"
    state = inspector.evaluate(DEVICE_STATE)
    assert len(state["checks"]) == 3 and state["caches"] and state["workers"] == ["/scan"]

    # "Yes": erased from the phone; the sign-out request itself cannot leave while offline: recorded.
    answers.append(True)
    with page.expect_event("dialog", timeout=TIMEOUT):
        page.click("#signout button[type=submit]")
    assert questions == [QUESTION_3, QUESTION_3]
    page.wait_for_selector("#signout-pending", timeout=TIMEOUT)
    assert page.inner_text("#signout-pending") == PENDING
    _assert_forgotten(inspector, base, agent)  # back online at its end: the sign-out is finished
    page.wait_for_url(f"{base}/connexion", timeout=TIMEOUT)
    assert len(_checks_on_server(live_server)) == before
    assert errors == []
    context.close()


def test_sign_out_from_another_page_forgets_the_scanner(browser: Any, live_server: LiveServer) -> None:
    """The agent leaves the scanner ("Quitter le contrôle") and signs out from the site's header."""
    base = live_server.base_url
    context, page, inspector, agent = _signed_in_scanner(browser, base)
    page.click("text=Quitter le contrôle")
    page.wait_for_url(f"{base}/**")
    with page.expect_navigation(timeout=TIMEOUT):
        page.click("header form[action='/deconnexion'] button[type=submit]")
    _assert_forgotten(inspector, base, agent)
    context.close()


# ---- a sign-out made offline, finished when the network returns ------------------------------------

# Recorded at DOMContentLoaded, before signout.js has replaced anything: what the first frame would show.
FIRST_FRAME = """document.addEventListener('DOMContentLoaded', () => {
  const home = document.querySelector('#home');
  const gate = document.documentElement.dataset.signoutPending ?? null;
  window.firstFrame = home ? { home: getComputedStyle(home).display, gate } : null;
});"""


def _session_status(browser: Any, base: str, cookies: list[dict[str, Any]]) -> tuple[int, str]:
    return session_elsewhere(browser, base, cookies, "/scan")


def _sign_out_offline(context: Any, page: Any) -> None:
    """No network, nothing unsent: the agent signs out; the phone says it is recorded."""
    context.set_offline(True)
    page.click("#signout button[type=submit]")
    page.wait_for_selector("#signout-pending", timeout=TIMEOUT)
    assert page.inner_text("#signout-pending") == PENDING


def test_offline_sign_out_ends_the_session_when_the_network_returns(browser: Any, live_server: LiveServer) -> None:
    base = live_server.base_url
    context, page, inspector, agent = _signed_in_scanner(browser, base)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    tag = page.evaluate("JSON.parse(document.querySelector('#scanner-config').textContent).session")
    cookies = context.cookies()

    _sign_out_offline(context, page)
    assert agent not in page.inner_text("body")
    assert not page.is_visible("#home")
    state = inspector.evaluate(DEVICE_STATE)
    assert state["caches"] == [] and state["workers"] == [] and state["page"] is None
    assert json.loads(state["pending"]) == {"session": tag}  # the session's tag: nothing personal
    # Until then the server still takes the cookie: that is what the mark is for.
    assert _session_status(browser, base, cookies) == (200, f"{base}/scan")

    context.set_offline(False)
    page.wait_for_url(f"{base}/connexion", timeout=TIMEOUT)
    assert inspector.evaluate(DEVICE_STATE)["pending"] is None
    page.goto(f"{base}/scan")
    assert "/connexion" in page.url and agent not in page.content()
    status, lands = _session_status(browser, base, cookies)
    assert status == 401 and "/connexion" in lands  # the old cookie is refused
    assert errors == []
    context.close()


def test_the_next_load_of_the_scanner_finishes_a_sign_out_left_pending(browser: Any, live_server: LiveServer) -> None:
    """The page that recorded the sign-out was closed offline: /scan, opened once online, shows nothing
    of the agent (not even in its first frame), ends the session as soon as the server takes it, then
    asks to sign in."""
    base = live_server.base_url
    context, page, inspector, agent = _signed_in_scanner(browser, base)
    cookies = context.cookies()
    _sign_out_offline(context, page)
    page.close()
    context.set_offline(False)

    # The network is back but the sign-out request does not get through yet.
    context.route("**/deconnexion", lambda route: route.abort())
    again = context.new_page()
    errors: list[str] = []
    again.on("pageerror", lambda exc: errors.append(str(exc)))
    again.add_init_script(FIRST_FRAME)
    again.goto(f"{base}/scan")
    assert again.url == f"{base}/scan"  # the server still knows the session: it sent the agent's page
    again.wait_for_selector("#signout-pending", timeout=TIMEOUT)
    again.wait_for_function("() => window.firstFrame !== undefined", timeout=TIMEOUT)
    assert again.evaluate("window.firstFrame") == {"home": "none", "gate": "1"}
    again.wait_for_function("() => document.documentElement.dataset.signoutState === 'waiting'", timeout=TIMEOUT)
    assert again.inner_text("#signout-pending") == PENDING
    assert agent not in again.content()  # not hidden: gone from the page
    assert again.evaluate("document.body.dataset.ready") is None  # the scanner never started
    assert axe_violations(again) == []
    state = inspector.evaluate(DEVICE_STATE)
    assert state["workers"] == [] and state["caches"] == []  # nor its service worker, which would cache the page
    assert state["pending"] is not None
    assert _session_status(browser, base, cookies)[0] == 200

    context.unroute("**/deconnexion")
    again.evaluate("window.dispatchEvent(new Event('online'))")
    again.wait_for_url(f"{base}/connexion", timeout=TIMEOUT)
    assert inspector.evaluate(DEVICE_STATE)["pending"] is None
    status, lands = _session_status(browser, base, cookies)
    assert status == 401 and "/connexion" in lands
    assert errors == []
    context.close()


def test_a_mark_for_an_earlier_session_leaves_a_new_sign_in_alone(browser: Any, live_server: LiveServer) -> None:
    """The pending page was closed offline; back online, the next agent signs in before any page of the
    old session finishes the sign-out: the new session is not ended, the scanner starts, the mark goes."""
    base = live_server.base_url
    context, page, inspector, _ = _signed_in_scanner(browser, base)
    _sign_out_offline(context, page)
    page.close()
    context.set_offline(False)
    assert inspector.evaluate(DEVICE_STATE)["pending"] is not None

    nxt = context.new_page()
    errors: list[str] = []
    nxt.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(nxt, base, "agent", "/scan")
    nxt.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
    assert nxt.is_visible("#home") and not nxt.is_visible("#signout-pending")
    assert inspector.evaluate(DEVICE_STATE)["pending"] is None
    nxt.wait_for_timeout(500)
    assert nxt.url == f"{base}/scan"  # still signed in
    assert errors == []
    context.close()
