"""zod.eval.segmentation and zod.eval.road_condition: hand-made masks and polygons with known
counts, holes, per-image versus overall scores, prediction files (writers, readers, errors),
and the dataset flow on the sample."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from zod.annotations.ego_road import EgoRoadAnnotation
from zod.annotations.lanes import parse_lane_annotation
from zod.errors import FormatError
from zod.eval import road_condition as rc
from zod.eval.segmentation import (
    TASKS,
    confusion_of_masks,
    evaluate_segmentation,
    evaluate_segmentation_dataset,
    ground_truth_mask,
    mask_scale,
    read_mask,
    read_polygon_predictions,
    segmentation_metrics,
    write_mask,
    write_polygon_predictions,
)
from zod.geometry.masks import FULL_IMAGE_SHAPE, rasterize_polygons

EIGHTH = 1 / 8
SMALL = (271, 481)  # the front image at 1/8


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _road(*rings: list[list[float]], cls: str = "EgoRoad_Road") -> EgoRoadAnnotation:
    feature = {
        "geometry": {"type": "Polygon", "coordinates": list(rings)},
        "properties": {"annotation_uuid": "u", "class": cls},
    }
    return EgoRoadAnnotation.from_dict(feature)


OUTER = _rect(800, 800, 2400, 1600)
HOLE = _rect(1200, 1000, 1600, 1400)


def test_mask_scale_accepts_the_image_and_scaled_copies() -> None:
    assert mask_scale(FULL_IMAGE_SHAPE) == 1.0
    assert mask_scale((542, 962)) == 0.25
    assert mask_scale(SMALL) == EIGHTH
    with pytest.raises(FormatError, match="not the front image"):
        mask_scale((500, 962), "m.png")


def test_ground_truth_keeps_the_holes() -> None:
    with_hole = ground_truth_mask("ego_road", [_road(OUTER, HOLE)], EIGHTH)
    outline = ground_truth_mask("ego_road", [_road(OUTER)], EIGHTH)
    hole_only = ground_truth_mask("ego_road", [_road(HOLE)], EIGHTH)
    assert with_hole.shape == SMALL
    assert with_hole.sum() == outline.sum() - hole_only.sum() > 0
    assert with_hole[150, 175] == 0 and outline[150, 175] == 1  # the hole's centre
    # debris is not ego road
    assert ground_truth_mask("ego_road", [_road(OUTER, cls="EgoRoad_Debris")], EIGHTH).sum() == 0


def test_iou_of_a_prediction_that_fills_the_hole() -> None:
    gt = {"000001": [_road(OUTER, HOLE)]}
    outline = ground_truth_mask("ego_road", [_road(OUTER)], EIGHTH)
    hole = ground_truth_mask("ego_road", [_road(HOLE)], EIGHTH)
    result = evaluate_segmentation("ego_road", gt, {"000001": outline})
    overall = result.overall()
    o, h = int(outline.sum()), int(hole.sum())
    assert overall["iou"][1] == pytest.approx((o - h) / o)
    assert overall["precision"][1] == pytest.approx((o - h) / o)
    assert overall["recall"][1] == pytest.approx(1.0)
    assert overall["f1"][1] == pytest.approx(2 * (o - h) / (2 * (o - h) + h))
    assert result.scales.tolist() == [EIGHTH]


def test_overall_sums_the_images_per_image_does_not() -> None:
    big, small = _road(_rect(0, 0, 3848, 2168)), _road(_rect(800, 800, 1600, 1600))
    gt = {"a": [big], "b": [small], "c": []}
    big_mask = ground_truth_mask("ego_road", [big], EIGHTH)
    small_mask = ground_truth_mask("ego_road", [small], EIGHTH)
    preds = {"a": big_mask, "b": np.zeros(SMALL, np.uint8), "c": np.zeros(SMALL, np.uint8)}
    result = evaluate_segmentation("ego_road", gt, preds)
    per_image = result.per_image()["iou"][:, 1]
    assert per_image[0] == 1.0 and per_image[1] == 0.0 and np.isnan(per_image[2])
    assert result.mean_image_iou() == pytest.approx(0.5)  # image c has nothing on either side
    sum_gt = int(big_mask.sum() + small_mask.sum())
    assert result.overall()["iou"][1] == pytest.approx(big_mask.sum() / sum_gt)
    out = result.to_dict()
    assert out["per_image"]["c"]["ego_road"]["iou"] is None
    assert out["overall"]["ego_road"]["fn"] == int(small_mask.sum())
    json.dumps(out)  # JSON-clean (no NaN)


def test_confusion_and_metrics_of_three_classes() -> None:
    truth = np.array([[0, 1, 1], [2, 2, 0]])
    pred = np.array([[0, 1, 2], [2, 0, 0]])
    confusion = confusion_of_masks(truth, pred, 3)
    np.testing.assert_array_equal(confusion, [[2, 0, 0], [0, 1, 1], [1, 0, 1]])
    m = segmentation_metrics(confusion)
    np.testing.assert_allclose(m["iou"], [2 / 3, 1 / 2, 1 / 3])
    np.testing.assert_allclose(m["precision"], [2 / 3, 1.0, 1 / 2])
    np.testing.assert_allclose(m["recall"], [1.0, 1 / 2, 1 / 2])


def test_lane_kinds_paint_each_kind_with_its_class() -> None:
    marking = parse_lane_annotation(
        {
            "geometry": {"type": "Polygon", "coordinates": [_rect(0, 0, 800, 800)]},
            "properties": {"class": "solid"},
        }
    )
    shaded = parse_lane_annotation(
        {
            "geometry": {"type": "Polygon", "coordinates": [_rect(1600, 0, 2400, 800)]},
            "properties": {"class": "shaded_area"},
        }
    )
    mask = ground_truth_mask("lane_kinds", [marking, shaded], EIGHTH)
    assert set(np.unique(mask)) == {0, 1, 2}
    assert ground_truth_mask("lane_markings", [marking, shaded], EIGHTH).max() == 1
    # a polygon prediction that calls the shaded area a lane marking
    preds = {
        "f": [
            (g, 1)
            for g in (
                {"type": "Polygon", "coordinates": [_rect(0, 0, 800, 800)]},
                {"type": "Polygon", "coordinates": [_rect(1600, 0, 2400, 800)]},
            )
        ]
    }
    result = evaluate_segmentation("lane_kinds", {"f": [marking, shaded]}, preds, scale=EIGHTH)
    iou = result.overall()["iou"]
    assert iou[1] == pytest.approx(0.5)  # the marking is right, the shaded area is added to it
    assert iou[2] == 0.0 and np.isnan(iou[3])


# --------------------------------------------------------------------------- files
def test_masks_round_trip_png_and_npy(tmp_path: Path) -> None:
    mask = ground_truth_mask("ego_road", [_road(OUTER, HOLE)], EIGHTH)
    png = write_mask(tmp_path / "000001.png", mask * 255)  # 0/255 binary masks work too
    npy = write_mask(tmp_path / "000002.npy", mask.astype(bool))
    np.testing.assert_array_equal(read_mask(png, "ego_road"), mask)
    np.testing.assert_array_equal(read_mask(npy, "ego_road"), mask)
    with pytest.raises(ValueError, match=r"png or \.npy"):
        write_mask(tmp_path / "x.jpg", mask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000001.png", "000002.npy"]


def test_malformed_masks_name_the_file(tmp_path: Path) -> None:
    wrong_shape = tmp_path / "a.png"
    cv2.imwrite(str(wrong_shape), np.zeros((100, 100), np.uint8))
    with pytest.raises(FormatError, match=r"a\.png: a 100 x 100 mask is not the front image"):
        read_mask(wrong_shape, "ego_road")
    values = tmp_path / "b.png"
    cv2.imwrite(str(values), np.full(SMALL, 7, np.uint8))
    with pytest.raises(FormatError, match=r"b\.png: pixel value 7 is not a class of lane_kinds"):
        read_mask(values, "lane_kinds")
    colour = tmp_path / "c.png"
    image = np.zeros((*SMALL, 3), np.uint8)
    image[0, 0] = (1, 2, 3)
    cv2.imwrite(str(colour), image)
    with pytest.raises(FormatError, match="one channel"):
        read_mask(colour, "ego_road")
    (tmp_path / "d.npy").write_text("not numpy")
    with pytest.raises(FormatError, match=r"d\.npy: not a numpy array file"):
        read_mask(tmp_path / "d.npy", "ego_road")


def test_polygon_predictions_round_trip(tmp_path: Path) -> None:
    predictions: dict[str | int, list[object]] = {
        9158: [[OUTER, HOLE]],
        "000002": [({"type": "Polygon", "coordinates": [OUTER]}, "ego_road")],
    }
    path = write_polygon_predictions(tmp_path / "p.json", predictions)
    back = read_polygon_predictions(path, "ego_road")
    assert sorted(back) == ["000002", "009158"]
    geometry, value = back["009158"][0]
    assert value == 1 and geometry["coordinates"][1] == HOLE  # the hole stays a hole
    mask = rasterize_polygons([geometry], 1, FULL_IMAGE_SHAPE, EIGHTH)
    np.testing.assert_array_equal(mask, ground_truth_mask("ego_road", [_road(OUTER, HOLE)], EIGHTH))
    with pytest.raises(ValueError, match="unknown class"):
        write_polygon_predictions(tmp_path / "q.json", {1: [([OUTER], "lane")]})
    assert not (tmp_path / "q.json").exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"results": {"1": [{"type": "Point", "coordinates": [1, 2]}]}},
            "frame 1, entry 0: the geometry type",
        ),
        (
            {"results": {"1": [{"type": "Polygon", "coordinates": [OUTER]}, 5]}},
            "frame 1, entry 1: a geometry or feature",
        ),
        (
            {
                "results": {
                    "1": [
                        {
                            "geometry": {"type": "Polygon", "coordinates": [OUTER]},
                            "properties": {"class": "sky"},
                        }
                    ]
                }
            },
            "frame 1, entry 0: unknown class 'sky'",
        ),
        ({"results": {"1": "road"}}, "frame 1: expected a list"),
        ([1, 2], "polygon predictions are"),
    ],
)
def test_malformed_polygon_predictions_name_file_and_entry(
    payload: object, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(FormatError) as info:
        read_polygon_predictions(path, "ego_road")
    assert str(path) in str(info.value) and message in str(info.value)


# --------------------------------------------------------------------------- dataset flow
def _ego_road_frames(root: Path) -> dict[str, list]:
    from zod.dataset import open_subset

    frames = open_subset(str(root), "full", "frames")
    out = {}
    for frame_id in sorted(frames.get_split("train")):
        frame = frames[frame_id]
        if frame.is_annotated("ego_road"):
            out[frame_id] = frame.get_annotation("ego_road")
    return out


def test_dataset_flow_scores_the_annotations_themselves_as_perfect(
    sample_root: Path, tmp_path: Path
) -> None:
    gt = _ego_road_frames(sample_root)
    assert len(gt) == 2
    masks = tmp_path / "masks"
    for frame_id, features in gt.items():
        write_mask(masks / f"{frame_id}.png", ground_truth_mask("ego_road", features, 0.25))
    result = evaluate_segmentation_dataset(sample_root, masks, "ego_road", "full", "train")
    assert result.frame_ids == tuple(sorted(gt))
    assert result.overall()["iou"][1] == 1.0 and result.scales.tolist() == [0.25, 0.25]
    # polygons: the annotations' geometries, shrunk: IoU below 1, equal to the in-memory path
    polygons = {
        frame_id: [
            [(np.asarray(ring) * 0.9).tolist() for ring in poly]
            for a in anns
            for poly in a.polygons
        ]
        for frame_id, anns in gt.items()
    }
    path = write_polygon_predictions(tmp_path / "polygons.json", polygons)
    from_file = evaluate_segmentation_dataset(
        sample_root, path, "ego_road", "full", "train", scale=0.25, workers=2
    )
    in_memory = evaluate_segmentation(
        "ego_road", gt, read_polygon_predictions(path, "ego_road"), scale=0.25
    )
    np.testing.assert_array_equal(from_file.confusions, in_memory.confusions)
    assert 0.2 < from_file.overall()["iou"][1] < 1.0


def test_dataset_flow_missing_and_foreign_frames(sample_root: Path, tmp_path: Path) -> None:
    gt = _ego_road_frames(sample_root)
    first = sorted(gt)[0]
    masks = tmp_path / "masks"
    # written without the leading zeros: the frame id is read as the number it is
    write_mask(masks / f"{int(first)}.png", ground_truth_mask("ego_road", gt[first], EIGHTH))
    from zod.converters.runner import FrameFailures

    with pytest.raises(FrameFailures):
        evaluate_segmentation_dataset(sample_root, masks, "ego_road", "full", "train")
    only = evaluate_segmentation_dataset(
        sample_root, masks, "ego_road", "full", "train", only_predicted_frames=True
    )
    assert only.frame_ids == (first,) and only.overall()["iou"][1] == 1.0
    empty = evaluate_segmentation_dataset(
        sample_root, masks, "ego_road", "full", "train", missing_as_empty=True
    )
    assert len(empty.frame_ids) == 2 and empty.overall()["recall"][1] < 1.0
    write_mask(masks / "123456.png", np.zeros(SMALL, np.uint8))
    with pytest.raises(FormatError, match="outside the train split"):
        evaluate_segmentation_dataset(sample_root, masks, "ego_road", "full", "train")


# --------------------------------------------------------------------------- road condition
def test_road_condition_hand_case() -> None:
    gt = {"a": (False, False), "b": (True, False), "c": (False, True), "d": (True, True)}
    preds: dict[str, str | tuple[bool | None, bool | None]] = {
        "a": "normal",
        "b": "snow",
        "c": (False, True),
        "x": "wet",
    }
    result = rc.evaluate_road_condition(gt, preds)
    assert result.accuracy == pytest.approx(2 / 4)  # a, c right; b wrong; d missing
    np.testing.assert_array_equal(
        result.classification.confusion, [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    )
    assert result.classification.missing_per_class.tolist() == [0, 0, 1]
    # wetness: a and c right, b says nothing ("snow"), d missing: 2 of 3
    assert result.wetness_accuracy == pytest.approx(2 / 3)
    assert result.snow_accuracy == pytest.approx(2 / 4)  # a, c right; b wrong; d missing
    assert result.num_unmatched_predictions == 1
    assert "accuracy 0.5000" in result.table()


def test_road_condition_files(tmp_path: Path) -> None:
    preds: dict[str | int, str | tuple[bool, bool]] = {9158: "wet", "000002": (False, True)}
    path = rc.write_predictions(tmp_path / "rc.json", preds)
    assert rc.read_predictions(path) == {"009158": "wet", "000002": (False, True)}
    with pytest.raises(FormatError, match="'icy' is not one of"):
        rc.write_predictions(tmp_path / "bad.json", {1: "icy"})
    assert not (tmp_path / "bad.json").exists()
    (tmp_path / "bad.json").write_text(
        json.dumps({"results": {"7": {"wetness": "yes", "snow_coverage": False}}})
    )
    with pytest.raises(FormatError, match=r"bad\.json: frame 7: wetness and snow_coverage must be"):
        rc.read_predictions(tmp_path / "bad.json")


def test_road_condition_on_the_sample(sample_root: Path) -> None:
    gt = rc.ground_truth_from_dataset(sample_root, "full", "val")
    assert sorted(gt) == ["002506", "039103"]
    perfect = rc.evaluate_road_condition(gt, dict(gt))
    assert perfect.accuracy == 1.0 and perfect.wetness_accuracy == 1.0
    flipped = {k: ("snow" if rc.condition_of(*v) != "snow" else "normal") for k, v in gt.items()}
    assert rc.evaluate_road_condition(gt, flipped).accuracy == 0.0


def test_tasks_are_listed() -> None:
    assert sorted(TASKS) == ["ego_road", "lane_kinds", "lane_markings"]
