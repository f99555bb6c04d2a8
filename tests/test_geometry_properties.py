"""Property-based checks (hypothesis) of the geometry invariants."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zod.geometry import fisheye
from zod.geometry.box_set import Box3DSet
from zod.geometry.transforms import (
    apply_rigid,
    invert_transforms,
    make_transforms,
    quaternion_multiply,
    quaternions_from_rotation_matrices,
    rotation_matrices_from_quaternions,
    slerp,
)

finite = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
quaternion = st.tuples(finite, finite, finite, finite).filter(lambda q: np.linalg.norm(q) > 0.1)
translation = st.tuples(*[st.floats(-300, 300, allow_nan=False)] * 3)

DISTORTION = np.array([-0.035, 0.004, -0.0015, 0.0001])
K = np.array([[1100.0, 0, 1920.0, 0], [0, 1100.0, 1090.0, 0], [0, 0, 1, 0]])


@settings(max_examples=200, deadline=None)
@given(quaternion, translation)
def test_rigid_inverse_and_matrix_quaternion_round_trip(q: tuple, t: tuple) -> None:
    rot = rotation_matrices_from_quaternions(np.array(q))
    transform = make_transforms(rot, np.array(t))
    np.testing.assert_allclose(invert_transforms(transform) @ transform, np.eye(4), atol=1e-9)
    q_back = quaternions_from_rotation_matrices(rot)
    np.testing.assert_allclose(rotation_matrices_from_quaternions(q_back), rot, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(quaternion, quaternion, st.floats(0.0, 1.0))
def test_slerp_stays_on_the_arc(q0: tuple, q1: tuple, frac: float) -> None:
    a = np.array(q0) / np.linalg.norm(q0)
    b = np.array(q1) / np.linalg.norm(q1)
    mid = slerp(a, b, frac)
    assert abs(np.linalg.norm(mid) - 1.0) < 1e-12

    # angle(a, mid) + angle(mid, b) == angle(a, b) on the shortest arc
    def angle(x: np.ndarray, y: np.ndarray) -> float:
        return 2 * np.arccos(np.clip(abs(np.dot(x, y)), 0.0, 1.0))

    assert abs(angle(a, mid) + angle(mid, b) - angle(a, b)) < 1e-6
    # composing rotations matches multiplying their matrices
    prod = quaternion_multiply(a, b)
    np.testing.assert_allclose(
        rotation_matrices_from_quaternions(prod),
        rotation_matrices_from_quaternions(a) @ rotation_matrices_from_quaternions(b),
        atol=1e-12,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.0, np.deg2rad(75.0)),
    st.floats(-np.pi, np.pi),
    st.floats(0.5, 250.0),
)
def test_project_unproject_round_trip(theta: float, phi: float, dist: float) -> None:
    p = dist * np.array([[np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]])
    px = fisheye.project(p, K, DISTORTION)
    back = fisheye.unproject(px, K, None, dist, distortion=DISTORTION, exact=True)
    np.testing.assert_allclose(back, p, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(quaternion, translation, st.tuples(*[st.floats(0.2, 10.0)] * 3))
def test_points_in_boxes_matches_local_frame(q: tuple, t: tuple, size: tuple) -> None:
    boxes = Box3DSet([t], [size], [q])
    rng = np.random.default_rng(0)
    local = rng.uniform(-0.75, 0.75, (500, 3)) * np.array(size)
    rot = rotation_matrices_from_quaternions(np.array(q))
    world = apply_rigid(local, rot, np.array(t))
    inside = np.all(np.abs(local) <= np.array(size) / 2 - 1e-6, axis=1)
    outside = np.any(np.abs(local) >= np.array(size) / 2 + 1e-6, axis=1)
    idx = boxes.points_in_boxes(world)
    assert np.all(idx[inside] == 0)
    assert np.all(idx[outside] == -1)
