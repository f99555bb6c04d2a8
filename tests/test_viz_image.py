"""Pixel tests of zod.viz.image: boxes, lidar by depth, masks and trajectory on known geometry."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest

from zod.calibration import Calibration
from zod.constants import EGO, Camera, Lidar
from zod.geometry.box import Box2D, Box3D
from zod.geometry.fisheye import project
from zod.sample.rig import make_rig
from zod.sensors.lidar import LidarData
from zod.viz import image as vi
from zod.viz.colors import colormap_lut, depth_colors

if TYPE_CHECKING:
    from zod.annotations.objects import ObjectAnnotation

RED = (255, 0, 0)
WIDTH, HEIGHT = 960, 540


@pytest.fixture(scope="module")
def calib() -> Calibration:
    """The sample rig's calibration at a small image size (the same fisheye, 960 x 540)."""
    return Calibration.from_dict(make_rig(WIDTH, HEIGHT).calibration_json(False))


def blank() -> np.ndarray:
    return np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)


def colored_near(
    img: np.ndarray, uv: np.ndarray, color: tuple[int, int, int], tol: int = 1
) -> bool:
    """True when a pixel within ``tol`` of (u, v) has ``color`` at >= 50 % coverage.

    Lines are antialiased on a black picture, so a pixel on the line is ``coverage * color``.
    """
    u, v = (int(np.floor(x)) for x in uv)
    patch = (
        img[max(v - tol, 0) : v + tol + 1, max(u - tol, 0) : u + tol + 1].reshape(-1, 3).astype(int)
    )
    c = np.array(color)
    same_hue = np.all(patch[:, c == 0] == 0, axis=1)
    strong = np.all(patch[:, c > 0] >= 0.5 * c[c > 0], axis=1)
    return bool(np.any(same_hue & strong))


def camera_box(center: list[float], size: list[float]) -> Box3D:
    """An axis-aligned box in the camera frame (length along camera x)."""
    return Box3D(
        center=np.array(center),
        size=np.array(size),
        orientation=np.array([1.0, 0, 0, 0]),
        frame=Camera.FRONT,
    )


def test_box_edge_passes_through_fisheye_projection_not_straight_chord(calib: Calibration) -> None:
    # A wide box 6 m ahead: its bottom front edge spans a large angle, so the fisheye curves it.
    box = camera_box([0.0, 1.0, 6.0], [12.0, 1.0, 1.0])
    img = blank()
    vi.draw_boxes_3d(img, [box], calib, colors=RED, thickness=1, samples_per_edge=64)
    cam = calib.cameras[Camera.FRONT]
    corners = box.corners
    # points along edge 0-1 (bottom, at camera y=+1.5 below the axis)
    for t in (0.25, 0.5, 0.75):
        p3 = corners[0] + t * (corners[1] - corners[0])
        uv = project(p3[None], cam.intrinsics, cam.distortion)[0]
        assert colored_near(img, uv, RED), f"edge sample t={t} at {uv} not drawn"
    # the straight chord between the projected end corners is far from the curve at the middle
    ends = project(corners[[0, 1]], cam.intrinsics, cam.distortion)
    chord_mid = ends.mean(axis=0)
    true_mid = project(((corners[0] + corners[1]) / 2)[None], cam.intrinsics, cam.distortion)[0]
    assert np.linalg.norm(chord_mid - true_mid) > 10
    assert not colored_near(img, chord_mid, RED, tol=2)
    # nothing drawn far from the box (top-left corner region of the image)
    assert img[:20, :20].max() == 0


def test_box_partly_behind_camera_is_clipped(calib: Calibration) -> None:
    # spans z in [-3, 5]: the rear half is behind the camera
    box = camera_box([2.0, 0.5, 1.0], [1.5, 1.0, 8.0])
    cam = calib.cameras[Camera.FRONT]
    corners_cam = box.corners
    pieces, box_idx = vi.box_edge_polylines(corners_cam[None], cam, samples_per_edge=50)
    assert len(pieces) > 0 and np.all(box_idx == 0)
    # every drawn sample is the projection of a point in front of the camera: re-derive the
    # samples and check that no piece touches the projection of a behind-camera corner
    behind = corners_cam[corners_cam[:, 2] < 0]
    naive = project(behind, cam.intrinsics, cam.distortion)
    all_px = np.concatenate(pieces)
    for px in naive:
        assert np.min(np.linalg.norm(all_px - px, axis=1)) > 5
    img = blank()
    vi.draw_boxes_3d(img, [box], calib, colors=RED, thickness=1)
    assert (img[..., 0] > 0).sum() > 50
    # the 4 edges along z are cut: each keeps only its front part (z > 0), 4 pieces + the front face
    z_edges = [p for p in pieces if len(p) < 50]
    assert len(z_edges) >= 4


def test_box_entirely_behind_draws_nothing(calib: Calibration) -> None:
    box = camera_box([0.0, 0.0, -5.0], [2.0, 2.0, 2.0])
    img = blank()
    vi.draw_boxes_3d(img, [box], calib, colors=RED)
    assert img.max() == 0


def test_boxes_3d_from_lidar_frame_match_camera_frame(calib: Calibration) -> None:
    """The same box given in the lidar frame and in the camera frame draws the same pixels."""
    box_cam = camera_box([1.0, 0.5, 15.0], [2.0, 1.5, 4.0])
    box_lidar = box_cam.copy().convert_to(Lidar.VELODYNE, calib)
    a, b = blank(), blank()
    vi.draw_boxes_3d(a, [box_cam], calib, colors=RED, thickness=1)
    vi.draw_boxes_3d(
        b, box_lidar.corners[None], calib, frame=Lidar.VELODYNE, colors=RED, thickness=1
    )
    assert (a > 0).any()
    assert np.array_equal(a, b)


def test_lidar_colors_follow_depth(calib: Calibration) -> None:
    # points straight ahead of the camera at growing depth, each a bit more to the right
    depths = np.array([2.0, 10.0, 20.0, 35.0, 50.0])
    pts_cam = np.stack([np.linspace(-0.4, 0.4, 5) * depths, np.zeros(5), depths], axis=1)
    pts_lidar = calib.transform_points(pts_cam, Camera.FRONT, Lidar.VELODYNE)
    img = blank()
    vi.draw_lidar(img, pts_lidar, calib, max_depth_m=50.0, radius=0, colormap="turbo")
    cam = calib.cameras[Camera.FRONT]
    uv = np.floor(project(pts_cam, cam.intrinsics, cam.distortion)).astype(int)
    got = img[uv[:, 1], uv[:, 0]]
    expected = depth_colors(depths, max_depth_m=50.0, colormap="turbo")
    assert np.array_equal(got, expected)
    assert got[0, 2] > got[0, 0]  # near: blue dominates
    assert got[-1, 0] > got[-1, 2]  # far: red dominates
    assert np.array_equal(got[-1], colormap_lut("turbo")[255])
    assert (img.reshape(-1, 3).any(axis=1)).sum() == 5


def test_lidar_nearer_point_wins_and_scaling(calib: Calibration) -> None:
    # two points on the same ray: the near one must cover the far one, whatever the order
    ray = np.array([0.1, 0.05, 1.0])
    pts_cam = np.stack([ray * 40.0, ray * 5.0])
    pts_lidar = calib.transform_points(pts_cam, Camera.FRONT, Lidar.VELODYNE)
    img = blank()
    vi.draw_lidar(img, pts_lidar, calib, max_depth_m=40.0, radius=2)
    cam = calib.cameras[Camera.FRONT]
    u, v = np.floor(project(pts_cam[:1], cam.intrinsics, cam.distortion)[0]).astype(int)
    near_color = depth_colors(np.array([ray[2] * 5.0]), max_depth_m=40.0)[0]
    assert np.array_equal(img[v, u], near_color)
    # a half-size image gets the same point at half the pixel coordinates
    small = np.zeros((HEIGHT // 2, WIDTH // 2, 3), np.uint8)
    vi.draw_lidar(small, pts_lidar[1:], calib, max_depth_m=40.0, radius=0)
    full_uv = project(pts_cam[1:], cam.intrinsics, cam.distortion)[0]
    hits = np.argwhere(small.any(axis=2))
    assert hits.shape[0] == 1
    assert np.allclose(hits[0][::-1], np.floor(full_uv / 2), atol=1)


def test_lidar_behind_and_outside_not_drawn(calib: Calibration) -> None:
    pts_cam = np.array([[0.0, 0.0, -5.0], [100.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    pts_lidar = calib.transform_points(pts_cam, Camera.FRONT, Lidar.VELODYNE)
    img = blank()
    vi.draw_lidar(img, pts_lidar, calib)
    assert img.max() == 0


def test_draw_points_disc_radius() -> None:
    img = np.zeros((50, 50, 3), np.uint8)
    vi.draw_points(img, np.array([[25.5, 25.5]]), RED, radius=3)
    hits = np.argwhere(img[..., 0] == 255)
    assert hits.min(axis=0).tolist() == [22, 22] and hits.max(axis=0).tolist() == [28, 28]
    assert img[22, 22, 0] == 0  # corners of the bounding square are outside the disc


def test_boxes_2d_edges_and_interior() -> None:
    img = np.zeros((100, 120, 3), np.uint8)
    vi.draw_boxes_2d(
        img, [Box2D.from_points([[10, 20], [60, 20], [60, 70], [10, 70]])], RED, thickness=1
    )
    assert tuple(img[20, 35]) == RED and tuple(img[70, 35]) == RED  # top and bottom edges
    assert tuple(img[45, 10]) == RED and tuple(img[45, 60]) == RED  # left and right edges
    assert img[45, 35].max() == 0 and img[5, 5].max() == 0
    # scale halves the coordinates (a reduced image)
    small = np.zeros((50, 60, 3), np.uint8)
    vi.draw_boxes_2d(small, np.array([[10, 20, 60, 70]]), RED, thickness=1, scale=0.5)
    assert tuple(small[10, 17]) == RED and tuple(small[35, 30]) == RED


def test_overlay_mask_blends_exactly_inside() -> None:
    img = np.full((40, 50, 3), 100, np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[10:20, 5:30] = True
    vi.overlay_mask(img, mask, color=(255, 0, 0), alpha=0.5)
    inside = img[mask]
    assert np.all(inside == np.array([178, 50, 50]))  # round(0.5*255 + 0.5*100) = 178
    assert np.all(img[~mask] == 100)
    # a full-resolution mask on a half-size picture is resized (nearest)
    small = np.zeros((20, 25, 3), np.uint8)
    vi.overlay_mask(small, mask, color=(0, 255, 0), alpha=1.0)
    assert (small[..., 1] == 255).sum() == 5 * 12 or (small[..., 1] == 255).sum() == 5 * 13


def test_trajectory_straight_ahead_on_the_ground(calib: Calibration) -> None:
    # ego moving straight along x, 1 m steps: world_from_ego poses with translation (x, 0, 0)
    poses = np.tile(np.eye(4), (40, 1, 1))
    poses[:, 0, 3] = np.arange(-10, 30)
    positions = vi.trajectory_in_ego(poses, poses[10])  # reference at world x = 0
    assert np.allclose(positions[:, 0], np.arange(-10, 30)) and np.allclose(positions[:, 1:], 0)
    img = blank()
    vi.draw_trajectory(img, positions, calib, color=RED, thickness=1)
    cam = calib.cameras[Camera.FRONT]
    for x in (8.0, 15.0, 25.0):
        uv = project(
            calib.transform_points(np.array([[x, 0.0, 0.0]]), EGO, Camera.FRONT),
            cam.intrinsics,
            cam.distortion,
        )[0]
        assert colored_near(img, uv, RED, tol=1), f"trajectory point x={x} not on the line"
    # the ground ahead is below the horizon: everything is in the lower half of the picture
    rows = np.argwhere(img[..., 0] > 0)[:, 0]
    assert rows.min() > HEIGHT / 2


def test_labels_are_written(calib: Calibration) -> None:
    img = blank()
    vi.draw_labels(img, np.array([[100, 100]]), ["Vehicle"], colors=RED)
    assert (img[80:105, 100:180, 0] == 255).any()


def test_reference_helpers_scale_and_types(calib: Calibration) -> None:
    img = blank()
    box = Box2D.from_points([[100, 100], [300, 100], [300, 200], [100, 200]])
    vi.overlay_object_2d_box_on_image(img, box, color=RED, scale_factor=0.5, line_thickness=1)
    assert tuple(img[50, 100]) == RED and tuple(img[100, 150]) == RED
    box3d = camera_box([0.0, 0.5, 10.0], [2.0, 1.5, 4.0]).convert_to(Lidar.VELODYNE, calib)
    out = vi.overlay_object_3d_box_on_image(blank(), box3d, calib, color=RED, line_thickness=1)
    assert (out[..., 0] > 0).sum() > 100


ORACLE_SCRIPT = r"""
import json, sys
import numpy as np
from zod.data_classes.calibration import Calibration
from zod.data_classes.sensor import LidarData
from zod.visualization.lidar_on_image import project_lidar_to_image
from zod.visualization.polygon_utils import overlay_mask_on_image
data = json.load(open(sys.argv[1]))
calib = Calibration.from_dict(data["calib"])
pts = np.array(data["points"])
n = len(pts)
lidar = LidarData(
    points=pts, timestamps=np.zeros(n), intensity=np.zeros(n), diode_idx=np.zeros(n),
    core_timestamp=0.0,
)
xyd, mask = project_lidar_to_image(lidar, calib)
rng = np.random.default_rng(3)
img = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
m = rng.random((30, 40)) > 0.5
over = overlay_mask_on_image(m, img, fill_color=(100, 20, 0), alpha=0.7)
out = {"xyd": xyd.tolist(), "mask": mask.tolist(), "over": over.tolist()}
json.dump(out, open(sys.argv[2], "w"))
"""


def test_reference_helpers_agree_with_oracle(
    oracle_python: Path, tmp_path: Path, calib: Calibration
) -> None:
    rng = np.random.default_rng(0)
    pts = rng.uniform([-40, -5, -3], [40, 80, 3], (400, 3))
    inp, out, script = tmp_path / "in.json", tmp_path / "out.json", tmp_path / "oracle.py"
    inp.write_text(
        json.dumps(
            {"calib": make_rig(WIDTH, HEIGHT).calibration_json(False), "points": pts.tolist()}
        )
    )
    script.write_text(ORACLE_SCRIPT)
    oracle_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # its own zod
    subprocess.run(
        [str(oracle_python), str(script), str(inp), str(out)],
        check=True,
        capture_output=True,
        env=oracle_env,
    )
    ref = json.loads(out.read_text())

    zeros = np.zeros(len(pts))
    scan = LidarData(
        points=pts, timestamps=zeros, intensity=zeros, diode_idx=zeros, core_timestamp=0.0
    )
    xyd, mask = vi.project_lidar_to_image(scan, calib)
    assert np.array_equal(mask, np.array(ref["mask"]))
    assert np.allclose(xyd, np.array(ref["xyd"]).reshape(-1, 3), atol=1e-6)
    rng2 = np.random.default_rng(3)
    img = rng2.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    m = rng2.random((30, 40)) > 0.5
    over = vi.overlay_mask_on_image(m, img, fill_color=(100, 20, 0), alpha=0.7)
    assert np.array_equal(over, np.array(ref["over"], dtype=np.uint8))


def test_box3dset_and_box_list_draw_identically(calib: Calibration) -> None:
    from zod.geometry.box_set import Box3DSet

    boxes = [
        camera_box([1.0, 0.5, 15.0], [2.0, 1.5, 4.0]).convert_to(Lidar.VELODYNE, calib),
        camera_box([-3.0, 0.5, 25.0], [2.0, 1.5, 4.0]).convert_to(Lidar.VELODYNE, calib),
    ]
    box_set = Box3DSet.from_boxes(boxes)
    a, b = blank(), blank()
    vi.draw_boxes_3d(a, boxes, calib, colors=RED, thickness=1)
    vi.draw_boxes_3d(b, box_set, calib, colors=RED, thickness=1)
    assert (a > 0).sum() > 100 and np.array_equal(a, b)


def test_projections_as_points_coolwarm_ends() -> None:
    img = np.zeros((20, 20, 3), np.uint8)
    xyd = np.array([[2.0, 3.0, 5.0], [10.0, 11.0, 25.0], [15.0, 4.0, 45.0], [50.0, 50.0, 10.0]])
    vi.draw_projections_as_points(img, xyd, clip_to=None)  # the last point is outside: skipped
    lut = colormap_lut("coolwarm")
    assert np.array_equal(img[3, 2], lut[0])  # nearest: start of the map (blue)
    assert np.array_equal(img[4, 15], lut[255])  # farthest: end (red)
    assert img[3, 2, 2] > img[3, 2, 0] and img[4, 15, 0] > img[4, 15, 2]
    img2 = np.zeros((20, 20, 3), np.uint8)
    vi.draw_projections_as_points(img2, xyd[:3], clip_to=10.0)  # 5 m and beyond the clip: red
    assert np.array_equal(img2[11, 10], lut[255]) and np.array_equal(img2[3, 2], lut[0])


def test_object_properties_text_and_overlap_skip() -> None:
    class Obj:
        name = "Vehicle"
        object_type = "Car"
        occlusion_level = "None"
        box2d = Box2D.from_points([[100, 80], [200, 80], [200, 150], [100, 150]])

    areas: list[list[list[int]]] = []
    img = blank()
    vi.overlay_object_properties_on_image(
        img,
        cast("ObjectAnnotation", Obj()),  # the helper reads these attributes only
        color=RED,
        properties_list=["name", "object_type"],
        text_areas=areas,
        text_scale=0.6,
    )
    assert len(areas) == 1
    written = np.argwhere(img[..., 0] > 100)
    assert written.size and written[:, 1].min() >= 99 and written[:, 0].max() < 120
    before = img.copy()
    vi.overlay_object_properties_on_image(
        img, cast("ObjectAnnotation", Obj()), color=(0, 255, 0), text_areas=areas, text_scale=0.6
    )
    assert np.array_equal(img, before) and len(areas) == 1  # overlapping label skipped


def test_draw_points_border_and_depth_order() -> None:
    img = np.zeros((20, 20, 3), np.uint8)
    # a disc centred just left of the picture still covers its first column
    vi.draw_points(img, np.array([[-1.0, 10.0]]), RED, radius=2)
    assert tuple(img[10, 0]) == RED and tuple(img[10, 1]) == RED and img[10, 2].max() == 0
    # overlapping discs: the smaller depth wins wherever they overlap, whatever the order
    for order in ([0, 1], [1, 0]):
        img = np.zeros((20, 20, 3), np.uint8)
        pix = np.array([[8.0, 8.0], [10.0, 8.0]])[order]
        cols = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)[order]
        depth = np.array([5.0, 9.0])[order]
        vi.draw_points(img, pix, cols, radius=2, depth=depth)
        assert tuple(img[8, 9]) == (255, 0, 0)  # covered by both: the near (red) one
        assert tuple(img[8, 12]) == (0, 0, 255)  # only the far one
