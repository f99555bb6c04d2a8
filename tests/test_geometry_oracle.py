"""Our geometry against the reference devkit (zod==0.8.0) run in its own venv on random inputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from pyquaternion import Quaternion

from zod.calibration import Calibration
from zod.constants import EGO, Camera, Lidar
from zod.ego_motion import EgoMotion
from zod.geometry import fisheye, masks
from zod.geometry.box import Box3D
from zod.geometry.box_set import Box3DSet
from zod.geometry.compensation import motion_compensate_pointwise, motion_compensate_scanwise
from zod.geometry.transforms import (
    make_transforms,
    quaternions_from_yaw,
    rotation_matrices_from_quaternions,
)

ORACLE_SCRIPT = Path(__file__).parent / "oracle" / "geometry.py"


def _calibration_dict() -> dict:
    distortion = np.array([-0.035, 0.004, -0.0015, 0.0001])
    cam_rot = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    tilt = rotation_matrices_from_quaternions(Quaternion(axis=[0, 1, 0], angle=0.026).q)
    lidar_rot = rotation_matrices_from_quaternions(quaternions_from_yaw(-np.pi / 2 + 0.007))
    return {
        "FC": {
            "extrinsics": make_transforms(tilt @ cam_rot, [1.9, 0.02, 1.45]).tolist(),
            "intrinsics": [[1700.0, 0, 1919.7, 0], [0, 1700.5, 1090.7, 0], [0, 0, 1, 0]],
            "distortion": distortion.tolist(),
            "undistortion": fisheye.fit_undistortion(distortion).tolist(),
            "image_dimensions": [3848, 2168],
            "field_of_view": [120.0, 68.0],
            "lidar_extrinsics": make_transforms(lidar_rot, [1.25, 0.0, 1.95]).tolist(),
        }
    }


def _ego_motion_json(t0: float) -> dict:
    t = t0 + np.arange(201) * 0.01
    yaw = 0.25 * (t - t0) + 0.1
    trans = np.stack([12 * (t - t0), 0.5 * (t - t0) ** 2, 0.02 * (t - t0)], axis=1)
    poses = make_transforms(rotation_matrices_from_quaternions(quaternions_from_yaw(yaw)), trans)
    acc = np.stack([np.sin(t - t0), np.cos(t - t0), t - t0], axis=1)
    return {
        "poses": poses.tolist(),
        "velocities": np.zeros((len(t), 3)).tolist(),
        "accelerations": acc.tolist(),
        "angular_rates": np.zeros((len(t), 3)).tolist(),
        "timestamps": t.tolist(),
        "origin_lat_lon": [57.7, 11.9],
    }


def test_agrees_with_reference(tmp_path: Path, oracle_python: Path) -> None:
    rng = np.random.default_rng(42)
    calib_path = tmp_path / "calibration.json"
    calib_path.write_text(json.dumps(_calibration_dict()))
    t0 = 1_644_845_011.0
    ego_path = tmp_path / "ego_motion.json"
    ego_path.write_text(json.dumps(_ego_motion_json(t0)))
    calib = Calibration.from_json_path(calib_path)
    em = EgoMotion.from_json_path(ego_path)

    n = 2000
    theta = rng.uniform(0.01, np.deg2rad(70), n)
    phi = rng.uniform(-np.pi, np.pi, n)
    dist = rng.uniform(0.5, 250, n)
    points_cam = (
        np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1)
        * dist[:, None]
    )
    points_cam[:50, 2] *= -1  # some behind the camera
    pixels = rng.uniform([0, 0], [3848, 2168], (n, 2))
    depth = rng.uniform(0.5, 250, n)
    matrix = make_transforms(
        rotation_matrices_from_quaternions(Quaternion.random().q), rng.normal(size=3)
    )
    points_lidar = rng.uniform(-100, 100, (n, 3))
    nb = 20
    centers = rng.uniform([-20, 5, -1], [20, 120, 1], (nb, 3))
    sizes = rng.uniform([0.5, 0.5, 1.0], [12, 3, 4], (nb, 3))
    quats = np.array([Quaternion.random().q for _ in range(nb)])
    times = np.sort(rng.uniform(t0, t0 + 2.0, 30))
    times[0] = t0 + 0.5  # an exact sample time
    scan_times = t0 + 0.8 + np.sort(rng.uniform(0, 0.1, n))
    polygons = [
        [
            [[10, 10], [200, 12], [190, 150], [15, 140]],
            [[50, 50], [100, 50], [100, 100], [50, 100]],
        ],
        [[[300.7, 200.2], [390.1, 210.9], [350.5, 290.3]]],
    ]
    inputs = tmp_path / "inputs.npz"
    np.savez(
        inputs,
        points_cam=points_cam,
        pixels=pixels,
        depth=depth,
        matrix=matrix,
        points_lidar=points_lidar,
        centers=centers,
        sizes=sizes,
        quats=quats,
        times=times,
        scan_points=points_lidar.astype(np.float32),
        scan_times=scan_times,
        scan_core=t0 + 0.8,
        target=t0 + 1.3,
        polygons=json.dumps(polygons),
    )
    outputs = tmp_path / "outputs.npz"
    proc = subprocess.run(
        [
            str(oracle_python),
            "-I",
            str(ORACLE_SCRIPT),
            str(inputs),
            str(calib_path),
            str(ego_path),
            str(outputs),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = np.load(outputs)
    cam = calib.cameras[Camera.FRONT]

    np.testing.assert_allclose(
        fisheye.project(points_cam, cam.intrinsics, cam.distortion),
        ref["project"],
        rtol=1e-12,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        fisheye.unproject(pixels, cam.intrinsics, cam.undistortion, depth),
        ref["unproject"],
        atol=1e-9,
    )
    from zod.geometry.transforms import transform_points

    np.testing.assert_allclose(transform_points(points_cam, matrix), ref["transform"], atol=1e-9)
    np.testing.assert_array_equal(
        fisheye.in_field_of_view(points_cam, cam.field_of_view), ref["fov_mask"]
    )
    np.testing.assert_allclose(
        calib.transform_points(points_lidar, Lidar.VELODYNE, EGO), ref["to_ego"], atol=1e-9
    )

    boxes = Box3DSet(centers, sizes, quats, Lidar.VELODYNE)
    np.testing.assert_allclose(boxes.corners(), ref["corners"], atol=1e-9)
    cam_boxes = boxes.convert_to(Camera.FRONT, calib)
    np.testing.assert_allclose(cam_boxes.centers_m, ref["cam_centers"], atol=1e-9)
    ref_q = (
        ref["cam_quats"]
        * np.sign(np.sum(ref["cam_quats"] * cam_boxes.quaternions_wxyz, axis=1))[:, None]
    )
    np.testing.assert_allclose(cam_boxes.quaternions_wxyz, ref_q, atol=1e-9)
    np.testing.assert_allclose(boxes.project(calib).pixels, ref["box_pixels"], atol=1e-6)
    single = Box3D(centers[0], sizes[0], Quaternion(quats[0]), Lidar.VELODYNE).convert_to(
        Camera.FRONT, calib
    )
    np.testing.assert_allclose(single.project_into_camera(calib), ref["box_pixels"][0], atol=1e-6)

    np.testing.assert_allclose(em.get_poses(times), ref["poses"], atol=1e-9)
    np.testing.assert_allclose(em.get_poses(float(times[1])), ref["pose_scalar"], atol=1e-9)
    np.testing.assert_allclose(em.interpolate(times).accelerations, ref["interp_acc"], atol=1e-9)

    scan = _Scan(points_lidar.astype(np.float32), scan_times, t0 + 0.8)
    ours_scan = motion_compensate_scanwise(scan, em, calib.lidars[Lidar.VELODYNE], t0 + 1.3).points
    np.testing.assert_allclose(ours_scan, ref["scanwise"], atol=2e-5)  # ours stays float32
    ours_point = motion_compensate_pointwise(
        scan, em, calib.lidars[Lidar.VELODYNE], t0 + 1.3
    ).points
    np.testing.assert_allclose(ours_point, ref["pointwise"], atol=2e-5)

    np.testing.assert_array_equal(
        masks.polygons_to_binary_mask(polygons, (300, 400)), ref["binary_mask"]
    )


class _Scan:
    def __init__(self, points: np.ndarray, timestamps: np.ndarray, core: float) -> None:
        self.points, self.timestamps, self.core_timestamp = points, timestamps, core

    def copy(self) -> _Scan:
        return _Scan(self.points.copy(), self.timestamps.copy(), self.core_timestamp)
