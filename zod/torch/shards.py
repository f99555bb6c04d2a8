"""Streaming tar shards (``zod convert shards``) as a PyTorch ``IterableDataset``.

``ZodShardsDataset`` yields the same sample dicts as ``ZodFramesDataset`` with the same options
(same keys, dtypes and values: the tests compare them tensor by tensor), read sequentially
from a few large files instead of many small ones. Shards are local paths or fsspec URLs
(``file://``, ``s3://``, ``memory://``...; fsspec is only imported for URLs).

How the work is split: the shards (in order, or permuted by ``seed + epoch``) are dealt
round-robin to the ``world_size x num_workers`` processes (DDP rank x DataLoader worker, as
``shard_info``), so no sample is read twice. With fewer shards than processes every process
reads every shard and keeps every n-th sample (correct, but each reads all the bytes: write
more shards than processes). A shuffle buffer of ``shuffle_buffer`` samples mixes the samples
of the shards a process reads.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from zod._io import register_storage_options
from zod.constants import EGO, Camera, Lidar
from zod.converters.shards import (
    decode_lidar_member,
    iter_tar_samples,
    load_objects,
    mask_polygons,
    open_binary,
    resolve_shards,
)
from zod.errors import FormatError
from zod.torch.datasets import FRAME_MODALITIES, ZodFramesDataset, _decode_buffer, shard_info
from zod.torch.tensors import (
    BoxFrame,
    ClassLevel,
    PointFrame,
    check_scale,
    image_to_tensor,
    objects_into_view,
    scale_intrinsics,
    scale_pixels,
    view_calibration_tensors,
    view_mask,
)
from zod.views import scaled_view

if TYPE_CHECKING:
    from zod.calibration import Calibration
    from zod.geometry.pinhole import PinholeView

__all__ = ["ZodShardsDataset", "sample_from_members"]

logger = logging.getLogger(__name__)


class _SampleConverter(ZodFramesDataset):
    """``ZodFramesDataset``'s options without its index (the shards carry what it reads)."""

    def __init__(self, **options: Any) -> None:
        for name, value in options.items():
            setattr(self, name, value)


def sample_from_members(
    members: dict[str, bytes],
    options: ZodFramesDataset,
    where: str = "shard",
    meta: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The ``ZodFramesDataset`` sample dict of one shard sample, or None if the sample lacks a
    modality the options ask for (as ``ZodFramesDataset`` excludes such frames)."""
    from zod.calibration import Calibration
    from zod.geometry import masks
    from zod.sensors.camera import decode_image

    if meta is None:
        meta = _meta(members, where)
    mods = set(options.modalities)
    if ("image" in mods and "jpg" not in members) or ("lidar" in mods and "lidar" not in meta):
        return None
    if mods & {"objects", "boxes_3d"} and "objects.npy" not in members:
        return None
    stored_masks = set(meta.get("masks", []))
    if ("ego_road" in mods and "ego_road" not in stored_masks) or (
        "lanes" in mods and "lanes" not in stored_masks
    ):
        return None
    image_meta = meta.get("image") or {}
    pinhole = image_meta.get("mode") == "pinhole"
    stored_scale = 1.0 if pinhole else float(image_meta.get("scale", 1.0))
    scale = options.image_scale
    ratio = scale / stored_scale if not pinhole else scale
    if "image" in mods and not any(math.isclose(ratio, v) for v in (1.0, 0.5, 0.25, 0.125)):
        raise ValueError(
            f"{where}: images stored at scale {stored_scale} cannot be decoded at {scale}"
        )
    view = _stored_view(image_meta, ratio, where) if pinhole else None

    sample: dict[str, Any] = {"frame_id": meta["frame_id"], "time_s": float(meta["time_s"])}
    calibration = Calibration.from_dict(meta["calibration"], source_path=where)
    camera = calibration.cameras[Camera.FRONT]
    width, height = (int(v) for v in np.asarray(camera.image_dimensions)[:2])
    if mods & {"calibration", "image", "boxes_3d", "lidar"}:
        intrinsics = scale_intrinsics(np.asarray(camera.intrinsics)[:3, :3], scale)
        distortion = np.asarray(camera.distortion, dtype=np.float32)
        size = [math.ceil(width * scale), math.ceil(height * scale)]
        sample["intrinsics"] = torch.from_numpy(intrinsics.astype(np.float32))
        sample["distortion"] = torch.from_numpy(distortion)
        sample["image_size"] = torch.tensor(size, dtype=torch.int64)
        sample["ego_from_camera"] = torch.from_numpy(
            calibration.get_extrinsics(Camera.FRONT).transform.astype(np.float32)
        )
        sample["ego_from_lidar"] = torch.from_numpy(
            calibration.get_extrinsics(Lidar.VELODYNE).transform.astype(np.float32)
        )
        if view is not None:
            sample.update(view_calibration_tensors(calibration, view))
    if "image" in mods:
        # into this thread's reused buffer, as ZodFramesDataset does (image_to_tensor copies)
        num_bytes = (
            math.ceil(int(image_meta["height"]) * ratio)
            * math.ceil(int(image_meta["width"]) * ratio)
            * 3
        )
        image = decode_image(members["jpg"], ratio, _decode_buffer(num_bytes), where=where)
        sample["image"] = image_to_tensor(image, options.image_dtype, options.normalize)
    if "lidar" in mods:
        arrays = decode_lidar_member(members, meta, where)
        points = arrays["points"]
        if options.lidar_frame == "ego":
            points = calibration.transform_points(points, Lidar.VELODYNE, EGO)
        sample["lidar_points"] = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
        sample["lidar_time_s"] = torch.from_numpy(arrays["time_s"])
        sample["lidar_intensity"] = torch.from_numpy(arrays["intensity"])
    if mods & {"objects", "boxes_3d"}:
        sample.update(_object_tensors(members, options, calibration, scale, view, where))
    if "ego_road" in mods or "lanes" in mods:
        from zod.converters.shards import _load_npz

        polygons = _load_npz(members["masks.npz"], where)
        shape = (math.ceil(height * scale), math.ceil(width * scale))
        for modality, key in (("ego_road", "ego_road_mask"), ("lanes", "lane_mask")):
            if modality in mods:
                scaled = [
                    [scale_pixels(ring, scale) for ring in rings]
                    for rings in mask_polygons(polygons, modality)
                ]
                mask = masks.rasterize_polygons(scaled, 1, image_shape=shape, scale=1.0)
                mask = mask.astype(bool)
                if view is not None:
                    mask = view_mask(mask, calibration, view)
                sample[key] = torch.from_numpy(mask)
    return sample


def _stored_view(image_meta: dict[str, Any], scale: float, where: str) -> PinholeView:
    """The pinhole view a pinhole-mode shard's image was rectified into, at ``scale``."""
    from zod.geometry.pinhole import PinholeView

    fields = image_meta.get("pinhole")
    if not isinstance(fields, dict):
        raise FormatError(where, "pinhole-mode sample has no 'pinhole' view in its meta")
    try:
        view = PinholeView(**fields)
    except (TypeError, ValueError) as err:
        raise FormatError(where, f"pinhole-mode sample has a bad view ({err})") from None
    return scaled_view(view, scale)


@functools.lru_cache(maxsize=32)
def _sorted_classes(items: tuple[tuple[str, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    known = np.array([name for name, _ in items], dtype=str)
    return known, np.array([class_id for _, class_id in items], dtype=np.int64)


def _class_table(class_to_id: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The class names sorted (for ``searchsorted``) and their ids, built once per class set
    rather than per sample."""
    return _sorted_classes(tuple(sorted(class_to_id.items())))


def _object_tensors(
    members: dict[str, bytes],
    options: ZodFramesDataset,
    calibration: Calibration,
    scale: float,
    view: PinholeView | None,
    where: str,
) -> dict[str, torch.Tensor]:
    """The object keys of a sample (as :func:`zod.torch.tensors.object_tensors` makes them
    from the annotation file), from the ``.objects.npy`` member; in ``view`` when given."""
    from zod.geometry.box_set import Box3DSet

    objects = load_objects(members["objects.npy"], where)
    names = objects["class_names" if options.class_level == "class" else "subclass_names"]
    known, ids = _class_table(options._class_to_id)
    position = np.minimum(np.searchsorted(known, names), max(len(known) - 1, 0))
    keep = (known[position] == names) if len(known) else np.zeros(len(names), dtype=bool)
    boxes_2d = objects["boxes_2d_xyxy"][keep].reshape(-1, 4)
    out = {
        "boxes_2d": torch.from_numpy(
            scale_pixels(boxes_2d, 1.0 if view is not None else scale).astype(np.float32)
        ),
        "class_ids": torch.from_numpy(ids[position[keep]]),
        "unclear": torch.from_numpy(objects["unclear"][keep].astype(bool)),
    }
    with_3d = "boxes_3d" in options.modalities
    if with_3d:
        valid = objects["box_3d_valid"][keep].astype(bool)
        box_set = Box3DSet(
            objects["centers_m"][keep][valid].reshape(-1, 3),
            objects["sizes_lwh_m"][keep][valid].reshape(-1, 3),
            objects["quaternions_wxyz"][keep][valid].reshape(-1, 4),
            Lidar.VELODYNE,
        )
        if len(box_set) and options.boxes_frame != "lidar":
            target = EGO if options.boxes_frame == "ego" else Camera.FRONT
            box_set = box_set.convert_to(target, calibration)
        boxes = np.zeros((len(valid), 10), dtype=np.float32)
        boxes[valid] = np.concatenate(
            [box_set.centers_m, box_set.sizes_lwh_m, box_set.quaternions_wxyz], axis=1
        )
        out["boxes_3d"] = torch.from_numpy(boxes)
        out["box_3d_valid"] = torch.from_numpy(valid)
    if view is not None:
        return objects_into_view(out, calibration, view, options.boxes_frame if with_3d else None)
    return out


class ZodShardsDataset(IterableDataset):
    """ZOD Frames samples streamed from tar shards, split across DDP ranks and workers.

    Args:
        shards: a shard directory, its ``manifest.json``, ``.tar`` paths or fsspec URLs (or a
            list of them).
        modalities, image_dtype, normalize, lidar_frame, boxes_frame, classes, class_level,
        transforms: as ``ZodFramesDataset`` (the shards must hold the modalities: a sample
            without one is skipped, as ``ZodFramesDataset`` excludes the frame).
        image_scale: scale of the full-resolution image (None: the shards' stored scale); the
            stored JPEG is decoded at ``image_scale / stored_scale`` (1, 1/2, 1/4 or 1/8).
        rank, world_size: this process in DDP (default: torch.distributed when initialized).
        shuffle: permute the shard order with ``seed + epoch`` (``set_epoch``);
        shuffle_buffer: mix samples through a buffer of that many (0: stream order).
        storage_options: fsspec options (endpoint, credentials) for shard URLs; carried into
            the DataLoader workers (None: fsspec's environment and config).

    Lidar points are stored in the lidar frame: ``lidar_frame="ego"`` transforms them as
    ``ZodFramesDataset`` does (same values).
    """

    def __init__(
        self,
        shards: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        modalities: Sequence[str] = ("image", "lidar", "objects", "boxes_3d"),
        image_scale: float | None = None,
        image_dtype: torch.dtype = torch.uint8,
        normalize: bool = False,
        lidar_frame: PointFrame = "lidar",
        boxes_frame: BoxFrame = "lidar",
        classes: Sequence[str] | None = None,
        class_level: ClassLevel = "class",
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        shuffle: bool = False,
        shuffle_buffer: int = 0,
        seed: int = 0,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        unknown = set(modalities) - set(FRAME_MODALITIES)
        if unknown:
            raise ValueError(
                f"unknown modalities {sorted(unknown)}; choose from {FRAME_MODALITIES}"
            )
        if lidar_frame not in ("lidar", "ego"):
            raise ValueError(f"lidar_frame must be 'lidar' or 'ego', not {lidar_frame!r}")
        if boxes_frame not in ("lidar", "ego", "camera"):
            raise ValueError(f"boxes_frame must be 'lidar', 'ego' or 'camera', not {boxes_frame!r}")
        if shuffle_buffer < 0:
            raise ValueError("shuffle_buffer must be >= 0")
        self.storage_options = None if storage_options is None else dict(storage_options)
        sources = [shards] if isinstance(shards, (str, os.PathLike)) else list(shards)
        register_storage_options(sources, self.storage_options)
        self.shards = resolve_shards(shards)
        self.image_scale = None if image_scale is None else check_scale(image_scale)
        classes_tuple = (
            tuple(classes) if classes is not None else ZodFramesDataset.default_classes(class_level)
        )
        self.modalities = tuple(dict.fromkeys(modalities))
        self.image_dtype, self.normalize = image_dtype, normalize
        self.lidar_frame, self.boxes_frame = lidar_frame, boxes_frame
        self.classes, self.class_level = classes_tuple, class_level
        self.transforms = transforms
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.shuffle_buffer, self.seed, self.epoch = shuffle, shuffle_buffer, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle the shard order and the buffer for this epoch."""
        self.epoch = epoch

    def _options(self, stored_scale: float) -> ZodFramesDataset:
        return _SampleConverter(
            modalities=self.modalities,
            image_scale=stored_scale if self.image_scale is None else self.image_scale,
            image_dtype=self.image_dtype,
            normalize=self.normalize,
            lidar_frame=self.lidar_frame,
            boxes_frame=self.boxes_frame,
            classes=self.classes,
            class_level=self.class_level,
            _class_to_id={name: i for i, name in enumerate(self.classes)},
        )

    def assignment(self) -> tuple[list[str], int, int]:
        """(shards this process reads, sample stride, sample offset): whole shards when there
        are as many as processes, else every shard with every ``stride``-th sample."""
        process, num_processes = shard_info(self.rank, self.world_size)
        shards = list(self.shards)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(len(shards))
            shards = [shards[i] for i in order]
        if len(shards) >= num_processes:
            return shards[process::num_processes], 1, 0
        return shards, num_processes, process

    def _stream(self) -> Iterator[dict[str, Any]]:
        shards, stride, offset = self.assignment()
        options: dict[float, ZodFramesDataset] = {}
        position = 0
        register_storage_options(shards, self.storage_options)  # a spawned worker has none
        for shard in shards:
            with open_binary(shard) as f:
                for _key, members in iter_tar_samples(f, where=shard):
                    position += 1
                    if (position - 1) % stride != offset:
                        continue
                    meta = _meta(members, shard)
                    stored = _stored_scale(meta)
                    converter = options.get(stored)
                    if converter is None:
                        converter = options[stored] = self._options(stored)
                    sample = sample_from_members(members, converter, shard, meta)
                    if sample is None:
                        continue
                    if self.transforms is not None:
                        sample = self.transforms(sample)
                    yield sample

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self.shuffle_buffer <= 1:
            yield from self._stream()
            return
        process, _ = shard_info(self.rank, self.world_size)
        rng = np.random.default_rng([self.seed, self.epoch, process])
        buffer: list[dict[str, Any]] = []
        for sample in self._stream():
            if len(buffer) < self.shuffle_buffer:
                buffer.append(sample)
                continue
            i = int(rng.integers(len(buffer)))
            buffer[i], sample = sample, buffer[i]
            yield sample
        for i in rng.permutation(len(buffer)).tolist():
            yield buffer[i]


def _meta(members: dict[str, bytes], where: str) -> dict[str, Any]:
    if "json" not in members:
        raise FormatError(where, "sample has no .json member")
    try:
        meta = json.loads(members["json"])
    except ValueError as err:
        raise FormatError(where, f"sample .json member is not JSON: {err}") from None
    if not isinstance(meta, dict) or "frame_id" not in meta:
        raise FormatError(where, "sample .json member has no frame_id")
    return meta


def _stored_scale(meta: dict[str, Any]) -> float:
    """The scale of the stored image (1 for original bytes and pinhole views)."""
    image = meta.get("image") or {}
    return 1.0 if image.get("mode") == "pinhole" else float(image.get("scale") or 1.0)
