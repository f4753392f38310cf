"""What walking the authority's pages showed (task H6): raw English values (organisation kinds,
energies), plates as stored, the authority menu lost on the team page, no invitation link without a
mail server, no way back from the API viewer, and « lot » beside « paquet de confiance »."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from litestar.testing import TestClient

from cirqliz.issuance.mail import Mailer
from cirqliz.web.audit_text import changes

from .conftest import login, post_form
from .mailbox import link_in, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .test_professional import VEHICLE_AB, submitted_application, visible

TEMPLATES = Path(__file__).parents[2] / "cirqliz" / "web" / "templates"
VEHICLE_GH = "00000000-0000-4000-c000-000000000003"  # GH-789-JK, electric, company "pro"
AUTHORITY_MENU = ('<nav class="subnav"', 'href="/autorite/zones"', 'href="/autorite/publier"',
                  'href="/autorite/journal"')
INVITED = "nouvelle.instructrice@example.fr"


def test_organisation_kinds_read_in_french() -> None:
    """The journal showed « type : authority »: every kind has a label in the one label table."""
    assert changes(None, {"kind": "authority"}) == ["type : autorité"]
    assert changes(None, {"kind": "company"}) == ["type : entreprise"]
    assert changes(None, {"kind": "authority"}, "en") == ["type: authority"]
    assert changes(None, {"kind": "company"}, "en") == ["type: company"]
    # "organiser" is a role as well: it keeps the role's label, which reads right for the kind too
    assert changes(None, {"role": "organiser"}) == ["rôle : Organisateur d'événement"]


def test_application_page_names_the_energy_in_french(client) -> None:
    login(client, "pro")
    app_id = submitted_application(client, vehicles=(VEHICLE_AB, VEHICLE_GH))
    client.cookies.clear()
    login(client, "reviewer")
    page = client.get(f"/autorite/demandes/{app_id}")
    assert page.status_code == 200
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page.text)  # cells carry their column's label on phones
    assert "Électrique" in cells and "Gazole" in cells
    assert "electric" not in cells and "diesel" not in cells
    english = client.get(f"/autorite/demandes/{app_id}?lang=en")
    assert "Electric" in re.findall(r"<td[^>]*>([^<]*)</td>", english.text)


def test_applications_list_writes_plates_as_people_do(client) -> None:
    login(client, "pro")
    submitted_application(client, vehicles=(VEHICLE_AB, VEHICLE_GH))
    client.cookies.clear()
    login(client, "reviewer")
    text = re.sub(r"\s+,", ",", visible(client.get("/autorite/demandes").text))  # each plate kept whole in a span
    assert "AB-123-CD, GH-789-JK" in text
    assert "AB123CD" not in text and "GH789JK" not in text


def test_the_authority_team_page_keeps_the_authority_menu(client) -> None:
    login(client, "admin")
    page = client.get("/autorite/equipe")
    assert page.status_code == 200
    assert all(part in page.text for part in AUTHORITY_MENU)
    assert "/static/autorite/autorite.css" in page.text and "/static/pro/pro.css" not in page.text
    assert re.search(r'<a href="/autorite/equipe" aria-current="page">', page.text)
    # the other authority pages keep their menu and their own current entry
    zones = client.get("/autorite/zones").text
    assert all(part in zones for part in AUTHORITY_MENU)
    assert '<a href="/autorite/zones" aria-current="page">' in zones
    assert 'href="/autorite/equipe" aria-current' not in zones


def test_without_a_mail_server_the_team_page_shows_the_invitation_link(web_world) -> None:
    """No SMTP server: the mail only reaches the outbox folder, so the inviting administrator is
    given the link to hand over (as `cirqliz user invite` prints it), and it works."""
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        invited = post_form(admin, "/autorite/equipe", {"email": INVITED, "role": "reviewer"})
        assert invited.status_code == 200, invited.text
    text = visible(invited.text)
    assert "Aucun serveur de courriel n'est configuré" in text and "Transmettez-lui vous-même ce lien" in text
    shown = re.search(r'<code class="invitation-link">([^<]+)</code>', invited.text)
    assert shown is not None
    mailed = link_in(mails_to(web_world, INVITED)[0].body, "/invitation/")
    assert shown.group(1).endswith(mailed)
    with TestClient(web_world.app) as them:
        assert them.get(mailed).status_code == 200
    # only on the answer to the invitation: the team page does not show links afterwards
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        assert "/invitation/" not in admin.get("/autorite/equipe").text


def test_the_professional_team_page_shows_the_link_too(web_world) -> None:
    with TestClient(web_world.app) as pro:
        login(pro, "pro")
        invited = post_form(pro, "/pro/equipe", {"email": "collegue.walk@example.fr"})
        assert invited.status_code == 200, invited.text
    assert '<code class="invitation-link">' in invited.text
    assert '<nav class="pro-nav"' in invited.text and '<nav class="subnav"' not in invited.text


def test_with_a_mail_server_the_link_is_not_shown(web_world, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr(Mailer, "send_smtp", lambda self, message: sent.append(message["To"]))
    world = web_world.with_settings(replace(web_world.settings, smtp_host="smtp.example.fr"))
    with TestClient(world.app) as admin:
        login(admin, "admin")
        invited = post_form(admin, "/autorite/equipe", {"email": INVITED, "role": "agent"})
        assert invited.status_code == 200, invited.text
    assert f"Invitation envoyée à {INVITED}" in visible(invited.text)
    assert "/invitation/" not in invited.text and "Aucun serveur de courriel" not in invited.text
    for _ in range(100):  # the mail leaves by SMTP instead, from a worker thread after the commit
        if sent:
            break
        time.sleep(0.02)
    assert sent == [INVITED]


def test_the_api_viewer_leads_back_to_the_site(client) -> None:
    page = client.get("/schema")
    assert page.status_code == 200
    assert re.search(r'<header class="schema-back"><a href="/">← Retour à CirQliz</a></header>', page.text)
    # still no inline script or style (Content-Security-Policy)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    assert "<style" not in page.text and " style=" not in page.text


def test_one_word_for_the_trust_bundle(client) -> None:
    """The guides say « paquet de confiance »: so does every page."""
    login(client, "admin")
    text = visible(client.get("/autorite/publier").text)
    assert "Le paquet de confiance signé" in text and "paquet complet" in text
    found = [str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
             if re.search(r"\blots? (de confiance|complets?)\b", path.read_text(), flags=re.I)]
    assert not found
