"""``zod.ray``: Ray Data sources on a local two-worker Ray cluster (one start for the module).

The rows of the shards equal the rows read from the dataset files (same layout, same values);
the sequence steps equal ``ZodStreamDataset``'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zod.converters.shards import SHARD_MODALITIES, ShardConfig, convert_to_shards

CONFIG = ShardConfig(modalities=SHARD_MODALITIES)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def shard_dir(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray-shards")
    convert_to_shards(
        sample_root, out, split=None, config=CONFIG, samples_per_shard=2, workers=1, progress=False
    )
    return out


def _by_id(rows: list[dict[str, Any]], key: str = "frame_id") -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


def test_shard_rows_equal_frame_rows(local_ray: Any, shard_dir: Path, sample_root: Path) -> None:
    from zod.ray import read_frames, read_shards
    from zod.sensors.camera import read_image

    assert local_ray.cluster_resources()["CPU"] == 2
    shards = read_shards(shard_dir)
    from_shards = _by_id(shards.take_all())
    from_files = _by_id(read_frames(sample_root, split=None, config=CONFIG).take_all())
    assert sorted(from_shards) == sorted(from_files) and len(from_shards) == 4
    for frame_id, row in from_files.items():
        other = from_shards[frame_id]
        assert set(row) == set(other), frame_id
        for key, value in row.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == other[key].dtype, (frame_id, key)
                np.testing.assert_array_equal(value, other[key], err_msg=f"{frame_id} {key}")
            elif key == "meta":
                assert json.loads(value) == json.loads(other[key])
            else:
                assert (
                    list(value) == list(other[key])
                    if isinstance(value, list)
                    else (value == other[key])
                ), (frame_id, key)
    # the values are the files': the image decodes as the JPEG on disk does
    from zod.dataset import ZodFrames

    frames = ZodFrames(sample_root, "full")
    frame_id = sorted(from_shards)[0]
    path = frames[frame_id].info.get_key_camera_frame().filepath
    np.testing.assert_array_equal(from_shards[frame_id]["image"], read_image(path))
    # a fixed schema: frames not annotated for ego_road still have its (empty) columns
    flags = [row["ego_road_annotated"] for row in from_shards.values()]
    assert any(flags) and not all(flags)
    half = read_shards(shard_dir, image_scale=0.5).take(1)[0]
    assert half["image"].shape[0] == (from_shards[half["frame_id"]]["image"].shape[0] + 1) // 2


def test_sequence_steps_equal_stream_dataset(local_ray: Any, sample_root: Path) -> None:
    from zod.ray import read_sequence_steps
    from zod.torch import ZodStreamDataset

    rows = read_sequence_steps(sample_root, split=None, image_scale=0.25).take_all()
    stream = ZodStreamDataset(sample_root, split=None, image_scale=0.25)
    expected = {(s["sequence_id"], s["step"]): s for s in stream}
    got = {(row["sequence_id"], int(row["step"])): row for row in rows}
    assert sorted(got) == sorted(expected) and len(got) > 2
    for key, sample in expected.items():
        row = got[key]
        np.testing.assert_array_equal(np.moveaxis(row["image"], 2, 0), sample["image"].numpy())
        np.testing.assert_array_equal(row["lidar_points"], sample["lidar_points"].numpy())
        np.testing.assert_array_equal(row["lidar_time_s"], sample["lidar_time_s"].numpy())
        np.testing.assert_array_equal(row["world_from_ego"], sample["world_from_ego"].numpy())


def test_one_read_task_per_shard(local_ray: Any, shard_dir: Path) -> None:
    """Each shard is one block (one read task): the cluster's workers share the shards."""
    from zod.converters.shards import read_manifest
    from zod.ray import read_shards

    manifest = read_manifest(shard_dir)
    dataset = read_shards(shard_dir).materialize()
    assert dataset.num_blocks() == len(manifest["shards"]) == 2
    assert dataset.count() == manifest["num_samples"]


def test_ray_engine_writes_the_same_shards(
    local_ray: Any, shard_dir: Path, sample_root: Path, tmp_path: Path
) -> None:
    """``convert_to_shards(engine="ray")``: the shard tasks run on the cluster; same bytes."""
    out = tmp_path / "ray"
    convert_to_shards(
        sample_root,
        out,
        split=None,
        config=CONFIG,
        samples_per_shard=2,
        engine="ray",
        progress=False,
    )
    names = sorted(p.name for p in shard_dir.iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    for name in names:
        assert (out / name).read_bytes() == (shard_dir / name).read_bytes(), name
