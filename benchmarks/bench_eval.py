"""Benchmark: nuScenes-style detection evaluation, ours against the reference devkit.

Random ground truth and noisy predictions (classes of ZOD, many frames) are written to JSON.
Baseline (same run): the reference devkit zod==0.8.0 in its own venv, ``evaluate_nuscenes_style``
on ``EvalBoxes`` built from that JSON (only the call is timed, not the box building).
Ours: ``evaluate_detection`` on ``DetectionBoxes`` (the call only), and the reference-named
``evaluate_nuscenes_style`` on our ``EvalBoxes`` (the call only: it converts to columns inside).
Both sides print the same mAP, so the ratio compares equal work.

    python benchmarks/bench_eval.py [--frames 500] [--gt-per-frame 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ORACLE_CANDIDATES = [REPO / ".venv-oracle" / "bin" / "python", Path("/opt/zod-oracle/bin/python")]
CLASSES = ["Vehicle", "Vehicle_Car", "Pedestrian", "VulnerableVehicle", "TrafficSign", "PoleObject"]

BUILD_AND_TIME = r"""
import json, sys, time
from zod.eval.detection import DetectionBox, EvalBoxes, evaluate_nuscenes_style

job = json.load(open(sys.argv[1]))
def boxes(rows, scored):
    out = EvalBoxes()
    for frame in job["frames"]:
        out.add_boxes(frame, [])
    for r in rows:
        out.add_boxes(r[0], [DetectionBox(sample_token=r[0], translation=tuple(r[2]),
            size=tuple(r[3]), rotation=tuple(r[4]), detection_name=r[1],
            detection_score=float(r[5]) if scored else -1.0)])
    return out
gt, pred = boxes(job["gt"], False), boxes(job["pred"], True)
best, out = float("inf"), None
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    out = evaluate_nuscenes_style(gt, pred, verify_coordinate_system=False)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "mAP": out["mAP"]}))
"""


def make_job(frames: int, gt_per_frame: int, seed: int = 0) -> dict:
    """Rows (frame, class, centre, size, rotation, score) of ground truth and predictions."""
    rng = np.random.default_rng(seed)
    frame_ids = [f"{i:06d}" for i in range(frames)]
    n_gt = frames * gt_per_frame
    gt_frame = np.sort(rng.integers(0, frames, n_gt))
    gt_cls = rng.integers(0, len(CLASSES), n_gt)
    gt_center = np.c_[rng.uniform(2, 120, n_gt), rng.uniform(-40, 40, n_gt), rng.normal(0, 1, n_gt)]
    gt_size = rng.uniform(0.5, 6, (n_gt, 3))
    yaw = rng.uniform(-np.pi, np.pi, n_gt)
    gt_rot = np.c_[np.cos(yaw / 2), np.zeros(n_gt), np.zeros(n_gt), np.sin(yaw / 2)]
    src = rng.integers(0, n_gt, 2 * n_gt)
    keep = np.sort(src)
    pred_center = gt_center[keep] + rng.normal(0, 1.0, (keep.size, 3))
    pred_size = gt_size[keep] * rng.uniform(0.7, 1.3, (keep.size, 3))
    pred_yaw = yaw[keep] + rng.normal(0, 0.3, keep.size)
    pred_rot = np.c_[
        np.cos(pred_yaw / 2), np.zeros(keep.size), np.zeros(keep.size), np.sin(pred_yaw / 2)
    ]
    score = rng.uniform(0, 1, keep.size)

    def rows(frame, cls, center, size, rot, scores):
        return [
            [frame_ids[f], CLASSES[c], ce, si, ro, sc]
            for f, c, ce, si, ro, sc in zip(
                frame.tolist(),
                cls.tolist(),
                center.tolist(),
                size.tolist(),
                rot.tolist(),
                scores.tolist(),
            )
        ]

    return {
        "frames": frame_ids,
        "gt": rows(gt_frame, gt_cls, gt_center, gt_size, gt_rot, np.zeros(n_gt)),
        "pred": rows(gt_frame[keep], gt_cls[keep], pred_center, pred_size, pred_rot, score),
    }


def time_ours(job: dict, repeat: int) -> dict[str, float]:
    from zod.eval.detection import (
        DetectionBox,
        DetectionBoxes,
        EvalBoxes,
        evaluate_detection,
        evaluate_nuscenes_style,
    )

    def table(rows: list, scored: bool) -> DetectionBoxes:
        return DetectionBoxes.from_columns(
            [r[0] for r in rows],
            [r[1] for r in rows],
            np.array([r[2] for r in rows]),
            np.array([r[3] for r in rows]),
            quaternions_wxyz=np.array([r[4] for r in rows]),
            scores=np.array([r[5] for r in rows]) if scored else None,
            frame_ids=job["frames"],
        )

    def eval_boxes(rows: list, scored: bool) -> EvalBoxes:
        out = EvalBoxes()
        for frame in job["frames"]:
            out.add_boxes(frame, [])
        for r in rows:
            out.add_boxes(
                r[0],
                [
                    DetectionBox(
                        r[0],
                        r[2],
                        r[3],
                        r[4],
                        detection_name=r[1],
                        detection_score=float(r[5]) if scored else -1.0,
                    )
                ],
            )
        return out

    gt, pred = table(job["gt"], False), table(job["pred"], True)
    egt, epred = eval_boxes(job["gt"], False), eval_boxes(job["pred"], True)
    best_cols = best_ref = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = evaluate_detection(gt, pred)
        best_cols = min(best_cols, time.perf_counter() - start)
        start = time.perf_counter()
        ref_named = evaluate_nuscenes_style(egt, epred, verify_coordinate_system=False)
        best_ref = min(best_ref, time.perf_counter() - start)
    return {
        "columns": best_cols,
        "entry_point": best_ref,
        "mAP": result.mean_ap,
        "mAP_entry_point": ref_named["mAP"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--gt-per-frame", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    job = make_job(args.frames, args.gt_per_frame)
    print(
        f"{args.frames} frames, {len(job['gt'])} ground truths, {len(job['pred'])} predictions,"
        f" {len(CLASSES)} classes x 4 thresholds"
    )
    ours = time_ours(job, args.repeat)
    oracle = next((p for p in ORACLE_CANDIDATES if p.exists()), None)
    if oracle is None:
        sys.exit("reference devkit venv not found: run scripts/setup.sh")
    with tempfile.TemporaryDirectory() as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(json.dumps(job))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        run = subprocess.run(
            [str(oracle), "-c", BUILD_AND_TIME, str(job_path), str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
            env=env,
        )
    ref = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"reference evaluate_nuscenes_style : {ref['seconds']:8.3f} s   mAP {ref['mAP']:.6f}")
    print(
        f"ours evaluate_nuscenes_style      : {ours['entry_point']:8.3f} s   "
        f"mAP {ours['mAP_entry_point']:.6f}   x{ref['seconds'] / ours['entry_point']:.1f}"
    )
    print(
        f"ours evaluate_detection (columns) : {ours['columns']:8.3f} s   "
        f"mAP {ours['mAP']:.6f}   x{ref['seconds'] / ours['columns']:.1f}"
    )


if __name__ == "__main__":
    main()
