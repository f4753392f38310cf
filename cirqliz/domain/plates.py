"""Licence plates: one normalised form for passes, comparisons and exports.

French plates: SIV since 2009 (`AA-123-AA`, arrêté du 9 février 2009, annexe) and the older
FNI form (`123 ABC 75`). Foreign plates carry their country code (Vienna convention
distinguishing sign, e.g. `D`, `B`, `CH`) as a prefix: `D:BAB1234`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cirqliz.domain.errors import PlateError

_SEPARATORS = re.compile(r"[\s\-_.·/]+")
SIV = re.compile(r"^[A-HJ-NP-TV-Z]{2}\d{3}[A-HJ-NP-TV-Z]{2}$")
FNI = re.compile(r"^\d{1,4}[A-Z]{1,3}(\d{2}|2A|2B|97\d)$")
NORMALISED = re.compile(r"^(?:[A-Z]{1,3}:)?[A-Z0-9]{1,12}$")
_COUNTRY = re.compile(r"^[A-Z]{1,3}$")


@dataclass(frozen=True, slots=True)
class Plate:
    """A normalised plate: `number` without separators, `country` (FR by default)."""

    number: str
    country: str = "FR"

    @property
    def normalised(self) -> str:
        """The form carried in passes: 'AB123CD', or 'D:BAB1234' for a foreign plate."""
        return self.number if self.country == "FR" else f"{self.country}:{self.number}"

    @property
    def display(self) -> str:
        """The form printed for people: 'AB-123-CD' for SIV plates, else the number."""
        if self.country == "FR" and SIV.fullmatch(self.number):
            n = self.number
            return f"{n[:2]}-{n[2:5]}-{n[5:]}"
        return self.number if self.country == "FR" else f"{self.number} ({self.country})"

    @property
    def kind(self) -> str:
        """'siv', 'fni' or 'foreign'."""
        if self.country != "FR":
            return "foreign"
        return "siv" if SIV.fullmatch(self.number) else "fni"


def parse_plate(text: str, country: str | None = None) -> Plate:
    """Read a plate as typed by a person; PlateError with the reason if it is not a plate."""
    raw = text.strip().upper()
    if ":" in raw:
        prefix, _, raw = raw.partition(":")
        country = country or prefix.strip()
    country = (country or "FR").strip().upper()
    if not _COUNTRY.fullmatch(country):
        raise PlateError(f"code pays illisible : {country!r}", code="invalid_plate_country")
    number = _SEPARATORS.sub("", raw)
    if not number:
        raise PlateError("immatriculation vide", code="empty_plate")
    if not re.fullmatch(r"[A-Z0-9]{1,12}", number):
        raise PlateError(
            f"immatriculation illisible : {text!r} (lettres et chiffres uniquement)",
            code="invalid_plate",
        )
    if country == "FR" and not (SIV.fullmatch(number) or FNI.fullmatch(number)):
        raise PlateError(
            f"immatriculation française invalide : {text!r} (attendu AA-123-AA, ou 123 ABC 75)",
            code="invalid_french_plate",
        )
    return Plate(number, country)


def normalise_plate(text: str) -> str:
    """The normalised form of a typed plate (see Plate.normalised)."""
    return parse_plate(text).normalised


def loose_key(text: str) -> str:
    """A forgiving comparison key for a plate read off a vehicle: letters and digits only."""
    _, _, rest = text.upper().rpartition(":")
    return _SEPARATORS.sub("", rest)
