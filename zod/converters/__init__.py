"""Converters of ZOD Frames to other formats: COCO, YOLO, KITTI, point clouds, traffic-sign patches.

Each converter is a per-frame task run by :mod:`zod.converters.runner` (local process pool or
Ray Data) plus a driver that writes the dataset-level files. See ``docs/convert.md``.
"""

from __future__ import annotations

from zod.converters.runner import FrameFailures, RunResult, run_frames

__all__ = ["FrameFailures", "RunResult", "run_frames"]
