"""Export zones as a DATEX II v3 TrafficRegulationPublication (with the DiaLog XSDs).

Each zone becomes one trafficRegulationOrder (id 'CIRQLIZ-<code>', version from the zone or '1')
with one trafficRegulation: an AccessRestriction noEntry whose ConditionSet says when (validity:
overall start/end, one validPeriod per time window, public holidays as an exceptionPeriod),
where (AreaLocation with a GML multipolygon, latitude first as GML EPSG:4326 wants) and
"unless the vehicle holds a permit" (PermitCondition with negate=true): pass holders may enter.
Times of day are local wall times of the zone's time zone; a window crossing midnight is written
with an end before its start. Output depends only on the input: no clock is read. What is written
is checked like what is read (cirqliz.imports.datex2.parse_datex2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from cirqliz.domain.windows import MINUTES_PER_DAY, TimeWindow
from cirqliz.exports.zfe import ExportFileError, ZoneLike
from cirqliz.imports.common import local_day_start
from cirqliz.imports.datex2 import DAYS, NS, parse_datex2

for _prefix in ("d2", "com", "loc", "tro", "xsi"):
    register_namespace(_prefix, NS[_prefix])

_XSI_TYPE = f"{{{NS['xsi']}}}type"
_ID_NAMESPACE = uuid.UUID("7d1c6f0e-52b1-4c55-9a43-2f0c5e2a1b7d")


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


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
        raise ExportFileError("instant sans fuseau horaire : passer des heures UTC", code="naive_time")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(minute: int) -> str:
    return "23:59:59" if minute >= MINUTES_PER_DAY else f"{minute // 60:02d}:{minute % 60:02d}:00"


def _number(value: float) -> str:
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _pos_list(ring: Sequence[Sequence[float]]) -> str:
    return " ".join(f"{_number(p[1])} {_number(p[0])}" for p in ring)


def order_id(zone: ZoneLike) -> str:
    """Stable DATEX identifier of a zone's order."""
    return f"CIRQLIZ-{zone.code}"


def publication_id(zones: Sequence[ZoneLike]) -> str:
    """A UUID derived from the zone codes (same zones, same id)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "|".join(sorted(z.code for z in zones))))


def _validity(parent: Element, zone: ZoneLike, fallback_start: datetime) -> None:
    condition = _sub(parent, "tro", "conditions", xsi_type="tro:ValidityCondition")
    _sub(condition, "tro", "negate", "false")
    validity = _sub(condition, "tro", "validityByOrder")
    _sub(validity, "com", "validityStatus", "definedByValidityTimeSpec")
    spec = _sub(validity, "com", "validityTimeSpecification")
    _sub(spec, "com", "overallStartTime", _instant(zone.valid_from or fallback_start))
    if zone.valid_until is not None:
        _sub(spec, "com", "overallEndTime", _instant(zone.valid_until))
    windows: tuple[TimeWindow, ...] = tuple(zone.windows or ())
    skips = {w.skip_public_holidays for w in windows}
    if len(skips) > 1:
        raise ExportFileError(f"zone {zone.code} : certains créneaux seulement excluent les jours fériés, "
                              "ce que DATEX II ne sait pas dire", code="export_mixed_holidays")
    for window in windows:
        period = _sub(spec, "com", "validPeriod")
        if window.first_day is not None:
            _sub(period, "com", "startOfPeriod", _instant(local_day_start(window.first_day, zone.tz)))
        if window.last_day is not None:
            _sub(period, "com", "endOfPeriod",
                 _instant(local_day_start(window.last_day + timedelta(days=1), zone.tz)))
        times = _sub(period, "com", "recurringTimePeriodOfDay", xsi_type="com:TimePeriodOfDay")
        _sub(times, "com", "startTimeOfPeriod", _clock(window.start))
        _sub(times, "com", "endTimeOfPeriod", _clock(window.end))
        days = _sub(period, "com", "recurringDayWeekMonthPeriod", xsi_type="com:DayWeekMonth")
        for index, name in enumerate(DAYS):
            if window.weekdays >> index & 1:
                _sub(days, "com", "applicableDay", name)
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
    geometry = zone.geometry
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for rings in polygons:
        polygon = _sub(multi, "loc", "gmlPolygon")
        for index, ring in enumerate(rings):
            holder = _sub(polygon, "loc", "exterior" if index == 0 else "interior")
            _sub(holder, "loc", "posList", _pos_list(ring))


def _permit(parent: Element, permit_url: str | None) -> None:
    condition = _sub(parent, "tro", "conditions", xsi_type="tro:PermitCondition")
    _sub(condition, "tro", "negate", "true")
    if permit_url:
        _sub(condition, "tro", "whereToApplyForPermit", permit_url)
    _sub(condition, "tro", "locationRelatedPermit", "true")


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
    _validity(conditions, zone, fallback_start)
    _location(conditions, zone)
    _permit(conditions, permit_url)


def export_datex2(zones: Iterable[ZoneLike], *, publication_time: datetime, authority: str,
                  creator: str = "CirQliz", country: str = "fr", permit_url: str | None = None,
                  publication: str | None = None, validate: bool = False,
                  xsd_dir: str | Path | None = None) -> bytes:
    """A TrafficRegulationPublication (UTF-8 bytes) for the zones, in the order given.

    `publication_time` is the only timestamp written (also the start of zones without one);
    `publication` defaults to a UUID derived from the zone codes. The output always passes the
    built-in structural checks; with `validate`, also the XSDs of `xsd_dir`, else the published
    XSDs when they are installed (ImportFileError if it does not conform).
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
    holder = _sub(root, "tro", "trafficRegulationsFromCompetentAuthorities")
    for zone in items:
        _order(holder, zone, authority, permit_url, publication_time)
    output = tostring(root, encoding="utf-8", xml_declaration=True)
    parse_datex2(output, xsd_dir=xsd_dir if validate else None, published=validate)
    return output


def summary(document: bytes, *, xsd_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Order ids and versions of a DATEX document (validated), for checks and logs."""
    root = parse_datex2(document, xsd_dir=xsd_dir)
    return [{"id": o.get("id"), "version": o.get("version")}
            for o in root.iter(_q("tro", "trafficRegulationOrder"))]
