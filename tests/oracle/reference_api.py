"""Run with the reference devkit's python (or ours): the per-object API on every sample frame.

Prints JSON: per frame, per object, every attribute (value and type name), the boxes as read,
the orientation before and after ``corners`` (pyquaternion normalises in place), after
``convert_to`` the camera (centre, orientation, pixels) and back through ego to the lidar; then
hand-made boxes with non-unit quaternions. test_lazy_boxes.py compares both runs.

Usage: python reference_api.py DATASET_ROOT
"""

import json
import sys

import numpy as np
from pyquaternion import Quaternion

from zod import ZodFrames
from zod.constants import EGO, AnnotationProject, Camera, Lidar
from zod.data_classes.box import Box3D

ATTRS = (
    "unclear",
    "name",
    "uuid",
    "object_type",
    "occlusion_level",
    "artificial",
    "with_rider",
    "emergency",
    "traffic_content_visible",
)


def floats(values):
    return [float(v) for v in np.asarray(values).ravel()]


def box_report(box, calib):
    rep = {
        "type": type(box).__name__,
        "orientation_type": type(box.orientation).__name__,
        "center": floats(box.center),
        "size": floats(box.size),
        "q_read": floats(box.orientation.q),
        "frame": str(box.frame),
    }
    rep["corners"] = floats(box.corners)
    rep["q_after_corners"] = floats(box.orientation.q)
    cam = box.copy()
    cam.convert_to(Camera.FRONT, calib)
    rep["cam_center"] = floats(cam.center)
    rep["cam_q"] = floats(cam.orientation.q)
    rep["cam_frame"] = str(cam.frame)
    rep["pixels"] = floats(cam.project_into_camera(calib))
    rep["cam_q_after_projection"] = floats(cam.orientation.q)
    cam.convert_to(EGO, calib)
    rep["ego_center"] = floats(cam.center)
    rep["ego_q"] = floats(cam.orientation.q)
    cam.convert_to(Lidar.VELODYNE, calib)
    rep["back_center"] = floats(cam.center)
    rep["back_q"] = floats(cam.orientation.q)
    rep["equal_to_copy"] = bool(box == box.copy())
    return rep


frames = ZodFrames(sys.argv[1], "full")
report = {}
calib = None
for frame_id in sorted(frames.get_all_ids()):
    frame = frames[frame_id]
    calib = frame.calibration
    objects = []
    for obj in frame.get_annotation(AnnotationProject.OBJECT_DETECTION):
        rep = {
            name: [repr(getattr(obj, name)), type(getattr(obj, name)).__name__] for name in ATTRS
        }
        rep["subclass"] = obj.subclass
        rep["box2d"] = floats(obj.box2d.xyxy)
        rep["box2d_dtype"] = str(obj.box2d.xyxy.dtype)
        rep["box2d_frame"] = str(obj.box2d.frame)
        rep["box3d"] = None if obj.box3d is None else box_report(obj.box3d, calib)
        objects.append(rep)
    report[frame_id] = objects

hand = []
for q in (
    [2.0, 0.0, 0.0, 0.0],
    [0.9, 0.1, -0.2, 0.3],
    [0.0, 0.0, 0.0, -1.0],
    [-0.5, 0.5, 0.5, 0.5],
):
    box = Box3D(
        np.array([3.0, 20.0, 0.5]), np.array([4.0, 2.0, 1.5]), Quaternion(q), Lidar.VELODYNE
    )
    hand.append(box_report(box, calib))
report["hand"] = hand
json.dump(report, sys.stdout)
