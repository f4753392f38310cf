"""Teams (issue 15, security follow-ups): removing a member ends every session of theirs at once (an
agent's lost phone), within the admin's own team only; an invitation is checked against the
inviter's team again when it is accepted."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta

import pytest
from litestar.testing import TestClient
from sqlmodel import col, select

from cirqliz.db.models import AuditRecord, Invitation, Membership, UserAccount
from cirqliz.demo.seed import AUTHORITY_ID, COMPANY_ID, DEMO_PASSWORD, ORGANISER_ID, USER_IDS, USERS
from cirqliz.domain.organisations import Role
from cirqliz.issuance.accounts import INVITE, new_token, token_hash, token_key
from cirqliz.issuance.api_tokens import authenticate_token, create_api_token
from cirqliz.issuance.organisations import add_membership

from .conftest import login, post_form
from .conftest import text_of as _text_of
from .mailbox import in_db, link_in, mails_to, outbox_web_world  # noqa: F401 (fixture `web_world`: outbox in tmp)


@pytest.fixture
def two_authorities(web_world):
    """web_world with a second authority (B) beside the demo one (A)."""
    from .two_authorities import add_second_authority

    return add_second_authority(web_world)


def text_of(page: str) -> str:
    """Visible text of a page, entities decoded."""
    return html.unescape(_text_of(page))


def _user(world, user_id: uuid.UUID) -> tuple[bool, int, list[tuple[uuid.UUID, str]]]:
    """(is_active, session_version, memberships) of an account."""

    async def work(session):
        user = await session.get(UserAccount, user_id)
        rows = (await session.exec(select(Membership).where(col(Membership.user_id) == user_id))).all()
        return user.is_active, user.session_version, sorted((m.organisation_id, m.role) for m in rows)

    return in_db(world, work)


def _audit(world, entity: str, action: str) -> list[AuditRecord]:
    async def work(session):
        return list((await session.exec(select(AuditRecord).where(
            col(AuditRecord.entity) == entity, col(AuditRecord.action) == action))).all())

    return in_db(world, work)


def _signed_in(client: TestClient, page: str) -> bool:
    """Whether the client's session still opens `page` (a refused session is sent to sign in)."""
    response = client.get(page, follow_redirects=False)
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


# ---- removing a member of an authority ---------------------------------------------------------------


def test_a_removed_agents_session_is_refused_right_after(web_world) -> None:
    """The lost phone: the agent's phone is signed in; the admin removes the agent; the very next
    request of that phone is sent to sign in, and the account (no role left) cannot sign in again."""
    agent = USER_IDS["agent"]
    with TestClient(web_world.app) as phone, TestClient(web_world.app) as admin:
        login(phone, "agent")
        assert _signed_in(phone, "/scan")
        login(admin, "admin")
        confirm = admin.get(f"/autorite/equipe/{agent}/retirer")
        assert confirm.status_code == 200
        assert "Alain Agent" in confirm.text and "Agent de contrôle" in text_of(confirm.text)
        team = admin.get("/autorite/equipe").text
        assert f"/autorite/equipe/{agent}/retirer" in team  # the "Retirer" link of each member
        done = post_form(admin, f"/autorite/equipe/{agent}/retirer", follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/autorite/equipe?ok=retire"
        assert "Membre retiré de l'équipe" in text_of(admin.get(done.headers["location"]).text)

        assert not _signed_in(phone, "/scan")
        assert phone.get("/scan", follow_redirects=False).headers["location"].startswith("/connexion")
        again = post_form(phone, "/connexion", {"email": USERS["agent"][0], "password": DEMO_PASSWORD},
                          follow_redirects=False)
        assert again.status_code != 303
        assert _signed_in(admin, "/autorite/equipe")  # the admin's own session goes on
    active, version, roles = _user(web_world, agent)
    assert (active, version, roles) == (False, 1, [])
    removed = _audit(web_world, "membership", "delete")
    assert [(r.actor_id, r.before["role"]) for r in removed] == [(USER_IDS["admin"], "agent")]
    (record,) = _audit(web_world, "user", "remove_from_team")
    assert record.entity_id == str(agent) and record.after["is_active"] is False


def test_another_authoritys_admin_gets_404_for_that_member(two_authorities) -> None:
    from .two_authorities import sign_in

    two = two_authorities
    agent = USER_IDS["agent"]
    before = _user(two.world, agent)
    with TestClient(two.world.app) as client:
        sign_in(client, two.b, "admin")
        assert client.get(f"/autorite/equipe/{agent}/retirer").status_code == 404
        assert post_form(client, f"/autorite/equipe/{agent}/retirer").status_code == 404
        assert USERS["agent"][0] not in client.get("/autorite/equipe").text
    assert _user(two.world, agent) == before


def test_removing_an_organisers_user_from_the_authority_team(web_world) -> None:
    organiser = USER_IDS["organiser"]
    with TestClient(web_world.app) as them, TestClient(web_world.app) as admin:
        login(them, "organiser")
        assert _signed_in(them, "/organisateur")
        login(admin, "admin")
        page = text_of(admin.get(f"/autorite/equipe/{organiser}/retirer").text)
        assert "Organisateur d'événement — Festival de Démo" in page
        assert post_form(admin, f"/autorite/equipe/{organiser}/retirer", follow_redirects=False).status_code == 303
        assert not _signed_in(them, "/organisateur")
    assert _user(web_world, organiser) == (False, 1, [])


def test_a_member_with_a_role_elsewhere_stays_active_but_is_signed_out(web_world) -> None:
    """Only this team's roles go: the company role stays and the account may sign in again, yet
    every session opened before ends."""
    reviewer = USER_IDS["reviewer"]
    in_db(web_world, lambda s: add_membership(s, user_id=reviewer, organisation_id=COMPANY_ID,
                                              role=Role.PROFESSIONAL, clock=web_world.clock))
    with TestClient(web_world.app) as them, TestClient(web_world.app) as admin:
        login(them, "reviewer")
        assert _signed_in(them, "/pro")
        login(admin, "admin")
        assert post_form(admin, f"/autorite/equipe/{reviewer}/retirer", follow_redirects=False).status_code == 303
        assert not _signed_in(them, "/pro")
        login(them, "reviewer")
        assert _signed_in(them, "/pro")
        assert them.get("/autorite/demandes", follow_redirects=False).status_code == 403
    assert _user(web_world, reviewer) == (True, 1, [(COMPANY_ID, "professional")])


def test_the_last_admin_cannot_remove_themself(web_world) -> None:
    admin_id = USER_IDS["admin"]
    before = _user(web_world, admin_id)
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        assert "Vous vous retirez vous-même" in admin.get(f"/autorite/equipe/{admin_id}/retirer").text
        response = post_form(admin, f"/autorite/equipe/{admin_id}/retirer")
        assert response.status_code == 422
        assert "Impossible de retirer le dernier administrateur de l'autorité" in text_of(response.text)
        assert _signed_in(admin, "/autorite/equipe")
    assert _user(web_world, admin_id) == before


def test_an_admin_may_leave_when_another_admin_remains(web_world) -> None:
    in_db(web_world, lambda s: add_membership(s, user_id=USER_IDS["reviewer"], organisation_id=AUTHORITY_ID,
                                              role=Role.AUTHORITY_ADMIN, clock=web_world.clock))
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        response = post_form(admin, f"/autorite/equipe/{USER_IDS['admin']}/retirer", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/connexion"
        assert not _signed_in(admin, "/autorite")
    assert _user(web_world, USER_IDS["admin"]) == (False, 1, [])


def test_removal_cancels_the_persons_pending_invitations_into_the_team(web_world) -> None:
    """Whoever holds the lost phone (and its mailbox) cannot come back through a pending invitation."""
    with TestClient(web_world.app) as admin:
        login(admin, "admin")
        invited = post_form(admin, "/autorite/equipe", {"email": USERS["agent"][0], "role": "reviewer"})
        assert invited.status_code == 200, invited.text
        link = link_in(mails_to(web_world, USERS["agent"][0])[0].body, "/invitation/")
        assert post_form(admin, f"/autorite/equipe/{USER_IDS['agent']}/retirer",
                         follow_redirects=False).status_code == 303
        assert USERS["agent"][0] not in admin.get("/autorite/equipe").text
    with TestClient(web_world.app) as them:
        response = post_form(them, link, {"password": DEMO_PASSWORD})
        assert response.status_code == 400
    assert _user(web_world, USER_IDS["agent"])[2] == []


# ---- invitations checked again at acceptance ------------------------------------------------------------


def _old_invitation(world, *, organisation_id: uuid.UUID, invited_by: uuid.UUID, email: str,
                    role: str = "organiser") -> str:
    """An invitation row written directly, as the team page wrote them before invitations were scoped."""
    now = world.clock.now()
    token = new_token(token_key(world.settings.secret_key, INVITE), now + timedelta(days=7))

    async def work(session):
        session.add(Invitation(organisation_id=organisation_id, email=email, role=role, token_hash=token_hash(token),
                               invited_by_id=invited_by, created_at=now, expires_at=now + timedelta(days=7)))

    in_db(world, work)
    return token


def test_an_invitation_into_another_authoritys_organiser_is_refused_at_acceptance(two_authorities) -> None:
    from .two_authorities import B_ORGANISER_ID

    two = two_authorities
    token = _old_invitation(two.world, organisation_id=B_ORGANISER_ID, invited_by=USER_IDS["admin"],
                            email="intrus@example.fr")
    with TestClient(two.world.app) as client:
        shown = client.get(f"/invitation/{token}")
        assert shown.status_code == 400
        assert "Cette invitation n'est plus valable" in text_of(shown.text)
        assert "Festival Bis" not in shown.text
        form = {"display_name": "Ivan Intrus", "password": "intrusion-2026", "password_again": "intrusion-2026"}
        accepted = post_form(client, f"/invitation/{token}", form, follow_redirects=False)
        assert accepted.status_code == 400
        assert "Cette invitation n'est plus valable" in text_of(accepted.text)

    async def nobody(session):
        return (await session.exec(select(UserAccount).where(col(UserAccount.email) == "intrus@example.fr"))).all()

    assert in_db(two.world, nobody) == []


def test_an_invitation_into_the_inviters_own_organiser_still_works(web_world) -> None:
    """The check refuses only what is out of the inviter's team: their own organiser is fine."""
    token = _old_invitation(web_world, organisation_id=ORGANISER_ID, invited_by=USER_IDS["admin"],
                            email="nouvelle@festival.example.fr")
    with TestClient(web_world.app) as client:
        accepted = post_form(client, f"/invitation/{token}", {"display_name": "Nina Nouvelle",
                                                              "password": "festival-2026",
                                                              "password_again": "festival-2026"},
                             follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/organisateur"


def test_an_invitation_sent_by_an_admin_since_removed_is_refused(web_world) -> None:
    in_db(web_world, lambda s: add_membership(s, user_id=USER_IDS["reviewer"], organisation_id=AUTHORITY_ID,
                                              role=Role.AUTHORITY_ADMIN, clock=web_world.clock))
    with TestClient(web_world.app) as second, TestClient(web_world.app) as admin:
        login(second, "reviewer")
        assert post_form(second, "/autorite/equipe", {"email": "complice@example.fr", "role": "authority_admin"}
                         ).status_code == 200
        link = link_in(mails_to(web_world, "complice@example.fr")[0].body, "/invitation/")
        login(admin, "admin")
        assert post_form(admin, f"/autorite/equipe/{USER_IDS['reviewer']}/retirer",
                         follow_redirects=False).status_code == 303
    with TestClient(web_world.app) as client:
        response = post_form(client, link, {"display_name": "Carl Complice", "password": "complice-2026",
                                            "password_again": "complice-2026"})
        assert response.status_code == 400
        assert "Cette invitation n'est plus valable" in text_of(response.text)


# ---- the company's team (/pro/equipe) ----------------------------------------------------------------------


def _colleague(world, client: TestClient) -> uuid.UUID:
    """Invite a colleague into the demo company and let them accept; their id."""
    assert post_form(client, "/pro/equipe", {"email": "collegue@transports.example.fr"}).status_code == 200
    link = link_in(mails_to(world, "collegue@transports.example.fr")[0].body, "/invitation/")
    with TestClient(world.app) as them:
        accepted = post_form(them, link, {"display_name": "Claire Collègue", "password": "collegue-2026",
                                          "password_again": "collegue-2026"}, follow_redirects=False)
        assert accepted.status_code == 303, accepted.text

    async def work(session):
        return (await session.exec(select(UserAccount.id).where(
            col(UserAccount.email) == "collegue@transports.example.fr"))).one()

    return in_db(world, work)


def test_a_company_member_removes_a_colleague(web_world) -> None:
    with TestClient(web_world.app) as pro, TestClient(web_world.app) as them:
        login(pro, "pro")
        colleague = _colleague(web_world, pro)
        post_form(them, "/connexion", {"email": "collegue@transports.example.fr", "password": "collegue-2026"})
        assert _signed_in(them, "/pro")
        assert f"/pro/equipe/{colleague}/retirer" in pro.get("/pro/equipe").text
        assert "Claire Collègue" in pro.get(f"/pro/equipe/{colleague}/retirer").text
        theirs, ours = _token(web_world, colleague), _token(web_world, USER_IDS["pro"])
        done = post_form(pro, f"/pro/equipe/{colleague}/retirer", follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/pro/equipe?ok=retire"
        assert not _signed_in(them, "/pro")
    assert _user(web_world, colleague) == (False, 1, [])
    # the API token the colleague created (a secret they know) ends with them; the others' stay
    assert not _token_works(web_world, theirs) and _token_works(web_world, ours)


def _token(world, created_by: uuid.UUID) -> str:
    async def work(session):
        _, token = await create_api_token(session, organisation_id=COMPANY_ID, name="flotte", scopes=["passes:read"],
                                          created_by=created_by, clock=world.clock)
        return token

    return in_db(world, work)


def _token_works(world, token: str) -> bool:
    async def work(session):
        return await authenticate_token(session, token) is not None

    return in_db(world, work)


def test_another_company_cannot_remove_a_colleague_and_the_last_member_stays(web_world) -> None:
    with TestClient(web_world.app) as pro, TestClient(web_world.app) as other:
        login(pro, "pro")
        colleague = _colleague(web_world, pro)
        login(other, "other_pro")
        assert other.get(f"/pro/equipe/{colleague}/retirer").status_code == 404
        assert post_form(other, f"/pro/equipe/{colleague}/retirer").status_code == 404
        assert _user(web_world, colleague)[0] is True
        # The colleague goes; the last member of the company cannot remove themself.
        assert post_form(pro, f"/pro/equipe/{colleague}/retirer", follow_redirects=False).status_code == 303
        last = post_form(pro, f"/pro/equipe/{USER_IDS['pro']}/retirer")
        assert last.status_code == 422
        assert "Impossible de retirer le dernier membre de l'entreprise" in text_of(last.text)
    assert _user(web_world, USER_IDS["pro"]) == (True, 0, [(COMPANY_ID, "professional")])


# ---- security review: coming back after a removal, API tokens of a removed colleague -------------------------


def test_a_removed_agent_comes_back_through_a_new_invitation(web_world) -> None:
    """Removed from their only team, the agent's account is disabled; a new invitation accepted with
    the account's current password enables it again (audited). A wrong password is still refused
    with the same message, and the sessions opened before the removal stay ended."""
    agent = USER_IDS["agent"]
    address = USERS["agent"][0]
    with TestClient(web_world.app) as phone, TestClient(web_world.app) as admin:
        login(phone, "agent")
        assert _signed_in(phone, "/scan")
        old_cookies = dict(phone.cookies)
        login(admin, "admin")
        assert post_form(admin, f"/autorite/equipe/{agent}/retirer", follow_redirects=False).status_code == 303
        assert _user(web_world, agent)[:2] == (False, 1)
        assert post_form(admin, "/autorite/equipe", {"email": address, "role": "agent"}).status_code == 200
    link = link_in(mails_to(web_world, address)[-1].body, "/invitation/")
    with TestClient(web_world.app) as them:
        wrong = post_form(them, link, {"password": "pas-le-bon-mot-de-passe"})
        assert wrong.status_code == 400
        assert "Un compte existe déjà avec cette adresse : saisissez son mot de passe actuel" in text_of(wrong.text)
        assert _user(web_world, agent)[0] is False
        accepted = post_form(them, link, {"password": DEMO_PASSWORD}, follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/scan", accepted.text
        assert _signed_in(them, "/scan")
    active, version, roles = _user(web_world, agent)
    assert active is True and version >= 1 and roles == [(AUTHORITY_ID, "agent")]
    (record,) = _audit(web_world, "user", "reactivate")
    assert record.entity_id == str(agent) and record.before["is_active"] is False and record.after["is_active"]
    with TestClient(web_world.app) as stolen:  # the lost phone's cookie from before the removal
        stolen.cookies.update(old_cookies)
        assert not _signed_in(stolen, "/scan")
    with TestClient(web_world.app) as phone:  # and the account signs in again normally
        login(phone, "agent")
        assert _signed_in(phone, "/scan")


def test_a_removed_colleagues_api_token_is_refused_at_once(web_world) -> None:
    """The token cache of the process that removed the colleague forgets their tokens at once."""
    with TestClient(web_world.app) as pro, TestClient(web_world.app) as api:
        login(pro, "pro")
        colleague = _colleague(web_world, pro)
        theirs, ours = _token(web_world, colleague), _token(web_world, USER_IDS["pro"])
        assert api.get("/api/v1/passes", headers={"Authorization": f"Bearer {theirs}"}).status_code == 200
        assert api.get("/api/v1/passes", headers={"Authorization": f"Bearer {ours}"}).status_code == 200
        assert post_form(pro, f"/pro/equipe/{colleague}/retirer", follow_redirects=False).status_code == 303
        assert api.get("/api/v1/passes", headers={"Authorization": f"Bearer {theirs}"}).status_code == 401
        assert api.get("/api/v1/passes", headers={"Authorization": f"Bearer {ours}"}).status_code == 200
