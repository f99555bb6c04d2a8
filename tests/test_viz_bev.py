"""Pixel tests of zod.viz.bev: known points and boxes land on the expected pixels."""

from __future__ import annotations

import numpy as np
import pytest
from pyquaternion import Quaternion

from zod.geometry.box import Box3D
from zod.viz import bev
from zod.viz.colors import apply_colormap


def test_grid_mapping_round_trip_and_orientation() -> None:
    grid = bev.BevGrid(x_range_m=(-10.0, 30.0), y_range_m=(-20.0, 20.0), resolution_m=0.5)
    assert grid.shape == (80, 80)
    # forward is up, left is left: (x_max, y_max) is the top-left corner
    assert np.allclose(grid.to_pixels(np.array([[30.0, 20.0]])), [[0.0, 0.0]])
    assert np.allclose(grid.to_pixels(np.array([[0.0, 0.0]])), [[40.0, 60.0]])
    xy = np.random.default_rng(0).uniform(-10, 20, (50, 2))
    assert np.allclose(grid.to_metres(grid.to_pixels(xy)), xy)


def test_known_point_lands_on_expected_pixel_with_height_color() -> None:
    grid = bev.BevGrid(x_range_m=(-10.0, 30.0), y_range_m=(-20.0, 20.0), resolution_m=0.5)
    # (x=12.2, y=-3.1): row = floor((30 - 12.2) / 0.5) = 35, col = floor((20 + 3.1) / 0.5) = 46
    points = np.array([[12.2, -3.1, 1.0], [12.3, -3.2, -1.0], [25.0, 15.0, 0.0], [100.0, 0.0, 0.0]])
    pic = bev.render_bev(points, grid, value_range=(-2.0, 2.0), draw_ego=False, grid_step_m=None)
    expected_top = apply_colormap(np.array([(1.0 + 2.0) / 4.0]), "turbo")[0]
    assert np.array_equal(pic[35, 46], expected_top)  # the highest point of the cell wins
    assert np.array_equal(pic[10, 10], apply_colormap(np.array([0.5]), "turbo")[0])  # (25, 15)
    background = (pic == np.array(bev.BACKGROUND, np.uint8)).all(axis=2)
    assert (~background).sum() == 2  # the point at x=100 is outside the grid


def test_intensity_coloring() -> None:
    grid = bev.BevGrid(x_range_m=(0.0, 10.0), y_range_m=(-5.0, 5.0), resolution_m=1.0)
    points = np.array([[5.5, 0.5, 0.0, 255.0], [5.6, 0.6, 3.0, 0.0]])
    pic = bev.render_bev(
        points, grid, color_by="intensity", colormap="gray", draw_ego=False, grid_step_m=None
    )
    assert tuple(pic[4, 4]) == (255, 255, 255)


def test_box_footprint_and_heading_pixels() -> None:
    grid = bev.BevGrid(x_range_m=(-10.0, 30.0), y_range_m=(-20.0, 20.0), resolution_m=0.1)
    # a 4 m x 2 m box at (10, 5), heading along +y (yaw 90 degrees)
    box = Box3D(
        center=np.array([10.0, 5.0, 0.0]),
        size=np.array([4.0, 2.0, 1.5]),
        orientation=Quaternion(axis=[0, 0, 1], angle=np.pi / 2),
        frame="ego",
    )
    pic = bev.render_bev(
        None,
        grid,
        boxes=[box],
        box_colors=(255, 0, 0),
        draw_ego=False,
        grid_step_m=None,
        box_thickness=1,
    )
    red = (pic[..., 0] > 100) & (pic[..., 1] < 60)
    # footprint spans x in [9, 11], y in [3, 7]: its side y = 7 at x = 10 is at u = 130, v = 200
    u, v = grid.to_pixels(np.array([[10.0, 7.0]]))[0]
    assert red[int(v) - 1 : int(v) + 2, int(u) - 1 : int(u) + 2].any()
    # the heading goes from the centre (10, 5) towards the front face at (10, 7): along -u
    uc, vc = grid.to_pixels(np.array([[10.0, 6.0]]))[0]
    assert red[int(vc) - 1 : int(vc) + 2, int(uc) - 1 : int(uc) + 2].any()
    # not towards the back (10, 4)
    ub, vb = grid.to_pixels(np.array([[10.0, 4.0]]))[0]
    assert not red[int(vb) - 1 : int(vb) + 2, int(ub) - 1 : int(ub) + 2].any()
    # the box interior (off the heading line) is empty
    ui, vi_ = grid.to_pixels(np.array([[9.5, 4.0]]))[0]
    assert not red[int(vi_), int(ui)]


def test_ego_is_drawn_at_origin() -> None:
    grid = bev.BevGrid(x_range_m=(-10.0, 30.0), y_range_m=(-20.0, 20.0), resolution_m=0.1)
    pic = bev.render_bev(None, grid, grid_step_m=None)
    u, v = grid.to_pixels(np.array([[1.0, 0.0]]))[0]
    assert tuple(pic[int(v), int(u)]) == bev.EGO_COLOR
    u, v = grid.to_pixels(np.array([[1.0, 3.0]]))[0]
    assert tuple(pic[int(v), int(u)]) == bev.BACKGROUND


def test_reference_bevbox_uses_lidar_frame(tmp_path) -> None:
    # lidar frame: x right, y forward. A point at lidar (10, 20) is 20 m ahead, 10 m right.
    points = np.array([[10.0, 20.0, 0.5, 100.0]])
    objects = (
        np.array(["Vehicle"]),
        np.array([[-5.0, 40.0, 0.0]]),
        np.array([[4.0, 2.0, 1.5]]),
        [Quaternion(axis=[0, 0, 1], angle=0.0)],
    )
    picture = bev.BEVBox()(points, objects)
    assert isinstance(picture, bev.BevPicture) and picture.shape == (1000, 1000, 3)
    # forward 20 m -> row (100 - 20) / 0.1 = 800; right 10 m -> col (50 + 10) / 0.1 = 600
    assert tuple(picture[800, 600]) != bev.BACKGROUND
    pic = np.asarray(picture)
    empty = (pic == np.array(bev.BACKGROUND, np.uint8)).all(axis=2) | (
        pic == np.array(bev.GRID_COLOR, np.uint8)
    ).all(axis=2)
    assert (~empty[795:806, 595:606]).sum() == 1
    # box centre at lidar (-5, 40): row 600, col 450; its length (4 m) lies along lidar x -> columns
    # front edge (lidar y = 41 m) is row 590; the box spans lidar x in [-7, -3] -> columns 430..470
    coloured = np.flatnonzero(~empty[590])
    assert coloured.min() >= 428 and coloured.max() <= 472
    path = picture.save(tmp_path / "bev.png")
    import cv2

    read = cv2.imread(path)
    assert read is not None
    back = read[..., ::-1]
    assert np.array_equal(back, np.asarray(picture))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        bev.BevGrid(x_range_m=(5.0, 1.0))
    with pytest.raises(ValueError):
        bev.render_bev(np.zeros((3, 3)), color_by="colour")


def test_ego_pose_moves_the_ego_marker() -> None:
    grid = bev.BevGrid(x_range_m=(-10.0, 30.0), y_range_m=(-20.0, 20.0), resolution_m=0.1)
    pose = np.eye(4)
    pose[:3, 3] = [15.0, -5.0, 0.0]
    pic = bev.render_bev(None, grid, grid_step_m=None, ego_pose=pose)
    u, v = grid.to_pixels(np.array([[16.0, -5.0]]))[0]
    assert tuple(pic[int(v), int(u)]) == bev.EGO_COLOR
    u, v = grid.to_pixels(np.array([[1.0, 0.0]]))[0]
    assert tuple(pic[int(v), int(u)]) == bev.BACKGROUND
