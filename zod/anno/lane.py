"""The reference devkit's ``zod.anno.lane`` module.

Its names are the same objects as in ``zod.annotations.lanes`` (no copies).
"""

from __future__ import annotations

from zod.annotations.lanes import (
    LaneAnnotation,
    LaneMarkingAnnotation,
    RoadPaintingAnnotation,
    ShadedAreaAnnotation,
)

__all__ = [
    "LaneAnnotation",
    "LaneMarkingAnnotation",
    "RoadPaintingAnnotation",
    "ShadedAreaAnnotation",
]
