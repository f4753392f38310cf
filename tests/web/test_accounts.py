"""Accounts: registration, invitations, password reset, notifications (through the outbox)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.clock import FixedClock
from cirqliz.db.models import Application, Membership, Organisation, SentNotification, UserAccount
from cirqliz.demo.seed import COMPANY_ID, DEMO_PASSWORD, USER_IDS, VEHICLES, ZONE_IDS
from cirqliz.issuance.applications import (
    approve_application,
    create_application,
    reject_application,
    submit_application,
)
from cirqliz.issuance.mail import notify_application_change, send_expiry_reminders

from .conftest import login, post_form, text_of
from .mailbox import in_db, link_in, mails_to, outbox, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .test_security import _plant, _session

NEW_PASSWORD = "nouveau-secret-2026"


def _registration(**overrides: str) -> dict[str, str]:
    data = {"company_name": "Livraisons Rapides SAS", "company_id": "732 829 320", "display_name": "Rita Rapide",
            "email": "Rita@Livraisons-Rapides.fr", "password": "livrer-vite-2026", "password_again": "livrer-vite-2026"}
    return data | overrides


def _count(world, model, *where) -> int:
    async def work(session):
        return len((await session.exec(select(model).where(*where))).all())

    return in_db(world, work)


# ---- registration ----------------------------------------------------------------------------


def test_registration_creates_company_and_user_then_they_sign_in(client: TestClient, web_world) -> None:
    assert "SIREN ou SIRET" in client.get("/inscription").text
    response = post_form(client, "/inscription", _registration(), follow_redirects=False)
    assert response.status_code == 200, response.text
    assert "Vérifiez votre boîte aux lettres" in response.text  # the same answer for a taken address
    signed_in = post_form(client, "/connexion", {"email": "rita@livraisons-rapides.fr", "password": "livrer-vite-2026"},
                          follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/pro"

    async def check(session):
        org = (await session.exec(select(Organisation).where(col(Organisation.siren) == "732829320"))).one()
        user = (await session.exec(select(UserAccount).where(
            col(UserAccount.email) == "rita@livraisons-rapides.fr"))).one()
        membership = (await session.exec(select(Membership).where(col(Membership.user_id) == user.id))).one()
        return org.kind, org.name, membership.organisation_id == org.id, membership.role

    assert in_db(web_world, check) == ("company", "Livraisons Rapides SAS", True, "professional")
    welcome = mails_to(web_world, "rita@livraisons-rapides.fr")
    assert len(welcome) == 1 and "Bienvenue" in welcome[0].subject


def test_registration_with_a_siret_keeps_both_numbers(client: TestClient, web_world) -> None:
    siret = "73282932000074"
    response = post_form(client, "/inscription", _registration(company_id=siret), follow_redirects=False)
    assert response.status_code == 200, response.text
    assert _count(web_world, Organisation, col(Organisation.siret) == siret) == 1


def test_registration_with_a_bad_siren_stores_nothing(client: TestClient, web_world) -> None:
    before = _count(web_world, Organisation)
    response = post_form(client, "/inscription", _registration(company_id="732829321"))
    assert response.status_code == 400
    assert "clé de contrôle de Luhn incorrecte" in text_of(response.text)
    assert "Livraisons Rapides SAS" in response.text  # the form keeps what was typed
    assert _count(web_world, Organisation) == before
    assert _count(web_world, UserAccount, col(UserAccount.email) == "rita@livraisons-rapides.fr") == 0
    assert client.get("/moi", follow_redirects=False).headers["location"].startswith("/connexion")
    assert outbox(web_world) == []


def test_registration_refuses_weak_password_and_taken_address(client: TestClient, web_world) -> None:
    weak = post_form(client, "/inscription", _registration(password="court", password_again="court"))
    assert weak.status_code == 400 and "trop court" in weak.text
    taken = post_form(client, "/inscription", _registration(email="pro@demo.cirqliz.fr"))
    assert taken.status_code == 200 and "existe déjà" not in taken.text  # neutral: test_security_accounts.py
    assert _count(web_world, Organisation, col(Organisation.siren) == "732829320") == 0


# ---- invitations -----------------------------------------------------------------------------


def test_professional_invites_a_colleague_end_to_end(client: TestClient, web_world) -> None:
    login(client, "pro")
    page = client.get("/pro/equipe")
    assert page.status_code == 200 and "Paul Pro" in page.text
    response = post_form(client, "/pro/equipe", {"email": "Collegue@Transports-Exemple.fr"})
    assert response.status_code == 200, response.text
    assert "Invitation envoyée à collegue@transports-exemple.fr" in response.text
    assert "collegue@transports-exemple.fr" in client.get("/pro/equipe").text  # pending

    # The link, read from the outbox (the page showing it: test_security_accounts.py).
    post_form(client, "/deconnexion")
    invitation = mails_to(web_world, "collegue@transports-exemple.fr")[0]
    assert "Invitation à rejoindre Transports Exemple SARL" in invitation.subject
    link = link_in(invitation.body, "/invitation/")

    form = client.get(link)
    assert form.status_code == 200 and "Transports Exemple SARL" in form.text
    mismatch = post_form(client, link, {"display_name": "Claire Collègue", "password": NEW_PASSWORD,
                                        "password_again": "autre-chose-123"})
    assert mismatch.status_code == 400 and "pas identiques" in mismatch.text
    accepted = post_form(client, link, {"display_name": "Claire Collègue", "password": NEW_PASSWORD,
                                        "password_again": NEW_PASSWORD}, follow_redirects=False)
    assert accepted.status_code == 303, accepted.text
    assert accepted.headers["location"] == "/pro"
    assert "Claire Collègue" in client.get("/pro/equipe").text

    async def membership(session):
        user = (await session.exec(select(UserAccount).where(
            col(UserAccount.email) == "collegue@transports-exemple.fr"))).one()
        rows = (await session.exec(select(Membership).where(col(Membership.user_id) == user.id))).all()
        return [(m.organisation_id, m.role) for m in rows]

    assert in_db(web_world, membership) == [(COMPANY_ID, "professional")]

    # Single use.
    post_form(client, "/deconnexion")
    again = post_form(client, link, {"display_name": "X", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert again.status_code == 400 and "déjà été utilisée" in again.text
    assert client.get(link).status_code == 400


def test_authority_admin_invites_an_agent_who_lands_on_the_scanner(client: TestClient, web_world) -> None:
    login(client, "admin")
    page = client.get("/autorite/equipe")
    assert page.status_code == 200 and "Festival de Démo" in page.text  # organisers' users listed too
    bad = post_form(client, "/autorite/equipe", {"email": "x@ville.fr", "role": "professional"})
    assert bad.status_code == 400 and "rôle dans la liste" in bad.text
    sent = post_form(client, "/autorite/equipe", {"email": "agent2@ville.fr", "role": "agent"})
    assert sent.status_code == 200 and "Invitation envoyée" in sent.text
    link = link_in(mails_to(web_world, "agent2@ville.fr")[0].body, "/invitation/")
    post_form(client, "/deconnexion")
    accepted = post_form(client, link, {"display_name": "Agnès Agent", "password": NEW_PASSWORD,
                                        "password_again": NEW_PASSWORD}, follow_redirects=False)
    assert accepted.headers["location"] == "/scan"


def test_invitation_of_an_existing_account_asks_for_its_password(client: TestClient, web_world) -> None:
    login(client, "admin")
    post_form(client, "/autorite/equipe", {"email": "autre@demo.cirqliz.fr", "role": "reviewer"})
    link = link_in(mails_to(web_world, "autre@demo.cirqliz.fr")[0].body, "/invitation/")
    post_form(client, "/deconnexion")
    assert "mot de passe pour accepter" in client.get(link).text
    wrong = post_form(client, link, {"password": "pas-le-bon-123"})
    assert wrong.status_code == 400
    ok = post_form(client, link, {"password": DEMO_PASSWORD}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/autorite"


def test_expired_invitation_is_refused(client: TestClient, web_world) -> None:
    login(client, "pro")
    post_form(client, "/pro/equipe", {"email": "tard@exemple.fr"})
    link = link_in(mails_to(web_world, "tard@exemple.fr")[0].body, "/invitation/")
    web_world.clock.advance(timedelta(days=8))
    response = client.get(link)
    assert response.status_code == 400 and "expiré" in response.text


def test_tampered_invitation_link_is_refused(client: TestClient, web_world) -> None:
    login(client, "pro")
    post_form(client, "/pro/equipe", {"email": "x@exemple.fr"})
    link = link_in(mails_to(web_world, "x@exemple.fr")[0].body, "/invitation/")
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert client.get(tampered).status_code == 400


# ---- password reset --------------------------------------------------------------------------


def _reset_link(client: TestClient, world, address: str) -> str:
    response = post_form(client, "/mot-de-passe-oublie", {"email": address})
    assert response.status_code == 200
    assert "Si un compte correspond à cette adresse" in response.text
    return link_in(mails_to(world, address)[0].body, "/mot-de-passe/")


def test_password_reset_through_the_outbox(client: TestClient, web_world) -> None:
    link = _reset_link(client, web_world, "pro@demo.cirqliz.fr")
    assert client.get(link).status_code == 200
    changed = post_form(client, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert changed.status_code == 200 and "mot de passe a été modifié" in changed.text
    old = post_form(client, "/connexion", {"email": "pro@demo.cirqliz.fr", "password": DEMO_PASSWORD})
    assert old.status_code == 400
    new = post_form(client, "/connexion", {"email": "pro@demo.cirqliz.fr", "password": NEW_PASSWORD},
                    follow_redirects=False)
    assert new.status_code == 303

    # Single use: the same link cannot set a password again.
    post_form(client, "/deconnexion")
    again = post_form(client, link, {"password": "troisieme-essai-9", "password_again": "troisieme-essai-9"})
    assert again.status_code == 400 and "déjà servi" in again.text
    assert client.get(link).status_code == 400


def test_a_password_reset_signs_the_user_out_everywhere(web_world) -> None:
    with TestClient(web_world.app) as owner, TestClient(web_world.app) as thief, \
            TestClient(web_world.app) as other, TestClient(web_world.app) as anonymous:
        login(owner, "pro")
        _plant(thief, _session(owner))  # a copied cookie, or someone who knew the old password
        login(other, "other_pro")
        assert thief.get("/pro", follow_redirects=False).status_code == 200
        time.sleep(1.05)  # sessions are stamped to the second
        response = post_form(anonymous, "/mot-de-passe-oublie", {"email": "pro@demo.cirqliz.fr"})
        assert response.status_code == 200
        link = link_in(mails_to(web_world, "pro@demo.cirqliz.fr")[-1].body, "/mot-de-passe/")
        changed = post_form(anonymous, link, {"password": "nouveau-mot-de-passe-2026",
                                              "password_again": "nouveau-mot-de-passe-2026"})
        assert changed.status_code == 200 and "vos autres sessions ont été fermées" in changed.text
        assert owner.get("/pro", follow_redirects=False).status_code == 303
        assert thief.get("/pro", follow_redirects=False).status_code == 303
        assert other.get("/pro", follow_redirects=False).status_code == 200  # another user: untouched
        # a sign-in with the new password opens a session that works
        response = post_form(owner, "/connexion", {"email": "pro@demo.cirqliz.fr",
                                                   "password": "nouveau-mot-de-passe-2026"}, follow_redirects=False)
        assert response.status_code == 303
        assert owner.get("/pro", follow_redirects=False).status_code == 200


def test_unknown_address_gets_the_same_answer_and_no_mail(client: TestClient, web_world) -> None:
    known = post_form(client, "/mot-de-passe-oublie", {"email": "pro@demo.cirqliz.fr"})
    unknown = post_form(client, "/mot-de-passe-oublie", {"email": "personne@nulle-part.fr"})
    assert known.status_code == unknown.status_code == 200
    assert text_of(known.text) == text_of(unknown.text)
    assert [m.to for m in outbox(web_world)] == ["pro@demo.cirqliz.fr"]


def test_reset_link_expires_after_an_hour(client: TestClient, web_world) -> None:
    link = _reset_link(client, web_world, "pro@demo.cirqliz.fr")
    web_world.clock.advance(timedelta(minutes=61))
    expired = post_form(client, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert expired.status_code == 400 and "expiré" in expired.text
    assert post_form(client, "/connexion", {"email": "pro@demo.cirqliz.fr", "password": DEMO_PASSWORD},
                     follow_redirects=False).status_code == 303


def test_a_weak_new_password_does_not_spend_the_link(client: TestClient, web_world) -> None:
    link = _reset_link(client, web_world, "pro@demo.cirqliz.fr")
    weak = post_form(client, link, {"password": "court", "password_again": "court"})
    assert weak.status_code == 400 and "trop court" in weak.text
    ok = post_form(client, link, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert ok.status_code == 200


def test_forgotten_password_is_rate_limited(client: TestClient, web_world) -> None:
    for _ in range(10):
        assert post_form(client, "/mot-de-passe-oublie", {"email": "x@exemple.fr"}).status_code == 200
    limited = post_form(client, "/mot-de-passe-oublie", {"email": "x@exemple.fr"})
    assert limited.status_code == 429 and "Trop de demandes" in limited.text


def test_reset_mails_per_address_are_capped(client: TestClient, web_world) -> None:
    for _ in range(5):
        post_form(client, "/mot-de-passe-oublie", {"email": "pro@demo.cirqliz.fr"})
    assert len(mails_to(web_world, "pro@demo.cirqliz.fr")) == 3


def test_outbox_page_is_hidden_in_production(web_world) -> None:
    from dataclasses import replace

    from cirqliz.web.app import create_app

    settings = replace(web_world.settings, env="production")
    with TestClient(create_app(settings, clock=web_world.clock)) as prod:
        assert prod.get("/dev/outbox").status_code == 404


# ---- notifications ---------------------------------------------------------------------------


def _draft(session, clock: FixedClock, *, days: int = 4) -> uuid.UUID:
    async def make():
        now = clock.now()
        app = await create_application(
            session, organisation_id=COMPANY_ID, applicant_id=USER_IDS["pro"], zone_ids=[ZONE_IDS["PARIS-CENTRE"]],
            vehicle_ids=[VEHICLES[0][0]], purpose=1, not_before=now - timedelta(hours=1),
            expires_at=now + timedelta(days=days), clock=clock)
        return app.id

    return make()


def test_notifications_on_submit_and_approve(client: TestClient, web_world) -> None:
    settings, clock = web_world.settings, web_world.clock

    async def submit(session):
        app_id = await _draft(session, clock)
        await submit_application(session, application_id=app_id, actor_id=USER_IDS["pro"], clock=clock)
        await notify_application_change(session, app_id, settings=settings)
        return app_id

    app_id = in_db(web_world, submit)
    mine = mails_to(web_world, "pro@demo.cirqliz.fr")
    assert len(mine) == 1 and "déposée" in mine[0].subject
    to_review = [m for m in outbox(web_world) if "à instruire" in m.subject]
    assert sorted(m.to for m in to_review) == ["admin@demo.cirqliz.fr", "instructeur@demo.cirqliz.fr"]
    assert f"/autorite/demandes/{app_id}" in to_review[0].body

    async def approve(session):
        passes = await approve_application(session, application_id=app_id, reviewer_id=USER_IDS["reviewer"],
                                           signer=web_world.app.state.signer, clock=clock)
        await notify_application_change(session, app_id, settings=settings)
        return [p.serial for p in passes]

    serials = in_db(web_world, approve)
    approved = mails_to(web_world, "pro@demo.cirqliz.fr")[0]
    assert "acceptée" in approved.subject and serials[0] in approved.body and "AB-123-CD" in approved.body


def test_rejection_mail_carries_the_reason_and_rollback_sends_nothing(client: TestClient, web_world) -> None:
    settings, clock = web_world.settings, web_world.clock

    async def submit(session):
        app_id = await _draft(session, clock)
        await submit_application(session, application_id=app_id, actor_id=USER_IDS["pro"], clock=clock)
        return app_id

    app_id = in_db(web_world, submit)

    class Boom(Exception):
        pass

    async def reject_then_fail(session):
        await reject_application(session, application_id=app_id, reviewer_id=USER_IDS["reviewer"],
                                 reason="justificatif illisible", clock=clock)
        await notify_application_change(session, app_id, settings=settings)
        raise Boom

    try:
        in_db(web_world, reject_then_fail)
    except Boom:
        pass
    assert outbox(web_world) == []  # rolled back: no mail

    async def reject(session):
        await reject_application(session, application_id=app_id, reviewer_id=USER_IDS["reviewer"],
                                 reason="justificatif illisible", clock=clock)
        return await notify_application_change(session, app_id, settings=settings)

    assert in_db(web_world, reject) == 1
    mail = outbox(web_world)[0]
    assert "refusée" in mail.subject and "justificatif illisible" in mail.body


def test_expiry_reminders_are_sent_once(client: TestClient, web_world) -> None:
    settings, clock = web_world.settings, web_world.clock

    async def issue(session):
        app_id = await _draft(session, clock, days=5)
        await submit_application(session, application_id=app_id, actor_id=USER_IDS["pro"], clock=clock)
        await approve_application(session, application_id=app_id, reviewer_id=USER_IDS["reviewer"],
                                  signer=web_world.app.state.signer, clock=clock)

    in_db(web_world, issue)

    async def remind(session):
        return await send_expiry_reminders(session, clock.now(), days=7, settings=settings)

    async def remind_too_early(session):
        return await send_expiry_reminders(session, clock.now(), days=3, settings=settings)

    assert in_db(web_world, remind_too_early) == 0
    assert in_db(web_world, remind) == 1
    assert in_db(web_world, remind) == 0
    mails = mails_to(web_world, "pro@demo.cirqliz.fr")
    assert len(mails) == 1 and "expiration" in mails[0].subject
    assert _count(web_world, SentNotification) == 1
    assert _count(web_world, Application) == 1
