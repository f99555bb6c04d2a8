"""Converters of ZOD Frames to other formats: COCO, YOLO, KITTI, point clouds, traffic-sign patches.

Each converter is a per-frame task run by :mod:`zod.converters.runner` (local process pool or
Ray Data) plus a driver that writes the dataset-level files. See ``docs/convert.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The reference devkit's default object classes of the 2D converters (COCO, YOLO). Defined here,
# not in `coco`, so that the CLI can show them without importing the converters.
DEFAULT_CLASSES: tuple[str, ...] = ("Vehicle", "Pedestrian", "VulnerableVehicle")

_LAZY_NAMES = {"FrameFailures", "RunResult", "run_frames"}  # from zod.converters.runner, on first use
__all__ = ["DEFAULT_CLASSES", "FrameFailures", "RunResult", "run_frames"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module 'zod.converters' has no attribute {name!r}")
    value = getattr(importlib.import_module("zod.converters.runner"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from zod.converters.runner import FrameFailures, RunResult, run_frames
