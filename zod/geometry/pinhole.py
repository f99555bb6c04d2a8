"""Exact pinhole views of the fisheye camera: a virtual camera at the fisheye's centre.

A :class:`PinholeView` is a perfect pinhole camera that shares the optical centre of the real
(Kannala-Brandt, spec section 4) front camera and is rotated relative to it by ``yaw_deg`` and
``pitch_deg``. It has square pixels (fy = fx), its principal point at the centre of its image
and a horizontal field of view ``horizontal_fov_deg`` spanning its ``width_px`` pixels. Since
the two cameras share their centre, a view pixel sees exactly one ray and the fisheye sees the
same ray: :func:`rectify` resamples the fisheye image into the view with no depth assumption.

Frames and angles (camera frame as in :mod:`zod.geometry.fisheye`: x right, y down, z
forward; the view frame has the same axes, rotated)::

    from above (y points into the page)          from the right (x points out of the page)

                    z (optical axis)                            view axis
         yaw < 0    ^    yaw > 0                               / pitch > 0
         (left)  \\  |  /  (right)                   -y (up)   /  (up)
                  \\ | /                                ^     /
                   \\|/                                 |    /
                    o-----> x (right)                   |   /
                                                        |  /
                                                        o ---------> z (optical axis)
                                                        |
                                                        v y (down)

    camera_from_view = R_y(yaw) @ R_x(pitch)       (right-handed rotations about the camera axes)

``yaw`` turns the view's optical axis to the right (towards camera +x), ``pitch`` up (towards
camera -y), both in degrees: the view axis in the camera frame is
``(cos p sin y, -sin p, cos p cos y)``. The view's x axis stays in the camera's x-z plane (yaw
first, then pitch about the view's own x), so the view's horizon is level with the camera's.

Pixels: integer coordinates are pixel centres (OpenCV's convention, the one ``cv2.remap`` and the
fisheye calibration use). The view's principal point is ``((W - 1) / 2, (H - 1) / 2)`` and
``fx = W / (2 tan(hfov / 2))``, so the outer edges of the outermost pixels lie exactly at
+-hfov / 2.

Cost: building the tables of a 1920 x 1080 view takes ~0.1-0.2 s; they are cached (8 entries
per kind, ~12 MB each for 1920 x 1080 in OpenCV's fixed-point form), after which
:func:`rectify` is one ``cv2.remap``: 12-43 ms for ``FRONT_VIEW`` on a loaded 2-core machine,
0.13-0.6x the time of decoding a full-resolution JPEG (``benchmarks/bench_pinhole.py``).

Exactness: the remap tables project each view pixel's ray with the fisheye's forward model
(the ``distortion`` polynomial, no fitted inverse); the inverse direction
(:func:`fisheye_to_view_pixels`) inverts the polynomial by Newton iterations
(``fisheye.unproject(..., exact=True)``). Both agree with ``K @ view_from_camera @ p`` to far
below 0.1 px (tested from 0.5 m to 245 m across the view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, NamedTuple

import cv2
import numpy as np

from zod.geometry import fisheye
from zod.geometry.transforms import apply_rigid

__all__ = [
    "FRONT_VIEW",
    "THREE_VIEW_RIG",
    "PinholeView",
    "PixelMapping",
    "ViewProjection",
    "camera_points_to_view",
    "coverage",
    "fisheye_to_view_pixels",
    "image_scale",
    "points_to_view",
    "project_to_view",
    "rectify",
    "remap_tables",
    "view_pixel_rays_camera",
    "view_to_fisheye_pixels",
]

_DIVISORS = (1, 2, 4, 8)  # the reduced scales of zod.sensors.camera.read_image


def _rot_x(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@dataclass(frozen=True)
class PinholeView:
    """A virtual pinhole camera at the fisheye's optical centre (see the module docstring).

    name: a label (file names, dataset keys); yaw_deg / pitch_deg: rotation of the optical axis
    relative to the real camera (positive: right / up); horizontal_fov_deg: field of view
    across width_px (0 < hfov < 180); width_px, height_px: output image size. Frozen and
    hashable, so it can key caches.
    """

    name: str
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    horizontal_fov_deg: float = 90.0
    width_px: int = 1920
    height_px: int = 1080

    def __post_init__(self) -> None:
        if not 0.0 < self.horizontal_fov_deg < 180.0:
            raise ValueError(
                f"view {self.name!r}: horizontal_fov_deg must be in (0, 180), "
                f"got {self.horizontal_fov_deg}"
            )
        for size in (self.width_px, self.height_px):
            if int(size) != size or size <= 0:
                raise ValueError(f"view {self.name!r}: sizes must be positive integers, got {size}")

    @property
    def focal_px(self) -> float:
        """fx = fy in pixels: W / (2 tan(hfov / 2))."""
        return self.width_px / (2.0 * math.tan(math.radians(self.horizontal_fov_deg) / 2.0))

    @property
    def principal_point(self) -> tuple[float, float]:
        """(cx, cy) = ((W - 1) / 2, (H - 1) / 2): the image centre in pixel-centre coordinates."""
        return (self.width_px - 1) / 2.0, (self.height_px - 1) / 2.0

    @property
    def vertical_fov_deg(self) -> float:
        """Vertical field of view across height_px (degrees), from the square pixels."""
        return math.degrees(2.0 * math.atan(self.height_px / (2.0 * self.focal_px)))

    @property
    def intrinsics(self) -> np.ndarray:
        """K (3, 3) float64: [[f, 0, cx], [0, f, cy], [0, 0, 1]]."""
        f = self.focal_px
        cx, cy = self.principal_point
        return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])

    @property
    def camera_from_view(self) -> np.ndarray:
        """Rotation (3, 3): view-frame vectors -> real camera frame; R_y(yaw) @ R_x(pitch)."""
        return _rot_y(math.radians(self.yaw_deg)) @ _rot_x(math.radians(self.pitch_deg))

    @property
    def view_from_camera(self) -> np.ndarray:
        """Rotation (3, 3): real camera frame -> view frame (the transpose of camera_from_view)."""
        return self.camera_from_view.T

    def scaled(self, factor: float, name: str | None = None) -> PinholeView:
        """The same view (direction, field of view) with its image size multiplied by factor."""
        return replace(
            self,
            name=self.name if name is None else name,
            width_px=max(1, round(self.width_px * factor)),
            height_px=max(1, round(self.height_px * factor)),
        )


# 90 degrees across 1920 px: fx = 960 px, i.e. half the sample fisheye's focal length on the axis
# and about its radial resolution at the view's edges (45 degrees, where a pinhole stretches
# 2x); vertical field 58.7 degrees. Fully inside the ~120 x 66 degree fisheye image.
FRONT_VIEW = PinholeView(
    "front", yaw_deg=0.0, horizontal_fov_deg=90.0, width_px=1920, height_px=1080
)

# Left / front / right, each 50 degrees wide (fx = 1029 px) and 73.4 degrees high, yawed by 48
# degrees: neighbours overlap by 2 degrees and together they span azimuths -73..73 degrees and,
# pitch 0, the fisheye's whole vertical field (its image corners lie at about +-67 degrees
# azimuth, its top and bottom edges at about +-33 degrees elevation). Every pixel of the fisheye
# image falls in at least one view (tested on the sample's calibration); portrait views because
# a 120 x 66 degree field split in three is taller than wide.
THREE_VIEW_RIG: tuple[PinholeView, PinholeView, PinholeView] = (
    PinholeView("left", yaw_deg=-48.0, horizontal_fov_deg=50.0, width_px=960, height_px=1536),
    PinholeView("front", yaw_deg=0.0, horizontal_fov_deg=50.0, width_px=960, height_px=1536),
    PinholeView("right", yaw_deg=48.0, horizontal_fov_deg=50.0, width_px=960, height_px=1536),
)


# --------------------------------------------------------------------------- calibration access
def _camera(calibration: Any) -> Any:
    """The front CameraCalibration of a Calibration; a CameraCalibration is returned as is."""
    cameras = getattr(calibration, "cameras", None)
    if cameras is None:
        return calibration
    from zod.constants import Camera

    return cameras[Camera.FRONT]


def _fisheye_model(calibration: Any) -> tuple[np.ndarray, np.ndarray]:
    """(K (3, 3), distortion (4,)) float64 of a (Camera)Calibration (or anything with them)."""
    camera = _camera(calibration)
    k = np.ascontiguousarray(np.asarray(camera.intrinsics, dtype=np.float64)[:3, :3])
    d = np.ascontiguousarray(np.asarray(camera.distortion, dtype=np.float64).reshape(-1)[:4])
    return k, d


def _model_key(calibration: Any) -> tuple[bytes, bytes]:
    k, d = _fisheye_model(calibration)
    return k.tobytes(), d.tobytes()


# --------------------------------------------------------------------------- points
class ViewProjection(NamedTuple):
    """Points projected into a view.

    pixels (N, 2) float64 (u, v), NaN where the point is not in front; depth_m (N,) the view-frame
    z (metres along the view's optical axis); in_front (N,) bool, z > 0; in_image (N,) bool,
    in front and 0 <= u < width, 0 <= v < height (the rule of ``fisheye.project_to_image``).
    """

    pixels: np.ndarray
    depth_m: np.ndarray
    in_front: np.ndarray
    in_image: np.ndarray


def camera_points_to_view(points_camera: np.ndarray, view: PinholeView) -> np.ndarray:
    """Camera-frame points (N, 3) -> view-frame points (N, 3) float64 (a rotation only)."""
    pts = np.asarray(points_camera, dtype=np.float64).reshape(-1, 3)
    return apply_rigid(pts, view.view_from_camera)


def _pinhole(points_view: np.ndarray, view: PinholeView) -> ViewProjection:
    """K @ p / z for view-frame points (N, 3)."""
    x, y, z = points_view[:, 0], points_view[:, 1], points_view[:, 2]
    in_front = z > 0
    f = view.focal_px
    cx, cy = view.principal_point
    inv_z = np.divide(1.0, z, out=np.full_like(z, np.nan), where=in_front)
    pixels = np.empty((len(z), 2), dtype=np.float64)
    pixels[:, 0] = f * x * inv_z + cx
    pixels[:, 1] = f * y * inv_z + cy
    u, v = pixels[:, 0], pixels[:, 1]
    with np.errstate(invalid="ignore"):
        in_image = in_front & (u >= 0) & (u < view.width_px) & (v >= 0) & (v < view.height_px)
    return ViewProjection(pixels, z.copy(), in_front, in_image)


def project_to_view(points_camera: np.ndarray, view: PinholeView) -> ViewProjection:
    """Camera-frame points (N, 3) -> :class:`ViewProjection`: ``K @ view_from_camera @ p``."""
    return _pinhole(camera_points_to_view(points_camera, view), view)


def points_to_view(
    points: np.ndarray,
    calibration: Any,
    view: PinholeView,
    from_frame: Any = None,
    camera: Any = None,
) -> ViewProjection:
    """Points (N, 3) in ``from_frame`` (default: the lidar; or ``EGO``, a radar...) -> view.

    ``calibration`` is a :class:`zod.calibration.Calibration`; the points are moved to the
    camera (default ``Camera.FRONT``) with one rigid transform, then :func:`project_to_view`.
    """
    from zod.constants import Camera, Lidar

    camera = Camera.FRONT if camera is None else camera
    from_frame = Lidar.VELODYNE if from_frame is None else from_frame
    camera_from_frame = calibration.get_transform(from_frame, camera)
    # one fused rotation: view_from_camera @ camera_from_frame (the view shares the centre)
    rotation = view.view_from_camera @ camera_from_frame[:3, :3]
    translation = view.view_from_camera @ camera_from_frame[:3, 3]
    pts = np.asarray(points).reshape(-1, 3)
    return _pinhole(apply_rigid(pts, rotation, translation), view)


# --------------------------------------------------------------------------- pixels
class PixelMapping(NamedTuple):
    """Pixels carried from one image to the other: pixels (N, 2) float64 (NaN where not valid),
    valid (N,) bool (the ray exists in the target camera: in front of the view / inside the
    fisheye's valid field)."""

    pixels: np.ndarray
    valid: np.ndarray


def view_pixel_rays_camera(pixels_view: np.ndarray, view: PinholeView) -> np.ndarray:
    """View pixels (N, 2) -> unit rays (N, 3) in the real camera frame (K^-1, then rotate)."""
    px = np.asarray(pixels_view, dtype=np.float64).reshape(-1, 2)
    f = view.focal_px
    cx, cy = view.principal_point
    rays_view = np.empty((px.shape[0], 3), dtype=np.float64)
    rays_view[:, 0] = (px[:, 0] - cx) / f
    rays_view[:, 1] = (px[:, 1] - cy) / f
    rays_view[:, 2] = 1.0
    rays_view /= np.linalg.norm(rays_view, axis=1, keepdims=True)
    return apply_rigid(rays_view, view.camera_from_view)


def _valid_rays(x: np.ndarray, y: np.ndarray, z: np.ndarray, distortion: np.ndarray) -> np.ndarray:
    """Rays the fisheye model images: z > 0 and theta <= max_valid_theta (see fisheye.py)."""
    valid = z > 0
    theta_max = fisheye.max_valid_theta(distortion)
    if theta_max < np.pi / 2:
        valid &= np.hypot(x, y) <= z * math.tan(theta_max)
    return valid


def view_to_fisheye_pixels(
    pixels_view: np.ndarray, calibration: Any, view: PinholeView
) -> PixelMapping:
    """View pixels (N, 2) -> full-resolution fisheye pixels (N, 2): the forward (exact) model.

    Not valid (NaN): rays behind the camera or beyond the fold of the distortion polynomial.
    Valid pixels may still lie outside the fisheye image (the view sees more than the lens).
    """
    k, d = _fisheye_model(calibration)
    rays = view_pixel_rays_camera(pixels_view, view)
    x, y, z = rays[:, 0], rays[:, 1], rays[:, 2]
    valid = _valid_rays(x, y, z, d)
    u, v = fisheye._project_columns(x, y, z, k, d)
    out = np.stack([u, v], axis=1)
    out[~valid] = np.nan
    return PixelMapping(out, valid)


def fisheye_to_view_pixels(
    pixels_fisheye: np.ndarray, calibration: Any, view: PinholeView
) -> PixelMapping:
    """Full-resolution fisheye pixels (N, 2) -> view pixels (N, 2): exact unprojection (Newton
    inversion of the distortion polynomial), rotation, ``K``. Not valid (NaN): the ray is
    behind the view, or the fisheye pixel lies beyond the fold of the polynomial."""
    k, d = _fisheye_model(calibration)
    px = np.asarray(pixels_fisheye, dtype=np.float64).reshape(-1, 2)
    rays = fisheye.unproject(px, k, None, 1.0, distortion=d, exact=True)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    rho = np.hypot((px[:, 0] - cx) / fx, (px[:, 1] - cy) / fy)
    rho_max = float(fisheye.distort_angles(np.array(fisheye.max_valid_theta(d)), d))
    projection = _pinhole(apply_rigid(rays, view.view_from_camera), view)
    valid = projection.in_front & (rho <= rho_max)
    out = projection.pixels
    out[~valid] = np.nan
    return PixelMapping(out, valid)


# --------------------------------------------------------------------------- remap tables
def image_scale(image_shape: tuple[int, ...], calibration: Any) -> float:
    """Scale (1, 1/2, 1/4 or 1/8) of an image (H', W'[, C]) decoded by ``read_image``.

    A decode at 1/d is ceil(W / d) x ceil(H / d) pixels (W x H: ``image_dimensions``); any
    other shape is a ValueError (pass ``scale=`` to :func:`rectify` for resized images).
    """
    width, height = (int(s) for s in np.asarray(_camera(calibration).image_dimensions)[:2])
    h, w = int(image_shape[0]), int(image_shape[1])
    for divisor in _DIVISORS:
        if (w, h) == (math.ceil(width / divisor), math.ceil(height / divisor)):
            return 1.0 / divisor
    raise ValueError(
        f"image of {w} x {h} px is not the camera's {width} x {height} at 1, 1/2, 1/4 or 1/8; "
        "pass scale= explicitly"
    )


def remap_tables(
    calibration: Any, view: PinholeView, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) float32 (H, W): the fisheye pixel seen by each view pixel (``cv2.remap``).

    ``calibration``: a :class:`zod.calibration.CameraCalibration` (its intrinsics and
    distortion) or a :class:`zod.calibration.Calibration` (its front camera; the same holds for
    every ``calibration`` argument of this module but :func:`points_to_view`'s); ``scale``
    the scale of the fisheye image the maps index (1/2: a half-size decode, whose pixel j
    covers full-resolution pixels [2j, 2j + 2), so ``u_half = (u + 0.5) / 2 - 0.5``). Rays the
    fisheye model does not image (behind the camera, beyond ``max_valid_theta``) are -1,
    outside every image: remap gives the border.
    Built once per (intrinsics, distortion, view, scale) and cached; the arrays are read-only.
    """
    key = _model_key(calibration)
    return _remap_tables_cached(key[0], key[1], view, float(scale))


def _build_tables(
    k_bytes: bytes, d_bytes: bytes, view: PinholeView, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    k = np.frombuffer(k_bytes, dtype=np.float64).reshape(3, 3)
    d = np.frombuffer(d_bytes, dtype=np.float64)
    width, height = view.width_px, view.height_px
    f = view.focal_px
    cx, cy = view.principal_point
    # rays of every view pixel, built from one row and one column (R @ [xn, yn, 1] by columns)
    xn = (np.arange(width, dtype=np.float64) - cx) / f
    yn = (np.arange(height, dtype=np.float64) - cy) / f
    r = view.camera_from_view
    # camera-frame ray (unnormalized) = r[:, 0] xn + r[:, 1] yn + r[:, 2]
    x = r[0, 0] * xn[None, :] + (r[0, 1] * yn + r[0, 2])[:, None]
    y = r[1, 0] * xn[None, :] + (r[1, 1] * yn + r[1, 2])[:, None]
    z = r[2, 0] * xn[None, :] + (r[2, 1] * yn + r[2, 2])[:, None]
    u, v = fisheye._project_columns(x.ravel(), y.ravel(), z.ravel(), k, d)
    valid = _valid_rays(x.ravel(), y.ravel(), z.ravel(), d)
    if scale != 1.0:
        u = (u + 0.5) * scale - 0.5
        v = (v + 0.5) * scale - 0.5
    u[~valid] = -1.0
    v[~valid] = -1.0
    map_x = u.astype(np.float32).reshape(height, width)
    map_y = v.astype(np.float32).reshape(height, width)
    map_x.flags.writeable = False
    map_y.flags.writeable = False
    return map_x, map_y


@lru_cache(maxsize=8)
def _remap_tables_cached(
    k_bytes: bytes, d_bytes: bytes, view: PinholeView, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    return _build_tables(k_bytes, d_bytes, view, scale)


@lru_cache(maxsize=8)
def _fixed_point_tables(
    k_bytes: bytes, d_bytes: bytes, view: PinholeView, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The tables in OpenCV's fixed-point form (CV_16SC2 + CV_16UC1, 1/32 px): what remap
    converts float maps to internally for bilinear, done once instead of at every call."""
    map_x, map_y = _build_tables(k_bytes, d_bytes, view, scale)
    xy, frac = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2, nninterpolation=False)
    return xy, frac


def rectify(
    image: np.ndarray,
    calibration: Any,
    view: PinholeView,
    interpolation: int = cv2.INTER_LINEAR,
    scale: float | None = None,
    border_value: float = 0,
) -> np.ndarray:
    """Resample a fisheye image (H', W'[, C]) into the view: (height_px, width_px[, C]).

    One ``cv2.remap`` with the cached tables of :func:`remap_tables`. ``scale``: the image's
    scale relative to the calibration (default: inferred for the 1, 1/2, 1/4, 1/8 decodes of
    ``read_image``); the output keeps the view's size (use ``view.scaled(s)`` for a smaller
    one). ``interpolation``: ``cv2.INTER_LINEAR`` (bilinear, default; fixed-point tables with
    1/32 px steps, the precision remap itself uses) or ``cv2.INTER_NEAREST`` / ``INTER_CUBIC``
    / ``INTER_LANCZOS4`` (float tables). Pixels whose ray the fisheye does not see get
    ``border_value``.
    """
    img = np.ascontiguousarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    s = image_scale(img.shape, calibration) if scale is None else float(scale)
    k_bytes, d_bytes = _model_key(calibration)
    if interpolation == cv2.INTER_LINEAR:
        map1, map2 = _fixed_point_tables(k_bytes, d_bytes, view, s)
    else:
        map1, map2 = _remap_tables_cached(k_bytes, d_bytes, view, s)
    return cv2.remap(
        img,
        map1,
        map2,
        interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(border_value,) * 4,
    )


def coverage(
    calibration: Any, views: tuple[PinholeView, ...] | list[PinholeView], step_px: int = 8
) -> float:
    """Fraction of the fisheye image (a grid every ``step_px`` pixels, borders included) that
    at least one of ``views`` sees: 1.0 for ``THREE_VIEW_RIG`` on a ~120 x 66 degree camera.
    Check it for a calibration far from that before relying on a rig to see everything."""
    width, height = (int(s) for s in np.asarray(_camera(calibration).image_dimensions)[:2])
    u = np.unique(np.append(np.arange(0, width, step_px, dtype=np.float64), width - 1.0))
    v = np.unique(np.append(np.arange(0, height, step_px, dtype=np.float64), height - 1.0))
    uu, vv = np.meshgrid(u, v)
    pixels = np.stack([uu.ravel(), vv.ravel()], axis=1)
    seen = np.zeros(len(pixels), dtype=bool)
    for view in views:  # a few views, each one vectorized over all pixels
        mapped = fisheye_to_view_pixels(pixels, calibration, view)
        p = np.where(mapped.valid[:, None], mapped.pixels, -10.0)
        seen |= (
            (p[:, 0] >= -0.5)
            & (p[:, 0] <= view.width_px - 0.5)
            & (p[:, 1] >= -0.5)
            & (p[:, 1] <= view.height_px - 0.5)
        )
    return float(seen.mean())
