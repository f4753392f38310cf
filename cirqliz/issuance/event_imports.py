"""Apply imported temporary regulations to the database: Préfecture de Police perimeters
(GeoJSON), DiaLog DATEX II, and iCalendar feeds whose occurrences become zone activations.

- Idempotent: each record is keyed on its stable source id (`temporary_zone.source/source_id`
  for zones, `zone_schedule.source_ref` for calendar events); importing the same file again
  reports everything unchanged, a newer version updates the zone in place.
- Transactional: a file that cannot be read raises ImportFileError before anything is written;
  the whole import runs in a savepoint, and `dry_run=True` rolls it back after computing the
  report (the preview shows exactly what applying would do).
- Every input item is accounted for: the report has one line per feature, regulation or VEVENT
  of the file (the importer's ItemReport), in file order, created, updated, unchanged or skipped,
  with its number, line, id and name, what was repaired and why it was skipped, in French; its
  totals add up to the items of the file.
- The source's hours and dates are the zone's *restriction schedule* (ADR 0007): dated periods
  as `zone_schedule` rows, weekly windows in `zone.restriction_windows`; the imported access rule
  admits pass holders at any time while the restriction is in force (no windows from the source).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.models import AccessRule, Organisation, TemporaryZone, Zone, ZoneSchedule, window_to_json
from cirqliz.domain.errors import DomainError
from cirqliz.domain.organisations import OrganisationKind
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.vehicles import VehicleCategory
from cirqliz.domain.zones import ZoneStatus
from cirqliz.imports.common import read_off_loop
from cirqliz.imports.datex2 import import_datex2
from cirqliz.imports.ical import import_ical
from cirqliz.imports.perimeters import import_perimeters
from cirqliz.imports.records import EventRecord, ImportBatch, ImportFileError, Problem, ZoneRecord
from cirqliz.issuance.audit import record_change
from cirqliz.issuance.events import local_dates, replace_schedule
from cirqliz.issuance.lookup import get_or_raise
from cirqliz.issuance.zones import add_access_rule, create_zone
from cirqliz.labels import IMPORT_OUTCOME_FR

Format = Literal["perimeters", "datex2", "ical"]
FORMATS: dict[str, str] = {
    "perimeters": "Périmètres de la Préfecture de Police (GeoJSON)",
    "datex2": "Réglementations DiaLog (DATEX II)",
    "ical": "Calendrier iCalendar (occurrences = activations de zones)",
}
EXTENSIONS = {".geojson": "perimeters", ".json": "perimeters", ".xml": "datex2", ".ics": "ical", ".ical": "ical"}
ICAL_SOURCE = "ical"
ICAL_PAST = timedelta(days=1)
ICAL_HORIZON = timedelta(days=366)
_LEVEL_BY_LABEL = {"rouge": "red", "red": "red", "bleu": "blue", "blue": "blue"}

FORMAT_SHORT_FR = {"perimeters": "de périmètres", "datex2": "DATEX II", "ical": "iCalendar"}
SCHEDULE_MODEL = 2
"""Bumped when what an import stores from the same record changes (2: hours in the zone's restriction
schedule, ADR 0007): the next import of an unchanged file then updates its zones once."""

Action = Literal["created", "updated", "unchanged", "skipped"]
ACTION_FR = IMPORT_OUTCOME_FR
CHANGE_FR = {
    "name": "nom", "geometry": "périmètre", "time_zone": "fuseau horaire", "kind": "type de zone",
    "permanent": "permanence", "starts_on": "date de début", "ends_on": "date de fin",
    "restriction_hours": "horaires de restriction", "restriction_windows": "créneaux de restriction",
    "url_order": "lien de l'arrêté", "url_site": "lien du site",
}
"""French names of the zone fields an update may change (shown in the report)."""


@dataclass
class ImportItem:
    """What happens (or would happen) to one item of the file (feature, regulation, VEVENT).

    `index` is its number in the file and `unit` what it is ("entité", "réglementation",
    "événement"), `line` its line when known; `notes` say what was repaired or noted on reading
    (`repaired` when the stored zone differs from the file), `reason` why it was skipped.
    """

    action: Action
    source_id: str
    code: str | None
    name: str
    reason: str = ""
    changes: list[str] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    occurrences: int = 0
    index: int | None = None
    unit: str = "élément"
    line: int | None = None
    notes: list[str] = field(default_factory=list)
    repaired: bool = False

    def where(self) -> str:
        """'réglementation 2 (ligne 42)': the item as the file has it."""
        text = f"{self.unit} {self.index}" if self.index is not None else self.unit
        return f"{text} (ligne {self.line})" if self.line is not None else text

    def detail(self) -> str:
        """The reason, changes and notes, in French, on one line."""
        parts = [self.reason] if self.reason else []
        if self.changes:
            parts.append("modifié : " + ", ".join(self.changes))
        parts.extend(self.notes)
        return " ; ".join(p for p in parts if p)

    def describe(self) -> str:
        """One French line: 'entité 3 [id, nom] : créée (réparée) — parties superposées fusionnées'."""
        ident = ", ".join(x for x in (self.code or self.source_id, self.name) if x)
        status = ACTION_FR[self.action] + (" (réparée)" if self.repaired and self.action != "skipped" else "")
        text = f"{self.where()}{f' [{ident}]' if ident else ''} : {status}"
        detail = self.detail()
        return f"{text} — {detail}" if detail else text


@dataclass
class ImportReport:
    """Created, updated, unchanged and skipped items of one import (applied or previewed)."""

    format: str
    dry_run: bool
    items: list[ImportItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def of(self, action: Action) -> list[ImportItem]:
        """Items with that outcome."""
        return [i for i in self.items if i.action == action]

    @property
    def created(self) -> list[ImportItem]:
        return self.of("created")

    @property
    def updated(self) -> list[ImportItem]:
        return self.of("updated")

    @property
    def unchanged(self) -> list[ImportItem]:
        return self.of("unchanged")

    @property
    def skipped(self) -> list[ImportItem]:
        return self.of("skipped")

    @property
    def repaired(self) -> list[ImportItem]:
        """Items stored after a repair (also counted as created, updated or unchanged)."""
        return [i for i in self.items if i.repaired and i.action != "skipped"]

    @property
    def changed(self) -> int:
        """Created plus updated."""
        return len(self.created) + len(self.updated)

    @property
    def total(self) -> int:
        """Items of the file (the counts add up to it)."""
        return len(self.items)

    def counts(self) -> dict[str, int]:
        """Number of items per outcome; they add up to the items of the file."""
        return {a: len(self.of(a)) for a in ("created", "updated", "unchanged", "skipped")}  # type: ignore[arg-type]

    def summary(self) -> str:
        """One French line."""
        c = self.counts()
        verb = "aperçu de l'import" if self.dry_run else "import"
        fmt = FORMAT_SHORT_FR.get(self.format, self.format)
        repaired = f" (dont {len(self.repaired)} réparée(s))" if self.repaired else ""
        return (f"{verb} {fmt} : {self.total} élément(s) lu(s) : {c['created']} créée(s), {c['updated']} mise(s) à "
                f"jour, {c['unchanged']} inchangée(s), {c['skipped']} ignorée(s){repaired}")


class _Preview(Exception):
    """Raised inside the savepoint of a dry run to roll it back."""


def guess_format(filename: str) -> str | None:
    """The format of a feed file from its extension."""
    lower = filename.lower()
    return next((fmt for ext, fmt in EXTENSIONS.items() if lower.endswith(ext)), None)


async def import_file(
    session: AsyncSession,
    *,
    fmt: str,
    data: bytes | str,
    authority_id: uuid.UUID,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Read `data` as `fmt` and apply it to the authority's zones (or preview with `dry_run`).

    ImportFileError (nothing changed) when the file cannot be read at all.
    """
    authority = await get_or_raise(session, Organisation, authority_id)
    if authority.kind != OrganisationKind.AUTHORITY:
        raise DomainError("seule une autorité importe des zones", code="import_not_authority")
    now = clock.now()
    batch: ImportBatch[Any]
    # Parsing runs in a worker thread with a time limit: the server keeps answering meanwhile.
    if fmt == "perimeters":
        batch = await read_off_loop(lambda _deadline: import_perimeters(data))
    elif fmt == "datex2":
        batch = await read_off_loop(lambda _deadline: import_datex2(data))
    elif fmt == "ical":
        batch = await read_off_loop(lambda deadline: import_ical(data, start=now - ICAL_PAST, end=now + ICAL_HORIZON,
                                                                 deadline=deadline))
    else:
        raise ImportFileError(f"format d'import inconnu : {fmt!r} (perimeters, datex2 ou ical)",
                              code="import_format")
    report = ImportReport(format=fmt, dry_run=dry_run)

    async def apply(record: Any) -> ImportItem:
        if isinstance(record, EventRecord):
            return await _apply_event(session, record, authority, clock, actor_id)
        return await _apply_zone(session, record, authority, clock, actor_id)

    try:
        async with session.begin_nested():
            await _account(report, batch, apply)
            if report.changed and not dry_run:
                await record_change(session, actor_id=actor_id, entity="import", entity_id=fmt, action="apply",
                                    at=now, after={"authority": authority.code, **report.counts()})
            if dry_run:
                raise _Preview
    except _Preview:
        pass
    return report


_PRECEDENCE: tuple[Action, ...] = ("created", "updated", "unchanged", "skipped")


async def _account(report: ImportReport, batch: ImportBatch[Any],
                   apply: Callable[[Any], Awaitable[ImportItem]]) -> None:
    """One report item per item of the file, in file order: a skipped item with the importer's
    reasons, a read one with what applying its record did (or would do) and the repairs made."""
    if not batch.items:  # an importer that does not account for its items: records and problems as they come
        for problem in batch.problems:
            _report_problem(report, problem)
        for record in batch.records:
            report.items.append(await apply(record))
        return
    records = iter(batch.records)
    first_of: dict[str, ImportItem] = {}
    for entry in batch.items:
        name = (entry.name or "")[:200]
        source_id = entry.source_id or ""
        if entry.status == "skipped":
            item = ImportItem("skipped", source_id, None, name, reason=" ; ".join(entry.notes) or "ignoré")
        elif entry.records == 0:  # read with another item (an iCalendar override of an earlier VEVENT)
            master = first_of.get(source_id)
            item = ImportItem(master.action if master else "unchanged", source_id, master.code if master else None,
                              name or (master.name if master else ""), notes=list(entry.notes))
            if master is not None and master.action == "skipped":
                item.reason = master.reason
        else:
            applied = [await apply(record) for record in itertools.islice(records, entry.records)]
            if not applied:
                continue
            item = min(applied, key=lambda i: _PRECEDENCE.index(i.action))
            if len(applied) > 1:
                item.code = ", ".join(i.code for i in applied if i.code)
            item.notes = list(entry.notes) + item.notes
            item.repaired = entry.status == "repaired"
        item.index, item.unit, item.line = entry.index, entry.unit, entry.line
        first_of.setdefault(source_id, item)
        report.items.append(item)
    for record in records:  # records no item accounted for (not expected): still applied and listed
        report.items.append(await apply(record))
    counted = {entry.index for entry in batch.items}
    report.warnings.extend(_warning_text(p) for p in batch.warnings if p.item not in counted)


def _warning_text(problem: Problem) -> str:
    """A warning without its "avertissement" prefix (the page and the CLI add it once)."""
    where = f"{problem.unit} {problem.item}" + (f", champ {problem.field}" if problem.field else "")
    return f"{where} : {problem.message}"


def _report_problem(report: ImportReport, problem: Problem) -> None:
    if problem.severity == "warning":
        report.warnings.append(_warning_text(problem))
        return
    report.items.append(ImportItem("skipped", problem.item_id or f"{problem.unit} {problem.item}", None, "",
                                   reason=problem.describe(), index=problem.item, unit=problem.unit))


def _level(record: ZoneRecord) -> str | None:
    label = str((record.rules or {}).get("perimeter_type") or "").strip().lower()
    return _LEVEL_BY_LABEL.get(label)


def _fingerprint(record: ZoneRecord) -> str:
    content = {
        "name": record.name, "kind": record.kind.value, "geometry": record.geometry, "tz": record.tz,
        "permanent": record.permanent, "from": record.valid_from, "until": record.valid_until,
        "windows": [window_to_json(w) for w in record.windows], "hours": record.opening_hours,
        "rules": record.rules, "version": record.version, "model": SCHEDULE_MODEL,
    }
    if record.periods:
        content["periods"] = record.periods
    if record.url_order or record.url_site:
        content["urls"] = [record.url_order, record.url_site]
    text = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _zone_dates(record: ZoneRecord) -> dict[str, Any]:
    if record.valid_until is None:
        return {"permanent": True, "starts_on": None, "ends_on": None}
    start = record.valid_from or record.valid_until - timedelta(seconds=1)
    first, last = local_dates(start, record.valid_until, record.tz)
    return {"permanent": False, "starts_on": first, "ends_on": last}


def _periods(record: ZoneRecord) -> list[tuple[datetime, datetime | None]]:
    """Every dated period of the record (its zone_schedule rows): all of them, not only the first."""
    if record.periods:
        return list(record.periods)
    return [(record.valid_from, record.valid_until)] if record.valid_from is not None else []


def _schedule_fields(record: ZoneRecord) -> dict[str, Any]:
    """The zone's restriction schedule and provenance from the record (ADR 0007): the source's weekly
    windows are when the restriction is in force; hours that windows cannot express keep their
    text and no windows (in force at all times of the zone's periods)."""
    windows = [window_to_json(w) for w in record.windows] if record.hours_expressible else []
    extra = {k: v for k, v in record.extra.items() if k != "source_geometry"}
    return {
        "restriction_hours": record.opening_hours,
        "restriction_windows": windows or None,
        "source": record.source[:32],
        "source_id": record.source_id[:200],
        "url_order": record.url_order,
        "url_site": record.url_site,
        "source_properties": json.loads(json.dumps(extra, default=str, ensure_ascii=False)) or None,
    }


_RULE_LIMITS = ("max_crit_air", "max_weight_kg", "min_weight_kg", "max_length_cm", "max_width_cm", "max_height_cm")


def _rule_values(found: dict[str, Any]) -> dict[str, Any]:
    """An exemption read from the source (cirqliz.imports.datex2.permit_rules) as add_access_rule
    arguments; values the rules cannot hold (an unknown vehicle category) are left out."""
    values: dict[str, Any] = {k: found[k] for k in _RULE_LIMITS if isinstance(found.get(k), int)}
    categories = [c for c in found.get("categories") or () if c in {v.value for v in VehicleCategory}]
    if categories:
        values["categories"] = categories
    if found.get("windows"):
        values["windows"] = list(found["windows"])
    return values


async def _set_rule(session: AsyncSession, zone: Zone, record: ZoneRecord, clock: Clock,
                    actor_id: uuid.UUID | None) -> None:
    """The zone's access rules: one per exemption the source names (vehicle, limits and the permit's
    own hours), else one admitting any pass holder at any time while the restriction is in force.
    The source's restriction hours are the zone's schedule, never a rule's (ADR 0007)."""
    await session.exec(delete(AccessRule).where(col(AccessRule.zone_id) == zone.id))  # type: ignore[call-overload]
    found = [r for r in (record.rules or {}).get("permit_rules") or () if isinstance(r, dict)] or [{}]
    for position, rule in enumerate(found, start=1):
        name = "Règle importée" if len(found) == 1 else f"Règle importée {position}"
        await add_access_rule(session, zone_id=zone.id, clock=clock, name=name,
                              purposes=[p for p in Purpose if p is not Purpose.OTHER], actor_id=actor_id,
                              source=record.source[:32], source_id=record.source_id[:200], **_rule_values(rule))


async def _apply_zone(session: AsyncSession, record: ZoneRecord, authority: Organisation, clock: Clock,
                      actor_id: uuid.UUID | None) -> ImportItem:
    item = ImportItem("created", record.source_id, record.code, record.name[:200], starts_at=record.valid_from,
                      ends_at=record.valid_until)
    digest = _fingerprint(record)
    now = clock.now()
    mapping = (await session.exec(select(TemporaryZone).where(
        col(TemporaryZone.authority_id) == authority.id, col(TemporaryZone.source) == record.source,
        col(TemporaryZone.source_id) == record.source_id))).first()
    if mapping is None:
        clash = (await session.exec(select(Zone.id).where(
            col(Zone.authority_id) == authority.id, col(Zone.code) == record.code))).first()
        if clash is not None:
            item.action, item.reason = "skipped", f"le code {record.code} est déjà pris par une autre zone"
            return item
        try:
            async with session.begin_nested():
                zone = await create_zone(session, authority_id=authority.id, code=record.code,
                                         name=record.name[:200], kind=record.kind.value, geometry=record.geometry,
                                         clock=clock, time_zone=record.tz, actor_id=actor_id,
                                         **_zone_dates(record))
                for key, value in _schedule_fields(record).items():
                    setattr(zone, key, value)
                session.add(zone)
                await _set_rule(session, zone, record, clock, actor_id)
                session.add(TemporaryZone(zone_id=zone.id, authority_id=authority.id, level=_level(record),
                                          auto_switch=True, source=record.source, source_id=record.source_id,
                                          source_hash=digest, created_at=now, updated_at=now))
                await replace_schedule(session, zone_id=zone.id, source=record.source, source_ref=record.source_id,
                                       periods=_periods(record), clock=clock)
        except DomainError as exc:
            item.action, item.reason = "skipped", exc.message
        return item
    zone = await get_or_raise(session, Zone, mapping.zone_id)
    item.code = zone.code
    if mapping.source_hash == digest:
        item.action = "unchanged"
        return item
    if zone.status == ZoneStatus.ARCHIVED:
        item.action, item.reason = "skipped", f"la zone {zone.code} est archivée : elle n'est plus modifiée"
        return item
    after = {"name": record.name[:200], "geometry": record.geometry, "time_zone": record.tz,
             "kind": record.kind.value, **_zone_dates(record), **_schedule_fields(record)}
    before = {k: getattr(zone, k) for k in after}
    item.action = "updated"
    item.changes = list(dict.fromkeys(CHANGE_FR[k] for k in after if k in CHANGE_FR and before[k] != after[k]))
    try:
        async with session.begin_nested():
            for key, value in after.items():
                setattr(zone, key, value)
            zone.data_version += 1
            zone.updated_at = now
            session.add(zone)
            await _set_rule(session, zone, record, clock, actor_id)
            if await replace_schedule(session, zone_id=zone.id, source=record.source, source_ref=record.source_id,
                                      periods=_periods(record), clock=clock):
                item.changes.append("période")
            mapping.source_hash = digest
            mapping.level = _level(record)
            mapping.updated_at = now
            session.add(mapping)
            await session.flush()
            await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="import_update",
                                at=now, after={"source": record.source, "source_id": record.source_id,
                                               "changes": item.changes})
    except DomainError as exc:
        item.action, item.reason, item.changes = "skipped", exc.message, []
    if item.action == "updated" and not item.changes:
        item.changes = ["règles"]
    return item


async def _apply_event(session: AsyncSession, record: EventRecord, authority: Organisation, clock: Clock,
                       actor_id: uuid.UUID | None) -> ImportItem:
    first = record.occurrences[0] if record.occurrences else (None, None)
    item = ImportItem("created", record.source_id, record.zone_code, record.summary[:200], starts_at=first[0],
                      ends_at=first[1], occurrences=len(record.occurrences))
    if record.zone_code is None:
        item.action = "skipped"
        item.reason = "aucune zone indiquée (propriété X-CIRQLIZ-ZONE ou LOCATION égale à un code de zone)"
        return item
    zone = (await session.exec(select(Zone).where(
        col(Zone.authority_id) == authority.id, col(Zone.code) == record.zone_code))).first()
    if zone is None:
        item.action, item.reason = "skipped", f"zone {record.zone_code} inconnue pour l'autorité {authority.code}"
        return item
    if zone.status == ZoneStatus.ARCHIVED:
        item.action, item.reason = "skipped", f"la zone {zone.code} est archivée"
        return item
    existing = (await session.exec(select(ZoneSchedule.id).where(
        col(ZoneSchedule.zone_id) == zone.id, col(ZoneSchedule.source) == ICAL_SOURCE,
        col(ZoneSchedule.source_ref) == record.source_id))).first()
    changed = await replace_schedule(session, zone_id=zone.id, source=ICAL_SOURCE, source_ref=record.source_id,
                                     periods=list(record.occurrences), clock=clock)
    if not changed:
        item.action = "unchanged"
        return item
    item.action = "updated" if existing is not None else "created"
    item.changes = ["occurrences"]
    now = clock.now()
    mapping = await session.get(TemporaryZone, zone.id)
    if mapping is None:
        session.add(TemporaryZone(zone_id=zone.id, authority_id=authority.id, auto_switch=True, source=None,
                                  source_id=None, created_at=now, updated_at=now))
        await session.flush()
    await record_change(session, actor_id=actor_id, entity="zone", entity_id=zone.id, action="import_schedule",
                        at=now, after={"source": ICAL_SOURCE, "uid": record.source_id,
                                       "occurrences": len(record.occurrences)})
    return item


async def import_event_perimeters(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    data: bytes | str,
    clock: Clock,
    actor_id: uuid.UUID | None = None,
) -> ImportReport:
    """An organiser imports Préfecture de Police perimeters into its (draft) event: one zone per
    perimeter, red or blue from TYPE_PERI (others: blue), keyed on the perimeter's source id."""
    from cirqliz.issuance.events import add_event_zone

    batch = await read_off_loop(lambda _deadline: import_perimeters(data))
    report = ImportReport(format="perimeters", dry_run=False)

    async def apply(record: Any) -> ImportItem:
        assert isinstance(record, ZoneRecord)
        item = ImportItem("created", record.source_id, None, record.name[:200], starts_at=record.valid_from,
                          ends_at=record.valid_until)
        taken = (await session.exec(select(TemporaryZone.zone_id).where(
            col(TemporaryZone.event_id) == event_id, col(TemporaryZone.source) == record.source,
            col(TemporaryZone.source_id) == record.source_id))).first()
        if taken is not None:
            item.action, item.reason = "unchanged", "périmètre déjà importé dans cet événement"
            return item
        try:
            async with session.begin_nested():
                zone = await add_event_zone(
                    session, event_id=event_id, name=record.name[:200], level=_level(record) or "blue",
                    geometry=record.geometry, starts_at=record.valid_from,  # type: ignore[arg-type]
                    ends_at=record.valid_until, clock=clock, windows=record.windows,  # type: ignore[arg-type]
                    time_zone=record.tz, actor_id=actor_id, source=record.source, source_id=record.source_id)
                item.code = zone.code
        except DomainError as exc:
            item.action, item.reason = "skipped", exc.message
        return item

    async with session.begin_nested():
        await _account(report, batch, apply)
    return report
