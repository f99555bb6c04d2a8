"""The reference devkit's drawing helpers (its ``zod.visualization`` API), on our drawing code.

Each function keeps the reference signature and numbers where code may depend on them
(``overlay_mask_on_image`` blends with ``addWeighted(..., gamma=-1)`` as the reference does);
where the reference is wrong we draw correctly and say so in the docstring (3D box edges are
curved by the fisheye and clipped, points outside the image are skipped instead of raising).
The reference module paths ``zod.visualization.lidar_on_image``, ``.object_visualization``,
``.polygon_utils`` and ``.oxts_on_image`` re-export these names; our own drawing API is
:mod:`zod.viz.image`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import cv2
import numpy as np

from zod.constants import EGO, Camera, Lidar
from zod.geometry.fisheye import in_field_of_view, project
from zod.geometry.transforms import transform_points
from zod.viz.colors import apply_colormap, colormap_lut, to_rgb_tuple
from zod.viz.image import (
    Color,
    _camera_scale,
    box_edge_polylines,
    draw_indexed_points,
    draw_points,
    draw_polylines,
    trajectory_in_ego,
)

if TYPE_CHECKING:
    from zod.annotations.objects import ObjectAnnotation
    from zod.calibration import Calibration
    from zod.ego_motion import EgoMotion
    from zod.geometry.box import Box2D, Box3D
    from zod.sensors.lidar import LidarData

__all__ = [
    "draw_projections_as_points",
    "overlay_mask_on_image",
    "overlay_object_2d_box_on_image",
    "overlay_object_3d_box_on_image",
    "overlay_object_properties_on_image",
    "overlay_polygon_on_image",
    "project_lidar_to_image",
    "visualize_lidar_on_image",
    "visualize_oxts_on_image",
]


def project_lidar_to_image(
    lidar_data: LidarData | np.ndarray,
    calib: Calibration,
    lidar: Lidar = Lidar.VELODYNE,
    camera: Camera = Camera.FRONT,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference ``project_lidar_to_image``: (xyd (M, 3) = pixel u, v and camera z, mask (N,)),
    of a scan or its points (N, >= 3).

    Keeps points in front of the camera and inside its field of view (like the reference;
    points may still fall slightly outside the image).
    """
    points = np.asarray(getattr(lidar_data, "points", lidar_data), dtype=np.float64)[:, :3]
    pts_cam = calib.transform_points(points, lidar, camera)
    cam = calib.cameras[camera]
    mask = (pts_cam[:, 2] > 0) & in_field_of_view(pts_cam, cam.field_of_view)
    pixels = project(pts_cam[mask], cam.intrinsics, cam.distortion)
    return np.concatenate([pixels, pts_cam[mask, 2:3]], axis=1), mask


def _normalised_depth(depth: np.ndarray, clip_to: float | None) -> np.ndarray:
    d = depth - depth.min()
    if clip_to:
        return np.clip(d / clip_to, 0.0, 1.0)
    top = d.max()
    return d / top if top > 0 else d


def draw_projections_as_points(
    image: np.ndarray, points: np.ndarray, clip_to: float | None = None
) -> np.ndarray:
    """Reference helper: colour single pixels at xyd (M, 3) by depth (coolwarm, near blue).

    Depth is normalised from the nearest point over ``clip_to`` metres (or over the depth span).
    Points outside the image are skipped (the reference raises IndexError on them).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if pts.shape[0]:
        colors = apply_colormap(_normalised_depth(pts[:, 2], clip_to), "coolwarm")
        uv = pts[:, :2].astype(np.int64)
        inside = (
            (uv[:, 0] >= 0)
            & (uv[:, 0] < image.shape[1])
            & (uv[:, 1] >= 0)
            & (uv[:, 1] < image.shape[0])
        )
        image[uv[inside, 1], uv[inside, 0]] = colors[inside]
    return image


def visualize_lidar_on_image(
    lidar_data: LidarData | np.ndarray, calib: Calibration, image: np.ndarray
) -> np.ndarray:
    """Reference helper: lidar points as radius-2 discs coloured by depth (coolwarm, normalised
    over the depth span)."""
    xyd, _ = project_lidar_to_image(lidar_data, calib)
    if xyd.shape[0]:
        scale = _camera_scale(image, calib.cameras[Camera.FRONT])
        index = np.clip(np.rint(_normalised_depth(xyd[:, 2], None) * 255.0), 0, 255).astype(
            np.uint8
        )
        draw_indexed_points(image, xyd[:, :2] * scale, index, colormap_lut("coolwarm"), radius=2)
    return image


def _scaled(values: np.ndarray, scale_factor: float | None) -> np.ndarray:
    return values * scale_factor if scale_factor else values


def overlay_object_2d_box_on_image(
    image: np.ndarray,
    box2d: Box2D,
    color: Color = (0, 0, 100),
    scale_factor: float | None = None,
    line_thickness: int = 2,
) -> np.ndarray:
    """Reference helper: one 2D box (``Box2D``), corners scaled by ``scale_factor`` when given."""
    corners = np.asarray(box2d.corners)
    top_left = _scaled(corners[0].astype(int), scale_factor)
    bottom_right = _scaled(corners[2].astype(int), scale_factor)
    cv2.rectangle(
        image,
        tuple(int(v) for v in top_left),
        tuple(int(v) for v in bottom_right),
        color=to_rgb_tuple(color),
        thickness=line_thickness,
    )
    return image


def overlay_object_3d_box_on_image(
    image: np.ndarray,
    box3d: Box3D,
    calib: Calibration,
    color: Color = (0, 0, 100),
    scale_factor: float | None = None,
    line_thickness: int = 2,
    camera: Camera = Camera.FRONT,
) -> np.ndarray:
    """Reference helper: one ``Box3D`` (any frame) drawn through the fisheye.

    Unlike the reference (straight lines between projected corners, wrong for boxes partly
    behind the camera) the edges are curved and clipped; ``scale_factor`` (ignored by the
    reference) scales the pixels for reduced images.
    """
    corners_camera = transform_points(
        np.asarray(box3d.corners), calib.get_transform(box3d.frame, camera)
    )
    cam = calib.cameras[camera]
    pieces, _ = box_edge_polylines(corners_camera.reshape(1, 8, 3), cam)
    factor = float(scale_factor) if scale_factor else 1.0
    return draw_polylines(image, [p * factor for p in pieces], to_rgb_tuple(color), line_thickness)


def overlay_object_properties_on_image(
    image: np.ndarray,
    annotation: ObjectAnnotation,
    color: tuple[int, int, int] = (255, 0, 0),
    properties_list: Sequence[str] = ("name",),
    scale_factor: float = 1,
    text_areas: list[list[list[int]]] | None = None,
    text_scale: float = 0.9,
    object_id: int = -1,
) -> np.ndarray:
    """Reference helper: write chosen properties (name, object_type, occlusion_level,
    object_id) at the top-left corner of the object's 2D box.

    ``text_areas`` collects the rectangles already written ([[x0, y0], [x1, y1]]); a label that
    would overlap one of them is skipped. Unlike the reference, the default is a fresh list
    per call (the reference shares one list between all calls of a process).
    """
    areas = [] if text_areas is None else text_areas
    props = {
        "name": getattr(annotation, "name", None),
        "object_type": getattr(annotation, "object_type", None),
        "occlusion_level": getattr(annotation, "occlusion_level", None),
        "object_id": object_id,
    }
    font = cv2.FONT_HERSHEY_COMPLEX
    x_min, y_min = (
        int(v) for v in _scaled(np.asarray(annotation.box2d.corners[0]).astype(int), scale_factor)
    )
    lines = [f"{p}:{props.get(p)}" for p in properties_list]
    sizes = [cv2.getTextSize(t, font, text_scale, 2)[0] for t in lines]
    line_h = cv2.getTextSize("text", font, text_scale, 2)[0][1]
    width = max((w for w, _ in sizes), default=0)
    area = [[x_min, y_min - line_h], [x_min + width, y_min - line_h + sum(h for _, h in sizes)]]
    for other in areas:
        ix = min(area[1][0], other[1][0]) - max(area[0][0], other[0][0])
        iy = min(area[1][1], other[1][1]) - max(area[0][1], other[0][1])
        if ix > 0 and iy > 0:
            return image
    areas.append(area)
    for i, text in enumerate(lines):
        y = y_min + i * line_h
        if i == 0:
            w, h = sizes[0]
            cv2.rectangle(image, (x_min, y - h), (x_min + w, y), (255, 255, 255), 1)
        cv2.putText(image, text, (x_min, y), font, text_scale, to_rgb_tuple(color), 2)
    return image


def overlay_mask_on_image(
    mask: np.ndarray, image: np.ndarray, fill_color: Color = (100, 0, 0), alpha: float = 1.0
) -> np.ndarray:
    """Reference helper: a new image = image + alpha * fill_color on the mask - 1 (saturating,
    OpenCV ``addWeighted`` with gamma -1, the reference's numbers)."""
    m = np.asarray(mask).astype(np.uint8)
    colour_layer = m[..., None] * np.asarray(fill_color, dtype=np.uint8)[None, None, :]
    return cv2.addWeighted(np.asarray(image), 1, colour_layer.astype(np.uint8), alpha, -1)


def overlay_polygon_on_image(
    polygon: np.ndarray | Sequence[Sequence[float]],
    image: np.ndarray,
    fill_color: Color = (100, 0, 0),
    alpha: float = 1.0,
) -> np.ndarray:
    """Reference helper: fill a polygon ((K, 2) pixels), blend it as ``overlay_mask_on_image``."""
    layer = np.zeros(np.shape(image), dtype=np.uint8)
    cv2.fillPoly(
        layer, [np.asarray(polygon).reshape(-1, 1, 2).astype(np.int32)], to_rgb_tuple(fill_color)
    )
    return cv2.addWeighted(np.asarray(image), 1, layer, alpha, -1)


def visualize_oxts_on_image(
    oxts: EgoMotion,
    key_timestamp: float | datetime,
    calibs: Calibration,
    image: np.ndarray,
    camera: Camera = Camera.FRONT,
) -> np.ndarray:
    """Reference helper: the ego track (all ego-motion poses, in the ego frame at
    ``key_timestamp``) drawn as radius-3 red dots, positions ahead of the ego only."""
    key_time = (
        key_timestamp.timestamp() if isinstance(key_timestamp, datetime) else float(key_timestamp)
    )
    positions = trajectory_in_ego(oxts.poses, oxts.get_poses(key_time))
    cam = calibs.cameras[camera]
    pts_cam = calibs.transform_points(positions, EGO, camera)
    keep = (positions[:, 0] > 0) & in_field_of_view(
        pts_cam, cam.field_of_view, horizontal_only=True
    )
    pixels = project(pts_cam[keep], cam.intrinsics, cam.distortion)
    contiguous = image if image.flags.c_contiguous else np.ascontiguousarray(image)
    draw_points(contiguous, pixels, (255, 0, 0), radius=3)
    return contiguous
