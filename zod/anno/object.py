"""The reference devkit's ``zod.anno.object`` module.

Its names are the same objects as in ``zod.annotations.classes`` and ``zod.annotations.objects``
(no copies).
"""

from __future__ import annotations

from zod.annotations.classes import (
    OBJECT_CLASSES,
    OBJECT_CLASSES_DYNAMIC,
    OBJECT_CLASSES_STATIC,
    OBJECT_SUBCLASSES,
    VEHICLE_SUBCLASSES,
    VULNERABLE_VEHICLE_SUBCLASSES,
)
from zod.annotations.objects import ObjectAnnotation

__all__ = [
    "OBJECT_CLASSES",
    "OBJECT_CLASSES_DYNAMIC",
    "OBJECT_CLASSES_STATIC",
    "OBJECT_SUBCLASSES",
    "VEHICLE_SUBCLASSES",
    "VULNERABLE_VEHICLE_SUBCLASSES",
    "ObjectAnnotation",
]
