"""The ``ZodFrames`` the evaluation reads ground truth from, opened once per process.

Ground-truth readers run per frame in worker processes that only carry the dataset root and
version; each process opens the index once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4)
def open_frames(dataset_root: str, version: str) -> Any:
    """The ``ZodFrames`` of ``dataset_root`` / ``version`` (cached per process)."""
    from zod.dataset import ZodFrames

    return ZodFrames(dataset_root=dataset_root, version=version)
