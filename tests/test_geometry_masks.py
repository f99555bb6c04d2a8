"""Polygon rasterization: GeoJSON holes and MultiPolygons, reduced resolution, semantic and
instance masks, and the reference behaviour of polygons_to_binary_mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from zod.geometry import masks

OUTLINE = [[10, 10], [50, 10], [50, 50], [10, 50]]
HOLE = [[20, 20], [40, 20], [40, 40], [20, 40]]
ISLAND = [[25, 25], [35, 25], [35, 35], [25, 35]]


def test_polygon_with_hole() -> None:
    mask = masks.binary_mask([{"type": "Polygon", "coordinates": [OUTLINE, HOLE]}], (60, 60))
    assert mask.dtype == bool and mask.shape == (60, 60)
    assert (
        mask[15, 15] and mask[45, 30] and not mask[30, 30] and not mask[5, 5] and not mask[55, 55]
    )
    # pixels are filled by centre: 41 x 41 outline minus 21 x 21 hole (boundaries on pixel centres)
    assert mask.sum() == 41 * 41 - 21 * 21


def test_multipolygon_island_inside_hole() -> None:
    geometry = {"type": "MultiPolygon", "coordinates": [[OUTLINE, HOLE], [ISLAND]]}
    mask = masks.binary_mask([geometry], (60, 60))
    assert mask[30, 30] and not mask[22, 22] and mask[12, 12]
    assert mask.sum() == 41 * 41 - 21 * 21 + 11 * 11
    # a feature and bare coordinates give the same mask
    feature = {"geometry": geometry, "properties": {}}
    np.testing.assert_array_equal(masks.binary_mask([feature], (60, 60)), mask)
    np.testing.assert_array_equal(masks.binary_mask([[[OUTLINE, HOLE], [ISLAND]]], (60, 60)), mask)


def test_reference_binary_mask_fills_holes() -> None:
    ref = masks.polygons_to_binary_mask([[OUTLINE, HOLE]], (60, 60))
    assert ref[30, 30] and ref.sum() == 41 * 41
    with pytest.raises(ValueError):
        masks.polygons_to_binary_mask([[OUTLINE]], (60, 60, 3))
    colour = masks.polygon_to_mask(OUTLINE, (60, 60, 3), (100, 0, 0))
    assert (
        colour.shape == (60, 60, 3)
        and colour[30, 30].tolist() == [100, 0, 0]
        and colour[5, 5].sum() == 0
    )


def test_reduced_resolution_scales_coordinates() -> None:
    full = masks.binary_mask([[OUTLINE, HOLE]], (2168, 3848))
    half = masks.binary_mask([[OUTLINE, HOLE]], (2168, 3848), scale=0.5)
    assert half.shape == (1084, 1924)
    assert half[7, 7] and not half[15, 15] and half[12, 22]
    assert abs(half.sum() * 4 - full.sum()) / full.sum() < 0.2


def test_degenerate_and_outside_polygons() -> None:
    assert masks.binary_mask([[[[1, 1], [5, 5]]]], (10, 10)).sum() == 0  # < 3 points
    assert masks.binary_mask([], (10, 10)).sum() == 0
    assert masks.binary_mask([[[[100, 100], [120, 100], [120, 120]]]], (10, 10)).sum() == 0
    partly = masks.binary_mask([[[[-5, -5], [5, -5], [5, 5], [-5, 5]]]], (10, 10))
    assert partly.sum() == 36  # pixels 0..5 on both axes


@dataclass
class _Lane:
    geometry: list
    type: str


class LaneMarkingAnnotation(_Lane):
    pass


class ShadedAreaAnnotation(_Lane):
    pass


def test_semantic_and_instance_masks() -> None:
    a = LaneMarkingAnnotation([OUTLINE], "solid")
    b = ShadedAreaAnnotation([[[30, 30], [58, 30], [58, 58], [30, 58]]], "shaded")
    sem = masks.semantic_mask([a, b], image_shape=(60, 60))
    assert sem[15, 15] == masks.DEFAULT_SEMANTIC_CLASSES["lane_marking"]
    assert sem[45, 45] == masks.DEFAULT_SEMANTIC_CLASSES["shaded_area"]  # later on top
    assert sem[5, 5] == 0
    by_type = masks.semantic_mask(
        [a, b], {"solid": 7}, label_fn=lambda x: x.type, image_shape=(60, 60)
    )
    assert by_type[15, 15] == 7 and by_type[55, 55] == 0  # unknown labels skipped
    inst = masks.instance_mask([a, b], (60, 60))
    assert inst.dtype == np.int32
    assert inst[15, 15] == 1 and inst[45, 45] == 2 and inst[0, 0] == 0
    same = masks.instance_mask([a, b], (60, 60), ids=[7, 7])
    assert set(np.unique(same)) == {0, 7}
    # raw features are told apart as in the spec
    assert masks.annotation_kind({"properties": {"class": "shaded_area"}}) == "shaded_area"
    assert masks.annotation_kind({"properties": {"ContainsArrow": True}}) == "road_painting"
    assert masks.annotation_kind({"properties": {"class": "EgoRoad_Road"}}) == "ego_road"
    assert masks.annotation_kind({"properties": {"class": "dashed"}}) == "lane_marking"
