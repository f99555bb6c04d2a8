"""Annotation parsing (spec §11, §14): subclass rules, classes, quirks, polygons, the sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zod.annotations.classes import (
    CLASS_IDX_TO_CLASS_NAME,
    OBJECT_CLASSES,
    OBJECT_SUBCLASSES,
    TRAFFIC_SIGN_CLASSES,
    get_class_idx,
    get_class_name,
)
from zod.annotations.ego_road import EgoRoadClass
from zod.annotations.lanes import (
    LaneMarkingAnnotation,
    RoadPaintingAnnotation,
    ShadedAreaAnnotation,
)
from zod.annotations.objects import ObjectAnnotation
from zod.annotations.parser import AnnotationFile
from zod.constants import AnnotationProject, Lidar
from zod.dataset import ZodFrames

BOX = {
    "type": "MultiPoint",
    "coordinates": [[100.0, 50.0], [180.5, 50.0], [180.5, 120.0], [100.0, 120.0]],
}


def _obj(**props) -> dict:
    base = {
        "annotation_uuid": "u1",
        "class": "Vehicle",
        "type": "Car",
        "unclear": False,
        "occlusion_ratio": "Light",
    }
    base.update(props)
    return {"geometry": BOX, "properties": {k: v for k, v in base.items() if v is not ...}}


def _write(tmp_path: Path, project: AnnotationProject, data) -> AnnotationFile:
    path = tmp_path / f"{project.value}.json"
    path.write_text(json.dumps(data))
    return AnnotationFile(str(path), project)


@pytest.mark.parametrize(
    "props,subclass",
    [
        ({}, "Vehicle_Car"),
        ({"type": "Truck"}, "Vehicle_Truck"),
        ({"type": ..., "object_type": "Bus"}, "Vehicle_Bus"),  # older key
        ({"emergency": True}, "Vehicle_Emergency"),
        ({"artificial": True, "emergency": True}, "Vehicle_Artificial"),  # artificial wins
        (
            {"class": "VulnerableVehicle", "type": "Bicycle", "with_rider": "False"},
            "VulnerableVehicle_NoRider",
        ),
        (
            {"class": "VulnerableVehicle", "type": "Bicycle", "with_rider": "True"},
            "VulnerableVehicle_Bicycle",
        ),
        (
            {"class": "VulnerableVehicle", "type": "Motorcycle", "emergency": True},
            "VulnerableVehicle_Motorcycle",
        ),
        (
            {"class": "TrafficSign", "type": ..., "traffic_content_visible": "True"},
            "TrafficSign_Front",
        ),
        (
            {"class": "TrafficSignal", "type": ..., "traffic_content_visible": "False"},
            "TrafficSignal_Back",
        ),
        ({"class": "Pedestrian", "type": ...}, "Pedestrian"),
        ({"class": "PoleObject", "type": ...}, "PoleObject"),
        ({"unclear": True}, "Unclear"),
        ({"class": "Inconclusive", "type": ...}, "Unclear"),
        ({"type": "Inconclusive"}, "Unclear"),
    ],
)
def test_subclass_rules(props, subclass) -> None:
    obj = ObjectAnnotation.from_dict(_obj(**props))
    assert obj.subclass == subclass
    assert subclass in OBJECT_SUBCLASSES or subclass == "Vehicle_Artificial"


def test_inconclusive_is_unclear_class() -> None:
    obj = ObjectAnnotation.from_dict(_obj(**{"class": "Inconclusive", "type": ...}))
    assert obj.name == "Unclear" and obj.unclear and obj.superclass == "Unclear"
    assert "Unclear" in OBJECT_CLASSES


def test_box2d_and_box3d_values() -> None:
    props = {
        "location_3d": {"type": "Point", "coordinates": [3.0, 20.0, -0.5]},
        "size_3d_length": 4.5,
        "size_3d_width": 1.8,
        "size_3d_height": 1.5,
        "orientation_3d_qw": np.cos(0.25),
        "orientation_3d_qx": 0.0,
        "orientation_3d_qy": 0.0,
        "orientation_3d_qz": np.sin(0.25),
    }
    obj = ObjectAnnotation.from_dict(_obj(**props))
    np.testing.assert_allclose(obj.box2d.xyxy, [100.0, 50.0, 180.5, 120.0])
    assert obj.box2d.xyxy.dtype == np.float32
    np.testing.assert_allclose(obj.box3d.center, [3.0, 20.0, -0.5])
    np.testing.assert_allclose(obj.box3d.size, [4.5, 1.8, 1.5])
    assert obj.box3d.frame == Lidar.VELODYNE
    assert obj.box3d.orientation.yaw_pitch_roll[0] == pytest.approx(0.5)
    assert obj.with_rider is None and obj.occlusion_level == "Light" and obj.uuid == "u1"
    # the 2D box is the min/max of the points in any order
    shuffled = _obj()
    shuffled["geometry"] = {
        "type": "MultiPoint",
        "coordinates": [[180.5, 120.0], [100.0, 50.0], [100, 120], [180.5, 50]],
    }
    np.testing.assert_allclose(ObjectAnnotation.from_dict(shuffled).box2d.xyxy, obj.box2d.xyxy)
    assert ObjectAnnotation.from_dict(_obj()).box3d is None  # 2D-only object


def test_unknown_object_class_and_unknown_keys_do_not_crash() -> None:
    with pytest.warns(UserWarning, match="Hoverboard"):
        obj = ObjectAnnotation.from_dict(
            _obj(**{"class": "Hoverboard", "type": ..., "brand_new_key": 1})
        )
    assert obj.name == "Hoverboard" and obj.subclass == "Hoverboard"


def test_traffic_signs_known_unknown_unclear(tmp_path: Path) -> None:
    assert len(TRAFFIC_SIGN_CLASSES) == 156 and get_class_idx("NotListed") == 0
    assert get_class_name(1) == "Indication_CameraSurveillance" == CLASS_IDX_TO_CLASS_NAME[1]
    with pytest.raises(ValueError):
        get_class_name(10_000)
    name = TRAFFIC_SIGN_CLASSES[19]
    signs = [
        {
            "geometry": BOX,
            "properties": {
                "annotation_uuid": "a",
                "class": name,
                "unclear": False,
                "occlusion_ratio": "None",
                "is_electronic": False,
            },
        },
        {
            "geometry": BOX,
            "properties": {
                "annotation_uuid": "b",
                "class": "Warning_Unheard",
                "unclear": False,
                "occlusion_ratio": "None",
                "is_electronic": True,
            },
        },
        {
            "geometry": BOX,
            "properties": {"annotation_uuid": "c", "class": "unclear", "unclear": True},
        },
    ]
    with pytest.warns(UserWarning, match="Warning_Unheard"):
        parsed = _write(tmp_path, AnnotationProject.TRAFFIC_SIGNS, signs).read()
    assert [s.traffic_sign_class for s in parsed] == [name, "Warning_Unheard", None]
    assert [s.traffic_sign_idx for s in parsed] == [19, None, None]
    assert [s.unclear for s in parsed] == [False, False, True]
    assert parsed[1].electronic_sign is True
    np.testing.assert_allclose(parsed[0].bounding_box.xyxy, [100.0, 50.0, 180.5, 120.0])


def test_lane_kinds_and_degenerate_polygons(tmp_path: Path) -> None:
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    hole = [[2, 2], [4, 2], [4, 4]]
    features = [
        {
            "geometry": {"type": "Polygon", "coordinates": [square, hole, [[1, 1], [2, 2]]]},
            "properties": {
                "annotation_uuid": "m",
                "class": "solid",
                "coloured": False,
                "InstanceID": 3,
            },
        },
        {
            "geometry": {"type": "MultiPolygon", "coordinates": [[square], [[[5, 5], [6, 6]]]]},
            "properties": {
                "annotation_uuid": "s",
                "class": "shaded_area",
                "ShadedAreaType": "Hatched",
                "coloured": True,
            },
        },
        {
            "geometry": {"type": "Polygon", "coordinates": [square]},
            "properties": {"annotation_uuid": "p", "ContainsArrow": True, "Unclear": False},
        },
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0, 0], [1, 1]]],
            },  # < 3 points: dropped
            "properties": {"annotation_uuid": "bad", "class": "dashed", "coloured": False},
        },
        {
            "geometry": {"type": "Polygon", "coordinates": []},  # empty: dropped
            "properties": {"annotation_uuid": "empty", "class": "dashed", "coloured": False},
        },
    ]
    with pytest.warns(UserWarning, match="fewer than 3 points"):
        lanes = _write(tmp_path, AnnotationProject.LANE_MARKINGS, features).read()
    assert [type(a) for a in lanes] == [
        LaneMarkingAnnotation,
        ShadedAreaAnnotation,
        RoadPaintingAnnotation,
    ]
    marking, shaded, painting = lanes
    assert marking.type == "solid" and marking.instance_id == 3 and marking.cardinality == "Single"
    assert marking.geometry == [square, hole]  # the 2-point ring is gone
    assert len(marking.polygons) == 1 and len(marking.polygons[0]) == 2
    assert shaded.type == "Hatched" and shaded.colored and len(shaded.polygons) == 1
    assert painting.type == "arrow" and painting.contains_arrow and painting.unclear is False


def test_ego_road_drops_barrier_and_road_edge(tmp_path: Path) -> None:
    ring = [[0, 0], [100, 0], [100, 50]]
    features = [
        {
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"annotation_uuid": "r", "class": "EgoRoad_Road"},
        },
        {
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"annotation_uuid": "b", "class": "Barrier"},
        },
        {
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"annotation_uuid": "e", "class": "RoadEdge"},
        },
        {
            "geometry": {"type": "MultiPolygon", "coordinates": [[ring], [ring]]},
            "properties": {"annotation_uuid": "d", "class": "EgoRoad_Debris"},
        },
    ]
    parsed = _write(tmp_path, AnnotationProject.EGO_ROAD, features).read()
    assert [(e.uuid, e.type) for e in parsed] == [
        ("r", EgoRoadClass.ROAD),
        ("d", EgoRoadClass.DEBRIS),
    ]
    assert len(parsed[1].polygons) == 2


def test_road_condition_and_empty_lists(tmp_path: Path) -> None:
    rc = _write(
        tmp_path, AnnotationProject.ROAD_CONDITION, {"wetness": True, "snow_coverage": False}
    ).read()
    assert rc.wet is True and rc.snowy is False
    rc = _write(
        tmp_path, AnnotationProject.ROAD_CONDITION, {"wetness": False, "snowCoverage": True}
    ).read()
    assert rc.snowy is True
    for project in (
        AnnotationProject.OBJECT_DETECTION,
        AnnotationProject.TRAFFIC_SIGNS,
        AnnotationProject.LANE_MARKINGS,
        AnnotationProject.EGO_ROAD,
    ):
        assert _write(tmp_path, project, []).read() == []


def test_sample_annotations_consistent(sample_root: Path) -> None:
    """Every annotation of the sample parses; 3D boxes lie in front of the lidar, 2D boxes in
    the image."""
    frames = ZodFrames(sample_root, "full")
    seen_2d_only = seen_3d = 0
    for item_id in frames.get_all_infos():
        frame = frames[item_id]
        camera = frame.get_camera_frame()
        objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        assert objects
        for obj in objects:
            x0, y0, x1, y1 = obj.box2d.xyxy
            assert 0 <= x0 < x1 <= camera.width and 0 <= y0 < y1 <= camera.height
            assert obj.subclass in OBJECT_SUBCLASSES or obj.subclass.endswith("_Artificial")
            if obj.box3d is None:
                seen_2d_only += 1
            else:
                seen_3d += 1
                assert 0 < np.linalg.norm(obj.box3d.center) < 250
                assert np.all(obj.box3d.size > 0)
        for project in AnnotationProject:
            if frame.is_annotated(project):
                frame.get_annotation(project)
    assert seen_2d_only > 0 and seen_3d > 0
