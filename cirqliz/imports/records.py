"""What importers return: plain frozen records, per-item problems, and the file-level error.

An importer never raises for one bad item: it skips it (severity "error") or keeps it with a remark
(severity "warning") and says why in French. It raises ImportFileError only when the file as a
whole cannot be read (not UTF-8, not JSON, not XML, schema violation of the document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from cirqliz.domain.errors import DomainError
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ZoneKind

DEFAULT_TZ = "Europe/Paris"

Severity = Literal["error", "warning"]
ItemStatus = Literal["kept", "repaired", "skipped"]
ITEM_STATUS_FR = {"kept": "lu", "repaired": "réparé", "skipped": "ignoré"}


class ImportFileError(DomainError):
    """The file cannot be read at all; `message` (French) names the problem and where it is."""

    code = "import_unreadable"


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem with one item: `item` is the 1-based feature/row/event number (CSV rows count the
    header as row 1), `field` the property concerned when known."""

    item: int
    field: str | None
    message: str
    code: str = "invalid_item"
    severity: Severity = "error"
    item_id: str | None = None
    unit: str = "élément"
    """What `item` counts, in French: "ligne" (CSV), "entité" (GeoJSON feature), "réglementation"
    (DATEX II), "événement" (iCalendar)."""

    def describe(self) -> str:
        """One French line, e.g. 'ligne 4, champ COLL_INSEE : valeur obligatoire absente'."""
        where = f"{self.unit} {self.item}"
        if self.field:
            where += f", champ {self.field}"
        prefix = "" if self.severity == "error" else "avertissement — "
        return f"{where} : {prefix}{self.message}"


@dataclass(frozen=True, slots=True)
class ItemReport:
    """What reading made of one input item (feature, row, regulation, event): every item of the
    file gets exactly one, so the report's totals add up to the input.

    `index` is the 1-based position among the file's items, `line` the line in the file when the
    format has lines (CSV line with the header as line 1, XML element line), `records` how many
    records it gave (0 when skipped; a regulation with two locations may give two). `notes` say
    in French what was repaired, or why the item was skipped.
    """

    index: int
    status: ItemStatus
    unit: str = "élément"
    line: int | None = None
    source_id: str | None = None
    name: str | None = None
    notes: tuple[str, ...] = ()
    records: int = 1

    def describe(self) -> str:
        """One French line, e.g. 'ligne 7 (id 12, rue X) : réparé — parties superposées fusionnées'."""
        where = f"{self.unit} {self.index}"
        if self.line is not None and self.unit != "ligne":
            where += f" (ligne {self.line})"
        ident = ", ".join(x for x in (self.source_id, self.name) if x)
        if ident:
            where += f" [{ident}]"
        text = f"{where} : {ITEM_STATUS_FR[self.status]}"
        return f"{text} — {' ; '.join(self.notes)}" if self.notes else text


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ImportBatch(Generic[R]):
    """The records read from one file, the problems met on the way, and what became of every
    input item (`items`, one per feature/row/regulation/event, in file order)."""

    records: tuple[R, ...]
    problems: tuple[Problem, ...] = ()
    items: tuple[ItemReport, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems that made an item be skipped."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Remarks on items that were kept."""
        return tuple(p for p in self.problems if p.severity == "warning")


@dataclass(frozen=True, slots=True)
class ZoneRecord:
    """A zone as read from an open-data file.

    `source_id` is stable across re-imports of the same publication (update, not duplicate);
    `code` is derived from it deterministically and passes parse_zone_code. `geometry` is a 2-D
    GeoJSON Polygon/MultiPolygon accepted by validate_geometry (lines are buffered, see `extra`).
    `valid_from`/`valid_until` are aware UTC datetimes (until is exclusive): the span of all
    `periods`, which list every validity period of the source ([start, end) UTC pairs, end None
    when open; empty when the source gives a single span). `windows` are the zone's *restriction
    schedule* (when the restriction is in force, ADR 0007), in `tz`; `opening_hours` is the raw OSM
    string they come from, and `hours_expressible` is False when that string says more than the
    windows can (then `windows` is empty and the raw string is the reference). They are never an
    access rule's hours. `url_order`/`url_site` are the source's links (ZFE `url_arrete`/`url_site`).
    """

    source: str
    source_id: str
    code: str
    name: str
    kind: ZoneKind
    geometry: dict[str, Any]
    tz: str = DEFAULT_TZ
    permanent: bool = True
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    windows: tuple[TimeWindow, ...] = ()
    opening_hours: str | None = None
    hours_expressible: bool = True
    rules: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    periods: tuple[tuple[datetime, datetime | None], ...] = ()
    url_order: str | None = None
    url_site: str | None = None


@dataclass(frozen=True, slots=True)
class TrafficOrderRecord:
    """One row of a Cerema goods-traffic order file (arrêté de circulation marchandises).

    Many rows have no geometry (the street is only named): `geometry` is then None and
    `as_zone()` gives None. `crit_air` holds 0..5 and None for "Véhicule non classé".
    """

    source: str
    source_id: str
    code: str
    name: str
    authority: str
    insee: str
    order_date: date | None  # None when the file says "NC" (an order without a known date)
    order_ref: str
    order_object: str
    modality: Literal["allow", "forbid"]
    vehicle_types: tuple[str, ...] = ()
    tonnage_mode: Literal["max", "min"] | None = None
    tonnage_t: float | None = None
    usages: tuple[str, ...] = ()
    except_usages: tuple[str, ...] = ()
    max_length_m: float | None = None
    max_width_m: float | None = None
    max_height_m: float | None = None
    motors: tuple[str, ...] = ()
    crit_air: tuple[int | None, ...] = ()
    opening_hours: str | None = None
    windows: tuple[TimeWindow, ...] = ()
    hours_expressible: bool = True
    period_start: str | None = None
    period_end: str | None = None
    geometry: dict[str, Any] | None = None
    tz: str = DEFAULT_TZ
    extra: dict[str, Any] = field(default_factory=dict)

    def as_zone(self, kind: ZoneKind = ZoneKind.LIMITED_TRAFFIC) -> ZoneRecord | None:
        """The order as a permanent zone when it has a geometry, else None."""
        if self.geometry is None:
            return None
        rules: dict[str, Any] = {
            "modality": self.modality,
            "vehicle_types": list(self.vehicle_types),
            "tonnage_mode": self.tonnage_mode,
            "tonnage_t": self.tonnage_t,
            "usages": list(self.usages),
            "except_usages": list(self.except_usages),
            "max_length_m": self.max_length_m,
            "max_width_m": self.max_width_m,
            "max_height_m": self.max_height_m,
            "motors": list(self.motors),
            "crit_air": list(self.crit_air),
        }
        return ZoneRecord(
            source=self.source, source_id=self.source_id, code=self.code, name=self.name, kind=kind,
            geometry=self.geometry, tz=self.tz, permanent=True, windows=self.windows,
            opening_hours=self.opening_hours, hours_expressible=self.hours_expressible,
            rules=rules, extra=dict(self.extra),
        )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One iCalendar VEVENT with its occurrences expanded in the requested window.

    `occurrences` are (start, end) pairs of aware UTC datetimes, sorted. `zone_code` comes from
    the zone property (X-CIRQLIZ-ZONE by default) or a LOCATION that is itself a zone code.
    """

    source: str
    source_id: str
    summary: str
    occurrences: tuple[tuple[datetime, datetime], ...]
    tz: str = DEFAULT_TZ
    zone_code: str | None = None
    location: str | None = None
    geo: tuple[float, float] | None = None
    rrule: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_ORDER_TUPLES = ("vehicle_types", "usages", "except_usages", "motors", "crit_air")


def traffic_order_json(record: TrafficOrderRecord) -> dict[str, Any]:
    """The JSON form of an order kept without geometry (`traffic_order.rules`): every field but
    the geometry and the windows (rebuilt from `opening_hours`)."""
    data: dict[str, Any] = {}
    for name in TrafficOrderRecord.__dataclass_fields__:
        if name in ("geometry", "windows"):
            continue
        value = getattr(record, name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, date):
            value = value.isoformat()
        data[name] = value
    return data


def traffic_order_record(data: dict[str, Any], *, geometry: dict[str, Any] | None = None) -> TrafficOrderRecord:
    """Inverse of traffic_order_json, with the geometry the authority drew or attached."""
    from cirqliz.domain.osm_hours import parse_opening_hours  # the domain parser; no cycle at import time

    values = {k: v for k, v in data.items() if k in TrafficOrderRecord.__dataclass_fields__}
    for name in _ORDER_TUPLES:
        values[name] = tuple(values.get(name) or ())
    values["order_date"] = date.fromisoformat(values["order_date"]) if values.get("order_date") else None
    windows: tuple[TimeWindow, ...] = ()
    if values.get("opening_hours"):
        spec = parse_opening_hours(values["opening_hours"])
        windows = tuple(spec.windows or ())
    return TrafficOrderRecord(**values, windows=windows, geometry=geometry)
