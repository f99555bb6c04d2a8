"""zod.geometry.view_boxes on hand-computed cases: a box in front, one cut at the near plane,
one behind, none; a fisheye box at the principal point maps to the view centre."""

from __future__ import annotations

import itertools

import numpy as np

from zod.geometry.pinhole import FRONT_VIEW
from zod.geometry.view_boxes import fisheye_boxes_to_view, project_corners_to_view

F = FRONT_VIEW.focal_px
CX, CY = FRONT_VIEW.principal_point
W, H = FRONT_VIEW.width_px, FRONT_VIEW.height_px


def _cuboid(x: tuple[float, float], y: tuple[float, float], z: tuple[float, float]) -> np.ndarray:
    """(8, 3) corners of an axis-aligned box in the view frame (any order is fine for bounds)."""
    return np.array(list(itertools.product(x, y, z)), dtype=np.float64)


def test_projected_boxes() -> None:
    corners = np.stack(
        [
            _cuboid((-1, 1), (-0.5, 0.5), (5, 7)),  # in front
            _cuboid((1, 2), (-0.5, 0.5), (-1, 3)),  # reaches behind the camera
            _cuboid((-1, 1), (-1, 1), (-9, -5)),  # behind
        ]
    )
    boxes = project_corners_to_view(corners, FRONT_VIEW)
    np.testing.assert_allclose(
        boxes.boxes_xyxy[0], [CX - F / 5, CY - 0.5 * F / 5, CX + F / 5, CY + 0.5 * F / 5]
    )
    np.testing.assert_array_equal(boxes.clipped_xyxy[0], boxes.boxes_xyxy[0])
    assert boxes.truncation[0] == 0.0 and boxes.visible[0]
    # cut at z = 0.1 m: the near edge lands at x = 1 / 0.1 (far off the image), the far one at
    # the corner (1, z = 3); clipped to the image's right, top and bottom edges
    np.testing.assert_allclose(
        boxes.boxes_xyxy[1], [CX + F / 3, CY - 5 * F, CX + 20 * F, CY + 5 * F]
    )
    np.testing.assert_allclose(boxes.clipped_xyxy[1], [CX + F / 3, 0, W - 1, H - 1])
    inside = (W - 1 - CX - F / 3) * (H - 1)
    assert abs(boxes.truncation[1] - (1 - inside / ((20 * F - F / 3) * 10 * F))) < 1e-12
    assert np.isnan(boxes.boxes_xyxy[2]).all() and not boxes.visible[2]
    assert boxes.truncation[2] == 1.0
    empty = project_corners_to_view(np.zeros((0, 8, 3)), FRONT_VIEW)
    assert empty.boxes_xyxy.shape == (0, 4) and empty.visible.shape == (0,)


class _Camera:
    intrinsics = np.array([[1900.0, 0, 1919.7], [0, 1900.0, 1090.7], [0, 0, 1]])
    distortion = np.array([-0.035, 0.004, -0.0015, 0.0001])
    image_dimensions = np.array([3848, 2168])


def test_fisheye_box_at_the_principal_point_maps_to_the_view_centre() -> None:
    # 2 px around the principal point; the view has ~half the focal length there
    box = np.array([[1918.7, 1089.7, 1920.7, 1091.7]])
    mapped = fisheye_boxes_to_view(box, _Camera(), FRONT_VIEW)
    np.testing.assert_allclose(
        mapped.clipped_xyxy[0], [CX - F / 1900, CY - F / 1900, CX + F / 1900,
                                 CY + F / 1900], atol=1e-5,
    )  # fmt: skip
    assert mapped.visible[0] and mapped.truncation[0] == 0.0
    # a box at the fisheye's left edge is outside the 90-degree view
    outside = fisheye_boxes_to_view(np.array([[0.0, 1000, 50, 1100]]), _Camera(), FRONT_VIEW)
    assert not outside.visible[0]
    assert fisheye_boxes_to_view(np.zeros((0, 4)), _Camera(), FRONT_VIEW).visible.shape == (0,)
