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
from cirqliz.imports.common import (
    DEFAULT_BUFFER_M,
    decode_text,
    derive_code,
    geometry_error_fr,
)
from cirqliz.imports.item_notes import GeometryNotes, read_geometry
from cirqliz.imports.records import (
    DEFAULT_TZ,
    ImportBatch,
    ImportFileError,
    ItemReport,
    Problem,
    TrafficOrderRecord,
)
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


# Values the schema's field descriptions allow for "not stated" (Table Schema cannot say it).
NOT_KNOWN: dict[str, tuple[str, ...]] = {"ARR_DATE": ("NC",)}
MOTORS = ("Électrique", "Gaz Naturel pour Véhicules", "Hydrogène")
_TEXT_COLUMNS = ("ARR_CONSIDERANT", "REGL_ARTICLE", "REGL_SOUS_ARTICLE", "REGL_CONTEXTE", "VEH_TYPES",
                 "VEH_USAGES", "SAUF_VEH_USAGES", "PERIODE_JH", "PERIODE_DEBUT", "PERIODE_FIN", "EMPRISE_ZONE")
BUILTIN_SCHEMA = TableSchema(
    fields=(
        FieldSpec("ID", required=True, unique=True, max_length=200),
        FieldSpec("COLL_NOM", required=True, max_length=200),
        # Code officiel géographique of a commune: two digits (2A/2B for Corsica) and three digits.
        FieldSpec("COLL_INSEE", required=True, pattern=re.compile(r"(?:[013-9][0-9]|2[AB1-9])[0-9]{3}")),
        # "NC" when the order states no date (the schema's description of ARR_DATE).
        FieldSpec("ARR_DATE", type="date", format="%Y-%m-%d", required=True, not_known=("NC",)),
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
        return table_schema(json.loads(Path(path).read_text(encoding="utf-8")), not_known=NOT_KNOWN)
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


UNIT = "ligne"
_CSV_ERRORS_FR = (
    ("line contains NUL", "caractère nul (octet 0) dans le texte"),
    ("field larger than field limit", "champ trop long"),
    ("unexpected end of data", "fin de fichier inattendue (guillemet non refermé)"),
    ("new-line character seen in unquoted field", "fin de ligne inattendue dans un champ sans guillemets"),
)


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of every CSV record, the header included (line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    previous = 0
    try:
        for cells in reader:
            rows.append((previous + 1, cells))
            previous = reader.line_num
    except csv.Error as exc:
        reason = next((fr for en, fr in _CSV_ERRORS_FR if str(exc).startswith(en)), "syntaxe CSV invalide")
        raise ImportFileError(f"fichier CSV illisible, ligne {previous + 1} : {reason}",
                              code="import_not_csv") from exc
    return rows


def import_cerema(data: bytes | str, *, tz: str = DEFAULT_TZ,
                  buffer_m: float = DEFAULT_BUFFER_M) -> ImportBatch[TrafficOrderRecord]:
    """Read a Cerema CSV: one TrafficOrderRecord per row that satisfies the schema, with or
    without a geometry, and one ItemReport per row (unit "ligne", `index` and `line` both the
    row's first line in the file, the header being line 1; a blank line is no row).

    ImportFileError when the text is not UTF-8 CSV or lacks a required column.
    """
    text = decode_text(data, what="fichier CSV")
    published = published_schema()
    known = set(BUILTIN_SCHEMA.names) | set(published.names if published else ())
    rows = [(line, cells) for line, cells in _rows(text) if cells]
    if not rows or not any(cell.strip() for cell in rows[0][1]):
        raise ImportFileError("fichier CSV vide : la ligne d'en-tête manque", code="import_empty")
    header = [cell.strip() for cell in rows[0][1]]
    absent = missing_columns(header, BUILTIN_SCHEMA)
    absent += [name for name in missing_columns(header, published or BUILTIN_SCHEMA) if name not in absent]
    if absent:
        raise ImportFileError(f"fichier non conforme au schéma Cerema : colonnes obligatoires absentes "
                              f"({', '.join(absent)})", code="import_schema_violation")
    records: list[TrafficOrderRecord] = []
    problems: list[Problem] = []
    items: list[ItemReport] = []
    unknown = [h for h in header if h not in known]
    if unknown:
        problems.append(Problem(rows[0][0], None, f"colonnes hors schéma ignorées : {', '.join(unknown)}",
                                code="unknown_columns", severity="warning", unit=UNIT))
    seen: set[str] = set()
    for line, cells in rows[1:]:
        row_problems: list[Problem] = []
        record, item = _row(line, cells, header, published, seen, tz, buffer_m, row_problems)
        problems.extend(row_problems)
        items.append(item)
        if record is not None:
            records.append(record)
    return ImportBatch(tuple(records), tuple(problems), tuple(items))


def _skipped(line: int, row_id: str | None, name: str | None, problems: list[Problem]) -> ItemReport:
    notes = tuple(f"champ {p.field} : {p.message}" if p.field else p.message
                  for p in problems if p.severity == "error")
    return ItemReport(line, "skipped", UNIT, line, row_id, name, notes, records=0)


def _row(line: int, cells: list[str], header: list[str], published: TableSchema | None, seen: set[str],
         tz: str, buffer_m: float, problems: list[Problem]) -> tuple[TrafficOrderRecord | None, ItemReport]:
    """The record of one CSV row (None when it is skipped) and what became of the row."""
    if not any(cell.strip() for cell in cells):
        return None, ItemReport(line, "skipped", UNIT, line, notes=("ligne vide",), records=0)
    if len(cells) != len(header):
        problems.append(Problem(line, None, f"{len(cells)} colonnes au lieu de {len(header)} : ligne ignorée",
                                code="column_count", unit=UNIT))
        first = cells[0].strip() or None if cells else None
        return None, _skipped(line, first, None, problems)
    row = dict(zip(header, cells, strict=True))
    row_id = (row.get("ID") or "").strip() or None
    name = (row.get("EMPRISE_DESIGNATION") or "").strip() or None
    values, checked = _check(row, line, row_id, published)
    problems.extend(checked)
    if row_id is not None and row_id in seen:
        problems.append(Problem(line, "ID", f"identifiant {row_id!r} en double", code="duplicate_id",
                                item_id=row_id, unit=UNIT))
    if row_id is not None:
        seen.add(row_id)
    if any(p.severity == "error" for p in problems):
        return None, _skipped(line, row_id, name, problems)
    record, notes = _record(line, values, tz, buffer_m, problems)
    if record is None:
        return None, _skipped(line, row_id, name, problems)
    status = "repaired" if notes.repaired else "kept"
    return record, ItemReport(line, status, UNIT, line, record.source_id, record.name, notes.texts)


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split("|") if part.strip())


def _record(line: int, values: dict[str, Any], tz: str, buffer_m: float,
            problems: list[Problem]) -> tuple[TrafficOrderRecord | None, GeometryNotes]:
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
            local.append(Problem(line, "PERIODE_JH", exc.message, code=exc.code, item_id=row_id, unit=UNIT))
        else:
            hours, windows, expressible = spec.raw, spec.windows or (), spec.expressible
            if not expressible:
                local.append(Problem(line, "PERIODE_JH", f"horaires {spec.raw!r} non traduisibles en créneaux : "
                                     "la chaîne d'origine fait foi", code="hours_not_expressible",
                                     severity="warning", item_id=row_id, unit=UNIT))
    geometry = None
    extra: dict[str, Any] = {}
    notes = GeometryNotes()
    if values.get("GEOM_WKT"):
        geometry, notes = _geometry(line, row_id, values["GEOM_WKT"], buffer_m, extra, local)
    vocabulary = vehicle_usages()
    for name in ("VEH_USAGES", "SAUF_VEH_USAGES"):
        odd = [u for u in _split(values.get(name)) if vocabulary is not None and u not in vocabulary]
        if odd:
            local.append(Problem(line, name, f"usage(s) hors du référentiel VEH_USAGES : {', '.join(odd)}",
                                 code="unknown_usage", severity="warning", item_id=row_id, unit=UNIT))
    if values.get("VEH_TONNAGE") is not None and not values.get("VEH_TONNAGE_MODALITE"):
        local.append(Problem(line, "VEH_TONNAGE_MODALITE", f"tonnage {values['VEH_TONNAGE']:g} t sans modalité "
                             "(« jusqu'à » ou « à partir de ») : gardé tel quel, sans limite de poids",
                             code="tonnage_without_mode", severity="warning", item_id=row_id, unit=UNIT))
    problems.extend(local)
    if any(p.severity == "error" for p in local):
        return None, notes
    for name, value in values.items():
        if name not in MAPPED and value is not None:
            extra[name] = list(value) if isinstance(value, tuple) else (
                value.isoformat() if hasattr(value, "isoformat") else value)
    record = TrafficOrderRecord(
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
    return record, notes


def _geometry(line: int, row_id: str, wkt: str, buffer_m: float, extra: dict[str, Any],
              problems: list[Problem]) -> tuple[dict[str, Any] | None, GeometryNotes]:
    """The zone geometry of a GEOM_WKT cell (None and a problem when it cannot be used)."""
    try:
        shape = shapely.wkt.loads(wkt)
        geojson = mapping(shape)
    except (shapely.errors.ShapelyError, ValueError, TypeError, AttributeError) as exc:
        del exc  # the WKT reader's message is English: never shown
        problems.append(Problem(line, "GEOM_WKT", "géométrie WKT illisible : texte WKT attendu, par exemple "
                                "« LINESTRING(5.39 43.56, 5.41 43.57) »", code="invalid_wkt", item_id=row_id,
                                unit=UNIT))
        return None, GeometryNotes()
    try:
        geometry, notes, french = read_geometry(geojson, buffer_m=buffer_m)
    except DomainError as exc:
        problems.append(Problem(line, "GEOM_WKT", geometry_error_fr(exc, geojson), code=exc.code, item_id=row_id,
                                unit=UNIT))
        return None, GeometryNotes()
    extra.update(notes)
    if notes:
        extra["source_wkt"] = wkt
    return geometry, french
