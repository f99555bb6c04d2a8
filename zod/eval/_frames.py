"""The sub-dataset the evaluation reads ground truth from, opened once per process.

Ground-truth readers run per item in worker processes that only carry the dataset root,
version and sub-dataset; each process opens the index once. Frames are annotated; sequences
carry the annotations of their keyframe (spec section 2).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

SUBSETS = ("frames", "sequences")
"""Annotated sub-datasets the evaluation can read."""


@lru_cache(maxsize=4)
def open_dataset(dataset_root: str, version: str, subset: str = "frames") -> Any:
    """The ``ZodFrames`` / ``ZodSequences`` of ``dataset_root`` / ``version`` (cached)."""
    from zod.dataset import ZodFrames, ZodSequences

    if subset not in SUBSETS:
        raise ValueError(f"unknown sub-dataset {subset!r}, expected one of {SUBSETS}")
    cls = ZodFrames if subset == "frames" else ZodSequences
    return cls(dataset_root=dataset_root, version=version)
