"""The reference devkit's ``zod.visualization.polygon_utils`` module.

Its names are the same objects as in ``zod.viz.reference`` (no copies).
"""

from __future__ import annotations

from zod.viz.reference import overlay_mask_on_image, overlay_polygon_on_image

__all__ = [
    "overlay_mask_on_image",
    "overlay_polygon_on_image",
]
