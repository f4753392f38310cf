"""Permanent zones from open-data files into the database, and back out as open data.

Import: the records of the ZFE and Cerema importers (cirqliz.imports) are applied to one
authority's zones. The zone `code` (derived deterministically by the importers) is the key: a
record whose code is new creates an active zone, a known code updates the zone when something
differs and is reported "unchanged" otherwise, so importing the same file twice changes nothing.
Rules that came from a file carry a marker in their name (`[zfe:<id>] vp V4`) so that a re-import
replaces them and leaves the rules the authority typed by hand alone; the ZFE export reads the
source id and the Crit'Air class back from it. Imported rules keep the hours of the source: when
the restriction applies.

Everything is planned before anything is written: a record that cannot be applied (or a problem
of severity "error" reported by the importer) refuses the whole import (ZoneImportRefused) with
nothing written. The caller owns the transaction; `dry_run` plans only (the preview).

Export: the authority's active zones as ZoneLike views for cirqliz.exports (ZFE schema GeoJSON,
DATEX II), with stable identifiers (zone code, source id) and versions (data_version).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import AccessRule, Organisation, Zone, window_from_json
from cirqliz.domain.errors import DomainError, NotFound
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.osm_hours import parse_opening_hours
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ZoneKind, ZoneStatus, check_time_zone, check_zone_dates, validate_geometry
from cirqliz.exports.datex2 import export_datex2
from cirqliz.exports.zfe import export_zfe
from cirqliz.imports.cerema import import_cerema
from cirqliz.imports.common import inclusive_end, local_day_of, local_day_start, read_off_loop
from cirqliz.imports.records import ImportBatch, Problem, TrafficOrderRecord, ZoneRecord
from cirqliz.imports.zfe import CRITAIR_ORDER, VEHICLE_CLASSES, import_zfe
from cirqliz.issuance.audit import record_change, snapshot
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.issuance.zones import add_access_rule, change_zone_status, create_zone

FORMATS = ("zfe", "cerema")
Action = Literal["created", "updated", "unchanged", "skipped"]
ACTION_FR = {"created": "créée", "updated": "modifiée", "unchanged": "inchangée", "skipped": "ignorée"}
# `[source:id] label`: the marker of a rule that came from a file.
_RULE_MARK = re.compile(r"^\[(?P<source>[a-z0-9_-]+):(?P<source_id>[^\]]+)\]\s?(?P<label>.*)$", re.S)
_ZONE_FIELDS = ("name", "kind", "time_zone", "permanent", "starts_on", "ends_on")
FIELD_FR = {"name": "nom", "kind": "type", "time_zone": "fuseau horaire", "permanent": "permanente",
            "starts_on": "date de début", "ends_on": "date de fin", "geometry": "géométrie",
            "rules": "règles d'accès"}


class ZoneImportRefused(DomainError):
    """Some records cannot be applied: nothing was written; `report` says which and why."""

    code = "zone_import_refused"

    def __init__(self, report: ImportReport) -> None:
        errors = report.errors
        first = errors[0].describe() if errors else ""
        super().__init__(f"import refusé, rien n'a été enregistré : {len(errors)} erreur(s) ; {first}")
        self.report = report


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """An imported access rule, as stored (the comparison key of re-imports)."""

    name: str
    opening_hours: str
    categories: tuple[str, ...] = ()
    max_crit_air: int | None = None
    max_weight_kg: int | None = None
    max_length_cm: int | None = None

    @classmethod
    def of(cls, rule: AccessRule) -> RuleSpec:
        """The spec of a stored rule."""
        return cls(rule.name, rule.opening_hours or "", tuple(sorted(rule.categories or ())), rule.max_crit_air,
                   rule.max_weight_kg, rule.max_length_cm)


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


@dataclass
class ImportReport:
    """The outcome of an import, per zone, and the problems met in the file."""

    source: str
    dry_run: bool
    outcomes: list[ZoneOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sha256: str | None = None

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
        """Items left aside, each with its reasons."""
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
        return bool(self.created or self.updated)

    def counts(self) -> dict[str, int]:
        """Number of zones per action, and of errors and warnings."""
        return {"created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged),
                "skipped": len(self.skipped), "errors": len(self.errors), "warnings": len(self.warnings)}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI --json, logs)."""
        return {
            "source": self.source, "dry_run": self.dry_run, "ok": self.ok, "sha256": self.sha256,
            "counts": self.counts(),
            "zones": [{"code": o.code, "name": o.name, "action": o.action, "source_id": o.source_id,
                       "changes": list(o.changes), "reasons": list(o.reasons), "rules": o.rules,
                       "zone_id": str(o.zone_id) if o.zone_id else None} for o in self.outcomes],
            "problems": [{"item": p.item, "field": p.field, "message": p.message, "code": p.code,
                          "severity": p.severity, "item_id": p.item_id} for p in self.problems],
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


def rule_marker(source: str, source_id: str) -> str:
    """The name prefix of rules imported from `source` for the item `source_id`."""
    return f"[{source}:{source_id}]"


def parse_rule_marker(name: str) -> tuple[str, str, str] | None:
    """(source, source_id, label) of an imported rule's name, None for a rule typed by hand."""
    match = _RULE_MARK.match(name or "")
    return (match["source"], match["source_id"], match["label"]) if match else None


def _hours(text: str | None) -> str:
    return parse_opening_hours(text or "24/7").raw


def _zfe_rules(record: ZoneRecord, warnings: list[str]) -> list[RuleSpec]:
    rules = []
    for name, rule in ((record.rules or {}).get("critair") or {}).items():
        max_crit_air = rule.get("max_crit_air")
        if rule["critair_from"] == "EL":
            # "EL" refuses every vehicle, which max_crit_air (0 to 5) cannot say: Crit'Air 0 is the closest.
            max_crit_air = 0
            warnings.append(f"{name} : aucun véhicule admis (EL), règle enregistrée avec Crit'Air 0 au plus")
        rules.append(RuleSpec(
            name=f"{rule_marker(record.source, record.source_id)} {name} {rule['critair_from']}",
            opening_hours=_hours(rule.get("opening_hours")),
            categories=tuple(sorted(rule.get("categories") or ())),
            max_crit_air=max_crit_air,
        ))
    return rules


def _cerema_rule(record: ZoneRecord) -> list[RuleSpec]:
    rules = record.rules or {}
    forbid = rules.get("modality") == "forbid"
    tonnage, mode = rules.get("tonnage_t"), rules.get("tonnage_mode")
    max_weight = None
    if tonnage and ((forbid and mode == "min") or (not forbid and mode == "max")):
        max_weight = round(tonnage * 1000)
    max_length = round(rules["max_length_m"] * 100) if forbid and rules.get("max_length_m") else None
    classes = [c for c in rules.get("crit_air") or () if c is not None]
    max_crit_air = None
    if classes and not forbid:
        max_crit_air = max(classes)
    elif classes and min(classes) > 0:
        max_crit_air = min(classes) - 1
    label = "interdiction" if forbid else "autorisation"
    if tonnage and mode:
        label += f" {'≥' if mode == 'min' else '≤'} {tonnage:g} t"
    if rules.get("except_usages"):
        label += f" sauf {', '.join(rules['except_usages'])}"
    elif rules.get("usages"):
        label += f" {', '.join(rules['usages'])}"
    name = f"{rule_marker('cerema', record.source_id)} {label}"[:200]
    return [RuleSpec(name=name, opening_hours=_hours(record.opening_hours), max_crit_air=max_crit_air,
                     max_weight_kg=max_weight, max_length_cm=max_length)]


def record_rules(record: ZoneRecord, warnings: list[str] | None = None) -> list[RuleSpec]:
    """The access rules a record asks for, in a stable order."""
    notes = warnings if warnings is not None else []
    rules = record.rules or {}
    specs = _zfe_rules(record, notes) if "critair" in rules else (_cerema_rule(record) if "modality" in rules else [])
    return sorted(specs, key=lambda s: s.name)


def record_fields(record: ZoneRecord) -> dict[str, Any]:
    """The zone columns a record asks for (dates as local days, end inclusive)."""
    tz = check_time_zone(record.tz)
    starts_on = local_day_of(record.valid_from, tz) if record.valid_from else None
    ends_on = local_day_of(record.valid_until, tz) - timedelta(days=1) if record.valid_until else None
    permanent = ends_on is None
    check_zone_dates(permanent=permanent, starts_on=starts_on, ends_on=ends_on)
    return {"name": record.name.strip()[:200], "kind": ZoneKind(record.kind).value, "time_zone": tz,
            "permanent": permanent, "starts_on": starts_on, "ends_on": ends_on}


@dataclass
class _Plan:
    record: ZoneRecord
    outcome: ZoneOutcome
    fields: dict[str, Any]
    geometry: dict[str, Any]
    rules: list[RuleSpec]
    zone: Zone | None = None
    old_rules: list[AccessRule] = field(default_factory=list)


def _as_zone_records(records: Iterable[Any], outcomes: list[ZoneOutcome]) -> list[ZoneRecord]:
    zones = []
    for record in records:
        if isinstance(record, TrafficOrderRecord):
            zone = record.as_zone()
            if zone is None:
                outcomes.append(ZoneOutcome(record.code, record.name, "skipped", record.source_id,
                                            reasons=("pas de géométrie (GEOM_WKT vide) : la voie n'est que nommée",)))
                continue
            record = zone
        zones.append(record)
    return zones


async def _imported_rules(session: AsyncSession, zone_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[AccessRule]]:
    found: dict[uuid.UUID, list[AccessRule]] = {z: [] for z in zone_ids}
    if not zone_ids:
        return found
    rows = (await session.exec(select(AccessRule).where(col(AccessRule.zone_id).in_(list(zone_ids)))
                               .order_by(col(AccessRule.position)))).all()
    for rule in rows:
        if parse_rule_marker(rule.name):
            found[rule.zone_id].append(rule)
    return found


async def _plan(session: AsyncSession, authority_id: uuid.UUID, records: list[ZoneRecord],
                problems: list[Problem]) -> list[_Plan]:
    codes = [r.code for r in records]
    existing = {z.code: z for z in (await session.exec(
        select(Zone).where(col(Zone.authority_id) == authority_id, col(Zone.code).in_(codes)))).all()} if codes else {}
    old_rules = await _imported_rules(session, [z.id for z in existing.values()])
    plans: list[_Plan] = []
    seen: dict[str, str] = {}
    for number, record in enumerate(records, start=1):
        if record.code in seen:
            problems.append(Problem(number, "id", f"les identifiants {seen[record.code]!r} et {record.source_id!r} "
                                    f"donnent le même code de zone {record.code}", code="duplicate_code",
                                    item_id=record.source_id))
            continue
        seen[record.code] = record.source_id
        notes: list[str] = []
        try:
            fields = record_fields(record)
            geometry = validate_geometry(record.geometry)
            rules = record_rules(record, notes)
        except DomainError as exc:
            problems.append(Problem(number, None, exc.message, code=exc.code, item_id=record.source_id))
            continue
        for note in notes:
            problems.append(Problem(number, "critair", note, code="critair_el", severity="warning",
                                    item_id=record.source_id))
        zone = existing.get(record.code)
        plan = _Plan(record, ZoneOutcome(record.code, fields["name"], "created", record.source_id,
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
    """Create, update or leave alone the authority's zones named by `records` (see the module).

    `records` is an importer's ImportBatch (its problems go to the report; one of severity
    "error" refuses the import) or plain records. Raises ZoneImportRefused, with nothing
    written, when something cannot be applied — unless `dry_run`, which only plans and returns
    the report (the preview). The caller owns the transaction.
    """
    authority = await get_or_raise(session, Organisation, authority_id)
    if authority.kind != OrganisationKind.AUTHORITY:
        raise DomainError("seule une autorité possède des zones", code="zone_owner_not_authority")
    problems: list[Problem] = []
    if isinstance(records, ImportBatch):
        problems.extend(records.problems)
        items = list(records.records)
    else:
        items = list(records)
    outcomes: list[ZoneOutcome] = []
    zone_records = _as_zone_records(items, outcomes)
    label = source or (zone_records[0].source if zone_records else "import")
    plans = await _plan(session, authority_id, zone_records, problems)
    report = ImportReport(label, dry_run, [p.outcome for p in plans] + outcomes, problems, sha256)
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
    if report.changes_anything:
        await record_change(session, actor_id=actor_id, entity="zone_import", entity_id=authority_id,
                            action=f"import_{label}", at=clock.now(),
                            after={"sha256": sha256, "counts": report.counts(),
                                   "zones": {o.code: o.action for o in report.outcomes}})
    return report


async def _add_rules(session: AsyncSession, zone_id: uuid.UUID, rules: list[RuleSpec], clock: Clock,
                     actor_id: uuid.UUID | None) -> None:
    for rule in rules:
        await add_access_rule(session, zone_id=zone_id, clock=clock, actor_id=actor_id, name=rule.name,
                              opening_hours=rule.opening_hours, categories=rule.categories,
                              max_crit_air=rule.max_crit_air, max_weight_kg=rule.max_weight_kg,
                              max_length_cm=rule.max_length_cm)


async def _create(session: AsyncSession, authority_id: uuid.UUID, plan: _Plan, clock: Clock,
                  actor_id: uuid.UUID | None) -> Zone:
    zone = await create_zone(session, authority_id=authority_id, code=plan.record.code, geometry=plan.geometry,
                             clock=clock, actor_id=actor_id, **plan.fields)
    await _add_rules(session, zone.id, plan.rules, clock, actor_id)
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
                                before={"rules": [r.name for r in plan.old_rules]},
                                after={"rules": [r.name for r in plan.rules]})
        await _add_rules(session, zone.id, plan.rules, clock, actor_id)


# ---- open data ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneView:
    """A stored zone as the exporters read it (cirqliz.exports.zfe.ZoneLike)."""

    source: str
    source_id: str
    code: str
    name: str
    kind: str
    geometry: dict[str, Any]
    tz: str
    valid_from: datetime | None
    valid_until: datetime | None
    windows: tuple[TimeWindow, ...]
    opening_hours: str | None
    rules: dict[str, Any]
    extra: dict[str, Any]
    version: str
    updated_at: datetime


def zone_view(zone: Zone, rules: Sequence[AccessRule]) -> ZoneView:
    """The export view of a zone and its rules: source id and per-class Crit'Air rules come from
    the markers of imported rules; hours are those of the imported rules when they agree."""
    source, source_id = "cirqliz", zone.code
    critair: dict[str, Any] = {}
    imported = []
    for rule in rules:
        marker = parse_rule_marker(rule.name)
        if marker is None:
            continue
        imported.append(rule)
        source, source_id, label = marker
        parts = label.split()
        if source == "zfe" and len(parts) >= 2 and parts[0] in VEHICLE_CLASSES and parts[1] in CRITAIR_ORDER:
            critair[parts[0]] = {"critair_from": parts[1], "opening_hours": rule.opening_hours}
    hours = {r.opening_hours for r in imported}
    windows: tuple[TimeWindow, ...] = ()
    opening_hours = None
    if len(hours) == 1:
        opening_hours = hours.pop()
        if imported[0].windows is not None:
            windows = tuple(window_from_json(w) for w in imported[0].windows)
    start = zone.starts_on or zone.created_at.astimezone(UTC).date()
    return ZoneView(
        source=source, source_id=source_id, code=zone.code, name=zone.name, kind=zone.kind,
        geometry=zone.geometry, tz=zone.time_zone, valid_from=local_day_start(start, zone.time_zone),
        valid_until=inclusive_end(zone.ends_on, zone.time_zone) if zone.ends_on else None,
        windows=windows, opening_hours=opening_hours, rules={"critair": critair} if critair else {}, extra={},
        version=str(zone.data_version), updated_at=zone.updated_at,
    )


async def authority_by_code(session: AsyncSession, code: str) -> Organisation:
    """The authority with this code, or NotFound."""
    row = (await session.exec(select(Organisation).where(col(Organisation.code) == code))).first()
    if row is None or row.kind != OrganisationKind.AUTHORITY:
        raise NotFound(f"autorité inconnue : {code}", code="not_found")
    return row


async def published_zones(session: AsyncSession, authority_id: uuid.UUID, *,
                          kinds: Iterable[str] | None = None) -> list[ZoneView]:
    """The authority's active zones (of `kinds`), by code, as export views."""
    statement = select(Zone).where(col(Zone.authority_id) == authority_id,
                                   col(Zone.status) == ZoneStatus.ACTIVE.value)
    if kinds is not None:
        statement = statement.where(col(Zone.kind).in_(list(kinds)))
    zones = list((await session.exec(statement.order_by(col(Zone.code)))).all())
    rules: dict[uuid.UUID, list[AccessRule]] = {z.id: [] for z in zones}
    if zones:
        for rule in (await session.exec(select(AccessRule).where(col(AccessRule.zone_id).in_(list(rules)))
                                        .order_by(col(AccessRule.position), col(AccessRule.name)))).all():
            rules[rule.zone_id].append(rule)
    return [zone_view(z, rules[z.id]) for z in zones]


async def zones_geojson(session: AsyncSession, authority: Organisation) -> dict[str, Any]:
    """The authority's active low-emission zones as a ZFE schema document (validated)."""
    return export_zfe(await published_zones(session, authority.id, kinds=[ZoneKind.LOW_EMISSION.value]))


async def zones_datex2(session: AsyncSession, authority: Organisation, *, permit_url: str | None = None,
                       validate: bool = False) -> bytes:
    """The authority's active zones as a DATEX II TrafficRegulationPublication.

    The publication time is the latest change of a published zone (the authority's creation when
    there is none): the same data gives the same document.
    """
    zones = await published_zones(session, authority.id)
    published = max((z.updated_at for z in zones), default=authority.created_at)
    return export_datex2(zones, publication_time=published.astimezone(UTC).replace(microsecond=0),
                         authority=authority.name, creator=authority.code[:32], permit_url=permit_url,
                         validate=validate)
