"""The reference devkit's ``zod.utils.compensation`` module.

Its names are the same objects as in ``zod.geometry.compensation`` (no copies).
"""

from __future__ import annotations

from zod.geometry.compensation import motion_compensate_pointwise, motion_compensate_scanwise

__all__ = [
    "motion_compensate_pointwise",
    "motion_compensate_scanwise",
]
