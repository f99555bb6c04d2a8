"""ZodSequencesDataset (clips) and ZodStreamDataset (sharded steps) on the sample."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from pyquaternion import Quaternion
from torch.utils.data import DataLoader

from zod.constants import EGO, Camera, Lidar
from zod.dataset import ZodDrives, ZodSequences
from zod.geometry.box import Box3D
from zod.geometry.fisheye import project
from zod.torch import ZodSequencesDataset, ZodStreamDataset, collate, scale_pixels

# Workers from a forkserver, not a fork of this process: pytest's process holds threads
# (OpenCV, thread pools, tqdm) whose locks a forked child could inherit locked.
MP_CONTEXT = "forkserver"


def _all_steps(sample_root: Path, subset: str = "sequences") -> set[tuple[str, int]]:
    dataset = (ZodSequences if subset == "sequences" else ZodDrives)(str(sample_root), "full")
    return {
        (item_id, step)
        for item_id in dataset.get_all_ids()
        for step in range(len(dataset[item_id].info.get_camera_frames()))
    }


def test_clip_values(sample_root: Path) -> None:
    ds = ZodSequencesDataset(sample_root, "full", None, clip_length=2, stride=1, image_scale=0.25)
    sequences = ZodSequences(str(sample_root), "full")
    expected_clips = sum(
        len(sequences[i].info.get_camera_frames()) - 1 for i in sequences.get_all_ids()
    )
    assert len(ds) == expected_clips and not ds.excluded
    for index in (0, len(ds) - 1):
        clip = ds[index]
        item_id, start = ds.clips[index]
        seq = sequences[item_id]
        assert clip["sequence_id"] == item_id
        cameras = seq.info.get_camera_frames()[start : start + 2]
        np.testing.assert_array_equal(clip["time_s"].numpy(), [c.time.timestamp() for c in cameras])
        assert clip["image"].shape == (2, 3, 542, 962) and clip["image"].dtype == torch.uint8
        for t, camera in enumerate(cameras):
            assert torch.equal(
                clip["image"][t].permute(1, 2, 0), torch.from_numpy(camera.read(scale=0.25))
            )
            lidar = seq.info.get_lidar_frame(camera.time).read()
            offsets = clip["lidar_step_offsets"].tolist()
            np.testing.assert_array_equal(
                clip["lidar_points"][offsets[t] : offsets[t + 1]].numpy(), lidar.points
            )
            np.testing.assert_allclose(
                clip["lidar_time_s"][offsets[t] : offsets[t + 1]].numpy(),
                lidar.timestamps - clip["time_s"][0].item(),
                atol=1e-5,
            )
        assert clip["lidar_step_offsets"][-1] == len(clip["lidar_points"])
        assert clip["pose_valid"].all()
        np.testing.assert_allclose(
            clip["world_from_ego"].numpy(),
            seq.ego_motion.get_poses(clip["time_s"].numpy()),
            atol=1e-9,
        )


def test_lidar_reference_with_step(sample_root: Path) -> None:
    ds = ZodSequencesDataset(
        sample_root, "full", None, clip_length=3, step=2, reference="lidar", parts=("lidar", "pose")
    )
    sequences = ZodSequences(str(sample_root), "full")
    item_id, start = ds.clips[-1]
    clip = ds[len(ds) - 1]
    lidars = sequences[item_id].info.get_lidar_frames()
    expected = [lidars[start + 2 * t].time.timestamp() for t in range(3)]
    np.testing.assert_array_equal(clip["time_s"].numpy(), expected)
    assert "image" not in clip
    # clips start every clip_length * step frames by default and fit in the sequence
    for item_id, start in ds.clips:
        assert start % 6 == 0 and start + 4 < len(sequences[item_id].info.get_lidar_frames())


def test_clips_collate_and_workers(sample_root: Path) -> None:
    ds = ZodSequencesDataset(sample_root, "full", None, clip_length=2, stride=1, image_scale=0.125)
    loader = DataLoader(
        ds, batch_size=2, num_workers=2, collate_fn=collate, multiprocessing_context=MP_CONTEXT
    )
    batches = list(loader)
    assert sum(len(b["sequence_id"]) for b in batches) == len(ds)
    first = batches[0]
    assert first["image"].shape == (2, 2, 3, 271, 481)
    assert first["lidar_step_offsets"].shape == (2, 3)
    counts = first["lidar_points_mask"].sum(1)
    assert counts.tolist() == first["lidar_step_offsets"][:, -1].tolist()
    clip0 = ds[0]
    assert torch.equal(
        first["lidar_points"][0, : len(clip0["lidar_points"])], clip0["lidar_points"]
    )
    assert len(pickle.dumps(ds)) < 20_000


def test_incomplete_clips_are_excluded(sample_copy: Path) -> None:
    sequences = ZodSequences(str(sample_copy), "full")
    item_id = min(sequences.get_all_ids())
    cameras = sequences[item_id].info.get_camera_frames()
    Path(cameras[1].filepath).unlink()  # the middle image of the first sequence
    ds = ZodSequencesDataset(sample_copy, "full", None, clip_length=2, stride=1)
    assert all(clip[0] != item_id for clip in ds.clips)
    assert "no complete clip" in ds.excluded[item_id]
    lidar_only = ZodSequencesDataset(
        sample_copy, "full", None, clip_length=2, stride=1, parts=("lidar",)
    )
    assert sum(clip[0] == item_id for clip in lidar_only.clips) == len(cameras) - 1


def test_stream_dataset_shards_by_rank_and_worker(sample_root: Path) -> None:
    everything = _all_steps(sample_root)
    single = [
        (s["sequence_id"], s["step"])
        for s in ZodStreamDataset(sample_root, "full", None, image_scale=0.125)
    ]
    assert set(single) == everything and len(single) == len(everything)
    per_rank = []
    for rank in range(2):
        ds = ZodStreamDataset(sample_root, "full", None, image_scale=0.125, rank=rank, world_size=2)
        loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=MP_CONTEXT)
        steps = [(s["sequence_id"], s["step"]) for s in loader]
        assert len(steps) == len(set(steps))
        per_rank.append(set(steps))
        # each item is read whole by one worker, in time order
        for item_id in {i for i, _ in steps}:
            assert [k for i, k in steps if i == item_id] == sorted(
                k for i, k in steps if i == item_id
            )
    assert not per_rank[0] & per_rank[1]
    assert per_rank[0] | per_rank[1] == everything


def test_stream_dataset_values_and_shuffle(sample_root: Path) -> None:
    ds = ZodStreamDataset(
        sample_root, "full", None, parts=("image", "lidar", "pose"), image_scale=0.25
    )
    sequences = ZodSequences(str(sample_root), "full")
    sample = next(iter(ds))
    seq = sequences[sample["sequence_id"]]
    camera = seq.info.get_camera_frames()[sample["step"]]
    assert sample["time_s"] == camera.time.timestamp()
    assert sample["image"].shape == (3, 542, 962)
    np.testing.assert_array_equal(
        sample["lidar_points"].numpy(), seq.info.get_lidar_frame(camera.time).read().points
    )
    assert sample["pose_valid"].item()
    in_ego = next(
        iter(ZodStreamDataset(sample_root, "full", None, parts=("lidar",), lidar_frame="ego"))
    )
    expected = seq.calibration.transform_points(
        seq.info.get_lidar_frame(camera.time).read().points, Lidar.VELODYNE, EGO
    )
    np.testing.assert_allclose(in_ego["lidar_points"].numpy(), expected, atol=1e-3)
    shuffled = ZodStreamDataset(sample_root, "full", None, shuffle=True, seed=5, parts=())
    orders = []
    for epoch in range(4):
        shuffled.set_epoch(epoch)
        orders.append(tuple(shuffled.shard_ids()))
    assert all(sorted(o) == sorted(ds.ids) for o in orders)
    assert len(set(orders)) > 1
    shuffled.set_epoch(2)
    assert tuple(shuffled.shard_ids()) == orders[2]
    drives = ZodStreamDataset(sample_root, "full", None, subset="drives", parts=("pose",))
    assert {(s["sequence_id"], s["step"]) for s in drives} == _all_steps(sample_root, "drives")


def test_bad_arguments(sample_root: Path) -> None:
    with pytest.raises(ValueError, match="parts"):
        ZodSequencesDataset(sample_root, "full", None, parts=("sonar",))
    with pytest.raises(ValueError, match="subset"):
        ZodStreamDataset(sample_root, "full", None, subset="frames")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="clip_length"):
        ZodSequencesDataset(sample_root, "full", None, clip_length=0)


def test_stream_dataset_skips_missing_files(
    sample_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sequences = ZodSequences(str(sample_copy), "full")
    item_id = min(sequences.get_all_ids())
    cameras = sequences[item_id].info.get_camera_frames()
    Path(cameras[1].filepath).unlink()
    ds = ZodStreamDataset(
        sample_copy, "full", None, parts=("image", "lidar"), image_scale=0.125, ids=[item_id]
    )
    steps = [
        s["step"]
        for s in DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=MP_CONTEXT)
    ]
    assert steps == [k for k in range(len(cameras)) if k != 1]
    with caplog.at_level("WARNING", logger="zod.torch.datasets"):
        assert [s["step"] for s in ds] == steps
    assert f"1 of {len(cameras)} steps skipped" in caplog.text
    lidar_only = ZodStreamDataset(sample_copy, "full", None, parts=("lidar",), ids=[item_id])
    assert [s["step"] for s in lidar_only] == list(range(len(cameras)))
    strict = ZodStreamDataset(
        sample_copy, "full", None, parts=("image",), ids=[item_id], check_files=False
    )
    with pytest.raises(FileNotFoundError, match="download it with"):
        list(strict)


def test_keyframe_clips_carry_the_keyframe_objects(sample_root: Path) -> None:
    ds = ZodSequencesDataset(
        sample_root,
        "full",
        None,
        clip_length=2,
        keyframe=True,
        annotations=("objects", "boxes_3d"),
        boxes_frame="camera",
        image_scale=0.5,
    )
    sequences = ZodSequences(str(sample_root), "full")
    annotated = {
        i for i in sequences.get_all_ids() if sequences[i].is_annotated("object_detection")
    }
    assert {item_id for item_id, _ in ds.clips} == annotated and len(ds) == len(annotated) > 0
    checked = 0
    for index, (item_id, _) in enumerate(ds.clips):
        seq = sequences[item_id]
        clip = ds[index]
        key = clip["keyframe_index"]
        assert key == 1
        key_camera = seq.info.get_key_camera_frame()
        assert clip["time_s"][key].item() == key_camera.time.timestamp()
        objects = [o for o in seq.get_annotation("object_detection") if o.name in ds.classes]
        assert [ds.classes[c] for c in clip["class_ids"].tolist()] == [o.name for o in objects]
        expected = scale_pixels(np.array([o.box2d.xyxy for o in objects]).reshape(-1, 4), 0.5)
        np.testing.assert_allclose(clip["boxes_2d"].numpy(), expected, atol=1e-3)
        # 3D boxes (camera frame) projected with the scaled intrinsics land on the scaled 2D boxes
        intrinsics = clip["intrinsics"].double().numpy()
        distortion = seq.calibration.cameras[Camera.FRONT].distortion
        for box_2d, row, valid in zip(
            clip["boxes_2d"].numpy(), clip["boxes_3d"].double().numpy(), clip["box_3d_valid"]
        ):
            corners = Box3D(row[:3], row[3:6], Quaternion(row[6:]), Camera.FRONT).corners
            if not valid or corners[:, 2].min() <= 0:
                continue
            pixels = project(corners, intrinsics, distortion)
            bounds = np.r_[pixels.min(0), pixels.max(0)]
            if bounds[0] < 0 or bounds[1] < 0 or bounds[2] > 1923 or bounds[3] > 1083:
                continue
            np.testing.assert_allclose(box_2d, bounds, atol=0.3)
            checked += 1
    assert checked > 0
    drives = ZodSequencesDataset(
        sample_root, "full", None, subset="drives", keyframe=True, annotations=("objects",)
    )
    assert len(drives) == 0 and all("not annotated" in why for why in drives.excluded.values())
    with pytest.raises(ValueError, match="keyframe"):
        ZodSequencesDataset(sample_root, "full", None, annotations=("objects",))


def test_clip_radar_and_vehicle_parts(sample_root: Path) -> None:
    ds = ZodSequencesDataset(
        sample_root, "full", None, clip_length=2, stride=1, parts=("radar", "vehicle")
    )
    sequences = ZodSequences(str(sample_root), "full")
    item_id, _ = ds.clips[0]
    seq = sequences[item_id]
    clip = ds[0]
    radar = seq.get_radar()
    scan_time_s = {
        int(i): t / 1e9 for i, t in zip(radar.scan_index.tolist(), radar.timestamp.tolist())
    }
    stamps = seq.vehicle_data.ego_vehicle_data.timestamp / 1e9
    offsets = clip["radar_step_offsets"].tolist()
    for t, time_s in enumerate(clip["time_s"].tolist()):
        nearest = min(scan_time_s, key=lambda i: abs(scan_time_s[i] - time_s))
        rows = radar.scan_index == nearest
        if abs(scan_time_s[nearest] - time_s) <= 0.05:
            np.testing.assert_allclose(
                clip["radar_points"][offsets[t] : offsets[t + 1]].numpy(),
                radar.get_cartesian_coordinates()[rows],
                atol=1e-4,
            )
        else:
            assert offsets[t] == offsets[t + 1]
        row = int(np.argmin(np.abs(stamps - time_s)))
        expected = (
            seq.vehicle_data.ego_vehicle_data.lon_vel[row]
            if abs(stamps[row] - time_s) <= 0.05
            else np.nan
        )
        np.testing.assert_allclose(
            clip["vehicle"]["ego_vehicle_data"]["lon_vel"][t].item(), expected
        )
    batch = collate([ds[0], ds[1]])
    assert batch["vehicle"]["satellite"]["speed"].shape == (2, 2)
    assert batch["radar_step_offsets"].shape == (2, 3)
