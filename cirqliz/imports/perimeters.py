"""Import event perimeters published as GeoJSON by the Préfecture de Police (Paris 2024 style).

Properties (names configurable with PerimeterMapping): EVENEMENT, TYPE_PERI, COMPE, TRI and
DATE_DEBUT/DATE_FIN written 'YYYY/MM/DD HH:MM:SS.mmm' in local time (Europe/Paris). Polygons and
multipolygons may carry a Z coordinate (dropped); features without geometry are reported.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry import mapping as as_geojson

from cirqliz.domain.errors import DomainError, GeometryError
from cirqliz.domain.windows import zone_info
from cirqliz.domain.zones import ZoneKind, validate_geometry
from cirqliz.imports.common import derive_code, explain_invalid_fr, geometry_error_fr, load_json, zone_geometry
from cirqliz.imports.records import DEFAULT_TZ, ImportBatch, ImportFileError, ItemReport, Problem, ZoneRecord

UNIT = "entité"
AREA_TOLERANCE = 1e-9
"""Relative difference of areas below which a repaired perimeter covers the same ground (float noise)."""
_PP_DATE = re.compile(r"^([0-9]{4})/([0-9]{2})/([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?$")


class PerimeterDateError(DomainError):
    """A perimeter date cannot be read or does not exist in local time."""

    code = "invalid_perimeter_date"


@dataclass(frozen=True, slots=True)
class PerimeterMapping:
    """Names of the properties in a publisher's file; defaults are the Préfecture de Police's."""

    event: str = "EVENEMENT"
    perimeter_type: str = "TYPE_PERI"
    start: str = "DATE_DEBUT"
    end: str = "DATE_FIN"
    competition: str = "COMPE"
    sort_key: str = "TRI"
    identifier: str | None = None
    source: str = "pp-perimetres"
    code_prefix: str = "PP"


def parse_pp_datetime(text: Any, tz: str = DEFAULT_TZ) -> datetime:
    """'2024/08/28 18:00:00.000' local time in `tz` to an aware UTC datetime.

    A local time that does not exist (spring DST gap) raises PerimeterDateError; an ambiguous one
    (autumn) is read as the first occurrence (summer time). Only PerimeterDateError is raised.
    """
    if not isinstance(text, str):
        raise PerimeterDateError(f"date attendue sous forme de texte, lu {text!r}")
    match = _PP_DATE.fullmatch(text.strip())
    if not match:
        raise PerimeterDateError(f"date illisible : {text[:40]!r} (attendu AAAA/MM/JJ HH:MM:SS.mmm)")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7) or "0"
    try:
        local = datetime(year, month, day, hour, minute, second, int(fraction.ljust(6, "0")),
                         tzinfo=zone_info(tz))
        instant = local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PerimeterDateError(f"date impossible : {text!r}") from exc
    if instant.astimezone(zone_info(tz)).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise PerimeterDateError(f"heure inexistante en {tz} (changement d'heure) : {text!r}",
                                 code="nonexistent_local_time")
    return instant


def _stable_id(props: dict[str, Any], mapping: PerimeterMapping) -> str:
    if mapping.identifier and props.get(mapping.identifier) not in (None, ""):
        return str(props[mapping.identifier])
    key = "|".join(str(props.get(name) or "") for name in (mapping.event, mapping.perimeter_type,
                                                            mapping.competition, mapping.sort_key, mapping.start))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a geometry (make_valid and union may add lines or points of no area)."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    polygons = [g for g in getattr(geometry, "geoms", ()) if isinstance(g, Polygon | MultiPolygon)]
    return shapely.union_all(polygons) if polygons else Polygon()


def _same_area(a: float, b: float) -> bool:
    return abs(a - b) <= AREA_TOLERANCE * max(abs(a), abs(b), 1e-12)


def repair_perimeter(geojson: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """An invalid (Multi)Polygon made valid without changing the area it covers, and what was done
    in French; GeometryError (French) when a repair would change the area.

    Overlapping or touching parts of a multipolygon are merged (their union covers exactly what the
    parts cover); a part whose own contour is invalid is corrected only when the corrected part has
    the area of the part as drawn (a contour crossing itself, a "bow tie", is refused: which side is
    inside cannot be told).
    """
    try:
        source = shapely.force_2d(shape(geojson))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.ShapelyError) as exc:
        raise GeometryError("géométrie illisible : les coordonnées ne sont pas des positions [longitude, latitude]",
                            code="geometry_unreadable") from exc
    if not all(math.isfinite(v) for v in shapely.get_coordinates(source).ravel()):
        # NaN or Infinity (JSON readers accept them): the geometry engine cannot compute with them
        raise GeometryError("géométrie illisible : une coordonnée n'est pas un nombre fini", code="geometry_unreadable")
    try:
        return _repaired(source)
    except shapely.errors.GEOSException as exc:
        raise GeometryError("géométrie invalide : le moteur géométrique ne peut pas la corriger : périmètre ignoré",
                            code="geometry_invalid") from exc


def _repaired(source: shapely.Geometry) -> tuple[dict[str, Any], tuple[str, ...]]:
    parts = list(source.geoms) if isinstance(source, MultiPolygon) else [source]
    fixed: list[shapely.Geometry] = []
    notes: list[str] = []
    for position, part in enumerate(parts, start=1):
        if part.is_valid:
            fixed.append(part)
            continue
        candidate = _polygonal(shapely.make_valid(part))
        which = f"la partie {position}" if len(parts) > 1 else "le contour"
        done = f"partie {position} corrigée" if len(parts) > 1 else "contour corrigé"
        if candidate.is_empty or not _same_area(candidate.area, part.area):
            raise GeometryError(f"géométrie invalide : {explain_invalid_fr(part)} ; corriger {which} changerait "
                                "la surface du périmètre : périmètre ignoré", code="geometry_invalid")
        fixed.append(candidate)
        notes.append(f"{done} sans changer sa surface")
    merged = _polygonal(shapely.union_all(fixed))
    total = sum(part.area for part in fixed)
    covered = all(_same_area(part.area - part.difference(merged).area, part.area) for part in fixed)
    if merged.is_empty or not merged.is_valid or not covered or merged.area > total * (1 + AREA_TOLERANCE):
        raise GeometryError("géométrie invalide : la fusion des parties changerait la surface du périmètre : "
                            "périmètre ignoré", code="geometry_invalid")
    if len(getattr(merged, "geoms", [merged])) < len(fixed):
        overlapping = not _same_area(merged.area, total)
        notes.append("parties superposées fusionnées" if overlapping else "parties jointives fusionnées")
    try:
        return validate_geometry(as_geojson(merged)), tuple(notes)
    except DomainError as exc:
        raise GeometryError(geometry_error_fr(exc, as_geojson(merged)), code=exc.code) from exc


def perimeter_geometry(geojson: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A perimeter's validated 2-D (Multi)Polygon and the repairs made (see repair_perimeter);
    GeometryError with a French message (never the geometry engine's English) otherwise."""
    try:
        geometry, _ = zone_geometry(geojson, allow_lines=False)
        return geometry, ()
    except DomainError as exc:
        if exc.code != "geometry_invalid" or not _engine_invalid(geojson):  # e.g. a ring of three positions
            raise GeometryError(geometry_error_fr(exc, geojson), code=exc.code) from exc
    return repair_perimeter(geojson)


def _engine_invalid(geojson: Any) -> bool:
    """Whether the geometry engine reads `geojson` but finds it invalid (what a repair can address)."""
    if not isinstance(geojson, dict):
        return False
    try:
        reason = shapely.is_valid_reason(shapely.force_2d(shape(geojson)))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.ShapelyError):
        return False
    return reason != "Valid Geometry" and not reason.startswith("Too few points")


@dataclass(slots=True)
class _Read:
    """One feature as read: its record (None when skipped), problems and repair notes."""

    number: int
    base_id: str
    name: str | None
    record: ZoneRecord | None
    problems: list[Problem]
    notes: tuple[str, ...] = ()
    code_prefix: str = ""
    code_raw: str = ""


def import_perimeters(data: bytes | str, *, mapping: PerimeterMapping | None = None,
                      tz: str = DEFAULT_TZ) -> ImportBatch[ZoneRecord]:
    """Read a perimeter FeatureCollection: one temporary event-perimeter ZoneRecord per feature, and
    one ItemReport per feature (kept, repaired or skipped, in file order).

    Without an identifier property, `source_id` hashes event, type, competition, sort key and
    start: a re-import of the same publication gives the same ids. Features sharing that key but
    not their geometry or dates (the two ends of a bridge) are distinct perimeters: each gets the
    key plus a digest of its geometry and dates. Only a feature with the same name, geometry and
    dates as an earlier one is a duplicate (skipped).
    """
    mapping = mapping or PerimeterMapping()
    document = load_json(data, what="fichier de périmètres")
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" or not isinstance(
            document.get("features"), list):
        raise ImportFileError("fichier de périmètres non conforme : une FeatureCollection GeoJSON est attendue "
                              "(à $.type et $.features)", code="import_schema_violation")
    reads: list[_Read] = []
    for number, feature in enumerate(document["features"], start=1):
        if not isinstance(feature, dict):
            reads.append(_Read(number, "", None, None, [Problem(
                number, None, "ce n'est pas une Feature GeoJSON : ignorée", code="not_feature", unit=UNIT)]))
            continue
        props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        base_id = _stable_id(props, mapping)
        reads.append(_read_feature(number, base_id, feature, props, mapping, tz))
    return _assemble(reads)


def _content_key(record: ZoneRecord) -> str:
    content = [record.name, record.geometry, record.valid_from.isoformat() if record.valid_from else None,
               record.valid_until.isoformat() if record.valid_until else None]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def _assemble(reads: list[_Read]) -> ImportBatch[ZoneRecord]:
    """Ids, codes and duplicates over the whole file, then the batch with one ItemReport per feature."""
    contents: dict[str, set[str]] = {}
    for read in reads:
        if read.record is not None:
            contents.setdefault(read.base_id, set()).add(_content_key(read.record))
    records: list[ZoneRecord] = []
    problems: list[Problem] = []
    items: list[ItemReport] = []
    first_of: dict[str, int] = {}
    for read in reads:
        record, notes = read.record, read.notes
        if record is not None:
            key = _content_key(record)
            if key in first_of:
                message = (f"doublon de l'entité {first_of[key]} (mêmes nom, géométrie et dates) : ignoré")
                read.problems.append(Problem(read.number, None, message, code="duplicate", item_id=read.base_id,
                                             unit=UNIT))
                record = None
            else:
                first_of[key] = read.number
                if len(contents[read.base_id]) > 1:  # same key, other geometry or dates: a distinct perimeter
                    source_id = f"{read.base_id}-{key[:8]}"
                    code = derive_code(read.code_prefix, f"{read.code_raw}-{key[:8]}")
                    record = replace(record, source_id=source_id, code=code)
                records.append(record)
        problems.extend(read.problems)
        errors = [p for p in read.problems if p.severity == "error"]
        if record is None:
            items.append(ItemReport(read.number, "skipped", UNIT, source_id=read.base_id or None, name=read.name,
                                    notes=tuple(_note(p) for p in errors), records=0))
        else:
            remarks = tuple(_note(p) for p in read.problems if p.severity == "warning")
            items.append(ItemReport(read.number, "repaired" if notes else "kept", UNIT, source_id=record.source_id,
                                    name=record.name, notes=notes + remarks))
    return ImportBatch(tuple(records), tuple(problems), tuple(items))


_SKIPPED_SUFFIX = re.compile(r"\s*:\s*(?:périmètre\s+)?ignorée?\s*$")


def _note(problem: Problem) -> str:
    """A problem as an item's note: its status already says "ignoré"."""
    message = _SKIPPED_SUFFIX.sub("", problem.message)
    named = problem.field and problem.field != "geometry"  # a geometry's message says "géométrie" already
    return f"champ {problem.field} : {message}" if named else message


def _read_feature(number: int, source_id: str, feature: dict[str, Any], props: dict[str, Any],
                  mapping: PerimeterMapping, tz: str) -> _Read:
    local: list[Problem] = []
    geometry, notes = None, ()
    if feature.get("geometry") is None:
        local.append(Problem(number, "geometry", "périmètre sans géométrie : ignoré", code="geometry_missing",
                             item_id=source_id, unit=UNIT))
    else:
        try:
            geometry, notes = perimeter_geometry(feature["geometry"])
        except DomainError as exc:
            local.append(Problem(number, "geometry", exc.message, code=exc.code, item_id=source_id, unit=UNIT))
    times: dict[str, datetime] = {}
    for name in (mapping.start, mapping.end):
        try:
            times[name] = parse_pp_datetime(props.get(name), tz)
        except DomainError as exc:
            local.append(Problem(number, name, exc.message, code=exc.code, item_id=source_id, unit=UNIT))
    if len(times) == 2 and times[mapping.end] <= times[mapping.start]:
        local.append(Problem(number, mapping.end, "la fin du périmètre ne suit pas son début", code="dates_order",
                             item_id=source_id, unit=UNIT))
    event = str(props.get(mapping.event) or "").strip()
    if not event:
        local.append(Problem(number, mapping.event, "nom de l'événement absent", code="required",
                             item_id=source_id, unit=UNIT))
    kind_label = str(props.get(mapping.perimeter_type) or "").strip()
    name = f"{event} — périmètre {kind_label}" if kind_label else event
    if local or geometry is None:
        return _Read(number, source_id, name or None, None, local)
    sort_key = str(props.get(mapping.sort_key) or "").strip()
    mapped = {mapping.event, mapping.perimeter_type, mapping.start, mapping.end, mapping.competition,
              mapping.sort_key, mapping.identifier}
    code_body = "-".join(p for p in (sort_key, kind_label) if p)
    code_raw = f"{code_body}-{source_id[:8]}" if code_body else source_id
    record = ZoneRecord(
        source=mapping.source,
        source_id=source_id,
        code=derive_code(mapping.code_prefix, code_raw),
        name=name,
        kind=ZoneKind.EVENT_PERIMETER,
        geometry=geometry,
        tz=tz,
        permanent=False,
        valid_from=times[mapping.start],
        valid_until=times[mapping.end],
        rules={"perimeter_type": kind_label or None},
        extra={
            "event": event,
            "competition": props.get(mapping.competition),
            "sort_key": props.get(mapping.sort_key),
            "source_geometry_type": feature["geometry"]["type"],
            **({"repairs": list(notes)} if notes else {}),
            **{k: v for k, v in props.items() if k not in mapped},
        },
    )
    return _Read(number, source_id, name, record, local, notes, mapping.code_prefix, code_raw)
