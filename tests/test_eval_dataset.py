"""zod.eval on the generated sample: ground truth through the readers, the CLI, the oracle."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zod.errors import ZodError
from zod.eval.detection import (
    DetectionBoxes,
    ground_truth_from_dataset,
    write_predictions,
)

VERSION = "full"

ORACLE_READ = r"""
import json, sys
import numpy as np
from zod import ZodFrames, ZodSequences
from zod.constants import AnnotationProject
from zod.eval.detection import DetectionBox, EvalBoxes, EVALUATION_CLASSES, evaluate_nuscenes_style

job = json.load(sys.stdin)
dataset_class = ZodSequences if job.get("subset") == "sequences" else ZodFrames
frames = dataset_class(job["root"], job["version"])
ids = list(frames.get_split(job["split"]))
gt_rows, signs = [], {}
gt = EvalBoxes()
for fid in ids:
    frame = frames[fid]
    gt.add_boxes(fid, [])
    for obj in frame.get_annotation(AnnotationProject.OBJECT_DETECTION):
        if obj.box3d is None or obj.unclear:
            continue
        for name in dict.fromkeys([obj.name, obj.subclass]):
            row = {"frame": fid, "name": name, "center": obj.box3d.center.tolist(),
                   "size": obj.box3d.size.tolist(), "rotation": list(obj.box3d.orientation.q)}
            gt_rows.append(row)
            if name in EVALUATION_CLASSES:
                gt.add_boxes(fid, [DetectionBox(fid, row["center"], row["size"], row["rotation"],
                                                detection_name=name)])
    if AnnotationProject.TRAFFIC_SIGNS in frame.info.annotations:
        # raw file: the reference reader crashes on sign names outside its list (spec 14)
        with open(frame.info.annotations[AnnotationProject.TRAFFIC_SIGNS].filepath) as f:
            for sign in json.load(f):
                props = sign["properties"]
                if props["class"] != "unclear" and not props.get("unclear", False):
                    signs[props["annotation_uuid"]] = props["class"]
pred = EvalBoxes()
for fid, boxes in job["pred"].items():
    pred.add_boxes(fid, [DetectionBox(fid, b["center"], b["size"], b["rotation"],
                                      detection_name=b["class"], detection_score=b["score"])
                         for b in boxes if b["class"] in EVALUATION_CLASSES])
metrics = evaluate_nuscenes_style(gt, pred, verify_coordinate_system=False) if job["pred"] else {}
json.dump({"ids": ids, "gt": gt_rows, "signs": signs, "metrics": metrics}, sys.stdout)
"""


def _oracle(
    oracle_python: Path, root: Path, split: str, pred: dict, cwd: Path, subset: str = "frames"
) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    job = {"root": str(root), "version": VERSION, "split": split, "pred": pred, "subset": subset}
    run = subprocess.run(
        [str(oracle_python), "-c", ORACLE_READ],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=cwd,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _split_with_boxes(root: Path) -> str:
    """A split of the sample whose ground truth has 3D boxes (read from the index)."""
    for split in ("val", "train"):
        if len(ground_truth_from_dataset(root, VERSION, split)):
            return split
    pytest.fail("the sample has no 3D boxes in any split")


def _perturbed(gt: DetectionBoxes, seed: int = 0) -> DetectionBoxes:
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(rng.random(len(gt)) < 0.8)
    fake = rng.integers(0, len(gt), len(gt) // 3)
    src = np.r_[keep, fake]
    center = gt.centers_m[src] + rng.normal(0, 0.4, (src.size, 3))
    center[keep.size :, :2] += rng.uniform(-8, 8, (fake.size, 2))
    return DetectionBoxes.from_columns(
        gt.frame_id_per_box[src],
        gt.names[src],
        center,
        gt.sizes_lwh_m[src] * rng.uniform(0.8, 1.2, (src.size, 3)),
        yaw_rad=gt.yaw_rad[src] + rng.normal(0, 0.2, src.size),
        scores=np.round(rng.uniform(0, 1, src.size), 2),
        frame_ids=gt.frame_ids,
    )


def test_ground_truth_equals_the_reference_readers(
    sample_root: Path, oracle_python: Path, tmp_path: Path
) -> None:
    split = _split_with_boxes(sample_root)
    ours = ground_truth_from_dataset(sample_root, VERSION, split)
    ref = _oracle(oracle_python, sample_root, split, {}, tmp_path)
    assert list(ours.frame_ids) == sorted(ref["ids"])  # sorted: get_split gives a set

    def key(frame: str, name: str, center: list[float]) -> tuple:
        return (frame, name, *np.round(center, 4))

    ours_rows = sorted(
        key(f, n, c) for f, n, c in zip(ours.frame_id_per_box, ours.names, ours.centers_m.tolist())
    )
    ref_rows = sorted(key(r["frame"], r["name"], r["center"]) for r in ref["gt"])
    assert ours_rows == ref_rows and len(ours_rows) > 0
    by_key = {key(r["frame"], r["name"], r["center"]): r for r in ref["gt"]}
    for i in range(len(ours)):
        r = by_key[key(ours.frame_id_per_box[i], ours.names[i], ours.centers_m[i].tolist())]
        np.testing.assert_allclose(ours.sizes_lwh_m[i], r["size"], atol=1e-9)
        q = np.asarray(r["rotation"])
        assert (
            min(
                np.abs(ours.quaternions_wxyz[i] - q).max(),
                np.abs(ours.quaternions_wxyz[i] + q).max(),
            )
            < 1e-9
        )


def test_cli_scores_perfect_predictions_one(
    sample_root: Path, zod_cli: list[str], tmp_path: Path
) -> None:
    split = _split_with_boxes(sample_root)
    gt = ground_truth_from_dataset(sample_root, VERSION, split)
    perfect = DetectionBoxes.from_columns(
        gt.frame_id_per_box,
        gt.names,
        gt.centers_m,
        gt.sizes_lwh_m,
        quaternions_wxyz=gt.quaternions_wxyz,
        scores=np.linspace(1.0, 0.5, len(gt)),
        frame_ids=gt.frame_ids,
    )
    preds = write_predictions(tmp_path / "preds.json", perfect)
    out = tmp_path / "metrics.json"
    run = subprocess.run(
        [
            *zod_cli,
            "eval",
            "detection",
            "--dataset-root",
            str(sample_root),
            "--version",
            VERSION,
            "--split",
            split,
            "--predictions",
            str(preds),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "NDS:" in run.stdout
    data = json.loads(out.read_text())
    assert data["mAP"] == pytest.approx(1.0) and data["NDS"] == pytest.approx(1.0)
    assert data["num_frames"] == len(gt.frame_ids)
    assert sum(c["num_gt"] for c in data["per_class"].values()) == int(
        np.isin(gt.names, data["evaluated_classes"]).sum()
    )


def test_cli_agrees_with_the_reference_on_perturbed_predictions(
    sample_root: Path, oracle_python: Path, zod_cli: list[str], tmp_path: Path
) -> None:
    split = _split_with_boxes(sample_root)
    gt = ground_truth_from_dataset(sample_root, VERSION, split)
    preds = _perturbed(gt)
    path = write_predictions(tmp_path / "preds.json", preds)
    ref = _oracle(
        oracle_python, sample_root, split, json.loads(path.read_text())["results"], tmp_path
    )["metrics"]
    out = tmp_path / "metrics.json"
    run = subprocess.run(
        [
            *zod_cli,
            "eval",
            "detection",
            "--dataset-root",
            str(sample_root),
            "--version",
            VERSION,
            "--split",
            split,
            "--predictions",
            str(path),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    ours = json.loads(out.read_text())["per_class"]
    ref_classes = sorted(k[: -len("/mAP")] for k in ref if k.endswith("/mAP"))
    assert sorted(ours) == ref_classes
    for name in ref_classes:
        for metric in ("mAP", "mATE", "mASE", "mAOE"):
            assert ours[name][metric] == pytest.approx(ref[f"{name}/{metric}"], abs=1e-9)


def test_missing_annotation_file_is_named_or_skipped(sample_copy: Path) -> None:
    split = _split_with_boxes(sample_copy)
    gt = ground_truth_from_dataset(sample_copy, VERSION, split)
    victim = gt.frame_ids[0]
    path = next(sample_copy.glob(f"single_frames/{victim}/annotations/object_detection.json"))
    path.unlink()
    with pytest.raises(ZodError) as info:
        ground_truth_from_dataset(sample_copy, VERSION, split)
    assert "object_detection.json" in str(info.value) and victim in str(info.value)
    assert "--skip-missing" in str(info.value)
    skipped = ground_truth_from_dataset(sample_copy, VERSION, split, skip_missing=True)
    assert victim not in skipped.frame_ids
    assert set(skipped.frame_ids) == set(gt.frame_ids) - {victim}


def test_traffic_sign_cli_against_reference_ground_truth(
    sample_root: Path, oracle_python: Path, zod_cli: list[str], tmp_path: Path
) -> None:
    from zod.eval import traffic_signs as tsr

    per_split = {
        s: tsr.ground_truth_from_dataset(sample_root, VERSION, s) for s in ("train", "val")
    }
    for split_name, signs in per_split.items():
        assert signs == _oracle(oracle_python, sample_root, split_name, {}, tmp_path)["signs"]
    split = max(per_split, key=lambda s: len(per_split[s]))
    ours = per_split[split]
    if not ours:
        pytest.fail("the sample has no clear traffic signs")
    uuids = sorted(ours)
    wrong = uuids[0]
    preds = {
        u: ("Priority_Stop" if ours[u] != "Priority_Stop" else "NotListed")
        if u == wrong
        else ours[u]
        for u in uuids
    }
    path = tmp_path / "signs.json"
    path.write_text(json.dumps({"results": preds}))
    out = tmp_path / "tsr.json"
    run = subprocess.run(
        [
            *zod_cli,
            "eval",
            "traffic-signs",
            "--dataset-root",
            str(sample_root),
            "--version",
            VERSION,
            "--split",
            split,
            "--predictions",
            str(path),
            "--output",
            str(out),
            "--confusion-png",
            str(tmp_path / "confusion.png"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert data["num_ground_truth"] == len(uuids)
    assert data["accuracy"] == pytest.approx((len(uuids) - 1) / len(uuids))
    import cv2

    picture = cv2.imread(str(tmp_path / "confusion.png"))
    assert picture is not None and picture.shape[0] > 40


def test_ground_truth_of_chosen_frames(sample_root: Path) -> None:
    split = _split_with_boxes(sample_root)
    whole = ground_truth_from_dataset(sample_root, VERSION, split)
    first = whole.frame_ids[0]
    one = ground_truth_from_dataset(sample_root, VERSION, split, frame_ids=[int(first)])
    assert one.frame_ids == (first,)
    assert len(one) == int((whole.frame_id_per_box == first).sum())
    other = "train" if split == "val" else "val"
    foreign = ground_truth_from_dataset(sample_root, VERSION, other).frame_ids[0]
    with pytest.raises(ValueError, match=f"not in the {split} split"):
        ground_truth_from_dataset(sample_root, VERSION, split, frame_ids=[foreign])


def test_ground_truth_with_worker_processes_is_identical(sample_root: Path) -> None:
    split = _split_with_boxes(sample_root)
    inline = ground_truth_from_dataset(sample_root, VERSION, split, workers=1)
    pooled = ground_truth_from_dataset(sample_root, VERSION, split, workers=2)
    assert pooled.frame_ids == inline.frame_ids
    assert pooled.names.tolist() == inline.names.tolist()
    np.testing.assert_array_equal(pooled.centers_m, inline.centers_m)
    np.testing.assert_array_equal(pooled.quaternions_wxyz, inline.quaternions_wxyz)


def test_cli_reports_bad_input_clearly(
    sample_root: Path, zod_cli: list[str], tmp_path: Path
) -> None:
    base = [
        *zod_cli,
        "eval",
        "detection",
        "--dataset-root",
        str(sample_root),
        "--version",
        VERSION,
        "--split",
        "val",
    ]
    run = subprocess.run(
        [*base, "--predictions", str(tmp_path / "absent.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 1 and "predictions file" in run.stderr
    assert "Traceback" not in run.stderr
    # predictions on a frame of the other split: named, with a hint
    other = ground_truth_from_dataset(sample_root, VERSION, "train").frame_ids[0]
    bad = tmp_path / "other_split.json"
    bad.write_text(
        json.dumps(
            {
                other: [
                    {
                        "class": "Vehicle",
                        "score": 0.5,
                        "center": [1, 20, 0],
                        "size": [4, 2, 1.5],
                        "yaw": 0.0,
                    }
                ]
            }
        )
    )
    run = subprocess.run(
        [*base, "--predictions", str(bad)], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 1 and "wrong split" in run.stderr


def test_sequence_keyframe_ground_truth_equals_the_reference(
    sample_root: Path, oracle_python: Path, tmp_path: Path
) -> None:
    from zod.eval import traffic_signs as tsr

    total = 0
    for split in ("train", "val"):
        ours = ground_truth_from_dataset(sample_root, VERSION, split, subset="sequences")
        ref = _oracle(oracle_python, sample_root, split, {}, tmp_path, subset="sequences")
        assert list(ours.frame_ids) == sorted(ref["ids"])
        ours_rows = sorted(
            zip(
                ours.frame_id_per_box.tolist(),
                ours.names.tolist(),
                np.round(ours.centers_m, 4).tolist(),
            )
        )
        ref_rows = sorted(
            (r["frame"], r["name"], np.round(r["center"], 4).tolist()) for r in ref["gt"]
        )
        assert ours_rows == ref_rows
        signs = tsr.ground_truth_from_dataset(sample_root, VERSION, split, subset="sequences")
        assert signs == ref["signs"]
        total += len(ours_rows)
    assert total > 0
