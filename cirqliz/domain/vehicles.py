"""Vehicles as the rules see them: category, Crit'Air class, energy, weight and length."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from cirqliz.domain.errors import VehicleError
from cirqliz.domain.plates import parse_plate


class VehicleCategory(StrEnum):
    """EU vehicle category (directive 2007/46/CE annexe II, now règlement (UE) 2018/858 art. 4;
    L categories: règlement (UE) n° 168/2013 art. 4)."""

    L1E = "L1e"
    L2E = "L2e"
    L3E = "L3e"
    L4E = "L4e"
    L5E = "L5e"
    L6E = "L6e"
    L7E = "L7e"
    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    N1 = "N1"
    N2 = "N2"
    N3 = "N3"

    @property
    def label_fr(self) -> str:
        """French label shown to people (cirqliz.labels)."""
        from cirqliz.labels import VEHICLE_CATEGORY_FR  # the table imports this module

        return VEHICLE_CATEGORY_FR[self]

    @property
    def description_fr(self) -> str:
        """What the category is, in a driver's words ('camionnette, PTAC ≤ 3,5 t')."""
        from cirqliz.labels import VEHICLE_CATEGORY_DESCRIPTION_FR  # the table imports this module

        return VEHICLE_CATEGORY_DESCRIPTION_FR[self]

    @property
    def explained_fr(self) -> str:
        """The code and what it is: 'N1 — camionnette, PTAC ≤ 3,5 t' (forms, lists, import help)."""
        return f"{self.value} — {self.description_fr}"


CATEGORY_SOURCE_FR = ("Catégories européennes : directive 2007/46/CE (annexe II, aujourd'hui règlement (UE) "
                      "2018/858) pour M et N, règlement (UE) n° 168/2013 pour L ; elles figurent sur la carte "
                      "grise, rubrique J.")
"""Where the categories come from, in one line shown beside them."""

CATEGORY_MISSING_FR = "catégorie non renseignée — à compléter"
"""Shown for a stored vehicle whose category is empty or no longer known."""


def category_explained_fr(value: str | None) -> str:
    """The explained label of a stored category value; CATEGORY_MISSING_FR when empty or unknown."""
    try:
        return VehicleCategory(value or "").explained_fr
    except ValueError:
        return CATEGORY_MISSING_FR


class CritAir(IntEnum):
    """Crit'Air air-quality class (arrêté du 21 juin 2016, NOR DEVR1612851A); 0 is the green
    certificate of electric and hydrogen vehicles. An unclassified vehicle has no class (None)."""

    ZERO = 0
    ONE = 1
    TWO = 2
    THREE = 3
    FOUR = 4
    FIVE = 5

    @property
    def label_fr(self) -> str:
        """French label, e.g. 'Crit'Air 3' or 'Crit'Air 0 (électrique)' (cirqliz.labels)."""
        from cirqliz.labels import CRIT_AIR_FR  # the table imports this module

        return CRIT_AIR_FR[self]


class Energy(StrEnum):
    """Energy source as on the registration certificate, field P.3 (arrêté du 9 février 2009)."""

    PETROL = "petrol"
    DIESEL = "diesel"
    ELECTRIC = "electric"
    HYDROGEN = "hydrogen"
    HYBRID_PETROL = "hybrid_petrol"
    HYBRID_DIESEL = "hybrid_diesel"
    PLUGIN_HYBRID = "plugin_hybrid"
    LPG = "lpg"
    NATURAL_GAS = "natural_gas"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class VehicleProfile:
    """What eligibility rules need to know about one vehicle."""

    plate: str
    category: VehicleCategory
    crit_air: CritAir | None
    energy: Energy = Energy.OTHER
    gross_weight_kg: int | None = None
    length_cm: int | None = None

    def __post_init__(self) -> None:
        if self.gross_weight_kg is not None and not 0 < self.gross_weight_kg <= 100_000:
            raise VehicleError("poids total autorisé en charge hors limites (1 à 100 000 kg)")
        if self.length_cm is not None and not 0 < self.length_cm <= 3_000:
            raise VehicleError("longueur hors limites (1 à 3 000 cm)")
        if self.energy in (Energy.ELECTRIC, Energy.HYDROGEN) and self.crit_air not in (
            None,
            CritAir.ZERO,
        ):
            raise VehicleError(
                "un véhicule électrique ou à hydrogène relève de Crit'Air 0",
                code="crit_air_energy_mismatch",
            )


CRIT_AIR_UNCLASSIFIED = "NC"
"""The form's and the file's explicit value for a vehicle without a Crit'Air class."""
CRIT_AIR_UNCLASSIFIED_FR = "non classé (trop ancien pour une vignette)"


def parse_crit_air(value: str | int | None) -> CritAir | None:
    """Read '0'..'5', 'E', 'EL', 'V3', 'Crit'Air 2' or None/'' (non classé)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        text = str(value).strip().upper().replace("CRIT'AIR", "").replace("CRITAIR", "").strip()
    if text in ("", "NC", "NON CLASSE", "NON CLASSÉ", "NONE"):
        return None
    if text in ("E", "EL", "VE"):
        return CritAir.ZERO
    if text.startswith("V"):
        text = text[1:]
    if text.isdecimal() and 0 <= int(text) <= 5:  # isdigit() accepts "²", which int() refuses
        return CritAir(int(text))
    raise VehicleError(f"classe Crit'Air illisible : {value!r} (0 à 5, ou non classé)",
                       code="invalid_crit_air")


def vehicle_profile(
    *,
    plate: str,
    category: str,
    crit_air: str | int | None,
    energy: str = Energy.OTHER,
    gross_weight_kg: int | None = None,
    length_cm: int | None = None,
) -> VehicleProfile:
    """Build a profile from typed values, normalising the plate and checking each field."""
    if not (category or "").strip():
        raise VehicleError("catégorie du véhicule manquante : choisissez-la (carte grise, rubrique J), "
                           "par exemple N1 pour une camionnette", code="missing_category")
    try:
        cat = VehicleCategory(category)
    except ValueError as exc:
        raise VehicleError(f"catégorie de véhicule inconnue : « {category} » (catégories reconnues : "
                           f"{', '.join(c.value for c in VehicleCategory)} ; carte grise, rubrique J)",
                           code="invalid_category") from exc
    try:
        energy_value = Energy(energy)
    except ValueError as exc:
        raise VehicleError(f"énergie inconnue : {energy!r}", code="invalid_energy") from exc
    return VehicleProfile(
        plate=parse_plate(plate).normalised,
        category=cat,
        crit_air=parse_crit_air(crit_air),
        energy=energy_value,
        gross_weight_kg=gross_weight_kg,
        length_cm=length_cm,
    )
