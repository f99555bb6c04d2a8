"""PyTorch datasets over ZOD: frames (map-style), clips of sequences/drives, and a sharded stream.

Every dataset is pickle-safe: the constructor keeps only ids, paths and options; the ZOD index
is opened lazily in each process (DataLoader workers, DDP ranks) on first use. Items that
lack a requested modality or annotation are dropped at construction and listed in
``dataset.excluded`` ({id: reason}); a one-line summary is logged, workers never crash on them.

Images are decoded at a reduced JPEG scale; intrinsics, 2D boxes and masks are scaled with the
pixel convention of :mod:`zod.torch.tensors` (which holds the array-to-tensor conversions).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from zod._io import path_exists
from zod.constants import EGO, AnnotationProject, Anonymization, Camera, Lidar
from zod.geometry.transforms import transform_points
from zod.sensors.camera import read_image
from zod.torch import batch_memory
from zod.torch.collate import flat_concat, stack

# helpers that were defined here before zod.torch.tensors existed: importable from here still
from zod.torch.tensors import (
    VALID_SCALES,
    BoxFrame,
    ClassLevel,
    PointFrame,
    check_scale,
    hwc_to_chw,
    image_to_tensor,
    object_tensors,
    rows_from_columns,
    scale_intrinsics,
    scale_pixels,
    scaled_mask,
    view_calibration_tensors,
    view_mask,
    view_object_tensors,
)
from zod.views import scaled_view

if TYPE_CHECKING:
    from zod.calibration import Calibration
    from zod.dataset import ZodDrives, ZodFrames, ZodSequences
    from zod.frame import ZodFrame, ZodSequence
    from zod.geometry.pinhole import PinholeView
    from zod.stream import StreamStep

__all__ = [
    "FRAME_MODALITIES",
    "SEQUENCE_PARTS",
    "VALID_SCALES",
    "BoxFrame",
    "ClassLevel",
    "PointFrame",
    "ZodFramesDataset",
    "ZodSequencesDataset",
    "ZodStreamDataset",
    "check_scale",
    "clip_sample",
    "hwc_to_chw",
    "image_to_tensor",
    "object_tensors",
    "rows_from_columns",
    "scale_intrinsics",
    "scale_pixels",
    "scaled_mask",
    "shard_info",
]

logger = logging.getLogger(__name__)

FRAME_MODALITIES = ("image", "lidar", "objects", "boxes_3d", "ego_road", "lanes", "calibration")


_THREAD_LOCAL = threading.local()


def _decode_buffer(num_bytes: int) -> np.ndarray:
    """This thread's reusable JPEG decode buffer, (>= num_bytes,) uint8 (grown when needed)."""
    buffer = getattr(_THREAD_LOCAL, "decode_buffer", None)
    if buffer is None or buffer.nbytes < num_bytes:
        buffer = _THREAD_LOCAL.decode_buffer = np.empty(num_bytes, dtype=np.uint8)
    return buffer


def _exists(path: str | None) -> bool:
    return bool(path and path_exists(path))


def _summarize(kind: str, total: int, excluded: dict[str, str]) -> None:
    if excluded:
        reasons = Counter(excluded.values())
        detail = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common())
        logger.warning("%s: %d of %d items excluded (%s)", kind, len(excluded), total, detail)


# --------------------------------------------------------------------------------------------
# ZodFramesDataset
# --------------------------------------------------------------------------------------------


class ZodFramesDataset(Dataset):
    """Map-style dataset of ZOD Frames; each sample is a dict of tensors and metadata.

    Args:
        root: dataset root. version: ``"full"`` or ``"mini"``. split: ``"train"``, ``"val"`` or
            None (both).
        modalities: any of ``"image"``, ``"lidar"``, ``"objects"`` (2D boxes + class ids),
            ``"boxes_3d"`` (3D boxes, implies objects), ``"ego_road"``, ``"lanes"`` (masks at
            the image scale), ``"calibration"``.
        anonymization: ``Anonymization.BLUR`` or ``DNAT`` (or their names).
        image_scale: 1, 1/2, 1/4, 1/8; the JPEG is decoded at that size, intrinsics, 2D boxes
            and masks are scaled to match.
        image_dtype: ``torch.uint8`` (0..255) or a float dtype (0..1); ``normalize`` applies
            the Frames mean/std (float only).
        lidar_scans: (before, after) scans around the core scan; more than one scan is
            aggregated, motion-compensated to the core scan time when ``lidar_compensate``.
        lidar_frame: ``"lidar"`` or ``"ego"`` for the points; boxes_frame: ``"lidar"``,
            ``"ego"`` or ``"camera"`` for the 3D boxes.
        classes: object class names to keep, in id order (others are dropped); None = all of
            the level's classes. class_level: ``"class"`` (superclass) or ``"subclass"``.
        transforms: callable applied to each sample dict (after conversion to tensors).
        frame_ids: restrict to these ids (still filtered).
        check_files: check at construction that the needed files are on disk.
        storage_options: fsspec storage options for a URL ``root`` (``s3://...``), as for
            ``ZodFrames``; kept so that each worker process reopens the store with them.
        view: a :class:`~zod.geometry.pinhole.PinholeView` (e.g. ``FRONT_VIEW``): images and
            masks rectified into it at the image scale (``view.scaled(image_scale)``), with its
            exact K as ``intrinsics`` (``distortion`` zeros), ``ego_from_camera`` the view's
            pose (``camera_from_view`` (3, 3) added), ``boxes_2d`` the annotated boxes mapped
            into it with ``in_view`` (M,) bool, camera-frame ``boxes_3d`` in the view's frame.
            None (default): the raw fisheye.

    Sample keys (present according to the modalities): ``frame_id`` str, ``time_s`` float
    (keyframe, epoch s), ``image`` (3, H, W), ``intrinsics`` (3, 3) float32 (scaled),
    ``distortion`` (4,), ``image_size`` (2,) int64 (W, H), ``ego_from_camera``,
    ``ego_from_lidar`` (4, 4) float32, ``lidar_points`` (N, 3) float32, ``lidar_time_s`` (N,)
    float32 seconds relative to ``time_s``, ``lidar_intensity`` (N,) uint8, ``boxes_2d`` (M, 4)
    float32 xyxy (scaled pixels), ``class_ids`` (M,) int64, ``unclear`` (M,) bool,
    ``boxes_3d`` (M, 10) float32 ``[x, y, z, L, W, H, qw, qx, qy, qz]`` with ``box_3d_valid``
    (M,) bool (objects without a 3D box have zeros), ``ego_road_mask`` (H, W) bool,
    ``lane_mask`` (H, W) bool.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        version: str = "full",
        split: str | None = "train",
        modalities: Sequence[str] = ("image", "lidar", "objects", "boxes_3d"),
        anonymization: Anonymization | str = Anonymization.BLUR,
        image_scale: float = 1.0,
        image_dtype: torch.dtype = torch.uint8,
        normalize: bool = False,
        lidar_scans: tuple[int, int] = (0, 0),
        lidar_compensate: bool = True,
        lidar_frame: PointFrame = "lidar",
        boxes_frame: BoxFrame = "lidar",
        classes: Sequence[str] | None = None,
        class_level: ClassLevel = "class",
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        frame_ids: Sequence[str | int] | None = None,
        check_files: bool = True,
        remove_ego_lidar_returns: bool = True,
        view: PinholeView | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = os.fspath(root)
        self.storage_options = None if storage_options is None else dict(storage_options)
        self.version = version
        self.split = split
        unknown = set(modalities) - set(FRAME_MODALITIES)
        if unknown:
            raise ValueError(
                f"unknown modalities {sorted(unknown)}; choose from {FRAME_MODALITIES}"
            )
        self.modalities = tuple(dict.fromkeys(modalities))
        self.anonymization = (
            anonymization
            if isinstance(anonymization, Anonymization)
            else Anonymization(anonymization)
        )
        self.image_scale = check_scale(image_scale)
        self.view = view
        self._view = None if view is None else scaled_view(view, self.image_scale)
        self.image_dtype = image_dtype
        self.normalize = normalize
        self.lidar_scans = (int(lidar_scans[0]), int(lidar_scans[1]))
        self.lidar_compensate = lidar_compensate
        if lidar_frame not in ("lidar", "ego"):
            raise ValueError(f"lidar_frame must be 'lidar' or 'ego', not {lidar_frame!r}")
        if boxes_frame not in ("lidar", "ego", "camera"):
            raise ValueError(f"boxes_frame must be 'lidar', 'ego' or 'camera', not {boxes_frame!r}")
        self.lidar_frame = lidar_frame
        self.boxes_frame = boxes_frame
        self.class_level = class_level
        self.classes = tuple(classes) if classes is not None else self.default_classes(class_level)
        self._class_to_id = {name: i for i, name in enumerate(self.classes)}
        self.transforms = transforms
        self.remove_ego_lidar_returns = remove_ego_lidar_returns
        self._zod: ZodFrames | None = None

        zod_frames = self._frames()
        if frame_ids is not None:
            candidates = [str(i).zfill(6) for i in frame_ids]
        elif split is None:
            candidates = sorted(zod_frames.get_all_ids())
        else:
            candidates = sorted(zod_frames.get_split(split))
        reasons = self._check_frames(zod_frames, candidates, check_files)
        self.frame_ids: list[str] = [fid for fid, why in zip(candidates, reasons) if why is None]
        """Frames of the dataset, in index order of ``__getitem__``."""
        self.excluded: dict[str, str] = {
            fid: why for fid, why in zip(candidates, reasons) if why is not None
        }
        """Frames left out at construction: {frame_id: reason}."""
        _summarize(f"ZodFramesDataset({version}, {split})", len(candidates), self.excluded)

    # ---------------------------------------------------------------- pickling / lazy open
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_zod"] = None  # re-opened lazily in each worker
        return state

    def _frames(self) -> ZodFrames:
        if self._zod is None:
            from zod.dataset import ZodFrames

            self._zod = ZodFrames(self.root, self.version, storage_options=self.storage_options)
        return self._zod

    @staticmethod
    def default_classes(class_level: ClassLevel) -> tuple[str, ...]:
        from zod.annotations import classes

        if class_level == "class":
            return tuple(classes.OBJECT_CLASSES)
        if class_level == "subclass":
            return tuple(classes.OBJECT_SUBCLASSES)
        raise ValueError(f"class_level must be 'class' or 'subclass', not {class_level!r}")

    # ---------------------------------------------------------------- filtering
    def _required_projects(self) -> list[AnnotationProject]:
        mods = set(self.modalities)
        projects = []
        if mods & {"objects", "boxes_3d"}:
            projects.append(AnnotationProject.OBJECT_DETECTION)
        if "ego_road" in mods:
            projects.append(AnnotationProject.EGO_ROAD)
        if "lanes" in mods:
            projects.append(AnnotationProject.LANE_MARKINGS)
        return projects

    def _needed(self, frame: ZodFrame) -> tuple[str | None, list[tuple[str, str]]]:
        """(reason if the frame's info already rules it out, [(path, what)] files to check)."""
        info = frame.info
        files: list[tuple[str, str]] = []
        mods = set(self.modalities)
        if "image" in mods:
            key = f"{Camera.FRONT.value}_{self.anonymization.value}"
            if not (info.camera_frames or {}).get(key):
                return f"no {key} image in the index", files
            files.append((info.get_key_camera_frame(self.anonymization).filepath, f"{key} image"))
        if "lidar" in mods:
            if not (info.lidar_frames or {}).get(Lidar.VELODYNE):
                return "no lidar scans in the index", files
            before, after = self.lidar_scans
            files.extend(
                (scan.filepath, "lidar scan") for scan in frame.get_lidar_frames(before, after)
            )
            if self.lidar_compensate and sum(self.lidar_scans) > 0:
                files.append((info.ego_motion_path, "ego motion"))
        for project in self._required_projects():
            annotation = (info.annotations or {}).get(project)
            if annotation is None:
                return f"not annotated for {project.value}", files
            files.append((annotation.filepath, f"{project.value} annotation"))
        if mods & {"calibration", "image", "boxes_3d", "lidar"}:
            files.append((info.calibration_path, "calibration"))
        return None, files

    def _check_frames(
        self, zod_frames: ZodFrames, frame_ids: Sequence[str], check_files: bool
    ) -> list[str | None]:
        """Reason each frame cannot serve the requested modalities (None: usable).

        Annotation projects come from the index's per-item project sets (no info parsed);
        with ``check_files`` the remaining infos are parsed and their files stat-ed on a thread
        pool (tqdm progress on large sets)."""
        index = zod_frames.index
        projects = self._required_projects()
        reasons: dict[str, str | None] = {}
        for frame_id in frame_ids:
            if frame_id not in index:
                reasons[frame_id] = "not in the index"
                continue
            have = set(index.projects(frame_id))
            missing = next((p for p in projects if p not in have), None)
            reasons[frame_id] = None if missing is None else f"not annotated for {missing.value}"
        if not check_files:
            return [reasons[fid] for fid in frame_ids]

        def check(frame_id: str) -> str | None:
            reason, files = self._needed(zod_frames[frame_id])
            if reason is not None:
                return reason
            return next((f"missing {what}" for path, what in files if not _exists(path)), None)

        todo = [fid for fid in frame_ids if reasons[fid] is None]
        if len(todo) < 64:
            reasons.update(zip(todo, map(check, todo)))
        else:
            from tqdm import tqdm

            with ThreadPoolExecutor(8) as pool:  # stat calls on network disks overlap well
                results = pool.map(check, todo, chunksize=64)
                progress = tqdm(
                    results, total=len(todo), desc="checking frames", disable=len(todo) < 2000
                )
                reasons.update(zip(todo, progress))
        return [reasons[fid] for fid in frame_ids]

    # ---------------------------------------------------------------- items
    def __len__(self) -> int:
        return len(self.frame_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        frame = self._frames()[self.frame_ids[index]]
        sample = self.load_frame(frame)
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """The samples of a batch (what ``DataLoader`` asks for), as ``__getitem__`` each, but with
        the images of the batch decoded into one (B, 3, H, W) block: the samples' images are its
        rows, so ``collate`` stacks them without a copy."""
        zod_frames = self._frames()
        frames = [zod_frames[self.frame_ids[index]] for index in indices]
        images = self._image_block(frames)
        samples = []
        for row, frame in enumerate(frames):
            sample = self.load_frame(frame, image_out=None if images is None else images[row])
            samples.append(self.transforms(sample) if self.transforms is not None else sample)
        return samples

    def _image_block(self, frames: Sequence[ZodFrame]) -> torch.Tensor | None:
        """An empty (B, 3, H, W) tensor for the images of ``frames`` (None when their sizes
        differ)."""
        if "image" not in self.modalities:
            return None
        sizes = set()
        for frame in frames:
            camera_frame = frame.info.get_key_camera_frame(self.anonymization)
            sizes.add(
                (
                    math.ceil(camera_frame.height * self.image_scale),
                    math.ceil(camera_frame.width * self.image_scale),
                )
            )
        if len(sizes) != 1:
            return None
        height, width = sizes.pop()
        if self._view is not None:
            height, width = self._view.height_px, self._view.width_px
        return batch_memory.reusable_empty((len(frames), 3, height, width), self.image_dtype)

    def load_frame(self, frame: ZodFrame, image_out: torch.Tensor | None = None) -> dict[str, Any]:
        """The sample dict of one ``ZodFrame`` (without ``transforms``); the image is written into
        ``image_out`` (3, H, W) when given."""
        info = frame.info
        mods = set(self.modalities)
        time_s = info.keyframe_time.timestamp()
        sample: dict[str, Any] = {"frame_id": info.id, "time_s": time_s}
        calibration = (
            frame.calibration if mods & {"calibration", "image", "boxes_3d", "lidar"} else None
        )
        scale = self.image_scale
        if calibration is not None:
            camera = calibration.cameras[Camera.FRONT]
            width, height = (int(v) for v in np.asarray(camera.image_dimensions)[:2])
            sample["intrinsics"] = torch.from_numpy(
                scale_intrinsics(np.asarray(camera.intrinsics)[:3, :3], scale).astype(np.float32)
            )
            sample["distortion"] = torch.from_numpy(np.asarray(camera.distortion, dtype=np.float32))
            sample["image_size"] = torch.tensor(
                [math.ceil(width * scale), math.ceil(height * scale)], dtype=torch.int64
            )
            sample["ego_from_camera"] = torch.from_numpy(
                calibration.get_extrinsics(Camera.FRONT).transform.astype(np.float32)
            )
            sample["ego_from_lidar"] = torch.from_numpy(
                calibration.get_extrinsics(Lidar.VELODYNE).transform.astype(np.float32)
            )
            if self._view is not None:
                sample.update(view_calibration_tensors(calibration, self._view))
        if "image" in mods:
            camera_frame = info.get_key_camera_frame(self.anonymization)
            # decoded into a reused buffer: image_to_tensor copies it out anyway, and a fresh
            # 6 MB array per sample measured ~2 ms slower per half-size image (decode + copy)
            num_bytes = (
                math.ceil(camera_frame.height * scale) * math.ceil(camera_frame.width * scale) * 3
            )
            image = read_image(
                camera_frame.filepath,
                scale=scale,
                stream=camera_frame.stream,
                buffer=_decode_buffer(num_bytes),
                expected_size=(camera_frame.width, camera_frame.height),
            )
            if self._view is not None:
                image = self._rectify(frame.calibration, image)
            if image_out is not None and tuple(image_out.shape[1:]) != image.shape[:2]:
                image_out = None  # the file disagrees with the index's size: as __getitem__ does
            sample["image"] = image_to_tensor(
                image, self.image_dtype, self.normalize, out=image_out
            )
        if "lidar" in mods:
            sample.update(self._load_lidar(frame, frame.calibration, time_s))
        if mods & {"objects", "boxes_3d"}:
            sample.update(self._load_objects(frame, calibration, with_3d="boxes_3d" in mods))
        if "ego_road" in mods or "lanes" in mods:
            sample.update(self._load_masks(frame, mods))
        return sample

    def _load_lidar(
        self, frame: ZodFrame, calibration: Calibration, time_s: float
    ) -> dict[str, torch.Tensor]:
        before, after = self.lidar_scans
        if before == 0 and after == 0:
            lidar = frame.get_lidar_frames(0, 0)[0].read(
                remove_ego_lidar_returns=self.remove_ego_lidar_returns
            )
            points, times, intensity = lidar.points, lidar.timestamps, lidar.intensity
        elif self.lidar_compensate:  # scans moved to the core scan time (reference semantics)
            lidar = frame.get_aggregated_lidar(
                num_before=before,
                num_after=after,
                remove_ego_lidar_returns=self.remove_ego_lidar_returns,
            )
            points, times, intensity = lidar.points, lidar.timestamps, lidar.intensity
        else:  # raw scans, concatenated in time order
            from zod.stream import read_scans

            batch = read_scans(
                frame.get_lidar_frames(before, after),
                num_threads=2,
                remove_ego_lidar_returns=self.remove_ego_lidar_returns,
            )
            points, times, intensity = batch.points, batch.time_s, batch.intensity
        if self.lidar_frame == "ego":
            points = calibration.transform_points(points, Lidar.VELODYNE, EGO)
        return {
            "lidar_points": torch.from_numpy(rows_from_columns(points)),
            "lidar_time_s": torch.from_numpy((np.asarray(times) - time_s).astype(np.float32)),
            "lidar_intensity": torch.from_numpy(np.ascontiguousarray(intensity, dtype=np.uint8)),
        }

    def _rectify(self, calibration: Calibration, image: np.ndarray) -> np.ndarray:
        """A decoded image (at the dataset's scale) rectified into the scaled view."""
        from zod.geometry.pinhole import rectify

        assert self._view is not None
        return rectify(image, calibration, self._view, scale=self.image_scale)

    def _load_objects(
        self, frame: ZodFrame, calibration: Calibration | None, with_3d: bool
    ) -> dict[str, torch.Tensor]:
        objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        if self._view is not None:
            return view_object_tensors(
                objects,
                frame.calibration,
                self._class_to_id,
                self.class_level,
                self._view,
                self.boxes_frame if with_3d else None,
            )
        return object_tensors(
            objects,
            calibration,
            self._class_to_id,
            self.class_level,
            self.image_scale,
            self.boxes_frame if with_3d else None,
        )

    def _load_masks(self, frame: ZodFrame, mods: set[str]) -> dict[str, torch.Tensor]:
        camera = frame.calibration.cameras[Camera.FRONT]
        width, height = (int(v) for v in np.asarray(camera.image_dimensions)[:2])
        out: dict[str, Any] = {}
        if "ego_road" in mods:
            annotations = frame.get_annotation(AnnotationProject.EGO_ROAD)
            out["ego_road_mask"] = torch.from_numpy(
                self._mask(frame, scaled_mask(annotations, (height, width), self.image_scale))
            )
        if "lanes" in mods:
            annotations = frame.get_annotation(AnnotationProject.LANE_MARKINGS)
            out["lane_mask"] = torch.from_numpy(
                self._mask(frame, scaled_mask(annotations, (height, width), self.image_scale))
            )
        return out

    def _mask(self, frame: ZodFrame, mask: np.ndarray) -> np.ndarray:
        """A fisheye-image mask, rectified into the view when there is one."""
        if self._view is None:
            return mask
        return view_mask(mask, frame.calibration, self._view)


# --------------------------------------------------------------------------------------------
# sequences and drives: clips (map-style) and a sharded stream (iterable)
# --------------------------------------------------------------------------------------------

SEQUENCE_PARTS = ("image", "lidar", "pose", "vehicle", "radar")


def _open_subset(
    root: str, version: str, subset: str, storage_options: Mapping[str, Any] | None = None
) -> ZodSequences | ZodDrives:
    from zod.dataset import ZodDrives, ZodSequences

    if subset == "sequences":
        return ZodSequences(root, version, storage_options=storage_options)
    if subset == "drives":
        return ZodDrives(root, version, storage_options=storage_options)
    raise ValueError(f"subset must be 'sequences' or 'drives', not {subset!r}")


def _item_ids(zod_subset: ZodSequences | ZodDrives, split: str | None) -> list[str]:
    return sorted(zod_subset.get_all_ids() if split is None else zod_subset.get_split(split))


class _LazySubset:
    """Opens its sub-dataset on first use in each process and never pickles it (workers)."""

    root: str
    version: str
    subset: str
    storage_options: dict[str, Any] | None = None  # fsspec options of a URL root
    _zod: ZodSequences | ZodDrives | None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_zod"] = None
        return state

    def _subset(self) -> ZodSequences | ZodDrives:
        if self._zod is None:
            self._zod = _open_subset(self.root, self.version, self.subset, self.storage_options)
        return self._zod


class _StepConverter:
    """Turns ``zod.stream.StreamStep`` s into tensors (shared by the clip and stream datasets)."""

    image_dtype: torch.dtype
    normalize: bool
    lidar_frame: PointFrame
    parts: tuple[str, ...]

    def _step_tensors(
        self, step: StreamStep, ego_from_lidar: np.ndarray | None, time_origin_s: float
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if step.image is not None:
            out["image"] = image_to_tensor(step.image, self.image_dtype, self.normalize)
        if step.lidar is not None:
            points = np.asarray(step.lidar.points)
            if self.lidar_frame == "ego" and ego_from_lidar is not None:
                points = transform_points(points, ego_from_lidar)
            out["lidar_points"] = torch.from_numpy(rows_from_columns(points))
            out["lidar_time_s"] = torch.from_numpy(
                (np.asarray(step.lidar.timestamps) - time_origin_s).astype(np.float32)
            )
            out["lidar_intensity"] = torch.from_numpy(
                np.ascontiguousarray(step.lidar.intensity, dtype=np.uint8)
            )
        if "radar" in self.parts:  # the nearest radar scan, radar frame (empty without a match)
            radar = step.radar
            if radar is None:
                points, rate, amplitude = np.zeros((0, 3)), np.zeros(0), np.zeros(0)
            else:
                points, rate, amplitude = (
                    radar.get_cartesian_coordinates(),
                    radar.range_rate,
                    radar.amplitude,
                )
            out["radar_points"] = torch.from_numpy(
                np.asarray(points, dtype=np.float32).reshape(-1, 3)
            )
            out["radar_range_rate"] = torch.from_numpy(np.asarray(rate, dtype=np.float32))
            out["radar_amplitude"] = torch.from_numpy(np.asarray(amplitude, dtype=np.float32))
        if "vehicle" in self.parts and step.vehicle is not None:
            out["vehicle"] = {
                group: {
                    name: torch.tensor(value, dtype=torch.float64)
                    for name, value in signals.items()
                }
                for group, signals in step.vehicle.items()
            }
        return out


class ZodSequencesDataset(Dataset, _LazySubset, _StepConverter):
    """Clips of ``clip_length`` synchronized steps from ZOD Sequences or Drives (map-style).

    Steps are the frames of the reference sensor (``"camera"`` or ``"lidar"``), taking every
    ``step``-th one; clips start every ``stride`` reference frames (default
    ``clip_length * step``: clips that touch but do not overlap). A clip is kept only when each of
    its steps has every requested sensor within ``tolerance_s`` (checked from the index, no
    reads).

    Sample keys: ``sequence_id`` str, ``time_s`` (T,) float64 epoch s, ``image`` (T, 3, H, W),
    ``world_from_ego`` (T, 4, 4) float64 with ``pose_valid`` (T,) bool, ``lidar_points``
    (N_1 + ... + N_T, 3) float32 with ``lidar_step_offsets`` (T + 1,) int64 (step t is rows
    ``offsets[t]:offsets[t+1]``), ``lidar_time_s`` (N,) float32 relative to ``time_s[0]``,
    ``lidar_intensity`` (N,) uint8, ``intrinsics`` (3, 3) float32 (scaled), ``ego_from_lidar``,
    ``ego_from_camera`` (4, 4) float32. With the ``"radar"`` part: ``radar_points`` (K, 3)
    float32 (radar frame), ``radar_range_rate``, ``radar_amplitude`` (K,) and
    ``radar_step_offsets`` (T + 1,); with ``"vehicle"``: ``vehicle`` {group: {signal: (T,)
    float64}} (NaN where a group has no sample within the tolerance).

    Keyframe clips (``keyframe=True``): one clip per sequence, placed so that its step number
    ``keyframe_position`` (default the last: a causal clip) is the step nearest the annotated
    keyframe. ``annotations=("objects", "boxes_3d")`` then adds the keyframe's objects, as in
    ``ZodFramesDataset`` (``boxes_2d`` scaled to the image, ``class_ids``, ``unclear``,
    ``boxes_3d`` in ``boxes_frame`` with ``box_3d_valid``) and ``keyframe_index`` (int).
    Sequences not annotated for object detection (and drives) are excluded.

    ``storage_options``: fsspec options of a URL ``root`` (``s3://...``), as for
    ``ZodSequences``; every worker reopens the store with them.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        version: str = "full",
        split: str | None = "train",
        subset: Literal["sequences", "drives"] = "sequences",
        clip_length: int = 4,
        stride: int | None = None,
        step: int = 1,
        reference: Literal["camera", "lidar"] = "camera",
        tolerance_s: float = 0.05,
        parts: Sequence[str] = ("image", "lidar", "pose"),
        anonymization: Anonymization | str = Anonymization.BLUR,
        image_scale: float = 0.25,
        image_dtype: torch.dtype = torch.uint8,
        normalize: bool = False,
        lidar_frame: PointFrame = "lidar",
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        ids: Sequence[str | int] | None = None,
        check_files: bool = True,
        keyframe: bool = False,
        keyframe_position: int = -1,
        annotations: Sequence[str] = (),
        classes: Sequence[str] | None = None,
        class_level: ClassLevel = "class",
        boxes_frame: BoxFrame = "lidar",
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        from zod.stream import SensorStream

        if clip_length < 1 or step < 1:
            raise ValueError("clip_length and step must be >= 1")
        if set(annotations) - {"objects", "boxes_3d"}:
            raise ValueError(
                f"annotations must be a subset of ('objects', 'boxes_3d'), not {annotations}"
            )
        if annotations and not keyframe:
            raise ValueError("annotations exist for the keyframe only: pass keyframe=True")
        if not -clip_length <= keyframe_position < clip_length:
            raise ValueError(f"keyframe_position must be in [-{clip_length}, {clip_length})")
        self.keyframe, self.keyframe_position = keyframe, keyframe_position % clip_length
        self.annotations, self.class_level, self.boxes_frame = (
            tuple(annotations),
            class_level,
            boxes_frame,
        )
        self.classes = (
            tuple(classes) if classes is not None else ZodFramesDataset.default_classes(class_level)
        )
        self._class_to_id = {name: i for i, name in enumerate(self.classes)}
        unknown = set(parts) - set(SEQUENCE_PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; choose from {SEQUENCE_PARTS}")
        self.root, self.version, self.split, self.subset = os.fspath(root), version, split, subset
        self.storage_options = None if storage_options is None else dict(storage_options)
        self.clip_length, self.step = clip_length, step
        self.stride = stride or clip_length * step
        self.reference, self.tolerance_s = reference, tolerance_s
        self.parts = tuple(dict.fromkeys(parts))
        self.anonymization = (
            anonymization
            if isinstance(anonymization, Anonymization)
            else Anonymization(anonymization)
        )
        self.image_scale = check_scale(image_scale)
        self.image_dtype, self.normalize, self.lidar_frame = image_dtype, normalize, lidar_frame
        self.transforms = transforms
        self._zod: ZodSequences | ZodDrives | None = None

        zod_subset = self._subset()
        candidates = (
            [str(i).zfill(6) for i in ids] if ids is not None else _item_ids(zod_subset, split)
        )
        self.clips: list[tuple[str, int]] = []
        """(item id, first reference step) of every clip."""
        self.excluded: dict[str, str] = {}
        span = (clip_length - 1) * step + 1
        for item_id in candidates:
            try:
                stream = SensorStream(
                    zod_subset[item_id], reference, tolerance_s, (), self.anonymization
                )
            except (KeyError, ValueError) as error:
                self.excluded[item_id] = f"no stream: {error}"
                continue
            ok = np.ones(len(stream), dtype=bool)
            if "image" in self.parts:
                ok &= stream.camera_index >= 0
                if check_files:
                    ok &= np.array(
                        [
                            i >= 0 and _exists(stream.camera_frames[i].filepath)
                            for i in stream.camera_index.tolist()
                        ],
                        dtype=bool,
                    )
            if "lidar" in self.parts:
                ok &= stream.lidar_index >= 0
                if check_files:
                    ok &= np.array(
                        [
                            i >= 0 and _exists(stream.lidar_frames[i].filepath)
                            for i in stream.lidar_index.tolist()
                        ],
                        dtype=bool,
                    )
            if keyframe:
                if (
                    annotations
                    and AnnotationProject.OBJECT_DETECTION not in zod_subset.index.projects(item_id)
                ):
                    self.excluded[item_id] = "keyframe not annotated for object_detection"
                    continue
                key_step = int(
                    np.argmin(
                        np.abs(stream.time_s - zod_subset[item_id].info.keyframe_time.timestamp())
                    )
                )
                starts = np.array([key_step - self.keyframe_position * step])
                starts = starts[(starts >= 0) & (starts + span <= len(stream))]
            else:
                starts = np.arange(0, max(0, len(stream) - span + 1), self.stride)
            # a clip is valid when all its steps are
            if starts.size:
                steps = starts[:, None] + np.arange(clip_length)[None, :] * step
                starts = starts[ok[steps].all(axis=1)]
            if starts.size == 0:
                self.excluded[item_id] = f"no complete clip of {clip_length} steps"
                continue
            self.clips.extend((item_id, int(s)) for s in starts)
        _summarize(
            f"ZodSequencesDataset({subset}, {version}, {split})", len(candidates), self.excluded
        )

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        from zod.stream import SensorStream

        item_id, start = self.clips[index]
        item = self._subset()[item_id]
        stop = start + (self.clip_length - 1) * self.step + 1
        stream = SensorStream(
            item,
            self.reference,
            self.tolerance_s,
            self.parts,
            self.anonymization,
            self.image_scale,
            start=start,
            stop=stop,
            step=self.step,
            num_threads=2,
            prefetch=self.clip_length,
        )
        steps = list(stream)
        sample = clip_sample(self, item, steps)
        sample["sequence_id"] = item_id
        if self.keyframe:
            sample["keyframe_index"] = self.keyframe_position
        if self.annotations:
            objects = item.get_annotation(AnnotationProject.OBJECT_DETECTION)
            sample.update(
                object_tensors(
                    objects,
                    item.calibration,
                    self._class_to_id,
                    self.class_level,
                    self.image_scale,
                    self.boxes_frame if "boxes_3d" in self.annotations else None,
                )
            )
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


def clip_sample(
    converter: ZodSequencesDataset, item: ZodSequence, steps: Sequence[StreamStep]
) -> dict[str, Any]:
    """Stack the tensors of T steps (see ``ZodSequencesDataset`` for the keys)."""
    calibration = item.calibration
    ego_from_lidar = calibration.get_extrinsics(Lidar.VELODYNE).transform
    time_s = np.array([s.time_s for s in steps], dtype=np.float64)
    per_step = [converter._step_tensors(s, ego_from_lidar, float(time_s[0])) for s in steps]
    sample: dict[str, Any] = {"time_s": torch.from_numpy(time_s)}
    if "image" in converter.parts:
        sample["image"] = stack([p["image"] for p in per_step], shared=False)
    if "pose" in converter.parts:
        valid = np.array([s.world_from_ego is not None for s in steps], dtype=bool)
        poses = np.stack(
            [
                s.world_from_ego if s.world_from_ego is not None else np.full((4, 4), np.nan)
                for s in steps
            ]
        )
        sample["world_from_ego"] = torch.from_numpy(poses)
        sample["pose_valid"] = torch.from_numpy(valid)
    # variable-size parts: the T steps concatenated, with the row where each step starts
    for part, keys in (
        ("lidar", ("lidar_points", "lidar_time_s", "lidar_intensity")),
        ("radar", ("radar_points", "radar_range_rate", "radar_amplitude")),
    ):
        if part in converter.parts:
            for key in keys:
                sample[key], offsets, _ = flat_concat([p[key] for p in per_step], shared=False)
            sample[f"{part}_step_offsets"] = offsets
    if "vehicle" in converter.parts and all("vehicle" in p for p in per_step):
        first = per_step[0]["vehicle"]
        sample["vehicle"] = {
            group: {
                name: stack([p["vehicle"][group][name] for p in per_step], shared=False)
                for name in signals
            }
            for group, signals in first.items()
        }
    camera = calibration.cameras[Camera.FRONT]
    sample["intrinsics"] = torch.from_numpy(
        scale_intrinsics(np.asarray(camera.intrinsics)[:3, :3], converter.image_scale).astype(
            np.float32
        )
    )
    sample["ego_from_lidar"] = torch.from_numpy(ego_from_lidar.astype(np.float32))
    sample["ego_from_camera"] = torch.from_numpy(
        calibration.get_extrinsics(Camera.FRONT).transform.astype(np.float32)
    )
    return sample


def shard_info(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(shard index, number of shards) of this process: DDP rank x DataLoader worker."""
    if rank is None or world_size is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank = torch.distributed.get_rank() if rank is None else rank
            world_size = torch.distributed.get_world_size() if world_size is None else world_size
        else:
            rank, world_size = rank or 0, world_size or 1
    worker = get_worker_info()
    worker_id, num_workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
    return rank * num_workers + worker_id, world_size * num_workers


class ZodStreamDataset(IterableDataset, _LazySubset, _StepConverter):
    """Every step of ZOD Sequences or Drives, in time order per item, sharded by rank and worker.

    Items (sequences / drives) are dealt round-robin to the ``world_size x num_workers`` shards
    (item ``i`` goes to shard ``i % num_shards``), so each process reads whole items in time
    order and no step is produced twice. With ``shuffle`` the item order is permuted with
    ``seed + epoch`` (call ``set_epoch`` each epoch, like ``DistributedSampler``). Shards can
    differ in length by up to one item: in DDP, stop all ranks on the shortest or use
    ``drop_uneven``.

    Yields dicts: ``sequence_id`` str, ``step`` int, ``time_s`` float (epoch s), ``image``
    (3, H, W), ``world_from_ego`` (4, 4) float64 and ``pose_valid`` bool, ``lidar_points``
    (N, 3) float32, ``lidar_time_s`` (N,) float32 relative to ``time_s``, ``lidar_intensity``
    (N,) uint8,
    and with those parts ``radar_points`` (K, 3), ``radar_range_rate``, ``radar_amplitude`` (K,)
    and ``vehicle`` {group: {signal: float64 scalar}}.
    Steps missing a requested sensor within the tolerance are skipped, and so are (with
    ``check_files``, logged per item) steps whose image or scan is not on disk: a worker never
    dies on an incomplete download.

    ``storage_options``: fsspec options of a URL ``root``, as for ``ZodSequencesDataset``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        version: str = "full",
        split: str | None = "train",
        subset: Literal["sequences", "drives"] = "sequences",
        reference: Literal["camera", "lidar"] = "camera",
        tolerance_s: float = 0.05,
        parts: Sequence[str] = ("image", "lidar", "pose"),
        anonymization: Anonymization | str = Anonymization.BLUR,
        image_scale: float = 0.25,
        image_dtype: torch.dtype = torch.uint8,
        normalize: bool = False,
        lidar_frame: PointFrame = "lidar",
        rank: int | None = None,
        world_size: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
        drop_uneven: bool = False,
        ids: Sequence[str | int] | None = None,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        num_threads: int = 2,
        check_files: bool = True,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        unknown = set(parts) - set(SEQUENCE_PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; choose from {SEQUENCE_PARTS}")
        self.root, self.version, self.split, self.subset = os.fspath(root), version, split, subset
        self.storage_options = None if storage_options is None else dict(storage_options)
        self.reference, self.tolerance_s, self.parts = (
            reference,
            tolerance_s,
            tuple(dict.fromkeys(parts)),
        )
        self.anonymization = (
            anonymization
            if isinstance(anonymization, Anonymization)
            else Anonymization(anonymization)
        )
        self.image_scale = check_scale(image_scale)
        self.image_dtype, self.normalize, self.lidar_frame = image_dtype, normalize, lidar_frame
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.seed, self.epoch, self.drop_uneven = shuffle, seed, 0, drop_uneven
        self.transforms, self.num_threads, self.check_files = transforms, num_threads, check_files
        self._zod: ZodSequences | ZodDrives | None = None
        self.ids: list[str] = (
            [str(i).zfill(6) for i in ids] if ids is not None else _item_ids(self._subset(), split)
        )

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle the item order for this epoch (with ``shuffle``)."""
        self.epoch = epoch

    def shard_ids(self) -> list[str]:
        """Items this process (rank, worker) reads."""
        shard, num_shards = shard_info(self.rank, self.world_size)
        ids = list(self.ids)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(len(ids))
            ids = [ids[i] for i in order]
        if self.drop_uneven:
            ids = ids[: len(ids) - len(ids) % num_shards]
        return ids[shard::num_shards]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from zod.stream import SensorStream

        for item_id in self.shard_ids():
            item = self._subset()[item_id]
            try:
                stream = SensorStream(
                    item,
                    self.reference,
                    self.tolerance_s,
                    self.parts,
                    self.anonymization,
                    self.image_scale,
                    num_threads=self.num_threads,
                )
            except ValueError as error:  # no frames of the reference sensor in the index
                logger.warning("ZodStreamDataset: item %s skipped: %s", item_id, error)
                continue
            if self.check_files:
                skipped = stream.skip_missing_files()
                if skipped:
                    logger.warning(
                        "ZodStreamDataset: item %s: %d of %d steps skipped (files not on disk)",
                        item_id,
                        skipped,
                        len(stream),
                    )
            ego_from_lidar = (
                item.calibration.get_extrinsics(Lidar.VELODYNE).transform
                if "lidar" in self.parts
                else None
            )
            for step in stream:
                if ("image" in self.parts and step.camera_frame is None) or (
                    "lidar" in self.parts and step.lidar_frame is None
                ):
                    continue
                sample: dict[str, Any] = {
                    "sequence_id": item_id,
                    "step": step.index,
                    "time_s": step.time_s,
                }
                sample.update(self._step_tensors(step, ego_from_lidar, step.time_s))
                if "pose" in self.parts:
                    valid = step.world_from_ego is not None
                    sample["world_from_ego"] = torch.from_numpy(
                        step.world_from_ego if valid else np.full((4, 4), np.nan)
                    )
                    sample["pose_valid"] = torch.tensor(valid)
                if self.transforms is not None:
                    sample = self.transforms(sample)
                yield sample
