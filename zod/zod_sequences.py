"""The reference devkit's ``zod.zod_sequences`` module.

Its names are the same objects as in ``zod.dataset`` (no copies).
"""

from __future__ import annotations

from zod.dataset import ZodSequences

__all__ = [
    "ZodSequences",
]
