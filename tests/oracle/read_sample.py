"""Run with the reference devkit's python (zod==0.8.0): read a sample dataset, print JSON numbers.

Usage: python read_sample.py DATASET_ROOT. Every read is attempted; failures are reported per
item and project (with the exception text) instead of stopping the script, so the calling test can
tell which file the reference cannot read.
"""

import json
import os
import sys
import traceback

import numpy as np

from zod import ZodDrives, ZodFrames, ZodSequences
from zod.constants import AnnotationProject, Anonymization, Camera, Lidar, Radar


def _try(report, key, func):
    try:
        report[key] = func()
    except Exception as exc:
        report.setdefault("errors", {})[key] = f"{type(exc).__name__}: {exc}"
        report.setdefault("tracebacks", {})[key] = traceback.format_exc()


def _objects(anns):
    out = []
    for obj in anns:
        out.append(
            {
                "uuid": obj.uuid,
                "name": obj.name,
                "subclass": obj.subclass,
                "unclear": bool(obj.unclear),
                "box2d": [float(v) for v in obj.box2d.xyxy],
                "center": None if obj.box3d is None else [float(v) for v in obj.box3d.center],
                "corners": None if obj.box3d is None else obj.box3d.corners.tolist(),
            }
        )
    return out


def _item(dataset, item_id, is_frame, annotated):
    item = dataset[item_id]
    rep = {"id": item.info.id}
    if is_frame:
        _try(rep, "lidar_core_count", lambda: int(len(item.get_lidar()[0].points)))
        _try(
            rep,
            "lidar_core_count_with_ego",
            lambda: int(
                len(item.info.get_key_lidar_frame().read(remove_ego_lidar_returns=False).points)
            ),
        )
        _try(rep, "num_lidar_frames", lambda: len(item.get_lidar_frames(100, 100)))
        _try(rep, "key_lidar_path", lambda: item.info.get_key_lidar_frame().filepath)
        _try(rep, "core_lidar_path", lambda: item.get_lidar_frames()[0].filepath)
        _try(rep, "image_blur_shape", lambda: list(item.get_image(Anonymization.BLUR).shape))
        _try(rep, "image_dnat_shape", lambda: list(item.get_image(Anonymization.DNAT).shape))
        _try(rep, "metadata_frame_id", lambda: item.metadata.frame_id)
        _try(
            rep,
            "aggregated_count",
            lambda: int(len(item.get_aggregated_lidar(num_before=1, num_after=1).points)),
        )
    else:
        _try(rep, "lidar_counts", lambda: [int(len(d.points)) for d in item.get_lidar(0, 2)])
        _try(
            rep,
            "image_shape",
            lambda: list(item.info.get_key_camera_frame(Anonymization.BLUR).read().shape),
        )
        _try(rep, "vehicle_speed_mean", lambda: float(np.mean(item.vehicle_data.satellite.speed)))
        _try(
            rep,
            "vehicle_data_lengths",
            lambda: [
                len(item.vehicle_data.ego_vehicle_data.timestamp),
                len(item.vehicle_data.ego_vehicle_controls.timestamp),
                len(item.vehicle_data.satellite.timstamp),
            ],
        )
        _try(
            rep,
            "radar_count",
            lambda: int(len(item.info.get_radar_frames(Radar.FRONT)[0].read().radar_range)),
        )
        _try(
            rep,
            "radar_extrinsics",
            lambda: item.calibration.radars[Radar.FRONT].extrinsics.transform.tolist(),
        )
        _try(rep, "metadata_sequence_id", lambda: item.metadata.sequence_id)
        _try(rep, "keyframe_lidar_count", lambda: int(len(item.get_keyframe_lidar().points)))
    _try(
        rep, "calib_intrinsics", lambda: item.calibration.cameras[Camera.FRONT].intrinsics.tolist()
    )
    _try(
        rep,
        "calib_lidar_extrinsics",
        lambda: item.calibration.lidars[Lidar.VELODYNE].extrinsics.transform.tolist(),
    )
    _try(rep, "ego_motion_len", lambda: len(item.ego_motion))
    _try(rep, "ego_motion_t0", lambda: float(item.ego_motion.timestamps[0]))
    _try(rep, "oxts_len", lambda: len(item.oxts))
    _try(rep, "oxts_t0", lambda: float(item.oxts.timestamps[0]))
    _try(rep, "oxts_origin", lambda: [float(v) for v in item.oxts.origin_lat_lon])
    _try(
        rep,
        "ego_pose_key",
        lambda: item.ego_motion.get_poses(np.array([item.info.keyframe_time.timestamp()]))[
            0
        ].tolist(),
    )
    if annotated:
        for project in AnnotationProject:
            if not item.is_annotated(project):
                continue
            if project == AnnotationProject.OBJECT_DETECTION:
                _try(rep, "objects", lambda project=project: _objects(item.get_annotation(project)))
            elif project == AnnotationProject.ROAD_CONDITION:
                _try(rep, project.value, lambda project=project: vars(item.get_annotation(project)))
            elif project == AnnotationProject.LANE_MARKINGS:
                _try(
                    rep,
                    project.value,
                    lambda project=project: [
                        type(a).__name__ for a in item.get_annotation(project)
                    ],
                )
            elif project == AnnotationProject.TRAFFIC_SIGNS:
                _try(
                    rep,
                    project.value,
                    lambda project=project: [
                        a.traffic_sign_class for a in item.get_annotation(project)
                    ],
                )
            else:
                _try(
                    rep,
                    project.value,
                    lambda project=project: [a.type.value for a in item.get_annotation(project)],
                )
    return rep


def main(root):
    # the reference leaves radar paths relative to the dataset root (its convert_paths_to_absolute
    # skips them), so run from the root
    os.chdir(root)
    report = {}
    for cls, name, is_frame, annotated in (
        (ZodFrames, "frames", True, True),
        (ZodSequences, "sequences", False, True),
        (ZodDrives, "drives", False, False),
    ):
        for version in ("mini", "full"):
            key = f"{name}-{version}"
            entry = {}
            try:
                dataset = cls(root, version, mp=False)
            except Exception as exc:
                entry["load_error"] = f"{type(exc).__name__}: {exc}"
                report[key] = entry
                continue
            entry["len"] = len(dataset)
            entry["train"] = sorted(dataset.get_split("train"))
            entry["val"] = sorted(dataset.get_split("val"))
            entry["all_infos"] = sorted(dataset.get_all_infos())
            entry["items"] = {
                i: _item(dataset, i, is_frame, annotated) for i in sorted(dataset.get_all_infos())
            }
            report[key] = entry
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
