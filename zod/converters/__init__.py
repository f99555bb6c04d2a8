"""Converters of ZOD Frames to other formats: COCO, YOLO, KITTI, point clouds, traffic-sign patches.

Each converter is a per-frame task run by :mod:`zod.converters.runner` (local process pool or
Ray Data) plus a driver that writes the dataset-level files. See ``docs/convert.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zod._lazy import lazy_getattr

# The reference devkit's default object classes of the 2D converters (COCO, YOLO). Defined here,
# not in `coco`, so that the CLI can show them without importing the converters.
DEFAULT_CLASSES: tuple[str, ...] = ("Vehicle", "Pedestrian", "VulnerableVehicle")

_RUNNER = "zod.converters.runner"  # its names are imported on first use
_LAZY_NAMES = {"FrameFailures": _RUNNER, "RunResult": _RUNNER, "run_frames": _RUNNER}
__all__ = ["DEFAULT_CLASSES", "FrameFailures", "RunResult", "run_frames"]
__getattr__ = lazy_getattr(__name__, _LAZY_NAMES, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from zod.converters.runner import FrameFailures, RunResult, run_frames
