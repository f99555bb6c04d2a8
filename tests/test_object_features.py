"""One rule for object features (spec §11) through every consumer.

Generated features (flags as bools and as "True"/"False"/"true"/"1"/"0" strings, None, missing
keys, ``Inconclusive`` class or type, ``type`` or the older ``object_type`` key, every class
with subclasses) go through ``ObjectAnnotation.from_dict``, the bulk annotation parse, the
``Box3DSet`` paths, the converters' arrays, COCO's fast and generic decoders, the evaluation's
ground truth and the torch box tensors; all must give the classes, subclasses, unclear flags
and boxes that the spec's rules, written out again here, give.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from zod.annotations._common import boxes_xyxy_from_corners
from zod.annotations.classes import OBJECT_CLASSES_DYNAMIC, OBJECT_CLASSES_STATIC
from zod.annotations.object_features import box_set_from_features, parse_object_features
from zod.annotations.objects import (
    ObjectAnnotation,
    box_set_from_object_annotations,
    object_annotations_from_features,
)
from zod.converters.coco import CATEGORY_NAME_TO_ID, coco_annotations_from_features
from zod.converters.coco_decode import decode_objects_fast, read_objects
from zod.errors import FormatError
from zod.eval.detection.io import box_rows, ground_truth_from_objects

# ------------------------------------------------------------------ the rule, written out again
TRUE_TEXTS = ("True", "true", "TRUE", "1", "yes")
FALSE_TEXTS = ("False", "false", "0", "no", "")


def _flag(props: dict[str, Any], key: str) -> bool | None:
    """The spec's reading of a boolean property, independent of zod.annotations._common."""
    value = props.get(key)
    if value is None or isinstance(value, bool):
        return value
    if value.strip() in TRUE_TEXTS:
        return True
    assert value.strip() in FALSE_TEXTS
    return False


def _expected(props: dict[str, Any]) -> tuple[str, str, bool]:
    """(class, subclass, unclear) of one object by spec §11."""
    kind = props["type"] if "type" in props else props.get("object_type")
    name = props["class"]
    unclear = bool(_flag(props, "unclear")) or "Inconclusive" in (name, kind)
    name = "Unclear" if name == "Inconclusive" else name
    if unclear:
        return name, "Unclear", True
    if name not in ("Vehicle", "VulnerableVehicle", "TrafficSign", "TrafficSignal"):
        return name, name, False
    if _flag(props, "artificial") is True:
        return name, f"{name}_Artificial", False
    visible = _flag(props, "traffic_content_visible")
    if visible is not None:
        return name, f"{name}_{'Front' if visible else 'Back'}", False
    if _flag(props, "with_rider") is False:
        return name, f"{name}_NoRider", False
    if _flag(props, "emergency") is True and name == "Vehicle":
        return name, "Vehicle_Emergency", False
    return name, f"{name}_{kind if kind is not None else 'Other'}", False


# ------------------------------------------------------------------ generated features
MISSING = object()
# absent most often, so that the later subclass rules (type, Other) are reached too
FLAG_VALUES = st.sampled_from(
    [*[MISSING] * 8, None, True, False, *TRUE_TEXTS[:4], *FALSE_TEXTS[:3]]
)
TYPES = st.sampled_from([None, "Car", "Truck", "Bicycle", "NoRider", "Other", "Inconclusive"])
CLASSES = st.sampled_from([*OBJECT_CLASSES_DYNAMIC, *OBJECT_CLASSES_STATIC, "Inconclusive"])
COORD = st.floats(-50.0, 4000.0, allow_nan=False, width=32)


@st.composite
def features(draw: st.DrawFn) -> dict[str, Any]:
    props: dict[str, Any] = {"class": draw(CLASSES)}
    if draw(st.booleans()):
        props["annotation_uuid"] = draw(st.text("abcdef0123456789-", min_size=1, max_size=8))
    key_layout = draw(st.sampled_from(["type", "object_type", "both", "none"]))
    if key_layout in ("type", "both"):
        props["type"] = draw(TYPES)
    if key_layout in ("object_type", "both"):
        props["object_type"] = draw(TYPES)
    for key in ("unclear", "artificial", "with_rider", "emergency", "traffic_content_visible"):
        value = draw(FLAG_VALUES)
        if value is not MISSING:
            props[key] = value
    occlusion = draw(st.sampled_from([MISSING, None, "None", "Light", "Heavy"]))
    if occlusion is not MISSING:
        props["occlusion_ratio"] = occlusion
    if draw(st.booleans()):
        center = [draw(st.floats(-80, 80, allow_nan=False)) for _ in range(3)]
        props["location_3d"] = (
            {"type": "Point", "coordinates": center} if draw(st.booleans()) else center
        )
        for key in ("size_3d_length", "size_3d_width", "size_3d_height"):
            props[key] = draw(st.floats(0.1, 20, allow_nan=False))
        q = np.array([draw(st.floats(-1, 1, allow_nan=False)) for _ in range(4)])
        q = q / np.linalg.norm(q) if np.linalg.norm(q) > 0.1 else np.array([1.0, 0, 0, 0])
        for key, value in zip("wxyz", q.tolist()):
            props[f"orientation_3d_q{key}"] = value
    points = draw(st.lists(st.tuples(COORD, COORD), min_size=1, max_size=5))
    return {
        "geometry": {"type": "MultiPoint", "coordinates": [list(p) for p in points]},
        "properties": props,
    }


def _expected_xyxy(feature: dict[str, Any]) -> np.ndarray:
    pts = np.asarray(feature["geometry"]["coordinates"], dtype=np.float64)
    return np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)


def _box_values(props: dict[str, Any]) -> list[float]:
    location = props["location_3d"]
    center = location["coordinates"] if isinstance(location, dict) else location
    keys = ("size_3d_length", "size_3d_width", "size_3d_height")
    quat = [props[f"orientation_3d_q{k}"] for k in "wxyz"]
    return [*center, *(props[k] for k in keys), *quat]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(feats=st.lists(features(), min_size=0, max_size=12))
@example(  # a null ``type`` wins over ``object_type``: Vehicle_Other, not Vehicle_Car
    feats=[
        {
            "geometry": {"type": "MultiPoint", "coordinates": [[1.0, 2.0], [3.0, 5.0]]},
            "properties": {"class": "Vehicle", "type": None, "object_type": "Car"},
        }
    ]
)
def test_every_consumer_agrees_with_the_rule(feats: list[dict[str, Any]], tmp_path: Path) -> None:
    expected = [_expected(f["properties"]) for f in feats]
    classes = [e[0] for e in expected]
    subclasses = [e[1] for e in expected]
    unclear = [e[2] for e in expected]
    xyxy = np.array([_expected_xyxy(f) for f in feats], dtype=np.float32).reshape(-1, 4)
    with3d = [i for i, f in enumerate(feats) if "location_3d" in f["properties"]]
    boxes3d = np.array(
        [_box_values(feats[i]["properties"]) for i in with3d], dtype=np.float64
    ).reshape(-1, 10)

    # ObjectAnnotation, one feature at a time and through the bulk parse
    singles = [ObjectAnnotation.from_dict(f) for f in feats]
    bulk = object_annotations_from_features(feats)
    for objects in (singles, bulk):
        assert [(o.name, o.subclass, o.unclear) for o in objects] == expected
        np.testing.assert_array_equal(
            np.array([o.box2d.xyxy for o in objects]).reshape(-1, 4), xyxy
        )
        got3d = [o.box3d for o in objects if o.box3d is not None]
        assert [i for i, o in enumerate(objects) if o.box3d is not None] == with3d
        for box, values in zip(got3d, boxes3d):
            np.testing.assert_allclose(box.center, values[:3], atol=1e-12)
            np.testing.assert_allclose(box.size, values[3:6], atol=1e-12)
            np.testing.assert_allclose(np.asarray(box.orientation.q), values[6:], atol=1e-12)

    # the converters' arrays (what zod.converters._frames.object_arrays returns)
    arrays = parse_object_features(feats)
    assert list(arrays.classes) == classes and list(arrays.subclasses) == subclasses
    assert arrays.unclear.tolist() == unclear
    np.testing.assert_array_equal(arrays.boxes2d, xyxy.astype(np.float64))
    assert np.flatnonzero(arrays.has_box3d).tolist() == with3d

    # Box3DSet from the features and from the annotation objects
    for box_set in (box_set_from_features(feats), box_set_from_object_annotations(singles)):
        assert len(box_set) == len(with3d)
        assert list(box_set.classes) == [classes[i] for i in with3d]
        assert list(box_set.subclasses) == [subclasses[i] for i in with3d]
        assert box_set.unclear.tolist() == [unclear[i] for i in with3d]
        np.testing.assert_allclose(box_set.centers_m, boxes3d[:, :3], atol=1e-12)
        np.testing.assert_allclose(box_set.sizes_lwh_m, boxes3d[:, 3:6], atol=1e-12)
        np.testing.assert_allclose(box_set.quaternions_wxyz, boxes3d[:, 6:], atol=1e-12)
        np.testing.assert_allclose(box_set.boxes2d, xyxy[with3d], atol=0)

    # COCO: the fast (msgspec) decoder, the generic path, and the file reader
    path = tmp_path / "object_detection.json"
    path.write_text(json.dumps(feats))
    fast = decode_objects_fast(path.read_bytes())
    assert fast is not None  # every generated variant is one the typed decoder reads
    assert (fast.classes, fast.unclear) == (classes, unclear)
    np.testing.assert_array_equal(boxes_xyxy_from_corners(fast.corners), xyxy)
    assert isinstance(read_objects(str(path)), tuple)
    every = list(CATEGORY_NAME_TO_ID)
    generic = coco_annotations_from_features(feats, 7, every)
    assert [a["category_id"] for a in generic] == [CATEGORY_NAME_TO_ID[c] for c in classes]
    assert [a["iscrowd"] for a in generic] == [int(u) for u in unclear]

    # evaluation ground truth: clear objects with a 3D box, a row per class and per subclass
    clear = [i for i in with3d if not unclear[i]]
    rows = box_rows(box_set_from_features(feats))
    assert [(r[0], r[1]) for r in rows] == [(classes[i], subclasses[i]) for i in clear]
    gt = ground_truth_from_objects({"000001": singles})
    want = [n for i in clear for n in dict.fromkeys([classes[i], subclasses[i]])]
    assert gt.names.tolist() == want


def test_torch_box_tensors_follow_the_rule() -> None:
    pytest.importorskip("torch")
    from zod.torch.datasets import object_tensors

    feats = [
        _feature("Vehicle", {"type": "Car", "unclear": "False", "emergency": "1"}),
        _feature("VulnerableVehicle", {"object_type": "Bicycle", "with_rider": "0"}),
        _feature("Inconclusive", {"unclear": False}),
        _feature("TrafficSign", {"traffic_content_visible": "true", "unclear": "0"}),
    ]
    objects = object_annotations_from_features(feats)
    subclasses = ["Vehicle_Emergency", "VulnerableVehicle_NoRider", "Unclear", "TrafficSign_Front"]
    ids = {name: i for i, name in enumerate(subclasses)}
    out = object_tensors(objects, None, ids, "subclass", 1.0, "lidar")
    assert out["class_ids"].tolist() == [0, 1, 2, 3]
    assert out["unclear"].tolist() == [False, False, True, False]
    assert out["box_3d_valid"].tolist() == [True] * 4
    np.testing.assert_allclose(out["boxes_3d"][:, :3].numpy(), [[1.0, 2.0, 3.0]] * 4)


# ------------------------------------------------------------------ regressions
def _feature(name: str, extra: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "class": name,
        "annotation_uuid": name,
        "location_3d": {"type": "Point", "coordinates": [1.0, 2.0, 3.0]},
        "size_3d_length": 4.0,
        "size_3d_width": 2.0,
        "size_3d_height": 1.5,
        "orientation_3d_qw": 1.0,
        "orientation_3d_qx": 0.0,
        "orientation_3d_qy": 0.0,
        "orientation_3d_qz": 0.0,
    } | extra
    corners = [[10.0, 20.0], [30.0, 20.0], [30.0, 40.0], [10.0, 40.0]]
    return {"geometry": {"type": "MultiPoint", "coordinates": corners}, "properties": props}


def test_box_set_reads_string_flags_like_the_annotations() -> None:
    """Two bugs of the old ``Box3DSet.from_features``: the string "False" read as unclear
    (``bool("False")``), and "1" read as False (only "true" counted)."""
    feats = [
        _feature("Vehicle", {"type": "Car", "unclear": "False"}),
        _feature("Vehicle", {"type": "Car", "unclear": "True"}),
        _feature("Vehicle", {"type": "Car", "artificial": "1"}),
        _feature("VulnerableVehicle", {"type": "Bicycle", "with_rider": "0"}),
    ]
    boxes = box_set_from_features(feats)
    assert boxes.unclear.tolist() == [False, True, False, False]
    assert list(boxes.subclasses) == [
        "Vehicle_Car",
        "Unclear",
        "Vehicle_Artificial",
        "VulnerableVehicle_NoRider",
    ]
    assert boxes.attributes["artificial"].tolist() == [None, None, True, None]
    assert list(boxes.subclasses) == [o.subclass for o in object_annotations_from_features(feats)]


def test_a_flag_that_is_not_a_boolean_is_a_format_error_everywhere(tmp_path: Path) -> None:
    feats = [_feature("Vehicle", {"type": "Car"}), _feature("Vehicle", {"unclear": "maybe"})]
    with pytest.raises(FormatError, match=r"object 1 \(Vehicle\).*'unclear'.*maybe"):
        parse_object_features(feats, "object_detection.json")
    with pytest.raises(FormatError, match="unclear"):
        ObjectAnnotation.from_dict(feats[1])
    with pytest.raises(FormatError, match="unclear"):
        coco_annotations_from_features(feats, 1, ["Vehicle"])
    path = tmp_path / "object_detection.json"
    path.write_text(json.dumps(feats))
    with pytest.raises(FormatError, match="unclear"):
        read_objects(str(path))
    feats[1]["properties"] = {"class": "Vehicle", "artificial": "maybe"}
    with pytest.raises(FormatError, match="artificial"):
        parse_object_features(feats)


def test_annotations_keep_the_file_quaternion_box_sets_normalise_it() -> None:
    """``ObjectAnnotation`` keeps the quaternion as written (like the reference); the
    ``Box3DSet`` holds it normalised."""
    feats = [
        _feature("Vehicle", {"type": "Car", "orientation_3d_qw": 0.7, "orientation_3d_qz": 0.7})
    ]
    (obj,) = object_annotations_from_features(feats)
    np.testing.assert_array_equal(obj.box3d.orientation.q if obj.box3d else None, [0.7, 0, 0, 0.7])
    boxes = box_set_from_features(feats)
    np.testing.assert_allclose(boxes.quaternions_wxyz, [[0.5**0.5, 0, 0, 0.5**0.5]], atol=1e-15)
    np.testing.assert_array_equal(parse_object_features(feats).box_values[0, 6:], [0.7, 0, 0, 0.7])


def test_type_key_present_but_null_wins_over_object_type() -> None:
    """``type`` is read when the key is there (even null); ``object_type`` only without it."""
    feats = [
        _feature("Vehicle", {"type": None, "object_type": "Inconclusive"}),
        _feature("Vehicle", {"object_type": "Inconclusive"}),
    ]
    arrays = parse_object_features(feats)
    assert arrays.unclear.tolist() == [False, True]
    assert list(arrays.subclasses) == ["Vehicle_Other", "Unclear"]
    fast = decode_objects_fast(json.dumps(feats).encode())
    assert fast is not None and fast.unclear == [False, True]
