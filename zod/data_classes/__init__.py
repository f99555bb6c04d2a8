"""The reference devkit's ``zod.data_classes`` package.

Its names are the same objects as in ``zod.calibration``, ``zod.geometry.pose`` and
``zod.sensors.lidar`` (no copies).
"""

from __future__ import annotations

from zod.calibration import Calibration
from zod.geometry.pose import Pose
from zod.sensors.lidar import LidarData

__all__ = [
    "Calibration",
    "LidarData",
    "Pose",
]
