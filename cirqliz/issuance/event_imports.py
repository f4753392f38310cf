"""Apply imported temporary regulations to the database: Préfecture de Police perimeters
(GeoJSON), DiaLog DATEX II, and iCalendar feeds whose occurrences become zone activations.

- Idempotent: each record is keyed on its stable source id (`temporary_zone.source/source_id`
  for zones, `zone_schedule.source_ref` for calendar events); importing the same file again
  reports everything unchanged, a newer version updates the zone in place.
- Transactional: a file that cannot be read raises ImportFileError before anything is written;
  the whole import runs in a savepoint, and `dry_run=True` rolls it back after computing the
  report (the preview shows exactly what applying would do).
- The report has the same shape as the permanent-zone import: created, updated, unchanged and
  skipped items, each with its reason.
"""

from __future__ import annotations

import hashlib
import json
import uuid
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

Action = Literal["created", "updated", "unchanged", "skipped"]
ACTION_FR = {"created": "créée", "updated": "mise à jour", "unchanged": "inchangée", "skipped": "ignorée"}


@dataclass
class ImportItem:
    """What happens (or would happen) to one record."""

    action: Action
    source_id: str
    code: str | None
    name: str
    reason: str = ""
    changes: list[str] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    occurrences: int = 0


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
    def changed(self) -> int:
        """Created plus updated."""
        return len(self.created) + len(self.updated)

    def counts(self) -> dict[str, int]:
        """Number of items per outcome."""
        return {a: len(self.of(a)) for a in ("created", "updated", "unchanged", "skipped")}  # type: ignore[arg-type]

    def summary(self) -> str:
        """One French line."""
        c = self.counts()
        verb = "aperçu" if self.dry_run else "import"
        return (f"{verb} {self.format} : {c['created']} créée(s), {c['updated']} mise(s) à jour, "
                f"{c['unchanged']} inchangée(s), {c['skipped']} ignorée(s)")


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
    try:
        async with session.begin_nested():
            for problem in batch.problems:
                _report_problem(report, problem)
            for record in batch.records:
                if isinstance(record, EventRecord):
                    report.items.append(await _apply_event(session, record, authority, clock, actor_id))
                else:
                    report.items.append(await _apply_zone(session, record, authority, clock, actor_id))
            if report.changed and not dry_run:
                await record_change(session, actor_id=actor_id, entity="import", entity_id=fmt, action="apply",
                                    at=now, after={"authority": authority.code, **report.counts()})
            if dry_run:
                raise _Preview
    except _Preview:
        pass
    return report


def _report_problem(report: ImportReport, problem: Problem) -> None:
    if problem.severity == "warning":
        report.warnings.append(problem.describe())
        return
    report.items.append(ImportItem("skipped", problem.item_id or f"élément {problem.item}", None, "",
                                   reason=problem.describe()))


def _level(record: ZoneRecord) -> str | None:
    label = str((record.rules or {}).get("perimeter_type") or "").strip().lower()
    return _LEVEL_BY_LABEL.get(label)


def _fingerprint(record: ZoneRecord) -> str:
    content = {
        "name": record.name, "kind": record.kind.value, "geometry": record.geometry, "tz": record.tz,
        "permanent": record.permanent, "from": record.valid_from, "until": record.valid_until,
        "windows": [window_to_json(w) for w in record.windows], "hours": record.opening_hours,
        "rules": record.rules, "version": record.version,
    }
    text = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _zone_dates(record: ZoneRecord) -> dict[str, Any]:
    if record.valid_until is None:
        return {"permanent": True, "starts_on": None, "ends_on": None}
    start = record.valid_from or record.valid_until - timedelta(seconds=1)
    first, last = local_dates(start, record.valid_until, record.tz)
    return {"permanent": False, "starts_on": first, "ends_on": last}


def _periods(record: ZoneRecord) -> list[tuple[datetime, datetime | None]]:
    return [(record.valid_from, record.valid_until)] if record.valid_from is not None else []


async def _set_rule(session: AsyncSession, zone: Zone, record: ZoneRecord, clock: Clock,
                    actor_id: uuid.UUID | None) -> None:
    """One access rule carrying the record's hours (24/7 while in force when it has none)."""
    await session.exec(delete(AccessRule).where(col(AccessRule.zone_id) == zone.id))  # type: ignore[call-overload]
    hours: dict[str, Any] = {}
    if record.windows:
        hours["windows"] = list(record.windows)
    elif record.opening_hours:
        hours["opening_hours"] = record.opening_hours
    await add_access_rule(session, zone_id=zone.id, clock=clock, name="Règle importée",
                          purposes=[p for p in Purpose if p is not Purpose.OTHER], actor_id=actor_id, **hours)


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
    before = {"name": zone.name, "geometry": zone.geometry, "time_zone": zone.time_zone, "kind": zone.kind,
              **{k: getattr(zone, k) for k in ("permanent", "starts_on", "ends_on")}}
    after = {"name": record.name[:200], "geometry": record.geometry, "time_zone": record.tz,
             "kind": record.kind.value, **_zone_dates(record)}
    item.action = "updated"
    item.changes = [k for k in after if before[k] != after[k]]
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
    for problem in batch.problems:
        _report_problem(report, problem)
    async with session.begin_nested():
        for record in batch.records:
            assert isinstance(record, ZoneRecord)
            item = ImportItem("created", record.source_id, None, record.name[:200], starts_at=record.valid_from,
                              ends_at=record.valid_until)
            taken = (await session.exec(select(TemporaryZone.zone_id).where(
                col(TemporaryZone.event_id) == event_id, col(TemporaryZone.source) == record.source,
                col(TemporaryZone.source_id) == record.source_id))).first()
            if taken is not None:
                item.action, item.reason = "unchanged", "périmètre déjà importé dans cet événement"
                report.items.append(item)
                continue
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
            report.items.append(item)
    return report
