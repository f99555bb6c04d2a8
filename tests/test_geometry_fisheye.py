"""Kannala-Brandt projection / unprojection: hand-computed pixels, round trips over the field of
view from 0.5 m to 250 m, the r = 0 case, and the visibility mask."""

from __future__ import annotations

import numpy as np
import pytest

from zod.calibration import Calibration
from zod.constants import EGO, Camera, Lidar
from zod.geometry import fisheye
from zod.geometry.transforms import make_transforms

DISTORTION = np.array([-0.035, 0.004, -0.0015, 0.0001])
WIDTH, HEIGHT = 3848, 2168
CX, CY = WIDTH / 2 - 4.3, HEIGHT / 2 + 6.7
FOCAL = CX / float(fisheye.distort_angles(np.deg2rad(60.0), DISTORTION))  # ~120 deg HFOV
K = np.array([[FOCAL, 0.0, CX, 0.0], [0.0, FOCAL * 1.001, CY, 0.0], [0.0, 0.0, 1.0, 0.0]])


def _rays(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return np.stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=-1
    )


def test_hand_computed_pixels() -> None:
    k = np.array([[1000.0, 0, 960.0, 0], [0, 1000.0, 540.0, 0], [0, 0, 1, 0]])
    # no distortion: (1, 0, 1) is at 45 degrees -> radius f * pi/4 along +u
    px = fisheye.project(np.array([[1.0, 0.0, 1.0], [0.0, -2.0, 2.0]]), k, np.zeros(4))
    np.testing.assert_allclose(px, [[960 + 1000 * np.pi / 4, 540], [960, 540 - 1000 * np.pi / 4]])
    # with k1 = 0.1: theta_d = theta (1 + 0.1 theta^2)
    t = np.pi / 4
    px = fisheye.project(np.array([[1.0, 0.0, 1.0]]), k, np.array([0.1, 0, 0, 0]))
    np.testing.assert_allclose(px, [[960 + 1000 * t * (1 + 0.1 * t**2), 540]])
    # 3-4-5 point at theta = atan2(5, 12): direction (3/5, 4/5)
    theta = np.arctan2(5.0, 12.0)
    td = theta * (1 + DISTORTION @ theta ** np.array([2, 4, 6, 8]))
    px = fisheye.project(np.array([[3.0, 4.0, 12.0]]), k, DISTORTION)
    np.testing.assert_allclose(px, [[960 + 1000 * td * 0.6, 540 + 1000 * td * 0.8]], rtol=1e-12)


def test_principal_point_r_zero() -> None:
    px = fisheye.project(np.array([[0.0, 0.0, 7.0], [0.0, 0.0, 250.0]]), K, DISTORTION)
    np.testing.assert_allclose(px, [[CX, CY], [CX, CY]])
    assert np.all(np.isfinite(px))
    back = fisheye.unproject(np.array([[CX, CY]]), K, fisheye.fit_undistortion(DISTORTION), 7.0)
    np.testing.assert_allclose(back, [[0.0, 0.0, 7.0]], atol=1e-12)
    # the reference name gives the same numbers
    np.testing.assert_allclose(
        fisheye.project_3d_to_2d_kannala(np.array([[1.0, 2.0, 3.0]]), K, DISTORTION),
        fisheye.project(np.array([[1.0, 2.0, 3.0]]), K, DISTORTION),
    )


def test_round_trip_points_across_fov_and_range() -> None:
    """unproject(project(p), |p|) == p within 1e-4 m, 0.5..250 m, up to the image's corners."""
    rng = np.random.default_rng(0)
    n = 20000
    theta = rng.uniform(0.0, np.deg2rad(72.0), n)  # the image corners are ~70 degrees off axis
    phi = rng.uniform(-np.pi, np.pi, n)
    dist = np.exp(rng.uniform(np.log(0.5), np.log(250.0), n))
    dist[:4] = [0.5, 250.0, 0.5, 250.0]
    theta[:4] = [0.0, 0.0, np.deg2rad(72.0), np.deg2rad(72.0)]
    pts = _rays(theta, phi) * dist[:, None]
    px = fisheye.project(pts, K, DISTORTION)
    back = fisheye.unproject(px, K, None, dist, distortion=DISTORTION, exact=True)
    assert np.abs(back - pts).max() < 1e-4
    # and pixels: project(unproject(px)) == px within 1e-3 px everywhere in the image
    grid = np.stack(
        np.meshgrid(np.linspace(0, WIDTH - 1, 60), np.linspace(0, HEIGHT - 1, 40)), -1
    ).reshape(-1, 2)
    for depth in (0.5, 250.0):
        again = fisheye.project(
            fisheye.unproject(grid, K, None, depth, distortion=DISTORTION, exact=True),
            K,
            DISTORTION,
        )
        assert np.abs(again - grid).max() < 1e-3


def test_fitted_undistortion_is_close_to_exact_inverse() -> None:
    """The spec's polynomial unprojection (reference behaviour) with a fitted inverse."""
    undistortion = fisheye.fit_undistortion(DISTORTION)
    grid = np.stack(
        np.meshgrid(np.linspace(0, WIDTH - 1, 40), np.linspace(0, HEIGHT - 1, 30)), -1
    ).reshape(-1, 2)
    poly = fisheye.unproject(grid, K, undistortion, 10.0)
    np.testing.assert_allclose(np.linalg.norm(poly, axis=1), 10.0)
    assert np.abs(fisheye.project(poly, K, DISTORTION) - grid).max() < 0.5
    np.testing.assert_allclose(
        fisheye.unproject_2d_to_3d_kannala(grid, K, undistortion, 10.0), poly
    )


def test_max_valid_theta_finds_fold() -> None:
    # theta_d = theta - theta^3 / 3 folds at theta = 1 (derivative 1 - theta^2)
    assert fisheye.max_valid_theta(np.array([-1.0 / 3.0, 0, 0, 0])) == pytest.approx(1.0)
    assert fisheye.max_valid_theta(np.zeros(4)) == pytest.approx(np.pi)


def test_project_to_image_mask() -> None:
    pts = np.array(
        [
            [0.0, 0.0, 10.0],  # principal point: kept
            [0.0, 0.0, -10.0],  # behind: dropped
            [1.0, 0.5, 0.0],  # z = 0: dropped
            [100.0, 0.0, 1.0],  # ~89 degrees: outside the image
            [1.0, 0.3, 5.0],  # kept
        ]
    )
    proj = fisheye.project_to_image(pts, K, DISTORTION, image_size=(WIDTH, HEIGHT))
    np.testing.assert_array_equal(proj.mask, [True, False, False, False, True])
    np.testing.assert_allclose(proj.pixels, fisheye.project(pts[[0, 4]], K, DISTORTION))
    np.testing.assert_allclose(proj.depth_m, [10.0, 5.0])
    # field of view rule of the reference
    inside, mask = fisheye.get_points_in_camera_fov(np.array([120.0, 60.0]), pts)
    np.testing.assert_array_equal(mask, [True, False, False, False, True])
    assert len(inside) == 2


def _calibration(ego_from_lidar: np.ndarray, ego_from_camera: np.ndarray) -> Calibration:
    undistortion = fisheye.fit_undistortion(DISTORTION)
    return Calibration.from_dict(
        {
            "FC": {
                "extrinsics": ego_from_camera.tolist(),
                "intrinsics": K.tolist(),
                "distortion": DISTORTION.tolist(),
                "undistortion": undistortion.tolist(),
                "image_dimensions": [WIDTH, HEIGHT],
                "field_of_view": [120.0, 68.0],
                "lidar_extrinsics": ego_from_lidar.tolist(),
            }
        }
    )


CAMERA_AXES = np.array(
    [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]
)  # ego_from_camera rotation
LIDAR_AXES = np.array(
    [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
)  # lidar x right, y forward


def test_points_to_image_through_calibration() -> None:
    calib = _calibration(
        make_transforms(LIDAR_AXES, [1.25, 0.0, 1.95]),
        make_transforms(CAMERA_AXES, [1.9, 0.0, 1.45]),
    )
    # points straight ahead of the camera, at 0.5 m and 250 m, written in the lidar frame
    ahead_ego = np.array([[1.9 + 0.5, 0.0, 1.45], [1.9 + 250.0, 0.0, 1.45], [-20.0, 0.0, 1.45]])
    pts_lidar = calib.transform_points(ahead_ego, EGO, Lidar.VELODYNE).astype(np.float32)
    proj = fisheye.points_to_image(pts_lidar, calib)
    same = fisheye.lidar_to_image(pts_lidar, calib)
    np.testing.assert_array_equal(same.mask, proj.mask)
    np.testing.assert_array_equal(proj.mask, [True, True, False])
    np.testing.assert_allclose(proj.pixels, [[CX, CY], [CX, CY]], atol=2e-3)
    np.testing.assert_allclose(proj.depth_m, [0.5, 250.0], atol=1e-4)
    # a point 1 m to the left of the axis at 250 m lands left of the centre by f * atan(1/250)
    left = calib.transform_points(np.array([[1.9 + 250.0, 1.0, 1.45]]), EGO, Lidar.VELODYNE)
    px = fisheye.points_to_image(left, calib).pixels
    theta = np.arctan2(1.0, 250.0)
    expected = CX - FOCAL * theta * (1 + DISTORTION @ theta ** np.array([2, 4, 6, 8]))
    np.testing.assert_allclose(px[0, 0], expected, atol=1e-6)
    # camera-frame round trip through the CameraCalibration helpers
    cam = calib.cameras[Camera.FRONT]
    p_cam = np.array([[2.0, -1.0, 30.0]])
    np.testing.assert_allclose(
        cam.unproject(cam.project(p_cam), np.linalg.norm(p_cam), exact=True), p_cam, atol=1e-9
    )


def test_image_corners_need_use_field_of_view_false() -> None:
    """The reference's rectangular angle rule cuts off the image corners a fisheye does see."""
    calib = _calibration(np.eye(4), make_transforms(CAMERA_AXES, [1.9, 0.0, 1.45]))
    cam = calib.cameras[Camera.FRONT]
    corner = cam.unproject(np.array([[60.0, 40.0], [WIDTH / 2, HEIGHT / 2]]), 10.0, exact=True)
    with_rule = fisheye.points_to_image(corner, calib, from_frame=Camera.FRONT)
    whole_image = fisheye.points_to_image(
        corner, calib, from_frame=Camera.FRONT, use_field_of_view=False
    )
    np.testing.assert_array_equal(with_rule.mask, [False, True])
    np.testing.assert_array_equal(whole_image.mask, [True, True])
    np.testing.assert_allclose(
        whole_image.pixels, [[60.0, 40.0], [WIDTH / 2, HEIGHT / 2]], atol=1e-6
    )
