"""Lidar scans (spec §7): ``LidarData`` read from and written to the structured ``.npy`` files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from io import BufferedReader
from os import PathLike
from typing import Any

import numpy as np

from zod._atomic import atomic_path
from zod._io import (
    column_block,
    fields_problem,
    iter_records_checked,
    open_npy_checked,
    read_into_checked,
)
from zod.time import time_from_filename

# Returns from the ego vehicle itself fall inside this box (lidar frame, metres), spec §7:
# row 0 = (x, y, z) minimum, row 1 = maximum; bounds are exclusive as in the reference.
EGO_RETURNS_BOX = np.array([[-1.5, -3.0, -1.5], [1.5, 3.0, 0.5]])

# The on-disk record (spec §7), also what ``to_npy`` writes.
LIDAR_DTYPE = np.dtype(
    [
        ("x", np.float32),
        ("y", np.float32),
        ("z", np.float32),
        ("timestamp", np.int64),
        ("intensity", np.uint8),
        ("diode_index", np.uint8),
    ]
)


def _drop_ego_returns(data: np.ndarray) -> np.ndarray:
    """The records outside ``EGO_RETURNS_BOX`` (bounds exclusive).

    Only the records with |x| < 1.5 (a few percent) are tested further, so the whole scan is
    read by two passes instead of six comparisons and five ANDs.
    """
    lo, hi = EGO_RETURNS_BOX
    x = data["x"]
    candidates = np.flatnonzero(np.abs(x) < hi[0])  # (-1.5, 1.5) is symmetric
    if candidates.size == 0:
        return data
    y = data["y"][candidates]
    z = data["z"][candidates]
    ego = candidates[(y > lo[1]) & (y < hi[1]) & (z > lo[2]) & (z < hi[2])]
    if ego.size == 0:
        return data
    keep = np.ones(len(data), dtype=bool)
    keep[ego] = False
    return np.compress(keep, data)  # one pass over the records (fast, unlike data[mask])


def _xyz_float32(data: np.ndarray) -> np.ndarray:
    """(N, 3) float32 points of a structured scan.

    Built as three contiguous columns (``np.vstack(...).T``, the reference's layout: column-major
    in memory), which is several times faster than interleaving x, y, z row by row.
    """
    return np.vstack((data["x"], data["y"], data["z"])).astype(np.float32, copy=False).T


_LIDAR_KINDS = {
    "x": "f",
    "y": "f",
    "z": "f",
    "timestamp": "iu",
    "intensity": "iu",
    "diode_index": "iu",
}
_RECORD = np.dtype((np.void, LIDAR_DTYPE.itemsize))
_CHUNK = 1 << 15  # records per read: 720 kB, a chunk and its columns stay in cache while split
# points (3, N) float32, timestamps, intensity, diode: 22 bytes a point, as on disk
_COLUMNS: list[tuple[np.dtype[Any], int]] = [(np.dtype(np.float32), 3), (np.dtype(np.float64), 1)]
_COLUMNS += [(np.dtype(np.uint8), 1)] * 2


def _read_scan(
    f: BufferedReader, count: int, path: str, core_timestamp: float, remove_ego: bool
) -> LidarData:
    """Read ``count`` records of ``LIDAR_DTYPE`` from ``f`` in one pass: each chunk is read into
    one reused, cache-sized buffer and split while it is in cache into output columns that
    share one allocation (``column_block``: no page faults on every read).

    With ``remove_ego`` the chunk's x, y, z go to their output rows first, where they are
    aligned: the ego box test is then a few vector operations (the unaligned 22-byte-strided
    fields would go through numpy's buffered loops). A chunk with ego returns has its kept
    records moved at once as opaque 22-byte items (one boolean index, the cost of indexing one
    column; boolean-indexing each of the six columns costs 4-6x more) and is split again.

    points come out (N, 3) float32 column-major, as ``_xyz_float32`` makes them.
    """
    # Python floats: a float64 scalar would promote every float32 comparison to float64
    (_, _, z_lo), (x_hi, y_hi, z_hi) = EGO_RETURNS_BOX.tolist()  # x and y bounds are symmetric
    xyz, timestamps, intensity, diode = column_block(count, _COLUMNS)
    size = min(count, _CHUNK)
    absolute = np.empty(size, dtype=np.float32)
    ego, test = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    kept = 0
    for records in iter_records_checked(f, LIDAR_DTYPE, count, path, "lidar scan", _CHUNK):
        n = len(records)
        points = xyz[:, kept : kept + n]
        points[0], points[1], points[2] = records["x"], records["y"], records["z"]
        if remove_ego:
            x, y, z = points
            e, t, a = ego[:n], test[:n], absolute[:n]
            np.less(np.abs(x, out=a), x_hi, out=e)  # |x| < 1.5 is -1.5 < x < 1.5, NaN fails
            np.logical_and(e, np.less(np.abs(y, out=a), y_hi, out=t), out=e)
            np.logical_and(e, np.greater(z, z_lo, out=t), out=e)
            np.logical_and(e, np.less(z, z_hi, out=t), out=e)
            if np.count_nonzero(e):
                records = records.view(_RECORD)[np.logical_not(e, out=e)].view(LIDAR_DTYPE)
                n = len(records)
                points = xyz[:, kept : kept + n]
                points[0], points[1], points[2] = records["x"], records["y"], records["z"]
        end = kept + n
        np.divide(records["timestamp"], 1e6, out=timestamps[kept:end])
        timestamps[kept:end] += core_timestamp  # = core + timestamp / 1e6, bit for bit
        intensity[kept:end] = records["intensity"]
        diode[kept:end] = records["diode_index"]
        kept = end
    return LidarData(
        points=xyz[:, :kept].T,
        timestamps=timestamps[:kept],
        intensity=intensity[:kept],
        diode_idx=diode[:kept],
        core_timestamp=core_timestamp,
    )


@dataclass
class LidarData:
    """One or more lidar scans as flat arrays (N points)."""

    points: np.ndarray  # (N, 3) float32, metres, lidar frame (column-major when read from disk)
    timestamps: np.ndarray  # (N,) float64, epoch seconds of each point
    intensity: np.ndarray  # (N,) uint8
    diode_idx: np.ndarray  # (N,) uint8
    core_timestamp: float  # epoch seconds of the scan (file-name time when read)

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    def copy(self) -> LidarData:
        return LidarData(
            self.points.copy(),
            self.timestamps.copy(),
            self.intensity.copy(),
            self.diode_idx.copy(),
            self.core_timestamp,
        )

    @classmethod
    def empty(cls) -> LidarData:
        return cls(
            np.empty((0, 3), np.float32),
            np.empty(0, np.float64),
            np.empty(0, np.uint8),
            np.empty(0, np.uint8),
            0.0,
        )

    @classmethod
    def from_npy(
        cls,
        path: str | PathLike[str],
        remove_ego_lidar_returns: bool = True,
        stream: str | None = "--lidar",
    ) -> LidarData:
        """Read a scan; drops the ego-vehicle returns (box ``EGO_RETURNS_BOX``) unless told not to.

        Point times are ``file-name time + timestamp / 1e6`` (spec §7). ``stream`` names the
        download flag of the file in the error raised if it is missing.
        """
        path = os.fspath(path)
        f, dtype, count = open_npy_checked(
            path, "lidar scan", stream, lambda dtype: fields_problem(dtype, _LIDAR_KINDS)
        )
        with f:
            core_timestamp = time_from_filename(path).timestamp()
            if dtype == LIDAR_DTYPE:  # the release's records: one pass over the file
                return _read_scan(f, count, path, core_timestamp, remove_ego_lidar_returns)
            data = np.empty(count, dtype=dtype)
            read_into_checked(f, data, path, "lidar scan")
        if remove_ego_lidar_returns and len(data):
            data = _drop_ego_returns(data)
        points = _xyz_float32(data)
        timestamps = data["timestamp"] / 1e6
        timestamps += core_timestamp  # = core + timestamp / 1e6, bit for bit
        intensity, diode = data["intensity"], data["diode_index"]
        return cls(
            points=points,
            timestamps=timestamps,
            intensity=np.ascontiguousarray(intensity, dtype=np.uint8),
            diode_idx=np.ascontiguousarray(diode, dtype=np.uint8),
            core_timestamp=core_timestamp,
        )

    def to_npy(self, path: str | PathLike[str]) -> None:
        """Write in the on-disk format (``timestamp`` relative to ``core_timestamp``, in µs).

        Written to a temporary file, then renamed into place.
        """
        data = np.empty(len(self.points), dtype=LIDAR_DTYPE)
        data["x"], data["y"], data["z"] = self.points[:, 0], self.points[:, 1], self.points[:, 2]
        data["timestamp"] = np.round((self.timestamps - self.core_timestamp) * 1e6)
        data["intensity"] = self.intensity
        data["diode_index"] = self.diode_idx
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, data)

    def transform(self, pose: Any) -> None:
        """Apply a rigid transform in place: a (4, 4) matrix, a ``Pose``, or (N, 4, 4) per point.

        Computed in float64; ``points`` keeps its dtype.
        """
        matrix = np.asarray(getattr(pose, "transform", pose), dtype=np.float64)
        points = self.points.astype(np.float64)
        if matrix.ndim == 2:
            out = points @ matrix[:3, :3].T + matrix[:3, 3]
        else:  # one transform per point
            out = np.einsum("nij,nj->ni", matrix[..., :3, :3], points) + matrix[..., :3, 3]
        self.points = out.astype(self.points.dtype, copy=False)

    def extend(self, *other: LidarData) -> None:
        """Append other scans; the core time becomes the point-count weighted mean (reference)."""
        counts = [len(self.timestamps)] + [len(o.timestamps) for o in other]
        total = sum(counts)
        cores = [self.core_timestamp] + [o.core_timestamp for o in other]
        self.points = np.vstack((self.points, *(o.points for o in other)))
        self.timestamps = np.hstack((self.timestamps, *(o.timestamps for o in other)))
        self.intensity = np.hstack((self.intensity, *(o.intensity for o in other)))
        self.diode_idx = np.hstack((self.diode_idx, *(o.diode_idx for o in other)))
        if total:
            self.core_timestamp = sum(c * n for c, n in zip(cores, counts)) / total

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LidarData):
            return NotImplemented
        if self.points.shape != other.points.shape or len(self.timestamps) != len(other.timestamps):
            return False
        return bool(
            np.allclose(self.points, other.points)
            and np.allclose(self.timestamps, other.timestamps)
            and np.allclose(self.intensity, other.intensity)
            and np.allclose(self.diode_idx, other.diode_idx)
            and np.isclose(self.core_timestamp, other.core_timestamp)
        )

    __hash__ = None  # type: ignore[assignment]
