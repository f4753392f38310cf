"""Purposes for which a pass is granted; the integer is what the signed pass carries."""

from __future__ import annotations

from enum import IntEnum


class Purpose(IntEnum):
    """Why a vehicle may enter (codes are stable: they are signed into passes)."""

    DELIVERY = 1
    ARTISAN = 2
    RESIDENT = 3
    EMERGENCY = 4
    EVENT_SUPPLIER = 5
    REMOVAL = 6
    PUBLIC_SERVICE = 7
    HEALTH_CARE = 8
    TAXI = 9
    OTHER = 99

    @property
    def label_fr(self) -> str:
        """French label shown to people (cirqliz.labels)."""
        from cirqliz.labels import PURPOSE_FR  # the table imports this module

        return PURPOSE_FR[self]


def purpose_label(code: int) -> str:
    """French label of a purpose code, or the code itself if unknown."""
    try:
        return Purpose(code).label_fr
    except ValueError:
        return f"motif {code}"
