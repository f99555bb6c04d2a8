"""Tar shards (``zod convert shards``) and their streaming reader (``zod.torch.shards``).

The reader's samples must equal ``ZodFramesDataset``'s for the same frames and options, tensor
by tensor; the writer must be deterministic, resumable and checksummed; the reader must split
the samples across DataLoader workers and ranks without overlap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from typer.testing import CliRunner

from zod.converters.runner import FrameFailures
from zod.converters.shards import (
    SHARD_MODALITIES,
    ShardConfig,
    convert_to_shards,
    decode_lidar,
    decode_record,
    encode_lidar,
    iter_tar_samples,
    read_manifest,
    shard_plan,
)
from zod.errors import FormatError
from zod.torch import ZodFramesDataset
from zod.torch.shards import ZodShardsDataset

ALL = ShardConfig(modalities=SHARD_MODALITIES)


@pytest.fixture(scope="module")
def shard_dir(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All frames (train and val) of the sample, one per shard, every modality."""
    out = tmp_path_factory.mktemp("shards")
    convert_to_shards(
        sample_root, out, split=None, config=ALL, samples_per_shard=1, workers=1, progress=False
    )
    return out


def _assert_same_sample(expected: dict[str, Any], got: dict[str, Any], where: str) -> None:
    assert set(expected) == set(got), f"{where}: keys differ: {set(expected) ^ set(got)}"
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            other = got[key]
            assert isinstance(other, torch.Tensor), (where, key)
            assert value.dtype == other.dtype and value.shape == other.shape, (where, key)
            assert torch.equal(value, other), f"{where}: {key} differs"
        else:
            assert value == got[key], (where, key)


# --------------------------------------------------------------------------------------------
# codec and tar layout
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_points", [0, 1, 1000])
def test_lidar_codec_round_trip(num_points: int) -> None:
    rng = np.random.default_rng(num_points)
    points = np.asfortranarray(rng.normal(0, 30, (num_points, 3)).astype(np.float32))
    time_s = rng.uniform(-0.05, 0.05, num_points).astype(np.float32)
    intensity = rng.integers(0, 256, num_points).astype(np.uint8)
    data = encode_lidar(points, time_s, intensity)
    decoded = decode_lidar(data, num_points)
    assert decoded["points"].flags.c_contiguous and decoded["points"].dtype == np.float32
    np.testing.assert_array_equal(decoded["points"], points)
    np.testing.assert_array_equal(decoded["time_s"], time_s)
    np.testing.assert_array_equal(decoded["intensity"], intensity)
    with pytest.raises(FormatError, match="holds"):
        decode_lidar(data, num_points + 1, "x.tar")
    with pytest.raises(FormatError, match="ZBS1"):
        decode_lidar(b"not a lidar member", num_points, "x.tar")
    with pytest.raises(FormatError, match="trailing"):
        decode_lidar(data + b"\0", num_points, "x.tar")


def test_lidar_codec_compresses_structure_and_keeps_noise_raw() -> None:
    """A smooth scan (ring-like points, sorted times, few intensities) compresses; each plane is
    zlib'ed only when that helps, and a damaged zlib plane is a FormatError."""
    num_points = 20_000
    angle = np.linspace(0, 40 * np.pi, num_points)
    points = np.stack([20 * np.cos(angle), 20 * np.sin(angle), np.full(num_points, -1.5)], 1)
    time_s = np.linspace(-0.05, 0.05, num_points).astype(np.float32)
    intensity = (np.arange(num_points) % 7).astype(np.uint8)
    data = encode_lidar(points.astype(np.float32), time_s, intensity)
    raw_size = num_points * 17
    assert len(data) < 0.6 * raw_size
    noise = np.random.default_rng(0).integers(0, 256, num_points * 4, dtype=np.uint8)
    random_points = noise.view(np.float32)[: num_points * 4 // 4].reshape(-1, 1)
    random_points = np.repeat(random_points, 3, axis=1)[:num_points]
    noisy = encode_lidar(random_points, time_s, intensity)  # low planes stored raw, not grown
    assert len(noisy) < raw_size + 200
    decoded = decode_lidar(noisy, num_points)
    np.testing.assert_array_equal(decoded["points"].view(np.uint32), random_points.view(np.uint32))
    damaged = bytearray(data)
    damaged[-10] ^= 0xFF  # inside the last (zlib'ed) plane: the intensities
    with pytest.raises(FormatError, match="plane"):
        decode_lidar(bytes(damaged), num_points, "x.tar")


def test_shard_plan_is_a_seeded_permutation() -> None:
    ids = [f"{i:06d}" for i in range(10)]
    plan = shard_plan(ids, 3, seed=7)
    assert [len(s) for s in plan] == [3, 3, 3, 1]
    flat = [i for s in plan for i in s]
    assert sorted(flat) == ids and flat != ids
    assert shard_plan(ids, 3, seed=7) == plan
    assert shard_plan(ids, 3, seed=8) != plan
    assert shard_plan(ids, 4, seed=None) == [ids[0:4], ids[4:8], ids[8:]]


def test_manifest_counts_checksums_and_webdataset_layout(shard_dir: Path) -> None:
    manifest = read_manifest(shard_dir)
    assert manifest["complete"] and manifest["samples_per_shard"] == 1
    frames = manifest["settings"]["frame_ids"]
    assert manifest["num_samples"] == len(frames) == len(manifest["shards"]) == 4
    seen = []
    for entry in manifest["shards"]:
        path = shard_dir / entry["name"]
        assert entry["num_bytes"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        with tarfile.open(path) as tar:
            names = tar.getnames()
        # WebDataset convention: <key>.<ext>, one sample's members consecutive, json first
        keys = [name.split(".", 1)[0] for name in names]
        assert keys == [entry["frame_ids"][0]] * len(names)
        assert names[0].endswith(".json") and f"{keys[0]}.jpg" in names
        assert f"{keys[0]}.lidar_points.npy" in names and f"{keys[0]}.objects.npy" in names
        seen += entry["frame_ids"]
    assert seen == [frame_id for shard in shard_plan(frames, 1, 0) for frame_id in shard]


def test_record_holds_the_files_values(shard_dir: Path, sample_root: Path) -> None:
    from zod.dataset import ZodFrames

    frames = ZodFrames(sample_root, "full")
    entry = read_manifest(shard_dir)["shards"][0]
    with open(shard_dir / entry["name"], "rb") as f:
        ((key, members),) = list(iter_tar_samples(f))
    record = decode_record(members, 0.5)
    frame = frames[key]
    assert record["frame_id"] == key
    # the original JPEG bytes, decoded at half scale
    camera_frame = frame.info.get_key_camera_frame()
    assert members["jpg"] == Path(camera_frame.filepath).read_bytes()
    from zod.sensors.camera import read_image

    np.testing.assert_array_equal(record["image"], read_image(camera_frame.filepath, scale=0.5))
    lidar = frame.get_lidar_frames()[0].read()
    np.testing.assert_array_equal(record["lidar_points"], lidar.points)
    np.testing.assert_array_equal(record["lidar_intensity"], lidar.intensity)
    meta = record["meta"]
    assert meta["calibration"] == frame.calibration.to_dict()
    from zod.constants import AnnotationProject

    objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    assert record["class_names"].tolist() == [obj.name for obj in objects]
    with_box = [obj for obj in objects if obj.box3d is not None]
    np.testing.assert_array_equal(
        record["centers_m"][record["box_3d_valid"]], [obj.box3d.center for obj in with_box]
    )


# --------------------------------------------------------------------------------------------
# the reader equals ZodFramesDataset
# --------------------------------------------------------------------------------------------

OPTION_SETS: list[dict[str, Any]] = [
    {
        "modalities": ("image", "lidar", "objects", "boxes_3d", "ego_road", "lanes", "calibration"),
        "image_scale": 0.5,
    },
    {
        "modalities": ("image", "lidar", "objects", "boxes_3d"),
        "image_scale": 0.25,
        "lidar_frame": "ego",
        "boxes_frame": "camera",
        "class_level": "subclass",
    },
    {
        "modalities": ("image", "objects", "boxes_3d"),
        "image_scale": 1.0,
        "boxes_frame": "ego",
        "image_dtype": torch.float32,
        "normalize": True,
        "classes": ("Vehicle", "Pedestrian"),
    },
    {"modalities": ("lidar", "calibration")},
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=range(len(OPTION_SETS)))
def test_samples_equal_zod_frames_dataset(
    shard_dir: Path, sample_root: Path, options: dict[str, Any]
) -> None:
    expected = ZodFramesDataset(sample_root, "full", split=None, **options)
    assert len(expected) >= 2
    got = {s["frame_id"]: s for s in ZodShardsDataset(shard_dir, **options)}
    assert sorted(got) == sorted(expected.frame_ids)  # frames excluded alike (ego_road)
    for i, frame_id in enumerate(expected.frame_ids):
        _assert_same_sample(expected[i], got[frame_id], frame_id)


def test_aggregated_lidar_equals_zod_frames_dataset(sample_root: Path, tmp_path: Path) -> None:
    config = ShardConfig(modalities=("lidar",), lidar_scans=(1, 1))
    convert_to_shards(sample_root, tmp_path, config=config, workers=1, progress=False)
    options: dict[str, Any] = {"modalities": ("lidar",), "lidar_scans": (1, 1)}
    expected = ZodFramesDataset(sample_root, "full", split="train", **options)
    got = {s["frame_id"]: s for s in ZodShardsDataset(tmp_path, modalities=("lidar",))}
    assert sorted(got) == sorted(expected.frame_ids)
    for i, frame_id in enumerate(expected.frame_ids):
        _assert_same_sample(expected[i], got[frame_id], frame_id)
        assert len(got[frame_id]["lidar_points"]) > 30_000 - 1000  # three scans, not one


def test_reencoded_and_pinhole_images(sample_root: Path, tmp_path: Path) -> None:
    from zod.geometry.pinhole import PinholeView

    convert_to_shards(
        sample_root,
        tmp_path / "half",
        config=ShardConfig(modalities=("image",), image_mode="jpeg", image_scale=0.5),
        workers=1,
        progress=False,
    )
    expected = ZodFramesDataset(
        sample_root, "full", split="train", modalities=("image",), image_scale=0.25
    )
    got = {
        s["frame_id"]: s
        for s in ZodShardsDataset(tmp_path / "half", modalities=("image",), image_scale=0.25)
    }
    for i, frame_id in enumerate(expected.frame_ids):
        want, have = expected[i], got[frame_id]
        for key in ("intrinsics", "image_size", "distortion", "ego_from_camera"):
            assert torch.equal(want[key], have[key]), key
        assert want["image"].shape == have["image"].shape
        error = (want["image"].float() - have["image"].float()).abs().mean()
        assert error < 3.0  # lossy re-encode, same picture
    with pytest.raises(ValueError, match="cannot be decoded"):
        next(iter(ZodShardsDataset(tmp_path / "half", modalities=("image",), image_scale=1.0)))

    view: dict[str, Any] = {
        "name": "front",
        "horizontal_fov_deg": 80.0,
        "width_px": 320,
        "height_px": 200,
    }
    convert_to_shards(
        sample_root,
        tmp_path / "pinhole",
        config=ShardConfig(modalities=("image",), image_mode="pinhole", pinhole=view),
        workers=1,
        progress=False,
    )
    sample = next(iter(ZodShardsDataset(tmp_path / "pinhole", modalities=("image",))))
    assert sample["image"].shape == (3, 200, 320)
    np.testing.assert_allclose(sample["intrinsics"].numpy(), PinholeView(**view).intrinsics)
    assert torch.equal(sample["distortion"], torch.zeros(4))


@pytest.mark.parametrize("image_scale", [1.0, 0.5])
def test_pinhole_shards_equal_zod_frames_dataset_in_the_view(
    sample_root: Path, tmp_path: Path, image_scale: float
) -> None:
    """A turned view: its pose, K, boxes mapped into it (with in_view), camera-frame boxes in
    the view's frame and the ego-road mask rectified, as ZodFramesDataset(view=...) makes them;
    the image is the stored (lossy) rectified JPEG decoded at the scale."""
    from zod.geometry.pinhole import PinholeView

    view = PinholeView(
        "turned", yaw_deg=25.0, pitch_deg=-4.0, horizontal_fov_deg=70.0, width_px=320, height_px=192
    )
    config = ShardConfig(
        modalities=("image", "lidar", "objects", "ego_road"),
        image_mode="pinhole",
        pinhole=dataclasses.asdict(view),
    )
    convert_to_shards(sample_root, tmp_path, config=config, workers=1, progress=False)
    options: dict[str, Any] = {
        "modalities": ("image", "lidar", "objects", "boxes_3d", "ego_road", "calibration"),
        "boxes_frame": "camera",
        "image_scale": image_scale,
    }
    expected = ZodFramesDataset(sample_root, "full", split="train", view=view, **options)
    got = {s["frame_id"]: s for s in ZodShardsDataset(tmp_path, **options)}
    assert sorted(got) == sorted(expected.frame_ids)
    for i, frame_id in enumerate(expected.frame_ids):
        want, have = expected[i], got[frame_id]
        assert "camera_from_view" in have and "in_view" in have
        image_want, image_have = want.pop("image"), have.pop("image")
        _assert_same_sample(want, have, frame_id)
        assert image_want.shape == image_have.shape
        assert (
            image_want.float() - image_have.float()
        ).abs().mean() < 2.5  # measured 0.7 (scale 1), 1.7 (1/2)


# --------------------------------------------------------------------------------------------
# splitting across workers and ranks, shuffling, URLs
# --------------------------------------------------------------------------------------------


def _ids(batches: Iterator[dict[str, Any]]) -> list[str]:
    return [sample["frame_id"] for sample in batches]


@pytest.mark.parametrize("shards_per_sample", ["one per process", "fewer than processes"])
def test_workers_times_ranks_see_every_sample_once(
    shard_dir: Path, sample_root: Path, tmp_path: Path, shards_per_sample: str
) -> None:
    source = shard_dir
    if shards_per_sample == "fewer than processes":  # 2 shards for 4 processes
        source = tmp_path
        convert_to_shards(
            sample_root, source, split=None, samples_per_shard=2, workers=1, progress=False
        )
    everything = _ids(iter(ZodShardsDataset(source, modalities=("calibration",))))
    assert len(everything) == 4
    seen: list[str] = []
    for rank in range(2):
        dataset = ZodShardsDataset(source, modalities=("calibration",), rank=rank, world_size=2)
        loader = DataLoader(dataset, batch_size=None, num_workers=2)
        mine = _ids(iter(loader))
        assert mine, f"rank {rank} got nothing"
        seen += mine
    assert sorted(seen) == sorted(everything)  # the union is everything, nothing twice


def test_shuffle_buffer_and_shard_order_are_seeded(shard_dir: Path) -> None:
    def order(**kwargs: Any) -> list[str]:
        return _ids(iter(ZodShardsDataset(shard_dir, modalities=("calibration",), **kwargs)))

    plain = order()  # without shuffling: the shards' order, as the manifest lists them
    assert plain == [i for entry in read_manifest(shard_dir)["shards"] for i in entry["frame_ids"]]
    orders = {tuple(order(shuffle=True, shuffle_buffer=3, seed=seed)) for seed in range(8)}
    assert all(sorted(o) == sorted(plain) for o in orders)
    assert len(orders) > 2  # seeds change the order
    assert order(shuffle=True, shuffle_buffer=3, seed=5) == order(
        shuffle=True, shuffle_buffer=3, seed=5
    )
    dataset = ZodShardsDataset(shard_dir, modalities=("calibration",), shuffle=True, seed=1)
    first = _ids(iter(dataset))
    dataset.set_epoch(1)
    assert sorted(_ids(iter(dataset))) == sorted(first)


def test_fsspec_urls(shard_dir: Path) -> None:
    import fsspec

    expected = _ids(iter(ZodShardsDataset(shard_dir, modalities=("lidar",))))
    assert _ids(iter(ZodShardsDataset(f"file://{shard_dir}", modalities=("lidar",)))) == expected
    memory = fsspec.filesystem("memory")
    for path in shard_dir.iterdir():
        memory.pipe(f"/zod-shards/{path.name}", path.read_bytes())
    from_memory = list(ZodShardsDataset("memory://zod-shards", modalities=("lidar",)))
    local = list(ZodShardsDataset(shard_dir, modalities=("lidar",)))
    assert _ids(iter(from_memory)) == expected
    for want, have in zip(local, from_memory):
        _assert_same_sample(want, have, want["frame_id"])
    tar_urls = [f"memory://zod-shards/{e['name']}" for e in read_manifest(shard_dir)["shards"]]
    assert _ids(iter(ZodShardsDataset(tar_urls[:2], modalities=("lidar",)))) == expected[:2]


# --------------------------------------------------------------------------------------------
# writer: determinism, resume, missing files, size target, CLI
# --------------------------------------------------------------------------------------------


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_deterministic_and_resumable(sample_root: Path, tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {
        "split": None,
        "samples_per_shard": 2,
        "workers": 1,
        "progress": False,
    }
    first = convert_to_shards(sample_root, tmp_path / "a", **kwargs)
    convert_to_shards(sample_root, tmp_path / "b", **kwargs)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")  # same input, same bytes
    out = tmp_path / "a"
    shard0, shard1 = (out / e["name"] for e in first["shards"])
    stamp = shard0.stat().st_mtime_ns
    shard1.unlink()
    again = convert_to_shards(sample_root, out, **kwargs)
    assert shard0.stat().st_mtime_ns == stamp  # kept
    assert again == first and _files(out) == _files(tmp_path / "b")
    # a shard damaged in place (same size) is only caught by --verify
    data = bytearray(shard0.read_bytes())
    data[1000] ^= 0xFF
    shard0.write_bytes(bytes(data))
    convert_to_shards(sample_root, out, **kwargs)
    assert shard0.read_bytes() == bytes(data)
    convert_to_shards(sample_root, out, verify=True, **kwargs)
    assert _files(out) == _files(tmp_path / "b")
    with pytest.raises(ValueError, match="other settings"):
        convert_to_shards(sample_root, out, seed=3, **kwargs)
    changed = convert_to_shards(sample_root, out, seed=3, overwrite=True, **kwargs)
    assert changed["settings"]["seed"] == 3


def test_local_pool_equals_inline(sample_root: Path, tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"split": None, "samples_per_shard": 1, "progress": False}
    convert_to_shards(sample_root, tmp_path / "inline", workers=1, **kwargs)
    convert_to_shards(sample_root, tmp_path / "pool", workers=2, **kwargs)
    assert _files(tmp_path / "inline") == _files(tmp_path / "pool")


def test_shard_size_target(sample_root: Path, tmp_path: Path) -> None:
    small = convert_to_shards(
        sample_root, tmp_path / "s", split=None, shard_size_mb=0.9, workers=1, progress=False
    )
    sizes = [e["num_bytes"] for e in small["shards"]]
    per_sample = sum(sizes) / small["num_samples"]
    assert (
        small["samples_per_shard"] == int(0.9e6 // per_sample)
        or abs(small["samples_per_shard"] - 0.9e6 / per_sample) <= 1
    )
    big = convert_to_shards(
        sample_root, tmp_path / "b", split=None, shard_size_mb=100, workers=1, progress=False
    )
    assert len(big["shards"]) == 1 and big["num_samples"] == 4


def test_missing_files(sample_copy: Path, tmp_path: Path) -> None:
    from zod.dataset import ZodFrames

    frames = ZodFrames(sample_copy, "full")
    victim = sorted(frames.get_split("train"))[0]
    os.remove(frames[victim].info.get_key_camera_frame().filepath)
    with pytest.raises(FrameFailures, match="camera image"):
        convert_to_shards(sample_copy, tmp_path / "a", workers=1, progress=False)
    manifest = convert_to_shards(
        sample_copy,
        tmp_path / "b",
        skip_missing=True,
        samples_per_shard=1,
        workers=1,
        progress=False,
    )
    assert list(manifest["missing"]) == [victim]
    assert victim not in _ids(iter(ZodShardsDataset(tmp_path / "b", modalities=("lidar",))))
    assert manifest["num_samples"] == len(frames.get_split("train")) - 1


def test_unfinished_or_broken_sources(shard_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((shard_dir / "manifest.json").read_text())
    manifest["complete"] = False
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FormatError, match="did not finish"):
        ZodShardsDataset(tmp_path)
    (tmp_path / "bad.tar").write_bytes(b"x" * 2000)
    with pytest.raises(FormatError, match=r"bad\.tar"):
        list(ZodShardsDataset([str(tmp_path / "bad.tar")], modalities=("lidar",)))


def test_cli_convert_shards(sample_root: Path, tmp_path: Path) -> None:
    import typer

    from cli.convert_shards import shards

    app = typer.Typer()
    app.command("shards")(shards)
    app.command("unused")(lambda: None)  # a group, as under `zod convert`
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "shards",
            str(sample_root),
            "--output-dir",
            str(out),
            "--split",
            "all",
            "--modality",
            "lidar",
            "--samples-per-shard",
            "3",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 4 samples in 2 shards" in result.output
    manifest = read_manifest(out)
    assert manifest["settings"]["config"]["modalities"] == ["lidar"]
    bad = CliRunner().invoke(
        app, ["shards", str(sample_root), "--output-dir", str(out), "--image-scale", "0.3"]
    )
    assert bad.exit_code == 1 and "image_scale" in bad.output


def test_tar_reader_streams_a_pipe(shard_dir: Path) -> None:
    """The reader reads front to back once (``r|``): a non-seekable stream works."""
    entry = read_manifest(shard_dir)["shards"][0]
    data = (shard_dir / entry["name"]).read_bytes()

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.stream = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: Any) -> int:
            chunk = self.stream.read(min(len(buffer), 777))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    keys = [key for key, _ in iter_tar_samples(io.BufferedReader(Pipe()))]
    assert keys == entry["frame_ids"]


@pytest.mark.parametrize(
    "tar_format", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]
)
def test_tar_reader_agrees_with_tarfile(tmp_path: Path, tar_format: int) -> None:
    """Long names (pax ``path`` / GNU ``L`` / ustar prefix), directories and links skipped,
    sizes and bytes as ``tarfile`` reads them; damage is a FormatError naming the shard."""
    rng = np.random.default_rng(0)
    names = ["a.json", "a.lidar.npy", "d/" + "x" * 120 + ".json", "b.jpg", "b.objects.npy"]
    if tar_format == tarfile.USTAR_FORMAT:
        names[2] = "d" * 130 + "/k.json"  # fits only as prefix + name
    blobs = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in (0, 511, 512, 3, 5000)]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as tar:
        directory = tarfile.TarInfo("somedir")
        directory.type = tarfile.DIRTYPE
        tar.addfile(directory)
        for name, blob in zip(names, blobs):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        link = tarfile.TarInfo("c.json")
        link.type, link.linkname = tarfile.SYMTYPE, "a.json"
        tar.addfile(link)
    data = buffer.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    assert list(expected) == names
    got = {
        f"{key}.{ext}": blob
        for key, members in iter_tar_samples(io.BytesIO(data))
        for ext, blob in members.items()
    }
    assert got == expected
    with pytest.raises(FormatError, match=r"x\.tar.*truncated"):
        list(iter_tar_samples(io.BytesIO(data[:2000]), "x.tar"))
    damaged = bytearray(data)
    damaged[512 + 3] ^= 0x20  # a name byte of the first file's header
    with pytest.raises(FormatError, match=r"x\.tar.*checksum"):
        list(iter_tar_samples(io.BytesIO(bytes(damaged)), "x.tar"))


def _tar_header(name: bytes, size_field: bytes, kind: bytes) -> bytes:
    """A ustar header block with a valid checksum (whatever the size field says)."""
    header = bytearray(512)
    header[: len(name)] = name
    header[124 : 124 + len(size_field)] = size_field
    header[156:157] = kind
    header[257:263] = b"ustar\0"
    header[148:156] = b" " * 8
    header[148:155] = f"{sum(header):06o}\0".encode()
    return bytes(header)


def test_tar_reader_refuses_corrupt_sizes_without_allocating_them() -> None:
    huge = bytes([0x80]) + (1 << 60).to_bytes(11, "big")  # GNU base-256: 2^60 bytes
    with pytest.raises(FormatError, match=r"x\.tar.*a member of 1152921504606846976 bytes"):
        list(iter_tar_samples(io.BytesIO(_tar_header(b"a.jpg", huge, b"0") + bytes(1024)), "x.tar"))
    for record in (b"0 path=x\n", b"3 x\n", b"junk"):  # a record that would not advance
        padded = record + bytes(-len(record) % 512)
        size = f"{len(record):011o}".encode()
        stream = _tar_header(b"pax", size, b"x") + padded + bytes(1024)
        with pytest.raises(FormatError, match="bad pax header"):
            list(iter_tar_samples(io.BytesIO(stream), "x.tar"))


def test_bsz_lidar_shards_equal_zod_frames_dataset(sample_root: Path, tmp_path: Path) -> None:
    config = ShardConfig(modalities=("lidar",), lidar_codec="bsz")
    convert_to_shards(sample_root, tmp_path, config=config, workers=1, progress=False)
    options: dict[str, Any] = {"modalities": ("lidar",)}
    expected = ZodFramesDataset(sample_root, "full", split="train", **options)
    got = {s["frame_id"]: s for s in ZodShardsDataset(tmp_path, **options)}
    assert sorted(got) == sorted(expected.frame_ids)
    for i, frame_id in enumerate(expected.frame_ids):
        _assert_same_sample(expected[i], got[frame_id], frame_id)


def test_npy_members_are_checked_before_use() -> None:
    from zod._io import npy_from_bytes

    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    data = _npy(array)
    got = npy_from_bytes(data, "x.tar")
    np.testing.assert_array_equal(got, array)
    assert not got.flags.writeable  # a view of the member's bytes, no copy
    np.testing.assert_array_equal(npy_from_bytes(_npy(np.asfortranarray(array)), "x.tar"), array)
    for bad, problem in [
        (data[:-1], "header claims 12 items"),
        (data + b"\0" * 4, "header claims 12 items"),
        (data[:9], "no NUMPY magic"),
        (b"\x93NUMPY\x09\x00" + data[8:], "unknown .npy format version 9"),
        (data.replace(b"'shape': (4, 3)", b"'shape': (4, 9)"), "header claims 36 items"),
        (data.replace(b"'descr': '<f4'", b"'descr': 'xx4'"), "malformed .npy header"),
        (_npy(np.array([None, 1], dtype=object)), "malformed|Python objects"),
    ]:
        with pytest.raises(FormatError, match=problem):
            npy_from_bytes(bad, "x.tar")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()
