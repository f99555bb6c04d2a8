"""Run with .venv-kitti's python: mmdet3d's KITTI evaluator on two folders of label files.

Usage: python kitti_eval_mmdet3d.py GT_DIR PRED_DIR [--rename A=Car,B=Cyclist] [--ids 0,1]

Prints JSON: {"ap40": {class: {"2d"|"bev"|"3d"|"aos": [easy, moderate, hard]}}, "ap11": ...,
"ap40_loose": ..., "ap11_loose": ..., "seconds": best time of the do_eval call}: mmdet3d's
``do_eval`` (what its ``kitti_eval`` calls) with kitti_eval's strict (Car 0.7, Pedestrian /
Cyclist 0.5) and loose overlap tables, AP in percent. ``--types bbox`` scores 2D only.

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

import numpy as np


def load_kitti_utils() -> types.ModuleType:
    spec = importlib.util.find_spec("mmdet3d")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mmdet3d is not installed in this python")
    folder = Path(next(iter(spec.submodule_search_locations))) / "evaluation/functional/kitti_utils"
    package = types.ModuleType("kitti_utils")
    package.__path__ = [str(folder)]
    sys.modules["kitti_utils"] = package
    modules = {}
    for name in ("rotate_iou", "eval"):
        module_spec = importlib.util.spec_from_file_location(
            f"kitti_utils.{name}", folder / f"{name}.py"
        )
        if module_spec is None or module_spec.loader is None:
            raise SystemExit(f"cannot load {folder / name}.py")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[f"kitti_utils.{name}"] = module
        module_spec.loader.exec_module(module)
        modules[name] = module
    return modules["eval"]


def read_label(path: Path, rename: dict[str, str]) -> dict[str, np.ndarray]:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("gt_dir")
    parser.add_argument("pred_dir")
    parser.add_argument("--rename", default="")
    parser.add_argument("--ids", default="")
    parser.add_argument("--classes", default="Car,Pedestrian,Cyclist")
    parser.add_argument("--types", default="bbox,bev,3d,aos", help="do_eval's eval_types")
    parser.add_argument("--repeat", type=int, default=1, help="best time of this many runs")
    args = parser.parse_args()
    rename = dict(pair.split("=") for pair in args.rename.split(",") if pair)
    ids = (
        args.ids.split(",") if args.ids else sorted(p.stem for p in Path(args.gt_dir).glob("*.txt"))
    )
    kitti_eval = load_kitti_utils()
    gt = [read_label(Path(args.gt_dir) / f"{i}.txt", rename) for i in ids]
    dt = [read_label(Path(args.pred_dir) / f"{i}.txt", rename) for i in ids]
    classes = args.classes.split(",")
    index = {"Car": 0, "Pedestrian": 1, "Cyclist": 2}
    # kitti_eval's overlap tables [overlap set, metric (bbox, bev, 3d), class]: strict, loose
    strict = np.array([[0.7, 0.5, 0.5, 0.7, 0.5]] * 3)
    loose = np.array(
        [[0.7, 0.5, 0.5, 0.7, 0.5], [0.5, 0.25, 0.25, 0.5, 0.25], [0.5, 0.25, 0.25, 0.5, 0.25]]
    )
    min_overlaps = np.stack([strict, loose])[:, :, [index[c] for c in classes]]
    times = []
    for _ in range(max(args.repeat, 1)):
        start = time.perf_counter()
        (ap11_2d, ap11_bev, ap11_3d, aos11, ap40_2d, ap40_bev, ap40_3d, aos40) = kitti_eval.do_eval(
            gt, dt, [index[c] for c in classes], min_overlaps, args.types.split(",")
        )
        times.append(time.perf_counter() - start)
    out = {"seconds": min(times), "times": times}
    tables = {
        "ap40": {"2d": ap40_2d, "bev": ap40_bev, "3d": ap40_3d, "aos": aos40},
        "ap11": {"2d": ap11_2d, "bev": ap11_bev, "3d": ap11_3d, "aos": aos11},
    }
    tables = {k: {m: v for m, v in t.items() if v is not None} for k, t in tables.items()}
    # arrays: [class, difficulty, overlap set]
    for name, table in tables.items():
        for overlap_set, tag in ((0, ""), (1, "_loose")):
            out[name + tag] = {
                cls: {m: table[m][j, :, overlap_set].tolist() for m in table}
                for j, cls in enumerate(classes)
            }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
