"""Robustness of every reader: corrupted files raise only the devkit's errors, naming the file.

``test_readers_survive_fuzzing`` runs ``tests/fuzz_driver.py`` (seeded, a fixed number of
cases per reader and mutation family, about 15 s) in a subprocess whose address space is
capped, so that a reader allocating what a corrupt header claims fails as ``MemoryError``.
On the code before this test existed it found 395 failures in 1000 cases (bare
``IsADirectoryError``/``OSError``, ``MemoryError`` of 10 GiB-35 TiB from .npy and JPEG
headers, ``OverflowError``, h5py ``KeyError``/``RuntimeError``/``TypeError``, NaN and
non-rigid poses read silently, a directory reported as a missing download).

The index scanner's property test against ``json`` is ``tests/test_index_agreement.py``
(hypothesis-generated and mutated indexes); it is not repeated here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from zod._io import check_file, load_npy_checked, read_json_checked
from zod.errors import (
    FormatError,
    MissingFileError,
    MissingKeyError,
    UnreadableFileError,
    ZodError,
)
from zod.sensors import lidar as lidar_module
from zod.sensors.camera import read_image
from zod.sensors.lidar import EGO_RETURNS_BOX, LIDAR_DTYPE, LidarData

DRIVER = Path(__file__).with_name("fuzz_driver.py")
REPO = DRIVER.parent.parent


def test_readers_survive_fuzzing(sample_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, str(DRIVER), str(sample_root), str(tmp_path), "0", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    per_family = result["per_family"]
    # every mutation family ran (a family that never applies would test nothing)
    assert all(n > 0 for n in per_family.values()), per_family
    assert result["cases"] > 500
    failures = result["failures"]
    counts = Counter(f["family"] for f in failures)
    summary = ", ".join(f"{family} {counts[family]}/{n}" for family, n in per_family.items())
    detail = "\n".join(
        f"{f['reader']} / {f['family']} / {f['file']}: {f['error']}" for f in failures[:30]
    )
    assert not failures, f"{len(failures)} of {result['cases']} cases failed ({summary}):\n{detail}"


# --------------------------------------------------------------------------- the open helper
def test_open_helper_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(MissingFileError, match=r"missing\.json"):
        read_json_checked(missing, "calibration file", "--infos")
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(MissingFileError):  # the link's target is what is missing
        read_json_checked(dangling, "calibration file", "--infos")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    with pytest.raises(UnreadableFileError, match="is a directory") as err:
        read_json_checked(folder, "calibration file", "--infos")
    # a FormatError and an OSError (what the reference raised), not a missing download
    assert isinstance(err.value, FormatError) and isinstance(err.value, OSError)
    assert not isinstance(err.value, MissingFileError)
    loop = tmp_path / "loop.json"
    loop.symlink_to(tmp_path / "loop2.json")
    (tmp_path / "loop2.json").symlink_to(loop)
    with pytest.raises(UnreadableFileError, match="symlink loop"):
        check_file(loop, "calibration file", "--infos")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"a": [1, 2')
    with pytest.raises(FormatError, match=re.escape(str(bad))):
        read_json_checked(bad, "calibration file", "--infos")


def test_missing_key_is_a_key_error(tmp_path: Path) -> None:
    from zod.calibration import Calibration

    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"FC": {"extrinsics": np.eye(4).tolist()}}))
    with pytest.raises(MissingKeyError, match="calibration misses key 'intrinsics'") as err:
        Calibration.from_json_path(path)
    assert isinstance(err.value, KeyError) and str(path) in str(err.value)


# --------------------------------------------------------------------------- .npy headers
def _npy_with_header(path: Path, header: dict, data: bytes) -> None:
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(data)


def test_npy_header_checked_against_the_file_size(tmp_path: Path) -> None:
    records = np.zeros(10, LIDAR_DTYPE)
    path = tmp_path / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    header = {"descr": np.lib.format.dtype_to_descr(LIDAR_DTYPE), "fortran_order": False}
    # 2**40 records of 22 bytes = 22 TiB claimed; refused from the size, nothing allocated
    _npy_with_header(path, {**header, "shape": (2**40,)}, records.tobytes())
    with pytest.raises(FormatError, match=r"claims 1099511627776 records .* holds 220 bytes"):
        LidarData.from_npy(path)
    _npy_with_header(path, {**header, "shape": (11,)}, records.tobytes())
    with pytest.raises(FormatError, match="truncated"):
        load_npy_checked(path, "lidar scan", "--lidar")
    _npy_with_header(path, {**header, "shape": (5, 2)}, records.tobytes())
    with pytest.raises(FormatError, match=r"1-D array, the header says shape \(5, 2\)"):
        LidarData.from_npy(path)
    _npy_with_header(path, {**header, "shape": (10,)}, records.tobytes())
    assert LidarData.from_npy(path, remove_ego_lidar_returns=False).num_points == 10
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FormatError, match="Python objects"):
        LidarData.from_npy(path)


# --------------------------------------------------------------------------- one-pass lidar
def _scan(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = np.empty(n, LIDAR_DTYPE)
    data["x"] = rng.uniform(-4, 4, n)
    data["y"] = rng.uniform(-5, 5, n)
    data["z"] = rng.uniform(-2, 1, n)
    data["timestamp"] = rng.integers(-50_000, 50_000, n)
    data["intensity"] = rng.integers(0, 256, n)
    data["diode_index"] = rng.integers(0, 128, n)
    return data


@pytest.mark.parametrize("n", [0, 1, 1000, 2 * lidar_module._CHUNK + 123])
def test_one_pass_lidar_read_matches_the_records(tmp_path: Path, n: int) -> None:
    """The chunked one-pass read equals filtering and splitting the whole array by hand."""
    data = _scan(n, n)
    if n > 3:  # a chunk without ego returns goes the copy-only way
        data["x"][: n // 3] = 10.0
    path = tmp_path / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    np.save(path, data)
    core = 1644845012.140954
    lo, hi = EGO_RETURNS_BOX
    xyz = np.stack([data["x"], data["y"], data["z"]], axis=1)
    ego = np.all((xyz > lo) & (xyz < hi), axis=1)
    for remove in (True, False):
        scan = LidarData.from_npy(path, remove_ego_lidar_returns=remove)
        keep = ~ego if remove else np.ones(n, dtype=bool)
        assert scan.points.dtype == np.float32 and scan.points.shape == (keep.sum(), 3)
        np.testing.assert_array_equal(scan.points, xyz[keep])
        np.testing.assert_array_equal(scan.timestamps, data["timestamp"][keep] / 1e6 + core)
        np.testing.assert_array_equal(scan.intensity, data["intensity"][keep])
        np.testing.assert_array_equal(scan.diode_idx, data["diode_index"][keep])
        assert scan.core_timestamp == core


def test_float64_lidar_records_read_the_generic_way(tmp_path: Path) -> None:
    data = _scan(500, 1)
    wide = np.empty(500, [(n, "<f8" if n in "xyz" else data.dtype[n]) for n in data.dtype.names])
    for name in data.dtype.names:
        wide[name] = data[name]
    path = tmp_path / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    np.save(path, wide)
    narrow = tmp_path / "000002_romeo_2022-02-14T13:23:32.140954Z.npy"
    np.save(narrow, data)
    assert LidarData.from_npy(path) == LidarData.from_npy(narrow)


# --------------------------------------------------------------------------- JPEG headers
def test_jpeg_header_claiming_a_huge_image_is_refused(tmp_path: Path) -> None:
    import cv2

    ok, encoded = cv2.imencode(".jpg", np.zeros((16, 24, 3), np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = (65500).to_bytes(2, "big") * 2
    path = tmp_path / "img.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"claims 65500x65500 pixels, the index lists 24x16"):
        read_image(path, expected_size=(24, 16))
    with pytest.raises(FormatError, match="implausible 65500x65500"):
        read_image(path)


def test_errors_are_zod_errors() -> None:
    for cls in (UnreadableFileError, MissingKeyError, MissingFileError):
        assert issubclass(cls, ZodError)


def test_info_with_a_null_or_missing_path_names_the_index(sample_root: Path) -> None:
    """A null ``ego_motion_path`` is refused (the reference read the file ``./None``)."""
    from zod import ZodFrames
    from zod.info import Information

    frames = ZodFrames(str(sample_root), "mini")
    item_id = frames.index.ids[0]
    raw = frames.index.raw(item_id)
    source = frames.index.path
    with pytest.raises(FormatError, match=r"info \d+: ego_motion_path is NoneType, not a path"):
        Information.from_dict({**raw, "ego_motion_path": None}, sample_root, source=source)
    renamed = {
        ("egoMotionPath_renamed" if k == "ego_motion_path" else k): v for k, v in raw.items()
    }
    with pytest.raises(MissingKeyError, match=re.escape(str(source))) as err:
        Information.from_dict(renamed, sample_root, source=source)
    assert isinstance(err.value, KeyError) and "ego_motion_path" in str(err.value)
