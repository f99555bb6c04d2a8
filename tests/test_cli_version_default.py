"""`--version` defaults to the version whose index is on disk (full, else mini), in every command.

A mini-only download (``trainval-<subset>-mini.json`` and no full index) must work without
``--version mini``; these tests run the `zod` console command on a copy of the sample with the
full indexes removed. Only subprocess calls and long-standing library names are used, so the file
also runs against an older checkout (where the first tests fail: it defaulted to full).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from zod import ZodFrames


def _zod(zod_cli: list[str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*zod_cli, *map(str, args)], capture_output=True, text=True, check=False, timeout=600
    )


@pytest.fixture()
def mini_only(sample_copy: Path) -> Path:
    """The sample as a mini-only download: every full index removed."""
    for path in sample_copy.glob("trainval-*-full.json"):
        path.unlink()
    assert sorted(p.name for p in sample_copy.glob("trainval-*.json")) == [
        "trainval-drives-mini.json",
        "trainval-frames-mini.json",
        "trainval-sequences-mini.json",
    ]
    return sample_copy


def _first_frame(root: Path) -> str:
    return sorted(ZodFrames(str(root), "mini").get_all_ids())[0]


def test_visualize_frame_on_a_mini_only_download(
    zod_cli: list[str], mini_only: Path, tmp_path: Path
) -> None:
    out = tmp_path / "frame.png"
    run = _zod(
        zod_cli, "visualize", "frame", mini_only, _first_frame(mini_only), "--layers", "image",
        "--scale", "0.1", "--out", out,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_visualize_sequence_bev_on_a_mini_only_download(
    zod_cli: list[str], mini_only: Path, tmp_path: Path
) -> None:
    from zod import ZodSequences

    seq_id = sorted(ZodSequences(str(mini_only), "mini").get_all_ids())[0]
    out = tmp_path / "bev.png"
    run = _zod(zod_cli, "visualize", "bev", mini_only, seq_id, "--subset", "sequences", "-o", out)
    assert run.returncode == 0, run.stderr
    assert out.is_file()


def test_view_frame_on_a_mini_only_download(
    zod_cli: list[str], mini_only: Path, tmp_path: Path
) -> None:
    out = tmp_path / "frame.rrd"
    frame_id = _first_frame(mini_only)
    run = _zod(zod_cli, "view", mini_only, frame_id, "--save", out, "--no-signals", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0
    again = _zod(zod_cli, "view", "--dataset-root", mini_only, frame_id, "--save", out)
    assert again.returncode == 0, again.stderr


def test_convert_coco_on_a_mini_only_download(
    zod_cli: list[str], mini_only: Path, tmp_path: Path
) -> None:
    run = _zod(
        zod_cli, "convert", "coco", "--dataset-root", mini_only, "--output-dir", tmp_path,
        "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    frames = ZodFrames(str(mini_only), "mini")
    train = json.loads((tmp_path / "zod_mini_blur_train.json").read_text())
    assert sorted(int(image["id"]) for image in train["images"]) == sorted(
        int(i) for i in frames.get_split("train")
    )
    assert not (tmp_path / "zod_full_blur_train.json").exists()


def test_eval_detection_on_a_mini_only_download(
    zod_cli: list[str], mini_only: Path, tmp_path: Path
) -> None:
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps({"results": {}}))
    metrics = tmp_path / "metrics.json"
    run = _zod(
        zod_cli, "eval", "detection", mini_only, "--predictions", predictions, "--output", metrics,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(metrics.read_text())
    assert data["num_frames"] == len(ZodFrames(str(mini_only), "mini").get_split("val"))


def test_verify_on_a_mini_only_download(zod_cli: list[str], mini_only: Path) -> None:
    run = _zod(
        zod_cli, "verify", "--dataset-root", mini_only, "--subset", "drives", "--no-progress"
    )
    assert run.returncode == 0, run.stderr
    assert "expected files are present" in run.stdout


def test_info_on_a_mini_only_download(zod_cli: list[str], mini_only: Path) -> None:
    run = _zod(zod_cli, "info", mini_only, "--no-classes", "--no-files", "--json")
    assert run.returncode == 0, run.stderr
    listed = {(item["subset"], item["version"]) for item in json.loads(run.stdout)}
    assert listed == {("single_frames", "mini"), ("sequences", "mini"), ("drives", "mini")}


def test_full_is_the_default_when_both_are_on_disk(
    zod_cli: list[str], sample_root: Path, tmp_path: Path
) -> None:
    run = _zod(
        zod_cli, "convert", "coco", sample_root, "--output-dir", tmp_path, "--workers", "1",
        "--no-progress",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "zod_full_blur_val.json").is_file()
    assert not (tmp_path / "zod_mini_blur_val.json").exists()


def test_an_explicit_version_is_kept(zod_cli: list[str], mini_only: Path, tmp_path: Path) -> None:
    run = _zod(
        zod_cli, "visualize", "frame", mini_only, _first_frame(mini_only), "--version", "full",
        "--out", tmp_path / "x.png",
    )  # fmt: skip
    assert run.returncode == 1
    assert "trainval-frames-full.json is not on disk" in run.stderr


def test_no_index_names_the_files_and_the_download(
    zod_cli: list[str], mini_only: Path, tmp_path: Path
) -> None:
    (mini_only / "trainval-frames-mini.json").unlink()
    out = tmp_path / "out"
    commands: list[list[str | Path]] = [
        ["convert", "kitti", mini_only, "--output-dir", out],
        ["eval", "detection", mini_only, "--predictions", out / "p.json"],
        ["visualize", "frame", mini_only, "000001", "--out", out / "frame.png"],
    ]
    for command in commands:
        run = _zod(zod_cli, *command)
        assert run.returncode == 1, (command, run.stderr)
        message = run.stderr.replace("\n", " ")
        assert message.startswith("ERROR: no ZOD Frames index under ")
        assert "looked for trainval-frames-full.json and trainval-frames-mini.json" in message
        assert f"zod download --url <dataset link> --output-dir {mini_only.resolve()}" in message
        assert "--subset frames --version mini" in message
    assert not out.exists()  # nothing was written
