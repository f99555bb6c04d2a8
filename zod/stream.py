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
                    batch = [pending.popleft().result() for _ in range(min(self.batch_size, len(pending)))]
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
    return Prefetcher(items, read, batch_size=1, num_threads=num_threads, prefetch_batches=prefetch).iter_items()


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
            np.empty((0, 3), np.float32), np.empty(0, np.float64), np.empty(0, np.uint8),
            np.empty(0, np.uint8), np.zeros(1, np.int64), np.empty(0, np.float64),
        )
