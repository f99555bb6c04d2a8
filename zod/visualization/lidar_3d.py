"""The reference devkit's ``zod.visualization.lidar_3d`` module.

Its names are the same objects as in ``zod.viz.open3d_viz`` (no copies).
"""

from __future__ import annotations

from zod.viz.open3d_viz import Viz3D

__all__ = [
    "Viz3D",
]
