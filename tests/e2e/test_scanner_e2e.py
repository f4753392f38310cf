"""The scanner PWA in Chromium: camera scan with a fake camera, offline through the service
worker, revocation reaching the device by a bundle sync, tampered and rolled-back bundles refused,
check records uploaded; and the golden vectors verified by verifier.js inside the browser."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from cirqliz.db.models import PassCheck
from cirqliz.demo.seed import AUTHORITY_CODE, USER_IDS
from cirqliz.passcode.bundle import open_bundle
from cirqliz.passcode.keys import VerifyKey
from cirqliz.verify.core import verify_pass

from .harness import (
    DOC_IMAGES,
    LIVE_T0,
    IssuedPass,
    LiveServer,
    issue_pass,
    launch_chromium,
    publish,
    revoke_pass,
    sign_in,
    update_doc_screenshots,
    write_doc_image,
    write_y4m,
)
from .js_timing import measure_js_verify

VECTORS = Path(__file__).parents[1] / "vectors" / "passes.json"
DEVICE_TIME = LIVE_T0 + timedelta(minutes=5)
TIMEOUT = 20_000

RUN_VECTORS = """async (vectors) => {
  const v = await import('/static/scanner/verifier.js');
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const root = bytes(vectors.root_spki);
  const chain = async (names) => {
    let bundle = null;
    for (const name of [].concat(names)) {
      bundle = await v.openBundle(bytes(vectors.bundles[name]), [root], { current: bundle });
    }
    return bundle;
  };
  const out = {};
  for (const c of vectors.cases) {
    const verdict = await v.verifyPass(c.text, await chain(c.bundle),
      { zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: vectors.skew });
    out[c.name] = [verdict.status, verdict.reason];
  }
  for (const c of vectors.bundle_cases) {
    try { await chain(c.chain); out[c.name] = 'ok'; } catch (err) { out[c.name] = err.code ?? String(err); }
  }
  return out;
}"""


def _python_verdicts(vectors: dict[str, Any]) -> dict[str, list[str]]:
    import base64

    root = VerifyKey.from_spki(base64.b64decode(vectors["root_spki"]))
    out = {}
    for case in vectors["cases"]:
        bundle = None
        for name in [case["bundle"]] if isinstance(case["bundle"], str) else case["bundle"]:
            bundle = open_bundle(base64.b64decode(vectors["bundles"][name]), [root], current=bundle)
        verdict = verify_pass(case["text"], bundle, zone=case["zone"], now=case["at"], plate=case["plate"],
                              last_seen=case["last_seen"], skew=vectors["skew"])
        out[case["name"]] = [str(verdict.status), str(verdict.reason)]
    return out


def test_golden_vectors_in_chromium(playwright_sync: Any, live_server: LiveServer) -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    browser = launch_chromium(playwright_sync)
    try:
        page = browser.new_page()
        page.goto(f"{live_server.base_url}/healthz")
        results = page.evaluate(RUN_VECTORS, vectors)
        # Two rounds of 10: verifyPass, WebCrypto alone and the baseline (here a stub) each timed once a round.
        baseline_batches: list[int] = []
        timing = measure_js_verify(page, 20, batch=10, baseline=lambda n: baseline_batches.append(n) or 1.0)
    finally:
        browser.close()
    assert 0 < timing["verify_ms_median"] < 50
    assert timing["webcrypto_ms_median"] > 0 and (timing["verify_n"], timing["batch"]) == (20, 10)
    assert baseline_batches == [10, 10] and timing["baseline_ms_median"] == 1.0
    python = _python_verdicts(vectors)
    for case in vectors["cases"]:
        assert results[case["name"]] == [case["status"], case["reason"]], case["name"]
        assert results[case["name"]] == python[case["name"]], case["name"]
    for case in vectors["bundle_cases"]:
        assert results[case["name"]] == case["expect"], case["name"]


# ---- the scanner scenario ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def scanned_pass(live_server: LiveServer) -> IssuedPass:
    """A pass for PARIS-CENTRE issued through the services (the fake camera shows it)."""
    return issue_pass(live_server)


@pytest.fixture(scope="module")
def camera_browser(playwright_sync: Any, scanned_pass: IssuedPass, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Chromium whose fake camera films the pass's QR code (a y4m written here, never committed)."""
    y4m = write_y4m(scanned_pass.text, tmp_path_factory.mktemp("camera") / "pass.y4m")
    browser = launch_chromium(playwright_sync, y4m)
    yield browser
    browser.close()


def _scan(page: Any) -> dict[str, str]:
    """Press the scan button and wait for the next verdict; its data (status, reason, timings)."""
    before = int(page.evaluate("Number(document.body.dataset.verdicts ?? 0)"))
    page.click("#start")
    page.wait_for_function(f"() => Number(document.body.dataset.verdicts ?? 0) > {before}", timeout=TIMEOUT)
    return page.evaluate("({...document.querySelector('#verdict').dataset})")


def _home(page: Any) -> None:
    page.click("#back")
    page.wait_for_selector("#home:not([hidden])")


def _serve(body: bytes) -> Any:
    """A route handler answering with `body` as a bundle."""

    def handler(route: Any) -> None:
        route.fulfill(status=200, body=body, content_type="application/cose")

    return handler


def _checks_on_server(server: LiveServer) -> list[PassCheck]:
    async def query(session: Any) -> list[PassCheck]:
        rows = await session.exec(select(PassCheck).where(col(PassCheck.agent_id) == USER_IDS["agent"]))
        return list(rows.all())

    return server.run(query)


def test_scan_online_offline_revoked_and_tampered_bundle(
    camera_browser: Any, live_server: LiveServer, scanned_pass: IssuedPass, screenshots: Path,
) -> None:
    base = live_server.base_url
    context = camera_browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR",
                                         geolocation={"latitude": 48.8600, "longitude": 2.3350})
    context.grant_permissions(["camera", "geolocation"], origin=base)
    context.clock.install(time=DEVICE_TIME)
    context.clock.resume()  # time flows from DEVICE_TIME (inside PARIS-CENTRE's hours)
    page = context.new_page()
    errors: list[str] = []
    foreign: list[str] = []
    failed: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    context.on("request", lambda req: None if req.url.startswith((base, "data:", "blob:")) else foreign.append(req.url))
    page.on("response", lambda resp: failed.append(f"{resp.status} {resp.url}") if resp.status >= 400 else None)

    # Online: sign in, first sync pins the root key and stores the bundle; "Me localiser" proposes the zone.
    sign_in(page, base, "agent", "/scan")
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
    assert page.evaluate("document.body.dataset.syncStatus") == "updated"
    assert page.evaluate("document.body.dataset.bundleSeq") == "1"
    assert "Données n° 1" in page.text_content("#bundle-age")
    page.click("#locate")
    page.wait_for_function("() => document.querySelector('#zone').value === 'PARIS-CENTRE'", timeout=TIMEOUT)
    assert "PARIS-CENTRE" in page.text_content("#located")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT)
    page.screenshot(path=str(screenshots / "scanner-home.png"))

    verdict = _scan(page)
    assert (verdict["status"], verdict["reason"]) == ("VALID", "VALID"), verdict
    assert page.text_content("#v-plate") == "AB-123-CD"
    assert page.text_content("#v-status") == "VALIDE"
    assert scanned_pass.serial[:4] in page.text_content("#v-serial")
    page.screenshot(path=str(screenshots / "scanner-valid.png"))
    _home(page)

    # Offline: the page comes from the service worker, the bundle from IndexedDB, the zone from localStorage.
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
    assert page.evaluate("document.body.dataset.syncStatus") == "offline"
    assert page.evaluate("document.querySelector('#zone').value") == "PARIS-CENTRE"
    assert page.evaluate("document.body.dataset.bundleSeq") == "1"
    verdict = _scan(page)
    assert (verdict["status"], verdict["reason"]) == ("VALID", "VALID"), verdict
    # The check is stored just after the verdict is shown, and kept on the device until online.
    page.wait_for_function("() => Number(document.body.dataset.pending) >= 1", timeout=TIMEOUT)
    page.screenshot(path=str(screenshots / "scanner-offline-valid.png"))
    _home(page)

    # The authority revokes the pass and publishes; back online, the sync (a delta) brings it.
    revoke_pass(live_server, scanned_pass.id)
    assert publish(live_server) == 2
    context.set_offline(False)
    page.wait_for_function("() => document.body.dataset.bundleSeq === '2'", timeout=TIMEOUT)
    page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)
    verdict = _scan(page)
    assert (verdict["status"], verdict["reason"]) == ("REFUSED", "REVOKED"), verdict
    page.screenshot(path=str(screenshots / "scanner-revoked.png"))
    _home(page)

    # A tampered bundle is refused and the held one kept; so is an older (genuine) one.
    genuine = (Path(live_server.settings.keys_dir) / AUTHORITY_CODE / "bundles" / "2.cose").read_bytes()
    tampered = bytearray(genuine)
    tampered[len(tampered) // 2] ^= 0x01
    older = (Path(live_server.settings.keys_dir) / AUTHORITY_CODE / "bundles" / "1.cose").read_bytes()
    for body, code in ((bytes(tampered), "bundle_bad_signature"), (older, "bundle_rollback")):
        context.route(f"**/bundle/{AUTHORITY_CODE}.cose*", _serve(body))
        page.click("#sync")
        page.wait_for_function("() => document.body.dataset.syncStatus === 'refused'", timeout=TIMEOUT)
        assert page.evaluate("document.body.dataset.syncCode") == code
        assert page.evaluate("document.body.dataset.bundleSeq") == "2"
        assert "conservées" in page.text_content("#message")
        page.screenshot(path=str(screenshots / f"scanner-refused-{code}.png"))
        context.unroute(f"**/bundle/{AUTHORITY_CODE}.cose*")
        page.click("#sync")
        page.wait_for_function("() => document.body.dataset.syncStatus === 'current'", timeout=TIMEOUT)
    verdict = _scan(page)
    assert verdict["reason"] == "REVOKED"
    _home(page)

    # Typed serial, offline: the bundle's revocation list answers.
    context.set_offline(True)
    page.fill("#serial", " ".join(scanned_pass.serial[i:i + 4] for i in range(0, 16, 4)))
    page.click("#serial-form button[type=submit]")
    page.wait_for_selector("#verdict:not([hidden])")
    assert page.evaluate("document.querySelector('#verdict').dataset.reason") == "REVOKED"
    _home(page)
    context.set_offline(False)
    page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)

    # Every check reached the server once, as this agent, with the device's ids.
    checks = _checks_on_server(live_server)
    verdicts = sorted((c.verdict, c.reason_code) for c in checks)
    assert verdicts == sorted([("VALID", "VALID")] * 2 + [("REFUSED", "REVOKED")] * 3)
    assert {c.serial for c in checks} == {scanned_pass.serial}
    assert all(c.zone_id is not None and c.device_id for c in checks)
    assert errors == []
    assert foreign == []  # nothing from a CDN or any other site
    assert failed == []
    context.close()


def test_a_clock_once_set_ahead_recovers_at_the_next_online_sync(
    playwright_sync: Any, live_server: LiveServer, tmp_path: Path,
) -> None:
    """An agent's phone was set a year ahead, scanned, then put right. Offline, the device cannot tell
    a corrected clock from one turned back: it judges at the latest time it has seen, where this pass
    has expired. The next online sync, which carries the server's time, brings it back to VALID."""
    fresh = issue_pass(live_server)
    browser = launch_chromium(playwright_sync, write_y4m(fresh.text, tmp_path / "fresh.y4m"))
    try:
        base = live_server.base_url
        context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
        context.grant_permissions(["camera"], origin=base)
        context.clock.install(time=DEVICE_TIME)
        context.clock.resume()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, base, "agent", "/scan")
        page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
        page.select_option("#zone", "PARIS-CENTRE")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT)
        ahead = int((DEVICE_TIME + timedelta(days=365)).timestamp())
        page.evaluate("async (t) => (await import('/static/scanner/store.js')).setValue('lastSeen', t)", ahead)

        context.set_offline(True)
        page.reload()
        page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
        assert "Horloge de l'appareil antérieure" in page.text_content("#bundle-age")
        verdict = _scan(page)
        assert (verdict["status"], verdict["reason"]) == ("REFUSED", "EXPIRED"), verdict
        _home(page)

        context.set_offline(False)  # the 'online' event syncs
        page.wait_for_function("() => document.body.dataset.clockOffset !== undefined", timeout=TIMEOUT)
        assert abs(int(page.evaluate("document.body.dataset.clockOffset"))) < 600  # no warning shown
        assert "écart avec le serveur" not in page.text_content("#message")
        assert "Horloge de l'appareil antérieure" not in page.text_content("#bundle-age")
        verdict = _scan(page)
        assert (verdict["status"], verdict["reason"]) == ("VALID", "VALID"), verdict
        assert errors == []
        context.close()
    finally:
        browser.close()


def test_a_phone_clock_far_from_the_server_is_pointed_out(camera_browser: Any, live_server: LiveServer) -> None:
    base = live_server.base_url
    context = camera_browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
    context.clock.install(time=LIVE_T0 + timedelta(hours=2))
    context.clock.resume()
    page = context.new_page()
    sign_in(page, base, "agent", "/scan")
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
    assert int(page.evaluate("document.body.dataset.clockOffset")) >= 7200
    assert ("L'horloge de ce téléphone a 120 min d'écart avec le serveur : corrigez la date et l'heure."
            in page.text_content("#message"))
    context.close()


def _server_time_shifted(shift: int, device_epoch: int) -> Any:
    """A route handler passing the bundle through with `X-Server-Time` set `shift` seconds before
    the device's time: the phone's clock then looks `shift` seconds ahead of the server's."""

    def handler(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "x-server-time": str(device_epoch - shift)})

    return handler


def _paste(page: Any, text: str) -> None:
    """Put `text` on the clipboard and paste it into the manual field, as an agent does."""
    page.fill("#serial", "")
    page.evaluate("(t) => navigator.clipboard.writeText(t)", text)
    page.focus("#serial")
    page.keyboard.press("Control+V")


def _check(page: Any) -> dict[str, str]:
    before = int(page.evaluate("Number(document.body.dataset.verdicts ?? 0)"))
    page.click("#serial-form button[type=submit]")
    page.wait_for_function(f"() => Number(document.body.dataset.verdicts ?? 0) > {before}", timeout=TIMEOUT)
    return page.evaluate("({...document.querySelector('#verdict').dataset})")


def _doc_image(page: Any, name: str) -> None:
    if update_doc_screenshots():
        write_doc_image(page.screenshot(full_page=False), DOC_IMAGES / f"{name}.png")


def test_a_pasted_pass_text_is_verified_offline_and_a_clock_ahead_is_shown_on_the_verdict(
    playwright_sync: Any, live_server: LiveServer, screenshots: Path,
) -> None:
    """The agent pastes a pass text received in a message (wrapped in lines, lower-case prefix): the
    offline verifier says VALIDE, as for the scanned code. Then the phone's clock runs 25 minutes
    ahead of the server's: the verdict itself says so, and the check records carry the offset."""
    fresh = issue_pass(live_server)
    browser = launch_chromium(playwright_sync)
    try:
        base = live_server.base_url
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR",
                                      timezone_id="Europe/Paris")
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        context.clock.install(time=DEVICE_TIME)
        context.clock.resume()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, base, "agent", "/scan")
        page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
        page.select_option("#zone", "PARIS-CENTRE")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT)

        # As a messaging app hands it over: "cq1:", lines of 60 characters, a trailing newline.
        body = fresh.text[4:]
        pasted = "cq1:" + "\n".join(body[i:i + 60] for i in range(0, len(body), 60)) + "\n"
        context.set_offline(True)
        _paste(page, pasted)
        assert page.input_value("#serial") == pasted  # a text area: the line breaks reach the scanner
        page.locator("#serial").evaluate("el => el.scrollIntoView({block: 'center'})")
        page.screenshot(path=str(screenshots / "scanner-paste.png"))
        _doc_image(page, "agent-coller")
        verdict = _check(page)
        assert (verdict["status"], verdict["reason"], verdict["source"]) == ("VALID", "VALID", "paste"), verdict
        assert page.text_content("#v-status") == "VALIDE"
        assert page.text_content("#v-plate") == "AB-123-CD"
        assert fresh.serial[:4] in page.text_content("#v-serial")
        assert page.is_hidden("#v-clock")  # the phone's clock is 5 min off the server's: no warning
        _home(page)
        assert page.input_value("#serial") == ""

        # A text cut short is no verdict and no check: the agent is told to copy it whole.
        verdicts = page.evaluate("document.body.dataset.verdicts")
        page.fill("#serial", fresh.text[:150])
        page.click("#serial-form button[type=submit]")
        page.wait_for_function("() => document.querySelector('#message').textContent.includes('illisible')")
        assert "Copiez tout le texte" in page.text_content("#message")
        assert page.evaluate("document.body.dataset.verdicts") == verdicts
        assert page.is_visible("#home")

        # Online again, the bundle answers with a server time 25 min behind the phone's.
        device_epoch = int(page.evaluate("Math.floor(Date.now() / 1000)"))
        context.route(f"**/bundle/{AUTHORITY_CODE}.cose*", _server_time_shifted(1500, device_epoch))
        context.set_offline(False)
        page.wait_for_function("() => Number(document.body.dataset.clockOffset) >= 1500", timeout=TIMEOUT)
        page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)
        _paste(page, fresh.text)
        verdict = _check(page)
        assert (verdict["status"], verdict["reason"]) == ("VALID", "VALID"), verdict
        assert page.is_visible("#v-clock")
        assert page.text_content("#v-clock") == "L'horloge du téléphone avance de 25 min : vérifiez la date et l'heure"
        page.screenshot(path=str(screenshots / "scanner-clock-ahead.png"))
        _doc_image(page, "agent-horloge-avance")

        # A reload keeps the offset measured at the last sync (an offline reload cannot measure it).
        _home(page)
        context.unroute(f"**/bundle/{AUTHORITY_CODE}.cose*")
        page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)
        context.set_offline(True)
        page.reload()
        page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
        _paste(page, fresh.text)
        assert _check(page)["clockWarning"] != ""
        _home(page)
        context.set_offline(False)
        page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)

        # The server holds the three pasted checks as scanned ones, each with the phone's clock offset.
        checks = sorted((c for c in _checks_on_server(live_server) if c.serial == fresh.serial),
                        key=lambda c: c.checked_at)
        assert [(c.verdict, c.reason_code) for c in checks] == [("VALID", "VALID")] * 3
        offsets = [c.clock_offset_s for c in checks]
        assert offsets[0] is not None and abs(offsets[0]) < 600
        assert all(o is not None and o >= 1500 for o in offsets[1:]), offsets
        assert errors == []
        context.close()
    finally:
        browser.close()
