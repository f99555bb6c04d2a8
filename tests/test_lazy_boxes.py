"""Lazy boxes of the reference-compatible API: Box3D keeps its rotation as floats and makes the
pyquaternion Quaternion when ``orientation`` is read; ObjectAnnotation's boxes are built on
first read; get_annotation goes through a typed decoder. Behaviour must stay the reference's."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyquaternion import Quaternion

from zod import ZodFrames
from zod.annotations.object_decode import decode_object_annotations
from zod.annotations.objects import ObjectAnnotation, object_annotations_from_features
from zod.calibration import Calibration
from zod.constants import EGO, AnnotationProject, Camera, Lidar
from zod.errors import FormatError
from zod.geometry.box import Box3D
from zod.geometry.fisheye import project
from zod.geometry.pose import Pose
from zod.sample.rig import make_rig

SCRIPT = Path(__file__).parent / "oracle" / "reference_api.py"
OD = AnnotationProject.OBJECT_DETECTION


def _run(python: Path | str, root: Path, tmp_path: Path, isolated: bool) -> Any:
    out = subprocess.run(
        [str(python), *(["-I"] if isolated else []), str(SCRIPT), str(root)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def _same(x: Any, y: Any, path: str, out: list[str]) -> None:
    """Recursive comparison; floats to 1e-12 relative (signs included: q is not -q here)."""
    if isinstance(x, dict) and isinstance(y, dict):
        if set(x) != set(y):
            out.append(f"{path}: keys {sorted(set(x) ^ set(y))}")
        for key in set(x) & set(y):
            _same(x[key], y[key], f"{path}/{key}", out)
    elif isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            out.append(f"{path}: length {len(x)} != {len(y)}")
        for i, (u, v) in enumerate(zip(x, y)):
            _same(u, v, f"{path}[{i}]", out)
    elif isinstance(x, float) and isinstance(y, float):
        if not math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12):
            out.append(f"{path}: {x!r} != {y!r}")
    elif x != y:
        out.append(f"{path}: {x!r} != {y!r}")


def test_per_object_api_equals_the_reference(
    sample_root: Path, oracle_python: Path, tmp_path: Path
) -> None:
    reference = _run(oracle_python, sample_root, tmp_path, isolated=True)
    ours = _run(sys.executable, sample_root, tmp_path, isolated=False)
    n_boxes = sum(o["box3d"] is not None for k, v in ours.items() if k != "hand" for o in v)
    assert n_boxes > 20 and len(ours["hand"]) == 4
    # the hand-made boxes really exercise pyquaternion's in-place normalisation
    assert ours["hand"][0]["q_read"] == [2.0, 0.0, 0.0, 0.0]
    assert ours["hand"][0]["q_after_corners"] == [1.0, 0.0, 0.0, 0.0]
    problems: list[str] = []
    _same(reference, ours, "", problems)
    assert not problems, "\n".join(problems[:30])


@pytest.fixture(scope="module")
def calib() -> Calibration:
    return Calibration.from_dict(make_rig().calibration_json(with_radar=False))


def _box() -> Box3D:
    return Box3D(
        np.array([2.0, 25.0, 0.3]),
        np.array([4.5, 1.9, 1.6]),
        Quaternion(axis=[0.1, 0.2, 1.0], angle=0.7),
        Lidar.VELODYNE,
    )


def test_box3d_stays_a_dataclass_with_a_quaternion() -> None:
    box = _box()
    assert [f.name for f in dataclasses.fields(Box3D)] == ["center", "size", "orientation", "frame"]
    assert isinstance(box.orientation, Quaternion)
    assert box.orientation is box.orientation  # built once, then it is the box's rotation
    moved = dataclasses.replace(box, frame=EGO)
    assert moved.frame == EGO and moved.orientation == box.orientation
    assert "Quaternion" in repr(box) or "orientation=" in repr(box)
    as_dict = dataclasses.asdict(box)
    assert isinstance(as_dict["orientation"], Quaternion)


def test_setting_orientation(calib: Calibration) -> None:
    box = _box()
    turn = Quaternion(axis=[0, 0, 1], angle=np.pi / 2)
    box.orientation = turn
    assert box.orientation is turn
    np.testing.assert_allclose(box.rotation_matrix, turn.rotation_matrix, atol=1e-15)
    half = np.array([2.25, 0.95, 0.8])
    np.testing.assert_allclose(box.corners[6] - box.center, turn.rotate(half), atol=1e-12)
    box.orientation = [0.0, 0.0, 0.0, 1.0]  # a sequence is made a Quaternion (as before)
    assert isinstance(box.orientation, Quaternion)
    np.testing.assert_allclose(box.orientation.q, [0, 0, 0, 1])
    np.testing.assert_allclose(box.corners[6] - box.center, [-2.25, -0.95, 0.8], atol=1e-12)
    # a change to the Quaternion that was read is the box's rotation too
    box.orientation.q = np.array([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(box.corners[6] - box.center, half, atol=1e-12)
    # convert_to makes a new rotation (the reference's product makes a new Quaternion)
    held = box.orientation
    box.convert_to(Camera.FRONT, calib)
    assert box.orientation is not held and held.q.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_convert_and_project_agree_with_the_general_path(calib: Calibration) -> None:
    box = _box()
    transform = calib.get_transform(Lidar.VELODYNE, Camera.FRONT)
    by_matrix = _box().transform(transform, Camera.FRONT)
    box.convert_to(Camera.FRONT, calib)
    np.testing.assert_allclose(box.center, by_matrix.center, atol=1e-12)
    assert box == by_matrix
    cam = calib.cameras[Camera.FRONT]
    points = np.vstack([box.center[None], box.corners])
    expected = project(points, cam.intrinsics, cam.distortion)
    pixels = box.project_into_camera(calib)
    assert pixels.shape == (9, 2) and pixels.flags.c_contiguous
    np.testing.assert_allclose(pixels, expected, atol=1e-9)
    # a point on the optical axis lands on the principal point, as fisheye.project does
    on_axis = Box3D(np.array([0.0, 0.0, 10.0]), np.ones(3), Quaternion(), Camera.FRONT)
    np.testing.assert_allclose(
        on_axis.project_into_camera(calib)[0], cam.intrinsics[:2, 2], atol=1e-12
    )
    with pytest.raises(ValueError, match="convert_to a Camera"):
        _box().project_into_camera(calib)


def test_cached_transforms_follow_replaced_extrinsics(calib: Calibration) -> None:
    calib = copy.deepcopy(calib)
    assert calib.transform_parts(EGO, Camera.FRONT) is calib.transform_parts(EGO, Camera.FRONT)
    before = _box().convert_to(EGO, calib).center
    lidar = calib.lidars[Lidar.VELODYNE]
    shifted = lidar.extrinsics.transform.copy()
    shifted[:3, 3] += [1.0, 2.0, 3.0]
    lidar.extrinsics = Pose(shifted)
    after = _box().convert_to(EGO, calib).center
    np.testing.assert_allclose(after - before, [1.0, 2.0, 3.0], atol=1e-12)
    camera = calib.cameras[Camera.FRONT]
    box = _box().convert_to(Camera.FRONT, calib)
    first = box.project_into_camera(calib)
    camera.intrinsics = camera.intrinsics.copy()
    camera.intrinsics[0, 2] += 10.0
    np.testing.assert_allclose(box.project_into_camera(calib)[:, 0], first[:, 0] + 10.0)


def test_pickle_copy_and_equality() -> None:
    box = _box()
    for clone in (pickle.loads(pickle.dumps(box)), copy.deepcopy(box), box.copy()):
        assert clone == box and clone is not box
        assert clone.orientation == box.orientation
    box.orientation  # noqa: B018 - materialised: pickles the same
    assert pickle.loads(pickle.dumps(box)) == box
    # a pickle made when the Quaternion was a plain field still loads
    old = Box3D.__new__(Box3D)
    old.__setstate__(
        {
            "center": box.center,
            "size": box.size,
            "orientation": box.orientation,
            "frame": box.frame,
        }
    )
    assert old == box
    flipped = box.copy()
    flipped.orientation = -box.orientation  # -q is the same rotation
    assert flipped == box
    turned = box.copy()
    turned.orientation = Quaternion(axis=[0, 0, 1], angle=0.1) * box.orientation
    assert turned != box


def _features() -> list[dict[str, Any]]:
    """Object features with the quirks of spec §11."""

    def feature(props: dict[str, Any], corners: Any = None) -> dict[str, Any]:
        coords = corners or [[10.0, 20.0], [110.5, 20.0], [110.5, 70.25], [10.0, 70.25]]
        return {"geometry": {"type": "MultiPoint", "coordinates": coords}, "properties": props}

    box = {
        "location_3d": {"type": "Point", "coordinates": [1.0, 30.0, 0.5]},
        "size_3d_length": 4,  # an integer
        "size_3d_width": 1.8,
        "size_3d_height": 1.5,
        "orientation_3d_qw": 0.9,  # not a unit quaternion: kept as written
        "orientation_3d_qx": 0.0,
        "orientation_3d_qy": 0.0,
        "orientation_3d_qz": 0.3,
    }
    return [
        feature(
            {"class": "Vehicle", "type": "Car", "unclear": False, "annotation_uuid": "a"} | box
        ),
        feature({"class": "Vehicle", "object_type": "Truck", "annotation_uuid": "b"}),
        feature({"class": "Inconclusive", "unclear": "False", "annotation_uuid": "c"}),
        feature(
            {"class": "VulnerableVehicle", "type": "Bicycle", "with_rider": "False"}
            | box
            | {"location_3d": [2.0, 40.0, 0.2]}  # a bare [x, y, z]
        ),
        feature(
            {
                "class": "TrafficSign",
                "traffic_content_visible": "True",
                "occlusion_ratio": "Light",
                "artificial": False,
                "emergency": "true",
                "annotation_uuid": "e",
            },
            corners=[[5.0, 6.0], [1.0, 9.0], [3.0, 2.0]],
        ),
        feature({"class": "Pedestrian", "type": "Inconclusive", "annotation_uuid": "f"} | box),
    ]


def _compare(ours: list[ObjectAnnotation], generic: list[ObjectAnnotation]) -> None:
    assert len(ours) == len(generic)
    for a, b in zip(ours, generic):
        assert a == b
        for field in dataclasses.fields(ObjectAnnotation):
            x, y = getattr(a, field.name), getattr(b, field.name)
            assert type(x) is type(y), field.name
        assert a.box2d.xyxy.dtype == np.float32
        assert a.subclass == b.subclass
        if a.box3d is not None:
            assert b.box3d is not None
            assert a.box3d.orientation.q.tolist() == b.box3d.orientation.q.tolist()


def test_fast_decoder_equals_the_generic_parse() -> None:
    features = _features()
    ours = decode_object_annotations(json.dumps(features).encode(), "t.json")
    assert ours is not None
    generic = object_annotations_from_features(features, "t.json")
    _compare(ours, generic)
    assert [o.subclass for o in ours] == [
        "Vehicle_Car",
        "Vehicle_Truck",
        "Unclear",
        "VulnerableVehicle_NoRider",
        "TrafficSign_Front",
        "Unclear",
    ]
    assert ours[0].box3d is not None and ours[0].box3d.orientation.q.tolist() == [0.9, 0, 0, 0.3]
    assert ours[4].box2d.xyxy.tolist() == [1.0, 2.0, 5.0, 9.0]
    assert ours[1].uuid == "b" and ours[3].uuid == "" and ours[1].box3d is None


def test_fast_decoder_hands_the_unusual_to_the_generic_parse() -> None:
    features = _features()
    assert decode_object_annotations(b"null") is None
    assert decode_object_annotations(b"[]") == []
    collection = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    assert decode_object_annotations(collection) is None
    missing = json.loads(json.dumps(features))
    del missing[0]["properties"]["size_3d_width"]
    assert decode_object_annotations(json.dumps(missing).encode()) is None
    with pytest.raises(FormatError, match="size_3d_width"):
        object_annotations_from_features(missing, "t.json")
    bad_flag = json.loads(json.dumps(features))
    bad_flag[1]["properties"]["emergency"] = "maybe"
    with pytest.raises(FormatError, match="emergency"):
        decode_object_annotations(json.dumps(bad_flag).encode(), "t.json")


def test_lazy_annotation_boxes(sample_root: Path) -> None:
    frames = ZodFrames(str(sample_root), "full")
    frame = frames[sorted(frames.get_all_ids())[0]]
    path = frame.info.annotations[OD].filepath
    features = json.loads(Path(path).read_text())
    objects = frame.get_annotation(OD)
    assert "_box3d" in objects[0].__dict__ and "box3d" not in objects[0].__dict__
    _compare(objects, object_annotations_from_features(features, path))
    # pickling builds the boxes: the pickle holds no lazy state
    fresh = frame.get_annotation(OD)
    data = pickle.dumps(fresh)
    assert b"ObjectBoxes" not in data
    assert pickle.loads(data) == objects
    # setting a box before it was read
    other = frame.get_annotation(OD)
    other[0].box3d = None
    assert other[0].box3d is None and other[1].box3d == objects[1].box3d
    replaced = dataclasses.replace(objects[0], name="Animal")
    assert replaced.box2d == objects[0].box2d and replaced.name == "Animal"
