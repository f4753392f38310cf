"""Our scripts build DOM text, never HTML strings (issue 14, item 5: stored HTML injection).

Zone names, company names and every other stored text come from authorities, organisers, imports
and feeds. A script that hands them to the HTML parser (innerHTML, document.write, a Leaflet
tooltip or popup given a string…) lets a name such as `<meta http-equiv=refresh …>` act on every
visitor, which the Content-Security-Policy does not stop. This scan of every script served from
cirqliz/web/static refuses those sinks; Leaflet content must be an element built with textContent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).parents[2] / "cirqliz" / "web" / "static"
SCRIPTS = sorted(p for p in STATIC.rglob("*.js") if "node_modules" not in p.parts)

# Any use of an HTML-parsing DOM sink, whatever the argument.
HTML_SINKS = re.compile(
    r"\.\s*(?:innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment|srcdoc)\b"
    r"|\bdocument\s*\.\s*write(?:ln)?\s*\("
    r"|\bparseFromString\s*\(",
)
# Leaflet methods that parse a string argument as HTML (an HTMLElement is inserted as it is).
LEAFLET_CONTENT = re.compile(r"\.\s*(bindTooltip|bindPopup|setContent|setTooltipContent|setPopupContent)\s*\(")
# What such a method may receive: a variable or a call (e.g. `label(feature)`) returning an element.
ELEMENT_ARGUMENT = re.compile(r"[A-Za-z_$][\w$]*(?:\s*\([^'\"`+]*\))?")
# Leaflet's `attribution` is HTML too: only a constant string literal is allowed there.
ATTRIBUTION = re.compile(r"\battribution\s*:\s*([^,}\n]*)")
CONSTANT_STRING = re.compile(r"\"[^\"<>]*\"|'[^'<>]*'")


def _first_argument(text: str, start: int) -> str:
    """The text of the first argument of the call whose '(' is just before `start`."""
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                return text[start:index].strip()
            depth -= 1
        elif char == "," and depth == 0:
            return text[start:index].strip()
    return text[start:].strip()


def html_string_uses(source: str) -> list[str]:
    """Each place of `source` (a script) that gives a string to an HTML parser, as 'line N: why'."""
    found = []
    for match in HTML_SINKS.finditer(source):
        found.append(f"line {source.count(chr(10), 0, match.start()) + 1}: {match.group(0).strip()}")
    for match in LEAFLET_CONTENT.finditer(source):
        argument = _first_argument(source, match.end())
        if not ELEMENT_ARGUMENT.fullmatch(argument):
            line = source.count("\n", 0, match.start()) + 1
            found.append(f"line {line}: {match.group(1)}({argument}) is not an element built with textContent")
    for match in ATTRIBUTION.finditer(source):
        if not CONSTANT_STRING.fullmatch(match.group(1).strip()):
            found.append(f"line {source.count(chr(10), 0, match.start()) + 1}: attribution {match.group(1)!r}")
    return found


def test_there_are_scripts_to_check() -> None:
    names = {p.relative_to(STATIC).as_posix() for p in SCRIPTS}
    assert {"pro/zones-map.js", "autorite/zone-map.js", "scanner/app.js", "scanner/view.js"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(STATIC).as_posix())
def test_no_script_hands_a_string_to_the_html_parser(script: Path) -> None:
    uses = html_string_uses(script.read_text(encoding="utf-8"))
    assert not uses, f"{script.relative_to(STATIC)} builds HTML from strings:\n" + "\n".join(uses)


@pytest.mark.parametrize("source", [
    "el.innerHTML = name;",
    "el.outerHTML = '<b>' + x + '</b>';",
    "el.insertAdjacentHTML('beforeend', row);",
    "document.write(name);",
    "layer.bindTooltip(feature.properties.name + ' (' + code + ')');",
    "layer.bindTooltip(feature.properties.name);",
    "layer.bindPopup(`<b>${name}</b>`);",
    "tooltip.setContent('<p>' + name);",
    "layer.setTooltipContent(name + code, { sticky: true });",
    "L.tileLayer(url, { attribution: feed.credit }).addTo(map);",
])
def test_the_scan_sees_each_sink(source: str) -> None:
    assert html_string_uses(source), source


@pytest.mark.parametrize("source", [
    "layer.bindTooltip(label(feature.properties), { sticky: true });",
    "layer.bindPopup(box);",
    "el.textContent = name;",
    'L.tileLayer(url, { maxZoom: 19, attribution: "&copy; OpenStreetMap" }).addTo(map);',
])
def test_the_scan_lets_element_building_through(source: str) -> None:
    assert html_string_uses(source) == []


TEMPLATES = STATIC.parent / "templates"
# The only values written without escaping: Litestar's CSRF <input> and the QR code's SVG, whose
# path is built from the module matrix only (cirqliz/issuance/qr.py: digits and letters, no text).
TRUSTED_SAFE = {"csrf_input", "svg"}


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")),
                         ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_templates_escape_everything_they_show(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    unescaped = set(re.findall(r"\{\{\s*([\w.]+)[^}]*\|\s*safe\b", source))
    assert unescaped <= TRUSTED_SAFE, f"{template.name}: | safe on {unescaped - TRUSTED_SAFE}"
    raw = re.search(r"autoescape\s+false|Markup\s*\(|\|\s*(?:json_dumps|raw)\b", source, re.IGNORECASE)
    assert raw is None, f"{template.name}: {raw and raw.group(0)}"
    # JSON inside <script> only through `tojson`, which escapes <, > and & (a name holding </script>).
    for block in re.findall(r"<script[^>]*>(.*?)</script>", source, re.DOTALL):
        for expression in re.findall(r"\{\{(.*?)\}\}", block, re.DOTALL):
            assert re.search(r"\|\s*tojson\s*$", expression.strip()), f"{template.name}: {expression.strip()[:60]}"


def test_the_page_templates_are_autoescaped(tmp_path: Path) -> None:
    from cirqliz.settings import Settings
    from cirqliz.web.app import create_app

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", env="test",
                        secret_key="test-secret-key-not-for-production-0123456789", keys_dir=str(tmp_path / "keys"),
                        documents_dir=str(tmp_path / "documents"), outbox_dir=str(tmp_path / "outbox"),
                        scheduler_enabled=False)
    engine = create_app(settings).template_engine
    assert engine is not None
    assert engine.engine.autoescape is True or engine.engine.autoescape("page.html")
    assert str(engine.engine.from_string("{{ name }}").render(name="<b>x</b>")) == "&lt;b&gt;x&lt;/b&gt;"


def test_served_svg_images_hold_no_script() -> None:
    images = list(STATIC.rglob("*.svg"))
    assert images and not list(STATIC.rglob("*.htm*")), "no HTML page under /static"
    for image in images:
        source = image.read_text(encoding="utf-8").lower()
        assert "<script" not in source and not re.search(r"\son\w+\s*=", source) and "javascript:" not in source, image
