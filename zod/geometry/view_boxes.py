"""2D boxes in a pinhole view: of 3D boxes (projected corners) and of fisheye 2D boxes (mapped).

Pure numpy on top of :mod:`zod.geometry.pinhole`. Pixel convention as there: integer
coordinates are pixel centres, so a W x H view spans [0, W - 1] x [0, H - 1] in box coordinates
(KITTI's and OpenPCDet's clipping rule).

- :func:`project_corners_to_view`: the 2D box of each 3D box (N, 8, 3 corners in the view frame)
  is the bounding box of its projection. A box that crosses the near plane (``near_m`` in
  front of the centre) is cut there first: the corners in front plus the points where its 12
  edges cross the plane (a convex box's visible part is exactly their hull), so a box reaching
  behind the camera gets a huge but finite extent instead of wrapped-around pixels.
- :func:`fisheye_boxes_to_view`: an axis-aligned box of the fisheye image is a curved
  quadrilateral in the view; its 2D box is the bounding box of its outline, sampled
  ``samples_per_edge`` times per side and mapped with the exact inverse model.

Both return a :class:`ViewBoxes`: the unclipped and clipped boxes, the truncation (share of
the unclipped box's area outside the image, KITTI's ``truncated``) and ``visible`` (the clipped
box has a positive area).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from zod.geometry.pinhole import PinholeView, fisheye_to_view_pixels

__all__ = ["BOX_EDGES", "ViewBoxes", "fisheye_boxes_to_view", "project_corners_to_view"]

# the 12 edges of a box in the corner order of spec section 11 (bottom 0-3, top 4-7)
BOX_EDGES = np.array(
    [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]]
)


class ViewBoxes(NamedTuple):
    """2D boxes in a view: boxes_xyxy (N, 4) unclipped (NaN where nothing is in front),
    clipped_xyxy (N, 4) clipped to [0, W - 1] x [0, H - 1], truncation (N,) in 0..1 (1 where
    nothing is in front), visible (N,) bool (clipped box of positive area)."""

    boxes_xyxy: np.ndarray
    clipped_xyxy: np.ndarray
    truncation: np.ndarray
    visible: np.ndarray


def _bounds(pixels: np.ndarray, valid: np.ndarray, view: PinholeView) -> ViewBoxes:
    """Boxes of point sets: pixels (N, M, 2), valid (N, M) -> :class:`ViewBoxes`."""
    n = pixels.shape[0]
    any_valid: np.ndarray = np.any(valid, axis=1)
    lo = np.where(valid[..., None], pixels, np.inf).min(axis=1)
    hi = np.where(valid[..., None], pixels, -np.inf).max(axis=1)
    boxes = np.concatenate([lo, hi], axis=1)
    boxes[~any_valid] = np.nan
    limit = np.array([view.width_px - 1.0, view.height_px - 1.0])
    clipped_lo = np.clip(lo, 0.0, limit)
    clipped_hi = np.clip(hi, 0.0, limit)
    clipped = np.concatenate([clipped_lo, clipped_hi], axis=1)
    clipped[~any_valid] = 0.0
    extent = np.where(any_valid[:, None], hi - lo, 0.0)
    inside = np.maximum(clipped_hi - clipped_lo, 0.0)
    area = extent[:, 0] * extent[:, 1]
    inside_area = inside[:, 0] * inside[:, 1]
    visible = any_valid & (inside[:, 0] > 0) & (inside[:, 1] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        truncation = np.where(area > 0, 1.0 - inside_area / np.where(area > 0, area, 1.0), 1.0)
    truncation = np.clip(np.where(any_valid, truncation, 1.0), 0.0, 1.0) if n else np.zeros(0)
    return ViewBoxes(boxes, clipped, truncation, visible)


def project_corners_to_view(
    corners_view: np.ndarray, view: PinholeView, near_m: float = 0.1
) -> ViewBoxes:
    """2D boxes of 3D boxes given by their corners (N, 8, 3) in the view frame (metres).

    Corners closer than ``near_m`` along the optical axis are replaced by the crossings of the
    box edges with the plane z = near_m (see the module docstring); a box wholly behind it is
    not visible (NaN box, truncation 1).
    """
    corners = np.asarray(corners_view, dtype=np.float64).reshape(-1, 8, 3)
    a = corners[:, BOX_EDGES[:, 0]]  # (N, 12, 3)
    b = corners[:, BOX_EDGES[:, 1]]
    za, zb = a[..., 2] - near_m, b[..., 2] - near_m
    crosses = (za * zb) < 0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(crosses, za / np.where(crosses, za - zb, 1.0), 0.0)
    crossing = a + t[..., None] * (b - a)
    crossing[..., 2] = np.where(crosses, near_m, crossing[..., 2])
    points = np.concatenate([corners, crossing], axis=1)  # (N, 20, 3)
    valid = np.concatenate([corners[..., 2] >= near_m, crosses], axis=1)
    f = view.focal_px
    cx, cy = view.principal_point
    z = np.where(valid, points[..., 2], 1.0)
    pixels = np.stack([f * points[..., 0] / z + cx, f * points[..., 1] / z + cy], axis=-1)
    return _bounds(pixels, valid, view)


def fisheye_boxes_to_view(
    boxes_xyxy: np.ndarray, calibration: Any, view: PinholeView, samples_per_edge: int = 16
) -> ViewBoxes:
    """2D boxes (N, 4) of the full-resolution fisheye image -> their 2D boxes in the view.

    ``calibration``: a ``Calibration`` or ``CameraCalibration`` (its front camera). Outline
    points the view cannot see (behind it) are left out of the bounds.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    s = np.linspace(0.0, 1.0, samples_per_edge, endpoint=False)
    x1, y1, x2, y2 = (boxes[:, i : i + 1] for i in range(4))
    top = np.stack([x1 + s * (x2 - x1), np.broadcast_to(y1, (n, s.size))], axis=-1)
    right = np.stack([np.broadcast_to(x2, (n, s.size)), y1 + s * (y2 - y1)], axis=-1)
    bottom = np.stack([x2 - s * (x2 - x1), np.broadcast_to(y2, (n, s.size))], axis=-1)
    left = np.stack([np.broadcast_to(x1, (n, s.size)), y2 - s * (y2 - y1)], axis=-1)
    outline = np.concatenate([top, right, bottom, left], axis=1)  # (N, 4 S, 2)
    mapped = fisheye_to_view_pixels(outline.reshape(-1, 2), calibration, view)
    pixels = mapped.pixels.reshape(n, outline.shape[1], 2)
    valid = mapped.valid.reshape(n, outline.shape[1])
    return _bounds(np.nan_to_num(pixels), valid, view)
