"""The index and its infos: the sub-dataset passed to ``Information``, split names, no
import cycle between ``zod.index`` and ``zod.info``."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from zod.constants import DRIVES, FRAMES, SEQUENCES, Lidar
from zod.dataset import ZodFrames, ZodSequences
from zod.index import ZodIndex, subset_of_file
from zod.info import Information

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_index import make_info


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOD_CACHE_DIR", str(tmp_path / "cache"))


def _streams(info: Information) -> list[str]:
    return [f.stream for f in info.lidar_frames[Lidar.VELODYNE]]


def _frame_streams(count: int) -> list[str]:
    """The download flags of a frame's ``count`` scans (core in the middle)."""
    core = count // 2
    flags = []
    for k in range(count):
        offset = k - core
        side = "before" if offset < 0 else "after"
        flags.append("--lidar" if offset == 0 else f"--num-scans-{side} {abs(offset)}")
    return flags


def _clip_info(item_id: int, scans: int) -> dict:
    """A sequence info without ``vehicle_data_path`` (null), ``scans`` lidar scans."""
    info = make_info(item_id, scans)
    assert info["vehicle_data_path"] is None
    return info


def test_sequence_without_vehicle_data_and_many_scans(tmp_path: Path) -> None:
    """The index knows it is a sequence index: more than 21 scans and no vehicle data path
    read fine, every scan brought by ``--lidar`` (main guessed "frame" and failed)."""
    path = tmp_path / "trainval-sequences-mini.json"
    path.write_text(json.dumps({"train": [_clip_info(1, 31)], "val": [_clip_info(2, 5)]}))
    index = ZodIndex(path)
    assert _streams(index.info("000001")) == ["--lidar"] * 31
    assert _streams(index.info("000002")) == ["--lidar"] * 5  # few scans: still a clip
    assert index.subset == SEQUENCES
    sequences = ZodSequences(tmp_path, "mini")
    assert _streams(sequences.get_info("000001")) == ["--lidar"] * 31
    assert len(sequences[1].info.get_lidar_frames()) == 31


def test_subset_from_argument_and_file_name(tmp_path: Path) -> None:
    path = tmp_path / "some-index.json"  # a name that says nothing
    path.write_text(json.dumps({"train": [_clip_info(1, 21)]}))
    assert ZodIndex(path).subset is None
    assert _streams(ZodIndex(path).info("000001")) == _frame_streams(21)  # the liberal guess
    assert _streams(ZodIndex(path, subset=DRIVES).info("000001")) == ["--lidar"] * 21
    assert _streams(ZodIndex(path, subset=FRAMES).info("000001")) == _frame_streams(21)
    frames_path = tmp_path / "trainval-frames-full.json"
    frames_path.write_text(path.read_text())
    assert ZodIndex(frames_path).subset == FRAMES
    assert subset_of_file("trainval-drives-full.json") == DRIVES
    assert subset_of_file("trainval_drives_full.json") is None


def test_sample_sequence_with_null_vehicle_data_path(sample_root: Path, tmp_path: Path) -> None:
    """A sample sequence (15 scans) whose vehicle data path is null: still a clip's scans."""
    data = json.loads((sample_root / "trainval-sequences-mini.json").read_text())
    info = data["train"][0]
    info["vehicle_data_path"] = None
    scans = len(info["lidar_frames"]["velodyne"])
    assert 1 < scans <= 21
    path = tmp_path / "trainval-sequences-mini.json"
    path.write_text(json.dumps({"train": [info]}))
    assert _streams(ZodIndex(path, sample_root).info(info["id"])) == ["--lidar"] * scans


def test_bare_from_dict_guesses_liberally() -> None:
    """Without a sub-dataset: a frame is an info without vehicle data and at most 21 scans."""
    assert _streams(Information.from_dict(make_info(1, 21))) == _frame_streams(21)
    assert _streams(Information.from_dict(make_info(1, 3))) == _frame_streams(3)
    assert _streams(Information.from_dict(make_info(1, 40))) == ["--lidar"] * 40
    with_vehicle = make_info(1, 21) | {"vehicle_data_path": "sequences/000001/vehicle_data.hdf5"}
    assert _streams(Information.from_dict(with_vehicle)) == ["--lidar"] * 21
    assert _streams(Information.from_dict(make_info(1, 21), subset=SEQUENCES)) == ["--lidar"] * 21
    with pytest.raises(ValueError, match="sub-dataset"):
        Information.from_dict(make_info(1, 21), subset="frames")  # the folder name is expected


def test_unknown_split_names_blacklisted(sample_root: Path) -> None:
    frames = ZodFrames(sample_root, "full")
    with pytest.raises(ValueError, match="Unknown split: trian") as err:
        frames.get_split("trian")
    assert "blacklisted" in str(err.value) and "train" in str(err.value)
    assert frames.get_split("blacklisted") == set(frames.index.blacklisted_ids)
    assert len(frames.get_split("blacklisted")) == 1
    mini = ZodFrames(sample_root, "mini")
    assert mini.get_split("blacklisted") == set()  # a spec split the file does not list
    with pytest.raises(ValueError, match="blacklisted"):
        mini.index.split_ids("trian")  # a typo is not an empty split


def test_file_split_names_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "trainval-frames-mini.json"
    path.write_text(json.dumps({"train": [make_info(1)], "test": [make_info(2)]}))
    index = ZodIndex(path)
    assert index.split_ids("test") == ["000002"]
    with pytest.raises(ValueError, match="train, val, blacklisted or test"):
        index.split_ids("tset")


# ----------------------------------------------------------------------------------------------
# Import cycles


def _module_imports(name: str) -> set[str]:
    """The ``zod`` modules that module ``name`` imports when it is imported: its module-level
    import statements (not those under ``if TYPE_CHECKING:``, not inside functions), with
    the packages that importing a submodule imports first."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    package = name if spec.submodule_search_locations else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                found.add(base)
                for alias in node.names:  # ``from zod import index`` imports a module
                    candidate = f"{base}.{alias.name}"
                    if _is_package(base) and importlib.util.find_spec(candidate) is not None:
                        found.add(candidate)
            elif isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    out = set()
    for module in found:
        if module == "zod" or module.startswith("zod."):
            parts = module.split(".")
            out.update(".".join(parts[: k + 1]) for k in range(len(parts)))
    out.discard(name)
    return out


def _is_package(name: str) -> bool:
    if not (name == "zod" or name.startswith("zod.")):
        return False
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def _closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(_module_imports(module) - seen)
    return seen


def test_no_import_cycle_between_index_and_info() -> None:
    assert "zod.info" in _module_imports("zod.index")  # the index builds Information
    assert "zod.index_scan" in _module_imports("zod.index")
    info_closure = _closure("zod.info")
    assert not {"zod.index", "zod.index_scan", "zod.index_cache", "zod.dataset"} & info_closure
    for module in ("zod.index", "zod.index_scan", "zod.index_cache", "zod.info", "zod.keys"):
        for other in _closure(module) - {module}:
            assert module not in _closure(other), f"import cycle {module} -> {other} -> {module}"
    assert "zod.info" not in _closure("zod.index_scan")  # the scanner knows no infos
