"""Pending invitations on the team pages (authority, company, an organiser's page): whoever may invite
there cancels one (POST with CSRF), its link then says it was cancelled and the journal says who did
it; inviting the same address again replaces the pending invitation and the page says so. Another
organisation's manager, a member who does not manage the team and an anonymous visitor cannot cancel
(403/404, nothing changed); an accepted invitation cannot be cancelled."""

from __future__ import annotations

import html
import uuid

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AuditRecord, Invitation
from cirqliz.demo.seed import ORGANISER_ID, USER_IDS

from .conftest import login, post_form
from .conftest import text_of as _text_of
from .mailbox import in_db, link_in, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)

ADDRESS = "erreur@exemple.fr"
CANCELLED_LINK = "Cette invitation a été annulée"


@pytest.fixture
def two_authorities(web_world):
    """web_world with a second authority (B) beside the demo one (A)."""
    from .two_authorities import add_second_authority

    return add_second_authority(web_world)


def text_of(page: str) -> str:
    """Visible text of a page, entities decoded."""
    return html.unescape(_text_of(page))


def _invitations(world, email: str = ADDRESS) -> list[Invitation]:
    """Every invitation of an address, oldest first."""

    async def work(session):
        return list((await session.exec(select(Invitation).where(col(Invitation.email) == email)
                                         .order_by(col(Invitation.created_at), col(Invitation.id)))).all())

    return in_db(world, work)


def _cancel_records(world) -> list[AuditRecord]:
    async def work(session):
        return list((await session.exec(select(AuditRecord).where(
            col(AuditRecord.entity) == "invitation", col(AuditRecord.action) == "cancel"))).all())

    return in_db(world, work)


def _state(world, email: str = ADDRESS) -> list[tuple[uuid.UUID, object, object]]:
    return [(i.id, i.accepted_at, i.cancelled_at) for i in _invitations(world, email)]


def _invite_on_team_page(client: TestClient, email: str = ADDRESS, role: str = "reviewer") -> object:
    response = post_form(client, "/autorite/equipe", {"email": email, "role": role})
    assert response.status_code == 200, response.text
    return response


# ---- the authority's team page -------------------------------------------------------------------------


def test_an_admin_cancels_an_invitation_and_its_link_stops_working(web_world) -> None:
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        _invite_on_team_page(admin)
        link = link_in(mails_to(web_world, ADDRESS)[0].body, "/invitation/")
        (invitation,) = _invitations(web_world)
        team = admin.get("/autorite/equipe").text
        action = f"/autorite/equipe/invitations/{invitation.id}/annuler"
        assert f'action="{action}"' in team and "Annuler l'invitation" in html.unescape(team)
        assert f"Annuler l'invitation à {ADDRESS}" in html.unescape(team)  # the button names whom
        done = post_form(admin, action, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/autorite/equipe?annulee={invitation.id}"
        page = text_of(admin.get(done.headers["location"]).text)
        assert f"Invitation à {ADDRESS} annulée" in page
        assert ADDRESS not in page.split("Invitations en attente")[1]  # gone from the pending list
        # The notice is the database's, never the query's: an unknown or pending id shows nothing.
        assert "annulée" not in text_of(admin.get(f"/autorite/equipe?annulee={uuid.uuid4()}").text)
    with TestClient(web_world.app) as them:
        shown = them.get(link)
        assert shown.status_code == 400 and CANCELLED_LINK in text_of(shown.text)
        accepted = post_form(them, link, {"display_name": "Erreur", "password": "erreur-2026-x",
                                          "password_again": "erreur-2026-x"}, follow_redirects=False)
        assert accepted.status_code == 400 and CANCELLED_LINK in text_of(accepted.text)
    ((_id, accepted_at, cancelled_at),) = _state(web_world)
    assert accepted_at is None and cancelled_at is not None
    (record,) = _cancel_records(web_world)
    assert record.actor_id == USER_IDS["admin"] and record.before["email"] == ADDRESS


def test_the_journal_says_who_cancelled_which_invitation(web_world) -> None:
    with TestClient(web_world.app) as admin, TestClient(web_world.app) as reviewer:
        login(admin, "admin")
        _invite_on_team_page(admin)
        (invitation,) = _invitations(web_world)
        post_form(admin, f"/autorite/equipe/invitations/{invitation.id}/annuler", follow_redirects=False)
        journal = text_of(admin.get("/autorite/journal", params={"entity": "invitation"}).text)
        assert f"Alice Admin a annulé l'invitation {ADDRESS}" in journal
        english = text_of(admin.get("/autorite/journal", params={"entity": "invitation", "lang": "en"}).text)
        assert f"Alice Admin cancelled the invitation {ADDRESS}" in english
        login(reviewer, "reviewer")  # a reviewer sees that an invitation was cancelled, not the address
        theirs = text_of(reviewer.get("/autorite/journal", params={"entity": "invitation"}).text)
        assert "Alice Admin a annulé l'invitation personne invitée" in theirs and ADDRESS not in theirs


def test_inviting_the_same_address_again_replaces_the_pending_invitation(web_world) -> None:
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        first = text_of(_invite_on_team_page(admin, role="reviewer").text)
        assert "précédente" not in first
        old_link = link_in(mails_to(web_world, ADDRESS)[0].body, "/invitation/")
        again = text_of(_invite_on_team_page(admin, email=ADDRESS.upper(), role="agent").text)
        assert f"Invitation envoyée à {ADDRESS}. L'invitation précédente à {ADDRESS} a été remplacée" in again
        pending = again.split("Invitations en attente")[1].split("Inviter une personne")[0]
        assert pending.count(ADDRESS) == 1 and "Agent de contrôle" in pending and "Instructeur" not in pending
        english = text_of(post_form(admin, "/autorite/equipe?lang=en", {"email": ADDRESS, "role": "agent"}).text)
        assert f"The previous invitation to {ADDRESS} was replaced" in english
    assert sorted(cancelled is None for _id, _accepted, cancelled in _state(web_world)) == [False, False, True]
    assert [r.after for r in _cancel_records(web_world)] == [{"replaced": True}, {"replaced": True}]
    with TestClient(web_world.app) as them:
        assert CANCELLED_LINK in text_of(them.get(old_link).text)
        assert them.get(link_in(mails_to(web_world, ADDRESS)[0].body, "/invitation/")).status_code == 200


def test_an_accepted_invitation_cannot_be_cancelled(web_world) -> None:
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        _invite_on_team_page(admin)
        (invitation,) = _invitations(web_world)
        link = link_in(mails_to(web_world, ADDRESS)[0].body, "/invitation/")
        with TestClient(web_world.app) as them:
            joined = post_form(them, link, {"display_name": "Ernest Erreur", "password": "erreur-2026-x",
                                            "password_again": "erreur-2026-x"}, follow_redirects=False)
            assert joined.status_code == 303, joined.text
        before = _state(web_world)
        refused = post_form(admin, f"/autorite/equipe/invitations/{invitation.id}/annuler")
        assert refused.status_code == 409
        assert f"L'invitation à {ADDRESS} a déjà été acceptée : elle ne peut plus être annulée" in text_of(refused.text)
        again = post_form(admin, f"/autorite/equipe/invitations/{invitation.id}/annuler")
        assert again.status_code == 409
    assert _state(web_world) == before and _cancel_records(web_world) == []


@pytest.mark.parametrize("who", ["reviewer", "agent", "organiser", "pro", "anonymous"])
def test_who_does_not_manage_the_team_cannot_cancel(web_world, who: str) -> None:
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        _invite_on_team_page(admin)
    (invitation,) = _invitations(web_world)
    before = _state(web_world)
    with TestClient(web_world.app) as client:
        if who != "anonymous":
            login(client, who)
        for url in (f"/autorite/equipe/invitations/{invitation.id}/annuler",
                    f"/autorite/organisateurs/{ORGANISER_ID}/invitations/{invitation.id}/annuler"):
            response = post_form(client, url, follow_redirects=False)
            if who == "anonymous":
                assert response.status_code == 303 and response.headers["location"].startswith("/connexion")
            else:
                assert response.status_code == 403, (url, response.status_code)
    assert _state(web_world) == before and _cancel_records(web_world) == []


def test_without_the_csrf_token_nothing_is_cancelled(web_world) -> None:
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        _invite_on_team_page(admin)
        (invitation,) = _invitations(web_world)
        response = admin.post(f"/autorite/equipe/invitations/{invitation.id}/annuler", follow_redirects=False)
        assert response.status_code == 403
    assert _state(web_world)[0][2] is None


def test_another_authoritys_admin_gets_404_and_nothing_changes(two_authorities) -> None:
    from .two_authorities import sign_in

    two = two_authorities
    with TestClient(two.world.app) as admin:
        login(admin, "admin")
        _invite_on_team_page(admin)
        post_form(admin, f"/autorite/organisateurs/{ORGANISER_ID}/invitations", {"email": "orga@exemple.fr"})
    (invitation,) = _invitations(two.world)
    (organiser_invitation,) = _invitations(two.world, "orga@exemple.fr")
    before = _state(two.world) + _state(two.world, "orga@exemple.fr")
    with TestClient(two.world.app) as other:
        sign_in(other, two.b, "admin")
        assert post_form(other, f"/autorite/equipe/invitations/{invitation.id}/annuler").status_code == 404
        assert post_form(other, f"/autorite/equipe/invitations/{organiser_invitation.id}/annuler").status_code == 404
        # B's own organiser in the path, A's invitation: still unknown.
        assert post_form(other, f"/autorite/organisateurs/{two.b.organiser_id}/invitations/"
                                f"{organiser_invitation.id}/annuler").status_code == 404
        assert post_form(other, f"/autorite/organisateurs/{ORGANISER_ID}/invitations/"
                                f"{organiser_invitation.id}/annuler").status_code == 404
        assert ADDRESS not in other.get("/autorite/equipe").text
    with TestClient(two.world.app) as company:
        login(company, "pro")  # a company's member, whose team page has its own route
        assert post_form(company, f"/pro/equipe/invitations/{invitation.id}/annuler").status_code == 404
    assert _state(two.world) + _state(two.world, "orga@exemple.fr") == before
    assert _cancel_records(two.world) == []


# ---- an organiser's page, the company's team -----------------------------------------------------------


def test_an_admin_cancels_an_invitation_into_an_organiser(web_world) -> None:
    page = f"/autorite/organisateurs/{ORGANISER_ID}"
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        assert post_form(admin, f"{page}/invitations", {"email": ADDRESS}).status_code == 200
        again = text_of(post_form(admin, f"{page}/invitations", {"email": ADDRESS}).text)
        assert f"L'invitation précédente à {ADDRESS} a été remplacée" in again
        (invitation,) = [i for i in _invitations(web_world) if i.cancelled_at is None]
        shown = admin.get(page).text
        action = f"{page}/invitations/{invitation.id}/annuler"
        assert f'action="{action}"' in shown and 'class="stack invitations"' in shown
        done = post_form(admin, action, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"{page}?annulee={invitation.id}"
        after = text_of(admin.get(done.headers["location"]).text)
        assert f"Invitation à {ADDRESS} annulée" in after and "Aucune invitation en attente" in after
        # The same invitation from the authority's team page (it lists the organisers' invitations too).
        assert post_form(admin, f"/autorite/equipe/invitations/{invitation.id}/annuler").status_code == 409
    assert all(cancelled is not None for _id, _accepted, cancelled in _state(web_world))


def test_a_company_member_cancels_a_colleagues_invitation_and_another_company_cannot(web_world) -> None:
    with TestClient(web_world.app) as pro, TestClient(web_world.app) as other:
        login(pro, "pro")
        assert post_form(pro, "/pro/equipe", {"email": ADDRESS}).status_code == 200
        (invitation,) = _invitations(web_world)
        action = f"/pro/equipe/invitations/{invitation.id}/annuler"
        assert f'action="{action}"' in pro.get("/pro/equipe").text
        login(other, "other_pro")
        assert post_form(other, action).status_code == 404
        assert _state(web_world)[0][2] is None
        done = post_form(pro, action, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/pro/equipe?annulee={invitation.id}"
        english = text_of(pro.get(done.headers["location"] + "&lang=en").text)
        assert f"Invitation to {ADDRESS} cancelled: its link no longer works." in english
        assert "Cancel the invitation" not in english  # nothing pending any more
    assert _state(web_world)[0][2] is not None


# ---- the journal's sentence ------------------------------------------------------------------------------


def test_the_journal_sentence_names_the_invitation_in_both_languages() -> None:
    from cirqliz.web.audit_text import ENTITY_ACTION_FR, JOURNAL, action_sentence
    from cirqliz.web.i18n import translations

    assert action_sentence("Alice", "cancel", "invitation", "fr", "invitation") == "Alice a annulé l'invitation"
    assert action_sentence("Alice", "cancel", "invitation", "en", "invitation") == "Alice cancelled the invitation"
    assert action_sentence("Alice", "cancel", "événement", "fr", "event") == "Alice a annulé : événement"
    english = translations("en")._catalog
    assert all(f"{JOURNAL}\x04{phrase}" in english for phrase in ENTITY_ACTION_FR.values())
