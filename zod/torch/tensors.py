"""Pure conversions of the torch datasets: numpy arrays and annotations to tensors (no file I/O).

Image pixel convention (OpenCV, pixel centres at integer coordinates). Decoding at ``scale``
s in {1, 1/2, 1/4, 1/8} averages s x s blocks, so full-resolution pixel coordinate u maps to::

    u_scaled = (u + 0.5) * s - 0.5        full  |  0  |  1  |  2  |  3  |
                                          s=1/2 |     0     |     1     |
    => fx' = s fx, cx' = (cx + 0.5) s - 0.5 (same for y)

The same map is applied to 2D boxes and mask polygons, so 3D boxes projected with the scaled
intrinsics land on the scaled 2D boxes (the Kannala-Brandt model is affine in fx, cx).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np
import torch

from zod.constants import EGO, FRAMES_IMAGE_MEAN, FRAMES_IMAGE_STD, Camera, Lidar

if TYPE_CHECKING:
    from zod.annotations.ego_road import EgoRoadAnnotation
    from zod.annotations.lanes import LaneAnnotation
    from zod.annotations.objects import ObjectAnnotation
    from zod.calibration import Calibration
    from zod.geometry.pinhole import PinholeView

__all__ = [
    "VALID_SCALES",
    "BoxFrame",
    "ClassLevel",
    "PointFrame",
    "check_scale",
    "hwc_to_chw",
    "image_to_tensor",
    "object_tensors",
    "objects_into_view",
    "rows_from_columns",
    "scale_intrinsics",
    "scale_pixels",
    "scaled_mask",
    "view_calibration_tensors",
    "view_mask",
    "view_object_tensors",
]

VALID_SCALES = (1.0, 0.5, 0.25, 0.125)
BoxFrame = Literal["lidar", "ego", "camera"]
PointFrame = Literal["lidar", "ego"]
ClassLevel = Literal["class", "subclass"]


def check_scale(scale: float) -> float:
    """Validate an image scale (1, 1/2, 1/4, 1/8: the JPEG DCT reduced sizes)."""
    for valid in VALID_SCALES:
        if math.isclose(float(scale), valid):
            return valid
    raise ValueError(f"image_scale must be one of {VALID_SCALES}, not {scale}")


def scale_pixels(pixels: np.ndarray, scale: float) -> np.ndarray:
    """Full-resolution pixel coordinates (..., 2 or 4) to the scaled image: (u + 0.5) s - 0.5."""
    return (np.asarray(pixels, dtype=np.float64) + 0.5) * scale - 0.5


def scale_intrinsics(intrinsics: np.ndarray, scale: float) -> np.ndarray:
    """(3, 3) or (3, 4) camera matrix for an image decoded at ``scale`` (see module docstring)."""
    out = np.array(intrinsics, dtype=np.float64, copy=True)
    out[0, 0] *= scale
    out[1, 1] *= scale
    out[0, 1] *= scale
    out[0, 2] = (out[0, 2] + 0.5) * scale - 0.5
    out[1, 2] = (out[1, 2] + 0.5) * scale - 0.5
    return out


def hwc_to_chw(image_hwc: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(H, W, C) uint8 -> contiguous (C, H, W) (into ``out`` when given): one ``cv2.split``
    into the planes (about 10x faster than ``permute(2, 0, 1).contiguous()`` at 2 megapixels)."""
    height, width, channels = image_hwc.shape
    if out is None:
        out = np.empty((channels, height, width), dtype=image_hwc.dtype)
    if channels <= 4 and image_hwc.dtype == np.uint8 and out.dtype == np.uint8:
        cv2.split(np.ascontiguousarray(image_hwc), [out[c] for c in range(channels)])
    else:
        out[:] = np.moveaxis(image_hwc, 2, 0)
    return out


def rows_from_columns(points: np.ndarray) -> np.ndarray:
    """(N, C) array -> C-contiguous (row-major) float32. Input whose columns are each contiguous
    (what the lidar reader returns: column-major, its rows possibly further apart than N when
    ego returns were dropped) is interleaved by one ``cv2.merge`` of its columns: ~12x faster
    than numpy's strided copy for C <= 4."""
    points = np.asarray(points, dtype=np.float32)
    if (
        points.ndim != 2
        or points.flags.c_contiguous
        or points.strides[0] != points.itemsize
        or not 0 < points.shape[1] <= 4
        or not len(points)
    ):
        return np.ascontiguousarray(points)
    merged = cv2.merge([points[:, c] for c in range(points.shape[1])])
    return merged.reshape(len(points), points.shape[1])


def image_to_tensor(
    image_hwc: np.ndarray,
    dtype: torch.dtype = torch.uint8,
    normalize: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """(H, W, 3) uint8 RGB to (3, H, W) (written into ``out`` when given): uint8 as is, or
    float in 0..1 (optionally normalized with the ZOD Frames mean and std of spec section 12).
    The arithmetic runs in numpy (single-threaded, no wait on torch's intra-op pool)."""
    if dtype == torch.uint8:
        if normalize:
            raise ValueError("normalize needs a float image dtype")
        if out is None:
            return torch.from_numpy(hwc_to_chw(image_hwc))
        hwc_to_chw(image_hwc, out=out.numpy())
        return out
    if not dtype.is_floating_point:
        raise ValueError(f"image_dtype must be torch.uint8 or a float dtype, not {dtype}")
    chw = hwc_to_chw(image_hwc)
    # x / 255, then (x - mean) / std  ==  x * gain - offset, one pass per channel
    gain = np.full(3, 1.0 / 255.0)
    offset = np.zeros(3)
    if normalize:
        gain = gain / np.asarray(FRAMES_IMAGE_STD)
        offset = np.asarray(FRAMES_IMAGE_MEAN) / np.asarray(FRAMES_IMAGE_STD)
    direct = out if out is not None and dtype == torch.float32 else None
    planes = direct.numpy() if direct is not None else np.empty(chw.shape, dtype=np.float32)
    for c in range(chw.shape[0]):  # per channel plane, not per pixel
        np.multiply(chw[c], np.float32(gain[c % 3]), out=planes[c], dtype=np.float32)
        planes[c] -= np.float32(offset[c % 3])
    if direct is not None:
        return direct
    tensor = torch.from_numpy(planes)
    tensor = tensor if dtype == torch.float32 else tensor.to(dtype)
    if out is None:
        return tensor
    return out.copy_(tensor)


def _class_name(obj: ObjectAnnotation, class_level: ClassLevel) -> str | None:
    """The object's class or subclass (None when the reference rules cannot determine it)."""
    if class_level == "class":
        return obj.name
    try:
        return obj.subclass
    except ValueError:
        return None


def object_tensors(
    objects: Sequence[ObjectAnnotation],
    calibration: Calibration | None,
    class_to_id: dict[str, int],
    class_level: ClassLevel,
    image_scale: float,
    boxes_frame: BoxFrame | None,
) -> dict[str, torch.Tensor]:
    """Tensors of ``ObjectAnnotation`` s whose class (or subclass) is in ``class_to_id``.

    Returns ``boxes_2d`` (M, 4) float32 xyxy scaled to the image, ``class_ids`` (M,) int64,
    ``unclear`` (M,) bool and, unless ``boxes_frame`` is None, ``boxes_3d`` (M, 10) float32
    ``[x, y, z, L, W, H, qw, qx, qy, qz]`` in that frame with ``box_3d_valid`` (M,) bool
    (``calibration`` is needed for the ego and camera frames).
    """
    from zod.geometry.box_set import Box3DSet

    names = [_class_name(obj, class_level) for obj in objects]
    kept = [(obj, class_to_id[name]) for obj, name in zip(objects, names) if name in class_to_id]
    objects = [obj for obj, _ in kept]
    class_ids = np.array([class_id for _, class_id in kept], dtype=np.int64)
    boxes_2d = np.array([obj.box2d.xyxy for obj in objects], dtype=np.float64).reshape(-1, 4)
    out: dict[str, torch.Tensor] = {
        "boxes_2d": torch.from_numpy(scale_pixels(boxes_2d, image_scale).astype(np.float32)),
        "class_ids": torch.from_numpy(class_ids),
        "unclear": torch.from_numpy(np.array([bool(obj.unclear) for obj in objects], dtype=bool)),
    }
    if boxes_frame is not None:
        boxes_3d = [obj.box3d for obj in objects if obj.box3d is not None]
        rows = np.array(
            [i for i, obj in enumerate(objects) if obj.box3d is not None], dtype=np.int64
        )
        box_set = Box3DSet(  # only the geometry columns: no per-object attribute work
            np.array([b.center for b in boxes_3d]).reshape(-1, 3),
            np.array([b.size for b in boxes_3d]).reshape(-1, 3),
            np.array([b.quaternion_wxyz for b in boxes_3d]).reshape(-1, 4),
            Lidar.VELODYNE,  # annotation boxes are in the lidar frame (spec section 4)
        )
        if len(box_set) and boxes_frame != "lidar":
            if calibration is None:
                raise ValueError(f"3D boxes in the {boxes_frame} frame need the calibration")
            box_set = box_set.convert_to(EGO if boxes_frame == "ego" else Camera.FRONT, calibration)
        boxes = np.zeros((len(objects), 10), dtype=np.float32)
        boxes[rows] = np.concatenate(
            [box_set.centers_m, box_set.sizes_lwh_m, box_set.quaternions_wxyz], axis=1
        )
        valid = np.zeros(len(objects), dtype=bool)
        valid[rows] = True
        out["boxes_3d"] = torch.from_numpy(boxes)
        out["box_3d_valid"] = torch.from_numpy(valid)
    return out


def scaled_mask(
    annotations: Sequence[EgoRoadAnnotation | LaneAnnotation],
    full_shape: tuple[int, int],
    scale: float,
) -> np.ndarray:
    """bool (ceil(H s), ceil(W s)) mask of polygon annotations (holes respected), with the pixel
    convention of the scaled image: vertices go through ``scale_pixels``, then are filled."""
    from zod.geometry import masks

    shape = (math.ceil(full_shape[0] * scale), math.ceil(full_shape[1] * scale))
    polygons = [
        [scale_pixels(ring, scale) for ring in rings]  # per polygon ring, never per pixel
        for annotation in annotations
        for rings in masks.geometry_to_polygons(annotation)
    ]
    return masks.rasterize_polygons(polygons, 1, image_shape=shape, scale=1.0).astype(bool)


def view_object_tensors(
    objects: Sequence[ObjectAnnotation],
    calibration: Calibration,
    class_to_id: dict[str, int],
    class_level: ClassLevel,
    view: PinholeView,
    boxes_frame: BoxFrame | None,
) -> dict[str, torch.Tensor]:
    """:func:`object_tensors` in a pinhole view (``view`` already at the image's scale).

    ``boxes_2d`` (M, 4): the annotated fisheye box mapped into the view (the bounding box of
    its outline, exact inverse model, clipped to the view image), with ``in_view`` (M,) bool
    (False: the box lies outside the view; its row is zeros). ``boxes_3d`` in the "camera"
    frame are in the VIEW's camera frame (rotated by ``view_from_camera``), so the view's K
    projects them; lidar / ego boxes are unchanged.
    """
    out = object_tensors(objects, calibration, class_to_id, class_level, 1.0, boxes_frame)
    return objects_into_view(out, calibration, view, boxes_frame)


def objects_into_view(
    out: dict[str, torch.Tensor],
    calibration: Calibration,
    view: PinholeView,
    boxes_frame: BoxFrame | None,
) -> dict[str, torch.Tensor]:
    """:func:`object_tensors` made at image scale 1 (full-resolution fisheye ``boxes_2d``)
    -> the same keys in ``view``, plus ``in_view``, as :func:`view_object_tensors` returns
    them (``out`` is updated and returned)."""
    from zod.geometry.transforms import (
        quaternions_from_rotation_matrices,
        rotation_matrices_from_quaternions,
    )
    from zod.geometry.view_boxes import fisheye_boxes_to_view

    mapped = fisheye_boxes_to_view(out["boxes_2d"].numpy(), calibration, view)
    boxes_2d = np.where(mapped.visible[:, None], mapped.clipped_xyxy, 0.0)
    out["boxes_2d"] = torch.from_numpy(boxes_2d.astype(np.float32))
    out["in_view"] = torch.from_numpy(mapped.visible.copy())
    if boxes_frame == "camera" and "boxes_3d" in out:
        boxes = out["boxes_3d"].numpy().astype(np.float64)
        valid = out["box_3d_valid"].numpy()
        rotation = view.view_from_camera
        boxes[valid, :3] = boxes[valid, :3] @ rotation.T
        boxes[valid, 6:] = quaternions_from_rotation_matrices(
            rotation @ rotation_matrices_from_quaternions(boxes[valid, 6:])
        )
        out["boxes_3d"] = torch.from_numpy(boxes.astype(np.float32))
    return out


def view_calibration_tensors(
    calibration: Calibration, view: PinholeView
) -> dict[str, torch.Tensor]:
    """The calibration keys of a sample in ``view``: its exact K as ``intrinsics``, zero
    ``distortion``, its ``image_size``, its pose as ``ego_from_camera`` (the front camera's
    pose with the view's rotation: ego_from_view) and ``camera_from_view`` (3, 3)."""
    ego_from_view = calibration.get_extrinsics(Camera.FRONT).transform.copy()
    ego_from_view[:3, :3] = ego_from_view[:3, :3] @ view.camera_from_view
    return {
        "intrinsics": torch.from_numpy(view.intrinsics.astype(np.float32)),
        "distortion": torch.zeros(4, dtype=torch.float32),
        "image_size": torch.tensor([view.width_px, view.height_px], dtype=torch.int64),
        "ego_from_camera": torch.from_numpy(ego_from_view.astype(np.float32)),
        "camera_from_view": torch.from_numpy(view.camera_from_view.astype(np.float32)),
    }


def view_mask(mask: np.ndarray, calibration: Calibration, view: PinholeView) -> np.ndarray:
    """bool mask of the (scaled) fisheye image -> bool (H, W) of ``view`` (nearest neighbour;
    the mask's scale is inferred from its shape)."""
    from zod.geometry import pinhole

    rectified = pinhole.rectify(mask.astype(np.uint8), calibration, view, cv2.INTER_NEAREST)
    return rectified.astype(bool)
