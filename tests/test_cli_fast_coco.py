"""The start-up fast path of `zod convert coco` (cli/main.py): it accepts exactly the options of
the Typer command, hands anything else to Typer, and writes the same bytes as the Typer path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from cli.main import COCO_OPTIONS, parse_coco_args, typer_app
from zod.converters import DEFAULT_CLASSES


def _typer_coco_command() -> object:
    group = typer.main.get_command(typer_app())
    return group.commands["convert"].commands["coco"]  # type: ignore[attr-defined]


def test_fast_parser_knows_every_option_of_the_typer_command() -> None:
    names: set[str] = set()
    for param in _typer_coco_command().params:  # type: ignore[attr-defined]
        names.update(n for n in (*param.opts, *param.secondary_opts) if n.startswith("--"))
    names.discard("--help")
    assert names == set(COCO_OPTIONS)


def test_fast_parser_values_and_defaults(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    args = ["--dataset-root", str(root), "--output-dir=" + str(tmp_path / "out"), "--version", "mini",
            "--classes", "Vehicle", "--classes=Pedestrian", "--num-workers", "3", "--no-progress", "--use-png",
            "--workers", "2"]
    assert parse_coco_args(args) == {
        "dataset_root": str(root.resolve()), "output_dir": str((tmp_path / "out").resolve()), "version": "mini",
        "classes": ["Vehicle", "Pedestrian"], "workers": 2, "progress": False, "use_png": True,
    }
    defaults = parse_coco_args(["--dataset-root", str(root), "--output-dir", str(tmp_path)])
    assert defaults is not None and defaults["classes"] == list(DEFAULT_CLASSES)


@pytest.mark.parametrize(
    "extra",
    [["--help"], ["--workers", "0"], ["--workers", "x"], ["--version", "huge"], ["--anonymization", "none"],
     ["--engine", "spark"], ["--bogus"], ["positional"], ["--overwrite=1"], ["--classes"]],
)
def test_fast_parser_leaves_the_rest_to_typer(tmp_path: Path, extra: list[str]) -> None:
    assert parse_coco_args(["--dataset-root", str(tmp_path), "--output-dir", str(tmp_path / "o"), *extra]) is None


def test_fast_parser_leaves_bad_paths_to_typer(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert parse_coco_args(["--dataset-root", str(tmp_path / "nope"), "--output-dir", str(tmp_path)]) is None
    assert parse_coco_args(["--dataset-root", str(tmp_path), "--output-dir", str(tmp_path / "file")]) is None
    assert parse_coco_args(["--output-dir", str(tmp_path)]) is None


def test_fast_path_writes_what_the_typer_path_writes(sample_root: Path, tmp_path: Path, zod_cli: list[str]) -> None:
    options = ["--version", "full", "--classes", "Vehicle", "--classes", "Pedestrian", "--relative-paths",
               "--workers", "1", "--no-progress"]
    fast = subprocess.run(  # under -X importtime: the imports are listed on stderr
        [sys.executable, "-X", "importtime", *zod_cli, "generate", "coco", "--dataset-root", str(sample_root), "--output-dir", str(tmp_path / "fast"), *options],
        check=True, capture_output=True, text=True,
    )
    result = CliRunner().invoke(
        typer_app(),
        ["convert", "coco", "--dataset-root", str(sample_root), "--output-dir", str(tmp_path / "typer"), *options],
    )
    assert result.exit_code == 0, result.output
    imported = {line.split("|")[-1].strip() for line in fast.stderr.splitlines() if line.startswith("import time:")}
    assert "zod.converters.coco" in imported and not {"typer", "pydantic", "tqdm", "multiprocessing"} & imported
    assert fast.stdout == result.output.replace(str(tmp_path / "typer"), str(tmp_path / "fast"))
    for name in ("zod_full_blur_train.json", "zod_full_blur_val.json"):
        assert (tmp_path / "fast" / name).read_bytes() == (tmp_path / "typer" / name).read_bytes()
    assert b'"category_id":3' in (tmp_path / "fast" / "zod_full_blur_train.json").read_bytes()


def test_fast_path_error_exit(tmp_path: Path, zod_cli: list[str]) -> None:
    run = subprocess.run(
        [*zod_cli, "convert", "coco", "--dataset-root", str(tmp_path), "--output-dir", str(tmp_path / "o"),
         "--classes", "Dragon", "--no-progress"],
        check=False, capture_output=True, text=True,
    )
    assert run.returncode == 1
    assert "ERROR: unknown object class(es) ['Dragon']" in run.stderr
