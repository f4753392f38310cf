"""Onboarding from the command line: an authority with its keys, first trust bundle and first
administrator; inviting, listing and disabling people.

`create_authority` is one use case with its own transaction: the keys folder it creates is removed
again when anything fails before the commit, so a refused or failed creation leaves nothing behind.
Values typed wrongly raise `InvalidInput` (the command line answers exit 2); refusals that depend
on what is stored (a code taken, an unknown authority) raise plain DomainErrors (exit 1).
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.engine import transaction
from cirqliz.db.models import Invitation, Membership, Organisation, UserAccount
from cirqliz.domain.errors import CompanyIdError, DomainError, NotFound
from cirqliz.domain.organisations import OrganisationKind, Role, parse_siren
from cirqliz.issuance.accounts import (
    cancel_invitation,
    disable_user,
    invite_member,
    normalise_email,
    pending_invitations,
)
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.keystore import KeyStore, authority_keys_folder
from cirqliz.issuance.organisations import create_organisation
from cirqliz.issuance.publication import publish_bundle
from cirqliz.labels import ROLE_FR

DEFAULT_TIME_ZONE = "Europe/Paris"
# The code is the pass issuer and the name of the keys folder: a plain name, never a path.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,31}")
FIRST_ADMIN_ROLES = (Role.AUTHORITY_ADMIN, Role.REVIEWER)
AUTHORITY_ROLES = (Role.AUTHORITY_ADMIN, Role.REVIEWER, Role.AGENT)
OPERATOR_FR = "L'exploitant de CirQliz"
"""Who invites, in the mail, when the invitation comes from the command line."""


class InvalidInput(DomainError):
    """A value typed wrongly (format, checksum, unknown time zone): a usage error."""

    code = "invalid_input"


# ---- values --------------------------------------------------------------------------------


def parse_authority_code(text: str) -> str:
    """The authority code, lower-case (as organisations store it): 2 to 32 letters, digits, - or _,
    starting with a letter or digit."""
    value = (text or "").strip()
    if not _CODE.fullmatch(value):
        raise InvalidInput(f"code d'autorité invalide : {text!r} — de 2 à 32 caractères parmi lettres sans "
                           "accent, chiffres, - et _, en commençant par une lettre ou un chiffre (ex. paris, "
                           "lyon-metropole) ; il sert de nom de dossier des clés et d'émetteur des laissez-passer",
                           code="invalid_authority_code")
    return value.lower()


def parse_time_zone(text: str) -> str:
    """An IANA time zone name that exists (e.g. Europe/Paris, America/Cayenne)."""
    value = (text or "").strip()
    try:
        # Only the canonical names: "Europe" is a folder (IsADirectoryError), right/… and posix/… are
        # copies under other names, and ZoneInfo accepts any of them.
        if (not value or value.startswith("/") or ".." in value or value not in available_timezones()):
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"fuseau horaire inconnu : {text!r} — indiquez un nom IANA comme Europe/Paris, "
                           "America/Cayenne ou Indian/Reunion", code="invalid_time_zone") from None
    return value


def parse_authority_siren(text: str | None) -> str | None:
    """The SIREN (9 digits, Luhn key checked), or None when not given."""
    if text is None or not text.strip():
        return None
    try:
        return parse_siren(text)
    except CompanyIdError as exc:
        raise InvalidInput(exc.message, code=exc.code) from None


def parse_email(text: str) -> str:
    """A trimmed, lower-case e-mail address."""
    try:
        return normalise_email(text)
    except DomainError:
        raise InvalidInput(f"adresse électronique invalide : {text!r}", code="invalid_email") from None


def parse_authority_name(text: str) -> str:
    """The authority's name as people read it (1 to 200 characters)."""
    value = " ".join((text or "").split())
    if not value or len(value) > 200:
        raise InvalidInput("indiquez le nom de l'autorité (200 caractères au plus), ex. --name \"Ville de Lyon\"",
                           code="invalid_authority_name")
    return value


def parse_authority_role(text: str) -> Role:
    """A role an authority's member may hold: authority_admin, reviewer or agent."""
    try:
        role = Role((text or "").strip().lower())
    except ValueError:
        role = None
    if role not in AUTHORITY_ROLES:
        names = ", ".join(r.value for r in AUTHORITY_ROLES)
        raise InvalidInput(f"rôle inconnu : {text!r} — choisissez parmi {names}", code="invalid_role")
    return role


def roles_label_fr(roles: tuple[str, ...]) -> str:
    """'administrateur de l'autorité et instructeur'."""
    labels = [label[0].lower() + label[1:] if (label := ROLE_FR.get(r)) else r for r in roles]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " et " + labels[-1]


# ---- creating an authority -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvitationLink:
    """An invitation to send: the address, the roles it grants and its token (shown once); `replaced`:
    the roles of the address's pending invitations it cancelled and replaced (none: nothing replaced)."""

    email: str
    roles: tuple[str, ...]
    token: str
    expires_at: datetime
    replaced: tuple[str, ...] = ()

    def url(self, base_url: str) -> str:
        """The absolute link of the invitation page."""
        return f"{base_url.rstrip('/')}/invitation/{self.token}"


@dataclass(frozen=True, slots=True)
class AuthorityCreated:
    """What `create_authority` made."""

    organisation_id: uuid.UUID
    code: str
    name: str
    keys_dir: Path
    root_kid: str
    signing_kid: str
    bundle_seq: int
    invitation: InvitationLink


async def _invite(session: AsyncSession, org: Organisation, email: str, roles: tuple[Role, ...], *, clock: Clock,
                  secret_key: str) -> InvitationLink:
    # One invitation per role; accepting the first link accepts the others (same address, same
    # organisation), so one link is all the person needs. The first one replaces the address's
    # pending invitations; the others join it.
    first = None
    for role in roles:
        invited = await invite_member(session, organisation_id=org.id, email=email, role=role.value,
                                      invited_by=None, clock=clock, secret_key=secret_key,
                                      replace_pending=first is None)
        first = first or invited
    assert first is not None
    return InvitationLink(first.invitation.email, tuple(r.value for r in roles), first.token,
                          first.invitation.expires_at, tuple(old.role for old in first.replaced))


async def create_authority(
    maker: async_sessionmaker[AsyncSession],
    *,
    code: str,
    name: str,
    admin_email: str,
    keys_root: str | Path,
    clock: Clock,
    secret_key: str,
    siren: str | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> AuthorityCreated:
    """Create an authority in one transaction: the organisation, its root and signing keys under
    `keys_root/<code>` (issuer = code), its first trust bundle (publishing the signing key), and the
    invitation of its first administrator (authority_admin and reviewer). Nothing is left when it fails."""
    code_value = parse_authority_code(code)
    name_value = parse_authority_name(name)
    siren_value = parse_authority_siren(siren)
    tz = parse_time_zone(time_zone)
    address = parse_email(admin_email)
    folder = authority_keys_folder(keys_root, code_value)
    created_folder = False
    try:
        async with transaction(maker) as session:
            if (await session.exec(select(Organisation.id).where(col(Organisation.code) == code_value))).first():
                raise DomainError(f"le code {code_value} est déjà pris par une organisation : choisissez-en un autre "
                                  "(cirqliz authority list)", code="organisation_code_taken")
            try:
                async with session.begin_nested():
                    org = await create_organisation(session, kind=OrganisationKind.AUTHORITY, code=code_value,
                                                    name=name_value, siren=siren_value, clock=clock)
            except IntegrityError:  # created by someone else meanwhile
                raise DomainError(f"le code {code_value} est déjà pris par une organisation",
                                  code="organisation_code_taken") from None
            org.time_zone = tz
            session.add(org)
            await record_change(session, actor_id=None, entity="organisation", entity_id=org.id, action="update",
                                at=clock.now(), after={"time_zone": tz})
            # The code is ours in the database from here (a concurrent creation waits or fails on it);
            # the folder is claimed atomically, so a cleanup only ever removes what this call made.
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                folder.mkdir()
            except FileExistsError:
                raise DomainError(f"un dossier de clés existe déjà pour ce code : {folder} — déplacez-le ou "
                                  "choisissez un autre code (ses clés ne sont pas écrasées)",
                                  code="keys_folder_exists") from None
            created_folder = True
            store = KeyStore.init(folder, issuer=code_value, clock=clock)
            _data, content = await publish_bundle(session, authority_id=org.id, keystore=store, clock=clock)
            link = await _invite(session, org, address, FIRST_ADMIN_ROLES, clock=clock, secret_key=secret_key)
            result = AuthorityCreated(org.id, code_value, name_value, folder, store.root_kid, store.keys[0].kid,
                                      content.seq, link)
    except BaseException:
        if created_folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return result


# ---- listing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthoritySummary:
    """One line of `cirqliz authority list`."""

    code: str
    name: str
    siren: str | None
    time_zone: str | None
    users: int
    last_bundle_seq: int


async def list_authorities(session: AsyncSession) -> list[AuthoritySummary]:
    """Every authority by code, with its number of active members and its last bundle seq."""
    users = (select(func.count(func.distinct(Membership.user_id)))
             .join(UserAccount, col(UserAccount.id) == Membership.user_id)
             .where(col(Membership.organisation_id) == Organisation.id, col(UserAccount.is_active).is_(True))
             .scalar_subquery())
    rows = (await session.exec(select(Organisation, users).where(
        col(Organisation.kind) == OrganisationKind.AUTHORITY.value).order_by(col(Organisation.code)))).all()
    return [AuthoritySummary(o.code, o.name, o.siren, o.time_zone, int(n or 0), o.last_bundle_seq) for o, n in rows]


async def authority_by_code(session: AsyncSession, code: str) -> Organisation:
    """The authority with this code (any case); NotFound naming the known codes otherwise."""
    row = (await session.exec(select(Organisation).where(
        col(Organisation.code) == (code or "").strip().lower(),
        col(Organisation.kind) == OrganisationKind.AUTHORITY.value))).first()
    if row is None:
        known = (await session.exec(select(Organisation.code).where(
            col(Organisation.kind) == OrganisationKind.AUTHORITY.value).order_by(col(Organisation.code)))).all()
        hint = (f" (autorités connues : {', '.join(known)})" if known
                else " (aucune autorité : cirqliz authority create)")
        raise NotFound(f"autorité inconnue : {code}{hint}", code="authority_not_found")
    return row


async def set_authority_siren(session: AsyncSession, *, code: str, siren: str, clock: Clock) -> Organisation:
    """Give an existing authority its SIREN (the ids of its low-emission zones in the national ZFE
    schema are SIREN-ZFE-NNN); audited."""
    authority = await authority_by_code(session, code)
    value = parse_authority_siren(siren)
    if value is None:
        raise InvalidInput("SIREN absent : 9 chiffres attendus", code="siren_missing")
    before = authority.siren
    if before != value:
        authority.siren = value
        session.add(authority)
        await session.flush()
        await record_change(session, actor_id=None, entity="organisation", entity_id=authority.id,
                            action="siren", at=clock.now(), before={"siren": before}, after={"siren": value})
    return authority


@dataclass(frozen=True, slots=True)
class PersonSummary:
    """One line of `cirqliz user list`: a person and the roles they hold, by organisation code."""

    email: str
    display_name: str
    active: bool
    roles: tuple[tuple[str, str], ...]


async def list_users(session: AsyncSession, authority_code: str | None = None) -> list[PersonSummary]:
    """Every account (or the members of one authority) with their roles, by address."""
    query = (select(UserAccount, Organisation.code, Membership.role)
             .join(Membership, col(Membership.user_id) == UserAccount.id, isouter=True)
             .join(Organisation, col(Organisation.id) == Membership.organisation_id, isouter=True))
    if authority_code is not None:
        authority = await authority_by_code(session, authority_code)
        query = query.where(col(Membership.organisation_id) == authority.id)
    rows = (await session.exec(query.order_by(col(UserAccount.email), col(Organisation.code),
                                              col(Membership.role)))).all()
    people: dict[uuid.UUID, PersonSummary] = {}
    for user, org_code, role in rows:
        found = people.get(user.id)
        roles = (found.roles if found else ()) + (((org_code, role),) if role else ())
        people[user.id] = PersonSummary(user.email, user.display_name, user.is_active, roles)
    return list(people.values())


async def authority_pending_invitations(session: AsyncSession, authority_code: str, now: datetime
                                        ) -> list[Invitation]:
    """Invitations into the authority not accepted yet and not expired."""
    authority = await authority_by_code(session, authority_code)
    return await pending_invitations(session, [authority.id], now)


# ---- inviting and disabling ---------------------------------------------------------------


async def invite_to_authority(session: AsyncSession, *, code: str, email: str, role: str, clock: Clock,
                              secret_key: str) -> tuple[Organisation, InvitationLink]:
    """Invite someone into an authority with one role (authority_admin, reviewer or agent), as the operator."""
    member_role = parse_authority_role(role)
    address = parse_email(email)
    authority = await authority_by_code(session, code)
    link = await _invite(session, authority, address, (member_role,), clock=clock, secret_key=secret_key)
    return authority, link


async def cancel_authority_invitations(session: AsyncSession, *, code: str, email: str, clock: Clock
                                       ) -> tuple[Organisation, list[Invitation]]:
    """Cancel, as the operator, every pending invitation of an address into an authority (its link
    stops working at once); NotFound when there is none."""
    address = parse_email(email)
    authority = await authority_by_code(session, code)
    pending = [i for i in await pending_invitations(session, [authority.id], clock.now()) if i.email == address]
    if not pending:
        raise NotFound(f"aucune invitation en attente pour {address} dans l'autorité {authority.code} "
                       "(cirqliz user list --authority " + authority.code + ")", code="invitation_not_found")
    for invitation in pending:
        await cancel_invitation(session, invitation_id=invitation.id, actor_id=None, clock=clock)
    return authority, pending


@dataclass(frozen=True, slots=True)
class Disabled:
    """What `disable_account` did."""

    email: str
    was_active: bool
    authorities_without_admin: tuple[str, ...]


async def disable_account(session: AsyncSession, *, email: str, clock: Clock) -> Disabled:
    """Disable the account with this address: it cannot sign in, every session of it ends at once.
    Names the authorities left without an active administrator."""
    address = parse_email(email)
    user = (await session.exec(select(UserAccount).where(col(UserAccount.email) == address))).first()
    if user is None:
        raise NotFound(f"aucun compte n'a l'adresse {address} (cirqliz user list)", code="user_not_found")
    was_active = user.is_active
    await disable_user(session, user_id=user.id, actor_id=None, clock=clock)
    admin_of = (await session.exec(select(Organisation).join(
        Membership, col(Membership.organisation_id) == Organisation.id).where(
        col(Membership.user_id) == user.id, col(Membership.role) == Role.AUTHORITY_ADMIN.value))).all()
    orphaned = []
    for org in admin_of:
        other = (await session.exec(select(Membership.id).join(
            UserAccount, col(UserAccount.id) == Membership.user_id).where(
            col(Membership.organisation_id) == org.id, col(Membership.role) == Role.AUTHORITY_ADMIN.value,
            col(UserAccount.is_active).is_(True)))).first()
        if other is None:
            orphaned.append(org.code)
    return Disabled(address, was_active, tuple(sorted(orphaned)))
