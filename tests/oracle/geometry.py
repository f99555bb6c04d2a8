"""Run with the reference devkit's python: its geometry on the inputs of test_geometry_oracle.py.

Usage: python geometry.py INPUTS.npz CALIBRATION.json EGO_MOTION.json OUTPUTS.npz
"""

import json
import sys

import numpy as np
from pyquaternion import Quaternion

from zod.constants import EGO, Camera, Lidar
from zod.data_classes.box import Box3D
from zod.data_classes.calibration import Calibration
from zod.data_classes.ego_motion import EgoMotion
from zod.data_classes.sensor import LidarData
from zod.utils.compensation import motion_compensate_pointwise, motion_compensate_scanwise
from zod.utils.geometry import (
    get_points_in_camera_fov,
    project_3d_to_2d_kannala,
    transform_points,
    unproject_2d_to_3d_kannala,
)
from zod.utils.polygon_transformations import polygons_to_binary_mask

inp = np.load(sys.argv[1], allow_pickle=True)
calib = Calibration.from_json_path(sys.argv[2])
cam = calib.cameras[Camera.FRONT]
out = {}
out["project"] = project_3d_to_2d_kannala(inp["points_cam"], cam.intrinsics, cam.distortion)
out["unproject"] = unproject_2d_to_3d_kannala(
    inp["pixels"], cam.intrinsics, cam.undistortion, inp["depth"]
)
out["transform"] = transform_points(inp["points_cam"], inp["matrix"])
out["fov_mask"] = get_points_in_camera_fov(cam.field_of_view, inp["points_cam"])[1]
out["to_ego"] = calib.transform_points(inp["points_lidar"], Lidar.VELODYNE, EGO)
corners, pixels, centers, quats = [], [], [], []
for c, s, q in zip(inp["centers"], inp["sizes"], inp["quats"]):
    box = Box3D(c.copy(), s.copy(), Quaternion(*q), Lidar.VELODYNE)
    corners.append(box.corners)
    box.convert_to(Camera.FRONT, calib)
    centers.append(box.center)
    quats.append(box.orientation.q)
    pixels.append(box.project_into_camera(calib))
out["corners"], out["box_pixels"] = np.array(corners), np.array(pixels)
out["cam_centers"], out["cam_quats"] = np.array(centers), np.array(quats)
em = EgoMotion.from_json_path(sys.argv[3])
out["poses"] = em.get_poses(inp["times"])
out["pose_scalar"] = em.get_poses(float(inp["times"][1]))
out["interp_acc"] = em.interpolate(inp["times"]).accelerations
lidar = LidarData(
    points=inp["scan_points"],
    timestamps=inp["scan_times"],
    intensity=np.zeros(len(inp["scan_times"]), np.uint8),
    diode_idx=np.zeros(len(inp["scan_times"]), np.uint8),
    core_timestamp=float(inp["scan_core"]),
)
lidar_calib = calib.lidars[Lidar.VELODYNE]
out["scanwise"] = motion_compensate_scanwise(lidar, em, lidar_calib, float(inp["target"])).points
out["pointwise"] = motion_compensate_pointwise(lidar, em, lidar_calib, float(inp["target"])).points
polys = json.loads(str(inp["polygons"]))
out["binary_mask"] = polygons_to_binary_mask(polys, (300, 400))
np.savez(sys.argv[4], **out)
