"""Small helpers for the format tests."""

from __future__ import annotations

import math

import shapely
from shapely.geometry import shape

PARIS = "Europe/Paris"


def area_m2(geojson: dict) -> float:
    """Approximate area in square metres (local equirectangular projection)."""
    geometry = shape(geojson)
    k = math.pi / 180 * 6_371_008.8
    cos0 = math.cos(math.radians(geometry.centroid.y))
    return shapely.transform(geometry, lambda xy: xy * [k * cos0, k]).area


def depth(coordinates) -> int:
    """Length of the first position of a GeoJSON coordinates array (2 for 2-D)."""
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return len(coordinates)
