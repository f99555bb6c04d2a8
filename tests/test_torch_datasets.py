"""ZodFramesDataset on the sample: shapes, dtypes, values, filtering, workers and samplers."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from pyquaternion import Quaternion
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from zod.constants import EGO, AnnotationProject, Anonymization, Camera, Lidar
from zod.dataset import ZodFrames
from zod.geometry import masks
from zod.geometry.box import Box3D
from zod.geometry.fisheye import project
from zod.torch import Collator, ZodFramesDataset, collate, scale_pixels

# Workers from a forkserver, not a fork of this process: pytest's process holds threads
# (OpenCV, thread pools, tqdm) whose locks a forked child could inherit locked.
MP_CONTEXT = "forkserver"

ALL = ("image", "lidar", "objects", "boxes_3d", "calibration")


@pytest.fixture(scope="module")
def frames(sample_root: Path) -> ZodFrames:
    return ZodFrames(str(sample_root), "full")


def _object_ids(frames: ZodFrames) -> list[str]:
    return sorted(
        frames.get_split("train", AnnotationProject.OBJECT_DETECTION)
        | frames.get_split("val", AnnotationProject.OBJECT_DETECTION)
    )


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.125])
def test_shapes_dtypes_and_image_values(sample_root: Path, frames: ZodFrames, scale: float) -> None:
    ds = ZodFramesDataset(sample_root, "full", None, modalities=ALL, image_scale=scale)
    assert len(ds) == len(_object_ids(frames)) > 0 and not ds.excluded
    sample = ds[0]
    frame = frames[ds.frame_ids[0]]
    height, width = math.ceil(2168 * scale), math.ceil(3848 * scale)
    assert sample["frame_id"] == ds.frame_ids[0]
    assert sample["time_s"] == pytest.approx(frame.info.keyframe_time.timestamp())
    assert sample["image"].shape == (3, height, width) and sample["image"].dtype == torch.uint8
    assert sample["image_size"].tolist() == [width, height]
    expected = frame.get_camera_frame(Anonymization.BLUR).read(scale=scale)
    assert torch.equal(sample["image"].permute(1, 2, 0), torch.from_numpy(expected))
    assert sample["intrinsics"].shape == (3, 3) and sample["intrinsics"].dtype == torch.float32
    assert sample["lidar_points"].dtype == torch.float32 and sample["lidar_points"].shape[1] == 3
    assert sample["lidar_intensity"].dtype == torch.uint8
    assert sample["boxes_2d"].shape[1] == 4 and sample["class_ids"].dtype == torch.int64
    assert sample["boxes_3d"].shape == (len(sample["class_ids"]), 10)
    # the dnat anonymization is a different image of the same exposure
    dnat = ZodFramesDataset(
        sample_root, "full", None, modalities=("image",), anonymization="dnat", image_scale=scale
    )
    assert dnat[0]["image"].shape == sample["image"].shape
    assert not torch.equal(dnat[0]["image"], sample["image"])


def test_float_image_is_normalized(sample_root: Path) -> None:
    ds = ZodFramesDataset(
        sample_root,
        "mini",
        None,
        modalities=("image",),
        image_scale=0.125,
        image_dtype=torch.float32,
        normalize=True,
    )
    raw = ZodFramesDataset(sample_root, "mini", None, modalities=("image",), image_scale=0.125)
    image, pixels = ds[0]["image"], raw[0]["image"].float() / 255
    assert image.dtype == torch.float32
    torch.testing.assert_close(image[2], (pixels[2] - 0.367) / 0.214)


def test_boxes_match_annotations(sample_root: Path, frames: ZodFrames) -> None:
    ds = ZodFramesDataset(
        sample_root, "full", None, modalities=("objects", "boxes_3d"), image_scale=0.5
    )
    ego = ZodFramesDataset(
        sample_root, "full", None, modalities=("objects", "boxes_3d"), boxes_frame="ego"
    )
    checked_3d = 0
    for i, frame_id in enumerate(ds.frame_ids):
        frame = frames[frame_id]
        objects = [
            o
            for o in frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
            if o.name in ds.classes
        ]
        sample, sample_ego = ds[i], ego[i]
        assert len(sample["class_ids"]) == len(objects)
        assert [ds.classes[c] for c in sample["class_ids"].tolist()] == [o.name for o in objects]
        expected_2d = scale_pixels(np.array([o.box2d.xyxy for o in objects]).reshape(-1, 4), 0.5)
        np.testing.assert_allclose(sample["boxes_2d"].numpy(), expected_2d, atol=1e-3)
        assert sample["unclear"].tolist() == [bool(o.unclear) for o in objects]
        assert sample["box_3d_valid"].tolist() == [o.box3d is not None for o in objects]
        for row, row_ego, obj in zip(
            sample["boxes_3d"].double().numpy(), sample_ego["boxes_3d"].double().numpy(), objects
        ):
            if obj.box3d is None:
                assert not row.any()
                continue
            np.testing.assert_allclose(row[:3], obj.box3d.center, atol=1e-4)
            np.testing.assert_allclose(row[3:6], obj.box3d.size, atol=1e-5)
            np.testing.assert_allclose(
                Quaternion(row[6:]).rotation_matrix,
                obj.box3d.orientation.rotation_matrix,
                atol=1e-5,
            )
            in_ego = obj.box3d.copy().convert_to(EGO, frame.calibration)
            corners = Box3D(row_ego[:3], row_ego[3:6], Quaternion(row_ego[6:]), EGO).corners
            np.testing.assert_allclose(corners, in_ego.corners, atol=1e-3)
            checked_3d += 1
    assert checked_3d > 0


def test_class_selection_and_subclasses(sample_root: Path, frames: ZodFrames) -> None:
    ds = ZodFramesDataset(
        sample_root, "full", None, modalities=("objects",), classes=("Pedestrian", "Vehicle")
    )
    sub = ZodFramesDataset(
        sample_root, "full", None, modalities=("objects",), class_level="subclass"
    )
    for i, frame_id in enumerate(ds.frame_ids):
        objects = frames[frame_id].get_annotation(AnnotationProject.OBJECT_DETECTION)
        names = [o.name for o in objects if o.name in ("Pedestrian", "Vehicle")]
        assert [ds.classes[c] for c in ds[i]["class_ids"].tolist()] == names
        # subclasses outside the reference list (e.g. Vehicle_Artificial) are dropped
        expected = [o.subclass for o in objects if o.subclass in sub.classes]
        assert [sub.classes[c] for c in sub[i]["class_ids"].tolist()] == expected


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_scaled_intrinsics_reproject_boxes_onto_scaled_2d_boxes(
    sample_root: Path, scale: float
) -> None:
    """The sample's 2D boxes are the bounds of the projected 3D boxes: with the scaled intrinsics
    the camera-frame 3D boxes must land on the scaled 2D boxes."""
    ds = ZodFramesDataset(
        sample_root,
        "full",
        None,
        modalities=("objects", "boxes_3d", "calibration"),
        image_scale=scale,
        boxes_frame="camera",
    )
    checked = 0
    for sample in (ds[i] for i in range(len(ds))):
        intrinsics = sample["intrinsics"].double().numpy()
        distortion = sample["distortion"].double().numpy()
        width, height = sample["image_size"].tolist()
        for box_2d, row, valid in zip(
            sample["boxes_2d"].numpy(), sample["boxes_3d"].double().numpy(), sample["box_3d_valid"]
        ):
            if not valid:
                continue
            corners = Box3D(row[:3], row[3:6], Quaternion(row[6:]), Camera.FRONT).corners
            pixels = project(corners, intrinsics, distortion)
            bounds = np.r_[pixels.min(0), pixels.max(0)]
            if (
                corners[:, 2].min() <= 0
                or bounds[0] < 0
                or bounds[1] < 0
                or bounds[2] > width - 1
                or bounds[3] > height - 1
            ):
                continue  # clipped at the image border
            np.testing.assert_allclose(box_2d, bounds, atol=0.5 * scale + 1e-3)
            checked += 1
    assert checked >= 3


def test_lidar_values_frames_and_aggregation(sample_root: Path, frames: ZodFrames) -> None:
    ds = ZodFramesDataset(sample_root, "full", None, modalities=("lidar",))
    ego = ZodFramesDataset(sample_root, "full", None, modalities=("lidar",), lidar_frame="ego")
    agg = ZodFramesDataset(sample_root, "full", None, modalities=("lidar",), lidar_scans=(1, 1))
    frame = frames[ds.frame_ids[0]]
    core = frame.get_lidar_frames(0, 0)[0].read()
    sample = ds[0]
    np.testing.assert_array_equal(sample["lidar_points"].numpy(), core.points)
    np.testing.assert_array_equal(sample["lidar_intensity"].numpy(), core.intensity)
    np.testing.assert_allclose(
        sample["lidar_time_s"].numpy(), core.timestamps - sample["time_s"], atol=1e-5
    )
    expected_ego = frame.calibration.transform_points(
        core.points.astype(np.float64), Lidar.VELODYNE, EGO
    )
    np.testing.assert_allclose(ego[0]["lidar_points"].numpy(), expected_ego, atol=1e-3)
    aggregated = frame.get_aggregated_lidar(num_before=1, num_after=1)
    assert len(agg[0]["lidar_points"]) == len(aggregated.points) > len(core.points)
    np.testing.assert_allclose(agg[0]["lidar_points"].numpy(), aggregated.points, atol=1e-5)
    raw = ZodFramesDataset(
        sample_root, "full", None, modalities=("lidar",), lidar_scans=(1, 1), lidar_compensate=False
    )
    scans = frame.get_lidar(1, 1)
    np.testing.assert_array_equal(
        raw[0]["lidar_points"].numpy(), np.concatenate([s.points for s in scans])
    )


@pytest.mark.parametrize("compensate", [True, False])
def test_remove_ego_lidar_returns_holds_for_aggregated_scans(
    sample_root: Path, frames: ZodFrames, compensate: bool
) -> None:
    from zod.sensors.lidar import EGO_RETURNS_BOX

    def dataset(remove_ego_lidar_returns: bool) -> ZodFramesDataset:
        return ZodFramesDataset(
            sample_root,
            "full",
            None,
            modalities=("lidar",),
            lidar_scans=(1, 1),
            lidar_compensate=compensate,
            remove_ego_lidar_returns=remove_ego_lidar_returns,
        )

    kept, removed = dataset(False), dataset(True)
    frame = frames[kept.frame_ids[0]]
    raw_scans = [f.read(remove_ego_lidar_returns=False) for f in frame.get_lidar_frames(1, 1)]
    clean_scans = frame.get_lidar(1, 1)
    # the sample generator puts returns on the ego car in every scan
    assert all(len(r.points) > len(c.points) for r, c in zip(raw_scans, clean_scans))
    with_ego = kept[0]["lidar_points"].numpy()
    without_ego = removed[0]["lidar_points"].numpy()
    assert len(with_ego) == sum(len(scan.points) for scan in raw_scans)
    assert len(without_ego) == sum(len(scan.points) for scan in clean_scans)

    def in_ego_box(points: np.ndarray) -> int:
        return int(np.all((points > EGO_RETURNS_BOX[0]) & (points < EGO_RETURNS_BOX[1]), 1).sum())

    core_raw = frame.get_lidar_frames(0, 0)[0].read(remove_ego_lidar_returns=False)
    assert in_ego_box(with_ego) >= in_ego_box(core_raw.points) > 0
    if compensate:
        # the core scan comes first and is not moved (reference semantics): kept as read
        np.testing.assert_array_equal(with_ego[: len(core_raw.points)], core_raw.points)
        library = frame.get_aggregated_lidar(num_before=1, num_after=1)
        np.testing.assert_allclose(without_ego, library.points, atol=1e-5)
        library_raw = frame.get_aggregated_lidar(1, 1, remove_ego_lidar_returns=False)
        np.testing.assert_allclose(with_ego, library_raw.points, atol=1e-5)
    else:
        np.testing.assert_array_equal(with_ego, np.concatenate([s.points for s in raw_scans]))


def test_masks_match_geometry_module(sample_root: Path, frames: ZodFrames) -> None:
    ds = ZodFramesDataset(sample_root, "full", None, modalities=("ego_road", "lanes"))
    half = ZodFramesDataset(sample_root, "full", None, modalities=("ego_road",), image_scale=0.5)
    assert (
        len(ds)
        == len(frames.get_split("train", "ego_road") | frames.get_split("val", "ego_road"))
        > 0
    )
    frame = frames[ds.frame_ids[0]]
    sample = ds[0]
    road = frame.get_annotation(AnnotationProject.EGO_ROAD)
    lanes = frame.get_annotation(AnnotationProject.LANE_MARKINGS)
    assert torch.equal(sample["ego_road_mask"], torch.from_numpy(masks.binary_mask(road)))
    assert torch.equal(sample["lane_mask"], torch.from_numpy(masks.binary_mask(lanes)))
    small = half[0]["ego_road_mask"]
    assert small.shape == (1084, 1924) and small.any()
    # the half-resolution mask is the full one seen at half resolution (up to edge pixels)
    pooled = sample["ego_road_mask"].float().reshape(1084, 2, 1924, 2).mean((1, 3)) > 0.5
    assert (pooled != small).float().mean() < 0.01


def test_frames_lacking_data_are_excluded_with_reasons(sample_copy: Path) -> None:
    frames = ZodFrames(str(sample_copy), "full")
    ids = _object_ids(frames)
    image_gone, scan_gone = ids[0], ids[1]
    Path(frames[image_gone].get_camera_frame().filepath).unlink()
    Path(frames[scan_gone].get_lidar_frames(0, 0)[0].filepath).unlink()
    ds = ZodFramesDataset(sample_copy, "full", None, modalities=("image", "lidar", "objects"))
    assert ds.excluded[image_gone] == "missing front_blur image"
    assert ds.excluded[scan_gone] == "missing lidar scan"
    assert image_gone not in ds.frame_ids and scan_gone not in ds.frame_ids
    for i in range(len(ds)):  # every remaining frame loads
        assert ds[i]["image"].shape[0] == 3
    only_boxes = ZodFramesDataset(sample_copy, "full", None, modalities=("objects",))
    assert image_gone in only_boxes.frame_ids and not only_boxes.excluded
    # a surrounding scan that is not downloaded excludes the frame only when asked for
    before = frames[ids[2]].get_lidar_frames(1, 0)[0]
    Path(before.filepath).unlink()
    assert ids[2] in ZodFramesDataset(sample_copy, "full", None, modalities=("lidar",)).frame_ids
    agg = ZodFramesDataset(sample_copy, "full", None, modalities=("lidar",), lidar_scans=(1, 0))
    assert agg.excluded[ids[2]] == "missing lidar scan"


def test_pickle_is_small_and_lazy(sample_root: Path) -> None:
    ds = ZodFramesDataset(sample_root, "full", None, modalities=ALL, image_scale=0.25)
    ds[0]  # opens the index in this process
    blob = pickle.dumps(ds)
    assert len(blob) < 10_000
    clone = pickle.loads(blob)
    assert clone._zod is None and clone.frame_ids == ds.frame_ids
    assert torch.equal(clone[1]["lidar_points"], ds[1]["lidar_points"])


def test_dataloader_workers_and_distributed_sampler(sample_root: Path) -> None:
    ds = ZodFramesDataset(
        sample_root, "full", None, modalities=("image", "lidar", "objects"), image_scale=0.125
    )
    reference = collate([ds[i] for i in range(len(ds))])
    loader = DataLoader(
        ds,
        batch_size=len(ds),
        num_workers=2,
        collate_fn=collate,
        multiprocessing_context=MP_CONTEXT,
    )
    (batch,) = list(loader)
    assert batch["frame_id"] == ds.frame_ids
    for key in (
        "image",
        "lidar_points",
        "lidar_points_mask",
        "boxes_2d",
        "class_ids",
        "class_ids_mask",
    ):
        assert torch.equal(batch[key], reference[key]), key
    seen: list[list[str]] = []
    for rank in range(2):
        sampler: DistributedSampler[int] = DistributedSampler(
            ds, num_replicas=2, rank=rank, shuffle=True, seed=3
        )
        sampler.set_epoch(1)
        rank_loader = DataLoader(
            ds,
            batch_size=1,
            sampler=sampler,
            num_workers=2,
            collate_fn=Collator("flat"),
            multiprocessing_context=MP_CONTEXT,
        )
        ids = []
        for b in rank_loader:
            ids.extend(b["frame_id"])
            assert b["lidar_points_offsets"].tolist() == [0, len(b["lidar_points"])]
        seen.append(ids)
    assert len(seen[0]) == len(seen[1]) == math.ceil(len(ds) / 2)
    assert set(seen[0]) | set(seen[1]) == set(ds.frame_ids)
    if len(ds) % 2 == 0:
        assert not set(seen[0]) & set(seen[1])


def test_bad_arguments_are_rejected(sample_root: Path) -> None:
    with pytest.raises(ValueError, match="modalities"):
        ZodFramesDataset(sample_root, "full", None, modalities=("radar",))
    with pytest.raises(ValueError, match="image_scale"):
        ZodFramesDataset(sample_root, "full", None, image_scale=0.3)
    with pytest.raises(ValueError, match="boxes_frame"):
        ZodFramesDataset(sample_root, "full", None, boxes_frame="world")  # type: ignore[arg-type]


def _hflip(sample: dict) -> dict:
    """A picklable transform: mirror the image and its 2D boxes."""
    width = sample["image"].shape[-1]
    sample["image"] = sample["image"].flip(-1)
    boxes = sample["boxes_2d"].clone()
    boxes[:, 0], boxes[:, 2] = (
        width - 1 - sample["boxes_2d"][:, 2],
        width - 1 - sample["boxes_2d"][:, 0],
    )
    sample["boxes_2d"] = boxes
    return sample


def test_transforms_run_in_workers(sample_root: Path) -> None:
    plain = ZodFramesDataset(
        sample_root, "mini", None, modalities=("image", "objects"), image_scale=0.125
    )
    flipped = ZodFramesDataset(
        sample_root,
        "mini",
        None,
        modalities=("image", "objects"),
        image_scale=0.125,
        transforms=_hflip,
    )
    (batch,) = list(
        DataLoader(
            flipped,
            batch_size=len(flipped),
            num_workers=2,
            collate_fn=collate,
            multiprocessing_context=MP_CONTEXT,
        )
    )
    first = plain[0]
    assert torch.equal(batch["image"][0], first["image"].flip(-1))
    width = first["image"].shape[-1]
    n = len(first["boxes_2d"])
    torch.testing.assert_close(batch["boxes_2d"][0, :n, 0], width - 1 - first["boxes_2d"][:, 2])


def test_exclusions_are_logged(sample_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="zod.torch.datasets"):
        ds = ZodFramesDataset(sample_root, "full", None, modalities=("ego_road",))
    if ds.excluded:
        assert (
            f"{len(ds.excluded)} of" in caplog.text and "not annotated for ego_road" in caplog.text
        )
    frames = ZodFrames(str(sample_root), "full")
    annotated = frames.get_split("train", "ego_road") | frames.get_split("val", "ego_road")
    assert set(ds.frame_ids) == annotated
    assert set(ds.excluded) == frames.get_all_ids() - annotated
    unchecked = ZodFramesDataset(
        sample_root, "full", None, modalities=("ego_road",), check_files=False
    )
    assert unchecked.frame_ids == ds.frame_ids and unchecked.excluded == ds.excluded
