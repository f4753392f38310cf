"""Audits of rendered pages, shared by the browser tests (no pytest imports here).

- `axe_violations(page)`: runs axe-core (from node_modules, installed by the setup command) in the
  page with its Content-Security-Policy kept: the engine is evaluated through the DevTools protocol,
  which a page's CSP does not govern, instead of being added as a <script> the CSP would refuse.
- `english_words(text)`: words of the product's own vocabulary (enum values, reason codes, engine
  messages) that a French page must never show raw.
"""

from __future__ import annotations

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
