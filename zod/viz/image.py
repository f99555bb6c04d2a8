"""Drawing on camera images: 2D/3D boxes, lidar by depth, masks, ego trajectory, labels.

Pictures are RGB ``uint8`` arrays (H, W, 3); every ``draw_*`` function draws in place and
returns the same array. Pixel coordinates of annotations are full-resolution image pixels
(3848 x 2168, x right, y down); projections through the calibration are rescaled
automatically when the image is a reduced-size copy (``image width / calibration width``).

3D boxes are drawn through the fisheye model, not as straight lines between projected corners:
each of the 12 edges is sampled (vectorized over boxes, edges and samples), the samples behind
the camera or outside its field of view are dropped, and each remaining run of consecutive
samples becomes one polyline. Box corner order (``zod.geometry.box``)::

      7 -------- 6
     /|         /|        edges: bottom 0-1 1-2 2-3 3-0, top 4-5 5-6 6-7 7-4,
    4 -------- 5 |               vertical 0-4 1-5 2-6 3-7
    | 3 -------| 2
    |/         |/         z up, x along the length (heading), y along the width
    0 -------- 1

The reference devkit's helpers (``overlay_object_2d_box_on_image``, ``visualize_lidar_on_image``,
...) are in :mod:`zod.viz.reference`; they stay importable from here, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from zod._lazy import lazy_getattr
from zod.constants import EGO, Camera, CoordinateFrame, Lidar
from zod.geometry.box_set import Box3DSet
from zod.geometry.fisheye import in_field_of_view, max_valid_theta, points_to_image, project
from zod.geometry.transforms import as_transform, invert_transforms, transform_points
from zod.viz.colors import RGB, class_colors, colormap_lut, to_rgb_tuple

# Our drawing API, and (names ending in ``_image``, plus ``draw_projections_as_points``) the
# reference devkit's helpers of zod.viz.reference, importable from here as before.
__all__ = [
    "BOX_EDGES",
    "box_edge_polylines",
    "draw_boxes_2d",
    "draw_boxes_3d",
    "draw_indexed_points",
    "draw_labels",
    "draw_lidar",
    "draw_points",
    "draw_polylines",
    "draw_projections_as_points",
    "draw_trajectory",
    "overlay_mask",
    "overlay_mask_on_image",
    "overlay_object_2d_box_on_image",
    "overlay_object_3d_box_on_image",
    "overlay_object_properties_on_image",
    "overlay_polygon_on_image",
    "project_lidar_to_image",
    "trajectory_in_ego",
    "visualize_lidar_on_image",
    "visualize_oxts_on_image",
]

if TYPE_CHECKING:
    from zod.calibration import Calibration, CameraCalibration

# A colour: (r, g, b) ints 0..255 (or an array of them).
Color = Sequence[float] | np.ndarray
# Colours of N items: one colour for all, (N, 3) one each, or None for the default.
Colors = Color | Sequence[Sequence[float]] | None
# 2D boxes: (N, 4) xyxy pixels, or Box2D s / objects with ``.box2d`` / xyxy rows.
Boxes2D = np.ndarray | Iterable[object]
# 3D boxes: corners (N, 8, 3), a Box3DSet (or a Box3D), or Box3D s / objects with ``.box3d``.
Boxes3D = np.ndarray | Box3DSet | Iterable[object]

# (12, 2) corner index pairs of the box edges, in the corner order drawn in the module docstring
BOX_EDGES = np.array(
    [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 0],
        [4, 5],
        [5, 6],
        [6, 7],
        [7, 4],
        [0, 4],
        [1, 5],
        [2, 6],
        [3, 7],
    ],
    dtype=np.intp,
)
_SHIFT = 4  # OpenCV fixed-point bits: polylines are drawn with 1/16 pixel precision
_MAX_ABS_PX = 1.0e6  # clamp before the int32 fixed-point conversion


# ---------------------------------------------------------------------------- helpers
def _check_image(image: np.ndarray) -> np.ndarray:
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.dtype != np.uint8
    ):
        raise ValueError("zod.viz draws on RGB uint8 images of shape (H, W, 3)")
    if not image.flags.c_contiguous or not image.flags.writeable:
        raise ValueError(
            "zod.viz draws in place: pass a C-contiguous, writable image (np.ascontiguousarray)"
        )
    return image


def _camera_scale(image: np.ndarray, cam: CameraCalibration) -> np.ndarray:
    """(sx, sy): image pixels per calibration pixel (1 for a full-resolution image)."""
    width, height = (float(v) for v in np.asarray(cam.image_dimensions)[:2])
    return np.array([image.shape[1] / width, image.shape[0] / height])


def _colors_for(n: int, colors: Colors, default: RGB) -> np.ndarray:
    """Colour spec (None, one colour, or (n, 3)) -> (n, 3) uint8 array."""
    if colors is None:
        return np.tile(np.array(default, dtype=np.uint8), (n, 1))
    arr = np.asarray(colors)
    if arr.ndim == 1:
        return np.tile(arr.astype(np.uint8)[:3], (n, 1))
    if arr.shape[0] != n:
        raise ValueError(f"expected {n} colours, got {arr.shape[0]}")
    return arr[:, :3].astype(np.uint8)


def _runs(valid: np.ndarray, min_length: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Runs of True along the last axis of ``valid`` (R, S), never crossing rows.

    Returns (starts, ends) as flat indices into ``valid.reshape(-1)`` (ends exclusive), of the
    runs with at least ``min_length`` samples.
    """
    rows, samples = valid.shape
    padded = np.zeros((rows, samples + 1), dtype=np.int8)
    padded[:, :samples] = valid
    step = np.diff(np.concatenate([[0], padded.reshape(-1)]))
    starts = np.flatnonzero(step == 1)
    ends = np.flatnonzero(step == -1)
    keep = (ends - starts) >= min_length
    # convert from padded flat indices to indices of the unpadded (R * S) layout
    starts, ends = starts[keep], ends[keep]
    row = starts // (samples + 1)
    return starts - row, ends - row


def draw_polylines(
    image: np.ndarray,
    polylines: Sequence[np.ndarray],
    colors: Colors = (255, 255, 255),
    thickness: int = 2,
    closed: bool = False,
    antialias: bool = True,
) -> np.ndarray:
    """Draw polylines (each (K, 2) float pixels) with sub-pixel precision, one OpenCV call per
    colour.

    ``colors``: one colour for all, or (P, 3) one per polyline.
    """
    _check_image(image)
    if len(polylines) == 0:
        return image
    cols = _colors_for(len(polylines), colors, (255, 255, 255))
    lengths = np.array([len(p) for p in polylines])
    everything = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polylines])
    everything = np.round(np.clip(everything, -_MAX_ABS_PX, _MAX_ABS_PX) * (1 << _SHIFT)).astype(
        np.int32
    )
    fixed = np.split(
        everything.reshape(-1, 1, 2), np.cumsum(lengths)[:-1]
    )  # one conversion, then views
    uniq, inverse = np.unique(cols, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    line_type = cv2.LINE_AA if antialias else cv2.LINE_8
    for color_idx, color in enumerate(uniq):
        group = [fixed[i] for i in np.flatnonzero(inverse == color_idx)]
        cv2.polylines(image, group, closed, to_rgb_tuple(color), int(thickness), line_type, _SHIFT)
    return image


def draw_points(
    image: np.ndarray,
    pixels: np.ndarray,
    colors: Colors,
    radius: int = 1,
    depth: np.ndarray | None = None,
) -> np.ndarray:
    """Stamp discs of ``radius`` pixels (0 = single pixels) at ``pixels`` (N, 2) (u, v).

    ``colors``: one colour or (N, 3). Where discs overlap, the point with the smallest
    ``depth`` (N,) wins (a z-buffer; without ``depth``, the later point wins).

    Vectorized: points sharing a centre pixel are first reduced to the winner (one sort of N),
    then the disc is stamped one offset at a time (K offsets, K = 21 for radius 2), each stamp
    a gather/max/scatter of depth ranks over all points, so no loop over points.
    """
    _check_image(image)
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    n = px.shape[0]
    if n == 0:
        return image
    cols = _colors_for(n, colors, (255, 255, 255))
    height, width = image.shape[:2]
    r = max(int(radius), 0)
    centre = np.floor(np.clip(px, -(2**30), 2**30)).astype(np.int64)
    near = (
        (centre[:, 0] >= -r)
        & (centre[:, 0] < width + r)
        & (centre[:, 1] >= -r)
        & (centre[:, 1] < height + r)
    )
    centre, cols = centre[near], cols[near]
    d = (
        np.arange(n, 0, -1, dtype=np.float64)
        if depth is None
        else np.asarray(depth, dtype=np.float64).reshape(-1)
    )[near]
    # one point per centre pixel: the nearest (stable: without depth, the later of equal ones)
    key = (centre[:, 1] + r) * (width + 2 * r) + (centre[:, 0] + r)
    order = np.lexsort((d, key))
    key, centre, cols, d = key[order], centre[order], cols[order], d[order]
    first = np.ones(key.shape[0], dtype=bool)
    first[1:] = key[1:] != key[:-1]
    centre, cols, d = centre[first], cols[first], d[first]
    if r == 0:
        inside = (
            (centre[:, 0] >= 0)
            & (centre[:, 0] < width)
            & (centre[:, 1] >= 0)
            & (centre[:, 1] < height)
        )
        image.reshape(-1, 3)[centre[inside, 1] * width + centre[inside, 0]] = cols[inside]
        return image
    disc = _disc(r)
    # z-buffer as a morphological max: each centre pixel holds its point's nearness rank
    # (1 = farthest), a grey dilation by the disc gives every pixel the highest rank covering it.
    # OpenCV's SIMD dilation and reused buffers keep this memory-friendly on large images.
    rank = np.empty(centre.shape[0], dtype=np.float32)
    rank[np.argsort(-d, kind="stable")] = np.arange(1, centre.shape[0] + 1, dtype=np.float32)
    inside = (
        (centre[:, 0] >= 0) & (centre[:, 0] < width) & (centre[:, 1] >= 0) & (centre[:, 1] < height)
    )
    x0, y0 = max(int(centre[:, 0].min()) - r, 0), max(int(centre[:, 1].min()) - r, 0)
    x1, y1 = (
        min(int(centre[:, 0].max()) + r + 1, width),
        min(int(centre[:, 1].max()) + r + 1, height),
    )
    win_h, win_w = y1 - y0, x1 - x0
    ranks_img, dilated = _rank_buffers(win_h, win_w)
    ranks_img[:] = 0.0
    ranks_img[centre[inside, 1] - y0, centre[inside, 0] - x0] = rank[inside]
    # points just outside the picture still cover pixels inside it: add them on the border band
    outside = np.flatnonzero(~inside)
    if outside.size:
        band = np.zeros((win_h + 2 * r, win_w + 2 * r), dtype=np.float32)
        band[r:-r, r:-r] = ranks_img
        band[centre[outside, 1] - y0 + r, centre[outside, 0] - x0 + r] = rank[outside]
        dil = cv2.dilate(band, disc)[r:-r, r:-r]
    else:
        dil = cv2.dilate(ranks_img, disc, dst=dilated)
    by_rank = np.empty((centre.shape[0] + 1, 3), dtype=np.uint8)
    by_rank[rank.astype(np.int64)] = cols
    rows, cols_px = np.nonzero(dil)
    image[rows + y0, cols_px + x0] = by_rank[dil[rows, cols_px].astype(np.int64)]
    return image


def _disc(radius: int) -> np.ndarray:
    """(2r+1, 2r+1) uint8 footprint of a filled ``cv2.circle`` of ``radius`` (so that stamped
    discs are pixel-identical to OpenCV circles drawn at the same integer centres)."""
    kernel = np.zeros((2 * radius + 1, 2 * radius + 1), dtype=np.uint8)
    cv2.circle(kernel, (radius, radius), radius, 1, -1)
    return kernel


_BUFFERS = threading.local()


def _rank_buffers(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Two per-thread float32 (height, width) work pictures, reused between calls (fresh
    image-sized arrays cost more in page faults than the drawing itself)."""
    size = height * width
    bufs = getattr(_BUFFERS, "rank", None)
    if bufs is None or bufs[0].shape[0] < size:
        bufs = (np.empty(size, dtype=np.float32), np.empty(size, dtype=np.float32))
        _BUFFERS.rank = bufs
    return bufs[0][:size].reshape(height, width), bufs[1][:size].reshape(height, width)


def draw_indexed_points(
    image: np.ndarray,
    pixels: np.ndarray,
    index: np.ndarray,
    lut: np.ndarray,
    radius: int = 1,
) -> np.ndarray:
    """Stamp discs at ``pixels`` (N, 2) coloured ``lut[index]``; the smallest index wins overlaps.

    ``index`` (N,) uint8 into ``lut`` (256, 3) RGB. With a colormap indexed by depth (near =
    small index) this is a z-buffer at the colormap's resolution: the nearest point's colour
    wins. The fast path of :func:`draw_lidar`: a per-pixel minimum (``np.minimum.at`` over N),
    a grey erosion by the disc, one colormap lookup and one masked copy, all OpenCV SIMD passes
    over the points' bounding window.
    """
    _check_image(image)
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    idx = np.asarray(index, dtype=np.uint8).reshape(-1)
    height, width = image.shape[:2]
    r = max(int(radius), 0)
    centre = np.floor(np.clip(px, -(2**30), 2**30)).astype(np.int64)
    # points whose disc can reach the picture; centres outside it are kept on a border band
    near = (
        (centre[:, 0] >= -r)
        & (centre[:, 0] < width + r)
        & (centre[:, 1] >= -r)
        & (centre[:, 1] < height + r)
    )
    centre, idx = centre[near], idx[near]
    if centre.shape[0] == 0:
        return image
    x0, y0 = max(int(centre[:, 0].min()) - r, 0), max(int(centre[:, 1].min()) - r, 0)
    x1, y1 = (
        min(int(centre[:, 0].max()) + r + 1, width),
        min(int(centre[:, 1].max()) + r + 1, height),
    )
    if x1 <= x0 or y1 <= y0:
        return image
    band_w, band_h = x1 - x0 + 2 * r, y1 - y0 + 2 * r
    flat = (centre[:, 1] - y0 + r) * band_w + (centre[:, 0] - x0 + r)
    ok = (
        (flat >= 0)
        & (flat < band_w * band_h)
        & (centre[:, 0] - x0 + r >= 0)
        & (centre[:, 0] - x0 + r < band_w)
    )
    flat, idx = flat[ok], idx[ok]
    least = np.full(band_h * band_w, 255, dtype=np.uint8)
    np.minimum.at(least, flat, idx)
    covered = np.zeros(band_h * band_w, dtype=np.uint8)
    covered[flat] = 1
    least, covered = least.reshape(band_h, band_w), covered.reshape(band_h, band_w)
    if r > 0:
        disc = _disc(r)
        least = cv2.erode(least, disc)  # default border: neutral for erosion and dilation
        covered = cv2.dilate(covered, disc)
    least = np.ascontiguousarray(least[r : r + y1 - y0, r : r + x1 - x0])
    covered = np.ascontiguousarray(covered[r : r + y1 - y0, r : r + x1 - x0])
    # applyColorMap takes a "BGR" table and returns it per pixel: give it our RGB table as is
    coloured = cv2.applyColorMap(
        least, np.ascontiguousarray(np.asarray(lut, dtype=np.uint8).reshape(256, 1, 3))
    )
    window = image[y0:y1, x0:x1]  # a view: OpenCV writes through its row stride
    cv2.copyTo(coloured, covered, window)
    return image


# ---------------------------------------------------------------------------- lidar
def draw_lidar(
    image: np.ndarray,
    points: np.ndarray,
    calibration: Calibration,
    from_frame: CoordinateFrame = Lidar.VELODYNE,
    camera: Camera = Camera.FRONT,
    max_depth_m: float | None = 60.0,
    min_depth_m: float = 0.0,
    radius: int = 2,
    colormap: str = "turbo",
) -> np.ndarray:
    """Draw points (N, 3) given in ``from_frame`` on the image, coloured by camera depth.

    Depth is the camera-frame z (m), mapped linearly from ``min_depth_m`` (start of the
    colormap: blue for turbo) to ``max_depth_m`` (end: red), clipped; ``None`` scales to the
    farthest visible point. Only points the camera sees are drawn (in front, inside the
    field of view and the image); nearer points cover farther ones.
    """
    _check_image(image)
    proj = points_to_image(np.asarray(points)[:, :3], calibration, from_frame, camera)
    pixels = proj.pixels * _camera_scale(image, calibration.cameras[camera])
    top = (
        float(proj.depth_m.max())
        if max_depth_m is None and proj.depth_m.size
        else max_depth_m or 1.0
    )
    span = max(top - float(min_depth_m), 1e-9)
    index = np.clip(np.rint((proj.depth_m - float(min_depth_m)) / span * 255.0), 0, 255).astype(
        np.uint8
    )
    return draw_indexed_points(image, pixels, index, colormap_lut(colormap), radius=radius)


# ---------------------------------------------------------------------------- 2D boxes
def _as_xyxy(boxes: Boxes2D) -> np.ndarray:
    """Box2D list, objects with ``.box2d``, or an (N, 4) xyxy array -> (N, 4) float64."""
    if isinstance(boxes, np.ndarray):
        return boxes.reshape(-1, 4).astype(np.float64)
    rows = []
    for b in boxes:
        b = getattr(b, "box2d", b)
        rows.append(np.asarray(getattr(b, "xyxy", b), dtype=np.float64).reshape(4))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def draw_boxes_2d(
    image: np.ndarray,
    boxes: Boxes2D,
    colors: Colors = (0, 200, 255),
    thickness: int = 2,
    scale: float = 1.0,
) -> np.ndarray:
    """Draw axis-aligned boxes: (N, 4) xyxy pixels (or Box2D / annotations), times ``scale``."""
    xyxy = _as_xyxy(boxes) * float(scale)
    x0, y0, x1, y1 = xyxy.T
    outlines = np.stack(
        [
            np.stack([x0, y0], 1),
            np.stack([x1, y0], 1),
            np.stack([x1, y1], 1),
            np.stack([x0, y1], 1),
        ],
        1,
    )
    return draw_polylines(image, list(outlines), colors, thickness, closed=True, antialias=False)


# ---------------------------------------------------------------------------- 3D boxes
def _as_corners(boxes: Boxes3D) -> np.ndarray:
    """Corners (N, 8, 3) of a Box3DSet-like (``.corners`` (N, 8, 3)), Box3D list or array."""
    if isinstance(boxes, np.ndarray):
        return boxes.reshape(-1, 8, 3).astype(np.float64)
    corners = getattr(boxes, "corners", None)
    if corners is not None:  # Box3DSet.corners() is a method, Box3D.corners a property
        return np.asarray(corners() if callable(corners) else corners, dtype=np.float64).reshape(
            -1, 8, 3
        )
    if not isinstance(boxes, Iterable):
        raise TypeError(f"expected 3D boxes or their corners, not {type(boxes).__name__}")
    rows = []
    for item in boxes:
        box: Any = getattr(item, "box3d", item)  # a Box3D, or an object that holds one
        rows.append(np.asarray(box.corners, dtype=np.float64))
    return np.array(rows, dtype=np.float64).reshape(-1, 8, 3)


def box_edge_polylines(
    corners_camera: np.ndarray,
    camera_calibration: CameraCalibration,
    samples_per_edge: int = 24,
    use_field_of_view: bool = True,
    max_segment_px: float = 24.0,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Project the 12 edges of boxes through the fisheye model, clipped to what the camera sees.

    corners_camera (N, 8, 3) camera frame. Returns the visible pieces as pixel polylines
    (list of (K, 2), full-resolution pixels) and the box index (P,) of each piece. A piece is a
    run of at least two consecutive edge samples that are in front of the camera, within
    the valid range of the distortion model and (by default) inside the field of view.
    Each edge is sampled ``samples_per_edge`` times, then thinned to segments of about
    ``max_segment_px`` pixels (a far box needs 1 segment per edge, a near one all samples);
    the first and last visible sample of each piece are always kept, so clipping is exact.
    """
    corners = np.asarray(corners_camera, dtype=np.float64).reshape(-1, 8, 3)
    n_boxes = corners.shape[0]
    if n_boxes == 0:
        return [], np.zeros(0, dtype=np.intp)
    t = np.linspace(0.0, 1.0, max(int(samples_per_edge), 2))
    start = corners[:, BOX_EDGES[:, 0], :]  # (N, 12, 3)
    end = corners[:, BOX_EDGES[:, 1], :]
    samples = (
        start[:, :, None, :] + t[None, None, :, None] * (end - start)[:, :, None, :]
    )  # (N, 12, S, 3)
    flat = samples.reshape(-1, 3)
    cam = camera_calibration
    theta = np.arctan2(np.hypot(flat[:, 0], flat[:, 1]), flat[:, 2])
    valid = (flat[:, 2] > 1e-6) & (theta <= max_valid_theta(cam.distortion))
    if use_field_of_view:
        valid &= in_field_of_view(flat, cam.field_of_view)
    pixels = np.zeros((flat.shape[0], 2))
    pixels[valid] = project(flat[valid], cam.intrinsics, cam.distortion)
    n_rows, n_samples = n_boxes * 12, t.size
    valid2 = valid.reshape(n_rows, n_samples)
    # thin each edge to segments of ~max_segment_px: fewer, longer segments for short edges
    seg_px = np.linalg.norm(np.diff(pixels.reshape(n_rows, n_samples, 2), axis=1), axis=2)
    length_px = (seg_px * (valid2[:, 1:] & valid2[:, :-1])).sum(axis=1)
    n_seg = np.clip(np.ceil(length_px / max(float(max_segment_px), 1e-6)), 1, n_samples - 1)
    step = np.maximum((n_samples - 1) // n_seg.astype(np.int64), 1)
    j = np.arange(n_samples)
    keep = (j[None, :] % step[:, None] == 0) | (j[None, :] == n_samples - 1)
    edge_of_run = np.zeros_like(
        valid2
    )  # a visible sample next to an invisible one (or the row end)
    edge_of_run[:, 1:] |= ~valid2[:, :-1]
    edge_of_run[:, :-1] |= ~valid2[:, 1:]
    edge_of_run[:, [0, -1]] = True
    keep |= valid2 & edge_of_run
    kept = np.flatnonzero(keep.reshape(-1))
    kept_valid = valid[kept]
    kept_row = kept // n_samples
    new_row = np.ones(kept.size, dtype=bool)
    new_row[1:] = kept_row[1:] != kept_row[:-1]
    starts = np.flatnonzero(kept_valid & (new_row | ~np.concatenate([[False], kept_valid[:-1]])))
    last = np.ones(kept.size, dtype=bool)
    last[:-1] = new_row[1:] | ~kept_valid[1:]
    ends = np.flatnonzero(kept_valid & last) + 1
    long_enough = (ends - starts) >= 2
    starts, ends = starts[long_enough], ends[long_enough]
    kept_pixels = pixels[kept]
    pieces = [kept_pixels[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
    box_index = kept_row[starts] // 12
    return pieces, box_index


def draw_boxes_3d(
    image: np.ndarray,
    boxes: Boxes3D,
    calibration: Calibration,
    frame: CoordinateFrame = Lidar.VELODYNE,
    colors: Colors = (0, 200, 255),
    thickness: int = 2,
    camera: Camera = Camera.FRONT,
    samples_per_edge: int = 24,
) -> np.ndarray:
    """Draw 3D boxes (Box3DSet, Box3D list or corners (N, 8, 3) in ``frame``) on the image.

    ``frame`` is ignored for boxes that carry their own ``.frame``. ``colors`` is one colour
    or (N, 3). Edges are curved by the fisheye and clipped (see ``box_edge_polylines``).
    """
    _check_image(image)
    box_frame = getattr(boxes, "frame", None) or frame
    corners = _as_corners(boxes)
    if corners.shape[0] == 0:
        return image
    if (
        isinstance(boxes, Iterable)
        and not isinstance(boxes, np.ndarray)
        and getattr(boxes, "corners", None) is None
    ):
        frames = {getattr(getattr(b, "box3d", b), "frame", box_frame) for b in boxes}
        if len(frames) == 1:
            box_frame = frames.pop()
    cam = calibration.cameras[camera]
    corners_camera = transform_points(
        corners.reshape(-1, 3), calibration.get_transform(box_frame, camera)
    )
    pieces, box_index = box_edge_polylines(corners_camera.reshape(-1, 8, 3), cam, samples_per_edge)
    scale = _camera_scale(image, cam)
    cols = _colors_for(corners.shape[0], colors, (0, 200, 255))
    return draw_polylines(image, [p * scale for p in pieces], cols[box_index], thickness)


# ---------------------------------------------------------------------------- masks
def overlay_mask(
    image: np.ndarray,
    mask: np.ndarray,
    color: Color = (255, 0, 255),
    alpha: float = 0.5,
) -> np.ndarray:
    """Blend ``color`` over the pixels where ``mask`` (H', W') is true:
    ``alpha * color + (1 - alpha) * image``.

    A mask of another resolution (e.g. full-resolution on a reduced image) is resized with
    nearest-neighbour sampling.
    """
    _check_image(image)
    m = np.asarray(mask).astype(bool)
    if m.shape != image.shape[:2]:
        m = (
            cv2.resize(
                m.astype(np.uint8),
                (image.shape[1], image.shape[0]),
                interpolation=cv2.INTER_NEAREST,
            )
            > 0
        )
    m8 = m.view(np.uint8) if m.flags.c_contiguous else np.ascontiguousarray(m, dtype=np.uint8)
    x, y, w, h = cv2.boundingRect(m8)  # blend only the mask's bounding box (OpenCV SIMD passes)
    if w == 0 or h == 0:
        return image
    roi = image[y : y + h, x : x + w]
    colour = np.empty_like(roi)
    colour[:] = to_rgb_tuple(color)
    blended = cv2.addWeighted(roi, 1.0 - float(alpha), colour, float(alpha), 0.0)
    cv2.copyTo(blended, m8[y : y + h, x : x + w], roi)
    return image


# ---------------------------------------------------------------------------- trajectory
def trajectory_in_ego(
    world_from_ego: np.ndarray, reference_world_from_ego: np.ndarray
) -> np.ndarray:
    """Positions (N, 3) of the ego origin at poses (N, 4, 4) ``world_from_ego``, expressed in
    the ego frame of ``reference_world_from_ego`` (4, 4) (e.g. the pose at the keyframe time)."""
    poses = np.asarray(world_from_ego, dtype=np.float64).reshape(-1, 4, 4)
    ref_from_world = invert_transforms(as_transform(reference_world_from_ego))
    return transform_points(poses[:, :3, 3], ref_from_world)


def draw_trajectory(
    image: np.ndarray,
    positions_ego: np.ndarray,
    calibration: Calibration,
    color: Color = (255, 0, 0),
    thickness: int = 3,
    dot_radius: int = 0,
    camera: Camera = Camera.FRONT,
    ahead_only: bool = True,
) -> np.ndarray:
    """Draw ego positions (N, 3) (ego frame, in time order) as a polyline through the fisheye.

    Positions behind the ego (x <= 0, with ``ahead_only``), behind the camera or outside its
    horizontal field of view are dropped and split the line. ``dot_radius`` > 0 also marks
    each position.
    """
    _check_image(image)
    pos = np.asarray(positions_ego, dtype=np.float64).reshape(-1, 3)
    cam = calibration.cameras[camera]
    pts_cam = calibration.transform_points(pos, EGO, camera)
    theta = np.arctan2(np.hypot(pts_cam[:, 0], pts_cam[:, 1]), pts_cam[:, 2])
    valid = (pts_cam[:, 2] > 1e-6) & (theta <= max_valid_theta(cam.distortion))
    valid &= in_field_of_view(pts_cam, cam.field_of_view, horizontal_only=True)
    if ahead_only:
        valid &= pos[:, 0] > 0
    pixels = np.zeros((pos.shape[0], 2))
    pixels[valid] = project(pts_cam[valid], cam.intrinsics, cam.distortion) * _camera_scale(
        image, cam
    )
    starts, ends = _runs(valid[None, :])
    draw_polylines(
        image, [pixels[s:e] for s, e in zip(starts.tolist(), ends.tolist())], color, thickness
    )
    if dot_radius > 0:
        draw_points(image, pixels[valid], color, radius=dot_radius)
    return image


# ---------------------------------------------------------------------------- labels
def draw_labels(
    image: np.ndarray,
    anchors: np.ndarray,
    texts: Sequence[str],
    colors: Colors = (255, 255, 255),
    font_scale: float = 0.6,
    thickness: int = 1,
    background: Color | None = (0, 0, 0),
) -> np.ndarray:
    """Write ``texts`` with their bottom-left corner at ``anchors`` (N, 2) pixels, on a filled
    background box so they stay readable on any image (one putText per label)."""
    _check_image(image)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    cols = _colors_for(len(texts), colors, (255, 255, 255))
    font = cv2.FONT_HERSHEY_SIMPLEX
    for (x, y), text, col in zip(np.round(anchors).astype(int).tolist(), texts, cols):
        (w, h), baseline = cv2.getTextSize(text, font, font_scale, thickness)
        if background is not None:
            cv2.rectangle(
                image, (x, y - h - baseline), (x + w, y + baseline), to_rgb_tuple(background), -1
            )
        cv2.putText(
            image, text, (x, y), font, font_scale, to_rgb_tuple(col), thickness, cv2.LINE_AA
        )
    return image


def class_colors_of(annotations: Iterable[object]) -> np.ndarray:
    """RGB colours (N, 3) of object annotations by their class name (``.name``)."""
    return class_colors([getattr(a, "name", None) for a in annotations])


# The reference devkit's helpers draw with this module, so they cannot be imported here eagerly
# (a cycle): they are fetched from zod.viz.reference on first use.
_REFERENCE_HELPERS = dict.fromkeys(
    (
        "draw_projections_as_points",
        "overlay_mask_on_image",
        "overlay_object_2d_box_on_image",
        "overlay_object_3d_box_on_image",
        "overlay_object_properties_on_image",
        "overlay_polygon_on_image",
        "project_lidar_to_image",
        "visualize_lidar_on_image",
        "visualize_oxts_on_image",
    ),
    "zod.viz.reference",
)
__getattr__ = lazy_getattr(__name__, _REFERENCE_HELPERS, globals())

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from zod.viz.reference import (
        draw_projections_as_points,
        overlay_mask_on_image,
        overlay_object_2d_box_on_image,
        overlay_object_3d_box_on_image,
        overlay_object_properties_on_image,
        overlay_polygon_on_image,
        project_lidar_to_image,
        visualize_lidar_on_image,
        visualize_oxts_on_image,
    )
