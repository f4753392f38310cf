"""SIREN and SIRET: format and Luhn key; roles by organisation kind."""

import pytest

from cirqliz.domain.errors import CompanyIdError
from cirqliz.domain.organisations import ROLES_BY_KIND, OrganisationKind, Role, parse_siren, parse_siret


@pytest.mark.parametrize(
    ("text", "expected"),
    [("443061841", "443061841"), ("443 061 841", "443061841"), ("217500016", "217500016")],
)
def test_valid_siren(text, expected):
    assert parse_siren(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("443061842", "invalid_siren_checksum"),
        ("44306184", "invalid_siren_length"),
        ("4430618411", "invalid_siren_length"),
        ("44306184A", "invalid_siren_format"),
        ("", "missing_siren"),
    ],
)
def test_invalid_siren(text, code):
    with pytest.raises(CompanyIdError) as info:
        parse_siren(text)
    assert info.value.code == code
    assert info.value.message.startswith("SIREN")


@pytest.mark.parametrize("text", ["44306184100047", "443 061 841 00047", "73282932000074"])
def test_valid_siret(text):
    assert parse_siret(text) == text.replace(" ", "")


def test_la_poste_establishments_follow_their_own_rule():
    # La Poste (SIREN 356000000) numbers its SIRET with a digit sum divisible by 5.
    assert parse_siret("35600000000048") == "35600000000048"


@pytest.mark.parametrize(
    ("text", "code"),
    [("44306184100048", "invalid_siret_checksum"), ("4430618410004", "invalid_siret_length")],
)
def test_invalid_siret(text, code):
    with pytest.raises(CompanyIdError) as info:
        parse_siret(text)
    assert info.value.code == code


def test_siret_must_belong_to_the_siren():
    assert parse_siret("44306184100047", siren="443061841")
    with pytest.raises(CompanyIdError) as info:
        parse_siret("44306184100047", siren="217500016")
    assert info.value.code == "siret_siren_mismatch"


def test_roles_by_kind():
    assert Role.PROFESSIONAL in ROLES_BY_KIND[OrganisationKind.COMPANY]
    assert Role.REVIEWER not in ROLES_BY_KIND[OrganisationKind.COMPANY]
    assert Role.AUTHORITY_ADMIN not in ROLES_BY_KIND[OrganisationKind.ORGANISER]
    assert all(any(r in roles for roles in ROLES_BY_KIND.values()) for r in Role)
