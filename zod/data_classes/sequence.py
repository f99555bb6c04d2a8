"""The reference devkit's ``zod.data_classes.sequence`` module.

Its names are the same objects as in ``zod.frame`` (no copies).
"""

from __future__ import annotations

from zod.frame import ZodSequence

__all__ = [
    "ZodSequence",
]
