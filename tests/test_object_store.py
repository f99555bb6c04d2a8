"""The readers on object-store URLs (``s3://``): the same results as the local reads.

The store is an emulation of S3: moto's S3 server (``python -m moto.server``), started by
these tests in a subprocess on a free loopback port, because no real object store is
reachable from the development and CI machines. s3fs talks to it over HTTP exactly as it would
to S3 (signed requests, ranged GETs, listings), so what is checked here is the devkit's side:
URL paths, the fsspec file objects and their ranged reads, the error mapping, the index cache.

moto and s3fs are imported at the top: without them this module fails to collect (it must
not skip).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import moto  # noqa: F401 (its server is what the tests run against)
import numpy as np
import pytest
import s3fs
import torch
from s3_emulator import KEYS, moto_s3_server, storage_options

from zod import _io
from zod.dataset import ZodDrives, ZodFrames, ZodSequences
from zod.errors import FormatError, MissingFileError, UnreadableFileError
from zod.index import ZodIndex
from zod.sensors.lidar import LIDAR_DTYPE, LidarData
from zod.torch import ZodFramesDataset

BUCKET = "zod-test"
ROOT = f"s3://{BUCKET}/zod"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """URL of moto's S3 server (an emulation of S3), running for this module."""
    with moto_s3_server() as url:
        yield url


@pytest.fixture(scope="module")
def options(endpoint: str) -> dict[str, Any]:
    """fsspec storage options of the emulated store (dummy credentials)."""
    return storage_options(endpoint)


@pytest.fixture(scope="module")
def store(options: dict[str, Any], sample_root: Path) -> s3fs.S3FileSystem:
    """The emulated store holding the sample dataset under ``ROOT``."""
    fs = s3fs.S3FileSystem(**options)
    fs.mkdir(BUCKET)
    fs.put(f"{sample_root}/", f"{BUCKET}/zod", recursive=True)
    return fs


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any) -> None:
    """Index caches in a folder of this module's own (never the user's cache)."""
    monkeypatch.setenv("ZOD_CACHE_DIR", str(tmp_path_factory.mktemp("zod-cache")))


def _same(a: Any, b: Any) -> bool:
    """Equal reader results: their pickles are byte for byte the same."""
    return pickle.dumps(a) == pickle.dumps(b)


def _files(info: Any) -> list[str]:
    """Every file an info lists."""
    paths = [info.calibration_path, info.ego_motion_path, info.metadata_path, info.oxts_path]
    paths += [a.filepath for a in info.annotations.values()]
    paths += [f.filepath for f in info.all_frames]
    paths += [f.filepath for radar in (info.radar_frames or {}).values() for f in radar]
    return paths + ([info.vehicle_data_path] if info.vehicle_data_path else [])


class _Requests:
    """Every request s3fs sends (method, key, byte range, bytes in the answer)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.calls: list[tuple[str, str, str | None, int]] = []
        original = s3fs.S3FileSystem._call_s3

        async def counting(fs: Any, method: str, *args: Any, **kwargs: Any) -> Any:
            answer = await original(fs, method, *args, **kwargs)
            size = int(answer.get("ContentLength", 0)) if method == "get_object" else 0
            self.calls.append((method, kwargs.get("Key", ""), kwargs.get("Range"), size))
            return answer

        monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", counting)

    def got(self, key: str) -> list[int]:
        """Bytes of each GET of ``key``."""
        return [n for method, k, _, n in self.calls if method == "get_object" and k == key]


# ----------------------------------------------------------------------------- the readers
@pytest.mark.parametrize("cls", [ZodFrames, ZodSequences, ZodDrives])
def test_every_reader_matches_the_local_files(
    cls: Any, store: s3fs.S3FileSystem, options: dict[str, Any], sample_root: Path
) -> None:
    local = cls(sample_root, "full")
    remote = cls(ROOT, "full", storage_options=options)
    assert remote.dataset_root == ROOT and repr(remote).startswith(f"{cls.__name__}('s3://")
    assert len(remote) == len(local) and remote.get_all_ids() == local.get_all_ids()
    for split in ("train", "val", "blacklisted"):
        assert remote.get_split(split) == local.get_split(split)
    read = 0
    for item_id in sorted(local.get_all_ids()):
        a, b = local[item_id], remote[item_id]
        assert b.info.calibration_path.startswith(f"{ROOT}/")
        assert b.info.to_dict(ROOT) == a.info.to_dict(sample_root)
        for path in _files(a.info):  # the bytes of every file the info lists
            url = ROOT + "/" + os.path.relpath(path, sample_root)
            assert _io.read_bytes_checked(url, "file", None) == Path(path).read_bytes(), url
        assert b.calibration == a.calibration
        for name in ("ego_motion", "oxts", "metadata"):
            assert _same(getattr(b, name), getattr(a, name)), name
        for project in a.info.annotations:
            assert _same(b.get_annotation(project), a.get_annotation(project)), project
            assert b.info.annotations[project].exists
        if cls is ZodFrames:
            assert np.array_equal(b.get_image(), a.get_image())
            assert np.array_equal(b.get_image(scale=0.25), a.get_image(scale=0.25))
            assert all(map(_same, b.get_lidar(2, 1), a.get_lidar(2, 1)))
        else:
            assert _same(b.vehicle_data, a.vehicle_data)
            steps = slice(0, None, 3)
            assert all(map(_same, b.get_lidar()[steps], a.get_lidar()[steps]))
            images = b.info.get_camera_frames()[::3]
            for image, ref in zip(images, a.info.get_camera_frames()[::3]):
                assert np.array_equal(image.read(scale=0.5), ref.read(scale=0.5))
            if a.info.radar_frames:
                assert _same(b.get_radar(), a.get_radar())
                read += 1
        read += 1
    assert read >= 2


def test_radar_is_read_where_present(
    store: s3fs.S3FileSystem, options: dict[str, Any], sample_root: Path
) -> None:
    """The sample's sequences carry radar (so the loop above really compared some)."""
    remote = ZodSequences(ROOT, "full", storage_options=options)
    with_radar = [i for i in remote.get_all_ids() if remote[i].info.radar_frames]
    assert with_radar
    scan = remote[with_radar[0]].get_radar()
    assert len(scan.scans()) > 1


def test_torch_dataset_on_a_url_root(
    store: s3fs.S3FileSystem, options: dict[str, Any], sample_root: Path
) -> None:
    """Same frames, same tensors; two DataLoader workers reopen the store from the pickle."""
    local = ZodFramesDataset(sample_root, "full", split=None, image_scale=0.5)
    remote = ZodFramesDataset(ROOT, "full", split=None, image_scale=0.5, storage_options=options)
    assert remote.frame_ids == local.frame_ids and len(remote) >= 4
    loader = torch.utils.data.DataLoader(remote, batch_size=None, num_workers=2)
    for k, sample in enumerate(loader):
        ref = local[k]
        assert sample.keys() == ref.keys()
        for key, value in sample.items():
            same = torch.equal(value, ref[key]) if isinstance(value, torch.Tensor) else None
            assert same if same is not None else value == ref[key], key
    assert k == len(local) - 1


# ----------------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def broken(store: s3fs.S3FileSystem, sample_root: Path) -> tuple[str, str]:
    """A copy of the Frames index and one frame under its own root, then damaged: the core
    scan deleted, the image turned into a prefix of objects, the calibration, oxts and one
    surrounding scan overwritten with garbage, the metadata emptied. (root URL, frame id)."""
    root = f"{BUCKET}/broken"
    frames = ZodFrames(sample_root, "full")
    frame_id = sorted(frames.get_all_ids())[0]
    store.copy(f"{BUCKET}/zod/trainval-frames-full.json", f"{root}/trainval-frames-full.json")
    store.copy(f"{BUCKET}/zod/single_frames/{frame_id}", f"{root}/single_frames/", recursive=True)
    info = frames[frame_id].info

    def key(path: str) -> str:
        return f"{root}/{os.path.relpath(path, sample_root)}"

    store.rm(key(info.get_key_lidar_frame().filepath))
    image = key(info.get_key_camera_frame().filepath)
    store.rm(image)
    store.pipe(f"{image}/part-0", b"x")
    store.pipe(key(info.calibration_path), b"{not json")
    store.pipe(key(info.oxts_path), b"not an HDF5 file" * 100)
    store.pipe(key(info.metadata_path), b"")
    store.pipe(key(frames[frame_id].get_lidar_frames(1)[0].filepath), b"\x93NUMPY\x01\x00garbage")
    return f"s3://{root}", frame_id


def test_store_errors_are_the_devkits(broken: tuple[str, str], options: dict[str, Any]) -> None:
    root, frame_id = broken
    frame = ZodFrames(root, "full", storage_options=options)[frame_id]
    core = frame.info.get_key_lidar_frame().filepath
    with pytest.raises(MissingFileError) as missing:
        frame.get_lidar()
    assert missing.value.path == core and missing.value.stream == "--lidar"
    assert "is not in the store" in str(missing.value)
    with pytest.raises(UnreadableFileError, match="directory") as prefix:
        frame.get_image()
    assert prefix.value.path == frame.info.get_key_camera_frame().filepath.rstrip("/")
    with pytest.raises(FormatError, match="malformed JSON") as calibration:
        _ = frame.calibration
    assert calibration.value.path == frame.info.calibration_path
    with pytest.raises(FormatError, match="HDF5") as oxts:
        _ = frame.oxts
    assert oxts.value.path == frame.info.oxts_path
    with pytest.raises(FormatError, match="malformed JSON") as metadata:  # an empty object
        _ = frame.metadata
    assert metadata.value.path == frame.info.metadata_path
    with pytest.raises(FormatError, match=r"\.npy") as scan:
        frame.get_lidar_frames(1)[0].read()
    assert scan.value.path.startswith(root)
    # an existence check says the same as the readers
    assert not _io.path_exists(core) and _io.path_exists(frame.info.calibration_path)
    present = _io.files_present(
        [core, frame.info.calibration_path, frame.info.get_key_camera_frame().filepath]
    )
    assert present == [False, True, True]  # the image's name is there (as a prefix)


def test_missing_index_in_the_store(store: s3fs.S3FileSystem, options: dict[str, Any]) -> None:
    with pytest.raises(MissingFileError) as err:
        ZodFrames(f"s3://{BUCKET}/nothing-here", "full", storage_options=options)
    assert err.value.path == f"s3://{BUCKET}/nothing-here/trainval-frames-full.json"
    assert "zod download --infos" in str(err.value)
    with pytest.raises(MissingFileError, match="bucket"):  # no such bucket: missing too
        ZodFrames("s3://no-such-bucket/zod", "full", storage_options=options)


def test_torch_dataset_excludes_frames_missing_in_the_store(
    broken: tuple[str, str], options: dict[str, Any]
) -> None:
    root, frame_id = broken
    data = ZodFramesDataset(
        root, "full", split=None, modalities=("lidar",), storage_options=options
    )
    assert data.excluded[frame_id] == "missing lidar scan"


# ----------------------------------------------------------------------------- ranged reads
@pytest.fixture(scope="module")
def big_scans(store: s3fs.S3FileSystem, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A 6.6 MB scan (more than one URL block) and a copy whose header claims 1000 records
    more than it holds; both local and in the store. (local path, its URL, corrupt URL)."""
    folder = tmp_path_factory.mktemp("big-scans")
    rng = np.random.default_rng(7)
    data = np.zeros(300_000, dtype=LIDAR_DTYPE)
    for name in ("x", "y", "z"):
        data[name] = rng.uniform(-50, 50, data.size)
    data["timestamp"] = rng.integers(-50_000, 50_000, data.size)
    data["intensity"] = rng.integers(0, 256, data.size)
    path = folder / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    np.save(path, data)
    raw = path.read_bytes()
    header = raw[: raw.index(b"\n") + 1]
    claimed = header.replace(b"(300000,)", b"(301000,)")
    assert len(claimed) == len(header)
    url = f"s3://{BUCKET}/ranged/{path.name}"
    bad = f"s3://{BUCKET}/ranged/bad/{path.name}"
    store.pipe(url[5:], raw)
    store.pipe(bad[5:], claimed + raw[len(header) :])
    return path, url, bad


def test_npy_header_is_checked_before_the_data_is_fetched(
    big_scans: Any, options: dict[str, Any], monkeypatch: Any
) -> None:
    path, url, bad = big_scans
    size = path.stat().st_size
    assert size > 1.5 * _io.URL_BLOCK_SIZE
    _io.set_storage_options(f"s3://{BUCKET}", options)
    requests = _Requests(monkeypatch)
    key = url.split("/", 3)[3]
    f, dtype, count = _io.open_npy_checked(url, "lidar scan", "--lidar")
    with f:
        header_fetched = sum(requests.got(key))  # the header passed: one block, not the file
        assert dtype == LIDAR_DTYPE and count == 300_000
        assert 0 < header_fetched <= _io.URL_BLOCK_SIZE + 8192 < size
    with pytest.raises(FormatError, match="truncated") as err:
        _io.open_npy_checked(bad, "lidar scan", "--lidar")
    assert err.value.path == bad
    assert 0 < sum(requests.got(bad.split("/", 3)[3])) <= _io.URL_BLOCK_SIZE + 8192 < size


def test_a_large_scan_is_read_in_ranges_each_byte_once(
    big_scans: Any, options: dict[str, Any], monkeypatch: Any
) -> None:
    path, url, _ = big_scans
    size = path.stat().st_size
    _io.set_storage_options(f"s3://{BUCKET}", options)
    requests = _Requests(monkeypatch)
    remote = LidarData.from_npy(url)
    assert _same(remote, LidarData.from_npy(path))
    key = url.split("/", 3)[3]
    got = requests.got(key)
    assert sum(got) == size and len(got) == 2  # two ranged GETs, nothing fetched twice
    calls = [(method, r) for method, k, r, _ in requests.calls if k == key]
    assert [method for method, _ in calls] == ["head_object", "get_object", "get_object"]
    assert calls[1][1] == f"bytes=0-{_io.URL_BLOCK_SIZE + 8192 - 1}"
    # a whole-file read (a JPEG, a JSON file) is one GET, no size asked first
    requests.calls.clear()
    assert _io.read_bytes_checked(url, "lidar scan", None) == path.read_bytes()
    assert [(m, r) for m, _, r, _ in requests.calls] == [("get_object", "bytes=0-")]


def test_index_cache_of_a_url(
    store: s3fs.S3FileSystem, options: dict[str, Any], sample_root: Path, monkeypatch: Any
) -> None:
    """The first open downloads the index once and caches its scan locally; the next opens no
    index byte until an info is read (then a range of it); a rewritten object (new ETag) is
    scanned again."""
    local = ZodFrames(sample_root, "full")
    frame_id = sorted(local.get_all_ids())[0]
    requests = _Requests(monkeypatch)
    key = "zod/trainval-frames-full.json"
    size = store.info(f"{BUCKET}/{key}")["size"]
    first = ZodFrames(ROOT, "full", storage_options=options)
    assert requests.got(key) == [size]
    second = ZodFrames(ROOT, "full", storage_options=options)
    assert requests.got(key) == [size]  # the cache: nothing fetched
    assert second.index.split_ids("train") == local.index.split_ids("train")
    assert second[frame_id].info.to_dict(ROOT) == local[frame_id].info.to_dict(sample_root)
    gets = [r for method, k, r, _ in requests.calls if method == "get_object" and k == key]
    start = int(local.index._arrays.starts[local.index.ids.index(frame_id)])
    assert len(gets) == 2 and gets[0] == "bytes=0-" and gets[1].startswith(f"bytes={start}-")
    assert second.index.raw_bytes(frame_id) == first.index.raw_bytes(frame_id)
    # unpickled (a DataLoader worker): ranges again, with the same storage options
    clone = pickle.loads(pickle.dumps(second.index))
    assert clone.raw(frame_id) == local.index.raw(frame_id)
    text = (sample_root / "trainval-frames-full.json").read_bytes()
    store.pipe(f"{BUCKET}/rewritten/trainval-frames-full.json", text)
    url = f"s3://{BUCKET}/rewritten/trainval-frames-full.json"
    ZodIndex(url, ROOT)
    ZodIndex(url, ROOT)
    assert len(requests.got("rewritten/trainval-frames-full.json")) == 1
    store.pipe(f"{BUCKET}/rewritten/trainval-frames-full.json", text + b"\n")
    rescanned = ZodIndex(url, ROOT)
    assert len(requests.got("rewritten/trainval-frames-full.json")) == 2
    assert rescanned.ids == local.index.ids


# ----------------------------------------------------------------------------- configuration
def test_endpoint_from_fsspec_env_and_no_fsspec_for_local_reads(
    store: s3fs.S3FileSystem, endpoint: str, sample_root: Path, tmp_path: Path
) -> None:
    """Without ``storage_options``, fsspec's environment configures the store; and reading a
    local root imports neither fsspec nor s3fs."""
    script = textwrap.dedent(
        f"""
        import sys
        from zod import ZodFrames
        local = ZodFrames({str(sample_root)!r}, "full")
        frame = local[sorted(local.get_all_ids())[0]]
        frame.get_image(); frame.get_lidar(); frame.oxts; frame.calibration
        frame.get_annotation("object_detection")
        assert "fsspec" not in sys.modules and "s3fs" not in sys.modules, "imported"
        remote = ZodFrames("s3://{BUCKET}/zod", "full")
        points = remote[frame.id].get_lidar()[0].points
        assert points.tolist() == frame.get_lidar()[0].points.tolist()
        print("ok", "s3fs" in sys.modules)
        """
    )
    env = {
        **os.environ,
        **KEYS,
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
        "ZOD_CACHE_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", "True"]


def test_local_paths_and_file_urls_stay_local(sample_root: Path) -> None:
    assert not _io.is_url("/data/zod") and not _io.is_url(f"file://{sample_root}")
    assert _io.is_url("s3://b/zod") and _io.is_url("memory://x") and _io.is_url("gs://b")
    assert (
        _io.join_path("s3://b/zod/", "single_frames", "000001") == "s3://b/zod/single_frames/000001"
    )
    assert _io.join_path("/data/zod", "x") == os.path.join("/data/zod", "x")
    frames = ZodFrames(f"file://{sample_root}", "full")
    assert frames.dataset_root == str(sample_root)
    frame_id = sorted(frames.get_all_ids())[0]
    assert frames[frame_id].info == ZodFrames(sample_root, "full")[frame_id].info


def test_memory_filesystem_urls(sample_root: Path) -> None:
    """Any fsspec URL works, here ``memory://`` (no server): the same scan as on disk."""
    import fsspec

    local = ZodFrames(sample_root, "full")
    info = local[sorted(local.get_all_ids())[0]].info
    memory = fsspec.filesystem("memory")
    for path in [*_files(info), str(sample_root / "trainval-frames-full.json")]:
        memory.pipe("/zod/" + os.path.relpath(path, sample_root), Path(path).read_bytes())
    frames = ZodFrames("memory://zod", "full")
    frame = frames[info.id]
    assert _same(frame.get_lidar(), local[info.id].get_lidar())
    assert _same(frame.oxts, local[info.id].oxts)
    with pytest.raises(MissingFileError):
        frames[sorted(local.get_all_ids())[1]].get_lidar()


def test_summary_of_a_url_root(
    store: s3fs.S3FileSystem, options: dict[str, Any], sample_root: Path
) -> None:
    """``zod info``'s summary: the same counts from the store (one listing per item prefix)."""
    from dataclasses import asdict

    from zod.summary import summarize

    _io.set_storage_options(ROOT, options)
    local = [asdict(s) for s in summarize(sample_root, progress=False)]
    remote = [asdict(s) for s in summarize(ROOT, progress=False)]
    assert [s.pop("index_path") for s in remote] == [
        ROOT + "/" + os.path.relpath(s.pop("index_path"), sample_root) for s in local
    ]
    assert remote == local and len(local) == 6
    assert any(count["present"] for s in local for count in s["streams"].values())


def test_cli_reads_a_url_root(
    store: s3fs.S3FileSystem, options: dict[str, Any], sample_root: Path
) -> None:
    """``zod info s3://...`` (the ROOT kept as a URL, not made a Path) gives the local
    summary; a command that needs a local folder says so (usage error); a prefix without
    objects is refused."""
    import json

    from typer.testing import CliRunner

    from cli.main import app

    _io.set_storage_options(ROOT, options)
    runner = CliRunner()
    local = runner.invoke(app, ["info", str(sample_root), "--json"])
    remote = runner.invoke(app, ["info", ROOT, "--json"])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    strip = [{k: v for k, v in s.items() if k != "index_path"} for s in json.loads(local.stdout)]
    assert [
        {k: v for k, v in s.items() if k != "index_path"} for s in json.loads(remote.stdout)
    ] == strip
    verify = runner.invoke(app, ["verify", ROOT, "--subset", "frames"])
    assert verify.exit_code == 2 and "needs a local folder" in verify.output
    empty = runner.invoke(app, ["info", f"{ROOT}/nothing-here"])
    assert empty.exit_code == 2 and "holds no objects" in empty.output, empty.output


def test_shards_in_the_store_equal_local_shards(
    store: s3fs.S3FileSystem, options: dict[str, Any], sample_root: Path, tmp_path: Path
) -> None:
    """Shards uploaded to the store stream the samples of the local shards, in DataLoader
    workers too (``storage_options`` go with the dataset, not the process)."""
    from torch.utils.data import DataLoader

    from zod.converters.shards import ShardConfig, convert_to_shards
    from zod.torch.shards import ZodShardsDataset

    convert_to_shards(
        sample_root,
        tmp_path,
        split=None,
        config=ShardConfig(),
        samples_per_shard=2,
        workers=1,
        progress=False,
    )
    store.put(f"{tmp_path}/", f"{BUCKET}/shards", recursive=True)
    url = f"s3://{BUCKET}/shards"
    _io.set_storage_options(url, None)  # only the dataset's own options
    modalities = ("image", "lidar", "objects", "boxes_3d")
    local = {s["frame_id"]: s for s in ZodShardsDataset(tmp_path, modalities=modalities)}
    remote = ZodShardsDataset(url, modalities=modalities, storage_options=options)
    _io.set_storage_options(url, None)
    loader = DataLoader(remote, batch_size=None, num_workers=2, multiprocessing_context="spawn")
    got = {s["frame_id"]: s for s in loader}
    assert sorted(got) == sorted(local) and len(local) >= 4
    for frame_id, sample in local.items():
        assert set(sample) == set(got[frame_id])
        for key, value in sample.items():
            other = got[frame_id][key]
            same = torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
            assert same and type(value) is type(other), (frame_id, key)
