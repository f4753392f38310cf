"""Zone geometries: GeoJSON polygons and multipolygons checked with shapely."""

import json

import pytest

from cirqliz.domain.errors import GeometryError
from cirqliz.domain.zones import validate_geometry

SQUARE = [[2.34, 48.85], [2.36, 48.85], [2.36, 48.87], [2.34, 48.87], [2.34, 48.85]]
OTHER = [[2.40, 48.85], [2.41, 48.85], [2.41, 48.86], [2.40, 48.85]]
HOLE = [[2.345, 48.855], [2.35, 48.855], [2.35, 48.86], [2.345, 48.855]]


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Polygon", "coordinates": [SQUARE]},
        {"type": "Polygon", "coordinates": [SQUARE, HOLE]},
        {"type": "MultiPolygon", "coordinates": [[SQUARE], [OTHER]]},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [SQUARE]}},
        json.dumps({"type": "Polygon", "coordinates": [SQUARE]}),
    ],
)
def test_valid_geometries(geometry):
    shape = validate_geometry(geometry)
    assert shape["type"] in ("Polygon", "MultiPolygon")
    json.dumps(shape)  # storable as JSON


def test_three_d_coordinates_are_flattened():
    shape = validate_geometry({"type": "Polygon", "coordinates": [[[*p, 35.0] for p in SQUARE]]})
    assert all(len(p) == 2 for p in shape["coordinates"][0])


BOWTIE = [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]


@pytest.mark.parametrize(
    ("geometry", "code", "words"),
    [
        ({"type": "Polygon", "coordinates": [BOWTIE]}, "geometry_invalid", "le contour se recoupe"),
        ({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, "geometry_ring_not_closed", "non fermé"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, "geometry_invalid",
         "quatre positions"),
        ({"type": "Polygon", "coordinates": [SQUARE, [[3, 3], [4, 3], [4, 4], [3, 3]]]},
         "geometry_invalid", "un trou est hors du contour"),
        ({"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE]]}, "geometry_invalid", ""),
        ({"type": "LineString", "coordinates": SQUARE}, "geometry_wrong_type", "LineString"),
        ({"type": "Point", "coordinates": [2.3, 48.8]}, "geometry_wrong_type", "polygone"),
        ({"type": "Polygon", "coordinates": []}, "geometry_empty", ""),
        ({"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]},
         "geometry_out_of_bounds", "WGS84"),
        ("{not json", "geometry_not_json", "JSON"),
        ([1, 2], "geometry_not_object", ""),
    ],
)
def test_invalid_geometries_refused_with_the_reason(geometry, code, words):
    with pytest.raises(GeometryError) as info:
        validate_geometry(geometry)
    assert info.value.code == code
    assert words in info.value.message
    assert info.value.message.startswith(("géométrie", "coordonnées"))


def test_self_intersection_says_where():
    with pytest.raises(GeometryError) as info:
        validate_geometry({"type": "Polygon", "coordinates": [BOWTIE]})
    message = info.value.message
    assert "le contour se recoupe" in message and "longitude 0.500000, latitude 0.500000" in message
    assert "Self-intersection" not in message  # the engine's English is never shown
