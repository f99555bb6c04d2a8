"""ZodFrames / ZodSequences / ZodDrives and Information on the sample: the reference's API
semantics."""

from __future__ import annotations

import itertools
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from zod import ZodDrives, ZodFrame, ZodFrames, ZodSequence, ZodSequences
from zod.constants import TRAINVAL_FILES, AnnotationProject, Anonymization, Lidar
from zod.dataset import UnknownIdError
from zod.summary import summarize


def _index(root: Path, subset: str, version: str) -> dict:
    return json.loads((root / TRAINVAL_FILES[subset][version]).read_text())


@pytest.mark.parametrize(
    "cls,subset", [(ZodFrames, "single_frames"), (ZodSequences, "sequences"), (ZodDrives, "drives")]
)
@pytest.mark.parametrize("version", ["mini", "full"])
def test_len_iter_splits(sample_root: Path, cls, subset: str, version: str) -> None:
    data = _index(sample_root, subset, version)
    ds = cls(sample_root, version, mp=False)
    all_ids = [i["id"] for infos in data.values() for i in infos]
    trainval = [i["id"] for s in ("train", "val") for i in data.get(s, [])]
    assert len(ds) == len(all_ids)  # blacklisted counted, like the reference
    assert [item.info.id for item in ds] == trainval  # iteration: train then val, in file order
    assert ds.get_split("train") == {i["id"] for i in data["train"]}
    assert ds.get_split("val") == {i["id"] for i in data.get("val", [])}
    assert ds.get_all_ids() == set(trainval)
    infos = ds.get_all_infos()
    assert set(infos) == set(all_ids) and len(infos) == len(all_ids)
    for project in AnnotationProject:
        assert ds.get_split("train", project) == {
            i["id"] for i in data["train"] if project.value in (i.get("annotations") or {})
        }
    with pytest.raises(ValueError):
        ds.get_split("test")
    item = ds[trainval[0]]
    assert isinstance(item, ZodFrame if cls is ZodFrames else ZodSequence)


def test_getitem_by_str_int_slice(sample_root: Path) -> None:
    frames = ZodFrames(sample_root, "full")
    item_id = min(frames.get_all_ids())
    assert frames[item_id].info.id == item_id
    assert frames[int(item_id)].info.id == item_id
    assert frames[str(int(item_id))].info.id == item_id  # un-padded string
    ordered = sorted(frames.get_all_infos())
    assert [f.info.id for f in frames[1:3]] == ordered[1:3]
    assert [f.info.id for f in frames[::-1]] == ordered[::-1]
    with pytest.raises(UnknownIdError):
        frames["999999"]
    with pytest.raises(KeyError):  # also a KeyError, like a dict
        frames[999999]


def test_blacklisted(sample_root: Path) -> None:
    frames = ZodFrames(sample_root, "full")
    blacklisted = frames.get_split("blacklisted")
    assert blacklisted and not (blacklisted & frames.get_all_ids())
    assert all(i in frames.get_all_infos() for i in blacklisted)
    assert frames[next(iter(blacklisted))].info.id in blacklisted  # still readable by id


def test_frame_lidar_selection(sample_root: Path) -> None:
    frames = ZodFrames(sample_root, "mini")
    frame = frames[min(frames.get_all_ids())]
    all_scans = frame.info.get_lidar_frames(Lidar.VELODYNE)
    assert frame.get_lidar_frames() == [all_scans[10]]
    assert frame.get_lidar_frames(2, 3) == all_scans[8:14]
    assert frame.get_lidar_frames(50, 50) == all_scans  # clipped
    times = [f.time for f in all_scans]
    assert times == sorted(times) and all(
        abs((b - a) - timedelta(seconds=0.1)) < timedelta(milliseconds=20)
        for a, b in itertools.pairwise(times)
    )
    assert frame.info.get_key_lidar_frame() is all_scans[10]
    assert (
        frame.info.get_lidar_frame(all_scans[3].time + timedelta(milliseconds=30)) is all_scans[3]
    )
    scans = frame.get_lidar(1, 1)
    assert [s.core_timestamp for s in scans] == [f.time.timestamp() for f in all_scans[9:12]]


def test_information_paths_and_cameras(sample_root: Path) -> None:
    frames = ZodFrames(sample_root, "full")
    info = frames.get_all_infos()[min(frames.get_all_ids())]
    for path in (info.calibration_path, info.ego_motion_path, info.metadata_path, info.oxts_path):
        assert Path(path).is_absolute() and Path(path).is_file()
    assert info.vehicle_data_path is None
    assert set(info.camera_frames) == {"front_blur", "front_dnat"}
    blur = info.get_key_camera_frame(Anonymization.BLUR)
    dnat = info.get_key_camera_frame(Anonymization.DNAT)
    assert blur.time == dnat.time and blur.filepath != dnat.filepath
    assert info.start_time <= info.keyframe_time <= info.end_time
    assert info.keyframe_time.tzinfo is not None
    assert info.get_camera_frame(info.keyframe_time) is blur
    with pytest.raises(ValueError, match="radar"):
        info.get_radar_frames()
    # round trip through the snake_case writer
    again = type(info).from_dict(info.to_dict(sample_root), sample_root)
    assert again == info

    sequences = ZodSequences(sample_root, "full")
    seq = sequences[min(sequences.get_all_ids())]
    assert seq.info.vehicle_data_path and Path(seq.info.vehicle_data_path).is_absolute()
    radar = seq.info.get_radar_frames()
    assert len(radar) == 1 and Path(radar[0].filepath).is_file()
    key_camera = seq.info.get_key_camera_frame()
    gaps = [abs(c.time - seq.info.keyframe_time) for c in seq.info.get_camera_frames()]
    assert abs(key_camera.time - seq.info.keyframe_time) == min(gaps)


def test_subclass_counts(sample_root: Path) -> None:
    frames = ZodFrames(sample_root, "mini")
    counts = frames.get_subclass_counts(progress=False)
    expected: dict[str, int] = {}
    for item_id in frames.get_all_ids():
        for obj in frames[item_id].get_annotation(AnnotationProject.OBJECT_DETECTION):
            expected[obj.subclass] = expected.get(obj.subclass, 0) + 1
    assert counts == expected and sum(counts.values()) > 0
    counts_3d = frames.get_subclass_counts(require_3d=True, progress=False)
    assert sum(counts_3d.values()) < sum(counts.values())


def test_summary_counts(sample_copy: Path) -> None:
    frames = ZodFrames(sample_copy, "full")
    item_id = min(frames.get_all_ids())
    dnat = Path(frames[item_id].get_camera_frame(Anonymization.DNAT).filepath)
    dnat.unlink()
    summaries = {s.name: s for s in summarize(sample_copy, progress=False)}
    assert set(summaries) == {
        f"{n} {v}" for n in ("ZodFrames", "ZodSequences", "ZodDrives") for v in ("mini", "full")
    }
    s = summaries["ZodFrames full"]
    assert s.num_items == len(frames)
    assert s.splits["train"] == len(frames.get_split("train"))
    assert s.projects["object_detection"] == len(frames)
    assert (
        s.streams["images front_dnat"].missing == 1
        and s.streams["images front_dnat"].flag == "--images --dnat"
    )
    assert s.streams["images front_blur"].missing == 0
    assert s.streams["lidar scans before the core"].expected == 10 * len(frames)
    total = sum(
        len(frames[i].get_annotation(AnnotationProject.OBJECT_DETECTION))
        for i in frames.get_all_infos()
    )
    assert sum(s.object_classes.values()) == total
    assert "radar" in summaries["ZodSequences full"].streams


def test_zod_info_cli(sample_root: Path, zod_cli: list[str]) -> None:
    out = subprocess.run(
        [*zod_cli, "info", str(sample_root), "--no-classes"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    frames = ZodFrames(sample_root, "full")
    assert f"ZodFrames full: {len(frames)} items" in out.stdout
    assert "lidar scans before the core" in out.stdout
    out = subprocess.run(
        [*zod_cli, "info", str(sample_root), "--json", "--no-files"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(out.stdout)
    assert {d["subset"] for d in data} == {"single_frames", "sequences", "drives"}


def test_dataset_pickles_for_worker_processes(sample_root: Path) -> None:
    import pickle

    frames = ZodFrames(sample_root, "mini")
    item_id = min(frames.get_all_ids())
    frames[item_id]  # one info already parsed and cached
    clone = pickle.loads(pickle.dumps(frames))
    assert len(clone) == len(frames) and clone.get_split("val") == frames.get_split("val")
    for i in frames.get_all_infos():
        assert clone[i].info == frames[i].info  # unparsed infos are read through the reopened map


def test_sequence_info_json_matches_index(sample_root: Path) -> None:
    from zod.info import Information

    sequences = ZodSequences(sample_root, "full")
    checked = 0
    for item_id in sequences.get_all_infos():
        path = sample_root / "sequences" / item_id / "info.json"
        if path.is_file():
            assert Information.from_json_path(path, sample_root) == sequences.get_info(item_id)
            checked += 1
    assert checked == len(sequences)


def test_zod_info_on_old_or_empty_root(tmp_path: Path, zod_cli: list[str]) -> None:
    (tmp_path / "trainval_frames_mini.json").write_text("{}")
    out = subprocess.run(
        [*zod_cli, "info", str(tmp_path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 1
    assert "trainval_frames_mini.json is an old underscore-named index" in out.stdout
    assert "zod download --infos" in out.stdout
