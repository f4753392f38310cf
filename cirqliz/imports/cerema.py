"""Import Cerema "arrêtés de circulation marchandises" CSV files (schema v0.8/0.9, Table Schema).

Each row is checked against the schema's fields (types, required, enum, pattern, bounds); a row
that breaks it is skipped and every broken field is reported with the row number (the header is
row 1). `PERIODE_JH` is OSM opening_hours, `GEOM_WKT` WGS84 WKT (lines are buffered to polygons),
`VEH_USAGES` and `SAUF_VEH_USAGES` are compared with the schema's VEH_USAGES vocabulary. Crit'Air
labels of `VEH_CQAS`: arrêté du 21 juin 2016.

Rows are always checked by the built-in schema of this module (BUILTIN_SCHEMA: the columns, their
types, required values, vocabularies and bounds, written here); when the published schema.json
and referentiels/VEH_USAGES.csv are in the open-data folder with their pinned hashes
(cirqliz.opendata), rows are checked against the published schema too and usages against the
published vocabulary (without it, usages are kept as read, uncompared).
"""

from __future__ import annotations

import csv
import io
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
import shapely.wkt
from shapely.geometry import mapping

from cirqliz.domain.errors import DomainError
from cirqliz.domain.osm_hours import parse_opening_hours
from cirqliz.imports.common import DEFAULT_BUFFER_M, decode_text, derive_code, zone_geometry
from cirqliz.imports.records import DEFAULT_TZ, ImportBatch, ImportFileError, Problem, TrafficOrderRecord
from cirqliz.imports.tableschema import FieldSpec, TableSchema, check_row, missing_columns, table_schema
from cirqliz.opendata.files import published_folder

SOURCE = "cerema-marchandises"
CRITAIR_LABELS: dict[str, int | None] = {
    "100% électrique et Véhicules à hydrogène": 0,
    "1": 1, "2": 2, "3": 3, "4": 4, "5": 5,
    "Véhicule non classé": None,
}
TONNAGE_MODES = {"jusqu'à": "max", "à partir de": "min"}
MODALITIES = {"Autorise": "allow", "Interdit": "forbid"}
MAPPED = frozenset({
    "ID", "COLL_NOM", "COLL_INSEE", "ARR_DATE", "ARR_REF", "ARR_OBJET", "REGL_MODALITE", "VEH_TYPES",
    "VEH_TONNAGE_MODALITE", "VEH_TONNAGE", "VEH_USAGES", "SAUF_VEH_USAGES", "VEH_LONG", "VEH_LARG", "VEH_HAUT",
    "VEH_MOTORS", "VEH_CQAS", "PERIODE_JH", "PERIODE_DEBUT", "PERIODE_FIN", "EMPRISE_DESIGNATION", "GEOM_WKT",
})


MOTORS = ("Électrique", "Gaz Naturel pour Véhicules", "Hydrogène")
_TEXT_COLUMNS = ("ARR_CONSIDERANT", "REGL_ARTICLE", "REGL_SOUS_ARTICLE", "REGL_CONTEXTE", "VEH_TYPES",
                 "VEH_USAGES", "SAUF_VEH_USAGES", "PERIODE_JH", "PERIODE_DEBUT", "PERIODE_FIN", "EMPRISE_ZONE")
BUILTIN_SCHEMA = TableSchema(
    fields=(
        FieldSpec("ID", required=True, unique=True, max_length=200),
        FieldSpec("COLL_NOM", required=True, max_length=200),
        # Code officiel géographique of a commune: two digits (2A/2B for Corsica) and three digits.
        FieldSpec("COLL_INSEE", required=True, pattern=re.compile(r"(?:[013-9][0-9]|2[AB1-9])[0-9]{3}")),
        FieldSpec("ARR_DATE", type="date", format="%Y-%m-%d", required=True),
        FieldSpec("ARR_REF", required=True, max_length=200),
        FieldSpec("ARR_OBJET", required=True),
        FieldSpec("ARR_URL", format="uri"),
        FieldSpec("REGL_MODALITE", required=True, enum=tuple(MODALITIES)),
        FieldSpec("VEH_TONNAGE_MODALITE", enum=tuple(TONNAGE_MODES)),
        FieldSpec("VEH_TONNAGE", type="number", minimum=0, maximum=45),  # tonnes; 44 t is the French maximum
        FieldSpec("VEH_LONG", type="number", minimum=0, maximum=30),  # metres
        FieldSpec("VEH_LARG", type="number", minimum=0, maximum=6),
        FieldSpec("VEH_HAUT", type="number", minimum=0, maximum=6),
        FieldSpec("VEH_MOTORS", list_of=MOTORS),
        FieldSpec("VEH_CQAS", list_of=tuple(CRITAIR_LABELS)),
        FieldSpec("EMPRISE_DESIGNATION", required=True, max_length=500),
        FieldSpec("EMPRISE_DEBUT"), FieldSpec("EMPRISE_FIN"), FieldSpec("EMPRISE_SENS"),
        FieldSpec("INTERV_DUREE", type="time"),
        FieldSpec("INTERV_HMAX", type="time"),
        FieldSpec("GEOM_WKT"),
        FieldSpec("GEOM_DEBUT", type="geopoint"),
        FieldSpec("GEOM_FIN", type="geopoint"),
        FieldSpec("GEOM_SOURCE"),
        *(FieldSpec(name) for name in _TEXT_COLUMNS),
    ),
    missing_values=("", "NA", "NaN", "N/A"),
    primary_key=("ID",),
)
"""The product's own checks of a Cerema row (always applied), in French."""


@lru_cache(maxsize=4)
def _published_schema(path: str) -> TableSchema:
    try:
        return table_schema(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, re.error) as exc:
        raise ImportFileError(f"schéma Cerema publié illisible : {path}", code="reference_invalid") from exc


@lru_cache(maxsize=4)
def _published_usages(path: str) -> frozenset[str]:
    lines = Path(path).read_text(encoding="cp1252")
    return frozenset(line.strip() for line in lines.splitlines() if line.strip())


def published_schema() -> TableSchema | None:
    """The published Cerema Table Schema when installed with its pinned hash, else None."""
    folder = published_folder("cerema")
    if folder is None:
        return None
    return _published_schema(str((folder / "cerema-marchandises" / "schema.json").resolve()))


def cerema_schema() -> TableSchema:
    """The schema that names the columns: the published one when installed, else BUILTIN_SCHEMA."""
    return published_schema() or BUILTIN_SCHEMA


def vehicle_usages() -> frozenset[str] | None:
    """The published VEH_USAGES vocabulary (referentiels/VEH_USAGES.csv, Windows-1252), None when
    it is not installed."""
    folder = published_folder("cerema")
    if folder is None:
        return None
    return _published_usages(str((folder / "cerema-marchandises" / "referentiels" / "VEH_USAGES.csv").resolve()))


def _check(row: dict[str, str], index: int, row_id: str | None,
           published: TableSchema | None) -> tuple[dict[str, Any], list[Problem]]:
    """Typed values (built-in schema) and the problems of both schemas, one per field."""
    values, problems = check_row(row, BUILTIN_SCHEMA, index, item_id=row_id)
    if published is not None:
        _, first = check_row(row, published, index, item_id=row_id)
        reported = {p.field for p in first}
        problems = first + [p for p in problems if p.field not in reported]
    return values, problems


def import_cerema(data: bytes | str, *, tz: str = DEFAULT_TZ,
                  buffer_m: float = DEFAULT_BUFFER_M) -> ImportBatch[TrafficOrderRecord]:
    """Read a Cerema CSV: one TrafficOrderRecord per row that satisfies the schema.

    ImportFileError when the text is not UTF-8 CSV or lacks a required column.
    """
    text = decode_text(data, what="fichier CSV")
    published = published_schema()
    known = set(BUILTIN_SCHEMA.names) | set(published.names if published else ())
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ImportFileError(f"fichier CSV illisible : {exc}", code="import_not_csv") from exc
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ImportFileError("fichier CSV vide : la ligne d'en-tête manque", code="import_empty")
    header = [cell.strip() for cell in rows[0]]
    absent = missing_columns(header, BUILTIN_SCHEMA)
    absent += [name for name in missing_columns(header, published or BUILTIN_SCHEMA) if name not in absent]
    if absent:
        raise ImportFileError(f"fichier non conforme au schéma Cerema : colonnes obligatoires absentes "
                              f"({', '.join(absent)})", code="import_schema_violation")
    records: list[TrafficOrderRecord] = []
    problems: list[Problem] = []
    unknown = [h for h in header if h not in known]
    if unknown:
        problems.append(Problem(1, None, f"colonnes hors schéma ignorées : {', '.join(unknown)}",
                                code="unknown_columns", severity="warning"))
    seen: set[str] = set()
    for index, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(index, None, f"{len(cells)} colonnes au lieu de {len(header)} : ligne ignorée",
                                    code="column_count"))
            continue
        row = dict(zip(header, cells, strict=True))
        row_id = (row.get("ID") or "").strip() or None
        values, row_problems = _check(row, index, row_id, published)
        if row_id is not None and row_id in seen:
            row_problems.append(Problem(index, "ID", f"identifiant {row_id!r} en double", code="duplicate_id",
                                        item_id=row_id))
        if row_id is not None:
            seen.add(row_id)
        if row_problems:
            problems.extend(row_problems)
            continue
        record = _record(index, values, tz, buffer_m, problems)
        if record is not None:
            records.append(record)
    return ImportBatch(tuple(records), tuple(problems))


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split("|") if part.strip())


def _record(index: int, values: dict[str, Any], tz: str, buffer_m: float,
            problems: list[Problem]) -> TrafficOrderRecord | None:
    row_id = values["ID"].strip()
    insee = values["COLL_INSEE"]
    local: list[Problem] = []
    windows: tuple = ()
    expressible = True
    hours = values.get("PERIODE_JH")
    if hours:
        try:
            spec = parse_opening_hours(hours)
        except DomainError as exc:
            local.append(Problem(index, "PERIODE_JH", exc.message, code=exc.code, item_id=row_id))
        else:
            hours, windows, expressible = spec.raw, spec.windows or (), spec.expressible
            if not expressible:
                local.append(Problem(index, "PERIODE_JH", f"horaires {spec.raw!r} non traduisibles en créneaux : "
                                     "la chaîne d'origine fait foi", code="hours_not_expressible",
                                     severity="warning", item_id=row_id))
    geometry = None
    extra: dict[str, Any] = {}
    if values.get("GEOM_WKT"):
        try:
            shape = shapely.wkt.loads(values["GEOM_WKT"])
            geometry, notes = zone_geometry(mapping(shape), buffer_m=buffer_m)
            extra.update(notes)
            if notes:
                extra["source_wkt"] = values["GEOM_WKT"]
        except DomainError as exc:
            local.append(Problem(index, "GEOM_WKT", exc.message, code=exc.code, item_id=row_id))
        except (shapely.errors.ShapelyError, ValueError, TypeError, AttributeError) as exc:
            local.append(Problem(index, "GEOM_WKT", f"géométrie WKT illisible : {str(exc)[:120]}",
                                 code="invalid_wkt", item_id=row_id))
    vocabulary = vehicle_usages()
    for name in ("VEH_USAGES", "SAUF_VEH_USAGES"):
        odd = [u for u in _split(values.get(name)) if vocabulary is not None and u not in vocabulary]
        if odd:
            local.append(Problem(index, name, f"usage(s) hors du référentiel VEH_USAGES : {', '.join(odd)}",
                                 code="unknown_usage", severity="warning", item_id=row_id))
    problems.extend(local)
    if any(p.severity == "error" for p in local):
        return None
    for name, value in values.items():
        if name not in MAPPED and value is not None:
            extra[name] = list(value) if isinstance(value, tuple) else (
                value.isoformat() if hasattr(value, "isoformat") else value)
    return TrafficOrderRecord(
        source=SOURCE,
        source_id=f"{insee}:{row_id}",
        code=derive_code("ARR", f"{insee}-{row_id}"),
        name=values["EMPRISE_DESIGNATION"].strip(),
        authority=values["COLL_NOM"].strip(),
        insee=insee,
        order_date=values["ARR_DATE"],
        order_ref=values["ARR_REF"].strip(),
        order_object=values["ARR_OBJET"].strip(),
        modality=MODALITIES[values["REGL_MODALITE"]],
        vehicle_types=_split(values.get("VEH_TYPES")),
        tonnage_mode=TONNAGE_MODES.get(values.get("VEH_TONNAGE_MODALITE") or ""),
        tonnage_t=values.get("VEH_TONNAGE"),
        usages=_split(values.get("VEH_USAGES")),
        except_usages=_split(values.get("SAUF_VEH_USAGES")),
        max_length_m=values.get("VEH_LONG"),
        max_width_m=values.get("VEH_LARG"),
        max_height_m=values.get("VEH_HAUT"),
        motors=_split(values.get("VEH_MOTORS")),
        crit_air=tuple(CRITAIR_LABELS[c] for c in _split(values.get("VEH_CQAS")) if c in CRITAIR_LABELS),
        opening_hours=hours or None,
        windows=windows,
        hours_expressible=expressible,
        period_start=values.get("PERIODE_DEBUT"),
        period_end=values.get("PERIODE_FIN"),
        geometry=geometry,
        tz=tz,
        extra=extra,
    )
