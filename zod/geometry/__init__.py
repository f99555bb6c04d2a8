"""Pure numpy geometry (no file I/O): poses, fisheye camera, boxes, masks, compensation."""

from __future__ import annotations

from zod.geometry.box import Box2D, Box3D
from zod.geometry.box_set import Box3DSet, BoxProjection
from zod.geometry.fisheye import (
    ImageProjection,
    lidar_to_image,
    points_to_image,
    project,
    project_to_image,
    unproject,
)
from zod.geometry.pose import Pose
from zod.geometry.transforms import interpolate_transforms, invert_transforms, transform_points

__all__ = [
    "Box2D",
    "Box3D",
    "Box3DSet",
    "BoxProjection",
    "ImageProjection",
    "Pose",
    "interpolate_transforms",
    "invert_transforms",
    "lidar_to_image",
    "points_to_image",
    "project",
    "project_to_image",
    "transform_points",
    "unproject",
]
