"""Frames, sequences and drives logged to a rerun recording (``pip install zod-devkit[viewer]``).

One recording per item, on the sensors' real time line (``TIMELINE``: epoch time of each
camera image, lidar scan and radar scan). The entity tree mirrors the calibration, so rerun
itself places lidar, boxes and radar in 3D and projects them into the camera image::

    world                      ViewCoordinates FLU (x forward, y left, z up); the ego trajectory
    world/ego                  world_from_ego at every sensor time (ego motion, interpolated)
    world/ego/lidar            ego_from_lidar (static)      .../points, .../boxes, .../predictions
    world/ego/camera_front     ego_from_camera (static)
    world/ego/camera_front/image   Pinhole (camera_xyz RDF) + the image, 2D boxes, lanes, ego road
    world/ego/radar_front      ego_from_radar (static)      .../points
    signals/oxts/..., signals/vehicle/...   time series (Scalars)

Transforms are logged as rerun's ``Transform3D`` (parent_from_child: ``ego_from_lidar`` at
``world/ego/lidar``), never as pre-projected pixels. The ZOD camera is a Kannala-Brandt fisheye;
rerun's ``Pinhole`` is a pinhole model, so the fisheye image is logged with a pinhole of the
calibration's K: rerun's 3D-to-image overlay of that image matches the fisheye only near the
image centre (the lens bends rays more than a pinhole away from it). A rectified pinhole view
(an image resampled to an exact pinhole K) is logged with :func:`log_pinhole_view`, and then
rerun's overlay is exact. The annotation overlays (2D boxes, lanes, ego road) are annotated
pixels of the fisheye image itself, so they are exact on it.

Library use (from a training loop, say)::

    import rerun as rr
    from zod import ZodFrames
    from zod.viz import rerun_log as zr

    rec = zr.new_recording("009158")
    rec.save("frame.rrd", default_blueprint=zr.default_blueprint())
    zr.log_frame(rec, ZodFrames(root, "full")["009158"])
    zr.log_boxes3d(rec, my_boxes, entity=zr.LIDAR + "/my_model")   # at the current time
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tqdm import tqdm

from zod.constants import EGO, AnnotationProject, Anonymization, Camera, Lidar, Radar
from zod.errors import MissingFileError, NotAnnotatedError, ZodError
from zod.geometry.transforms import quaternions_from_rotation_matrices
from zod.viz.colors import class_colors, colormap_lut

if TYPE_CHECKING:
    import rerun as rr

__all__ = [
    "CAMERA",
    "EGO_ENTITY",
    "IMAGE",
    "LIDAR",
    "RADAR",
    "SIGNALS",
    "TIMELINE",
    "WORLD",
    "LogOptions",
    "PredictedBoxes",
    "RectifiedView",
    "default_blueprint",
    "lidar_colors",
    "log_boxes3d",
    "log_calibration",
    "log_ego_poses",
    "log_frame",
    "log_image",
    "log_item",
    "log_lidar",
    "log_objects",
    "log_oxts",
    "log_pinhole_view",
    "log_polygons",
    "log_predictions",
    "log_radar",
    "log_sequence",
    "log_trajectory",
    "log_vehicle_data",
    "match_predictions",
    "new_recording",
    "packed_colors",
    "predictions_for_item",
    "set_time",
]

TIMELINE = "sensor_time"
"""The timeline of every logged sensor sample (epoch time, shown as a date in the viewer)."""

WORLD = "world"
EGO_ENTITY = "world/ego"
LIDAR = "world/ego/lidar"
CAMERA = "world/ego/camera_front"
IMAGE = "world/ego/camera_front/image"
RADAR = "world/ego/radar_front"
SIGNALS = "signals"

TP_COLOR = (40, 200, 60)
"""Predictions that match a ground-truth box (true positives)."""
FP_COLOR = (235, 50, 50)
"""Predictions that match no ground-truth box (false positives)."""
LANE_COLOR = (255, 220, 0)
EGO_ROAD_COLOR = (255, 0, 255)
TRAJECTORY_COLOR = (0, 200, 255)

HEIGHT_RANGE_M = (-0.5, 3.0)
"""Ego heights (m) at the two ends of the ``height`` colour map (the BEV's range)."""

LidarColor = Literal["height", "intensity", "time"]


def _rr() -> Any:
    """The rerun module, with a message naming the extra when it is missing."""
    try:
        import rerun
    except ImportError as err:  # pragma: no cover - the extra is installed in CI
        raise ImportError(
            "zod.viz.rerun_log needs rerun: pip install 'zod-devkit[viewer]' (rerun-sdk)"
        ) from err
    return rerun


# ---------------------------------------------------------------------------- box accessors
# Box3DSet / DetectionBoxes column names in one place (the arrays are renamed with units).
def _box_columns(boxes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centers_m (N, 3), sizes_lwh_m (N, 3), quaternions_wxyz (N, 4)) of a ``Box3DSet`` or
    ``DetectionBoxes`` (both use the one naming scheme of box arrays)."""
    return (
        np.asarray(boxes.centers_m, dtype=np.float64).reshape(-1, 3),
        np.asarray(boxes.sizes_lwh_m, dtype=np.float64).reshape(-1, 3),
        np.asarray(boxes.quaternions_wxyz, dtype=np.float64).reshape(-1, 4),
    )


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class RectifiedView:
    """A pinhole view resampled from the fisheye image, logged with its exact K.

    Attributes:
        name: entity under ``world/ego`` (images at ``world/ego/<name>/image``).
        intrinsics: (3, 3) K of the view's images (pixels).
        resolution_wh: (width, height) of the view's images.
        ego_from_view: (4, 4) pose of the view's camera frame (x right, y down, z forward).
        rectify: full-resolution fisheye RGB (H, W, 3) uint8 -> the view's RGB (h, w, 3).

    ``zod.geometry.pinhole``'s views fit here (its K, size, pose and ``rectify``).
    """

    name: str
    intrinsics: np.ndarray
    resolution_wh: tuple[int, int]
    ego_from_view: np.ndarray
    rectify: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LogOptions:
    """What :func:`log_frame` / :func:`log_sequence` log, and how.

    Attributes:
        lidar_color: point colours: ego ``height`` (-0.5..3 m), ``intensity`` or point ``time``
            within its scan.
        compensate: move each scan's points from their own times to the scan's core time
            (pointwise motion compensation) before logging.
        aggregate: also log, at the keyframe, the key scan with this many scans on each side
            moved to the keyframe time (``world/ego/lidar/aggregated``); 0: none.
        num_scans_before, num_scans_after: Frames only: scans around the core scan logged at
            their own times (scans not downloaded are skipped with a warning).
        image_scale: 1 logs the JPEG files as they are (no decode); 1/2, 1/4, 1/8 decode at
            that scale and re-encode (smaller recordings); the pinhole K is scaled to match.
        anonymization: ``blur`` or ``dnat`` images.
        start_s, end_s: sequences and drives: the window logged, seconds from the item's start.
        radar, signals, annotations: log radar points / oxts and vehicle time series /
            annotations (boxes, lanes, ego road).
        predictions: predicted boxes of this item (see :func:`predictions_for_item`).
        match_distance_m: xy centre distance below which a prediction matches a ground truth
            of its class (the nuScenes rule of ``zod eval detection``; its TP threshold).
        progress: a tqdm bar over the logged sensor samples.
        read_threads: threads reading scans and images ahead of the logger.
        views: rectified pinhole views logged beside the fisheye image (each camera image is
            then decoded at full resolution and resampled).
    """

    lidar_color: LidarColor = "height"
    compensate: bool = False
    aggregate: int = 0
    num_scans_before: int = 0
    num_scans_after: int = 0
    image_scale: float = 1.0
    anonymization: Anonymization = Anonymization.BLUR
    start_s: float | None = None
    end_s: float | None = None
    radar: bool = True
    signals: bool = True
    annotations: bool = True
    predictions: PredictedBoxes | None = None
    match_distance_m: float = 2.0
    progress: bool = False
    read_threads: int = 2
    views: tuple[RectifiedView, ...] = ()


@dataclass(frozen=True)
class PredictedBoxes:
    """Predicted 3D boxes of one item, lidar frame: ``centers`` (N, 3) m, ``sizes`` (N, 3)
    LWH m, ``quaternions`` (N, 4) wxyz, ``names`` (N,) class or subclass, ``scores`` (N,)."""

    centers: np.ndarray
    sizes: np.ndarray
    quaternions: np.ndarray
    names: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.centers)

    @property
    def classes(self) -> np.ndarray:
        """(N,) class of each box (``Vehicle_Car`` -> ``Vehicle``)."""
        return np.array([str(n).split("_", 1)[0] for n in self.names], dtype=object)


# ---------------------------------------------------------------------------- recording
def new_recording(
    item_id: str, application_id: str = "zod", subset: str = ""
) -> rr.RecordingStream:
    """A recording stream named after the item (add a sink: ``.save(path)``, ``.serve_grpc()``)."""
    rr = _rr()
    rec = rr.RecordingStream(application_id, recording_id=f"zod-{subset or 'item'}-{item_id}")
    rec.send_recording_name(f"ZOD {subset} {item_id}".replace("  ", " "))
    return rec


def default_blueprint(view_names: Sequence[str] = ()) -> Any:
    """The layout: 3D scene following the ego, the camera image with 3D content projected by
    rerun (and one such image per rectified view in ``view_names``), and the time series."""
    import rerun.blueprint as rrb

    overlays = [f"/{LIDAR}/**", f"/{RADAR}/**"]
    images = [
        rrb.Spatial2DView(name="camera_front", origin=IMAGE, contents=["$origin/**", *overlays])
    ]
    images += [
        rrb.Spatial2DView(
            name=name, origin=f"/{EGO_ENTITY}/{name}/image", contents=["$origin/**", *overlays]
        )
        for name in view_names
    ]
    return rrb.Blueprint(
        rrb.Horizontal(
            rrb.Spatial3DView(
                name="3D (ego)",
                origin=EGO_ENTITY,
                contents=["/world/**"],
                eye_controls=rrb.EyeControls3D(  # behind and above the ego, looking ahead
                    position=[-18.0, 0.0, 12.0], look_target=[25.0, 0.0, 0.0], eye_up=[0, 0, 1]
                ),
            ),
            rrb.Vertical(
                *images,
                rrb.Tabs(
                    rrb.TimeSeriesView(name="oxts", origin=f"/{SIGNALS}/oxts"),
                    *(
                        rrb.TimeSeriesView(name=group, origin=f"/{SIGNALS}/vehicle/{group}")
                        for group in ("ego_vehicle_data", "ego_vehicle_controls", "satellite")
                    ),
                ),
                row_shares=[3] * len(images) + [2],
            ),
            column_shares=[3, 2],
        ),
        collapse_panels=False,
    )


def _set_time(rec: rr.RecordingStream, time_s: float) -> None:
    rec.set_time(TIMELINE, timestamp=float(time_s))


def _time_column(times_s: np.ndarray) -> Any:
    rr = _rr()
    return rr.TimeColumn(TIMELINE, timestamp=np.asarray(times_s, dtype=np.float64))


def _quaternions_xyzw(rotations: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations -> (N, 4) quaternions in rerun's (x, y, z, w) order."""
    wxyz = quaternions_from_rotation_matrices(np.asarray(rotations, dtype=np.float64))
    return np.roll(wxyz.reshape(-1, 4), -1, axis=1)


# ---------------------------------------------------------------------------- transforms
def _log_static_transform(rec: rr.RecordingStream, entity: str, parent_from_child: Any) -> None:
    rr = _rr()
    t = np.asarray(getattr(parent_from_child, "transform", parent_from_child), dtype=np.float64)
    rec.log(entity, rr.Transform3D(translation=t[:3, 3], mat3x3=t[:3, :3]), static=True)


def log_pinhole_view(
    rec: rr.RecordingStream,
    entity: str,
    intrinsics: np.ndarray,
    resolution_wh: Sequence[float],
    ego_from_camera: Any,
) -> None:
    """A pinhole camera: ``entity`` gets ``ego_from_camera`` (static), ``entity/image`` the
    ``Pinhole`` of ``intrinsics`` (3, 3) (or (3, 4); its left 3x3) with the camera axes of ZOD
    (x right, y down, z forward: rerun's RDF). Log images at ``entity/image``.

    Exact for images that are pinhole images of that K (a rectified view); for the fisheye
    image it is the approximation described in the module docstring.
    """
    rr = _rr()
    _log_static_transform(rec, entity, ego_from_camera)
    k = np.asarray(intrinsics, dtype=np.float64)[:3, :3]
    rec.log(
        f"{entity}/image",
        rr.Pinhole(
            image_from_camera=k,
            resolution=[float(resolution_wh[0]), float(resolution_wh[1])],
            camera_xyz=rr.ViewCoordinates.RDF,
            image_plane_distance=2.0,
        ),
        static=True,
    )


def _scaled_size(calibration: Any, image_scale: float) -> tuple[int, int, float, float]:
    """(width, height, sx, sy) of the camera image decoded at ``image_scale`` (ceil, as the
    JPEG decoder does)."""
    width, height = (int(v) for v in calibration.cameras[Camera.FRONT].image_dimensions)
    if image_scale == 1:
        return width, height, 1.0, 1.0
    w, h = math.ceil(width * image_scale), math.ceil(height * image_scale)
    return w, h, w / width, h / height


def log_calibration(rec: rr.RecordingStream, calibration: Any, image_scale: float = 1.0) -> None:
    """The static transform tree: world axes, lidar, front camera (pinhole of the calibration's
    K, scaled to ``image_scale``) and the radar when the calibration has one."""
    rr = _rr()
    rec.log(WORLD, rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    _log_static_transform(rec, LIDAR, calibration.get_extrinsics(Lidar.VELODYNE))
    cam = calibration.cameras[Camera.FRONT]
    w, h, sx, sy = _scaled_size(calibration, image_scale)
    k = np.diag([sx, sy, 1.0]) @ np.asarray(cam.intrinsics, dtype=np.float64)[:3, :3]
    log_pinhole_view(rec, CAMERA, k, (w, h), cam.extrinsics)
    if calibration.radars:
        _log_static_transform(rec, RADAR, calibration.get_extrinsics(Radar.FRONT))


def log_ego_poses(rec: rr.RecordingStream, ego_motion: Any, times_s: np.ndarray) -> None:
    """``world_from_ego`` at ``world/ego`` at each time (M,) (interpolated, one column send);
    times outside the ego motion are left out."""
    rr = _rr()
    times = np.unique(np.asarray(times_s, dtype=np.float64))
    span = ego_motion.timestamps
    times = times[(times >= span[0]) & (times <= span[-1])] if len(span) else times[:0]
    if not len(times):
        return
    poses = ego_motion.get_poses(times).reshape(-1, 4, 4)
    rec.send_columns(
        EGO_ENTITY,
        indexes=[_time_column(times)],
        columns=rr.Transform3D.columns(
            translation=poses[:, :3, 3], quaternion=_quaternions_xyzw(poses[:, :3, :3])
        ),
    )


def log_trajectory(rec: rr.RecordingStream, ego_motion: Any) -> None:
    """The whole ego path as one static line in the world frame."""
    rr = _rr()
    positions = np.asarray(ego_motion.poses, dtype=np.float64)[:, :3, 3]
    if len(positions) < 2:
        return
    rec.log(
        f"{WORLD}/trajectory",
        rr.LineStrips3D([positions], colors=[TRAJECTORY_COLOR], radii=[0.1]),
        static=True,
    )


# ---------------------------------------------------------------------------- sensors
@lru_cache(maxsize=4)
def _packed_lut(name: str = "turbo") -> np.ndarray:
    """(256,) uint32 colours 0xRRGGBBFF of a colour map: rerun's native colour format, so a
    scan's colours are one gather (no (N, 3) -> packed conversion inside rerun)."""
    lut = colormap_lut(name).astype(np.uint32)
    return (lut[:, 0] << 24) | (lut[:, 1] << 16) | (lut[:, 2] << 8) | np.uint32(0xFF)


def packed_colors(values01: np.ndarray, name: str = "turbo") -> np.ndarray:
    """Values in [0, 1] (N,) -> (N,) uint32 0xRRGGBBFF, the colours of ``apply_colormap``."""
    v = np.array(values01, dtype=np.float64)  # a private copy, changed in place below
    np.nan_to_num(v, copy=False, nan=0.0)
    np.clip(v, 0.0, 1.0, out=v)
    v *= 255.0
    np.rint(v, out=v)
    return _packed_lut(name)[v.astype(np.intp)]


def lidar_colors(scan: Any, calibration: Any, color_by: LidarColor = "height") -> np.ndarray:
    """(N,) uint32 colours of a scan's points (0xRRGGBBFF): ego height, intensity or point time
    within the scan."""
    if color_by == "height":
        ego_from_lidar = calibration.get_transform(Lidar.VELODYNE, EGO)
        lo, hi = HEIGHT_RANGE_M
        row = ego_from_lidar[2] / (hi - lo)  # (ego z - lo) / (hi - lo), one pass per column
        points = np.asarray(scan.points)
        v = np.full(len(points), (ego_from_lidar[2, 3] - lo) / (hi - lo))
        for axis in range(3):  # columns are contiguous in scans read from disk
            v += points[:, axis].astype(np.float64) * row[axis]
        return packed_colors(v)
    if color_by == "intensity":
        return packed_colors(np.asarray(scan.intensity, dtype=np.float64) / 255.0)
    if color_by == "time":
        t = np.asarray(scan.timestamps, dtype=np.float64)
        span = float(t.max() - t.min()) if len(t) else 0.0
        return packed_colors((t - t.min()) / span if span > 0 else np.zeros_like(t))
    raise ValueError(f"unknown lidar colouring {color_by!r}: use height, intensity or time")


def log_lidar(
    rec: rr.RecordingStream,
    scan: Any,
    calibration: Any,
    color_by: LidarColor = "height",
    entity: str = f"{LIDAR}/points",
) -> None:
    """One ``LidarData`` (lidar frame) as Points3D at the current time."""
    rr = _rr()
    rec.log(
        entity,
        rr.Points3D(
            np.asarray(scan.points, dtype=np.float32),
            colors=lidar_colors(scan, calibration, color_by),
            radii=[-1.5],
        ),
    )


def _image_bytes(frame: Any) -> bytes:
    path = frame.filepath
    if not os.path.isfile(path):
        raise MissingFileError(path, "camera image", getattr(frame, "stream", None))
    with open(path, "rb") as f:
        return f.read()


def _read_image(frame: Any, image_scale: float) -> bytes:
    """JPEG bytes of a camera frame: the file itself at scale 1, else decoded reduced and
    encoded again."""
    if image_scale == 1:
        return _image_bytes(frame)
    import simplejpeg

    rgb = np.ascontiguousarray(frame.read(scale=image_scale))
    return bytes(simplejpeg.encode_jpeg(rgb, quality=90, colorspace="RGB"))


def log_image(rec: rr.RecordingStream, jpeg: bytes, entity: str = IMAGE) -> None:
    """A JPEG at ``entity`` (the front camera by default) at the current time."""
    rr = _rr()
    rec.log(entity, rr.EncodedImage(contents=jpeg, media_type="image/jpeg"))


def log_radar(
    rec: rr.RecordingStream,
    radar: Any,
    window_s: tuple[float, float] | None = None,
    entity: str = f"{RADAR}/points",
) -> np.ndarray:
    """All radar scans of a clip, each at its own time, in one column send (radar frame).

    Returns the (S,) scan times logged. Times assume nanosecond ``timestamp`` (zod.sensors.radar).
    """
    rr = _rr()
    n = len(radar.radar_range)
    if not n:
        return np.zeros(0)
    order = np.argsort(radar.scan_index, kind="stable")
    time_s = np.asarray(radar.time_s, dtype=np.float64)[order]
    scan = np.asarray(radar.scan_index)[order]
    keep = np.ones(n, dtype=bool)
    if window_s is not None:
        keep = (time_s >= window_s[0]) & (time_s <= window_s[1])
    order, time_s, scan = order[keep], time_s[keep], scan[keep]
    if not len(order):
        return np.zeros(0)
    starts = np.flatnonzero(np.r_[True, scan[1:] != scan[:-1]])
    lengths = np.diff(np.r_[starts, len(scan)])
    points = radar.get_cartesian_coordinates()[order].astype(np.float32)
    rate = np.asarray(radar.range_rate, dtype=np.float64)[order]
    colors = packed_colors(rate / 40.0 + 0.5)
    scan_times = time_s[starts]
    rec.send_columns(
        entity,
        indexes=[_time_column(scan_times)],
        columns=rr.Points3D.columns(positions=points, colors=colors).partition(lengths),
    )
    return scan_times


def _send_series(
    rec: rr.RecordingStream, entity: str, times_s: np.ndarray, values: np.ndarray
) -> None:
    rr = _rr()
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not len(values):
        return
    rec.send_columns(
        entity, indexes=[_time_column(times_s)], columns=rr.Scalars.columns(scalars=values)
    )


def _window_mask(times_s: np.ndarray, window_s: tuple[float, float] | None) -> np.ndarray:
    times = np.asarray(times_s, dtype=np.float64)
    if window_s is None:
        return np.ones(times.shape, dtype=bool)
    return (times >= window_s[0]) & (times <= window_s[1])


def log_oxts(
    rec: rr.RecordingStream, oxts: Any, window_s: tuple[float, float] | None = None
) -> None:
    """Speed, velocities, accelerations and angular rates of an ``EgoMotion`` (oxts) as time
    series under ``signals/oxts``."""
    keep = _window_mask(oxts.timestamps, window_s)
    t = np.asarray(oxts.timestamps, dtype=np.float64)[keep]
    vel = np.asarray(oxts.velocities, dtype=np.float64)[keep]
    acc = np.asarray(oxts.accelerations, dtype=np.float64)[keep]
    rates = np.asarray(oxts.angular_rates, dtype=np.float64)[keep]
    _send_series(rec, f"{SIGNALS}/oxts/speed_m_s", t, np.linalg.norm(vel, axis=1))
    for i, axis in enumerate("xyz"):
        _send_series(rec, f"{SIGNALS}/oxts/velocity_{axis}_m_s", t, vel[:, i])
        _send_series(rec, f"{SIGNALS}/oxts/acceleration_{axis}_m_s2", t, acc[:, i])
        _send_series(rec, f"{SIGNALS}/oxts/angular_rate_{axis}_rad_s", t, rates[:, i])


def log_vehicle_data(
    rec: rr.RecordingStream, vehicle_data: Any, window_s: tuple[float, float] | None = None
) -> None:
    """Every field of ``vehicle_data.hdf5`` (three groups) as a time series under
    ``signals/vehicle/<group>/<field>`` (satellite positions as ``lat_deg``, ``lon_deg``)."""
    for group_name in ("ego_vehicle_data", "ego_vehicle_controls", "satellite"):
        group = getattr(vehicle_data, group_name)
        t = group.time_s
        keep = _window_mask(t, window_s)
        for field in type(group).FIELDS:
            if field == "timestamp":
                continue
            values = np.asarray(getattr(group, field))
            if field in ("latpos", "lonpos"):  # nanodegrees -> degrees (a readable axis)
                field, values = f"{field[:3]}_deg", values.astype(np.float64) * 1e-9
            if values.dtype.kind not in "biuf" or values.shape != t.shape:
                continue
            _send_series(rec, f"{SIGNALS}/vehicle/{group_name}/{field}", t[keep], values[keep])


# ---------------------------------------------------------------------------- annotations
def log_boxes3d(
    rec: rr.RecordingStream,
    boxes: Any,
    *,
    entity: str = f"{LIDAR}/boxes",
    colors: np.ndarray | Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    show_labels: bool | None = None,
) -> None:
    """Boxes (a ``Box3DSet``, ``DetectionBoxes`` or ``PredictedBoxes``; centre, LWH size,
    wxyz rotation) as one Boxes3D batch at the current time. The entity sets their frame
    (the lidar by default, where annotations and predictions live)."""
    rr = _rr()
    centers, sizes, quats = _box_columns(boxes)
    if colors is not None:
        colors = np.asarray(colors, dtype=np.uint8)
        if colors.ndim == 1:
            colors = np.broadcast_to(colors, (len(centers), 3))
    rec.log(
        entity,
        rr.Boxes3D(
            centers=centers,
            half_sizes=sizes / 2.0,
            quaternions=np.roll(quats, -1, axis=1),  # wxyz -> rerun's xyzw
            colors=colors,
            labels=None if labels is None else list(labels),
            show_labels=show_labels,
        ),
    )


def _object_boxes(objects: Sequence[Any]) -> Any:
    from zod.annotations.objects import box_set_from_object_annotations

    return box_set_from_object_annotations(objects)


def log_objects(
    rec: rr.RecordingStream, objects: Sequence[Any], image_sx: float = 1.0, image_sy: float = 1.0
) -> None:
    """Object annotations at the current time: 3D boxes (lidar frame, class colours, labels)
    and 2D boxes on the image (pixels scaled by ``image_sx``, ``image_sy``)."""
    rr = _rr()
    boxes = _object_boxes(objects)
    if len(boxes):
        names = [str(c) for c in boxes.subclasses]
        colors = class_colors(list(boxes.classes))
        # labels on hover / selection (class colours say enough in a full scene)
        log_boxes3d(rec, boxes, colors=colors, labels=names, show_labels=False)
    else:
        log_boxes3d(rec, boxes)  # an empty batch: no 3D box at this time
    if objects:
        xyxy = np.array([np.asarray(o.box2d.xyxy, dtype=np.float64) for o in objects])
        xyxy = xyxy * np.array([image_sx, image_sy, image_sx, image_sy])
        rec.log(
            f"{IMAGE}/boxes2d",
            rr.Boxes2D(
                array=xyxy,
                array_format=rr.Box2DFormat.XYXY,
                colors=class_colors([o.name for o in objects]),
                labels=[str(o.name) for o in objects],
                show_labels=False,
            ),
        )


def log_polygons(
    rec: rr.RecordingStream,
    entity: str,
    annotations: Sequence[Any],
    color: Sequence[int],
    image_sx: float = 1.0,
    image_sy: float = 1.0,
) -> int:
    """Lane or ego-road annotations (objects with ``.polygons``: rings of pixels) as closed
    line strips on the image at the current time; returns the number of rings."""
    rr = _rr()
    scale = np.array([image_sx, image_sy])
    rings = [
        np.vstack([ring, ring[:1]]) * scale
        for annotation in annotations
        for polygon in annotation.polygons
        for ring in polygon
        if len(ring) >= 2
    ]
    if rings:
        rec.log(entity, rr.LineStrips2D(rings, colors=[tuple(color)], radii=[-1.5]))
    return len(rings)


# ---------------------------------------------------------------------------- predictions
def predictions_for_item(
    predictions: Any, item_id: str | int, min_score: float = 0.0
) -> PredictedBoxes:
    """The boxes of one item in a ``DetectionBoxes`` (``zod.eval.detection.read_predictions``)
    or a predictions file path, with score >= ``min_score``.

    The evaluation table has one row per name a box counts for (``Vehicle`` and
    ``Vehicle_Car``); rows with the same geometry, score and class are one box here, named by
    its most specific name.
    """
    from zod.eval.detection.boxes import normalize_frame_id

    if isinstance(predictions, (str, os.PathLike)):
        from zod.eval.detection.io import read_predictions

        predictions = read_predictions(predictions)
    frame_id = normalize_frame_id(item_id)
    centers, sizes, quats = _box_columns(predictions)
    names = np.asarray(predictions.names, dtype=str)
    scores = np.asarray(predictions.scores, dtype=np.float64)
    if frame_id in predictions.frame_ids:
        rows = np.flatnonzero(
            (np.asarray(predictions.frame_index) == predictions.frame_ids.index(frame_id))
            & (scores >= min_score)
        )
    else:
        rows = np.zeros(0, dtype=np.int64)
    if len(rows):
        superclass = np.array([n.split("_", 1)[0] for n in names[rows]])
        _, class_id = np.unique(superclass, return_inverse=True)
        key = np.column_stack(
            [class_id.reshape(-1), scores[rows], centers[rows], sizes[rows], quats[rows]]
        )
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        last = np.full(len(first), -1, dtype=np.int64)
        np.maximum.at(last, inverse.reshape(-1), np.arange(len(rows)))  # the subclass row
        order = np.argsort(first)
        name_rows = rows[last[order]]
        rows = rows[first[order]]
        return PredictedBoxes(
            centers[rows], sizes[rows], quats[rows], names[name_rows], scores[rows]
        )
    return PredictedBoxes(centers[rows], sizes[rows], quats[rows], names[rows], scores[rows])


def match_predictions(
    predictions: PredictedBoxes,
    gt_centers: np.ndarray,
    gt_classes: Sequence[str],
    distance_m: float = 2.0,
) -> np.ndarray:
    """(N,) bool: each prediction is a true positive against the ground truth of its class.

    The rule of ``zod eval detection``: per class, predictions by descending score take the
    nearest free ground truth by xy centre distance, a match when strictly below
    ``distance_m`` (``zod.eval.detection.matching.match_greedy``).
    """
    from zod.eval.detection.matching import match_greedy

    is_tp = np.zeros(len(predictions), dtype=bool)
    if not len(predictions):
        return is_tp
    pred_classes = predictions.classes
    gt_classes_arr = np.asarray(list(gt_classes), dtype=object)
    gt_xy = np.asarray(gt_centers, dtype=np.float64).reshape(-1, 3)[:, :2]
    for name in np.unique(pred_classes.astype(str)):  # one call per class present
        p = np.flatnonzero(pred_classes == name)
        g = np.flatnonzero(gt_classes_arr == name)
        result = match_greedy(
            np.zeros(len(g), dtype=np.int64),
            gt_xy[g],
            np.zeros(len(p), dtype=np.int64),
            predictions.centers[p, :2],
            predictions.scores[p],
            distance_m,
        )
        is_tp[p[result.order]] = result.is_tp
    return is_tp


def log_predictions(
    rec: rr.RecordingStream,
    predictions: PredictedBoxes,
    objects: Sequence[Any] | None,
    distance_m: float = 2.0,
    entity: str = f"{LIDAR}/predictions",
) -> np.ndarray:
    """Predicted boxes at the current time, green where they match a ground truth (clear
    objects with a 3D box) and red where not; labels ``class score TP|FP``. Returns is_tp."""
    gt = [o for o in (objects or []) if getattr(o, "box3d", None) is not None and not o.unclear]
    gt_boxes = _object_boxes(gt)
    gt_centers, _, _ = _box_columns(gt_boxes)
    is_tp = match_predictions(predictions, gt_centers, list(gt_boxes.classes), distance_m)
    colors = np.where(is_tp[:, None], np.array(TP_COLOR), np.array(FP_COLOR)).astype(np.uint8)
    labels = [
        f"{n} {s:.2f} {'TP' if tp else 'FP'}"
        for n, s, tp in zip(predictions.names, predictions.scores, is_tp)
    ]
    log_boxes3d(rec, predictions, entity=entity, colors=colors.reshape(-1, 3), labels=labels)
    return is_tp


# ---------------------------------------------------------------------------- items
def _annotation(item: Any, project: AnnotationProject) -> Any:
    """An item's annotation, or None when it has none (missing file: a warning)."""
    if not item.is_annotated(project):
        return None
    try:
        return item.get_annotation(project)
    except (NotAnnotatedError, MissingFileError) as err:
        warnings.warn(f"{item.id}: {project.value} not logged: {err}", stacklevel=3)
        return None


def _log_keyframe_annotations(
    rec: rr.RecordingStream, item: Any, options: LogOptions, sx: float, sy: float
) -> list[str]:
    """The keyframe's layers at the current time; returns the entities logged."""
    logged: list[str] = []
    objects = _annotation(item, AnnotationProject.OBJECT_DETECTION) if options.annotations else None
    if objects is not None:
        log_objects(rec, objects, sx, sy)
        logged += [f"{LIDAR}/boxes", f"{IMAGE}/boxes2d"]
    if options.annotations:
        for project, entity, color in (
            (AnnotationProject.LANE_MARKINGS, f"{IMAGE}/lanes", LANE_COLOR),
            (AnnotationProject.EGO_ROAD, f"{IMAGE}/ego_road", EGO_ROAD_COLOR),
        ):
            polygons = _annotation(item, project)
            if polygons and log_polygons(rec, entity, polygons, color, sx, sy):
                logged.append(entity)
    if options.predictions is not None:
        if objects is None and not options.annotations:
            objects = _annotation(item, AnnotationProject.OBJECT_DETECTION)
        log_predictions(rec, options.predictions, objects, options.match_distance_m)
        logged.append(f"{LIDAR}/predictions")
    return logged


def _clear(rec: rr.RecordingStream, entities: Sequence[str]) -> None:
    """End layers at the current time (keyframe layers at the next sensor sample: the ego has
    moved on)."""
    rr = _rr()
    for entity in entities:
        rec.log(entity, rr.Clear(recursive=False))


FLUSH_EVERY_BYTES = 64 * 2**20
"""Logging waits for rerun's sink after about this much data (a slow disk or a loaded machine
would otherwise queue the whole recording in memory)."""


def _logged_bytes(data: Any) -> int:
    """About the bytes a sample adds to the recording (JPEGs; points and their colours)."""
    if isinstance(data, tuple):  # camera: (jpeg, [view jpegs])
        return len(data[0]) + sum(len(v) for v in data[1])
    points = getattr(data, "points", None)
    return 0 if points is None else int(points.nbytes) + 4 * len(points)


@dataclass(frozen=True)
class _Event:
    """One sensor sample to log: ``kind`` "lidar" / "camera" / "keyframe" at ``time_s``."""

    time_s: float
    kind: str
    frame: Any = None


def _read_event(event: _Event, item: Any, options: LogOptions) -> Any:
    """The data of an event (runs on reader threads)."""
    if event.kind == "camera":
        main = _read_image(event.frame, options.image_scale)
        if not options.views:
            return main, []
        import simplejpeg

        rgb = event.frame.read()
        views = [
            bytes(simplejpeg.encode_jpeg(np.ascontiguousarray(v.rectify(rgb)), quality=90))
            for v in options.views
        ]
        return main, views
    if event.kind == "lidar":
        try:
            scan = event.frame.read()
        except MissingFileError as err:
            return err
        if options.compensate and len(scan.points):
            try:
                scan = item.compensate_lidar(scan, scan.core_timestamp, pointwise=True)
            except ZodError as err:  # ego motion does not cover every point time
                warnings.warn(f"scan at {event.time_s:.3f} not compensated: {err}", stacklevel=2)
        return scan
    if event.kind == "keyframe" and options.aggregate > 0:
        return _aggregated(item, options)
    return None


def _aggregated(item: Any, options: LogOptions) -> Any:
    """The key scan with ``aggregate`` scans on each side, moved to the keyframe time."""
    n = int(options.aggregate)
    key_time = item.info.keyframe_time.timestamp()
    from zod.frame import ZodFrame

    if isinstance(item, ZodFrame):  # around the core scan
        return item.get_aggregated_lidar(n, n, timestamp=key_time, skip_missing=True)
    frames = item.info.get_lidar_frames(Lidar.VELODYNE)
    key = frames.index(item.info.get_key_lidar_frame())
    return item.get_aggregated_lidar(
        max(0, key - n), key + n + 1, timestamp=key_time, skip_missing=True
    )


def _run_events(
    rec: rr.RecordingStream, item: Any, events: list[_Event], options: LogOptions, desc: str
) -> dict[str, int]:
    """Log the events in time order, reading ahead on threads; returns counts per kind."""
    from zod.stream import read_ahead

    calib = item.calibration
    _, _, sx, sy = _scaled_size(calib, options.image_scale)
    counts = {"camera": 0, "lidar": 0, "keyframe": 0, "missing": 0}
    keyframe_entities: list[str] = []
    pending_bytes = 0

    def read(event: _Event) -> Any:
        return _read_event(event, item, options)

    data_iter: Iterator[Any] = read_ahead(
        events, read, num_threads=max(1, options.read_threads), prefetch=4
    )
    bar = tqdm(total=len(events), desc=desc, unit="sample", disable=not options.progress)
    with bar:
        for event, data in zip(events, data_iter):
            _set_time(rec, event.time_s)
            if keyframe_entities and event.kind != "keyframe":
                _clear(rec, keyframe_entities)
                keyframe_entities = []
            if event.kind == "camera":
                log_image(rec, data[0])
                for view, jpeg in zip(options.views, data[1]):
                    log_image(rec, jpeg, f"{EGO_ENTITY}/{view.name}/image")
                counts["camera"] += 1
            elif event.kind == "lidar":
                if isinstance(data, MissingFileError):
                    counts["missing"] += 1
                else:
                    log_lidar(rec, data, calib, options.lidar_color)
                    counts["lidar"] += 1
            else:
                keyframe_entities = _log_keyframe_annotations(rec, item, options, sx, sy)
                if data is not None:
                    log_lidar(rec, data, calib, options.lidar_color, f"{LIDAR}/aggregated")
                    keyframe_entities.append(f"{LIDAR}/aggregated")
                counts["keyframe"] += 1
            bar.update()
            pending_bytes += _logged_bytes(data)
            if pending_bytes >= FLUSH_EVERY_BYTES:  # let the sink catch up: bounded memory
                rec.flush()
                pending_bytes = 0
    if counts["missing"]:
        warnings.warn(
            f"{item.id}: {counts['missing']} lidar scans are not on disk and were left out",
            stacklevel=3,
        )
    return counts


def _sorted_events(events: list[_Event]) -> list[_Event]:
    # keyframe after a sample of the same time: its layers belong to that instant
    rank = {"lidar": 0, "camera": 1, "keyframe": 2}
    return sorted(events, key=lambda e: (e.time_s, rank[e.kind]))


def _log_static_context(rec: rr.RecordingStream, item: Any, options: LogOptions) -> Any:
    """Calibration, trajectory; returns the ego motion (None when missing)."""
    log_calibration(rec, item.calibration, options.image_scale)
    for view in options.views:
        log_pinhole_view(
            rec,
            f"{EGO_ENTITY}/{view.name}",
            view.intrinsics,
            view.resolution_wh,
            view.ego_from_view,
        )
    try:
        motion = item.ego_motion
    except MissingFileError as err:
        warnings.warn(f"{item.id}: no ego motion, ego pose not logged: {err}", stacklevel=3)
        return None
    log_trajectory(rec, motion)
    return motion


def _log_signals(rec: rr.RecordingStream, item: Any, window_s: tuple[float, float] | None) -> None:
    try:
        log_oxts(rec, item.oxts, window_s)
    except (MissingFileError, ZodError) as err:
        warnings.warn(f"{item.id}: oxts not logged: {err}", stacklevel=3)
    if getattr(item.info, "vehicle_data_path", None):
        try:
            log_vehicle_data(rec, item.vehicle_data, window_s)
        except (MissingFileError, ZodError) as err:
            warnings.warn(f"{item.id}: vehicle data not logged: {err}", stacklevel=3)


def log_frame(
    rec: rr.RecordingStream, frame: Any, options: LogOptions | None = None
) -> dict[str, int]:
    """A ZOD Frames item: calibration, the key image, the core scan (and ``num_scans_*``
    around it) at their times, annotations and predictions at the keyframe time, the ego pose
    and trajectory, oxts series. Returns the counts of logged samples."""
    options = options or LogOptions()
    motion = _log_static_context(rec, frame, options)
    camera = frame.get_camera_frame(options.anonymization)
    lidar_frames = frame.get_lidar_frames(options.num_scans_before, options.num_scans_after)
    events = [_Event(camera.time.timestamp(), "camera", camera)]
    events += [_Event(f.time.timestamp(), "lidar", f) for f in lidar_frames]
    events.append(_Event(frame.info.keyframe_time.timestamp(), "keyframe"))
    events = _sorted_events(events)
    if motion is not None:
        log_ego_poses(rec, motion, np.array([e.time_s for e in events]))
    if options.signals:
        _log_signals(rec, frame, None)
    return _run_events(rec, frame, events, options, f"logging frame {frame.id}")


def _window(item: Any, options: LogOptions) -> tuple[float, float]:
    start = item.info.start_time.timestamp()
    end = item.info.end_time.timestamp()
    lo = start + (options.start_s or 0.0)
    hi = end if options.end_s is None else min(end, start + options.end_s)
    if hi < lo:
        raise ValueError(f"empty window: start {options.start_s} s is after end {options.end_s} s")
    return lo, hi


def log_sequence(
    rec: rr.RecordingStream, sequence: Any, options: LogOptions | None = None
) -> dict[str, int]:
    """A ZOD Sequences or Drives item, streamed in time order (bounded memory): every camera
    image and lidar scan in the window, the keyframe's annotations and predictions, radar
    scans, ego poses, trajectory, oxts and vehicle data. Returns the counts of logged samples."""
    options = options or LogOptions()
    window = _window(sequence, options)
    motion = _log_static_context(rec, sequence, options)
    info = sequence.info

    def inside(frame: Any) -> bool:
        return window[0] <= frame.time.timestamp() <= window[1]

    events = [
        _Event(f.time.timestamp(), "camera", f)
        for f in info.get_camera_frames(options.anonymization)
        if inside(f)
    ]
    events += [_Event(f.time.timestamp(), "lidar", f) for f in info.get_lidar_frames() if inside(f)]
    key_time = info.keyframe_time.timestamp()
    if window[0] <= key_time <= window[1] and info.annotations:
        events.append(_Event(key_time, "keyframe"))
    events = _sorted_events(events)
    radar_times = np.zeros(0)
    if options.radar and info.radar_frames:
        try:
            radar_times = log_radar(rec, sequence.get_radar(), window)
        except MissingFileError as err:
            warnings.warn(f"{sequence.id}: radar not logged: {err}", stacklevel=2)
    if motion is not None:
        log_ego_poses(rec, motion, np.r_[[e.time_s for e in events], radar_times])
    if options.signals:
        _log_signals(rec, sequence, window)
    return _run_events(rec, sequence, events, options, f"logging {sequence.id}")


def log_item(
    rec: rr.RecordingStream, item: Any, options: LogOptions | None = None
) -> dict[str, int]:
    """:func:`log_frame` for a ``ZodFrame``, :func:`log_sequence` for sequences and drives."""
    from zod.frame import ZodFrame

    if isinstance(item, ZodFrame):
        return log_frame(rec, item, options)
    return log_sequence(rec, item, options)


def item_time_s(value: datetime | float) -> float:
    """Epoch seconds of a datetime or a float (helper for user code setting the timeline)."""
    return value.timestamp() if isinstance(value, datetime) else float(value)


def set_time(rec: rr.RecordingStream, time: datetime | float) -> None:
    """Set ``TIMELINE`` of ``rec`` (epoch seconds or an aware datetime) before logging."""
    _set_time(rec, item_time_s(time))
