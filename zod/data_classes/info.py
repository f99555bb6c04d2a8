"""The reference devkit's ``zod.data_classes.info`` module.

Its names are the same objects as in ``zod.info`` (no copies).
"""

from __future__ import annotations

from zod.info import Information

__all__ = [
    "Information",
]
