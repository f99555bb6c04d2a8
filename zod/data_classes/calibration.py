"""The reference devkit's ``zod.data_classes.calibration`` module.

Its names are the same objects as in ``zod.calibration`` (no copies).
"""

from __future__ import annotations

from zod.calibration import Calibration, CameraCalibration, LidarCalibration, RadarCalibration

__all__ = [
    "Calibration",
    "CameraCalibration",
    "LidarCalibration",
    "RadarCalibration",
]
