"""`zod convert coco` on the sample: pycocotools reads it, GT-as-detections gives AP = 1, the
numbers equal the reference devkit's, resumable, missing files reported."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zod.converters.coco import convert_to_coco
from zod.converters.runner import FrameFailures


def split_ids(root: Path, version: str, split: str) -> list[str]:
    """Ids of a split, read from the index file itself."""
    index = json.loads((root / f"trainval-frames-{version}.json").read_text())
    return [info["id"] for info in index[split]]


@pytest.fixture(scope="module")
def coco_full(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("coco")
    return convert_to_coco(sample_root, out, version="full", workers=2, progress=False)


def test_files_load_in_pycocotools_and_ground_truth_scores_ap_1(
    coco_full: dict[str, Path], sample_root: Path
) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    assert coco_full["train"].name == "zod_full_blur_train.json"
    assert coco_full["val"].name == "zod_full_blur_val.json"
    total = 0
    for split in ("train", "val"):
        coco = COCO(str(coco_full[split]))
        assert sorted(coco.getImgIds()) == sorted(
            int(i) for i in split_ids(sample_root, "full", split)
        )
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [
            "Vehicle",
            "VulnerableVehicle",
            "Pedestrian",
        ]
        annos = coco.loadAnns(coco.getAnnIds())
        total += len(annos)
        if not annos:
            continue
        for anno in annos:
            image = coco.imgs[anno["image_id"]]
            x, y, w, h = anno["bbox"]
            assert (
                x >= 0
                and y >= 0
                and x + w <= image["width"] + 1e-6
                and y + h <= image["height"] + 1e-6
            )
            assert anno["area"] == pytest.approx(w * h, abs=0.01 * (w + h) + 0.02)  # w, h rounded
            assert os.path.exists(image["file_name"])
        detections = coco.loadRes(
            [
                {
                    "image_id": a["image_id"],
                    "category_id": a["category_id"],
                    "bbox": a["bbox"],
                    "score": 1.0,
                }
                for a in annos
            ]
        )
        evaluator = COCOeval(coco, detections, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        assert evaluator.stats[0] == pytest.approx(1.0)  # AP@[.5:.95]
        assert evaluator.stats[1] == pytest.approx(1.0)  # AP@.5
    assert total > 0


ORACLE = r"""
import json, sys
import zod.cli.generate_coco_json as g
from zod import ZodFrames
from zod.constants import Anonymization
g.process_map = lambda fn, items, **kw: [fn(item) for item in items]
frames = ZodFrames(sys.argv[1], sys.argv[2])
out = {}
for split in ("train", "val"):
    out[split] = g.generate_coco_json(frames, split=split, classes=sys.argv[3].split(","),
                                      anonymization=Anonymization(sys.argv[4]), use_png=False)
print(json.dumps(out))
"""


def _reference_coco(
    oracle_python: Path, root: Path, version: str, classes: list[str], anonymization: str, tmp: Path
) -> dict:
    script = tmp / "oracle_coco.py"
    script.write_text(ORACLE)
    done = subprocess.run(  # -I: the oracle's own zod, even when PYTHONPATH points at ours
        [
            str(oracle_python),
            "-I",
            str(script),
            str(root),
            version,
            ",".join(classes),
            anonymization,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_equal_to_the_reference_devkit(
    sample_root: Path, tmp_path: Path, oracle_python: Path
) -> None:
    classes = ["Vehicle", "VulnerableVehicle", "Pedestrian", "TrafficSign", "PoleObject", "Unclear"]
    reference = _reference_coco(oracle_python, sample_root, "full", classes, "dnat", tmp_path)
    ours = convert_to_coco(
        sample_root, tmp_path / "ours", "full", "dnat", classes=classes, workers=1, progress=False
    )
    for split in ("train", "val"):
        doc = json.loads(ours[split].read_text())
        ref = reference[split]
        # the reference lists frames in set order; ours in index order
        assert [i["id"] for i in doc["images"]] == [
            int(i) for i in split_ids(sample_root, "full", split)
        ]
        assert sorted(doc["images"], key=lambda i: i["id"]) == sorted(
            ref["images"], key=lambda i: i["id"]
        )
        for anno in ref["annotations"]:
            anno["iscrowd"] = int(anno["iscrowd"])  # the reference writes booleans
        assert len(doc["annotations"]) > 0
        assert sorted(doc["annotations"], key=lambda a: a["id"]) == sorted(
            ref["annotations"], key=lambda a: a["id"]
        )
        assert doc["categories"] == ref["categories"]


def test_resumable_and_overwrite(sample_root: Path, tmp_path: Path) -> None:
    paths = convert_to_coco(sample_root, tmp_path, "mini", workers=1, progress=False)
    first = {split: p.stat().st_mtime_ns for split, p in paths.items()}
    os.utime(paths["train"], ns=(1, 1))
    convert_to_coco(sample_root, tmp_path, "mini", workers=1, progress=False)
    assert paths["train"].stat().st_mtime_ns == 1  # kept: already done
    convert_to_coco(sample_root, tmp_path, "mini", workers=1, overwrite=True, progress=False)
    assert paths["train"].stat().st_mtime_ns > 1 and first["val"] > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left over


def test_missing_annotation_file_is_reported_or_skipped(sample_copy: Path, tmp_path: Path) -> None:
    train_ids = split_ids(sample_copy, "full", "train")
    victim = train_ids[0]
    (sample_copy / "single_frames" / victim / "annotations" / "object_detection.json").unlink()
    with pytest.raises(FrameFailures) as info:
        convert_to_coco(sample_copy, tmp_path / "a", "full", workers=1, progress=False)
    assert list(info.value.missing) == [victim]
    assert "object_detection.json" in info.value.missing[victim]
    paths = convert_to_coco(
        sample_copy, tmp_path / "b", "full", workers=1, skip_missing=True, progress=False
    )
    doc = json.loads(paths["train"].read_text())
    assert sorted(img["id"] for img in doc["images"]) == sorted(int(i) for i in train_ids[1:])
    report = json.loads((tmp_path / "b" / "zod_full_blur_train.missing.json").read_text())
    assert list(report) == [victim]


def test_a_split_that_fails_leaves_the_one_before_written(
    sample_copy: Path, tmp_path: Path
) -> None:
    """Splits are written (by a thread) while the next converts: a val frame with a missing
    file fails the run after the train file is on disk, so a rerun redoes only val."""
    victim = split_ids(sample_copy, "full", "val")[0]
    annotation = sample_copy / "single_frames" / victim / "annotations" / "object_detection.json"
    kept = annotation.read_bytes()
    annotation.unlink()
    with pytest.raises(FrameFailures) as info:
        convert_to_coco(sample_copy, tmp_path, "full", workers=1, progress=False)
    assert list(info.value.missing) == [victim]
    train = tmp_path / "zod_full_blur_train.json"
    val = tmp_path / "zod_full_blur_val.json"
    assert json.loads(train.read_text())["images"] and not val.exists()
    os.utime(train, ns=(1, 1))
    annotation.write_bytes(kept)
    convert_to_coco(sample_copy, tmp_path, "full", workers=1, progress=False)
    assert train.stat().st_mtime_ns == 1 and json.loads(val.read_text())["images"]


def test_cli_generate_alias_with_reference_options(
    zod_cli: list[str], sample_root: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            *zod_cli,
            "generate",
            "coco",
            "--dataset-root",
            str(sample_root),
            "--output-dir",
            str(tmp_path),
            "--version",
            "mini",
            "--anonymization",
            "dnat",
            "--use-png",
            "--classes",
            "Vehicle",
            "--classes",
            "Pedestrian",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "zod_mini_dnat_png_train.json").read_text())
    assert [c["id"] for c in doc["categories"]] == [1, 3]
    assert doc["images"] and all(
        i["file_name"].endswith(".png") and "camera_front_dnat" in i["file_name"]
        for i in doc["images"]
    )
    assert {a["category_id"] for a in doc["annotations"]} <= {1, 3}
    # the convert spelling gives the same file
    done = subprocess.run(
        [
            *zod_cli,
            "convert",
            "coco",
            "--dataset-root",
            str(sample_root),
            "--output-dir",
            str(tmp_path / "c"),
            "--version",
            "mini",
            "--anonymization",
            "dnat",
            "--use-png",
            "--classes",
            "Vehicle",
            "--classes",
            "Pedestrian",
            "--workers",
            "1",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "c" / "zod_mini_dnat_png_train.json").read_bytes() == (
        tmp_path / "zod_mini_dnat_png_train.json"
    ).read_bytes()


def test_segmentation_files(sample_root: Path, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    paths = convert_to_coco(
        sample_root,
        tmp_path,
        "full",
        segmentation=["ego_road", "lane_markings"],
        workers=1,
        progress=False,
    )
    ego_ids = []
    for split in ("train", "val"):
        for project in ("ego_road", "lane_markings"):
            coco = COCO(str(paths[f"{project}_{split}"]))
            for anno in coco.loadAnns(coco.getAnnIds()):
                mask = coco.annToMask(anno)
                assert mask.shape == (
                    coco.imgs[anno["image_id"]]["height"],
                    coco.imgs[anno["image_id"]]["width"],
                )
                assert mask.sum() > 0
            if project == "ego_road":
                ego_ids += coco.getImgIds()
    # only frames annotated for ego road are listed
    index = json.loads((sample_root / "trainval-frames-full.json").read_text())
    annotated = sorted(
        int(i["id"]) for s in ("train", "val") for i in index[s] if "ego_road" in i["annotations"]
    )
    assert sorted(ego_ids) == annotated and annotated
    assert np.all(np.diff(sorted(ego_ids)) > 0)
