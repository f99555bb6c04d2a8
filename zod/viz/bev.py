"""Bird's-eye view (BEV): point clouds, 3D box footprints and the ego, as an RGB picture.

The picture looks down on a horizontal frame (the ego frame by default: x forward, y left)::

        x forward = up                     pixel (u, v) = (column, row) of a point (x, y):
              ^                              u = (y_max - y) / resolution_m
              |                              v = (x_max - x) / resolution_m
    y left <--o  ego                       cell (row, col) = floor of (v, u); the point
                                           (x_max, y_max) is the top-left corner of the picture.

Cells take the colour of their highest point (``color_by="height"``) or of their most intense
one (``"intensity"``); boxes are drawn as their footprint (bottom face) plus a heading line
from the centre to the front face (the box's +x face). Everything is vectorized over points
and boxes. :class:`BEVBox` is the reference devkit's class name (lidar frame, picture array).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import cv2
import numpy as np

from zod.viz.colors import apply_colormap, class_colors, write_png
from zod.viz.image import _as_corners, draw_labels, draw_points, draw_polylines

__all__ = ["BEVBox", "BevGrid", "BevPicture", "bev_box_outlines", "render_bev"]

BACKGROUND = (18, 18, 24)
GRID_COLOR = (60, 60, 70)
EGO_COLOR = (255, 255, 255)


@dataclass(frozen=True)
class BevGrid:
    """The area and resolution of a BEV picture, in metres of the BEV frame."""

    x_range_m: tuple[float, float] = (-20.0, 80.0)  # backward .. forward
    y_range_m: tuple[float, float] = (-40.0, 40.0)  # right .. left
    resolution_m: float = 0.1  # metres per pixel

    def __post_init__(self) -> None:
        if not (self.x_range_m[1] > self.x_range_m[0] and self.y_range_m[1] > self.y_range_m[0]):
            raise ValueError("BevGrid ranges must be (min, max) with max > min")
        if self.resolution_m <= 0:
            raise ValueError("BevGrid resolution_m must be positive")

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the picture in pixels."""
        height = int(round((self.x_range_m[1] - self.x_range_m[0]) / self.resolution_m))
        width = int(round((self.y_range_m[1] - self.y_range_m[0]) / self.resolution_m))
        return height, width

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """BEV-frame points (N, 2+) metres -> continuous pixel coordinates (N, 2) (u, v)."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, np.shape(xy)[-1])
        u = (self.y_range_m[1] - pts[:, 1]) / self.resolution_m
        v = (self.x_range_m[1] - pts[:, 0]) / self.resolution_m
        return np.stack([u, v], axis=1)

    def to_metres(self, uv: np.ndarray) -> np.ndarray:
        """Pixel coordinates (N, 2) (u, v) -> BEV-frame (x, y) (N, 2) metres (undoes to_pixels)."""
        px = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        return np.stack(
            [
                self.x_range_m[1] - px[:, 1] * self.resolution_m,
                self.y_range_m[1] - px[:, 0] * self.resolution_m,
            ],
            axis=1,
        )

    def cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grid cells of the points (N, 2+): ``(row, col, inside)``.

        ``row``, ``col``: int64 (M,) of the M points inside the grid; ``inside``: bool (N,) mask.
        """
        uv = self.to_pixels(xy)
        col = np.floor(uv[:, 0]).astype(np.int64)
        row = np.floor(uv[:, 1]).astype(np.int64)
        height, width = self.shape
        inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
        return row[inside], col[inside], inside


def _rasterize_max(
    grid: BevGrid, points: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell maximum of ``values`` (N,) over the points (N, 2+).

    Returns (flat cell indices (C,), their maximum (C,)) of the C cells holding a point.
    """
    row, col, inside = grid.cells(points)
    flat = row * grid.shape[1] + col
    vals = np.asarray(values, dtype=np.float64)[inside]
    order = np.lexsort((-vals, flat))  # by cell, largest value first
    flat, vals = flat[order], vals[order]
    first = np.ones(flat.shape[0], dtype=bool)
    first[1:] = flat[1:] != flat[:-1]
    return flat[first], vals[first]


def bev_box_outlines(corners: np.ndarray, grid: BevGrid) -> tuple[np.ndarray, np.ndarray]:
    """Footprints (N, 4, 2) and heading segments (N, 2, 2), in pixels, of boxes' corners (N, 8, 3).

    The footprint is the bottom face (corners 0-3); the heading goes from the box centre to
    the centre of its front (+x) face (corners 1, 2, 5, 6).
    """
    c = np.asarray(corners, dtype=np.float64).reshape(-1, 8, 3)
    footprint = grid.to_pixels(c[:, :4, :2].reshape(-1, 2)).reshape(-1, 4, 2)
    centre = c[:, :, :2].mean(axis=1)
    front = c[:, [1, 2, 5, 6], :2].mean(axis=1)
    heading = grid.to_pixels(np.stack([centre, front], axis=1).reshape(-1, 2)).reshape(-1, 2, 2)
    return footprint, heading


def render_bev(
    points: np.ndarray | None = None,
    grid: BevGrid | None = None,
    *,
    values: np.ndarray | None = None,
    color_by: str = "height",
    value_range: tuple[float, float] | None = None,
    colormap: str = "turbo",
    point_radius: int = 0,
    boxes: Any = None,
    box_colors: Any = None,
    box_labels: Sequence[str] | None = None,
    trajectory_xy: np.ndarray | None = None,
    draw_ego: bool = True,
    ego_pose: np.ndarray | None = None,
    ego_length_m: float = 4.8,
    ego_width_m: float = 1.9,
    ego_rear_m: float = 1.0,
    grid_step_m: float | None = 10.0,
    box_thickness: int = 2,
) -> np.ndarray:
    """A BEV picture (H, W, 3) RGB uint8 of points (N, 3+) and boxes, all in one BEV frame.

    ``color_by``: ``"height"`` (z, default range -2.5..3 m), ``"intensity"`` (``values`` or the
    4th column, default range 0..255) or ``"values"`` (``values``, range from the data).
    ``boxes``: Box3DSet / Box3D list / corners (N, 8, 3) in the same frame, ``box_colors`` one
    colour or (N, 3), ``box_labels`` optional texts. ``trajectory_xy`` (T, 2) is drawn as a line.
    The ego is drawn as an arrow-shaped footprint from ``-ego_rear_m`` to
    ``ego_length_m - ego_rear_m`` along x, placed by ``ego_pose`` (4, 4) ``bev_from_ego``
    (default: identity, the BEV frame is the ego frame).
    """
    grid = grid or BevGrid()
    height, width = grid.shape
    picture = np.empty((height, width, 3), dtype=np.uint8)
    picture[:] = BACKGROUND
    if grid_step_m:
        _draw_metric_grid(picture, grid, grid_step_m)
    if points is not None and len(points):
        pts = np.asarray(points)
        if color_by == "height":
            vals = pts[:, 2].astype(np.float64)
            lo, hi = value_range or (-2.5, 3.0)
        elif color_by == "intensity":
            vals = np.asarray(values if values is not None else pts[:, 3], dtype=np.float64)
            lo, hi = value_range or (0.0, 255.0)
        elif color_by == "values":
            if values is None:
                raise ValueError("color_by='values' needs values")
            vals = np.asarray(values, dtype=np.float64)
            lo, hi = value_range or (float(vals.min()), float(vals.max()))
        else:
            raise ValueError(
                f"color_by must be 'height', 'intensity' or 'values', not {color_by!r}"
            )
        if point_radius > 0:
            row, col, inside = grid.cells(pts)
            order = np.argsort(vals[inside])  # highest drawn last -> on top
            colors = apply_colormap((vals[inside][order] - lo) / max(hi - lo, 1e-9), colormap)
            uv = np.stack([col[order], row[order]], axis=1).astype(np.float64)
            draw_points(picture, uv, colors, radius=point_radius)
        else:
            flat, cell_max = _rasterize_max(grid, pts, vals)
            picture.reshape(-1, 3)[flat] = apply_colormap(
                (cell_max - lo) / max(hi - lo, 1e-9), colormap
            )
    if trajectory_xy is not None and len(trajectory_xy) > 1:
        draw_polylines(
            picture, [grid.to_pixels(np.asarray(trajectory_xy)[:, :2])], (255, 255, 255), 2
        )
    if draw_ego:
        _draw_ego(picture, grid, ego_length_m, ego_width_m, ego_rear_m, ego_pose)
    if boxes is not None:
        corners = _as_corners(boxes)
        if corners.shape[0]:
            footprint, heading = bev_box_outlines(corners, grid)
            cols = box_colors if box_colors is not None else (0, 200, 255)
            draw_polylines(picture, list(footprint), cols, box_thickness, closed=True)
            draw_polylines(picture, list(heading), cols, box_thickness)
            if box_labels is not None:
                anchors = footprint.min(axis=1) - np.array([0.0, 4.0])
                draw_labels(
                    picture, anchors, list(box_labels), cols if np.ndim(cols) == 2 else None, 0.4
                )
    return picture


def _draw_metric_grid(picture: np.ndarray, grid: BevGrid, step_m: float) -> None:
    """Lines every ``step_m`` metres along x and y (thin, dark)."""
    xs = (
        np.arange(np.ceil(grid.x_range_m[0] / step_m), np.floor(grid.x_range_m[1] / step_m) + 1)
        * step_m
    )
    ys = (
        np.arange(np.ceil(grid.y_range_m[0] / step_m), np.floor(grid.y_range_m[1] / step_m) + 1)
        * step_m
    )
    lines = [np.array([[x, grid.y_range_m[0]], [x, grid.y_range_m[1]]]) for x in xs]
    lines += [np.array([[grid.x_range_m[0], y], [grid.x_range_m[1], y]]) for y in ys]
    draw_polylines(
        picture, [grid.to_pixels(line) for line in lines], GRID_COLOR, 1, antialias=False
    )


def _draw_ego(
    picture: np.ndarray,
    grid: BevGrid,
    length_m: float,
    width_m: float,
    rear_m: float,
    bev_from_ego: np.ndarray | None = None,
) -> None:
    """The ego footprint with a pointed nose (ego x forward), placed by ``bev_from_ego`` (4, 4)."""
    front = length_m - rear_m
    half = width_m / 2
    outline = np.array(
        [
            [-rear_m, -half, 0],
            [front - 0.8, -half, 0],
            [front, 0.0, 0],
            [front - 0.8, half, 0],
            [-rear_m, half, 0],
        ]
    )
    if bev_from_ego is not None:
        pose = np.asarray(getattr(bev_from_ego, "transform", bev_from_ego), dtype=np.float64)
        outline = outline @ pose[:3, :3].T + pose[:3, 3]
    px = np.round(grid.to_pixels(outline[:, :2]) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(picture, [px], EGO_COLOR, cv2.LINE_AA, 4)


class BevPicture(np.ndarray):
    """An RGB BEV picture (H, W, 3) uint8 that can ``show()`` itself or ``save(path)``."""

    def __new__(cls, array: np.ndarray) -> BevPicture:
        return np.asarray(array).view(cls)

    def save(self, path: str | PathLike[str]) -> str:
        """Write as PNG (atomically); returns the path."""
        return write_png(path, np.asarray(self))

    def show(self) -> None:
        """Open the picture in the system image viewer (needs Pillow and a desktop)."""
        try:
            from PIL import Image
        except ImportError as exc:  # pragma: no cover - pillow is in the viz extra
            raise RuntimeError(
                "BevPicture.show needs Pillow: pip install 'zod-devkit[viz]'"
            ) from exc
        Image.fromarray(np.asarray(self)).show()


class BEVBox:
    """Reference-compatible BEV of lidar points and boxes, in the LIDAR frame.

    ``BEVBox()(points, (classes, positions, dimensions, rotations))`` with points (N, 4)
    (x, y, z, intensity, lidar frame), classes (M,) names, positions (M, 3), dimensions
    (M, 3) (L, W, H) and rotations (M,) pyquaternion Quaternions (or (M, 4) w, x, y, z).
    Like the reference the picture spans lidar x in [-50, 50] m (right) and lidar y in
    [0, 100] m (up) at 0.1 m; it returns a :class:`BevPicture` instead of a plotly figure.
    """

    def __init__(self, resolution_m: float = 0.1) -> None:
        # lidar frame -> BEV frame: forward = lidar y, left = -lidar x
        self.grid = BevGrid(
            x_range_m=(0.0, 100.0), y_range_m=(-50.0, 50.0), resolution_m=resolution_m
        )

    @staticmethod
    def lidar_to_bev(points: np.ndarray) -> np.ndarray:
        """Lidar-frame (N, 3+) -> BEV frame (N, 3+): (y, -x, z, rest...)."""
        pts = np.array(points, dtype=np.float64, copy=True)
        pts[:, 0], pts[:, 1] = np.asarray(points)[:, 1], -np.asarray(points)[:, 0]
        return pts

    def __call__(self, bev: np.ndarray, objects: tuple[Any, Any, Any, Any]) -> BevPicture:
        from zod.geometry.box import UNIT_CORNERS
        from zod.geometry.transforms import rotation_matrices_from_quaternions

        classes, positions, dimensions, rotations = objects
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        dimensions = np.asarray(dimensions, dtype=np.float64).reshape(-1, 3)
        quats = np.array([getattr(r, "q", r) for r in rotations], dtype=np.float64).reshape(-1, 4)
        rot = rotation_matrices_from_quaternions(quats)  # (M, 3, 3)
        corners = (
            np.einsum("mij,mkj->mki", rot, UNIT_CORNERS[None] * dimensions[:, None, :])
            + positions[:, None]
        )
        corners_bev = self.lidar_to_bev(corners.reshape(-1, 3)).reshape(-1, 8, 3)
        points = self.lidar_to_bev(np.asarray(bev)[:, :3])
        picture = render_bev(
            points,
            self.grid,
            boxes=corners_bev,
            box_colors=class_colors(list(classes)),
            draw_ego=False,
        )
        return BevPicture(picture)
