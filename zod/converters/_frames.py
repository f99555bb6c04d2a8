"""What the converters read from a ZOD Frames dataset, through the devkit's own readers.

Every converter task runs in worker processes (or Ray workers) and only carries the dataset
root and version; the ``ZodFrames`` of that pair is opened once per process and cached here.
Object annotations are read as raw GeoJSON features and turned into arrays by the one parse
of :mod:`zod.annotations.object_features` (``ObjectArrays``), without building one annotation
object per box.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Dict, List, Optional  # noqa: UP035 - msgspec fields

import numpy as np

from zod.constants import AnnotationProject, Anonymization
from zod.errors import FormatError, MissingFileError
from zod.release import images_flag

if TYPE_CHECKING:
    from zod.annotations.object_features import ObjectArrays


@dataclass(frozen=True)
class FrameTask:
    """What every per-frame converter task carries (picklable: plain strings, no open dataset)."""

    dataset_root: str
    version: str
    output_dir: str


def read_bgr(path: str | os.PathLike[str], anonymization: str) -> np.ndarray:
    """Decode a front camera JPEG to (H, W, 3) uint8 BGR (what cv2 writes back).

    Missing file -> `MissingFileError` naming the images download flag; undecodable ->
    `FormatError`.
    """
    import cv2

    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if image is None:
        if not os.path.exists(path):
            raise MissingFileError(path, f"{anonymization} image", images_flag(anonymization))
        raise FormatError(path, "not a decodable image")
    return image


@lru_cache(maxsize=4)
def frames(dataset_root: str, version: str) -> Any:
    """The ``ZodFrames`` of ``dataset_root`` / ``version``, opened once per process."""
    from zod.dataset import ZodFrames

    return ZodFrames(dataset_root=dataset_root, version=version)


@lru_cache(maxsize=4)
def index(dataset_root: str, version: str) -> Any:
    """The lazy ``ZodIndex`` of the Frames index file (light: no frame readers imported)."""
    from zod.constants import FRAMES, TRAINVAL_FILES
    from zod.index import ZodIndex, index_file_path

    path = index_file_path(dataset_root, TRAINVAL_FILES[FRAMES][version])
    return ZodIndex(path, dataset_root)


def split_ids(dataset_root: str, version: str, split: str) -> list[str]:
    """Frame ids of a split ("train" / "val"), in index file order."""
    return list(index(dataset_root, version).split_ids(split))


# --- the few info fields the COCO path needs, read from the raw info object ---------------------
# (a full ``Information`` builds ~25 timestamped sensor frames per info; COCO needs 4 fields)


def _get(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]`` in snake_case or camelCase (spec §2); KeyError if neither."""
    if key in obj:
        return obj[key]
    from zod.index import camel_case

    return obj[camel_case(key)]


@dataclass(frozen=True)
class KeyImage:
    """The key camera image of a frame: absolute path, height and width (pixels)."""

    filepath: str
    height: int
    width: int


# Typed decoding (optional msgspec) of just those fields of a snake_case info object: the rest of
# the object (~25 sensor frames) is skipped unparsed. An info it cannot read (camelCase keys,
# unexpected types) goes the generic way below, which is liberal and reports real problems.
try:  # optional: the `fast` extra
    import msgspec
except ImportError:  # pragma: no cover - installed with zod-devkit[fast]
    msgspec = None  # type: ignore[assignment]

if msgspec is not None:

    class _Entry(msgspec.Struct, gc=False):  # a camera frame or annotation project entry
        filepath: str
        height: int = -1
        width: int = -1
        time: str = ""

    class _InfoFields(msgspec.Struct, gc=False):
        keyframe_time: str
        camera_frames: Dict[str, List[_Entry]]  # noqa: UP006 - msgspec resolves these at runtime
        annotations: Optional[Dict[str, Optional[_Entry]]] = None  # noqa: UP006, UP045

    _INFO_DECODER: Any = msgspec.json.Decoder(_InfoFields)
    _INFO_DECODE_ERRORS: Any = (msgspec.ValidationError, msgspec.DecodeError)


def _fast_info_fields(
    dataset_root: str, zod_index: Any, frame_id: str, anonymization: str, project: AnnotationProject
) -> Any:
    """``raw_info_fields`` through the typed decoder, or None when it cannot read the info."""
    if msgspec is None:
        return None
    try:
        fields = _INFO_DECODER.decode(zod_index.raw_bytes(frame_id))
    except _INFO_DECODE_ERRORS:
        return None
    entries = fields.camera_frames.get(f"front_{anonymization}")
    if not entries or len(entries) > 1 or entries[0].height < 0 or entries[0].width < 0:
        return None  # several images to choose from, or fields missing: the generic path
    entry = entries[0]
    image = KeyImage(os.path.join(dataset_root, entry.filepath), entry.height, entry.width)
    project_entry = (fields.annotations or {}).get(project.value)
    path = None if project_entry is None else os.path.join(dataset_root, project_entry.filepath)
    return image, reference_time_text(fields.keyframe_time), path


def raw_info_fields(
    dataset_root: str, version: str, frame_id: str, anonymization: str, project: AnnotationProject
) -> tuple[KeyImage, str, str | None]:
    """Key image, key frame time text (COCO ``date_captured``) and absolute annotation path
    (None if not annotated) of one frame, straight from its raw info object."""
    from zod.time import parse_time

    zod_index = index(dataset_root, version)
    fast = _fast_info_fields(dataset_root, zod_index, frame_id, anonymization, project)
    if fast is not None:
        return fast
    raw = zod_index.raw(frame_id)
    try:
        cameras = _get(raw, "camera_frames")
        key = f"front_{anonymization}"
        entries = cameras.get(key) or cameras.get(f"front{anonymization.capitalize()}")
        if not entries:
            raise KeyError(f"camera_frames.{key}")
        keyframe_text = _get(raw, "keyframe_time")
        if len(entries) > 1:  # pick the image nearest the key frame, like Information does
            keyframe_time = parse_time(keyframe_text)
            entries = sorted(
                entries,
                key=lambda e: abs((parse_time(_get(e, "time")) - keyframe_time).total_seconds()),
            )
        entry = entries[0]
        image = KeyImage(
            os.path.join(dataset_root, _get(entry, "filepath")),
            int(entry["height"]),
            int(entry["width"]),
        )
        annotations = _get(raw, "annotations") or {}
        from zod.index import camel_case

        project_entry = annotations.get(project.value) or annotations.get(camel_case(project.value))
        path = (
            None
            if project_entry is None
            else os.path.join(dataset_root, _get(project_entry, "filepath"))
        )
    except (KeyError, TypeError, ValueError) as err:
        raise FormatError(zod_index.path, f"info {frame_id}: missing or malformed {err}") from None
    return image, reference_time_text(keyframe_text), path


_UTC_MICROS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(\+00:00|Z)")


def reference_time_text(text: str) -> str:
    """An index time as the reference's ``str_from_datetime`` prints it (``...%f%z``, e.g.
    ``2022-02-14T13:23:32.140954+0000``); the common UTC form is rewritten without parsing."""
    if _UTC_MICROS.fullmatch(text):
        return text[:26] + "+0000"
    from zod.time import parse_time

    return parse_time(text).strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def frame_info(dataset_root: str, version: str, frame_id: str) -> Any:
    """The ``Information`` of one frame (paths absolute)."""
    return frames(dataset_root, version)[frame_id].info


def key_camera_frame(info: Any, anonymization: str) -> Any:
    """The key ``CameraFrame`` (filepath, height, width, time) of the front camera."""
    return info.get_key_camera_frame(Anonymization(anonymization))


def annotation_path(info: Any, project: AnnotationProject) -> str | None:
    """Absolute path of a project's annotation file, None if the frame is not annotated for it."""
    entry = info.annotations.get(project)
    return None if entry is None else str(entry.filepath)


def read_feature_file(path: str, what: str) -> list[dict[str, Any]]:
    """Raw GeoJSON features of an annotation file (missing: MissingFileError, bad: FormatError)."""
    from zod.annotations._common import read_feature_list

    return read_feature_list(path, what)


def read_features(info: Any, project: AnnotationProject) -> tuple[list[dict[str, Any]], str | None]:
    """Raw GeoJSON features of a project (empty if not annotated) and the file path."""
    path = annotation_path(info, project)
    if path is None:
        return [], None
    return read_feature_file(path, f"{project.value} annotation"), path


def object_features(info: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Raw object-detection features of a frame and the file path."""
    return read_features(info, AnnotationProject.OBJECT_DETECTION)


def object_arrays(info: Any) -> ObjectArrays:
    """The frame's objects as :class:`zod.annotations.object_features.ObjectArrays` (the one
    parse of object features; empty if not annotated)."""
    from zod.annotations.object_features import parse_object_features  # (geometry: not for COCO)

    features, path = object_features(info)
    return parse_object_features(features, path)


def calibration(info: Any) -> Any:
    """The frame's ``Calibration``."""
    from zod.calibration import Calibration

    return Calibration.from_json_path(info.calibration_path)


def front_camera_calibration(calib: Any) -> Any:
    """``CameraCalibration`` of the front camera."""
    from zod.constants import Camera

    return calib.cameras[Camera.FRONT]


def ego_from_lidar(calib: Any) -> np.ndarray:
    """(4, 4) lidar pose in the ego frame."""
    from zod.constants import Lidar

    return calib.get_extrinsics(Lidar.VELODYNE).transform


def frame(dataset_root: str, version: str, frame_id: str) -> Any:
    """The ``ZodFrame`` of one frame (its readers: lidar, aggregation, images...)."""
    return frames(dataset_root, version)[frame_id]


def lidar_scans(zod_frame: Any, num_before: int = 0, num_after: int = 0) -> Any:
    """``LidarData`` of the core scan, or of the core scan and its neighbours aggregated
    (motion compensated to the core scan's time by the devkit's aggregation)."""
    if num_before == 0 and num_after == 0:
        return zod_frame.get_lidar()[0]
    return zod_frame.get_aggregated_lidar(num_before=num_before, num_after=num_after)
