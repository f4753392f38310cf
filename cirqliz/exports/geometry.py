"""Coordinates written by the exporters: rounded, but never at the cost of a valid polygon.

Rounding to 8 decimals (about a millimetre) keeps files short and stable, but can move two
vertices of a thin part onto each other or across an edge: the written polygon then
self-intersects and re-importing the file loses the zone. Each geometry is therefore checked
after rounding with the importers' own check (validate_geometry); when it fails, that geometry
is written with more decimals, up to the full precision of the stored coordinates, and a
polygon that is invalid even then is repaired (shapely make_valid, polygonal parts kept).
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import mapping, shape

from cirqliz.domain.errors import DomainError
from cirqliz.domain.zones import validate_geometry

DEFAULT_DIGITS = 8
# Tried in turn when the previous precision breaks the polygon; None: coordinates as stored.
_FALLBACK_DIGITS = (10, 12, 15, None)


def _rounded(value: Any, digits: int | None) -> Any:
    if digits is None:
        return value
    if isinstance(value, list | tuple):
        return [_rounded(v, digits) for v in value]
    if isinstance(value, float):
        return round(value, digits) + 0.0  # + 0.0: no "-0.0" in the output
    return value


def _valid(geometry: dict[str, Any]) -> bool:
    try:
        validate_geometry(geometry)
    except DomainError:
        return False
    return True


def _repaired(geometry: dict[str, Any]) -> dict[str, Any]:
    """The polygonal part of make_valid of an invalid stored geometry (as a (Multi)Polygon)."""
    fixed = shapely.make_valid(shapely.force_2d(shape(geometry)))
    parts = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, shapely.Polygon | shapely.MultiPolygon)]
    polygons = [p for g in parts for p in getattr(g, "geoms", [g])]
    result = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    out = mapping(result)
    return {"type": out["type"], "coordinates": _as_lists(out["coordinates"])}


def _as_lists(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_as_lists(v) for v in value]
    return value


def export_geometry(geometry: dict[str, Any], digits: int = DEFAULT_DIGITS) -> tuple[dict[str, Any], int | None]:
    """(geometry, decimals) to write for a (Multi)Polygon: rounded to `digits` decimals when that
    keeps it valid, else to the first of more decimals that does (None: as stored); repaired when
    even the stored coordinates are invalid. The result always passes validate_geometry."""
    for precision in (digits, *(d for d in _FALLBACK_DIGITS if d is None or d > digits)):
        candidate = {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"], precision)}
        if _valid(candidate):
            return candidate, precision
    return _repaired(geometry), None


def format_coordinate(value: float, digits: int | None) -> str:
    """A coordinate as text: `digits` decimals without trailing zeros (the shortest exact form of
    the stored number when `digits` is None)."""
    if digits is None:
        text = repr(float(value))
    else:
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "", "-0.0", "0.0") else text
