"""Pose algebra, quaternion conversions and slerp: hand-computed values and round trips."""

from __future__ import annotations

import numpy as np
import pytest
from pyquaternion import Quaternion

from zod.geometry.pose import Pose, compose
from zod.geometry.transforms import (
    interpolate_transforms,
    invert_transforms,
    make_transforms,
    quaternion_multiply,
    quaternions_from_rotation_matrices,
    quaternions_from_yaw,
    rotation_matrices_from_quaternions,
    slerp,
    transform_points,
    yaw_from_quaternions,
)


def _random_quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 0] < 0] *= -1
    return q


def test_quaternion_matrix_round_trip_matches_pyquaternion() -> None:
    q = _random_quats(500)
    rot = rotation_matrices_from_quaternions(q)
    expected = np.array([Quaternion(v).rotation_matrix for v in q])
    np.testing.assert_allclose(rot, expected, atol=1e-12)
    # same sign as pyquaternion's matrix constructor (the reference's Pose.rotation)
    expected_q = np.array([Quaternion(matrix=m).q for m in expected])
    np.testing.assert_allclose(quaternions_from_rotation_matrices(rot), expected_q, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_quaternion_of_half_turns(axis: int) -> None:
    """180 degree rotations (trace = -1) are where naive formulas divide by zero."""
    rot = -np.eye(3)
    rot[axis, axis] = 1.0
    q = quaternions_from_rotation_matrices(rot)
    expected = np.zeros(4)
    expected[1 + axis] = 1.0
    np.testing.assert_allclose(np.abs(q), expected, atol=1e-12)


def test_pose_hand_computed() -> None:
    # rotate 90 degrees about z then translate by (1, 2, 3)
    pose = Pose.from_translation_rotation(
        np.array([1.0, 2.0, 3.0]), Quaternion(axis=[0, 0, 1], angle=np.pi / 2)
    )
    np.testing.assert_allclose(
        pose.apply(np.array([[1.0, 0.0, 0.0]])), [[1.0, 3.0, 3.0]], atol=1e-12
    )
    np.testing.assert_allclose(pose.translation, [1, 2, 3])
    assert pose.rotation == Quaternion(axis=[0, 0, 1], angle=np.pi / 2)
    inv = pose.inverse
    np.testing.assert_allclose(
        inv.apply(np.array([[1.0, 3.0, 3.0]])), [[1.0, 0.0, 0.0]], atol=1e-12
    )
    np.testing.assert_allclose((pose @ inv).transform, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(Pose.identity().transform, np.eye(4))
    # from a rotation matrix (reference signature) and from wxyz
    same = Pose.from_translation_rotation([1, 2, 3], pose.rotation_matrix)
    assert same == pose
    assert Pose.from_translation_rotation([1, 2, 3], pose.rotation.q) == pose


def test_compose_order_and_batch_transform() -> None:
    a = make_transforms(
        rotation_matrices_from_quaternions(_random_quats(1, 1)[0]), [1.0, -2.0, 0.5]
    )
    b = make_transforms(
        rotation_matrices_from_quaternions(_random_quats(1, 2)[0]), [0.0, 3.0, -1.0]
    )
    pts = np.random.default_rng(3).normal(size=(10, 3))
    np.testing.assert_allclose(
        transform_points(pts, compose(a, b)), transform_points(transform_points(pts, b), a)
    )
    np.testing.assert_allclose(invert_transforms(a) @ a, np.eye(4), atol=1e-12)
    per_point = np.repeat(a[None], 10, axis=0)
    np.testing.assert_allclose(transform_points(pts, per_point), transform_points(pts, a))


def test_slerp_endpoints_midpoint_and_shortest_arc() -> None:
    q0 = quaternions_from_yaw(0.0)
    q1 = quaternions_from_yaw(1.0)
    np.testing.assert_allclose(slerp(q0, q1, 0.0), q0, atol=1e-15)
    np.testing.assert_allclose(slerp(q0, q1, 1.0), q1, atol=1e-15)
    np.testing.assert_allclose(yaw_from_quaternions(slerp(q0, q1, 0.25)), 0.25, atol=1e-12)
    # -q1 is the same rotation: slerp must take the short way
    np.testing.assert_allclose(yaw_from_quaternions(slerp(q0, -q1, 0.5)), 0.5, atol=1e-12)
    # nearly identical rotations do not produce NaN
    assert np.all(np.isfinite(slerp(q0, quaternions_from_yaw(1e-12), 0.5)))
    # vectorized, agrees with pyquaternion's slerp
    qa, qb = _random_quats(50, 4), _random_quats(50, 5)
    frac = np.linspace(0, 1, 50)
    ours = slerp(qa, qb, frac)
    ref = np.array(
        [Quaternion.slerp(Quaternion(a), Quaternion(b), f).q for a, b, f in zip(qa, qb, frac)]
    )
    ours *= np.sign(np.sum(ours * ref, axis=1))[:, None]
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_interpolate_transforms_translation_linear_rotation_slerp() -> None:
    t0 = make_transforms(
        rotation_matrices_from_quaternions(quaternions_from_yaw(0.2)), [0.0, 0.0, 0.0]
    )
    t1 = make_transforms(
        rotation_matrices_from_quaternions(quaternions_from_yaw(0.6)), [10.0, -4.0, 2.0]
    )
    mid = interpolate_transforms(t0, t1, 0.5)
    np.testing.assert_allclose(mid[:3, 3], [5.0, -2.0, 1.0])
    np.testing.assert_allclose(
        yaw_from_quaternions(quaternions_from_rotation_matrices(mid[:3, :3])), 0.4, atol=1e-12
    )
    assert Pose(t0).interpolate(Pose(t1), 1.0) == Pose(t1)


def test_quaternion_multiply_matches_pyquaternion() -> None:
    qa, qb = _random_quats(20, 6), _random_quats(20, 7)
    ref = np.array([(Quaternion(a) * Quaternion(b)).q for a, b in zip(qa, qb)])
    np.testing.assert_allclose(quaternion_multiply(qa, qb), ref, atol=1e-12)


def test_pose_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError):
        Pose(np.eye(3))
