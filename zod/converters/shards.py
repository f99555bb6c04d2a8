"""ZOD Frames -> WebDataset-style tar shards of training samples (``zod convert shards``).

Why: millions of small files (an 8 MP JPEG, a 128-beam scan, a few JSONs per frame) starve
GPUs on network file systems; a few hundred sequential tar files of ~1 GB stream at disk speed.

A shard is a plain POSIX tar written by :mod:`tarfile` (no dependency) in the WebDataset naming
convention: the members of one sample are consecutive and share the sample key (the frame id),
``<key>.<ext>``, so WebDataset readers can also read the shards::

    shard-000000.tar
      000123.json         meta: frame id, time, split, calibration, image/lidar layout
      000123.jpg          front camera image (see ``image_mode``)
      000123.lidar_points.npy     lidar (core scan or aggregated): (N, 3) float32 m,
      000123.lidar_time_s.npy     (N,) float32 s from the keyframe, (N,) uint8 intensity
      000123.lidar_intensity.npy  (or one .lidar.bsz with lidar_codec="bsz")
      000123.objects.npy  objects: one structured row each: names, 2D boxes (full-res
                          px), 3D boxes (lidar frame)
      000123.masks.npz    ego road / lane polygons (full-res px rings)
      000098.json ...     the next sample

``image_mode``: ``"original"`` (the JPEG bytes as on disk: readers decode at any 1/2^k scale,
pixel-identical to decoding the file), ``"jpeg"`` (decoded at ``image_scale`` and re-encoded at
``jpeg_quality``: smaller shards, lossy) or ``"pinhole"`` (rectified to a ``PinholeView`` by
:func:`zod.geometry.pinhole.rectify`, re-encoded; the meta holds its camera matrix).

Lidar: ``lidar_codec="npy"`` (default) writes the three columns as plain ``.npy`` members,
which any numpy (and WebDataset's decoders) reads and a reader takes without decoding;
``"bsz"`` (:func:`encode_lidar`) byte-shuffles x, y, z, t (all first bytes, then all second
bytes...: the sign/exponent bytes of nearby floats compress well) and zlibs each byte plane
unless it is noise: half the bytes, ~3 ms of inflate per 100k points
(``benchmarks/bench_shards.py``). Readers also take the ``.lidar.npz`` of earlier shards.

The run: frames (a split, or both) in index order, permuted by ``seed`` (None: no shuffle),
dealt into shards of ``samples_per_shard`` samples, estimated from a ``shard_size_mb`` target by
encoding the first few samples. The plan is written to ``manifest.json`` first; each shard is
a task of :func:`zod.converters.runner.run_frames` (all cores, or Ray) that writes its tar
atomically plus a ``<shard>.tar.json`` sidecar (count, bytes, SHA-256). A rerun keeps every
shard whose sidecar matches the file (resumable), and rewrites the manifest with all of them.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
import tarfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from zod._io import is_dir, is_url, join_path, npy_from_bytes, open_binary
from zod.converters import _frames
from zod.converters.runner import RunKwargs, RunOptions, atomic_write_text, run_frames, run_options
from zod.errors import FormatError, MissingFileError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on

    from zod.frame import ZodFrame

__all__ = [
    "IMAGE_MODES",
    "LIDAR_CODECS",
    "MANIFEST",
    "SHARD_MODALITIES",
    "ShardConfig",
    "convert_to_shards",
    "decode_lidar",
    "decode_lidar_member",
    "decode_record",
    "encode_lidar",
    "encode_sample",
    "iter_tar_samples",
    "load_objects",
    "mask_polygons",
    "open_binary",
    "read_manifest",
    "resolve_shards",
    "shard_plan",
]

SHARD_MODALITIES = ("image", "lidar", "objects", "ego_road", "lanes")
IMAGE_MODES = ("original", "jpeg", "pinhole")
LIDAR_CODECS = ("npy", "bsz")
IMAGE_SCALES = (1.0, 0.5, 0.25, 0.125)  # the JPEG DCT reduced sizes
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ShardConfig:
    """What goes into each sample (JSON-native fields: stored in the manifest).

    modalities: any of ``SHARD_MODALITIES`` (``objects`` holds the 2D and 3D boxes); frames
    without a requested annotation project are still written, without that member (the meta
    lists what a sample holds). image_mode / image_scale / jpeg_quality: see the module
    docstring; pinhole: ``PinholeView`` fields (name, yaw_deg, pitch_deg, horizontal_fov_deg,
    width_px, height_px) for ``image_mode="pinhole"``. lidar_scans: (before, after) scans
    around the core scan, aggregated (motion compensated when ``lidar_compensate``).
    """

    modalities: tuple[str, ...] = ("image", "lidar", "objects")
    anonymization: str = "blur"
    image_mode: str = "original"
    image_scale: float = 1.0
    jpeg_quality: int = 90
    pinhole: dict[str, Any] | None = None
    lidar_scans: tuple[int, int] = (0, 0)
    lidar_compensate: bool = True
    lidar_codec: str = "npy"
    lidar_level: int = 6
    remove_ego_lidar_returns: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.modalities) - set(SHARD_MODALITIES)
        if unknown:
            raise ValueError(
                f"unknown modalities {sorted(unknown)}; choose from {SHARD_MODALITIES}"
            )
        object.__setattr__(self, "modalities", tuple(dict.fromkeys(self.modalities)))
        object.__setattr__(self, "lidar_scans", tuple(int(v) for v in self.lidar_scans))
        scale = next((v for v in IMAGE_SCALES if math.isclose(float(self.image_scale), v)), None)
        if scale is None:
            raise ValueError(f"image_scale must be one of {IMAGE_SCALES}, not {self.image_scale}")
        object.__setattr__(self, "image_scale", scale)
        if self.image_mode not in IMAGE_MODES:
            raise ValueError(f"image_mode must be one of {IMAGE_MODES}, not {self.image_mode!r}")
        if self.image_mode == "original" and self.image_scale != 1.0:
            raise ValueError("image_mode 'original' keeps the file's bytes: image_scale must be 1")
        if self.image_mode == "pinhole" and not self.pinhole:
            raise ValueError("image_mode 'pinhole' needs the pinhole view fields")
        if self.lidar_codec not in LIDAR_CODECS:
            raise ValueError(f"lidar_codec must be one of {LIDAR_CODECS}, not {self.lidar_codec!r}")
        if min(self.lidar_scans) < 0:
            raise ValueError("lidar_scans must be >= 0")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError("jpeg_quality must be in 1..100")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["modalities"] = list(self.modalities)
        data["lidar_scans"] = list(self.lidar_scans)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardConfig:
        fields = dict(data)
        fields["modalities"] = tuple(fields.get("modalities", ()))
        fields["lidar_scans"] = tuple(fields.get("lidar_scans", (0, 0)))
        return cls(**fields)


# --------------------------------------------------------------------------------------------
# lidar codec
# --------------------------------------------------------------------------------------------


_BSZ_MAGIC = b"ZBS1"
_BSZ_PLANES = 17  # 4 float32 columns x 4 bytes, then the intensity
_BSZ_HEADER = struct.Struct("<4sIB")
_BSZ_PLANE = struct.Struct("<BI")  # codec (0: raw, 1: zlib), stored bytes


def encode_lidar(
    points: np.ndarray, time_s: np.ndarray, intensity: np.ndarray, level: int = 6
) -> bytes:
    """``.lidar.bsz`` bytes of points (N, 3) float32, time_s (N,) float32, intensity (N,) uint8.

    Layout (little endian)::

        "ZBS1" | uint32 N | uint8 17 | 17 x (uint8 codec, uint32 size) | 17 plane payloads

    Planes 0..15 are byte ``b`` of column ``c`` (plane ``4 c + b``; columns x, y, z, t) of
    all N points, plane 16 the intensities. Each plane is zlib'ed (codec 1) unless that saves
    under 5 % (codec 0, raw): the low mantissa bytes of the floats are noise, and skipping them
    halves the decode time for the same size.
    """
    import cv2

    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    table = np.empty((len(points), 4), dtype=np.float32)  # (N, 4): x, y, z, t
    table[:, :3] = points
    table[:, 3] = np.asarray(time_s, dtype=np.float32)
    planes = cv2.transpose(table.view(np.uint8)) if len(table) else np.zeros((16, 0), np.uint8)
    rows = [planes[i].tobytes() for i in range(16)]
    rows.append(np.ascontiguousarray(intensity, dtype=np.uint8).tobytes())
    header = [_BSZ_HEADER.pack(_BSZ_MAGIC, len(points), _BSZ_PLANES)]
    payloads = []
    for row in rows:
        packed = zlib.compress(row, level)
        codec, data = (1, packed) if len(packed) < 0.95 * len(row) else (0, row)
        header.append(_BSZ_PLANE.pack(codec, len(data)))
        payloads.append(data)
    return b"".join(header + payloads)


def decode_lidar(data: bytes, num_points: int, where: str = "lidar") -> dict[str, np.ndarray]:
    """``points`` (N, 3) float32 C-contiguous, ``time_s`` (N,) float32, ``intensity`` (N,) uint8
    from ``.lidar.bsz`` bytes (see :func:`encode_lidar`); a malformed member or one of another
    size than ``num_points`` is a ``FormatError`` naming ``where``."""
    import cv2

    view = memoryview(data)
    if len(view) < _BSZ_HEADER.size or bytes(view[:4]) != _BSZ_MAGIC:
        raise FormatError(where, "lidar member is not a ZBS1 stream")
    _, count, num_planes = _BSZ_HEADER.unpack_from(view)
    if count != num_points or num_planes != _BSZ_PLANES:
        raise FormatError(where, f"lidar member holds {count} points, not {num_points}")
    offset = _BSZ_HEADER.size + num_planes * _BSZ_PLANE.size
    planes = np.empty((_BSZ_PLANES, num_points), dtype=np.uint8)
    for i in range(num_planes):
        codec, size = _BSZ_PLANE.unpack_from(view, _BSZ_HEADER.size + i * _BSZ_PLANE.size)
        chunk = view[offset : offset + size]
        offset += size
        try:
            row = zlib.decompress(chunk) if codec == 1 else chunk
        except zlib.error as err:
            raise FormatError(where, f"lidar plane {i} is not a zlib stream: {err}") from None
        if len(row) != num_points or codec not in (0, 1):
            raise FormatError(where, f"lidar plane {i} is damaged (codec {codec})")
        planes[i] = np.frombuffer(row, dtype=np.uint8)
    if offset != len(view):
        raise FormatError(where, f"lidar member has {len(view) - offset} trailing bytes")
    table = cv2.transpose(planes[:16]).view(np.float32) if num_points else np.zeros((0, 4))
    table = table.astype(np.float32, copy=False)
    return {
        "points": np.ascontiguousarray(table[:, :3]),
        "time_s": np.ascontiguousarray(table[:, 3]),
        "intensity": planes[16].copy(),
    }


def _npz_bytes(arrays: dict[str, np.ndarray], compressed: bool = True) -> bytes:
    buffer = io.BytesIO()
    if compressed:
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    else:
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _load_npz(data: bytes, where: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError) as err:
        raise FormatError(where, f"not a readable .npz member: {err}") from None


# name: (dtype, shape after the point count) of the ``npy`` lidar members
_LIDAR_ARRAYS = {
    "points": (np.float32, (3,)),
    "time_s": (np.float32, ()),
    "intensity": (np.uint8, ()),
}


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def decode_lidar_member(
    members: dict[str, bytes], meta: dict[str, Any], where: str = "shard"
) -> dict[str, np.ndarray]:
    """``points`` (N, 3), ``time_s`` (N,) float32 (s from the keyframe), ``intensity`` (N,)
    uint8 of a sample's lidar members, whichever codec its meta names: ``npy`` (the three
    arrays as ``.lidar_points.npy``, ``.lidar_time_s.npy``, ``.lidar_intensity.npy``), ``bsz``
    (``.lidar.bsz``, :func:`decode_lidar`) or the ``.lidar.npz`` of earlier shards.
    ``FormatError`` naming ``where`` if a member is missing or malformed."""
    lidar = meta["lidar"]
    codec, num_points = lidar.get("codec"), int(lidar.get("num_points", -1))
    names = {"npy": [f"lidar_{name}.npy" for name in _LIDAR_ARRAYS]}.get(codec, [f"lidar.{codec}"])
    absent = [name for name in names if name not in members]
    if absent:
        raise FormatError(where, f"sample {meta.get('frame_id')} has no .{absent[0]} member")
    if codec == "bsz":
        return decode_lidar(members["lidar.bsz"], num_points, where)
    if codec == "npz":
        return _load_npz(members["lidar.npz"], where)
    if codec != "npy":
        raise FormatError(where, f"unknown lidar codec {codec!r}")
    arrays: dict[str, np.ndarray] = {}
    for (name, (dtype, shape)), member in zip(_LIDAR_ARRAYS.items(), names):
        array = npy_from_bytes(members[member], where, f".{member} member")
        if array.dtype != dtype or array.shape != (num_points, *shape):
            raise FormatError(
                where,
                f".{member} member is {array.dtype} {array.shape}, not {np.dtype(dtype)} "
                f"{(num_points, *shape)}",
            )
        arrays[name] = array.copy()  # writable (the member's bytes are not)
    return arrays


# --------------------------------------------------------------------------------------------
# one sample
# --------------------------------------------------------------------------------------------


def _flat_polygons(polygons: list[list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Polygons (lists of (K, 2) rings) as ``vertices`` (V, 2) float64, ``ring_offsets``
    (R + 1,) and ``polygon_offsets`` (P + 1,) int64 (polygon p is rings
    ``polygon_offsets[p]:polygon_offsets[p+1]``)."""
    rings = [ring for polygon in polygons for ring in polygon]
    ring_sizes = [len(ring) for ring in rings]
    return {
        "vertices": np.concatenate(rings).reshape(-1, 2) if rings else np.zeros((0, 2)),
        "ring_offsets": np.concatenate([[0], np.cumsum(ring_sizes)]).astype(np.int64),
        "polygon_offsets": np.concatenate(
            [[0], np.cumsum([len(polygon) for polygon in polygons])]
        ).astype(np.int64),
    }


def mask_polygons(arrays: dict[str, np.ndarray], prefix: str) -> list[list[np.ndarray]]:
    """The polygons of ``<prefix>_vertices`` / ``_ring_offsets`` / ``_polygon_offsets``."""
    vertices = arrays[f"{prefix}_vertices"]
    rings = np.asarray(arrays[f"{prefix}_ring_offsets"])
    polygons = np.asarray(arrays[f"{prefix}_polygon_offsets"])
    ring_list = [vertices[rings[i] : rings[i + 1]] for i in range(len(rings) - 1)]
    return [ring_list[polygons[p] : polygons[p + 1]] for p in range(len(polygons) - 1)]


def _subclass(obj: Any) -> str:
    try:
        return str(obj.subclass or "")
    except ValueError:  # the reference rules cannot tell the subclass
        return ""


def _objects_member(objects: Sequence[Any]) -> bytes:
    boxes_3d = [obj.box3d for obj in objects]
    valid = np.array([box is not None for box in boxes_3d], dtype=bool)
    centers = np.zeros((len(objects), 3))
    sizes = np.zeros((len(objects), 3))
    quaternions = np.zeros((len(objects), 4))
    for i, box in enumerate(boxes_3d):  # per object (tens), not per point
        if box is not None:
            centers[i], sizes[i], quaternions[i] = box.center, box.size, box.orientation.q
    names = [str(obj.name or "") for obj in objects]
    subclasses = [_subclass(obj) for obj in objects]
    table = np.zeros(len(objects), dtype=_objects_dtype(names + subclasses))
    table["class_names"] = names
    table["subclass_names"] = subclasses
    table["boxes_2d_xyxy"] = np.array(
        [obj.box2d.xyxy for obj in objects], dtype=np.float64
    ).reshape(-1, 4)
    table["unclear"] = [bool(obj.unclear) for obj in objects]
    table["box_3d_valid"] = valid
    table["centers_m"], table["sizes_lwh_m"], table["quaternions_wxyz"] = (
        centers,
        sizes,
        quaternions,
    )
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    return buffer.getvalue()


def _objects_dtype(names: Sequence[str]) -> np.dtype:
    """One row per object (``.objects.npy``: one header to parse, not eight as an .npz)."""
    width = max([1, *(len(name) for name in names)])
    return np.dtype(
        [
            ("class_names", f"<U{width}"),
            ("subclass_names", f"<U{width}"),
            ("boxes_2d_xyxy", "<f8", (4,)),
            ("unclear", "?"),
            ("box_3d_valid", "?"),
            ("centers_m", "<f8", (3,)),
            ("sizes_lwh_m", "<f8", (3,)),
            ("quaternions_wxyz", "<f8", (4,)),
        ]
    )


def load_objects(data: bytes, where: str = "shard") -> dict[str, np.ndarray]:
    """The columns of an ``.objects.npy`` member: ``class_names``, ``subclass_names`` (M,)
    str, ``boxes_2d_xyxy`` (M, 4) float64 (full-resolution pixels), ``unclear``,
    ``box_3d_valid`` (M,) bool, ``centers_m``, ``sizes_lwh_m`` (M, 3), ``quaternions_wxyz``
    (M, 4) float64 (lidar frame; zeros where ``box_3d_valid`` is False)."""
    table = npy_from_bytes(data, where, ".objects.npy member")
    if table.dtype.names is None or "centers_m" not in table.dtype.names:
        raise FormatError(where, f"objects member has fields {table.dtype.names}")
    return {name: np.ascontiguousarray(table[name]) for name in table.dtype.names}


def _image_member(frame: ZodFrame, config: ShardConfig) -> tuple[bytes, dict[str, Any]]:
    from zod.constants import Anonymization
    from zod.release import images_flag

    camera_frame = frame.info.get_key_camera_frame(Anonymization(config.anonymization))
    path = camera_frame.filepath
    if not os.path.isfile(path):
        raise MissingFileError(path, "camera image", images_flag(config.anonymization))
    meta: dict[str, Any] = {"mode": config.image_mode, "anonymization": config.anonymization}
    if config.image_mode == "original":
        with open(path, "rb") as f:
            data = f.read()
        meta.update(scale=1.0, width=int(camera_frame.width), height=int(camera_frame.height))
        return data, meta
    import simplejpeg

    from zod.sensors.camera import read_image

    if config.image_mode == "jpeg":
        image = read_image(path, scale=config.image_scale, stream=camera_frame.stream)
        meta["scale"] = config.image_scale
    else:
        from zod.geometry.pinhole import PinholeView, rectify

        view = PinholeView(**(config.pinhole or {}))
        image = rectify(read_image(path, stream=camera_frame.stream), frame.calibration, view)
        meta.update(scale=None, pinhole=asdict(view), intrinsics=view.intrinsics.tolist())
    meta.update(width=int(image.shape[1]), height=int(image.shape[0]))
    data = simplejpeg.encode_jpeg(
        np.ascontiguousarray(image), quality=config.jpeg_quality, colorspace="RGB"
    )
    return data, meta


def _lidar_members(
    frame: ZodFrame, config: ShardConfig, time_s: float
) -> tuple[dict[str, bytes], int]:
    """The lidar members of a sample ({extension: bytes}) and its point count."""
    before, after = config.lidar_scans
    if before == 0 and after == 0:
        lidar = frame.get_lidar_frames(0, 0)[0].read(
            remove_ego_lidar_returns=config.remove_ego_lidar_returns
        )
        points, times, intensity = lidar.points, lidar.timestamps, lidar.intensity
    elif config.lidar_compensate:
        lidar = frame.get_aggregated_lidar(
            num_before=before,
            num_after=after,
            remove_ego_lidar_returns=config.remove_ego_lidar_returns,
        )
        points, times, intensity = lidar.points, lidar.timestamps, lidar.intensity
    else:
        from zod.stream import read_scans

        batch = read_scans(
            frame.get_lidar_frames(before, after),
            num_threads=1,
            remove_ego_lidar_returns=config.remove_ego_lidar_returns,
        )
        points, times, intensity = batch.points, batch.time_s, batch.intensity
    points = np.asarray(points, dtype=np.float32)
    relative = (np.asarray(times) - time_s).astype(np.float32)
    intensity = np.ascontiguousarray(intensity, dtype=np.uint8)
    if config.lidar_codec == "npy":
        arrays = {
            "points": np.ascontiguousarray(points),
            "time_s": relative,
            "intensity": intensity,
        }
        return {f"lidar_{name}.npy": _npy_bytes(array) for name, array in arrays.items()}, len(
            points
        )
    data = encode_lidar(points, relative, intensity, config.lidar_level)
    return {"lidar.bsz": data}, len(points)


def encode_sample(frame: ZodFrame, config: ShardConfig, split: str | None) -> dict[str, bytes]:
    """The tar members of one frame: {extension: bytes} (``json`` first).

    Raises ``MissingFileError`` / ``FormatError`` from the readers for missing or bad files.
    """
    from zod.constants import AnnotationProject
    from zod.geometry import masks

    info = frame.info
    time_s = info.keyframe_time.timestamp()
    mods = set(config.modalities)
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "frame_id": info.id,
        "time_s": time_s,
        "split": split,
        "calibration": frame.calibration.to_dict(),
        "modalities": list(config.modalities),
        "members": [],
    }
    members: dict[str, bytes] = {}
    if "image" in mods:
        members["jpg"], meta["image"] = _image_member(frame, config)
    if "lidar" in mods:
        lidar_members, num_points = _lidar_members(frame, config, time_s)
        members.update(lidar_members)
        meta["lidar"] = {
            "codec": config.lidar_codec,
            "num_points": num_points,
            "scans": list(config.lidar_scans),
            "compensated": config.lidar_compensate,
            "frame": "lidar",
        }
    projects = set((info.annotations or {}).keys())
    if "objects" in mods and AnnotationProject.OBJECT_DETECTION in projects:
        members["objects.npy"] = _objects_member(
            frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        )
    polygons: dict[str, np.ndarray] = {}
    for modality, project in (
        ("ego_road", AnnotationProject.EGO_ROAD),
        ("lanes", AnnotationProject.LANE_MARKINGS),
    ):
        if modality in mods and project in projects:
            rings = [
                rings
                for annotation in frame.get_annotation(project)
                for rings in masks.geometry_to_polygons(annotation)
            ]
            polygons.update({f"{modality}_{name}": a for name, a in _flat_polygons(rings).items()})
            meta.setdefault("masks", []).append(modality)
    if polygons:
        members["masks.npz"] = _npz_bytes(polygons)
    meta["members"] = list(members)
    return {"json": json.dumps(meta, separators=(",", ":")).encode(), **members}


def decode_record(
    members: dict[str, bytes], image_scale: float | None = 1.0, where: str = "shard"
) -> dict[str, Any]:
    """A sample's members -> the record of numpy arrays (the layout of ``zod.ray`` too).

    Keys: ``frame_id``, ``time_s``, ``meta`` (the json), ``image`` (H, W, 3) uint8 decoded at
    ``image_scale`` of the stored JPEG (None: not decoded; ``image_jpeg`` holds the bytes);
    ``lidar_points`` (N, 3) float32, ``lidar_time_s`` (N,) float32 (relative to ``time_s``),
    ``lidar_intensity`` (N,) uint8; objects: ``class_names``, ``subclass_names`` (M,) str,
    ``boxes_2d_xyxy`` (M, 4) float64 full-resolution pixels, ``unclear``, ``box_3d_valid``
    (M,) bool, ``centers_m``, ``sizes_lwh_m`` (M, 3), ``quaternions_wxyz`` (M, 4) float64 in
    the lidar frame; masks: ``<ego_road|lanes>_vertices`` / ``_ring_offsets`` /
    ``_polygon_offsets`` (see :func:`mask_polygons`).
    """
    if "json" not in members:
        raise FormatError(where, "sample has no .json member")
    meta = json.loads(members["json"])
    record: dict[str, Any] = {
        "frame_id": meta["frame_id"],
        "time_s": float(meta["time_s"]),
        "meta": meta,
    }
    if "jpg" in members:
        record["image_jpeg"] = members["jpg"]
        if image_scale is not None:
            from zod.sensors.camera import decode_image

            record["image"] = decode_image(members["jpg"], image_scale, where=where)
    if meta.get("lidar") is not None:
        arrays = decode_lidar_member(members, meta, where)
        record.update({f"lidar_{name}": value for name, value in arrays.items()})
    if "objects.npy" in members:
        record.update(load_objects(members["objects.npy"], where))
    if "masks.npz" in members:
        record.update(_load_npz(members["masks.npz"], where))
    return record


# --------------------------------------------------------------------------------------------
# tar I/O
# --------------------------------------------------------------------------------------------


def _split_name(name: str) -> tuple[str, str]:
    """WebDataset rule: the key is the name up to the first dot of its base name."""
    directory, _, base = name.rpartition("/")
    key, _, ext = base.partition(".")
    return (f"{directory}/{key}" if directory else key), ext


_TAR_BLOCK = 512
_TAR_FILE_TYPES = (b"0", b"\0", b"7")  # regular (and contiguous) files
_TAR_MAX_MEMBER = 1 << 31  # 2 GiB: a sample member is an image, a scan, a table (MBs)


def _tar_number(field: bytes, where: str) -> int:
    """A tar header number: octal ASCII, or GNU base-256 (high bit of the first byte set)."""
    if field and field[0] & 0x80:
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise FormatError(where, f"not a readable tar shard: bad number field {field!r}") from None


def _pax_size(value: str, where: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = -1
    if size < 0:
        raise FormatError(where, f"not a readable tar shard: bad pax size {value!r}")
    return size


def _pax_records(data: bytes, where: str) -> dict[str, str]:
    """The ``length key=value\\n`` records of a pax extended header."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        try:
            length = int(data[position:space]) if space > position else 0
        except ValueError:
            length = 0
        # "<length> <key>=<value>\n" with the length counting itself: anything shorter
        # than its own digits and space (0 among them) would not advance
        if space < 0 or length <= space - position or position + length > len(data):
            raise FormatError(where, "not a readable tar shard: bad pax header")
        key, _, value = data[space + 1 : position + length - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        position += length
    return records


def _tar_members(fileobj: IO[bytes], where: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each regular file of a tar stream, read front to back with one
    ``read`` per header and per member (``tarfile``'s stream mode reads in small blocks and
    costs more than a sample's JSON decode). ustar, pax (``path``, ``size``) and GNU long
    names are understood; other members are skipped; the checksum of every header is
    verified; a stream that ends inside a member or without the end blocks is truncated."""

    def read(size: int) -> bytes:  # a network stream may return fewer bytes than asked for
        data = fileobj.read(size)
        if len(data) == size or not data:
            return data
        parts = [data]
        while size > (got := sum(map(len, parts))):
            more = fileobj.read(size - got)
            if not more:
                break
            parts.append(more)
        return b"".join(parts)

    pax: dict[str, str] = {}
    long_name: str | None = None
    while True:
        header = read(_TAR_BLOCK)
        if len(header) < _TAR_BLOCK:
            raise FormatError(where, "not a readable tar shard: truncated (no end-of-archive)")
        if header.count(0) == _TAR_BLOCK:
            return  # the end-of-archive blocks
        checksum = _tar_number(header[148:156], where)
        if checksum != sum(header) - sum(header[148:156]) + 8 * 32:
            raise FormatError(where, "not a readable tar shard: header checksum mismatch")
        size = _tar_number(header[124:136], where)
        kind = header[156:157]
        if kind not in (b"x", b"L") and "size" in pax:
            size = _pax_size(pax["size"], where)
        if size > _TAR_MAX_MEMBER:  # a corrupt size must not make us allocate it
            raise FormatError(where, f"not a readable tar shard: a member of {size} bytes")
        data = read(size)
        padding = -size % _TAR_BLOCK
        if len(data) < size or len(read(padding)) < padding:
            raise FormatError(where, "not a readable tar shard: truncated inside a member")
        if kind == b"x":
            pax.update(_pax_records(data, where))
            continue
        if kind == b"L":
            long_name = data.split(b"\0", 1)[0].decode("utf-8", "replace")
            continue
        name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        if header[257:262] == b"ustar":
            prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8", "replace")
            name = f"{prefix}/{name}" if prefix else name
        name = pax.get("path") or long_name or name
        pax, long_name = {}, None
        if kind in _TAR_FILE_TYPES:
            yield name, data  # links, directories, devices and the like are skipped


def iter_tar_samples(
    fileobj: IO[bytes], where: str = "shard"
) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) of each sample of a tar stream, in order (streaming: the
    file object may be a network stream, read once front to back)."""
    key: str | None = None
    members: dict[str, bytes] = {}
    for name, data in _tar_members(fileobj, where):
        name_key, ext = _split_name(name)
        if key is not None and name_key != key:
            yield key, members
            members = {}
        key = name_key
        members[ext] = data
    if key is not None:
        yield key, members


def _write_tar(path: Path, samples: Sequence[tuple[str, dict[str, bytes]]]) -> None:
    with (
        open(path, "wb") as f,
        tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for key, members in samples:
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0  # reproducible shards: same input, same bytes
                tar.addfile(info, io.BytesIO(data))


def _sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_shards(
    sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> list[str]:
    """The shard files of ``sources``: ``.tar`` paths / URLs as given, a shard directory or its
    ``manifest.json`` as the shards the manifest lists (in its order)."""
    items = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    shards: list[str] = []
    for item in items:
        source = os.fspath(item)
        if source.endswith(".tar"):
            shards.append(source)
            continue
        manifest_path = join_path(source, MANIFEST) if is_dir(source) else source
        base = (
            manifest_path.rsplit("/", 1)[0]
            if is_url(manifest_path)
            else os.path.dirname(manifest_path)
        )
        with open_binary(manifest_path) as f:
            try:
                manifest = json.loads(f.read())
            except ValueError as err:
                raise FormatError(manifest_path, f"not a JSON shard manifest: {err}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
            raise FormatError(manifest_path, "not a shard manifest (no 'shards' list)")
        if not manifest.get("complete", False):
            raise FormatError(manifest_path, "the shard run did not finish: rerun it to resume")
        shards.extend(join_path(base, shard["name"]) for shard in manifest["shards"])
    return shards


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardTask(_frames.FrameTask):
    """Writes one shard: ``task(shard_name)`` (picklable; the plan travels with it)."""

    config: ShardConfig = field(default_factory=ShardConfig)
    plan: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    skip_missing: bool = False

    def __call__(self, name: str) -> dict[str, Any]:
        from zod.converters.runner import atomic_write, atomic_write_json

        zod_frames = _frames.frames(self.dataset_root, self.version)
        samples: list[tuple[str, dict[str, bytes]]] = []
        missing: dict[str, str] = {}
        for frame_id, split in self.plan[name]:
            try:
                samples.append((frame_id, encode_sample(zod_frames[frame_id], self.config, split)))
            except MissingFileError as err:
                if not self.skip_missing:
                    raise
                missing[frame_id] = str(err)
        path = Path(self.output_dir) / name
        atomic_write(path, lambda tmp: _write_tar(tmp, samples))
        entry = {
            "name": name,
            "num_samples": len(samples),
            "num_bytes": path.stat().st_size,
            "sha256": _sha256(path),
            "frame_ids": [key for key, _ in samples],
            "missing": missing,
        }
        atomic_write_json(f"{path}.json", entry)
        return entry


def shard_plan(
    frame_ids: Sequence[str], samples_per_shard: int, seed: int | None
) -> list[list[str]]:
    """Frame ids permuted by ``seed`` (numpy PCG64; None keeps their order) and cut into
    consecutive shards of ``samples_per_shard`` (the last may be shorter)."""
    ids = list(frame_ids)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(ids))
        ids = [ids[i] for i in order]
    return [ids[i : i + samples_per_shard] for i in range(0, len(ids), samples_per_shard)]


def _estimate_samples_per_shard(
    root: str, version: str, frame_ids: Sequence[str], config: ShardConfig, target_bytes: float
) -> int:
    """Samples per shard for ``target_bytes``, from the mean size of the first few samples."""
    zod_frames = _frames.frames(root, version)
    sizes: list[int] = []
    for frame_id in frame_ids:
        try:
            members = encode_sample(zod_frames[frame_id], config, None)
        except MissingFileError:
            continue
        sizes.append(sum(512 + math.ceil(len(m) / 512) * 512 for m in members.values()))
        if len(sizes) == 8:
            break
    if not sizes:
        return 1
    return max(1, int(target_bytes // (sum(sizes) / len(sizes))))


def _complete(
    out: Path, name: str, frame_ids: Sequence[str], verify: bool
) -> dict[str, Any] | None:
    """The sidecar entry of a shard already written for this plan (None: redo it)."""
    path, sidecar = out / name, out / f"{name}.json"
    if not path.is_file() or not sidecar.is_file():
        return None
    try:
        entry = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    planned = set(frame_ids)
    written = set(entry.get("frame_ids", [])) | set(entry.get("missing", {}))
    if written != planned or entry.get("num_bytes") != path.stat().st_size:
        return None
    if verify and entry.get("sha256") != _sha256(path):
        return None
    return dict(entry)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a shard directory (or the manifest file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    if not path.is_file():
        raise MissingFileError(path, "shard manifest")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as err:
        raise FormatError(path, f"not JSON: {err}") from None
    if not isinstance(manifest, dict) or "shards" not in manifest:
        raise FormatError(path, "not a shard manifest (no 'shards')")
    return manifest


def convert_to_shards(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    split: str | None = "train",
    config: ShardConfig | None = None,
    shard_size_mb: float = 1024.0,
    samples_per_shard: int | None = None,
    seed: int | None = 0,
    prefix: str = "shard",
    frame_ids: Sequence[str | int] | None = None,
    verify: bool = False,
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> dict[str, Any]:
    """Write the frames of ``split`` (None: train and val) as tar shards; returns the manifest.

    ``samples_per_shard`` overrides the estimate from ``shard_size_mb``. A rerun with the same
    arguments keeps complete shards (``verify``: also re-hash them); different arguments over an
    existing manifest raise ValueError unless ``options.overwrite``.
    """
    run = run_options(options, **run_kwargs)
    config = config or ShardConfig()
    root = str(Path(dataset_root).resolve())
    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if frame_ids is not None:
        wanted = {str(i).zfill(6) for i in frame_ids}
    splits = ("train", "val") if split is None else (split,)
    split_of: dict[str, str] = {}
    for name in splits:
        for frame_id in _frames.split_ids(root, version, name):
            if frame_ids is None or frame_id in wanted:
                split_of[frame_id] = name
    ids = list(split_of)
    settings = {
        "version": version,
        "split": split,
        "seed": seed,
        "config": config.to_dict(),
        "frame_ids": ids,
    }
    previous = out / MANIFEST
    plan: list[list[str]] | None = None
    if previous.is_file() and not run.overwrite:
        manifest = read_manifest(previous)
        if manifest.get("settings") != settings or (
            samples_per_shard is not None and manifest.get("samples_per_shard") != samples_per_shard
        ):
            raise ValueError(
                f"{previous} was written with other settings: pass overwrite to redo the shards"
            )
        samples_per_shard = int(manifest["samples_per_shard"])
        plan = [[entry[0] for entry in shard["plan"]] for shard in manifest["shards"]]
    if samples_per_shard is None:
        first = shard_plan(ids, len(ids) or 1, seed)[0] if ids else []
        samples_per_shard = _estimate_samples_per_shard(
            root, version, first, config, shard_size_mb * 1e6
        )
    if plan is None:
        plan = shard_plan(ids, samples_per_shard, seed)
    names = [f"{prefix}-{i:06d}.tar" for i in range(len(plan))]
    shards_plan: dict[str, list[tuple[str, str | None]]] = {
        name: [(frame_id, split_of[frame_id]) for frame_id in shard]
        for name, shard in zip(names, plan)
    }
    manifest = {
        "format": FORMAT_VERSION,
        "settings": settings,
        "samples_per_shard": samples_per_shard,
        "complete": False,
        "shards": [{"name": name, "plan": shards_plan[name]} for name in names],
    }
    atomic_write_text(previous, json.dumps(manifest, indent=1))

    done: dict[str, dict[str, Any]] = {}
    if not run.overwrite:
        for name, shard in zip(names, plan):
            entry = _complete(out, name, shard, verify)
            if entry is not None:
                done[name] = entry
    todo = [name for name in names if name not in done]
    task = ShardTask(root, version, str(out), config, shards_plan, run.skip_missing)
    result = run_frames(task, todo, run, desc="Shards")
    done.update(dict(result.ok()))
    entries = []
    for name in names:
        entry = dict(done[name])
        entry["plan"] = shards_plan[name]
        entries.append(entry)
    manifest.update(
        complete=True,
        num_samples=sum(e["num_samples"] for e in entries),
        num_bytes=sum(e["num_bytes"] for e in entries),
        missing={fid: msg for e in entries for fid, msg in e.get("missing", {}).items()},
        shards=entries,
    )
    atomic_write_text(previous, json.dumps(manifest, indent=1))
    return manifest
