"""zod.eval.detection: hand-made cases with known numbers, and agreement with nuscenes-devkit."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zod.errors import FormatError
from zod.eval.detection import (
    EVALUATION_CLASSES,
    DetectionBox,
    DetectionBoxes,
    DetectionConfig,
    EvalBoxes,
    evaluate_detection,
    evaluate_nuscenes_style,
    read_predictions,
    write_predictions,
)
from zod.eval.detection.io import boxes_from_records, expand_names
from zod.eval.detection.matching import confidence_order, match_greedy
from zod.eval.detection.metrics import angle_diff, scale_iou, yaw_from_quaternion

REPO_ROOT = Path(__file__).resolve().parent.parent
NUSCENES_PYTHON = REPO_ROOT / ".venv-nuscenes" / "bin" / "python"


def _run_isolated(python: Path, code: str, job: dict, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in another venv's python, JSON on stdin; away from our package's folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        [str(python), "-c", code],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
        check=False,
    )


def make_boxes(rows: list[tuple], frame_ids: list[str] | None = None) -> DetectionBoxes:
    """rows: (frame, name, x, y, yaw, (l, w, h), score or None)."""
    if not rows:
        return DetectionBoxes.empty(frame_ids or [])
    frame, name, x, y, yaw, size, score = zip(*rows)
    centers = np.stack([x, y, np.zeros(len(x))], axis=1)
    scores = None if score[0] is None else np.array(score, dtype=float)
    return DetectionBoxes.from_columns(
        frame,
        name,
        centers,
        np.array(size, dtype=float),
        yaw_rad=np.array(yaw),
        scores=scores,
        frame_ids=frame_ids,
    )


# --------------------------------------------------------------------------- primitives
def test_confidence_order_breaks_ties_by_later_index_first() -> None:
    order = confidence_order(np.array([0.5, 0.9, 0.5, 0.1, 0.9]))
    # the nuScenes devkit's order: sorted((score, index))[::-1]
    expected = [i for _, i in sorted((s, i) for i, s in enumerate([0.5, 0.9, 0.5, 0.1, 0.9]))][::-1]
    assert order.tolist() == expected == [4, 1, 2, 0, 3]


def test_greedy_matching_higher_score_takes_nearest_and_frames_are_separate() -> None:
    # frame 0: two GTs at x=0 and x=1.0; frame 1: one GT at x=0.
    gt_frame = np.array([0, 0, 1])
    gt_xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    # pred 0 (score .9) at x=0.6 -> nearest GT 1 (0.4 m); pred 1 (score .8) at x=0.5 -> GT 1
    # taken, takes GT 0 (0.5 m); pred 2 in frame 1 far away (3 m) -> FP at 2 m threshold.
    pred_frame = np.array([0, 0, 1])
    pred_xy = np.array([[0.6, 0.0], [0.5, 0.0], [3.0, 0.0]])
    result = match_greedy(gt_frame, gt_xy, pred_frame, pred_xy, np.array([0.9, 0.8, 0.7]), 2.0)
    assert result.order.tolist() == [0, 1, 2]
    assert result.gt_index.tolist() == [1, 0, -1]
    np.testing.assert_allclose(result.distance_m, [0.4, 0.5, 3.0])
    # at 0.45 m the second prediction misses (0.5 is not < 0.45)
    result = match_greedy(gt_frame, gt_xy, pred_frame, pred_xy, np.array([0.9, 0.8, 0.7]), 0.45)
    assert result.gt_index.tolist() == [1, -1, -1]


def test_equidistant_ground_truths_first_one_wins() -> None:
    result = match_greedy(
        np.array([0, 0]),
        np.array([[-1.0, 0.0], [1.0, 0.0]]),
        np.array([0]),
        np.array([[0.0, 0.0]]),
        np.array([0.5]),
        2.0,
    )
    assert result.gt_index.tolist() == [0]


def test_tp_error_primitives() -> None:
    np.testing.assert_allclose(scale_iou(np.array([[2.0, 2, 2]]), np.array([[1.0, 2, 2]])), [0.5])
    np.testing.assert_allclose(
        np.abs(angle_diff(np.array([3.0]), np.array([-3.0]))), [2 * np.pi - 6.0]
    )
    # un-normalised quaternion of a 90 degree turn around z
    np.testing.assert_allclose(yaw_from_quaternion(np.array([[2.0, 0, 0, 2.0]])), [np.pi / 2])


# --------------------------------------------------------------------------- hand-made cases
def _grid_gt(n: int, name: str = "Vehicle") -> list[tuple]:
    return [(f"{i % 3:06d}", name, 10.0 + 5 * i, 5.0, 0.0, (4.0, 2.0, 1.5), None) for i in range(n)]


def test_perfect_predictions_score_one() -> None:
    gt_rows = _grid_gt(10)
    pred_rows = [r[:6] + (0.5 + 0.01 * i,) for i, r in enumerate(gt_rows)]
    result = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows))
    assert list(result.per_class) == ["Vehicle"]
    vehicle = result.per_class["Vehicle"]
    assert vehicle.ap_by_threshold == pytest.approx({0.5: 1.0, 1.0: 1.0, 2.0: 1.0, 4.0: 1.0})
    assert vehicle.tp_errors == {"trans_err": 0.0, "scale_err": 0.0, "orient_err": 0.0}
    assert result.nds == pytest.approx(1.0)
    assert result.by_level["class"].classes == ("Vehicle",)
    assert result.by_level["subclass"].classes == ()


def test_half_recall_gives_40_of_90_recall_points() -> None:
    gt_rows = _grid_gt(10)
    pred_rows = [r[:6] + (0.9,) for r in gt_rows[:5]]
    result = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows))
    # precision 1 up to recall 0.5 and 0 after: 40 of the 90 points above 0.1 recall count.
    assert result.per_class["Vehicle"].mean_ap == pytest.approx(40 / 90)


def test_offset_size_and_yaw_errors_with_known_values() -> None:
    gt_rows = _grid_gt(6)
    # 0.7 m off in x, half the length, yaw 0.3 rad: matched at 1, 2, 4 m, not at 0.5 m
    pred_rows = [(f, n, x + 0.7, y, 0.3, (2.0, 2.0, 1.5), 0.8) for f, n, x, y, _, _, _ in gt_rows]
    result = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows))
    vehicle = result.per_class["Vehicle"]
    assert vehicle.ap_by_threshold == pytest.approx({0.5: 0.0, 1.0: 1.0, 2.0: 1.0, 4.0: 1.0})
    assert vehicle.mean_ap == pytest.approx(0.75)
    assert vehicle.tp_errors["trans_err"] == pytest.approx(0.7)
    assert vehicle.tp_errors["scale_err"] == pytest.approx(0.5)  # IoU = 6 / 12
    assert vehicle.tp_errors["orient_err"] == pytest.approx(0.3)
    assert result.nds == pytest.approx((5 * 0.75 + 0.3 + 0.5 + 0.7) / 8)
    reference = result.to_reference_dict()
    assert reference["Vehicle/mATE"] == pytest.approx(0.7)
    assert reference["mAP"] == pytest.approx(0.75)


def test_range_filter_and_classes_without_ground_truth() -> None:
    gt_rows = [
        ("000001", "Pedestrian", 20.0, 0.0, 0.0, (0.5, 0.5, 1.8), None),
        ("000001", "Pedestrian", 300.0, 0.0, 0.0, (0.5, 0.5, 1.8), None),  # out of range
        ("000001", "Pedestrian", 0.0, 0.0, 0.0, (0.5, 0.5, 1.8), None),  # at the origin: out
    ]
    pred_rows = [
        ("000001", "Pedestrian", 20.0, 0.0, 0.0, (0.5, 0.5, 1.8), 0.9),
        ("000001", "Pedestrian", 300.0, 0.0, 0.0, (0.5, 0.5, 1.8), 0.95),  # ignored, not FP
        ("000001", "Animal", 10.0, 0.0, 0.0, (1.0, 0.5, 1.0), 0.5),  # no Animal GT
        ("000001", "NotAClass", 10.0, 0.0, 0.0, (1.0, 0.5, 1.0), 0.5),  # not evaluated
    ]
    result = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows))
    assert list(result.per_class) == ["Pedestrian"]
    assert result.per_class["Pedestrian"].num_gt == 1
    assert result.per_class["Pedestrian"].num_pred == 1
    assert result.per_class["Pedestrian"].mean_ap == pytest.approx(1.0)
    # a shorter range drops the pedestrian at 20 m: nothing left to evaluate
    short = evaluate_detection(
        make_boxes(gt_rows), make_boxes(pred_rows), DetectionConfig(default_range_m=15.0)
    )
    assert short.per_class == {} and short.mean_ap == 0.0


def test_frames_without_predictions_count_as_misses_and_unknown_frames_raise() -> None:
    gt_rows = _grid_gt(4)  # frames 000000, 000001, 000002
    pred_rows = [r[:6] + (0.9,) for r in gt_rows if r[0] != "000002"]
    result = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows))
    # recall reaches 3/4; precision 1 until then -> points 11..75 of 90
    assert result.per_class["Vehicle"].mean_ap == pytest.approx(65 / 90)
    stray = make_boxes(pred_rows + [("000099", "Vehicle", 10.0, 5.0, 0.0, (4.0, 2.0, 1.5), 0.99)])
    with pytest.raises(ValueError, match="not in the ground truth"):
        evaluate_detection(make_boxes(gt_rows), stray)
    # kept as a false positive when allowed: it comes first and costs precision
    allowed = evaluate_detection(make_boxes(gt_rows), stray, allow_unknown_frames=True)
    assert allowed.per_class["Vehicle"].mean_ap < result.per_class["Vehicle"].mean_ap


def test_max_boxes_per_frame_is_enforced() -> None:
    gt_rows = _grid_gt(1)
    pred_rows = [("000000", "Vehicle", 10.0 + i, 5.0, 0.0, (4.0, 2.0, 1.5), 0.5) for i in range(6)]
    with pytest.raises(ValueError, match="max_boxes_per_frame"):
        evaluate_detection(
            make_boxes(gt_rows), make_boxes(pred_rows), DetectionConfig(max_boxes_per_frame=5)
        )


def test_no_true_positive_gives_zero_ap_and_unit_errors() -> None:
    gt_rows = _grid_gt(3)
    pred_rows = [(f, n, x + 10, y, 0.0, s, 0.5) for f, n, x, y, _, s, _ in gt_rows]
    vehicle = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows)).per_class["Vehicle"]
    assert vehicle.mean_ap == 0.0
    assert vehicle.tp_errors == {"trans_err": 1.0, "scale_err": 1.0, "orient_err": 1.0}


# --------------------------------------------------------------------------- names and files
def test_class_and_subclass_expansion() -> None:
    assert expand_names("Vehicle", "Car") == ["Vehicle", "Vehicle_Car"]
    assert expand_names("Vehicle_Car", None) == ["Vehicle_Car"]
    assert expand_names("Vehicle", "Vehicle_Car") == ["Vehicle", "Vehicle_Car"]
    assert expand_names("Pedestrian", "Pedestrian") == ["Pedestrian"]
    assert expand_names("TrafficSign", "TrafficSign_Front") == ["TrafficSign", "TrafficSign_Front"]
    assert len(EVALUATION_CLASSES) == 27
    from zod.eval.detection import LEVELS

    assert (len(LEVELS["class"]), len(LEVELS["subclass"])) == (10, 23)
    assert set(LEVELS["class"]) | set(LEVELS["subclass"]) == set(EVALUATION_CLASSES)
    assert "Unclear" not in EVALUATION_CLASSES and "Vehicle_Other" not in EVALUATION_CLASSES


def test_predictions_file_round_trip_and_yaw_form(tmp_path: Path) -> None:
    records = {
        9158: [
            {
                "class": "Vehicle",
                "subclass": "Car",
                "score": 0.5,
                "center": [1, 2, 3],
                "size": [4, 2, 1.5],
                "yaw": 0.25,
            }
        ],
        "9159": [],
    }
    boxes = boxes_from_records(records)
    assert boxes.frame_ids == ("009158", "009159")
    assert boxes.names.tolist() == ["Vehicle", "Vehicle_Car"]
    np.testing.assert_allclose(boxes.yaw_rad, [0.25, 0.25])
    path = write_predictions(tmp_path / "preds.json", boxes)
    again = read_predictions(path)
    assert again.frame_ids == boxes.frame_ids
    assert again.names.tolist() == boxes.names.tolist()
    np.testing.assert_allclose(again.quaternions_wxyz, boxes.quaternions_wxyz)
    np.testing.assert_allclose(again.scores, boxes.scores)


@pytest.mark.parametrize(
    ("box", "problem"),
    [
        ({"class": "Vehicle", "center": [0, 0, 0], "size": [1, 1, 1], "yaw": 0}, "score"),
        ({"class": "Vehicle", "score": 1, "center": [0, 0], "size": [1, 1, 1], "yaw": 0}, "want 3"),
        ({"class": "Vehicle", "score": 1, "center": [0, 0, 0], "size": [1, 0, 1], "yaw": 0}, "> 0"),
        ({"class": "Vehicle", "score": 1, "center": [0, 0, 0], "size": [1, 1, 1]}, "rotation"),
        ({"score": 1, "center": [0, 0, 0], "size": [1, 1, 1], "yaw": 0}, "class"),
    ],
)
def test_malformed_predictions_raise_format_error(tmp_path: Path, box: dict, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"results": {"000001": [box]}}))
    with pytest.raises(FormatError, match=problem) as info:
        read_predictions(path)
    assert str(path) in str(info.value) and "frame 000001, box 0" in str(info.value)


def test_result_json_is_written_atomically(tmp_path: Path) -> None:
    gt_rows = _grid_gt(4)
    pred_rows = [r[:6] + (0.9,) for r in gt_rows]
    result = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows), keep_curves=True)
    path = result.write_json(tmp_path / "out" / "metrics.json", include_curves=True)
    data = json.loads(path.read_text())
    assert data["mAP"] == pytest.approx(1.0)
    assert data["per_class"]["Vehicle"]["ap"]["0.5"] == pytest.approx(1.0)
    assert len(data["per_class"]["Vehicle"]["curves"]["2.0"]["precision"]) == 101
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


# --------------------------------------------------------------------------- nuscenes-devkit
NUSCENES_DRIVER = r"""
import json, sys
import numpy as np
from nuscenes.eval.common.data_classes import EvalBoxes
from nuscenes.eval.common.utils import center_distance
from nuscenes.eval.detection.algo import accumulate, calc_ap, calc_tp
from nuscenes.eval.detection.data_classes import DetectionBox

job = json.load(sys.stdin)
rename = job["rename"]

def boxes(rows):
    out = EvalBoxes()
    for frame in job["frames"]:
        out.add_boxes(frame, [])
    for r in rows:
        out.add_boxes(r["frame"], [DetectionBox(
            sample_token=r["frame"], translation=tuple(r["center"]), size=tuple(r["size"]),
            rotation=tuple(r["rotation"]), detection_name=rename[r["name"]],
            detection_score=float(r.get("score", -1.0)))])
    return out

gt, pred = boxes(job["gt"]), boxes(job["pred"])
result = {}
for name, nusc_name in rename.items():
    if not any(r["name"] == name for r in job["gt"]):
        continue
    entry = {"ap": {}, "tp": {}}
    for th in job["dist_ths"]:
        md = accumulate(gt, pred, nusc_name, center_distance, th)
        entry["ap"][str(th)] = calc_ap(md, 0.1, 0.1)
        if th == job["dist_th_tp"]:
            entry["tp"] = {m: calc_tp(md, 0.1, m) for m in ("trans_err", "scale_err", "orient_err")}
            entry["precision"] = md.precision.tolist()
            entry["trans_curve"] = md.trans_err.tolist()
    result[name] = entry
json.dump(result, sys.stdout)
"""

ZOD_TO_NUSCENES = {
    "Vehicle": "car",
    "Vehicle_Truck": "truck",
    "Pedestrian": "pedestrian",
    "VulnerableVehicle_Bicycle": "bicycle",
    "Animal": "motorcycle",
}


@pytest.fixture(scope="module")
def nuscenes_python() -> Path:
    if not NUSCENES_PYTHON.exists():
        pytest.fail(f"nuscenes-devkit venv missing at {NUSCENES_PYTHON}: run scripts/setup.sh")
    return NUSCENES_PYTHON


def _random_case(seed: int) -> tuple[DetectionBoxes, DetectionBoxes, list[dict], list[dict]]:
    """GT and noisy predictions (tied scores, false positives, empty frames), frame-sorted."""
    rng = np.random.default_rng(seed)
    names = list(ZOD_TO_NUSCENES)
    n_frames, n_gt = 25, int(rng.integers(80, 200))
    frames = [f"{i:06d}" for i in range(n_frames)]

    def quats(n: int) -> np.ndarray:
        yaw = rng.uniform(-np.pi, np.pi, n)
        q = np.stack(
            [np.cos(yaw / 2), rng.normal(0, 0.05, n), rng.normal(0, 0.05, n), np.sin(yaw / 2)],
            axis=1,
        )
        return q * rng.uniform(0.5, 2.0, (n, 1))  # not normalised on purpose

    gt_frame = np.sort(rng.integers(0, n_frames - 2, n_gt))  # last two frames: no GT
    gt_name = rng.choice(len(names) - 1, n_gt)  # last class: predictions only
    gt_center = rng.uniform(-60, 60, (n_gt, 3))
    gt_size = rng.uniform(0.4, 6.0, (n_gt, 3))
    gt_rot = quats(n_gt)
    n_pred = 3 * n_gt
    src = rng.integers(0, n_gt, n_pred)
    pred_frame, pred_name = gt_frame[src].copy(), gt_name[src].copy()
    fake = rng.random(n_pred) < 0.25
    pred_frame[fake] = rng.integers(0, n_frames, fake.sum())
    pred_name[fake] = rng.integers(0, len(names), fake.sum())
    pred_center = gt_center[src] + rng.normal(0, 1.2, (n_pred, 3))
    pred_size = gt_size[src] * rng.uniform(0.6, 1.4, (n_pred, 3))
    pred_rot = quats(n_pred)
    pred_score = np.round(rng.uniform(0, 1, n_pred), 2)  # many ties
    by_frame = np.argsort(pred_frame, kind="stable")

    def table(frame, name, center, size, rot, score=None) -> tuple[DetectionBoxes, list[dict]]:
        rows = [
            {
                "frame": frames[frame[i]],
                "name": names[name[i]],
                "center": center[i].tolist(),
                "size": size[i].tolist(),
                "rotation": rot[i].tolist(),
                **({} if score is None else {"score": float(score[i])}),
            }
            for i in range(len(frame))
        ]
        boxes = DetectionBoxes.from_columns(
            [r["frame"] for r in rows],
            [r["name"] for r in rows],
            center,
            size,
            quaternions_wxyz=rot,
            scores=score,
            frame_ids=frames,
        )
        return boxes, rows

    gt, gt_rows = table(gt_frame, gt_name, gt_center, gt_size, gt_rot)
    pred, pred_rows = table(
        pred_frame[by_frame],
        pred_name[by_frame],
        pred_center[by_frame],
        pred_size[by_frame],
        pred_rot[by_frame],
        pred_score[by_frame],
    )
    return gt, pred, gt_rows, pred_rows


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_nuscenes_devkit_on_random_predictions(
    nuscenes_python: Path, seed: int, tmp_path: Path
) -> None:
    gt, pred, gt_rows, pred_rows = _random_case(seed)
    job = {
        "frames": list(gt.frame_ids),
        "gt": gt_rows,
        "pred": pred_rows,
        "rename": ZOD_TO_NUSCENES,
        "dist_ths": [0.5, 1.0, 2.0, 4.0],
        "dist_th_tp": 2.0,
    }
    run = _run_isolated(nuscenes_python, NUSCENES_DRIVER, job, tmp_path)
    assert run.returncode == 0, run.stderr
    expected = json.loads(run.stdout)

    result = evaluate_detection(gt, pred, keep_curves=True)
    assert sorted(result.per_class) == sorted(expected)
    assert len(expected) == len(ZOD_TO_NUSCENES) - 1  # the prediction-only class is skipped
    for name, ref in expected.items():
        ours = result.per_class[name]
        for th, ap in ref["ap"].items():
            assert ours.ap_by_threshold[float(th)] == pytest.approx(ap, abs=1e-6), (name, th)
        for metric, value in ref["tp"].items():
            assert ours.tp_errors[metric] == pytest.approx(value, abs=1e-6), (name, metric)
        np.testing.assert_allclose(ours.curves[2.0].precision, ref["precision"], atol=1e-6)
        np.testing.assert_allclose(ours.curves[2.0].trans_err, ref["trans_curve"], atol=1e-6)
    # summary: nuScenes formulas on the devkit's per-class numbers (3 TP metrics, weight 5)
    ref_map = np.mean([np.mean(list(r["ap"].values())) for r in expected.values()])
    ref_err = [
        np.mean([r["tp"][m] for r in expected.values()])
        for m in ("trans_err", "scale_err", "orient_err")
    ]
    ref_nds = (5 * ref_map + sum(max(0.0, 1 - e) for e in ref_err)) / 8
    assert result.mean_ap == pytest.approx(ref_map, abs=1e-6)
    assert result.nds == pytest.approx(ref_nds, abs=1e-6)
    assert 0.05 < result.mean_ap < 0.95  # the case is neither trivial nor hopeless


# --------------------------------------------------------------------------- reference devkit
ORACLE_DRIVER = r"""
import json, sys
from zod.eval.detection import DetectionBox, EvalBoxes, evaluate_nuscenes_style

job = json.load(sys.stdin)

def boxes(rows):
    out = EvalBoxes()
    for frame in job["frames"]:
        out.add_boxes(frame, [])
    for r in rows:
        out.add_boxes(r["frame"], [DetectionBox(
            sample_token=r["frame"], translation=tuple(r["center"]), size=tuple(r["size"]),
            rotation=tuple(r["rotation"]), detection_name=r["name"],
            detection_score=float(r.get("score", -1.0)))])
    return out

json.dump(evaluate_nuscenes_style(boxes(job["gt"]), boxes(job["pred"]),
                                  verify_coordinate_system=job["verify"]), sys.stdout)
"""


def _eval_boxes(frames: list[str], rows: list[dict]) -> EvalBoxes:
    out = EvalBoxes()
    for frame in frames:
        out.add_boxes(frame, [])
    for r in rows:
        out.add_boxes(
            r["frame"],
            [
                DetectionBox(
                    sample_token=r["frame"],
                    translation=tuple(r["center"]),
                    size=tuple(r["size"]),
                    rotation=tuple(r["rotation"]),
                    detection_name=r["name"],
                    detection_score=float(r.get("score", -1.0)),
                )
            ],
        )
    return out


@pytest.mark.parametrize("seed", [3, 4])
def test_reference_entry_point_agrees_with_the_reference_devkit(
    oracle_python: Path, seed: int, tmp_path: Path
) -> None:
    gt, _, gt_rows, pred_rows = _random_case(seed)
    for rows in (gt_rows, pred_rows):  # the reference wants ego-frame boxes: x the longest
        for r in rows:
            r["center"][0] += 80.0
    job = {"frames": list(gt.frame_ids), "gt": gt_rows, "pred": pred_rows, "verify": True}
    run = _run_isolated(oracle_python, ORACLE_DRIVER, job, tmp_path)
    assert run.returncode == 0, run.stderr
    expected = json.loads(run.stdout)

    frames = list(gt.frame_ids)
    ours = evaluate_nuscenes_style(
        _eval_boxes(frames, gt_rows),
        _eval_boxes(frames, pred_rows),
        output_path=tmp_path,
        reference_tp_means=True,
    )
    assert sorted(ours) == sorted(expected)
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key
    assert json.loads((tmp_path / "nuscenes_evaluation_metrics.json").read_text()) == ours
    # by default the mean TP errors average over the evaluated classes only
    fixed = evaluate_nuscenes_style(_eval_boxes(frames, gt_rows), _eval_boxes(frames, pred_rows))
    evaluated = [k[: -len("/mATE")] for k in fixed if k.endswith("/mATE")]
    assert fixed["mATE"] == pytest.approx(np.mean([fixed[f"{c}/mATE"] for c in evaluated]))
    assert fixed["mATE"] > ours["mATE"]  # the reference dilutes it with zeros
    assert fixed["mAP"] == pytest.approx(ours["mAP"])


def test_reference_entry_point_checks_the_coordinate_system() -> None:
    gt, _, gt_rows, pred_rows = _random_case(5)
    for r in gt_rows:  # lidar-like: y (along the car) is the longest mean axis
        r["center"][1] += 80.0
    frames = list(gt.frame_ids)
    with pytest.raises(ValueError, match="lidar coordinate system"):
        evaluate_nuscenes_style(_eval_boxes(frames, gt_rows), _eval_boxes(frames, pred_rows))
    out = evaluate_nuscenes_style(
        _eval_boxes(frames, gt_rows), _eval_boxes(frames, pred_rows), verify_coordinate_system=False
    )
    assert set(out) >= {"NDS", "mAP", "mATE", "mASE", "mAOE"}


# --------------------------------------------------------------------------- pictures
def test_pr_curve_picture_follows_the_curve(tmp_path: Path) -> None:
    import cv2

    from zod.eval.detection.plot import curve_colors, save_pr_curves, to_pixels

    gt_rows = _grid_gt(10)
    pred_rows = [r[:6] + (0.9,) for r in gt_rows[:5]]  # precision 1 to recall 0.5, then 0
    result = evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows), keep_curves=True)
    path = save_pr_curves(result, "Vehicle", tmp_path / "pr.png")
    image = cv2.imread(str(path))[..., ::-1]
    height, width = image.shape[:2]
    last = np.array(curve_colors(4)[-1])  # the 4 m curve is drawn last, on top
    (x_hi, y_hi), (x_lo, y_lo) = to_pixels(
        np.array([0.3, 0.8]), np.array([1.0, 0.0]), width, height
    )
    assert np.abs(image[y_hi, x_hi].astype(int) - last).max() < 40  # on the curve at p=1
    assert np.abs(image[y_lo, x_lo].astype(int) - last).max() < 40  # on the curve at p=0
    (x_mid, y_mid) = to_pixels(np.array([0.3]), np.array([0.5]), width, height)[0]
    assert (image[y_mid, x_mid] > 200).all()  # nothing drawn at precision 0.5
    with pytest.raises(ValueError, match="keep_curves"):
        save_pr_curves(
            evaluate_detection(make_boxes(gt_rows), make_boxes(pred_rows)),
            "Vehicle",
            tmp_path / "x.png",
        )


# --------------------------------------------------------------------------- property test
def _naive_greedy(
    gt_frame: np.ndarray,
    gt_xy: np.ndarray,
    pred_frame: np.ndarray,
    pred_xy: np.ndarray,
    scores: np.ndarray,
    th: float,
) -> tuple[list[int], list[int]]:
    """The nuScenes loop, written plainly: the independent path the vectorized one must equal."""
    order = [i for _, i in sorted((s, i) for i, s in enumerate(scores.tolist()))][::-1]
    taken, matched = set(), []
    for p in order:
        best, best_gt = np.inf, -1
        for g in range(len(gt_frame)):
            if gt_frame[g] == pred_frame[p] and g not in taken:
                d = float(np.linalg.norm(pred_xy[p] - gt_xy[g]))
                if d < best:
                    best, best_gt = d, g
        if best < th:
            taken.add(best_gt)
            matched.append(best_gt)
        else:
            matched.append(-1)
    return order, matched


@settings(max_examples=150, deadline=None)
@given(
    n_gt=st.integers(0, 12),
    n_pred=st.integers(0, 16),
    n_frames=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_vectorized_matching_equals_the_plain_loop(
    n_gt: int, n_pred: int, n_frames: int, seed: int
) -> None:
    from zod.eval.detection.matching import match_greedy_thresholds

    rng = np.random.default_rng(seed)
    # coarse grids: many equal distances and equal scores, the tie-breaking cases
    gt_frame, pred_frame = rng.integers(0, n_frames, n_gt), rng.integers(0, n_frames, n_pred)
    gt_xy = rng.integers(-3, 4, (n_gt, 2)) * 0.5
    pred_xy = rng.integers(-3, 4, (n_pred, 2)) * 0.5
    scores = rng.integers(0, 4, n_pred) / 4
    ths = (0.5, 1.0, 2.0, 4.0)
    results = match_greedy_thresholds(gt_frame, gt_xy, pred_frame, pred_xy, scores, ths)
    for th, result in zip(ths, results):
        order, matched = _naive_greedy(gt_frame, gt_xy, pred_frame, pred_xy, scores, th)
        assert result.order.tolist() == order
        assert result.gt_index.tolist() == matched


def test_distance_bins_split_the_boxes() -> None:
    from zod.eval.detection.evaluate import by_range_dict, evaluate_by_range

    near = [("000001", "Vehicle", 10.0 + i, 5.0, 0.0, (4.0, 2.0, 1.5), None) for i in range(4)]
    far = [("000001", "Vehicle", 120.0 + 8 * i, 5.0, 0.0, (4.0, 2.0, 1.5), None) for i in range(4)]
    # near objects found exactly, far ones 1.5 m off (matched at 2 and 4 m only)
    preds = [r[:6] + (0.9,) for r in near] + [
        (f, n, x + 1.5, y, yaw, s, 0.8) for f, n, x, y, yaw, s, _ in far
    ]
    results = evaluate_by_range(make_boxes(near + far), make_boxes(preds), (0, 50, 100, 250))
    assert list(results) == ["0-50", "50-100", "100-250"]
    assert results["0-50"].per_class["Vehicle"].num_gt == 4
    assert results["0-50"].mean_ap == pytest.approx(1.0)
    assert results["50-100"].per_class == {}  # nothing there
    assert results["100-250"].mean_ap == pytest.approx(0.5)  # AP 1 at 2 and 4 m, 0 below
    assert results["100-250"].per_class["Vehicle"].tp_errors["trans_err"] == pytest.approx(1.5)
    summary = by_range_dict(results)
    assert summary["100-250"]["class_mAP"] == {"Vehicle": pytest.approx(0.5)}
    with pytest.raises(ValueError, match="increase"):
        evaluate_by_range(make_boxes(near), make_boxes(preds[:4]), (50, 10))
