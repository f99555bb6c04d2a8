"""The reference devkit's ``zod.visualization.object_visualization`` module.

Its names are the same objects as in ``zod.viz.reference`` (no copies).
"""

from __future__ import annotations

from zod.viz.reference import (
    overlay_object_2d_box_on_image,
    overlay_object_3d_box_on_image,
    overlay_object_properties_on_image,
)

__all__ = [
    "overlay_object_2d_box_on_image",
    "overlay_object_3d_box_on_image",
    "overlay_object_properties_on_image",
]
