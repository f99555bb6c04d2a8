"""Lidar ego-motion compensation on arrays (spec section 7), float64 maths, no file I/O.

A point measured at time ``t_i`` in the lidar frame is moved to where the lidar would have
seen it at ``t_target``::

    p_target = lidar_from_ego @ ego_target_from_world @ world_from_ego(t_i) @ ego_from_lidar @ p_i

*Scanwise*: one ``t_i`` (the scan's core time) for all points, so one fused (4, 4) matrix.
*Pointwise*: ``t_i`` per point (the sweep takes ~0.1 s), one matrix per distinct time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zod.geometry.transforms import apply_rigid, as_transform, invert_transforms

__all__ = [
    "compensate_pointwise",
    "compensate_scanwise",
    "core_time_from_point_times",
    "motion_compensate_pointwise",
    "motion_compensate_scanwise",
    "pointwise_transforms",
    "scanwise_transform",
]


def core_time_from_point_times(point_times_s: np.ndarray) -> float:
    """The reference rule for a scan's core time: 0.75 * max(t) + 0.25 * min(t) (spec section 7).

    The spin's cut is behind the car, so this time points forward. Empty scans: NaN.
    """
    t = np.asarray(point_times_s, dtype=np.float64)
    if t.size == 0:
        return float("nan")
    return float(0.75 * t.max() + 0.25 * t.min())


def scanwise_transform(
    world_from_ego_source: np.ndarray, world_from_ego_target: np.ndarray, ego_from_lidar: Any
) -> np.ndarray:
    """(4, 4) ``lidar_target_from_lidar_source`` for ego poses (4, 4) at the two times."""
    ego_from_lidar = as_transform(ego_from_lidar)
    return (
        invert_transforms(ego_from_lidar)
        @ invert_transforms(as_transform(world_from_ego_target))
        @ as_transform(world_from_ego_source)
        @ ego_from_lidar
    )


def compensate_scanwise(
    points_lidar: np.ndarray,
    world_from_ego_source: np.ndarray,
    world_from_ego_target: np.ndarray,
    ego_from_lidar: Any,
) -> np.ndarray:
    """Move points (N, 3) of a scan taken at the source pose to the target pose.

    Returns (N, 3) in the dtype of ``points_lidar`` (float32 scans stay float32; the maths is
    float64).
    """
    pts = np.asarray(points_lidar)
    transform = scanwise_transform(world_from_ego_source, world_from_ego_target, ego_from_lidar)
    out = apply_rigid(pts, transform[:3, :3], transform[:3, 3])
    return out.astype(
        pts.dtype if np.issubdtype(pts.dtype, np.floating) else np.float64, copy=False
    )


def pointwise_transforms(
    ego_motion: Any, point_times_s: np.ndarray, target_time_s: float, ego_from_lidar: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Transforms (K, 4, 4) ``lidar_target_from_lidar_t``, one per distinct point time, and the
    index (N,) of each point's transform.

    ``ego_motion`` is anything with ``get_poses(times) -> (K, 4, 4)`` (an ``EgoMotion``).
    """
    times = np.asarray(point_times_s, dtype=np.float64)
    unique_times, inverse = np.unique(times, return_inverse=True)
    ego_from_lidar = as_transform(ego_from_lidar)
    world_from_ego = ego_motion.get_poses(unique_times).reshape(-1, 4, 4)
    target_from_world = invert_transforms(ego_motion.get_poses(float(target_time_s)))
    transforms = (
        invert_transforms(ego_from_lidar) @ target_from_world @ world_from_ego @ ego_from_lidar
    )
    return transforms, inverse.reshape(-1)


def compensate_pointwise(
    points_lidar: np.ndarray,
    point_times_s: np.ndarray,
    ego_motion: Any,
    target_time_s: float,
    ego_from_lidar: Any,
) -> np.ndarray:
    """Move every point (N, 3), measured at its own time (N,) epoch s, to ``target_time_s``.

    Returns (N, 3) in the dtype of ``points_lidar``. Times outside the ego motion raise
    ``TimeOutOfRangeError``.
    """
    pts = np.asarray(points_lidar)
    if len(pts) == 0:
        return pts.copy()
    transforms, index = pointwise_transforms(
        ego_motion, point_times_s, target_time_s, ego_from_lidar
    )
    out = apply_rigid(pts, transforms[index, :3, :3], transforms[index, :3, 3])
    return out.astype(
        pts.dtype if np.issubdtype(pts.dtype, np.floating) else np.float64, copy=False
    )


# --------------------------------------------------------------------------- LidarData level
def _ego_from_lidar(calibration: Any) -> np.ndarray:
    """ego_from_lidar (4, 4) of a LidarCalibration, a Pose or a matrix."""
    return as_transform(getattr(calibration, "extrinsics", calibration))


def motion_compensate_scanwise(
    lidar_data: Any, ego_motion: Any, calibration: Any, target_timestamp: float
) -> Any:
    """Reference-compatible: a copy of ``lidar_data`` moved from its ``core_timestamp`` to
    ``target_timestamp`` (epoch s). ``calibration`` is the ``LidarCalibration`` (or ego_from_lidar).
    """
    out = lidar_data.copy()
    source = ego_motion.get_poses(float(lidar_data.core_timestamp))
    target = ego_motion.get_poses(float(target_timestamp))
    out.points = compensate_scanwise(
        lidar_data.points, source, target, _ego_from_lidar(calibration)
    )
    return out


def motion_compensate_pointwise(
    lidar_data: Any, ego_motion: Any, calibration: Any, target_timestamp: float | None = None
) -> Any:
    """Reference-compatible: a copy of ``lidar_data`` with each point moved from its own time
    to ``target_timestamp`` (default: the scan's ``core_timestamp``).
    """
    out = lidar_data.copy()
    target = lidar_data.core_timestamp if target_timestamp is None else target_timestamp
    out.points = compensate_pointwise(
        lidar_data.points,
        lidar_data.timestamps,
        ego_motion,
        float(target),
        _ego_from_lidar(calibration),
    )
    return out
