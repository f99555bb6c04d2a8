"""``vehicle_data.hdf5`` of sequences and drives (spec §10): three groups of per-sample series.

Field names are the reference devkit's (including its spellings ``picth_rate`` and
``timstamp``, kept as aliases of ``pitch_rate`` and ``timestamp``). Timestamps are epoch
nanoseconds; ``time_s`` converts them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from os import PathLike
from typing import ClassVar, TypeVar

import h5py
import numpy as np

from zod._io import HDF5_ERRORS, open_hdf5_checked, read_hdf5_column
from zod.errors import FormatError
from zod.release import VEHICLE_DATA, download_flag


def _open(path: str | PathLike[str]) -> h5py.File:
    return open_hdf5_checked(path, "vehicle data", download_flag(VEHICLE_DATA))


def _read(file: h5py.File, group: str, fields: dict[str, str]) -> dict[str, np.ndarray]:
    """The group's datasets: each 1-D numbers, all as long as the group's ``timestamp``."""
    path = os.fspath(file.filename)
    try:
        has_group = group in file
    except HDF5_ERRORS as err:
        raise FormatError(path, f"corrupt HDF5 file ({type(err).__name__}: {err})") from None
    if not has_group:
        raise FormatError(path, f"missing group {group!r}")
    out = {name: read_hdf5_column(file, f"{group}/{key}", path) for name, key in fields.items()}
    n = len(out["timestamp"])
    wrong = [f"{name} ({len(v)})" for name, v in out.items() if len(v) != n]
    if wrong:
        raise FormatError(
            path, f"group {group!r}: {', '.join(wrong)} not as long as timestamp ({n})"
        )
    return out


_G = TypeVar("_G", bound="_Group")


class _Group:
    """One group of ``vehicle_data.hdf5``: ``GROUP`` names it, ``FIELDS`` maps attribute names
    to dataset paths inside it."""

    GROUP: ClassVar[str]
    FIELDS: ClassVar[dict[str, str]]
    timestamp: np.ndarray

    @property
    def time_s(self) -> np.ndarray:
        """(N,) float64 epoch seconds of the samples."""
        return np.asarray(self.timestamp, dtype=np.float64) / 1e9

    @classmethod
    def from_file(cls: type[_G], file: h5py.File) -> _G:
        """Read the group from an open file (FormatError naming a missing group or dataset)."""
        return cls(**_read(file, cls.GROUP, cls.FIELDS))

    @classmethod
    def from_hdf5(cls: type[_G], path: str | PathLike[str]) -> _G:
        """Read the group from ``vehicle_data.hdf5``."""
        with _open(path) as f:
            return cls.from_file(f)


@dataclass
class EgoVehicleData(_Group):
    roll_rate: np.ndarray  # (N,) rad/s
    pitch_rate: np.ndarray  # (N,) rad/s
    lat_vel: np.ndarray  # (N,) m/s
    lon_vel: np.ndarray  # (N,) m/s
    lat_acc: np.ndarray  # (N,) m/s^2
    lon_acc: np.ndarray  # (N,) m/s^2
    body_height: np.ndarray  # (N,) m
    body_pitch: np.ndarray  # (N,) rad
    timestamp: np.ndarray  # (N,) epoch ns

    GROUP: ClassVar[str] = "ego_vehicle_data"
    FIELDS: ClassVar[dict[str, str]] = {
        "roll_rate": "roll_rate_data/angle_rate/radians_per_second/value",
        "pitch_rate": "pitch_rate_data/angle_rate/radians_per_second/value",
        "lat_vel": "lat_vel_data/velocity/meters_per_second/value",
        "lon_vel": "lon_vel_data/velocity/meters_per_second/value",
        "lat_acc": "lat_acc_data/acceleration/meters_per_second2/value",
        "lon_acc": "lon_acc_data/acceleration/meters_per_second2/value",
        "body_height": "body_height/body_height/meters/value",
        "body_pitch": "body_pitch/angle/radians/value",
        "timestamp": "timestamp/nanoseconds/value",
    }

    @property
    def picth_rate(self) -> np.ndarray:  # the reference's spelling
        return self.pitch_rate


@dataclass
class EgoVehicleControls(_Group):
    acc_pedal: np.ndarray  # (N,) ratio 0..100
    brake_pedal_pressed: np.ndarray  # (N,) bool
    steering_angle: np.ndarray  # (N,) rad, counter-clockwise positive
    steering_angle_rate: np.ndarray  # (N,) rad/s
    steering_wheel_torque: np.ndarray  # (N,) N m
    turn_indicator: np.ndarray  # (N,) 0 off, 1 left, 2 right
    timestamp: np.ndarray  # (N,) epoch ns

    GROUP: ClassVar[str] = "ego_vehicle_controls"
    FIELDS: ClassVar[dict[str, str]] = {
        "acc_pedal": "acceleration_pedal/ratio/unitless/value",
        "brake_pedal_pressed": "brake_pedal_pressed/is_brake_pedal_pressed/unitless/value",
        "steering_angle": "steering_wheel_angle/angle/radians/value",
        "steering_angle_rate": "steering_wheel_angle/angle_rate/radians_per_second/value",
        "steering_wheel_torque": "steer_wheel_torque/torque/newton_meters/value",
        "turn_indicator": "turn_indicator_status/state",
        "timestamp": "timestamp/nanoseconds/value",
    }


@dataclass
class Satellite(_Group):
    altitude: np.ndarray  # (N,) m
    heading: np.ndarray  # (N,) degrees
    latpos: np.ndarray  # (N,) nanodegrees
    lonpos: np.ndarray  # (N,) nanodegrees
    nrof_satellites: np.ndarray  # (N,) count
    speed: np.ndarray  # (N,) m/s
    timestamp: np.ndarray  # (N,) epoch ns

    GROUP: ClassVar[str] = "satellite"
    FIELDS: ClassVar[dict[str, str]] = {
        "altitude": "altitude/meters/value",
        "heading": "heading/degrees/value",
        "latpos": "latposn/nanodegrees/value",
        "lonpos": "longposn/nanodegrees/value",
        "nrof_satellites": "nrof_satellites/unitless/value",
        "speed": "speed/meters_per_second/value",
        "timestamp": "timestamp/nanoseconds/value",
    }

    @property
    def timstamp(self) -> np.ndarray:  # the reference's spelling
        return self.timestamp

    @property
    def lat_deg(self) -> np.ndarray:
        return np.asarray(self.latpos, dtype=np.float64) * 1e-9

    @property
    def lon_deg(self) -> np.ndarray:
        return np.asarray(self.lonpos, dtype=np.float64) * 1e-9


@dataclass
class VehicleData:
    """The three groups of ``vehicle_data.hdf5``."""

    ego_vehicle_data: EgoVehicleData
    ego_vehicle_controls: EgoVehicleControls
    satellite: Satellite

    @classmethod
    def from_hdf5(cls, path: str | PathLike[str]) -> VehicleData:
        """Read all three groups (one open of the file)."""
        with _open(path) as f:
            return cls(
                EgoVehicleData.from_file(f), EgoVehicleControls.from_file(f), Satellite.from_file(f)
            )
