"""The reference devkit's ``zod.utils.geometry`` module.

Its names are the same objects as in ``zod.geometry.fisheye`` and ``zod.geometry.transforms``
(no copies).
"""

from __future__ import annotations

from zod.geometry.fisheye import (
    get_points_in_camera_fov,
    project_3d_to_2d_kannala,
    unproject_2d_to_3d_kannala,
)
from zod.geometry.transforms import transform_points

__all__ = [
    "get_points_in_camera_fov",
    "project_3d_to_2d_kannala",
    "transform_points",
    "unproject_2d_to_3d_kannala",
]
