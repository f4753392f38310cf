"""Import DATEX II v3 TrafficRegulationPublication documents (as published by DiaLog).

Every document is checked by the built-in structural checks (cirqliz.imports.datex2_structure).
It is also validated against the DATEX II v3 XSDs with the DiaLog extension (entry point
DATEXII_3_D2Payload.xsd; loaded once, offline) from `xsd_dir` when given, else when they are in
the open-data folder with their pinned hashes (cirqliz.opendata, `cirqliz opendata fetch`).

Each trafficRegulation of each trafficRegulationOrder is one item of the report (ItemReport, with
its line). An access restriction (noEntry) becomes one ZoneRecord: all its locations (GML
polygons and line strings, DiaLog's GeoJSON including GeometryCollections; lines buffered to
polygons, everything merged), an unusable one left out and reported; every validity (the
regulation's restriction schedule: dated periods, weekly windows, exceptions); its vehicle
conditions and the exemptions (permits) as access rules. Regulations of other types (parking
bans, speed limits, lane usage…) are reported as skipped with their type in French.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from xml.parsers import expat

import shapely
import xmlschema
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from xmlschema.exceptions import XMLResourceForbidden

from cirqliz.domain.errors import DomainError, GeometryError, WindowError
from cirqliz.domain.windows import ALL_DAYS, MINUTES_PER_DAY, TimeWindow, zone_info
from cirqliz.domain.zones import ZoneKind
from cirqliz.imports.common import DEFAULT_BUFFER_M, derive_code, geometry_error_fr, open_data_dir, zone_geometry
from cirqliz.imports.datex2_structure import StructureError, check_publication
from cirqliz.imports.records import (
    DEFAULT_TZ,
    ImportBatch,
    ImportFileError,
    ItemReport,
    Problem,
    Severity,
    ZoneRecord,
)
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
UNIT = "réglementation"
ACCESS_TYPES = frozenset({"noEntry"})
"""accessRestrictionType values that close a place to traffic (a pass lets a vehicle in); the others
(no audible warning devices, no passing without stopping) are rules of conduct."""
REGULATION_TYPES_FR = {
    "AccessRestriction": "restriction d'accès",
    "AlternateRoadOrCarriagewayOrLaneLayout": "modification de la disposition des voies",
    "AmbientWarnings": "avertissement sur les conditions ambiantes",
    "DirectionRestriction": "sens de circulation imposé",
    "MandatoryRoadOrCarriagewayOrLaneUsage": "usage obligatoire d'une voie",
    "MinimumDistanceRestriction": "distance minimale entre véhicules",
    "OvertakingBan": "interdiction de dépasser",
    "PriorityRule": "règle de priorité",
    "Rerouting": "déviation",
    "RoadWarning": "avertissement sur l'état de la route",
    "RushHourLaneRestriction": "voie réservée aux heures de pointe",
    "SpeedLimit": "limitation de vitesse",
    "StandingOrParkingRestriction": "interdiction d'arrêt ou de stationnement",
    "SteepHill": "forte pente",
    "TrafficAhead": "circulation perturbée en aval",
    "Warning": "avertissement",
}
"""French names of the DATEX II v3 typeOfRegulation types (TrafficRegulation XSD)."""
SUBTYPES_FR = {
    "noEntry": "interdiction d'accès",
    "noUseOfAudibleWarningDevices": "interdiction des avertisseurs sonores",
    "noPassingWithoutStopping": "arrêt obligatoire (passage sans arrêt interdit)",
    "parkingProhibited": "interdiction de stationner",
    "standingAndParkingProhibited": "interdiction de s'arrêter et de stationner",
}
_SKIPPED_SUFFIX = re.compile(r"\s*:\s*ignorée?\s*$")


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
    """Read a TrafficRegulationPublication: one ZoneRecord per access restriction (trafficRegulation
    of an order) and one ItemReport per trafficRegulation, in document order, with its line.

    `source_id` is '<order id>#<n>' (n = position of the regulation in the order), stable across
    versions of the order; the order's version goes to `version`. Regulations that restrict no
    access (parking bans, speed limits, lane usage…) are reported as skipped with their type.
    """
    root = parse_datex2(data, xsd_dir=xsd_dir)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    elements = list(root.iter())
    lines = _element_lines(raw)
    line_of = {id(e): line for e, line in zip(elements, lines, strict=False)} if len(lines) == len(elements) else {}
    publication = {"publication_id": root.get("id"), "publication_time": _text(root, "com:publicationTime")}
    records: list[ZoneRecord] = []
    problems: list[Problem] = []
    items: list[ItemReport] = []
    number = 0
    for order in root.iter(f"{{{NS['tro']}}}trafficRegulationOrder"):
        regulations = order.findall("tro:trafficRegulation", NS)
        for position, regulation in enumerate(regulations, start=1):
            number += 1
            local: list[Problem] = []
            record, repairs, infos = _regulation_record(number, position, order, regulation, publication, tz,
                                                        buffer_m, local)
            problems.extend(local)
            source_id = f"{order.get('id') or ''}#{position}"
            name = _multilingual(order, "tro:description") or _text(order, "tro:regulationId") or order.get("id")
            line = line_of.get(id(regulation))
            if record is None:
                reasons = tuple(_note(p) for p in local if p.severity == "error")
                items.append(ItemReport(number, "skipped", UNIT, line, source_id, name, reasons, records=0))
            else:
                records.append(record)
                remarks = tuple(_note(p) for p in local if p.severity == "warning")
                items.append(ItemReport(number, "repaired" if repairs else "kept", UNIT, line, source_id, name,
                                        repairs + remarks + infos))
    return ImportBatch(tuple(records), tuple(problems), tuple(items))


def _note(problem: Problem) -> str:
    """A problem as an item's note (the item's status already says "ignoré")."""
    return _SKIPPED_SUFFIX.sub("", problem.message)


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


def _kind_label(kind: Element) -> str:
    """French label of one typeOfRegulation (its subtype when it has one, e.g. interdiction de stationner)."""
    name = _xsi_type(kind) or ""
    subtype = next((child for child in kind if _local(str(child.tag)).endswith("Type")), None)
    label = REGULATION_TYPES_FR.get(name, f"réglementation « {name} »")
    if subtype is not None:
        value = (subtype.text or "").strip()
        if value == "_extended":
            extended = subtype.get("_extendedValue") or "?"
            return f"{label} « {extended[:40]} »"
        label = SUBTYPES_FR.get(value, label)
    if name == "SpeedLimit":
        speed = kind.find("tro:maxValue", NS)
        value = _text(speed, "tro:numericValue") if speed is not None else None
        if value:
            unit = _text(speed, "tro:unitOfMeasure")  # type: ignore[arg-type]
            label += f" ({value} {'km/h' if unit == 'kilometresPerHour' else 'mph' if unit else ''})".replace(
                " )", ")")
    return label


def regulation_kinds(regulation: Element) -> tuple[bool, list[str], list[str]]:
    """(restricts access, French labels of its access restrictions, French labels of its other
    types) of a trafficRegulation. Only an AccessRestriction of type noEntry restricts access."""
    access, others = [], []
    for kind in regulation.findall("tro:typeOfRegulation", NS):
        restriction = _text(kind, "tro:accessRestrictionType") if _xsi_type(kind) == "AccessRestriction" else None
        (access if restriction in ACCESS_TYPES else others).append(_kind_label(kind))
    return bool(access), access, others


def _regulation_record(number: int, position: int, order: Element, regulation: Element, publication: dict,
                       tz: str, buffer_m: float, problems: list[Problem],
                       ) -> tuple[ZoneRecord | None, tuple[str, ...], tuple[str, ...]]:
    """The regulation's zone (None when skipped: `problems` say why), the repairs made (what was
    left out) and notes for information (its types that are not access restrictions)."""
    order_id = order.get("id") or ""
    source_id = f"{order_id}#{position}"

    def problem(field: str | None, message: str, code: str, severity: Severity = "error") -> None:
        problems.append(Problem(number, field, message, code=code, severity=severity, item_id=source_id, unit=UNIT))

    restricts, access_labels, other_labels = regulation_kinds(regulation)
    if not restricts:
        what = ", ".join(dict.fromkeys(other_labels)) or "réglementation sans type"
        problem("typeOfRegulation", f"{what} : ce n'est pas une restriction d'accès", "not_access_restriction")
        return None, (), ()
    collected: dict[str, list] = {"validity": [], "location": [], "vehicle": [], "permit": [], "other": []}
    condition = regulation.find("tro:condition", NS)
    tree = _walk(condition, collected) if condition is not None else None
    for path in ("tro:validityByOrder", "tro:implementedValidity"):
        collected["validity"].extend(order.findall(path, NS))
    for path in ("tro:implementedLocation", "tro:locationByOrder"):
        collected["location"].extend(order.findall(path, NS))
    shapes, failures = _shapes(collected["location"])
    geometry, geometry_notes = None, {}
    parts = [g for _, g in shapes]
    if parts:
        try:
            geometry, geometry_notes = _combine(parts, buffer_m)
        except DomainError as exc:
            problem("location", geometry_error_fr(exc), exc.code)
            return None, (), ()
    if geometry is None:
        for code, where, reason in failures:
            problem("location", f"{where} : {reason}", code)
        if not failures:
            problem("location", "réglementation sans géométrie exploitable", "geometry_missing")
        return None, (), ()
    notes = tuple(f"{where} laissée de côté ({reason}) ; les autres sont gardées" for _, where, reason in failures)
    try:
        validity = _validities([v.find("com:validityTimeSpecification", NS) for v in collected["validity"]], tz)
    except DomainError as exc:
        problem("validity", exc.message, exc.code)
        return None, (), ()
    except (ValueError, OverflowError, TypeError):
        problem("validity", "période de validité illisible (date ou heure impossible)", "invalid_validity")
        return None, (), ()
    if not validity.expressible:
        problem("validity", "horaires récurrents non traduisibles en créneaux : la restriction est tenue pour en "
                "vigueur à toute heure de ses périodes (conditions d'origine gardées)", "hours_not_expressible",
                "warning")
    infos = (f"{', '.join(dict.fromkeys(other_labels))} : noté pour information (pas une restriction d'accès)",) \
        if other_labels else ()
    reasons = [r.get("_extendedValue") or (r.text or "").strip() for r in order.findall("tro:reason", NS)]
    description = _multilingual(order, "tro:description")
    regulation_id = _text(order, "tro:regulationId") or order_id
    public_url = next((e.text.strip() for e in order.iter(f"{{{NS['dx']}}}publicUrl") if e.text and e.text.strip()),
                      None)
    kind = ZoneKind.EVENT_PERIMETER if EVENT_REASONS & set(reasons) else ZoneKind.LIMITED_TRAFFIC
    record = ZoneRecord(
        source=SOURCE,
        source_id=source_id,
        code=derive_code("TRO", f"{order_id}-{position}"),
        name=description or regulation_id,
        kind=kind,
        geometry=geometry,
        tz=tz,
        permanent=validity.end is None,
        valid_from=validity.start,
        valid_until=validity.end,
        periods=validity.periods if len(validity.periods) > 1 else (),
        windows=validity.windows,
        hours_expressible=validity.expressible,
        version=order.get("version"),
        url_order=public_url,
        rules={
            "regulation_types": [element_dict(t) for t in regulation.findall("tro:typeOfRegulation", NS)],
            "regulation_labels": access_labels + other_labels,
            "vehicle_conditions": collected["vehicle"],
            "permit_conditions": collected["permit"],
            "permit_rules": permit_rules(condition, tz),
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
            **geometry_notes,
            **({"unused_locations": [f"{where} : {reason}" for _, where, reason in failures]} if failures else {}),
        },
    )
    return record, notes, infos


def _walk(condition: Element, collected: dict[str, list], top: bool = True) -> dict[str, Any]:
    """Collect validity, location, vehicle and permit conditions; return a summary tree.

    Only conditions reached through sets that are not negated (`top`) say when the regulation is in
    force and which vehicles it concerns: a validity or vehicle inside a negated set ("unless the
    vehicle holds a permit, is such a vehicle, at such hours") describes an exemption, an access
    rule (see permit_rules), never the regulation's schedule.
    """
    kind = _xsi_type(condition) or "Condition"
    negate = (_text(condition, "tro:negate") or "false") == "true"
    node: dict[str, Any] = {"type": kind, "negate": negate}
    if kind == "ConditionSet":
        node["operator"] = _text(condition, "tro:operator")
        node["conditions"] = [_walk(c, collected, top and not negate) for c in condition.findall("tro:conditions", NS)]
    elif kind == "ValidityCondition":
        node["top"] = top
        if top:
            collected["validity"].extend(condition.findall("tro:validityByOrder", NS))
            collected["validity"].extend(condition.findall("tro:implementedValidity", NS))
    elif kind == "LocationCondition":
        for path in ("tro:implementedLocation", "tro:locationByOrder"):
            collected["location"].extend(condition.findall(path, NS))
    elif kind == "VehicleCondition":
        characteristics = condition.find("tro:vehicleCharacteristics", NS)
        detail = element_dict(characteristics) if characteristics is not None else {}
        if top:
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


_CRITAIR = re.compile(r"critair([0-5])")
_CM_LIMITS = (("heightCharacteristic", "vehicleHeight", "max_height_cm"),
              ("lengthCharacteristic", "vehicleLength", "max_length_cm"),
              ("widthCharacteristic", "vehicleWidth", "max_width_cm"))


def _negated(element: Element) -> bool:
    return (_text(element, "tro:negate") or "false") == "true"


def _number(element: Element | None, path: str) -> float | None:
    text = _text(element, path) if element is not None else None
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _permit_rule(conditions: list[Element], tz: str) -> dict[str, Any]:
    """What the vehicle of one exemption must be and when its permit is valid (VehicleCondition and
    ValidityCondition beside the PermitCondition), in access-rule terms."""
    rule: dict[str, Any] = {}
    for condition in conditions:
        kind = _xsi_type(condition)
        if kind == "VehicleCondition" and not _negated(condition):
            vehicle = condition.find("tro:vehicleCharacteristics", NS)
            if vehicle is None:
                continue
            categories = [(e.text or "").strip() for e in vehicle.iter() if _local(str(e.tag)) == "vehicleCategory"]
            if any(categories):
                rule["categories"] = [c for c in categories if c]
            classes = [int(m[1]) for e in vehicle.iter(f"{{{NS['com']}}}emissionClassificationOther")
                       if (m := _CRITAIR.fullmatch((e.text or "").strip()))]
            if classes:
                rule["max_crit_air"] = max(classes)
            for weight in vehicle.findall("com:grossWeightCharacteristic", NS):
                tonnes = _number(weight, "com:grossVehicleWeight")
                operator = _text(weight, "com:comparisonOperator") or ""
                if tonnes is not None:
                    rule["min_weight_kg" if operator.startswith("greater") else "max_weight_kg"] = round(tonnes * 1000)
            for name, element, key in _CM_LIMITS:
                metres = _number(vehicle.find(f"com:{name}", NS), f"com:{element}")
                if metres is not None:
                    rule[key] = round(metres * 100)
        elif kind == "ValidityCondition" and not _negated(condition):
            specs = [v.find("com:validityTimeSpecification", NS) for v in (
                *condition.findall("tro:validityByOrder", NS), *condition.findall("tro:implementedValidity", NS))]
            validity = _validities(specs, tz)
            if validity.windows:
                rule["windows"] = list(validity.windows)
    return rule


def permit_rules(condition: Element | None, tz: str = DEFAULT_TZ) -> list[dict[str, Any]]:
    """The access rules a regulation's exemptions describe: "unless the vehicle holds a permit"
    (a negated PermitCondition: any vehicle, at any time), or a negated "or" of sets each naming a
    permit with the vehicle it must be and its hours (as CirQliz exports them). Empty when the
    regulation names no permit."""
    rules: list[dict[str, Any]] = []

    def visit(element: Element) -> None:
        kind = _xsi_type(element)
        if kind == "PermitCondition" and _negated(element):
            rules.append({})
        elif kind == "ConditionSet" and not _negated(element):
            for child in element.findall("tro:conditions", NS):
                visit(child)
        elif kind == "ConditionSet":
            for child in element.findall("tro:conditions", NS):
                members = child.findall("tro:conditions", NS) if _xsi_type(child) == "ConditionSet" else [child]
                if _negated(child) or not any(_xsi_type(m) == "PermitCondition" for m in members):
                    continue
                rules.append(_permit_rule(members, tz))

    if condition is not None:
        visit(condition)
    return rules


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


def _members(geometry: Any) -> list[Any]:
    """The simple geometries of a GeoJSON geometry, GeometryCollections opened (nested ones too)."""
    if isinstance(geometry, dict) and geometry.get("type") == "GeometryCollection":
        members = geometry.get("geometries")
        if not isinstance(members, list):
            return [geometry]
        return [m for member in members for m in _members(member)]
    return [geometry]


def _shapes(locations: list[Element]) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[str, str, str]]]:
    """The usable GeoJSON geometries of the locations ((location number, geometry) pairs) and, for
    each unusable one, (code, where, French reason): one bad location leaves the others usable."""
    shapes: list[tuple[int, dict[str, Any]]] = []
    failures: list[tuple[str, str, str]] = []
    several = len(locations) > 1
    for index, location in enumerate(locations, start=1):
        where = f"localisation {index}" if several else "localisation"
        try:
            found = _location_geometries(location)
        except DomainError as exc:
            failures.append((exc.code, where, geometry_error_fr(exc)))
            continue
        members = [m for geometry in found for m in _members(geometry)]
        for position, member in enumerate(members, start=1):
            part = f"géométrie {position} de la {where}" if len(members) > 1 else where
            try:
                zone_geometry(member, buffer_m=1.0)
            except DomainError as exc:
                failures.append((exc.code, part, geometry_error_fr(exc, member)))
                continue
            shapes.append((index, member))
    return shapes, failures


def _combine(shapes: list[dict[str, Any]], buffer_m: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """One validated geometry for the regulation: lines and points buffered by `buffer_m`, polygons
    kept, all merged (a MultiPolygon when there are several)."""
    parts = []
    buffered_from = []
    for item in shapes:
        geometry, notes = zone_geometry(item, buffer_m=buffer_m)
        parts.append(shape(geometry))
        if notes:
            buffered_from.append(notes["geometry_buffered_from"])
    merged = parts[0] if len(parts) == 1 else shapely.union_all(parts)
    if len(parts) > 1 and isinstance(merged, Polygon):
        merged = MultiPolygon([merged])
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


@dataclass(frozen=True, slots=True)
class Validity:
    """A regulation's restriction schedule: `periods` ([start, end) UTC, end None when open, sorted,
    merged when they overlap), their span (`start`, `end`) and the weekly `windows` inside them
    (empty: in force at all times of the periods); `expressible` False when recurring periods say
    more than windows can (then no windows)."""

    start: datetime | None
    end: datetime | None
    periods: tuple[tuple[datetime, datetime | None], ...]
    windows: tuple[TimeWindow, ...]
    expressible: bool = True


def _plain_period(period: Element) -> bool:
    """A validPeriod that is only dates (no times of day, weekdays or special days): a dated period."""
    return period.find("com:startOfPeriod", NS) is not None and all(
        period.find(f"com:{name}", NS) is None
        for name in ("recurringTimePeriodOfDay", "recurringDayWeekMonthPeriod", "recurringSpecialDay"))


def _validity(spec: Element | None, tz: str) -> Validity:
    """The schedule of one com:validityTimeSpecification: dated periods when its valid periods are only
    dates, else its overall span with the weekly windows of its recurring periods and exceptions."""
    if spec is None:
        return Validity(None, None, (), ())
    start = _instant(_text(spec, "com:overallStartTime"), tz)
    end = _instant(_text(spec, "com:overallEndTime"), tz)
    valid_periods = spec.findall("com:validPeriod", NS)
    exceptions = spec.findall("com:exceptionPeriod", NS)
    if valid_periods and not exceptions and all(_plain_period(p) for p in valid_periods):
        dated: list[tuple[datetime, datetime | None]] = []
        for period in valid_periods:
            first = _instant(_text(period, "com:startOfPeriod"), tz)
            last = _instant(_text(period, "com:endOfPeriod"), tz) or end
            first = max(first, start) if first and start else first or start
            last = min(last, end) if last and end else last or end
            if first is not None and (last is None or last > first):
                dated.append((first, last))
        if not dated:
            raise WindowError("aucune période de validité ne tombe entre le début et la fin de la réglementation",
                              code="empty_validity")
        return Validity(*_span(dated), tuple(dated), ())
    expressible = True
    excluded_days = 0
    skip_holidays = False
    for period in exceptions:
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
    periods = ((start, end),) if start is not None else ()
    return Validity(start, end, periods, tuple(windows), expressible)


def _span(periods: list[tuple[datetime, datetime | None]]) -> tuple[datetime, datetime | None]:
    return min(p[0] for p in periods), None if any(p[1] is None for p in periods) else max(
        p[1] for p in periods if p[1] is not None)


def _merge(periods: list[tuple[datetime, datetime | None]]) -> tuple[tuple[datetime, datetime | None], ...]:
    """Sorted periods, overlapping or touching ones merged."""
    merged: list[tuple[datetime, datetime | None]] = []
    for first, last in sorted(periods, key=lambda p: p[0]):
        if merged and (merged[-1][1] is None or first <= merged[-1][1]):
            previous = merged[-1]
            merged[-1] = (previous[0], None if previous[1] is None or last is None else max(previous[1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _bounded(window: TimeWindow, first: date | None, last: date | None) -> TimeWindow | None:
    """The window limited to the local days [first, last]; None when nothing is left."""
    low = max(d for d in (window.first_day, first) if d is not None) if window.first_day or first else None
    high = min(d for d in (window.last_day, last) if d is not None) if window.last_day or last else None
    if low is not None and high is not None and low > high:
        return None
    return TimeWindow(window.weekdays, window.start, window.end, low, high, window.skip_public_holidays)


def _validities(specs: list[Element | None], tz: str) -> Validity:
    """Every validity of a regulation together (DATEX II allows several; none is dropped): all their
    periods, and windows each limited to the days of its own validity when there are several."""
    if not specs:
        return Validity(None, None, (), ())
    read = [_validity(spec, tz) for spec in specs]
    if len(read) == 1:
        return read[0]
    periods = [p for v in read for p in v.periods]
    if not periods:
        return Validity(None, None, (), (), all(v.expressible for v in read))
    start, end = _span(periods)
    if not all(v.expressible for v in read):
        return Validity(start, end, _merge(periods), (), False)
    windows: list[TimeWindow] = []
    if any(v.windows for v in read):
        for v in read:
            first = v.start.astimezone(zone_info(tz)).date() if v.start else None
            last = (v.end - timedelta(microseconds=1)).astimezone(zone_info(tz)).date() if v.end else None
            own = v.windows or (TimeWindow(ALL_DAYS, 0, MINUTES_PER_DAY),)
            windows.extend(w for w in (_bounded(w, first, last) for w in own) if w is not None)
    return Validity(start, end, _merge(periods), tuple(dict.fromkeys(windows)), True)
