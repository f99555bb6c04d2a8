"""``Pose``: a rigid transform (4, 4), compatible with the reference devkit's ``Pose``.

A pose of a sensor "in the ego frame" (the extrinsics of ``calibration.json``) is the transform
``ego_from_sensor``: it maps points measured by the sensor to ego coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyquaternion import Quaternion

from zod.geometry.transforms import (
    as_transform,
    interpolate_transforms,
    invert_transforms,
    make_transforms,
    quaternions_from_rotation_matrices,
    rotation_matrices_from_quaternions,
    transform_points,
)

__all__ = ["Pose", "as_transform", "compose", "invert_transforms", "transform_points"]


@dataclass
class Pose:
    """A rigid transform held as a (4, 4) float64 matrix ``transform``."""

    transform: np.ndarray

    def __post_init__(self) -> None:
        self.transform = as_transform(self.transform)
        if self.transform.shape != (4, 4):
            raise ValueError(f"a Pose needs a (4, 4) matrix, got shape {self.transform.shape}")

    @property
    def translation(self) -> np.ndarray:
        """Translation (3,) (a view into ``transform``, like the reference)."""
        return self.transform[:3, 3]

    @property
    def rotation_matrix(self) -> np.ndarray:
        """Rotation (3, 3) (a view into ``transform``)."""
        return self.transform[:3, :3]

    @property
    def rotation(self) -> Quaternion:
        """Rotation as a pyquaternion ``Quaternion`` (w >= 0)."""
        return Quaternion(array=quaternions_from_rotation_matrices(self.rotation_matrix))

    @property
    def inverse(self) -> Pose:
        """Inverse pose (rigid inverse: exact and cheap)."""
        return Pose(invert_transforms(self.transform))

    @classmethod
    def identity(cls) -> Pose:
        """The identity pose."""
        return cls(np.eye(4))

    @classmethod
    def from_translation_rotation(
        cls, translation: np.ndarray, rotation: np.ndarray | Quaternion
    ) -> Pose:
        """Pose from a translation (3,) and a rotation: (3, 3) matrix, Quaternion or wxyz (4,)."""
        if isinstance(rotation, Quaternion):
            rot = rotation.rotation_matrix
        else:
            rot = np.asarray(rotation, dtype=np.float64)
            if rot.shape == (4,):
                rot = rotation_matrices_from_quaternions(rot)
        return cls(make_transforms(rot, translation))

    def compose(self, other: Pose | np.ndarray) -> Pose:
        """``self @ other``: ``other`` first, then ``self`` (a_from_c = a_from_b @ b_from_c)."""
        return Pose(self.transform @ as_transform(other))

    def __matmul__(self, other: Pose | np.ndarray) -> Pose:
        return self.compose(other)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points (N, 3) -> (N, 3) float64."""
        return transform_points(points, self.transform)

    def interpolate(self, other: Pose, fraction: float) -> Pose:
        """Pose between ``self`` (fraction 0) and ``other`` (1): slerp rotation, lerp position."""
        return Pose(interpolate_transforms(self.transform, other.transform, fraction))

    def copy(self) -> Pose:
        return Pose(self.transform.copy())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pose):
            return NotImplemented
        return bool(np.allclose(self.transform, other.transform))

    __hash__ = None  # type: ignore[assignment]  # mutable, like the reference dataclass


def compose(*transforms: Pose | np.ndarray) -> np.ndarray:
    """Product of (4, 4) transforms, left to right: ``compose(a_from_b, b_from_c)`` is a_from_c."""
    out = np.eye(4)
    for transform in transforms:
        out = out @ as_transform(transform)
    return out
