"""The reference devkit's ``zod.anno.tsr.class_map`` module.

Its names are the same objects as in ``zod.annotations.classes`` (no copies).
"""

from __future__ import annotations

from zod.annotations.classes import (
    CLASS_IDX_TO_CLASS_NAME,
    CLASS_NAME_TO_CLASS_IDX,
    get_class_idx,
    get_class_name,
)

__all__ = [
    "CLASS_IDX_TO_CLASS_NAME",
    "CLASS_NAME_TO_CLASS_IDX",
    "get_class_idx",
    "get_class_name",
]
