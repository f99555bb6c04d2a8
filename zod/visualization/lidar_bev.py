"""The reference devkit's ``zod.visualization.lidar_bev`` module.

Its names are the same objects as in ``zod.viz.bev`` (no copies).
"""

from __future__ import annotations

from zod.viz.bev import BEVBox

__all__ = [
    "BEVBox",
]
