"""Whole-item renderers behind ``zod visualize``: a frame's image with layers, its BEV, its 3D
scene, and a sequence as a video.

They take the items of the readers (``ZodFrame`` / ``ZodSequence`` / drives: anything with
``info``, ``calibration``, ``get_annotation``...) and combine the drawing primitives of
:mod:`zod.viz.image`, :mod:`zod.viz.bev` and :mod:`zod.viz.open3d_viz`. Layers that need
data an item lacks (no annotations on a drive, no ego road on this frame) are skipped, never
an error; a missing file of a requested layer raises the reader's ``MissingFileError``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from os import PathLike
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from zod.annotations.objects import box_set_from_object_annotations
from zod.constants import EGO, AnnotationProject, Anonymization, Camera, Lidar
from zod.errors import MissingFileError, NotAnnotatedError
from zod.geometry.box_set import Box3DSet
from zod.geometry.masks import binary_mask
from zod.viz import bev as bev_mod
from zod.viz.colors import class_colors
from zod.viz.image import (
    draw_boxes_2d,
    draw_boxes_3d,
    draw_labels,
    draw_lidar,
    draw_polylines,
    draw_trajectory,
    overlay_mask,
    trajectory_in_ego,
)

__all__ = [
    "DEFAULT_LAYERS",
    "FRAME_LAYERS",
    "frame_scene",
    "parse_layers",
    "predictions_for_item",
    "render_frame_bev",
    "render_frame_image",
    "render_sequence_video",
    "sequence_video_frames",
]

FRAME_LAYERS = ("image", "boxes2d", "boxes3d", "lidar", "masks", "trajectory", "labels")
DEFAULT_LAYERS = ("image", "boxes3d", "lidar", "masks", "trajectory", "labels")
EGO_ROAD_COLOR = (255, 0, 255)
LANE_COLOR = (255, 230, 0)
TRAJECTORY_COLOR = (255, 60, 60)
PREDICTION_COLOR = (255, 255, 255)


def parse_layers(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"image,boxes3d,lidar"`` (or a list) -> validated layer names; ``"all"`` -> every layer."""
    names = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    if names == ["all"]:
        return FRAME_LAYERS
    unknown = [n for n in names if n not in FRAME_LAYERS]
    if unknown:
        raise ValueError(
            f"unknown layer(s) {', '.join(unknown)}; choose from {', '.join(FRAME_LAYERS)} or all"
        )
    return tuple(names)


# ---------------------------------------------------------------------------- item access
def _keyframe_time_s(item: Any) -> float:
    t = item.info.keyframe_time
    return t.timestamp() if hasattr(t, "timestamp") else float(t)


def _annotation(item: Any, project: AnnotationProject) -> list[Any]:
    """The item's annotations of ``project``, or [] when the project is not annotated for it."""
    is_annotated = getattr(item, "is_annotated", None)
    if is_annotated is not None and not is_annotated(project):
        return []
    try:
        return list(item.get_annotation(project))
    except NotAnnotatedError:
        return []


def _ego_motion(item: Any) -> Any:
    """Light ego motion (always distributed with the infos), else the oxts file."""
    try:
        return item.ego_motion
    except MissingFileError:
        return item.oxts


def _lidar(item: Any, num_scans_before: int = 0, num_scans_after: int = 0) -> Any:
    """The item's key point cloud (LidarData, lidar frame), aggregated over surrounding scans of
    a frame when asked; a sequence's scan compensated to the keyframe time."""
    if hasattr(item, "get_compensated_lidar") and not hasattr(item, "get_lidar_frames"):
        return item.get_compensated_lidar(item.info.keyframe_time)
    if num_scans_before or num_scans_after:
        return item.get_aggregated_lidar(num_before=num_scans_before, num_after=num_scans_after)
    return (
        item.get_lidar()[0]
        if hasattr(item, "get_lidar_frames")
        else item.info.get_key_lidar_frame().read()
    )


def _object_boxes(objects: Sequence[Any]) -> Box3DSet:
    return box_set_from_object_annotations(list(objects))


def _ego_road_annotations(item: Any) -> list[Any]:
    """Ego road polygons proper (``EgoRoad_*`` classes; barrier/road-edge entries excluded)."""
    out = []
    for anno in _annotation(item, AnnotationProject.EGO_ROAD):
        kind = getattr(anno, "type", None)
        name = str(getattr(kind, "value", kind) or "")
        if not name or name.startswith("EgoRoad"):
            out.append(anno)
    return out


# ---------------------------------------------------------------------------- camera image
def _read_scaled(read: Any, scale: float) -> np.ndarray:
    """Decode a JPEG at the smallest of 1, 1/2, 1/4, 1/8 scale that is >= ``scale`` (the JPEG
    decoder then skips most of the work); the caller resizes to the exact size."""
    return read(min((s for s in (1.0, 0.5, 0.25, 0.125) if s >= scale - 1e-9), default=1.0))


def _scaled_size(cam: Any, scale: float) -> tuple[int, int]:
    width, height = (int(v) for v in np.asarray(cam.image_dimensions)[:2])
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def render_frame_image(
    item: Any,
    layers: Sequence[str] = DEFAULT_LAYERS,
    *,
    anonymization: Anonymization = Anonymization.BLUR,
    scale: float = 0.5,
    num_scans_before: int = 0,
    num_scans_after: int = 0,
    max_depth_m: float = 60.0,
    image: np.ndarray | None = None,
    predictions: Box3DSet | None = None,
    prediction_color: tuple[int, int, int] = PREDICTION_COLOR,
) -> np.ndarray:
    """The key camera image of ``item`` (RGB, ``scale`` x full resolution) with ``layers`` drawn.

    Layers (in drawing order): image (else a black picture), masks (ego road magenta, lane
    markings yellow), lidar (coloured by depth, 0..``max_depth_m``), trajectory (the ego path
    from ego motion), boxes2d, boxes3d (class colours, through the fisheye), labels (class
    names). ``image`` overrides the camera picture (e.g. one already read). ``predictions``
    (a Box3DSet, e.g. from :func:`predictions_for_item`) are drawn last, in ``prediction_color``.
    """
    layers = parse_layers(layers)
    calib = item.calibration
    cam = calib.cameras[Camera.FRONT]
    width, height = _scaled_size(cam, scale)
    if "image" in layers:
        if image is None:
            image = _read_scaled(lambda s: item.get_image(anonymization, scale=s), scale)
        picture = np.asarray(image)
        if picture.shape[:2] != (height, width):
            picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
        picture = np.ascontiguousarray(picture, dtype=np.uint8)
    else:
        picture = np.zeros((height, width, 3), dtype=np.uint8)
    full_h = int(np.asarray(cam.image_dimensions)[1])
    sx = width / float(np.asarray(cam.image_dimensions)[0])
    thickness = max(1, int(round(6 * sx)))
    if "masks" in layers:
        road = _ego_road_annotations(item)
        if road:
            overlay_mask(
                picture,
                binary_mask(road, (full_h, int(cam.image_dimensions[0])), sx),
                EGO_ROAD_COLOR,
                0.35,
            )
        lanes = _annotation(item, AnnotationProject.LANE_MARKINGS)
        if lanes:
            overlay_mask(
                picture,
                binary_mask(lanes, (full_h, int(cam.image_dimensions[0])), sx),
                LANE_COLOR,
                0.6,
            )
    if "lidar" in layers:
        scan = _lidar(item, num_scans_before, num_scans_after)
        draw_lidar(
            picture,
            scan.points,
            calib,
            Lidar.VELODYNE,
            max_depth_m=max_depth_m,
            radius=max(1, int(round(3 * sx))),
        )
    if "trajectory" in layers:
        motion = _ego_motion(item)
        positions = trajectory_in_ego(motion.poses, motion.get_poses(_keyframe_time_s(item)))
        draw_trajectory(picture, positions, calib, TRAJECTORY_COLOR, thickness=thickness + 1)
    objects = (
        _annotation(item, AnnotationProject.OBJECT_DETECTION)
        if ({"boxes2d", "boxes3d", "labels"} & set(layers))
        else []
    )
    if objects and "boxes2d" in layers:
        colors = class_colors([o.name for o in objects])
        draw_boxes_2d(picture, objects, colors, thickness, scale=sx)
    if objects and "boxes3d" in layers:
        boxes = _object_boxes(objects)
        if len(boxes):
            draw_boxes_3d(
                picture, boxes, calib, colors=class_colors(list(boxes.classes)), thickness=thickness
            )
    if predictions is not None and len(predictions):
        draw_boxes_3d(
            picture, predictions, calib, colors=prediction_color, thickness=max(1, thickness - 1)
        )
    if objects and "labels" in layers:
        anchors = np.array([np.asarray(o.box2d.xyxy, dtype=np.float64)[:2] for o in objects]) * sx
        draw_labels(
            picture,
            anchors - np.array([0.0, 3.0]),
            [str(o.name) for o in objects],
            class_colors([o.name for o in objects]),
            font_scale=max(0.35, 1.2 * sx),
        )
    return picture


# ---------------------------------------------------------------------------- BEV
def render_frame_bev(
    item: Any,
    grid: bev_mod.BevGrid | None = None,
    *,
    num_scans_before: int = 0,
    num_scans_after: int = 0,
    color_by: str = "height",
    boxes: bool = True,
    labels: bool = False,
    trajectory: bool = True,
    predictions: Box3DSet | None = None,
    prediction_color: tuple[int, int, int] = PREDICTION_COLOR,
) -> np.ndarray:
    """BEV picture of the item in its ego frame at the keyframe: lidar (height colours -0.5..3 m
    above the ego origin, or intensity), object boxes, the ego and its trajectory, and
    ``predictions`` (Box3DSet) in ``prediction_color``."""
    calib = item.calibration
    scan = _lidar(item, num_scans_before, num_scans_after)
    points_ego = calib.transform_points(np.asarray(scan.points)[:, :3], Lidar.VELODYNE, EGO)
    corners = None
    box_cols = None
    box_labels = None
    if boxes:
        box_set = _object_boxes(_annotation(item, AnnotationProject.OBJECT_DETECTION))
        if len(box_set):
            box_set = box_set.convert_to(EGO, calib)
            corners = box_set.corners()
            box_cols = class_colors(list(box_set.classes))
            box_labels = [str(c) for c in box_set.classes] if labels else None
    track = None
    if trajectory:
        motion = _ego_motion(item)
        track = trajectory_in_ego(motion.poses, motion.get_poses(_keyframe_time_s(item)))[:, :2]
    picture = bev_mod.render_bev(
        points_ego,
        grid,
        values=np.asarray(scan.intensity, dtype=np.float64) if color_by == "intensity" else None,
        color_by=color_by,
        value_range=(-0.5, 3.0) if color_by == "height" else None,
        boxes=corners,
        box_colors=box_cols,
        box_labels=box_labels,
        trajectory_xy=track,
    )
    if predictions is not None and len(predictions):
        grid = grid or bev_mod.BevGrid()
        footprint, heading = bev_mod.bev_box_outlines(
            predictions.convert_to(EGO, calib).corners(), grid
        )
        draw_polylines(picture, list(footprint), prediction_color, 1, closed=True)
        draw_polylines(picture, list(heading), prediction_color, 1)
    return picture


def predictions_for_item(
    path: str | PathLike[str], item_id: str | int, min_score: float = 0.0
) -> Box3DSet:
    """The predicted boxes of one frame from a detection predictions file.

    The file has the format of ``zod eval detection`` (docs/eval.md); the boxes with score
    >= ``min_score`` come back as a lidar-frame Box3DSet.
    """
    from zod.eval.detection.boxes import normalize_frame_id
    from zod.eval.detection.io import read_predictions

    boxes = read_predictions(path)
    frame_id = normalize_frame_id(item_id)
    if frame_id not in boxes.frame_ids:
        return Box3DSet.empty(Lidar.VELODYNE)
    scores = np.nan_to_num(np.asarray(boxes.scores, dtype=np.float64), nan=1.0)
    keep = (np.asarray(boxes.frame_index) == boxes.frame_ids.index(frame_id)) & (
        scores >= min_score
    )
    return Box3DSet(
        boxes.centers_m[keep],
        boxes.sizes_lwh_m[keep],
        boxes.quaternions_wxyz[keep],
        Lidar.VELODYNE,
        classes=np.asarray(boxes.names)[keep],
    )


# ---------------------------------------------------------------------------- 3D
def frame_scene(
    item: Any,
    *,
    num_scans_before: int = 0,
    num_scans_after: int = 0,
    color_by: str = "height",
) -> dict[str, Any]:
    """The item's 3D scene in the ego frame: ``points`` (N, 3), ``colors`` (N, 3) uint8,
    ``corners`` (M, 8, 3) of the object boxes and their ``classes`` (M,)."""
    from zod.viz.open3d_viz import point_colors

    calib = item.calibration
    scan = _lidar(item, num_scans_before, num_scans_after)
    points_ego = calib.transform_points(np.asarray(scan.points)[:, :3], Lidar.VELODYNE, EGO)
    if color_by == "intensity":
        colors = point_colors(points_ego, "intensity", values=np.asarray(scan.intensity))
    else:
        colors = point_colors(
            points_ego, color_by, value_range=(-0.5, 3.0) if color_by == "height" else None
        )
    box_set = _object_boxes(_annotation(item, AnnotationProject.OBJECT_DETECTION))
    if len(box_set):
        box_set = box_set.convert_to(EGO, calib)
        corners, classes = box_set.corners(), [str(c) for c in box_set.classes]
    else:
        corners, classes = np.zeros((0, 8, 3)), []
    return {"points": points_ego, "colors": colors, "corners": corners, "classes": classes}


# ---------------------------------------------------------------------------- sequences
def sequence_video_frames(
    sequence: Any,
    view: str = "camera",
    *,
    scale: float = 0.25,
    stride: int = 1,
    max_frames: int | None = None,
    max_depth_m: float = 60.0,
    grid: bev_mod.BevGrid | None = None,
    anonymization: Anonymization = Anonymization.BLUR,
    workers: int = 1,
) -> tuple[Iterator[np.ndarray], int]:
    """Pictures of a sequence (or drive) for a video, and how many there will be.

    ``view="camera"``: each camera image (every ``stride``-th) with the lidar scan nearest in
    time, motion-compensated to the image time, coloured by depth, and the ego path.
    ``view="bev"``: each lidar scan in BEV in the ego frame of its own time, with the ego path.
    Object boxes are annotated at the keyframe only, so they are drawn on the picture nearest
    the keyframe (within 0.1 s), not carried to other times. ``workers`` > 1 renders pictures
    on that many threads (0: all cores), still yielded in time order.
    """
    workers = (os.cpu_count() or 1) if workers == 0 else int(workers)
    if view not in ("camera", "bev"):
        raise ValueError(f"view must be 'camera' or 'bev', not {view!r}")
    info = sequence.info
    calib = sequence.calibration
    motion = _ego_motion(sequence)
    key_time = _keyframe_time_s(sequence)
    objects = _annotation(sequence, AnnotationProject.OBJECT_DETECTION)
    key_boxes = _object_boxes(objects) if objects else Box3DSet.empty()
    if view == "camera":
        pairs = list(info.get_camera_lidar_map(anonymization))[:: max(int(stride), 1)]
        times = [p[0].time for p in pairs]
    else:
        lidar_frames = list(info.get_lidar_frames(Lidar.VELODYNE))[:: max(int(stride), 1)]
        times = [f.time for f in lidar_frames]
    if max_frames is not None:
        times = times[: int(max_frames)]
    t_lo, t_hi = float(motion.timestamps[0]), float(motion.timestamps[-1])
    seconds = [t.timestamp() if hasattr(t, "timestamp") else float(t) for t in times]
    nearest_key = int(np.argmin(np.abs(np.array(seconds) - key_time))) if seconds else -1

    cam = calib.cameras[Camera.FRONT]
    width, height = _scaled_size(cam, scale)
    sx = width / float(np.asarray(cam.image_dimensions)[0])
    ego_from_lidar = calib.get_transform(Lidar.VELODYNE, EGO)
    box_colors = class_colors(list(key_boxes.classes))

    def camera_picture(i: int) -> np.ndarray:
        camera_frame, t_s = pairs[i][0], seconds[i]
        raw = np.asarray(_read_scaled(lambda s: camera_frame.read(scale=s), scale))
        if raw.shape[:2] != (height, width):
            raw = cv2.resize(raw, (width, height), interpolation=cv2.INTER_AREA)
        picture = np.ascontiguousarray(raw)
        scan = sequence.get_compensated_lidar(camera_frame.time)
        draw_lidar(
            picture,
            scan.points,
            calib,
            Lidar.VELODYNE,
            max_depth_m=max_depth_m,
            radius=max(1, int(round(3 * sx))),
        )
        t_clamped = min(max(t_s, t_lo), t_hi)
        positions = trajectory_in_ego(motion.poses, motion.get_poses(t_clamped))
        draw_trajectory(
            picture, positions, calib, TRAJECTORY_COLOR, thickness=max(1, int(round(8 * sx)))
        )
        if i == nearest_key and len(key_boxes) and abs(t_s - key_time) <= 0.1:
            draw_boxes_3d(
                picture, key_boxes, calib, colors=box_colors, thickness=max(1, int(round(6 * sx)))
            )
        _caption(picture, f"{info.id}  t={t_s - key_time:+.2f} s")
        return picture

    def bev_picture(i: int) -> np.ndarray:
        t_s = seconds[i]
        scan = lidar_frames[i].read()
        points_ego = (
            np.asarray(scan.points)[:, :3] @ ego_from_lidar[:3, :3].T + ego_from_lidar[:3, 3]
        )
        t_clamped = min(max(t_s, t_lo), t_hi)
        track = trajectory_in_ego(motion.poses, motion.get_poses(t_clamped))[:, :2]
        corners = cols = None
        if i == nearest_key and len(key_boxes) and abs(t_s - key_time) <= 0.1:
            corners = key_boxes.convert_to(EGO, calib).corners()
            cols = box_colors
        picture = bev_mod.render_bev(
            points_ego,
            grid,
            value_range=(-0.5, 3.0),
            boxes=corners,
            box_colors=cols,
            trajectory_xy=track,
        )
        _caption(picture, f"{info.id}  t={t_s - key_time:+.2f} s")
        return picture

    render = camera_picture if view == "camera" else bev_picture
    return _ordered_map(render, len(seconds), workers), len(seconds)


def _ordered_map(render: Any, count: int, workers: int) -> Iterator[np.ndarray]:
    """``render(0..count-1)`` in order; with ``workers`` > 1 on a thread pool (decoding, numpy
    and OpenCV release the GIL), at most ``2 * workers`` pictures ahead of the consumer."""
    if workers <= 1 or count <= 1:
        for i in range(count):
            yield render(i)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zod-viz") as pool:
        pending: deque[Future[np.ndarray]] = deque()
        next_index = 0
        while next_index < count and len(pending) < 2 * workers:
            pending.append(pool.submit(render, next_index))
            next_index += 1
        while pending:
            picture = pending.popleft().result()
            if next_index < count:
                pending.append(pool.submit(render, next_index))
                next_index += 1
            yield picture


def _caption(picture: np.ndarray, text: str) -> None:
    scale = max(0.4, picture.shape[1] / 1600)
    draw_labels(
        picture, np.array([[8.0, 8.0 + 24 * scale]]), [text], (255, 255, 255), font_scale=scale
    )


def render_sequence_video(
    sequence: Any,
    out: str | PathLike[str],
    view: str = "camera",
    *,
    fps: float = 5.0,
    scale: float = 0.25,
    stride: int = 1,
    max_frames: int | None = None,
    progress: bool = True,
    grid: bev_mod.BevGrid | None = None,
    workers: int = 1,
) -> Path:
    """Write a sequence (or drive) as a video (.mp4 / .avi / .gif) of ``view`` pictures
    (``workers`` threads render them, 0 = all cores)."""
    from zod.viz.video import write_video

    pictures, total = sequence_video_frames(
        sequence,
        view,
        scale=scale,
        stride=stride,
        max_frames=max_frames,
        grid=grid,
        workers=workers,
    )
    return write_video(
        pictures, out, fps=fps, total=total, progress=progress, description=f"{view} video"
    )
