"""The reference devkit's ``zod.data_classes.geometry`` module.

Its names are the same objects as in ``zod.geometry.pose`` (no copies).
"""

from __future__ import annotations

from zod.geometry.pose import Pose

__all__ = [
    "Pose",
]
