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

import math
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


_hypot, _atan2 = math.hypot, math.atan2


def _rotation_from_wxyz(w: float, x: float, y: float, z: float) -> list[list[float]]:
    """Rotation matrix (3, 3), as nested lists, of the unit quaternion (w, x, y, z)."""
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    return [
        [1.0 - 2.0 * (yy + zz), 2.0 * (xy - wz), 2.0 * (xz + wy)],
        [2.0 * (xy + wz), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - wx)],
        [2.0 * (xz - wy), 2.0 * (yz + wx), 1.0 - 2.0 * (xx + yy)],
    ]


def _as_wxyz(value: Any) -> tuple[float, float, float, float]:
    """(w, x, y, z) floats of a Quaternion or a sequence of 4 numbers."""
    if isinstance(value, Quaternion):
        w, x, y, z = value.q.tolist()
    else:
        w, x, y, z = Quaternion(np.asarray(value, dtype=np.float64)).q.tolist()
    return (w, x, y, z)


class _RotationState:
    """Box3D's rotation state (a plain base class: instance attributes, not dataclass fields).

    Exactly one is set: ``_orientation`` once the Quaternion was read or given, else ``_wxyz``.
    """

    _wxyz: tuple[float, float, float, float] | None
    _orientation: Quaternion | None


@dataclass(eq=False)
class Box3D(_RotationState):
    """An oriented 3D box: centre (3,) m, size (3,) = (L, W, H) m, orientation, frame.

    Drop-in for the reference's ``Box3D``: ``orientation`` is a pyquaternion ``Quaternion``
    (``frame_from_box``, as written in the file: not normalised until the rotation is used,
    like pyquaternion's), and ``convert_to`` / ``transform`` change the box in place. The
    rotation is kept as four floats: the ``Quaternion`` is only built when ``orientation`` is
    read (then it is the box's rotation, changes to it included), so parsing, ``convert_to``
    and ``project_into_camera`` do plain float and numpy work.
    """

    center: np.ndarray
    size: np.ndarray
    orientation: Quaternion  # a property below: kept as _wxyz until read
    frame: CoordinateFrame

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, dtype=np.float64).reshape(3)
        self.size = np.asarray(self.size, dtype=np.float64).reshape(3)

    @classmethod
    def _from_values(
        cls,
        center: np.ndarray,
        size: np.ndarray,
        wxyz: tuple[float, float, float, float],
        frame: CoordinateFrame,
    ) -> Box3D:
        """A box from float64 (3,) arrays and quaternion floats, without validation (the
        parser's fast path)."""
        box = object.__new__(cls)
        box.center = center
        box.size = size
        box.frame = frame
        box._wxyz = wxyz
        box._orientation = None
        return box

    # ------------------------------------------------------------------ rotation state
    def _get_orientation(self) -> Quaternion:
        if self._orientation is None:
            w, x, y, z = self._quaternion()
            self._orientation, self._wxyz = Quaternion(w, x, y, z), None
        return self._orientation

    def _set_orientation(self, value: Any) -> None:
        if isinstance(value, Quaternion):
            self._orientation, self._wxyz = value, None
        else:
            self._orientation, self._wxyz = None, _as_wxyz(value)

    def _quaternion(self) -> tuple[float, float, float, float]:
        """The rotation (w, x, y, z) as held (the Quaternion's, once it was read)."""
        if self._orientation is not None:
            w, x, y, z = self._orientation.q.tolist()
            return (w, x, y, z)
        assert self._wxyz is not None
        return self._wxyz

    def _unit_quaternion(self) -> tuple[float, float, float, float]:
        """The rotation normalised, stored back normalised when it was not unit (what
        pyquaternion's ``rotation_matrix`` does to the reference's ``orientation``)."""
        w, x, y, z = self._quaternion()
        squares = w * w + x * x + y * y + z * z
        if abs(1.0 - squares) >= 1e-14 and squares > 0.0:
            n = math.sqrt(squares)
            w, x, y, z = w / n, x / n, y / n, z / n
            if self._orientation is not None:
                self._orientation.q = np.array([w, x, y, z])
            else:
                self._wxyz = (w, x, y, z)
        return (w, x, y, z)

    @property
    def quaternion_wxyz(self) -> np.ndarray:
        """(4,) float64 (w, x, y, z) of ``orientation`` (no Quaternion object built)."""
        return np.array(self._quaternion())

    @property
    def rotation_matrix(self) -> np.ndarray:
        """(3, 3) rotation ``frame_from_box``."""
        return np.array(_rotation_from_wxyz(*self._unit_quaternion()))

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "orientation" in state:  # a pickle of a box that held its Quaternion as a field
            orientation = state.pop("orientation")
            state["_orientation"], state["_wxyz"] = orientation, None
        self.__dict__.update(state)

    # ------------------------------------------------------------------ frames
    def _apply(self, target_from_source: np.ndarray, new_frame: CoordinateFrame) -> None:
        from zod.geometry.transforms import quaternions_from_rotation_matrices

        rot = target_from_source[:3, :3]
        self._rotate(
            rot.tolist(),
            target_from_source[:3, 3].tolist(),
            quaternions_from_rotation_matrices(rot).tolist(),
            new_frame,
        )

    def _rotate(
        self,
        rot: Sequence[Sequence[float]],
        trans: Sequence[float],
        rot_wxyz: Sequence[float],
        new_frame: CoordinateFrame,
    ) -> None:
        """center <- rot @ center + trans, orientation <- rot_wxyz * orientation (Hamilton)."""
        cx, cy, cz = self.center.tolist()
        r0, r1, r2 = rot
        self.center = np.array(
            [
                r0[0] * cx + r0[1] * cy + r0[2] * cz + trans[0],
                r1[0] * cx + r1[1] * cy + r1[2] * cz + trans[1],
                r2[0] * cx + r2[1] * cy + r2[2] * cz + trans[2],
            ]
        )
        a, b, c, d = rot_wxyz
        w, x, y, z = self._quaternion()
        self._wxyz = (
            a * w - b * x - c * y - d * z,
            a * x + b * w + c * z - d * y,
            a * y - b * z + c * w + d * x,
            a * z + b * y - c * x + d * w,
        )
        self._orientation = None  # a new rotation (the reference makes a new Quaternion too)
        self.frame = new_frame

    def convert_to(self, frame: CoordinateFrame, calib: Any) -> Box3D:
        """Express the box in ``frame`` (in place, like the reference); returns ``self``."""
        if frame != self.frame:
            cached = getattr(calib, "transform_parts", None)
            if cached is not None:  # ours: the pair's rotation, translation, quaternion (cached)
                rot, trans, rot_wxyz = cached(self.frame, frame)
                self._rotate(rot, trans, rot_wxyz, frame)
            else:  # another calibration object: its 4x4 transform
                self._apply(np.asarray(calib.get_transform(self.frame, frame)), frame)
        return self

    def transform(self, target_from_source: Any, new_frame: CoordinateFrame | None = None) -> Box3D:
        """Apply a rigid (4, 4) transform / Pose in place; ``new_frame`` names the result frame."""
        from zod.geometry.transforms import as_transform

        self._apply(
            as_transform(target_from_source), self.frame if new_frame is None else new_frame
        )
        return self

    def copy(self) -> Box3D:
        return Box3D._from_values(
            self.center.copy(), self.size.copy(), self._quaternion(), self.frame
        )

    # ------------------------------------------------------------------ geometry
    @property
    def corners(self) -> np.ndarray:
        """(8, 3) corners in the box's frame, in the order of the module docstring."""
        return (UNIT_CORNERS * self.size) @ self.rotation_matrix.T + self.center

    @property
    def corners_bev(self) -> np.ndarray:
        """(4, 2) bottom corners' (x, y): the bird's-eye-view footprint (reference definition)."""
        return self.corners[:4, :2]

    @property
    def yaw(self) -> float:
        """Heading (rad) of the box's length axis about the frame's z axis."""
        from zod.geometry.transforms import yaw_from_quaternions

        return float(yaw_from_quaternions(np.array(self._quaternion())))

    def project_into_camera(self, calib: Any) -> np.ndarray:
        """(9, 2) pixels of the centre and the 8 corners; the box must be in a camera frame."""
        if not isinstance(self.frame, Camera):
            raise ValueError(
                f"cannot project a box in frame {self.frame}: convert_to a Camera first"
            )
        model = getattr(calib, "camera_model", None)
        if model is None:  # another calibration object: the general function
            from zod.geometry.fisheye import project

            cam = calib.cameras[self.frame]
            return project(
                np.vstack([self.center[None], self.corners]), cam.intrinsics, cam.distortion
            )
        fx, fy, cx, cy, k1, k2, k3, k4 = model(self.frame)
        # point = centre + (sign_l L/2) axis_l + (sign_w W/2) axis_w + (sign_h H/2) axis_h;
        # 9 points: plain floats beat numpy calls on arrays this small (~3x)
        (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = _rotation_from_wxyz(
            *self._unit_quaternion()
        )
        px, py, pz = self.center.tolist()
        length, width, height = self.size.tolist()
        half_l, half_w, half_h = 0.5 * length, 0.5 * width, 0.5 * height
        ax, ay, az = r00 * half_l, r10 * half_l, r20 * half_l  # half length axis
        bx, by, bz = r01 * half_w, r11 * half_w, r21 * half_w  # half width axis
        hx, hy, hz = r02 * half_h, r12 * half_h, r22 * half_h  # half height axis
        mx, my, mz = px - ax, py - ay, pz - az  # rear face centre
        fx_, fy_, fz_ = px + ax, py + ay, pz + az  # front face centre
        q1x, q1y, q1z = -bx - hx, -by - hy, -bz - hz  # right bottom
        q2x, q2y, q2z = bx - hx, by - hy, bz - hz  # left bottom
        q3x, q3y, q3z = -bx + hx, -by + hy, -bz + hz  # right top
        q4x, q4y, q4z = bx + hx, by + hy, bz + hz  # left top
        points = (
            (px, py, pz),
            (mx + q1x, my + q1y, mz + q1z),
            (fx_ + q1x, fy_ + q1y, fz_ + q1z),
            (fx_ + q2x, fy_ + q2y, fz_ + q2z),
            (mx + q2x, my + q2y, mz + q2z),
            (mx + q3x, my + q3y, mz + q3z),
            (fx_ + q3x, fy_ + q3y, fz_ + q3z),
            (fx_ + q4x, fy_ + q4y, fz_ + q4z),
            (mx + q4x, my + q4y, mz + q4z),
        )
        # Kannala-Brandt exactly as zod.geometry.fisheye.project (r = 0: the principal point)
        pixels: list[float] = []
        append = pixels.append
        for x, y, z in points:
            r = _hypot(x, y)
            if r > 0.0:
                theta = _atan2(r, z)
                t2 = theta * theta
                scale = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))) / r
            else:
                scale = 0.0
            append(fx * scale * x + cx)
            append(fy * scale * y + cy)
        return np.array(pixels).reshape(9, 2)

    def points_in_box(self, points: np.ndarray) -> np.ndarray:
        """Mask (N,) of the points (N, 3), in the box's frame, inside the box (borders included)."""
        pts = np.asarray(points, dtype=np.float64)
        local = (pts - self.center) @ self.rotation_matrix
        return np.all(np.abs(local) <= self.size / 2, axis=1)

    def __eq__(self, other: object) -> bool:
        """Same frame, centre, size and rotation (q and -q are the same rotation)."""
        if not isinstance(other, Box3D):
            return NotImplemented
        q, q_other = np.array(self._quaternion()), np.array(other._quaternion())
        return bool(
            np.allclose(self.center, other.center)
            and np.allclose(self.size, other.size)
            and (np.allclose(q, q_other, atol=1e-9) or np.allclose(q, -q_other, atol=1e-9))
            and self.frame == other.frame
        )

    __hash__ = None  # type: ignore[assignment]


# ``orientation`` as a property (the dataclass field stays: fields(), replace(), repr agree)
Box3D.orientation = property(
    Box3D._get_orientation,
    Box3D._set_orientation,
    doc="The rotation frame_from_box as a pyquaternion Quaternion (built on first read).",
)


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
    def _from_xyxy(cls, xyxy: np.ndarray, frame: Camera) -> Box2D:
        """A box from a float (4,) array, without validation (the parser's fast path)."""
        box = object.__new__(cls)
        box.xyxy = xyxy
        box.frame = frame
        return box

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
