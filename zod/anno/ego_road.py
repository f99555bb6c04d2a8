"""The reference devkit's ``zod.anno.ego_road`` module.

Its names are the same objects as in ``zod.annotations.ego_road`` (no copies).
"""

from __future__ import annotations

from zod.annotations.ego_road import EgoRoadAnnotation, EgoRoadClass

__all__ = [
    "EgoRoadAnnotation",
    "EgoRoadClass",
]
