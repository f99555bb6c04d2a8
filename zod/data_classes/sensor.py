"""The reference devkit's ``zod.data_classes.sensor`` module.

Its names are the same objects as in ``zod.sensors.frames``, ``zod.sensors.lidar`` and
``zod.sensors.radar`` (no copies).
"""

from __future__ import annotations

from zod.sensors.frames import CameraFrame, LidarFrame, RadarFrames, SensorFrame
from zod.sensors.lidar import LidarData
from zod.sensors.radar import RadarData

__all__ = [
    "CameraFrame",
    "LidarData",
    "LidarFrame",
    "RadarData",
    "RadarFrames",
    "SensorFrame",
]
