"""Exemption lists: the vehicles exempted in a low-emission zone or allowed in a restricted zone.

Plates are personal data: the lists are read only by the authority's staff or by API tokens with
the exports scope, and every export is written to the audit log with its filters and row count.

Rows come from Exemption rows ("dérogations", any zone kind the authority owns) and from the
authority's active passes (one row per pass and zone). Each row: plate and country (split from
the normalised plate), source ('exemption' or 'pass'), category (exemption kind, or the pass's
purpose name), zone code and ref, start and end as UTC instants (end exclusive; an exemption's
days are taken in the zone's time zone), pass serial, status ('active', 'upcoming', 'expired'
at the time of the export).

Formats. `csv` and `json` are machine formats: the English column names of COLUMNS (stable),
codes for source, category and status, start and end as ISO 8601 UTC instants
(`2026-03-01T08:00:00Z`). `csv-fr` is for French spreadsheets: UTF-8 with a BOM, ';', the French
headers of COLUMNS_FR (same columns, same order), French labels for source, category and status,
an exemption's first and last day as JJ/MM/AAAA (last day included), a pass's start and end as
"JJ/MM/AAAA HH:MM" in its zone's time zone (end excluded, as on the pass).

Rows are read with a server-side cursor in large batches (asyncpg's own cursor on PostgreSQL,
plain tuples) and written as they come, so memory stays flat whatever the number of rows.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, case, func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cirqliz.clock import Clock
from cirqliz.db.engine import transaction
from cirqliz.db.models import AccessPass, Exemption, PassZone, Zone
from cirqliz.domain.errors import DomainError
from cirqliz.domain.passes import ExemptionKind, PassStatus
from cirqliz.domain.purposes import Purpose
from cirqliz.domain.windows import zone_info
from cirqliz.issuance.audit import record_change
from cirqliz.labels import EXEMPTION_STATUS_FR

COLUMNS = ("plate", "country", "source", "category", "zone_code", "zone_ref", "start", "end", "serial", "status")
# The same columns in the French spreadsheet file (csv-fr), in the same order.
COLUMNS_FR = ("Immatriculation", "Pays", "Origine", "Catégorie", "Zone", "Référence de la zone", "Début", "Fin",
              "Numéro du laissez-passer", "Statut")
FORMATS = {
    "csv": ("text/csv", "csv"),
    "csv-fr": ("text/csv", "csv"),
    "json": ("application/json", "json"),
}
STATUSES = ("active", "upcoming", "expired")
DEFAULT_BATCH = 2000
EXPORT_TZ = "Europe/Paris"  # the day of `active_on`
BOM = "\ufeff"
log = logging.getLogger("cirqliz.exports")


def categories() -> list[str]:
    """Every category value: exemption kinds, then pass purposes."""
    return [k.value for k in ExemptionKind] + [p.name.lower() for p in Purpose]


def category_label(value: str) -> str:
    """The French label of a category value (exemption kind or purpose name)."""
    if value in ExemptionKind.__members__.values():
        return ExemptionKind(value).label_fr
    purpose = Purpose.__members__.get(value.upper())
    return f"motif : {purpose.label_fr}" if purpose is not None else value


_PURPOSE_NAMES = {int(p): p.name.lower() for p in Purpose}
_PURPOSE_CODES = {v: k for k, v in _PURPOSE_NAMES.items()}
_KIND_VALUES = frozenset(k.value for k in ExemptionKind)
_STATUS_CODES = {s: s for s in STATUSES}
# What people read in the French file: labels, never codes.
STATUS_LABELS_FR = EXEMPTION_STATUS_FR
SOURCE_LABELS_FR = {"exemption": "dérogation", "pass": "laissez-passer"}
_KIND_LABELS_FR = {k.value: k.label_fr for k in ExemptionKind}
_PURPOSE_LABELS_FR = {int(p): p.label_fr for p in Purpose}


@dataclass(frozen=True, slots=True)
class ExemptionFilter:
    """Filters of an export (all optional): zone code, a day the row is valid on (Paris time),
    category (exemption kind or purpose name), status."""

    zone: str | None = None
    active_on: date | None = None
    category: str | None = None
    status: str | None = None

    @classmethod
    def parse(cls, *, zone: str | None = None, active_on: str | date | None = None, category: str | None = None,
              status: str | None = None) -> ExemptionFilter:
        """Filters from text (query string, CLI); DomainError naming the field that is wrong."""
        day = active_on
        if isinstance(active_on, str):
            try:
                day = date.fromisoformat(active_on.strip()) if active_on.strip() else None
            except ValueError:
                raise DomainError(f"active_on : date illisible ({active_on!r}, attendu AAAA-MM-JJ)",
                                  code="invalid_date") from None
        category = (category or "").strip().lower() or None
        if category is not None and category not in categories():
            raise DomainError(f"category : valeur inconnue {category!r} (attendu : {', '.join(categories())})",
                              code="invalid_category")
        status = (status or "").strip().lower() or None
        if status is not None and status not in STATUSES:
            raise DomainError(f"status : valeur inconnue {status!r} (attendu : {', '.join(STATUSES)})",
                              code="invalid_status")
        return cls((zone or "").strip().upper() or None, day, category, status)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form, for the audit log."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items() if v is not None}


def _day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=zone_info(tz))
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


@lru_cache(maxsize=4096)
def _local_midnight(day: date, tz: str) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=zone_info(tz)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _split_plate(plate: str) -> tuple[str, str]:
    country, sep, number = plate.partition(":")
    return (number, country) if sep else (plate, "FR")


def _exemption_statement(authority_id: uuid.UUID, filters: ExemptionFilter, today: date) -> Any:
    statement = (
        select(Exemption.plate, Exemption.kind, Zone.code, Zone.ref, Zone.time_zone, Exemption.starts_on,
               Exemption.ends_on, AccessPass.serial)
        .join(Zone, col(Zone.id) == Exemption.zone_id)
        .outerjoin(AccessPass, col(AccessPass.id) == Exemption.pass_id)
        .where(col(Zone.authority_id) == authority_id)
    )
    if filters.zone:
        statement = statement.where(col(Zone.code) == filters.zone)
    if filters.category:
        statement = statement.where(col(Exemption.kind) == filters.category)
    if filters.active_on:
        statement = statement.where(col(Exemption.starts_on) <= filters.active_on,
                                    col(Exemption.ends_on) >= filters.active_on)
    if filters.status == "active":
        statement = statement.where(col(Exemption.starts_on) <= today, col(Exemption.ends_on) >= today)
    elif filters.status == "upcoming":
        statement = statement.where(col(Exemption.starts_on) > today)
    elif filters.status == "expired":
        statement = statement.where(col(Exemption.ends_on) < today)
    return statement.order_by(col(Exemption.plate), col(Exemption.id))


def _pass_statement(authority_id: uuid.UUID, filters: ExemptionFilter, now: datetime) -> Any:
    statement = (
        select(AccessPass.plate, AccessPass.purpose, Zone.code, Zone.ref, Zone.time_zone, AccessPass.not_before,
               AccessPass.expires_at, AccessPass.serial)
        .join(PassZone, col(PassZone.pass_id) == AccessPass.id)
        .join(Zone, col(Zone.id) == PassZone.zone_id)
        .where(col(AccessPass.authority_id) == authority_id, col(AccessPass.status) == PassStatus.ACTIVE.value)
    )
    if filters.zone:
        statement = statement.where(col(Zone.code) == filters.zone)
    if filters.category:
        statement = statement.where(col(AccessPass.purpose) == _PURPOSE_CODES.get(filters.category, -1))
    if filters.active_on:
        start, end = _day_bounds(filters.active_on, EXPORT_TZ)
        statement = statement.where(col(AccessPass.not_before) < end, col(AccessPass.expires_at) > start)
    if filters.status == "active":
        statement = statement.where(col(AccessPass.not_before) <= now, col(AccessPass.expires_at) > now)
    elif filters.status == "upcoming":
        statement = statement.where(col(AccessPass.not_before) > now)
    elif filters.status == "expired":
        statement = statement.where(col(AccessPass.expires_at) <= now)
    return statement.order_by(col(AccessPass.plate), col(AccessPass.serial), col(Zone.ref))


async def _record_batches(session: AsyncSession, statement: Any, batch_size: int) -> AsyncIterator[Sequence[Any]]:
    """Batches of plain rows (tuple-like, in the statement's column order) from a server-side cursor.

    On PostgreSQL (asyncpg) the compiled statement runs on asyncpg's own cursor, `batch_size` rows
    per fetch, so the rows never become SQLAlchemy Row or ORM objects (half the cost of an export
    went there); other drivers go through SQLAlchemy's streaming result, same batches.
    """
    conn = await session.connection()
    if conn.dialect.driver == "asyncpg":
        compiled = statement.compile(dialect=conn.dialect)
        if compiled.positiontup is not None and "POSTCOMPILE" not in compiled.string:
            params = compiled.construct_params()
            processors = compiled._bind_processors  # what SQLAlchemy itself applies to each parameter
            args = [processors[name](params[name]) if name in processors else params[name]
                    for name in compiled.positiontup]
            driver = (await conn.get_raw_connection()).driver_connection
            if not driver.is_in_transaction():
                # A cursor needs a transaction: let SQLAlchemy open it (one round trip), so that
                # it also ends it when the session closes, even if the export stops half-way.
                await conn.exec_driver_sql("SELECT 1")
            cursor = await driver.cursor(compiled.string, *args)
            while records := await cursor.fetch(batch_size):
                yield records
            return
    result = await conn.stream(statement.execution_options(yield_per=batch_size))
    async for partition in result.partitions(batch_size):
        yield partition


class _DayTexts(dict[date, str]):
    """date -> its text, computed once per date (an export repeats a few thousand dates)."""

    __slots__ = ("text_of",)

    def __init__(self, text_of: Callable[[date], str]) -> None:
        super().__init__()
        self.text_of = text_of

    def __missing__(self, day: date) -> str:
        text = self[day] = self.text_of(day)
        return text


def _utc_midnight_texts(tz: str, shift: int = 0) -> _DayTexts:
    """date -> ISO UTC instant of the local midnight `shift` days after it, in zone `tz`."""
    return _DayTexts(lambda day: _local_midnight(day + timedelta(days=shift), tz))


def _french_day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


async def iter_exemption_rows(
    session: AsyncSession, *, authority_id: uuid.UUID, filters: ExemptionFilter, now: datetime,
    batch_size: int = DEFAULT_BATCH, french: bool = False,
) -> AsyncIterator[list[tuple]]:
    """Batches of rows (tuples in COLUMNS order), exemptions first, then passes; read with a
    server-side cursor so that only one batch is in memory at a time.

    Machine rows (csv, json): source, category and status as codes, start and end as UTC instants
    (end exclusive). French rows (`french`, csv-fr): French labels, an exemption's first and last
    day as JJ/MM/AAAA, a pass's start and end as JJ/MM/AAAA HH:MM in its zone's time zone.
    """
    today = now.astimezone(zone_info(EXPORT_TZ)).date()
    status_text = STATUS_LABELS_FR if french else _STATUS_CODES
    if filters.category is None or filters.category in _KIND_VALUES:
        source = SOURCE_LABELS_FR["exemption"] if french else "exemption"
        kinds = _Labels(_KIND_LABELS_FR if french else {})
        active, upcoming, expired = status_text["active"], status_text["upcoming"], status_text["expired"]
        starts_by_tz: dict[str, _DayTexts] = {}
        ends_by_tz: dict[str, _DayTexts] = {}
        french_days = _DayTexts(_french_day)
        statement = _exemption_statement(authority_id, filters, today)
        async for records in _record_batches(session, statement, batch_size):
            rows = []
            append = rows.append
            for plate, kind, code, ref, tz, starts_on, ends_on, serial in records:
                if french:
                    start_text, end_text = french_days[starts_on], french_days[ends_on]  # last day, inclusive
                else:
                    starts = starts_by_tz.get(tz)
                    if starts is None:
                        starts = starts_by_tz[tz] = _utc_midnight_texts(tz)
                        ends_by_tz[tz] = _utc_midnight_texts(tz, 1)
                    start_text, end_text = starts[starts_on], ends_by_tz[tz][ends_on]  # end exclusive
                if ":" in plate:
                    country, _, number = plate.partition(":")
                else:
                    number, country = plate, "FR"
                append((number, country, source, kinds[kind], code, ref, start_text, end_text, serial or "",
                        upcoming if starts_on > today else (expired if ends_on < today else active)))
            yield rows
    if filters.category is None or filters.category in _PURPOSE_CODES:
        source = SOURCE_LABELS_FR["pass"] if french else "pass"
        purposes = _PURPOSE_LABELS_FR if french else _PURPOSE_NAMES
        statement = _pass_statement(authority_id, filters, now)
        async for records in _record_batches(session, statement, batch_size):
            rows = []
            for plate, purpose, code, ref, tz, not_before, expires_at, serial in records:
                number, country = _split_plate(plate)
                if not_before.tzinfo is None:
                    not_before, expires_at = not_before.replace(tzinfo=UTC), expires_at.replace(tzinfo=UTC)
                status = "upcoming" if not_before > now else ("expired" if expires_at <= now else "active")
                if french:
                    start_text, end_text = _french_local(not_before, tz), _french_local(expires_at, tz)
                else:
                    start_text, end_text = _instant(not_before), _instant(expires_at)
                rows.append((number, country, source, purposes.get(purpose, str(purpose)), code, ref, start_text,
                             end_text, serial, status_text[status]))
            yield rows


def _french_local(instant: datetime, tz: str) -> str:
    return instant.astimezone(zone_info(tz)).strftime("%d/%m/%Y %H:%M")


class _Labels(dict[str, str]):
    """value -> label, a value without a label standing for itself (remembered)."""

    def __missing__(self, value: str) -> str:
        self[value] = value
        return value


async def encode_rows(batches: AsyncIterator[list[tuple]], fmt: str, counter: list[int]) -> AsyncIterator[bytes]:
    """The bytes of an export, one chunk per batch; `counter[0]` counts the rows written.

    csv: UTF-8, ',' and COLUMNS as header; csv-fr: UTF-8 with a BOM, ';' and COLUMNS_FR as header
    (French spreadsheets; the rows should be the French ones); json: one array of objects with
    COLUMNS as keys, written as it goes.
    """
    if fmt not in FORMATS:
        raise DomainError(f"format inconnu : {fmt!r} (attendu : {', '.join(FORMATS)})", code="invalid_format")
    if fmt == "json":
        first = True
        yield b"["
        async for rows in batches:
            if not rows:
                continue
            parts = [json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False, separators=(",", ":"))
                     for row in rows]
            chunk = ("\n" if first else ",\n") + ",\n".join(parts)
            first = False
            counter[0] += len(rows)
            yield chunk.encode("utf-8")
        yield b"\n]\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if fmt == "csv-fr" else ",", lineterminator="\r\n")
    writer.writerow(COLUMNS_FR if fmt == "csv-fr" else COLUMNS)
    prefix = BOM if fmt == "csv-fr" else ""
    yield (prefix + buffer.getvalue()).encode("utf-8")
    async for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        counter[0] += len(rows)
        yield buffer.getvalue().encode("utf-8")


async def record_export(
    session: AsyncSession, *, authority_id: uuid.UUID, actor_id: uuid.UUID | None, at: datetime, fmt: str,
    filters: ExemptionFilter, rows: int, complete: bool, token_id: uuid.UUID | None = None, channel: str = "web",
) -> None:
    """The audit record of one export: who (user or token), when, filters, format, rows."""
    after: dict[str, Any] = {"format": fmt, "filters": filters.as_dict(), "rows": rows, "complete": complete,
                             "channel": channel}
    if token_id is not None:
        after["api_token_id"] = str(token_id)
    await record_change(session, actor_id=actor_id, entity="export", entity_id=authority_id,
                        action="export_exemptions", at=at, after=after)


# A refused export is audited with bounded fields, whatever the request carried.
EXPORT_PARAMETERS = ("format", "variant", "zone", "active_on", "category", "status")
MAX_REFUSAL_QUERY = 200
MAX_REFUSAL_PATH = 100
MAX_REFUSAL_CLIENT = 64
MAX_REFUSAL_TEXT = 512
"""Upper bound of a refusal record's `after`, as compact JSON (the fields below are cut to fit)."""


def refusal_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The export's own parameters of a query (others dropped) in name order (the parsed query's own
    order varies), URL-encoded, cut to MAX_REFUSAL_QUERY."""
    return urlencode(sorted((k, v) for k, v in pairs if k in EXPORT_PARAMETERS))[:MAX_REFUSAL_QUERY]


async def record_export_refusal(
    session: AsyncSession, *, actor_id: uuid.UUID | None, token_id: uuid.UUID | None, status: int, path: str,
    query: Iterable[tuple[str, str]], client: str | None, at: datetime,
) -> None:
    """The audit record of an export refused to a known user or token (wrong role, missing scope,
    not an authority); every stored field is capped (MAX_REFUSAL_TEXT in all)."""
    await record_change(session, actor_id=actor_id, entity="export", entity_id="exemptions",
                        action="export_refused", at=at,
                        after={"path": path[:MAX_REFUSAL_PATH], "query": refusal_query(query), "status": int(status),
                               "client": client[:MAX_REFUSAL_CLIENT] if client else None,
                               "token_id": str(token_id) if token_id else None})


@dataclass(frozen=True, slots=True)
class ZoneCounts:
    """Rows an export would hold for one zone."""

    zone_id: uuid.UUID
    code: str
    name: str
    kind: str
    exemptions: int
    exemptions_active: int
    passes_active: int


async def counts_by_zone(session: AsyncSession, authority_id: uuid.UUID, now: datetime,
                         zone_ids: Sequence[uuid.UUID] | None = None) -> list[ZoneCounts]:
    """Per zone of the authority (or of those of `zone_ids`, e.g. one page of them): exemptions
    (all, and valid today) and passes valid now."""
    only = [col(Zone.id).in_(list(zone_ids))] if zone_ids is not None else []
    today = now.astimezone(zone_info(EXPORT_TZ)).date()
    active_today = and_(col(Exemption.starts_on) <= today, col(Exemption.ends_on) >= today)
    exemptions = dict((zone_id, (total, active)) for zone_id, total, active in (await session.exec(
        select(Exemption.zone_id, func.count(), func.sum(case((active_today, 1), else_=0)))
        .join(Zone, col(Zone.id) == Exemption.zone_id).where(col(Zone.authority_id) == authority_id, *only)
        .group_by(col(Exemption.zone_id)))).all())
    passes = dict((await session.exec(
        select(PassZone.zone_id, func.count()).join(AccessPass, col(AccessPass.id) == PassZone.pass_id)
        .where(col(AccessPass.authority_id) == authority_id, col(AccessPass.status) == PassStatus.ACTIVE.value,
               col(AccessPass.not_before) <= now, col(AccessPass.expires_at) > now,
               *([col(PassZone.zone_id).in_(list(zone_ids))] if zone_ids is not None else []))
        .group_by(col(PassZone.zone_id)))).all())
    zones = (await session.exec(select(Zone.id, Zone.code, Zone.name, Zone.kind)  # no geometry: a table of counts
                                .where(col(Zone.authority_id) == authority_id, *only).order_by(col(Zone.ref)))).all()
    out = []
    for zone_id, code, name, kind in zones:
        total, active = exemptions.get(zone_id, (0, 0))
        out.append(ZoneCounts(zone_id, code, name, kind, int(total or 0), int(active or 0),
                              int(passes.get(zone_id, 0))))
    return out


def export_filename(authority_code: str, fmt: str, now: datetime) -> str:
    """e.g. 'derogations-paris-20260302.csv'."""
    return f"derogations-{authority_code}-{now.astimezone(UTC):%Y%m%d}.{FORMATS[fmt][1]}"


async def stream_export(
    read_maker: async_sessionmaker[AsyncSession], write_maker: async_sessionmaker[AsyncSession], *,
    authority_id: uuid.UUID, filters: ExemptionFilter, fmt: str, clock: Clock, actor_id: uuid.UUID | None,
    token_id: uuid.UUID | None = None, channel: str = "web", batch_size: int = DEFAULT_BATCH,
) -> AsyncIterator[bytes]:
    """The export's bytes as they are read, then its audit record (final row count, and whether it
    went to the end) in a short transaction of its own. `read_maker` should be a read-only
    session factory (create_session_factory(engine, read_only=True)): a long read must not hold
    SQLite's write lock."""
    if fmt not in FORMATS:
        raise DomainError(f"format inconnu : {fmt!r} (attendu : {', '.join(FORMATS)})", code="invalid_format")
    counter = [0]
    complete = False
    now = clock.now()
    try:
        async with read_maker() as session:
            batches = iter_exemption_rows(session, authority_id=authority_id, filters=filters, now=now,
                                          batch_size=batch_size, french=fmt == "csv-fr")
            async for chunk in encode_rows(batches, fmt, counter):
                yield chunk
        complete = True
    finally:
        try:
            async with transaction(write_maker) as session:
                await record_export(session, authority_id=authority_id, actor_id=actor_id, at=clock.now(), fmt=fmt,
                                    filters=filters, rows=counter[0], complete=complete, token_id=token_id,
                                    channel=channel)
        except Exception:  # the export itself went out: say loudly that its record did not
            log.exception("audit record of an exemption export failed (authority %s, %s rows)", authority_id,
                          counter[0])
            raise
