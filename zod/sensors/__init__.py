"""Sensor frames (file + time) and sensor data (lidar, radar, camera images)."""

from __future__ import annotations

from zod.sensors.frames import CameraFrame, LidarFrame, RadarFrames, SensorFrame
from zod.sensors.lidar import EGO_RETURNS_BOX, LidarData
from zod.sensors.radar import RadarData

__all__ = [
    "EGO_RETURNS_BOX",
    "CameraFrame",
    "LidarData",
    "LidarFrame",
    "RadarData",
    "RadarFrames",
    "SensorFrame",
]
