"""Ray Data sources of decoded ZOD samples, for Ray Train or batch inference (``zod-devkit[ray]``).

Three sources, one record layout (that of the tar shards, :func:`zod.converters.shards.
decode_record`, made Arrow-friendly): every row is a dict of a few scalars and numpy arrays.

- :func:`read_shards`: the samples of tar shards (``zod convert shards``): one read task per
  shard, so the cluster's workers stream different shards in parallel.
- :func:`read_frames`: ZOD Frames straight from the dataset files (each frame encoded as a
  shard sample would be, then decoded: the rows equal :func:`read_shards`' for the same
  :class:`~zod.converters.shards.ShardConfig`).
- :func:`read_sequence_steps`: every time step of ZOD Sequences or Drives (``zod.stream``).

Frame rows: ``frame_id`` str, ``time_s`` float (epoch s), ``meta`` str (the sample's JSON:
calibration, image and lidar layout), ``image`` (H, W, 3) uint8, ``lidar_points`` (N, 3)
float32 (lidar frame), ``lidar_time_s`` (N,) float32 (relative to ``time_s``),
``lidar_intensity`` (N,) uint8, and with objects ``class_names`` / ``subclass_names`` (lists
of str), ``boxes_2d_xyxy`` (M, 4), ``unclear``, ``box_3d_valid`` (M,), ``centers_m``,
``sizes_lwh_m`` (M, 3), ``quaternions_wxyz`` (M, 4) (lidar frame), masks as flat polygons.

This module is named ``zod.ray``; inside it (and everywhere in the package) ``import ray``
is absolute and gets the Ray package.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from zod.converters.shards import ShardConfig, decode_record, encode_sample, iter_tar_samples

__all__ = ["read_frames", "read_sequence_steps", "read_shards", "to_row"]


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as err:  # pragma: no cover - installed in the dev environment
        from zod.errors import ZodError

        raise ZodError("zod.ray needs Ray: pip install 'zod-devkit[ray]'") from err
    return ray


_EMPTY_OBJECTS = {
    "class_names": [],
    "subclass_names": [],
    "boxes_2d_xyxy": np.zeros((0, 4)),
    "unclear": np.zeros(0, dtype=bool),
    "box_3d_valid": np.zeros(0, dtype=bool),
    "centers_m": np.zeros((0, 3)),
    "sizes_lwh_m": np.zeros((0, 3)),
    "quaternions_wxyz": np.zeros((0, 4)),
}
_EMPTY_POLYGONS = {
    "vertices": np.zeros((0, 2)),
    "ring_offsets": np.zeros(1, dtype=np.int64),
    "polygon_offsets": np.zeros(1, dtype=np.int64),
}


def to_row(record: dict[str, Any], modalities: Sequence[str] | None = None) -> dict[str, Any]:
    """A ``decode_record`` dict as a Ray row: ``meta`` as JSON text, no JPEG bytes, str arrays
    as lists (Arrow has no fixed-width unicode tensors).

    Every row of a dataset has the same columns (Arrow blocks share one schema): for each of
    ``modalities`` (default: the sample's configured ones) among ``objects``, ``ego_road``,
    ``lanes``, a frame not annotated for it gets empty arrays and ``<modality>_annotated``
    False."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key == "image_jpeg":
            continue
        if key == "meta":
            row[key] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, np.ndarray) and value.dtype.kind == "U":
            row[key] = [str(v) for v in value.tolist()]
        else:
            row[key] = value
    wanted = record["meta"].get("modalities", []) if modalities is None else modalities
    if "objects" in wanted:
        row["objects_annotated"] = "class_names" in record
        for key, empty in _EMPTY_OBJECTS.items():
            row.setdefault(key, empty)
    for modality in ("ego_road", "lanes"):
        if modality in wanted:
            row[f"{modality}_annotated"] = f"{modality}_vertices" in record
            for name, empty in _EMPTY_POLYGONS.items():
                row.setdefault(f"{modality}_{name}", empty)
    return row


def _shard_rows(
    item: dict[str, Any], image_scale: float | None, storage_options: dict[str, Any] | None
) -> Iterator[dict[str, Any]]:
    from zod._io import open_binary, register_storage_options

    shard = str(item["shard"])
    register_storage_options([shard], storage_options)  # in the Ray worker's process
    with open_binary(shard) as f:
        for _key, members in iter_tar_samples(f, where=shard):
            meta = json.loads(members["json"])
            stored = float((meta.get("image") or {}).get("scale") or 1.0)
            ratio = 1.0 if image_scale is None else image_scale / stored
            yield to_row(decode_record(members, ratio, where=shard))


def read_shards(
    shards: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    image_scale: float | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """A ``ray.data.Dataset`` of the samples of tar shards (a directory, its manifest, ``.tar``
    paths or fsspec URLs); images decoded at ``image_scale`` of full resolution (None: as
    stored). Workers must see the paths (a shared or object-store file system);
    ``storage_options`` (fsspec's: endpoint, credentials) go with each read task."""
    from functools import partial

    from zod.converters.shards import resolve_shards

    ray = _ray()
    from zod._io import register_storage_options

    options = None if storage_options is None else dict(storage_options)
    register_storage_options(
        [shards] if isinstance(shards, (str, os.PathLike)) else shards, options
    )
    items = [{"shard": shard} for shard in resolve_shards(shards)]
    return ray.data.from_items(items, override_num_blocks=max(1, len(items))).flat_map(
        partial(_shard_rows, image_scale=image_scale, storage_options=options)
    )


def _frame_row(
    item: dict[str, Any], root: str, version: str, config: ShardConfig
) -> dict[str, Any]:
    from zod.converters import _frames

    frame = _frames.frames(root, version)[str(item["frame_id"])]
    members = encode_sample(frame, config, item.get("split"))
    return to_row(decode_record(members, 1.0, where=str(item["frame_id"])))


def read_frames(
    dataset_root: str | os.PathLike[str],
    version: str = "full",
    split: str | None = "train",
    config: ShardConfig | None = None,
    frame_ids: Sequence[str | int] | None = None,
) -> Any:
    """A ``ray.data.Dataset`` of ZOD Frames read from the dataset files, one row per frame, in
    the shards' layout (``config`` says what a row holds, as for the shards)."""
    from functools import partial
    from pathlib import Path

    from zod.converters import _frames

    ray = _ray()
    root = str(Path(dataset_root).resolve())
    splits = ("train", "val") if split is None else (split,)
    wanted = None if frame_ids is None else {str(i).zfill(6) for i in frame_ids}
    items = [
        {"frame_id": frame_id, "split": name}
        for name in splits
        for frame_id in _frames.split_ids(root, version, name)
        if wanted is None or frame_id in wanted
    ]
    return ray.data.from_items(items).map(
        partial(_frame_row, root=root, version=version, config=config or ShardConfig())
    )


@lru_cache(maxsize=4)
def _subset(root: str, version: str, subset: str) -> Any:
    """The ``ZodSequences`` / ``ZodDrives`` of a worker process, opened once."""
    from zod.dataset import ZodDrives, ZodSequences

    return (ZodSequences if subset == "sequences" else ZodDrives)(root, version)


def _step_rows(
    item: dict[str, Any],
    root: str,
    version: str,
    subset: str,
    parts: tuple[str, ...],
    image_scale: float,
    reference: str,
) -> Iterator[dict[str, Any]]:
    from zod.stream import SensorStream

    item_id = str(item["id"])
    zod_subset = _subset(root, version, subset)
    stream = SensorStream(
        zod_subset[item_id],
        reference,  # type: ignore[arg-type]
        parts=parts,
        image_scale=image_scale,
        num_threads=1,
    )
    stream.skip_missing_files()
    for step in stream:
        if ("image" in parts and step.image is None) or ("lidar" in parts and step.lidar is None):
            continue
        row: dict[str, Any] = {"sequence_id": item_id, "step": step.index, "time_s": step.time_s}
        if step.image is not None:
            row["image"] = step.image
        if step.lidar is not None:
            row["lidar_points"] = np.ascontiguousarray(step.lidar.points, dtype=np.float32)
            row["lidar_time_s"] = (np.asarray(step.lidar.timestamps) - step.time_s).astype(
                np.float32
            )
            row["lidar_intensity"] = np.ascontiguousarray(step.lidar.intensity, dtype=np.uint8)
        if "pose" in parts:
            valid = step.world_from_ego is not None
            row["world_from_ego"] = step.world_from_ego if valid else np.full((4, 4), np.nan)
            row["pose_valid"] = valid
        yield row


def read_sequence_steps(
    dataset_root: str | os.PathLike[str],
    version: str = "full",
    split: str | None = "train",
    subset: str = "sequences",
    parts: Sequence[str] = ("image", "lidar", "pose"),
    image_scale: float = 0.25,
    reference: str = "camera",
    ids: Sequence[str | int] | None = None,
) -> Any:
    """A ``ray.data.Dataset`` of every time step of ZOD Sequences (or Drives): one read task
    per item, rows in time order within it: ``sequence_id``, ``step``, ``time_s`` (epoch s),
    ``image`` (H, W, 3) uint8 at ``image_scale``, ``lidar_points`` (N, 3) float32 (lidar
    frame), ``lidar_time_s`` (N,) float32 relative to ``time_s``, ``lidar_intensity`` (N,)
    uint8, ``world_from_ego`` (4, 4) float64 with ``pose_valid`` (steps without a requested
    sensor within the tolerance, or whose files are not on disk, are skipped)."""
    from functools import partial
    from pathlib import Path

    ray = _ray()
    root = str(Path(dataset_root).resolve())
    if subset not in ("sequences", "drives"):
        raise ValueError(f"subset must be 'sequences' or 'drives', not {subset!r}")
    zod_subset = _subset(root, version, subset)
    if ids is not None:
        item_ids = [str(i).zfill(6) for i in ids]
    elif split is None:
        item_ids = sorted(zod_subset.get_all_ids())
    else:
        item_ids = sorted(zod_subset.get_split(split))
    items = [{"id": item_id} for item_id in item_ids]
    return ray.data.from_items(items, override_num_blocks=max(1, len(items))).flat_map(
        partial(
            _step_rows,
            root=root,
            version=version,
            subset=subset,
            parts=tuple(parts),
            image_scale=image_scale,
            reference=reference,
        )
    )
