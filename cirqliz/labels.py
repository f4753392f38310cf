"""The one French label table of each enum that people read: pages, CSV files, e-mails, CLI messages.

Web, CLI, exports, mails and jobs import their labels from here, never keep their own table (checked by
tests/unit/test_labels.py); an English page translates a label with the catalog (`_(label)`). Tables
are keyed by enum members: a StrEnum or IntEnum member hashes and compares like its value, so a stored
value ("active", 3) finds its label too. This module imports only the domain (the CLI reads it).
"""

from __future__ import annotations

from cirqliz.domain.applications import ApplicationAction, ApplicationStatus
from cirqliz.domain.organisations import OrganisationKind, Role
from cirqliz.domain.passes import ExemptionKind, PassStatus
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import CritAir, Energy, VehicleCategory
from cirqliz.domain.zones import ReviewMode, TrafficOrderStatus, ZfeVehicleClass, ZoneKind, ZoneStatus

APPLICATION_STATUS_FR: dict[str, str] = {
    ApplicationStatus.DRAFT: "brouillon",
    ApplicationStatus.SUBMITTED: "déposée",
    ApplicationStatus.NEEDS_INFO: "complément demandé",
    ApplicationStatus.APPROVED: "acceptée",
    ApplicationStatus.REJECTED: "refusée",
    ApplicationStatus.WITHDRAWN: "retirée",
}
APPLICATION_ACTION_FR: dict[str, str] = {
    ApplicationAction.SUBMIT: "Demande déposée",
    ApplicationAction.REQUEST_INFO: "Complément demandé par l'instructeur",
    ApplicationAction.PROVIDE_INFO: "Complément fourni",
    ApplicationAction.APPROVE: "Demande acceptée",
    ApplicationAction.REJECT: "Demande refusée",
    ApplicationAction.WITHDRAW: "Demande retirée",
}
"""An application's history, one line per action."""
APPLICATION_ACTION_VERB_FR: dict[str, str] = {
    ApplicationAction.SUBMIT: "déposer",
    ApplicationAction.REQUEST_INFO: "demander un complément",
    ApplicationAction.PROVIDE_INFO: "envoyer le complément",
    ApplicationAction.APPROVE: "accepter",
    ApplicationAction.REJECT: "refuser",
    ApplicationAction.WITHDRAW: "retirer",
}
"""What an action does, as an infinitive: « impossible d'accepter : la demande est refusée »."""

PASS_STATUS_FR: dict[str, str] = {
    PassStatus.ACTIVE: "valide",
    PassStatus.SUSPENDED: "suspendu",
    PassStatus.REVOKED: "révoqué",
    PassStatus.EXPIRED: "expiré",
}
EXEMPTION_KIND_FR: dict[str, str] = {
    ExemptionKind.NATIONAL: "dérogation nationale",
    ExemptionKind.LOCAL: "dérogation locale",
    ExemptionKind.DAY_PASS: "pass journée",
}
EXEMPTION_STATUS_FR: dict[str, str] = {"active": "en cours", "upcoming": "à venir", "expired": "échue"}
"""Where a row of the exemptions export stands on the day asked (cirqliz.issuance.exemptions.STATUSES)."""

PURPOSE_FR: dict[int, str] = {
    Purpose.DELIVERY: "Livraison",
    Purpose.ARTISAN: "Artisan, chantier",
    Purpose.RESIDENT: "Riverain",
    Purpose.EMERGENCY: "Urgence, secours",
    Purpose.EVENT_SUPPLIER: "Prestataire d'événement",
    Purpose.REMOVAL: "Déménagement",
    Purpose.PUBLIC_SERVICE: "Service public",
    Purpose.HEALTH_CARE: "Soins à domicile",
    Purpose.TAXI: "Taxi, VTC",
    Purpose.OTHER: "Autre",
}

_CATEGORY_GROUP_FR = {
    "L": "deux ou trois roues, quadricycle",
    "M": "transport de personnes",
    "N": "transport de marchandises",
}
VEHICLE_CATEGORY_FR: dict[str, str] = {c: f"{_CATEGORY_GROUP_FR[c.value[0]]} ({c.value})" for c in VehicleCategory}
# PTAC: poids total autorisé en charge (carte grise, rubrique F.2). The L limits are those of
# règlement (UE) n° 168/2013, annexe I; M and N those of règlement (UE) 2018/858, article 4.
VEHICLE_CATEGORY_DESCRIPTION_FR: dict[str, str] = {
    VehicleCategory.L1E: "cyclomoteur à deux roues, ≤ 50 cm³ ou ≤ 4 kW, ≤ 45 km/h",
    VehicleCategory.L2E: "cyclomoteur à trois roues, ≤ 45 km/h",
    VehicleCategory.L3E: "moto à deux roues, plus de 50 cm³ ou plus de 45 km/h",
    VehicleCategory.L4E: "moto avec side-car",
    VehicleCategory.L5E: "tricycle à moteur, plus de 45 km/h",
    VehicleCategory.L6E: "quadricycle léger (voiturette sans permis), ≤ 425 kg à vide, ≤ 45 km/h",
    VehicleCategory.L7E: "quadricycle lourd (quad, voiturette), ≤ 450 kg à vide (600 kg pour les "
                         "marchandises), ≤ 15 kW",
    VehicleCategory.M1: "voiture, 8 places assises au plus en plus du conducteur",
    VehicleCategory.M2: "minibus, plus de 8 places en plus du conducteur, PTAC ≤ 5 t",
    VehicleCategory.M3: "autobus ou autocar, plus de 8 places en plus du conducteur, PTAC > 5 t",
    VehicleCategory.N1: "camionnette, PTAC ≤ 3,5 t",
    VehicleCategory.N2: "camion, 3,5 t < PTAC ≤ 12 t",
    VehicleCategory.N3: "poids lourd, PTAC > 12 t",
}
"""What each category is, in a driver's words."""

CRIT_AIR_FR: dict[int, str] = {
    CritAir.ZERO: "Crit'Air 0 (électrique)",
    CritAir.ONE: "Crit'Air 1",
    CritAir.TWO: "Crit'Air 2",
    CritAir.THREE: "Crit'Air 3",
    CritAir.FOUR: "Crit'Air 4",
    CritAir.FIVE: "Crit'Air 5",
}
ENERGY_FR: dict[str, str] = {
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

ROLE_FR: dict[str, str] = {
    Role.AUTHORITY_ADMIN: "Administrateur de l'autorité",
    Role.REVIEWER: "Instructeur",
    Role.AGENT: "Agent de contrôle",
    Role.ORGANISER: "Organisateur d'événement",
    Role.PROFESSIONAL: "Professionnel",
}
"""Highest role first (the CLI lists roles in this order); lower-cased inside a sentence."""
ORGANISATION_KIND_FR: dict[str, str] = {
    OrganisationKind.AUTHORITY: "autorité",
    OrganisationKind.ORGANISER: "organisateur d'événements",
    OrganisationKind.COMPANY: "entreprise",
}

ZONE_STATUS_FR: dict[str, str] = {
    ZoneStatus.DRAFT: "brouillon",
    ZoneStatus.ACTIVE: "active",
    ZoneStatus.SUSPENDED: "suspendue",
    ZoneStatus.ARCHIVED: "archivée",
}
ZONE_TRANSITION_FR: dict[str, str] = {
    ZoneStatus.ACTIVE: "Activer",
    ZoneStatus.SUSPENDED: "Suspendre",
    ZoneStatus.ARCHIVED: "Archiver",
}
"""What the button that takes a zone to a status says (a zone never goes back to draft)."""
ZONE_KIND_FR: dict[str, str] = {
    ZoneKind.LIMITED_TRAFFIC: "zone à trafic limité",
    ZoneKind.PEDESTRIAN: "aire piétonne",
    ZoneKind.LOW_EMISSION: "zone à faibles émissions",
    ZoneKind.EVENT_PERIMETER: "périmètre d'événement",
}
REVIEW_MODE_FR: dict[str, str] = {
    ReviewMode.MANUAL: "examen par un instructeur",
    ReviewMode.AUTOMATIC: "automatique",
}
TRAFFIC_ORDER_STATUS_FR: dict[str, str] = {
    TrafficOrderStatus.TO_LOCATE: "à localiser",
    TrafficOrderStatus.LOCATED: "localisé",
}
ZFE_VEHICLE_CLASS_FR: dict[str, str] = {
    ZfeVehicleClass.VP: "voitures particulières",
    ZfeVehicleClass.VUL: "véhicules utilitaires légers",
    ZfeVehicleClass.PL: "poids lourds",
    ZfeVehicleClass.AUTOBUS_AUTOCARS: "autobus et autocars",
    ZfeVehicleClass.DEUX_RM: "deux-roues, tricycles et quadricycles à moteur",
}
EVENT_STATUS_FR: dict[str, str] = {
    "draft": "brouillon", "submitted": "soumis", "approved": "approuvé", "rejected": "refusé",
}
"""Where an event's approval stands (event_approval.status)."""

# Keyed by value: the API tokens' module needs the database, this module must not.
SCOPE_FR: dict[str, str] = {
    "applications:write": "déposer et suivre des demandes",
    "passes:read": "lire les laissez-passer (texte, QR, statut)",
    "verify": "vérifier un laissez-passer",
    "exports:read": "lire les exports",
}
"""What an API token may do (cirqliz.issuance.api_tokens.Scope)."""

KEY_ROLE_FR: dict[str, str] = {"root": "racine", "signing": "signature"}
KEY_STATUS_FR: dict[str, str] = {
    "root": "racine", "pending": "en attente de publication", "active": "active", "withdrawn": "retirée",
}
"""A key's status (cirqliz.issuance.keystore: KeyEntry.status, "root" for the root key)."""
JOB_OUTCOME_FR: dict[str, str] = {"running": "en cours", "ok": "réussie", "skipped": "évitée", "failed": "échec"}
"""How a job run ended (job_run.outcome)."""
IMPORT_OUTCOME_FR: dict[str, str] = {
    "created": "créée", "updated": "modifiée", "unchanged": "inchangée", "skipped": "ignorée",
}
"""What an import did with one zone (zone and event imports)."""
AUDIT_ENTITY_FR: dict[str, str] = {
    "zone": "zone", "access_rule": "règle d'accès", "application": "demande", "pass": "laissez-passer",
    "bundle": "publication", "key": "clé", "traffic_order": "arrêté de circulation",
    "partner": "autorité partenaire", "organisation": "organisation", "membership": "rôle dans l'équipe",
    "invitation": "invitation", "user": "compte", "event": "événement", "api_token": "jeton d'API",
    "exemption": "dérogation", "import": "import d'événements", "zone_import": "import de zones", "export": "export",
    "vehicle": "véhicule",
}
"""What a journal entry is about (audit_log.entity)."""


def capitalised(label: str) -> str:
    """A label at the start of a line or a title: 'valide' → 'Valide'."""
    return label[:1].upper() + label[1:]
