"""Every page of every audience, in Chromium at 390 px and 1280 px: axe-core finds no violation of
any impact (the CSP kept), no raw enum value, reason code or engine English shows in a French
page, and nothing overflows a phone's width.

The pages are found by following the links each audience sees from its home (bounded crawl), so a
new page linked from the interface is audited without editing this test.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlparse

import pytest

from .harness import launch_chromium, sign_in
from .page_audit import axe_violations, english_words

pytestmark = pytest.mark.e2e
AUDIENCES = {"anonyme": "/", "pro": "/pro", "admin": "/autorite", "organiser": "/organisateur", "agent": "/scan"}
MAX_PAGES = 60
SKIPPED_PREFIXES = ("/static", "/deconnexion", "/api", "/dev", "/schema", "/bundle", "/metrics", "/healthz", "/readyz")
FILE_SUFFIXES = (".png", ".svg", ".csv", ".json", ".geojson", ".xml", ".cose", ".zip", ".pdf", ".pem", ".ics")


def _links(page, base_url: str, here: str) -> list[str]:
    host = urlparse(base_url).netloc
    found = []
    for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
        url = urlparse(urljoin(base_url + here, href))
        if url.netloc != host or url.path.startswith(SKIPPED_PREFIXES) or url.path.endswith(FILE_SUFFIXES):
            continue
        query = url.query if url.query and "lang=" not in url.query else ""
        found.append(url.path + (f"?{query}" if query else ""))
    return found


def _crawl(page, base_url: str, start: str, width: int) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    seen: set[str] = set()
    queue = [start]
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            response = page.goto(base_url + path)
        except Exception:  # a link that downloads a file is not a page
            continue
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        found = []
        if response.status >= 500:
            found.append(f"HTTP {response.status}")
        found += [f"axe {v['id']} ({v['impact']}): {v['help']} — {', '.join(v['targets'][:3])}"
                  for v in axe_violations(page)]
        found += [f"mot anglais ou code brut : {word}" for word in english_words(page.inner_text("body"))]
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if width < 500 and overflow > 1:
            found.append(f"déborde de {overflow} px en largeur")
        if found:
            problems[path] = found
        queue += [link for link in _links(page, base_url, path) if link not in seen]
    assert len(seen) > 1 or start == "/scan", f"crawl from {start} found no page"
    return problems


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("audience", sorted(AUDIENCES))
def test_every_page_is_accessible_and_french(live_server, playwright_sync, audience: str, width: int) -> None:
    browser = launch_chromium(playwright_sync)
    try:
        context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900})
        page = context.new_page()
        start = AUDIENCES[audience]
        if audience != "anonyme":
            sign_in(page, live_server.base_url, audience, start)
        problems = _crawl(page, live_server.base_url, start, width)
        context.close()
    finally:
        browser.close()
    assert not problems, "\n".join(f"{path}: {p}" for path, items in problems.items() for p in items)
