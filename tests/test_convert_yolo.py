"""`zod convert yolo` on the sample: labels round-trip to the COCO boxes, resized images,
data.yaml readable, split lists."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import yaml

from zod.converters.coco import convert_to_coco
from zod.converters.yolo import convert_to_yolo, parse_yolo_labels


def test_labels_round_trip_to_coco_boxes(sample_root: Path, tmp_path: Path) -> None:
    classes = ["Vehicle", "Pedestrian", "VulnerableVehicle"]
    data_yaml = convert_to_yolo(
        sample_root,
        tmp_path / "yolo",
        "full",
        classes=classes,
        image_size=640,
        workers=2,
        progress=False,
    )
    coco_paths = convert_to_coco(
        sample_root, tmp_path / "coco", "full", classes=classes, workers=1, progress=False
    )
    config = yaml.safe_load(data_yaml.read_text())
    assert config["nc"] == 3 and config["names"] == {
        0: "Vehicle",
        1: "Pedestrian",
        2: "VulnerableVehicle",
    }
    coco_cat_to_yolo = {1: 0, 3: 1, 2: 2}
    compared = 0
    for split in ("train", "val"):
        coco = json.loads(coco_paths[split].read_text())
        listed = (tmp_path / "yolo" / config[split]).read_text().split()
        assert [Path(p).stem for p in listed] == [f"{img['id']:06d}" for img in coco["images"]]
        for image in coco["images"]:
            frame_id = f"{image['id']:06d}"
            picture = cv2.imread(str(tmp_path / "yolo" / "images" / split / f"{frame_id}.jpg"))
            assert max(picture.shape[:2]) == 640
            assert (
                abs(picture.shape[1] / picture.shape[0] - image["width"] / image["height"]) < 0.01
            )
            classes_back, cxcywh = parse_yolo_labels(
                (tmp_path / "yolo" / "labels" / split / f"{frame_id}.txt").read_text()
            )
            expected = [
                a for a in coco["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]
            ]
            assert classes_back.tolist() == [coco_cat_to_yolo[a["category_id"]] for a in expected]
            scale = np.array([image["width"], image["height"]] * 2)
            xywh = np.column_stack([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, 2:]]) * scale
            for box, anno in zip(xywh, expected):
                x, y, w, h = anno["bbox"]
                clipped = [
                    max(x, 0),
                    max(y, 0),
                    min(x + w, image["width"]) - max(x, 0),
                    min(y + h, image["height"]) - max(y, 0),
                ]
                np.testing.assert_allclose(box, clipped, atol=0.01)
                compared += 1
    assert compared > 0


def test_symlinked_images_and_unclear_objects(sample_root: Path, tmp_path: Path) -> None:
    convert_to_yolo(sample_root, tmp_path, "mini", include_unclear=True, workers=1, progress=False)
    index = json.loads((sample_root / "trainval-frames-mini.json").read_text())
    info = index["train"][0]
    image = tmp_path / "images" / "train" / f"{info['id']}.jpg"
    assert image.is_symlink()
    assert (
        image.resolve()
        == (sample_root / info["camera_frames"]["front_blur"][0]["filepath"]).resolve()
    )
    features = json.loads(
        (sample_root / info["annotations"]["object_detection"]["filepath"]).read_text()
    )
    wanted = [
        f
        for f in features
        if f["properties"]["class"] in ("Vehicle", "Pedestrian", "VulnerableVehicle")
    ]
    classes_back, _ = parse_yolo_labels(
        (tmp_path / "labels" / "train" / f"{info['id']}.txt").read_text()
    )
    assert len(classes_back) == len(wanted)  # unclear ones included on request
