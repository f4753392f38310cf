"""Security review: two team managers removing each other at the same moment never leave the team
without a manager (an authority without an administrator, a company without a member).

Each removal has its own session (its own connection and transaction), as two browser tabs would. On
PostgreSQL the transactions really interleave; on SQLite they queue on the write lock.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from factories import (
    AUTHORITY_PARIS_ID,
    COMPANY_ACME_ID,
    USER_ADMIN_ID,
    USER_ALICE_ID,
    USER_REVIEWER_ID,
)
from sqlmodel import col, func, select

from cirqliz.db.models import Membership, UserAccount
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import Role
from cirqliz.issuance.accounts import remove_member
from cirqliz.issuance.organisations import add_membership, create_user

pytestmark = pytest.mark.usefixtures("world")


async def _remove(session_factory, clock, *, team_id, user_id, actor_id):
    async with session_factory() as session, session.begin():
        removal = await remove_member(session, team_id=team_id, user_id=user_id, actor_id=actor_id, clock=clock)
        await asyncio.sleep(0.1)  # hold the transaction open while the other one runs
        return removal.user.id


async def _managers(session_factory, team_id, role: Role) -> int:
    async with session_factory() as session, session.begin():
        return (await session.exec(
            select(func.count()).select_from(Membership).join(UserAccount, col(UserAccount.id) == Membership.user_id)
            .where(col(Membership.organisation_id) == team_id, col(Membership.role) == role.value,
                   col(UserAccount.is_active).is_(True)))).one()


async def _race(session_factory, clock, team_id, first: uuid.UUID, second: uuid.UUID) -> list:
    # Each removes the other: both see one other manager if nothing serialises them.
    return await asyncio.gather(
        _remove(session_factory, clock, team_id=team_id, user_id=first, actor_id=second),
        _remove(session_factory, clock, team_id=team_id, user_id=second, actor_id=first),
        return_exceptions=True,
    )


async def test_two_admins_removing_each_other_leave_one_admin(session_factory, clock):
    async with session_factory() as session, session.begin():
        await add_membership(session, user_id=USER_REVIEWER_ID, organisation_id=AUTHORITY_PARIS_ID,
                             role=Role.AUTHORITY_ADMIN, clock=clock)
    assert await _managers(session_factory, AUTHORITY_PARIS_ID, Role.AUTHORITY_ADMIN) == 2
    outcomes = await _race(session_factory, clock, AUTHORITY_PARIS_ID, USER_ADMIN_ID, USER_REVIEWER_ID)
    removed = [o for o in outcomes if isinstance(o, uuid.UUID)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(removed) == 1 and len(refused) == 1, outcomes
    assert refused[0].code == "last_manager"
    assert "dernier administrateur" in refused[0].message
    assert await _managers(session_factory, AUTHORITY_PARIS_ID, Role.AUTHORITY_ADMIN) == 1


async def test_two_colleagues_removing_each_other_leave_one_member(session_factory, clock):
    async with session_factory() as session, session.begin():
        bob = await create_user(session, email="bob@acme.test", display_name="Bob Acme", clock=clock)
        await add_membership(session, user_id=bob.id, organisation_id=COMPANY_ACME_ID, role=Role.PROFESSIONAL,
                             clock=clock)
    assert await _managers(session_factory, COMPANY_ACME_ID, Role.PROFESSIONAL) == 2
    outcomes = await _race(session_factory, clock, COMPANY_ACME_ID, USER_ALICE_ID, bob.id)
    removed = [o for o in outcomes if isinstance(o, uuid.UUID)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(removed) == 1 and len(refused) == 1, outcomes
    assert refused[0].code == "last_manager"
    assert "dernier membre" in refused[0].message
    assert await _managers(session_factory, COMPANY_ACME_ID, Role.PROFESSIONAL) == 1
