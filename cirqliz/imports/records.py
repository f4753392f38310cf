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

    def describe(self) -> str:
        """One French line, e.g. 'ligne 4, champ COLL_INSEE : valeur obligatoire absente'."""
        where = f"élément {self.item}"
        if self.field:
            where += f", champ {self.field}"
        prefix = "" if self.severity == "error" else "avertissement — "
        return f"{where} : {prefix}{self.message}"


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ImportBatch(Generic[R]):
    """The records read from one file and the problems met on the way."""

    records: tuple[R, ...]
    problems: tuple[Problem, ...] = ()

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
    `valid_from`/`valid_until` are aware UTC datetimes (until is exclusive). `windows` say when the
    zone's rule applies, in `tz`; `opening_hours` is the raw OSM string they come from, and
    `hours_expressible` is False when that string says more than the windows can (then `windows`
    is empty and the raw string is the reference).
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
    order_date: date
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
