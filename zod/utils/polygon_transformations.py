"""The reference devkit's ``zod.utils.polygon_transformations`` module.

Its names are the same objects as in ``zod.geometry.masks`` (no copies).
"""

from __future__ import annotations

from zod.geometry.masks import polygon_to_mask, polygons_to_binary_mask

__all__ = [
    "polygon_to_mask",
    "polygons_to_binary_mask",
]
