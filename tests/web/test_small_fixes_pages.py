"""Small things people tripped over (task H10): no invitation link on an organiser's page without a
mail server, no area menu on the member-removal page, raw plates in the bulk approval result, a long
link widening a phone's page, « e-mail » where the rest says « courriel », and no device cookie after
accepting an invitation (so a locked account kept its new member out)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from litestar.testing import TestClient

from cirqliz.demo.seed import DEMO_PASSWORD, ORGANISER_ID, USER_IDS, USERS
from cirqliz.issuance.mail import Mailer
from cirqliz.web.i18n import translations

from .conftest import csrf_token, login, post_form
from .mailbox import link_in, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .test_authority import EV, VAN, submitted_application
from .test_event_suppliers import _approved_event
from .test_login_lockout import HOME, _attack, _attempt, _device, _device_set_cookie, _forget_device, _locked
from .test_professional import visible

WEB = Path(__file__).parents[2] / "cirqliz" / "web"
ORGANISER_PAGE = f"/autorite/organisateurs/{ORGANISER_ID}"
INVITED = "nouvelle.organisatrice@example.fr"
PASSWORD = "un-mot-de-passe-solide-2026"
SHOWN_LINK = re.compile(r'<code class="invitation-link">([^<]+)</code>')


# ---- 1. the organiser's invite form shows the link when no mail leaves ------------------------


def test_inviting_an_organisers_user_without_a_mail_server_shows_the_link(web_world) -> None:
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        invited = post_form(admin, f"{ORGANISER_PAGE}/invitations", {"email": INVITED})
        assert invited.status_code == 200, invited.text
        assert '<nav class="subnav"' in invited.text  # still the authority's page
        assert "Aucun serveur de courriel n'est configuré" in visible(invited.text)
        shown = SHOWN_LINK.search(invited.text)
        assert shown is not None
        mailed = link_in(mails_to(web_world, INVITED)[0].body, "/invitation/")
        assert shown.group(1) == f"{web_world.settings.base_url.rstrip('/')}{mailed}"
        assert "/invitation/" not in admin.get(ORGANISER_PAGE).text  # only on the answer to the invitation
    with TestClient(web_world.app) as them:  # the link shown works: the person joins the organiser
        assert them.get(mailed).status_code == 200
        joined = post_form(them, mailed, {"display_name": "Nina Organisatrice", "password": PASSWORD,
                                          "password_again": PASSWORD}, follow_redirects=False)
        assert joined.status_code == 303 and joined.headers["location"] == "/organisateur"


def test_with_a_mail_server_the_organiser_page_shows_no_link(web_world, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Mailer, "send_smtp", lambda self, message: None)
    world = web_world.with_settings(replace(web_world.settings, smtp_host="smtp.example.fr"))
    with TestClient(world.app) as admin:
        login(admin, "admin")
        invited = post_form(admin, f"{ORGANISER_PAGE}/invitations", {"email": INVITED})
        assert invited.status_code == 200, invited.text
    assert f"Invitation envoyée à {INVITED}" in visible(invited.text)
    assert "/invitation/" not in invited.text and "Aucun serveur de courriel" not in invited.text



def test_the_invitation_notice_is_in_the_page_language(web_world) -> None:
    """The address is not part of the catalog entry: « Invitation envoyée à … » reads in English too."""
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        admin.cookies.set("lang", "en")
        for url in (f"{ORGANISER_PAGE}/invitations", "/autorite/equipe"):
            invited = post_form(admin, url, {"email": INVITED, "role": "agent"})
            assert invited.status_code == 200, invited.text
            assert f"Invitation sent to {INVITED}." in visible(invited.text), url
            assert "Invitation envoyée" not in invited.text, url

def test_a_refused_organiser_invitation_shows_no_link(client) -> None:
    login(client, "admin")
    refused = post_form(client, f"{ORGANISER_PAGE}/invitations", {"email": "pas-une-adresse"})
    assert refused.status_code == 400
    assert "/invitation/" not in refused.text and "Aucun serveur de courriel" not in refused.text


# ---- 2. the member-removal page keeps the area's menu -----------------------------------------


def test_the_authority_removal_page_has_the_authority_menu(client) -> None:
    login(client, "admin")
    page = client.get(f"/autorite/equipe/{USER_IDS['reviewer']}/retirer")
    assert page.status_code == 200
    assert '<nav class="subnav"' in page.text and 'href="/autorite/zones"' in page.text
    assert re.search(r'<a href="/autorite/equipe" aria-current="page">', page.text)
    assert "/static/autorite/autorite.css" in page.text and "/static/pro/pro.css" not in page.text
    assert '<nav class="pro-nav"' not in page.text


def test_the_professional_removal_page_has_the_professional_menu(client) -> None:
    login(client, "pro")
    page = client.get(f"/pro/equipe/{USER_IDS['pro']}/retirer")
    assert page.status_code == 200
    assert '<nav class="pro-nav"' in page.text and 'href="/pro/vehicules"' in page.text
    assert "/static/pro/pro.css" in page.text
    assert '<nav class="subnav"' not in page.text and "/static/autorite/autorite.css" not in page.text


# ---- 3. the bulk approval result writes plates as people do -----------------------------------


def test_bulk_approval_labels_write_plates_as_people_do(client, web_world) -> None:
    app_id = submitted_application(web_world, vehicles=(VAN, EV))
    login(client, "reviewer")
    result = post_form(client, "/autorite/demandes/acceptation-groupee", {"ids": [str(app_id)]})
    assert result.status_code == 200, result.text
    label = re.search(rf'<a href="/autorite/demandes/{app_id}">([^<]+)</a>', result.text)
    assert label is not None
    assert visible(label.group(1)) == "Transports Exemple SARL — AB-123-CD, GH-789-JK"


# ---- 4. a long link wraps on a phone ------------------------------------------------------------


def test_the_invitation_link_is_in_a_block_whose_code_wraps() -> None:
    """The rule the Chromium check at 390 px relies on (test_small_fixes_phone.py draws it)."""
    css = (WEB / "static" / "css" / "app.css").read_text(encoding="utf-8")
    rule = re.search(r"\.invitation-message code\s*\{([^}]*)\}", css)
    assert rule is not None and "overflow-wrap: anywhere" in rule.group(1)
    block = (WEB / "templates" / "comptes" / "_invitation_link.html").read_text(encoding="utf-8")
    assert 'class="alert invitation-message"' in block and '<code class="invitation-link">' in block


# ---- 6. « courriel », as everywhere else ---------------------------------------------------------


# A word for e-mail a person reads: e-mail, email, mail, emails… (not an attribute, a field or a variable).
EMAIL_WORD = re.compile(r"(?<![\w.\-@])e?-?mails?(?![\w\-=\"'(])", re.IGNORECASE)


def _template_messages() -> list[tuple[str, str]]:
    """(template, text) of every message of the templates passed to _()."""
    found = []
    for path in sorted((WEB / "templates").rglob("*.html")):
        for text in re.findall(r'_\(\s*"((?:[^"\\]|\\.)*)"', path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(WEB / "templates")), text))
    return found


def test_no_template_message_says_e_mail() -> None:
    offenders = [(name, text) for name, text in _template_messages()
                 if EMAIL_WORD.search(text.replace("« email »", ""))]  # the CSV column's name is kept
    assert offenders == []
    assert EMAIL_WORD.search("par e-mail") and EMAIL_WORD.search("La colonne email") and \
        not EMAIL_WORD.search('name="email"')  # the check itself finds what it looks for


def test_the_event_page_says_courriel_and_the_english_text_stays_right(client, web_world) -> None:
    event_id, _code = _approved_event(client, web_world)
    french = visible(client.get(f"/organisateur/evenements/{event_id}").text)
    assert "son laissez-passer par courriel" in french and "par e-mail" not in french
    assert "La colonne « email » (facultative)" in french
    english = visible(client.get(f"/organisateur/evenements/{event_id}?lang=en").text)
    assert "E-mail each supplier with an address in the file" in english
    assert "receive its pass by e-mail" in english and "courriel" not in english
    gettext = translations("en").gettext
    for message in ("Événement soumis à l'autorité : ses administrateurs sont prévenus par courriel.",
                    "%(n)s courriel(s) envoyé(s) aux prestataires avec le lien de leur laissez-passer."):
        assert gettext(message) != message and "courriel" not in gettext(message)


def test_the_submitted_notice_says_courriel_in_french_and_e_mail_in_english(client, web_world) -> None:
    from .test_organiser import _add_zone, _create_event

    login(client, "organiser")
    event_id = _create_event(client)
    assert _add_zone(client, event_id).status_code == 303
    submitted = post_form(client, f"/organisateur/evenements/{event_id}/soumettre", follow_redirects=False)
    assert submitted.status_code == 303
    target = submitted.headers["location"]
    assert "administrateurs sont prévenus par courriel" in visible(client.get(target).text)
    joiner = "&" if "?" in target else "?"
    assert "administrators are notified by e-mail" in visible(client.get(f"{target}{joiner}lang=en").text)


# ---- 7. accepting an invitation trusts the browser, as a sign-in does ----------------------------


@pytest.fixture
def peer(peer: dict[str, str]) -> dict[str, str]:
    """The shared `peer` fixture (tests/web/conftest.py), starting from HOME."""
    peer["host"] = HOME
    return peer


def _invite_and_accept(world, client: TestClient) -> object:
    with TestClient(world.app) as admin:
        login(admin, "admin")
        assert post_form(admin, "/autorite/equipe", {"email": INVITED, "role": "reviewer"}).status_code == 200
    path = link_in(mails_to(world, INVITED)[0].body, "/invitation/")
    assert client.get(path).status_code == 200
    return post_form(client, path, {"display_name": "Nina Instructrice", "password": PASSWORD,
                                    "password_again": PASSWORD}, follow_redirects=False)


def test_accepting_an_invitation_sets_the_device_cookie(web_world) -> None:
    with TestClient(web_world.app) as client:
        accepted = _invite_and_accept(web_world, client)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/autorite"
        cookie = _device_set_cookie(accepted)
        assert cookie is not None
        assert "path=/connexion" in cookie.lower() and "httponly" in cookie.lower()


def test_the_invited_person_still_signs_in_from_that_browser_when_the_account_is_locked(
        web_world, peer) -> None:
    with TestClient(web_world.app) as client:
        assert _invite_and_accept(web_world, client).status_code == 303
        assert _device(client)
        client.post("/deconnexion", data={"_csrf_token": csrf_token(client)}, follow_redirects=False)
        _locked(_attack(client, peer, INVITED, times=20))  # someone who knows the address locks the account
        signed_in = _attempt(client, INVITED, PASSWORD)  # the browser where the invitation was accepted
        assert signed_in.status_code == 303, signed_in.text[:300]
        assert client.get("/autorite").status_code == 200
        _forget_device(client)
        assert _attempt(client, INVITED, PASSWORD).status_code == 429  # another browser: still locked


def test_an_existing_account_accepting_an_invitation_gets_the_cookie_too(web_world) -> None:
    email = USERS["pro"][0]  # Paul Pro, invited into the authority as well
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        assert post_form(admin, "/autorite/equipe", {"email": email, "role": "agent"}).status_code == 200
    path = link_in(mails_to(web_world, email)[0].body, "/invitation/")
    with TestClient(web_world.app) as client:
        assert client.get(path).status_code == 200
        accepted = post_form(client, path, {"password": DEMO_PASSWORD}, follow_redirects=False)
        assert accepted.status_code == 303, accepted.text[:300]
        assert _device_set_cookie(accepted) is not None
