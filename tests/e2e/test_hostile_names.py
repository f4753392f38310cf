"""Zone names written as HTML stay text in every page and script (issue 14, item 5).

Zones whose names are markup are created through the services (as an import or a feed would), made
active and published. Chromium then opens the professionals' application form (zone list and
Leaflet map, each zone hovered so its tooltip opens), the authority's zone list and zone page, and
the scanner (zone list of the trust bundle). On each page: no navigation (a `<meta http-equiv=refresh>`
parsed from a name would send the visitor to 127.0.0.1:9), no dialog, no element created from a
name (meta, img, b, svg with handlers), and each name shown as literal text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.demo.seed import AUTHORITY_ID, USER_IDS

from .harness import LiveServer, launch_chromium, publish, sign_in

TIMEOUT = 20_000
FOREIGN = re.compile(r"^(?!https?://127\.0\.0\.1[:/]|data:|blob:)")  # map tiles: no network in tests
REFRESH = '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/">'
HOSTILE = {
    "HOSTILE-META": REFRESH,
    "HOSTILE-IMG": "<img src=x onerror=alert(1)>",
    "HOSTILE-B": "<b>gras</b>",
    "HOSTILE-SVG": "\"'><svg/onload=alert(1)>",
    "HOSTILE-SCRIPT": f"</script>{REFRESH}",  # leaves the page's JSON <script> if it is not escaped
}
# Elements a name would create if it were parsed as HTML (the pages themselves have none of them).
INJECTED = ("meta[http-equiv], img[src='x'], img[onerror], b, svg[onload], [onload], [onerror], "
            "script:not([src]):not([type='application/json'])")


def _square(index: int) -> dict[str, Any]:
    """A 0.008° square south-west of Paris, inside the demo ZFE and away from its smaller zones."""
    west, south, side = 2.24 + 0.012 * index, 48.822, 0.008
    ring = [[west, south], [west + side, south], [west + side, south + side], [west, south + side], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def hostile_zones(live_server: LiveServer) -> dict[str, str]:
    """The hostile zones, active with an access rule (so professionals can ask for them), then published."""
    from cirqliz.issuance.zones import add_access_rule, change_zone_status, create_zone

    async def work(session: AsyncSession) -> dict[str, str]:
        ids = {}
        for index, (code, name) in enumerate(HOSTILE.items()):
            zone = await create_zone(session, authority_id=AUTHORITY_ID, code=code, name=name, kind="limited_traffic",
                                     geometry=_square(index), clock=live_server.clock, actor_id=USER_IDS["admin"])
            await add_access_rule(session, zone_id=zone.id, clock=live_server.clock, name="Professionnels",
                                  purposes=[1], max_pass_days=30)
            await change_zone_status(session, zone_id=zone.id, status="active", clock=live_server.clock)
            ids[code] = str(zone.id)
        return ids

    ids = live_server.run(work)
    publish(live_server)
    return ids


@pytest.fixture(scope="module")
def browser(playwright_sync: Any) -> Any:
    chromium = launch_chromium(playwright_sync)
    yield chromium
    chromium.close()


class Visitor:
    """One signed-in person's tab, with its navigations and dialogs recorded."""

    def __init__(self, browser: Any, base: str, who: str) -> None:
        self.context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
        self.context.route(FOREIGN, lambda route: route.abort())
        self.page = self.context.new_page()
        self.base = base
        sign_in(self.page, base, who, "/moi")
        self.navigations: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("framenavigated", lambda frame: self.navigations.append(frame.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def open(self, path: str) -> None:
        """Load `path` and forget the navigation it made."""
        response = self.page.goto(f"{self.base}{path}", wait_until="load")
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        self.navigations.clear()

    def check(self, path: str) -> None:
        """After a pause (a refresh of 0 s would have happened): still on `path`, nothing parsed from a name."""
        self.page.wait_for_timeout(700)
        assert self.navigations == [], f"{path}: the page navigated to {self.navigations}"
        assert self.page.url == f"{self.base}{path}"
        assert self.dialogs == [], f"{path}: dialogs {self.dialogs}"
        injected = self.page.eval_on_selector_all(INJECTED, "els => els.map(e => e.outerHTML.slice(0, 120))")
        assert injected == [], f"{path}: elements created from a name: {injected}"

    def close(self) -> None:
        """Close the tab and its cookies."""
        self.context.close()


def _text(page: Any, selector: str) -> str:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent).join('\\n')")


def test_the_zone_map_tooltips_show_names_as_text(browser: Any, live_server: LiveServer,
                                                  hostile_zones: dict[str, str]) -> None:
    pro = Visitor(browser, live_server.base_url, "pro")
    try:
        path = "/pro/demandes/nouvelle"
        pro.open(path)
        page = pro.page
        page.wait_for_selector("#zones-map:not([hidden]) path.leaflet-interactive", timeout=TIMEOUT)
        shapes = page.locator("#zones-map path.leaflet-interactive")
        tooltips = set()
        for index in range(shapes.count()):
            # The pointer's event sent to the shape itself: the map may still be moving (fitBounds animation),
            # so a hover at the shape's place could land on another shape or on none.
            shapes.nth(index).dispatch_event("mouseover")
            page.wait_for_selector(".leaflet-tooltip", timeout=TIMEOUT)
            tooltips.update(page.eval_on_selector_all(".leaflet-tooltip", "els => els.map(e => e.textContent)"))
            shapes.nth(index).dispatch_event("mouseout")
            pro.check(path)  # hovering a name made of markup parses nothing
        for code, name in HOSTILE.items():
            assert f"{name} ({code})" in tooltips, (code, sorted(tooltips))
        labels = _text(page, "label")
        assert all(name in labels for name in HOSTILE.values()), labels
        pro.check(path)
    finally:
        pro.close()


def test_authority_pages_show_names_as_text(browser: Any, live_server: LiveServer,
                                            hostile_zones: dict[str, str]) -> None:
    admin = Visitor(browser, live_server.base_url, "admin")
    try:
        admin.open("/autorite/zones")
        admin.check("/autorite/zones")
        listed = _text(admin.page, "main")
        assert all(name in listed for name in HOSTILE.values()), listed
        for code, zone_id in hostile_zones.items():
            path = f"/autorite/zones/{zone_id}"
            admin.open(path)
            admin.page.wait_for_selector("#zone-map path.leaflet-interactive", timeout=TIMEOUT)  # polygon, no tiles
            admin.check(path)
            assert HOSTILE[code] in _text(admin.page, "h1"), code
    finally:
        admin.close()


def test_the_scanner_lists_names_as_text(browser: Any, live_server: LiveServer,
                                         hostile_zones: dict[str, str]) -> None:
    agent = Visitor(browser, live_server.base_url, "agent")
    try:
        agent.open("/scan")
        agent.page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT)
        agent.check("/scan")
        options = agent.page.eval_on_selector_all("#zone option", "els => els.map(e => e.textContent)")
        for code, name in HOSTILE.items():
            assert f"{code} — {name}" in options, (code, options)
        assert agent.page.eval_on_selector_all("#zone option *", "els => els.length") == 0
    finally:
        agent.close()
