"""zod.viz.open3d_viz: line-set geometry values, .ply round trip and a real offscreen render."""

from __future__ import annotations

import numpy as np
import open3d as o3d

from zod.geometry.box import UNIT_CORNERS
from zod.viz import open3d_viz as v3


def cube(center: list[float], size: float) -> np.ndarray:
    return UNIT_CORNERS * size + np.array(center)


def test_box_lines_indices_and_vertices() -> None:
    corners = np.stack([cube([0, 0, 0], 2.0), cube([10, 0, 0], 1.0)])
    vertices, lines = v3.box_lines(corners)
    assert vertices.shape == (16, 3) and lines.shape == (24, 2)
    assert np.array_equal(vertices[8:], corners[1])
    # every edge of a cube joins corners that differ along exactly one axis by the size
    lengths = np.linalg.norm(vertices[lines[:, 0]] - vertices[lines[:, 1]], axis=1)
    assert np.allclose(lengths[:12], 2.0) and np.allclose(lengths[12:], 1.0)
    assert lines[12:].min() == 8  # second box's lines index its own vertices


def test_box_line_set_and_ply_round_trip(tmp_path) -> None:
    corners = cube([5, 1, 0], 2.0)[None]
    ls = v3.box_line_set(corners, colors=(255, 0, 0))
    assert np.allclose(np.asarray(ls.points), corners[0])
    assert np.array_equal(np.asarray(ls.lines), v3.box_lines(corners)[1])
    assert np.allclose(np.asarray(ls.colors), [[1.0, 0.0, 0.0]] * 12)

    rng = np.random.default_rng(1)
    points = rng.uniform(-20, 20, (500, 3))
    colors = rng.integers(0, 256, (500, 3)).astype(np.uint8)
    written = v3.export_ply(
        tmp_path / "scene.ply", points, colors, boxes=corners, box_colors=(0, 255, 0)
    )
    assert [p.name for p in written] == ["scene.ply", "scene_boxes.ply"]
    pcd = o3d.io.read_point_cloud(written[0])
    assert np.allclose(np.asarray(pcd.points), points, atol=1e-5)
    assert np.array_equal(np.round(np.asarray(pcd.colors) * 255).astype(np.uint8), colors)
    back = o3d.io.read_line_set(written[1])
    assert np.allclose(np.asarray(back.points), corners[0]) and len(np.asarray(back.lines)) == 12
    assert not list(tmp_path.glob(".tmp-*"))


def test_point_colors_modes() -> None:
    pts = np.array([[0, 0, -2.5, 0.0], [0, 0, 3.0, 255.0]])
    h = v3.point_colors(pts, "height", colormap="gray")
    assert h[0].tolist() == [0, 0, 0] and h[1].tolist() == [255, 255, 255]
    i = v3.point_colors(pts, "intensity", colormap="gray")
    assert i[1].tolist() == [255, 255, 255]


def test_offscreen_render_draws_box_and_points() -> None:
    """A red box straight ahead lands at the picture centre; green points on the left side."""
    box = cube([25.0, 0.0, 0.0], 4.0)[None]  # at the default camera's look-at point
    ys, xs = np.meshgrid(np.linspace(8, 14, 40), np.linspace(10, 30, 40))
    points = np.stack(
        [xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1
    )  # left of the ego (y > 0)
    geoms = v3.scene_geometries(
        points,
        np.tile(np.array([0, 255, 0], np.uint8), (len(points), 1)),
        boxes=box,
        box_colors=(255, 0, 0),
    )
    img = v3.render_offscreen(geoms, width=320, height=240, point_size=3, line_width=3)
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    red = (img[..., 0] > 150) & (img[..., 1] < 80) & (img[..., 2] < 80)
    green = (img[..., 1] > 150) & (img[..., 0] < 80) & (img[..., 2] < 80)
    rows, cols = np.nonzero(red)
    assert red.sum() > 20
    assert abs(rows.mean() - 120) < 30 and abs(cols.mean() - 160) < 30
    g_cols = np.nonzero(green)[1]
    assert green.sum() > 50 and g_cols.mean() < 160  # y left -> left half of the picture
    background = (img.sum(axis=2) == 0).mean()
    assert background > 0.5


def test_viz3d_reference_api(tmp_path) -> None:
    from pyquaternion import Quaternion

    viz = v3.Viz3D()
    viz.add_pointcloud(
        np.array([1.0, 2.0]), np.array([5.0, 6.0]), np.array([0.0, 0.0]), np.array([0.0, 1.0])
    )
    viz.add_zod_annotations(
        (
            np.array(["Vehicle"]),
            np.array([[0.0, 20.0, 0.0]]),
            np.array([[4.0, 2.0, 1.5]]),
            [Quaternion()],
        )
    )
    assert viz.corners.shape == (1, 8, 3)
    assert np.allclose(viz.corners[0].min(axis=0), [-2.0, 19.0, -0.75])
    written = viz.save_ply(tmp_path / "v.ply")
    assert len(written) == 2 and all(p.exists() for p in written)


def test_viz3d_show_without_display_renders_png(tmp_path, monkeypatch) -> None:
    from pyquaternion import Quaternion

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    viz = v3.Viz3D()
    # lidar frame (forward = y): a green-ish cloud ahead and a box at 25 m
    xs, ys = np.meshgrid(np.linspace(-10, 10, 60), np.linspace(5, 40, 60))
    viz.add_pointcloud(xs.ravel(), ys.ravel(), np.full(xs.size, -1.5), np.linspace(0, 1, xs.size))
    viz.add_zod_annotations((["Pedestrian"], [[0.0, 25.0, 0.0]], [[1.0, 1.0, 2.0]], [Quaternion()]))
    picture = viz.show(tmp_path / "viz3d.png")
    assert (tmp_path / "viz3d.png").exists() and picture is not None
    assert picture.shape == (720, 1280, 3)
    # the box in the Pedestrian colour (255, 40, 80), tone-mapped by the renderer: red-dominant
    # pixels (viridis point colours never are), around the picture's centre column
    p = picture.astype(int)
    red = (p[..., 0] > p[..., 1] + 60) & (p[..., 0] > p[..., 2] + 30)
    assert red.sum() > 10
    assert abs(np.nonzero(red)[1].mean() - 640) < 40


def test_top_camera_keeps_left_on_the_left() -> None:
    ys, xs = np.meshgrid(np.linspace(6, 12, 30), np.linspace(15, 35, 30))
    left = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)  # y > 0: left of the ego
    geoms = v3.scene_geometries(left, np.tile(np.array([0, 255, 0], np.uint8), (len(left), 1)))
    img = v3.render_offscreen(geoms, 200, 200, point_size=3, **v3.top_camera())
    green = (img[..., 1] > 150) & (img[..., 0] < 80)
    cols = np.nonzero(green)[1]
    assert green.sum() > 30 and cols.mean() < 90


def test_rendered_colours_stay_close_to_the_given_ones() -> None:
    ys, zs = np.meshgrid(np.linspace(-5, 5, 60), np.linspace(-3, 3, 60))
    plane = np.stack([np.full(ys.size, 25.0), ys.ravel(), zs.ravel()], axis=1)
    for colour in ([200, 120, 40], [48, 18, 59], [250, 250, 250]):
        geoms = v3.scene_geometries(plane, np.tile(np.array(colour, np.uint8), (len(plane), 1)))
        img = v3.render_offscreen(geoms, 100, 100, point_size=6, eye=[0, 0, 0], center=[25, 0, 0])
        assert np.abs(img[50, 50].astype(int) - colour).max() <= 40, (
            colour,
            img[50, 50],
        )  # default pipeline: +80
