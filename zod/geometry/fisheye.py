"""Kannala-Brandt fisheye camera model (spec section 4), vectorized, float64 inside.

Camera frame and image (pixels, full resolution 3848 x 2168)::

        z (optical axis, forward)          (0,0) ------------> u (x right)
       /                                     |      image
      /                                      |        (cx, cy) principal point
     o------> x (right)                      v (y down)
     |
     v y (down)

A camera-frame point at angle ``theta`` from the optical axis lands at image radius
``theta_d(theta) = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)`` (in focal
units) in the direction of its (x, y). ``undistortion`` holds a fitted inverse polynomial
(pixel radius -> theta); :func:`unproject` uses it like the reference, or inverts
``distortion`` exactly (Newton) with ``exact=True``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "ImageProjection",
    "distort_angles",
    "fit_undistortion",
    "get_points_in_camera_fov",
    "in_field_of_view",
    "lidar_to_image",
    "max_valid_theta",
    "points_to_image",
    "project",
    "project_3d_to_2d_kannala",
    "project_to_image",
    "undistort_radii",
    "unproject",
    "unproject_2d_to_3d_kannala",
]


def _camera_params(intrinsics: np.ndarray) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) of a (3, 3) or (3, 4) intrinsics matrix."""
    k = np.asarray(intrinsics, dtype=np.float64)
    return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])


def _poly(theta: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """theta (1 + c1 theta^2 + c2 theta^4 + c3 theta^6 + c4 theta^8), Horner in theta^2."""
    c = np.asarray(coefs, dtype=np.float64)
    t2 = theta * theta
    return theta * (1.0 + t2 * (c[0] + t2 * (c[1] + t2 * (c[2] + t2 * c[3]))))


def distort_angles(theta: np.ndarray, distortion: np.ndarray) -> np.ndarray:
    """Incidence angles theta (rad, any shape) -> distorted radii theta_d (focal units)."""
    return _poly(np.asarray(theta, dtype=np.float64), distortion)


def _project_columns(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, intrinsics: np.ndarray, distortion: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Kannala-Brandt on coordinate columns (M,) -> (u, v) pixel columns, float64."""
    fx, fy, cx, cy = _camera_params(intrinsics)
    r = np.hypot(x, y)
    theta_d = _poly(np.arctan2(r, z), distortion)
    on_axis = r == 0.0
    # r = 0 lands on the principal point (x = y = 0 there, any finite scale works)
    scale = np.divide(theta_d, r, out=np.zeros_like(theta_d), where=~on_axis)
    return fx * scale * x + cx, fy * scale * y + cy


def project(
    points_camera: np.ndarray, intrinsics: np.ndarray, distortion: np.ndarray
) -> np.ndarray:
    """Project camera-frame points (N, 3) to pixels (N, 2) with the Kannala-Brandt model.

    Every point gets a pixel (like the reference ``project_3d_to_2d_kannala``); the points on
    the optical axis (r = 0) land on the principal point instead of NaN. Use
    :func:`project_to_image` to also drop points behind the camera or outside the image.
    """
    pts = np.asarray(points_camera, dtype=np.float64).reshape(-1, 3)
    u, v = _project_columns(pts[:, 0], pts[:, 1], pts[:, 2], intrinsics, distortion)
    out = np.empty((pts.shape[0], 2), dtype=np.float64)
    out[:, 0] = u
    out[:, 1] = v
    return out


def max_valid_theta(distortion: np.ndarray) -> float:
    """:func:`_max_valid_theta`, cached per distortion vector (rad)."""
    k = np.asarray(distortion, dtype=np.float64).reshape(-1)
    return _max_valid_theta_cached(tuple(float(v) for v in k[:4]))


@lru_cache(maxsize=64)
def _max_valid_theta_cached(distortion: tuple[float, ...]) -> float:
    return _max_valid_theta(np.asarray(distortion))


def _max_valid_theta(distortion: np.ndarray) -> float:
    """Largest incidence angle (rad, <= pi) up to which theta_d(theta) keeps increasing.

    Beyond it the distortion polynomial folds back and two angles share one pixel radius, so
    projections there are meaningless. Solves d theta_d / d theta = 0 in s = theta^2.
    """
    k = np.asarray(distortion, dtype=np.float64)
    # derivative: 1 + 3 k1 s + 5 k2 s^2 + 7 k3 s^3 + 9 k4 s^4, s = theta^2
    coefs = np.array([9 * k[3], 7 * k[2], 5 * k[1], 3 * k[0], 1.0])
    nz = np.flatnonzero(np.abs(coefs) > 0)
    roots = np.roots(coefs[nz[0] :]) if nz[0] < 4 else np.array([])
    real = roots[(np.abs(roots.imag) < 1e-12) & (roots.real > 0)].real
    if real.size == 0:
        return float(np.pi)
    return float(min(np.sqrt(real.min()), np.pi))


def undistort_radii(
    rho: np.ndarray,
    *,
    undistortion: np.ndarray | None = None,
    distortion: np.ndarray | None = None,
) -> np.ndarray:
    """Pixel radii rho (focal units, any shape) -> incidence angles theta (rad).

    With ``undistortion`` the fitted inverse polynomial of spec section 4 (reference
    behaviour); with ``distortion`` the exact inverse of the projection by Newton iterations
    (exact to ~1e-12 rad inside the valid range of :func:`max_valid_theta`).
    """
    rho = np.asarray(rho, dtype=np.float64)
    if distortion is None:
        if undistortion is None:
            raise ValueError("undistort_radii needs undistortion or distortion coefficients")
        return _poly(rho, undistortion)
    k = np.asarray(distortion, dtype=np.float64)
    theta_max = max_valid_theta(k)
    rho_max = float(_poly(np.array(theta_max), k))
    target = np.minimum(rho, rho_max)
    theta = np.minimum(target, theta_max)  # theta_d ~ theta near the axis: a good start
    for _ in range(30):
        t2 = theta * theta
        f = _poly(theta, k) - target
        df = 1.0 + t2 * (3 * k[0] + t2 * (5 * k[1] + t2 * (7 * k[2] + t2 * 9 * k[3])))
        step = f / np.where(np.abs(df) < 1e-12, 1e-12, df)
        theta = np.clip(theta - step, 0.0, theta_max)
        if np.all(np.abs(step) < 1e-14):
            break
    return theta


def unproject(
    pixels: np.ndarray,
    intrinsics: np.ndarray,
    undistortion: np.ndarray | None,
    depth: np.ndarray | float,
    *,
    distortion: np.ndarray | None = None,
    exact: bool = False,
) -> np.ndarray:
    """Pixels (N, 2) at distance ``depth`` (scalar or (N,), metres from the camera centre) ->
    camera-frame points (N, 3).

    Default: the spec's formula with the fitted ``undistortion`` coefficients (same numbers as
    the reference ``unproject_2d_to_3d_kannala``). ``exact=True`` inverts ``distortion``
    instead, so that ``unproject(project(p), |p|) == p`` to float precision.
    """
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    fx, fy, cx, cy = _camera_params(intrinsics)
    mx = (px[:, 0] - cx) / fx
    my = (px[:, 1] - cy) / fy
    rho = np.hypot(mx, my)
    if exact:
        if distortion is None:
            raise ValueError("exact unprojection needs the distortion coefficients")
        theta = undistort_radii(rho, distortion=distortion)
    else:
        if undistortion is None:
            raise ValueError("unprojection needs the undistortion coefficients (or exact=True)")
        theta = undistort_radii(rho, undistortion=undistortion)
    phi = np.arctan2(my, mx)
    d = np.asarray(depth, dtype=np.float64)
    sin_t = np.sin(theta)
    out = np.empty((px.shape[0], 3), dtype=np.float64)
    out[:, 0] = sin_t * np.cos(phi) * d
    out[:, 1] = sin_t * np.sin(phi) * d
    out[:, 2] = np.cos(theta) * d
    return out


def fit_undistortion(
    distortion: np.ndarray, theta_max: float | None = None, samples: int = 2000
) -> np.ndarray:
    """Least-squares fit of the 4 undistortion coefficients (rho -> theta) of ``distortion``.

    Fitted on [0, theta_max] (default: the valid range of the model, at most 100 degrees), the
    way a calibration tool produces the ``undistortion`` entry of ``calibration.json``.
    """
    k = np.asarray(distortion, dtype=np.float64)
    if theta_max is None:
        theta_max = min(max_valid_theta(k), np.deg2rad(100.0))
    theta = np.linspace(0.0, theta_max, samples)
    rho = _poly(theta, k)
    # theta - rho = u1 rho^3 + u2 rho^5 + u3 rho^7 + u4 rho^9
    design = np.stack([rho**3, rho**5, rho**7, rho**9], axis=1)
    coefs, *_ = np.linalg.lstsq(design, theta - rho, rcond=None)
    return coefs


def in_field_of_view(
    points_camera: np.ndarray, field_of_view_deg: np.ndarray, horizontal_only: bool = False
) -> np.ndarray:
    """Mask (N,) of camera-frame points (N, 3) inside the field of view (hfov, vfov) degrees.

    Same rule as the reference ``get_points_in_camera_fov``: |atan2(x, z)| < hfov / 2 and
    |atan2(y, z)| < vfov / 2 (strict), which also rejects points behind the camera.
    """
    pts = np.asarray(points_camera, dtype=np.float64).reshape(-1, 3)
    hfov, vfov = (float(v) for v in np.asarray(field_of_view_deg, dtype=np.float64)[:2])
    h = np.degrees(np.arctan2(pts[:, 0], pts[:, 2]))
    mask = (h > -hfov / 2) & (h < hfov / 2)
    if not horizontal_only:
        v = np.degrees(np.arctan2(pts[:, 1], pts[:, 2]))
        mask &= (v > -vfov / 2) & (v < vfov / 2)
    return mask


class ImageProjection(NamedTuple):
    """Result of projecting points into an image.

    pixels (M, 2) float64 (u, v) of the kept points, depth_m (M,) their camera z (the depth the
    reference draws), mask (N,) bool over the input points (True = kept, in input order).
    """

    pixels: np.ndarray
    depth_m: np.ndarray
    mask: np.ndarray


def project_to_image(
    points_camera: np.ndarray,
    intrinsics: np.ndarray,
    distortion: np.ndarray,
    image_size: tuple[int, int] | np.ndarray | None = None,
    field_of_view_deg: np.ndarray | None = None,
) -> ImageProjection:
    """Project camera-frame points (N, 3), keeping those that the camera really sees.

    Kept: z > 0, incidence angle within the monotonic range of the distortion polynomial,
    inside ``field_of_view_deg`` (hfov, vfov) when given (the reference rule, see
    :func:`in_field_of_view`), and inside the image ``image_size`` = (width, height) when given
    (0 <= u < width, 0 <= v < height). The angle tests are done as ``|x| < z tan(a)``, without
    trigonometry, and only the surviving points are projected.
    """
    pts = np.asarray(points_camera).reshape(-1, 3)
    if not np.issubdtype(pts.dtype, np.floating):
        pts = pts.astype(np.float64)
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    n = len(z)
    mask = z > 0
    if field_of_view_deg is not None:
        hfov, vfov = (float(a) for a in np.asarray(field_of_view_deg, dtype=np.float64)[:2])
        # for z > 0: atan2(x, z) in (-h/2, h/2)  <=>  |x| < z tan(h/2)   (h < 180 degrees)
        if hfov < 180.0:
            mask &= np.abs(x) < z * np.tan(np.deg2rad(hfov / 2))
        if vfov < 180.0:
            mask &= np.abs(y) < z * np.tan(np.deg2rad(vfov / 2))
    theta_max = max_valid_theta(distortion)
    if theta_max < np.pi / 2:
        mask &= np.hypot(x, y) <= z * np.tan(theta_max)
    idx = np.flatnonzero(mask)
    xs, ys, zs = (np.asarray(c[idx], dtype=np.float64) for c in (x, y, z))
    u, v = _project_columns(xs, ys, zs, intrinsics, distortion)
    if image_size is not None:
        width, height = (float(s) for s in np.asarray(image_size)[:2])
        inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
        idx, u, v, zs = idx[inside], u[inside], v[inside], zs[inside]
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
    pixels = np.empty((len(idx), 2), dtype=np.float64)
    pixels[:, 0] = u
    pixels[:, 1] = v
    return ImageProjection(pixels, zs, mask)


def points_to_image(
    points: np.ndarray,
    calibration: Any,
    from_frame: Any = None,
    camera: Any = None,
    *,
    use_field_of_view: bool = True,
) -> ImageProjection:
    """Project points (N, 3) given in ``from_frame`` (default: the lidar) into the image.

    ``calibration`` is a :class:`zod.calibration.Calibration`. One fused transform
    (camera_from_frame) then :func:`project_to_image` with the camera's image size and field
    of view. Returns pixels (M, 2), depth (M,) and the mask (N,) of kept points.
    """
    from zod.constants import Camera, Lidar
    from zod.geometry.transforms import apply_rigid

    camera = Camera.FRONT if camera is None else camera
    from_frame = Lidar.VELODYNE if from_frame is None else from_frame
    cam = calibration.cameras[camera]
    camera_from_frame = calibration.get_transform(from_frame, camera)
    pts = np.asarray(points).reshape(-1, 3)
    pts_cam = apply_rigid(pts, camera_from_frame[:3, :3], camera_from_frame[:3, 3])
    return project_to_image(
        pts_cam,
        cam.intrinsics,
        cam.distortion,
        image_size=cam.image_dimensions,
        field_of_view_deg=cam.field_of_view if use_field_of_view else None,
    )


# --------------------------------------------------------------------------- reference names
def project_3d_to_2d_kannala(
    points_3d: np.ndarray, camera_matrix: np.ndarray, distorion_coefs: np.ndarray
) -> np.ndarray:
    """Reference name of :func:`project` (r = 0 gives the principal point instead of NaN)."""
    return project(points_3d, camera_matrix, distorion_coefs)


def unproject_2d_to_3d_kannala(
    points_2d: np.ndarray,
    camera_matrix: np.ndarray,
    undistorion_coefs: np.ndarray,
    depth: np.ndarray | float,
) -> np.ndarray:
    """Reference name of :func:`unproject` with the fitted undistortion polynomial."""
    return unproject(points_2d, camera_matrix, undistorion_coefs, depth)


def get_points_in_camera_fov(
    fov: np.ndarray, camera_data: np.ndarray, horizontal_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Reference name: (points (M, 3) inside the field of view, mask (N,)): ``in_field_of_view``."""
    mask = in_field_of_view(camera_data, fov, horizontal_only=horizontal_only)
    return np.asarray(camera_data)[mask], mask


def lidar_to_image(
    points_lidar: np.ndarray, calibration: Any, camera: Any = None, lidar: Any = None
) -> ImageProjection:
    """Lidar points (N, 3) -> (pixels (M, 2), depth_m (M,), mask (N,)) of the points seen.

    :func:`points_to_image` from the lidar frame: in front of the camera, inside its field of
    view and inside the image.
    """
    return points_to_image(points_lidar, calibration, from_frame=lidar, camera=camera)
