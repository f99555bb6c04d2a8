"""Ego motion (spec section 5): ``ego_motion.json`` (light) and ``oxts.hdf5`` (full GNSS/INS).

``poses`` are ``world_from_ego`` (N, 4, 4) in a local world frame anchored at
``origin_lat_lon``; ``timestamps`` (N,) are float epoch seconds, increasing.
Pose interpolation: slerp for rotation, linear for translation; asking for a time outside
``[timestamps[0], timestamps[-1]]`` raises :class:`TimeOutOfRangeError` (no extrapolation).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from zod.annotations._common import read_json
from zod.errors import FormatError, MissingFileError, ZodError
from zod.geometry.transforms import (
    make_transforms,
    quaternions_from_rotation_matrices,
    rotation_matrices_from_quaternions,
    slerp,
)
from zod.release import INFOS, OXTS, download_flag

__all__ = ["OXTS_TIMESTAMP_OFFSET", "EgoMotion", "TimeOutOfRangeError"]

# GPS epoch 1980-01-06T00:00:00Z in Unix seconds: oxts time = offset + timestamp + leapSeconds
OXTS_TIMESTAMP_OFFSET = 315964800.0

# camelCase spellings accepted in ego_motion.json (spec section 2)
_JSON_KEYS = {
    "poses": ("poses",),
    "velocities": ("velocities",),
    "accelerations": ("accelerations",),
    "angular_rates": ("angular_rates", "angularRates"),
    "timestamps": ("timestamps",),
    "origin_lat_lon": ("origin_lat_lon", "originLatLon"),
}


class TimeOutOfRangeError(ZodError, ValueError):
    """A time outside the span of the ego-motion samples was asked for."""


@dataclass
class EgoMotion:
    """Ego poses and motion samples; see the module docstring for frames and units."""

    poses: np.ndarray  # (N, 4, 4) world_from_ego
    velocities: np.ndarray  # (N, 3) m/s, ego axes
    accelerations: np.ndarray  # (N, 3) m/s^2
    angular_rates: np.ndarray  # (N, 3) rad/s
    timestamps: np.ndarray  # (N,) epoch seconds, float64
    origin_lat_lon: tuple[float, float]  # (lat, lon) of the world origin

    def __len__(self) -> int:
        return len(self.timestamps)

    # ------------------------------------------------------------------ interpolation
    def _check_range(self, times: np.ndarray) -> None:
        if times.size == 0:
            return
        if len(self.timestamps) == 0:
            raise TimeOutOfRangeError("ego motion has no samples")
        lo, hi = float(self.timestamps[0]), float(self.timestamps[-1])
        tmin, tmax = float(np.min(times)), float(np.max(times))
        if not (tmin >= lo and tmax <= hi) or np.isnan(tmin) or np.isnan(tmax):
            raise TimeOutOfRangeError(
                f"time(s) [{tmin:.6f}, {tmax:.6f}] outside the ego motion span "
                f"[{lo:.6f}, {hi:.6f}] (epoch seconds); ego motion is not extrapolated"
            )

    def _bracket(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Left sample index, fraction in [0, 1] and exact-hit mask for each time (flat arrays)."""
        ts = self.timestamps
        if len(ts) == 1:
            zeros = np.zeros(times.shape, dtype=np.int64)
            return zeros, np.zeros(times.shape), np.ones(times.shape, dtype=bool)
        right = np.clip(np.searchsorted(ts, times, side="right"), 1, len(ts) - 1)
        left = right - 1
        frac = (times - ts[left]) / (ts[right] - ts[left])
        exact_left = times == ts[left]
        exact_right = times == ts[right]
        left = np.where(exact_right & ~exact_left, right, left)
        frac = np.where(exact_left | exact_right, 0.0, frac)
        return left, frac, exact_left | exact_right

    def get_poses(self, target_ts: np.ndarray | float) -> np.ndarray:
        """Interpolated ``world_from_ego`` poses: scalar time -> (4, 4), times (M,) -> (M, 4, 4).

        Exact sample times return the stored pose unchanged.
        """
        times = np.asarray(target_ts, dtype=np.float64)
        flat = times.reshape(-1)
        self._check_range(flat)
        poses = np.asarray(self.poses, dtype=np.float64)
        left, frac, exact = self._bracket(flat)
        if exact.all():
            out = poses[left].copy()
        else:
            right = np.minimum(left + 1, len(poses) - 1)
            # quaternions of the samples involved only (a scan spans a handful of samples)
            used, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
            quats = quaternions_from_rotation_matrices(poses[used, :3, :3])
            q = slerp(quats[inverse[: len(left)]], quats[inverse[len(left) :]], frac)
            trans = poses[left, :3, 3] + frac[:, None] * (poses[right, :3, 3] - poses[left, :3, 3])
            out = make_transforms(rotation_matrices_from_quaternions(q), trans)
            out[exact] = poses[left[exact]]
        return out.reshape(times.shape + (4, 4))

    def get_pose(self, time_s: float) -> np.ndarray:
        """``world_from_ego`` (4, 4) at one epoch time."""
        return self.get_poses(float(time_s))

    def _interp_vectors(self, values: np.ndarray, times: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        left, frac, _ = self._bracket(times)
        right = np.minimum(left + 1, len(values) - 1)
        return values[left] + frac[:, None] * (values[right] - values[left])

    def interpolate(self, timestamps: np.ndarray | float) -> EgoMotion:
        """EgoMotion sampled at ``timestamps`` (M,): poses slerped, other fields linear."""
        times = np.atleast_1d(np.asarray(timestamps, dtype=np.float64))
        poses = self.get_poses(times)
        return EgoMotion(
            poses=poses,
            velocities=self._interp_vectors(self.velocities, times),
            accelerations=self._interp_vectors(self.accelerations, times),
            angular_rates=self._interp_vectors(self.angular_rates, times),
            timestamps=times,
            origin_lat_lon=self.origin_lat_lon,
        )

    def get_relative_transforms(self, source_ts: np.ndarray | float, target_t: float) -> np.ndarray:
        """``ego_target_from_ego_source`` for each source time: (4, 4) or (M, 4, 4).

        The motion of the ego between the times, used to compensate lidar points.
        """
        from zod.geometry.transforms import invert_transforms

        return invert_transforms(self.get_poses(float(target_t))) @ self.get_poses(source_ts)

    # ------------------------------------------------------------------ reading / writing
    @classmethod
    def from_dict(cls, data: dict[str, Any], source_path: str | None = None) -> EgoMotion:
        """Build from the JSON object of ``ego_motion.json`` (snake_case or camelCase keys)."""
        if not isinstance(data, dict):
            raise FormatError(source_path, "ego motion must be a JSON object")
        values: dict[str, Any] = {}
        for name, keys in _JSON_KEYS.items():
            for key in keys:
                if key in data:
                    values[name] = data[key]
                    break
            else:
                raise FormatError(source_path, f"ego motion misses key '{keys[0]}'")
        try:
            poses = np.asarray(values["poses"], dtype=np.float64).reshape(-1, 4, 4)
            timestamps = np.asarray(values["timestamps"], dtype=np.float64).reshape(-1)
            vecs = {
                name: np.asarray(values[name], dtype=np.float64).reshape(-1, 3)
                for name in ("velocities", "accelerations", "angular_rates")
            }
            lat, lon = (float(v) for v in values["origin_lat_lon"])
        except (TypeError, ValueError) as exc:
            raise FormatError(source_path, f"malformed ego motion arrays: {exc}") from None
        return cls._validated(poses, vecs, timestamps, (lat, lon), source_path)

    @classmethod
    def _validated(
        cls,
        poses: np.ndarray,
        vecs: dict[str, np.ndarray],
        timestamps: np.ndarray,
        origin: tuple[float, float],
        source_path: str | None,
    ) -> EgoMotion:
        n = len(timestamps)
        if len(poses) != n or any(len(v) != n for v in vecs.values()):
            raise FormatError(source_path, "ego motion arrays have different lengths")
        if n > 1 and np.any(np.diff(timestamps) <= 0):
            order = np.argsort(timestamps, kind="stable")
            timestamps, poses = timestamps[order], poses[order]
            vecs = {k: v[order] for k, v in vecs.items()}
            keep = np.concatenate([[True], np.diff(timestamps) > 0])  # drop duplicate times
            timestamps, poses = timestamps[keep], poses[keep]
            vecs = {k: v[keep] for k, v in vecs.items()}
        return cls(
            poses=poses,
            velocities=vecs["velocities"],
            accelerations=vecs["accelerations"],
            angular_rates=vecs["angular_rates"],
            timestamps=timestamps,
            origin_lat_lon=origin,
        )

    @classmethod
    def from_json_path(cls, json_path: str | PathLike[str]) -> EgoMotion:
        """Read ``ego_motion.json``."""
        path = str(json_path)
        return cls.from_dict(
            read_json(path, "ego motion file", download_flag(INFOS)), source_path=path
        )

    @classmethod
    def from_oxts_path(cls, file_path: str | PathLike[str]) -> EgoMotion:
        """Read ``oxts.hdf5``; times: ``315964800 + timestamp + leapSeconds`` (as the reference)."""
        import h5py

        path = str(file_path)
        try:
            h5 = h5py.File(path, "r")
        except FileNotFoundError:
            raise MissingFileError(path, "oxts file", download_flag(OXTS)) from None
        except OSError as exc:
            raise FormatError(path, f"not a readable HDF5 file: {exc}") from None
        with h5:
            try:

                def col(name: str) -> np.ndarray:
                    return np.asarray(h5[name][()], dtype=np.float64)

                poses = col("poses").reshape(-1, 4, 4)
                timestamps = OXTS_TIMESTAMP_OFFSET + col("timestamp") + col("leapSeconds")
                vecs = {
                    "velocities": np.stack(
                        [col("velForward"), col("velLateral"), -col("velDown")], axis=1
                    ),
                    "accelerations": np.stack(
                        [col("accelerationX"), col("accelerationY"), col("accelerationZ")], axis=1
                    ),
                    "angular_rates": np.stack(
                        [col("angularRateX"), col("angularRateY"), col("angularRateZ")], axis=1
                    ),
                }
                lat, lon = col("posLat"), col("posLon")
                origin = (
                    (float(lat[0]), float(lon[0])) if len(lat) else (float("nan"), float("nan"))
                )
            except KeyError as exc:
                raise FormatError(path, f"oxts misses dataset {exc}") from None
        return cls._validated(poses, vecs, timestamps, origin, path)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``ego_motion.json`` (snake_case keys)."""
        return {
            "poses": np.asarray(self.poses).tolist(),
            "velocities": np.asarray(self.velocities).tolist(),
            "accelerations": np.asarray(self.accelerations).tolist(),
            "angular_rates": np.asarray(self.angular_rates).tolist(),
            "timestamps": np.asarray(self.timestamps).tolist(),
            "origin_lat_lon": list(self.origin_lat_lon),
        }
