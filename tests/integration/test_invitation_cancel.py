"""Cancelling an invitation, and inviting the same address again (it replaces the pending one), on
SQLite and PostgreSQL: the link of a cancelled or replaced invitation is refused with its own
message, the pending lists forget it, the journal keeps who cancelled it; only whoever may invite
into the organisation may cancel, and an accepted invitation cannot be cancelled. Migration 0018
adds the column and takes it away again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    COMPANY_BETA_ID,
    ORGANISER_FESTIVAL_ID,
    USER_ADMIN_ID,
    USER_AGENT_ID,
    USER_ALICE_ID,
    USER_REVIEWER_ID,
)
from sqlalchemy import inspect
from sqlmodel import col, select

from cirqliz.db.engine import create_engine
from cirqliz.db.migrate import downgrade, upgrade
from cirqliz.db.models import AuditRecord, Invitation, Membership, UserAccount
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.issuance import onboarding as ob
from cirqliz.issuance.accounts import (
    TokenError,
    accept_invitation,
    cancel_invitation,
    invite_member,
    open_invitation,
    pending_invitations,
    remove_member,
)
from cirqliz.settings import Settings

seeded = pytest.mark.usefixtures("world")
SECRET = "k" * 40
CANCELLED = "cette invitation a été annulée"


async def _invite(session_factory, clock, *, email: str = "nouveau@paris.test", role: str = "reviewer",
                  org=AUTHORITY_PARIS_ID, by=USER_ADMIN_ID):
    async with session_factory() as session, session.begin():
        return await invite_member(session, organisation_id=org, email=email, role=role, invited_by=by, clock=clock,
                                   secret_key=SECRET)


async def _open(session_factory, clock, token: str) -> Invitation:
    async with session_factory() as session:
        return await open_invitation(session, token=token, clock=clock, secret_key=SECRET)


async def _records(session_factory, action: str) -> list[AuditRecord]:
    async with session_factory() as session:
        return list((await session.exec(select(AuditRecord).where(
            col(AuditRecord.entity) == "invitation", col(AuditRecord.action) == action)
            .order_by(col(AuditRecord.seq)))).all())


async def _pending(session_factory, clock, org=AUTHORITY_PARIS_ID) -> list[tuple[str, str]]:
    async with session_factory() as session:
        return [(i.email, i.role) for i in await pending_invitations(session, [org], clock.now())]


@seeded
async def test_a_cancelled_invitations_link_is_refused_and_the_journal_keeps_who(session_factory, clock) -> None:
    invited = await _invite(session_factory, clock)
    assert (await _open(session_factory, clock, invited.token)).id == invited.invitation.id
    clock.advance(timedelta(minutes=5))
    async with session_factory() as session, session.begin():
        done = await cancel_invitation(session, invitation_id=invited.invitation.id, actor_id=USER_ADMIN_ID,
                                       clock=clock, organisation_ids=[AUTHORITY_PARIS_ID, ORGANISER_FESTIVAL_ID])
    assert done.cancelled_at == clock.now()
    with pytest.raises(TokenError) as refused:
        await _open(session_factory, clock, invited.token)
    assert refused.value.code == "cancelled_token" and CANCELLED in refused.value.message
    async with session_factory() as session, session.begin():
        with pytest.raises(TokenError):
            await accept_invitation(session, token=invited.token, display_name="Nouveau", password="nouveau-2026",
                                    clock=clock, secret_key=SECRET)
    assert await _pending(session_factory, clock) == []
    (record,) = await _records(session_factory, "cancel")
    assert record.actor_id == USER_ADMIN_ID and record.entity_id == str(invited.invitation.id)
    assert record.before == {"organisation_id": str(AUTHORITY_PARIS_ID), "email": "nouveau@paris.test",
                             "role": "reviewer"}
    assert record.after is None
    async with session_factory() as session:
        assert (await session.exec(select(UserAccount).where(col(UserAccount.email) == "nouveau@paris.test"))
                ).first() is None


@seeded
async def test_inviting_the_same_address_again_replaces_the_pending_invitation(session_factory, clock) -> None:
    first = await _invite(session_factory, clock, role="reviewer")
    assert first.replaced == ()
    second = await _invite(session_factory, clock, email=" Nouveau@Paris.test ", role="agent")  # any role
    assert [i.id for i in second.replaced] == [first.invitation.id]
    invitation, token = second  # still unpacks as (invitation, token)
    assert token == second.token and invitation is second.invitation
    assert await _pending(session_factory, clock) == [("nouveau@paris.test", "agent")]
    with pytest.raises(TokenError, match=CANCELLED):
        await _open(session_factory, clock, first.token)
    (record,) = await _records(session_factory, "cancel")
    assert record.entity_id == str(first.invitation.id) and record.after == {"replaced": True}
    # The new link works, for the new role only.
    async with session_factory() as session, session.begin():
        user = await accept_invitation(session, token=second.token, display_name="Nouveau", password="nouveau-2026",
                                       clock=clock, secret_key=SECRET)
    async with session_factory() as session:
        roles = (await session.exec(select(Membership.role).where(col(Membership.user_id) == user.id))).all()
    assert roles == ["agent"]


@seeded
async def test_another_address_or_organisation_is_not_replaced(session_factory, clock) -> None:
    await _invite(session_factory, clock, email="un@paris.test")
    other = await _invite(session_factory, clock, email="deux@paris.test")
    festival = await _invite(session_factory, clock, email="un@paris.test", role="organiser",
                             org=ORGANISER_FESTIVAL_ID)
    assert other.replaced == () and festival.replaced == ()
    assert sorted(await _pending(session_factory, clock)) == [("deux@paris.test", "reviewer"),
                                                              ("un@paris.test", "reviewer")]


@seeded
async def test_only_who_may_invite_there_may_cancel(session_factory, clock) -> None:
    invited = await _invite(session_factory, clock)
    beta = await _invite(session_factory, clock, email="collegue@beta.test", role="professional", org=COMPANY_BETA_ID,
                         by=None)
    for actor, invitation in ((USER_REVIEWER_ID, invited), (USER_AGENT_ID, invited), (USER_ALICE_ID, invited),
                              (USER_ADMIN_ID, beta), (USER_ALICE_ID, beta)):
        async with session_factory() as session, session.begin():
            with pytest.raises(NotFound):
                await cancel_invitation(session, invitation_id=invitation.invitation.id, actor_id=actor, clock=clock)
    # A team page's scope: an invitation outside it reads like an unknown one, even for a manager.
    async with session_factory() as session, session.begin():
        with pytest.raises(NotFound):
            await cancel_invitation(session, invitation_id=invited.invitation.id, actor_id=USER_ADMIN_ID, clock=clock,
                                    organisation_ids=[ORGANISER_FESTIVAL_ID])
    assert await _records(session_factory, "cancel") == []
    assert (await _open(session_factory, clock, invited.token)).cancelled_at is None


@seeded
async def test_an_accepted_or_cancelled_invitation_cannot_be_cancelled(session_factory, clock) -> None:
    invited = await _invite(session_factory, clock)
    async with session_factory() as session, session.begin():
        await accept_invitation(session, token=invited.token, display_name="Nouveau", password="nouveau-2026",
                                clock=clock, secret_key=SECRET)
    async with session_factory() as session, session.begin():
        with pytest.raises(DomainError, match="a déjà été acceptée") as refused:
            await cancel_invitation(session, invitation_id=invited.invitation.id, actor_id=USER_ADMIN_ID, clock=clock)
    assert refused.value.code == "invitation_accepted"
    other = await _invite(session_factory, clock, email="autre@paris.test")
    async with session_factory() as session, session.begin():
        await cancel_invitation(session, invitation_id=other.invitation.id, actor_id=USER_ADMIN_ID, clock=clock)
    async with session_factory() as session, session.begin():
        with pytest.raises(DomainError, match="est déjà annulée") as again:
            await cancel_invitation(session, invitation_id=other.invitation.id, actor_id=USER_ADMIN_ID, clock=clock)
    assert again.value.code == "invitation_cancelled"
    assert len(await _records(session_factory, "cancel")) == 1
    async with session_factory() as session:
        accepted = await session.get(Invitation, invited.invitation.id)
    assert accepted.accepted_at is not None and accepted.cancelled_at is None


@seeded
async def test_a_cancelled_role_is_not_granted_with_the_other_roles_of_the_address(
        session_factory, clock, tmp_path: Path) -> None:
    """An authority's first administrator gets one invitation per role (administrator, reviewer); the
    operator's later cancellation of one of them is not undone by accepting the other."""
    created = await ob.create_authority(session_factory, code="lyon", name="Ville de Lyon", admin_email="chef@lyon.fr",
                                        keys_root=tmp_path / "keys", clock=clock, secret_key=SECRET)
    assert sorted(await _pending(session_factory, clock, created.organisation_id)) == [
        ("chef@lyon.fr", "authority_admin"), ("chef@lyon.fr", "reviewer")]  # the second did not replace the first
    async with session_factory() as session:
        reviewer = next(i for i in await pending_invitations(session, [created.organisation_id], clock.now())
                        if i.role == "reviewer")
    async with session_factory() as session, session.begin():
        await cancel_invitation(session, invitation_id=reviewer.id, actor_id=None, clock=clock)
    async with session_factory() as session, session.begin():
        user = await accept_invitation(session, token=created.invitation.token, display_name="Chef",
                                       password="chef-de-lyon-2026", clock=clock, secret_key=SECRET)
    async with session_factory() as session:
        roles = (await session.exec(select(Membership.role).where(col(Membership.user_id) == user.id))).all()
        still = await session.get(Invitation, reviewer.id)
    assert roles == ["authority_admin"]
    assert still.accepted_at is None and still.cancelled_at is not None


@seeded
async def test_the_operator_replaces_and_cancels_from_the_command_line(session_factory, clock, tmp_path) -> None:
    created = await ob.create_authority(session_factory, code="lyon", name="Ville de Lyon", admin_email="chef@lyon.fr",
                                        keys_root=tmp_path / "keys", clock=clock, secret_key=SECRET)
    async with session_factory() as session, session.begin():
        _authority, link = await ob.invite_to_authority(session, code="lyon", email="chef@lyon.fr",
                                                        role="authority_admin", clock=clock, secret_key=SECRET)
    assert sorted(link.replaced) == ["authority_admin", "reviewer"]
    assert await _pending(session_factory, clock, created.organisation_id) == [("chef@lyon.fr", "authority_admin")]
    async with session_factory() as session, session.begin():
        _authority, fresh = await ob.invite_to_authority(session, code="lyon", email="agent@lyon.fr", role="agent",
                                                         clock=clock, secret_key=SECRET)
    assert fresh.replaced == ()
    async with session_factory() as session, session.begin():
        _authority, cancelled = await ob.cancel_authority_invitations(session, code="lyon", email="CHEF@lyon.fr",
                                                                      clock=clock)
    assert [i.role for i in cancelled] == ["authority_admin"]
    assert await _pending(session_factory, clock, created.organisation_id) == [("agent@lyon.fr", "agent")]
    async with session_factory() as session, session.begin():
        with pytest.raises(NotFound, match=r"aucune invitation en attente pour chef@lyon\.fr"):
            await ob.cancel_authority_invitations(session, code="lyon", email="chef@lyon.fr", clock=clock)
    assert {r.actor_id for r in await _records(session_factory, "cancel")} == {None}


@seeded
async def test_removing_a_member_cancels_their_pending_invitations_and_keeps_the_rows(session_factory, clock) -> None:
    invited = await _invite(session_factory, clock, email="agent@paris.test", role="reviewer")
    async with session_factory() as session, session.begin():
        await remove_member(session, team_id=AUTHORITY_PARIS_ID, user_id=USER_AGENT_ID, actor_id=USER_ADMIN_ID,
                            clock=clock)
    async with session_factory() as session:
        row = await session.get(Invitation, invited.invitation.id)
    assert row is not None and row.cancelled_at == clock.now()
    with pytest.raises(TokenError, match=CANCELLED):
        await _open(session_factory, clock, invited.token)
    (record,) = await _records(session_factory, "cancel")
    assert record.before["email"] == "agent@paris.test"


# ---- migration 0018 ---------------------------------------------------------------------------


def _columns(connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("invitation")}


async def _invitation_columns(url: str) -> set[str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_columns)
    finally:
        await engine.dispose()


async def test_migration_0018_adds_and_removes_the_column(empty_database_url) -> None:
    url = empty_database_url
    await asyncio.to_thread(upgrade, url, "0017")
    assert "cancelled_at" not in await _invitation_columns(url)
    await asyncio.to_thread(upgrade, url, "0018")
    assert "cancelled_at" in await _invitation_columns(url)
    await asyncio.to_thread(downgrade, url, "0017")
    columns = await _invitation_columns(url)
    assert "cancelled_at" not in columns and {"accepted_at", "token_hash"} <= columns


# ---- at the same moment (own sessions, as two browser tabs; PostgreSQL interleaves them) ----------


async def _held(session_factory, work):
    async with session_factory() as session, session.begin():
        result = await work(session)
        await asyncio.sleep(0.1)  # hold the transaction open while the other one runs
        return result


@seeded
async def test_two_invitations_of_the_same_address_at_once_leave_one_pending(session_factory, clock) -> None:
    def invite(role: str, by):
        return lambda session: invite_member(session, organisation_id=AUTHORITY_PARIS_ID, email="double@paris.test",
                                             role=role, invited_by=by, clock=clock, secret_key=SECRET)

    outcomes = await asyncio.gather(_held(session_factory, invite("reviewer", USER_ADMIN_ID)),
                                    _held(session_factory, invite("agent", None)), return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    assert len(await _pending(session_factory, clock)) == 1
    assert sorted(len(o.replaced) for o in outcomes) == [0, 1]


@seeded
async def test_a_cancellation_and_an_acceptance_at_once_one_wins(session_factory, clock) -> None:
    invited = await _invite(session_factory, clock)

    async def cancel(session):
        return await cancel_invitation(session, invitation_id=invited.invitation.id, actor_id=USER_ADMIN_ID,
                                       clock=clock)

    async def accept(session):
        return await accept_invitation(session, token=invited.token, display_name="Nouveau",
                                       password="nouveau-2026", clock=clock, secret_key=SECRET)

    outcomes = await asyncio.gather(_held(session_factory, cancel), _held(session_factory, accept),
                                    return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], DomainError), outcomes
    async with session_factory() as session:
        row = await session.get(Invitation, invited.invitation.id)
        members = (await session.exec(select(Membership).join(UserAccount, col(UserAccount.id) == Membership.user_id)
                                      .where(col(UserAccount.email) == "nouveau@paris.test"))).all()
    assert (row.accepted_at is None) != (row.cancelled_at is None)  # exactly one of them
    assert len(members) == (1 if row.accepted_at else 0)
