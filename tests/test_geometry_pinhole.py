"""Exact pinhole views of the fisheye (zod.geometry.pinhole): hand-known intrinsics and rotations,
3D points through the fisheye model and the inverse map against ``K @ view_from_camera @ p``,
rectified images against a closed-form scene, round trips, rig coverage, the remap cache."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from zod.calibration import Calibration, CameraCalibration
from zod.constants import Camera, Lidar
from zod.geometry import fisheye, pinhole
from zod.geometry.pinhole import FRONT_VIEW, THREE_VIEW_RIG, PinholeView
from zod.geometry.pose import Pose

# a harder synthetic camera: fx != fy, off-centre principal point, stronger distortion
SYNTH_DISTORTION = np.array([-0.05, 0.008, -0.002, 0.0002])
SYNTH_K = np.array([[1700.0, 0.0, 1931.2, 0.0], [0.0, 1712.5, 1077.4, 0.0], [0.0, 0.0, 1.0, 0.0]])

VIEWS = [
    FRONT_VIEW,
    *THREE_VIEW_RIG,
    PinholeView("tilted", yaw_deg=31.0, pitch_deg=-12.0, horizontal_fov_deg=60.0, width_px=801),
    PinholeView("up-left", yaw_deg=-20.0, pitch_deg=15.0, horizontal_fov_deg=100.0),
]


@pytest.fixture(scope="module")
def calibration(sample_root: Path) -> Calibration:
    from zod import ZodFrames

    frames = ZodFrames(str(sample_root), version="mini")
    return frames[min(frames.get_all_ids())].calibration


@pytest.fixture(scope="module")
def camera(calibration: Calibration) -> CameraCalibration:
    return calibration.cameras[Camera.FRONT]


def _synthetic_camera(distortion: np.ndarray = SYNTH_DISTORTION) -> CameraCalibration:
    return CameraCalibration(
        extrinsics=Pose.identity(),
        intrinsics=SYNTH_K.copy(),
        distortion=distortion.copy(),
        undistortion=fisheye.fit_undistortion(distortion),
        image_dimensions=np.array([3848, 2168]),
        field_of_view=np.array([120.0, 66.0]),
    )


def _bilinear(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Plain numpy bilinear sampling of image (H, W[, C]) at float pixels (N,), inside only."""
    u0 = np.floor(u).astype(np.int64)
    v0 = np.floor(v).astype(np.int64)
    a = (u - u0)[:, None] if image.ndim == 3 else u - u0
    b = (v - v0)[:, None] if image.ndim == 3 else v - v0
    img = image.astype(np.float64)
    top = img[v0, u0] * (1 - a) + img[v0, u0 + 1] * a
    bottom = img[v0 + 1, u0] * (1 - a) + img[v0 + 1, u0 + 1] * a
    return top * (1 - b) + bottom * b


def _scene_colour(rays_camera: np.ndarray) -> np.ndarray:
    """A smooth closed-form 'scene' (N, 3) float32 in [0, 1] of camera-frame ray directions."""
    r = rays_camera / np.linalg.norm(rays_camera, axis=1, keepdims=True)
    azimuth = np.arctan2(r[:, 0], r[:, 2])
    elevation = np.arcsin(np.clip(-r[:, 1], -1, 1))
    return np.stack(
        [
            0.5 + 0.4 * np.sin(8.0 * azimuth),
            0.5 + 0.4 * np.cos(9.0 * elevation),
            0.5 + 0.3 * np.sin(5.0 * azimuth + 7.0 * elevation),
        ],
        axis=1,
    ).astype(np.float32)


def _view_grid(view: PinholeView, step: int) -> np.ndarray:
    u, v = np.meshgrid(
        np.arange(0, view.width_px, step, dtype=np.float64),
        np.arange(0, view.height_px, step, dtype=np.float64),
    )
    return np.stack([u.ravel(), v.ravel()], axis=1)


# --------------------------------------------------------------------------- the view itself
def test_intrinsics_and_rotations_hand_computed() -> None:
    view = PinholeView("v", horizontal_fov_deg=90.0, width_px=1920, height_px=1080)
    np.testing.assert_allclose(
        view.intrinsics, [[960.0, 0.0, 959.5], [0.0, 960.0, 539.5], [0.0, 0.0, 1.0]], atol=1e-12
    )
    assert view.vertical_fov_deg == pytest.approx(2 * math.degrees(math.atan(540 / 960)))
    # yaw +90: the view looks along camera +x (right); its x axis is camera -z
    right = PinholeView("r", yaw_deg=90.0)
    np.testing.assert_allclose(right.camera_from_view @ [0, 0, 1], [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(right.camera_from_view @ [1, 0, 0], [0, 0, -1], atol=1e-15)
    # pitch +90: the view looks up (camera -y)
    up = PinholeView("u", pitch_deg=90.0)
    np.testing.assert_allclose(up.camera_from_view @ [0, 0, 1], [0, -1, 0], atol=1e-15)
    # yaw then pitch: axis (cos p sin y, -sin p, cos p cos y), x axis level (no y component)
    view = PinholeView("t", yaw_deg=30.0, pitch_deg=20.0)
    y, p = math.radians(30.0), math.radians(20.0)
    axis = [math.cos(p) * math.sin(y), -math.sin(p), math.cos(p) * math.cos(y)]
    np.testing.assert_allclose(view.camera_from_view @ [0, 0, 1], axis, atol=1e-15)
    assert abs((view.camera_from_view @ [1, 0, 0])[1]) < 1e-15
    np.testing.assert_allclose(view.view_from_camera @ view.camera_from_view, np.eye(3), atol=1e-15)
    assert np.linalg.det(view.camera_from_view) == pytest.approx(1.0)


def test_view_validation_hash_and_scaled() -> None:
    with pytest.raises(ValueError, match="horizontal_fov_deg"):
        PinholeView("bad", horizontal_fov_deg=180.0)
    with pytest.raises(ValueError, match="positive integers"):
        PinholeView("bad", width_px=0)
    a = PinholeView("a", yaw_deg=10.0)
    assert hash(a) == hash(PinholeView("a", yaw_deg=10.0))
    assert len({a, PinholeView("a", yaw_deg=10.0), PinholeView("a", yaw_deg=11.0)}) == 2
    half = FRONT_VIEW.scaled(0.5)
    assert (half.width_px, half.height_px) == (960, 540)
    assert half.horizontal_fov_deg == FRONT_VIEW.horizontal_fov_deg
    assert half.focal_px == pytest.approx(FRONT_VIEW.focal_px / 2)


def test_view_edges_are_at_half_the_field_of_view() -> None:
    """The outer edges of the outermost pixels (u = -0.5 and W - 0.5) are at yaw -+ hfov / 2."""
    for view in THREE_VIEW_RIG:
        edges = np.array([[-0.5, view.principal_point[1]], [view.width_px - 0.5, 0.0]])
        rays = pinhole.view_pixel_rays_camera(edges, view)
        azimuth = np.degrees(np.arctan2(rays[:, 0], rays[:, 2]))
        half = view.horizontal_fov_deg / 2
        np.testing.assert_allclose(azimuth, [view.yaw_deg - half, view.yaw_deg + half], atol=1e-9)


# --------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("which", ["sample", "synthetic"])
@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_fisheye_points_land_on_the_pinhole_pixel(
    view: PinholeView, which: str, camera: CameraCalibration
) -> None:
    """(a) p -> fisheye.project -> fisheye_to_view_pixels == K @ view_from_camera @ p (< 0.1 px),
    and the remap table at that view pixel gives back fisheye.project(p), 0.5 m to 245 m."""
    cam = camera if which == "sample" else _synthetic_camera()
    rng = np.random.default_rng(12)
    n = 5000
    # directions spread over the whole view (and a bit beyond its border), ranges 0.5..245 m
    u = rng.uniform(-0.5, view.width_px - 0.5, n)
    v = rng.uniform(-0.5, view.height_px - 0.5, n)
    f = view.focal_px
    cx, cy = view.principal_point
    dirs_view = np.stack([(u - cx) / f, (v - cy) / f, np.ones(n)], axis=1)
    dirs_view /= np.linalg.norm(dirs_view, axis=1, keepdims=True)
    range_m = np.exp(rng.uniform(np.log(0.5), np.log(245.0), n))
    points_camera = (dirs_view @ view.camera_from_view.T) * range_m[:, None]
    # keep the rays the fisheye sees inside its image (the view may see more than the lens)
    fish = fisheye.project_to_image(
        points_camera, cam.intrinsics, cam.distortion, image_size=cam.image_dimensions
    )
    points_camera, fish_px = points_camera[fish.mask], fish.pixels
    assert len(points_camera) > n // 2

    # expected: the plain pinhole formula, written out here
    k = view.intrinsics
    homog = (k @ view.view_from_camera @ points_camera.T).T
    expected = homog[:, :2] / homog[:, 2:]

    mapped = pinhole.fisheye_to_view_pixels(fish_px, cam, view)
    assert mapped.valid.all()
    err = np.linalg.norm(mapped.pixels - expected, axis=1)
    assert err.max() < 0.1
    assert err.max() < 1e-6  # in fact exact to float precision

    projection = pinhole.project_to_view(points_camera, view)
    np.testing.assert_allclose(projection.pixels, expected, atol=1e-8)
    assert projection.in_front.all()

    # the forward map (what rectify uses): the table at the view pixel is the fisheye pixel
    inner = (
        (expected[:, 0] >= 0)
        & (expected[:, 0] < view.width_px - 1)
        & (expected[:, 1] >= 0)
        & (expected[:, 1] < view.height_px - 1)
    )
    map_x, map_y = pinhole.remap_tables(cam, view)
    table = np.stack(
        [
            _bilinear(map_x, expected[inner, 0], expected[inner, 1]),
            _bilinear(map_y, expected[inner, 0], expected[inner, 1]),
        ],
        axis=1,
    )
    assert np.linalg.norm(table - fish_px[inner], axis=1).max() < 0.1
    forward = pinhole.view_to_fisheye_pixels(expected, cam, view)
    assert np.linalg.norm(forward.pixels - fish_px, axis=1).max() < 1e-6


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_round_trips(view: PinholeView, camera: CameraCalibration) -> None:
    """(d) view -> fisheye -> view and fisheye -> view -> fisheye within 1e-3 px."""
    grid = _view_grid(view, 37)
    fish = pinhole.view_to_fisheye_pixels(grid, camera, view)
    assert fish.valid.all()
    back = pinhole.fisheye_to_view_pixels(fish.pixels, camera, view)
    assert back.valid.all()
    assert np.abs(back.pixels - grid).max() < 1e-3

    width, height = camera.image_dimensions
    u, v = np.meshgrid(np.linspace(0, width - 1, 61), np.linspace(0, height - 1, 41))
    fish_grid = np.stack([u.ravel(), v.ravel()], axis=1)
    to_view = pinhole.fisheye_to_view_pixels(fish_grid, camera, view)
    again = pinhole.view_to_fisheye_pixels(to_view.pixels[to_view.valid], camera, view)
    assert np.abs(again.pixels - fish_grid[to_view.valid]).max() < 1e-3


def test_identity_view_centre_and_symmetry(camera: CameraCalibration) -> None:
    """(c) yaw = pitch = 0: the centre maps to the principal point, the table is mirror-symmetric
    about it, and near the axis the fisheye is a pinhole with its own focal length."""
    fx, fy, cx, cy = (float(camera.intrinsics[i, j]) for i, j in ((0, 0), (1, 1), (0, 2), (1, 2)))
    view = PinholeView("identity", horizontal_fov_deg=80.0, width_px=1000, height_px=600)
    centre = pinhole.view_to_fisheye_pixels(np.array([view.principal_point]), camera, view)
    np.testing.assert_allclose(centre.pixels, [[cx, cy]], atol=1e-9)

    map_x, map_y = (m.astype(np.float64) for m in pinhole.remap_tables(camera, view))
    tol = 1e-3  # float32 storage of values up to ~3800
    np.testing.assert_allclose(map_x + map_x[:, ::-1], 2 * cx, atol=tol)  # left-right mirror
    np.testing.assert_allclose(map_y, map_y[:, ::-1], atol=tol)
    np.testing.assert_allclose(map_y + map_y[::-1, :], 2 * cy, atol=tol)  # up-down mirror
    np.testing.assert_allclose(map_x, map_x[::-1, :], atol=tol)

    # 1 px off the centre of a view: theta ~ 1 / f_view, the fisheye radius theta_d ~ theta
    offsets = np.array(
        [
            [view.principal_point[0] + 1, view.principal_point[1]],
            [view.principal_point[0], view.principal_point[1] - 1],
        ]
    )
    px = pinhole.view_to_fisheye_pixels(offsets, camera, view).pixels
    ratio = 1.0 / view.focal_px
    np.testing.assert_allclose(px, [[cx + fx * ratio, cy], [cx, cy - fy * ratio]], atol=1e-6)


# --------------------------------------------------------------------------- images
@pytest.mark.parametrize("divisor", [2, 4])
def test_rectified_image_matches_the_scene(divisor: int, camera: CameraCalibration) -> None:
    """(b) A fisheye image whose pixels are a closed-form function of their ray (made with the
    exact unprojection, at the 1/2 or 1/4 decode scale), rectified: each view pixel holds the
    same function of its own ray. Sensitive to the scaled-decode pixel alignment."""
    width, height = (int(s) for s in camera.image_dimensions)
    w, h = math.ceil(width / divisor), math.ceil(height / divisor)
    j, i = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    # small pixel j covers full-resolution pixels [d j, d j + d): its centre is d j + (d - 1) / 2
    full = np.stack([j.ravel(), i.ravel()], axis=1) * divisor + (divisor - 1) / 2
    rays = camera.unproject(full, 1.0, exact=True)
    image = _scene_colour(rays).reshape(h, w, 3)

    view = PinholeView(
        "t", yaw_deg=25.0, pitch_deg=-5.0, horizontal_fov_deg=70.0, width_px=640, height_px=400
    )
    out = pinhole.rectify(image, camera, view)
    assert out.shape == (400, 640, 3)
    assert out.dtype == np.float32
    expected = _scene_colour(pinhole.view_pixel_rays_camera(_view_grid(view, 1), view))
    err = np.abs(out.reshape(-1, 3) - expected)
    # bilinear on a smooth scene, 1/32 px weights; a half-pixel misalignment would give ~3e-3
    assert err.max() < 5e-4

    # the same through numpy bilinear sampling of the float tables (independent of cv2.remap)
    map_x, map_y = pinhole.remap_tables(camera, view, scale=1.0 / divisor)
    rng = np.random.default_rng(3)
    rows = rng.integers(0, view.height_px, 500)
    cols = rng.integers(0, view.width_px, 500)
    sampled = _bilinear(image, map_x[rows, cols].astype(np.float64), map_y[rows, cols])
    # remap weighs in 1/32 px steps: up to 1/64 px times the scene's gradient (~8e-3 per px at 1/4)
    np.testing.assert_allclose(out[rows, cols], sampled, atol=2.5e-4)


def test_rectified_full_resolution_window(camera: CameraCalibration) -> None:
    """(b) At full resolution: a narrow view whose fisheye footprint is drawn from the closed-form
    scene (only that window of the image is computed)."""
    view = PinholeView(
        "n", yaw_deg=-38.0, pitch_deg=8.0, horizontal_fov_deg=12.0, width_px=300, height_px=200
    )
    map_x, map_y = pinhole.remap_tables(camera, view)
    u0, u1 = int(map_x.min()) - 2, int(map_x.max()) + 3
    v0, v1 = int(map_y.min()) - 2, int(map_y.max()) + 3
    width, height = (int(s) for s in camera.image_dimensions)
    assert u0 >= 0 and u1 < width and v0 >= 0 and v1 < height
    image = np.zeros((height, width, 3), dtype=np.float32)
    j, i = np.meshgrid(np.arange(u0, u1, dtype=np.float64), np.arange(v0, v1, dtype=np.float64))
    rays = camera.unproject(np.stack([j.ravel(), i.ravel()], axis=1), 1.0, exact=True)
    image[v0:v1, u0:u1] = _scene_colour(rays).reshape(v1 - v0, u1 - u0, 3)
    out = pinhole.rectify(image, camera, view)
    expected = _scene_colour(pinhole.view_pixel_rays_camera(_view_grid(view, 1), view))
    assert np.abs(out.reshape(-1, 3) - expected).max() < 5e-4


def test_rectify_sample_image_matches_numpy_sampling(calibration: Calibration) -> None:
    """(b) The sample's JPEG (blurred, float) rectified by cv2.remap == numpy bilinear sampling
    of the float tables; uint8 and grey images keep their dtype and layout."""
    from zod.sensors.camera import read_image

    camera = calibration.cameras[Camera.FRONT]
    path = next(
        p
        for p in Path(calibration.source_path or "").parent.rglob("*.jpg")
        if "camera_front_blur" in str(p)
    )
    decoded = read_image(path)
    smooth = cv2.GaussianBlur(decoded.astype(np.float32), (0, 0), 2.0)
    out = pinhole.rectify(smooth, camera, FRONT_VIEW)
    map_x, map_y = pinhole.remap_tables(camera, FRONT_VIEW)
    rng = np.random.default_rng(5)
    rows = rng.integers(0, FRONT_VIEW.height_px, 2000)
    cols = rng.integers(0, FRONT_VIEW.width_px, 2000)
    sampled = _bilinear(smooth, map_x[rows, cols].astype(np.float64), map_y[rows, cols])
    assert np.abs(out[rows, cols] - sampled).max() < 1.0  # levels of 255; 1/32 px weights

    as_uint8 = pinhole.rectify(decoded, camera, FRONT_VIEW)
    assert as_uint8.shape == (1080, 1920, 3)
    assert as_uint8.dtype == np.uint8
    as_uint16 = pinhole.rectify(decoded.astype(np.uint16) * 257, camera, FRONT_VIEW)
    assert as_uint16.dtype == np.uint16
    assert np.abs(as_uint16 / 257.0 - as_uint8).max() <= 1.0
    grey = pinhole.rectify(decoded[:, :, 1], camera, FRONT_VIEW)
    assert grey.shape == (1080, 1920)
    np.testing.assert_array_equal(grey, as_uint8[:, :, 1])
    # the half-scale decode, rectified into the same view, shows the same picture
    half = pinhole.rectify(read_image(path, scale=0.5), camera, FRONT_VIEW)
    assert np.abs(half.astype(np.int16) - as_uint8).mean() < 3.0


def test_rays_the_fisheye_cannot_see_get_the_border(camera: CameraCalibration) -> None:
    """A view looking back to the right: its rays with camera z <= 0 are -1 in the tables and get
    ``border_value`` in the image; the others are real fisheye coordinates."""
    view = PinholeView("back", yaw_deg=130.0, horizontal_fov_deg=90.0, width_px=200, height_px=100)
    map_x, map_y = pinhole.remap_tables(camera, view)
    rays = pinhole.view_pixel_rays_camera(_view_grid(view, 1), view).reshape(100, 200, 3)
    behind = rays[:, :, 2] <= 0
    assert behind.any() and (~behind).any()
    assert np.all(map_x[behind] == -1) and np.all(map_y[behind] == -1)
    # in front: real fisheye coordinates, all far right of the image (azimuth >= 85 degrees)
    assert np.all(map_x[~behind] > camera.image_dimensions[0])
    image = np.full((*camera.image_dimensions[::-1], 3), 200, dtype=np.uint8)
    out = pinhole.rectify(image, camera, view, border_value=7)
    assert np.all(out == 7)
    mapped = pinhole.view_to_fisheye_pixels(_view_grid(view, 1), camera, view)
    np.testing.assert_array_equal(mapped.valid, ~behind.ravel())
    assert np.isnan(mapped.pixels[~mapped.valid]).all()


def test_image_scale(camera: CameraCalibration) -> None:
    assert pinhole.image_scale((2168, 3848, 3), camera) == 1.0
    assert pinhole.image_scale((1084, 1924), camera) == 0.5
    assert pinhole.image_scale((542, 962, 3), camera) == 0.25
    assert pinhole.image_scale((271, 481, 3), camera) == 0.125
    with pytest.raises(ValueError, match="scale="):
        pinhole.image_scale((1000, 1000, 3), camera)


# --------------------------------------------------------------------------- presets
def test_three_view_rig_covers_the_fisheye_image(camera: CameraCalibration) -> None:
    """(e) Every fisheye pixel (dense grid, borders included) is seen by at least one rig view;
    the yaws are -48, 0, 48 degrees, neighbours overlap by 2 degrees."""
    assert [v.name for v in THREE_VIEW_RIG] == ["left", "front", "right"]
    assert [v.yaw_deg for v in THREE_VIEW_RIG] == [-48.0, 0.0, 48.0]
    assert all(v.pitch_deg == 0 for v in THREE_VIEW_RIG)
    for a, b in itertools.pairwise(THREE_VIEW_RIG):
        overlap = (a.yaw_deg + a.horizontal_fov_deg / 2) - (b.yaw_deg - b.horizontal_fov_deg / 2)
        assert overlap == pytest.approx(2.0)
    assert pinhole.coverage(camera, THREE_VIEW_RIG, step_px=6) == 1.0
    # the check can fail: without the side views, with them turned in by 8 degrees (outer edges
    # at +-65 degrees: the image corners are at +-67), or with views 8% less tall
    assert pinhole.coverage(camera, [FRONT_VIEW]) < 0.9
    turned_in = [replace(v, yaw_deg=v.yaw_deg * 40 / 48) for v in THREE_VIEW_RIG]
    assert pinhole.coverage(camera, turned_in, step_px=6) < 1.0
    shorter = [replace(v, height_px=1410) for v in THREE_VIEW_RIG]
    assert pinhole.coverage(camera, shorter, step_px=6) < 1.0
    width, height = (int(s) for s in camera.image_dimensions)
    u, v = np.meshgrid(np.arange(0, width, 6.0), np.arange(0, height, 6.0))
    fish = np.stack([u.ravel(), v.ravel()], axis=1)
    # the fisheye image stays within the rig's outer edges
    rays = camera.unproject(fish, 1.0, exact=True)
    azimuth = np.degrees(np.arctan2(rays[:, 0], rays[:, 2]))
    assert np.abs(azimuth).max() < 48 + 25  # the rig's outer edges


def test_front_view_lies_inside_the_fisheye_image(camera: CameraCalibration) -> None:
    map_x, map_y = pinhole.remap_tables(camera, FRONT_VIEW)
    width, height = camera.image_dimensions
    assert map_x.shape == (1080, 1920)
    assert map_x.dtype == np.float32
    assert map_x.min() > 0 and map_x.max() < width - 1
    assert map_y.min() > 0 and map_y.max() < height - 1


# --------------------------------------------------------------------------- points
def test_points_behind_and_outside(calibration: Calibration) -> None:
    """(f) Behind the view: in_front False, NaN pixels; outside its image: in_image False; a lidar
    point through points_to_view == transform to the camera, then project_to_view."""
    view = PinholeView("r", yaw_deg=60.0, horizontal_fov_deg=60.0, width_px=600, height_px=400)
    axis = view.camera_from_view @ [0.0, 0.0, 1.0]
    side = view.camera_from_view @ [1.0, 0.0, 0.0]
    pts = np.stack([10 * axis, -10 * axis, 5 * axis + 0.1 * side, 5 * side + 0.01 * axis])
    proj = pinhole.project_to_view(pts, view)
    np.testing.assert_array_equal(proj.in_front, [True, False, True, True])
    np.testing.assert_array_equal(proj.in_image, [True, False, True, False])
    np.testing.assert_allclose(proj.pixels[0], view.principal_point, atol=1e-9)
    assert np.isnan(proj.pixels[1]).all()
    np.testing.assert_allclose(proj.depth_m, [10, -10, 5, 0.01], atol=1e-12)
    np.testing.assert_allclose(
        proj.pixels[2], [view.principal_point[0] + view.focal_px * 0.1 / 5, 199.5], atol=1e-9
    )

    rng = np.random.default_rng(1)
    points_lidar = rng.uniform(-60, 60, (1000, 3))
    got = pinhole.points_to_view(points_lidar, calibration, view)
    camera_pts = calibration.transform_points(points_lidar, Lidar.VELODYNE, Camera.FRONT)
    want = pinhole.project_to_view(camera_pts, view)
    np.testing.assert_array_equal(got.in_front, want.in_front)
    np.testing.assert_array_equal(got.in_image, want.in_image)
    np.testing.assert_allclose(got.pixels[got.in_front], want.pixels[want.in_front], atol=1e-7)
    np.testing.assert_allclose(got.depth_m, want.depth_m, atol=1e-9)
    assert got.in_front.any() and (~got.in_front).any()


# --------------------------------------------------------------------------- cache
def test_remap_tables_are_cached_per_calibration_and_view(calibration: Calibration) -> None:
    """(g) Same calibration content and view: the same arrays; another calibration, view or
    scale: other tables. The cached arrays are read-only."""
    camera = calibration.cameras[Camera.FRONT]
    view = PinholeView("c", horizontal_fov_deg=70.0, width_px=320, height_px=240)
    first = pinhole.remap_tables(camera, view)
    assert pinhole.remap_tables(camera, view) is first
    copy = Calibration.from_dict(calibration.to_dict()).cameras[Camera.FRONT]
    assert copy is not camera
    same = pinhole.remap_tables(
        copy, PinholeView("c", horizontal_fov_deg=70.0, width_px=320, height_px=240)
    )
    assert same[0] is first[0] and same[1] is first[1]
    with pytest.raises(ValueError):
        first[0][0, 0] = 1.0
    # the whole Calibration stands for its front camera
    assert pinhole.remap_tables(calibration, view)[0] is first[0]

    other = _synthetic_camera(np.asarray(camera.distortion) * 1.01)
    other.intrinsics = np.asarray(camera.intrinsics).copy()
    changed = pinhole.remap_tables(other, view)
    assert changed[0] is not first[0]
    assert np.abs(changed[0] - first[0]).max() > 0.1
    half = pinhole.remap_tables(camera, view, scale=0.5)
    np.testing.assert_allclose(half[0], (first[0] + 0.5) * 0.5 - 0.5, atol=1e-3)
    yawed = pinhole.remap_tables(
        camera, PinholeView("c", yaw_deg=1.0, horizontal_fov_deg=70.0, width_px=320, height_px=240)
    )
    assert np.abs(yawed[0] - first[0]).min() > 10  # 1 degree is ~30 fisheye pixels
