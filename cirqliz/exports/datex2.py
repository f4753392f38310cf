"""Export zones as a DATEX II v3 TrafficRegulationPublication (with the DiaLog XSDs).

Each zone becomes one trafficRegulationOrder (id 'CIRQLIZ-<code>', version from the zone or '1')
with one trafficRegulation: an AccessRestriction noEntry whose ConditionSet says

- when: the zone's restriction schedule (ADR 0007) as a ValidityCondition: overall start/end,
  one validPeriod per time window (days and times of day), per dated period (an event's
  periods), or per period and window when it has both; public holidays as an exceptionPeriod;
  no validPeriod when the restriction is in force at all times;
- where: an AreaLocation with a GML multipolygon, latitude first as GML EPSG:4326 wants, the
  coordinates rounded to 8 decimals unless that would break the polygon (cirqliz.exports.geometry);
- unless: the vehicle holds a permit (a PermitCondition, negated). When the zone's access rules
  limit who may get one, the exception is a negated "or" of one set per rule: the permit, the
  vehicle it must be (VehicleCondition: DATEX vehicle types, and the EU categories in a
  CirQliz extension element; Crit'Air classes admitted as emissionClassificationOther
  "critair0".."critair5"; gross weight, length, width and height limits) and the hours it is
  valid at (ValidityCondition).

The zone's order URL goes in the DiaLog order extension (publicUrl). Times of day are local wall
times of the zone's time zone; a window crossing midnight is written with an end before its
start. A publication without zones is valid (no trafficRegulationsFromCompetentAuthorities).
Output depends only on the input: no clock is read. What is written is checked like what is
read (cirqliz.imports.datex2.parse_datex2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from cirqliz.domain.windows import MINUTES_PER_DAY, TimeWindow
from cirqliz.exports.geometry import export_geometry, format_coordinate
from cirqliz.exports.zfe import ExportFileError, ZoneLike
from cirqliz.imports.common import local_day_start
from cirqliz.imports.datex2 import DAYS, NS, parse_datex2
from cirqliz.imports.records import ImportFileError

# Elements of CirQliz's own in the extension points DATEX II leaves open (xs:any, lax): readers
# that do not know them skip them; the published XSDs accept them.
CIRQLIZ_NS = "urn:cirqliz:datex2:1"
_NAMESPACES = {**NS, "cq": CIRQLIZ_NS}
for _prefix in ("d2", "com", "loc", "tro", "dx", "xsi", "cq"):
    register_namespace(_prefix, _NAMESPACES[_prefix])

_XSI_TYPE = f"{{{NS['xsi']}}}type"
_ID_NAMESPACE = uuid.UUID("7d1c6f0e-52b1-4c55-9a43-2f0c5e2a1b7d")
# EU vehicle category -> nearest DATEX II vehicleType (the exact category is written alongside).
VEHICLE_TYPES = {
    "M1": "passengerCar", "M2": "minibus", "M3": "bus", "N1": "lightCommercialVehicle",
    "N2": "heavyGoodsVehicle", "N3": "heavyGoodsVehicle", "L1e": "moped", "L2e": "threeWheeledVehicle",
    "L3e": "motorcycle", "L4e": "motorcycleWithSideCar", "L5e": "threeWheeledVehicle",
    "L6e": "carOrLightVehicle", "L7e": "carOrLightVehicle",
}
CRITAIR_CLASSIFICATION = "critair{}"


@dataclass(frozen=True, slots=True)
class PermitRule:
    """An access rule as DATEX II can say it: who may get a permit (vehicle) and when it is valid.

    `windows` are the rule's own hours while the restriction is in force (empty: at any time).
    """

    name: str = ""
    categories: tuple[str, ...] = ()
    max_crit_air: int | None = None
    max_weight_kg: int | None = None
    min_weight_kg: int | None = None
    max_length_cm: int | None = None
    max_width_cm: int | None = None
    max_height_cm: int | None = None
    windows: tuple[TimeWindow, ...] = ()

    @property
    def vehicle_limited(self) -> bool:
        """Whether the rule limits the vehicle (else any vehicle with a permit)."""
        return bool(self.categories) or any(v is not None for v in (
            self.max_crit_air, self.max_weight_kg, self.min_weight_kg, self.max_length_cm, self.max_width_cm,
            self.max_height_cm))

    @property
    def limited(self) -> bool:
        """Whether the rule says more than "any vehicle with a permit, at any time"."""
        return self.vehicle_limited or bool(self.windows)


def _q(prefix: str, name: str) -> str:
    return f"{{{_NAMESPACES[prefix]}}}{name}"


def _sub(parent: Element, prefix: str, name: str, text: str | None = None, xsi_type: str | None = None) -> Element:
    element = SubElement(parent, _q(prefix, name))
    if xsi_type:
        element.set(_XSI_TYPE, xsi_type)
    if text is not None:
        element.text = text
    return element


def _multilingual(parent: Element, prefix: str, name: str, text: str, lang: str = "fr") -> None:
    holder = _sub(parent, prefix, name)
    values = _sub(holder, "com", "values")
    _sub(values, "com", "value", text).set("lang", lang)


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise ExportFileError("export DATEX II refusé : instant sans fuseau horaire (heures UTC attendues)",
                              code="naive_time")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(minute: int) -> str:
    return "23:59:59" if minute >= MINUTES_PER_DAY else f"{minute // 60:02d}:{minute % 60:02d}:00"


def _decimal(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _pos_list(ring: Sequence[Sequence[float]], digits: int | None) -> str:
    return " ".join(f"{format_coordinate(p[1], digits)} {format_coordinate(p[0], digits)}" for p in ring)


def order_id(zone: ZoneLike) -> str:
    """Stable DATEX identifier of a zone's order."""
    return f"CIRQLIZ-{zone.code}"


def publication_id(zones: Sequence[ZoneLike]) -> str:
    """A UUID derived from the zone codes (same zones, same id)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "|".join(sorted(z.code for z in zones))))


def _window_bounds(window: TimeWindow, tz: str) -> tuple[datetime | None, datetime | None]:
    first = local_day_start(window.first_day, tz) if window.first_day is not None else None
    last = local_day_start(window.last_day + timedelta(days=1), tz) if window.last_day is not None else None
    return first, last


def _recurring(period: Element, window: TimeWindow) -> None:
    times = _sub(period, "com", "recurringTimePeriodOfDay", xsi_type="com:TimePeriodOfDay")
    _sub(times, "com", "startTimeOfPeriod", _clock(window.start))
    _sub(times, "com", "endTimeOfPeriod", _clock(window.end))
    days = _sub(period, "com", "recurringDayWeekMonthPeriod", xsi_type="com:DayWeekMonth")
    for index, name in enumerate(DAYS):
        if window.weekdays >> index & 1:
            _sub(days, "com", "applicableDay", name)


def _valid_period(spec: Element, start: datetime | None, end: datetime | None, window: TimeWindow | None) -> None:
    period = _sub(spec, "com", "validPeriod")
    if start is not None:
        _sub(period, "com", "startOfPeriod", _instant(start))
    if end is not None:
        _sub(period, "com", "endOfPeriod", _instant(end))
    if window is not None:
        _recurring(period, window)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _sooner(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _validity(parent: Element, zone: ZoneLike, start: datetime, end: datetime | None,
              windows: Sequence[TimeWindow], periods: Sequence[tuple[datetime, datetime | None]] = ()) -> None:
    """A ValidityCondition: in force from `start` to `end`, during `periods` (dated) and `windows`."""
    skips = {w.skip_public_holidays for w in windows}
    if len(skips) > 1:
        raise ExportFileError(f"export DATEX II refusé : zone {zone.code} : certains créneaux seulement excluent "
                              "les jours fériés, ce que DATEX II ne sait pas dire", code="export_mixed_holidays")
    condition = _sub(parent, "tro", "conditions", xsi_type="tro:ValidityCondition")
    _sub(condition, "tro", "negate", "false")
    validity = _sub(condition, "tro", "validityByOrder")
    _sub(validity, "com", "validityStatus", "definedByValidityTimeSpec")
    spec = _sub(validity, "com", "validityTimeSpecification")
    _sub(spec, "com", "overallStartTime", _instant(start))
    if end is not None:
        _sub(spec, "com", "overallEndTime", _instant(end))
    if periods and windows:
        for period_start, period_end in periods:
            for window in windows:
                first, last = _window_bounds(window, zone.tz)
                begin, finish = _later(period_start, first), _sooner(period_end, last)
                if begin is not None and finish is not None and begin >= finish:
                    continue
                _valid_period(spec, begin, finish, window)
    elif periods:
        for period_start, period_end in periods:
            _valid_period(spec, period_start, period_end, None)
    else:
        for window in windows:
            _valid_period(spec, *_window_bounds(window, zone.tz), window)
    if skips == {True}:
        period = _sub(spec, "com", "exceptionPeriod")
        special = _sub(period, "com", "recurringSpecialDay", xsi_type="com:SpecialDay")
        _sub(special, "com", "intersectWithApplicableDays", "true")
        _sub(special, "com", "specialDayType", "publicHoliday")


def _location(parent: Element, zone: ZoneLike) -> None:
    condition = _sub(parent, "tro", "conditions", xsi_type="tro:LocationCondition")
    _sub(condition, "tro", "negate", "false")
    location = _sub(condition, "tro", "implementedLocation", xsi_type="loc:AreaLocation")
    multi = _sub(location, "loc", "gmlMultiPolygon")
    geometry, digits = export_geometry(zone.geometry)
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for rings in polygons:
        polygon = _sub(multi, "loc", "gmlPolygon")
        for index, ring in enumerate(rings):
            holder = _sub(polygon, "loc", "exterior" if index == 0 else "interior")
            _sub(holder, "loc", "posList", _pos_list(ring, digits))


def _permit_condition(parent: Element, permit_url: str | None, *, negate: bool) -> None:
    condition = _sub(parent, "tro", "conditions", xsi_type="tro:PermitCondition")
    _sub(condition, "tro", "negate", "true" if negate else "false")
    if permit_url:
        _sub(condition, "tro", "whereToApplyForPermit", permit_url)
    _sub(condition, "tro", "locationRelatedPermit", "true")


def _measure(parent: Element, name: str, operator: str, element: str, value: str,
             weight: bool = False) -> None:
    holder = _sub(parent, "com", name)
    _sub(holder, "com", "comparisonOperator", operator)
    _sub(holder, "com", element, value)
    if weight:
        _sub(holder, "com", "typeOfWeight", "maximumPermitted")


def _vehicle_condition(parent: Element, rule: PermitRule) -> None:
    condition = _sub(parent, "tro", "conditions", xsi_type="tro:VehicleCondition")
    _sub(condition, "tro", "negate", "false")
    vehicle = _sub(condition, "tro", "vehicleCharacteristics")
    for kind in dict.fromkeys(VEHICLE_TYPES[c] for c in rule.categories if c in VEHICLE_TYPES):
        _sub(vehicle, "com", "vehicleType", kind)
    if rule.max_weight_kg is not None:
        _measure(vehicle, "grossWeightCharacteristic", "lessThanOrEqualTo", "grossVehicleWeight",
                 _decimal(rule.max_weight_kg / 1000), weight=True)
    if rule.min_weight_kg is not None:
        _measure(vehicle, "grossWeightCharacteristic", "greaterThanOrEqualTo", "grossVehicleWeight",
                 _decimal(rule.min_weight_kg / 1000), weight=True)
    for value, name, element in ((rule.max_height_cm, "heightCharacteristic", "vehicleHeight"),
                                 (rule.max_length_cm, "lengthCharacteristic", "vehicleLength"),
                                 (rule.max_width_cm, "widthCharacteristic", "vehicleWidth")):
        if value is not None:
            _measure(vehicle, name, "lessThanOrEqualTo", element, _decimal(value / 100))
    if rule.max_crit_air is not None:
        emissions = _sub(vehicle, "com", "emissions")
        for level in range(0, min(rule.max_crit_air, 5) + 1):
            _sub(emissions, "com", "emissionClassificationOther", CRITAIR_CLASSIFICATION.format(level))
    if rule.categories:
        extension = _sub(vehicle, "com", "_vehicleCharacteristicsExtension")
        for category in rule.categories:
            _sub(extension, "cq", "vehicleCategory", category)


def _exemptions(parent: Element, zone: ZoneLike, rules: Sequence[PermitRule], permit_url: str | None,
                start: datetime, end: datetime | None) -> None:
    """Unless the vehicle holds a permit: as the zone's rules say who may hold one, and when."""
    if not any(rule.limited for rule in rules):
        _permit_condition(parent, permit_url, negate=True)
        return
    unless = _sub(parent, "tro", "conditions", xsi_type="tro:ConditionSet")
    _sub(unless, "tro", "negate", "true")
    _sub(unless, "tro", "operator", "or")
    for rule in rules:
        if not rule.limited:
            _permit_condition(unless, permit_url, negate=False)
            continue
        holder = _sub(unless, "tro", "conditions", xsi_type="tro:ConditionSet")
        _sub(holder, "tro", "negate", "false")
        _sub(holder, "tro", "operator", "and")
        _permit_condition(holder, permit_url, negate=False)
        if rule.vehicle_limited:
            _vehicle_condition(holder, rule)
        if rule.windows:
            _validity(holder, zone, start, end, rule.windows)


def access_rules(zone: ZoneLike) -> tuple[PermitRule, ...]:
    """The zone's access rules as DATEX II can say them (`rules["access"]`; none for records)."""
    found = (zone.rules or {}).get("access") or ()
    return tuple(r for r in found if isinstance(r, PermitRule))


def _extension(order: Element, zone: ZoneLike) -> None:
    url = getattr(zone, "url_order", None)
    if not url:
        return
    extension = _sub(order, "tro", "_trafficRegulationOrderExtension")
    extended = _sub(extension, "tro", "trafficRegulationOrderExtended")
    _sub(extended, "dx", "source", "CirQliz")
    _sub(extended, "dx", "publicUrl", url)


def _order(parent: Element, zone: ZoneLike, authority: str, permit_url: str | None,
           fallback_start: datetime) -> None:
    order = _sub(parent, "tro", "trafficRegulationOrder")
    order.set("id", order_id(zone))
    order.set("version", str(getattr(zone, "version", None) or "1"))
    _multilingual(order, "tro", "description", zone.name)
    _multilingual(order, "tro", "issuingAuthority", authority)
    _sub(order, "tro", "regulationId", zone.code)
    _sub(order, "tro", "status", "madeAndImplemented")
    regulation = _sub(order, "tro", "trafficRegulation")
    _sub(regulation, "tro", "status", "active")
    kind = _sub(regulation, "tro", "typeOfRegulation", xsi_type="tro:AccessRestriction")
    _sub(kind, "tro", "accessRestrictionType", "noEntry")
    conditions = _sub(regulation, "tro", "condition", xsi_type="tro:ConditionSet")
    _sub(conditions, "tro", "operator", "and")
    start = zone.valid_from or fallback_start
    periods = tuple(getattr(zone, "periods", None) or ())
    _validity(conditions, zone, start, zone.valid_until, tuple(zone.windows or ()), periods)
    _location(conditions, zone)
    _exemptions(conditions, zone, access_rules(zone), permit_url, start, zone.valid_until)
    _extension(order, zone)


def export_datex2(zones: Iterable[ZoneLike], *, publication_time: datetime, authority: str,
                  creator: str = "CirQliz", country: str = "fr", permit_url: str | None = None,
                  publication: str | None = None, validate: bool = False,
                  xsd_dir: str | Path | None = None) -> bytes:
    """A TrafficRegulationPublication (UTF-8 bytes) for the zones, in the order given.

    `publication_time` is the only timestamp written (also the start of zones without one);
    `publication` defaults to a UUID derived from the zone codes. No zones gives a valid
    publication without regulations. The output always passes the built-in structural checks;
    with `validate`, also the XSDs of `xsd_dir`, else the published XSDs when they are installed
    (ExportFileError, in French, if it does not conform).
    """
    items = list(zones)
    root = Element(_q("d2", "payload"))
    root.set(_XSI_TYPE, "tro:TrafficRegulationPublication")
    root.set("lang", "fr")
    root.set("modelBaseVersion", "3")
    root.set("id", publication or publication_id(items))
    _sub(root, "com", "publicationTime", _instant(publication_time))
    creator_element = _sub(root, "com", "publicationCreator")
    _sub(creator_element, "com", "country", country)
    _sub(creator_element, "com", "nationalIdentifier", creator)
    if items:
        holder = _sub(root, "tro", "trafficRegulationsFromCompetentAuthorities")
        for zone in items:
            _order(holder, zone, authority, permit_url, publication_time)
    else:
        # xsi:type names tro: in an attribute value, which ElementTree does not see: declared here
        # (with regulations, their elements declare it).
        root.set("xmlns:tro", NS["tro"])
    output = tostring(root, encoding="utf-8", xml_declaration=True)
    try:
        parse_datex2(output, xsd_dir=xsd_dir if validate else None, published=validate)
    except ExportFileError:
        raise
    except ImportFileError as exc:
        # The reader's message speaks of a "document"; here it is our own output that is refused.
        raise ExportFileError(f"export DATEX II refusé : {exc.message}", code=exc.code) from exc
    return output


def orders_of(document: bytes) -> list[Element]:
    """The trafficRegulationOrder elements of a DATEX document (structural checks only)."""
    return list(parse_datex2(document, published=False).iter(_q("tro", "trafficRegulationOrder")))


def summary(document: bytes, *, xsd_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Order ids and versions of a DATEX document (validated), for checks and logs."""
    root = parse_datex2(document, xsd_dir=xsd_dir)
    return [{"id": o.get("id"), "version": o.get("version")}
            for o in root.iter(_q("tro", "trafficRegulationOrder"))]
