"""Services for organisations, users and memberships."""

from __future__ import annotations

import re
import unicodedata
import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import Membership, Organisation, UserAccount
from cirqliz.domain.errors import CompanyIdError, DomainError
from cirqliz.domain.organisations import ROLES_BY_KIND, OrganisationKind, Role, parse_siren, parse_siret
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.labels import ORGANISATION_KIND_FR, ROLE_FR


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
    contact_email: str | None = None,
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
        contact_email=contact_email,
        created_at=now,
    )
    session.add(org)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="organisation", entity_id=org.id,
                        action="create", at=now,
                        after=snapshot(org, "kind", "code", "name", "siren", "siret",
                                   *(("authority_id",) if authority_id else ()),
                                   *(("contact_email",) if contact_email else ())))
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
            f"le rôle « {ROLE_FR[member_role]} » n'existe pas dans une organisation de type "
            f"« {ORGANISATION_KIND_FR.get(org.kind, org.kind)} »",
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


# ---- organisers registered by their authority (back office) -----------------------------------

CODE_MAX = 32
_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def code_from_name(name: str) -> str:
    """A plain organisation code from a name: ASCII lower-case letters, digits and single hyphens."""
    ascii_text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:CODE_MAX].strip("-")


async def _code_taken(session: AsyncSession, code: str) -> bool:
    return (await session.exec(select(Organisation.id).where(col(Organisation.code) == code))).first() is not None


async def free_code(session: AsyncSession, base: str) -> str:
    """`base`, or `base-2`, `base-3`… (cut to fit 32 characters), the first one no organisation uses."""
    for number in range(1, 100):
        suffix = "" if number == 1 else f"-{number}"
        candidate = base[:CODE_MAX - len(suffix)].strip("-") + suffix
        if not await _code_taken(session, candidate):
            return candidate
    raise DomainError("impossible de trouver un code libre à partir de ce nom : indiquez un code",
                      code="organisation_code_taken")


async def create_organiser(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    name: str,
    contact_email: str,
    clock: Clock,
    actor_id: uuid.UUID | None,
    code: str = "",
    siren: str = "",
) -> Organisation:
    """An event organiser belonging to `authority_id`, as its administrator registers it: a name, a
    contact address, an optional SIREN (checked) and a code given ([a-z0-9-], unique) or made from the
    name, always under the authority's own code (`<authority>-…`): an authority cannot take the code a
    company, another authority or its organisers will need, nor learn which codes they use.
    Everything is checked before anything is written."""
    from cirqliz.issuance.accounts import normalise_email  # accounts imports this module

    clean_name = " ".join((name or "").split())
    if not clean_name or len(clean_name) > 200:
        raise DomainError("indiquez le nom de l'organisateur (200 caractères au plus)", code="invalid_organiser_name")
    try:
        address = normalise_email(contact_email)
    except DomainError as exc:
        raise DomainError("adresse électronique de contact invalide", code="invalid_contact_email") from exc
    siren_value = None
    if (siren or "").strip():
        try:
            siren_value = parse_siren(siren)
        except CompanyIdError as exc:
            raise DomainError("SIREN invalide : il compte 9 chiffres et sa clé de contrôle doit être juste "
                              "(laissez le champ vide si l'organisateur n'en a pas)", code=exc.code) from exc
    authority = await session.get(Organisation, authority_id)
    if authority is None or authority.kind != OrganisationKind.AUTHORITY.value:
        raise DomainError("autorité introuvable", code="authority_not_found")
    prefix = f"{authority.code}-"
    wanted = (code or "").strip().lower()
    if wanted and not wanted.startswith(prefix):
        wanted = prefix + wanted
    if wanted:
        if len(wanted) > CODE_MAX or not _CODE.match(wanted):
            raise DomainError(f"code invalide : lettres minuscules sans accent, chiffres et tirets, 32 caractères "
                              f"au plus, « {prefix} » compris (par exemple {prefix}lumieres)",
                              code="invalid_organisation_code")
        if await _code_taken(session, wanted):
            raise DomainError(f"le code {wanted} est déjà pris : choisissez-en un autre",
                              code="organisation_code_taken")
    else:
        base = code_from_name(clean_name)
        if base:
            base = prefix + base
        if not base:
            raise DomainError("indiquez un code : le nom ne contient aucune lettre ni chiffre utilisable",
                              code="invalid_organisation_code")
        wanted = await free_code(session, base)
    return await create_organisation(session, kind=OrganisationKind.ORGANISER, code=wanted, name=clean_name,
                                     clock=clock, siren=siren_value, actor_id=actor_id, authority_id=authority_id,
                                     contact_email=address)


async def authority_organisers(session: AsyncSession, authority_id: uuid.UUID) -> list[Organisation]:
    """The event organisers that belong to this authority (never another authority's), by name."""
    return list((await session.exec(select(Organisation).where(
        col(Organisation.kind) == OrganisationKind.ORGANISER.value, col(Organisation.authority_id) == authority_id)
        .order_by(col(Organisation.name), col(Organisation.code)))).all())


async def authority_organiser(session: AsyncSession, authority_id: uuid.UUID, organiser_id: uuid.UUID
                              ) -> Organisation | None:
    """This organiser if it belongs to this authority; None otherwise (another authority's reads as missing)."""
    org = await session.get(Organisation, organiser_id)
    if org is None or org.kind != OrganisationKind.ORGANISER.value or org.authority_id != authority_id:
        return None
    return org
