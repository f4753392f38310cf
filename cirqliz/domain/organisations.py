"""Organisations, roles and French company identifiers (SIREN, SIRET)."""

from __future__ import annotations

from enum import StrEnum

from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from cirqliz.domain.errors import CompanyIdError


class OrganisationKind(StrEnum):
    """What an organisation is to CirQliz."""

    AUTHORITY = "authority"
    ORGANISER = "organiser"
    COMPANY = "company"


class Role(StrEnum):
    """What a member may do within an organisation."""

    AUTHORITY_ADMIN = "authority_admin"
    REVIEWER = "reviewer"
    ORGANISER = "organiser"
    PROFESSIONAL = "professional"
    AGENT = "agent"


# Which roles make sense in which kind of organisation.
ROLES_BY_KIND: dict[OrganisationKind, frozenset[Role]] = {
    OrganisationKind.AUTHORITY: frozenset({Role.AUTHORITY_ADMIN, Role.REVIEWER, Role.AGENT}),
    OrganisationKind.ORGANISER: frozenset({Role.ORGANISER, Role.REVIEWER, Role.AGENT}),
    OrganisationKind.COMPANY: frozenset({Role.PROFESSIONAL}),
}


def _check(module, text: str, label: str) -> str:
    number = module.compact(text or "")
    if not number:
        raise CompanyIdError(f"{label} manquant", code=f"missing_{label.lower()}")
    try:
        return module.validate(number)
    except InvalidLength as exc:
        raise CompanyIdError(
            f"{label} invalide : {text!r} n'a pas le bon nombre de chiffres",
            code=f"invalid_{label.lower()}_length",
        ) from exc
    except InvalidFormat as exc:
        raise CompanyIdError(
            f"{label} invalide : {text!r} ne doit contenir que des chiffres",
            code=f"invalid_{label.lower()}_format",
        ) from exc
    except InvalidChecksum as exc:
        raise CompanyIdError(
            f"{label} invalide : {text!r} (clé de contrôle de Luhn incorrecte)",
            code=f"invalid_{label.lower()}_checksum",
        ) from exc
    except ValidationError as exc:  # any other stdnum refusal
        raise CompanyIdError(f"{label} invalide : {text!r}", code=f"invalid_{label.lower()}") from exc


def parse_siren(text: str) -> str:
    """The 9-digit SIREN (INSEE, répertoire SIRENE), spaces removed; CompanyIdError if invalid."""
    return _check(stdnum_siren, text, "SIREN")


def parse_siret(text: str, *, siren: str | None = None) -> str:
    """The 14-digit SIRET; CompanyIdError if invalid or if it does not belong to `siren`."""
    number = _check(stdnum_siret, text, "SIRET")
    if siren is not None and number[:9] != parse_siren(siren):
        raise CompanyIdError(
            f"le SIRET {number} n'appartient pas à l'entreprise de SIREN {siren}",
            code="siret_siren_mismatch",
        )
    return number
