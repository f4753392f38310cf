"""The audit journal in sentences: who did what, and each changed field as "avant → après", with
enum values, hours and dates through the same label tables as the other pages (cirqliz.web.labels;
never raw JSON, action codes or opening_hours syntax).

The sentences are written in French and translated through the catalog (`lang`): verbs and field
names in the "journal" context of translations/en/journal.po, enum labels as the other pages do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from cirqliz.db.models import window_from_json
from cirqliz.domain.applications import ApplicationStatus
from cirqliz.domain.errors import DomainError
from cirqliz.domain.hours_form import describe_hours, describe_windows
from cirqliz.domain.purposes import Purpose
from cirqliz.issuance.mail import application_reference
from cirqliz.web.i18n import translations
from cirqliz.web.labels import APPLICATION_STATUS_FR, PASS_STATUS_FR, VALUE_FR, ZONE_STATUS_FR

if TYPE_CHECKING:
    from cirqliz.db.models import AuditRecord
    from cirqliz.issuance.authority_queries import AuditSubjects

JOURNAL = "journal"  # the catalog context of the journal's verbs and field names
ACTION_FR: dict[str, str] = {
    "create": "a créé", "update": "a modifié", "delete": "a supprimé", "issue": "a émis",
    "revoke": "a révoqué", "suspend": "a suspendu", "reinstate": "a rétabli", "expire": "a fait expirer",
    "submit": "a déposé", "approve": "a accepté", "reject": "a refusé", "request_info": "a demandé un complément pour",
    "provide_info": "a complété", "withdraw": "a retiré", "reopen": "a rouvert", "cancel": "a annulé",
    "close": "a fermé", "accept": "a accepté", "apply": "a appliqué", "publish": "a publié", "build": "a construit",
    "rotate": "a créé une nouvelle clé pour", "disable": "a désactivé", "reactivate": "a réactivé",
    "download": "a téléchargé", "attach_document": "a joint un justificatif à", "bulk_issue": "a émis en lot",
    "mail_suppliers": "a envoyé par courriel aux fournisseurs", "locate": "a localisé",
    "import_create": "a créé par import", "import_update": "a mis à jour par import",
    "import_replace": "a remplacé par import", "import_schedule": "a importé les périodes de",
    "import_locate": "a localisé par import", "geometry": "a redessiné le périmètre de",
    "restriction": "a changé les horaires de réglementation de", "siren": "a renseigné le SIREN de",
    "remove_from_team": "a retiré de l'équipe",
    "password_reset_request": "a demandé à réinitialiser le mot de passe de",
    "password_reset": "a réinitialisé le mot de passe de", "export_exemptions": "a exporté les dérogations de",
    "export_refused": "s'est vu refuser l'export de", "add": "a ajouté", "remove": "a supprimé",
}
# Actions whose sentence names the object itself: "Alice Admin a annulé l'invitation" (then its subject).
ENTITY_ACTION_FR: dict[tuple[str, str], str] = {
    ("invitation", "cancel"): "a annulé l'invitation",
}
FIELD_FR: dict[str, str] = {
    "name": "nom", "code": "code", "kind": "type", "status": "statut", "time_zone": "fuseau horaire",
    "permanent": "permanente", "starts_on": "début", "ends_on": "fin", "geometry": "périmètre",
    "geometry_changed": "périmètre modifié", "rules_changed": "règles modifiées", "rules": "règles d'accès",
    "windows": "créneaux", "opening_hours": "horaires", "restriction_hours": "réglementée",
    "restriction_windows": "réglementée", "purposes": "motifs", "purpose": "motif", "categories": "catégories",
    "max_crit_air": "Crit'Air maximal", "max_weight_kg": "poids maximal (kg)", "min_weight_kg": "poids minimal (kg)",
    "max_length_cm": "longueur maximale (cm)", "max_width_cm": "largeur maximale (cm)",
    "max_height_cm": "hauteur maximale (cm)", "quota_days_per_year": "jours par an",
    "max_pass_days": "durée maximale (jours)", "review_mode": "instruction", "reason": "motif",
    "plate": "plaque", "plates": "plaques", "zones": "zones", "serial": "numéro", "serials": "numéros",
    "valid_from": "valable du", "valid_until": "valable jusqu'au", "starts_at": "début", "ends_at": "fin",
    "authority": "autorité", "seq": "numéro de publication", "revocations": "révocations", "bytes": "taille (octets)",
    "sha256": "empreinte du fichier", "counts": "décompte", "source": "source", "source_id": "identifiant source",
    "url_order": "arrêté", "url_site": "site d'information", "data_version": "version des données",
    "kid": "clé", "alg": "algorithme", "role": "rôle", "email": "adresse", "display_name": "nom affiché",
    "filters": "filtres", "rows": "lignes", "format": "format", "zone": "zone", "count": "nombre",
    "vehicle_class": "classe de véhicules", "critair_from": "Crit'Air restreints à partir de",
    "delegated_to": "délégué à", "event_id": "événement", "company": "fournisseur", "line": "ligne",
    "siren": "SIREN", "comment": "commentaire", "note": "note",
    "created": "créées", "updated": "modifiées", "unchanged": "inchangées", "skipped": "ignorées",
    "errors": "erreurs", "warnings": "avertissements", "orders": "arrêtés à localiser", "repaired": "réparées",
    "ref": "référence", "reference": "référence", "authority_id": "autorité", "organisation_id": "organisation",
    "user_id": "personne", "zone_id": "zone", "delegated_to_id": "délégué à", "application_id": "demande",
    "vehicle_id": "véhicule", "vehicles": "véhicules", "category": "catégorie", "crit_air": "Crit'Air",
    "energy": "énergie", "gross_weight_kg": "PTAC (kg)", "length_cm": "longueur (cm)", "siret": "SIRET",
    "not_before": "valable du", "expires_at": "valable jusqu'au", "description": "description",
    "perimeters": "périmètres", "passes": "laissez-passer", "issuer": "émetteur", "version": "version",
    "iss": "code de l'autorité", "url": "adresse du paquet", "fingerprint": "empreinte de la clé racine",
    "local": "sur cette plateforme", "replaced": "remplacée par une nouvelle invitation",
}
# What a record is about when that object no longer exists (or is not the viewer's authority's).
GONE_FR: dict[str, str] = {
    "zone": "zone supprimée", "access_rule": "règle supprimée", "application": "demande supprimée",
    "pass": "laissez-passer supprimé", "traffic_order": "arrêté supprimé", "organisation": "organisation supprimée",
    "event": "événement supprimé", "api_token": "jeton supprimé", "user": "compte supprimé",
    "membership": "compte supprimé", "invitation": "invitation supprimée", "partner": "partenaire supprimé",
}
SUBJECT_FR: dict[str, str] = {
    "code": "%(name)s (%(code)s)", "number": "n° %(ref)s", "bundle": "paquet n° %(seq)s",
    "rule": "« %(rule)s », zone %(zone)s", "zone_rules": "règles de la zone %(zone)s",
    "invited": "personne invitée",
}
# Personal data that only an authority's administrators see in the journal (they manage the team and
# its invitations; reviewers see their colleagues' names, as actors, not their addresses).
ADMIN_ONLY_FIELDS = frozenset({"email"})
HIDDEN_VALUE = "réservé aux administrateurs"
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
UNNAMED = "non affiché"  # an internal identifier with no name to show (a closure, another authority's object)
_HOURS_FIELDS = frozenset({"opening_hours", "restriction_hours"})
_WINDOW_FIELDS = frozenset({"windows", "restriction_windows"})
MAX_TEXT = 160
# A status means one thing per kind of record (VALUE_FR, which does not know the kind, reads a pass's
# "active" as a zone's).
STATUS_BY_ENTITY: dict[str, Mapping[str, str]] = {
    "pass": PASS_STATUS_FR, "application": APPLICATION_STATUS_FR, "zone": ZONE_STATUS_FR,
}


def _texts(lang: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(gettext, journal-context gettext) for `lang`."""
    catalog = translations(lang)
    return catalog.gettext, lambda text: catalog.pgettext(JOURNAL, text)


def action_sentence(actor: str, action: str, entity: str, lang: str = "fr", kind: str = "") -> str:
    """'Iris Instructrice a refusé : demande' — `entity` already in the page's language, article-less;
    `kind` (the entity's code) picks a sentence of ENTITY_ACTION_FR: 'Alice a annulé l'invitation'."""
    _, j_ = _texts(lang)
    phrase = ENTITY_ACTION_FR.get((kind, action))
    if phrase is not None:
        sentence = j_("%(actor)s %(verb)s") % {"actor": actor, "verb": j_(phrase)}
        return sentence[:1].upper() + sentence[1:]
    verb = ACTION_FR.get(action)
    if verb is not None:
        verb = j_(verb)
    elif action.startswith("status_"):
        verb = j_("a passé au statut « %(status)s »") % {"status": _(VALUE_FR.get(action[7:], action[7:]))}
    elif action.startswith("import_"):
        verb = j_("a importé")
    else:
        verb = j_("a modifié")
    sentence = j_("%(actor)s %(verb)s : %(entity)s") % {"actor": actor, "verb": verb, "entity": entity}
    return sentence[:1].upper() + sentence[1:]  # "Le système a créé…"


def value_text(field: str, value: Any, lang: str = "fr", names: Mapping[str, str] | None = None,
               entity: str = "") -> str:
    """A stored value as a person reads it; an object's uuid becomes its name from `names` (never
    the uuid itself: "non affiché" when it has none). `entity` (the record's) picks the label of a
    status: a pass's "active" is « valide », a zone's « active »."""
    _, j_ = _texts(lang)
    if value is None or value == "" or value == []:
        return "—"
    if field == "status" and isinstance(value, str) and value in STATUS_BY_ENTITY.get(entity, {}):
        return _(STATUS_BY_ENTITY[entity][value])
    if field == "zones" and entity == "pass" and type(value) is int:  # a pass's zone, by its reference number
        return (names or {}).get(zone_ref_key(value)) or str(value)
    if isinstance(value, str) and UUID_TEXT.fullmatch(value):
        return (names or {}).get(value.lower()) or j_(UNNAMED)
    if field in _HOURS_FIELDS and isinstance(value, str):
        try:
            return describe_hours(value, lang=lang)
        except DomainError:
            return value
    if field in _WINDOW_FIELDS and isinstance(value, list):
        try:
            return describe_windows([window_from_json(w) for w in value if isinstance(w, Mapping)], lang=lang)
        except (DomainError, KeyError, TypeError, ValueError):
            return j_("%(n)s créneau(x)") % {"n": len(value)}
    if field in ("purposes", "purpose"):
        items = value if isinstance(value, list) else [value]
        return ", ".join(_purpose(v, _) for v in items)
    if field == "geometry" and isinstance(value, Mapping):
        return j_("périmètre dessiné")
    if isinstance(value, bool):
        return j_("oui") if value else j_("non")
    if isinstance(value, str):
        label = VALUE_FR.get(value)
        return _(label) if label is not None else _date_text(value)
    if isinstance(value, list):
        return ", ".join(value_text(field, v, lang, names, entity) for v in value) or "—"
    if isinstance(value, Mapping):
        parts = [j_("%(field)s : %(value)s") % {"field": _field(str(k), j_),
                                                   "value": value_text(str(k), v, lang, names)}
                 for k, v in value.items()]
        return _clip("; ".join(parts))
    return str(value)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, lang: str = "fr", *,
            hidden: Iterable[str] = (), names: Mapping[str, str] | None = None, entity: str = "") -> list[str]:
    """One line per field: 'statut : déposée → refusée', 'motif : Hors périmètre' (no before).
    The `hidden` fields (personal data the viewer's role does not see) are named, their values not;
    objects' uuids are shown by their `names`, a status by the table of the record's `entity` (see
    value_text)."""
    _, j_ = _texts(lang)
    before, after = dict(before or {}), dict(after or {})
    masked = j_(HIDDEN_VALUE)
    for key in set(hidden) & {*before, *after}:
        before.update({key: masked} if before.get(key) else {})
        after.update({key: masked} if after.get(key) else {})
    lines = []
    for key in list(dict.fromkeys([*before, *after])):
        label = _field(key, j_)
        old, new = before.get(key), after.get(key)
        if key in before and key in after:
            if old == new:
                continue
            was, now = value_text(key, old, lang, names, entity), value_text(key, new, lang, names, entity)
            text = f"{_clip(was)} → {_clip(now)}"
        elif key in after:
            if new is None or new == "" or new == []:
                continue  # a new record's empty fields say nothing
            text = _clip(value_text(key, new, lang, names, entity))
        else:
            text = f"{_clip(value_text(key, old, lang, names, entity))} → —"
        lines.append(j_("%(field)s : %(value)s") % {"field": label, "value": text})
    return lines


def _field(key: str, j_: Callable[[str], str]) -> str:
    label = FIELD_FR.get(key)
    return j_(label) if label is not None else key.replace("_", " ")


def _purpose(value: Any, gettext: Callable[[str], str]) -> str:
    try:
        return gettext(Purpose(int(value)).label_fr)
    except (TypeError, ValueError):
        return str(value)
def _date_text(text: str) -> str:
    """ISO dates and times as dd/mm/yyyy (hh:mm UTC); anything else unchanged."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text).strftime("%d/%m/%Y")
        if len(text) >= 16 and text[4] == "-" and "T" in text:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%d/%m/%Y %H:%M UTC")
    except ValueError:
        pass
    return text


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a journal record is about, in the business's words, and the page showing it (if the
    viewer may open one)."""

    text: str
    href: str | None = None


def subject(record: AuditRecord, found: AuditSubjects, *, admin: bool, lang: str = "fr") -> Subject | None:
    """The object of `record` ('Centre historique (ZTL-01)', 'n° 1A2B3C4D', 'paquet n° 12'…), never
    its uuid; None for a record whose entity has no name of its own (an import, an export).
    `admin`: the viewer is an authority administrator (zone, order, event and key pages are theirs,
    and so are the addresses of pending invitations)."""
    _, j_ = _texts(lang)
    entity, data = record.entity, dict(record.after or {}) or dict(record.before or {})
    row = found.objects.get((entity, record.entity_id))
    gone = GONE_FR.get(entity)

    def missing() -> Subject | None:
        return Subject(j_(gone)) if gone is not None else None

    if entity in ("zone", "traffic_order"):
        if row is None:
            return missing()
        page = "zones" if entity == "zone" else "arretes"
        return Subject(j_(SUBJECT_FR["code"]) % {"name": row["name"], "code": row["code"]},
                       f"/autorite/{page}/{row['id']}" if admin else None)
    if entity == "access_rule":
        if row is not None:
            return Subject(j_(SUBJECT_FR["rule"]) % {"rule": row["name"] or "—", "zone": row["zone_code"]},
                           f"/autorite/zones/{row['zone_id']}/regles/{row['id']}" if admin else None)
        zone = found.objects.get(("zone", record.entity_id))  # an import's replacement of a zone's rules
        if zone is not None:
            return Subject(j_(SUBJECT_FR["zone_rules"]) % {"zone": zone["code"]},
                           f"/autorite/zones/{zone['id']}" if admin else None)
        return missing()
    if entity == "application":
        if row is None:
            return missing()
        # A draft is the company's own until submitted: the authority has no page for it.
        draft = row.get("status") == ApplicationStatus.DRAFT.value
        return Subject(j_(SUBJECT_FR["number"]) % {"ref": application_reference(row["id"])},
                       None if draft else f"/autorite/demandes/{row['id']}")
    if entity == "pass":
        if row is None:
            return None if record.entity_id == "*" else missing()  # "*": the expiry sweep of every pass
        return Subject(j_(SUBJECT_FR["number"]) % {"ref": row["serial"]}, f"/autorite/laissez-passer/{row['id']}")
    if entity == "organisation":
        if row is None:
            return missing()
        organiser = row["kind"] == "organiser" and admin
        return Subject(row["name"], f"/autorite/organisateurs/{row['id']}" if organiser else None)
    if entity in ("event", "api_token"):
        if row is None:
            return missing()
        return Subject(row["name"], f"/autorite/evenements/{row['id']}" if entity == "event" and admin else None)
    if entity == "key":
        return Subject(record.entity_id, "/autorite/cles" if admin else None)
    if entity == "bundle":
        return Subject(j_(SUBJECT_FR["bundle"]) % {"seq": record.entity_id})
    if entity == "partner":
        return Subject(str(data["name"])) if data.get("name") else missing()
    if entity in ("user", "membership", "invitation"):
        person = record.entity_id if entity == "user" else data.get("user_id")
        name = found.people.get(str(person)) if person else None
        if name:
            return Subject(name)
        if entity == "invitation":
            data = {**dict(record.before or {}), **dict(record.after or {})}  # a cancellation: the address is before
            if data.get("email"):
                return Subject(str(data["email"]) if admin else j_(SUBJECT_FR["invited"]))
        return missing()
    return None


def value_names(found: AuditSubjects, lang: str = "fr") -> dict[str, str]:
    """The names of the objects a page's records name in their values, by uuid (for `changes`)."""
    _, j_ = _texts(lang)
    names = dict(found.people)
    for (kind, object_id), row in found.objects.items():
        if kind == "zone":
            names[object_id] = j_(SUBJECT_FR["code"]) % {"name": row["name"], "code": row["code"]}
        elif kind == "application":
            names[object_id] = j_(SUBJECT_FR["number"]) % {"ref": application_reference(row["id"])}
        elif kind == "pass":
            names[object_id] = j_(SUBJECT_FR["number"]) % {"ref": row["serial"]}
        elif kind in ("organisation", "event"):
            names[object_id] = row["name"]
        elif kind == "zone_ref":
            names[zone_ref_key(row["id"])] = row["code"]
    return names


def zone_ref_key(ref: int) -> str:
    """The key of a zone's reference number in `value_names` (pass records name zones that way)."""
    return f"zone-ref:{ref}"
