"""Préfecture de Police perimeters read without loss (issue 16): every feature accounted for,
overlapping parts merged when the area is kept, distinct perimeters sharing a name both kept,
only true duplicates dropped, and no geometry-engine English in what a person reads."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import shapely
from shapely.geometry import shape

from cirqliz.domain.zones import parse_zone_code
from cirqliz.imports import import_perimeters
from cirqliz.imports.perimeters import repair_perimeter

from .test_import_messages import LEAK

HERE = Path(__file__).resolve().parent
ENGINE_ENGLISH = re.compile(r"Self-intersection|Ring|Too few|Hole|Nested|shell|Invalid|\[[-0-9.]+ [-0-9.]+\]")


@pytest.fixture(scope="module")
def lossless() -> bytes:
    return (HERE / "perimeters-lossless.geojson").read_bytes()


def _features(data: bytes) -> list:
    return json.loads(data)["features"]


def test_every_feature_is_accounted_for_in_file_order(lossless):
    batch = import_perimeters(lossless)
    assert len(batch.items) == len(_features(lossless)) == 8
    assert [i.index for i in batch.items] == list(range(1, 9))
    assert [i.status for i in batch.items] == ["repaired", "repaired", "kept", "kept", "skipped", "skipped",
                                               "skipped", "skipped"]
    assert {i.unit for i in batch.items} == {"entité"} and {p.unit for p in batch.problems} == {"entité"}
    assert sum(i.records for i in batch.items) == len(batch.records) == 4
    assert [i.source_id for i in batch.items if i.status != "skipped"] == [r.source_id for r in batch.records]
    for item in batch.items:
        line = item.describe()
        assert line.startswith(f"entité {item.index}")
        assert line.count("ignoré") == (item.status == "skipped")  # the status says it, once


def test_overlapping_parts_are_merged_and_the_area_is_kept(lossless):
    batch = import_perimeters(lossless)
    source = _features(lossless)[0]["geometry"]
    [first] = [r for r in batch.records if r.source_id == batch.items[0].source_id]
    parts = [shape({"type": "Polygon", "coordinates": c}) for c in source["coordinates"]]
    union = shapely.union_all(parts)
    merged = shape(first.geometry)
    assert merged.is_valid and abs(merged.area - union.area) <= 1e-12
    assert merged.symmetric_difference(union).area <= 1e-12
    assert merged.area < sum(p.area for p in parts)  # the overlap is counted once
    assert batch.items[0].notes == ("parties superposées fusionnées",)
    assert batch.items[0].describe().endswith(": réparé — parties superposées fusionnées")
    assert first.extra["repairs"] == ["parties superposées fusionnées"]
    assert batch.items[1].notes == ("parties jointives fusionnées",)


def test_the_two_ends_of_a_bridge_are_two_perimeters(lossless):
    batch = import_perimeters(lossless)
    ends = [r for r in batch.records if r.rules["perimeter_type"] == "Rouge"]
    assert len(ends) == 2 and ends[0].name == ends[1].name
    assert ends[0].valid_from == ends[1].valid_from and ends[0].valid_until != ends[1].valid_until
    assert ends[0].source_id != ends[1].source_id and ends[0].code != ends[1].code
    assert all(parse_zone_code(e.code) == e.code for e in ends)
    # The fifth feature repeats the third (name, geometry and dates): the only duplicate.
    assert batch.items[4].notes == ("doublon de l'entité 3 (mêmes nom, géométrie et dates)",)


def test_ids_and_codes_do_not_depend_on_the_order_of_features(lossless):
    document = json.loads(lossless)
    first = {r.source_id: r.code for r in import_perimeters(lossless).records}
    shuffled = list(document["features"])
    random.Random(4).shuffle(shuffled)
    again = import_perimeters(json.dumps({**document, "features": shuffled}))
    assert {r.source_id: r.code for r in again.records} == first
    assert import_perimeters(lossless) == import_perimeters(lossless)


def test_a_unique_perimeter_keeps_the_id_it_always_had(shared_data):
    # Ids of perimeters that share nothing are those of earlier imports (re-imports update them).
    data = (shared_data / "jop" / "para_ouverture.geojson").read_bytes()
    [zone] = import_perimeters(data).records
    assert "-" not in zone.source_id and len(zone.source_id) == 16


def test_repairs_that_would_change_the_area_are_refused_in_french(lossless):
    batch = import_perimeters(lossless)
    bow_tie = batch.items[5]
    assert bow_tie.status == "skipped" and bow_tie.records == 0
    [note] = bow_tie.notes
    assert "le contour se recoupe" in note and "changerait la surface" in note
    for text in [p.describe() for p in batch.problems] + [i.describe() for i in batch.items]:
        assert not ENGINE_ENGLISH.search(text), text
        assert not LEAK.search(text), text


def test_a_bad_part_of_a_multipolygon_is_named():
    square = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
    bow = [[[2, 2], [3, 3], [3, 2], [2, 3], [2, 2]]]
    with pytest.raises(Exception) as caught:
        repair_perimeter({"type": "MultiPolygon", "coordinates": [square, bow]})
    assert "la partie 2" in caught.value.message and not ENGINE_ENGLISH.search(caught.value.message)


def test_a_spike_is_removed_without_changing_the_area():
    # A contour that goes out and back along the same segment: invalid, same area once cleaned.
    spike = [[[0, 0], [2, 0], [2, 1], [3, 1], [2, 1], [2, 2], [0, 2], [0, 0]]]
    geometry, notes = repair_perimeter({"type": "Polygon", "coordinates": spike})
    assert shape(geometry).is_valid and shape(geometry).area == pytest.approx(4.0)
    assert notes == ("contour corrigé sans changer sa surface",)


def test_a_ring_of_three_positions_is_not_repaired():
    feature = json.loads((HERE / "perimeters-lossless.geojson").read_text())["features"][2]
    feature["geometry"]["coordinates"] = [[[2.3, 48.8], [2.31, 48.8], [2.3, 48.8]]]
    [item] = import_perimeters(json.dumps({"type": "FeatureCollection", "features": [feature]})).items
    assert item.status == "skipped"
    assert item.notes == ("géométrie invalide : trop peu de points près de longitude 2.300000, latitude 48.800000",)


def test_the_real_publication_gives_one_item_per_feature(shared_data):
    data = (shared_data / "jop" / "para_ouverture.geojson").read_bytes()
    batch = import_perimeters(data)
    assert len(batch.items) == len(_features(data)) == 1
    [item] = batch.items
    assert item.status == "kept" and item.notes == () and item.records == 1
    assert item.name == "CER3 - Ceremonie d'ouverture Jeux Paralympiques — périmètre Rouge"
