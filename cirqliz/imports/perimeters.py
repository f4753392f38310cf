"""Import event perimeters published as GeoJSON by the Préfecture de Police (Paris 2024 style).

Properties (names configurable with PerimeterMapping): EVENEMENT, TYPE_PERI, COMPE, TRI and
DATE_DEBUT/DATE_FIN written 'YYYY/MM/DD HH:MM:SS.mmm' in local time (Europe/Paris). Polygons and
multipolygons may carry a Z coordinate (dropped); features without geometry are reported.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cirqliz.domain.errors import DomainError
from cirqliz.domain.windows import zone_info
from cirqliz.domain.zones import ZoneKind
from cirqliz.imports.common import derive_code, load_json, zone_geometry
from cirqliz.imports.records import DEFAULT_TZ, ImportBatch, ImportFileError, Problem, ZoneRecord

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


def import_perimeters(data: bytes | str, *, mapping: PerimeterMapping | None = None,
                      tz: str = DEFAULT_TZ) -> ImportBatch[ZoneRecord]:
    """Read a perimeter FeatureCollection: one temporary event-perimeter ZoneRecord per feature.

    Without an identifier property, `source_id` hashes event, type, competition, sort key and
    start: a re-import of the same publication gives the same ids.
    """
    mapping = mapping or PerimeterMapping()
    document = load_json(data, what="fichier de périmètres")
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" or not isinstance(
            document.get("features"), list):
        raise ImportFileError("fichier de périmètres non conforme : une FeatureCollection GeoJSON est attendue "
                              "(à $.type et $.features)", code="import_schema_violation")
    records: list[ZoneRecord] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, feature in enumerate(document["features"], start=1):
        if not isinstance(feature, dict):
            problems.append(Problem(number, None, "élément qui n'est pas une Feature GeoJSON", code="not_feature"))
            continue
        props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        source_id = _stable_id(props, mapping)
        if source_id in seen:
            problems.append(Problem(number, None, "périmètre en double (mêmes événement, type et dates) : ignoré",
                                    code="duplicate_id", item_id=source_id))
            continue
        record = _record(number, source_id, feature, props, mapping, tz, problems)
        if record is not None:
            seen.add(source_id)
            records.append(record)
    return ImportBatch(tuple(records), tuple(problems))


def _record(number: int, source_id: str, feature: dict[str, Any], props: dict[str, Any],
            mapping: PerimeterMapping, tz: str, problems: list[Problem]) -> ZoneRecord | None:
    local: list[Problem] = []
    geometry = None
    if feature.get("geometry") is None:
        local.append(Problem(number, "geometry", "périmètre sans géométrie : ignoré", code="geometry_missing",
                             item_id=source_id))
    else:
        try:
            geometry, _ = zone_geometry(feature["geometry"], allow_lines=False)
        except DomainError as exc:
            local.append(Problem(number, "geometry", exc.message, code=exc.code, item_id=source_id))
    times: dict[str, datetime] = {}
    for name in (mapping.start, mapping.end):
        try:
            times[name] = parse_pp_datetime(props.get(name), tz)
        except DomainError as exc:
            local.append(Problem(number, name, exc.message, code=exc.code, item_id=source_id))
    if len(times) == 2 and times[mapping.end] <= times[mapping.start]:
        local.append(Problem(number, mapping.end, "la fin du périmètre ne suit pas son début", code="dates_order",
                             item_id=source_id))
    event = str(props.get(mapping.event) or "").strip()
    if not event:
        local.append(Problem(number, mapping.event, "nom de l'événement absent", code="required",
                             item_id=source_id))
    problems.extend(local)
    if local or geometry is None:
        return None
    kind_label = str(props.get(mapping.perimeter_type) or "").strip()
    sort_key = str(props.get(mapping.sort_key) or "").strip()
    mapped = {mapping.event, mapping.perimeter_type, mapping.start, mapping.end, mapping.competition,
              mapping.sort_key, mapping.identifier}
    code_body = "-".join(p for p in (sort_key, kind_label) if p)
    return ZoneRecord(
        source=mapping.source,
        source_id=source_id,
        code=derive_code(mapping.code_prefix, f"{code_body}-{source_id[:8]}" if code_body else source_id),
        name=f"{event} — périmètre {kind_label}" if kind_label else event,
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
            **{k: v for k, v in props.items() if k not in mapped},
        },
    )
