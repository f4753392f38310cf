"""Every page of every audience, in Chromium at 390 px and 1280 px: axe-core finds no violation of
any impact (the CSP kept), no raw enum value, reason code or engine English shows in a French
page, and nothing overflows a phone's width.

The pages are found by following the links each audience sees from its home (bounded crawl), so a
new page linked from the interface is audited without editing this test.

With CIRQLIZ_SCREENSHOTS=docs/images/pages the crawl also writes each page, whole, as
<audience>-<page>-<width>.png and rewrites docs/captures.md (fixed clock and demo data: reruns give
the same names).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import pytest

from .harness import launch_chromium, sign_in
from .page_audit import (
    axe_violations,
    captures_index,
    clear_screenshots,
    english_words,
    page_slug,
    preload_axe,
    record_pages,
    save_screenshot,
    screenshots_folder,
)

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


def _crawl(page, base_url: str, start: str, width: int, audience: str) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    seen: set[str] = set()
    folder = screenshots_folder()
    shot_pages: dict[str, tuple[str, str]] = {}
    ids: dict[str, str] = {}
    if folder is not None:
        clear_screenshots(folder, audience, width)
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
        if folder is not None and urlparse(page.url).path == urlparse(path).path:  # a redirect is shot at its target
            slug = page_slug(path, ids)
            page.wait_for_load_state("networkidle")
            save_screenshot(page, folder, f"{audience}-{slug}-{width}")
            shot_pages[slug] = (path, page.title())
        if found:
            problems[path] = found
        queue += [link for link in _links(page, base_url, path) if link not in seen]
    if folder is not None:
        record_pages(folder, audience, shot_pages)
    assert len(seen) > 1 or start == "/scan", f"crawl from {start} found no page"
    return problems


@pytest.fixture(scope="module")
def browser(playwright_sync) -> Iterator[Any]:
    """One Chromium for the ten crawls: each has a context of its own (cookies, storage, service workers)."""
    chromium = launch_chromium(playwright_sync)
    yield chromium
    chromium.close()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("audience", sorted(AUDIENCES))
def test_every_page_is_accessible_and_french(live_server, browser, audience: str, width: int) -> None:
    context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": 900})
    try:
        preload_axe(context)
        page = context.new_page()
        page.clock.set_fixed_time(live_server.clock.now())  # the phone's clock agrees with the server's
        start = AUDIENCES[audience]
        if audience != "anonyme":
            sign_in(page, live_server.base_url, audience, start)
            page.wait_for_load_state("networkidle")  # the landing page's own requests (the scanner's sync) end first
        problems = _crawl(page, live_server.base_url, start, width, audience)
    finally:
        context.close()
    assert not problems, "\n".join(f"{path}: {p}" for path, items in problems.items() for p in items)


def test_screenshot_names_do_not_depend_on_the_run(tmp_path) -> None:
    ids: dict[str, str] = {}
    assert page_slug("/", ids) == "accueil"
    assert page_slug("/autorite/zones/00000000-0000-4000-d000-000000000002/perimetre", ids) == \
        "autorite-zones-d2-perimetre"
    random_id = "e75b9083-586e-408b-8def-30e3cd41ab9a"
    assert page_slug(f"/autorite/equipe/{random_id}/retirer", ids) == "autorite-equipe-id1-retirer"
    assert page_slug(f"/autorite/regles/{random_id}", ids) == "autorite-regles-id1"  # same id, same number
    assert page_slug("/pro/demandes?statut=needs_info", ids) == "pro-demandes-statut-needs-info"
    (tmp_path / "pro-pro-390.png").write_bytes(b"")
    (tmp_path / "pro-pro-1280.png").write_bytes(b"")
    index = captures_index(tmp_path, {"pro": {"pro": {"path": "/pro", "title": "Tableau de bord"}},
                                      "admin": {"gone": {"path": "/x", "title": "Disparue"}}})
    assert "### Tableau de bord" in index and "pro-pro-390.png" in index and "pro-pro-1280.png" in index
    assert "Disparue" not in index  # no screenshot, no entry
