"""The `zod` command's shared conventions and the converters' one options object.

- `RunOptions` (zod.converters.runner): validated, frozen, accepted by every converter as
  ``options=`` and, as before, as keywords; the CLI builds it once from its options.
- The dataset root: the ROOT argument or ``--dataset-root`` in every command that reads a
  dataset, exactly one of them (usage error, status 2, otherwise).
- One exit path (`cli._common.fail`: ``ERROR: ...`` on stderr) and one definition of each choice.
- `zod.release.versions_on_disk`, the helper behind the ``--version`` default.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli._common import AnonymizationName, EngineName, PinholeViewsName, SubsetName, VersionName
from cli.main import COMMAND_MODULES, app
from zod import ZodFrames
from zod.constants import VERSIONS, Anonymization
from zod.converters.coco import convert_to_coco
from zod.converters.kitti import convert_to_kitti
from zod.converters.pointcloud import convert_to_pointclouds
from zod.converters.runner import (
    ENGINES,
    FrameFailures,
    RunOptions,
    default_workers,
    run_frames,
    run_options,
)
from zod.converters.tsr_patches import extract_tsr_patches
from zod.converters.yolo import convert_to_yolo
from zod.release import SUBSET_FOLDERS, versions_on_disk

REPO_ROOT = Path(__file__).resolve().parent.parent
CONVERTERS: list[Callable[..., Any]] = [
    convert_to_coco,
    convert_to_yolo,
    convert_to_kitti,
    convert_to_pointclouds,
    extract_tsr_patches,
]


def _invoke(*args: str | Path) -> tuple[int, str, str]:
    """Run the `zod` app in this process: (exit status, stdout, stderr)."""
    # wide enough that rich wraps no help line
    result = CliRunner(env={"COLUMNS": "300"}).invoke(
        app, [str(a) for a in args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


# --- RunOptions ---------------------------------------------------------------------------------


def test_run_options_defaults_validation_and_frozen() -> None:
    options = RunOptions()
    assert (options.overwrite, options.skip_missing, options.engine) == (False, False, "local")
    assert (options.workers, options.ray_address, options.progress) == (None, None, True)
    assert RunOptions(workers=None).worker_count == RunOptions(workers=0).worker_count
    assert RunOptions(workers=0).worker_count == default_workers()
    assert RunOptions(workers=3).worker_count == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.workers = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        RunOptions(engine="spark")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers must be >= 0"):
        RunOptions(workers=-1)
    with pytest.raises(ValueError, match="ray_batch_size"):
        RunOptions(ray_batch_size=0)


def test_run_options_keywords_apply_on_top_of_the_object() -> None:
    base = RunOptions(workers=2, skip_missing=True)
    assert run_options() == RunOptions()
    assert run_options(base) is base
    assert run_options(base, workers=1) == RunOptions(workers=1, skip_missing=True)
    assert run_options(None, progress=False) == RunOptions(progress=False)
    with pytest.raises(TypeError):
        run_options(base, num_workers=2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown engine"):
        run_options(base, engine="spark")  # type: ignore[arg-type]


def test_every_converter_takes_options_and_the_old_keywords() -> None:
    fields = [f.name for f in dataclasses.fields(RunOptions)]
    for converter in CONVERTERS:
        parameters = inspect.signature(converter).parameters
        assert parameters["options"].kind is inspect.Parameter.KEYWORD_ONLY, converter
        assert parameters["options"].default is None
        # the old keywords reach RunOptions through **run_kwargs (annotated with RunKwargs)
        assert list(parameters)[-1] == "run_kwargs"
        assert parameters["run_kwargs"].kind is inspect.Parameter.VAR_KEYWORD
        assert not set(fields) & set(parameters), converter  # no longer spelled out one by one


def test_options_and_keywords_give_the_same_coco(sample_root: Path, tmp_path: Path) -> None:
    by_keywords = convert_to_coco(sample_root, tmp_path / "a", "mini", workers=1, progress=False)
    by_options = convert_to_coco(
        sample_root, tmp_path / "b", "mini", options=RunOptions(workers=1, progress=False)
    )
    for split in ("train", "val"):
        assert by_keywords[split].read_bytes() == by_options[split].read_bytes()
    frames = ZodFrames(str(sample_root), "mini")
    images = json.loads(by_options["val"].read_text())["images"]
    assert sorted(int(image["id"]) for image in images) == sorted(
        int(i) for i in frames.get_split("val")
    )


def test_overwrite_and_skip_missing_through_options(sample_copy: Path, tmp_path: Path) -> None:
    frames = ZodFrames(str(sample_copy), "mini")
    val_id = sorted(frames.get_split("val"))[0]
    scan = Path(frames[val_id].info.get_key_lidar_frame().filepath)
    scan.unlink()
    out = tmp_path / "kitti"
    with pytest.raises(FrameFailures) as failures:
        convert_to_kitti(sample_copy, out, "mini", options=RunOptions(workers=1, progress=False))
    assert list(failures.value.missing) == [val_id]
    convert_to_kitti(
        sample_copy, out, "mini", options=RunOptions(workers=1, progress=False, skip_missing=True)
    )
    missing = (out / "ImageSets" / "val.missing.txt").read_text()
    assert missing.startswith(f"{val_id}\t") and str(scan) in missing
    assert val_id not in (out / "ImageSets" / "val.txt").read_text().split()
    # resuming keeps a done frame's files; overwrite=True (keyword over options) redoes them
    train_id = sorted(frames.get_split("train"))[0]
    label = out / "training" / "label_2" / f"{train_id}.txt"
    assert label.is_file()
    label.write_text("stale\n")
    options = RunOptions(workers=1, progress=False, skip_missing=True)
    convert_to_kitti(sample_copy, out, "mini", options=options)
    assert label.read_text() == "stale\n"
    convert_to_kitti(sample_copy, out, "mini", options=options, overwrite=True)
    assert label.read_text() != "stale\n"


def test_run_frames_takes_the_options_object(tmp_path: Path) -> None:
    def task(frame_id: str) -> int:
        return int(frame_id) * 2

    result = run_frames(task, ["1", "2", "3"], RunOptions(workers=1, progress=False))
    assert result.records == [2, 4, 6]
    with pytest.raises(ValueError, match="unknown engine"):
        run_frames(task, ["1"], engine="spark")  # type: ignore[arg-type]


def test_cli_builds_the_run_options(sample_root: Path, tmp_path: Path) -> None:
    # --workers 0 (all cores, as in the other commands) and the reference's --num-workers
    status, _, err = _invoke(
        "convert", "coco", sample_root, "--output-dir", tmp_path, "--version", "mini",
        "--workers", "0", "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    assert (tmp_path / "zod_mini_blur_val.json").is_file()
    first = (tmp_path / "zod_mini_blur_val.json").stat().st_mtime_ns
    status, _, err = _invoke(
        "generate", "coco", "--dataset-root", sample_root, "--output-dir", tmp_path,
        "--version", "mini", "--num-workers", "1", "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    assert (tmp_path / "zod_mini_blur_val.json").stat().st_mtime_ns == first  # resumed
    status, _, err = _invoke(
        "convert", "coco", sample_root, "--output-dir", tmp_path, "--version", "mini",
        "--workers", "1", "--no-progress", "--overwrite",
    )  # fmt: skip
    assert status == 0, err
    assert (tmp_path / "zod_mini_blur_val.json").stat().st_mtime_ns != first
    status, _, err = _invoke(
        "convert", "coco", sample_root, "--output-dir", tmp_path, "--engine", "spark"
    )
    assert status == 2 and "spark" in err


# --- the dataset root ---------------------------------------------------------------------------

# Commands that read a dataset, with the arguments after ROOT that each needs.
ROOT_COMMANDS: dict[str, str] = {
    "info": "info {root} --no-classes --no-files --json",
    "verify": "verify {root} --subset drives --no-progress",
    "visualize": "visualize frame {root} {frame} --layers image --scale 0.1 --out {out}/frame.png",
    "convert": "convert coco {root} --output-dir {out}/coco --version mini --workers 1 "
    "--no-progress",
    "generate": "generate tsr-patches {root} --output-dir {out}/tsr --version mini --workers 1 "
    "--no-progress",
    "eval": "eval detection {root} --version mini --predictions {out}/predictions.json",
    "mirror": "mirror build {root} {out}/mirror --subset drives --version mini --no-progress",
}


def _words(name: str) -> int:
    """Words of the command's name (``info``: 1, ``convert coco``: 2)."""
    return 1 if name in ("info", "verify") else 2


def _command(name: str, root: Path, out: Path, dataset_root_option: bool) -> list[str]:
    frame = sorted(ZodFrames(str(root), "mini").get_all_ids())[0]
    args = [a.format(root=root, out=out, frame=frame) for a in ROOT_COMMANDS[name].split()]
    if dataset_root_option:  # `--dataset-root ROOT` in place of the ROOT argument
        args.remove(str(root))
        args[_words(name) : _words(name)] = ["--dataset-root", str(root)]
    return args


@pytest.mark.parametrize("name", sorted(ROOT_COMMANDS))
def test_root_as_argument_or_option(name: str, sample_root: Path, tmp_path: Path) -> None:
    outputs = []
    for use_option in (False, True):
        out = tmp_path / ("option" if use_option else "argument")
        out.mkdir()
        (out / "predictions.json").write_text('{"results": {}}')
        status, stdout, stderr = _invoke(*_command(name, sample_root, out, use_option))
        assert status == 0, (use_option, stderr)
        outputs.append(stdout.replace(str(out), "OUT"))
        assert any(out.iterdir()) or stdout
    if name in ("info", "verify", "eval"):
        assert outputs[0] == outputs[1]  # the same report either way


@pytest.mark.parametrize("name", sorted(ROOT_COMMANDS))
def test_root_given_twice_or_not_at_all_is_a_usage_error(
    name: str, sample_root: Path, tmp_path: Path
) -> None:
    twice = _command(name, sample_root, tmp_path, dataset_root_option=False)
    twice[_words(name) : _words(name)] = ["--dataset-root", str(sample_root)]
    status, _, err = _invoke(*twice)
    assert status == 2
    assert err.startswith("ERROR: the dataset root is given twice"), err
    none = _command(name, sample_root, tmp_path, dataset_root_option=True)
    i = none.index("--dataset-root")
    del none[i : i + 2]
    if name in ("visualize", "mirror"):  # ROOT ID: only the ID is left
        status, _, err = _invoke(*none)
        assert status == 2 and err.startswith("ERROR: "), err
    else:
        status, _, err = _invoke(*none)
        assert status == 2
        assert err.startswith("ERROR: missing the dataset root: give it as the ROOT argument")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", sorted(ROOT_COMMANDS))
def test_root_that_is_not_a_folder(name: str, sample_root: Path, tmp_path: Path) -> None:
    args = _command(name, sample_root, tmp_path, dataset_root_option=False)
    args[args.index(str(sample_root))] = str(tmp_path / "nowhere")
    status, _, err = _invoke(*args)
    assert status == 2
    assert err == f"ERROR: dataset root {tmp_path / 'nowhere'} is not a directory\n"


def test_help_documents_the_root_convention() -> None:
    status, out, _ = _invoke("--help")
    assert status == 0
    text = " ".join(out.split())
    assert "takes its root as the first argument, ROOT, or as --dataset-root ROOT" in text
    assert "--version defaults to the version whose index is on disk" in text
    for command in (["convert", "kitti"], ["eval", "traffic-signs"], ["visualize", "lidar"]):
        status, out, _ = _invoke(*command, "--help")
        assert status == 0 and "ROOT" in out and "--dataset-root" in out, command
        assert "index is on disk" in " ".join(out.split())


# --- one exit path, one definition of each choice -----------------------------------------------


def test_errors_go_through_fail() -> None:
    """No command exits another way than `cli._common.fail` (one message format)."""
    for path in sorted((REPO_ROOT / "cli").glob("*.py")):
        text = path.read_text()
        if path.name == "_common.py":
            assert text.count("raise typer.Exit") == 1  # in fail
            continue
        for stray in ("typer.Exit", "sys.exit", "BadParameter", "typer.Abort"):
            assert stray not in text, (path.name, stray)


def test_error_messages_and_statuses(sample_copy: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    status, out, err = _invoke("info", empty)
    assert status == 1 and "no index file" in out
    assert err == f"ERROR: no ZOD index file (trainval-<subset>-<version>.json) under {empty}\n"
    status, _, err = _invoke(
        "sample", tmp_path / "s", "--num-frames", "2", "--num-frames-mini", "5"
    )
    assert status == 2
    assert err == "ERROR: need 0 <= num_frames_mini (5) <= num_frames (2)\n"
    status, _, err = _invoke(
        "convert", "tsr-patches", sample_copy, "--output-dir", tmp_path / "t",
        "--padding-factor", "0.1", "--padding-px-x", "3",
    )  # fmt: skip
    assert status == 1
    assert err == "ERROR: give --padding-factor or --padding-px-x/--padding-px-y, not both\n"
    status, _, err = _invoke(
        "eval", "detection", sample_copy, "--subset", "drives", "--predictions", tmp_path / "p"
    )
    assert status == 2 and err.startswith("ERROR: drives have no annotations")
    # verify: a missing file with --fail-on-missing
    frames = ZodFrames(str(sample_copy), "full")
    Path(frames[sorted(frames.get_all_ids())[0]].info.get_key_lidar_frame().filepath).unlink()
    status, out, err = _invoke(
        "verify", sample_copy, "--subset", "frames", "--no-progress", "--fail-on-missing"
    )
    assert status == 1 and "1 of " in out
    assert err == "ERROR: expected files are missing (above) and --fail-on-missing is given\n"


def _cli_enums() -> list[type[Enum]]:
    import importlib

    found: dict[str, type[Enum]] = {}
    for module_name in ["cli._common", *COMMAND_MODULES, "cli.convert_shards"]:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Enum) and value is not Enum:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_each_choice_is_defined_once() -> None:
    enums = _cli_enums()
    choice_sets = [frozenset(member.value for member in enum) for enum in enums]
    duplicates = [e.__qualname__ for e, c in zip(enums, choice_sets) if choice_sets.count(c) > 1]
    assert not duplicates
    # the shared choices live in cli._common and agree with the library
    shared = {VersionName, SubsetName, AnonymizationName, EngineName, PinholeViewsName}
    assert {e for e in enums if e.__module__ == "cli._common"} == shared
    assert tuple(v.value for v in VersionName) == VERSIONS
    assert [s.value for s in SubsetName] == list(SUBSET_FOLDERS)
    assert {a.value for a in AnonymizationName} == {a.value for a in Anonymization}
    assert tuple(e.value for e in EngineName) == ENGINES


def test_help_imports_no_library_module() -> None:
    """`zod --help` loads the command modules only; the library is imported inside commands."""
    code = (
        "import sys; import cli.main; "
        "print(','.join(sorted(m for m in sys.modules if m == 'numpy' or m.startswith('zod.'))))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    loaded = set(run.stdout.strip().split(","))
    assert "numpy" not in loaded
    assert not loaded & {"zod.converters.runner", "zod.index", "zod.release", "zod.dataset"}


# --- zod.release.versions_on_disk ---------------------------------------------------------------


def test_versions_on_disk(sample_copy: Path) -> None:
    assert versions_on_disk(sample_copy, "frames") == ["full", "mini"]
    assert versions_on_disk(str(sample_copy), "single_frames") == ["full", "mini"]
    (sample_copy / "trainval-frames-full.json").unlink()
    assert versions_on_disk(sample_copy, "frames") == ["mini"]
    assert versions_on_disk(sample_copy, "sequences") == ["full", "mini"]
    (sample_copy / "trainval-sequences-mini.json").unlink()
    assert versions_on_disk(sample_copy, "sequences") == ["full"]
    (sample_copy / "trainval-frames-mini.json").rename(sample_copy / "trainval_frames_mini.json")
    assert versions_on_disk(sample_copy, "frames") == []  # an old underscore name does not count
    assert versions_on_disk(sample_copy / "nowhere", "drives") == []
    with pytest.raises(ValueError, match="unknown sub-dataset"):
        versions_on_disk(sample_copy, "scenes")
