"""The label tables as the pages know them (cirqliz.labels, the one table of each enum), and the
journal's table of any stored value.

An English page translates a label with the catalog (`_(label)`, cirqliz/web/translations/en/*.po),
never shows the raw value.
"""

from __future__ import annotations

from cirqliz.labels import (
    APPLICATION_STATUS_FR,
    ENERGY_FR,
    IMPORT_OUTCOME_FR,
    KEY_STATUS_FR,
    ORGANISATION_KIND_FR,
    PASS_STATUS_FR,
    REVIEW_MODE_FR,
    ROLE_FR,
    ZONE_KIND_FR,
    ZONE_STATUS_FR,
)

__all__ = [
    "APPLICATION_STATUS_FR", "ENERGY_FR", "ENERGY_LABELS_FR", "IMPORT_OUTCOME_FR", "KEY_STATUS_FR",
    "ORGANISATION_KIND_FR", "PASS_STATUS_FR", "REVIEW_MODE_FR", "ROLE_LABELS", "VALUE_FR", "ZONE_KIND_FR",
    "ZONE_STATUS_FR",
]

ROLE_LABELS: dict[str, str] = ROLE_FR
ENERGY_LABELS_FR: dict[str, str] = ENERGY_FR

# Any stored value of the tables above, for texts that do not know which enum a value belongs to
# (the journal's before/after): where a value means two things, the later table wins (a zone's
# "active" and "suspended" read as a zone's, "organiser" as the role).
VALUE_FR: dict[str, str] = {
    str(value): label
    for table in (APPLICATION_STATUS_FR, PASS_STATUS_FR, ZONE_STATUS_FR, ZONE_KIND_FR, REVIEW_MODE_FR,
                  ORGANISATION_KIND_FR, ROLE_LABELS, IMPORT_OUTCOME_FR, ENERGY_FR)
    for value, label in table.items()
}
