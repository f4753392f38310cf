"""Issue 17, the professional's passes to the end: a suspension or a revocation reaches every person
of the holder company by e-mail (French, reason, serial); the reason shows on the pass page; a pass
agents refuse shows its status everywhere and gives no QR code anywhere (a French page with 410 or
409 instead), and a revoked pass is not renewed. Plates read AB-123-CD, an application has one
reference in pages and e-mails."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from litestar.testing import TestClient

from cirqliz.db.models import AccessPass, Application
from cirqliz.demo.seed import COMPANY_ID, USER_IDS
from cirqliz.domain.organisations import Role
from cirqliz.issuance.mail import application_reference, notify_application_change
from cirqliz.issuance.organisations import add_membership, create_user
from cirqliz.issuance.passes import suspend_pass

from .conftest import login, post_form
from .mailbox import in_db, mails_to, outbox, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)
from .test_professional import approve, submitted_application, visible

PRO = "pro@demo.cirqliz.fr"
COLLEAGUE = "collegue@transports-exemple.fr"
OTHER_PRO = "autre@demo.cirqliz.fr"
QR_ROUTES = ("{id}.png", "{id}.svg", "{id}/imprimer", "{id}/imprimer?format=A5", "{id}/telephone")


def _colleague(world) -> None:
    """A second person of the demo company (so "every person of the company" means more than one)."""

    async def work(session):
        user = await create_user(session, email=COLLEAGUE, display_name="Chloé Collègue", clock=world.clock,
                                 password_hash=None)
        await add_membership(session, user_id=user.id, organisation_id=COMPANY_ID, role=Role.PROFESSIONAL,
                             clock=world.clock, actor_id=USER_IDS["pro"])

    in_db(world, work)


def _approved_and_mailed(world, app_id: uuid.UUID) -> AccessPass:
    """Approve as the reviewer does, acceptance mail included."""
    issued = approve(world, app_id)

    async def work(session):
        await notify_application_change(session, app_id, settings=world.settings)

    in_db(world, work)
    return issued


def _issued(client: TestClient, world) -> AccessPass:
    login(client, "pro")
    issued = approve(world, submitted_application(client))
    client.cookies.clear()
    return issued


def _as(client: TestClient, who: str) -> TestClient:
    client.cookies.clear()
    return login(client, who)


def _authority_action(client: TestClient, pass_id: uuid.UUID, action: str, reason: str) -> None:
    _as(client, "reviewer")
    response = post_form(client, f"/autorite/laissez-passer/{pass_id}/{action}", {"reason": reason},
                         follow_redirects=False)
    assert response.status_code == 303, visible(response.text)


def _refused_everywhere(client: TestClient, pass_id: uuid.UUID, status: int, words: str) -> None:
    for route in QR_ROUTES:
        response = client.get(f"/pro/laissez-passer/{route.format(id=pass_id)}")
        assert response.status_code == status, (route, response.status_code)
        assert response.headers["content-type"].startswith("text/html"), route
        assert "<svg" not in response.text and "data:image/png" not in response.text, route
        assert words in visible(response.text), route
        assert response.headers["cache-control"] == "no-store", route


def test_revocation_mails_every_person_of_the_company_with_the_reason_and_the_serial(client, web_world) -> None:
    _colleague(web_world)
    issued = _issued(client, web_world)
    _authority_action(client, issued.id, "revoquer", "Véhicule déclaré volé le 22/11.")

    for address in (PRO, COLLEAGUE):
        [mail] = [m for m in mails_to(web_world, address) if "révoqué" in m.subject]
        assert issued.serial in mail.subject and "AB-123-CD" in mail.subject
        assert "Motif : Véhicule déclaré volé le 22/11." in mail.body
        assert f"n° {issued.serial}" in mail.body and "du véhicule AB-123-CD" in mail.body
        assert f"demande n° {application_reference(issued.application_id)}" in mail.body
        assert f"/pro/laissez-passer/{issued.id}" in mail.body
        assert "revoked" not in mail.body and "AB123CD" not in mail.body
    assert not mails_to(web_world, OTHER_PRO), "another company learns nothing"


def test_a_refused_revocation_sends_nothing(client, web_world) -> None:
    issued = _issued(client, web_world)
    _as(client, "reviewer")
    response = post_form(client, f"/autorite/laissez-passer/{issued.id}/revoquer", {"reason": "  "})
    assert response.status_code == 422
    assert not [m for m in mails_to(web_world, PRO) if "révoqué" in m.subject]


def test_revoked_pass_shows_its_status_and_reason_and_gives_no_qr_code(client, web_world) -> None:
    issued = _issued(client, web_world)
    _authority_action(client, issued.id, "revoquer", "Véhicule déclaré volé.")
    _as(client, "pro")

    page = client.get(f"/pro/laissez-passer/{issued.id}")
    assert page.status_code == 200
    text = visible(page.text)
    assert re.search(r"Laissez-passer \w+ Révoqué", text)
    assert "Motif indiqué par Ville de Démo : « Véhicule déclaré volé. »" in text
    assert "Ce laissez-passer n'est plus utilisable" in text
    for link in (f"{issued.id}.png", f"{issued.id}.svg", f"{issued.id}/imprimer", f"{issued.id}/telephone",
                 f"{issued.id}/renouveler"):
        assert link not in page.text, link
    assert "Renouveler" not in text and "Faire une nouvelle demande" in text

    _refused_everywhere(client, issued.id, 410, "Ce laissez-passer a été révoqué")
    listing = visible(client.get("/pro/laissez-passer").text)
    assert issued.serial in listing and "Révoqué" in listing
    assert issued.serial in visible(client.get("/pro/laissez-passer?statut=revoked").text)
    assert issued.serial not in visible(client.get("/pro/laissez-passer?statut=active").text)
    application = visible(client.get(f"/pro/demandes/{issued.application_id}").text)
    assert re.search(rf"{issued.serial} · AB-123-CD Révoqué", application)

    renewal = post_form(client, f"/pro/laissez-passer/{issued.id}/renouveler")
    assert renewal.status_code == 409
    assert "un laissez-passer révoqué ne se renouvelle pas" in visible(renewal.text)

    async def drafts(session):
        from sqlmodel import col, select
        return (await session.exec(select(Application).where(col(Application.status) == "draft"))).all()

    assert in_db(web_world, drafts) == []


def test_suspension_mails_its_reason_blocks_the_qr_codes_and_reinstatement_gives_them_back(client, web_world
                                                                                          ) -> None:
    issued = _issued(client, web_world)
    _authority_action(client, issued.id, "suspendre", "Contrôle technique à présenter.")
    [mail] = [m for m in mails_to(web_world, PRO) if "suspendu" in m.subject]
    assert "Motif : Contrôle technique à présenter." in mail.body and issued.serial in mail.body

    _as(client, "pro")
    text = visible(client.get(f"/pro/laissez-passer/{issued.id}").text)
    assert "Suspendu" in text and "« Contrôle technique à présenter. »" in text
    assert "pendant sa suspension" in text
    _refused_everywhere(client, issued.id, 409, "Ce laissez-passer est suspendu")

    _authority_action(client, issued.id, "retablir", "")
    [back] = [m for m in mails_to(web_world, PRO) if "de nouveau valable" in m.subject]
    assert issued.serial in back.body and "du 24/11/2026 au 10/12/2026 inclus" in back.body
    _as(client, "pro")
    assert client.get(f"/pro/laissez-passer/{issued.id}/telephone").status_code == 200
    assert client.get(f"/pro/laissez-passer/{issued.id}.png").headers["content-type"] == "image/png"


def test_suspension_without_settings_sends_nothing(client, web_world) -> None:
    """The service mails only when the caller gives the settings (command-line tools, tests)."""
    issued = _issued(client, web_world)

    async def work(session):
        await suspend_pass(session, pass_id=issued.id, actor_id=USER_IDS["admin"], reason="essai",
                           clock=web_world.clock)

    in_db(web_world, work)
    assert not [m for m in outbox(web_world) if "suspendu" in m.subject]


def test_a_pass_past_its_end_is_expired_everywhere_before_the_nightly_job(client, web_world) -> None:
    issued = _issued(client, web_world)
    web_world.clock.advance(timedelta(days=40))  # past 10/12/2026, status still "active" in the database
    _as(client, "pro")
    text = visible(client.get(f"/pro/laissez-passer/{issued.id}").text)
    assert "Expiré" in text and "Renouveler" in text  # an expired pass may be renewed
    _refused_everywhere(client, issued.id, 410, "Ce laissez-passer a expiré")
    assert issued.serial in visible(client.get("/pro/laissez-passer?statut=expired").text)


def test_an_active_pass_is_served_without_a_lasting_browser_cache(client, web_world) -> None:
    issued = _issued(client, web_world)
    _as(client, "pro")
    for route in QR_ROUTES:
        response = client.get(f"/pro/laissez-passer/{route.format(id=issued.id)}")
        assert response.status_code == 200, route
        # A revocation must not be hidden by a copy the browser keeps for a day.
        assert "max-age" not in response.headers.get("cache-control", ""), route


def test_one_reference_per_application_in_pages_and_mails(client, web_world) -> None:
    login(client, "pro")
    app_id = submitted_application(client)
    reference = application_reference(app_id)
    assert re.fullmatch(r"[0-9A-F]{8}", reference)
    for url in ("/pro", "/pro/demandes", f"/pro/demandes/{app_id}"):
        assert f"n° {reference}" in visible(client.get(url).text), url
    issued = _approved_and_mailed(web_world, app_id)
    assert f"Demande n° {reference}" in visible(client.get(f"/pro/laissez-passer/{issued.id}").text)
    subjects = [m.subject for m in outbox(web_world)]
    assert f"Demande n° {reference} déposée" in subjects
    assert any(f"à instruire : n° {reference}" in s for s in subjects), subjects
    [accepted] = [m for m in outbox(web_world) if "acceptée" in m.subject]
    assert f"Demande n° {reference} acceptée" in accepted.subject and f"demande n° {reference}." in accepted.body
    lower = str(app_id)[:8]
    if lower != reference:  # the old lower-case form of the id never shows
        assert all(lower not in m.subject + m.body.replace(str(app_id), "") for m in outbox(web_world))


def test_plates_read_ab_123_cd_on_every_pro_page_and_mail(client, web_world) -> None:
    login(client, "pro")
    issued = _approved_and_mailed(web_world, submitted_application(client))
    pages = ["/pro", "/pro/vehicules", "/pro/demandes", f"/pro/demandes/{issued.application_id}",
             "/pro/laissez-passer", f"/pro/laissez-passer/{issued.id}", f"/pro/laissez-passer/{issued.id}/telephone",
             f"/pro/laissez-passer/{issued.id}/imprimer"]
    for url in pages:
        text = visible(client.get(url).text)
        assert "AB123CD" not in text, url
    assert "AB-123-CD" in visible(client.get("/pro/laissez-passer").text)
    for mail in outbox(web_world):
        assert "AB123CD" not in mail.body and "AB123CD" not in mail.subject, mail.subject
    [approved] = [m for m in mails_to(web_world, PRO) if "acceptée" in m.subject]
    assert f"AB-123-CD : n° {issued.serial}, du 24/11/2026 au 10/12/2026 inclus" in approved.body
