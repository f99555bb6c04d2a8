"""zod.eval.kitti: rotated IoU against known areas and OpenCV, hand-made AP cases with known
numbers, label files, and agreement with a third-party evaluator (mmdetection3d's KITTI
evaluator in .venv-kitti) on the same files to 1e-4."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from zod.converters.kitti import KittiLabel
from zod.errors import FormatError, MissingFileError
from zod.eval.kitti import (
    KITTI_CLASSES,
    KittiClass,
    KittiConfig,
    KittiObjects,
    KittiResult,
    evaluate_kitti,
    evaluate_kitti_folders,
    read_label_folder,
    write_label_folder,
)
from zod.eval.kitti.evaluate import kitti_thresholds
from zod.eval.kitti.iou import (
    bev_corners,
    box3d_iou,
    image_iou,
    pairwise_rotated_iou,
    rotated_intersection,
    rotated_iou,
)
from zod.eval.kitti.labels import format_result_lines, parse_label_text

REPO_ROOT = Path(__file__).resolve().parent.parent
KITTI_PYTHON = REPO_ROOT / ".venv-kitti" / "bin" / "python"
ORACLE_SCRIPT = REPO_ROOT / "tests" / "oracle" / "kitti_eval_mmdet3d.py"


# --------------------------------------------------------------------------- IoU
def test_image_iou_of_known_boxes() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[5, 0, 15, 10], [10, 0, 20, 10], [0, 0, 10, 10]], dtype=float)
    np.testing.assert_allclose(image_iou(a, b), [50 / 150, 0.0, 1.0])


def test_rotated_iou_of_known_rectangles() -> None:
    # x z l w ry
    a = np.array(
        [
            [0, 0, 2, 2, 0.0],  # same square
            [0, 0, 2, 2, 0.0],  # shifted by 1 along x: overlap 1 x 2
            [0, 0, 2, 2, 0.0],  # the same square turned 45 degrees: octagon
            [0, 0, 4, 1, 0.0],  # a 4 x 1 bar and the same bar turned 90 degrees: 1 x 1
            [0, 0, 2, 2, 0.3],  # apart
        ]
    )
    b = np.array(
        [
            [0, 0, 2, 2, 0.0],
            [1, 0, 2, 2, 0.0],
            [0, 0, 2, 2, np.pi / 4],
            [0, 0, 4, 1, np.pi / 2],
            [5, 5, 2, 2, 0.0],
        ]
    )
    octagon = 8 * (np.sqrt(2) - 1)  # square of side 2 and its 45-degree turn
    np.testing.assert_allclose(
        rotated_intersection(a, b), [4.0, 2.0, octagon, 1.0, 0.0], atol=1e-12
    )
    np.testing.assert_allclose(
        rotated_iou(a, b), [1.0, 2 / 6, octagon / (8 - octagon), 1 / 7, 0.0], atol=1e-12
    )


def test_bev_corners_follow_the_camera_convention() -> None:
    # ry = pi/2: the length turns from camera x onto -z (KITTI: rotation about y, y down)
    corners = bev_corners(np.array([[1.0, 10.0, 4.0, 2.0, np.pi / 2]]))[0]
    np.testing.assert_allclose(corners[:, 0].min(), 0.0, atol=1e-12)  # width 2 across x
    np.testing.assert_allclose(corners[:, 0].max(), 2.0, atol=1e-12)
    np.testing.assert_allclose(corners[:, 1].min(), 8.0, atol=1e-12)  # length 4 along z
    np.testing.assert_allclose(corners[:, 1].max(), 12.0, atol=1e-12)


def test_rotated_intersection_agrees_with_opencv() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    a = np.column_stack(
        [rng.uniform(-3, 3, (n, 2)), rng.uniform(0.3, 5, (n, 2)), rng.uniform(-4, 4, n)]
    )
    b = np.column_stack(
        [rng.uniform(-3, 3, (n, 2)), rng.uniform(0.3, 5, (n, 2)), rng.uniform(-4, 4, n)]
    )
    b[:50] = a[:50]  # identical
    b[50:100, :4] = a[50:100, :4]
    b[50:100, 4] = a[50:100, 4] + np.pi  # the same rectangle, turned half a turn
    ours = rotated_intersection(a, b)
    ca, cb = bev_corners(a), bev_corners(b)
    ref = np.array(
        [
            cv2.intersectConvexConvex(ca[i].astype(np.float32), cb[i].astype(np.float32))[0]
            for i in range(n)
        ]
    )
    np.testing.assert_allclose(ours, ref, atol=1e-4)  # OpenCV works in float32
    np.testing.assert_allclose(ours[:100], a[:100, 2] * a[:100, 3], rtol=1e-12)
    assert (ours > 0).sum() > n // 4  # enough overlapping pairs to mean something


def test_pairwise_matches_rowwise() -> None:
    rng = np.random.default_rng(1)
    a = np.column_stack(
        [rng.uniform(-2, 2, (5, 2)), rng.uniform(1, 3, (5, 2)), rng.uniform(-3, 3, 5)]
    )
    b = np.column_stack(
        [rng.uniform(-2, 2, (4, 2)), rng.uniform(1, 3, (4, 2)), rng.uniform(-3, 3, 4)]
    )
    full = pairwise_rotated_iou(a, b)
    assert full.shape == (5, 4)
    assert full[3, 2] == pytest.approx(rotated_iou(a[3:4], b[2:3])[0])


def test_box3d_iou_is_bev_times_height() -> None:
    # two 2 x 2 x 2 boxes (h w l), same footprint, bottoms 1 m apart (y down): half the height
    loc_a, loc_b = np.array([[0.0, 2.0, 10.0]]), np.array([[0.0, 1.0, 10.0]])
    hwl = np.array([[2.0, 2.0, 2.0]])
    iou = box3d_iou(loc_a, hwl, np.zeros(1), loc_b, hwl, np.zeros(1))
    assert iou[0] == pytest.approx(4.0 / (8 + 8 - 4))
    # footprint shifted by 1 along x too: BEV 2 of 4, height 1 of 2
    iou = box3d_iou(loc_a, hwl, np.zeros(1), loc_b + [1.0, 0, 0], hwl, np.zeros(1))
    assert iou[0] == pytest.approx(2.0 / (16 - 2))
    # apart in height
    iou = box3d_iou(loc_a, hwl, np.zeros(1), loc_b - [0, 3.0, 0], hwl, np.zeros(1))
    assert iou[0] == 0.0


# --------------------------------------------------------------------------- thresholds
def test_thresholds_sample_forty_recall_points() -> None:
    # 80 ground truths, 80 true positives: slot k takes the score at recall k / 40 (every second)
    scores = np.linspace(1.0, 0.01, 80)
    kept = kitti_thresholds(scores, 80)
    assert kept.size == 41
    assert kept[0] == scores[0] and kept[-1] == scores[-1]
    np.testing.assert_allclose(kept[1:], scores[1::2])
    # 40 of 40: every score is kept and the 41st slot stays empty (KITTI's rounding)
    assert kitti_thresholds(np.linspace(1, 0.1, 40), 40).size == 40
    assert kitti_thresholds(np.zeros(0), 10).size == 0


# --------------------------------------------------------------------------- hand-made cases
def _label(rows: list[tuple]) -> KittiLabel:
    """rows: (type, truncated, occluded, x1, y1, x2, y2, x, z, ry) of 1.5 x 1.6 x 4 m boxes."""
    if not rows:
        rows_arr = np.zeros((0, 9))
        types: list[str] = []
    else:
        types = [r[0] for r in rows]
        rows_arr = np.array([r[1:] for r in rows], dtype=float)
    n = len(types)
    location = np.column_stack([rows_arr[:, 6], np.full(n, 1.7), rows_arr[:, 7]])
    return KittiLabel(
        types=types,
        truncated=rows_arr[:, 0],
        occluded=rows_arr[:, 1].astype(np.int64),
        alpha=rows_arr[:, 8] - np.arctan2(location[:, 0], location[:, 2]) if n else np.zeros(0),
        boxes_xyxy=rows_arr[:, 2:6],
        dimensions_hwl=np.tile([1.5, 1.6, 4.0], (n, 1)),
        location_cam=location,
        rotation_y=rows_arr[:, 8] if n else np.zeros(0),
    )


def _cars(n: int, frame_size: int = 10, occluded: int = 0, name: str = "Car") -> list[list[tuple]]:
    """n cars (60 px high boxes, 5 m apart) in frames of ``frame_size``."""
    frames = []
    for start in range(0, n, frame_size):
        frames.append(
            [
                (name, 0.0, occluded, 50.0 * i, 100.0, 50.0 * i + 40, 160.0, 5.0 * i, 20.0, 0.1)
                for i in range(min(frame_size, n - start))
            ]
        )
    return frames


def _objects(frames: list[list[tuple]], scores: list[list[float]] | None = None) -> KittiObjects:
    ids = [f"{i:06d}" for i in range(len(frames))]
    labels = [_label(rows) for rows in frames]
    score_arrays = None if scores is None else [np.array(s, dtype=float) for s in scores]
    return KittiObjects.from_labels(ids, labels, score_arrays)


def _scored(frames: list[list[tuple]], start: float = 1.0) -> tuple[KittiObjects, int]:
    """The same rows as predictions, scores decreasing from ``start`` (all distinct)."""
    total = sum(len(f) for f in frames)
    values = iter(np.linspace(start, start - 0.5, max(total, 1)).tolist())
    return _objects(frames, [[next(values) for _ in f] for f in frames]), total


def _ap(
    result: KittiResult,
    cls: str = "Car",
    difficulty: str = "moderate",
    metric: str = "3d",
    points: int = 40,
) -> float:
    return result.ap(cls, difficulty, metric, points)


def test_perfect_predictions_score_100() -> None:
    frames = _cars(80)
    gt = _objects(frames)
    pred, _ = _scored(frames)
    result = evaluate_kitti(gt, pred, KittiConfig(classes=(KITTI_CLASSES["Car"],)))
    for metric in ("2d", "bev", "3d"):
        for difficulty in ("easy", "moderate", "hard"):
            assert _ap(result, "Car", difficulty, metric) == pytest.approx(100.0)
            assert _ap(result, "Car", difficulty, metric, 11) == pytest.approx(100.0)
    assert result.curves[("Car", "easy", "2d")].aos_r40 == pytest.approx(100.0)


def test_forty_of_forty_is_97_5_the_r40_rounding() -> None:
    frames = _cars(40)
    pred, _ = _scored(frames)
    result = evaluate_kitti(_objects(frames), pred, KittiConfig(classes=(KITTI_CLASSES["Car"],)))
    assert _ap(result) == pytest.approx(97.5)  # 40 of the 41 slots
    assert _ap(result, points=11) == pytest.approx(1000 / 11)  # slots 0, 4, .., 36


def test_half_the_cars_found_is_ap_50() -> None:
    frames = _cars(80)
    found = [f[:5] for f in frames]  # 5 of each 10
    pred, _ = _scored(found)
    result = evaluate_kitti(_objects(frames), pred, KittiConfig(classes=(KITTI_CLASSES["Car"],)))
    assert _ap(result) == pytest.approx(50.0)  # slots 0..20 at precision 1
    assert _ap(result, points=11) == pytest.approx(600 / 11)
    curve = result.curves[("Car", "moderate", "3d")]
    assert curve.recall.max() == pytest.approx(0.5)
    assert curve.fp.max() == 0


def test_predictions_in_dontcare_regions_are_not_false_positives_in_2d() -> None:
    frames = _cars(80)
    # each frame: a DontCare region with one Car detection in it, scored above every true one
    gt_frames = [
        f + [("DontCare", -1, -1, 900.0, 50.0, 1000.0, 200.0, -1000.0, -1000.0, -10.0)]
        for f in frames
    ]
    pred_frames = [f + [("Car", 0, 0, 910.0, 60.0, 990.0, 190.0, 30.0, 60.0, 0.0)] for f in frames]
    scores = [[0.9 - 0.001 * i for i in range(len(f) - 1)] + [0.99] for f in pred_frames]
    gt, pred = _objects(gt_frames), _objects(pred_frames, scores)
    cfg = KittiConfig(classes=(KITTI_CLASSES["Car"],))
    result = evaluate_kitti(gt, pred, cfg)
    assert _ap(result, metric="2d") == pytest.approx(100.0)
    # BEV / 3D: the 8 detections count as false positives, above every threshold
    curve = result.curves[("Car", "moderate", "bev")]
    np.testing.assert_array_equal(curve.fp, np.full(curve.thresholds.size, 8.0))
    assert _ap(result, metric="bev") < 100.0
    everywhere = evaluate_kitti(
        gt, pred, KittiConfig(classes=cfg.classes, dontcare_all_metrics=True)
    )
    assert _ap(everywhere, metric="bev") == pytest.approx(100.0)


def test_a_car_detection_on_a_van_is_not_a_false_positive() -> None:
    cars, vans = _cars(80), _cars(80, name="Van")
    shifted_vans = [
        [(r[0], r[1], r[2], r[3], r[4] + 300, r[5], r[6] + 300, r[7], r[8] + 40, r[9]) for r in f]
        for f in vans
    ]
    gt_frames = [c + v for c, v in zip(cars, shifted_vans)]
    pred_frames = [c + [("Car",) + v[1:] for v in vs] for c, vs in zip(cars, shifted_vans)]
    pred, _ = _scored(pred_frames)
    gt = _objects(gt_frames)
    result = evaluate_kitti(gt, pred, KittiConfig(classes=(KITTI_CLASSES["Car"],)))
    assert _ap(result) == pytest.approx(100.0)
    strict_car = KittiClass("Car", (0.7, 0.7, 0.7))  # no similar class: the vans' Cars are FPs
    result = evaluate_kitti(gt, pred, KittiConfig(classes=(strict_car,)))
    # scores fall frame by frame (cars, then vans): the last frame's 10 vans score below every
    # true positive, the other 70 count at the lowest threshold
    assert result.curves[("Car", "moderate", "3d")].fp.max() == 70
    assert _ap(result) < 80.0


def test_difficulty_levels_follow_occlusion() -> None:
    clear, occluded = _cars(80), _cars(80, occluded=2)
    far = [
        [(r[0], r[1], r[2], r[3], r[4] + 300, r[5], r[6] + 300, r[7], r[8] + 40, r[9]) for r in f]
        for f in occluded
    ]
    gt = _objects([a + b for a, b in zip(clear, far)])
    pred, _ = _scored(far)  # only the occluded ones are found
    result = evaluate_kitti(gt, pred, KittiConfig(classes=(KITTI_CLASSES["Car"],)))
    assert result.num_valid_gt[("Car", "easy")] == 80
    assert result.num_valid_gt[("Car", "hard")] == 160
    assert _ap(result, difficulty="easy") == 0.0  # found ones are ignored: no TP, no FP
    assert result.curves[("Car", "easy", "3d")].thresholds.size == 0
    assert _ap(result, difficulty="moderate") == 0.0  # occluded 2 > 1
    assert _ap(result, difficulty="hard") == pytest.approx(50.0)


def test_low_detections_are_ignored_whatever_their_class() -> None:
    frames = _cars(80)
    tiny = [("Pedestrian", 0, 0, 700.0, 10.0, 705.0, 20.0, -20.0, 30.0, 0.0)]  # 10 px high
    tiny_car = [("Car", 0, 0, 800.0, 10.0, 805.0, 20.0, 20.0, 30.0, 0.0)]
    pred_frames = [f + tiny + tiny_car for f in frames]
    scores = [[0.9 - 0.001 * i for i in range(len(f) - 2)] + [0.99, 0.98] for f in pred_frames]
    result = evaluate_kitti(
        _objects(frames),
        _objects(pred_frames, scores),
        KittiConfig(classes=(KITTI_CLASSES["Car"],)),
    )
    assert _ap(result) == pytest.approx(100.0)


def test_predictions_on_unknown_frames_raise() -> None:
    gt = _objects(_cars(10))
    pred = KittiObjects.from_labels(["999999"], [_label(_cars(1)[0])], [np.ones(1)])
    with pytest.raises(ValueError, match="999999"):
        evaluate_kitti(gt, pred)


# --------------------------------------------------------------------------- files
def test_result_files_round_trip(tmp_path: Path) -> None:
    frames = _cars(25) + [[]]
    pred, _ = _scored(frames)
    paths = write_label_folder(tmp_path / "pred", pred)
    assert len(paths) == 4 and (tmp_path / "pred" / "000003.txt").read_text() == ""
    back = read_label_folder(tmp_path / "pred", scored=True)
    assert back.frame_ids == pred.frame_ids
    np.testing.assert_allclose(back.scores, pred.scores, atol=1e-6)
    np.testing.assert_allclose(back.location_cam, pred.location_cam, atol=1e-6)
    np.testing.assert_allclose(back.boxes_xyxy, pred.boxes_xyxy, atol=0.005)
    gt_paths = write_label_folder(tmp_path / "gt", _objects(frames))
    assert len(gt_paths[0].read_text().splitlines()[0].split()) == 15
    from_files = evaluate_kitti_folders(tmp_path / "gt", tmp_path / "pred")
    in_memory = evaluate_kitti(_objects(frames), pred)
    assert from_files.classes == in_memory.classes == ("Car", "Pedestrian", "Cyclist")
    for key, curve in in_memory.curves.items():
        np.testing.assert_allclose(from_files.curves[key].precision, curve.precision)
    # 25 ground truths, all found: 25 thresholds fill slots 0..24, R40 counts 24 of 40
    assert from_files.ap("Car", "moderate", "3d") == pytest.approx(60.0)


def test_writer_writes_nothing_when_a_value_is_bad(tmp_path: Path) -> None:
    frames = _cars(20)
    good = _label(frames[0])
    items = {"000000": (good, np.ones(10)), "000001": (_label(frames[1]), np.full(10, np.nan))}
    with pytest.raises(ValueError, match="finite"):
        write_label_folder(tmp_path / "out", items)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("text", "scored", "message"),
    [
        (
            "Car 0 0 0 1 2 3 4 1.5 1.6 4 0 1.7 20 0 0.9\nCar 0 0 0 1 2 3\n",
            True,
            "line 2: a KITTI result line needs 16 fields, got 7",
        ),
        (
            "\nCar 0 0 0 1 2 3 4 1.5 1.6 4 0 1.7 20 0\n",
            True,
            "line 2: a KITTI result line needs 16",
        ),
        (
            "Car 0 0 0 1 2 3 4 1.5 1.6 4 0 1.7 20 0 0.9\n"
            "Car 0 0 x 1 2 3 4 1.5 1.6 4 0 1.7 20 0 0.9\n",
            True,
            "line 2, field 4: 'x' is not a number",
        ),
        (
            "Car 0 0 0 1 2 3 4 1.5 1.6 4 0 1.7 20 0 nan\n",
            True,
            "line 1: the score 'nan' is not finite",
        ),
        (
            "Car 0 0 0 1 2 3 4 1.5 1.6 4 0 1.7\n",
            False,
            "line 1: a KITTI label line needs 15 fields, got 13",
        ),
    ],
)
def test_malformed_lines_name_the_file_and_line(
    text: str, scored: bool, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "000007.txt"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_label_folder(tmp_path, scored=scored)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_result_file(tmp_path: Path) -> None:
    write_label_folder(tmp_path / "gt", _objects(_cars(20)))
    pred, _ = _scored(_cars(10))
    write_label_folder(tmp_path / "pred", pred)
    with pytest.raises(MissingFileError, match=r"000001\.txt"):
        evaluate_kitti_folders(tmp_path / "gt", tmp_path / "pred", ["000000", "000001"])
    result = evaluate_kitti_folders(
        tmp_path / "gt", tmp_path / "pred", ["000000", "000001"], allow_missing=True
    )
    assert result.missing_prediction_files == ("000001",)
    assert result.num_valid_gt[("Car", "moderate")] == 20


def test_scored_lines_parse_extra_fields_liberally() -> None:
    label, scores = parse_label_text(
        "Car 0 0 0 1 2 3 50 1.5 1.6 4 0 1.7 20 0 0.5 extra\n", scored=True
    )
    assert label.types == ["Car"] and scores.tolist() == [0.5]
    assert format_result_lines(label, scores).split()[-1] == "0.500000"


# --------------------------------------------------------------------------- third-party evaluator
SIZES_HWL = {
    "Car": (1.5, 1.7, 4.2),
    "Vehicle": (1.5, 1.7, 4.2),
    "Van": (2.2, 1.9, 5.0),
    "Pedestrian": (1.75, 0.6, 0.7),
    "Person_sitting": (1.2, 0.6, 0.8),
    "Cyclist": (1.7, 0.6, 1.8),
    "VulnerableVehicle": (1.7, 0.6, 1.8),
}


def _random_frames(seed: int, n_frames: int, names: dict[str, float]) -> tuple[list, list, list]:
    """GT rows, prediction rows and scores: ZOD-like distances, difficulties, DontCare, FPs,
    tiny detections, swapped classes, tied scores, empty frames."""
    rng = np.random.default_rng(seed)
    kinds = list(names)
    probs = np.array(list(names.values()))
    probs = probs / probs.sum()
    focal = 700.0
    gt_frames, pred_frames, score_frames = [], [], []
    for f in range(n_frames):
        n = 0 if f in (3, 4) else int(rng.integers(1, 18))
        gt_rows, pred_rows, scores = [], [], []
        for i in range(n):
            name = str(rng.choice(kinds, p=probs)) if (f, i) != (0, 0) else kinds[0]
            h, w, length = SIZES_HWL.get(name, (1.6, 1.0, 2.0))
            h, w, length = np.array([h, w, length]) * rng.uniform(0.85, 1.15, 3)
            x, z = rng.uniform(-15, 15), rng.uniform(4, 90)
            y = rng.uniform(1.5, 1.9)
            ry = rng.uniform(-np.pi, np.pi)
            u, v = 620 + focal * x / z, 180 + focal * (y - h / 2) / z
            bh, bw = focal * h / z, focal * max(w, length) / z
            box = [u - bw / 2, v - bh / 2, u + bw / 2, v + bh / 2]
            trunc = float(rng.choice([0.0, 0.0, 0.1, 0.2, 0.4, 0.7]))
            occ = int(rng.choice([0, 0, 1, 2, 3]))
            alpha = ry - np.arctan2(x, z)
            if name == "DontCare":
                gt_rows.append(
                    ("DontCare", -1, -1, -10, *box, -1, -1, -1, -1000, -1000, -1000, -10)
                )
                if rng.random() < 0.5:  # a detection inside the DontCare region
                    pred_rows.append(
                        (
                            kinds[0],
                            0,
                            0,
                            alpha,
                            box[0] + 2,
                            box[1] + 2,
                            box[2] - 2,
                            box[3] - 2,
                            1.5,
                            1.7,
                            4.2,
                            x,
                            y,
                            z,
                            ry,
                        )
                    )
                    scores.append(float(rng.uniform(0, 1)))
                continue
            gt_rows.append((name, trunc, occ, alpha, *box, h, w, length, x, y, z, ry))
            if rng.random() < 0.8:
                sd = 0.05 + 0.004 * z
                dx, dy, dz = rng.normal(0, sd, 3)
                dname = name
                if rng.random() < 0.06:
                    dname = str(rng.choice(kinds[:3]))
                dbox = np.array(box) + rng.normal(0, 2.0, 4)
                dry = ry + rng.normal(0, 0.08)
                pred_rows.append(
                    (
                        dname,
                        0,
                        0,
                        dry - np.arctan2(x + dx, z + dz),
                        *dbox,
                        h * rng.uniform(0.93, 1.07),
                        w * rng.uniform(0.93, 1.07),
                        length * rng.uniform(0.93, 1.07),
                        x + dx,
                        y + dy,
                        z + dz,
                        dry,
                    )
                )
                scores.append(round(float(rng.beta(4, 2)), 2))  # many ties
        for _ in range(int(rng.integers(0, 4))):  # false positives, some tiny
            x, z = rng.uniform(-15, 15), rng.uniform(4, 90)
            tall = focal * 1.5 / z
            u, v = 620 + focal * x / z, 180
            pred_rows.append(
                (
                    str(rng.choice(kinds[:3])),
                    0,
                    0,
                    0.0,
                    u - tall,
                    v - tall / 2,
                    u + tall,
                    v + tall / 2,
                    1.5,
                    1.7,
                    4.2,
                    x,
                    1.7,
                    z,
                    0.0,
                )
            )
            scores.append(round(float(rng.uniform(0, 1)), 2))
        gt_frames.append(gt_rows)
        pred_frames.append(pred_rows)
        score_frames.append(scores)
    return gt_frames, pred_frames, score_frames


def _full_label(rows: list[tuple]) -> KittiLabel:
    arr = np.array([r[1:] for r in rows], dtype=float).reshape(-1, 14)
    return KittiLabel(
        types=[r[0] for r in rows],
        truncated=arr[:, 0],
        occluded=arr[:, 1].astype(np.int64),
        alpha=arr[:, 2],
        boxes_xyxy=arr[:, 3:7],
        dimensions_hwl=arr[:, 7:10],
        location_cam=arr[:, 10:13],
        rotation_y=arr[:, 13],
    )


def _write_case(folder: Path, gt_frames: list, pred_frames: list, scores: list) -> list[str]:
    ids = [f"{i:06d}" for i in range(len(gt_frames))]
    write_label_folder(folder / "gt", {i: (_full_label(g), None) for i, g in zip(ids, gt_frames)})
    write_label_folder(
        folder / "pred",
        {i: (_full_label(p), np.array(s)) for i, p, s in zip(ids, pred_frames, scores)},
    )
    return ids


@pytest.fixture(scope="module")
def kitti_python() -> Path:
    if not KITTI_PYTHON.exists():
        pytest.fail(f"KITTI evaluator venv missing at {KITTI_PYTHON}: run scripts/setup.sh")
    return KITTI_PYTHON


def _third_party(
    python: Path, gt_dir: Path, pred_dir: Path, rename: dict[str, str] | None = None
) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    cmd = [str(python), str(ORACLE_SCRIPT), str(gt_dir), str(pred_dir)]
    if rename:
        cmd += ["--rename", ",".join(f"{a}={b}" for a, b in rename.items())]
    run = subprocess.run(
        cmd, capture_output=True, text=True, timeout=900, cwd=gt_dir.parent, env=env, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def _compare(result: KittiResult, expected: dict, loose: bool, ours_of: dict[str, str]) -> int:
    """Assert every AP / AOS within 1e-4 (percent); returns how many numbers were compared."""
    tag = "_loose" if loose else ""
    compared = 0
    for theirs_name, ours_name in ours_of.items():
        for points in (40, 11):
            ref = expected[f"ap{points}{tag}"][theirs_name]
            for metric in ("2d", "bev", "3d", "aos"):
                for d, difficulty in enumerate(("easy", "moderate", "hard")):
                    if metric == "aos":
                        curve = result.curves[(ours_name, difficulty, "2d")]
                        ours = curve.aos_r40 if points == 40 else curve.aos_r11
                    else:
                        ours = result.ap(ours_name, difficulty, metric, points)
                    assert ours == pytest.approx(ref[metric][d], abs=1e-4), (
                        theirs_name,
                        metric,
                        difficulty,
                        points,
                        loose,
                    )
                    compared += 1
    return compared


@pytest.mark.parametrize(("seed", "frames"), [(0, 30), (1, 20)])
def test_agrees_with_mmdet3d_kitti_evaluator(
    kitti_python: Path, seed: int, frames: int, tmp_path: Path
) -> None:
    names = {
        "Car": 5,
        "Pedestrian": 2,
        "Cyclist": 1.5,
        "Van": 1,
        "Person_sitting": 0.5,
        "DontCare": 1,
    }
    ids = _write_case(tmp_path, *_random_frames(seed, frames, names))
    expected = _third_party(kitti_python, tmp_path / "gt", tmp_path / "pred")
    mapping = {c: c for c in ("Car", "Pedestrian", "Cyclist")}
    for loose in (False, True):
        result = evaluate_kitti_folders(
            tmp_path / "gt", tmp_path / "pred", ids, KittiConfig(loose=loose)
        )
        assert result.classes == ("Car", "Pedestrian", "Cyclist")
        assert _compare(result, expected, loose, mapping) == 3 * 2 * 4 * 3
    values = [v for c in expected["ap40"].values() for m in c.values() for v in m]
    assert max(values) > 40 and len(set(values)) > 10  # real work on both sides


def test_agrees_with_mmdet3d_on_zod_names(kitti_python: Path, tmp_path: Path) -> None:
    # our export's class names; the third party knows KITTI's: renamed on its side only
    names = {"Vehicle": 5, "Pedestrian": 2, "VulnerableVehicle": 1.5, "DontCare": 1}
    ids = _write_case(tmp_path, *_random_frames(7, 20, names))
    rename = {"Vehicle": "Car", "VulnerableVehicle": "Cyclist"}
    expected = _third_party(kitti_python, tmp_path / "gt", tmp_path / "pred", rename)
    result = evaluate_kitti_folders(tmp_path / "gt", tmp_path / "pred", ids)
    assert result.classes == ("Vehicle", "VulnerableVehicle", "Pedestrian")
    mapping = {"Car": "Vehicle", "Pedestrian": "Pedestrian", "Cyclist": "VulnerableVehicle"}
    assert _compare(result, expected, False, mapping) == 72


def test_agrees_with_mmdet3d_on_our_kitti_export(
    kitti_python: Path, sample_root: Path, tmp_path: Path
) -> None:
    from zod.converters.kitti import convert_to_kitti

    out = convert_to_kitti(
        sample_root, tmp_path / "kitti", "full", image_mode="none", workers=1, progress=False
    )
    label_dir = out / "training" / "label_2"
    gt = read_label_folder(label_dir)
    assert len(gt) > 20 and "DontCare" in set(gt.names)
    # predictions: the ground truth moved a little, some left out, scored
    rng = np.random.default_rng(5)
    keep = (gt.names != "DontCare") & (rng.random(len(gt)) < 0.85)
    rows = np.flatnonzero(keep)
    pred = KittiObjects(
        frame_ids=gt.frame_ids,
        offsets=np.searchsorted(rows, gt.offsets),
        names=gt.names[rows],
        truncated=np.zeros(rows.size),
        occluded=np.zeros(rows.size, dtype=np.int64),
        alpha=gt.alpha[rows] + rng.normal(0, 0.1, rows.size),
        boxes_xyxy=gt.boxes_xyxy[rows] + rng.normal(0, 4, (rows.size, 4)),
        dimensions_hwl=gt.dimensions_hwl[rows] * rng.uniform(0.9, 1.1, (rows.size, 3)),
        location_cam=gt.location_cam[rows] + rng.normal(0, 0.2, (rows.size, 3)),
        rotation_y=gt.rotation_y[rows] + rng.normal(0, 0.1, rows.size),
        scores=np.round(rng.uniform(0, 1, rows.size), 2),
    )
    write_label_folder(tmp_path / "pred", pred)
    rename = {"Vehicle": "Car", "VulnerableVehicle": "Cyclist"}
    expected = _third_party(kitti_python, label_dir, tmp_path / "pred", rename)
    result = evaluate_kitti_folders(label_dir, tmp_path / "pred", gt.frame_ids)
    mapping = {"Car": "Vehicle", "Pedestrian": "Pedestrian", "Cyclist": "VulnerableVehicle"}
    mapping = {k: v for k, v in mapping.items() if v in result.classes}
    assert "Car" in mapping
    assert _compare(result, expected, False, mapping) == 24 * len(mapping)
