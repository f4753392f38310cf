"""Vehicles: plates through cirqliz.domain.plates, categories, Crit'Air, energies."""

import pytest

from cirqliz.domain.errors import PlateError, VehicleError
from cirqliz.domain.vehicles import CritAir, Energy, VehicleCategory, parse_crit_air, vehicle_profile


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("ab-123-cd", "AB123CD"), ("AB 123 CD", "AB123CD"), ("123 ABC 75", "123ABC75"),
     ("D:BAB1234", "D:BAB1234")],
)
def test_plates_are_normalised(typed, stored):
    assert vehicle_profile(plate=typed, category="N1", crit_air=2).plate == stored


@pytest.mark.parametrize("typed", ["", "AB-123", "IO-123-OU", "AB-123-C€"])
def test_bad_plates_refused(typed):
    with pytest.raises(PlateError):
        vehicle_profile(plate=typed, category="N1", crit_air=2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, CritAir.ZERO), ("E", CritAir.ZERO), ("EL", CritAir.ZERO), ("1", CritAir.ONE),
     ("V4", CritAir.FOUR), ("Crit'Air 5", CritAir.FIVE), (None, None), ("", None), ("NC", None)],
)
def test_crit_air_values(value, expected):
    assert parse_crit_air(value) is expected


@pytest.mark.parametrize("value", ["6", "-1", "V9", "green", True])
def test_bad_crit_air(value):
    with pytest.raises(VehicleError):
        parse_crit_air(value)


def test_categories_and_energies():
    assert VehicleCategory("N3").label_fr == "transport de marchandises (N3)"
    with pytest.raises(VehicleError) as info:
        vehicle_profile(plate="AB-123-CD", category="N4", crit_air=2)
    assert info.value.code == "invalid_category"
    with pytest.raises(VehicleError):
        vehicle_profile(plate="AB-123-CD", category="N1", crit_air=2, energy="steam")


def test_electric_vehicles_are_crit_air_zero():
    assert vehicle_profile(plate="AB-123-CD", category="N1", crit_air=0,
                           energy=Energy.ELECTRIC).crit_air is CritAir.ZERO
    with pytest.raises(VehicleError) as info:
        vehicle_profile(plate="AB-123-CD", category="N1", crit_air=2, energy=Energy.ELECTRIC)
    assert info.value.code == "crit_air_energy_mismatch"


@pytest.mark.parametrize(("weight", "length"), [(0, 500), (100_001, 500), (3000, 0), (3000, 3001)])
def test_weight_and_length_bounds(weight, length):
    with pytest.raises(VehicleError):
        vehicle_profile(plate="AB-123-CD", category="N1", crit_air=2, gross_weight_kg=weight,
                        length_cm=length)
