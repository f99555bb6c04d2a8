"""Pinhole views on ZodFrame / ZodSequence: get_image(view=...) / get_view_image equal rectify of
the decoded image; project_to_view equals points_to_view; the scaled view's K is exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zod.constants import EGO, Camera, Lidar
from zod.dataset import ZodFrames, ZodSequences
from zod.frame import ZodFrame
from zod.geometry import pinhole
from zod.geometry.pinhole import FRONT_VIEW, THREE_VIEW_RIG


@pytest.fixture(scope="module")
def frame(sample_root: Path) -> ZodFrame:
    frames = ZodFrames(str(sample_root), "mini")
    return frames[sorted(frames.get_all_ids())[0]]


def test_view_images_are_the_rectified_decodes(frame: ZodFrame) -> None:
    camera = frame.calibration.cameras[Camera.FRONT]
    full = frame.get_image(view=FRONT_VIEW)
    assert full.shape == (1080, 1920, 3)
    np.testing.assert_array_equal(full, pinhole.rectify(frame.get_image(), camera, FRONT_VIEW))
    np.testing.assert_array_equal(full, frame.get_view_image(FRONT_VIEW))
    half = frame.get_image(scale=0.5, view=FRONT_VIEW)
    assert half.shape == (540, 960, 3)
    expected = pinhole.rectify(frame.get_image(scale=0.5), camera, FRONT_VIEW.scaled(0.5))
    np.testing.assert_array_equal(half, expected)
    left = THREE_VIEW_RIG[0]
    np.testing.assert_array_equal(
        frame.to_view(frame.get_image(scale=0.25), left),
        pinhole.rectify(frame.get_image(scale=0.25), camera, left.scaled(0.25)),
    )
    # the reference-compatible call is unchanged
    assert frame.get_image().shape == (camera.image_dimensions[1], camera.image_dimensions[0], 3)


def test_project_to_view_and_the_scaled_intrinsics(frame: ZodFrame) -> None:
    points = frame.get_lidar()[0].points[::50]
    projection = frame.project_to_view(points, FRONT_VIEW)
    expected = pinhole.points_to_view(points, frame.calibration, FRONT_VIEW)
    np.testing.assert_array_equal(projection.pixels, expected.pixels)
    assert projection.in_image.sum() > 100
    points_ego = frame.calibration.transform_points(points, Lidar.VELODYNE, EGO)
    from_ego = frame.project_to_view(points_ego, FRONT_VIEW, from_frame=EGO)
    ok = projection.in_front
    np.testing.assert_allclose(from_ego.pixels[ok], projection.pixels[ok], atol=1e-6)
    # K of the half-size view = the full view's pixels carried by (u + 0.5) / 2 - 0.5
    k_half = frame.view_intrinsics(FRONT_VIEW, 0.5)
    view_points = pinhole.camera_points_to_view(
        frame.calibration.transform_points(points, Lidar.VELODYNE, Camera.FRONT), FRONT_VIEW
    )[ok]
    hom = view_points @ k_half.T
    np.testing.assert_allclose(
        hom[:, :2] / hom[:, 2:], (projection.pixels[ok] + 0.5) * 0.5 - 0.5, atol=1e-9
    )


def test_sequences_have_views_too(sample_root: Path) -> None:
    sequences = ZodSequences(str(sample_root), "mini")
    sequence = sequences[sorted(sequences.get_all_ids())[0]]
    camera = sequence.calibration.cameras[Camera.FRONT]
    image = sequence.info.get_camera_frames()[-1].read(scale=0.5)
    np.testing.assert_array_equal(
        sequence.to_view(image, FRONT_VIEW),
        pinhole.rectify(image, camera, FRONT_VIEW.scaled(0.5)),
    )
    assert sequence.get_image(view=FRONT_VIEW).shape == (1080, 1920, 3)
