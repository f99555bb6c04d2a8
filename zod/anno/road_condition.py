"""The reference devkit's ``zod.anno.road_condition`` module.

Its names are the same objects as in ``zod.annotations.road_condition`` (no copies).
"""

from __future__ import annotations

from zod.annotations.road_condition import RoadConditionAnnotation

__all__ = [
    "RoadConditionAnnotation",
]
