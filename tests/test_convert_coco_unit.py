"""COCO dicts from raw object features: hand-computed values, and the reference's numbers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zod.annotations._common import boxes_xyxy_from_features
from zod.converters.coco import (
    CATEGORY_NAME_TO_ID,
    coco_annotations_from_features,
    coco_categories,
)


def _feature(
    corners: list[list[float]], cls: str, unclear: bool = False, type_: str | None = "Car"
) -> dict:
    props = {"annotation_uuid": f"u-{cls}-{corners[0][0]}", "class": cls, "unclear": unclear}
    if type_ is not None:
        props["type"] = type_
    return {"geometry": {"type": "MultiPoint", "coordinates": corners}, "properties": props}


FEATURES = [
    _feature([[110.0, 20.0], [10.0, 20.0], [10.0, 220.0], [110.0, 220.0]], "Vehicle"),
    _feature([[5.5, 6.25], [7.75, 6.25], [7.75, 9.0], [5.5, 9.0]], "Pedestrian", type_=None),
    _feature([[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0]], "TrafficSign"),
    _feature(
        [[100.0, 100.0], [150.0, 100.0], [150.0, 130.0], [100.0, 130.0]], "Inconclusive", type_=None
    ),
    _feature(
        [[3000.123, 1500.987], [3100.456, 1500.987], [3100.456, 1600.5], [3000.123, 1600.5]],
        "VulnerableVehicle",
        unclear=True,
        type_="Bicycle",
    ),
    # 3 points only, unordered: min / max still define the box
    _feature([[40.0, 60.0], [20.0, 80.0], [30.0, 70.0]], "Vehicle", type_="Inconclusive"),
]


def test_hand_computed_annotations() -> None:
    annos = coco_annotations_from_features(
        FEATURES, image_id=42, classes=["Vehicle", "Pedestrian", "VulnerableVehicle"]
    )
    assert [a["id"] for a in annos] == [42000, 42001, 42004, 42005]  # index in the file, filtered
    assert annos[0]["bbox"] == [10.0, 20.0, 100.0, 200.0] and annos[0]["area"] == 20000.0
    assert annos[0]["category_id"] == CATEGORY_NAME_TO_ID["Vehicle"] == 1
    assert (
        annos[1]["bbox"] == [5.5, 6.25, 2.25, 2.75] and annos[1]["area"] == 6.19
    )  # 6.1875 rounded
    assert annos[1]["category_id"] == 3
    assert annos[2]["category_id"] == 2 and annos[2]["iscrowd"] == 1
    assert annos[2]["bbox"] == [3000.12, 1500.99, 100.33, 99.51]
    assert (
        annos[3]["bbox"] == [20.0, 60.0, 20.0, 20.0] and annos[3]["iscrowd"] == 1
    )  # type Inconclusive
    assert [a["iscrowd"] for a in annos[:2]] == [0, 0]
    assert all(a["image_id"] == 42 for a in annos)
    # "Inconclusive" objects are class Unclear (id 11)
    unclear = coco_annotations_from_features(FEATURES, 1, ["Unclear"])
    assert [(a["id"], a["category_id"], a["iscrowd"]) for a in unclear] == [(1003, 11, 1)]


def test_categories_keep_global_ids_in_spec_order() -> None:
    cats = coco_categories(["Pedestrian", "Vehicle", "Unclear"])
    assert [(c["id"], c["name"]) for c in cats] == [
        (1, "Vehicle"),
        (3, "Pedestrian"),
        (11, "Unclear"),
    ]


def test_vectorized_boxes_match_per_object_min_max() -> None:
    rng = np.random.default_rng(3)
    features = []
    for _ in range(200):
        pts = rng.uniform(0, 3848, size=(int(rng.integers(1, 7)), 2)).round(3).tolist()
        features.append({"geometry": {"coordinates": pts}, "properties": {"class": "Vehicle"}})
    boxes = boxes_xyxy_from_features(features)
    for feature, box in zip(features, boxes):
        pts = np.asarray(feature["geometry"]["coordinates"], dtype=np.float32)
        np.testing.assert_array_equal(box, np.concatenate([pts.min(0), pts.max(0)]))


ORACLE_SCRIPT = """
import json, sys
from zod.anno.object import ObjectAnnotation
feats = json.load(open(sys.argv[1]))
out = []
for f in feats:
    o = ObjectAnnotation.from_dict(f)
    out.append({"name": o.name, "bbox": [round(v, 2) for v in o.box2d.xywh.tolist()],
                "area": round(o.box2d.area, 2), "iscrowd": o.subclass == "Unclear"})
print(json.dumps(out))
"""


def test_numbers_equal_the_reference_devkit(tmp_path: Path, oracle_python: Path) -> None:
    rng = np.random.default_rng(11)
    features = []
    for i in range(100):
        x0, y0 = rng.uniform(0, 3800, 2)
        w, h = rng.uniform(0.5, 400, 2)
        corners = [[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]]
        features.append(
            _feature([[float(v) for v in c] for c in corners], "Vehicle", unclear=bool(i % 7 == 0))
        )
        features[-1]["properties"]["annotation_uuid"] = f"id{i}"
    path = tmp_path / "features.json"
    path.write_text(json.dumps(features))
    ours = coco_annotations_from_features(features, 1, ["Vehicle"])
    (tmp_path / "oracle.py").write_text(ORACLE_SCRIPT)
    out = subprocess.run(
        [str(oracle_python), str(tmp_path / "oracle.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    reference = json.loads(out.stdout)
    assert [a["bbox"] for a in ours] == [r["bbox"] for r in reference]
    assert [a["area"] for a in ours] == [r["area"] for r in reference]
    assert [bool(a["iscrowd"]) for a in ours] == [r["iscrowd"] for r in reference]


def _seg_feature(coords: list, kind: str, cls: str | None) -> dict:
    props = {"annotation_uuid": "x"}
    if cls is not None:
        props["class"] = cls
    return {"geometry": {"type": kind, "coordinates": coords}, "properties": props}


def test_segmentation_polygons_and_holes_read_back_with_pycocotools() -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from zod.converters.coco import coco_document, coco_segmentation_annotations, uncompressed_rle
    from zod.geometry.masks import binary_mask

    shape = (120, 200)
    square = [[10.0, 10.0], [60.0, 10.0], [60.0, 50.0], [10.0, 50.0]]
    hole = [[20.0, 20.0], [40.0, 20.0], [40.0, 40.0], [20.0, 40.0]]
    features = [
        _seg_feature([square], "Polygon", "EgoRoad_Road"),
        _seg_feature(
            [[[100.0, 60.0], [180.0, 60.0], [180.0, 110.0], [100.0, 110.0]], hole],
            "Polygon",
            "EgoRoad_Road",
        ),
        _seg_feature([[[70.0, 5.0], [190.0, 5.0], [130.0, 55.0]]], "Polygon", "EgoRoad_Debris"),
        _seg_feature([[[0.0, 0.0], [5.0, 0.0]]], "Polygon", "EgoRoad_Road"),  # < 3 points: skipped
        _seg_feature([square], "Polygon", "Barrier"),  # not ego road
    ]
    # the hole is placed inside the second polygon's outline
    features[1]["geometry"]["coordinates"][1] = [
        [120.0, 70.0],
        [140.0, 70.0],
        [140.0, 90.0],
        [120.0, 90.0],
    ]
    annos = coco_segmentation_annotations(features, 7, "ego_road", shape)
    assert [a["id"] for a in annos] == [7000, 7001, 7002]
    assert [a["category_id"] for a in annos] == [1, 1, 2]
    assert annos[0]["segmentation"] == [[10.0, 10.0, 60.0, 10.0, 60.0, 50.0, 10.0, 50.0]]
    assert (
        annos[0]["area"] == 2000.0
        and annos[0]["bbox"] == [10.0, 10.0, 50.0, 40.0]
        and annos[0]["iscrowd"] == 0
    )
    assert annos[2]["area"] == 3000.0
    assert annos[1]["iscrowd"] == 1 and annos[1]["segmentation"]["size"] == [120, 200]
    doc = coco_document(
        [{"id": 7, "width": 200, "height": 120, "file_name": "x.jpg"}],
        annos,
        [],
        "mini",
        [{"id": 1, "name": "EgoRoad_Road"}, {"id": 2, "name": "EgoRoad_Debris"}],
    )
    coco = COCO()
    coco.dataset = doc
    coco.createIndex()
    for anno, feature in zip(annos, features):
        ours = binary_mask([feature], shape)
        theirs = coco.annToMask(coco.anns[anno["id"]]).astype(bool)
        iou = (ours & theirs).sum() / (ours | theirs).sum()
        assert iou > 0.95, (anno["id"], iou)
    # the RLE is exact: same mask, hole left empty
    rle_mask = coco.annToMask(coco.anns[7001]).astype(bool)
    np.testing.assert_array_equal(rle_mask, binary_mask([features[1]], shape))
    assert not rle_mask[80, 130] and rle_mask[65, 105]
    # ground truth as detections: AP = 1
    dets = coco.loadRes(
        [
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "segmentation": coco.annToRLE(coco.anns[a["id"]]),
                "score": 1.0,
            }
            for a in annos
        ]
    )
    evaluator = COCOeval(coco, dets, "segm")
    evaluator.params.useCats = 1
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert np.isclose(evaluator.stats[0], 1.0)
    # RLE helper: zeros first, column-major
    assert uncompressed_rle(np.array([[1, 0], [1, 1]], dtype=bool))["counts"] == [0, 2, 1, 1]


def test_fast_decoder_equals_generic_path_and_falls_back(tmp_path: Path) -> None:
    from zod.converters.coco import coco_annotations_from_file
    from zod.converters.coco_decode import object_decoder
    from zod.errors import FormatError, MissingFileError

    assert object_decoder() is not None  # msgspec is installed with the `fast` extra
    classes = ["Vehicle", "Pedestrian", "VulnerableVehicle", "Unclear"]
    path = tmp_path / "object_detection.json"
    path.write_text(json.dumps(FEATURES))
    generic = coco_annotations_from_features(FEATURES, 9, classes)
    assert coco_annotations_from_file(str(path), 9, classes) == generic
    # string booleans, older `object_type`, a FeatureCollection wrapper: still the same numbers
    variants = json.loads(json.dumps(FEATURES))
    for feature in variants:
        feature["properties"]["unclear"] = str(feature["properties"]["unclear"])
        if "type" in feature["properties"]:
            feature["properties"]["object_type"] = feature["properties"].pop("type")
    path.write_text(json.dumps({"type": "FeatureCollection", "features": variants}))
    assert coco_annotations_from_file(str(path), 9, classes) == generic
    path.write_text("[]")
    assert coco_annotations_from_file(str(path), 9, classes) == []
    path.write_text('[{"geometry": {"coordinates": [[1, 2]]}}]')
    with pytest.raises(FormatError):
        coco_annotations_from_file(str(path), 9, classes)
    with pytest.raises(MissingFileError, match="--annotations"):
        coco_annotations_from_file(str(tmp_path / "nope.json"), 9, classes)


def test_unreadable_annotation_is_a_format_error_and_absent_is_missing(tmp_path: Path) -> None:
    """COCO's own reader of object files: a directory or a symlink loop in place of the file is a
    FormatError naming it (not a bare OSError); nothing there is a MissingFileError naming the
    download flag."""
    from zod.converters.coco_decode import read_objects
    from zod.errors import FormatError, MissingFileError

    folder = tmp_path / "object_detection.json"
    folder.mkdir()
    with pytest.raises(FormatError, match=r"object_detection\.json.*directory"):
        read_objects(str(folder))
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    with pytest.raises(FormatError, match="symlink loop"):
        read_objects(str(loop))
    with pytest.raises(MissingFileError, match="--annotations"):
        read_objects(str(tmp_path / "absent.json"))
