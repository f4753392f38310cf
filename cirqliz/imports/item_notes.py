"""What reading did to an item's geometry, in French, for its ItemReport."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_KINDS_FR = {"LineString": "ligne", "MultiLineString": "lignes", "Point": "point", "MultiPoint": "points"}


@dataclass(frozen=True, slots=True)
class GeometryNotes:
    """French notes on a geometry as read, and whether it was repaired (changed to be valid)."""

    repaired: bool = False
    texts: tuple[str, ...] = ()


def geometry_notes_fr(notes: dict[str, Any]) -> GeometryNotes:
    """French notes for the `extra` notes of cirqliz.imports.common.zone_geometry: a buffered
    line or point is kept (the documented conversion); any note naming a repair marks the item
    repaired, with its text when it gives one."""
    texts: list[str] = []
    repaired = False
    kind = notes.get("geometry_buffered_from")
    if kind:
        metres = notes.get("buffer_m")
        width = f"{metres:g} m" if isinstance(metres, int | float) else "la largeur par défaut"
        texts.append(f"{_KINDS_FR.get(str(kind), 'géométrie')} élargie en surface de {width} de part et d'autre")
    for key, value in notes.items():
        if "repair" not in key:
            continue
        repaired = True
        if isinstance(value, str) and value:
            texts.append(value)
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value) and value:
            texts.extend(value)
        else:
            texts.append("géométrie corrigée")
    return GeometryNotes(repaired, tuple(texts))


def read_geometry(geojson: Any, *, buffer_m: float) -> tuple[dict[str, Any], dict[str, Any], GeometryNotes]:
    """A zone geometry from an item's GeoJSON geometry, its notes for the record's `extra` and in
    French: polygons that are invalid only in a way that can be repaired without changing the
    area they cover (overlapping parts merged...) are repaired (cirqliz.imports.perimeters), lines
    and points are buffered (cirqliz.imports.common.zone_geometry). GeometryError (French) else."""
    from cirqliz.imports.common import zone_geometry
    from cirqliz.imports.perimeters import perimeter_geometry

    if isinstance(geojson, dict) and geojson.get("type") in ("Polygon", "MultiPolygon"):
        geometry, repairs = perimeter_geometry(geojson)
        notes: dict[str, Any] = {"geometry_repairs": list(repairs)} if repairs else {}
    else:
        geometry, notes = zone_geometry(geojson, buffer_m=buffer_m)
    return geometry, notes, geometry_notes_fr(notes)
