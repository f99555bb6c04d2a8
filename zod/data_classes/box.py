"""The reference devkit's ``zod.data_classes.box`` module.

Its names are the same objects as in ``zod.geometry.box`` (no copies).
"""

from __future__ import annotations

from zod.geometry.box import Box2D, Box3D

__all__ = [
    "Box2D",
    "Box3D",
]
