"""Audits of rendered pages, shared by the browser tests (no pytest imports here).

- `axe_violations(page)`: runs axe-core (from node_modules, installed by the setup command) in the
  page with its Content-Security-Policy kept: the engine is evaluated through the DevTools protocol,
  which a page's CSP does not govern, instead of being added as a <script> the CSP would refuse.
  `preload_axe(context)` loads it the same way in each page of a context as the page starts (crawls).
- `english_words(text)`: words of the product's own vocabulary (enum values, reason codes, engine
  messages) that a French page must never show raw.
"""

from __future__ import annotations

import html
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@lru_cache(maxsize=1)
def _axe_source() -> str:
    if not AXE.exists():
        raise RuntimeError(f"axe-core is missing ({AXE}): run ./dev test, which installs the npm packages")
    return AXE.read_text(encoding="utf-8")


def preload_axe(context: Any) -> None:
    """Have every page of a browser context start with axe-core loaded, as an init script (the DevTools
    protocol again, not governed by the CSP): a crawl then does not send the 650 kB engine to each page."""
    context.add_init_script(_axe_source())


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of every impact on the current page: [{id, impact, help, targets}]."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source() + "\n;void 0")
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }""",
        AXE_TAGS,
    )
    return list(result)


def _product_vocabulary() -> frozenset[str]:
    """Raw values of the product's enums and reason codes: shown as such they are untranslated."""
    from cirqliz.domain.applications import ApplicationAction, ApplicationStatus
    from cirqliz.domain.organisations import OrganisationKind, Role
    from cirqliz.domain.passes import ExemptionKind, PassStatus
    from cirqliz.domain.vehicles import Energy
    from cirqliz.domain.zones import ReviewMode, TrafficOrderStatus, ZoneKind, ZoneStatus
    from cirqliz.verify.core import Reason, Status

    words: set[str] = set()
    for enum in (ApplicationAction, ApplicationStatus, OrganisationKind, Role, ExemptionKind, PassStatus, Energy,
                 ReviewMode, TrafficOrderStatus, ZoneKind, ZoneStatus, Reason, Status):
        words |= {str(member.value) for member in enum}
    # Words that are also French, or that pages legitimately show (codes in monospace are checked apart).
    return frozenset(w for w in words if w not in FRENCH_TOO)


FRENCH_TOO = frozenset({"diesel", "agent", "active", "local", "national"})  # French words as well
ENGINE_ENGLISH = (
    "Self-intersection", "Ring Self-intersection", "is not valid", "is a required property", "Traceback",
    "not found", "Internal Server Error", "Bad Request", "Forbidden", "Validation failed", "None",
    "True", "False", "Mo-Fr", "Mo-Sa", "Su ", "PH off",
)


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    words = sorted(_product_vocabulary(), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in words) + r")(?![\w-])")


def english_words(text: str) -> list[str]:
    """Raw enum values, reason codes and engine phrases found in a page's visible text."""
    found = set(_pattern().findall(text))
    found |= {phrase for phrase in ENGINE_ENGLISH if phrase in text}
    return sorted(found)


# ---- screenshots of every crawled page (docs/images/pages/, docs/captures.md) ------------------

SCREENSHOTS_ENV = "CIRQLIZ_SCREENSHOTS"
REPO = Path(__file__).parents[2]
PAGE_IMAGE_MAX_BYTES = 400_000
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
AUDIENCE_TITLES = {
    "anonyme": "Public (sans compte)", "pro": "Professionnel", "admin": "Autorité (administration et instruction)",
    "organiser": "Organisateur d'événement", "agent": "Agent de terrain",
}
AUDIENCE_ORDER = ("anonyme", "pro", "organiser", "admin", "agent")


def screenshots_folder() -> Path | None:
    """Where the crawl writes a screenshot of each page (CIRQLIZ_SCREENSHOTS, relative to the
    repository), or None: by default the tests never write into docs/."""
    value = os.environ.get(SCREENSHOTS_ENV)
    if not value:
        return None
    folder = Path(value)
    return folder if folder.is_absolute() else REPO / folder


def page_slug(path: str, ids: dict[str, str]) -> str:
    """A file-name slug for a page's path: the demo's constant ids keep their distinctive tail, ids
    made at seed time (random) are numbered in order of appearance (`ids`), so reruns agree."""

    def short(match: re.Match[str]) -> str:
        value = match.group(0)
        if value.startswith("00000000-0000-4000-"):
            return value[19] + value[24:].lstrip("0")
        return ids.setdefault(value, f"id{len(ids) + 1}")

    text = _UUID.sub(short, path.lower()).strip("/")
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:80].rstrip("-") or "accueil"


def display_path(path: str) -> str:
    """The path as the index shows it: ids made at seed time (random) become `{id}`."""
    return _UUID.sub(lambda m: m.group(0) if m.group(0).startswith("00000000-0000-4000-") else "{id}", path)


def clear_screenshots(folder: Path, audience: str, width: int) -> None:
    """Remove this audience's screenshots at this width, so pages no longer linked do not linger."""
    for old in folder.glob(f"{audience}-*-{width}.png"):
        old.unlink()


def save_screenshot(page: Any, folder: Path, name: str) -> int:
    """Write the whole page as a small palette PNG `folder/name.png`; its size in bytes."""
    from .harness import write_doc_image

    png = page.screenshot(full_page=True, animations="disabled", caret="hide")
    return write_doc_image(png, folder / f"{name}.png", max_bytes=PAGE_IMAGE_MAX_BYTES)


def record_pages(folder: Path, audience: str, pages: dict[str, tuple[str, str]]) -> None:
    """Merge this crawl's pages ({slug: (path, title)}) into folder/pages.json and rewrite the index
    docs/captures.md from it and the PNGs present."""
    manifest_path = folder / "pages.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    known = manifest.setdefault(audience, {})
    known.update({slug: {"path": display_path(path), "title": title.removesuffix(" — CirQliz")}
                  for slug, (path, title) in pages.items()})
    for slug in [s for s in known if not any((folder / f"{audience}-{s}-{w}.png").exists() for w in (390, 1280))]:
        del known[slug]  # a page no longer crawled
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    (REPO / "docs" / "captures.md").write_text(captures_index(folder, manifest), encoding="utf-8")


def captures_index(folder: Path, manifest: dict[str, dict[str, dict[str, str]]]) -> str:
    """docs/captures.md: every page of every audience, 390 px and 1280 px side by side."""
    relative = os.path.relpath(folder, REPO / "docs")
    lines = [
        "# Captures de toutes les pages",
        "",
        "Chaque page que voit chaque public, sur un téléphone (390 px) et sur un ordinateur (1280 px),",
        "avec les données de démonstration et l'horloge fixée au lundi 23 novembre 2026, 9 h (Paris).",
        "Les captures sont faites par le parcours de `tests/e2e/test_every_page.py` ; pour les refaire :",
        "",
        "```bash",
        "CIRQLIZ_SCREENSHOTS=docs/images/pages .venv/bin/pytest -q -p no:cacheprovider tests/e2e/test_every_page.py",
        "```",
        "",
        "Chaque capture montre la page entière ; cliquez pour l'ouvrir en taille réelle. Les noms des",
        "fichiers sont `<public>-<page>-<largeur>.png` dans `docs/images/pages/`.",
        "",
    ]
    audiences = [a for a in AUDIENCE_ORDER if a in manifest] + sorted(set(manifest) - set(AUDIENCE_ORDER))
    lines += ["Publics : " + " · ".join(f"[{AUDIENCE_TITLES.get(a, a)}](#{a})" for a in audiences), ""]
    for audience in audiences:
        lines += [f'<h2 id="{audience}">{AUDIENCE_TITLES.get(audience, audience)}</h2>', ""]
        for slug, info in sorted(manifest[audience].items(), key=lambda item: item[1]["path"]):
            shots = {w: f"{audience}-{slug}-{w}.png" for w in (390, 1280)}
            if not any((folder / name).exists() for name in shots.values()):
                continue
            lines += [f"### {info['title']}", "", f"`{info['path']}`", "", "| 390 px | 1280 px |", "|---|---|"]
            alt = html.escape(info["title"])
            cells = [f'<a href="{relative}/{name}"><img src="{relative}/{name}" alt="{alt}, {w} px" '
                     f'width="{320 if w == 1280 else 195}"></a>' if (folder / name).exists() else "—"
                     for w, name in shots.items()]
            lines += ["| " + " | ".join(cells) + " |", ""]
    return "\n".join(lines)
