"""Sign-in with an encrypted session cookie, its idle limit, and role guards.

Roles are enforced here, by guards on controllers and routes, never by hiding links.
Idle limit (ADR 0011): the office pages sign out a session unused for CIRQLIZ_SESSION_IDLE_MINUTES.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.response import Redirect
from litestar.types import Empty, Message, ScopeSession
from sqlalchemy import delete, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import from_epoch, to_epoch
from cirqliz.db.models import Membership, Organisation, SignedOutSession, UserAccount
from cirqliz.domain.organisations import Role
from cirqliz.web.rendering import wants_json


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
"""Lifetime of a session (seconds), counted from sign-in: the cookie is renewed whenever the session
changes (its time of last activity, at most once a minute), so its own expiry alone would let a copied
cookie live as long as it is used."""


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def new_session(user: UserAccount, now: datetime) -> dict[str, Any]:
    """The content of a fresh session cookie: a new random session id at every sign-in (no fixation),
    the user's session version (raising it ends the session), the time of sign-in and of last activity."""
    return {"user_id": str(user.id), "v": user.session_version, "at": to_epoch(now),
            "sid": secrets.token_urlsafe(16), "seen": to_epoch(now)}


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


# ---- idle limit (ADR 0011) ------------------------------------------------------------------------

IDLE_REFRESH_S = 60
"""The session's time of last activity (`seen`) is rewritten at most once in this many seconds: between
two rewrites the session is unchanged and its cookie is not sent again (SessionCookieConfig). A session
is signed out once `seen` is more than the limit plus this much behind: never before the limit."""
OFFICE_ROLES = frozenset({Role.AUTHORITY_ADMIN, Role.REVIEWER, Role.ORGANISER, Role.PROFESSIONAL})
"""Sessions of people holding one of these roles have an idle limit; an agent-only account's session
is the scanner's (a whole shift, offline), bounded by SESSION_MAX_AGE and its sign-out only."""
IDLE_EXEMPT = re.compile(r"^/(?:scan(?:/|$)|deconnexion$|moi/session$)")
"""Routes that neither count as activity nor end an idle session: the scanner's page and its
background calls (sync, partner bundles), and sign-out with its probe (the sign-out made offline)."""
IDLE_PARAM = "inactivite"
"""Query parameter of /connexion after an idle sign-out: the page then says why (auth/login.html)."""


class SessionIdleExpired(NotAuthorizedException):
    """A page request on a session left unused longer than the idle limit: it has just been signed out."""

    def __init__(self, minutes: int) -> None:
        super().__init__(idle_message(minutes))
        self.minutes = minutes


def idle_message(minutes: int) -> str:
    """What the person reads after an idle sign-out (the sign-in page says the same)."""
    unit = "minute" if minutes == 1 else "minutes"
    return f"Votre session a expiré après {minutes} {unit} d'inactivité. Reconnectez-vous."


def on_session_idle(request: Request, exc: SessionIdleExpired) -> Response[Any]:
    """To the sign-in page with the reason and the page asked for kept in `next` (401 for JSON clients)."""
    if wants_json(request):
        return Response({"status_code": 401, "code": "session_idle", "detail": exc.detail}, status_code=401,
                        media_type=MediaType.JSON)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect("/connexion?" + urlencode({"next": target, IDLE_PARAM: "1"}), status_code=303)


def _idle_limit_s(connection: ASGIConnection, user: CurrentUser) -> int:
    """The idle limit (seconds) for this request and user, 0 when none applies."""
    minutes = connection.app.state.settings.session_idle_minutes
    if minutes <= 0 or IDLE_EXEMPT.match(connection.scope["path"]) or not (user.role_names & OFFICE_ROLES):
        return 0
    return minutes * 60


async def _idle_check(connection: ASGIConnection, session: dict[str, Any], user: CurrentUser, db: AsyncSession,
                      now: int) -> bool:
    """False when the session is idle on a route where that matters. On a signed-in page it is then signed
    out (recorded as sign-out does, cookie cleared) and SessionIdleExpired raised; on a public page it is
    only not shown as signed in (the scanner's session is not ended by its « Quitter » link to /).
    An active session on a signed-in page gets its time of last activity, at most once a minute."""
    limit = _idle_limit_s(connection, user)
    if not limit:
        return True
    try:
        seen = int(session.get("seen") or session["at"])
    except (KeyError, TypeError, ValueError):
        seen = 0
    public = bool(connection.route_handler.opt.get("exclude_from_auth"))
    if now - seen > limit + IDLE_REFRESH_S:
        if public:
            return False
        try:
            await sign_out_session(db, session, from_epoch(now))
            await db.commit()
        except IntegrityError:  # the same session's other request recorded it first
            await db.rollback()
        connection.scope["session"] = Empty  # the session middleware clears the cookie
        raise SessionIdleExpired(limit // 60)
    if not public and now - seen >= IDLE_REFRESH_S:
        session["seen"] = now
    return True


class _QuietCookieBackend(ClientSideSessionBackend):
    """The encrypted cookie backend, sending the cookie again only when the session changed (Litestar's
    own encrypts and sends it on every response). The cookie's own life (max_age) is SESSION_MAX_AGE from
    its last sending, never shorter than what is left of the session, which ends SESSION_MAX_AGE after
    sign-in."""

    _LOADED = "cirqliz.session_loaded"

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        if data:
            connection.scope.setdefault("state", {})[self._LOADED] = self.serialize_data(data, connection.scope)
        return data

    async def store_in_message(self, scope_session: ScopeSession, message: Message,
                               connection: ASGIConnection) -> None:
        loaded = connection.scope.get("state", {}).get(self._LOADED)
        if (loaded is not None and scope_session and scope_session is not Empty
                and self.serialize_data(scope_session, connection.scope) == loaded):
            return  # unchanged: the browser keeps the cookie it sent
        await super().store_in_message(scope_session, message, connection)


class SessionCookieConfig(CookieBackendConfig):
    """CookieBackendConfig with the backend that does not send an unchanged session again."""

    _backend_class = _QuietCookieBackend


async def retrieve_user_handler(session: dict[str, Any], connection: ASGIConnection) -> CurrentUser | None:
    """SessionAuth hook: the user whose id the session cookie holds, if that session is still good:
    opened less than SESSION_MAX_AGE ago, at the user's current session version, not signed out, and
    not idle past CIRQLIZ_SESSION_IDLE_MINUTES where that limit applies (_idle_check).
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
        current = await _with_roles(db, user)
        return current if await _idle_check(connection, session, current, db, now) else None


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
