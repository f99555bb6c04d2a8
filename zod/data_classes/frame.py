"""The reference devkit's ``zod.data_classes.frame`` module.

Its names are the same objects as in ``zod.frame`` (no copies).
"""

from __future__ import annotations

from zod.frame import ZodFrame

__all__ = [
    "ZodFrame",
]
