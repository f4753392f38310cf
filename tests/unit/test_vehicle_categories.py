"""Issue 17: every vehicle category is explained in a driver's words, from one table (cirqliz.labels)."""

from __future__ import annotations

import pytest

from cirqliz.domain.errors import VehicleError
from cirqliz.domain.vehicles import (
    CATEGORY_MISSING_FR,
    CATEGORY_SOURCE_FR,
    VehicleCategory,
    category_explained_fr,
    parse_crit_air,
    vehicle_profile,
)
from cirqliz.labels import VEHICLE_CATEGORY_DESCRIPTION_FR as CATEGORY_DESCRIPTIONS_FR


def test_every_category_has_its_explanation() -> None:
    assert set(CATEGORY_DESCRIPTIONS_FR) == set(VehicleCategory)
    assert VehicleCategory.N1.explained_fr == "N1 — camionnette, PTAC ≤ 3,5 t"
    assert VehicleCategory.N2.explained_fr == "N2 — camion, 3,5 t < PTAC ≤ 12 t"
    assert VehicleCategory.N3.explained_fr == "N3 — poids lourd, PTAC > 12 t"
    assert VehicleCategory.L1E.explained_fr.startswith("L1e — cyclomoteur à deux roues, ≤ 50 cm³")
    assert "45 km/h" in VehicleCategory.L1E.explained_fr
    assert VehicleCategory.M1.explained_fr.startswith("M1 — voiture")
    # Each description is different: a driver can tell them apart.
    assert len(set(CATEGORY_DESCRIPTIONS_FR.values())) == len(VehicleCategory)
    assert "2007/46/CE" in CATEGORY_SOURCE_FR and "168/2013" in CATEGORY_SOURCE_FR


@pytest.mark.parametrize("stored", ["", None, "N1G"])
def test_a_stored_vehicle_without_a_known_category_still_reads(stored: str | None) -> None:
    assert category_explained_fr(stored) == CATEGORY_MISSING_FR == "catégorie non renseignée — à compléter"
    assert category_explained_fr("L3e").startswith("L3e — moto")


def test_missing_and_unknown_categories_are_told_apart() -> None:
    with pytest.raises(VehicleError) as missing:
        vehicle_profile(plate="AB-123-CD", category=" ", crit_air="1")
    assert missing.value.code == "missing_category" and "rubrique J" in missing.value.message
    with pytest.raises(VehicleError) as unknown:
        vehicle_profile(plate="AB-123-CD", category="N4", crit_air="1")
    assert unknown.value.code == "invalid_category"
    assert "« N4 »" in unknown.value.message and "L1e" in unknown.value.message


def test_non_classe_is_an_explicit_value() -> None:
    assert parse_crit_air("NC") is None
