"""The one table of French labels for the product's enum values, as people read them.

Pages, the journal and the team pages import them from here; an English page translates a label
with the catalog (`_(label)`, cirqliz/web/translations/en/*.po), never shows the raw value.
"""

from __future__ import annotations

from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.organisations import ROLE_LABELS_FR, OrganisationKind
from cirqliz.domain.passes import PassStatus
from cirqliz.domain.vehicles import Energy
from cirqliz.domain.zones import ReviewMode, ZoneKind, ZoneStatus

APPLICATION_STATUS_FR: dict[str, str] = {s.value: s.label_fr for s in ApplicationStatus}
PASS_STATUS_FR: dict[str, str] = {
    PassStatus.ACTIVE.value: "actif",
    PassStatus.SUSPENDED.value: "suspendu",
    PassStatus.REVOKED.value: "révoqué",
    PassStatus.EXPIRED.value: "expiré",
}
ZONE_STATUS_FR: dict[str, str] = {
    ZoneStatus.DRAFT.value: "brouillon",
    ZoneStatus.ACTIVE.value: "active",
    ZoneStatus.SUSPENDED.value: "suspendue",
    ZoneStatus.ARCHIVED.value: "archivée",
}
ZONE_KIND_FR: dict[str, str] = {
    ZoneKind.LIMITED_TRAFFIC.value: "zone à trafic limité",
    ZoneKind.PEDESTRIAN.value: "aire piétonne",
    ZoneKind.LOW_EMISSION.value: "zone à faibles émissions",
    ZoneKind.EVENT_PERIMETER.value: "périmètre d'événement",
}
REVIEW_MODE_FR: dict[str, str] = {
    ReviewMode.MANUAL.value: "examen par un instructeur",
    ReviewMode.AUTOMATIC.value: "automatique",
}
KEY_STATUS_FR: dict[str, str] = {
    "root": "racine", "pending": "en attente de publication", "active": "active", "withdrawn": "retirée",
}
ROLE_LABELS: dict[str, str] = ROLE_LABELS_FR
ORGANISATION_KIND_FR: dict[str, str] = {
    OrganisationKind.AUTHORITY.value: "autorité",
    OrganisationKind.ORGANISER.value: "organisateur d'événements",
    OrganisationKind.COMPANY.value: "entreprise",
}
IMPORT_OUTCOME_FR: dict[str, str] = {
    "created": "créée", "updated": "modifiée", "unchanged": "inchangée", "skipped": "ignorée",
}

ENERGY_LABELS_FR: dict[Energy, str] = {
    Energy.PETROL: "Essence",
    Energy.DIESEL: "Gazole",
    Energy.ELECTRIC: "Électrique",
    Energy.HYDROGEN: "Hydrogène",
    Energy.HYBRID_PETROL: "Hybride essence",
    Energy.HYBRID_DIESEL: "Hybride gazole",
    Energy.PLUGIN_HYBRID: "Hybride rechargeable",
    Energy.LPG: "GPL",
    Energy.NATURAL_GAS: "Gaz naturel (GNV)",
    Energy.OTHER: "Autre",
}
ENERGY_FR: dict[str, str] = {e.value: label for e, label in ENERGY_LABELS_FR.items()}

# Any stored value of the tables above, for texts that do not know which enum a value belongs to
# (the journal's before/after): where a value means two things, the later table wins (a zone's
# "active" and "suspended" read as a zone's, "organiser" as the role).
VALUE_FR: dict[str, str] = {
    **APPLICATION_STATUS_FR, **PASS_STATUS_FR, **ZONE_STATUS_FR, **ZONE_KIND_FR, **REVIEW_MODE_FR,
    **ORGANISATION_KIND_FR, **ROLE_LABELS, **IMPORT_OUTCOME_FR, **ENERGY_FR,
}
