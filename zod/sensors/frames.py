"""Sensor frames: one file of the index with its time; ``read()`` loads the data.

Each frame carries the download flag (``stream``) that brings its file, so that a missing file
raises ``MissingFileError`` naming it (spec §1, §13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from zod.sensors.camera import read_image
from zod.sensors.lidar import LidarData
from zod.sensors.radar import RadarData


@dataclass
class SensorFrame:
    """A file of one sensor at one time (``time`` aware UTC)."""

    filepath: str
    time: datetime

    def read(self) -> Any:
        raise NotImplementedError

    @property
    def time_s(self) -> float:
        """The frame time as float epoch seconds."""
        return self.time.timestamp()


@dataclass
class LidarFrame(SensorFrame):
    """One lidar scan (``.npy``, spec §7)."""

    is_compensated: bool = False  # whether the scan is pointwise motion compensated
    stream: str = field(default="--lidar", repr=False, compare=False)

    def read(self, remove_ego_lidar_returns: bool = True) -> LidarData:
        """The scan, without the returns from the ego vehicle unless asked to keep them."""
        return LidarData.from_npy(
            self.filepath, remove_ego_lidar_returns=remove_ego_lidar_returns, stream=self.stream
        )


@dataclass
class RadarFrames:
    """The radar file of a whole sequence or drive (spec §8); ``time`` is its key time."""

    filepath: str
    time: datetime

    def read(self) -> RadarData:
        return RadarData.from_npy(self.filepath)


@dataclass
class CameraFrame(SensorFrame):
    """One camera image (JPEG, spec §9)."""

    height: int = 2168
    width: int = 3848
    stream: str = field(default="--images", repr=False, compare=False)

    def read(self, scale: float = 1) -> np.ndarray:
        """The image, RGB uint8 (H, W, 3); ``scale`` 1, 1/2, 1/4 or 1/8 decodes at reduced size."""
        return read_image(
            self.filepath,
            scale=scale,
            stream=self.stream,
            expected_size=(self.width, self.height),
        )
