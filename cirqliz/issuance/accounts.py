"""Accounts: a company registers itself, members are invited, passwords are reset.

Links sent by e-mail carry a token that is signed (HMAC with a key derived from the secret key)
and carries its expiry, so a forged or stale link is refused before any database lookup; the
database keeps only the token's SHA-256, and each token is used once. Like the other services,
nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock, to_epoch
from cirqliz.db.models import AuditRecord, Invitation, Membership, Organisation, PasswordReset, UserAccount
from cirqliz.domain.errors import CompanyIdError, DomainError, NotFound
from cirqliz.domain.organisations import ROLES_BY_KIND, OrganisationKind, Role, parse_siren, parse_siret
from cirqliz.issuance.api_tokens import revoke_tokens_created_by
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.organisations import add_membership, create_organisation, create_user, free_code
from cirqliz.issuance.passwords import hash_password, verify_password
from cirqliz.labels import ORGANISATION_KIND_FR, ROLE_FR

INVITATION_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=1)
INVITE = "invitation"
RESET = "password-reset"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TokenError(DomainError):
    """A link that cannot be used (unknown, altered, expired or already used)."""

    code = "invalid_token"


# ---- signed tokens ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_key(secret_key: str, purpose: str) -> bytes:
    """The HMAC key for one kind of link, derived from the application's secret key."""
    return hashlib.sha256(f"cirqliz-token:{purpose}:{secret_key}".encode()).digest()


def new_token(key: bytes, expires_at: datetime) -> str:
    """A URL-safe token: 16 random bytes and the expiry, then a truncated HMAC-SHA256."""
    body = secrets.token_bytes(16) + to_epoch(expires_at).to_bytes(8, "big")
    return f"{_b64(body)}.{_b64(hmac.new(key, body, hashlib.sha256).digest()[:16])}"


def check_token(key: bytes, token: str, now: datetime) -> None:
    """TokenError unless the token was signed with `key` and has not expired."""
    try:
        body_text, mac_text = token.split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, TypeError) as exc:
        raise TokenError("lien invalide ou incomplet") from exc
    expected = hmac.new(key, body, hashlib.sha256).digest()[:16]
    if len(body) != 24 or not hmac.compare_digest(mac, expected):
        raise TokenError("lien invalide ou incomplet")
    if to_epoch(now) >= int.from_bytes(body[16:], "big"):
        raise TokenError("ce lien a expiré : demandez-en un nouveau", code="expired_token")


def token_hash(token: str) -> str:
    """What the database stores for a token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


# ---- registration ----------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    """A trimmed, lower-case address; DomainError when it does not look like one."""
    address = (email or "").strip().lower()
    if not _EMAIL.match(address) or len(address) > 254:
        raise DomainError("adresse électronique invalide", code="invalid_email")
    return address


def parse_company_id(text: str) -> tuple[str, str | None]:
    """(SIREN, SIRET or None) from a SIREN (9 digits) or SIRET (14 digits), Luhn key checked."""
    digits = re.sub(r"[\s.\-]", "", text or "")
    if not digits:
        raise CompanyIdError("indiquez le SIREN (9 chiffres) ou le SIRET (14 chiffres) de l'entreprise",
                             code="missing_company_id")
    if len(digits) == 14:
        siret = parse_siret(digits)
        return siret[:9], siret
    if len(digits) == 9:
        return parse_siren(digits), None
    raise CompanyIdError(f"numéro invalide : {text!r} — un SIREN a 9 chiffres, un SIRET 14",
                         code="invalid_company_id_length")


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "entreprise"


async def _user_by_email(session: AsyncSession, email: str) -> UserAccount | None:
    return (await session.exec(select(UserAccount).where(col(UserAccount.email) == email))).first()


@dataclass(frozen=True, slots=True)
class Registration:
    """What a self-registration created."""

    organisation: Organisation
    user: UserAccount


class AddressTaken(DomainError):
    """Registration with an address that already has an account. Callers answer exactly as for a new
    account (no account enumeration) and tell the owner of the address instead."""

    code = "email_taken"

    def __init__(self, user: UserAccount) -> None:
        super().__init__("un compte existe déjà avec cette adresse : connectez-vous ou réinitialisez "
                         "votre mot de passe")
        self.user = user


async def register_company(
    session: AsyncSession,
    *,
    company_name: str,
    company_id: str,
    display_name: str,
    email: str,
    password: str,
    clock: Clock,
) -> Registration:
    """A company and its first user (professional), checked entirely before anything is written;
    AddressTaken (after the same work) when the address already has an account."""
    name = (company_name or "").strip()
    if not name or len(name) > 200:
        raise DomainError("indiquez la raison sociale de l'entreprise (200 caractères au plus)",
                          code="invalid_company_name")
    siren, siret = parse_company_id(company_id)
    person = (display_name or "").strip()
    if not person or len(person) > 200:
        raise DomainError("indiquez vos nom et prénom", code="invalid_display_name")
    address = normalise_email(email)
    password_hash = hash_password(password)  # the policy, and the same work whether the address is taken or not
    # The company before the address: its refusal must not depend on whether the address has an account.
    existing = (await session.exec(select(Organisation).where(
        col(Organisation.kind) == OrganisationKind.COMPANY.value, col(Organisation.siren) == siren))).first()
    if existing is not None:
        raise DomainError("cette entreprise est déjà inscrite : demandez une invitation à l'un de ses "
                          "membres", code="company_exists")
    owner = await _user_by_email(session, address)
    if owner is not None:
        raise AddressTaken(owner)
    # Free, not fixed: nobody can block a company's registration by taking its code first.
    code = await free_code(session, f"{_slug(name)[:22].strip('-')}-{siren}")
    org = await create_organisation(session, kind=OrganisationKind.COMPANY, code=code, name=name, siren=siren,
                                    siret=siret, clock=clock)
    user = await create_user(session, email=address, display_name=person, clock=clock,
                             password_hash=password_hash)
    await add_membership(session, user_id=user.id, organisation_id=org.id, role=Role.PROFESSIONAL,
                         clock=clock, actor_id=user.id)
    return Registration(org, user)


# ---- members and invitations -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """A person of an organisation with their roles there."""

    user_id: uuid.UUID
    email: str
    display_name: str
    roles: tuple[str, ...]
    is_active: bool


async def organisation_members(session: AsyncSession, organisation_id: uuid.UUID) -> list[Member]:
    """The members of an organisation, by name."""
    rows = (await session.exec(
        select(UserAccount, Membership.role).join(Membership, col(Membership.user_id) == UserAccount.id)
        .where(col(Membership.organisation_id) == organisation_id)
        .order_by(col(UserAccount.display_name), col(UserAccount.email), col(Membership.role))
    )).all()
    members: dict[uuid.UUID, Member] = {}
    for user, role in rows:
        found = members.get(user.id)
        roles = (*found.roles, role) if found else (role,)
        members[user.id] = Member(user.id, user.email, user.display_name, roles, user.is_active)
    return list(members.values())


def _pending(now: datetime) -> tuple[Any, ...]:
    """The conditions of an invitation that can still be accepted (not accepted, cancelled nor expired)."""
    return (col(Invitation.accepted_at).is_(None), col(Invitation.cancelled_at).is_(None),
            col(Invitation.expires_at) > now)


async def pending_invitations(session: AsyncSession, organisation_ids: list[uuid.UUID], now: datetime
                              ) -> list[Invitation]:
    """Invitations not accepted yet, not cancelled and not expired, newest first."""
    if not organisation_ids:
        return []
    return list((await session.exec(
        select(Invitation).where(col(Invitation.organisation_id).in_(organisation_ids), *_pending(now))
        .order_by(col(Invitation.created_at).desc())
    )).all())


@dataclass(frozen=True, slots=True)
class Invited:
    """What `invite_member` did: the invitation, the token to send, and the pending invitations of the
    same address into the same organisation that it cancelled and replaced. Unpacks as
    (invitation, token)."""

    invitation: Invitation
    token: str
    replaced: tuple[Invitation, ...] = ()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.invitation, self.token))


async def invite_member(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    email: str,
    role: str,
    invited_by: uuid.UUID | None,
    clock: Clock,
    secret_key: str,
    ttl: timedelta = INVITATION_TTL,
    replace_pending: bool = True,
) -> Invited:
    """Record an invitation and return it with the token to send (only its hash is stored). The
    address's pending invitations into the organisation (any role) are cancelled and replaced by it,
    so one link is valid at a time (`replace_pending=False`: kept, for several roles sent at once)."""
    address = normalise_email(email)
    # Locked (PostgreSQL; SQLite writers queue anyway): two invitations of the same address at the
    # same moment are serialised, so the second one sees the first and replaces it.
    org = (await session.exec(select(Organisation).where(col(Organisation.id) == organisation_id)
                              .with_for_update(key_share=True))).first()
    if org is None:
        raise DomainError("organisation introuvable", code="not_found")
    try:
        member_role = Role(role)
    except ValueError as exc:
        raise DomainError(f"rôle inconnu : {role!r}", code="invalid_role") from exc
    if member_role not in ROLES_BY_KIND[OrganisationKind(org.kind)]:
        raise DomainError(f"le rôle « {ROLE_FR[member_role]} » n'existe pas dans une organisation de type "
                          f"« {ORGANISATION_KIND_FR.get(org.kind, org.kind)} »", code="role_not_allowed")
    if not await may_invite(session, invited_by, org):
        raise DomainError("vous ne pouvez pas inviter dans cette organisation", code="invitation_not_allowed")
    user = await _user_by_email(session, address)
    if user is not None and (await session.exec(select(Membership).where(
            col(Membership.user_id) == user.id, col(Membership.organisation_id) == org.id,
            col(Membership.role) == member_role.value))).first() is not None:
        raise DomainError(f"{address} est déjà membre avec ce rôle", code="already_member")
    now = clock.now()
    expires_at = now + ttl
    token = new_token(token_key(secret_key, INVITE), expires_at)
    replaced: list[Invitation] = []
    if replace_pending:
        for old in (await session.exec(select(Invitation).where(
                col(Invitation.organisation_id) == org.id, col(Invitation.email) == address, *_pending(now))
                .order_by(col(Invitation.created_at)))).all():
            if await _cancel(session, old, actor_id=invited_by, now=now, replaced=True):
                replaced.append(old)
    invitation = Invitation(organisation_id=org.id, email=address, role=member_role.value,
                            token_hash=token_hash(token), invited_by_id=invited_by, created_at=now,
                            expires_at=expires_at)
    session.add(invitation)
    await session.flush()
    await record_change(session, actor_id=invited_by, entity="invitation", entity_id=invitation.id,
                        action="create", at=now,
                        after={"organisation_id": org.id, "email": address, "role": member_role.value})
    return Invited(invitation, token, tuple(replaced))


async def _cancel(session: AsyncSession, invitation: Invitation, *, actor_id: uuid.UUID | None, now: datetime,
                  replaced: bool = False) -> bool:
    """Cancel a pending invitation (audited); False when it was accepted or cancelled meanwhile. A
    conditional UPDATE, as acceptance claims it: of a cancellation and an acceptance at the same
    moment, exactly one wins."""
    claimed = await session.exec(
        update(Invitation).where(col(Invitation.id) == invitation.id, col(Invitation.accepted_at).is_(None),
                                 col(Invitation.cancelled_at).is_(None))
        .values(cancelled_at=now).returning(Invitation.id).execution_options(synchronize_session=False)
    )
    if claimed.first() is None:
        return False
    await session.refresh(invitation)
    await record_change(session, actor_id=actor_id, entity="invitation", entity_id=invitation.id, action="cancel",
                        at=now, before=snapshot(invitation, "organisation_id", "email", "role"),
                        after={"replaced": True} if replaced else None)
    return True


async def cancel_invitation(
    session: AsyncSession,
    *,
    invitation_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    clock: Clock,
    organisation_ids: Collection[uuid.UUID] | None = None,
) -> Invitation:
    """Cancel a pending invitation: its link stops working at once. Whoever may invite into its
    organisation may cancel it (`may_invite`; no actor: the operator). NotFound for an unknown one,
    one outside `organisation_ids` (the caller's team) or one the actor may not manage; DomainError
    for one already accepted or cancelled."""
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or (organisation_ids is not None and invitation.organisation_id not in organisation_ids):
        raise NotFound("invitation introuvable", code="invitation_not_found")
    organisation = await session.get(Organisation, invitation.organisation_id)
    if organisation is None or not await may_invite(session, actor_id, organisation):
        raise NotFound("invitation introuvable", code="invitation_not_found")
    if not await _cancel(session, invitation, actor_id=actor_id, now=clock.now()):
        await session.refresh(invitation)
        if invitation.accepted_at is not None:
            raise DomainError(f"l'invitation à {invitation.email} a déjà été acceptée : elle ne peut plus être "
                              "annulée (retirez la personne de l'équipe si elle ne doit pas y être)",
                              code="invitation_accepted")
        raise DomainError(f"l'invitation à {invitation.email} est déjà annulée", code="invitation_cancelled")
    return invitation


async def open_invitation(session: AsyncSession, *, token: str, clock: Clock, secret_key: str) -> Invitation:
    """The usable invitation behind a token, or TokenError."""
    now = clock.now()
    check_token(token_key(secret_key, INVITE), token, now)
    invitation = (await session.exec(
        select(Invitation).where(col(Invitation.token_hash) == token_hash(token)))).first()
    if invitation is None:
        raise TokenError("invitation inconnue ou annulée")
    if invitation.accepted_at is not None:
        raise TokenError("cette invitation a déjà été utilisée : connectez-vous", code="used_token")
    if invitation.cancelled_at is not None:
        raise TokenError("cette invitation a été annulée : utilisez le lien d'une invitation plus récente ou "
                         "demandez-en une nouvelle", code="cancelled_token")
    if invitation.expires_at <= now:
        raise TokenError("cette invitation a expiré : demandez-en une nouvelle", code="expired_token")
    # Checked again at acceptance: an invitation sent outside the inviter's authority (before the
    # invitations were scoped), or by someone since removed from the team, lets nobody in.
    organisation = await session.get(Organisation, invitation.organisation_id)
    if organisation is None or not await may_invite(session, invitation.invited_by_id, organisation):
        raise TokenError("cette invitation n'est plus valable : la personne qui l'a envoyée ne peut pas (ou plus) "
                         "inviter dans cette organisation ; demandez une nouvelle invitation",
                         code="invitation_out_of_scope")
    return invitation


async def existing_account(session: AsyncSession, email: str) -> UserAccount | None:
    """The account that already uses this address, if any."""
    return await _user_by_email(session, email.strip().lower())


async def accept_invitation(
    session: AsyncSession,
    *,
    token: str,
    display_name: str,
    password: str,
    clock: Clock,
    secret_key: str,
) -> UserAccount:
    """Join the organisation: a new account (name and password), or an existing one (its password; a
    disabled one, e.g. removed from its only team, is enabled again, see _reactivate)."""
    invitation = await open_invitation(session, token=token, clock=clock, secret_key=secret_key)
    now = clock.now()
    user = await _user_by_email(session, invitation.email)
    if user is None:
        person = (display_name or "").strip()
        if not person or len(person) > 200:
            raise DomainError("indiquez vos nom et prénom", code="invalid_display_name")
        user = await create_user(session, email=invitation.email, display_name=person, clock=clock,
                                 password_hash=hash_password(password))
    elif not verify_password(user.password_hash, password):
        raise DomainError("un compte existe déjà avec cette adresse : saisissez son mot de passe actuel",
                          code="wrong_password")
    claimed = await session.exec(
        update(Invitation).where(col(Invitation.id) == invitation.id, col(Invitation.accepted_at).is_(None),
                                 col(Invitation.cancelled_at).is_(None))
        .values(accepted_at=now, accepted_user_id=user.id).returning(Invitation.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.first() is None:
        raise TokenError("cette invitation a déjà été utilisée ou vient d'être annulée", code="used_token")
    if not user.is_active:
        if await _disabled_by_the_operator(session, user):
            raise DomainError("ce compte a été désactivé par l'exploitant du service : demandez-lui de le "
                              "réactiver", code="account_disabled")
        await _reactivate(session, user=user, invitation=invitation, now=now)
    await add_membership(session, user_id=user.id, organisation_id=invitation.organisation_id,
                         role=invitation.role, clock=clock, actor_id=user.id)
    await record_change(session, actor_id=user.id, entity="invitation", entity_id=invitation.id,
                        action="accept", at=now, after={"user_id": user.id})
    await _accept_other_roles(session, invitation=invitation, user=user, now=now, clock=clock)
    return user


async def _disabled_by_the_operator(session: AsyncSession, user: UserAccount) -> bool:
    """Whether the account was disabled (cirqliz user disable: a suspected compromise) since it was
    last enabled again, whatever team removals came after: a team's invitation must not undo that."""
    actions = (await session.exec(
        select(AuditRecord.action).where(col(AuditRecord.entity) == "user", col(AuditRecord.entity_id) == str(user.id),
                                         col(AuditRecord.action).in_(("disable", "reactivate")))
        .order_by(col(AuditRecord.at).desc(), col(AuditRecord.seq).desc()).limit(1))).first()
    return actions == "disable"


async def _reactivate(session: AsyncSession, *, user: UserAccount, invitation: Invitation, now: datetime) -> None:
    """A disabled account (e.g. removed from its only team) invited again, with its current password
    proven: it is enabled again. Its session version is kept: it was raised when the account was
    disabled, so the sessions opened before stay ended; its revoked API tokens stay revoked."""
    before = snapshot(user, "is_active", "session_version")
    user.is_active = True
    session.add(user)
    await session.flush()
    await record_change(session, actor_id=user.id, entity="user", entity_id=user.id, action="reactivate", at=now,
                        before=before, after={**snapshot(user, "is_active", "session_version"),
                                              "invitation_id": str(invitation.id)})


async def _accept_other_roles(session: AsyncSession, *, invitation: Invitation, user: UserAccount, now: datetime,
                              clock: Clock) -> None:
    """The other pending invitations of the same address into the same organisation (e.g. an authority's
    first administrator, also invited as reviewer) are accepted with it: one link, every role offered.
    Whoever holds one of these links reads that mailbox, so they could open the others anyway."""
    held = set((await session.exec(select(Membership.role).where(
        col(Membership.user_id) == user.id, col(Membership.organisation_id) == invitation.organisation_id))).all())
    others = (await session.exec(select(Invitation).where(
        col(Invitation.organisation_id) == invitation.organisation_id, col(Invitation.email) == invitation.email,
        col(Invitation.id) != invitation.id, *_pending(now),
    ).order_by(col(Invitation.created_at)))).all()
    organisation = await session.get(Organisation, invitation.organisation_id)
    for other in others:
        if organisation is None or not await may_invite(session, other.invited_by_id, organisation):
            continue  # its inviter may no longer invite here: that link stays refused
        claimed = await session.exec(
            update(Invitation).where(col(Invitation.id) == other.id, col(Invitation.accepted_at).is_(None),
                                     col(Invitation.cancelled_at).is_(None))
            .values(accepted_at=now, accepted_user_id=user.id).returning(Invitation.id)
            .execution_options(synchronize_session=False)
        )
        if claimed.first() is None:
            continue
        if other.role not in held:
            await add_membership(session, user_id=user.id, organisation_id=other.organisation_id, role=other.role,
                                 clock=clock, actor_id=user.id)
            held.add(other.role)
        await record_change(session, actor_id=user.id, entity="invitation", entity_id=other.id, action="accept",
                            at=now, after={"user_id": user.id})


# ---- teams: who may invite, removing a member ------------------------------------------------

# The role that manages a team page: the authority's administrators, any member of a company.
TEAM_MANAGER = {OrganisationKind.AUTHORITY.value: Role.AUTHORITY_ADMIN,
                OrganisationKind.COMPANY.value: Role.PROFESSIONAL}


def team_of(organisation: Organisation) -> uuid.UUID | None:
    """The team (authority or company) whose managers invite into `organisation`: an organiser
    belongs to its authority's team."""
    if organisation.kind == OrganisationKind.ORGANISER.value:
        return organisation.authority_id
    return organisation.id


async def may_invite(session: AsyncSession, inviter_id: uuid.UUID | None, organisation: Organisation) -> bool:
    """Whether `inviter_id` (an active account) manages the team `organisation` is part of: an
    authority's administrator for the authority and its organisers, a member for their company.
    No inviter: the operator (command line)."""
    if inviter_id is None:
        return True
    team_id = team_of(organisation)
    team = await session.get(Organisation, team_id) if team_id else None
    if team is None or team.kind not in TEAM_MANAGER:
        return False
    inviter = await session.get(UserAccount, inviter_id)
    if inviter is None or not inviter.is_active:
        return False
    return (await session.exec(select(Membership.id).where(
        col(Membership.user_id) == inviter_id, col(Membership.organisation_id) == team.id,
        col(Membership.role) == TEAM_MANAGER[team.kind].value))).first() is not None


async def team_organisations(session: AsyncSession, team: Organisation) -> list[Organisation]:
    """The organisations a team page manages: an authority and its organisers, or a company alone."""
    if team.kind != OrganisationKind.AUTHORITY.value:
        return [team]
    organisers = (await session.exec(select(Organisation).where(
        col(Organisation.kind) == OrganisationKind.ORGANISER.value, col(Organisation.authority_id) == team.id)
        .order_by(col(Organisation.name)))).all()
    return [team, *organisers]


async def team_memberships(session: AsyncSession, team: Organisation, user_id: uuid.UUID
                           ) -> list[tuple[Membership, Organisation]]:
    """The roles `user_id` holds in the team's organisations (none for someone outside the team)."""
    scope = {org.id: org for org in await team_organisations(session, team)}
    rows = (await session.exec(select(Membership).where(
        col(Membership.user_id) == user_id, col(Membership.organisation_id).in_(list(scope)))
        .order_by(col(Membership.created_at)))).all()
    return [(m, scope[m.organisation_id]) for m in rows]


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing a member did."""

    user: UserAccount
    roles: tuple[tuple[str, str], ...]  # (organisation name, role) removed
    disabled: bool  # no membership left anywhere: the account cannot sign in any more
    revoked_token_ids: tuple[uuid.UUID, ...] = ()  # the API tokens of theirs revoked (to forget from caches)


async def remove_member(
    session: AsyncSession, *, team_id: uuid.UUID, user_id: uuid.UUID, actor_id: uuid.UUID, clock: Clock,
) -> Removal:
    """Remove a person from a team (an authority with its organisers, or a company): every role they
    hold there goes, the team's API tokens they created are revoked, every session of theirs ends at
    once (session version raised), their pending
    invitations into the team are cancelled, and an account left without any role is disabled.
    The team's last manager cannot be removed. NotFound for someone outside the team.

    The team's organisation row is locked first (PostgreSQL; SQLite writers queue anyway), so two
    managers removing each other at the same moment are serialised: the second one counts after the
    first has committed and is refused, and the team keeps a manager."""
    team = (await session.exec(select(Organisation).where(col(Organisation.id) == team_id)
                               .with_for_update(key_share=True))).first()
    if team is None or team.kind not in TEAM_MANAGER:
        raise NotFound("équipe introuvable", code="team_not_found")
    rows = await team_memberships(session, team, user_id)
    user = await session.get(UserAccount, user_id)
    if not rows or user is None:
        raise NotFound("membre introuvable", code="member_not_found")
    manager = TEAM_MANAGER[team.kind].value
    if any(m.role == manager and m.organisation_id == team.id for m, _ in rows):
        others = (await session.exec(
            select(func.count()).select_from(Membership).join(UserAccount, col(UserAccount.id) == Membership.user_id)
            .where(col(Membership.organisation_id) == team.id, col(Membership.role) == manager,
                   col(Membership.user_id) != user_id, col(UserAccount.is_active).is_(True)))).one()
        if not others:
            if team.kind == OrganisationKind.AUTHORITY.value:
                raise DomainError("impossible de retirer le dernier administrateur de l'autorité : invitez "
                                  "d'abord un autre administrateur", code="last_manager")
            raise DomainError("impossible de retirer le dernier membre de l'entreprise", code="last_manager")
    now = clock.now()
    for membership, _org in rows:
        before = snapshot(membership, "user_id", "organisation_id", "role")
        await session.delete(membership)
        await record_change(session, actor_id=actor_id, entity="membership", entity_id=membership.id,
                            action="delete", at=now, before=before)
    pending = (await session.exec(select(Invitation).where(
        col(Invitation.email) == user.email, col(Invitation.accepted_at).is_(None),
        col(Invitation.cancelled_at).is_(None),
        col(Invitation.organisation_id).in_([org.id for org in await team_organisations(session, team)])))).all()
    for invitation in pending:
        await _cancel(session, invitation, actor_id=actor_id, now=now)
    await session.flush()
    revoked = await revoke_tokens_created_by(session, user_id=user_id, actor_id=actor_id, clock=clock,
                                             organisation_ids={org.id for _, org in rows})
    left = (await session.exec(select(Membership.id).where(col(Membership.user_id) == user_id))).first()
    before_user = snapshot(user, "is_active", "session_version")
    user.session_version += 1  # every session of the person ends now, in every process
    user.is_active = user.is_active and left is not None
    session.add(user)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="user", entity_id=user.id, action="remove_from_team",
                        at=now, before=before_user,
                        after={**snapshot(user, "is_active", "session_version"), "team_id": str(team.id)})
    return Removal(user, tuple((org.name, m.role) for m, org in rows), not user.is_active, tuple(revoked))


# ---- sign-in and password reset --------------------------------------------------------------


@functools.cache
def _dummy_hash() -> str:
    # A hash of a random password with the same parameters: checked when the address has no
    # usable account, so a refusal costs the same time whether the account exists or not.
    return hash_password(f"{secrets.token_urlsafe(24)}-0")


async def check_credentials(session: AsyncSession, *, email: str, password: str) -> UserAccount | None:
    """The active account with this address and password, or None; one Argon2 verification either way."""
    user = await _user_by_email(session, (email or "").strip().lower())
    usable = user is not None and user.is_active and bool(user.password_hash)
    matches = verify_password(user.password_hash if usable and user else _dummy_hash(), password)
    return user if usable and matches else None


async def disable_user(session: AsyncSession, *, user_id: uuid.UUID, actor_id: uuid.UUID | None,
                       clock: Clock) -> UserAccount:
    """Disable an account: it cannot sign in, every session it has ends (also if enabled again), and
    the API tokens it created are revoked."""
    user = await session.get(UserAccount, user_id)
    if user is None:
        raise DomainError("compte introuvable", code="not_found")
    user.is_active = False
    user.session_version += 1
    session.add(user)
    await session.flush()
    await revoke_tokens_created_by(session, user_id=user.id, actor_id=actor_id, clock=clock)
    await record_change(session, actor_id=actor_id, entity="user", entity_id=user.id, action="disable",
                        at=clock.now())
    return user



async def request_password_reset(
    session: AsyncSession, *, email: str, clock: Clock, secret_key: str, ttl: timedelta = RESET_TTL,
) -> tuple[UserAccount, str] | None:
    """A reset token for the active account with this address; None when there is none."""
    try:
        address = normalise_email(email)
    except DomainError:
        return None
    user = await _user_by_email(session, address)
    if user is None or not user.is_active:
        return None
    now = clock.now()
    expires_at = now + ttl
    token = new_token(token_key(secret_key, RESET), expires_at)
    session.add(PasswordReset(user_id=user.id, token_hash=token_hash(token), created_at=now, expires_at=expires_at))
    await session.flush()
    await record_change(session, actor_id=None, entity="user", entity_id=user.id, action="password_reset_request",
                        at=now)
    return user, token


async def open_password_reset(session: AsyncSession, *, token: str, clock: Clock, secret_key: str
                              ) -> PasswordReset:
    """The usable reset behind a token, or TokenError."""
    now = clock.now()
    check_token(token_key(secret_key, RESET), token, now)
    reset = (await session.exec(
        select(PasswordReset).where(col(PasswordReset.token_hash) == token_hash(token)))).first()
    if reset is None:
        raise TokenError("lien de réinitialisation inconnu")
    if reset.used_at is not None:
        raise TokenError("ce lien a déjà servi : demandez-en un nouveau", code="used_token")
    if reset.expires_at <= now:
        raise TokenError("ce lien a expiré : demandez-en un nouveau", code="expired_token")
    return reset


async def reset_password(
    session: AsyncSession, *, token: str, password: str, clock: Clock, secret_key: str,
) -> UserAccount:
    """Set a new password with a one-time link; every other pending link of the user dies too, and
    every session of the user ends."""
    reset = await open_password_reset(session, token=token, clock=clock, secret_key=secret_key)
    new_hash = hash_password(password)  # checks the policy before the link is spent
    now = clock.now()
    claimed = await session.exec(
        update(PasswordReset).where(col(PasswordReset.id) == reset.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now).returning(PasswordReset.id).execution_options(synchronize_session=False)
    )
    if claimed.first() is None:
        raise TokenError("ce lien a déjà servi : demandez-en un nouveau", code="used_token")
    await session.exec(
        update(PasswordReset).where(col(PasswordReset.user_id) == reset.user_id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )
    user = await session.get(UserAccount, reset.user_id)
    if user is None or not user.is_active:
        raise TokenError("compte inconnu ou désactivé")
    user.password_hash = new_hash
    user.session_version += 1  # every session opened before ends, in every process, after a restart too
    session.add(user)
    await session.flush()
    await record_change(session, actor_id=user.id, entity="user", entity_id=user.id, action="password_reset",
                        at=now)
    return user
