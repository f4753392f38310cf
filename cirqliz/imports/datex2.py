"""Import DATEX II v3 TrafficRegulationPublication documents (as published by DiaLog).

Every document is checked by the built-in structural checks (cirqliz.imports.datex2_structure).
It is also validated against the DATEX II v3 XSDs with the DiaLog extension (entry point
DATEXII_3_D2Payload.xsd; loaded once, offline) from `xsd_dir` when given, else when they are in
the open-data folder with their pinned hashes (cirqliz.opendata, `cirqliz opendata fetch`). Each
trafficRegulation of each trafficRegulationOrder becomes one ZoneRecord: locations (GML
polygons, GML line strings or DiaLog's GeoJSON; lines buffered to polygons), validity (overall
start/end, recurring periods, exceptions) and the vehicle conditions.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.parsers import expat

import shapely
import xmlschema
from shapely.geometry import mapping, shape
from xmlschema.exceptions import XMLResourceForbidden

from cirqliz.domain.errors import DomainError, GeometryError, WindowError
from cirqliz.domain.windows import ALL_DAYS, MINUTES_PER_DAY, TimeWindow, zone_info
from cirqliz.domain.zones import ZoneKind
from cirqliz.imports.common import DEFAULT_BUFFER_M, derive_code, open_data_dir, zone_geometry
from cirqliz.imports.datex2_structure import StructureError, check_publication
from cirqliz.imports.records import DEFAULT_TZ, ImportBatch, ImportFileError, Problem, ZoneRecord
from cirqliz.opendata.files import published_folder

SOURCE = "datex2"
ENTRY_XSD = "DATEXII_3_D2Payload.xsd"
NS = {
    "d2": "http://datex2.eu/schema/3/d2Payload",
    "com": "http://datex2.eu/schema/3/common",
    "loc": "http://datex2.eu/schema/3/locationReferencing",
    "tro": "http://datex2.eu/schema/3/trafficRegulation",
    "dx": "https://raw.githubusercontent.com/MTES-MCT/dialog/main/docs/spec/datex2",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVENT_REASONS = frozenset({"event", "publicEvent"})


def default_xsd_dir() -> Path:
    """Where the published XSDs go in the open-data folder."""
    return open_data_dir() / "dialog-datex2"


def published_xsd_dir() -> Path | None:
    """The folder of the published XSDs when they are installed with their pinned hashes, else None."""
    folder = published_folder("datex2")
    return None if folder is None else folder / "dialog-datex2"


@lru_cache(maxsize=4)
def _load_schema(folder: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(Path(folder) / ENTRY_XSD), allow="local")


def datex2_schema(xsd_dir: str | Path | None = None) -> xmlschema.XMLSchema:
    """The DATEX II v3 schema (with the DiaLog extension) of `xsd_dir`, else of the open-data
    folder; loaded once per folder and cached. ImportFileError when the XSDs are not there."""
    folder = Path(xsd_dir) if xsd_dir is not None else (published_xsd_dir() or default_xsd_dir())
    if not (folder / ENTRY_XSD).is_file():
        raise ImportFileError(f"schémas DATEX II introuvables : {folder / ENTRY_XSD} n'existe pas "
                              "(indiquer le dossier avec CIRQLIZ_OPEN_DATA_DIR, ou les installer avec "
                              "« cirqliz opendata fetch »)", code="datex2_xsd_missing")
    return _load_schema(str(folder.resolve()))


def parse_datex2(data: bytes | str, *, xsd_dir: str | Path | None = None, published: bool = True) -> Element:
    """Parse and check a DATEX II document; its root element, or ImportFileError naming the first
    violation by its line and element (never the XML engines' English text or objects).

    The built-in structural checks always run; the XSDs of `xsd_dir` too, else (with `published`)
    the published XSDs when they are installed.
    """
    folder = xsd_dir if xsd_dir is not None else (published_xsd_dir() if published else None)
    schema = datex2_schema(folder) if folder is not None else None
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        resource = xmlschema.XMLResource(io.BytesIO(raw), defuse="always", allow="none")
    except XMLResourceForbidden as exc:
        raise ImportFileError("document DATEX II refusé : DTD et entités XML interdites",
                              code="import_forbidden_xml") from exc
    except LookupError as exc:
        raise ImportFileError("document DATEX II illisible : encodage de caractères inconnu (UTF-8 attendu)",
                              code="import_not_xml") from exc
    except (xmlschema.XMLResourceError, SyntaxError, ValueError) as exc:
        where = _parse_position(exc)
        raise ImportFileError(f"document DATEX II illisible : ce n'est pas du XML bien formé{where}",
                              code="import_not_xml") from exc
    if schema is not None:
        _check_xsd(schema, resource, raw)
    try:
        check_publication(resource.root)
    except StructureError as exc:
        raise ImportFileError(f"document DATEX II non conforme{_where(exc.element, resource.root, raw)} : "
                              f"{exc.what}", code="import_schema_violation") from exc
    return resource.root


def _check_xsd(schema: xmlschema.XMLSchema, resource: xmlschema.XMLResource, raw: bytes) -> None:
    try:
        error = next(iter(schema.iter_errors(resource)), None)
    except (xmlschema.XMLSchemaException, KeyError, ValueError, TypeError) as exc:
        # xmlschema raises instead of reporting for some content, e.g. an xsi:type naming no type
        raise ImportFileError("document DATEX II non conforme au schéma : un type (xsi:type) ou un contenu n'est "
                              "pas défini par le schéma DATEX II", code="import_schema_violation") from exc
    if error is not None:
        raise ImportFileError(f"document DATEX II non conforme au schéma{_violation(error, resource.root, raw)}",
                              code="import_schema_violation")


def _parse_position(exc: BaseException) -> str:
    """', ligne L, colonne C' of a well-formedness error, from the parser's position when it has one."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        position = getattr(candidate, "position", None)
        if isinstance(position, tuple) and len(position) == 2:
            return f", ligne {position[0]}, colonne {position[1] + 1}"
    found = re.search(r"line (\d+), column (\d+)", str(exc))
    return f", ligne {found[1]}, colonne {int(found[2]) + 1}" if found else ""


def _element_lines(raw: bytes) -> list[int]:
    """The line of each start tag of a (well-formed, DTD-free) document, in document order."""
    lines: list[int] = []
    parser = expat.ParserCreate()
    parser.StartElementHandler = lambda *_: lines.append(parser.CurrentLineNumber)
    try:
        parser.Parse(raw, True)
    except expat.ExpatError:
        pass
    return lines


def _where(element: Element | None, root: Element, raw: bytes) -> str:
    """', ligne L, élément « name »' of an element of the document (what is known of it)."""
    if element is None:
        return ""
    parts = []
    index = next((i for i, e in enumerate(root.iter()) if e is element), None)
    lines = _element_lines(raw) if index is not None else []
    if index is not None and index < len(lines):
        parts.append(f", ligne {lines[index]}")
    parts.append(f", élément « {_local(str(element.tag))} »")
    return "".join(parts)


def _violation(error: xmlschema.XMLSchemaValidationError, root: Element, raw: bytes) -> str:
    """', ligne L, élément « name » : what' for a schema violation, in French."""
    element = error.elem if isinstance(error.elem, Element) else None
    parts = [_where(element, root, raw)]
    invalid = getattr(error, "invalid_tag", None)
    reason = str(getattr(error, "reason", "") or "")
    if isinstance(error, xmlschema.XMLSchemaChildrenValidationError):
        what = (f"élément enfant « {_local(str(invalid))} » inattendu à cet endroit" if invalid
                else "élément enfant obligatoire manquant")
    elif "not an element of the schema" in reason:
        what = "élément inconnu du schéma DATEX II"
    elif "attribute" in reason:
        what = "attribut non permis ou manquant"
    else:
        what = "valeur non permise par le schéma"
    return "".join(parts) + f" : {what}"


def import_datex2(data: bytes | str, *, xsd_dir: str | Path | None = None, tz: str = DEFAULT_TZ,
                  buffer_m: float = DEFAULT_BUFFER_M) -> ImportBatch[ZoneRecord]:
    """Read a TrafficRegulationPublication: one ZoneRecord per trafficRegulation of each order.

    `source_id` is '<order id>#<n>' (n = position of the regulation in the order), stable across
    versions of the order; the order's version goes to `version`.
    """
    root = parse_datex2(data, xsd_dir=xsd_dir)
    publication = {"publication_id": root.get("id"), "publication_time": _text(root, "com:publicationTime")}
    records: list[ZoneRecord] = []
    problems: list[Problem] = []
    number = 0
    for order in root.iter(f"{{{NS['tro']}}}trafficRegulationOrder"):
        regulations = order.findall("tro:trafficRegulation", NS)
        for position, regulation in enumerate(regulations, start=1):
            number += 1
            record = _regulation_record(number, position, order, regulation, publication, tz, buffer_m, problems)
            if record is not None:
                records.append(record)
    return ImportBatch(tuple(records), tuple(problems))


def _text(element: Element, path: str) -> str | None:
    found = element.find(path, NS)
    return found.text.strip() if found is not None and found.text else None


def _multilingual(element: Element, path: str) -> str | None:
    found = element.find(path, NS)
    if found is None:
        return None
    values = [v.text.strip() for v in found.iterfind("com:values/com:value", NS) if v.text and v.text.strip()]
    return " / ".join(values) or None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xsi_type(element: Element) -> str | None:
    value = element.get(XSI_TYPE)
    return value.rsplit(":", 1)[-1] if value else None


def element_dict(element: Element) -> Any:
    """A JSON-friendly view of an element: text for leaves, dicts of local names, lists when repeated."""
    children = list(element)
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    kind = _xsi_type(element)
    if kind:
        out["type"] = kind
    for child in children:
        name = _local(child.tag)
        value = element_dict(child)
        if name in out:
            out[name] = out[name] if isinstance(out[name], list) else [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


def _regulation_record(number: int, position: int, order: Element, regulation: Element, publication: dict,
                       tz: str, buffer_m: float, problems: list[Problem]) -> ZoneRecord | None:
    order_id = order.get("id") or ""
    source_id = f"{order_id}#{position}"
    collected: dict[str, list] = {"validity": [], "location": [], "vehicle": [], "permit": [], "other": []}
    condition = regulation.find("tro:condition", NS)
    tree = _walk(condition, collected) if condition is not None else None
    for path in ("tro:validityByOrder", "tro:implementedValidity"):
        collected["validity"].extend(order.findall(path, NS))
    for path in ("tro:implementedLocation", "tro:locationByOrder"):
        collected["location"].extend(order.findall(path, NS))
    local: list[Problem] = []
    shapes: list[dict[str, Any]] = []
    for location in collected["location"]:
        try:
            shapes.extend(_location_geometries(location))
        except DomainError as exc:
            local.append(Problem(number, "location", exc.message, code=exc.code, item_id=source_id))
    geometry, notes = None, {}
    if not shapes and not local:
        local.append(Problem(number, "location", "réglementation sans géométrie exploitable : ignorée",
                             code="geometry_missing", item_id=source_id))
    elif shapes:
        try:
            geometry, notes = _combine(shapes, buffer_m)
        except DomainError as exc:
            local.append(Problem(number, "location", exc.message, code=exc.code, item_id=source_id))
    validity = None
    if collected["validity"]:
        try:
            validity = _validity(collected["validity"][0].find("com:validityTimeSpecification", NS), tz)
        except DomainError as exc:
            local.append(Problem(number, "validity", exc.message, code=exc.code, item_id=source_id))
        except (ValueError, OverflowError) as exc:
            local.append(Problem(number, "validity", f"période de validité illisible : {exc}",
                                 code="invalid_validity", item_id=source_id))
        if len(collected["validity"]) > 1:
            local.append(Problem(number, "validity", "plusieurs validités : seule la première est lue",
                                 code="several_validities", severity="warning", item_id=source_id))
    problems.extend(local)
    if geometry is None or any(p.severity == "error" for p in local):
        return None
    reasons = [r.get("_extendedValue") or (r.text or "").strip() for r in order.findall("tro:reason", NS)]
    description = _multilingual(order, "tro:description")
    regulation_id = _text(order, "tro:regulationId") or order_id
    start, end, windows, expressible = validity or (None, None, (), True)
    if not expressible:
        problems.append(Problem(number, "validity", "périodes récurrentes non traduisibles en créneaux : voir "
                                "les conditions d'origine", code="hours_not_expressible", severity="warning",
                                item_id=source_id))
    kind = ZoneKind.EVENT_PERIMETER if EVENT_REASONS & set(reasons) else ZoneKind.LIMITED_TRAFFIC
    return ZoneRecord(
        source=SOURCE,
        source_id=source_id,
        code=derive_code("TRO", f"{order_id}-{position}"),
        name=description or regulation_id,
        kind=kind,
        geometry=geometry,
        tz=tz,
        permanent=end is None,
        valid_from=start,
        valid_until=end,
        windows=windows,
        hours_expressible=expressible,
        version=order.get("version"),
        rules={
            "regulation_types": [element_dict(t) for t in regulation.findall("tro:typeOfRegulation", NS)],
            "vehicle_conditions": collected["vehicle"],
            "permit_conditions": collected["permit"],
            "conditions": tree,
        },
        extra={
            "regulation_id": regulation_id,
            "issuing_authority": _multilingual(order, "tro:issuingAuthority"),
            "description": description,
            "order_status": _text(order, "tro:status"),
            "regulation_status": _text(regulation, "tro:status"),
            "reasons": reasons,
            **publication,
            **notes,
        },
    )


def _walk(condition: Element, collected: dict[str, list]) -> dict[str, Any]:
    """Collect validity, location, vehicle and permit conditions; return a summary tree."""
    kind = _xsi_type(condition) or "Condition"
    negate = (_text(condition, "tro:negate") or "false") == "true"
    node: dict[str, Any] = {"type": kind, "negate": negate}
    if kind == "ConditionSet":
        node["operator"] = _text(condition, "tro:operator")
        node["conditions"] = [_walk(c, collected) for c in condition.findall("tro:conditions", NS)]
    elif kind == "ValidityCondition":
        collected["validity"].extend(condition.findall("tro:validityByOrder", NS))
        collected["validity"].extend(condition.findall("tro:implementedValidity", NS))
    elif kind == "LocationCondition":
        for path in ("tro:implementedLocation", "tro:locationByOrder"):
            collected["location"].extend(condition.findall(path, NS))
    elif kind == "VehicleCondition":
        characteristics = condition.find("tro:vehicleCharacteristics", NS)
        detail = element_dict(characteristics) if characteristics is not None else {}
        collected["vehicle"].append({"negate": negate, "characteristics": detail})
        node["characteristics"] = detail
    elif kind == "PermitCondition":
        detail = {k: v for k, v in element_dict(condition).items() if k not in ("type", "negate")} \
            if len(condition) else {}
        collected["permit"].append({"negate": negate, **detail})
        node.update(detail)
    else:
        collected["other"].append(kind)
    return node


def _numbers(text: str | None) -> list[float]:
    try:
        return [float(v) for v in (text or "").split()]
    except ValueError as exc:
        raise GeometryError("liste de positions GML illisible", code="geometry_unreadable") from exc


def _positions(element: Element) -> list[list[float]]:
    """posList of a GML line string or ring to [lon, lat] pairs (GML EPSG:4326 is latitude first)."""
    numbers = _numbers(_text(element, "loc:posList"))
    dimension = int(element.get("srsDimension") or 2)
    srs = (element.get("srsName") or "EPSG:4326").upper()
    if dimension < 2 or len(numbers) % dimension:
        raise GeometryError("liste de positions GML incomplète", code="geometry_unreadable")
    if "CRS84" in srs:
        lon_first = True
    elif srs.endswith(":4326") or srs.endswith("/4326") or srs == "WGS84":
        lon_first = False
    else:
        raise GeometryError(f"système de coordonnées non pris en charge : {srs}", code="unsupported_crs")
    points = [numbers[i:i + 2] for i in range(0, len(numbers), dimension)]
    return [p if lon_first else [p[1], p[0]] for p in points]


def _location_geometries(location: Element) -> list[dict[str, Any]]:
    """GeoJSON geometries (longitude first) found inside one DATEX location reference."""
    found: list[dict[str, Any]] = []
    for geojson in location.iter(f"{{{NS['dx']}}}geoJsonGeometry"):
        try:
            found.append(json.loads(geojson.text or ""))
        except ValueError as exc:
            raise GeometryError("géométrie GeoJSON DiaLog illisible", code="geometry_unreadable") from exc
    if found:
        return found
    for polygon in location.iter(f"{{{NS['loc']}}}gmlPolygon"):
        rings = [polygon.find("loc:exterior", NS), *polygon.findall("loc:interior", NS)]
        found.append({"type": "Polygon", "coordinates": [_positions(r) for r in rings if r is not None]})
    for line in location.iter(f"{{{NS['loc']}}}gmlLineString"):
        found.append({"type": "LineString", "coordinates": _positions(line)})
    for point in location.iter(f"{{{NS['loc']}}}pointCoordinates"):
        lat, lon = _text(point, "loc:latitude"), _text(point, "loc:longitude")
        if lat is not None and lon is not None and not found:
            found.append({"type": "Point", "coordinates": [float(lon), float(lat)]})
    return found


def _combine(shapes: list[dict[str, Any]], buffer_m: float) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = []
    buffered_from = []
    for item in shapes:
        geometry, notes = zone_geometry(item, buffer_m=buffer_m)
        parts.append(shape(geometry))
        if notes:
            buffered_from.append(notes["geometry_buffered_from"])
    merged = parts[0] if len(parts) == 1 else shapely.union_all(parts)
    geometry, _ = zone_geometry(mapping(merged), buffer_m=buffer_m)
    notes: dict[str, Any] = {"source_geometry": shapes}
    if buffered_from:
        notes.update({"geometry_buffered_from": sorted(set(buffered_from)), "buffer_m": buffer_m})
    return geometry, notes


def _instant(text: str | None, tz: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WindowError(f"date DATEX illisible : {text!r}", code="invalid_datetime") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone_info(tz))
    return value.astimezone(UTC)


def _minute(text: str | None) -> int:
    clock = time.fromisoformat(text or "00:00:00")
    minute = clock.hour * 60 + clock.minute
    if (clock.hour, clock.minute, clock.second) == (23, 59, 59):
        return MINUTES_PER_DAY
    return minute


def _days(period: Element) -> int | None:
    """Weekday mask of a period's recurringDayWeekMonthPeriod (None when it names none)."""
    mask = 0
    for dwm in period.findall("com:recurringDayWeekMonthPeriod", NS):
        for day in dwm.findall("com:applicableDay", NS):
            if day.text and day.text.strip() in DAYS:
                mask |= 1 << DAYS.index(day.text.strip())
    return mask or None


def _validity(spec: Element | None, tz: str) -> tuple[datetime | None, datetime | None, tuple, bool]:
    """(start, end, windows, expressible) of a com:validityTimeSpecification."""
    if spec is None:
        return None, None, (), True
    start = _instant(_text(spec, "com:overallStartTime"), tz)
    end = _instant(_text(spec, "com:overallEndTime"), tz)
    expressible = True
    excluded_days = 0
    skip_holidays = False
    for period in spec.findall("com:exceptionPeriod", NS):
        if period.find("com:recurringTimePeriodOfDay", NS) is not None or period.find(
                "com:startOfPeriod", NS) is not None:
            expressible = False
        excluded_days |= _days(period) or 0
        for special in period.findall("com:recurringSpecialDay", NS):
            if _text(special, "com:specialDayType") == "publicHoliday":
                skip_holidays = True
            else:
                expressible = False
    windows: list[TimeWindow] = []
    valid_periods = spec.findall("com:validPeriod", NS)
    for period in valid_periods:
        if period.find("com:recurringSpecialDay", NS) is not None or period.find(
                "com:recurringDayWeekMonthPeriod/com:applicableMonth", NS) is not None:
            expressible = False
        mask = (_days(period) or ALL_DAYS) & ~excluded_days & ALL_DAYS
        first = _instant(_text(period, "com:startOfPeriod"), tz)
        last = _instant(_text(period, "com:endOfPeriod"), tz)
        first_day = first.astimezone(zone_info(tz)).date() if first else None
        last_day = (last - timedelta(microseconds=1)).astimezone(zone_info(tz)).date() if last else None
        times = [(_minute(_text(t, "com:startTimeOfPeriod")), _minute(_text(t, "com:endTimeOfPeriod")))
                 for t in period.findall("com:recurringTimePeriodOfDay", NS)] or [(0, MINUTES_PER_DAY)]
        if not mask:
            continue
        for begin, finish in times:
            try:
                windows.append(TimeWindow(mask, begin, finish or MINUTES_PER_DAY, first_day, last_day, skip_holidays))
            except DomainError:
                expressible = False
    if not valid_periods and (excluded_days or skip_holidays):
        mask = ALL_DAYS & ~excluded_days
        if mask:
            windows.append(TimeWindow(mask, 0, MINUTES_PER_DAY, None, None, skip_holidays))
    if not expressible:
        windows = []
    return start, end, tuple(windows), expressible
