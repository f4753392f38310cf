"""A small Table Schema (frictionless) checker: one CSV row against the schema's fields.

Covers what the Cerema schema uses: types string (format uri), number, integer, date (format
%Y-%m-%d or any), time, geopoint ("lon,lat"), boolean; constraints required, unique (checked by the
caller), enum, pattern (whole value), minLength/maxLength, minimum/maximum; missingValues. The
built-in schemas written in code (cirqliz.imports.cerema) may also give `list_of`: the value is a
'|'-separated list whose every item must be one of those words, and `not_known`: words a field's
description allows for "not stated" (the Cerema schema's `NC` for an order without a date), read
as a missing value that satisfies `required`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from urllib.parse import urlparse

from cirqliz.imports.records import Problem

DEFAULT_MISSING = ("",)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One Table Schema field as the checker needs it."""

    name: str
    type: str = "string"
    format: str | None = None
    required: bool = False
    unique: bool = False
    enum: tuple[Any, ...] | None = None
    pattern: re.Pattern[str] | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    list_of: tuple[str, ...] | None = None
    """Allowed items of a '|'-separated list (built-in schemas only; Table Schema has no such constraint)."""
    not_known: tuple[str, ...] = ()
    """Words that say "not stated" for this field (read as None, even when required)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TableSchema:
    """The fields of a Table Schema, its missing values and primary key."""

    fields: tuple[FieldSpec, ...]
    missing_values: tuple[str, ...] = DEFAULT_MISSING
    primary_key: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in schema order."""
        return tuple(f.name for f in self.fields)


def table_schema(descriptor: Mapping[str, Any], *,
                 not_known: Mapping[str, tuple[str, ...]] | None = None) -> TableSchema:
    """Build a TableSchema from a Table Schema descriptor (dict). `not_known` gives, per field, the
    words its description allows for "not stated" (Table Schema itself cannot say it)."""
    specs = []
    not_known = not_known or {}
    for item in descriptor.get("fields", []):
        constraints = item.get("constraints") or {}
        pattern = constraints.get("pattern")
        specs.append(FieldSpec(
            name=item["name"],
            type=item.get("type", "string"),
            format=item.get("format"),
            required=bool(constraints.get("required", False)),
            unique=bool(constraints.get("unique", False)),
            enum=tuple(constraints["enum"]) if "enum" in constraints else None,
            pattern=re.compile(pattern) if pattern else None,
            min_length=constraints.get("minLength"),
            max_length=constraints.get("maxLength"),
            minimum=constraints.get("minimum"),
            maximum=constraints.get("maximum"),
            not_known=tuple(not_known.get(item["name"], ())),
        ))
    key = descriptor.get("primaryKey") or ()
    return TableSchema(
        fields=tuple(specs),
        missing_values=tuple(descriptor.get("missingValues", DEFAULT_MISSING)),
        primary_key=(key,) if isinstance(key, str) else tuple(key),
    )


class _CellError(Exception):
    """Internal: a cell cannot be cast; carries the French message."""


def check_row(row: Mapping[str, str | None], schema: TableSchema, row_number: int,
              item_id: str | None = None, *, unit: str = "ligne") -> tuple[dict[str, Any], list[Problem]]:
    """Typed values of one row (None when missing) and one Problem per field that breaks the schema.

    Never raises for any content of `row`; problems name the row number (the CSV line, the
    header being line 1: `unit`) and the field.
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for spec in schema.fields:
        raw = row.get(spec.name)
        text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        if spec.not_known and text.strip() in spec.not_known:
            values[spec.name] = None
            continue
        if text in schema.missing_values or text.strip() == "":
            values[spec.name] = None
            if spec.required:
                problems.append(Problem(row_number, spec.name, "valeur obligatoire absente",
                                        code="required", item_id=item_id, unit=unit))
            continue
        try:
            value = _cast(spec, text)
            _constraints(spec, text, value)
        except _CellError as exc:
            values[spec.name] = None
            problems.append(Problem(row_number, spec.name, str(exc), code="invalid_value", item_id=item_id,
                                    unit=unit))
            continue
        values[spec.name] = value
    return values, problems


def _cast(spec: FieldSpec, text: str) -> Any:
    kind = spec.type
    if kind == "string":
        if spec.format == "uri":
            parsed = urlparse(text.strip())
            if not parsed.scheme or not parsed.netloc:
                raise _CellError(f"adresse internet invalide : {_short(text)}")
        return text
    if kind in ("number", "integer"):
        try:
            number = int(text.strip()) if kind == "integer" else float(text.strip().replace(",", "."))
        except ValueError as exc:
            raise _CellError(f"nombre attendu, lu {_short(text)}") from exc
        if isinstance(number, float) and not math.isfinite(number):
            raise _CellError(f"nombre fini attendu, lu {_short(text)}")
        return number
    if kind == "date":
        fmt = spec.format if spec.format and spec.format.startswith("%") else "%Y-%m-%d"
        try:
            return datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError as exc:
            raise _CellError(f"date attendue au format AAAA-MM-JJ, lu {_short(text)}") from exc
    if kind == "time":
        try:
            return time.fromisoformat(text.strip())
        except ValueError as exc:
            raise _CellError(f"heure attendue au format HH:MM:SS, lu {_short(text)}") from exc
    if kind == "geopoint":
        return _geopoint(text)
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "oui"):
            return True
        if lowered in ("false", "0", "no", "non"):
            return False
        raise _CellError(f"booléen attendu, lu {_short(text)}")
    return text


def _geopoint(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise _CellError(f"point attendu sous la forme « longitude,latitude », lu {_short(text)}")
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise _CellError(f"point attendu sous la forme « longitude,latitude », lu {_short(text)}") from exc
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _CellError(f"coordonnées hors limites : {_short(text)}")
    return lon, lat


def _constraints(spec: FieldSpec, text: str, value: Any) -> None:
    if spec.enum is not None and value not in spec.enum:
        allowed = ", ".join(f"« {v} »" for v in spec.enum)
        raise _CellError(f"valeur {_short(text)} hors de la liste autorisée ({allowed})")
    if spec.list_of is not None:
        odd = [item for item in text.split("|") if item.strip() not in spec.list_of]
        if odd:
            allowed = ", ".join(f"« {v} »" for v in spec.list_of)
            raise _CellError(f"élément(s) {', '.join(_short(o) for o in odd)} hors de la liste autorisée "
                             f"({allowed}, séparés par « | »)")
    if spec.pattern is not None and not spec.pattern.fullmatch(text):
        raise _CellError(f"valeur {_short(text)} de forme invalide (motif {spec.pattern.pattern})")
    if spec.min_length is not None and len(text) < spec.min_length:
        raise _CellError(f"valeur trop courte ({len(text)} caractères, au moins {spec.min_length})")
    if spec.max_length is not None and len(text) > spec.max_length:
        raise _CellError(f"valeur trop longue ({len(text)} caractères, au plus {spec.max_length})")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise _CellError(f"valeur {value:g} inférieure au minimum {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise _CellError(f"valeur {value:g} supérieure au maximum {spec.maximum:g}")


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def missing_columns(header: Sequence[str], schema: TableSchema) -> list[str]:
    """Required fields whose column is absent from the header."""
    present = set(header)
    return [f.name for f in schema.fields if f.required and f.name not in present]
