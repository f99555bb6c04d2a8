"""Time-ordered sensor streams over sequences and drives, and prefetching batched readers.

A *stream* walks one item (sequence, drive or frame) in time order. The *reference sensor*
(camera or lidar) sets the steps: one step per reference frame. At each step the other sensors
are matched to the reference time by nearest timestamp, within a tolerance::

    camera   |     c0         c1         c2         c3          reference = camera
    lidar    |  l0      l1         l2         l3         l4     nearest to each c_i
    step     |     s0         s1         s2         s3
             +---------------------------------------------> time_s (epoch seconds)

A sensor with no frame within ``tolerance_s`` of a step gives ``None`` at that step (never
a far-away frame). The ego pose (world_from_ego, 4x4) is interpolated at the step time; vehicle
data is the nearest sample; radar is the nearest radar scan of the clip's single radar file.

Reading is the slow part (JPEG decode, npy scans), so ``Prefetcher`` runs it on a thread pool
ahead of the consumer, and ``read_scans`` returns many scans as one contiguous ``ScanBatch``
(points of all scans concatenated, ``offsets`` marking where each scan starts).

No torch here: ``zod.torch`` builds on these.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import numpy as np

from zod._io import files_present

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "Prefetcher",
    "ScanBatch",
    "SensorStream",
    "StreamStep",
    "default_num_threads",
    "match_nearest",
    "read_ahead",
    "read_scans",
]

T = TypeVar("T")
R = TypeVar("R")

ReferenceSensor = Literal["camera", "lidar"]

# Default matching tolerance: half the 10 Hz lidar period, so a 10 Hz sensor always matches.
DEFAULT_TOLERANCE_S = 0.05


# --------------------------------------------------------------------------------------------
# time matching
# --------------------------------------------------------------------------------------------


def match_nearest(
    reference_time_s: np.ndarray, candidate_time_s: np.ndarray, tolerance_s: float | None
) -> np.ndarray:
    """Index of the candidate nearest in time to each reference time, -1 beyond the tolerance.

    Args:
        reference_time_s: (M,) times to match (any order).
        candidate_time_s: (N,) candidate times (any order; the answer indexes this array).
        tolerance_s: largest accepted |difference| in seconds; None accepts any distance.
    Returns:
        (M,) int64 indices into ``candidate_time_s`` (ties go to the earlier candidate).
    """
    reference = np.asarray(reference_time_s, dtype=np.float64).reshape(-1)
    candidates = np.asarray(candidate_time_s, dtype=np.float64).reshape(-1)
    out = np.full(reference.shape, -1, dtype=np.int64)
    if candidates.size == 0 or reference.size == 0:
        return out
    order = np.argsort(candidates, kind="stable")
    sorted_c = candidates[order]
    right = np.searchsorted(sorted_c, reference, side="left").clip(0, len(sorted_c) - 1)
    left = (right - 1).clip(0, len(sorted_c) - 1)
    d_left = np.abs(reference - sorted_c[left])
    d_right = np.abs(sorted_c[right] - reference)
    best = np.where(d_left <= d_right, left, right)
    distance = np.minimum(d_left, d_right)
    out[:] = order[best]
    if tolerance_s is not None:
        out[distance > tolerance_s] = -1
    return out


# --------------------------------------------------------------------------------------------
# prefetching reader
# --------------------------------------------------------------------------------------------


def default_num_threads() -> int:
    """Threads for I/O-bound reading: JPEG decode and npy loads release the GIL."""
    return max(2, min(8, os.cpu_count() or 2))


class Prefetcher(Generic[T, R]):
    """Reads ``items`` with ``read`` on a thread pool, ahead of the consumer, in order.

    Iterating yields lists of up to ``batch_size`` results, in the order of ``items``. At most
    ``(prefetch_batches + 1) * batch_size`` reads are in flight, so memory stays bounded on long
    drives. An exception raised by ``read`` is raised when its item's turn comes.
    """

    def __init__(
        self,
        items: Iterable[T],
        read: Callable[[T], R],
        batch_size: int = 1,
        num_threads: int | None = None,
        prefetch_batches: int = 2,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.items = items
        self.read = read
        self.batch_size = batch_size
        self.num_threads = num_threads or default_num_threads()
        self.prefetch_batches = max(0, prefetch_batches)

    def __iter__(self) -> Iterator[list[R]]:
        in_flight_max = (self.prefetch_batches + 1) * self.batch_size
        source = iter(self.items)
        pending: deque[Future[R]] = deque()
        with ThreadPoolExecutor(self.num_threads, thread_name_prefix="zod-prefetch") as pool:
            try:
                exhausted = False
                while True:
                    while not exhausted and len(pending) < in_flight_max:
                        try:
                            item = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                        pending.append(pool.submit(self.read, item))
                    if not pending:
                        return
                    batch = [
                        pending.popleft().result()
                        for _ in range(min(self.batch_size, len(pending)))
                    ]
                    yield batch
            finally:
                for future in pending:
                    future.cancel()

    def iter_items(self) -> Iterator[R]:
        """The results one by one (still read ahead in batches)."""
        for batch in self:
            yield from batch


def read_ahead(
    items: Iterable[T], read: Callable[[T], R], num_threads: int | None = None, prefetch: int = 4
) -> Iterator[R]:
    """``map(read, items)`` with up to ``prefetch`` reads running ahead on a thread pool."""
    return Prefetcher(
        items, read, batch_size=1, num_threads=num_threads, prefetch_batches=prefetch
    ).iter_items()


# --------------------------------------------------------------------------------------------
# many scans as one contiguous array
# --------------------------------------------------------------------------------------------


@dataclass
class ScanBatch:
    """Many lidar scans in contiguous arrays; scan ``i`` is rows ``offsets[i]:offsets[i+1]``.

    Attributes:
        points: (N, 3) float32, metres, lidar frame (or the frame the scans were moved to).
        time_s: (N,) float64 absolute epoch seconds of every point.
        intensity: (N,) uint8.
        diode_index: (N,) uint8.
        offsets: (B + 1,) int64 row where each scan starts; ``offsets[-1] == N``.
        core_time_s: (B,) float64 core time of each scan (the time in its file name).
    """

    points: np.ndarray
    time_s: np.ndarray
    intensity: np.ndarray
    diode_index: np.ndarray
    offsets: np.ndarray
    core_time_s: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_points(self) -> np.ndarray:
        """(B,) int64 points per scan."""
        return np.diff(self.offsets)

    @property
    def scan_index(self) -> np.ndarray:
        """(N,) int64 the scan each point belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.num_points)

    def scan_slice(self, i: int) -> slice:
        """Rows of scan ``i``."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"scan {i} out of range for a batch of {len(self)}")
        i %= len(self)
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def scan(self, i: int) -> Any:
        """Scan ``i`` as a ``zod.sensors.lidar.LidarData`` (views into this batch)."""
        from zod.sensors.lidar import LidarData

        rows = self.scan_slice(i)
        return LidarData(
            points=self.points[rows],
            timestamps=self.time_s[rows],
            intensity=self.intensity[rows],
            diode_idx=self.diode_index[rows],
            core_timestamp=float(self.core_time_s[i]),
        )

    @classmethod
    def concatenate(cls, scans: Sequence[Any]) -> ScanBatch:
        """Pack scans (objects with ``points``, ``timestamps``, ``intensity``, ``diode_idx``,
        ``core_timestamp``, like ``LidarData``) into one batch; one copy per field."""
        counts = np.array([len(s.points) for s in scans], dtype=np.int64)
        offsets = np.zeros(len(scans) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        points = np.empty((total, 3), dtype=np.float32)
        time_s = np.empty(total, dtype=np.float64)
        intensity = np.empty(total, dtype=np.uint8)
        diode = np.empty(total, dtype=np.uint8)
        for i, scan in enumerate(scans):  # per scan, not per point
            rows = slice(int(offsets[i]), int(offsets[i + 1]))
            points[rows] = scan.points
            time_s[rows] = scan.timestamps
            intensity[rows] = scan.intensity
            diode[rows] = scan.diode_idx
        core = np.array([float(s.core_timestamp) for s in scans], dtype=np.float64)
        return cls(points, time_s, intensity, diode, offsets, core)

    @classmethod
    def empty(cls) -> ScanBatch:
        return cls(
            np.empty((0, 3), np.float32),
            np.empty(0, np.float64),
            np.empty(0, np.uint8),
            np.empty(0, np.uint8),
            np.zeros(1, np.int64),
            np.empty(0, np.float64),
        )


# --------------------------------------------------------------------------------------------
# time-ordered stream over one sequence / drive / frame
# --------------------------------------------------------------------------------------------

StreamPart = Literal["image", "lidar", "pose", "vehicle", "radar"]
ALL_PARTS: tuple[str, ...] = ("image", "lidar", "pose", "vehicle", "radar")


@dataclass
class StreamStep:
    """What the sensors saw at one step of a stream (None: not requested or no match in tolerance).

    Attributes:
        index: step number (0-based, time order).
        time_s: reference time, epoch seconds.
        camera_frame, lidar_frame: the matched ``CameraFrame`` / ``LidarFrame``.
        image: (H, W, 3) uint8 RGB at the stream's ``image_scale``.
        lidar: ``LidarData`` of the matched scan (lidar frame).
        world_from_ego: (4, 4) float64 ego pose interpolated at ``time_s``.
        vehicle: {group: {signal: float}} nearest vehicle-data sample of each group (NaN
            when the group has no sample within the tolerance; booleans as 0/1).
        radar: ``RadarData`` of the nearest radar scan (one scan of the clip's single file).
        radar_time_s: that radar scan's time, epoch seconds (raw ints read as nanoseconds).
        radar_scan_index: its ``scan_index`` in the radar file.
    """

    index: int
    time_s: float
    camera_frame: Any = None
    lidar_frame: Any = None
    image: np.ndarray | None = None
    lidar: Any = None
    world_from_ego: np.ndarray | None = None
    vehicle: dict[str, dict[str, float]] | None = None
    radar: Any = None
    radar_time_s: float | None = None
    radar_scan_index: int | None = None


# Radar timestamps: the release does not document the unit; nanoseconds (like vehicle data) is
# the working assumption (spec section 8). The raw int64 stays available in RadarData.timestamp.
RADAR_TIME_UNIT_S = 1e-9


def _frame_times_s(frames: Sequence[Any]) -> np.ndarray:
    """(N,) epoch seconds of sensor frames (``.time`` aware datetimes)."""
    return np.array([f.time.timestamp() for f in frames], dtype=np.float64)


@dataclass
class _VehicleTable:
    """Vehicle data flattened to {group: (time_s (N,), {signal: (N,) values})}."""

    groups: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=dict)

    @classmethod
    def from_vehicle_data(cls, vehicle_data: Any) -> _VehicleTable:
        table = cls()
        for group_name, group in vars(vehicle_data).items():
            if group_name.startswith("_") or not hasattr(group, "__dict__"):
                continue
            columns = {
                k: np.asarray(v) for k, v in vars(group).items() if isinstance(v, np.ndarray)
            }
            stamp = columns.pop("timestamp", None)
            if stamp is None:
                continue
            time_s = stamp.astype(np.float64) * 1e-9  # vehicle data timestamps: epoch nanoseconds
            table.groups[group_name] = (
                time_s,
                {k: v for k, v in columns.items() if len(v) == len(stamp)},
            )
        return table

    def at(
        self, time_s: np.ndarray, tolerance_s: float | None
    ) -> list[dict[str, dict[str, float]]]:
        """Nearest sample of every group for each time, as floats; a group with no sample
        within the tolerance has NaN signals (the same keys at every step, so steps batch)."""
        out: list[dict[str, dict[str, float]]] = [{} for _ in range(len(time_s))]
        for name, (stamps, columns) in self.groups.items():
            rows = match_nearest(time_s, stamps, tolerance_s)
            ok = rows >= 0
            table = {
                k: np.where(ok, v[np.where(ok, rows, 0)].astype(np.float64), np.nan)
                if len(v)
                else np.full(len(rows), np.nan)
                for k, v in columns.items()
            }
            for step in range(len(rows)):
                out[step][name] = {k: float(values[step]) for k, values in table.items()}
        return out


class SensorStream:
    """Time-ordered steps of one item (``ZodSequence``, drive or ``ZodFrame``).

    Args:
        item: an object with ``info`` (camera/lidar/radar frame lists) and, when the parts are
            requested, ``ego_motion``, ``vehicle_data``, ``calibration``.
        reference: the sensor whose frames define the steps (``"camera"`` or ``"lidar"``).
        tolerance_s: largest time gap accepted when matching another sensor to a step.
        parts: what to read at each step (subset of ``"image", "lidar", "pose", "vehicle",
            "radar"``); frames are always matched, reading is what costs.
        anonymization: ``Anonymization`` (or its name) of the images; sequences and drives
            only have blur.
        image_scale: 1, 1/2, 1/4 or 1/8; the JPEG is decoded at that reduced size.
        remove_ego_lidar_returns: drop the returns from the ego vehicle (spec section 7).
        start, stop, step: a slice of the reference frames (``step`` keeps every step-th one).
        num_threads, prefetch: the thread pool that reads ahead while steps are consumed.
    """

    def __init__(
        self,
        item: Any,
        reference: ReferenceSensor = "camera",
        tolerance_s: float | None = DEFAULT_TOLERANCE_S,
        parts: Iterable[str] = ("image", "lidar", "pose"),
        anonymization: Any = None,
        image_scale: float = 1.0,
        remove_ego_lidar_returns: bool = True,
        start: int = 0,
        stop: int | None = None,
        step: int = 1,
        num_threads: int | None = None,
        prefetch: int = 4,
    ) -> None:
        from zod.constants import Anonymization, Camera, Lidar

        self.item = item
        self.parts = frozenset(parts)
        unknown = self.parts - set(ALL_PARTS)
        if unknown:
            raise ValueError(f"unknown stream parts {sorted(unknown)}; choose from {ALL_PARTS}")
        if reference not in ("camera", "lidar"):
            raise ValueError(f"reference must be 'camera' or 'lidar', not {reference!r}")
        self.reference = reference
        self.tolerance_s = tolerance_s
        self.anonymization = (
            Anonymization.BLUR if anonymization is None else Anonymization(anonymization)
        )
        self.image_scale = image_scale
        self.remove_ego_lidar_returns = remove_ego_lidar_returns
        self.num_threads = num_threads
        self.prefetch = prefetch

        info = item.info
        camera_key = f"{Camera.FRONT.value}_{self.anonymization.value}"
        self.camera_frames: list[Any] = list((info.camera_frames or {}).get(camera_key, []))
        self.lidar_frames: list[Any] = list((info.lidar_frames or {}).get(Lidar.VELODYNE, []))
        camera_time_s = _frame_times_s(self.camera_frames)
        lidar_time_s = _frame_times_s(self.lidar_frames)
        reference_time_s = camera_time_s if reference == "camera" else lidar_time_s
        if reference_time_s.size == 0:
            sensor = camera_key if reference == "camera" else "velodyne"
            raise ValueError(f"item {info.id} has no {reference} frames ({sensor})")
        order = np.argsort(reference_time_s, kind="stable")[start:stop:step]
        self.time_s: np.ndarray = reference_time_s[order]
        """(S,) reference times of the steps, epoch seconds, increasing."""
        self.camera_index: np.ndarray = match_nearest(self.time_s, camera_time_s, tolerance_s)
        """(S,) index into ``camera_frames`` per step, -1 when none within the tolerance."""
        self.lidar_index: np.ndarray = match_nearest(self.time_s, lidar_time_s, tolerance_s)
        """(S,) index into ``lidar_frames`` per step, -1 when none within the tolerance."""
        self._radar: Any = None
        self._radar_scans: tuple[np.ndarray, np.ndarray] | None = None
        self._radar_rows: tuple[np.ndarray, np.ndarray] = (
            np.empty(0, np.int64),
            np.zeros(1, np.int64),
        )
        self.keep: np.ndarray = np.ones(len(self.time_s), dtype=bool)
        """(S,) steps that iteration yields (see ``skip_missing_files``)."""
        self._vehicle: _VehicleTable | None = None

    def __len__(self) -> int:
        return len(self.time_s)

    # ---------------------------------------------------------------- per-stream tables
    def poses(self) -> tuple[np.ndarray, np.ndarray]:
        """World_from_ego poses (S, 4, 4) at the step times and a (S,) bool of steps with a pose
        (ego motion covers them; steps outside its time range get identity and False)."""
        ego_motion = self.item.ego_motion
        stamps = np.asarray(ego_motion.timestamps, dtype=np.float64)
        valid = (self.time_s >= stamps[0]) & (self.time_s <= stamps[-1])
        poses = np.tile(np.eye(4), (len(self.time_s), 1, 1))
        if valid.any():
            poses[valid] = np.asarray(ego_motion.get_poses(self.time_s[valid])).reshape(-1, 4, 4)
        return poses, valid

    def radar_scans(self) -> tuple[np.ndarray, np.ndarray]:
        """Scan indices (K,) and times (K,) epoch s of the clip's radar file (empty if no radar)."""
        if self._radar_scans is None:
            radar = self._read_radar()
            if radar is None or len(radar.scan_index) == 0:
                self._radar_scans = (np.empty(0, np.int64), np.empty(0, np.float64))
                self._radar_rows = (np.empty(0, np.int64), np.zeros(1, np.int64))
            else:
                scan_index = np.asarray(radar.scan_index).astype(np.int64)
                order = np.argsort(scan_index, kind="stable")
                scans, first = np.unique(scan_index[order], return_index=True)
                stamps = np.asarray(radar.timestamp).reshape(-1)
                if stamps.size == scan_index.size:  # one time per detection (the file layout)
                    times = stamps[order[first]].astype(np.float64) * RADAR_TIME_UNIT_S
                else:  # one time per scan
                    times = stamps[: len(scans)].astype(np.float64) * RADAR_TIME_UNIT_S
                self._radar_scans = (scans, times)
                self._radar_rows = (order, np.concatenate([first, [len(order)]]))
        return self._radar_scans

    def _read_radar(self) -> Any:
        if self._radar is None:
            from zod.constants import Radar

            radar_frames = getattr(self.item.info, "radar_frames", None) or {}
            frames = radar_frames.get(Radar.FRONT)
            if not frames:
                return None
            frame = frames[0] if isinstance(frames, (list, tuple)) else frames
            self._radar = frame.read()
        return self._radar

    def _radar_subset(self, scan_index: int) -> Any:
        """RadarData of one scan (its detections located once for all scans, by a sort)."""
        radar = self._read_radar()
        scans, _ = self.radar_scans()
        row = int(np.searchsorted(scans, scan_index))
        order, bounds = self._radar_rows
        rows = order[bounds[row] : bounds[row + 1]]
        n = len(radar.scan_index)
        values = {}
        for name, value in vars(radar).items():
            array = np.asarray(value)
            values[name] = array[rows] if array.ndim >= 1 and len(array) == n else value
        return type(radar)(**values)

    # ---------------------------------------------------------------- iteration
    def _plan(self) -> list[StreamStep]:
        steps = [StreamStep(index=i, time_s=float(t)) for i, t in enumerate(self.time_s)]
        for step, ci, li in zip(steps, self.camera_index.tolist(), self.lidar_index.tolist()):
            step.camera_frame = self.camera_frames[ci] if ci >= 0 else None
            step.lidar_frame = self.lidar_frames[li] if li >= 0 else None
        if "pose" in self.parts:
            poses, valid = self.poses()
            for step, pose, ok in zip(steps, poses, valid.tolist()):
                step.world_from_ego = pose if ok else None
        if "vehicle" in self.parts and getattr(self.item.info, "vehicle_data_path", None):
            if self._vehicle is None:
                self._vehicle = _VehicleTable.from_vehicle_data(self.item.vehicle_data)
            for step, values in zip(steps, self._vehicle.at(self.time_s, self.tolerance_s)):
                step.vehicle = values
        if "radar" in self.parts:
            scans, scan_time_s = self.radar_scans()
            rows = match_nearest(self.time_s, scan_time_s, self.tolerance_s)
            for step, row in zip(steps, rows.tolist()):
                if row >= 0:
                    step.radar_scan_index = int(scans[row])
                    step.radar_time_s = float(scan_time_s[row])
        return [step for step, keep in zip(steps, self.keep.tolist()) if keep]

    def skip_missing_files(self) -> int:
        """Leave out the steps whose matched image / lidar file (for the requested parts) is not
        on disk, instead of raising ``MissingFileError`` when they are read; returns how many."""
        for part, frames, index in (
            ("image", self.camera_frames, self.camera_index),
            ("lidar", self.lidar_frames, self.lidar_index),
        ):
            if part not in self.parts:
                continue
            present = np.array(files_present(f.filepath for f in frames), dtype=bool)
            matched = index >= 0
            missing = np.zeros(len(index), dtype=bool)
            missing[matched] = ~present[index[matched]]
            self.keep &= ~missing
        return int((~self.keep).sum())

    def _read_step(self, step: StreamStep) -> StreamStep:
        if "image" in self.parts and step.camera_frame is not None:
            step.image = step.camera_frame.read(scale=self.image_scale)
        if "lidar" in self.parts and step.lidar_frame is not None:
            step.lidar = step.lidar_frame.read(
                remove_ego_lidar_returns=self.remove_ego_lidar_returns
            )
        if "radar" in self.parts and step.radar_scan_index is not None:
            step.radar = self._radar_subset(step.radar_scan_index)
        return step

    def __iter__(self) -> Iterator[StreamStep]:
        """Steps in time order, read ahead on a thread pool."""
        return read_ahead(self._plan(), self._read_step, self.num_threads, self.prefetch)

    def batches(self, batch_size: int) -> Iterator[list[StreamStep]]:
        """Lists of ``batch_size`` consecutive steps; the next batch is read while one is used."""
        plan = self._plan()
        return iter(
            Prefetcher(plan, self._read_step, batch_size, self.num_threads, prefetch_batches=1)
        )

    def lidar_batches(self, batch_size: int) -> Iterator[ScanBatch]:
        """The matched lidar scans of consecutive steps as contiguous ``ScanBatch`` es
        (steps without a scan are skipped), read ahead on the thread pool."""
        frames = [
            self.lidar_frames[i]
            for i, keep in zip(self.lidar_index.tolist(), self.keep.tolist())
            if i >= 0 and keep
        ]
        remove_ego = self.remove_ego_lidar_returns

        def read(frame: Any) -> Any:
            return frame.read(remove_ego_lidar_returns=remove_ego)

        for scans in Prefetcher(frames, read, batch_size, self.num_threads, prefetch_batches=1):
            yield ScanBatch.concatenate(scans)


def read_scans(
    lidar_frames: Sequence[Any],
    num_threads: int | None = None,
    remove_ego_lidar_returns: bool = True,
) -> ScanBatch:
    """Read many lidar frames in parallel into one contiguous ``ScanBatch`` (in the given order)."""
    if not lidar_frames:
        return ScanBatch.empty()

    def read(frame: Any) -> Any:
        return frame.read(remove_ego_lidar_returns=remove_ego_lidar_returns)

    with ThreadPoolExecutor(num_threads or default_num_threads()) as pool:
        scans = list(pool.map(read, lidar_frames))
    return ScanBatch.concatenate(scans)
