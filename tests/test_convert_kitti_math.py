"""KITTI maths: hand-computed label, and lidar box -> label text -> lidar box round trip."""

from __future__ import annotations

from typing import Any

import numpy as np

from zod.annotations.object_features import ObjectArrays, parse_object_features
from zod.converters.kitti import (
    KittiCalib,
    boxes_velo_to_lidar,
    camera_boxes_to_velo,
    frame_label_text,
    kitti_calib,
    parse_label,
    velo_from_lidar_rotation,
    velodyne_points,
)
from zod.geometry.transforms import (
    make_transforms,
    quaternions_from_rotation_matrices,
    quaternions_from_yaw,
    rotation_matrices_from_quaternions,
)


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


# lidar: x to the right, y forward, z up (ZOD mounts it with x lateral, y along the vehicle)
LIDAR_ROT = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
# camera: x right, y down, z forward
CAMERA_ROT = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
INTRINSICS = np.array([[1800.0, 0, 1924.0, 0], [0, 1790.0, 1084.0, 0], [0, 0, 1, 0]])


class _Camera:
    intrinsics = INTRINSICS
    distortion = np.array([-0.02, 0.004, -0.001, 0.0001])
    image_dimensions = np.array([3848, 2168])


def _objects(
    centers: np.ndarray,
    yaws: np.ndarray,
    sizes: np.ndarray,
    quaternions: np.ndarray | None = None,
    has_box3d: list[bool] | None = None,
) -> ObjectArrays:
    """Vehicles with these lidar boxes, through the one parse of object features."""
    quats = quaternions_from_yaw(yaws) if quaternions is None else quaternions
    features = []
    for i, (center, size, q) in enumerate(zip(centers, sizes, quats)):
        props: dict[str, Any] = {"annotation_uuid": str(i), "class": "Vehicle", "type": "Car"}
        props["occlusion_ratio"] = "None"
        if has_box3d is None or has_box3d[i]:
            props["location_3d"] = {"type": "Point", "coordinates": center.tolist()}
            props.update(zip(("size_3d_length", "size_3d_width", "size_3d_height"), size))
            props.update(zip(("orientation_3d_qw", "orientation_3d_qx"), q[:2]))
            props.update(zip(("orientation_3d_qy", "orientation_3d_qz"), q[2:]))
        corners = [[10.0, 20.0], [110.0, 20.0], [110.0, 220.0], [10.0, 220.0]]
        features.append(
            {"geometry": {"type": "MultiPoint", "coordinates": corners}, "properties": props}
        )
    return parse_object_features(features)


def test_hand_computed_label() -> None:
    ego_from_lidar = make_transforms(LIDAR_ROT, np.array([1.5, 0.0, 2.0]))
    ego_from_camera = make_transforms(CAMERA_ROT, np.array([2.0, 0.0, 1.5]))
    calib, velo_from_lidar = kitti_calib(ego_from_lidar, ego_from_camera, INTRINSICS)
    np.testing.assert_allclose(
        velo_from_lidar, LIDAR_ROT, atol=1e-12
    )  # no tilt: velo axes = ego axes
    # a car 10 m ahead, length along the road (lidar y), 4.5 x 1.8 x 1.6 m
    objects = _objects(
        np.array([[0.0, 10.0, 0.0]]), np.array([np.pi / 2]), np.array([[4.5, 1.8, 1.6]])
    )
    text = frame_label_text(objects, calib, velo_from_lidar, _Camera())
    fields = text.split()
    assert fields[0] == "Vehicle" and fields[2] == "0"
    assert fields[4:8] == ["10.00", "20.00", "110.00", "220.00"]
    np.testing.assert_allclose([float(v) for v in fields[8:11]], [1.6, 1.8, 4.5])
    # bottom centre: ego (11.5, 0, 1.2) -> camera x = 0, y = -(1.2 - 1.5) = 0.3, z = 9.5
    np.testing.assert_allclose([float(v) for v in fields[11:14]], [0.0, 0.3, 9.5], atol=1e-6)
    np.testing.assert_allclose(float(fields[14]), -np.pi / 2, atol=1e-6)  # facing along camera z
    np.testing.assert_allclose(float(fields[3]), -np.pi / 2, atol=1e-6)  # alpha, straight ahead
    assert float(fields[1]) == 0.0  # fully inside the image
    # P2 is the pinhole approximation of the fisheye at its centre
    np.testing.assert_allclose(calib.P, INTRINSICS)


def test_round_trip_recovers_lidar_boxes() -> None:
    rng = np.random.default_rng(7)
    # tilted lidar and camera; boxes upright in the ego (= velo) frame, like the annotations
    lidar_rot = _rot_x(0.02) @ _rot_y(-0.015) @ LIDAR_ROT
    camera_rot = _rot_y(0.03) @ CAMERA_ROT @ _rot_x(-0.01)
    ego_from_lidar = make_transforms(lidar_rot, np.array([1.4, 0.05, 1.95]))
    ego_from_camera = make_transforms(camera_rot, np.array([2.1, -0.02, 1.45]))
    calib, velo_from_lidar = kitti_calib(ego_from_lidar, ego_from_camera, INTRINSICS)
    n = 50
    centers = np.column_stack(
        [rng.uniform(-30, 30, n), rng.uniform(2, 245, n), rng.uniform(-2.5, 1, n)]
    )
    yaws = rng.uniform(-np.pi, np.pi, n)
    sizes = np.column_stack(
        [rng.uniform(0.5, 18, n), rng.uniform(0.4, 3, n), rng.uniform(0.5, 4, n)]
    )
    quats_lidar = quaternions_from_rotation_matrices(
        velo_from_lidar.T @ rotation_matrices_from_quaternions(quaternions_from_yaw(yaws))
    )
    objects = _objects(centers, yaws, sizes, quats_lidar)
    text = frame_label_text(objects, calib, velo_from_lidar, _Camera())
    # read back through the calib file text too
    calib_back = KittiCalib.from_text(calib.to_text())
    label = parse_label(text)
    assert len(label.types) == n
    centers_velo, sizes_lwh, yaw_velo = camera_boxes_to_velo(
        label.location_cam, label.dimensions_hwl, label.rotation_y, calib_back.cam_from_velo
    )
    centers_back, quats_back = boxes_velo_to_lidar(centers_velo, yaw_velo, velo_from_lidar)
    np.testing.assert_allclose(centers_back, centers, atol=1e-4)
    np.testing.assert_allclose(sizes_lwh, sizes, atol=1e-4)
    # the recovered rotations are the originals (up to the quaternion sign): angle < 1e-4 rad
    dots = np.clip(np.abs(np.sum(quats_back * quats_lidar, axis=1)), 0, 1)
    assert (2 * np.arccos(dots)).max() < 1e-4
    yaw_velo_back = np.arctan2(
        *(velo_from_lidar @ rotation_matrices_from_quaternions(quats_back))[:, [1, 0], 0].T
    )
    assert np.abs(np.angle(np.exp(1j * (yaw_velo_back - yaws)))).max() < 1e-4
    # alpha = rotation_y - atan2(x, z)
    expected_alpha = np.angle(
        np.exp(
            1j * (label.rotation_y - np.arctan2(label.location_cam[:, 0], label.location_cam[:, 2]))
        )
    )
    np.testing.assert_allclose(label.alpha, expected_alpha, atol=2e-6)


def test_velo_frame_is_forward_left_up() -> None:
    ego_from_lidar = make_transforms(_rot_x(0.02) @ LIDAR_ROT, np.array([1.5, 0, 2]))
    velo_from_lidar = velo_from_lidar_rotation(ego_from_lidar)
    # a point straight ahead of the car (ego +x) seen by the lidar
    forward_lidar = ego_from_lidar[:3, :3].T @ np.array([10.0, 0, 0])
    left_lidar = ego_from_lidar[:3, :3].T @ np.array([0, 10.0, 0])
    points = velodyne_points(
        np.stack([forward_lidar, left_lidar]), np.array([255, 51]), velo_from_lidar
    )
    assert points.dtype == np.float32 and points.shape == (2, 4)
    assert points[0, 0] > 9.99 and abs(points[0, 1]) < 1e-4
    assert points[1, 1] > 9.99 and abs(points[1, 0]) < 1e-4
    np.testing.assert_allclose(points[:, 3], [1.0, 0.2], rtol=1e-6)
    # z up: a point 2 m above the lidar in ego terms is 2 m up in velo
    up = velodyne_points(
        (ego_from_lidar[:3, :3].T @ np.array([0, 0, 2.0]))[None], np.zeros(1), velo_from_lidar
    )
    np.testing.assert_allclose(up[0, :3], [0, 0, 2], atol=1e-6)


def test_objects_without_3d_box_are_dontcare() -> None:
    ego_from_lidar = make_transforms(LIDAR_ROT, np.array([1.5, 0.0, 2.0]))
    ego_from_camera = make_transforms(CAMERA_ROT, np.array([2.0, 0.0, 1.5]))
    calib, velo_from_lidar = kitti_calib(ego_from_lidar, ego_from_camera, INTRINSICS)
    objects = _objects(
        np.array([[0.0, 10.0, 0.0], [0, 0, 0]]), np.zeros(2), np.ones((2, 3)), None, [True, False]
    )
    lines = frame_label_text(objects, calib, velo_from_lidar, _Camera()).splitlines()
    assert lines[1].split() == [
        "DontCare",
        "-1.00",
        "-1",
        "-10.000000",
        "10.00",
        "20.00",
        "110.00",
        "220.00",
        "-1.000000",
        "-1.000000",
        "-1.000000",
        "-1000.000000",
        "-1000.000000",
        "-1000.000000",
        "-10.000000",
    ]
