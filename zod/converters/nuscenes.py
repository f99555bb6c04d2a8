"""ZOD Frames / Sequences -> the nuScenes v1.0 layout (nuscenes-devkit, mmdetection3d, ...).

Layout written under the output directory (``<version>`` is e.g. ``v1.0-trainval``)::

    <version>/{attribute, calibrated_sensor, category, ego_pose, instance, log, map, sample,
               sample_annotation, sample_data, scene, sensor, visibility}.json
    <version>/splits.json               {"zod_train": [scene names], "zod_val": [...]}
    samples/LIDAR_TOP/<log>__LIDAR_TOP__<us>.pcd.bin   key scans, float32 (N, 5)
    sweeps/LIDAR_TOP/<log>__LIDAR_TOP__<us>.pcd.bin    the other scans
    samples/CAM_FRONT[_LEFT|_RIGHT]/<log>__CAM_...__<us>.jpg   exact pinhole views
    maps/zod-no-map.png                 a blank mask (ZOD has no map; nuScenes needs a file)
    .zod-nuscenes/parts/<subset>-<id>.json   each item's records (resuming; merged at the end)

What is what:

- One ZOD item is one ``log`` and one ``scene``: a Frame is a scene of one sample (its
  keyframe), a Sequence a scene of many samples (camera frames picked at ``sample_rate_hz``,
  the keyframe always among them). Scene names ``zod-frames-009158``, ``zod-sequences-000002``.
- ``global`` is the item's ego-motion world frame (spec section 5); ``ego_pose`` =
  global_from_ego at the record's time, from ``EgoMotion.get_poses`` (slerp / linear).
- LIDAR_TOP = the ZOD lidar frame (the sensor's own axes), ``calibrated_sensor`` = ego_from_lidar
  of ``calibration.json``. Points x, y, z (m), intensity (0..255), ring = diode index.
  A sample's key scan is the scan nearest its time, motion compensated to it (scanwise, as
  ``ZodFrame.get_keyframe_lidar``); its sample_data time is the sample time. Every other scan
  is a sweep, not compensated, stamped with the reference's aggregation time
  (0.75 max + 0.25 min of its point times), so nuScenes' multi-sweep loader (which moves each
  sweep with the ego poses) aggregates like ``ZodFrame.get_aggregated_lidar``.
- CAM_FRONT_LEFT / CAM_FRONT / CAM_FRONT_RIGHT = ``THREE_VIEW_RIG`` of
  :mod:`zod.geometry.pinhole` (``cameras="front"``: CAM_FRONT = ``FRONT_VIEW`` only), rectified
  from the fisheye (exact, no depth assumption: the views share the fisheye's centre);
  ``camera_intrinsic`` = the view's K, ``calibrated_sensor`` = ego_from_camera @
  camera_from_view. Only sample images are written (no camera sweeps).
- ``sample_annotation`` (the annotated keyframe sample only): every object with a 3D box;
  ``translation`` = box centre in global, ``size`` = (w, l, h), ``rotation`` = wxyz of
  global_from_box (its x axis along the length, as ZOD's); category from
  :mod:`zod.converters.nuscenes_tables`; ``num_lidar_pts`` = points of the written key scan
  inside the box (borders included, each box counted on its own); ``num_radar_pts`` = 0;
  visibility from ``occlusion_ratio``; attribute ``cycle.with_rider/without_rider``. One
  ``instance`` per object (ZOD has no tracks), so nuScenes' box velocities are NaN.

Frames (all right-handed; global = the ego-motion world, z up)::

    ego (ZOD = nuScenes)     LIDAR_TOP = ZOD lidar          CAM_* = pinhole view
      x forward                (as mounted: x lateral,        z forward (view axis)
      ^                         y along the vehicle, z up)    /
      |                          y                           o----> x right
  y <-o z up                     ^                           |
                                 |                           v y down
                                 o--> x

    p_global = ego_pose(t) @ calibrated_sensor @ p_sensor          (4 x 4, both "to parent")
    box_global = ego_pose(t_key) @ ego_from_lidar @ box_lidar      (annotations at t_key)

Splits: nuscenes-devkit's predefined splits are lists of nuScenes' own scene names, so ours go
into ``<version>/splits.json`` (``zod_train``, ``zod_val``), which the devkit reads as custom
splits: ``DetectionEval(nusc, config, results, eval_set="zod_val", ...)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zod.converters import nuscenes_tables as tables
from zod.converters.runner import (
    RunKwargs,
    RunOptions,
    atomic_write_bytes,
    json_bytes,
    run_frames,
    run_options,
)
from zod.geometry.transforms import (
    invert_transforms,
    quaternion_multiply,
    quaternions_from_rotation_matrices,
    rotation_matrices_from_quaternions,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on

TABLE_NAMES: tuple[str, ...] = (
    "attribute",
    "calibrated_sensor",
    "category",
    "ego_pose",
    "instance",
    "log",
    "map",
    "sample",
    "sample_annotation",
    "sample_data",
    "scene",
    "sensor",
    "visibility",
)
ITEM_TABLES: tuple[str, ...] = (
    "calibrated_sensor",
    "ego_pose",
    "instance",
    "log",
    "sample",
    "sample_annotation",
    "sample_data",
    "scene",
)
LIDAR_CHANNEL = "LIDAR_TOP"
RIG_CHANNELS = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
MAP_FILENAME = "maps/zod-no-map.png"
PARTS_DIR = ".zod-nuscenes/parts"
SUBSETS = ("frames", "sequences")
SPLIT_KEYS = {"train": "zod_train", "val": "zod_val"}


# ------------------------------------------------------------------------------------- maths
def pose_record(parent_from_child: np.ndarray) -> tuple[list[float], list[float]]:
    """(translation [3], rotation wxyz [4]) of a rigid (4, 4) transform, as nuScenes stores it."""
    matrix = np.asarray(parent_from_child, dtype=np.float64)
    quat = quaternions_from_rotation_matrices(matrix[:3, :3])
    return matrix[:3, 3].tolist(), quat.tolist()


def boxes_to_parent(
    centers: np.ndarray, quaternions: np.ndarray, parent_from_frame: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Box centres (N, 3) and wxyz rotations (N, 4) in a frame -> in its parent (N, 3), (N, 4).

    ``parent_from_frame`` (4, 4) rigid; the rotation is ``q(R) * q_box`` (normalized).
    """
    matrix = np.asarray(parent_from_frame, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    q = np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    out_c = c @ matrix[:3, :3].T + matrix[:3, 3]
    out_q = quaternion_multiply(quaternions_from_rotation_matrices(matrix[:3, :3]), q)
    out_q /= np.linalg.norm(out_q, axis=1, keepdims=True)
    return out_c, out_q


def boxes_lidar_to_global(
    centers_lidar: np.ndarray,
    sizes_lwh: np.ndarray,
    quaternions_lidar: np.ndarray,
    global_from_lidar: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ZOD boxes (lidar frame, size L W H) -> nuScenes ``translation`` (N, 3), ``size`` (N, 3)
    = (w, l, h) and ``rotation`` (N, 4) wxyz in the global frame."""
    translation, rotation = boxes_to_parent(centers_lidar, quaternions_lidar, global_from_lidar)
    sizes_wlh = np.asarray(sizes_lwh, dtype=np.float64).reshape(-1, 3)[:, [1, 0, 2]]
    return translation, sizes_wlh, rotation


def boxes_global_to_sensor(
    translation: np.ndarray, rotation: np.ndarray, global_from_sensor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global boxes -> a sensor frame: centres (N, 3), wxyz (N, 4). What nuscenes-devkit's
    ``get_sample_data`` does record by record (``global_from_sensor`` = ego_pose @ calib)."""
    return boxes_to_parent(translation, rotation, invert_transforms(global_from_sensor))


def count_points_in_boxes(
    points: np.ndarray, centers: np.ndarray, sizes_lwh: np.ndarray, quaternions: np.ndarray
) -> np.ndarray:
    """(N,) number of points (M, 3) inside each box (centres (N, 3), L W H (N, 3), wxyz (N, 4),
    all in the points' frame). Borders count as inside; each box counts on its own (a point in
    two boxes counts twice), like nuscenes-devkit's ``points_in_box``.

    Vectorized, no (N, M) table: the points are sorted by x once; each box's bounding sphere
    gives its slice of x (one ``searchsorted`` for all boxes), the (box, point) pairs of those
    slices are tested on y and z, then exactly in the box frames.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    c = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    n = len(c)
    if n == 0 or len(pts) == 0:
        return np.zeros(n, dtype=np.int64)
    half = 0.5 * np.asarray(sizes_lwh, dtype=np.float64).reshape(n, 3)
    radius = np.linalg.norm(half, axis=1) * (1 + 1e-9) + 1e-9
    order = np.argsort(pts[:, 0])
    xs = pts[order, 0]
    lo = np.searchsorted(xs, c[:, 0] - radius, side="left")
    hi = np.searchsorted(xs, c[:, 0] + radius, side="right")
    counts = hi - lo
    box_idx = np.repeat(np.arange(n), counts)
    # position in the sorted order of every pair: lo[box] + (0 .. count - 1)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    pt_idx = order[np.repeat(lo, counts) + offsets]
    near = np.all(np.abs(pts[pt_idx, 1:] - c[box_idx, 1:]) <= radius[box_idx, None], axis=1)
    box_idx, pt_idx = box_idx[near], pt_idx[near]
    if box_idx.size == 0:
        return np.zeros(n, dtype=np.int64)
    rot = rotation_matrices_from_quaternions(np.asarray(quaternions).reshape(n, 4))
    local = np.einsum("kji,kj->ki", rot[box_idx], pts[pt_idx] - c[box_idx])  # R^T (p - c)
    inside = np.all(np.abs(local) <= half[box_idx] * (1 + 1e-12) + 1e-12, axis=1)
    return np.bincount(box_idx[inside], minlength=n).astype(np.int64)


def pcd_bin_array(points: np.ndarray, intensity: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """(N, 5) float32 rows x, y, z (m), intensity (0..255), ring (diode index): what nuScenes'
    ``LidarPointCloud.from_file`` reads (5 float32 per point) from a ``.pcd.bin``."""
    out = np.empty((len(points), 5), dtype=np.float32)
    out[:, :3] = points
    out[:, 3] = intensity
    out[:, 4] = ring
    return out


def time_us(time_s: float) -> int:
    """Epoch seconds -> nuScenes' integer microseconds (rounded)."""
    return int(round(float(time_s) * 1e6))


def on_us_grid(time_s: float) -> float:
    """A time rounded to whole microseconds: every pose is computed at the time its record
    states (``timestamp / 1e6``), so a reader recomputing it gets the same numbers."""
    return time_us(time_s) / 1e6


def pick_sample_times(
    camera_times_s: Sequence[float] | np.ndarray, keyframe_time_s: float, rate_hz: float | None
) -> list[int]:
    """Indices (sorted) of the camera frames that become samples: for each time of the grid
    ``keyframe + k / rate_hz`` inside the clip (within half a camera period of its ends), the
    nearest camera frame; the one nearest the
    keyframe always. ``rate_hz`` None or <= 0: every camera frame."""
    times = np.asarray(camera_times_s, dtype=np.float64)
    if len(times) == 0:
        return []
    key = int(np.argmin(np.abs(times - keyframe_time_s)))
    if rate_hz is None or rate_hz <= 0:
        return list(range(len(times)))
    step = 1.0 / rate_hz
    k_lo = int(np.floor((times[0] - keyframe_time_s) / step))
    k_hi = int(np.ceil((times[-1] - keyframe_time_s) / step))
    grid = keyframe_time_s + step * np.arange(k_lo, k_hi + 1)
    slack = 0.5 * float(np.median(np.diff(times))) if len(times) > 1 else 0.0  # half a frame
    grid = grid[(grid >= times[0] - slack) & (grid <= times[-1] + slack)]
    nearest = np.abs(times[None, :] - grid[:, None]).argmin(axis=1)
    return sorted(set(nearest.tolist()) | {key})


# ------------------------------------------------------------------------------------- views
def camera_views(cameras: str) -> list[tuple[str, Any]]:
    """(channel, PinholeView) of the exported cameras: ``rig`` (three views) or ``front``."""
    from zod.geometry.pinhole import FRONT_VIEW, THREE_VIEW_RIG

    if cameras == "rig":
        return list(zip(RIG_CHANNELS, THREE_VIEW_RIG))
    if cameras == "front":
        return [("CAM_FRONT", FRONT_VIEW)]
    if cameras == "none":
        return []
    raise ValueError(f"unknown cameras {cameras!r}: expected rig, front or none")


def ego_from_view(ego_from_camera: np.ndarray, view: Any) -> np.ndarray:
    """(4, 4) pose of a pinhole view in the ego frame: ego_from_camera @ camera_from_view."""
    out = np.asarray(ego_from_camera, dtype=np.float64).copy()
    out[:3, :3] = out[:3, :3] @ view.camera_from_view
    return out


# ------------------------------------------------------------------------------------- items
@lru_cache(maxsize=4)
def _dataset(dataset_root: str, version: str, subset: str) -> Any:
    """The ``ZodFrames`` / ``ZodSequences`` of a root, opened once per process."""
    from zod.dataset import ZodFrames, ZodSequences

    cls = ZodFrames if subset == "frames" else ZodSequences
    return cls(dataset_root=dataset_root, version=version)


def scene_name(subset: str, item_id: str) -> str:
    """The scene (and log) name of an item: ``zod-frames-009158``."""
    return f"zod-{subset}-{item_id}"


@dataclass
class _Sample:
    index: int
    time_s: float
    camera: Any  # CameraFrame
    lidar_index: int
    annotated: bool
    token: str


@dataclass(frozen=True)
class NuScenesItemTask:
    """Per-item work (a Frame or a Sequence): point clouds, images and the item's records.

    Picklable (plain fields). Writes the data files, then the part file (last: its presence
    marks the item done) and returns ``{"item_id", "part", "written"}``.
    """

    dataset_root: str
    version: str
    output_dir: str
    subset: str = "frames"
    anonymization: str = "blur"
    cameras: str = "rig"
    sweeps_before: int = 10
    sweeps_after: int = 10
    sample_rate_hz: float | None = 2.0
    jpeg_quality: int = 90
    overwrite: bool = False

    def part_path(self, item_id: str) -> Path:
        return Path(self.output_dir) / PARTS_DIR / f"{self.subset}-{item_id}.json"

    def _done(self, part: Path) -> bool:
        if self.overwrite or not part.exists():
            return False
        try:
            records = json.loads(part.read_bytes())
        except (OSError, ValueError):
            return False
        if records.get("options") != self.options():
            return False  # made with other options (cameras, sweeps...): redo
        out = Path(self.output_dir)
        return all((out / sd["filename"]).exists() for sd in records["sample_data"])

    def options(self) -> dict[str, Any]:
        """What the item's output depends on besides its id (kept in the part file)."""
        return {
            "version": self.version,
            "subset": self.subset,
            "anonymization": self.anonymization,
            "cameras": self.cameras,
            "sweeps_before": self.sweeps_before,
            "sweeps_after": self.sweeps_after,
            "sample_rate_hz": self.sample_rate_hz,
            "jpeg_quality": self.jpeg_quality,
        }

    def __call__(self, item_id: str) -> dict[str, Any]:
        part = self.part_path(item_id)
        if self._done(part):
            return {"item_id": item_id, "part": str(part), "written": False}
        records: dict[str, Any] = dict(self.convert(item_id))
        records["options"] = self.options()
        atomic_write_bytes(part, json_bytes(records))
        return {"item_id": item_id, "part": str(part), "written": True}

    # ------------------------------------------------------------------------ the conversion
    def convert(self, item_id: str) -> dict[str, list[dict[str, Any]]]:
        """Write the item's files; return its records per table."""
        from zod.constants import Anonymization, Camera, Lidar

        item = _dataset(self.dataset_root, self.version, self.subset)[item_id]
        info = item.info
        name = scene_name(self.subset, item_id)
        calibration = item.calibration
        ego_motion = item.ego_motion
        ego_from_lidar = np.asarray(calibration.get_extrinsics(Lidar.VELODYNE).transform)
        camera = calibration.cameras[Camera.FRONT]
        lidar_frames = list(info.get_lidar_frames(Lidar.VELODYNE))
        lidar_times = np.array([f.time_s for f in lidar_frames])
        anonymization = Anonymization(self.anonymization)
        key_camera = info.get_key_camera_frame(anonymization)
        if self.subset == "frames":
            camera_frames = [key_camera]
            picked = [0]
        else:
            camera_frames = list(info.get_camera_frames(anonymization, Camera.FRONT))
            picked = pick_sample_times(
                [c.time_s for c in camera_frames], info.keyframe_time_s, self.sample_rate_hz
            )
        samples: list[_Sample] = []
        used_scans: set[int] = set()
        for i in picked:
            cam = camera_frames[i]
            scan_index = int(np.argmin(np.abs(lidar_times - cam.time_s)))
            if scan_index in used_scans:
                continue  # two camera frames nearest the same scan: keep the first
            used_scans.add(scan_index)
            samples.append(
                _Sample(
                    len(samples),
                    on_us_grid(cam.time_s),
                    cam,
                    scan_index,
                    cam.filepath == key_camera.filepath,
                    tables.token("sample", name, str(len(samples))),
                )
            )
        scans = self._scan_indices(lidar_frames, samples)

        recs: dict[str, list[dict[str, Any]]] = {t: [] for t in ITEM_TABLES}
        log_token = tables.token("log", name)
        metadata = _metadata(item)
        recs["log"].append(
            {
                "token": log_token,
                "logfile": name,
                "vehicle": str(metadata.get("collection_car", "")),
                "date_captured": info.keyframe_time.strftime("%Y-%m-%d"),
                "location": str(metadata.get("country_code", "")),
            }
        )
        lidar_calib = tables.token("calibrated_sensor", name, LIDAR_CHANNEL)
        translation, rotation = pose_record(ego_from_lidar)
        recs["calibrated_sensor"].append(
            {
                "token": lidar_calib,
                "sensor_token": tables.token("sensor", LIDAR_CHANNEL),
                "translation": translation,
                "rotation": rotation,
                "camera_intrinsic": [],
            }
        )
        views = camera_views(self.cameras)
        ego_from_camera = np.asarray(camera.extrinsics.transform)
        for channel, view in views:
            translation, rotation = pose_record(ego_from_view(ego_from_camera, view))
            recs["calibrated_sensor"].append(
                {
                    "token": tables.token("calibrated_sensor", name, channel),
                    "sensor_token": tables.token("sensor", channel),
                    "translation": translation,
                    "rotation": rotation,
                    "camera_intrinsic": view.intrinsics.tolist(),
                }
            )

        # samples
        for s in samples:
            recs["sample"].append(
                {
                    "token": s.token,
                    "timestamp": time_us(s.time_s),
                    "prev": samples[s.index - 1].token if s.index > 0 else "",
                    "next": samples[s.index + 1].token if s.index + 1 < len(samples) else "",
                    "scene_token": tables.token("scene", name),
                }
            )

        # lidar: key scans (compensated to the sample time) and sweeps
        sample_of_scan = {s.lidar_index: s for s in samples}
        lidar_sd: list[dict[str, Any]] = []
        key_points: dict[int, np.ndarray] = {}
        for scan_index in scans:
            frame = lidar_frames[scan_index]
            scan = frame.read()
            key = sample_of_scan.get(scan_index)
            if key is not None:
                scan = item.compensate_lidar(scan, key.time_s)
                t_s = key.time_s
                owner = key
                folder = "samples"
            else:
                from zod.geometry.compensation import core_time_from_point_times

                t_s = on_us_grid(
                    core_time_from_point_times(scan.timestamps)
                    if len(scan.timestamps)
                    else frame.time_s
                )
                owner = next((s for s in samples if s.time_s >= t_s), samples[-1])
                folder = "sweeps"
            cloud = pcd_bin_array(scan.points, scan.intensity, scan.diode_idx)
            if key is not None:
                key_points[key.index] = cloud[:, :3]
            filename = f"{folder}/{LIDAR_CHANNEL}/{name}__{LIDAR_CHANNEL}__{time_us(t_s)}.pcd.bin"
            atomic_write_bytes(Path(self.output_dir) / filename, cloud.tobytes())
            lidar_sd.append(
                self._sample_data(
                    name, LIDAR_CHANNEL, scan_index, owner.token, t_s, key is not None,
                    filename, "pcd", 0, 0, lidar_calib, ego_motion,
                )
            )  # fmt: skip
        recs["sample_data"] += _linked(lidar_sd)
        recs["ego_pose"] += [sd.pop("_ego_pose") for sd in lidar_sd]

        # cameras: one image per sample and view
        if views:
            from zod.geometry.pinhole import rectify

            per_channel: dict[str, list[dict[str, Any]]] = {c: [] for c, _ in views}
            for s in samples:
                fisheye = _read_bgr(s.camera.filepath, self.anonymization)
                for channel, view in views:
                    image = rectify(fisheye, camera, view)
                    filename = f"samples/{channel}/{name}__{channel}__{time_us(s.time_s)}.jpg"
                    _write_jpeg(Path(self.output_dir) / filename, image, self.jpeg_quality)
                    per_channel[channel].append(
                        self._sample_data(
                            name, channel, s.index, s.token, s.time_s, True, filename, "jpg",
                            view.width_px, view.height_px,
                            tables.token("calibrated_sensor", name, channel), ego_motion,
                        )
                    )  # fmt: skip
            for sds in per_channel.values():
                recs["sample_data"] += _linked(sds)
                recs["ego_pose"] += [sd.pop("_ego_pose") for sd in sds]

        # annotations: the keyframe sample
        for s in samples:
            if s.annotated:
                self._annotations(item, name, s, ego_from_lidar, ego_motion, key_points, recs)

        recs["scene"].append(
            {
                "token": tables.token("scene", name),
                "log_token": log_token,
                "nbr_samples": len(samples),
                "first_sample_token": samples[0].token,
                "last_sample_token": samples[-1].token,
                "name": name,
                "description": f"ZOD {self.subset[:-1]} {item_id} ({self.version})",
            }
        )
        return recs

    def _scan_indices(self, lidar_frames: list[Any], samples: list[_Sample]) -> list[int]:
        """Scans to write, in time order: for Frames the key scan with ``sweeps_before`` /
        ``sweeps_after`` around it, for Sequences every scan."""
        if self.subset != "frames":
            return list(range(len(lidar_frames)))
        core = samples[0].lidar_index
        lo = max(0, core - int(self.sweeps_before))
        hi = min(len(lidar_frames), core + int(self.sweeps_after) + 1)
        return list(range(lo, hi))

    @staticmethod
    def _sample_data(
        name: str,
        channel: str,
        index: int,
        sample_token: str,
        time_s: float,
        is_key_frame: bool,
        filename: str,
        fileformat: str,
        width: int,
        height: int,
        calibrated_sensor_token: str,
        ego_motion: Any,
    ) -> dict[str, Any]:
        sd_token = tables.token("sample_data", name, channel, str(index))
        translation, rotation = pose_record(ego_motion.get_poses(float(time_s)))
        return {
            "token": sd_token,
            "sample_token": sample_token,
            "ego_pose_token": sd_token,  # one ego pose per sample_data, as in nuScenes
            "calibrated_sensor_token": calibrated_sensor_token,
            "timestamp": time_us(time_s),
            "fileformat": fileformat,
            "is_key_frame": is_key_frame,
            "height": height,
            "width": width,
            "filename": filename,
            "prev": "",
            "next": "",
            "_ego_pose": {
                "token": sd_token,
                "timestamp": time_us(time_s),
                "rotation": rotation,
                "translation": translation,
            },
        }

    def _annotations(
        self,
        item: Any,
        name: str,
        sample: _Sample,
        ego_from_lidar: np.ndarray,
        ego_motion: Any,
        key_points: dict[int, np.ndarray],
        recs: dict[str, list[dict[str, Any]]],
    ) -> None:
        from zod.annotations.objects import box_set_from_object_annotations
        from zod.constants import AnnotationProject

        project = AnnotationProject.OBJECT_DETECTION
        if not item.is_annotated(project):
            return
        boxes = box_set_from_object_annotations(item.get_annotation(project))
        if len(boxes) == 0:
            return
        global_from_lidar = np.asarray(ego_motion.get_poses(sample.time_s)) @ ego_from_lidar
        translation, size_wlh, rotation = boxes_lidar_to_global(
            boxes.centers_m, boxes.sizes_lwh_m, boxes.quaternions_wxyz, global_from_lidar
        )
        points = key_points.get(sample.index)
        counts = (
            np.zeros(len(boxes), dtype=np.int64)
            if points is None
            else count_points_in_boxes(
                points, boxes.centers_m, boxes.sizes_lwh_m, boxes.quaternions_wxyz
            )
        )
        attrs = boxes.attributes
        subclasses = np.asarray(boxes.subclasses)
        uuids = np.asarray(boxes.uuids)
        unclear = np.asarray(boxes.unclear)
        for i in range(len(boxes)):  # one record per box (JSON building, no geometry)
            category = tables.category_of(
                str(subclasses[i]),
                bool(unclear[i]),
                attrs["object_type"][i],
                attrs["with_rider"][i],
            )
            attribute = tables.attribute_of(category, attrs["with_rider"][i])
            attribute_token = "" if attribute is None else tables.token("attribute", attribute)
            uuid = str(uuids[i]) or str(i)
            ann_token = tables.token("sample_annotation", name, uuid)
            instance_token = tables.token("instance", name, uuid)
            recs["sample_annotation"].append(
                {
                    "token": ann_token,
                    "sample_token": sample.token,
                    "instance_token": instance_token,
                    "visibility_token": tables.visibility_of(attrs["occlusion_level"][i]),
                    "attribute_tokens": [] if attribute is None else [attribute_token],
                    "translation": translation[i].tolist(),
                    "size": size_wlh[i].tolist(),
                    "rotation": rotation[i].tolist(),
                    "prev": "",
                    "next": "",
                    "num_lidar_pts": int(counts[i]),
                    "num_radar_pts": 0,
                }
            )  # fmt: skip
            recs["instance"].append(
                {
                    "token": instance_token,
                    "category_token": tables.token("category", category),
                    "nbr_annotations": 1,
                    "first_annotation_token": ann_token,
                    "last_annotation_token": ann_token,
                }
            )


def _metadata(item: Any) -> dict[str, Any]:
    """The item's metadata fields (empty when metadata.json is not there)."""
    from zod.errors import MissingFileError

    try:
        meta = item.metadata
    except (MissingFileError, FileNotFoundError):
        return {}
    return {k: getattr(meta, k) for k in ("collection_car", "country_code") if hasattr(meta, k)}


def _linked(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``prev`` / ``next`` of time-ordered records of one sensor (in place); returns them."""
    records.sort(key=lambda r: int(r["timestamp"]))
    for a, b in pairwise(records):
        a["next"], b["prev"] = b["token"], a["token"]
    return records


def _read_bgr(path: str | os.PathLike[str], anonymization: str) -> np.ndarray:
    """Decode the fisheye JPEG (H, W, 3) BGR; missing -> MissingFileError naming the stream."""
    import cv2

    from zod.errors import FormatError, MissingFileError
    from zod.release import images_flag

    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if image is None:
        if not os.path.exists(path):
            raise MissingFileError(path, f"{anonymization} image", images_flag(anonymization))
        raise FormatError(path, "not a decodable image")
    return image


def _write_jpeg(path: Path, image_bgr: np.ndarray, quality: int) -> None:
    import cv2

    ok, data = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic_write_bytes(path, data.tobytes())


# ------------------------------------------------------------------------------------- tables
def fixed_tables(channels: Sequence[str], log_tokens: Sequence[str]) -> dict[str, list[Any]]:
    """The tables that do not depend on the items: sensor, category, attribute, visibility, map."""
    sensors = [
        {"token": tables.token("sensor", c), "channel": c, "modality": "lidar"}
        for c in (LIDAR_CHANNEL,)
    ] + [{"token": tables.token("sensor", c), "channel": c, "modality": "camera"} for c in channels]
    return {
        "sensor": sensors,
        "category": [
            {"token": tables.token("category", n), "name": n, "description": d}
            for n, d in tables.CATEGORY_DESCRIPTIONS.items()
        ],
        "attribute": [
            {"token": tables.token("attribute", n), "name": n, "description": d}
            for n, d in tables.ATTRIBUTES.items()
        ],
        "visibility": [
            {"token": t, "level": level, "description": d} for t, level, d in tables.VISIBILITY
        ],
        "map": [
            {
                "token": tables.token("map", "zod-no-map"),
                "log_tokens": list(log_tokens),
                "category": "semantic_prior",
                "filename": MAP_FILENAME,
            }
        ],
    }


def _blank_map_png() -> bytes:
    """A 16 x 16 all-background mask (nuScenes opens the map file of every map record)."""
    import cv2

    ok, data = cv2.imencode(".png", np.zeros((16, 16), dtype=np.uint8))
    assert ok
    return data.tobytes()


def _iter_parts(paths: Sequence[str]) -> Iterator[dict[str, list[dict[str, Any]]]]:
    for path in paths:
        yield json.loads(Path(path).read_bytes())


def write_tables(
    table_dir: Path,
    part_paths: Sequence[str],
    channels: Sequence[str],
    splits: dict[str, list[str]],
) -> None:
    """Merge the items' part files into the 13 tables (streamed: one part in memory at a time),
    plus ``splits.json``; every file is written atomically."""
    from zod._atomic import atomic_path

    log_tokens = [tables.token("log", name) for names in splits.values() for name in names]
    fixed = fixed_tables(channels, log_tokens)
    table_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        files = {}
        first = {}
        for table in ITEM_TABLES:
            tmp = stack.enter_context(atomic_path(table_dir / f"{table}.json"))
            files[table] = stack.enter_context(open(tmp, "wb"))
            files[table].write(b"[")
            first[table] = True
        for part in _iter_parts(part_paths):
            for table in ITEM_TABLES:
                rows = part.get(table) or []
                if not rows:
                    continue
                body = json_bytes(rows)[1:-1]
                files[table].write(body if first[table] else b"," + body)
                first[table] = False
        for table in ITEM_TABLES:
            files[table].write(b"]")
            files[table].close()
    for table, rows in fixed.items():
        atomic_write_bytes(table_dir / f"{table}.json", json_bytes(rows))
    atomic_write_bytes(table_dir / "splits.json", json.dumps(splits, indent=1).encode())


# ------------------------------------------------------------------------------------- driver
def convert_to_nuscenes(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    subset: str = "frames",
    nuscenes_version: str = "v1.0-trainval",
    anonymization: str = "blur",
    cameras: str = "rig",
    sweeps_before: int = 10,
    sweeps_after: int = 10,
    sample_rate_hz: float | None = 2.0,
    splits: Sequence[str] = ("train", "val"),
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> Path:
    """Convert the items of ``splits`` to the nuScenes layout under ``output_dir``.

    Returns the table folder ``output_dir / nuscenes_version``. Resumable: an item whose part
    file and data files exist is not redone (unless ``overwrite``); the tables are merged from
    all parts at the end of every run. How the run goes: ``options``
    (:class:`~zod.converters.runner.RunOptions`), or its fields as keywords, as every converter.
    """
    run = run_options(options, **run_kwargs)
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}: expected one of {SUBSETS}")
    if "/" in nuscenes_version or not nuscenes_version:
        raise ValueError(f"bad nuScenes version name {nuscenes_version!r}")
    root = str(Path(dataset_root).resolve())
    out = Path(output_dir).resolve()
    channels = [c for c, _ in camera_views(cameras)]
    task = NuScenesItemTask(
        root,
        version,
        str(out),
        subset,
        anonymization,
        cameras,
        sweeps_before,
        sweeps_after,
        sample_rate_hz,
        overwrite=run.overwrite,
    )
    dataset = _dataset(root, version, subset)
    part_paths: list[str] = []
    scene_splits: dict[str, list[str]] = {}
    for split in splits:
        ids = sorted(dataset.get_split(split))
        result = run_frames(task, ids, run, desc=f"nuScenes {subset} {split}")
        done = [(item_id, record) for item_id, record in result.ok()]
        part_paths += [record["part"] for _, record in done]
        scene_splits[SPLIT_KEYS.get(split, f"zod_{split}")] = [
            scene_name(subset, item_id) for item_id, _ in done
        ]
        if result.missing:
            atomic_write_bytes(
                out / f"{subset}-{split}.missing.txt",
                "".join(f"{i}\t{m}\n" for i, m in result.missing.items()).encode(),
            )
    atomic_write_bytes(out / MAP_FILENAME, _blank_map_png())
    table_dir = out / nuscenes_version
    write_tables(table_dir, part_paths, channels, scene_splits)
    return table_dir
