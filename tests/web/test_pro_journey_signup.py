"""Issue 17, sign-up and the offline pass pages' files.

Sign-up shows every error at once, each next to its field (and in a summary linking to it), keeps
what was typed except the passwords, and stores nothing. The service worker of the pass pages is
served for the scope /pro/laissez-passer/ only, and the pages load only files (CSP: no inline
script)."""

from __future__ import annotations

import re
from html import unescape

from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import Organisation, UserAccount

from .conftest import login, post_form, text_of
from .mailbox import in_db, outbox, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .test_professional import approve, submitted_application

FIELDS = ("company_name", "company_id", "display_name", "email", "password", "password_again")


def _registration(**overrides: str) -> dict[str, str]:
    data = {"company_name": "Livraisons Rapides SAS", "company_id": "732 829 320", "display_name": "Rita Rapide",
            "email": "rita@livraisons-rapides.fr", "password": "livrer-vite-2026", "password_again": "livrer-vite-2026"}
    return data | overrides


def _error_of(html: str, field: str) -> str | None:
    """The error shown next to a field: the paragraph `<field>_error` inside the field's block, which
    the input names in aria-describedby."""
    block = re.search(rf'<div class="field[^"]*">(?:(?!</div>).)*?id="{field}"(?:(?!</div>).)*</div>', html, re.S)
    assert block, field
    found = re.search(rf'<p class="field-error" id="{field}_error">(.*?)</p>', block.group(0), re.S)
    if found is None:
        return None
    described = re.search(rf'<input id="{field}"[^>]*aria-describedby="([^"]*)"', block.group(0))
    assert described and f"{field}_error" in described.group(1).split(), field
    assert re.search(rf'<input id="{field}"[^>]*aria-invalid="true"', block.group(0)), field
    return unescape(text_of(found.group(1))).replace("Erreur :", "").strip()


def _count(world, model, *where) -> int:
    async def work(session):
        return len((await session.exec(select(model).where(*where))).all())

    return in_db(world, work)


def test_every_error_shows_at_once_next_to_its_field(client: TestClient, web_world) -> None:
    before = _count(web_world, Organisation)
    response = post_form(client, "/inscription", _registration(
        company_name="", company_id="732829321", display_name=" ", email="rita.livraisons.fr", password="court",
        password_again="autre"))
    assert response.status_code == 400
    html = response.text
    errors = {field: _error_of(html, field) for field in FIELDS}
    assert errors == {
        "company_name": "Indiquez la raison sociale de l'entreprise (200 caractères au plus).",
        "company_id": errors["company_id"],
        "display_name": "Indiquez vos prénom et nom (200 caractères au plus).",
        "email": "Adresse électronique invalide : elle s'écrit nom@domaine.fr.",
        "password": "Mot de passe trop court : 10 caractères au moins.",
        "password_again": "Les deux mots de passe ne sont pas identiques.",
    }
    assert "clé de contrôle de Luhn incorrecte" in errors["company_id"]
    # A summary on top links to each field.
    summary = re.search(r'<div class="alert error" role="alert" id="erreurs".*?</div>', html, re.S).group(0)
    assert [f for f in FIELDS if f'href="#{f}"' in summary] == list(FIELDS)
    assert "Le compte n'a pas été créé" in unescape(text_of(summary))
    assert _count(web_world, Organisation) == before and outbox(web_world) == []


def test_what_was_typed_is_kept_except_the_passwords(client: TestClient) -> None:
    response = post_form(client, "/inscription", _registration(company_id="12", password="motdepasse-2026",
                                                               password_again="motdepasse-2027"))
    assert response.status_code == 400
    html = response.text
    for field, value in (("company_name", "Livraisons Rapides SAS"), ("company_id", "12"),
                         ("display_name", "Rita Rapide"), ("email", "rita@livraisons-rapides.fr")):
        assert re.search(rf'<input id="{field}"[^>]*value="{re.escape(value)}"', html), field
    assert "motdepasse-202" not in html
    assert not re.search(r'<input id="password(_again)?"[^>]*value=', html)
    assert _error_of(html, "company_name") is None and _error_of(html, "password") is None
    assert _error_of(html, "company_id").startswith("Numéro invalide")
    assert _error_of(html, "password_again") == "Les deux mots de passe ne sont pas identiques."
    assert "Par sécurité, les mots de passe ne sont jamais réaffichés" in unescape(text_of(html))


def test_an_empty_form_names_every_field(client: TestClient) -> None:
    response = post_form(client, "/inscription", dict.fromkeys(FIELDS, ""))
    assert response.status_code == 400
    assert all(_error_of(response.text, f) for f in FIELDS)
    assert 'novalidate' in response.text  # the browser does not stop at the first field: the server lists all


def test_a_company_already_registered_is_said_next_to_its_number(client: TestClient, web_world) -> None:
    assert post_form(client, "/inscription", _registration()).status_code == 200
    client.cookies.clear()
    again = post_form(client, "/inscription", _registration(email="autre@livraisons-rapides.fr"))
    assert again.status_code == 400
    assert _error_of(again.text, "company_id").startswith("Cette entreprise est déjà inscrite")
    assert _count(web_world, UserAccount, col(UserAccount.email) == "autre@livraisons-rapides.fr") == 0


def test_sign_up_errors_in_english(client: TestClient) -> None:
    response = post_form(client, "/inscription?lang=en", dict.fromkeys(FIELDS, ""))
    text = text_of(response.text)
    assert "The account was not created" in text and "Enter your e-mail address." in text


# ---- the offline phone page's files ------------------------------------------------------------


def test_the_service_worker_is_served_for_the_pass_pages_only(client: TestClient) -> None:
    response = client.get("/pro/laissez-passer/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/pro/laissez-passer/"
    assert response.headers["cache-control"] == "no-cache"
    assert "caches.delete(CACHE)" in response.text  # a redirection to sign-in forgets every pass


def test_the_phone_page_keeps_itself_with_files_only(client: TestClient, web_world) -> None:
    login(client, "pro")
    issued = approve(web_world, submitted_application(client))
    html = client.get(f"/pro/laissez-passer/{issued.id}/telephone").text
    assert '<script src="/static/pro/pass-offline.js" defer></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script (CSP)"
    assert 'id="hors-ligne"' in html and "data-ready=" in html
    script = client.get("/static/pro/pass-offline.js").text
    assert "register('/pro/laissez-passer/sw.js', { scope: '/pro/laissez-passer/' })" in script
    # Every page of a professional carries the sign-out hook that forgets the kept passes.
    for url in ("/pro", "/pro/equipe", f"/pro/laissez-passer/{issued.id}"):
        assert '<script type="module" src="/static/pro/pass-offline-signout.js"></script>' in client.get(url).text, url
    assert "caches.delete('cirqliz-passes')" in client.get("/static/pro/pass-offline-signout.js").text
    client.cookies.clear()
    login(client, "agent")
    assert "pass-offline-signout.js" not in client.get("/").text
