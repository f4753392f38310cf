"""Import the French national ZFE schema (etalab/schema-zfe, GeoJSON).

Each feature is an area (`aires`) or a road section (`voies spéciales`, LineString: buffered to a
polygon). `*_critair` give the first Crit'Air class refused for a vehicle class — the order is EL,
V1..V5, NC (Crit'Air classes: arrêté du 21 juin 2016) — and `*_horaires` when the restriction
applies, in OSM opening_hours syntax.

Every document read or written is checked by the built-in checks of this module (GeoJSON
structure with the packaged FeatureCollection schema, required properties, types, dates,
Crit'Air values, pairs of `*_critair`/`*_horaires`); when the published schema.json is in the
open-data folder with its pinned hash (cirqliz.opendata), the document is validated against it too.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from cirqliz.domain.errors import DomainError, OpeningHoursError
from cirqliz.domain.osm_hours import parse_opening_hours, windows_to_opening_hours
from cirqliz.domain.vehicles import VehicleCategory
from cirqliz.domain.windows import TimeWindow
from cirqliz.domain.zones import ZoneKind
from cirqliz.imports.common import (
    DEFAULT_BUFFER_M,
    derive_code,
    geojson_registry,
    geometry_error_fr,
    inclusive_end,
    load_json,
    local_day_start,
    packaged_json,
    schema_error_message,
)
from cirqliz.imports.item_notes import GeometryNotes, read_geometry
from cirqliz.imports.records import DEFAULT_TZ, ImportBatch, ImportFileError, ItemReport, Problem, ZoneRecord
from cirqliz.opendata.files import published_folder

SOURCE = "zfe"
# Vehicle classes of the schema and the EU categories they cover (règlement (UE) 2018/858 art. 4).
VEHICLE_CLASSES: dict[str, tuple[VehicleCategory, ...]] = {
    "vp": (VehicleCategory.M1,),
    "vul": (VehicleCategory.N1,),
    "pl": (VehicleCategory.N2, VehicleCategory.N3),
    "autobus_autocars": (VehicleCategory.M2, VehicleCategory.M3),
    "deux_rm": tuple(c for c in VehicleCategory if c.value.startswith("L")),
}
# Order of the schema's vignettes; the value is the first refused one.
CRITAIR_ORDER = ("EL", "V1", "V2", "V3", "V4", "V5", "NC")
URL_ORDER = "url_arrete"
# The schema names the information page `url_site_information`; its own examples write `url_site`.
URL_SITE = ("url_site_information", "url_site")
MAPPED_PROPERTIES = frozenset(
    {"id", "date_debut", "date_fin", URL_ORDER, *URL_SITE}
    | {f"{c}_critair" for c in VEHICLE_CLASSES}
    | {f"{c}_horaires" for c in VEHICLE_CLASSES}
)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_CRITAIR_LIST = ", ".join(CRITAIR_ORDER)


@lru_cache(maxsize=4)
def _published_validator(path: str) -> jsonschema.Draft7Validator:
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportFileError(f"schéma ZFE publié illisible : {path}", code="reference_invalid") from exc
    return jsonschema.Draft7Validator(schema, registry=geojson_registry(),
                                      format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def zfe_validator() -> jsonschema.Draft7Validator | None:
    """The published ZFE schema (etalab/schema-zfe schema.json, offline $ref) when it is in the
    open-data folder with its pinned hash; None otherwise (built-in checks only)."""
    folder = published_folder("zfe")
    return None if folder is None else _published_validator(str((folder / "zfe" / "schema.json").resolve()))


@lru_cache(maxsize=1)
def _geojson_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(packaged_json("geojson-featurecollection.json"))


def _first_error(validator: jsonschema.Draft7Validator, document: Any) -> jsonschema.ValidationError | None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return errors[0] if errors else None


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _property_violation(props: Any) -> tuple[str, str] | None:
    """(property, French reason) of the first built-in check a feature's properties fail."""
    if not isinstance(props, dict):
        return "", "type attendu : un objet"
    for name in ("id", "date_debut"):
        if name not in props:
            return "", f"propriété obligatoire absente : {name}"
    if not isinstance(props["id"], str) or not props["id"].strip():
        return "id", "type attendu : un texte non vide"
    if not _is_date(props["date_debut"]):
        return "date_debut", "date attendue au format AAAA-MM-JJ"
    if props.get("date_fin") is not None and not _is_date(props["date_fin"]):
        return "date_fin", "date attendue au format AAAA-MM-JJ, ou null"
    for name in VEHICLE_CLASSES:
        critair, hours = f"{name}_critair", f"{name}_horaires"
        if props.get(critair) is not None and props[critair] not in CRITAIR_ORDER:
            return critair, f"valeur hors de la liste permise ({_CRITAIR_LIST} ou null)"
        if props.get(hours) is not None and not isinstance(props[hours], str):
            return hours, "type attendu : un texte (syntaxe opening_hours d'OpenStreetMap) ou null"
        for present, needed in ((critair, hours), (hours, critair)):
            if present in props and needed not in props:
                return "", f"propriété obligatoire absente : {needed} (va avec {present})"
    for name in (URL_ORDER, *URL_SITE):
        if name in props and not isinstance(props[name], str):
            return name, "type attendu : un texte"
    return None


def zfe_violation(document: Any, *, what: str = "document ZFE") -> str | None:
    """French message naming (by JSON path) the first violation of a ZFE document, or None.

    The built-in checks always run; the published schema too when it is installed.
    """
    published = zfe_validator()
    # The published schema refers to the same packaged GeoJSON schema: checking it twice is waste.
    error = _first_error(published, document) if published is not None else None
    if error is None and published is None:
        error = _first_error(_geojson_validator(), document)
    if error is not None:
        return schema_error_message(error, what=what)
    for index, feature in enumerate(document["features"]):
        found = _property_violation(feature.get("properties"))
        if found is not None:
            name, reason = found
            path = f"$.features[{index}].properties" + (f".{name}" if name else "")
            return f"{what} non conforme au schéma, à {path} : {reason}"
    return None


def validate_zfe_document(document: Any) -> None:
    """ImportFileError naming the first violation (by JSON path) of a ZFE document."""
    message = zfe_violation(document)
    if message is not None:
        raise ImportFileError(message, code="import_schema_violation")


def critair_rule(first_refused: str | None) -> dict[str, Any] | None:
    """What a `*_critair` value allows: highest Crit'Air class admitted (None: no vehicle at all)
    and whether unclassified vehicles are admitted."""
    if first_refused is None:
        return None
    # EL refuses everything; V1 admits Crit'Air 0 only; ...; NC admits 0 to 5 but no unclassified.
    index = CRITAIR_ORDER.index(first_refused)
    return {"critair_from": first_refused, "max_crit_air": index - 1 if index >= 1 else None,
            "unclassified_allowed": False}


UNIT = "entité"


def import_zfe(data: bytes | str, *, tz: str = DEFAULT_TZ,
               buffer_m: float = DEFAULT_BUFFER_M) -> ImportBatch[ZoneRecord]:
    """Read a ZFE schema GeoJSON document: one low-emission ZoneRecord per usable feature and
    one ItemReport per feature (unit "entité", `index` its 1-based position).

    The whole document must validate against the schema (ImportFileError otherwise); features
    whose geometry or hours cannot be used are skipped and reported as problems. The hours of
    the vehicle classes are the zone's restriction schedule (ADR 0007): when they differ, the
    zone is restricted when any class is (the union of their windows) and each class's text is
    kept in `extra` (`<class>_horaires`).
    """
    document = load_json(data, what="document ZFE")
    validate_zfe_document(document)
    records: list[ZoneRecord] = []
    problems: list[Problem] = []
    items: list[ItemReport] = []
    seen: set[str] = set()
    for number, feature in enumerate(document["features"], start=1):
        props = feature.get("properties") or {}
        source_id = str(props["id"])
        if source_id in seen:
            problems.append(Problem(number, "id", f"identifiant {source_id!r} déjà lu plus haut : entité ignorée",
                                    code="duplicate_id", item_id=source_id, unit=UNIT))
            items.append(ItemReport(number, "skipped", UNIT, source_id=source_id, name=_name(source_id),
                                    notes=(f"identifiant {source_id!r} en double",), records=0))
            continue
        seen.add(source_id)
        local: list[Problem] = []
        record, notes = _feature_record(number, source_id, feature, props, tz, buffer_m, local)
        problems.extend(local)
        if record is None:
            reasons = tuple(f"champ {p.field} : {p.message}" if p.field else p.message
                            for p in local if p.severity == "error")
            items.append(ItemReport(number, "skipped", UNIT, source_id=source_id, name=_name(source_id),
                                    notes=reasons, records=0))
            continue
        records.append(record)
        items.append(ItemReport(number, "repaired" if notes.repaired else "kept", UNIT, source_id=source_id,
                                name=record.name, notes=notes.texts))
    return ImportBatch(tuple(records), tuple(problems), tuple(items))


def _name(source_id: str) -> str:
    return f"ZFE {source_id}"


def _feature_record(number: int, source_id: str, feature: dict[str, Any], props: dict[str, Any], tz: str,
                    buffer_m: float, problems: list[Problem]) -> tuple[ZoneRecord | None, GeometryNotes]:
    def problem(field: str, message: str, code: str, severity: str = "error") -> None:
        problems.append(Problem(number, field, message, code=code, severity=severity,  # type: ignore[arg-type]
                                item_id=source_id, unit=UNIT))

    try:
        geometry, geo_notes, notes = read_geometry(feature.get("geometry"), buffer_m=buffer_m)
    except DomainError as exc:
        problem("geometry", geometry_error_fr(exc, feature.get("geometry")), exc.code)
        return None, GeometryNotes()
    start = date.fromisoformat(props["date_debut"])
    end = date.fromisoformat(props["date_fin"]) if props.get("date_fin") else None
    if end is not None and end < start:
        problem("date_fin", "la date de fin précède la date de début", "dates_order")
        return None, GeometryNotes()
    classes: dict[str, Any] = {}
    specs: dict[str, Any] = {}
    for name, categories in VEHICLE_CLASSES.items():
        rule = critair_rule(props.get(f"{name}_critair"))
        hours = props.get(f"{name}_horaires")
        if rule is None:
            continue
        rule["categories"] = [c.value for c in categories]
        rule["opening_hours"] = hours
        try:
            spec = parse_opening_hours(hours)
        except DomainError as exc:
            problem(f"{name}_horaires", exc.message, exc.code)
            return None, GeometryNotes()
        rule["windows_expressible"] = spec.expressible
        classes[name] = rule
        specs[name] = spec
    extra = {k: v for k, v in props.items() if k not in MAPPED_PROPERTIES}
    raw_hours, windows, expressible = _restriction(specs, extra, problem)
    extra.update(geo_notes)
    if geo_notes:
        extra["source_geometry"] = feature["geometry"]
    url_site = next((props[k] for k in URL_SITE if isinstance(props.get(k), str)), None)
    return ZoneRecord(
        source=SOURCE,
        source_id=source_id,
        code=derive_code("ZFE", source_id),
        name=_name(source_id),
        kind=ZoneKind.LOW_EMISSION,
        geometry=geometry,
        tz=tz,
        permanent=end is None,
        valid_from=local_day_start(start, tz),
        valid_until=inclusive_end(end, tz) if end else None,
        windows=windows,
        opening_hours=raw_hours,
        hours_expressible=expressible,
        rules={"critair": classes},
        extra=extra,
        url_order=props.get(URL_ORDER) if isinstance(props.get(URL_ORDER), str) else None,
        url_site=url_site,
    ), notes


def _restriction(specs: dict[str, Any], extra: dict[str, Any],
                 problem: Any) -> tuple[str | None, tuple[TimeWindow, ...], bool]:
    """The zone's restriction schedule from its classes' hours: (text, windows, expressible)."""
    distinct = {spec.raw for spec in specs.values()}
    if not distinct:
        return None, (), True
    if len(distinct) == 1:
        spec = next(iter(specs.values()))
        if not spec.expressible:
            problem("horaires", f"horaires {spec.raw!r} non traduisibles en créneaux : la chaîne d'origine fait "
                    "foi et la zone est traitée comme réglementée à toute heure", "hours_not_expressible", "warning")
        return spec.raw, tuple(spec.windows or ()), spec.expressible
    for name, spec in specs.items():
        extra[f"{name}_horaires"] = spec.raw
    if not all(spec.expressible for spec in specs.values()):
        problem("horaires", "horaires différents selon le type de véhicule, dont certains non traduisibles en "
                "créneaux : la zone est traitée comme réglementée à toute heure ; les horaires de chaque type "
                "sont conservés", "hours_per_class", "warning")
        return None, (), False
    windows = tuple(dict.fromkeys(w for spec in specs.values() for w in spec.windows))
    try:
        text: str | None = windows_to_opening_hours(windows)
    except OpeningHoursError:
        text = None
    problem("horaires", "horaires différents selon le type de véhicule : la zone est réglementée quand l'un "
            "d'eux l'est (réunion des créneaux) ; les horaires de chaque type sont conservés", "hours_per_class",
            "warning")
    return text, windows, True
