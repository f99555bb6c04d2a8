"""The reference devkit's ``zod._zod_dataset`` module.

Its names are the same objects as in ``zod.dataset`` (no copies).
"""

from __future__ import annotations

from zod.dataset import ZodDataset

__all__ = [
    "ZodDataset",
]
