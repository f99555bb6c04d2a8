"""ZodFramesDataset(view=...): the image equals rectify of the decoded image, and a 3D box corner
projected with the returned K lands where points_to_view puts the annotated corner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zod.constants import EGO, AnnotationProject, Camera, Lidar
from zod.dataset import ZodFrames
from zod.geometry import pinhole
from zod.geometry.pinhole import FRONT_VIEW
from zod.geometry.transforms import rotation_matrices_from_quaternions
from zod.geometry.view_boxes import fisheye_boxes_to_view
from zod.sensors.camera import read_image
from zod.torch import ZodFramesDataset

UNIT_CORNERS = 0.5 * np.array(
    [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1],
     [-1, 1, 1]], dtype=np.float64,
)  # fmt: skip


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_view_samples(sample_root: Path, scale: float) -> None:
    dataset = ZodFramesDataset(
        sample_root,
        "full",
        split=None,
        image_scale=scale,
        view=FRONT_VIEW,
        boxes_frame="camera",
        modalities=("image", "objects", "boxes_3d"),
    )
    frames = ZodFrames(str(sample_root), "full")
    view = FRONT_VIEW.scaled(scale)
    checked = 0
    for index in range(len(dataset)):
        sample = dataset[index]
        frame = frames[sample["frame_id"]]
        calibration = frame.calibration
        # the image: rectify of the decode at the dataset's scale
        decoded = read_image(frame.info.get_key_camera_frame().filepath, scale=scale)
        expected = pinhole.rectify(decoded, calibration.cameras[Camera.FRONT], view)
        np.testing.assert_array_equal(sample["image"].permute(1, 2, 0).numpy(), expected)
        k = sample["intrinsics"].numpy().astype(np.float64)
        np.testing.assert_array_equal(k, view.intrinsics.astype(np.float32))
        assert sample["image_size"].tolist() == [view.width_px, view.height_px]
        # corners of the returned (view-frame) boxes, projected with the returned K ...
        boxes = sample["boxes_3d"].numpy().astype(np.float64)[sample["box_3d_valid"].numpy()]
        rotations = rotation_matrices_from_quaternions(boxes[:, 6:])
        corners_view = np.einsum(
            "nij,nkj->nki", rotations, UNIT_CORNERS[None] * boxes[:, None, 3:6]
        )
        corners_view = (corners_view + boxes[:, None, :3]).reshape(-1, 3)
        in_front = corners_view[:, 2] > 0
        hom = corners_view @ k.T
        pixels_k = hom[:, :2] / hom[:, 2:]
        # ... equal points_to_view of the same corners carried back to the lidar frame (1e-6 px)
        corners_camera = corners_view @ FRONT_VIEW.camera_from_view.T
        corners_lidar = calibration.transform_points(corners_camera, Camera.FRONT, Lidar.VELODYNE)
        reference = pinhole.points_to_view(corners_lidar, calibration, view)
        assert np.abs(pixels_k[in_front] - reference.pixels[in_front]).max() < 1e-6
        # ... and the annotated corners (the boxes went through float32: 1e-3 px)
        objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        annotated = np.concatenate([o.box3d.corners for o in objects if o.box3d is not None])
        projected = pinhole.points_to_view(annotated, calibration, view)
        assert np.abs(pixels_k[in_front] - projected.pixels[in_front]).max() < 1e-3
        # the view's pose: K @ view_from_ego projects ego points like points_to_view(EGO)
        ego_from_view = sample["ego_from_camera"].numpy().astype(np.float64)
        points_ego = calibration.transform_points(annotated, Lidar.VELODYNE, EGO)
        in_view = ego_from_view[:3, :3].T @ (points_ego - ego_from_view[:3, 3]).T
        hom_ego = (k @ in_view).T
        np.testing.assert_allclose(
            hom_ego[:, :2] / hom_ego[:, 2:], projected.pixels, atol=2e-3 / scale
        )
        # 2D boxes: the annotated fisheye boxes mapped into the view
        mapped = fisheye_boxes_to_view(np.array([o.box2d.xyxy for o in objects]), calibration, view)
        np.testing.assert_array_equal(sample["in_view"].numpy(), mapped.visible)
        np.testing.assert_allclose(
            sample["boxes_2d"].numpy()[mapped.visible],
            mapped.clipped_xyxy[mapped.visible],
            atol=1e-3,
        )
        checked += int(in_front.sum())
    assert checked > 100
