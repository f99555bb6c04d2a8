"""Calibration parsing and frame changes; EgoMotion reading and interpolation."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from zod.calibration import Calibration, MissingCalibrationError
from zod.constants import EGO, Camera, Lidar, Radar
from zod.ego_motion import EgoMotion, TimeOutOfRangeError
from zod.errors import FormatError, MissingFileError, ZodError
from zod.geometry.transforms import (
    make_transforms,
    quaternions_from_rotation_matrices,
    quaternions_from_yaw,
    rotation_matrices_from_quaternions,
    yaw_from_quaternions,
)

CAMERA_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
LIDAR_AXES = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _calib_dict(camel: bool = False, radar: bool = False) -> dict:
    fc = {
        "extrinsics": make_transforms(CAMERA_AXES, [2.0, 0.0, 1.5]).tolist(),
        "intrinsics": [[1800.0, 0, 1920.0, 0], [0, 1800.0, 1090.0, 0], [0, 0, 1, 0]],
        "distortion": [-0.03, 0.004, -0.001, 0.0001],
        "undistortion": [0.03, 0.001, 0.0, 0.0],
        "image_dimensions" if not camel else "imageDimensions": [3848, 2168],
        "field_of_view" if not camel else "fieldOfView": [120.0, 68.0],
        "lidar_extrinsics" if not camel else "lidarExtrinsics": make_transforms(
            LIDAR_AXES, [1.0, 0.0, 2.0]
        ).tolist(),
    }
    if radar:
        fc["radar_extrinsics"] = make_transforms(np.eye(3), [3.8, 0.0, 0.5]).tolist()
    return {"FC": fc}


def test_calibration_parses_both_key_cases(tmp_path: Path) -> None:
    snake = Calibration.from_dict(_calib_dict())
    camel_path = tmp_path / "calibration.json"
    camel_path.write_text(json.dumps(_calib_dict(camel=True)))
    camel = Calibration.from_json_path(camel_path)
    for calib in (snake, camel):
        cam = calib.cameras[Camera.FRONT]
        np.testing.assert_array_equal(cam.image_dimensions, [3848, 2168])
        np.testing.assert_allclose(cam.field_of_view, [120.0, 68.0])
        assert cam.intrinsics.shape == (3, 4)
        np.testing.assert_allclose(cam.principal_point, [1920.0, 1090.0])
        np.testing.assert_allclose(
            calib.lidars[Lidar.VELODYNE].extrinsics.translation, [1.0, 0.0, 2.0]
        )
        assert calib.radars is None
    # written back in snake_case, read again: the same
    again = Calibration.from_dict(camel.to_dict())
    assert again == camel == snake
    assert again != Calibration.from_dict(_calib_dict(radar=True))
    np.testing.assert_allclose(
        again.get_transform(Lidar.VELODYNE, Camera.FRONT),
        camel.get_transform(Lidar.VELODYNE, Camera.FRONT),
    )


def test_transform_points_hand_computed() -> None:
    calib = Calibration.from_dict(_calib_dict(radar=True))
    # a point 10 m ahead of the camera at camera height: camera (0, 0, 8)... camera is at x = 2
    p_ego = np.array([[10.0, 1.0, 1.5]])
    np.testing.assert_allclose(
        calib.transform_points(p_ego, EGO, Camera.FRONT), [[-1.0, 0.0, 8.0]], atol=1e-12
    )
    # lidar: x right (= -y ego), y forward (= x ego), origin (1, 0, 2)
    np.testing.assert_allclose(
        calib.transform_points(p_ego, EGO, Lidar.VELODYNE), [[-1.0, 9.0, -0.5]], atol=1e-12
    )
    p_lidar = calib.transform_points(p_ego, EGO, Lidar.VELODYNE)
    np.testing.assert_allclose(
        calib.transform_points(p_lidar, Lidar.VELODYNE, Camera.FRONT),
        [[-1.0, 0.0, 8.0]],
        atol=1e-12,
    )
    np.testing.assert_allclose(
        calib.transform_points(p_ego, EGO, Radar.FRONT), [[6.2, 1.0, 1.0]], atol=1e-12
    )
    assert calib.transform_points(p_ego, EGO, EGO) is p_ego
    # chained frames agree with the fused transform, and inverse directions invert
    fused = calib.get_transform(Lidar.VELODYNE, Radar.FRONT)
    np.testing.assert_allclose(
        fused @ calib.get_transform(Radar.FRONT, Lidar.VELODYNE), np.eye(4), atol=1e-12
    )


def test_radar_missing_names_the_release() -> None:
    calib = Calibration.from_dict(_calib_dict())
    with pytest.raises(MissingCalibrationError, match="newer releases") as info:
        calib.get_extrinsics(Radar.FRONT)
    assert isinstance(info.value, ZodError) and isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="unknown coordinate frame"):
        calib.get_extrinsics("nowhere")  # type: ignore[arg-type]


def test_calibration_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="calibration"):
        Calibration.from_json_path(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FormatError, match="malformed JSON"):
        Calibration.from_json_path(bad)
    broken = _calib_dict()
    del broken["FC"]["lidar_extrinsics"]
    with pytest.raises(FormatError, match="lidar_extrinsics"):
        Calibration.from_dict(broken)
    broken = _calib_dict()
    broken["FC"]["extrinsics"] = [[1, 0], [0, 1]]
    with pytest.raises(FormatError, match="shape"):
        Calibration.from_dict(broken)
    with pytest.raises(FormatError, match="FC"):
        Calibration.from_dict({"XX": {}})


# --------------------------------------------------------------------------- ego motion
T0 = 1_644_845_011.25


def _ego_motion(n: int = 21, dt: float = 0.1) -> EgoMotion:
    """A car driving at 10 m/s along a circle: yaw rate 0.2 rad/s."""
    t = T0 + np.arange(n) * dt
    yaw = 0.2 * (t - T0)
    radius = 50.0
    trans = np.stack([radius * np.sin(yaw), radius * (1 - np.cos(yaw)), np.zeros(n)], axis=1)
    poses = make_transforms(rotation_matrices_from_quaternions(quaternions_from_yaw(yaw)), trans)
    vel = np.tile([10.0, 0.0, 0.0], (n, 1))
    acc = np.stack([np.zeros(n), np.full(n, 2.0), np.arange(n, dtype=float)], axis=1)
    rates = np.tile([0.0, 0.0, 0.2], (n, 1))
    return EgoMotion(poses, vel, acc, rates, t, (57.7, 11.9))


def test_get_poses_exact_interpolated_scalar_array() -> None:
    em = _ego_motion()
    # exact hits return the stored pose
    np.testing.assert_array_equal(em.get_poses(em.timestamps[3]), em.poses[3])
    np.testing.assert_array_equal(em.get_poses(em.timestamps), em.poses)
    np.testing.assert_array_equal(em.get_poses(em.timestamps[-1]), em.poses[-1])
    # midway: slerped yaw, linear translation
    t = T0 + 0.25
    pose = em.get_poses(t)
    assert pose.shape == (4, 4)
    yaw = yaw_from_quaternions(quaternions_from_rotation_matrices(pose[:3, :3]))
    assert yaw == pytest.approx(0.2 * 0.25, abs=1e-7)
    np.testing.assert_allclose(
        pose[:3, 3], 0.5 * (em.poses[2, :3, 3] + em.poses[3, :3, 3]), atol=1e-6
    )
    times = np.array([T0 + 0.05, T0 + 1.0, T0 + 1.95])
    poses = em.get_poses(times)
    assert poses.shape == (3, 4, 4)
    np.testing.assert_allclose(poses[1], em.poses[10])
    # mixed exact / non-exact in one call
    mixed = em.get_poses(np.array([em.timestamps[0], T0 + 0.05]))
    np.testing.assert_array_equal(mixed[0], em.poses[0])
    np.testing.assert_allclose(mixed[1], poses[0])
    # rotations stay orthonormal
    rot = poses[:, :3, :3]
    np.testing.assert_allclose(
        rot @ np.swapaxes(rot, 1, 2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12
    )


def test_get_poses_out_of_range_is_an_error() -> None:
    em = _ego_motion()
    with pytest.raises(TimeOutOfRangeError, match="outside"):
        em.get_poses(T0 - 0.001)
    with pytest.raises(TimeOutOfRangeError):
        em.get_poses(np.array([T0, em.timestamps[-1] + 1e-3]))


def test_interpolate_all_fields() -> None:
    em = _ego_motion()
    sub = em.interpolate(np.array([T0 + 0.05, T0 + 0.3]))
    assert len(sub) == 2
    np.testing.assert_allclose(sub.accelerations[:, 2], [0.5, 3.0])
    np.testing.assert_allclose(sub.velocities, [[10.0, 0, 0]] * 2)
    np.testing.assert_allclose(sub.poses[1], em.poses[3])
    assert sub.origin_lat_lon == em.origin_lat_lon


def test_json_round_trip_and_camel_case(tmp_path: Path) -> None:
    em = _ego_motion()
    data = em.to_json()
    path = tmp_path / "ego_motion.json"
    path.write_text(json.dumps(data))
    back = EgoMotion.from_json_path(path)
    np.testing.assert_allclose(back.poses, em.poses)
    np.testing.assert_array_equal(back.timestamps, em.timestamps)
    assert back.origin_lat_lon == (57.7, 11.9)
    data["angularRates"] = data.pop("angular_rates")
    data["originLatLon"] = data.pop("origin_lat_lon")
    path.write_text(json.dumps(data))
    np.testing.assert_allclose(EgoMotion.from_json_path(path).angular_rates, em.angular_rates)
    del data["poses"]
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match="poses"):
        EgoMotion.from_json_path(path)
    with pytest.raises(MissingFileError, match="ego motion"):
        EgoMotion.from_json_path(tmp_path / "nope.json")


def test_oxts_epoch_rule(tmp_path: Path) -> None:
    n = 5
    gps_seconds = 1_328_880_000.0 + np.arange(n) * 0.01
    leap = np.full(n, 18.0)
    path = tmp_path / "oxts.hdf5"
    poses = np.repeat(np.eye(4)[None], n, axis=0)
    poses[:, 0, 3] = np.arange(n)
    with h5py.File(path, "w") as f:
        f["poses"] = poses
        f["timestamp"] = gps_seconds
        f["leapSeconds"] = leap
        for name in (
            "velForward",
            "velLateral",
            "velDown",
            "accelerationX",
            "accelerationY",
            "accelerationZ",
            "angularRateX",
            "angularRateY",
            "angularRateZ",
        ):
            f[name] = np.arange(n, dtype=float) + 1
        f["posLat"] = np.linspace(57.0, 57.1, n)
        f["posLon"] = np.linspace(12.0, 12.1, n)
    em = EgoMotion.from_oxts_path(path)
    np.testing.assert_allclose(em.timestamps, 315964800.0 + gps_seconds + 18.0)
    np.testing.assert_allclose(em.velocities[1], [2.0, 2.0, -2.0])
    assert em.origin_lat_lon == (57.0, 12.0)
    np.testing.assert_allclose(
        em.get_poses(em.timestamps[0] + 0.015)[0, 3], 1.5, atol=1e-4
    )  # epoch float64 resolution ~2e-7 s
    with pytest.raises(MissingFileError, match="oxts"):
        EgoMotion.from_oxts_path(tmp_path / "none.hdf5")


def test_edge_cases_single_sample_empty_times_unsorted_file() -> None:
    one = EgoMotion(
        np.eye(4)[None],
        np.zeros((1, 3)),
        np.zeros((1, 3)),
        np.zeros((1, 3)),
        np.array([5.0]),
        (0.0, 0.0),
    )
    np.testing.assert_array_equal(one.get_poses(5.0), np.eye(4))
    assert one.get_poses(np.array([])).shape == (0, 4, 4)
    with pytest.raises(TimeOutOfRangeError):
        one.get_poses(5.1)
    # samples stored out of order (and one duplicate) are sorted on reading
    em = _ego_motion()
    data = em.to_json()
    order = [3, 0, 1, 2, 2] + list(range(4, len(em)))
    for key in ("poses", "velocities", "accelerations", "angular_rates", "timestamps"):
        data[key] = [data[key][i] for i in order]
    back = EgoMotion.from_dict(data)
    np.testing.assert_array_equal(back.timestamps, em.timestamps)
    np.testing.assert_allclose(back.get_poses(T0 + 0.15), em.get_poses(T0 + 0.15))


def test_poses_edited_in_place_are_used() -> None:
    em = _ego_motion()
    before = em.get_poses(T0 + 0.05)
    em.poses[0, :3, 3] += [1.0, 0.0, 0.0]
    em.poses[1, :3, 3] += [1.0, 0.0, 0.0]
    after = em.get_poses(T0 + 0.05)
    np.testing.assert_allclose(after[:3, 3] - before[:3, 3], [1.0, 0.0, 0.0], atol=1e-9)
