"""What walking the product as its users showed (task H5): the professional's lists read on a phone
(stacked rows, each cell naming its column), the area's menu stays on its Team and API pages, and
an invitation names the role in correct French."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import TestClient

from .conftest import login, post_form
from .mailbox import link_in, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .test_professional import approve, submitted_application, visible

PRO_MENU = ('<nav class="pro-nav"', 'href="/pro/vehicules"', 'href="/pro/laissez-passer"')


def _tables(html: str) -> list[str]:
    return re.findall(r"<table\b.*?</table>", html, flags=re.S)


def _stacked_with_labels(table: str) -> bool:
    """A table a phone shows as one card per row: class "stack" and every body cell labelled."""
    opening = re.match(r"<table\b[^>]*>", table)
    body = table.split("<tbody>", 1)[-1]
    cells = re.findall(r"<td\b[^>]*>", body)
    return (opening is not None and "stack" in opening.group(0) and bool(cells)
            and all("data-label=" in cell for cell in cells))


def test_pro_lists_of_applications_and_passes_stack_on_a_phone(client, web_world) -> None:
    """At 390 px the status and validity columns were off screen (sideways scroll): every list of
    the professional area is a stacked table whose cells say their column."""
    login(client, "pro")
    app_id = submitted_application(client)
    approve(web_world, app_id)
    for path in ("/pro", "/pro/demandes", "/pro/laissez-passer"):
        page = client.get(path)
        assert page.status_code == 200, path
        tables = _tables(page.text)
        assert tables, path
        assert all(_stacked_with_labels(t) for t in tables), path
    passes = client.get("/pro/laissez-passer").text
    for label in ("Numéro", "Immatriculation", "Zones", "Validité", "Statut"):
        assert f'data-label="{label}"' in passes


def test_the_pro_menu_stays_on_the_team_and_api_pages(client) -> None:
    """Équipe and Accès API are entries of the professional's menu: their pages keep it."""
    login(client, "pro")
    for path in ("/pro/equipe", "/pro/api"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert all(part in page.text for part in PRO_MENU), path
        assert "/static/pro/pro.css" in page.text, path


def test_the_authority_team_page_does_not_get_the_pro_menu(client) -> None:
    login(client, "admin")
    page = client.get("/autorite/equipe")
    assert page.status_code == 200
    assert '<nav class="pro-nav"' not in page.text


def test_an_invitation_names_the_role_in_correct_french(web_world) -> None:
    """"en tant que Administrateur de l'autorité" / "en tant que Agent de contrôle" lacked the elision."""
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        invited = post_form(admin, "/autorite/equipe", {"email": "nouvel.agent@example.fr", "role": "agent"})
        assert invited.status_code == 200, invited.text
    link = link_in(mails_to(web_world, "nouvel.agent@example.fr")[0].body, "/invitation/")
    with TestClient(web_world.app) as them:
        text = visible(them.get(link).text)
    assert "avec le rôle « Agent de contrôle »" in text
    assert "en tant que" not in text
    with TestClient(web_world.app) as them:
        english = visible(them.get(link + "?lang=en").text)
    assert "with the role" in english


def test_the_professional_guide_describes_the_sign_up_as_it_happens(client) -> None:
    """The guide said the new company lands on its dashboard; the page asks to check the mailbox."""
    guide = (Path(__file__).parents[2] / "docs" / "guide-professionnels.md").read_text(encoding="utf-8")
    assert "vous êtes connecté et arrivez sur votre tableau de bord" not in guide
    assert "Vérifiez votre boîte aux lettres" in guide
    page = post_form(client, "/inscription", {
        "company_name": "Primeurs du Marché", "company_id": "732829320", "display_name": "Léa Fontaine",
        "email": "lea.fontaine@primeurs.example.fr", "password": "motdepasse123", "password_again": "motdepasse123"})
    assert page.status_code == 200
    assert "Vérifiez votre boîte aux lettres" in visible(page.text)
    assert client.get("/pro", follow_redirects=False).status_code == 303  # not signed in
