"""Runs in nuscenes-devkit's own venv (.venv-nuscenes) on a `zod convert nuscenes` output.

Job (JSON on stdin): dataroot, version, and optional parts:
  "boxes": true          -> per sample_data token, the devkit's get_sample_data boxes
                            (token, 8 corners in the sensor frame, wlh) and the intrinsic
  "point_counts": true   -> per annotation token, points_in_box over the key LIDAR_TOP scan
  "multisweep": {"nsweeps": n, "npy": path}   -> from_file_multisweep of every sample, saved
  "render": {"lidar": png, "camera": png, "channel": "CAM_FRONT", "sample": i}
  "evals": [{"results": path, "eval_set": "zod_val", "output_dir": dir}, ...]
Prints one JSON object with the answers.
"""

import json
import sys
from typing import Any

import numpy as np
from nuscenes import NuScenes
from nuscenes.utils.color_map import get_colormap
from nuscenes.utils.data_classes import LidarPointCloud
from nuscenes.utils.geometry_utils import BoxVisibility, points_in_box

job = json.load(sys.stdin)
root, version = job["dataroot"], job["version"]
with open(f"{root}/{version}/category.json") as f:
    categories = [c["name"] for c in json.load(f)]
# the devkit colours boxes by a fixed table of nuScenes' names; give ZOD's extra names a grey
colormap = {**dict.fromkeys(categories, (120, 120, 120)), **get_colormap()}
nusc = NuScenes(version=version, dataroot=root, verbose=False, colormap=colormap)
answer: dict[str, Any] = {
    "counts": {t: len(getattr(nusc, t)) for t in nusc.table_names},
    "scenes": {s["name"]: s["nbr_samples"] for s in nusc.scene},
}

if job.get("boxes"):
    boxes_out = {}
    for sd in nusc.sample_data:
        _, boxes, intrinsic = nusc.get_sample_data(sd["token"], box_vis_level=BoxVisibility.NONE)
        boxes_out[sd["token"]] = {
            "intrinsic": None if intrinsic is None else np.asarray(intrinsic).tolist(),
            "boxes": [
                {"token": b.token, "corners": b.corners().T.tolist(), "wlh": b.wlh.tolist()}
                for b in boxes
            ],
        }
    answer["boxes"] = boxes_out

if job.get("point_counts"):
    counts = {}
    for sample in nusc.sample:
        sd_token = sample["data"]["LIDAR_TOP"]
        cloud = LidarPointCloud.from_file(nusc.get_sample_data_path(sd_token))
        _, boxes, _ = nusc.get_sample_data(sd_token)
        for box in boxes:
            counts[box.token] = int(points_in_box(box, cloud.points[:3]).sum())
    answer["point_counts"] = counts

if job.get("multisweep"):
    spec = job["multisweep"]
    clouds = {}
    for sample in nusc.sample:
        cloud, times = LidarPointCloud.from_file_multisweep(
            nusc, sample, "LIDAR_TOP", "LIDAR_TOP", nsweeps=spec["nsweeps"], min_distance=0.0
        )
        clouds[sample["token"]] = cloud.points.T  # (N, 4): x, y, z, intensity
        clouds[sample["token"] + "_times"] = times.ravel()
    np.savez(spec["npy"], **clouds)

if job.get("render"):
    import matplotlib

    matplotlib.use("Agg")
    spec = job["render"]
    sample = nusc.sample[spec.get("sample", 0)]
    nusc.render_sample_data(
        sample["data"]["LIDAR_TOP"],
        nsweeps=spec.get("nsweeps", 1),
        axes_limit=spec.get("axes_limit", 40),
        out_path=spec["lidar"],
        verbose=False,
    )
    nusc.render_sample_data(
        sample["data"][spec.get("channel", "CAM_FRONT")], out_path=spec["camera"], verbose=False
    )

if job.get("evals"):
    from nuscenes.eval.detection.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval

    answer["evals"] = []
    for spec in job["evals"]:
        config = config_factory("detection_cvpr_2019")
        config.class_range = {name: spec.get("range_m", 250.0) for name in config.class_range}
        evaluation = DetectionEval(
            nusc, config, spec["results"], spec["eval_set"], spec["output_dir"], verbose=False
        )
        present = sorted({b.detection_name for b in evaluation.gt_boxes.all})
        all_metrics, _ = evaluation.evaluate()  # the devkit's own: all 10 classes
        config.class_names = present  # the evaluated classes: those with ground truth
        metrics, _ = evaluation.evaluate()
        answer["evals"].append(
            {
                "present": present,
                "num_gt": len(evaluation.gt_boxes.all),
                "mAP_all_classes": all_metrics.mean_ap,
                "mAP": metrics.mean_ap,
                "label_aps": {
                    c: {str(k): v for k, v in d.items()} for c, d in metrics._label_aps.items()
                },
                "label_tp_errors": {
                    c: {m: (None if np.isnan(v) else v) for m, v in d.items()}
                    for c, d in metrics._label_tp_errors.items()
                },
            }
        )

json.dump(answer, sys.stdout)
