"""Box2D, Box3D and the vectorized Box3DSet: known geometry and agreement between the two paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pyquaternion import Quaternion

from zod.annotations.object_features import box_set_from_features
from zod.annotations.objects import (
    box_set_from_object_annotations,
    object_annotations_from_box_set,
)
from zod.calibration import Calibration
from zod.constants import EGO, Camera, Lidar
from zod.geometry import fisheye
from zod.geometry.box import Box2D, Box3D
from zod.geometry.box_set import Box3DSet
from zod.geometry.transforms import make_transforms

CAMERA_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
LIDAR_AXES = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
DISTORTION = np.array([-0.035, 0.004, -0.0015, 0.0001])
K = np.array([[1100.0, 0, 1920.0, 0], [0, 1100.0, 1090.0, 0], [0, 0, 1, 0]])


def _calib() -> Calibration:
    return Calibration.from_dict(
        {
            "FC": {
                "extrinsics": make_transforms(CAMERA_AXES, np.array([1.9, 0.0, 1.45])).tolist(),
                "intrinsics": K.tolist(),
                "distortion": DISTORTION.tolist(),
                "undistortion": fisheye.fit_undistortion(DISTORTION).tolist(),
                "image_dimensions": [3848, 2168],
                "field_of_view": [120.0, 68.0],
                "lidar_extrinsics": make_transforms(
                    LIDAR_AXES, np.array([1.25, 0.0, 1.95])
                ).tolist(),
            }
        }
    )


def test_box3d_corners_in_spec_order() -> None:
    box = Box3D(np.array([10.0, 2.0, 1.0]), np.array([4.0, 2.0, 1.5]), Quaternion(), Lidar.VELODYNE)
    expected = np.array(
        [
            [8, 1, 0.25],
            [12, 1, 0.25],
            [12, 3, 0.25],
            [8, 3, 0.25],
            [8, 1, 1.75],
            [12, 1, 1.75],
            [12, 3, 1.75],
            [8, 3, 1.75],
        ]
    )
    np.testing.assert_allclose(box.corners, expected)
    np.testing.assert_allclose(box.corners_bev, expected[:4, :2])
    # rotated 90 degrees about z: the length now runs along y
    turned = Box3D(
        np.zeros(3), np.array([4.0, 2.0, 2.0]), Quaternion(axis=[0, 0, 1], angle=np.pi / 2), EGO
    )
    np.testing.assert_allclose(turned.corners[0], [1.0, -2.0, -1.0], atol=1e-12)
    assert turned.yaw == pytest.approx(np.pi / 2)
    assert turned.points_in_box(np.array([[0.9, 1.9, 0.0], [1.1, 0.0, 0.0]])).tolist() == [
        True,
        False,
    ]


def test_box3d_convert_round_trip_and_projection() -> None:
    calib = _calib()
    # a car 20 m ahead of the camera in ego, expressed in the lidar frame
    center_ego = np.array([21.9, 0.0, 1.45])
    center_lidar = calib.transform_points(center_ego[None], EGO, Lidar.VELODYNE)[0]
    box = Box3D(
        center_lidar,
        np.array([4.5, 1.8, 1.5]),
        Quaternion(axis=[0, 0, 1], angle=0.3),
        Lidar.VELODYNE,
    )
    original = box.copy()
    cam_box = box.copy().convert_to(Camera.FRONT, calib)
    np.testing.assert_allclose(cam_box.center, [0.0, 0.0, 20.0], atol=1e-12)
    # corners transform like points
    np.testing.assert_allclose(
        cam_box.corners,
        calib.transform_points(original.corners, Lidar.VELODYNE, Camera.FRONT),
        atol=1e-12,
    )
    back = cam_box.copy().convert_to(Lidar.VELODYNE, calib)
    assert back == original
    pixels = cam_box.project_into_camera(calib)
    assert pixels.shape == (9, 2)
    np.testing.assert_allclose(pixels[0], [1920.0, 1090.0], atol=1e-9)
    np.testing.assert_allclose(pixels[1:], fisheye.project(cam_box.corners, K, DISTORTION))
    with pytest.raises(ValueError, match="convert_to"):
        box.project_into_camera(calib)


def test_box2d_basics_crop_and_frustum() -> None:
    box = Box2D.from_points([[10, 20], [50, 20], [50, 80], [10, 80]], Camera.FRONT)
    assert box.xyxy.dtype == np.float32
    np.testing.assert_allclose(box.xywh, [10, 20, 40, 60])
    assert box.area == 2400.0
    np.testing.assert_allclose(box.center, [30, 50])
    np.testing.assert_allclose(box.corners, [[10, 20], [50, 20], [50, 80], [10, 80]])
    image = np.arange(100 * 100).reshape(100, 100)
    crop, pads = box.crop_from_image(image, padding=(5, 30))
    assert crop.shape == (100, 50)  # y from max(0, -10) to min(100, 110); x from 5 to 55
    assert pads == (5, 20, 5, 20)
    assert crop[0, 0] == image[0, 5]
    crop, pads = box.crop_from_image(image, padding_factor=0.1)
    assert crop.shape == (72, 48) and pads == (4, 6, 4, 6)
    with pytest.raises(ValueError):
        box.crop_from_image(image, padding=(1, 1), padding_factor=0.1)
    assert box.points_in_box(np.array([[10, 20], [9, 50]])).tolist() == [True, False]
    # frustum: the 4 corners at max depth lie on the rays of the corners
    calib = _calib()
    box = Box2D(np.array([1500.0, 900.0, 2300.0, 1300.0]), Camera.FRONT)
    frustum = box.get_3d_frustum(calib, max_depth=100.0)
    assert frustum.shape == (8, 3)
    np.testing.assert_allclose(frustum[:4], 0.0)
    np.testing.assert_allclose(np.linalg.norm(frustum[4:], axis=1), 100.0)
    near_far = box.get_3d_frustum(calib, min_depth=2.0, max_depth=50.0)
    np.testing.assert_allclose(np.linalg.norm(near_far, axis=1), [2.0] * 4 + [50.0] * 4)
    reproj = fisheye.project(near_far, K, DISTORTION)
    np.testing.assert_allclose(reproj[:4], box.corners, atol=0.5)  # the fitted inverse polynomial
    in_ego = box.get_3d_frustum(calib, frame=EGO, min_depth=2.0, max_depth=50.0)
    np.testing.assert_allclose(in_ego, calib.transform_points(near_far, Camera.FRONT, EGO))


def _features(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    feats = []
    for i in range(n):
        yaw = rng.uniform(-np.pi, np.pi)
        q = Quaternion(axis=[0, 0, 1], angle=yaw) * Quaternion(
            axis=[1, 0, 0], angle=rng.normal(0, 0.02)
        )
        props: dict[str, Any] = {
            "annotation_uuid": f"uuid-{i}",
            "class": ["Vehicle", "Pedestrian", "Inconclusive", "TrafficSign"][i % 4],
            "type": ["Car", None, None, None][i % 4],
            "unclear": False,
            "occlusion_ratio": "None",
            "with_rider": "False",
        }
        if i % 5 != 4:  # every fifth object is 2D only
            props |= {
                "location_3d": {
                    "type": "Point",
                    "coordinates": list(rng.uniform([-20, 5, -1], [20, 80, 1])),
                },
                "size_3d_length": rng.uniform(0.5, 5),
                "size_3d_width": rng.uniform(0.5, 2),
                "size_3d_height": rng.uniform(1, 2),
                "orientation_3d_qw": q.w,
                "orientation_3d_qx": q.x,
                "orientation_3d_qy": q.y,
                "orientation_3d_qz": q.z,
            }
        x0, y0 = rng.uniform(0, 3000), rng.uniform(0, 2000)
        geometry = {
            "type": "MultiPoint",
            "coordinates": [[x0, y0], [x0 + 50, y0], [x0 + 50, y0 + 30], [x0, y0 + 30]],
        }
        feats.append({"geometry": geometry, "properties": props})
    return feats


def test_box_set_from_features_agrees_with_box3d() -> None:
    calib = _calib()
    feats = _features(40)
    boxes = box_set_from_features(feats)
    assert len(boxes) == 32
    assert boxes.frame == Lidar.VELODYNE
    assert list(boxes.attributes["feature_index"][:5]) == [0, 1, 2, 3, 5]
    assert boxes.classes[2] == "Unclear" and boxes.unclear[2] and not boxes.unclear[0]
    np.testing.assert_allclose(boxes.boxes2d[0, 2:] - boxes.boxes2d[0, :2], [50, 30])
    singles = []
    for f in feats:
        p = f["properties"]
        if "location_3d" in p:
            q = Quaternion(
                p["orientation_3d_qw"],
                p["orientation_3d_qx"],
                p["orientation_3d_qy"],
                p["orientation_3d_qz"],
            )
            size = [p["size_3d_length"], p["size_3d_width"], p["size_3d_height"]]
            singles.append(
                Box3D(np.array(p["location_3d"]["coordinates"]), np.array(size), q, Lidar.VELODYNE)
            )
    np.testing.assert_allclose(boxes.corners(), np.array([b.corners for b in singles]), atol=1e-12)
    np.testing.assert_allclose(boxes.yaw, [b.yaw for b in singles], atol=1e-12)
    cam = boxes.convert_to(Camera.FRONT, calib)
    cam_singles = [b.copy().convert_to(Camera.FRONT, calib) for b in singles]
    np.testing.assert_allclose(cam.centers_m, [b.center for b in cam_singles], atol=1e-12)
    np.testing.assert_allclose(cam.corners(), [b.corners for b in cam_singles], atol=1e-9)
    proj = boxes.project(calib)
    assert proj.pixels.shape == (32, 9, 2)
    np.testing.assert_allclose(
        proj.pixels, [b.project_into_camera(calib) for b in cam_singles], atol=1e-6
    )
    # boxes ahead of the camera are visible, a box behind it is not
    assert proj.visible.any()
    behind = Box3DSet([[0.0, -10.0, 0.0]], [[4.0, 2.0, 1.5]], [[1.0, 0, 0, 0]], Lidar.VELODYNE)
    assert not behind.project(calib).visible[0]
    # round trip through Box3D objects
    again = Box3DSet.from_boxes(boxes.to_boxes())
    np.testing.assert_allclose(again.corners(), boxes.corners(), atol=1e-12)
    np.testing.assert_allclose(boxes.bev_corners(), boxes.corners()[:, :4, :2])


def test_box_set_points_in_boxes_and_filters() -> None:
    boxes = Box3DSet(
        centers_m=[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.5, 0.0, 0.0]],
        sizes_lwh_m=[[2.0, 2.0, 2.0], [4.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
        quaternions_wxyz=[
            [1.0, 0, 0, 0],
            Quaternion(axis=[0, 0, 1], angle=np.pi / 2).q,
            [1.0, 0, 0, 0],
        ],
        frame=EGO,
        classes=["Vehicle", "Pedestrian", "Vehicle"],
        unclear=[False, False, True],
    )
    pts = np.array(
        [
            [0.0, 0.0, 0.0],  # boxes 0 and 2: the lowest index wins
            [1.4, 0.0, 0.0],  # box 2 only
            [10.0, 1.9, 0.0],  # box 1 (rotated: length along y)
            [11.9, 0.0, 0.0],  # outside box 1 (its width is along x now)
            [50.0, 50.0, 50.0],
            [1.0, 1.0, 1.0],  # on the border of box 0
        ]
    )
    np.testing.assert_array_equal(boxes.points_in_boxes(pts), [0, 2, 1, -1, -1, 0])
    np.testing.assert_array_equal(boxes.count_points(pts), [2, 1, 1])
    assert len(boxes.filter_classes(["Vehicle"])) == 2
    assert len(boxes.filter_distance(5.0)) == 2
    assert len(boxes.filter_unclear()) == 2
    assert list(boxes[np.array([True, False, True])].classes) == ["Vehicle", "Vehicle"]
    assert len(Box3DSet.empty()) == 0
    np.testing.assert_array_equal(Box3DSet.empty().points_in_boxes(pts), [-1] * 6)


def test_points_in_boxes_many_points_matches_per_box_test() -> None:
    feats = _features(25, seed=3)
    boxes = box_set_from_features(feats)
    rng = np.random.default_rng(1)
    pts = np.concatenate(
        [
            rng.uniform([-25, 0, -3], [25, 85, 3], (20000, 3)),
            boxes.centers_m + rng.normal(0, 0.3, boxes.centers_m.shape),
        ]
    )
    idx = boxes.points_in_boxes(pts)
    singles = boxes.to_boxes()
    inside = np.array([b.points_in_box(pts) for b in singles])  # (N, M)
    first = np.where(inside.any(axis=0), inside.argmax(axis=0), -1)
    np.testing.assert_array_equal(idx, first)
    assert (idx >= 0).sum() >= len(boxes)


def test_box_set_subclasses_and_object_annotation_round_trip() -> None:
    from zod.annotations.objects import ObjectAnnotation

    feats = _features(20, seed=5)
    feats[0]["properties"]["artificial"] = True
    feats[1]["properties"]["class"] = "VulnerableVehicle"
    feats[1]["properties"]["type"] = "Bicycle"
    boxes = box_set_from_features(feats)
    objects = [ObjectAnnotation.from_dict(f) for f in feats]
    with_3d = [o for o in objects if o.box3d is not None]
    assert list(boxes.subclasses) == [o.subclass for o in with_3d]
    assert boxes.subclasses[0] == "Vehicle_Artificial"
    assert boxes.subclasses[1] == "VulnerableVehicle_NoRider"  # with_rider "False"
    assert list(boxes.uuids) == [o.uuid for o in with_3d]
    from_objects = box_set_from_object_annotations(objects)
    np.testing.assert_allclose(from_objects.corners(), boxes.corners(), atol=1e-12)
    np.testing.assert_allclose(from_objects.boxes2d, boxes.boxes2d, atol=1e-3)
    assert list(from_objects.subclasses) == list(boxes.subclasses)
    back = object_annotations_from_box_set(boxes)
    assert len(back) == len(with_3d)
    for ours, theirs in zip(back, with_3d):
        assert ours.box3d == theirs.box3d
        assert ours.box2d == theirs.box2d
        assert (ours.name, ours.uuid, ours.unclear, ours.subclass) == (
            theirs.name,
            theirs.uuid,
            theirs.unclear,
            theirs.subclass,
        )


def test_box_set_malformed_features_raise_format_error() -> None:
    from zod.errors import FormatError

    feats = _features(3)
    del feats[0]["properties"]["size_3d_width"]
    with pytest.raises(FormatError, match="size_3d_width") as info:
        box_set_from_features(feats, source="object_detection.json")
    assert "object_detection.json" in str(info.value)
    feats = _features(3)
    feats[1]["properties"]["location_3d"] = {"type": "Point", "coordinates": [1.0, "x", 2.0]}
    with pytest.raises(FormatError):
        box_set_from_features(feats)
    assert len(box_set_from_features([])) == 0
