"""The public service's frame: legal notice, accessibility statement, personal-data page, contact,
favicon, and a home page that knows who is signed in."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from .conftest import login

WEB = Path(__file__).parents[2] / "cirqliz" / "web"
PAGES = {"/mentions-legales": "Mentions légales", "/accessibilite": "Déclaration d'accessibilité",
         "/donnees-personnelles": "Données personnelles", "/contact": "Contact"}


@pytest.mark.parametrize("path", sorted(PAGES))
def test_every_page_links_the_legal_pages_and_they_answer_anonymously(client, path) -> None:
    home = client.get("/")
    assert f'href="{path}"' in home.text
    response = client.get(path)
    assert response.status_code == 200
    text = html.unescape(response.text)
    assert PAGES[path] in text
    assert "à renseigner par l'exploitant" in text


def test_the_operator_named_in_settings_appears(client) -> None:
    settings = client.app.state.settings
    object.__setattr__(settings, "operator_name", "Ville de Lyon")
    object.__setattr__(settings, "operator_contact", "zones@mairie-lyon.invalid")
    try:
        text = client.get("/mentions-legales").text
        assert "Ville de Lyon" in text and "mailto:zones@mairie-lyon.invalid" in text
        data = client.get("/donnees-personnelles").text
        assert f"{settings.retention_checks_days} jours" in data
    finally:
        object.__setattr__(settings, "operator_name", "")
        object.__setattr__(settings, "operator_contact", "")


def test_favicon(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    assert 'rel="icon"' in client.get("/").text


def test_home_knows_who_is_signed_in(client) -> None:
    assert "Créer un compte entreprise" in client.get("/").text
    login(client, "pro")
    text = client.get("/").text
    assert "Aller à mon espace" in text and 'href="/pro"' in text
    assert "Créer un compte entreprise" not in text


def test_public_pages_in_english(client) -> None:
    text = client.get("/accessibilite?lang=en").text
    assert "Accessibility statement" in text and "Déclaration" not in text


def test_every_public_string_has_an_english_translation() -> None:
    translated: set[str] = set()
    for po in (WEB / "translations" / "en").glob("*.po"):
        with po.open("rb") as fh:
            translated |= {m.id for m in read_po(fh, locale="en") if m.id and m.string}
    wanted: set[str] = set()
    templates = [*(WEB / "templates" / "legal").glob("*.html"), WEB / "templates" / "base.html",
                 WEB / "templates" / "home.html"]
    for template in templates:
        text = template.read_text(encoding="utf-8")
        wanted |= set(re.findall(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*\)""", text))
        wanted |= set(re.findall(r"""_\(\s*'((?:[^'\\]|\\.)*)'\s*\)""", text))
    assert not sorted(wanted - translated)
