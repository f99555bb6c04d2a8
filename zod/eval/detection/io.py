"""Reading and writing detection predictions (JSON), and ground truth from a dataset.

The predictions file (docs/eval.md)::

    {
      "meta": {"coordinate_frame": "lidar"},            # optional, free-form
      "results": {
        "009158": [                                      # frame id (int or string)
          {"class": "Vehicle", "subclass": "Car",        # subclass optional
           "score": 0.87,
           "center": [x, y, z],                          # m, lidar frame
           "size": [length, width, height],              # m
           "rotation": [qw, qx, qy, qz]}                 # or "yaw": rad around lidar z
        ],
        "009159": []                                     # a frame without detections
      }
    }

A box counts for its class and, when it has one, for its subclass (``"Vehicle_Car"``). A
``class`` that is a full subclass name (``"Vehicle_Car"``) without ``subclass`` counts for that
name only (this is how ``write_predictions`` writes each evaluation row). The top level
may also be the ``results`` mapping itself. Accepted aliases: ``translation`` for
``center``, ``detection_name``/``name`` for ``class``, ``detection_score``/``confidence`` for
``score``, ``quaternion`` for ``rotation``, ``type`` for ``subclass``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zod.annotations.object_features import box_set_from_features
from zod.annotations.objects import box_set_from_object_annotations
from zod.errors import FormatError, MissingFileError, NotAnnotatedError
from zod.eval._frames import ItemTask, open_dataset, read_items
from zod.eval.detection.boxes import DetectionBoxes, normalize_frame_id, quaternion_from_yaw
from zod.eval.detection.constants import subclass_name
from zod.eval.detection.evaluate import write_json_atomic
from zod.geometry.box_set import Box3DSet

_ALIASES = {
    "class": ("class", "detection_name", "name"),
    "subclass": ("subclass", "type"),
    "score": ("score", "detection_score", "confidence"),
    "center": ("center", "translation"),
    "size": ("size",),
    "rotation": ("rotation", "quaternion"),
    "yaw": ("yaw",),
}


def _get(box: Mapping[str, Any], key: str) -> Any:
    for alias in _ALIASES[key]:
        if alias in box:
            return box[alias]
    return None


def expand_names(class_name: str, subclass: str | None) -> list[str]:
    """The evaluation names a box counts for: its class, then its subclass if one is given.

    ``("Vehicle", "Car")`` -> ``["Vehicle", "Vehicle_Car"]``; a class given as a full subclass
    name without a subclass (``("Vehicle_Car", None)``) counts for that name only, so that a
    written file reads back row for row.
    """
    full_sub = subclass_name(class_name, subclass)
    return [class_name] if full_sub in (None, class_name) else [class_name, full_sub]


def boxes_from_records(
    records: Mapping[str | int, Sequence[Mapping[str, Any]]],
    *,
    with_scores: bool = True,
    source: str | os.PathLike[str] | None = None,
) -> DetectionBoxes:
    """Build a ``DetectionBoxes`` from ``{frame id: [box dict, ...]}`` (format above).

    Every frame key is part of the frame set, also with an empty list. A box with a subclass
    gives two rows (class and subclass). Raises ``FormatError`` naming the frame and box.
    """
    if not isinstance(records, Mapping):
        raise FormatError(source, "predictions must map frame ids to lists of boxes")
    frame_of_row: list[str] = []
    names: list[str] = []
    scores: list[float] = []
    centers: list[Sequence[float]] = []
    sizes: list[Sequence[float]] = []
    rotations: list[Sequence[float]] = []
    frames = [normalize_frame_id(f) for f in records]
    for frame, boxes in zip(frames, records.values()):
        if not isinstance(boxes, Sequence) or isinstance(boxes, (str, bytes)):
            raise FormatError(source, f"frame {frame}: expected a list of boxes")
        for i, box in enumerate(boxes):
            where = f"frame {frame}, box {i}"
            if not isinstance(box, Mapping):
                raise FormatError(source, f"{where}: a box must be an object")
            cls_name, center, size = _get(box, "class"), _get(box, "center"), _get(box, "size")
            rotation, yaw, score = _get(box, "rotation"), _get(box, "yaw"), _get(box, "score")
            if not isinstance(cls_name, str):
                raise FormatError(source, f"{where}: missing or non-string 'class'")
            try:
                center_v = [float(v) for v in center]
                size_v = [float(v) for v in size]
                if rotation is not None:
                    rot_v = [float(v) for v in rotation]
                elif yaw is not None:
                    rot_v = quaternion_from_yaw(np.array([float(yaw)]))[0].tolist()
                else:
                    raise FormatError(source, f"{where}: needs 'rotation' [w, x, y, z] or 'yaw'")
            except TypeError as err:
                raise FormatError(
                    source, f"{where}: 'center', 'size' must be number lists"
                ) from err
            if len(center_v) != 3 or len(size_v) != 3 or len(rot_v) != 4:
                raise FormatError(source, f"{where}: want 3 centre, 3 size, 4 rotation values")
            if with_scores:
                if score is None:
                    raise FormatError(source, f"{where}: missing 'score'")
                score_v = float(score)
                if not np.isfinite(score_v):
                    raise FormatError(source, f"{where}: score must be finite")
            else:
                score_v = float("nan")
            if not (
                np.isfinite(center_v).all()
                and np.isfinite(size_v).all()
                and np.isfinite(rot_v).all()
            ):
                raise FormatError(source, f"{where}: non-finite centre, size or rotation")
            if min(size_v) <= 0:
                raise FormatError(source, f"{where}: sizes must be > 0, got {size_v}")
            if not any(rot_v):
                raise FormatError(source, f"{where}: zero rotation quaternion")
            for name in expand_names(cls_name, _get(box, "subclass")):
                frame_of_row.append(frame)
                names.append(name)
                scores.append(score_v)
                centers.append(center_v)
                sizes.append(size_v)
                rotations.append(rot_v)
    n = len(names)
    return DetectionBoxes.from_columns(
        frame_of_row,
        names,
        np.asarray(centers, dtype=np.float64).reshape(n, 3),
        np.asarray(sizes, dtype=np.float64).reshape(n, 3),
        quaternions_wxyz=np.asarray(rotations, dtype=np.float64).reshape(n, 4),
        scores=np.asarray(scores, dtype=np.float64).reshape(n),
        frame_ids=frames,
    )


def read_predictions(path: str | os.PathLike[str]) -> DetectionBoxes:
    """Read a predictions JSON file (format in the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "predictions file")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(path, f"not valid JSON: {err}") from err
    if isinstance(payload, Mapping) and "results" in payload:
        payload = payload["results"]
    return boxes_from_records(payload, with_scores=True, source=path)


def write_predictions(
    path: str | os.PathLike[str],
    boxes: DetectionBoxes,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write boxes as a predictions file (one entry per row; atomic)."""
    payload = {"meta": dict(meta or {"coordinate_frame": "lidar"}), "results": boxes.to_records()}
    return write_json_atomic(path, payload)


ObjectRow = tuple[str, str, list[float], list[float], list[float]]
"""(class, subclass, centre (3), size (3), rotation wxyz (4)) of one 3D-boxed clear object."""


def box_rows(boxes: Box3DSet) -> list[ObjectRow]:
    """Rows of the boxes (lidar frame) that count as ground truth: the clear ones."""
    clear = boxes.filter_unclear()
    return list(
        zip(
            clear.classes.astype(str).tolist(),
            clear.subclasses.astype(str).tolist(),
            clear.centers_m.tolist(),
            clear.sizes_lwh_m.tolist(),
            clear.quaternions_wxyz.tolist(),
        )
    )


def object_rows(objects: Iterable[Any]) -> list[ObjectRow]:
    """Rows of the objects that count as ground truth: not unclear, with a 3D box."""
    return box_rows(box_set_from_object_annotations(list(objects)))


def ground_truth_from_rows(rows_per_frame: Mapping[str, Sequence[ObjectRow]]) -> DetectionBoxes:
    """Ground truth from ``object_rows`` per frame id: each object gives a row for its class
    and one for its subclass (when that differs)."""
    frame_of_row: list[str] = []
    names: list[str] = []
    picks: list[int] = []
    flat: list[ObjectRow] = []
    frames = [normalize_frame_id(f) for f in rows_per_frame]
    for frame, rows in zip(frames, rows_per_frame.values()):
        for row in rows:
            flat.append(row)
            for name in expand_names(row[0], row[1]):
                frame_of_row.append(frame)
                names.append(name)
                picks.append(len(flat) - 1)
    pick = np.asarray(picks, dtype=np.int64)
    n = len(names)

    def column(i: int, width: int) -> np.ndarray:
        values = np.asarray([row[i] for row in flat], dtype=np.float64).reshape(-1, width)
        return values[pick].reshape(n, width)

    return DetectionBoxes.from_columns(
        frame_of_row,
        names,
        column(2, 3),
        column(3, 3),
        quaternions_wxyz=column(4, 4),
        frame_ids=frames,
    )


def ground_truth_from_objects(objects_per_frame: Mapping[str, Iterable[Any]]) -> DetectionBoxes:
    """Ground truth from object annotations (``ObjectAnnotation``-like) per frame id.

    An object counts when it is not unclear and has a 3D box; it gives a row for its class and
    one for its subclass (when that differs). Centres, sizes and rotations are those of the
    3D box (lidar frame).
    """
    return ground_truth_from_rows({f: object_rows(objs) for f, objs in objects_per_frame.items()})


@dataclass(frozen=True)
class _ObjectRowsTask(ItemTask):
    """Picklable per-item task: the item's ground-truth rows (from the one parse of its object
    features, no annotation objects), or None if not annotated."""

    def __call__(self, frame_id: str) -> list[ObjectRow] | None:
        from zod.annotations._common import read_feature_list
        from zod.constants import AnnotationProject

        entry = self.item(frame_id).info.annotations.get(AnnotationProject.OBJECT_DETECTION)
        if entry is None:
            return None
        path = entry.filepath
        features = read_feature_list(path, "object detection annotation")
        return box_rows(box_set_from_features(features, path))


def ground_truth_from_dataset(
    dataset_root: str | os.PathLike[str],
    version: str = "full",
    split: str = "val",
    *,
    frame_ids: Iterable[str | int] | None = None,
    skip_missing: bool = False,
    workers: int = 1,
    subset: str = "frames",
) -> DetectionBoxes:
    """Ground truth of a split (3D boxes of the object annotations, lidar frame).

    Args:
        dataset_root: folder holding ``trainval-<subset>-<version>.json``.
        version: ``"full"`` or ``"mini"``.
        split: ``"train"`` or ``"val"``.
        frame_ids: evaluate only these frames of the split (default: the whole split; a frame
            outside the split is a ``ValueError``).
        skip_missing: leave out frames whose object annotation file is not on disk or that
            are not annotated (default: raise ``FrameFailures`` / ``NotAnnotatedError``).
        workers: processes reading the annotation files (1: in this process; 0: all cores).
        subset: ``"frames"`` (ZOD Frames) or ``"sequences"`` (the keyframe of each sequence).
    """
    root = str(Path(dataset_root).expanduser())
    dataset = open_dataset(root, version, subset)
    split_ids = sorted(normalize_frame_id(f) for f in dataset.get_split(split))
    if frame_ids is None:
        ids = split_ids
    else:
        ids = list(dict.fromkeys(normalize_frame_id(f) for f in frame_ids))
        outside = sorted(set(ids) - set(split_ids))
        if outside:
            raise ValueError(
                f"{len(outside)} frames are not in the {split} split of {version} "
                f"(e.g. {outside[:3]})"
            )
    run = read_items(
        _ObjectRowsTask(root, version, subset), ids, workers, skip_missing, "reading ground truth"
    )
    rows_per_frame: dict[str, list[ObjectRow]] = {}
    for frame_id, rows in run.ok():
        if rows is None:
            if not skip_missing:
                raise NotAnnotatedError(f"frame {frame_id} has no object_detection annotation")
            continue
        rows_per_frame[frame_id] = rows
    return ground_truth_from_rows(rows_per_frame)
