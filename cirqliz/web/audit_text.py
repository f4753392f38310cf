"""The audit journal in sentences: who did what, and each changed field as "avant → après", with
enum values, hours and dates through the same label tables as the other pages (cirqliz.web.labels;
never raw JSON, action codes or opening_hours syntax).

The sentences are written in French and translated through the catalog (`lang`): verbs and field
names in the "journal" context of translations/en/journal.po, enum labels as the other pages do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from cirqliz.db.models import window_from_json
from cirqliz.domain.errors import DomainError
from cirqliz.domain.hours_form import describe_hours, describe_windows
from cirqliz.domain.purposes import Purpose
from cirqliz.web.i18n import translations
from cirqliz.web.labels import VALUE_FR

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
    "local": "sur cette plateforme",
}
_HOURS_FIELDS = frozenset({"opening_hours", "restriction_hours"})
_WINDOW_FIELDS = frozenset({"windows", "restriction_windows"})
MAX_TEXT = 160


def _texts(lang: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(gettext, journal-context gettext) for `lang`."""
    catalog = translations(lang)
    return catalog.gettext, lambda text: catalog.pgettext(JOURNAL, text)


def action_sentence(actor: str, action: str, entity: str, lang: str = "fr") -> str:
    """'Iris Instructrice a refusé : demande' — `entity` already in the page's language, article-less."""
    _, j_ = _texts(lang)
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


def value_text(field: str, value: Any, lang: str = "fr") -> str:
    """A stored value as a person reads it."""
    _, j_ = _texts(lang)
    if value is None or value == "" or value == []:
        return "—"
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
        return ", ".join(value_text(field, v, lang) for v in value) or "—"
    if isinstance(value, Mapping):
        parts = [j_("%(field)s : %(value)s") % {"field": _field(str(k), j_), "value": value_text(str(k), v, lang)}
                 for k, v in value.items()]
        return _clip("; ".join(parts))
    return str(value)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, lang: str = "fr") -> list[str]:
    """One line per field: 'statut : déposée → refusée', 'motif : Hors périmètre' (no before)."""
    _, j_ = _texts(lang)
    before, after = dict(before or {}), dict(after or {})
    lines = []
    for key in list(dict.fromkeys([*before, *after])):
        label = _field(key, j_)
        old, new = before.get(key), after.get(key)
        if key in before and key in after:
            if old == new:
                continue
            text = f"{_clip(value_text(key, old, lang))} → {_clip(value_text(key, new, lang))}"
        elif key in after:
            if new is None or new == "" or new == []:
                continue  # a new record's empty fields say nothing
            text = _clip(value_text(key, new, lang))
        else:
            text = f"{_clip(value_text(key, old, lang))} → —"
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
