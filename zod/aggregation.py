"""Lidar motion compensation and aggregation on frames and sequences (spec section 7).

``ZodFrame`` / ``ZodSequence`` inherit these mixins. They use only ``self.info``
(``get_key_lidar_frame``, ``get_lidar_frames``, ``get_lidar_frame``, ``keyframe_time``),
``self.calibration``, ``self.ego_motion`` and, for frames, ``get_lidar_frames(num_before,
num_after)``; each lidar frame's ``read()`` returns a ``LidarData``.

Time rules (the reference devkit's):

- a scan read from disk has ``core_timestamp`` = the time in its file name;
- ``ZodFrame.get_aggregated_lidar`` first resets each scan's core time to
  ``0.75 * max(t) + 0.25 * min(t)`` of its point times (the spin's cut is behind the car, so
  this time looks forward) and moves every other scan to the key scan's core time (or, with
  ``timestamp``, every scan to that time: the reference leaves the key scan where it is);
- ``ZodSequence`` methods use the file-name core times.

Compensation is *scanwise* by default (one rigid motion per scan, as the reference does);
``pointwise=True`` moves every point from its own time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from tqdm import tqdm

from zod.constants import Lidar
from zod.errors import MissingFileError
from zod.geometry.compensation import (
    compensate_scanwise,
    core_time_from_point_times,
    motion_compensate_pointwise,
    motion_compensate_scanwise,
)

__all__ = [
    "FrameGeometryMixin",
    "SequenceGeometryMixin",
    "adjust_lidar_core_time",
    "aggregate_scans",
    "motion_compensate_pointwise",
    "motion_compensate_scanwise",
]


def adjust_lidar_core_time(lidar: Any) -> Any:
    """Set ``lidar.core_timestamp`` to the reference's forward-looking time, in place; return it."""
    if len(lidar.timestamps):
        lidar.core_timestamp = core_time_from_point_times(lidar.timestamps)
    return lidar


def _read_all(
    frames: Sequence[Any],
    workers: int,
    skip_missing: bool = False,
    progress: bool = False,
    remove_ego_lidar_returns: bool = True,
) -> list[Any]:
    """Read lidar frames, in order; ``workers`` > 1 read in a thread pool (np.load frees the GIL).

    ``progress`` shows a tqdm bar (long drives hold thousands of scans).
    With ``skip_missing`` a scan that is not on disk (a partial download, spec section 14)
    gives None instead of raising ``MissingFileError``; a warning says how many were skipped.
    """

    def read(frame: Any) -> Any:
        try:
            return frame.read(remove_ego_lidar_returns=remove_ego_lidar_returns)
        except MissingFileError:
            if skip_missing:
                return None
            raise

    bar = tqdm(total=len(frames), desc="reading lidar scans", unit="scan", disable=not progress)
    with bar:
        if workers <= 1 or len(frames) <= 1:
            scans = []
            for frame in frames:
                scans.append(read(frame))
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                scans = []
                for scan in pool.map(read, frames):
                    scans.append(scan)
                    bar.update()
    missing = sum(s is None for s in scans)
    if missing:
        warnings.warn(
            f"{missing} of {len(frames)} lidar scans are not on disk and were left out",
            stacklevel=3,
        )
    return scans


def aggregate_scans(
    scans: Sequence[Any],
    ego_motion: Any,
    ego_from_lidar: Any,
    target_time_s: float,
    pointwise: bool = False,
    skip: Callable[[int, Any], bool] | None = None,
    inplace: bool = False,
) -> Any:
    """Move each scan to ``target_time_s`` and concatenate them into one ``LidarData``.

    ``skip(i, scan)`` True leaves scan i where it is (the reference leaves the scan already at
    the target time untouched). The result's ``core_timestamp`` follows ``LidarData.extend``
    (the point-weighted mean of the scans' core times). ``inplace=True`` reuses the given
    scans (no copies: for scans read just for this); otherwise they are left untouched.
    """
    if not scans:
        raise ValueError("no lidar scans to aggregate")
    target_pose = ego_motion.get_poses(float(target_time_s))
    moved = []
    for i, scan in enumerate(scans):  # loop over scans (<= a few hundred), points are vectorized
        if skip is not None and skip(i, scan):
            moved.append(scan)
            continue
        if pointwise:
            moved.append(
                motion_compensate_pointwise(scan, ego_motion, ego_from_lidar, target_time_s)
            )
        else:
            source_pose = ego_motion.get_poses(float(scan.core_timestamp))
            points = compensate_scanwise(scan.points, source_pose, target_pose, ego_from_lidar)
            out = scan if inplace else scan.copy()
            out.points = points
            moved.append(out)
    if not inplace and moved[0] is scans[0]:
        moved[0] = moved[0].copy()  # extend() below grows the first scan
    first = moved[0]
    if len(moved) > 1:
        first.extend(*moved[1:])
    return first


def _ego_from_lidar(owner: Any, lidar: Lidar = Lidar.VELODYNE) -> Any:
    return owner.calibration.lidars[lidar].extrinsics


class FrameGeometryMixin:
    """Compensation / aggregation methods of ``ZodFrame`` (reference semantics)."""

    info: Any
    calibration: Any
    ego_motion: Any

    def compensate_lidar(self, data: Any, timestamp: float, pointwise: bool = False) -> Any:
        """A copy of ``data`` moved from its core time (or per point) to ``timestamp`` (epoch s)."""
        ego_from_lidar = _ego_from_lidar(self)
        if pointwise:
            return motion_compensate_pointwise(
                data, self.ego_motion, ego_from_lidar, float(timestamp)
            )
        return motion_compensate_scanwise(data, self.ego_motion, ego_from_lidar, float(timestamp))

    def get_aggregated_lidar(
        self,
        num_before: int,
        num_after: int = 0,
        timestamp: float | None = None,
        pointwise: bool = False,
        workers: int = 1,
        skip_missing: bool = False,
        remove_ego_lidar_returns: bool = True,
    ) -> Any:
        """The key scan plus ``num_before`` / ``num_after`` neighbours, all moved to one time.

        Default time: the key scan's adjusted core time (then the key scan is not moved, as in
        the reference). With ``timestamp`` the key scan is moved too (the reference leaves it
        at its own time, which mixes two times in one cloud). ``workers`` threads read scans;
        ``skip_missing`` leaves out surrounding scans that are not downloaded (the key scan
        must be there). ``remove_ego_lidar_returns=False`` keeps the returns from the ego car.
        """
        key_frame = self.info.get_key_lidar_frame()
        frames = list(self.get_lidar_frames(num_before, num_after))  # type: ignore[attr-defined]
        key_index = next((i for i, f in enumerate(frames) if f == key_frame), None)
        if key_index is None:
            frames.insert(0, key_frame)
            key_index = 0
        scans = _read_all(
            frames, workers, skip_missing, remove_ego_lidar_returns=remove_ego_lidar_returns
        )
        if scans[key_index] is None:
            key_frame.read()  # raises the MissingFileError naming the key scan
        key_scan = scans[key_index]
        scans = [s for s in scans if s is not None]
        key_index = next(i for i, s in enumerate(scans) if s is key_scan)
        for scan in scans:
            adjust_lidar_core_time(scan)
        target = key_scan.core_timestamp if timestamp is None else float(timestamp)
        ordered = [key_scan] + [s for i, s in enumerate(scans) if i != key_index]  # key scan first
        return aggregate_scans(
            ordered,
            self.ego_motion,
            _ego_from_lidar(self),
            target,
            pointwise=pointwise,
            skip=lambda i, s: i == 0 and timestamp is None and not pointwise,
            inplace=True,
        )

    def get_keyframe_lidar(self, motion_compensated: bool = True, pointwise: bool = False) -> Any:
        """The key scan, moved to the keyframe (camera / annotation) time unless not asked."""
        scan = self.info.get_key_lidar_frame().read()
        if not motion_compensated:
            return scan
        return self.compensate_lidar(scan, self.info.keyframe_time.timestamp(), pointwise=pointwise)


class SequenceGeometryMixin:
    """Compensation / aggregation methods of ``ZodSequence`` (also drives), reference semantics."""

    info: Any
    calibration: Any
    ego_motion: Any

    def compensate_lidar(self, data: Any, timestamp: float, pointwise: bool = False) -> Any:
        """A copy of ``data`` moved from its core time (or per point) to ``timestamp`` (epoch s)."""
        return FrameGeometryMixin.compensate_lidar(self, data, timestamp, pointwise)  # type: ignore[arg-type]

    def get_compensated_lidar(self, time: datetime | float, pointwise: bool = False) -> Any:
        """The scan nearest ``time`` (aware datetime or epoch s), moved to that time."""
        if not isinstance(time, datetime):
            from datetime import timezone

            time = datetime.fromtimestamp(float(time), tz=timezone.utc)
        scan = self.info.get_lidar_frame(time, Lidar.VELODYNE).read()
        return self.compensate_lidar(scan, time.timestamp(), pointwise=pointwise)

    def get_aggregated_lidar(
        self,
        start: int = 0,
        end: int | None = None,
        timestamp: float | None = None,
        pointwise: bool = False,
        workers: int = 1,
        skip_missing: bool = False,
        progress: bool = False,
    ) -> Any:
        """Scans ``[start:end]`` of the clip moved to ``timestamp`` (default: the middle scan's core
        time) and concatenated; a scan already at that time is not moved (reference).
        ``skip_missing`` leaves out scans that are not downloaded; ``progress`` shows a bar."""
        frames = self.info.get_lidar_frames(Lidar.VELODYNE)[start:end]
        if not frames:
            raise ValueError(f"no lidar scans in [{start}:{end}] of sequence {self.info.id}")
        scans = [s for s in _read_all(frames, workers, skip_missing, progress) if s is not None]
        if not scans:
            frames[0].read()  # nothing on disk: raise the reader's MissingFileError
        target = scans[len(scans) // 2].core_timestamp if timestamp is None else float(timestamp)
        return aggregate_scans(
            scans,
            self.ego_motion,
            _ego_from_lidar(self),
            target,
            pointwise=pointwise,
            skip=lambda i, s: (not pointwise) and s.core_timestamp == target,
            inplace=True,
        )

    def get_keyframe_lidar(self, motion_compensated: bool = True, pointwise: bool = False) -> Any:
        """The key scan, moved to the keyframe (camera / annotation) time unless not asked."""
        scan = self.info.get_key_lidar_frame(Lidar.VELODYNE).read()
        if not motion_compensated:
            return scan
        return self.compensate_lidar(scan, self.info.keyframe_time.timestamp(), pointwise=pointwise)
