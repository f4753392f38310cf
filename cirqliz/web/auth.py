"""Sign-in with an encrypted session cookie, and role guards.

Roles are enforced here, by guards on controllers and routes, never by hiding links.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import delete, exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import from_epoch, to_epoch
from cirqliz.db.models import Membership, Organisation, SignedOutSession, UserAccount
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


async def _with_roles(session: AsyncSession, user: UserAccount) -> CurrentUser:
    rows = await session.exec(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user.id)
        .order_by(Membership.created_at)
    )
    roles = tuple(MembershipView(org.id, org.kind, org.name, m.role) for m, org in rows.all())
    return CurrentUser(user.id, user.email, user.display_name, roles)


async def user_in_session(session: AsyncSession, user_id: uuid.UUID) -> CurrentUser | None:
    """The CurrentUser with this id, if active, read through `session`."""
    user = await session.get(UserAccount, user_id)
    if user is None or not user.is_active:
        return None
    return await _with_roles(session, user)


SESSION_MAX_AGE = 10 * 3600
"""Lifetime of a session (seconds), counted from sign-in: the cookie is renewed at each response,
so its own expiry alone would let a copied cookie live as long as it is used."""


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def new_session(user: UserAccount, now: datetime) -> dict[str, Any]:
    """The content of a fresh session cookie: a new random session id at every sign-in (no fixation),
    the user's session version (raising it ends the session) and the time of sign-in."""
    return {"user_id": str(user.id), "v": user.session_version, "at": to_epoch(now),
            "sid": secrets.token_urlsafe(16)}


async def sign_out_session(db: AsyncSession, session: dict[str, Any], now: datetime) -> None:
    """Record this session as signed out until it would have ended anyway (other sessions of the
    user go on); records past that time are dropped on the way."""
    sid, raw = session.get("sid"), session.get("user_id")
    if not sid or not raw:
        return
    await db.exec(delete(SignedOutSession).where(col(SignedOutSession.expires_at) < now))  # type: ignore[call-overload]
    key = _sid_hash(str(sid))
    if await db.get(SignedOutSession, key) is None:
        opened = from_epoch(int(session.get("at") or to_epoch(now)))
        db.add(SignedOutSession(sid_hash=key, user_id=uuid.UUID(str(raw)),
                                expires_at=max(opened, now) + timedelta(seconds=SESSION_MAX_AGE)))
        await db.flush()


async def retrieve_user_handler(session: dict[str, Any], connection: ASGIConnection) -> CurrentUser | None:
    """SessionAuth hook: the user whose id the session cookie holds, if that session is still good:
    opened less than SESSION_MAX_AGE ago, at the user's current session version, not signed out.
    One query for the user and the sign-out record together, one for the roles."""
    try:
        user_id = uuid.UUID(str(session.get("user_id")))
        sid, version, opened = str(session["sid"]), int(session["v"]), int(session["at"])
    except (KeyError, TypeError, ValueError):
        return None  # no session, or one written before session versions
    now = to_epoch(connection.app.state.clock.now())
    if opened <= now - SESSION_MAX_AGE:
        return None
    signed_out = exists().where(col(SignedOutSession.sid_hash) == _sid_hash(sid))
    async with connection.app.state.session_maker() as db:
        row = (await db.exec(select(UserAccount, signed_out.label("signed_out"))  # type: ignore[call-overload]
                             .where(col(UserAccount.id) == user_id))).first()
        if row is None:
            return None
        user, out = row
        if out or not user.is_active or user.session_version != version:
            return None
        return await _with_roles(db, user)


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
