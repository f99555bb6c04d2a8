"""`zod eval kitti | segmentation | road-condition` on the sample: numbers, reports, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zod.eval.kitti import evaluate_kitti, read_label_folder


def _zod(zod_cli: list[str], *args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*zod_cli, *map(str, args)], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def kitti_export(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zod.converters.kitti import convert_to_kitti

    out = tmp_path_factory.mktemp("kitti")
    return convert_to_kitti(sample_root, out, "full", image_mode="none", workers=1, progress=False)


def _perfect_results(export: Path, folder: Path) -> None:
    """The export's labels without DontCare, with a score column, as result files."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (export / "training" / "label_2").glob("*.txt"):
        lines = [line for line in path.read_text().splitlines() if not line.startswith("DontCare")]
        scores = np.linspace(0.9, 0.1, max(len(lines), 1))
        (folder / path.name).write_text(
            "".join(f"{line} {s:.3f}\n" for line, s in zip(lines, scores))
        )


def test_kitti_command_matches_the_library_and_writes_the_report(
    zod_cli: list[str], kitti_export: Path, tmp_path: Path
) -> None:
    _perfect_results(kitti_export, tmp_path / "results")
    run = _zod(
        zod_cli,
        "eval",
        "kitti",
        kitti_export,
        "--predictions",
        tmp_path / "results",
        "--split",
        "train",
        "--output",
        tmp_path / "m.json",
        "--report",
        tmp_path / "report",
    )
    assert run.returncode == 0, run.stderr
    assert "Vehicle" in run.stdout and "AP_R40" in run.stdout
    payload = json.loads((tmp_path / "m.json").read_text())
    ids = (kitti_export / "ImageSets" / "train.txt").read_text().split()
    gt = read_label_folder(kitti_export / "training" / "label_2", ids)
    ours = evaluate_kitti(gt, read_label_folder(tmp_path / "results", ids, scored=True))
    for cls in ours.classes:
        for d in ours.difficulties:
            assert payload["per_class"][cls]["3d"]["AP_R40"][d] == pytest.approx(
                ours.ap(cls, d, "3d")
            )
    report = (tmp_path / "report" / "summary.md").read_text()
    assert "![Vehicle 3d precision-recall](pr_Vehicle_3d.png)" in report
    assert (tmp_path / "report" / "pr_Vehicle_3d.png").stat().st_size > 1000
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["num_frames"] == len(ids)


def test_kitti_command_names_a_malformed_result_line(
    zod_cli: list[str], kitti_export: Path, tmp_path: Path
) -> None:
    _perfect_results(kitti_export, tmp_path / "results")
    victim = sorted((tmp_path / "results").glob("*.txt"))[0]
    victim.write_text(victim.read_text() + "Vehicle 0 0 0 1 2 3\n")
    run = _zod(
        zod_cli,
        "eval",
        "kitti",
        kitti_export,
        "--predictions",
        tmp_path / "results",
        "--split",
        "predicted",
    )
    assert run.returncode == 1
    lines = len(victim.read_text().splitlines())
    assert f"ERROR: {victim}: line {lines}: a KITTI result line needs 16 fields" in run.stderr
    run = _zod(zod_cli, "eval", "kitti", tmp_path, "--predictions", tmp_path / "results")
    assert run.returncode == 2 and "no KITTI label folder" in run.stderr


def test_segmentation_command(zod_cli: list[str], sample_root: Path, tmp_path: Path) -> None:
    from zod.dataset import open_subset
    from zod.eval.segmentation import ground_truth_mask, write_mask

    frames = open_subset(str(sample_root), "full", "frames")
    for frame_id in frames.get_split("train"):
        frame = frames[frame_id]
        write_mask(
            tmp_path / "masks" / f"{frame_id}.png",
            ground_truth_mask("ego_road", frame.get_annotation("ego_road"), 0.125),
        )
    run = _zod(
        zod_cli,
        "eval",
        "segmentation",
        sample_root,
        "--version",
        "full",
        "--split",
        "train",
        "--predictions",
        tmp_path / "masks",
        "--output",
        tmp_path / "s.json",
        "--report",
        tmp_path / "report",
    )
    assert run.returncode == 0, run.stderr
    payload = json.loads((tmp_path / "s.json").read_text())
    assert payload["overall"]["ego_road"]["iou"] == 1.0 and payload["num_images"] == 2
    assert "![pixel confusion](confusion.png)" in (tmp_path / "report" / "summary.md").read_text()
    run = _zod(
        zod_cli,
        "eval",
        "segmentation",
        sample_root,
        "--version",
        "full",
        "--split",
        "val",
        "--predictions",
        tmp_path / "masks",
    )
    assert run.returncode == 1 and "outside the val split" in run.stderr


def test_road_condition_command(zod_cli: list[str], sample_root: Path, tmp_path: Path) -> None:
    from zod.eval import road_condition as rc

    gt = rc.ground_truth_from_dataset(sample_root, "full", "val")
    rc.write_predictions(tmp_path / "p.json", {k: rc.condition_of(*v) for k, v in gt.items()})
    run = _zod(
        zod_cli,
        "eval",
        "road-condition",
        sample_root,
        "--version",
        "full",
        "--predictions",
        tmp_path / "p.json",
        "--report",
        tmp_path / "report",
    )
    assert run.returncode == 0, run.stderr
    assert "accuracy 1.0000" in run.stdout
    assert (tmp_path / "report" / "confusion.png").is_file()
    (tmp_path / "bad.json").write_text('{"002506": "icy"}')
    run = _zod(
        zod_cli, "eval", "road-condition", sample_root, "--predictions", tmp_path / "bad.json"
    )
    assert run.returncode == 1 and "frame 002506: 'icy' is not one of" in run.stderr
