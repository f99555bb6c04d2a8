"""Run with .venv-kitti's python: mmdet3d's KITTI evaluator on two folders of label files.

Usage: python kitti_eval_mmdet3d.py GT_DIR PRED_DIR [--rename A=Car,B=Cyclist] [--ids 0,1]

Prints JSON: {"ap40": {class: {"bbox"|"bev"|"3d"|"aos": [easy, moderate, hard]}}, "ap11": ...}
for the standard overlaps (Car 0.7, Pedestrian / Cyclist 0.5), AP in percent as mmdet3d reports.

The evaluator is ``mmdet3d/evaluation/functional/kitti_utils`` of the PyPI wheel mmdet3d 1.4.0
(installed without its dependencies: only numba and numpy are needed). Its two files are loaded
by path, so the ``mmdet3d`` package (torch, mmcv, mmengine) is never imported. Its rotated IoU
is a numba CUDA kernel: it runs on numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set here
before numba is imported), slow but the same code.

The label files are read here, independently of zod's reader, like mmdet3d's
``get_label_anno`` (dimensions h w l reordered to l h w, score in column 16 or 0).
"""

import argparse
import importlib.util
import json
import os
import sys
import time
import types
from pathlib import Path

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np  # noqa: E402


def load_kitti_utils():
    spec = importlib.util.find_spec("mmdet3d")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mmdet3d is not installed in this python")
    folder = Path(list(spec.submodule_search_locations)[0]) / "evaluation/functional/kitti_utils"
    package = types.ModuleType("kitti_utils")
    package.__path__ = [str(folder)]
    sys.modules["kitti_utils"] = package
    modules = {}
    for name in ("rotate_iou", "eval"):
        module_spec = importlib.util.spec_from_file_location(
            f"kitti_utils.{name}", folder / f"{name}.py"
        )
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[f"kitti_utils.{name}"] = module
        module_spec.loader.exec_module(module)
        modules[name] = module
    return modules["eval"]


def read_label(path, rename):
    rows = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    names = np.array([rename.get(r[0], r[0]) for r in rows], dtype=object)
    numbers = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64)
    if len(rows) == 0:
        numbers = np.zeros((0, 15))
    has_score = numbers.shape[1] >= 15
    return {
        "name": names.astype(str) if len(rows) else np.zeros(0, dtype=str),
        "truncated": numbers[:, 0],
        "occluded": numbers[:, 1].astype(np.int64),
        "alpha": numbers[:, 2],
        "bbox": numbers[:, 3:7].reshape(-1, 4),
        "dimensions": numbers[:, 7:10].reshape(-1, 3)[:, [2, 0, 1]],
        "location": numbers[:, 10:13].reshape(-1, 3),
        "rotation_y": numbers[:, 13],
        "score": numbers[:, 14] if has_score else np.zeros(len(rows)),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gt_dir")
    parser.add_argument("pred_dir")
    parser.add_argument("--rename", default="")
    parser.add_argument("--ids", default="")
    parser.add_argument("--classes", default="Car,Pedestrian,Cyclist")
    args = parser.parse_args()
    rename = dict(pair.split("=") for pair in args.rename.split(",") if pair)
    ids = (
        args.ids.split(",")
        if args.ids
        else sorted(p.stem for p in Path(args.gt_dir).glob("*.txt"))
    )
    kitti_eval = load_kitti_utils()
    gt = [read_label(Path(args.gt_dir) / f"{i}.txt", rename) for i in ids]
    dt = [read_label(Path(args.pred_dir) / f"{i}.txt", rename) for i in ids]
    classes = args.classes.split(",")
    start = time.perf_counter()
    _, ret = kitti_eval.kitti_eval(gt, dt, classes, eval_types=["bbox", "bev", "3d"])
    seconds = time.perf_counter() - start
    out = {"ap40": {}, "ap11": {}, "seconds": seconds}
    keys = {"bbox": "2D", "bev": "BEV", "3d": "3D"}
    for recall_points, key in (("ap40", "AP40"), ("ap11", "AP11")):
        for cls in classes:
            entry = {}
            for metric, tag in keys.items():
                values = [
                    ret.get(f"KITTI/{cls}_{tag}_{key}_{d}_strict")
                    for d in ("easy", "moderate", "hard")
                ]
                if all(v is not None for v in values):
                    entry[metric] = [float(v) for v in values]
            out[recall_points][cls] = entry
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
