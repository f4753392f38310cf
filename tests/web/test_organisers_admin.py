"""Organisers belong to an authority (issue 15), the web side: an authority's admin registers its
event organisers and invites their users (/autorite/organisateurs); their users reach only that
authority; the jobs page shows no other authority's details; a company applying to zones of
several authorities sees them grouped by authority and is told to apply to one at a time."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AuditRecord, Event, EventApproval, JobRun, Membership, Organisation
from cirqliz.demo.seed import AUTHORITY_ID, USER_IDS, VEHICLES, ZONE_IDS

from .conftest import csrf_token, login, post_form
from .conftest import text_of as _text_of
from .mailbox import in_db, link_in, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)

NEW = {"name": "Fête des Lumières", "contact_email": "Contact@Lumieres.example.fr", "siren": "", "code": ""}


@pytest.fixture
def two_authorities(web_world):
    """web_world with a second authority (B) beside the demo one (A)."""
    from .two_authorities import add_second_authority

    return add_second_authority(web_world)


def text_of(page: str) -> str:
    """Visible text of a page, entities decoded."""
    return html.unescape(_text_of(page))


def _organisers(world) -> dict[str, Organisation]:
    async def work(session):
        rows = (await session.exec(select(Organisation).where(col(Organisation.kind) == "organiser"))).all()
        return {org.code: org for org in rows}

    return in_db(world, work)


def _create(client: TestClient, **fields: str) -> object:
    return post_form(client, "/autorite/organisateurs", {**NEW, **fields}, follow_redirects=False)


# ---- registering organisers -------------------------------------------------------------------------


def test_an_admin_registers_an_organiser_of_their_authority(client, web_world) -> None:
    login(client, "admin")
    assert "Aucun" not in text_of(client.get("/autorite/organisateurs").text)  # the demo organiser is listed
    response = _create(client, siren="732 829 320")
    assert response.status_code == 303, response.text
    organiser = _organisers(web_world)["demo75-fete-des-lumieres"]
    assert response.headers["location"] == f"/autorite/organisateurs/{organiser.id}?ok=cree"
    assert (organiser.name, organiser.authority_id, organiser.siren, organiser.contact_email) == (
        "Fête des Lumières", AUTHORITY_ID, "732829320", "contact@lumieres.example.fr")
    detail = text_of(client.get(response.headers["location"]).text)
    assert "Organisateur enregistré" in detail and "demo75-fete-des-lumieres" in detail
    listing = text_of(client.get("/autorite/organisateurs").text)
    assert "Fête des Lumières" in listing and "Festival de Démo" in listing

    async def audit(session):
        return (await session.exec(select(AuditRecord).where(
            col(AuditRecord.entity) == "organisation", col(AuditRecord.entity_id) == str(organiser.id)))).one()

    record = in_db(web_world, audit)
    assert record.actor_id == USER_IDS["admin"] and record.action == "create"
    assert record.after["authority_id"] == str(AUTHORITY_ID) and record.after["contact_email"]


def test_a_code_made_from_the_name_never_collides_and_a_given_one_is_kept(client, web_world) -> None:
    login(client, "admin")
    assert _create(client).status_code == 303
    assert _create(client).status_code == 303  # same name: another code
    assert _create(client, name="Autre", code="nuit-2027").status_code == 303
    assert _create(client, name="Encore", code="demo75-jazz").status_code == 303  # the prefix once, not twice
    codes = set(_organisers(web_world))
    assert {"demo75-fete-des-lumieres", "demo75-fete-des-lumieres-2", "demo75-nuit-2027", "demo75-jazz"} <= codes
    taken = _create(client, name="Encore", code="nuit-2027")
    assert taken.status_code == 422 and "Le code demo75-nuit-2027 est déjà pris" in text_of(taken.text)


def test_an_organiser_code_cannot_squat_a_company_or_an_authority(client, web_world) -> None:
    """Codes live under the authority's own code: an admin cannot take the code a company's
    registration or another authority will need, nor learn which codes exist elsewhere."""
    login(client, "admin")
    assert _create(client, name="Acme", code="acme-livraisons-732829320").status_code == 303
    assert _create(client, name="Lyon", code="lyon").status_code == 303
    assert "demo75-acme-livraisons-732829320" in _organisers(web_world) and "demo75-lyon" in _organisers(web_world)
    probe = _create(client, name="Sonde", code="festival-demo")  # another organiser's code, as it happens
    assert probe.status_code == 303


@pytest.mark.parametrize(("fields", "message"), [
    ({"siren": "732829321"}, "SIREN invalide"),
    ({"siren": "12345"}, "SIREN invalide"),
    ({"code": "Fête Lumières"}, "Code invalide : lettres minuscules sans accent"),
    ({"code": "lumieres--2027"}, "Code invalide"),
    ({"code": "x" * 33}, "Code invalide"),
    ({"name": "   "}, "Indiquez le nom de l'organisateur"),
    ({"name": "x" * 201}, "Indiquez le nom de l'organisateur"),
    ({"name": "!!!"}, "Indiquez un code"),
    ({"contact_email": "pas-une-adresse"}, "Adresse électronique de contact invalide"),
])
def test_a_refused_organiser_is_explained_in_french_and_nothing_is_stored(client, web_world, fields, message) -> None:
    login(client, "admin")
    before = set(_organisers(web_world))
    response = _create(client, **fields)
    assert response.status_code == 422
    page = text_of(response.text)
    assert message in page, page
    assert "Traceback" not in page and "CompanyIdError" not in page
    kept = "name" if "name" not in fields else "contact_email"
    assert f'value="{html.escape(NEW[kept])}"' in response.text  # the form keeps what was typed
    assert set(_organisers(web_world)) == before


def test_the_form_needs_its_csrf_token(client, web_world) -> None:
    login(client, "admin")
    response = client.post("/autorite/organisateurs", data=NEW, follow_redirects=False)
    assert response.status_code == 403
    assert "fete-des-lumieres" not in _organisers(web_world)


def test_each_admin_sees_only_the_organisers_of_their_authority(two_authorities) -> None:
    from .two_authorities import sign_in

    two = two_authorities
    with TestClient(two.world.app) as a, TestClient(two.world.app) as b:
        sign_in(a, two.a, "admin")
        assert _create(a).status_code == 303
        organiser = _organisers(two.world)["demo75-fete-des-lumieres"]
        sign_in(b, two.b, "admin")
        listing = b.get("/autorite/organisateurs").text
        assert "Festival Bis" in listing
        assert "Fête des Lumières" not in html.unescape(listing) and "Festival de Démo" not in html.unescape(listing)
        assert b.get(f"/autorite/organisateurs/{organiser.id}").status_code == 404
        invite = post_form(b, f"/autorite/organisateurs/{organiser.id}/invitations", {"email": "intrus@example.fr"})
        assert invite.status_code == 404
        assert mails_to(two.world, "intrus@example.fr") == []
        # Nor through the team page's form.
        team = post_form(b, "/autorite/equipe", {"email": "intrus@example.fr", "role": "organiser",
                                                 "organisation_id": str(organiser.id)})
        assert team.status_code == 400 and mails_to(two.world, "intrus@example.fr") == []


# ---- inviting the organiser's users, who reach their authority only ------------------------------------------


def test_an_invited_user_of_the_organiser_works_with_its_authority_only(two_authorities) -> None:
    from .two_authorities import sign_in

    two = two_authorities
    with TestClient(two.world.app) as admin:
        sign_in(admin, two.a, "admin")
        organiser_id = uuid.UUID(_create(admin).headers["location"].split("/")[-1].split("?")[0])
        bad = post_form(admin, f"/autorite/organisateurs/{organiser_id}/invitations", {"email": "pas-une-adresse"})
        assert bad.status_code == 400 and "Adresse électronique invalide" in text_of(bad.text)
        sent = post_form(admin, f"/autorite/organisateurs/{organiser_id}/invitations",
                         {"email": "lea@lumieres.example.fr"})
        assert sent.status_code == 200 and "Invitation envoyée à lea@lumieres.example.fr" in text_of(sent.text)
        assert "lea@lumieres.example.fr" in admin.get(f"/autorite/organisateurs/{organiser_id}").text
        assert "lea@lumieres.example.fr" in admin.get("/autorite/equipe").text
    (mail,) = mails_to(two.world, "lea@lumieres.example.fr")
    assert "Fête des Lumières" in mail.body
    link = link_in(mail.body, "/invitation/")
    with TestClient(two.world.app) as lea:
        accepted = post_form(lea, link, {"display_name": "Léa Lumière", "password": "lumieres-2026",
                                         "password_again": "lumieres-2026"}, follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/organisateur"
        home = text_of(lea.get("/organisateur").text)
        assert "Ville de Démo" in home
        assert "Ville Bis" not in home and "Fête submitted B" not in home and "Fête submitted A" not in home
        times = {"starts_at": "2026-12-01T08:00", "ends_at": "2026-12-01T20:00"}
        elsewhere = {"name": "Ailleurs", "authority_id": str(two.b.authority_id), **times}
        refused = post_form(lea, "/organisateur/evenements", elsewhere)
        assert refused.status_code == 422
        created = post_form(lea, "/organisateur/evenements", {"name": "Lumières 2026", **times},
                            follow_redirects=False)
        assert created.status_code == 303
        # Another authority's event reads as missing.
        assert lea.get(f"/organisateur/evenements/{two.b.ids['event_draft']}").status_code == 404

    async def events(session):
        return (await session.exec(select(Event.name, EventApproval.authority_id).join(
            EventApproval, col(EventApproval.event_id) == Event.id)
            .where(col(Event.organiser_id) == organiser_id))).all()

    assert in_db(two.world, events) == [("Lumières 2026", AUTHORITY_ID)]

    async def role(session):
        return (await session.exec(select(Membership.role).where(
            col(Membership.organisation_id) == organiser_id))).all()

    assert in_db(two.world, role) == ["organiser"]


def test_the_organiser_pages_fit_a_phone(client) -> None:
    """Mobile-first markup as the other back-office pages: viewport, tables in a scrolling wrapper,
    every form control labelled, nothing with a fixed width."""
    login(client, "admin")
    _create(client)
    organiser_id = _organisers_id(client)
    for url in ("/autorite/organisateurs", f"/autorite/organisateurs/{organiser_id}", "/autorite/equipe",
                f"/autorite/equipe/{USER_IDS['agent']}/retirer"):
        page = client.get(url).text
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in page, url
        assert page.count("<table") == page.count('<div class="table-wrap" tabindex="0">\n<table'), url
        for control in re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', page):
            assert f'for="{control}"' in page, (url, control)
        assert "width:" not in page and 'style="' not in page, url


def _organisers_id(client: TestClient) -> str:
    match = re.search(r'href="/autorite/organisateurs/([0-9a-f-]{36})">Fête des Lumières', client.get(
        "/autorite/organisateurs").text)
    assert match
    return match.group(1)


# ---- the jobs page: no other authority's details -----------------------------------------------------------


def test_the_jobs_page_shows_no_other_authoritys_details(client, web_world) -> None:
    now = web_world.clock.now()

    async def work(session):
        for name, outcome, rows, detail in (
                ("switch_zones", "ok", 2, "ouvertes : Bis Centre, Paris Centre"),
                ("publish_bundles", "ok", 2, "publiés : bis69 n° 4, demo75 n° 2"),
                ("import_feeds", "ok", 1, "arretes-bis.ics : autorité bis69 inconnue"),
                ("expire_passes", "failed", 0, "IntegrityError: serial 0B15B15B15B15B15 of bis69"),
                ("purge", "ok", 3, "3 contrôle(s), 0 demande(s) refusée(s), 0 fichier(s) justificatif(s)"),
                ("expiry_reminders", "skipped", 0, "verrou pris : un autre processus exécute cette tâche")):
            session.add(JobRun(name=name, tick=now, started_at=now - timedelta(minutes=1), finished_at=now,
                               outcome=outcome, rows=rows, detail=detail, worker="web-1:42"))

    in_db(web_world, work)
    login(client, "admin")
    page = text_of(client.get("/autorite/taches").text)
    for secret in ("Bis Centre", "bis69", "arretes-bis", "0B15B15B15B15B15", "IntegrityError"):
        assert secret not in page, secret
    assert "3 contrôle(s), 0 demande(s) refusée(s)" in page  # instance-wide counts stay
    assert "verrou pris" in page
    assert "détail réservé à l'exploitant" in page and "journaux du serveur" in page
    for job in ("switch_zones", "publish_bundles", "import_feeds", "expire_passes", "purge"):
        assert job in page


# ---- a company applying to zones of several authorities ------------------------------------------------------


def test_the_zone_choice_is_grouped_by_authority(two_authorities) -> None:
    two = two_authorities
    with TestClient(two.world.app) as pro:
        login(pro, "pro")
        form = pro.get("/pro/demandes/nouvelle").text
    headings = [html.unescape(h) for h in re.findall(r'<h2 class="authority-name">([^<]+)</h2>', form)]
    assert headings == ["Ville Bis", "Ville de Démo"]
    # Each zone sits under its own authority's heading.
    bis, demo = form.index(">Ville Bis</h2>"), form.index(">Ville de Démo</h2>")
    assert bis < form.index(f'value="{two.b.zone_id}"') < demo < form.index(f'value="{ZONE_IDS["PARIS-CENTRE"]}"')
    assert "faites une demande par autorité" in text_of(form)


def test_an_application_mixing_authorities_is_explained_and_not_stored(two_authorities) -> None:
    two = two_authorities

    from cirqliz.db.models import Application

    async def applications(session):
        return len((await session.exec(select(Application.id))).all())

    before = in_db(two.world, applications)
    with TestClient(two.world.app) as pro:
        login(pro, "pro")
        form = {"zone_ids": [str(ZONE_IDS["PARIS-CENTRE"]), str(two.b.zone_id)], "vehicle_ids": [str(VEHICLES[0][0])],
                "purpose": "1", "first_day": "2026-11-24", "last_day": "2026-11-30",
                "_csrf_token": csrf_token(pro)}
        response = pro.post("/pro/demandes/nouvelle", data=form, follow_redirects=False)
    assert response.status_code == 422
    page = text_of(response.text)
    assert ("les zones choisies relèvent de plusieurs autorités (Ville Bis, Ville de Démo) : chaque autorité instruit "
            "les demandes pour ses propres zones ; faites une demande par autorité") in page, page
    assert in_db(two.world, applications) == before
