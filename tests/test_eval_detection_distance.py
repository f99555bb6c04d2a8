"""Detection metrics per distance bin: default bins, every metric per class and subclass, one
bin holding every box equals the full evaluation, hand-made cases per bin, `--by-distance`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zod.eval.detection import DetectionBoxes, evaluate_by_range, evaluate_detection
from zod.eval.detection.constants import DISTANCE_BINS_M
from zod.eval.detection.evaluate import by_range_dict


def _boxes(rows: list[tuple], frames: list[str], scored: bool) -> DetectionBoxes:
    """rows: (frame, name, x, y, yaw, score)."""
    if not rows:
        return DetectionBoxes.empty(frames)
    frame, name, x, y, yaw, score = zip(*rows)
    return DetectionBoxes.from_columns(
        frame,
        name,
        np.stack([x, y, np.zeros(len(x))], axis=1),
        np.tile([4.0, 1.8, 1.5], (len(x), 1)),
        yaw_rad=np.array(yaw),
        scores=np.array(score, dtype=float) if scored else None,
        frame_ids=frames,
    )


def _random_case(seed: int, max_range: float) -> tuple[DetectionBoxes, DetectionBoxes]:
    rng = np.random.default_rng(seed)
    frames = [f"{i:06d}" for i in range(12)]
    names = ["Vehicle", "Vehicle_Car", "Pedestrian", "VulnerableVehicle_Bicycle"]
    gt, pred = [], []
    for _ in range(150):
        f = frames[rng.integers(0, len(frames))]
        name = names[rng.integers(0, len(names))]
        r, a = rng.uniform(1, max_range), rng.uniform(-np.pi, np.pi)
        x, y, yaw = r * np.cos(a), r * np.sin(a), rng.uniform(-np.pi, np.pi)
        gt.append((f, name, x, y, yaw, 0.0))
        if rng.random() < 0.8:
            dx, dy = rng.normal(0, 1.0, 2)
            # keep the prediction in the same bin as its ground truth
            if np.hypot(x + dx, y + dy) > max_range or np.hypot(x + dx, y + dy) < 0.5:
                dx = dy = 0.0
            pred.append((f, name, x + dx, y + dy, yaw + rng.normal(0, 0.2), round(rng.random(), 2)))
    return _boxes(gt, frames, False), _boxes(pred, frames, True)


def test_default_bins_reach_245_m() -> None:
    assert DISTANCE_BINS_M == (0.0, 50.0, 100.0, 150.0, 245.0)
    gt, pred = _random_case(0, 40.0)
    assert list(evaluate_by_range(gt, pred)) == ["0-50", "50-100", "100-150", "150-245"]


@pytest.mark.parametrize("seed", [0, 1])
def test_one_bin_holding_every_box_equals_the_full_evaluation(seed: int) -> None:
    gt, pred = _random_case(seed, 49.0)
    full = evaluate_detection(gt, pred)
    bins = evaluate_by_range(gt, pred)
    near = bins["0-50"]
    assert near.to_dict()["per_class"] == full.to_dict()["per_class"]
    assert set(near.per_class) == {
        "Vehicle",
        "Vehicle_Car",
        "Pedestrian",
        "VulnerableVehicle",
        "VulnerableVehicle_Bicycle",
    } & set(full.per_class)
    assert near.nds == full.nds and near.mean_ap == full.mean_ap
    for level in ("class", "subclass"):
        assert near.by_level[level].to_dict() == full.by_level[level].to_dict()
    for far in ("50-100", "100-150", "150-245"):
        assert bins[far].per_class == {}
    payload = by_range_dict(bins)
    assert payload["0-50"]["per_class"] == full.to_dict()["per_class"]
    levels = payload["0-50"]["levels"]
    assert isinstance(levels, dict)
    assert levels["subclass"]["mAP"] == full.by_level["subclass"].mean_ap
    json.dumps(payload)


def test_hand_made_case_per_bin() -> None:
    frames = ["000001"]
    # four vehicles per bin, predicted with a known offset along x: 0, 0.7, 1.5, 3 m
    offsets = {20.0: 0.0, 70.0: 0.7, 120.0: 1.5, 200.0: 3.0}
    gt_rows, pred_rows = [], []
    for distance, offset in offsets.items():
        for i in range(4):
            y = -6.0 + 4.0 * i  # 4 m apart: nothing else within 4 m
            x = float(np.sqrt(distance**2 - y**2))
            gt_rows.append(("000001", "Vehicle_Car", x, y, 0.0, 0.0))
            pred_rows.append(("000001", "Vehicle_Car", x + offset, y, 0.0, 0.9))
    gt_rows.append(("000001", "Vehicle_Car", 247.0, 0.0, 0.0, 0.0))  # beyond the last bin
    bins = evaluate_by_range(_boxes(gt_rows, frames, False), _boxes(pred_rows, frames, True))
    expected_map = {"0-50": 1.0, "50-100": 0.75, "100-150": 0.5, "150-245": 0.25}
    for name, mean_ap in expected_map.items():
        entry = bins[name].per_class["Vehicle_Car"]
        assert entry.num_gt == 4 and entry.num_pred == 4
        assert entry.mean_ap == pytest.approx(mean_ap), name
    assert bins["0-50"].per_class["Vehicle_Car"].tp_errors["trans_err"] == pytest.approx(0.0)
    assert bins["50-100"].per_class["Vehicle_Car"].tp_errors["trans_err"] == pytest.approx(0.7)
    assert bins["100-150"].per_class["Vehicle_Car"].tp_errors["trans_err"] == pytest.approx(1.5)
    assert bins["150-245"].per_class["Vehicle_Car"].tp_errors["trans_err"] == 1.0  # no TP at 2 m
    # the class level is there too: a Vehicle_Car box counts for Vehicle only when named so
    assert bins["50-100"].by_level["subclass"].mean_ap == pytest.approx(0.75)
    full = evaluate_detection(_boxes(gt_rows, frames, False), _boxes(pred_rows, frames, True))
    assert full.per_class["Vehicle_Car"].num_gt == 17  # the 247 m box counts in the full range


def test_cli_by_distance(zod_cli: list[str], sample_root: Path, tmp_path: Path) -> None:
    from zod.eval.detection import ground_truth_from_dataset, write_predictions

    gt = ground_truth_from_dataset(sample_root, "full", "val")
    rows = np.arange(len(gt))
    preds = DetectionBoxes.from_columns(
        [gt.frame_ids[i] for i in gt.frame_index[rows]],
        gt.names[rows],
        gt.centers_m[rows],
        gt.sizes_lwh_m[rows],
        quaternions_wxyz=gt.quaternions_wxyz[rows],
        scores=np.linspace(0.9, 0.1, len(rows)),
        frame_ids=gt.frame_ids,
    )
    write_predictions(tmp_path / "p.json", preds)
    run = subprocess.run(
        [
            *zod_cli,
            "eval",
            "detection",
            str(sample_root),
            "--version",
            "full",
            "--predictions",
            str(tmp_path / "p.json"),
            "--by-distance",
            "--output",
            str(tmp_path / "m.json"),
            "--report",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads((tmp_path / "m.json").read_text())
    assert list(payload["by_range"]) == ["0-50", "50-100", "100-150", "150-245"]
    near = payload["by_range"]["0-50"]
    assert near["per_class"] and all(
        e["mAP"] == pytest.approx(1.0) for e in near["per_class"].values()
    )
    assert "range      0-50 m" in run.stdout
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "![AP by distance](ap_by_distance.png)" in summary
    assert (tmp_path / "report" / "ap_by_distance.png").stat().st_size > 1000
