"""``Box3DSet``: N oriented 3D boxes held as arrays (the devkit's fast path for boxes).

Modelled on av2-api's cuboid lists but fully vectorized: one object with ``centers_m``
(N, 3), ``sizes_lwh_m`` (N, 3) = (length, width, height), ``quaternions_wxyz`` (N, 4)
(rotation frame_from_box), one ``frame`` for all, and per-box columns ``classes``,
``subclasses``, ``uuids``, ``unclear``, ``boxes2d`` (N, 4) xyxy pixels plus ``attributes``
(other per-box fields, (N,) arrays). Pure geometry: building a set from annotation files or
``ObjectAnnotation`` objects is in :mod:`zod.annotations.object_features` and
:mod:`zod.annotations.objects`. Corner order is that of :mod:`zod.geometry.box` (drawn there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from zod.constants import Camera, CoordinateFrame, Lidar
from zod.geometry.box import UNIT_CORNERS, Box3D
from zod.geometry.transforms import (
    as_transform,
    quaternion_multiply,
    quaternions_from_rotation_matrices,
    rotation_matrices_from_quaternions,
    yaw_from_quaternions,
)

__all__ = ["Box3DSet", "BoxProjection"]


class BoxProjection(NamedTuple):
    """Boxes projected into a camera image.

    pixels (N, 9, 2): the centre then the 8 corners; points_visible (N, 9): each point in
    front of the camera, within the lens model's range and inside the image; visible (N,):
    all 9 points in front of the camera (within the lens range) and at least one inside the
    image, i.e. the projected box can be drawn.
    """

    pixels: np.ndarray
    points_visible: np.ndarray
    visible: np.ndarray


def _object_column(values: Iterable[Any] | None, n: int, what: str) -> np.ndarray:
    """An (n,) object column (all None when ``values`` is None); object arrays pass through."""
    if isinstance(values, np.ndarray) and values.dtype == object and values.shape == (n,):
        return values
    out = np.empty(n, dtype=object)
    if values is not None:
        items = list(values)
        if len(items) != n:
            raise ValueError(f"Box3DSet.{what} has {len(items)} values for {n} boxes")
        out[:] = items
    return out


def _unit_quaternions(quaternions: Any, n: int) -> np.ndarray:
    """(n, 4) float64 quaternions, rows that are not unit (within pyquaternion's 1e-14 on the
    squared norm) normalised; unit rows and zero rows are kept as given."""
    q = np.asarray(quaternions, dtype=np.float64).reshape(n, 4)
    squared = np.einsum("ij,ij->i", q, q)
    off = (np.abs(1.0 - squared) >= 1e-14) & (squared > 0)
    if off.any():
        q = q.copy()
        q[off] /= np.sqrt(squared[off])[:, None]
    return q


@dataclass(init=False)
class Box3DSet:
    """N boxes in one frame; see the module docstring. Every column has N rows."""

    centers_m: np.ndarray  # (N, 3) float64
    sizes_lwh_m: np.ndarray  # (N, 3) float64
    quaternions_wxyz: np.ndarray  # (N, 4) float64, rotation frame_from_box
    frame: CoordinateFrame
    classes: np.ndarray  # (N,) object (str or None)
    subclasses: np.ndarray  # (N,) object (str or None)
    uuids: np.ndarray  # (N,) object (str or None)
    unclear: np.ndarray  # (N,) bool
    boxes2d: np.ndarray  # (N, 4) float64 xyxy pixels, NaN when unknown
    attributes: dict[str, np.ndarray]  # name -> (N,) array

    def __init__(
        self,
        centers_m: Any,
        sizes_lwh_m: Any,
        quaternions_wxyz: Any,
        frame: CoordinateFrame = Lidar.VELODYNE,
        classes: Iterable[Any] | None = None,
        subclasses: Iterable[Any] | None = None,
        uuids: Iterable[Any] | None = None,
        unclear: Any = None,
        boxes2d: Any = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Columns not given are filled: None classes / subclasses / uuids, unclear False,
        NaN ``boxes2d``, no attributes. Quaternions that are not unit are normalised."""
        self.centers_m = np.asarray(centers_m, dtype=np.float64).reshape(-1, 3)
        n = len(self.centers_m)
        self.sizes_lwh_m = np.asarray(sizes_lwh_m, dtype=np.float64).reshape(n, 3)
        self.quaternions_wxyz = _unit_quaternions(quaternions_wxyz, n)
        self.frame = frame
        self.classes = _object_column(classes, n, "classes")
        self.subclasses = _object_column(subclasses, n, "subclasses")
        self.uuids = _object_column(uuids, n, "uuids")
        self.unclear = (
            np.zeros(n, dtype=bool)
            if unclear is None
            else np.asarray(unclear, dtype=bool).reshape(n)
        )
        self.boxes2d = (
            np.full((n, 4), np.nan, dtype=np.float64)
            if boxes2d is None
            else np.asarray(boxes2d, dtype=np.float64).reshape(n, 4)
        )
        self.attributes = {
            k: v if isinstance(v, np.ndarray) and v.shape == (n,) else _object_column(v, n, k)
            for k, v in (attributes or {}).items()
        }

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, frame: CoordinateFrame = Lidar.VELODYNE) -> Box3DSet:
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4)), frame)

    @classmethod
    def from_boxes(cls, boxes: Sequence[Box3D]) -> Box3DSet:
        """From a list of :class:`zod.geometry.box.Box3D` (all in one frame)."""
        if not boxes:
            return cls.empty()
        frames = {b.frame for b in boxes}
        if len(frames) != 1:
            raise ValueError(f"boxes are in several frames {frames}; convert them first")
        return cls(
            np.array([b.center for b in boxes]),
            np.array([b.size for b in boxes]),
            np.array([getattr(b.orientation, "q", b.orientation) for b in boxes]),
            frames.pop(),
        )

    def to_boxes(self) -> list[Box3D]:
        """A list of :class:`zod.geometry.box.Box3D` (one Python object per box: the slow path)."""
        from pyquaternion import Quaternion

        return [
            Box3D(c.copy(), s.copy(), Quaternion(q), self.frame)
            for c, s, q in zip(self.centers_m, self.sizes_lwh_m, self.quaternions_wxyz)
        ]

    # ------------------------------------------------------------------ container
    def __len__(self) -> int:
        return len(self.centers_m)

    def __getitem__(self, index: Any) -> Box3DSet:
        """Subset by bool mask, index array or slice (an int gives a set of one box)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return replace(
            self,
            centers_m=self.centers_m[index],
            sizes_lwh_m=self.sizes_lwh_m[index],
            quaternions_wxyz=self.quaternions_wxyz[index],
            classes=self.classes[index],
            subclasses=self.subclasses[index],
            uuids=self.uuids[index],
            unclear=self.unclear[index],
            boxes2d=self.boxes2d[index],
            attributes={k: v[index] for k, v in self.attributes.items()},
        )

    def copy(self) -> Box3DSet:
        return self[np.arange(len(self))]

    # ------------------------------------------------------------------ geometry
    @property
    def rotation_matrices(self) -> np.ndarray:
        """(N, 3, 3) box-to-frame rotations."""
        return rotation_matrices_from_quaternions(self.quaternions_wxyz)

    @property
    def yaw(self) -> np.ndarray:
        """(N,) heading (rad) of each box's length axis about the frame's z axis."""
        return yaw_from_quaternions(self.quaternions_wxyz)

    def transform(self, target_from_source: Any, new_frame: CoordinateFrame) -> Box3DSet:
        """A new set moved by one rigid (4, 4) transform / Pose into ``new_frame``."""
        t = as_transform(target_from_source)
        q_t = quaternions_from_rotation_matrices(t[:3, :3])
        return replace(
            self,
            centers_m=self.centers_m @ t[:3, :3].T + t[:3, 3],
            quaternions_wxyz=quaternion_multiply(q_t, self.quaternions_wxyz),
            frame=new_frame,
            attributes=dict(self.attributes),
        )

    def convert_to(self, frame: CoordinateFrame, calibration: Any) -> Box3DSet:
        """A new set expressed in ``frame`` (one fused transform for all boxes)."""
        if frame == self.frame:
            return self.copy()
        return self.transform(calibration.get_transform(self.frame, frame), frame)

    def corners(self) -> np.ndarray:
        """(N, 8, 3) corners in the set's frame, in the order of :mod:`zod.geometry.box`."""
        local = UNIT_CORNERS[None, :, :] * self.sizes_lwh_m[:, None, :]
        return np.einsum("nij,nkj->nki", self.rotation_matrices, local) + self.centers_m[:, None, :]

    def bev_corners(self) -> np.ndarray:
        """(N, 4, 2) bottom corners' (x, y) (the reference ``corners_bev`` for each box)."""
        return self.corners()[:, :4, :2]

    def distances(self) -> np.ndarray:
        """(N,) distance (m) of each centre from the frame's origin."""
        return np.linalg.norm(self.centers_m, axis=1)

    def project(self, calibration: Any, camera: Camera = Camera.FRONT) -> BoxProjection:
        """Project centres and corners into ``camera``'s image: (N, 9, 2) pixels + visibility."""
        from zod.geometry.fisheye import max_valid_theta, project
        from zod.geometry.transforms import apply_rigid

        cam = calibration.cameras[camera]
        points = np.concatenate([self.centers_m[:, None, :], self.corners()], axis=1).reshape(-1, 3)
        if self.frame != camera:  # move the 9 points of each box with one fused transform
            camera_from_frame = calibration.get_transform(self.frame, camera)
            points = apply_rigid(points, camera_from_frame[:3, :3], camera_from_frame[:3, 3])
        pixels = project(points, cam.intrinsics, cam.distortion).reshape(-1, 9, 2)
        theta = np.arctan2(np.hypot(points[:, 0], points[:, 1]), points[:, 2])
        in_front = ((points[:, 2] > 0) & (theta <= max_valid_theta(cam.distortion))).reshape(-1, 9)
        width, height = (float(v) for v in np.asarray(cam.image_dimensions)[:2])
        inside = (
            (pixels[..., 0] >= 0)
            & (pixels[..., 0] < width)
            & (pixels[..., 1] >= 0)
            & (pixels[..., 1] < height)
        )
        points_visible = in_front & inside
        visible = in_front.all(axis=1) & points_visible.any(axis=1)
        return BoxProjection(pixels, points_visible, visible)

    def points_in_boxes(self, points: np.ndarray) -> np.ndarray:
        """(M,) index of the box holding each point (M, 3) of the set's frame, -1 for none.

        Borders count as inside; where boxes overlap the lowest index wins. Axis-aligned
        bounds prune the (box, point) pairs before the exact oriented test.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out = np.full(len(pts), -1, dtype=np.int64)
        if len(self) == 0 or len(pts) == 0:
            return out
        corners = self.corners()
        lo, hi = corners.min(axis=1), corners.max(axis=1)  # (N, 3)
        # coarse: per box, points within its axis-aligned bounds (vectorized over (N, M))
        cand = np.ones((len(self), len(pts)), dtype=bool)
        for axis in range(3):  # 3 iterations over axes, not over boxes or points
            coord = pts[:, axis]
            cand &= (coord[None, :] >= lo[:, axis, None]) & (coord[None, :] <= hi[:, axis, None])
        box_idx, pt_idx = np.nonzero(cand)
        if box_idx.size == 0:
            return out
        rot = self.rotation_matrices[box_idx]  # (K, 3, 3)
        local = np.einsum("kji,kj->ki", rot, pts[pt_idx] - self.centers_m[box_idx])
        inside = np.all(np.abs(local) <= self.sizes_lwh_m[box_idx] / 2 + 1e-9, axis=1)
        box_idx, pt_idx = box_idx[inside], pt_idx[inside]
        # lowest box index per point: assign in reverse order so the smallest index wins
        order = np.argsort(-box_idx, kind="stable")
        out[pt_idx[order]] = box_idx[order]
        return out

    def count_points(self, points: np.ndarray) -> np.ndarray:
        """(N,) number of points (M, 3) in each box (a point counts for the first box holding
        it)."""
        idx = self.points_in_boxes(points)
        return np.bincount(idx[idx >= 0], minlength=len(self))

    # ------------------------------------------------------------------ filtering
    def filter_classes(self, classes: Iterable[str], subclasses: bool = False) -> Box3DSet:
        """Boxes whose class (or subclass) is one of ``classes``."""
        column = self.subclasses if subclasses else self.classes
        return self[np.isin(column.astype(str), np.asarray(list(classes), dtype=str))]

    def filter_distance(self, max_distance: float, min_distance: float = 0.0) -> Box3DSet:
        """Boxes whose centre lies within [min_distance, max_distance] m of the frame's origin."""
        d = self.distances()
        return self[(d >= min_distance) & (d <= max_distance)]

    def filter_unclear(self, keep_unclear: bool = False) -> Box3DSet:
        """Drop (default) or keep only the unclear boxes."""
        return self[self.unclear if keep_unclear else ~self.unclear]
