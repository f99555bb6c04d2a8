"""Box overlaps of the KITTI metrics: 2D (image boxes), BEV and 3D (rotated camera boxes).

All functions take paired arrays (row i of one argument against row i of the other) so that a
caller computes exactly the pairs it needs (the detection / ground-truth pairs of each frame),
vectorized over the pairs; ``pairwise_*`` wrap them for full (N, K) matrices.

KITTI camera boxes (label columns h w l x y z rotation_y)::

    camera frame               bird's eye view (x-z plane, seen from above, y down into it)
        o----> x                 z ^      length l along (cos ry, -sin ry)
        |\\                         |    __
        | \\ z (forward)            |   /  \\  width w across it
        v y (down)                 |   \\__/  centre (x, z)
                                   o--------> x

- (x, y, z) is the centre of the box's BOTTOM face (y points down: the box spans heights
  y - h .. y), ``rotation_y`` turns about the camera y axis; 0 = length along camera x.
- BEV rectangle: centre (x, z), half-extents l / 2 along (cos ry, -sin ry) and w / 2 along
  (sin ry, cos ry).
- 3D IoU = BEV intersection area x height overlap / union of the volumes.

The rotated intersection is the area of the convex polygon formed by the corners of each
rectangle inside the other and the crossings of their edges (up to 24 points, ordered by angle
around their mean, shoelace formula), float64 throughout.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bev_corners",
    "box3d_iou",
    "image_iou",
    "image_overlap_of_first",
    "pairwise_image_iou",
    "pairwise_rotated_iou",
    "rotated_intersection",
    "rotated_iou",
]

_INSIDE_EPS = 1e-9  # relative tolerance of the point-in-rectangle test (corners on an edge count)


def image_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """(P,) IoU of image boxes (P, 4) x1 y1 x2 y2 row by row (KITTI: no +1 pixel; 0 if apart)."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    inter = _image_intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def image_overlap_of_first(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """(P,) intersection / area of ``a`` (KITTI's test of a detection against a DontCare box)."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    inter = _image_intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    return np.divide(inter, area_a, out=np.zeros_like(inter), where=inter > 0)


def _image_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    return np.where((iw > 0) & (ih > 0), iw * ih, 0.0)


def pairwise_image_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """(N, K) IoU of every box of ``a`` (N, 4) with every box of ``b`` (K, 4)."""
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    return image_iou(a[ia.ravel()], b[ib.ravel()]).reshape(len(a), len(b))


def bev_corners(bev: np.ndarray) -> np.ndarray:
    """(P, 4, 2) corners, counter-clockwise in (x, z), of BEV rectangles (P, 5) x z l w ry."""
    bev = np.asarray(bev, dtype=np.float64).reshape(-1, 5)
    c, s = np.cos(bev[:, 4]), np.sin(bev[:, 4])
    half_l, half_w = bev[:, 2] / 2, bev[:, 3] / 2
    along = np.stack([c, -s], axis=1) * half_l[:, None]  # (P, 2) half length vector
    across = np.stack([s, c], axis=1) * half_w[:, None]  # (P, 2) half width vector
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)  # (4, 2)
    offsets = signs[None, :, 0, None] * along[:, None] + signs[None, :, 1, None] * across[:, None]
    corners = bev[:, None, :2] + offsets
    # orient counter-clockwise (the sign of along x across depends on the axes' handedness)
    cross = along[:, 0] * across[:, 1] - along[:, 1] * across[:, 0]
    corners[cross < 0] = corners[cross < 0][:, ::-1]
    return corners


def rotated_intersection(a_bev: np.ndarray, b_bev: np.ndarray) -> np.ndarray:
    """(P,) intersection areas of BEV rectangles (P, 5) x z l w ry, row by row."""
    a = np.asarray(a_bev, dtype=np.float64).reshape(-1, 5)
    b = np.asarray(b_bev, dtype=np.float64).reshape(-1, 5)
    n = len(a)
    out = np.zeros(n)
    if n == 0:
        return out
    # rectangles whose circumscribed circles do not meet cannot intersect
    reach = 0.5 * (np.hypot(a[:, 2], a[:, 3]) + np.hypot(b[:, 2], b[:, 3]))
    near = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1]) < reach
    idx = np.flatnonzero(near)
    if idx.size:
        out[idx] = _convex_intersection(bev_corners(a[idx]), bev_corners(b[idx]))
    return out


def _inside(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(P, M) whether points (P, M, 2) lie in the counter-clockwise convex quads (P, 4, 2)."""
    edges = np.roll(corners, -1, axis=1) - corners  # (P, 4, 2)
    rel = points[:, :, None, :] - corners[:, None, :, :]  # (P, M, 4, 2)
    cross = edges[:, None, :, 0] * rel[..., 1] - edges[:, None, :, 1] * rel[..., 0]
    scale = np.abs(edges).sum(axis=2).max(axis=1)  # (P,) edge length scale
    tol = _INSIDE_EPS * (scale[:, None, None] ** 2 + 1.0)
    return (cross >= -tol).all(axis=2)


def _convex_intersection(ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """(P,) area of the intersection of counter-clockwise convex quads ca, cb (P, 4, 2)."""
    p = len(ca)
    # edge crossings: every edge of a against every edge of b (P, 4, 4)
    pa, ra = ca, np.roll(ca, -1, axis=1) - ca
    pb, rb = cb, np.roll(cb, -1, axis=1) - cb
    denom = ra[:, :, None, 0] * rb[:, None, :, 1] - ra[:, :, None, 1] * rb[:, None, :, 0]
    qp = pb[:, None, :, :] - pa[:, :, None, :]  # (P, 4, 4, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[..., 0] * rb[:, None, :, 1] - qp[..., 1] * rb[:, None, :, 0]) / denom
        u = (qp[..., 0] * ra[:, :, None, 1] - qp[..., 1] * ra[:, :, None, 0]) / denom
    crossing_ok = (denom != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    crossings = pa[:, :, None, :] + np.where(np.isfinite(t), t, 0.0)[..., None] * ra[:, :, None, :]
    points = np.concatenate([ca, cb, crossings.reshape(p, 16, 2)], axis=1)  # (P, 24, 2)
    valid = np.concatenate(
        [_inside(ca, cb), _inside(cb, ca), crossing_ok.reshape(p, 16)], axis=1
    )  # (P, 24)
    count = valid.sum(axis=1)
    centre = (points * valid[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    rel = points - centre[:, None, :]
    angle = np.where(valid, np.arctan2(rel[..., 1], rel[..., 0]), np.inf)
    order = np.argsort(angle, axis=1, kind="stable")
    ordered = np.take_along_axis(rel, order[..., None], axis=1)
    valid_sorted = np.take_along_axis(valid, order, axis=1)
    # invalid points (sorted last) repeat the last valid one: their edges have no area
    last = np.take_along_axis(ordered, np.maximum(count - 1, 0)[:, None, None], axis=1)
    ordered = np.where(valid_sorted[..., None], ordered, last)
    nxt = np.roll(ordered, -1, axis=1)
    area = 0.5 * (ordered[..., 0] * nxt[..., 1] - ordered[..., 1] * nxt[..., 0]).sum(axis=1)
    return np.where(count >= 3, np.abs(area), 0.0)


def rotated_iou(a_bev: np.ndarray, b_bev: np.ndarray) -> np.ndarray:
    """(P,) BEV IoU of rectangles (P, 5) x z l w ry, row by row."""
    a = np.asarray(a_bev, dtype=np.float64).reshape(-1, 5)
    b = np.asarray(b_bev, dtype=np.float64).reshape(-1, 5)
    inter = rotated_intersection(a, b)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def pairwise_rotated_iou(a_bev: np.ndarray, b_bev: np.ndarray) -> np.ndarray:
    """(N, K) BEV IoU of every rectangle of ``a`` (N, 5) with every one of ``b`` (K, 5)."""
    a = np.asarray(a_bev, dtype=np.float64).reshape(-1, 5)
    b = np.asarray(b_bev, dtype=np.float64).reshape(-1, 5)
    ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    return rotated_iou(a[ia.ravel()], b[ib.ravel()]).reshape(len(a), len(b))


def box3d_iou(
    a_location: np.ndarray,
    a_hwl: np.ndarray,
    a_rotation_y: np.ndarray,
    b_location: np.ndarray,
    b_hwl: np.ndarray,
    b_rotation_y: np.ndarray,
    bev_intersection: np.ndarray | None = None,
) -> np.ndarray:
    """(P,) 3D IoU of KITTI camera boxes, row by row: locations (P, 3) bottom centres,
    dimensions (P, 3) h w l, rotation_y (P,). Boxes stand upright (height along camera y).
    ``bev_intersection`` (P,): the footprints' intersection areas when already computed."""
    la = np.asarray(a_location, dtype=np.float64).reshape(-1, 3)
    lb = np.asarray(b_location, dtype=np.float64).reshape(-1, 3)
    da = np.asarray(a_hwl, dtype=np.float64).reshape(-1, 3)
    db = np.asarray(b_hwl, dtype=np.float64).reshape(-1, 3)
    bev_a = np.column_stack([la[:, 0], la[:, 2], da[:, 2], da[:, 1], a_rotation_y])
    bev_b = np.column_stack([lb[:, 0], lb[:, 2], db[:, 2], db[:, 1], b_rotation_y])
    area = rotated_intersection(bev_a, bev_b) if bev_intersection is None else bev_intersection
    # heights: y down, the box spans y - h .. y
    height = np.minimum(la[:, 1], lb[:, 1]) - np.maximum(la[:, 1] - da[:, 0], lb[:, 1] - db[:, 0])
    inter = np.where(height > 0, area * height, 0.0)
    union = np.prod(da, axis=1) + np.prod(db, axis=1) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)
