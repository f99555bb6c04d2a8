"""The sub-dataset the evaluation reads ground truth from, opened once per process.

Ground-truth readers run per item in worker processes that only carry the dataset root,
version and sub-dataset; each process opens the index once. Frames are annotated; sequences
carry the annotations of their keyframe (spec section 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SUBSETS = ("frames", "sequences")
"""Annotated sub-datasets the evaluation can read."""


@lru_cache(maxsize=4)
def open_dataset(dataset_root: str, version: str, subset: str = "frames") -> Any:
    """The ``ZodFrames`` / ``ZodSequences`` of ``dataset_root`` / ``version`` (cached)."""
    from zod.dataset import open_subset

    if subset not in SUBSETS:
        raise ValueError(f"unknown sub-dataset {subset!r}, expected one of {SUBSETS}")
    return open_subset(dataset_root, version, subset)


def item_ids(
    dataset_root: str,
    version: str,
    subset: str,
    split: str,
    frame_ids: Iterable[str | int] | None = None,
) -> list[str]:
    """``frame_ids`` as strings when given, else the sorted ids of ``split``."""
    if frame_ids is not None:
        return [str(f) for f in frame_ids]
    return sorted(open_dataset(dataset_root, version, subset).get_split(split))


@dataclass(frozen=True)
class ItemTask:
    """Base of the picklable per-item ground-truth readers (plain strings, no open dataset)."""

    dataset_root: str
    version: str
    subset: str

    def __call__(self, frame_id: str) -> Any:
        """What the task reads for one item (subclasses say what)."""
        raise NotImplementedError

    def item(self, frame_id: str) -> Any:
        """The ``ZodFrame`` / ``ZodSequence`` of ``frame_id`` (dataset opened once per process)."""
        return open_dataset(self.dataset_root, self.version, self.subset)[frame_id]


def read_items(
    task: ItemTask, ids: Sequence[str], workers: int, skip_missing: bool, desc: str
) -> Any:
    """Run ``task`` over ``ids`` (``workers`` processes, 0: all cores); the runner's `RunResult`.

    A progress bar is shown from 200 items on.
    """
    from zod.converters.runner import default_workers, run_frames

    return run_frames(
        task,
        list(ids),
        workers=workers or default_workers(),
        skip_missing=skip_missing,
        desc=desc,
        progress=len(ids) >= 200,
    )
