"""``Box2D`` (image boxes) and ``Box3D`` (oriented 3D boxes), compatible with the reference.

Box3D corner order (box frame: x along the length L, y along the width W, z up along the
height H; the reference devkit's order, spec section 11)::

              7 -------- 6          index  signs of (x, y, z) half-sizes  reference name
             /|         /|            0    (-, -, -)                      rear left bottom
            4 -------- 5 |            1    (+, -, -)                      rear right bottom
            | |        | |            2    (+, +, -)                      front right bottom
            | 3 -------| 2            3    (-, +, -)                      front left bottom
            |/         |/             4..7 the same four on top (z +)     ... top
            0 -------- 1
        z
        |  y
        | /
        |/____ x

``project_into_camera`` returns 9 points: the centre, then these 8 corners.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyquaternion import Quaternion

from zod.constants import Camera, CoordinateFrame

__all__ = ["UNIT_CORNERS", "Box2D", "Box3D"]

# (8, 3) corners of the unit cube centred at 0, in the order drawn above
UNIT_CORNERS = np.array(
    [
        [-0.5, -0.5, -0.5],
        [0.5, -0.5, -0.5],
        [0.5, 0.5, -0.5],
        [-0.5, 0.5, -0.5],
        [-0.5, -0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.5, 0.5, 0.5],
        [-0.5, 0.5, 0.5],
    ]
)


@dataclass
class Box3D:
    """An oriented 3D box: centre (3,) m, size (3,) = (L, W, H) m, orientation, frame."""

    center: np.ndarray
    size: np.ndarray
    orientation: Quaternion
    frame: CoordinateFrame

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, dtype=np.float64).reshape(3)
        self.size = np.asarray(self.size, dtype=np.float64).reshape(3)
        if not isinstance(self.orientation, Quaternion):
            self.orientation = Quaternion(np.asarray(self.orientation, dtype=np.float64))

    def _apply(self, target_from_source: np.ndarray, new_frame: CoordinateFrame) -> None:
        from zod.geometry.transforms import quaternions_from_rotation_matrices

        rot = target_from_source[:3, :3]
        self.center = rot @ self.center + target_from_source[:3, 3]
        self.orientation = (
            Quaternion(array=quaternions_from_rotation_matrices(rot)) * self.orientation
        )
        self.frame = new_frame

    def convert_to(self, frame: CoordinateFrame, calib: Any) -> Box3D:
        """Express the box in ``frame`` (in place, like the reference); returns ``self``."""
        if frame != self.frame:
            self._apply(calib.get_transform(self.frame, frame), frame)
        return self

    def transform(self, target_from_source: Any, new_frame: CoordinateFrame | None = None) -> Box3D:
        """Apply a rigid (4, 4) transform / Pose in place; ``new_frame`` names the result frame."""
        from zod.geometry.transforms import as_transform

        self._apply(
            as_transform(target_from_source), self.frame if new_frame is None else new_frame
        )
        return self

    def copy(self) -> Box3D:
        return Box3D(
            center=self.center.copy(),
            size=self.size.copy(),
            orientation=Quaternion(self.orientation),
            frame=self.frame,
        )

    @property
    def corners(self) -> np.ndarray:
        """(8, 3) corners in the box's frame, in the order of the module docstring."""
        return (UNIT_CORNERS * self.size) @ self.orientation.rotation_matrix.T + self.center

    @property
    def corners_bev(self) -> np.ndarray:
        """(4, 2) bottom corners' (x, y): the bird's-eye-view footprint (reference definition)."""
        return self.corners[:4, :2]

    @property
    def yaw(self) -> float:
        """Heading (rad) of the box's length axis about the frame's z axis."""
        from zod.geometry.transforms import yaw_from_quaternions

        return float(yaw_from_quaternions(self.orientation.q))

    def project_into_camera(self, calib: Any) -> np.ndarray:
        """(9, 2) pixels of the centre and the 8 corners; the box must be in a camera frame."""
        from zod.geometry.fisheye import project

        if not isinstance(self.frame, Camera):
            raise ValueError(
                f"cannot project a box in frame {self.frame}: convert_to a Camera first"
            )
        cam = calib.cameras[self.frame]
        return project(np.vstack([self.center[None], self.corners]), cam.intrinsics, cam.distortion)

    def points_in_box(self, points: np.ndarray) -> np.ndarray:
        """Mask (N,) of the points (N, 3), in the box's frame, inside the box (borders included)."""
        pts = np.asarray(points, dtype=np.float64)
        local = (pts - self.center) @ self.orientation.rotation_matrix
        return np.all(np.abs(local) <= self.size / 2, axis=1)

    def __eq__(self, other: object) -> bool:
        """Same frame, centre, size and rotation (q and -q are the same rotation)."""
        if not isinstance(other, Box3D):
            return NotImplemented
        q, q_other = self.orientation.q, other.orientation.q
        return bool(
            np.allclose(self.center, other.center)
            and np.allclose(self.size, other.size)
            and (np.allclose(q, q_other, atol=1e-9) or np.allclose(q, -q_other, atol=1e-9))
            and self.frame == other.frame
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass
class Box2D:
    """An axis-aligned image box: xyxy = (xmin, ymin, xmax, ymax) pixels of ``frame``."""

    xyxy: np.ndarray
    frame: Camera = Camera.FRONT

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy).reshape(4)
        if not np.issubdtype(self.xyxy.dtype, np.floating):
            self.xyxy = self.xyxy.astype(np.float32)

    @classmethod
    def from_points(
        cls, points: Sequence[Sequence[float]] | np.ndarray, frame: Camera = Camera.FRONT
    ) -> Box2D:
        """The enclosing box of points (K, 2) (e.g. 4 MultiPoint corners), float32 (reference)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            raise ValueError("Box2D.from_points needs at least one point")
        return cls(
            xyxy=np.concatenate([pts.min(axis=0), pts.max(axis=0)]).astype(np.float32), frame=frame
        )

    @classmethod
    def from_xywh(cls, xywh: Sequence[float] | np.ndarray, frame: Camera = Camera.FRONT) -> Box2D:
        x, y, w, h = (float(v) for v in xywh)
        return cls(xyxy=np.array([x, y, x + w, y + h], dtype=np.float32), frame=frame)

    @property
    def xywh(self) -> np.ndarray:
        """(x, y, width, height)."""
        return self.xyxy - np.array([0, 0, self.xyxy[0], self.xyxy[1]], dtype=self.xyxy.dtype)

    @property
    def area(self) -> float:
        return float(np.prod(self.xyxy[2:] - self.xyxy[:2]))

    @property
    def center(self) -> np.ndarray:
        """(2,) centre (x, y)."""
        return (self.xyxy[:2] + self.xyxy[2:]) / 2

    @property
    def dimension(self) -> np.ndarray:
        """(2,) (width, height)."""
        return self.xyxy[2:] - self.xyxy[:2]

    @property
    def corners(self) -> np.ndarray:
        """(4, 2): top-left, top-right, bottom-right, bottom-left."""
        x0, y0, x1, y1 = self.xyxy
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=self.xyxy.dtype)

    @property
    def xmin(self) -> int:
        return int(np.round(self.xyxy[0]))

    @property
    def ymin(self) -> int:
        return int(np.round(self.xyxy[1]))

    @property
    def xmax(self) -> int:
        return int(np.round(self.xyxy[2]))

    @property
    def ymax(self) -> int:
        return int(np.round(self.xyxy[3]))

    def crop_from_image(
        self,
        image: np.ndarray,
        padding: tuple[int, int] | None = None,
        padding_factor: float | None = None,
    ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Crop the box (plus padding) out of an image (H, W, ...), clipped to the image.

        ``padding`` = (px, py) pixels, or ``padding_factor`` times the box size (not both).
        Returns the crop (a view) and the padding actually kept (left, top, right, bottom).
        """
        if padding is not None and padding_factor is not None:
            raise ValueError("give padding or padding_factor, not both")
        if padding is not None:
            pad_x, pad_y = int(padding[0]), int(padding[1])
        elif padding_factor is not None:
            pad_x = int(self.dimension[0] * padding_factor)
            pad_y = int(self.dimension[1] * padding_factor)
        else:
            pad_x = pad_y = 0
        height, width = image.shape[:2]
        x0 = min(max(0, self.xmin - pad_x), width)
        y0 = min(max(0, self.ymin - pad_y), height)
        x1 = max(min(width, self.xmax + pad_x), x0)
        y1 = max(min(height, self.ymax + pad_y), y0)
        return image[y0:y1, x0:x1], (self.xmin - x0, self.ymin - y0, x1 - self.xmax, y1 - self.ymax)

    def points_in_box(self, points: np.ndarray) -> np.ndarray:
        """Mask (N,) of image points (N, 2) inside the box (borders included)."""
        pts = np.asarray(points)
        return np.all((pts >= self.xyxy[:2]) & (pts <= self.xyxy[2:]), axis=1)

    def get_3d_frustum(
        self,
        calibration: Any,
        frame: CoordinateFrame | None = None,
        min_depth: float = 0.0,
        max_depth: float = 500.0,
    ) -> np.ndarray:
        """(8, 3) frustum of the box: 4 corners unprojected at ``min_depth``, then ``max_depth``.

        With ``min_depth == 0`` the first four points are the camera centre (reference
        behaviour). Depths are distances from the camera centre; points are in the camera
        frame, or in ``frame`` when given.
        """
        from zod.geometry.fisheye import unproject

        cam = calibration.cameras[self.frame]
        corners = self.corners.astype(np.float64)
        if min_depth > 0:
            frustum = unproject(
                np.vstack([corners, corners]),
                cam.intrinsics,
                cam.undistortion,
                np.repeat([float(min_depth), float(max_depth)], 4),
            )
        else:
            far = unproject(corners, cam.intrinsics, cam.undistortion, float(max_depth))
            frustum = np.vstack([np.zeros((4, 3)), far])
        if frame is not None:
            frustum = calibration.transform_points(frustum, self.frame, frame)
        return frustum

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Box2D):
            return NotImplemented
        return bool(np.allclose(self.xyxy, other.xyxy) and self.frame == other.frame)

    __hash__ = None  # type: ignore[assignment]
