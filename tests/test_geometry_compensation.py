"""Motion compensation on arrays: a static world seen from a car on a curve must come out sharp."""

from __future__ import annotations

import numpy as np
import pytest

from zod.ego_motion import EgoMotion, TimeOutOfRangeError
from zod.geometry.compensation import (
    compensate_pointwise,
    compensate_scanwise,
    core_time_from_point_times,
    motion_compensate_pointwise,
    motion_compensate_scanwise,
)
from zod.geometry.pose import Pose
from zod.geometry.transforms import (
    invert_transforms,
    make_transforms,
    quaternions_from_yaw,
    rotation_matrices_from_quaternions,
    transform_points,
)

T0 = 1_644_845_011.0
LIDAR_AXES = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
EGO_FROM_LIDAR = make_transforms(LIDAR_AXES, [1.25, 0.0, 1.95])


def _ego_motion() -> EgoMotion:
    """100 Hz samples over 3 s of a car at 15 m/s turning at 0.3 rad/s."""
    t = T0 + np.arange(301) * 0.01
    yaw = 0.3 * (t - T0)
    trans = np.stack([50 * np.sin(yaw), 50 * (1 - np.cos(yaw)), 0.01 * (t - T0)], axis=1)
    poses = make_transforms(rotation_matrices_from_quaternions(quaternions_from_yaw(yaw)), trans)
    z = np.zeros((len(t), 3))
    return EgoMotion(poses, z, z, z, t, (0.0, 0.0))


def _observe(points_world: np.ndarray, times: np.ndarray, em: EgoMotion) -> np.ndarray:
    """Lidar-frame coordinates of world points each seen at its own time (N,)."""
    lidar_from_world = invert_transforms(em.get_poses(times) @ EGO_FROM_LIDAR)
    return transform_points(points_world, lidar_from_world)


def test_scanwise_hand_computed_translation() -> None:
    # ego moves 1 m forward between source and target: a point 10 m ahead is 9 m ahead later
    source = np.eye(4)
    target = make_transforms(np.eye(3), [1.0, 0.0, 0.0])
    ahead_lidar = np.array([[0.0, 10.0, 0.0]])  # lidar y is ego x
    out = compensate_scanwise(ahead_lidar.astype(np.float32), source, target, EGO_FROM_LIDAR)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 9.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(
        compensate_scanwise(ahead_lidar, source, source, Pose(EGO_FROM_LIDAR)), ahead_lidar
    )


def test_pointwise_makes_a_static_world_sharp() -> None:
    em = _ego_motion()
    rng = np.random.default_rng(0)
    world = rng.uniform([-50, -50, 0], [80, 80, 5], (5000, 3))
    times = T0 + 1.0 + np.sort(rng.uniform(0, 0.1, len(world)))  # one 10 Hz sweep
    seen = _observe(world, times, em).astype(np.float32)
    target_t = T0 + 1.05
    truth = _observe(world, np.full(len(world), target_t), em)
    out = compensate_pointwise(seen, times, em, target_t, EGO_FROM_LIDAR)
    assert np.abs(out - truth).max() < 1e-3  # float32 input at ~100 m
    # scanwise at the right core time is only approximately right (the sweep takes 0.1 s)
    scan = compensate_scanwise(seen, em.get_poses(target_t), em.get_poses(target_t), EGO_FROM_LIDAR)
    assert np.abs(scan - truth).max() > 0.1
    with pytest.raises(TimeOutOfRangeError):
        compensate_pointwise(seen, times + 10.0, em, target_t, EGO_FROM_LIDAR)


class _Scan:
    """Minimal LidarData stand-in (points, timestamps, core_timestamp, copy)."""

    def __init__(self, points: np.ndarray, timestamps: np.ndarray, core: float) -> None:
        self.points, self.timestamps, self.core_timestamp = points, timestamps, core

    def copy(self) -> _Scan:
        return _Scan(self.points.copy(), self.timestamps.copy(), self.core_timestamp)


def test_reference_signature_functions() -> None:
    em = _ego_motion()
    rng = np.random.default_rng(1)
    world = rng.uniform([-30, -30, 0], [30, 30, 3], (1000, 3))
    core = T0 + 0.5
    seen = _observe(world, np.full(len(world), core), em)
    scan = _Scan(seen, np.full(len(world), core), core)
    moved = motion_compensate_scanwise(scan, em, Pose(EGO_FROM_LIDAR), T0 + 2.0)
    np.testing.assert_allclose(
        moved.points, _observe(world, np.full(len(world), T0 + 2.0), em), atol=1e-9
    )
    np.testing.assert_array_equal(scan.points, seen)  # input untouched
    same = motion_compensate_pointwise(scan, em, Pose(EGO_FROM_LIDAR))
    np.testing.assert_allclose(same.points, seen, atol=1e-9)


def test_core_time_rule() -> None:
    assert core_time_from_point_times(np.array([10.0, 10.1, 10.05])) == pytest.approx(10.075)
    assert np.isnan(core_time_from_point_times(np.array([])))


def test_aggregate_scans_leaves_inputs_untouched() -> None:
    from zod.aggregation import aggregate_scans
    from zod.sensors.lidar import LidarData

    em = _ego_motion()
    rng = np.random.default_rng(2)
    scans = []
    for k in range(3):
        core = T0 + 0.5 + 0.1 * k
        n = 100 + k
        scans.append(
            LidarData(
                rng.normal(size=(n, 3)).astype(np.float32),
                np.full(n, core),
                np.zeros(n, np.uint8),
                np.zeros(n, np.uint8),
                core,
            )
        )
    before = [s.copy() for s in scans]
    agg = aggregate_scans(scans, em, EGO_FROM_LIDAR, T0 + 0.6, skip=lambda i, s: i == 0)
    assert len(agg.points) == 303
    for s, b in zip(scans, before):
        assert s == b
    np.testing.assert_array_equal(agg.points[:100], scans[0].points)  # skipped: not moved
    np.testing.assert_allclose(agg.points[100:201], scans[1].points, atol=1e-6)  # already at 0.6
    moved = compensate_scanwise(
        scans[2].points, em.get_poses(T0 + 0.7), em.get_poses(T0 + 0.6), EGO_FROM_LIDAR
    )
    np.testing.assert_allclose(agg.points[201:], moved)
