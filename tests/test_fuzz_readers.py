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

from zod._io import check_file, column_block, load_npy_checked, read_json_checked
from zod.errors import (
    FormatError,
    MissingFileError,
    MissingKeyError,
    UnreadableFileError,
    ZodError,
)
from zod.sensors import lidar as lidar_module
from zod.sensors import radar as radar_module
from zod.sensors.camera import read_image
from zod.sensors.lidar import EGO_RETURNS_BOX, LIDAR_DTYPE, LidarData
from zod.sensors.radar import RADAR_DTYPE, RadarData

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


def _plain_lidar_read(data: np.ndarray, core: float, remove_ego: bool) -> tuple[np.ndarray, ...]:
    """The straightforward numpy reader (the reference's steps): box mask, boolean index,
    columns stacked, times ``core + timestamp / 1e6``."""
    if remove_ego:
        inside = np.ones(len(data), dtype=bool)
        for dim, name in enumerate("xyz"):
            inside &= (data[name] > EGO_RETURNS_BOX[0, dim]) & (
                data[name] < EGO_RETURNS_BOX[1, dim]
            )
        data = data[~inside]
    points = np.vstack((data["x"], data["y"], data["z"])).T
    return points, core + data["timestamp"] / 1e6, data["intensity"], data["diode_index"]


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_one_pass_lidar_ego_returns_at_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Ego returns first and last in chunks, a chunk of ego returns only, a chunk without any,
    points on and just inside the box faces, NaN and -0.0: the one-pass read equals the plain
    numpy reader exactly (float32 points in order, timestamps bit for bit, both uint8 columns)."""
    monkeypatch.setattr(lidar_module, "_CHUNK", chunk)
    lo, hi = EGO_RETURNS_BOX.astype(np.float32)
    inward = np.float32(0)
    specials = [  # (x, y, z), dropped?
        ((hi[0], 0.0, 0.0), False),  # on a face: kept
        ((lo[0], 0.0, 0.0), False),
        ((0.0, hi[1], 0.0), False),
        ((0.0, 0.0, lo[2]), False),
        ((0.0, 0.0, hi[2]), False),
        ((np.nextafter(hi[0], inward), 0.0, 0.0), True),  # just inside: dropped
        ((0.0, np.nextafter(lo[1], inward), np.nextafter(hi[2], inward)), True),
        ((np.nan, 0.0, 0.0), False),  # NaN compares false: kept, as in the reference
        ((-0.0, -0.0, -0.0), True),
    ]
    body = 7 * chunk
    n = body + len(specials) + 3
    data = _scan(n, chunk)
    data["x"] = np.where(np.arange(n) % 2, 20.0, -30.0)  # outside unless set below
    ego = {0, chunk - 1, chunk, 2 * chunk - 1, *range(3 * chunk, 4 * chunk), body - 1, n - 1}
    ego -= set(range(4 * chunk, 5 * chunk))  # a chunk without ego returns
    for i in ego:
        data["x"][i], data["y"][i], data["z"][i] = 0.25, -1.0, 0.0
    for k, ((x, y, z), _) in enumerate(specials):
        data["x"][body + k], data["y"][body + k], data["z"][body + k] = x, y, z
    # times whose /1e6 and + core both round: bit-for-bit agreement is not luck
    data["timestamp"] = np.arange(n) * 7_919_993 - 12_345_678
    path = tmp_path / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    np.save(path, data)
    core = 1644845012.140954
    for remove in (True, False):
        scan = LidarData.from_npy(path, remove_ego_lidar_returns=remove)
        points, times, intensity, diode = _plain_lidar_read(data, core, remove)
        dropped = len(ego) + sum(d for _, d in specials) if remove else 0
        assert scan.num_points == len(points) == n - dropped
        # column-major: each column contiguous (rows_from_columns relies on it)
        assert scan.points.dtype == np.float32 and scan.points.strides[0] == 4
        np.testing.assert_array_equal(scan.points, points)  # NaN in the same place
        assert np.array_equal(scan.timestamps.view(np.int64), times.view(np.int64))
        np.testing.assert_array_equal(scan.intensity, intensity)
        np.testing.assert_array_equal(scan.diode_idx, diode)
        assert scan.intensity.flags.c_contiguous and scan.diode_idx.flags.c_contiguous


def test_column_block_columns_are_aligned_and_disjoint() -> None:
    layout = [(np.dtype(np.uint8), 1), (np.dtype(np.float32), 3), (np.dtype(np.float64), 1)]
    for count in (0, 1, 5, 1001):
        small, rows, wide = column_block(count, layout)
        assert small.shape == (count,) and rows.shape == (3, count) and wide.shape == (count,)
        assert all(c.flags.c_contiguous and c.flags.aligned for c in (small, rows, wide))
        small[:], rows[:], wide[:] = 7, np.arange(3)[:, None], -1.5
        assert np.all(small == 7) and np.all(rows[2] == 2) and np.all(wide == -1.5)


# --------------------------------------------------------------------------- one-pass radar
def _radar(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = np.empty(n, RADAR_DTYPE)
    for name in RADAR_DTYPE.names or ():
        kind = RADAR_DTYPE[name]
        if kind.kind == "f":
            data[name] = rng.normal(0, 50, n)
        else:
            info = np.iinfo(kind)
            data[name] = rng.integers(info.min, info.max, n, endpoint=True, dtype=kind)
    return data


@pytest.mark.parametrize(("n", "chunk"), [(0, 4), (1, 4), (4, 4), (13, 4), (1000, 1 << 14)])
def test_one_pass_radar_read_matches_the_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int, chunk: int
) -> None:
    monkeypatch.setattr(radar_module, "_CHUNK", chunk)
    data = _radar(n, n)
    path = tmp_path / "radar.npy"
    np.save(path, data)
    radar = RadarData.from_npy(path)
    for name in RADAR_DTYPE.names or ():
        column = getattr(radar, name)
        assert column.dtype == RADAR_DTYPE[name] and column.flags.c_contiguous
        assert np.array_equal(
            column.view(np.uint8), np.ascontiguousarray(data[name]).view(np.uint8)
        )


def test_radar_header_checked_before_reading(tmp_path: Path) -> None:
    records = _radar(10, 0)
    path = tmp_path / "radar.npy"
    header = {"descr": np.lib.format.dtype_to_descr(RADAR_DTYPE), "fortran_order": False}
    _npy_with_header(path, {**header, "shape": (2**40,)}, records.tobytes())
    with pytest.raises(FormatError, match=r"claims 1099511627776 records of 35 bytes"):
        RadarData.from_npy(path)
    _npy_with_header(path, {**header, "shape": (10,)}, records.tobytes()[:-1])
    with pytest.raises(FormatError, match="truncated"):
        RadarData.from_npy(path)
    wrong = np.dtype(
        [(n, "U4" if n == "mode" else RADAR_DTYPE[n]) for n in RADAR_DTYPE.names or ()]
    )
    np.save(path, np.zeros(3, wrong))
    with pytest.raises(FormatError, match=r"wrong dtype: mode: <U4"):
        RadarData.from_npy(path)
    np.save(
        path, np.zeros(3, [(n, RADAR_DTYPE[n]) for n in RADAR_DTYPE.names or () if n != "quality"])
    )
    with pytest.raises(FormatError, match=r"missing field\(s\) \['quality'\]") as err:
        RadarData.from_npy(path)
    assert str(path) in str(err.value)


def test_radar_other_field_dtypes_read_the_generic_way(tmp_path: Path) -> None:
    data = _radar(300, 3)
    wide = np.empty(
        300,
        [
            (n, "<f8" if data.dtype[n].kind == "f" else data.dtype[n])
            for n in data.dtype.names or ()
        ],
    )
    for name in data.dtype.names or ():
        wide[name] = data[name]
    np.save(tmp_path / "wide.npy", wide)
    np.save(tmp_path / "narrow.npy", data)
    generic, one_pass = (
        RadarData.from_npy(tmp_path / "wide.npy"),
        RadarData.from_npy(tmp_path / "narrow.npy"),
    )
    for name in data.dtype.names or ():
        assert getattr(generic, name).dtype == RADAR_DTYPE[name]
        np.testing.assert_array_equal(getattr(generic, name), getattr(one_pass, name))


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


def test_info_frame_values_of_the_wrong_type_are_refused(sample_root: Path) -> None:
    """A camera size given as a string or a fraction, or ``is_compensated`` as the string
    "false" (truthy), is a FormatError naming the index and the key, not read as its value."""
    import copy

    from zod import ZodFrames
    from zod.info import Information

    frames = ZodFrames(str(sample_root), "mini")
    raw = frames.index.raw(frames.index.ids[0])
    source = frames.index.path
    camera = next(iter(raw["camera_frames"]))
    lidar = next(iter(raw["lidar_frames"]))

    def with_entry(group: str, name: str, field: str, value: object) -> dict:
        edited = copy.deepcopy(raw)
        edited[group][name][0][field] = value
        return edited

    for value, shown in (("2168", "str '2168'"), (2168.5, "float 2168.5"), (True, "bool True")):
        with pytest.raises(
            FormatError, match=rf"camera_frames\.\w+\.height is {shown}, not a size"
        ) as err:
            Information.from_dict(
                with_entry("camera_frames", camera, "height", value), source=source
            )
        assert str(source) in str(err.value)
    with pytest.raises(FormatError, match=r"lidar_frames\.velodyne\.is_compensated is str 'false'"):
        Information.from_dict(with_entry("lidar_frames", lidar, "is_compensated", "false"))
    info = Information.from_dict(with_entry("camera_frames", camera, "width", 3848.0))
    width = next(iter(info.camera_frames.values()))[0].width
    assert width == 3848 and type(width) is int
    info = Information.from_dict(with_entry("lidar_frames", lidar, "is_compensated", None))
    assert info.lidar_frames[next(iter(info.lidar_frames))][0].is_compensated is False
