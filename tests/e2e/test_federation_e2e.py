"""Federation of trust (issue 19) in the scanner PWA, in Chromium: three authorities on one server,
the demo one (home of the agent) trusting the two others through its signed bundle.

- the first sync holds the home bundle and one bundle per partner; the zone choice groups the
  zones by authority; "Me localiser" picks the smallest zone around the agent, whoever's it is;
- offline, a pass of each authority is VALID and the verdict names its issuer and the zone's authority;
- the relay serving an older partner bundle: refused with a French line, that partner's passes
  still VALID with the held bundle;
- the partner removed by the home authority, then a sync: its bundle dropped, its pass UNKNOWN_KEY.
Screenshots at 390 and 1280 px in /tmp/shots/ (and tests/artifacts/screenshots/)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from cirqliz.db.models import PassCheck
from cirqliz.demo.seed import AUTHORITY_CODE, AUTHORITY_ID, USER_IDS

from .harness import (
    DOC_IMAGES,
    LIVE_T0,
    LiveServer,
    _in_thread,
    issue_pass,
    launch_chromium,
    publish,
    sign_in,
    update_doc_screenshots,
    write_doc_image,
)

DEVICE_TIME = LIVE_T0 + timedelta(minutes=5)
TIMEOUT = 20_000
# Lyon: the metropolitan zone, and inside it the prefecture's (smaller) event perimeter.
LYON = {"latitude": 45.7640, "longitude": 4.8357}


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


@dataclass(frozen=True)
class Partner:
    """A partner authority made for the test, and a pass it signed."""

    code: str
    name: str
    zone: str
    text: str
    partner_id: Any = None

    @property
    def ref(self) -> str:
        """The checkpoint reference of its zone on the agent's phone."""
        return f"{self.code}/{self.zone}"


PARTNERS = (
    ("metro", "Métropole de Lyon", "ZFE-LYON", "Zone à faibles émissions", _box(4.78, 45.72, 4.90, 45.80)),
    ("pref", "Préfecture du Rhône", "FETE-LUMIERES", "Périmètre Fête des Lumières", _box(4.82, 45.755, 4.85, 45.77)),
)


def _make_partner(server: LiveServer, code: str, name: str, zone_code: str, zone_name: str,
                  geometry: dict[str, Any]) -> Partner:
    """An authority of this platform (cirqliz authority create), one active zone, its bundle
    published twice (so an older one exists), and a pass signed with its key."""
    from cirqliz.db.engine import create_engine, create_session_factory
    from cirqliz.domain.purposes import Purpose
    from cirqliz.issuance.onboarding import create_authority
    from cirqliz.issuance.publication import publish_bundle
    from cirqliz.issuance.signer import ClaimsInput
    from cirqliz.issuance.zones import change_zone_status, create_zone

    settings, clock, signer = server.settings, server.clock, server.app.state.signer

    async def create() -> Any:
        engine = create_engine(settings)
        try:
            made = await create_authority(create_session_factory(engine), code=code, name=name,
                                          admin_email=f"admin@{code}.example.fr", keys_root=settings.keys_dir,
                                          clock=clock, secret_key=settings.secret_key)
            return made.organisation_id
        finally:
            await engine.dispose()

    org_id = _in_thread(create)

    async def zone_and_bundles(session: Any) -> int:
        zone = await create_zone(session, authority_id=org_id, code=zone_code, name=zone_name, kind="low_emission",
                                 geometry=geometry, clock=clock)
        await change_zone_status(session, zone_id=zone.id, status="active", clock=clock)
        keystore = signer.keystore(code)
        await publish_bundle(session, authority_id=org_id, keystore=keystore, clock=clock)
        await publish_bundle(session, authority_id=org_id, keystore=keystore, clock=clock)
        return zone.ref

    ref = server.run(zone_and_bundles)
    now = clock.now()
    signed = signer.sign(claims_input=ClaimsInput(
        issuer=code, serial=os.urandom(8), issued_at=now, not_before=now - timedelta(hours=1),
        expires_at=now + timedelta(days=30), plate="EF456GH", zone_refs=(ref,), purpose=Purpose.DELIVERY))
    return Partner(code, name, zone_code, signed.text)


def _add_partner(server: LiveServer, partner: Partner) -> Partner:
    """The home authority's admin adds the partner (its fingerprint read out by telephone)."""
    from cirqliz.issuance.partners import add_partner, own_root_fingerprint

    signer = server.app.state.signer

    async def work(session: Any) -> Any:
        row = await add_partner(session, authority_id=AUTHORITY_ID, name=partner.name,
                                bundle_url=f"{server.base_url}/bundle/{partner.code}.cose", root_pem="",
                                fingerprint=own_root_fingerprint(signer, partner.code), actor_id=USER_IDS["admin"],
                                clock=server.clock, signer=signer)
        return row.id

    return Partner(partner.code, partner.name, partner.zone, partner.text, server.run(work))


def _remove_partner(server: LiveServer, partner: Partner) -> None:
    from cirqliz.issuance.partners import remove_partner

    async def work(session: Any) -> None:
        await remove_partner(session, authority_id=AUTHORITY_ID, partner_id=partner.partner_id,
                             actor_id=USER_IDS["admin"], clock=server.clock, signer=server.app.state.signer)

    server.run(work)


@pytest.fixture(scope="module")
def federation(live_server: LiveServer) -> dict[str, Any]:
    """The demo authority's pass, and two partner authorities with a pass each."""
    home_pass = issue_pass(live_server)
    partners = {}
    for code, name, zone, zone_name, geometry in PARTNERS:
        partners[code] = _add_partner(live_server, _make_partner(live_server, code, name, zone, zone_name, geometry))
    return {"home": home_pass, **partners}


def _check(page: Any, text: str, zone: str) -> dict[str, str]:
    """Choose the checkpoint, paste the pass text, check it; the verdict's data."""
    page.select_option("#zone", zone)
    page.fill("#serial", text)
    before = int(page.evaluate("Number(document.body.dataset.verdicts ?? 0)"))
    page.click("#serial-form button[type=submit]")
    page.wait_for_function(f"() => Number(document.body.dataset.verdicts ?? 0) > {before}", timeout=TIMEOUT)
    return page.evaluate("({...document.querySelector('#verdict').dataset})")


def _home(page: Any) -> None:
    page.click("#back")
    page.wait_for_selector("#home:not([hidden])")


DOC_SHOTS = {"federation-home-390.png", "federation-verdict-metro-390.png", "federation-refused-1280.png"}


def _shot(page: Any, name: str, screenshots: Path) -> None:
    """The test's screenshot; with CIRQLIZ_UPDATE_DOC_SCREENSHOTS=1 also the guide's (docs/partenaires.md)."""
    png = page.screenshot(path=str(screenshots / name), full_page=True)
    if update_doc_screenshots() and name in DOC_SHOTS:
        write_doc_image(png, DOC_IMAGES / name.replace("federation-", "agent-partenaires-"))


def _sync(page: Any) -> None:
    """Press the sync button and wait until the sync and its rendering are over."""
    page.wait_for_function("() => document.body.dataset.syncing !== '1'", timeout=TIMEOUT)
    done = int(page.evaluate("Number(document.body.dataset.syncs ?? 0)"))
    page.click("#sync")
    page.wait_for_function(f"() => Number(document.body.dataset.syncs ?? 0) > {done}", timeout=TIMEOUT)


def test_partner_passes_checked_offline_refused_bundle_and_removed_partner(
    playwright_sync: Any, live_server: LiveServer, federation: dict[str, Any], screenshots: Path,
) -> None:
    base = live_server.base_url
    metro, pref = federation["metro"], federation["pref"]
    browser = launch_chromium(playwright_sync)
    try:
        for width, height in ((390, 844), (1280, 900)):
            context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR",
                                          timezone_id="Europe/Paris", geolocation=LYON)
            context.grant_permissions(["geolocation"], origin=base)
            context.clock.install(time=DEVICE_TIME)
            context.clock.resume()
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            sign_in(page, base, "agent", "/scan")
            page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT)

            # The first sync holds one bundle per authority; the bundle line names each one.
            seqs = dict(part.split(":") for part in page.evaluate("document.body.dataset.partnerSeqs").split(","))
            assert set(seqs) == {"metro", "pref"}, seqs
            line = page.text_content("#bundle-age")
            assert f"Métropole de Lyon : n° {seqs['metro']}, il y a" in line, line
            assert f"Préfecture du Rhône : n° {seqs['pref']}" in line, line
            groups = page.eval_on_selector_all("#zone optgroup", "els => els.map((g) => g.label)")
            assert groups[1:] == ["Métropole de Lyon", "Préfecture du Rhône"], groups
            assert page.eval_on_selector_all("#zone option", "els => els.map((o) => o.value)")[-2:] == [
                metro.ref, pref.ref]

            # In Lyon, "Me localiser" proposes the prefecture's perimeter (the smallest zone around).
            page.click("#locate")
            page.wait_for_function(f"() => document.querySelector('#zone').value === '{pref.ref}'", timeout=TIMEOUT)
            assert "FETE-LUMIERES (Préfecture du Rhône)" in page.text_content("#located")
            _shot(page, f"federation-home-{width}.png", screenshots)

            # Offline, after a reload: the three authorities' passes, each VALID, each issuer named.
            context.set_offline(True)
            page.reload()
            page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
            assert page.evaluate("document.body.dataset.syncStatus") == "offline"
            assert set(page.evaluate("document.body.dataset.partnerSeqs").split(",")) == {
                f"metro:{seqs['metro']}", f"pref:{seqs['pref']}"}
            for text, zone, issuer, name in (
                (federation["home"].text, "PARIS-CENTRE", AUTHORITY_CODE, None),
                (metro.text, metro.ref, "metro", "Métropole de Lyon"),
                (pref.text, pref.ref, "pref", "Préfecture du Rhône"),
            ):
                verdict = _check(page, text, zone)
                assert (verdict["status"], verdict["reason"], verdict["issuer"]) == ("VALID", "VALID", issuer), verdict
                assert verdict["zoneAuthority"] == issuer
                if name:
                    assert page.text_content("#v-issuer") == f"{name} ({issuer})"
                    assert f"({name})" in page.text_content("#v-checkpoint")
                if issuer == "metro":
                    _shot(page, f"federation-verdict-metro-{width}.png", screenshots)
                _home(page)
            # A partner's pass at another authority's zone is not valid there.
            verdict = _check(page, metro.text, "PARIS-CENTRE")
            assert (verdict["status"], verdict["reason"], verdict["issuer"]) == ("REFUSED", "WRONG_ZONE", "metro")
            _home(page)
            context.set_offline(False)
            page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)
            assert errors == []
            if width == 390:
                context.close()

        # The relay serves an older METRO bundle: refused, the held one kept, its passes still VALID.
        older = (Path(live_server.settings.keys_dir) / "metro" / "bundles" / "1.cose").read_bytes()
        context.route("**/scan/partenaires/metro.cose*",
                      lambda route: route.fulfill(status=200, body=older, content_type="application/cose"))
        _sync(page)
        page.wait_for_function("() => document.body.dataset.partnerRefusals === 'metro'", timeout=TIMEOUT)
        refusal = page.text_content("#partner-refusals")
        assert ("Paquet de Métropole de Lyon refusé : numéro plus ancien que celui détenu (retour en arrière) ; "
                "l'ancien est conservé") in refusal, refusal
        assert "metro:refused" in page.evaluate("document.body.dataset.partnerSync")
        assert f"metro:{seqs['metro']}" in page.evaluate("document.body.dataset.partnerSeqs")
        _shot(page, "federation-refused-1280.png", screenshots)
        page.set_viewport_size({"width": 390, "height": 844})
        _shot(page, "federation-refused-390.png", screenshots)
        verdict = _check(page, metro.text, metro.ref)
        assert (verdict["status"], verdict["reason"], verdict["issuer"]) == ("VALID", "VALID", "metro"), verdict
        _home(page)
        context.unroute("**/scan/partenaires/metro.cose*")

        # The home authority removes the prefecture: the next sync drops its bundle; its pass UNKNOWN_KEY.
        _remove_partner(live_server, pref)
        _sync(page)
        page.wait_for_function("() => !document.body.dataset.partnerSeqs.includes('pref')", timeout=TIMEOUT)
        assert "pref:removed" in page.evaluate("document.body.dataset.partnerSync")
        assert "Préfecture du Rhône" not in page.text_content("#bundle-age")
        assert pref.ref not in page.eval_on_selector_all("#zone option", "els => els.map((o) => o.value)")
        verdict = _check(page, pref.text, "PARIS-CENTRE")
        assert (verdict["status"], verdict["reason"]) == ("REFUSED", "UNKNOWN_KEY"), verdict
        assert page.text_content("#v-issuer") == "—"
        _shot(page, "federation-removed-390.png", screenshots)
        _home(page)
        page.wait_for_function("() => document.body.dataset.pending === '0'", timeout=TIMEOUT)

        # Three days and an hour later the home authority has published again, METRO has not: its
        # part of the bundle line says stale, and its passes are "À VÉRIFIER" (STALE_BUNDLE).
        later = LIVE_T0 + timedelta(days=3, hours=1)
        live_server.clock.set(later)
        publish(live_server)
        page.clock.set_system_time(later + timedelta(minutes=5))
        _sync(page)
        metro_part = page.locator("#bundle-age span[data-iss='metro']")
        assert metro_part.get_attribute("data-state") == "stale"
        assert metro_part.text_content() == f"Métropole de Lyon : n° {seqs['metro']}, trop anciennes : synchroniser"
        assert page.locator(f"#bundle-age span[data-iss='{AUTHORITY_CODE}']").get_attribute("data-state") == "ok"
        _shot(page, "federation-stale-390.png", screenshots)
        verdict = _check(page, metro.text, metro.ref)
        assert (verdict["status"], verdict["reason"]) == ("UNCERTAIN", "STALE_BUNDLE"), verdict
        _home(page)
        assert errors == []
        context.close()
    finally:
        live_server.clock.set(LIVE_T0)
        browser.close()

    # The server keeps each check's issuer and checkpoint reference.
    async def query(session: Any) -> list[PassCheck]:
        return list((await session.exec(select(PassCheck).where(col(PassCheck.agent_id) == USER_IDS["agent"]))).all())

    checks = live_server.run(query)
    seen = {(c.issuer, c.zone_code, c.reason_code) for c in checks}
    assert ("metro", metro.ref, "VALID") in seen and ("pref", pref.ref, "VALID") in seen
    assert (AUTHORITY_CODE, "PARIS-CENTRE", "VALID") in seen
    assert (None, "PARIS-CENTRE", "UNKNOWN_KEY") in seen

    # The authority's checks page names the partner that issued each pass, on a phone and a desk.
    browser = launch_chromium(playwright_sync)
    try:
        for width, height in ((390, 844), (1280, 900)):
            context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR",
                                          timezone_id="Europe/Paris")
            page = context.new_page()
            sign_in(page, base, "admin", "/autorite/controles")
            page.wait_for_selector("small.issuer", timeout=TIMEOUT)
            issuers = set(page.eval_on_selector_all("small.issuer", "els => els.map((e) => e.textContent)"))
            assert {"émis par Métropole de Lyon", "émis par Préfecture du Rhône"} <= issuers, issuers
            assert not any("metro" in text or "pref" in text for text in issuers), issuers
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            _shot(page, f"federation-checks-{width}.png", screenshots)
            context.close()
    finally:
        browser.close()
