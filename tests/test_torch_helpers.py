"""Pure helpers of zod.torch.tensors: scaled intrinsics, box transforms, image tensors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from zod.geometry.fisheye import project
from zod.torch.tensors import (
    check_scale,
    image_to_tensor,
    rows_from_columns,
    scale_intrinsics,
    scale_pixels,
)

K = np.array([[1960.0, 0.0, 1923.5, 0.0], [0.0, 1955.0, 1083.2, 0.0], [0.0, 0.0, 1.0, 0.0]])
DISTORTION = np.array([-0.05, 0.01, -0.002, 0.0003])


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25, 0.125])
def test_scaled_intrinsics_reproject_to_scaled_pixels(scale: float) -> None:
    rng = np.random.default_rng(1)
    points = np.column_stack(
        [rng.uniform(-20, 20, 200), rng.uniform(-5, 5, 200), rng.uniform(0.5, 250, 200)]
    )
    full = project(points, K, DISTORTION)
    scaled = project(points, scale_intrinsics(K, scale), DISTORTION)
    np.testing.assert_allclose(scaled, scale_pixels(full, scale), atol=1e-9)
    # hand value: the principal point of a 1/2 image
    assert scale_intrinsics(K, 0.5)[0, 2] == pytest.approx((1923.5 + 0.5) * 0.5 - 0.5)
    assert scale_intrinsics(K, 0.5)[1, 1] == pytest.approx(1955.0 / 2)


@pytest.mark.parametrize(
    "flag, scale", [(cv2.IMREAD_REDUCED_COLOR_2, 0.5), (cv2.IMREAD_REDUCED_COLOR_4, 0.25)]
)
def test_pixel_convention_matches_reduced_jpeg_decode(flag: int, scale: float) -> None:
    """A bright blob at full-res centre c appears at (c + 0.5) s - 0.5 in the reduced decode."""
    height, width = 256, 384
    cx, cy = 201.0, 117.0
    yy, xx = np.mgrid[0:height, 0:width]
    blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 6.0**2))
    image = np.repeat((blob * 250).astype(np.uint8)[..., None], 3, axis=2)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    decoded = cv2.imdecode(jpeg, flag)
    assert decoded is not None
    reduced = decoded[..., 0].astype(np.float64)
    assert reduced.shape == (height * scale, width * scale)
    ry, rx = np.mgrid[0 : reduced.shape[0], 0 : reduced.shape[1]]
    weight = reduced / reduced.sum()
    centroid = np.array([(rx * weight).sum(), (ry * weight).sum()])
    expected = scale_pixels(np.array([cx, cy]), scale)
    naive = np.array([cx, cy]) * scale
    assert np.abs(centroid - expected).max() < 0.05
    assert np.abs(centroid - naive).max() > 0.2  # the naive u * s convention is measurably off


def test_check_scale() -> None:
    assert check_scale(0.5) == 0.5 and check_scale(1 / 8) == 0.125
    with pytest.raises(ValueError, match="image_scale"):
        check_scale(0.3)


def test_image_to_tensor_dtypes() -> None:
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    image[..., 0] = 255
    t = image_to_tensor(image)
    assert (
        t.shape == (3, 4, 6) and t.dtype == torch.uint8 and t[0].eq(255).all() and t[1].eq(0).all()
    )
    f = image_to_tensor(image, torch.float32)
    assert f.dtype == torch.float32 and f[0].eq(1.0).all()
    n = image_to_tensor(image, torch.float32, normalize=True)
    assert n[0, 0, 0].item() == pytest.approx((1.0 - 0.337) / 0.160, rel=1e-5)
    assert n[1, 0, 0].item() == pytest.approx((0.0 - 0.345) / 0.180, rel=1e-5)
    with pytest.raises(ValueError):
        image_to_tensor(image, torch.uint8, normalize=True)


@pytest.mark.parametrize("columns", [1, 3, 4, 5])
def test_rows_from_columns_interleaves_column_major_points(columns: int) -> None:
    rng = np.random.default_rng(columns)
    column_major = np.asfortranarray(rng.normal(size=(1001, columns)).astype(np.float32))
    rows = rows_from_columns(column_major)
    assert rows.flags.c_contiguous and rows.dtype == np.float32 and rows.shape == (1001, columns)
    assert np.array_equal(rows, column_major)  # exact: a copy, no arithmetic
    # columns each contiguous but further apart than N (the lidar reader after ego removal)
    spaced = np.asfortranarray(rng.normal(size=(1500, columns)).astype(np.float32))[:1001]
    assert spaced.strides[0] == 4 and (columns == 1 or not spaced.flags.f_contiguous)
    assert np.array_equal(rows_from_columns(spaced), spaced)
    row_major = np.ascontiguousarray(column_major)
    assert np.array_equal(rows_from_columns(row_major), row_major)
    assert rows_from_columns(np.asfortranarray(np.zeros((0, columns), np.float64))).shape == (
        0,
        columns,
    )
    assert np.array_equal(
        rows_from_columns(column_major.astype(np.float64)), column_major
    )  # cast to float32


def test_helpers_stay_importable_from_datasets() -> None:
    from zod.torch import datasets, tensors

    for name in ("check_scale", "image_to_tensor", "rows_from_columns", "scale_pixels"):
        assert getattr(datasets, name) is getattr(tensors, name)
