"""Evaluate a (simulated) 3D object detector on ZOD Frames, nuScenes style.

    python examples/evaluate_detection.py DATASET_ROOT OUTPUT_DIR

Reads the ground truth of the val split (3D boxes, lidar frame), makes noisy "detections" from
it (missed objects, jitter, false positives), writes them in the predictions format of
docs/eval.md, evaluates them, and writes the metrics JSON and a precision-recall picture.
The same evaluation from the shell:

    zod eval detection --dataset-root ROOT --version mini --split val \
        --predictions OUTPUT_DIR/predictions.json --output metrics.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from zod.eval.detection import (
    DetectionBoxes,
    evaluate_detection,
    ground_truth_from_dataset,
    read_predictions,
    write_predictions,
)
from zod.eval.detection.plot import save_pr_curves


def simulate_detector(gt: DetectionBoxes, seed: int = 0) -> DetectionBoxes:
    """Noisy detections: 85 % of the objects found, centre/size/yaw jitter, 20 % extra boxes."""
    rng = np.random.default_rng(seed)
    found = np.flatnonzero(rng.random(len(gt)) < 0.85)
    fake = rng.integers(0, max(len(gt), 1), size=int(0.2 * len(gt)))
    src = np.r_[found, fake]
    center = gt.centers_m[src] + rng.normal(0.0, 0.3, (src.size, 3))
    center[found.size :, :2] += rng.uniform(-15, 15, (fake.size, 2))  # false positives
    yaw = gt.yaw_rad[src] + rng.normal(0.0, 0.1, src.size)
    score = np.r_[rng.uniform(0.4, 1.0, found.size), rng.uniform(0.0, 0.6, fake.size)]
    return DetectionBoxes.from_columns(
        gt.frame_id_per_box[src],
        gt.names[src],
        center,
        gt.sizes_lwh_m[src] * rng.uniform(0.9, 1.1, (src.size, 3)),
        yaw_rad=yaw,
        scores=score,
        frame_ids=gt.frame_ids,
    )


def main(dataset_root: Path, output_dir: Path) -> None:
    version = "mini" if (dataset_root / "trainval-frames-mini.json").exists() else "full"
    gt = ground_truth_from_dataset(dataset_root, version, "val")
    print(f"ground truth: {len(gt)} boxes (classes and subclasses) in {len(gt.frame_ids)} frames")

    predictions_path = write_predictions(output_dir / "predictions.json", simulate_detector(gt))
    predictions = read_predictions(predictions_path)

    result = evaluate_detection(gt, predictions, keep_curves=True)
    print(result.table())
    result.write_json(output_dir / "detection_metrics.json")
    if result.per_class:
        busiest = max(result.per_class.values(), key=lambda r: r.num_gt).name
        picture = save_pr_curves(result, busiest, output_dir / f"pr_{busiest}.png")
        print(f"wrote {picture}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
