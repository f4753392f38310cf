"""Permanent zones from open-data files into the database (ZFE schema GeoJSON, Cerema CSV).

The records of the ZFE and Cerema importers (cirqliz.imports) are applied to one authority's
zones. The zone `code` (derived deterministically by the importers) is the key: a record whose
code is new creates an active zone, a known code updates the zone when something differs
(its columns, restriction schedule, provenance, geometry or imported rules) and is reported
"unchanged" otherwise, so importing the same file twice changes nothing.

ADR 0007:
- Provenance is kept in fields, never in names: zone `source`, `source_id`, `url_order`,
  `url_site`, `source_properties` (the source's other properties, verbatim); rule `source`,
  `source_id`, `vehicle_class`, `critair_from` and the vehicle limits. A rule's `name` is a
  readable French label. A re-import replaces the rules whose `source`/`source_id` are the
  zone's import; the rules typed by hand (`source` "") are left alone.
- The source's hours (ZFE `*_horaires`, Cerema `PERIODE_JH`) are the zone's *restriction
  schedule* (`restriction_hours`, `restriction_windows`); hours that cannot be expressed as
  windows keep their text with null windows (in force at all times) and a warning. Imported
  rules have no hours of their own: a holder may enter at any time while the restriction is in
  force.
- Cerema rows without a geometry are kept as the authority's traffic orders "à localiser"
  (`traffic_order`, keyed by authority, source and source id: created, updated or unchanged).

Every input item (feature, CSV row) is in the report (ImportReport.items), with its position,
line, id and name: created, updated, unchanged, à localiser or skipped (and whether its geometry
was repaired), so the totals add up to the input.

Everything is planned before anything is written: a record that cannot be applied (or a problem
of severity "error" reported by the importer) refuses the whole import (ZoneImportRefused) with
nothing written. The caller owns the transaction; `dry_run` plans only (the preview).

Export: see cirqliz.issuance.zone_exports.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import AccessRule, Organisation, TrafficOrder, Zone, window_to_json
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.zones import (
    ReviewMode,
    TrafficOrderStatus,
    ZoneKind,
    ZoneStatus,
    check_time_zone,
    check_zone_dates,
    validate_geometry,
)
from cirqliz.imports.cerema import import_cerema
from cirqliz.imports.common import local_day_of, read_off_loop
from cirqliz.imports.records import ImportBatch, ItemReport, Problem, TrafficOrderRecord, ZoneRecord, traffic_order_json
from cirqliz.imports.zfe import import_zfe
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.issuance.zones import change_zone_status, create_zone
from cirqliz.labels import IMPORT_OUTCOME_FR, TRAFFIC_ORDER_STATUS_FR, ZFE_VEHICLE_CLASS_FR, capitalised

FORMATS = ("zfe", "cerema")
Action = Literal["created", "updated", "unchanged", "skipped", "order"]
OrderAction = Literal["created", "updated", "unchanged"]
ACTION_FR = {**IMPORT_OUTCOME_FR, "order": TRAFFIC_ORDER_STATUS_FR[TrafficOrderStatus.TO_LOCATE]}
ORDER_ACTION_FR = {"created": "nouvel arrêté", "updated": "arrêté modifié", "unchanged": "arrêté déjà connu"}
# The `source` stored on zones, rules and orders, per importer source. "cerema" is what the rule
# markers said before migration 0010, which moved them into the fields.
STORED_SOURCE = {"zfe": "zfe", "cerema-marchandises": "cerema"}
# `[source:id] label`: the marker imported rules had in their name before migration 0010.
_RULE_MARK = re.compile(r"^\[(?P<source>[a-z0-9_-]+):(?P<source_id>[^\]]+)\]\s?(?P<label>.*)$", re.S)
_BASE_FIELDS = ("name", "kind", "time_zone", "permanent", "starts_on", "ends_on")
_SCHEDULE_FIELDS = ("restriction_hours", "restriction_windows", "source", "source_id", "url_order", "url_site",
                    "source_properties")
_ZONE_FIELDS = _BASE_FIELDS + _SCHEDULE_FIELDS
_RULE_FIELDS = ("name", "source", "source_id", "vehicle_class", "critair_from", "categories", "max_crit_air",
                "min_weight_kg", "max_weight_kg", "max_length_cm", "max_width_cm", "max_height_cm",
                "opening_hours", "windows")
_ORDER_FIELDS = ("code", "name", "insee", "order_ref", "order_date", "order_object", "restriction_hours", "rules")
FIELD_FR = {"name": "nom", "kind": "type", "time_zone": "fuseau horaire", "permanent": "permanente",
            "starts_on": "date de début", "ends_on": "date de fin", "geometry": "géométrie",
            "rules": "règles d'accès", "restriction_hours": "horaires de restriction",
            "restriction_windows": "créneaux de restriction", "source": "source", "source_id": "identifiant source",
            "url_order": "lien de l'arrêté", "url_site": "site d'information",
            "source_properties": "propriétés d'origine", "code": "code", "insee": "code commune",
            "order_ref": "référence de l'arrêté", "order_date": "date de l'arrêté", "order_object": "objet"}


class ZoneImportRefused(DomainError):
    """Some records cannot be applied: nothing was written; `report` says which and why."""

    code = "zone_import_refused"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.refusal_message())
        self.report = report


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """An imported access rule, as stored (the comparison key of re-imports)."""

    name: str
    source: str
    source_id: str
    vehicle_class: str = ""
    critair_from: str | None = None
    categories: tuple[str, ...] = ()
    max_crit_air: int | None = None
    min_weight_kg: int | None = None
    max_weight_kg: int | None = None
    max_length_cm: int | None = None
    max_width_cm: int | None = None
    max_height_cm: int | None = None
    opening_hours: str | None = None
    windows: str | None = None
    """The stored windows as canonical JSON (None: at any time while the restriction is in force)."""

    @classmethod
    def of(cls, rule: AccessRule) -> RuleSpec:
        """The spec of a stored rule."""
        windows = None if rule.windows is None else json.dumps(rule.windows, sort_keys=True)
        return cls(rule.name, rule.source, rule.source_id, rule.vehicle_class or "", rule.critair_from,
                   tuple(sorted(rule.categories or ())), rule.max_crit_air, rule.min_weight_kg, rule.max_weight_kg,
                   rule.max_length_cm, rule.max_width_cm, rule.max_height_cm, rule.opening_hours, windows)


@dataclass(frozen=True, slots=True)
class ZoneOutcome:
    """What the import does (or did) to one zone."""

    code: str
    name: str
    action: Action
    source_id: str | None = None
    changes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    zone_id: uuid.UUID | None = None
    rules: int = 0

    def describe(self) -> str:
        """One French line, e.g. 'ZFE-200046977-ZFE-001 : modifiée (géométrie, règles d'accès)'."""
        text = f"{self.code} : {ACTION_FR[self.action]}"
        details = [FIELD_FR.get(c, c) for c in self.changes] + list(self.reasons)
        return f"{text} ({', '.join(details)})" if details else text


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What the import does (or did) to one traffic order kept without geometry."""

    code: str
    name: str
    action: OrderAction
    source_id: str
    changes: tuple[str, ...] = ()
    located: bool = False
    order_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What became of one input item (feature, row): its place in the file, its id and name, the
    action, the zone or order code, whether its geometry was repaired and notes in French."""

    index: int
    unit: str
    action: Action
    line: int | None = None
    source_id: str | None = None
    name: str | None = None
    code: str | None = None
    repaired: bool = False
    notes: tuple[str, ...] = ()
    order_action: OrderAction | None = None
    zone_id: uuid.UUID | None = None

    @property
    def where(self) -> str:
        """'ligne 4', 'entité 2 (ligne 40)'."""
        text = f"{self.unit} {self.index}"
        if self.line is not None and self.line != self.index:
            text += f" (ligne {self.line})"
        return text

    def status_fr(self, *, preview: bool = False) -> str:
        """The action in French ('créée', 'à créer' in a preview, 'à localiser (nouvel arrêté)')."""
        labels = PREVIEW_FR if preview else ACTION_FR
        text = labels[self.action]
        if self.order_action is not None:
            text += f" ({ORDER_ACTION_FR[self.order_action]})"
        if self.repaired:
            text += ", géométrie réparée"
        return text

    def describe(self, *, preview: bool = False) -> str:
        """One French line, e.g. 'ligne 3 [13022:38, Avenue X] : à localiser (nouvel arrêté) — …'."""
        ident = ", ".join(x for x in (self.source_id, self.name) if x)
        text = self.where + (f" [{ident}]" if ident else "") + f" : {self.status_fr(preview=preview)}"
        if self.code and self.action != "skipped":
            text += f" → {self.code}"
        return f"{text} — {' ; '.join(self.notes)}" if self.notes else text


PREVIEW_FR = {"created": "à créer", "updated": "à modifier", "unchanged": "inchangée", "skipped": "ignorée",
              "order": "à localiser"}


@dataclass
class ImportReport:
    """The outcome of an import: every input item, the zones and orders, and the problems met."""

    source: str
    dry_run: bool
    outcomes: list[ZoneOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sha256: str | None = None
    items: list[ItemOutcome] = field(default_factory=list)
    orders: list[OrderOutcome] = field(default_factory=list)
    located: list[str] = field(default_factory=list)
    """Codes of orders "à localiser" that a row with a geometry now locates."""

    def _with(self, action: Action) -> list[ZoneOutcome]:
        return [o for o in self.outcomes if o.action == action]

    @property
    def created(self) -> list[ZoneOutcome]:
        """Zones created (or to be created, in a dry run)."""
        return self._with("created")

    @property
    def updated(self) -> list[ZoneOutcome]:
        """Zones changed."""
        return self._with("updated")

    @property
    def unchanged(self) -> list[ZoneOutcome]:
        """Zones already as the file says."""
        return self._with("unchanged")

    @property
    def skipped(self) -> list[ZoneOutcome]:
        """Zones left aside (archived, delegated...), each with its reasons."""
        return self._with("skipped")

    @property
    def errors(self) -> list[Problem]:
        """Problems that refuse the import."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Remarks that do not stop the import."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """Whether the import can be (or was) applied."""
        return not self.errors

    @property
    def changes_anything(self) -> bool:
        """Whether applying it writes something."""
        return bool(self.created or self.updated or self.located
                    or any(o.action != "unchanged" for o in self.orders))

    def counts(self) -> dict[str, int]:
        """Input items per action (created + updated + unchanged + to_locate + skipped = items),
        items whose geometry was repaired, errors and warnings."""
        by_action = {a: sum(1 for i in self.items if i.action == a) for a in ACTION_FR}
        return {"items": len(self.items), "created": by_action["created"], "updated": by_action["updated"],
                "unchanged": by_action["unchanged"], "to_locate": by_action["order"],
                "skipped": by_action["skipped"], "repaired": sum(1 for i in self.items if i.repaired),
                "errors": len(self.errors), "warnings": len(self.warnings)}

    def refusal_message(self) -> str:
        """French: why nothing was (or would be) written."""
        errors = self.errors
        first = errors[0].describe() if errors else ""
        return f"import refusé, rien n'a été enregistré : {len(errors)} erreur(s) ; {first}"

    def summary_fr(self) -> str:
        """One French line: the mode and the counts."""
        counts = self.counts()
        if not self.ok:
            mode = "refusé, rien n'a été enregistré"
        elif self.dry_run:
            mode = "aperçu, rien n'a été enregistré"
        else:
            mode = "appliqué"
        created, updated = ("à créer", "à modifier") if self.dry_run or not self.ok else ("créée(s)", "modifiée(s)")
        return (f"import {self.source} ({mode}) : {counts['items']} élément(s) lu(s) — {counts['created']} "
                f"zone(s) {created}, {counts['updated']} {updated}, {counts['unchanged']} inchangée(s), "
                f"{counts['to_locate']} arrêté(s) à localiser, {counts['skipped']} ignoré(s) ; "
                f"{counts['repaired']} géométrie(s) réparée(s), {counts['errors']} erreur(s), "
                f"{counts['warnings']} remarque(s)")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI --json, logs)."""
        return {
            "source": self.source, "dry_run": self.dry_run, "ok": self.ok, "sha256": self.sha256,
            "counts": self.counts(),
            "items": [{"index": i.index, "unit": i.unit, "line": i.line, "source_id": i.source_id, "name": i.name,
                       "action": i.action, "order_action": i.order_action, "code": i.code, "repaired": i.repaired,
                       "notes": list(i.notes), "description": i.describe(preview=self.dry_run)} for i in self.items],
            "zones": [{"code": o.code, "name": o.name, "action": o.action, "source_id": o.source_id,
                       "changes": list(o.changes), "reasons": list(o.reasons), "rules": o.rules,
                       "zone_id": str(o.zone_id) if o.zone_id else None} for o in self.outcomes],
            "orders": [{"code": o.code, "name": o.name, "action": o.action, "source_id": o.source_id,
                        "changes": list(o.changes), "located": o.located} for o in self.orders],
            "located_orders": list(self.located),
            "problems": [{"item": p.item, "unit": p.unit, "field": p.field, "message": p.message, "code": p.code,
                          "severity": p.severity, "item_id": p.item_id, "description": p.describe()}
                         for p in self.problems],
        }


# ---- reading files ------------------------------------------------------------------------


def read_zone_file(data: bytes | str, fmt: str) -> ImportBatch[Any]:
    """The importer's batch for a file of format `fmt` ('zfe' or 'cerema'); ImportFileError if the
    file cannot be read at all."""
    if fmt == "zfe":
        return import_zfe(data)
    if fmt == "cerema":
        return import_cerema(data)
    raise DomainError(f"format d'import inconnu : {fmt!r} (attendu : {', '.join(FORMATS)})",
                      code="import_format_unknown")


async def import_zone_file(
    session: AsyncSession, *, authority_id: uuid.UUID, data: bytes | str, fmt: str, clock: Clock,
    actor_id: uuid.UUID | None = None, dry_run: bool = False,
) -> ImportReport:
    """Read a file and apply it (see apply_zone_records); the report carries the file's SHA-256."""
    batch = await read_off_loop(lambda _deadline: read_zone_file(data, fmt))  # off the event loop, time-limited
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return await apply_zone_records(session, authority_id=authority_id, records=batch, clock=clock,
                                    actor_id=actor_id, dry_run=dry_run, source=fmt,
                                    sha256=hashlib.sha256(raw).hexdigest())


# ---- planning -----------------------------------------------------------------------------


def parse_rule_marker(name: str) -> tuple[str, str, str] | None:
    """(source, source_id, label) of a rule name carrying the marker imports wrote before
    migration 0010 (`[zfe:ID] vp V4`); None for any other name. Imports no longer write markers."""
    match = _RULE_MARK.match(name or "")
    return (match["source"], match["source_id"], match["label"]) if match else None


def stored_source(source: str) -> str:
    """The `source` stored for records of an importer source ('cerema-marchandises' → 'cerema')."""
    return STORED_SOURCE.get(source, source)[:32]


def _number_fr(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def zfe_rule_label(vehicle_class: str, critair_from: str) -> str:
    """French name of an imported ZFE rule, e.g. "Voitures particulières — Crit'Air V4 et au-delà
    restreints"."""
    who = capitalised(ZFE_VEHICLE_CLASS_FR.get(vehicle_class, vehicle_class))
    if critair_from == "EL":
        what = "tous véhicules restreints, électriques compris"
    elif critair_from == "NC":
        what = "véhicules sans vignette Crit'Air restreints"
    else:
        what = f"Crit'Air {critair_from} et au-delà restreints"
    return f"{who} — {what}"


def cerema_rule_label(rules: dict[str, Any]) -> str:
    """French name of an imported Cerema rule, e.g. "Interdiction — Poids lourds ≥ 3,5 t, longueur
    max. 8 m, sauf Livraison"."""
    forbid = rules.get("modality") == "forbid"
    head = "Interdiction" if forbid else "Autorisation"
    parts: list[str] = []
    types = [t for t in rules.get("vehicle_types") or () if t != "Tous véhicules"]
    tonnage, mode = rules.get("tonnage_t"), rules.get("tonnage_mode")
    who = ", ".join(types)
    if tonnage is not None:
        sign = {"min": "≥ ", "max": "≤ "}.get(mode or "", "")
        who = f"{who} {sign}{_number_fr(tonnage)} t".strip()
    if who:
        parts.append(who)
    for key, label in (("max_length_m", "longueur"), ("max_width_m", "largeur"), ("max_height_m", "hauteur")):
        if rules.get(key):
            parts.append(f"{label} max. {_number_fr(rules[key])} m")
    if rules.get("except_usages"):
        parts.append("sauf " + ", ".join(rules["except_usages"]))
    elif rules.get("usages"):
        parts.append(", ".join(rules["usages"]))
    return (f"{head} — {', '.join(parts)}" if parts else head)[:200]


def _zfe_rules(record: ZoneRecord, source: str, warnings: list[str]) -> list[RuleSpec]:
    rules = []
    for name, rule in ((record.rules or {}).get("critair") or {}).items():
        max_crit_air = rule.get("max_crit_air")
        if rule["critair_from"] == "EL":
            # "EL" refuses every vehicle, which max_crit_air (0 to 5) cannot say: Crit'Air 0 is the closest.
            max_crit_air = 0
            warnings.append(f"{name} : aucun véhicule admis (EL), règle enregistrée avec Crit'Air 0 au plus")
        rules.append(RuleSpec(
            name=zfe_rule_label(name, rule["critair_from"]), source=source, source_id=record.source_id,
            vehicle_class=name, critair_from=rule["critair_from"],
            categories=tuple(sorted(rule.get("categories") or ())), max_crit_air=max_crit_air,
        ))
    return rules


def _cm(metres: Any) -> int | None:
    return round(metres * 100) if metres else None


def _cerema_rule(record: ZoneRecord, source: str) -> list[RuleSpec]:
    rules = record.rules or {}
    forbid = rules.get("modality") == "forbid"
    tonnage, mode = rules.get("tonnage_t"), rules.get("tonnage_mode")
    max_weight = min_weight = None
    if tonnage and mode:
        # What a holder may drive: "forbidden from 3.5 t" admits up to 3.5 t; "allowed up to 9 t" too.
        admits_up_to = (mode == "min") == forbid
        kilograms = round(tonnage * 1000)
        max_weight, min_weight = (kilograms, None) if admits_up_to else (None, kilograms)
    classes = [c for c in rules.get("crit_air") or () if c is not None]
    max_crit_air = None
    if classes and not forbid:
        max_crit_air = max(classes)
    elif classes and min(classes) > 0:
        max_crit_air = min(classes) - 1
    return [RuleSpec(name=cerema_rule_label(rules), source=source, source_id=record.source_id,
                     max_crit_air=max_crit_air, min_weight_kg=min_weight, max_weight_kg=max_weight,
                     max_length_cm=_cm(rules.get("max_length_m")), max_width_cm=_cm(rules.get("max_width_m")),
                     max_height_cm=_cm(rules.get("max_height_m")))]


def record_rules(record: ZoneRecord, warnings: list[str] | None = None) -> list[RuleSpec]:
    """The access rules a record asks for, in a stable order (no hours: ADR 0007)."""
    notes = warnings if warnings is not None else []
    rules = record.rules or {}
    source = stored_source(record.source)
    if "critair" in rules:
        specs = _zfe_rules(record, source, notes)
    elif "modality" in rules:
        specs = _cerema_rule(record, source)
    else:
        specs = []
    return sorted(specs, key=lambda s: (s.vehicle_class, s.name))


def record_fields(record: ZoneRecord) -> dict[str, Any]:
    """The zone columns a record asks for: dates as local days (end inclusive), the restriction
    schedule (ADR 0007) and the provenance."""
    tz = check_time_zone(record.tz)
    starts_on = local_day_of(record.valid_from, tz) if record.valid_from else None
    ends_on = local_day_of(record.valid_until, tz) - timedelta(days=1) if record.valid_until else None
    permanent = ends_on is None
    check_zone_dates(permanent=permanent, starts_on=starts_on, ends_on=ends_on)
    windows = [window_to_json(w) for w in record.windows] if record.hours_expressible and record.windows else None
    return {"name": record.name.strip()[:200], "kind": ZoneKind(record.kind).value, "time_zone": tz,
            "permanent": permanent, "starts_on": starts_on, "ends_on": ends_on,
            "restriction_hours": record.opening_hours or None, "restriction_windows": windows,
            "source": stored_source(record.source), "source_id": record.source_id[:200],
            "url_order": record.url_order or None, "url_site": record.url_site or None,
            "source_properties": dict(record.extra) or None}


def order_fields(record: TrafficOrderRecord) -> dict[str, Any]:
    """The traffic_order columns of a Cerema row kept without geometry."""
    return {"code": record.code, "name": record.name.strip()[:200], "insee": record.insee[:5],
            "order_ref": record.order_ref[:200], "order_date": record.order_date,
            "order_object": record.order_object, "restriction_hours": record.opening_hours or None,
            "rules": traffic_order_json(record)}


def _cerema_zone(record: TrafficOrderRecord) -> ZoneRecord | None:
    zone = record.as_zone()
    if zone is None:
        return None
    url = record.extra.get("ARR_URL")
    return replace(zone, url_order=url if isinstance(url, str) else None)


def _as_zone_records(records: Iterable[Any], outcomes: list[ZoneOutcome]) -> list[ZoneRecord]:
    """The zone records among importer records (orders without geometry are left out)."""
    del outcomes  # kept for the callers of the former signature
    zones = []
    for record in records:
        if isinstance(record, TrafficOrderRecord):
            zone = _cerema_zone(record)
            if zone is None:
                continue
            record = zone
        zones.append(record)
    return zones


@dataclass
class _Input:
    """One input item and the records it gave."""

    item: ItemReport
    records: list[Any]


@dataclass
class _Plan:
    position: int
    item: ItemReport
    record: ZoneRecord
    outcome: ZoneOutcome
    fields: dict[str, Any]
    geometry: dict[str, Any]
    rules: list[RuleSpec]
    zone: Zone | None = None
    old_rules: list[AccessRule] = field(default_factory=list)
    order: TrafficOrder | None = None
    """An order of the same source id still "à localiser": this zone locates it."""


@dataclass
class _OrderPlan:
    position: int
    record: TrafficOrderRecord
    fields: dict[str, Any]
    outcome: OrderOutcome
    order: TrafficOrder | None = None


def _inputs(records: ImportBatch[Any] | Iterable[Any]) -> list[_Input]:
    """Input items with their records: the batch's items when they account for its records,
    else one item per record."""
    if isinstance(records, ImportBatch):
        found = list(records.records)
        if records.items and sum(i.records for i in records.items) == len(found):
            inputs, position = [], 0
            for item in records.items:
                inputs.append(_Input(item, found[position:position + item.records]))
                position += item.records
            return inputs
    else:
        found = list(records)
    return [_Input(ItemReport(n, "kept", source_id=r.source_id, name=r.name), [r])
            for n, r in enumerate(found, start=1)]


def _problem(item: ItemReport, field_name: str | None, message: str, code: str, source_id: str,
             severity: str = "error") -> Problem:
    return Problem(item.index, field_name, message, code=code, severity=severity,  # type: ignore[arg-type]
                   item_id=source_id, unit=item.unit)


async def _imported_rules(session: AsyncSession, zones: Sequence[Zone],
                          keys: dict[uuid.UUID, tuple[str, str]]) -> dict[uuid.UUID, list[AccessRule]]:
    """Per zone, its rules that came from the import with this source and source id."""
    found: dict[uuid.UUID, list[AccessRule]] = {z.id: [] for z in zones}
    if not zones:
        return found
    rows = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id).in_(list(found)))
                               .order_by(col(AccessRule.position)))).all()
    for rule in rows:
        if rule.source and (rule.source, rule.source_id) == keys.get(rule.zone_id):
            found[rule.zone_id].append(rule)
    return found


async def _plan(session: AsyncSession, authority_id: uuid.UUID, inputs: list[tuple[int, ItemReport, ZoneRecord]],
                problems: list[Problem], failures: dict[int, list[str]]) -> list[_Plan]:
    codes = [r.code for _, _, r in inputs]
    existing = {z.code: z for z in (await session.exec(
        select(Zone).where(col(Zone.authority_id) == authority_id, col(Zone.code).in_(codes)))).all()} if codes else {}
    keys = {existing[r.code].id: (stored_source(r.source), r.source_id) for _, _, r in inputs if r.code in existing}
    old_rules = await _imported_rules(session, list(existing.values()), keys)
    plans: list[_Plan] = []
    seen: dict[str, str] = {}
    for position, item, record in inputs:
        if record.code in seen:
            message = (f"les identifiants {seen[record.code]!r} et {record.source_id!r} donnent le même code de "
                       f"zone {record.code}")
            problems.append(_problem(item, "id", message, "duplicate_code", record.source_id))
            failures.setdefault(position, []).append(message)
            continue
        seen[record.code] = record.source_id
        notes: list[str] = []
        try:
            fields = record_fields(record)
            geometry = validate_geometry(record.geometry)
            rules = record_rules(record, notes)
        except DomainError as exc:
            problems.append(_problem(item, None, exc.message, exc.code, record.source_id))
            failures.setdefault(position, []).append(exc.message)
            continue
        for note in notes:
            problems.append(_problem(item, "critair", note, "critair_el", record.source_id, "warning"))
        if record.opening_hours and not record.hours_expressible and not any(
                p.code in ("hours_not_expressible", "hours_per_class") and p.item == item.index for p in problems):
            problems.append(_problem(item, "horaires", f"horaires {record.opening_hours!r} non traduisibles en "
                                     "créneaux : la zone est traitée comme réglementée à toute heure",
                                     "hours_not_expressible", record.source_id, "warning"))
        zone = existing.get(record.code)
        plan = _Plan(position, item, record, ZoneOutcome(record.code, fields["name"], "created", record.source_id,
                                                         rules=len(rules)), fields, geometry, rules, zone)
        if zone is not None:
            plan.old_rules = old_rules.get(zone.id, [])
            plan.outcome = _compare(plan, zone)
        plans.append(plan)
    return plans


def _compare(plan: _Plan, zone: Zone) -> ZoneOutcome:
    base = {"code": zone.code, "name": plan.fields["name"], "source_id": plan.record.source_id,
            "zone_id": zone.id, "rules": len(plan.rules)}
    if zone.status == ZoneStatus.ARCHIVED:
        return ZoneOutcome(action="skipped", reasons=("zone archivée : réactivez-la ou changez son code",), **base)
    if zone.event_id is not None or zone.delegated_to_id is not None:
        return ZoneOutcome(action="skipped", reasons=("zone d'événement ou déléguée : modifiez-la à la main",),
                           **base)
    changes = [name for name in _ZONE_FIELDS if getattr(zone, name) != plan.fields[name]]
    if zone.geometry != plan.geometry:
        changes.append("geometry")
    if sorted(map(repr, map(RuleSpec.of, plan.old_rules))) != sorted(map(repr, plan.rules)):
        changes.append("rules")
    return ZoneOutcome(action="updated" if changes else "unchanged", changes=tuple(changes), **base)


async def _plan_orders(session: AsyncSession, authority_id: uuid.UUID,
                       inputs: list[tuple[int, ItemReport, TrafficOrderRecord]]) -> list[_OrderPlan]:
    keys = {(stored_source(r.source), r.source_id) for _, _, r in inputs}
    existing: dict[tuple[str, str], TrafficOrder] = {}
    if keys:
        rows = (await session.exec(select(TrafficOrder).where(
            col(TrafficOrder.authority_id) == authority_id,
            col(TrafficOrder.source_id).in_(sorted({k[1] for k in keys}))))).all()
        existing = {(o.source, o.source_id): o for o in rows}
    plans = []
    for position, _item, record in inputs:
        values = order_fields(record)
        order = existing.get((stored_source(record.source), record.source_id))
        changes: tuple[str, ...] = ()
        action: OrderAction = "created"
        if order is not None:
            changes = tuple(name for name in _ORDER_FIELDS if getattr(order, name) != values[name])
            action = "updated" if changes else "unchanged"
        located = order is not None and order.status == TrafficOrderStatus.LOCATED.value
        plans.append(_OrderPlan(position, record, values, OrderOutcome(
            record.code, values["name"], action, record.source_id, changes, located,
            order.id if order else None), order))
    return plans


_PRIORITY: tuple[Action, ...] = ("created", "updated", "order", "unchanged", "skipped")


def _item_outcomes(inputs: list[_Input], plans: list[_Plan], orders: list[_OrderPlan],
                   failures: dict[int, list[str]]) -> list[ItemOutcome]:
    zone_plans: dict[int, list[_Plan]] = {}
    for plan in plans:
        zone_plans.setdefault(plan.position, []).append(plan)
    order_plans: dict[int, list[_OrderPlan]] = {}
    for order in orders:
        order_plans.setdefault(order.position, []).append(order)
    out = []
    for position, entry in enumerate(inputs):
        item = entry.item
        base = {"index": item.index, "unit": item.unit, "line": item.line, "source_id": item.source_id,
                "name": item.name, "repaired": item.status == "repaired"}
        if item.status == "skipped" or not entry.records:
            out.append(ItemOutcome(action="skipped", notes=item.notes, **base))
            continue
        notes = list(item.notes) + failures.get(position, [])
        actions: list[Action] = ["skipped"] if failures.get(position) else []
        code = zone_id = order_action = None
        for plan in zone_plans.get(position, []):
            outcome = plan.outcome
            actions.append(outcome.action)
            code, zone_id = outcome.code, outcome.zone_id
            if outcome.changes:
                notes.append("changé : " + ", ".join(FIELD_FR.get(c, c) for c in outcome.changes))
            notes += outcome.reasons
            if plan.order is not None:
                notes.append("l'arrêté « à localiser » de même identifiant est localisé par cette zone")
        for order in order_plans.get(position, []):
            actions.append("order")
            code, order_action = order.outcome.code, order.outcome.action
            if order.outcome.changes:
                notes.append("changé : " + ", ".join(FIELD_FR.get(c, c) for c in order.outcome.changes))
            if order.outcome.located:
                notes.append("déjà localisé : la zone créée à partir de cet arrêté n'est pas modifiée par l'import")
            else:
                notes.append("pas de géométrie (GEOM_WKT vide) : arrêté gardé, à localiser depuis la page des arrêtés")
        action = next(a for a in _PRIORITY if a in actions) if actions else "skipped"
        out.append(ItemOutcome(action=action, code=code, notes=tuple(notes), order_action=order_action,
                               zone_id=zone_id, **base))
    return out


# ---- applying -----------------------------------------------------------------------------


async def apply_zone_records(
    session: AsyncSession,
    *,
    authority_id: uuid.UUID,
    records: ImportBatch[Any] | Iterable[ZoneRecord | TrafficOrderRecord],
    clock: Clock,
    actor_id: uuid.UUID | None = None,
    dry_run: bool = False,
    source: str | None = None,
    sha256: str | None = None,
) -> ImportReport:
    """Create, update or leave alone the authority's zones and traffic orders named by `records`
    (see the module).

    `records` is an importer's ImportBatch (its problems go to the report; one of severity
    "error" refuses the import) or plain records. Raises ZoneImportRefused, with nothing
    written, when something cannot be applied — unless `dry_run`, which only plans and returns
    the report (the preview). The caller owns the transaction.
    """
    authority = await get_or_raise(session, Organisation, authority_id)
    if authority.kind != OrganisationKind.AUTHORITY:
        raise DomainError("seule une autorité possède des zones", code="zone_owner_not_authority")
    problems: list[Problem] = list(records.problems) if isinstance(records, ImportBatch) else []
    inputs = _inputs(records)
    zone_inputs: list[tuple[int, ItemReport, ZoneRecord]] = []
    order_inputs: list[tuple[int, ItemReport, TrafficOrderRecord]] = []
    for position, entry in enumerate(inputs):
        for record in entry.records:
            if isinstance(record, TrafficOrderRecord):
                zone = _cerema_zone(record)
                if zone is None:
                    order_inputs.append((position, entry.item, record))
                    continue
                record = zone
            zone_inputs.append((position, entry.item, record))
    first = next((r for e in inputs for r in e.records), None)
    label = source or (first.source if first is not None else "import")
    failures: dict[int, list[str]] = {}
    plans = await _plan(session, authority_id, zone_inputs, problems, failures)
    order_plans = await _plan_orders(session, authority_id, order_inputs)
    if isinstance(records, ImportBatch):  # a file; a single record comes from locating an order by hand
        await _orders_located_by(session, authority_id, plans)
    report = ImportReport(label, dry_run, [p.outcome for p in plans], problems, sha256,
                          _item_outcomes(inputs, plans, order_plans, failures), [p.outcome for p in order_plans],
                          [p.order.code for p in plans if p.order is not None])
    if dry_run:
        return report
    if not report.ok:
        raise ZoneImportRefused(report)
    for index, plan in enumerate(plans):
        if plan.outcome.action == "created":
            zone = await _create(session, authority_id, plan, clock, actor_id)
            report.outcomes[index] = replace(plan.outcome, zone_id=zone.id)
        elif plan.outcome.action == "updated" and plan.zone is not None:
            await _update(session, plan, plan.zone, clock, actor_id)
        if plan.order is not None:
            await _locate(session, plan.order, report.outcomes[index].zone_id, clock, actor_id)
    for index, order_plan in enumerate(order_plans):
        if order_plan.outcome.action != "unchanged":
            order = await _write_order(session, authority_id, order_plan, clock, actor_id)
            report.orders[index] = replace(order_plan.outcome, order_id=order.id)
    created = {o.code: o.zone_id for o in report.outcomes if o.action == "created"}
    report.items = [replace(i, zone_id=created[i.code]) if i.action == "created" and i.code in created else i
                    for i in report.items]
    if report.changes_anything:
        await record_change(session, actor_id=actor_id, entity="zone_import", entity_id=authority_id,
                            action=f"import_{label}", at=clock.now(),
                            after={"sha256": sha256, "counts": report.counts(),
                                   "zones": {o.code: o.action for o in report.outcomes},
                                   "orders": {o.code: o.action for o in report.orders}})
    return report


async def _add_rules(session: AsyncSession, zone: Zone, rules: list[RuleSpec], clock: Clock,
                     actor_id: uuid.UUID | None) -> None:
    """Add imported rules (provenance and limits in fields, no hours of their own), audited."""
    if not rules:
        return
    now = clock.now()
    position = len((await session.exec(select(AccessRule.id).where(col(AccessRule.zone_id) == zone.id))).all())
    added = []
    for offset, spec in enumerate(rules):
        rule = AccessRule(
            zone_id=zone.id, position=position + offset, name=spec.name, opening_hours=None, windows=None,
            purposes=[], categories=list(spec.categories), max_crit_air=spec.max_crit_air,
            max_weight_kg=spec.max_weight_kg, max_length_cm=spec.max_length_cm, source=spec.source,
            source_id=spec.source_id, vehicle_class=spec.vehicle_class, critair_from=spec.critair_from,
            min_weight_kg=spec.min_weight_kg, max_width_cm=spec.max_width_cm, max_height_cm=spec.max_height_cm,
            review_mode=ReviewMode.MANUAL.value, created_at=now,
        )
        session.add(rule)
        added.append(rule)
    zone.data_version += 1
    zone.updated_at = now
    session.add(zone)
    await session.flush()
    for rule in added:
        await record_change(session, actor_id=actor_id, entity="access_rule", entity_id=rule.id,
                            action="import_create", at=now, after={"zone_id": zone.id, **snapshot(rule, *_RULE_FIELDS)})


async def _create(session: AsyncSession, authority_id: uuid.UUID, plan: _Plan, clock: Clock,
                  actor_id: uuid.UUID | None) -> Zone:
    zone = await create_zone(session, authority_id=authority_id, code=plan.record.code, geometry=plan.geometry,
                             clock=clock, actor_id=actor_id, **{k: plan.fields[k] for k in _BASE_FIELDS})
    for name in _SCHEDULE_FIELDS:
        setattr(zone, name, plan.fields[name])
    session.add(zone)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="import_schedule",
                        at=clock.now(), after=snapshot(zone, *_SCHEDULE_FIELDS))
    await _add_rules(session, zone, plan.rules, clock, actor_id)
    await change_zone_status(session, zone_id=zone.id, status=ZoneStatus.ACTIVE.value, clock=clock,
                             actor_id=actor_id)
    return zone


async def _update(session: AsyncSession, plan: _Plan, zone: Zone, clock: Clock, actor_id: uuid.UUID | None) -> None:
    now = clock.now()
    changes = set(plan.outcome.changes)
    before = snapshot(zone, *_ZONE_FIELDS)
    for name in _ZONE_FIELDS:
        setattr(zone, name, plan.fields[name])
    if "geometry" in changes:
        zone.geometry = plan.geometry
    zone.data_version += 1
    zone.updated_at = now
    session.add(zone)
    after = snapshot(zone, *_ZONE_FIELDS)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="import_update",
                        at=now, before={k: v for k, v in before.items() if after[k] != v},
                        after={**{k: v for k, v in after.items() if before[k] != v},
                               "geometry_changed": "geometry" in changes, "rules_changed": "rules" in changes})
    if "rules" in changes:
        old_ids = [r.id for r in plan.old_rules]
        if old_ids:
            await session.exec(delete(AccessRule).where(col(AccessRule.id).in_(old_ids)))  # type: ignore[call-overload]
            await record_change(session, actor_id=actor_id, entity="access_rule", entity_id=zone.id,
                                action="import_replace", at=now,
                                before={"rules": [snapshot(r, *_RULE_FIELDS) for r in plan.old_rules]},
                                after={"rules": [r.name for r in plan.rules]})
        await _add_rules(session, zone, plan.rules, clock, actor_id)


async def _orders_located_by(session: AsyncSession, authority_id: uuid.UUID, plans: list[_Plan]) -> None:
    """Attach to each zone plan the order "à localiser" of the same source and id, if any (a file
    that now gives the geometry of a row that had none)."""
    wanted = {(p.fields["source"], p.record.source_id): p for p in plans if p.outcome.action != "skipped"}
    if not wanted:
        return
    rows = (await session.exec(select(TrafficOrder).where(
        col(TrafficOrder.authority_id) == authority_id,
        col(TrafficOrder.status) == TrafficOrderStatus.TO_LOCATE.value,
        col(TrafficOrder.source_id).in_(sorted({k[1] for k in wanted}))))).all()
    for order in rows:
        plan = wanted.get((order.source, order.source_id))
        if plan is not None:
            plan.order = order


async def _locate(session: AsyncSession, order: TrafficOrder, zone_id: uuid.UUID | None, clock: Clock,
                  actor_id: uuid.UUID | None) -> None:
    now = clock.now()
    order.status = TrafficOrderStatus.LOCATED.value
    order.zone_id = zone_id
    order.updated_at = now
    session.add(order)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="traffic_order", entity_id=order.id,
                        action="import_locate", at=now, before={"status": TrafficOrderStatus.TO_LOCATE.value},
                        after={"status": order.status, "zone_id": zone_id})


async def _write_order(session: AsyncSession, authority_id: uuid.UUID, plan: _OrderPlan, clock: Clock,
                       actor_id: uuid.UUID | None) -> TrafficOrder:
    """Create or update a traffic order kept without geometry, audited like zones."""
    now = clock.now()
    order = plan.order
    if order is None:
        order = TrafficOrder(authority_id=authority_id, source=stored_source(plan.record.source),
                             source_id=plan.record.source_id[:200], status=TrafficOrderStatus.TO_LOCATE.value,
                             created_at=now, updated_at=now, **plan.fields)
        session.add(order)
        await session.flush()
        await record_change(session, actor_id=actor_id, entity="traffic_order", entity_id=order.id,
                            action="import_create", at=now,
                            after=snapshot(order, "source", "source_id", "status", *_ORDER_FIELDS))
        return order
    before = snapshot(order, *_ORDER_FIELDS)
    for name, value in plan.fields.items():
        setattr(order, name, value)
    order.updated_at = now
    session.add(order)
    after = snapshot(order, *_ORDER_FIELDS)
    await session.flush()
    await record_change(session, actor_id=actor_id, entity="traffic_order", entity_id=order.id,
                        action="import_update", at=now, before={k: v for k, v in before.items() if after[k] != v},
                        after={k: v for k, v in after.items() if before[k] != v})
    return order
