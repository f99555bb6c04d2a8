"""The reference devkit's ``zod.data_classes.ego_motion`` module.

Its names are the same objects as in ``zod.ego_motion`` and ``zod.geometry.transforms`` (no
copies).
"""

from __future__ import annotations

from zod.ego_motion import EgoMotion
from zod.geometry.transforms import interpolate_transforms

__all__ = [
    "EgoMotion",
    "interpolate_transforms",
]
