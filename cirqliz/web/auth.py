"""Sign-in with an encrypted session cookie, and role guards.

Roles are enforced here, by guards on controllers and routes, never by hiding links.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.db.models import Membership, Organisation, UserAccount
from cirqliz.domain.organisations import Role


@dataclass(frozen=True, slots=True)
class MembershipView:
    """One role in one organisation."""

    organisation_id: uuid.UUID
    organisation_kind: str
    organisation_name: str
    role: str


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person and their roles."""

    id: uuid.UUID
    email: str
    display_name: str
    roles: tuple[MembershipView, ...] = field(default_factory=tuple)

    def has(self, *roles: Role | str) -> bool:
        """Whether the user holds any of `roles` somewhere."""
        wanted = {str(r) for r in roles}
        return any(m.role in wanted for m in self.roles)

    def organisation_for(self, *roles: Role | str) -> uuid.UUID:
        """The organisation in which the user holds one of `roles` (the first one)."""
        wanted = {str(r) for r in roles}
        for membership in self.roles:
            if membership.role in wanted:
                return membership.organisation_id
        raise PermissionDeniedException("Accès réservé.")

    @property
    def role_names(self) -> set[str]:
        """Every role the user holds."""
        return {m.role for m in self.roles}

    @property
    def organisation_name(self) -> str:
        """Name of the user's first organisation (for the header)."""
        return self.roles[0].organisation_name if self.roles else ""


async def user_in_session(session: AsyncSession, user_id: uuid.UUID) -> CurrentUser | None:
    """The CurrentUser with this id, if active, read through `session`."""
    user = await session.get(UserAccount, user_id)
    if user is None or not user.is_active:
        return None
    rows = await session.exec(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at)
    )
    roles = tuple(MembershipView(org.id, org.kind, org.name, m.role) for m, org in rows.all())
    return CurrentUser(user.id, user.email, user.display_name, roles)


async def load_user(connection: ASGIConnection, user_id: uuid.UUID) -> CurrentUser | None:
    """The CurrentUser with this id, if active (its own short session)."""
    async with connection.app.state.session_maker() as session:
        return await user_in_session(session, user_id)


SESSION_MAX_AGE = 10 * 3600
"""Lifetime of a session cookie (seconds)."""
REVOKED_SESSIONS = "revoked_sessions"
"""Store of the session ids signed out before their cookie expired (the cookie itself cannot be recalled)."""
SESSION_CUTOFFS = "session_cutoffs"
"""Store of user id → time (epoch seconds) before which every session of that user is refused."""


def new_session(user_id: uuid.UUID, now: int) -> dict[str, Any]:
    """The content of a fresh session cookie: a new random session id at every sign-in (no fixation)."""
    return {"user_id": str(user_id), "at": now, "sid": secrets.token_urlsafe(16)}


async def revoke_session(connection: ASGIConnection, session: dict[str, Any]) -> None:
    """Remember a signed-out session id until its cookie would have expired: a copy of the cookie
    replayed after sign-out no longer signs anyone in."""
    sid = session.get("sid")
    if sid:
        await connection.app.stores.get(REVOKED_SESSIONS).set(str(sid), "1", expires_in=SESSION_MAX_AGE)


async def end_every_session(connection: ASGIConnection, user_id: uuid.UUID, now: int) -> None:
    """Refuse every session of this user opened before `now` (after a password reset: whoever held
    the old password, or a copy of a cookie, is signed out everywhere)."""
    await connection.app.stores.get(SESSION_CUTOFFS).set(str(user_id), str(now), expires_in=SESSION_MAX_AGE)


async def retrieve_user_handler(session: dict[str, Any], connection: ASGIConnection) -> CurrentUser | None:
    """SessionAuth hook: the user whose id the session cookie holds (unless that session was signed
    out, or opened before the user's password was reset)."""
    raw = session.get("user_id")
    sid = session.get("sid")
    if not raw or not sid or await connection.app.stores.get(REVOKED_SESSIONS).exists(str(sid)):
        return None
    cutoff = await connection.app.stores.get(SESSION_CUTOFFS).get(str(raw))
    if cutoff is not None and int(session.get("at") or 0) < int(cutoff):
        return None
    try:
        return await load_user(connection, uuid.UUID(raw))
    except ValueError:
        return None


def requires(*roles: Role) -> Any:
    """A guard that lets through users holding any of `roles`."""
    wanted = tuple(roles)

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, CurrentUser):
            raise NotAuthorizedException("Connexion requise.")
        if not user.has(*wanted):
            raise PermissionDeniedException("Cette page est réservée à un autre profil.")

    guard.__name__ = f"requires_{'_or_'.join(r.value for r in wanted)}"
    return guard


def home_for(user: CurrentUser) -> str:
    """Where a user lands after signing in."""
    names = user.role_names
    if names & {Role.AUTHORITY_ADMIN, Role.REVIEWER}:
        return "/autorite"
    if Role.ORGANISER in names:
        return "/organisateur"
    if Role.AGENT in names:
        return "/scan"
    return "/pro"


def any_role(user: CurrentUser, roles: Iterable[str]) -> bool:
    """Template helper: whether the user holds one of `roles`."""
    return bool(user.role_names & set(roles))
