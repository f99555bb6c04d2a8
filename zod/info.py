"""``Information``: one info object of an index file (spec §2), with absolute paths.

Accepts snake_case and camelCase keys, a trailing ``Z`` on times, a missing or null
``radar_frames`` and unknown keys. For Frames, each lidar frame knows which download flag
brings it (the core scan ``--lidar``, the n-th scan before ``--num-scans-before n`` ...), so a
missing scan gives a specific error; the scans of sequences and drives all come with
``--lidar``. Which of the two an info is comes from the sub-dataset it belongs to (``subset``,
passed by the index).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from os import PathLike
from typing import Any, TypeVar

from zod._io import is_url
from zod.annotations._common import read_json
from zod.annotations.parser import AnnotationFile
from zod.constants import FRAMES, SUBSETS, AnnotationProject, Anonymization, Camera, Lidar, Radar
from zod.errors import FormatError, MissingKeyError
from zod.keys import has_upper_keys, snake_case, snake_keys
from zod.release import (
    INFOS,
    LIDAR,
    MAX_SURROUNDING_SCANS,
    download_flag,
    images_flag,
    lidar_stream,
)
from zod.sensors.frames import CameraFrame, LidarFrame, RadarFrames, SensorFrame
from zod.time import format_time, parse_time

__all__ = ["Information", "lidar_stream_flags", "snake_keys"]

_REQUIRED = (
    "id",
    "start_time",
    "end_time",
    "keyframe_time",
    "calibration_path",
    "ego_motion_path",
    "metadata_path",
    "oxts_path",
)
FRAME_SCANS = 2 * MAX_SURROUNDING_SCANS + 1
"""Lidar scans listed for one frame: 10 before the core scan, the core one, 10 after."""

_Timed = TypeVar("_Timed", bound=SensorFrame)
"""A camera or lidar frame."""


def _join(root: str, path: object, key: str) -> str:
    """``os.path.join(root, path)`` of a path string from the info (a hot path: ~25 per info)."""
    if not isinstance(path, str):
        raise FormatError(None, f"{key} is {type(path).__name__}, not a path")
    if not root:
        return path
    if os.sep == "/" and not path.startswith("/"):
        return root + path if root.endswith("/") else root + "/" + path
    return os.path.join(root, path)


def _pixels(value: object, key: str) -> int:
    """An image side from the info: a JSON integer in 1..65536 (``2168.0`` passes as 2168)."""
    if type(value) is int and 0 < value <= 1 << 16:  # the common case, first
        return value
    if type(value) is float and 0 < value <= 1 << 16 and value.is_integer():
        return int(value)
    raise FormatError(None, f"{key} is {type(value).__name__} {value!r:.40}, not a size in pixels")


def _flag(value: object, key: str) -> bool:
    """A true/false of the info (null or absent reads as false); a string such as ``"false"``
    or a number is refused rather than taken for its truth value."""
    if value is None:
        return False
    if type(value) is not bool:
        raise FormatError(None, f"{key} is {type(value).__name__} {value!r:.40}, not true/false")
    return value


def lidar_stream_flags(count: int) -> list[str]:
    """Download flag of each of ``count`` Frames lidar scans (core in the middle)."""
    core = count // 2
    return [download_flag(lidar_stream(i - core)) for i in range(count)]


def _entries(value: object, key: str) -> list[dict[str, Any]]:
    """A list of file entries (``{"filepath": ..., "time": ...}``, JSON values); null reads as
    empty (an entry that is no object fails where it is read, as a ``TypeError``)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise FormatError(None, f"{key} must be a list, not {type(value).__name__}")
    return value


def _mapping(value: object, key: str) -> dict[str, Any]:
    """A JSON object of the info (``annotations``, ``camera_frames`` ...); null reads as empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FormatError(None, f"{key} must be an object, not {type(value).__name__}")
    return value


@dataclass
class Information:
    """Paths and times of one frame, sequence or drive (paths absolute once loaded)."""

    id: str
    start_time: datetime
    end_time: datetime
    keyframe_time: datetime

    calibration_path: str
    ego_motion_path: str
    metadata_path: str
    oxts_path: str
    vehicle_data_path: str | None

    annotations: dict[AnnotationProject, AnnotationFile]
    camera_frames: dict[str, list[CameraFrame]]  # key "<camera>_<anonymization>", e.g. front_blur
    lidar_frames: dict[Lidar, list[LidarFrame]]
    radar_frames: dict[Radar, list[RadarFrames]] | None = None
    # unknown keys of the info object, values as parsed
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ---------------------------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        dataset_root: str | PathLike[str] | None = None,
        source: str | PathLike[str] | None = None,
        subset: str | None = None,
    ) -> Information:
        """Build from a parsed info object; ``dataset_root`` makes the paths absolute.

        ``source`` (the index file) only serves error messages. ``subset`` is the sub-dataset
        the info belongs to (``single_frames``, ``sequences`` or ``drives``; ``ZodIndex`` and
        the datasets pass their own): a frame's lidar scans are the 21 around the core one,
        each with its own download flag, a clip's all come with ``--lidar``. Without
        ``subset`` (a bare call) this is a liberal guess: a frame is an info without
        ``vehicle_data_path`` that lists at most 21 scans per lidar.
        """
        if not isinstance(data, dict):
            raise FormatError(source, f"an info must be a JSON object, got {type(data).__name__}")
        if subset is not None and subset not in SUBSETS:
            raise ValueError(f"unknown sub-dataset {subset!r}, expected one of {SUBSETS}")
        # camelCase files are camelCase throughout: convert only when the top level says so
        d: dict[str, Any] = snake_keys(data) if has_upper_keys(data) else data
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise MissingKeyError(
                source, f"info {d.get('id', '?')} lacks key(s) {', '.join(missing)}"
            )
        root = os.fspath(dataset_root) if dataset_root is not None else ""
        item_id = str(d["id"]).zfill(6)
        try:
            annotations: dict[AnnotationProject, AnnotationFile] = {}
            for key, entry in _mapping(d.get("annotations"), "annotations").items():
                if entry is None:
                    continue
                try:
                    project = AnnotationProject(snake_case(entry.get("project", key)))
                except ValueError:
                    continue  # a project this devkit does not know: ignored (liberal reader)
                path = _join(root, entry["filepath"], f"annotations.{key}.filepath")
                annotations[project] = AnnotationFile(path, project)

            camera_frames: dict[str, list[CameraFrame]] = {}
            for key, frames in _mapping(d.get("camera_frames"), "camera_frames").items():
                key = snake_case(key)
                anonymization = key.rsplit("_", 1)[-1]
                where = f"camera_frames.{key}.filepath"
                camera_frames[key] = [
                    CameraFrame(
                        _join(root, f["filepath"], where),
                        parse_time(f["time"]),
                        height=_pixels(f.get("height", 2168), f"camera_frames.{key}.height"),
                        width=_pixels(f.get("width", 3848), f"camera_frames.{key}.width"),
                        stream=images_flag(anonymization),
                    )
                    for f in _entries(frames, f"camera_frames.{key}")
                ]

            no_vehicle_data = d.get("vehicle_data_path") is None
            lidar_frames: dict[Lidar, list[LidarFrame]] = {}
            for key, frames in _mapping(d.get("lidar_frames"), "lidar_frames").items():
                entries = _entries(frames, f"lidar_frames.{key}")
                if subset is not None:
                    is_frame = subset == FRAMES
                else:
                    is_frame = no_vehicle_data and len(entries) <= FRAME_SCANS
                flags = (
                    lidar_stream_flags(len(entries))
                    if is_frame
                    else [download_flag(LIDAR)] * len(entries)
                )
                where = f"lidar_frames.{key}.filepath"
                lidar_frames[Lidar(key)] = [
                    LidarFrame(
                        _join(root, f["filepath"], where),
                        parse_time(f["time"]),
                        _flag(
                            f.get("is_compensated", f.get("isCompensated")),
                            f"lidar_frames.{key}.is_compensated",
                        ),
                        stream=flag,
                    )
                    for f, flag in zip(entries, flags)
                ]
                scans = lidar_frames[Lidar(key)]
                if is_frame and any(a.time > b.time for a, b in pairwise(scans)):
                    raise FormatError(None, f"lidar_frames.{key} are not in time order")

            radar_frames = None
            if d.get("radar_frames"):
                radar_frames = {}
                for key, frames in _mapping(d["radar_frames"], "radar_frames").items():
                    if isinstance(frames, dict):
                        frames = [frames]
                    radar_frames[Radar(key)] = [
                        RadarFrames(
                            _join(root, f["filepath"], f"radar_frames.{key}.filepath"),
                            parse_time(f["time"]),
                        )
                        for f in _entries(frames, f"radar_frames.{key}")
                    ]

            vehicle_data_path = d.get("vehicle_data_path")
            known = set(cls.__dataclass_fields__)
            return cls(
                id=item_id,
                start_time=parse_time(d["start_time"]),
                end_time=parse_time(d["end_time"]),
                keyframe_time=parse_time(d["keyframe_time"]),
                calibration_path=_join(root, d["calibration_path"], "calibration_path"),
                ego_motion_path=_join(root, d["ego_motion_path"], "ego_motion_path"),
                metadata_path=_join(root, d["metadata_path"], "metadata_path"),
                oxts_path=_join(root, d["oxts_path"], "oxts_path"),
                vehicle_data_path=None
                if vehicle_data_path is None
                else _join(root, vehicle_data_path, "vehicle_data_path"),
                annotations=annotations,
                camera_frames=camera_frames,
                lidar_frames=lidar_frames,
                radar_frames=radar_frames,
                extra={k: v for k, v in d.items() if k not in known},
            )
        except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as err:
            if isinstance(err, FormatError):
                raise FormatError(source, f"info {item_id}: {err.problem}") from None
            raise FormatError(
                source, f"info {item_id} is malformed ({type(err).__name__}: {err})"
            ) from None

    @classmethod
    def from_json_path(
        cls,
        path: str | PathLike[str],
        dataset_root: str | PathLike[str] | None = None,
        subset: str | None = None,
    ) -> Information:
        """Read an info object from its own file (e.g. ``sequences/<id>/info.json``); ``subset``
        as in ``from_dict``."""
        data = read_json(path, "info file", download_flag(INFOS))
        return cls.from_dict(data, dataset_root, source=path, subset=subset)

    def to_dict(self, dataset_root: str | PathLike[str] | None = None) -> dict[str, Any]:
        """The snake_case info object (paths relative to ``dataset_root`` when given)."""

        root = None if dataset_root is None else os.fspath(dataset_root)
        url_root = None if root is None or not is_url(root) else root.rstrip("/") + "/"

        def rel(path: str) -> str:
            if root is None:
                return path
            if url_root is not None:  # a URL: the part after the root (relpath would mangle //)
                return path[len(url_root) :] if path.startswith(url_root) else path
            return os.path.relpath(path, root)

        out: dict[str, Any] = {
            "id": self.id,
            "start_time": format_time(self.start_time),
            "end_time": format_time(self.end_time),
            "keyframe_time": format_time(self.keyframe_time),
            "calibration_path": rel(self.calibration_path),
            "ego_motion_path": rel(self.ego_motion_path),
            "metadata_path": rel(self.metadata_path),
            "oxts_path": rel(self.oxts_path),
            "vehicle_data_path": None
            if self.vehicle_data_path is None
            else rel(self.vehicle_data_path),
            "annotations": {
                p.value: {"filepath": rel(a.filepath), "project": p.value}
                for p, a in self.annotations.items()
            },
            "camera_frames": {
                k: [
                    {
                        "filepath": rel(f.filepath),
                        "time": format_time(f.time),
                        "height": f.height,
                        "width": f.width,
                    }
                    for f in v
                ]
                for k, v in self.camera_frames.items()
            },
            "lidar_frames": {
                k.value: [
                    {
                        "filepath": rel(f.filepath),
                        "time": format_time(f.time),
                        "is_compensated": f.is_compensated,
                    }
                    for f in v
                ]
                for k, v in self.lidar_frames.items()
            },
        }
        if self.radar_frames is not None:
            out["radar_frames"] = {
                k.value: [{"filepath": rel(f.filepath), "time": format_time(f.time)} for f in v]
                for k, v in self.radar_frames.items()
            }
        return out

    def convert_paths_to_absolute(self, root_path: str) -> None:
        """Prefix every path with ``root_path`` (reference API; ``from_dict`` already does it)."""
        join = os.path.join
        self.calibration_path = join(root_path, self.calibration_path)
        self.ego_motion_path = join(root_path, self.ego_motion_path)
        self.metadata_path = join(root_path, self.metadata_path)
        self.oxts_path = join(root_path, self.oxts_path)
        if self.vehicle_data_path is not None:
            self.vehicle_data_path = join(root_path, self.vehicle_data_path)
        for annotation in self.annotations.values():
            annotation.filepath = join(root_path, annotation.filepath)
        for frame in self.all_frames:
            frame.filepath = join(root_path, frame.filepath)
        for radar_files in (self.radar_frames or {}).values():
            for radar in radar_files:
                radar.filepath = join(root_path, radar.filepath)

    # ---------------------------------------------------------------------------------------
    @property
    def all_frames(self) -> Iterator[SensorFrame]:
        """Every lidar then camera frame."""
        for scans in self.lidar_frames.values():
            yield from scans
        for images in self.camera_frames.values():
            yield from images

    @property
    def keyframe_time_s(self) -> float:
        """Keyframe time as float epoch seconds."""
        return self.keyframe_time.timestamp()

    def _camera_list(self, anonymization: Anonymization, camera: Camera) -> list[CameraFrame]:
        name = f"{Camera(camera).value}_{Anonymization(anonymization).value}"
        frames = self.camera_frames.get(name)
        if not frames:
            have = ", ".join(sorted(self.camera_frames)) or "none"
            raise KeyError(f"{self.id} has no camera frames {name!r} (it has: {have})")
        return frames

    def _lidar_list(self, lidar: Lidar) -> list[LidarFrame]:
        frames = self.lidar_frames.get(Lidar(lidar))
        if not frames:
            raise KeyError(f"{self.id} has no lidar frames for {Lidar(lidar).value!r}")
        return frames

    @staticmethod
    def _nearest(frames: list[_Timed], time: datetime) -> _Timed:
        time = parse_time(time)
        return min(frames, key=lambda f: abs(f.time - time))

    def get_camera_lidar_map(
        self,
        anonymization: Anonymization = Anonymization.BLUR,
        camera: Camera = Camera.FRONT,
        lidar: Lidar = Lidar.VELODYNE,
    ) -> Iterator[tuple[CameraFrame, LidarFrame]]:
        """Each camera frame with the lidar frame nearest in time."""
        lidar_frames = self._lidar_list(lidar)
        for camera_frame in self._camera_list(anonymization, camera):
            yield camera_frame, self._nearest(lidar_frames, camera_frame.time)

    def get_key_camera_frame(
        self, anonymization: Anonymization = Anonymization.BLUR, camera: Camera = Camera.FRONT
    ) -> CameraFrame:
        """The camera frame nearest the keyframe time (the only one for Frames)."""
        frames = self._camera_list(anonymization, camera)
        return frames[0] if len(frames) == 1 else self._nearest(frames, self.keyframe_time)

    def get_key_lidar_frame(self, lidar: Lidar = Lidar.VELODYNE) -> LidarFrame:
        """The lidar frame nearest the keyframe time."""
        return self.get_lidar_frame(self.keyframe_time, lidar)

    def get_camera_frame(
        self,
        time: datetime,
        anonymization: Anonymization = Anonymization.BLUR,
        camera: Camera = Camera.FRONT,
    ) -> CameraFrame:
        """The camera frame nearest ``time``."""
        return self._nearest(self._camera_list(anonymization, camera), time)

    def get_lidar_frame(self, time: datetime, lidar: Lidar = Lidar.VELODYNE) -> LidarFrame:
        """The lidar frame nearest ``time``."""
        return self._nearest(self._lidar_list(lidar), time)

    def get_camera_frames(
        self, anonymization: Anonymization = Anonymization.BLUR, camera: Camera = Camera.FRONT
    ) -> list[CameraFrame]:
        return self._camera_list(anonymization, camera)

    def get_lidar_frames(self, lidar: Lidar = Lidar.VELODYNE) -> list[LidarFrame]:
        return self._lidar_list(lidar)

    def get_radar_frames(self, radar: Radar = Radar.FRONT) -> list[RadarFrames]:
        """The radar files of a sequence or drive (newer releases only)."""
        if not self.radar_frames:
            raise ValueError(
                f"{self.id} has no radar frames: radar exists for ZOD Sequences and Drives only, "
                "in the newer releases; download the current index with "
                "`zod download --infos --radar`."
            )
        return self.radar_frames[Radar(radar)]
