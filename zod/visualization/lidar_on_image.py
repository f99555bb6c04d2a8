"""The reference devkit's ``zod.visualization.lidar_on_image`` module.

Its names are the same objects as in ``zod.viz.reference`` (no copies).
"""

from __future__ import annotations

from zod.viz.reference import (
    draw_projections_as_points,
    project_lidar_to_image,
    visualize_lidar_on_image,
)

__all__ = [
    "draw_projections_as_points",
    "project_lidar_to_image",
    "visualize_lidar_on_image",
]
