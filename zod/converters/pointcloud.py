"""ZOD Frames lidar -> ``.pcd`` / ``.ply`` point clouds through open3d (tensor API).

One file per frame, ``<out>/<split>/<id>.<pcd|ply>``, holding the core scan, or the core scan
aggregated with ``num_before`` / ``num_after`` neighbouring scans (motion compensated to the
core scan's time by the devkit's aggregation). Attributes (``o3d.t.geometry.PointCloud``):

- ``positions`` (N, 3) float32, metres, in the lidar frame (default) or the ego frame;
- ``intensity`` (N, 1) float32, the raw 0..255 value;
- ``time`` (N, 1) float64, seconds relative to the frame's key frame time (absolute point time
  = ``keyframe_time`` + ``time``).

``open3d`` is an optional extra (``zod-devkit[viz3d]``); it is imported in the worker only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zod.converters import _frames
from zod.converters.runner import RunKwargs, RunOptions, atomic_write, run_frames, run_options
from zod.errors import ZodError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on

FORMATS = ("pcd", "ply")
FRAMES = ("lidar", "ego")


def _open3d() -> Any:
    try:
        import open3d as o3d
    except ImportError as err:  # pragma: no cover - installed in the dev environment
        raise ZodError("point cloud output needs open3d: pip install 'zod-devkit[viz3d]'") from err
    return o3d


def point_cloud(points: np.ndarray, intensity: np.ndarray, time_s: np.ndarray) -> Any:
    """``o3d.t.geometry.PointCloud`` of points (N, 3), intensity (N,), time_s (N,)."""
    o3d = _open3d()
    cloud = o3d.t.geometry.PointCloud()
    cloud.point.positions = o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
    cloud.point.intensity = o3d.core.Tensor(np.asarray(intensity, dtype=np.float32).reshape(-1, 1))
    cloud.point.time = o3d.core.Tensor(np.asarray(time_s, dtype=np.float64).reshape(-1, 1))
    return cloud


def write_point_cloud(
    path: str | os.PathLike[str], points: np.ndarray, intensity: np.ndarray, time_s: np.ndarray
) -> Path:
    """Write a point cloud atomically; the format follows the suffix (``.pcd`` binary or
    ``.ply``)."""
    o3d = _open3d()
    cloud = point_cloud(points, intensity, time_s)
    return atomic_write(
        path, lambda tmp: o3d.t.io.write_point_cloud(str(tmp), cloud, write_ascii=False)
    )


def read_point_cloud(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read back with open3d: ``positions`` (N, 3), ``intensity`` (N,), ``time`` (N,)."""
    o3d = _open3d()
    cloud = o3d.t.io.read_point_cloud(str(path))
    return {
        "positions": cloud.point.positions.numpy(),
        "intensity": cloud.point.intensity.numpy().reshape(-1),
        "time": cloud.point.time.numpy().reshape(-1),
    }


@dataclass(frozen=True)
class PointCloudFrameTask(_frames.FrameTask):
    """Per-frame work: one point cloud file."""

    split: str = "train"
    file_format: str = "pcd"
    num_before: int = 0
    num_after: int = 0
    coordinate_frame: str = "lidar"
    overwrite: bool = False

    def path(self, frame_id: str) -> Path:
        return Path(self.output_dir) / self.split / f"{frame_id}.{self.file_format}"

    def __call__(self, frame_id: str) -> dict[str, Any]:
        path = self.path(frame_id)
        if path.exists() and not self.overwrite:
            return {"frame_id": frame_id, "path": str(path), "written": False}
        zod_frame = _frames.frame(self.dataset_root, self.version, frame_id)
        lidar = _frames.lidar_scans(zod_frame, self.num_before, self.num_after)
        points = np.asarray(lidar.points, dtype=np.float64)
        if self.coordinate_frame == "ego":
            transform = _frames.ego_from_lidar(_frames.calibration(zod_frame.info))
            points = points @ transform[:3, :3].T + transform[:3, 3]
        keyframe_s = zod_frame.info.keyframe_time.timestamp()
        time_s = np.asarray(lidar.timestamps, dtype=np.float64) - keyframe_s
        write_point_cloud(path, points, lidar.intensity, time_s)
        return {"frame_id": frame_id, "path": str(path), "written": True, "num_points": len(points)}


def convert_to_pointclouds(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    file_format: str = "pcd",
    num_before: int = 0,
    num_after: int = 0,
    coordinate_frame: str = "lidar",
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> Path:
    """Write one point cloud per train / val frame under ``output_dir``; returns it.

    How the run goes: ``options`` (:class:`~zod.converters.runner.RunOptions`), or its fields
    as keywords (``workers=2, progress=False``).
    """
    run = run_options(options, **run_kwargs)
    if file_format not in FORMATS:
        raise ValueError(f"unknown point cloud format {file_format!r}, expected one of {FORMATS}")
    if coordinate_frame not in FRAMES:
        raise ValueError(f"unknown coordinate frame {coordinate_frame!r}, expected one of {FRAMES}")
    if num_before < 0 or num_after < 0:
        raise ValueError("num_before and num_after must be >= 0")
    _open3d()  # fail early, before any worker starts
    root = str(Path(dataset_root).resolve())
    out = Path(output_dir).resolve()
    for split in ("train", "val"):
        task = PointCloudFrameTask(
            root,
            version,
            str(out),
            split,
            file_format,
            num_before,
            num_after,
            coordinate_frame,
            run.overwrite,
        )
        result = run_frames(
            task, _frames.split_ids(root, version, split), run, desc=f"Point clouds {split}"
        )
        if result.missing:
            from zod.converters.runner import atomic_write_text

            atomic_write_text(
                out / f"{split}.missing.txt",
                "".join(f"{fid}\t{msg}\n" for fid, msg in result.missing.items()),
            )
    return out
