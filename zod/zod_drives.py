"""The reference devkit's ``zod.zod_drives`` module.

Its names are the same objects as in ``zod.dataset`` (no copies).
"""

from __future__ import annotations

from zod.dataset import ZodDrives

__all__ = [
    "ZodDrives",
]
