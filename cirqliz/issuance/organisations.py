"""Services for organisations, users and memberships."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import Membership, Organisation, UserAccount
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import ROLES_BY_KIND, OrganisationKind, Role, parse_siren, parse_siret
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.lookup import get_or_raise


async def create_organisation(
    session: AsyncSession,
    *,
    kind: str,
    code: str,
    name: str,
    clock: Clock,
    siren: str | None = None,
    siret: str | None = None,
    actor_id: uuid.UUID | None = None,
    organisation_id: uuid.UUID | None = None,
    authority_id: uuid.UUID | None = None,
) -> Organisation:
    """Register an authority, organiser or company; a company needs a valid SIREN or SIRET, and
    `authority_id` (only for an organiser) names the authority the organiser belongs to."""
    org_kind = OrganisationKind(kind)
    if authority_id is not None:
        if org_kind is not OrganisationKind.ORGANISER:
            raise DomainError("seul un organisateur d'événements est rattaché à une autorité",
                              code="authority_for_non_organiser")
        authority = await get_or_raise(session, Organisation, authority_id)
        if authority.kind != OrganisationKind.AUTHORITY:
            raise DomainError("un organisateur est rattaché à une autorité", code="organiser_authority")
    siren_value = parse_siren(siren) if siren else None
    siret_value = parse_siret(siret, siren=siren_value) if siret else None
    if siret_value and not siren_value:
        siren_value = siret_value[:9]
    if org_kind is OrganisationKind.COMPANY and not siren_value:
        raise DomainError("une entreprise doit indiquer son SIREN ou son SIRET",
                          code="company_without_siren")
    code_value = code.strip().lower()
    if not code_value or len(code_value) > 32:
        raise DomainError("code d'organisation vide ou trop long (32 caractères au plus)",
                          code="invalid_organisation_code")
    now = clock.now()
    org = Organisation(
        id=organisation_id or uuid.uuid4(),
        kind=org_kind.value,
        code=code_value,
        name=name.strip(),
        siren=siren_value,
        siret=siret_value,
        authority_id=authority_id,
        created_at=now,
    )
    session.add(org)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="organisation", entity_id=org.id,
                        action="create", at=now,
                        after=snapshot(org, "kind", "code", "name", "siren", "siret",
                                   *(("authority_id",) if authority_id else ())))
    return org


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    clock: Clock,
    password_hash: str | None = None,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
) -> UserAccount:
    """Create a user account (email stored lower-case)."""
    address = email.strip().lower()
    if "@" not in address or len(address) > 254:
        raise DomainError(f"adresse électronique invalide : {email!r}", code="invalid_email")
    now = clock.now()
    user = UserAccount(id=user_id or uuid.uuid4(), email=address, display_name=display_name.strip(),
                       password_hash=password_hash, created_at=now)
    session.add(user)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="user", entity_id=user.id,
                        action="create", at=now, after=snapshot(user, "email", "display_name"))
    return user


async def add_membership(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    organisation_id: uuid.UUID,
    role: str,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> Membership:
    """Give a user a role in an organisation (the role must suit the organisation's kind)."""
    await get_or_raise(session, UserAccount, user_id)
    org = await get_or_raise(session, Organisation, organisation_id)
    member_role = Role(role)
    if member_role not in ROLES_BY_KIND[OrganisationKind(org.kind)]:
        raise DomainError(
            f"le rôle « {member_role.value} » n'existe pas dans une organisation de type "
            f"« {org.kind} »",
            code="role_not_allowed",
        )
    now = clock.now()
    membership = Membership(user_id=user_id, organisation_id=organisation_id,
                            role=member_role.value, created_at=now)
    session.add(membership)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="membership", entity_id=membership.id,
                        action="create", at=now,
                        after=snapshot(membership, "user_id", "organisation_id", "role"))
    return membership
