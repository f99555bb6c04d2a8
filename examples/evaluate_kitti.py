"""KITTI-style AP of a (simulated) detector on our KITTI export of ZOD Frames.

    python examples/evaluate_kitti.py DATASET_ROOT OUTPUT_DIR

Converts the frames to the KITTI layout (labels and calibration only), makes KITTI result
files from the val labels (objects missed, moved and rescaled, scored), evaluates them
(AP_R40 for 2D, BEV and 3D boxes, easy / moderate / hard) and writes the JSON and a report
folder (PR curves, AP bars, summary.md). The same evaluation from the shell:

    zod eval kitti OUTPUT_DIR/kitti --predictions OUTPUT_DIR/results --split val \
        --report OUTPUT_DIR/report
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from zod.converters.kitti import convert_to_kitti
from zod.eval.kitti import (
    KittiObjects,
    evaluate_kitti_folders,
    frame_ids_from_image_set,
    read_label_folder,
    write_label_folder,
)
from zod.eval.plots import kitti_report


def simulate_results(gt: KittiObjects, seed: int = 0) -> KittiObjects:
    """Detections from labels: 85 % found, 0.2 m / 5 % / 0.1 rad noise, random scores."""
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero((gt.names != "DontCare") & (rng.random(len(gt)) < 0.85))
    n = rows.size
    return KittiObjects(
        frame_ids=gt.frame_ids,
        offsets=np.searchsorted(rows, gt.offsets),
        names=gt.names[rows],
        truncated=np.zeros(n),
        occluded=np.zeros(n, dtype=np.int64),
        alpha=gt.alpha[rows] + rng.normal(0, 0.1, n),
        boxes_xyxy=gt.boxes_xyxy[rows] + rng.normal(0, 3, (n, 4)),
        dimensions_hwl=gt.dimensions_hwl[rows] * rng.uniform(0.95, 1.05, (n, 3)),
        location_cam=gt.location_cam[rows] + rng.normal(0, 0.2, (n, 3)),
        rotation_y=gt.rotation_y[rows] + rng.normal(0, 0.1, n),
        scores=rng.uniform(0, 1, n),
    )


def main(dataset_root: str, output_dir: str) -> None:
    out = Path(output_dir)
    kitti = convert_to_kitti(
        dataset_root, out / "kitti", "full", image_mode="none", workers=1, progress=False
    )
    ids = frame_ids_from_image_set(kitti / "ImageSets" / "val.txt")
    gt = read_label_folder(kitti / "training" / "label_2", ids)
    write_label_folder(out / "results", simulate_results(gt))  # one <id>.txt per frame
    result = evaluate_kitti_folders(kitti / "training" / "label_2", out / "results", ids)
    print(result.table())
    print("wrote", result.write_json(out / "kitti_metrics.json"))
    print("wrote", kitti_report(result, out / "report"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
