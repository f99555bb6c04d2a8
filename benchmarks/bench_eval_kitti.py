"""Benchmark: KITTI-style AP, ours against mmdetection3d's KITTI evaluator, same files.

Synthetic label files in our KITTI export's conventions (ZOD class names, 3848 x 2168 images,
objects to 245 m, DontCare regions) and predictions made by perturbing them (misses, false
positives, tied scores), written with ``zod.eval.kitti.write_label_folder``. Baseline (same
run): mmdetection3d 1.4.0's ``do_eval`` in .venv-kitti (tests/oracle/kitti_eval_mmdet3d.py,
our names renamed to KITTI's on its side). Timed: the evaluation call only (the files are read
before), best of ``--repeat``.

Two comparisons, because the baseline's rotated IoU is a CUDA kernel:

- 2D (``bbox``): the baseline is numba-compiled CPU code (warm: JIT excluded by the repeat);
- 2D + BEV + 3D + AOS on the first ``--full-frames``: the baseline runs its CUDA kernel on
  numba's CUDA simulator (no GPU here), so this ratio measures the simulator more than the
  algorithm; both printed, and our time for everything on all frames.

    python benchmarks/bench_eval_kitti.py [--frames 500] [--full-frames 60] [--repeat 2]
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
KITTI_PYTHON = REPO / ".venv-kitti" / "bin" / "python"
ORACLE = REPO / "tests" / "oracle" / "kitti_eval_mmdet3d.py"
RENAME = {"Vehicle": "Car", "VulnerableVehicle": "Cyclist"}
SIZES_HWL = {
    "Vehicle": (1.5, 1.8, 4.5),
    "Pedestrian": (1.75, 0.6, 0.7),
    "VulnerableVehicle": (1.7, 0.6, 1.8),
}


def make_frames(frames: int, objects: int, seed: int = 0) -> tuple[list, list]:
    """(ground truth, predictions): per frame a (KittiLabel, scores or None)."""
    from zod.converters.kitti import KittiLabel

    rng = np.random.default_rng(seed)
    focal, cx, cy = 1900.0, 1924.0, 1084.0
    names = np.array(list(SIZES_HWL) + ["DontCare"])
    gt_out, pred_out = [], []
    for _ in range(frames):
        n = int(rng.integers(objects // 2, objects * 3 // 2 + 1))
        kind = rng.choice(len(names), n, p=[0.6, 0.2, 0.12, 0.08])
        hwl = np.array([SIZES_HWL.get(str(names[k]), (1.6, 1.0, 2.0)) for k in kind])
        hwl = hwl * rng.uniform(0.85, 1.15, (n, 3))
        z = rng.uniform(3, 245, n)
        x = rng.uniform(-0.9, 0.9, n) * z
        y = rng.uniform(1.4, 2.0, n)
        ry = rng.uniform(-np.pi, np.pi, n)
        u, v = cx + focal * x / z, cy + focal * (y - hwl[:, 0] / 2) / z
        bh, bw = focal * hwl[:, 0] / z, focal * np.maximum(hwl[:, 1], hwl[:, 2]) / z
        boxes = np.column_stack([u - bw / 2, v - bh / 2, u + bw / 2, v + bh / 2])
        dontcare = names[kind] == "DontCare"
        location = np.column_stack([x, y, z])
        gt = KittiLabel(
            types=[str(t) for t in names[kind]],
            truncated=np.where(dontcare, -1, rng.choice([0.0, 0.1, 0.3, 0.6], n)),
            occluded=np.where(dontcare, -1, rng.integers(0, 4, n)),
            alpha=np.where(dontcare, -10, ry - np.arctan2(x, z)),
            boxes_xyxy=boxes,
            dimensions_hwl=np.where(dontcare[:, None], -1, hwl),
            location_cam=np.where(dontcare[:, None], -1000, location),
            rotation_y=np.where(dontcare, -10, ry),
        )
        found = ~dontcare & (rng.random(n) < 0.8)
        m = int(found.sum())
        sd = 0.05 + 0.004 * z[found]
        loc = location[found] + rng.normal(0, 1, (m, 3)) * sd[:, None]
        n_fp = int(rng.integers(0, 4))
        fp_z = rng.uniform(3, 245, n_fp)
        fp_loc = np.column_stack([rng.uniform(-0.9, 0.9, n_fp) * fp_z, np.full(n_fp, 1.7), fp_z])
        fp_h = focal * 1.5 / fp_z
        fp_u = cx + focal * fp_loc[:, 0] / fp_z
        fp_boxes = np.column_stack([fp_u - fp_h, cy - fp_h / 2, fp_u + fp_h, cy + fp_h / 2])
        pry = np.concatenate([ry[found] + rng.normal(0, 0.08, m), np.zeros(n_fp)])
        ploc = np.concatenate([loc, fp_loc])
        pred = KittiLabel(
            types=[str(t) for t in names[kind][found]]
            + [str(rng.choice(names[:3])) for _ in range(n_fp)],
            truncated=np.zeros(m + n_fp),
            occluded=np.zeros(m + n_fp, dtype=np.int64),
            alpha=pry - np.arctan2(ploc[:, 0], ploc[:, 2]),
            boxes_xyxy=np.concatenate([boxes[found] + rng.normal(0, 2, (m, 4)), fp_boxes]),
            dimensions_hwl=np.concatenate(
                [hwl[found] * rng.uniform(0.93, 1.07, (m, 3)), np.tile([1.5, 1.8, 4.5], (n_fp, 1))]
            ),
            location_cam=ploc,
            rotation_y=pry,
        )
        gt_out.append((gt, None))
        pred_out.append((pred, np.round(rng.beta(4, 2, m + n_fp), 2)))
    return gt_out, pred_out


def run_baseline(gt_dir: Path, pred_dir: Path, types: str, repeat: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    cmd = [
        str(KITTI_PYTHON),
        str(ORACLE),
        str(gt_dir),
        str(pred_dir),
        "--types",
        types,
        "--repeat",
        str(repeat),
        "--rename",
        ",".join(f"{a}={b}" for a, b in RENAME.items()),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if run.returncode != 0:
        raise SystemExit(f"baseline failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--objects", type=int, default=25, help="mean objects per frame")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="2D comparison only")
    parser.add_argument(
        "--full-frames",
        type=int,
        default=60,
        help="frames of the 2D+BEV+3D comparison (the baseline's simulator needs ~1 min for 60)",
    )
    args = parser.parse_args()
    if not KITTI_PYTHON.exists():
        raise SystemExit(f"{KITTI_PYTHON} missing: run scripts/setup.sh")
    sys.path.insert(0, str(REPO))
    from zod.eval.kitti import KittiConfig, evaluate_kitti, read_label_folder, write_label_folder

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gt_frames, pred_frames = make_frames(args.frames, args.objects)
        ids = [f"{i:06d}" for i in range(args.frames)]
        write_label_folder(folder / "gt", dict(zip(ids, gt_frames)))
        write_label_folder(folder / "pred", dict(zip(ids, pred_frames)))
        gt = read_label_folder(folder / "gt", ids)
        pred = read_label_folder(folder / "pred", ids, scored=True)
        print(f"{args.frames} frames, {len(gt)} ground-truth rows, {len(pred)} predictions")
        mapping = {"Car": "Vehicle", "Pedestrian": "Pedestrian", "Cyclist": "VulnerableVehicle"}
        runs: list[tuple[str, str, tuple[str, ...], int]] = [("2d", "bbox", ("2d",), args.frames)]
        if not args.skip_full:
            full_n = min(args.full_frames, args.frames)
            runs.append(("2d+bev+3d+aos", "bbox,bev,3d,aos", ("2d", "bev", "3d"), full_n))
        for label, types, metrics, n in runs:
            sub = ids[:n]
            gt_dir, pred_dir = folder / f"gt{n}", folder / f"pred{n}"
            write_label_folder(gt_dir, dict(zip(sub, gt_frames[:n])))
            write_label_folder(pred_dir, dict(zip(sub, pred_frames[:n])))
            gt_n, pred_n = (
                read_label_folder(gt_dir, sub),
                read_label_folder(pred_dir, sub, scored=True),
            )
            config = KittiConfig(metrics=metrics, aos="aos" in types)
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                ours = evaluate_kitti(gt_n, pred_n, config)
                best = min(best, time.perf_counter() - start)
            repeat = args.repeat if label == "2d" else 1
            theirs = run_baseline(gt_dir, pred_dir, types, repeat)
            worst = 0.0
            for their_name, our_name in mapping.items():
                for m in metrics:
                    for d, level in enumerate(ours.difficulties):
                        worst = max(
                            worst,
                            abs(ours.ap(our_name, level, m) - theirs["ap40"][their_name][m][d]),
                        )
            print(
                f"{label:>14} on {n} frames: mmdet3d {theirs['seconds']:.2f} s, ours {best:.3f} s "
                f"(x{theirs['seconds'] / best:.0f}); max |AP40 difference| {worst:.2e} (percent)"
            )
        start = time.perf_counter()
        ours = evaluate_kitti(gt, pred)
        print(f"ours, everything on {args.frames} frames: {time.perf_counter() - start:.3f} s")
        moderate = {c: round(ours.ap(c, "moderate", "3d"), 2) for c in ours.classes}
        print(f"moderate 3D AP40 (percent): {moderate}")


if __name__ == "__main__":
    main()
