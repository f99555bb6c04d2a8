"""The one parse of object features (spec §11, ``object_detection.json``) into columns.

:func:`parse_object_features` reads a whole feature list into :class:`ObjectArrays` (one row
per feature, plus a :class:`~zod.geometry.box_set.Box3DSet` of the objects with a 3D box), with
the class, subclass and unclear rule of :mod:`zod.annotations.object_rules`. Everything that
reads object features goes through it: ``ObjectAnnotation`` (:mod:`zod.annotations.objects`),
:func:`box_set_from_features`, the converters (``zod.converters._frames.object_arrays``), the
evaluation's ground truth and, through ``ObjectAnnotation``, the torch datasets; COCO's
decoders (``zod.converters.coco_decode``), which need only class and unclear, call the rule's
functions directly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zod.annotations._common import boxes_xyxy_from_features
from zod.annotations.classes import OBJECT_CLASSES
from zod.annotations.object_rules import (
    FLAG_KEYS,
    classes_types_unclear,
    flag_column,
    object_subclasses,
    properties_of,
)
from zod.constants import Lidar
from zod.errors import FormatError
from zod.geometry.box_set import Box3DSet

__all__ = [
    "ATTRIBUTE_NAMES",
    "ObjectArrays",
    "box_set_from_features",
    "parse_object_features",
    "warn_unknown_classes",
]

ATTRIBUTE_NAMES = ("object_type", "occlusion_level", *FLAG_KEYS)
"""Per-object columns of ``ObjectArrays.attributes`` (``ObjectAnnotation`` attribute names)."""

_BOX_KEYS = (
    "size_3d_length",
    "size_3d_width",
    "size_3d_height",
    "orientation_3d_qw",
    "orientation_3d_qx",
    "orientation_3d_qy",
    "orientation_3d_qz",
)
_warned_classes: set[str] = set()


def _object_column(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


@dataclass(frozen=True, eq=False)
class ObjectArrays:
    """The objects of one ``object_detection.json`` as columns: N rows, one per feature, in
    file order.

    classes (N,) str (``Inconclusive`` -> ``Unclear``), subclasses (N,) str (spec §11),
    unclear (N,) bool, uuids (N,) str (``""`` when absent), boxes2d (N, 4) float64 xyxy pixels
    (the float32 values of the reference's ``Box2D``), attributes: ``ATTRIBUTE_NAMES`` -> (N,)
    object columns (type, occlusion ratio, the flags after ``to_bool``), has_box3d (N,) bool,
    and boxes3d: the M = ``has_box3d.sum()`` objects with a 3D box as a lidar-frame
    ``Box3DSet`` (file order; its columns are those rows, ``attributes["feature_index"]`` (M,)
    maps each box to its row here; quaternions that are not unit are normalised there), and
    box_values (M, 10) float64: centre, size and quaternion of each of those boxes exactly as
    written in the file (what ``ObjectAnnotation`` keeps, like the reference).
    """

    classes: np.ndarray
    subclasses: np.ndarray
    unclear: np.ndarray
    uuids: np.ndarray
    boxes2d: np.ndarray
    attributes: dict[str, np.ndarray]
    has_box3d: np.ndarray
    boxes3d: Box3DSet
    box_values: np.ndarray

    def __len__(self) -> int:
        return int(self.unclear.shape[0])

    @classmethod
    def empty(cls) -> ObjectArrays:
        """No objects (a frame without object annotations, or an empty file)."""
        return _arrays([], [], [], [], np.zeros((0, 4)), {k: [] for k in ATTRIBUTE_NAMES})


def _arrays(  # the columns as arrays; the 3D boxes are rows ``rows`` of the features
    classes: Sequence[str],
    subclasses: Sequence[str],
    unclear: Sequence[bool],
    uuids: Sequence[Any],
    boxes2d: np.ndarray,
    attributes: Mapping[str, Sequence[Any]],
    box_table: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> ObjectArrays:
    n = len(classes)
    columns = {k: _object_column(v) for k, v in attributes.items()}
    classes_col, subclasses_col, uuids_col = (
        _object_column(classes),
        _object_column(subclasses),
        _object_column(uuids),
    )
    unclear_col = np.asarray(unclear, dtype=bool).reshape(n)
    boxes2d = np.asarray(boxes2d, dtype=np.float64).reshape(n, 4)
    has_box3d = np.zeros(n, dtype=bool)
    box_values = np.zeros((0, 10)) if box_table is None else box_table.reshape(-1, 10)
    if rows is None or not len(rows):
        boxes3d = Box3DSet.empty(Lidar.VELODYNE)
        boxes3d.attributes["feature_index"] = np.zeros(0, dtype=np.int64)
    else:
        has_box3d[rows] = True
        boxes3d = Box3DSet(
            box_values[:, :3],
            box_values[:, 3:6],
            box_values[:, 6:10],
            Lidar.VELODYNE,
            classes_col[rows],
            subclasses_col[rows],
            uuids_col[rows],
            unclear_col[rows],
            boxes2d[rows],
            {k: v[rows] for k, v in columns.items()} | {"feature_index": rows},
        )
    return ObjectArrays(
        classes_col,
        subclasses_col,
        unclear_col,
        uuids_col,
        boxes2d,
        columns,
        has_box3d,
        boxes3d,
        box_values,
    )


def _box_row(props: dict[str, Any]) -> list[Any]:
    """Centre (3), size (3) and quaternion (4) values of one object's 3D box, as in the file."""
    location = props["location_3d"]  # a GeoJSON Point (or a bare [x, y, z])
    center = location["coordinates"] if isinstance(location, dict) else location
    if len(center) != 3:
        raise ValueError(f"location_3d has {len(center)} coordinates, expected 3")
    return [*center, *(props[key] for key in _BOX_KEYS)]


def warn_unknown_classes(classes: Sequence[str], source: Any, stacklevel: int = 2) -> None:
    """Warn (once per class name and process) about classes outside spec §11; kept as is."""
    for name in set(classes).difference(OBJECT_CLASSES).difference(_warned_classes):
        _warned_classes.add(name)
        warnings.warn(f"{source}: unknown object class {name!r} kept as is", stacklevel=stacklevel)


def check_box_values(table: np.ndarray, source: Any) -> None:
    """``FormatError`` (naming ``source``) unless the 3D box rows (M, 10): centre (3), size
    L, W, H (3), quaternion wxyz (4), are all finite with sizes >= 0 (every decoder checks)."""
    if not np.all(np.isfinite(table)):
        raise FormatError(source, "object 3D box with non-finite values")
    if np.any(table[:, 3:6] < 0):
        raise FormatError(source, "object 3D box with a negative size")


def _parse(features: Sequence[Mapping[str, Any]], source: Any) -> ObjectArrays:
    if not features:
        return ObjectArrays.empty()
    props = properties_of(features, source)
    classes, types, unclear = classes_types_unclear(props, source)
    flags = {key: flag_column([p.get(key) for p in props], key, source) for key in FLAG_KEYS}
    warn_unknown_classes(classes, source, stacklevel=4)
    rows = np.flatnonzero([p.get("location_3d") is not None for p in props])
    try:
        table = np.array([_box_row(props[i]) for i in rows], dtype=np.float64).reshape(-1, 10)
    except KeyError as err:
        raise FormatError(source, f"object 3D box without {err}") from None
    except (TypeError, ValueError, OverflowError) as err:
        raise FormatError(source, f"malformed object 3D box: {err}") from None
    check_box_values(table, source)
    return _arrays(
        classes,
        object_subclasses(classes, unclear, types, flags),
        unclear,
        [p.get("annotation_uuid", "") for p in props],
        boxes_xyxy_from_features(features, source),
        {"object_type": types, "occlusion_level": [p.get("occlusion_ratio") for p in props]}
        | flags,
        table,
        rows,
    )


def parse_object_features(
    features: Sequence[Mapping[str, Any]], source: Any = None
) -> ObjectArrays:
    """:class:`ObjectArrays` of the features of an ``object_detection.json`` (the one parse).

    A malformed feature raises ``FormatError`` naming ``source`` (e.g. the file path), the
    feature's index and its uuid.
    """
    try:
        return _parse(features, source)
    except FormatError as err:
        if len(features) == 1:
            raise FormatError(source, f"object 0 {_uuid(features[0])}: {err.problem}") from None
        for i, feature in enumerate(features):  # the slow path of a bad file: which feature
            try:
                _parse([feature], source)
            except FormatError as one:
                raise FormatError(source, f"object {i} {_uuid(feature)}: {one.problem}") from None
        raise


def _uuid(feature: Any) -> str:
    """``(uuid)`` of a feature, for error messages."""
    props = feature.get("properties") if isinstance(feature, Mapping) else None
    return f"({props.get('annotation_uuid', '?') if isinstance(props, dict) else '?'})"


def box_set_from_features(features: Sequence[Mapping[str, Any]], source: Any = None) -> Box3DSet:
    """The lidar-frame ``Box3DSet`` of the objects that have a 3D box (spec §11).

    ``attributes["feature_index"]`` gives each box's index in ``features``; the per-box columns
    (classes, subclasses, unclear, uuids, 2D boxes, attributes) follow the rules above.
    """
    return parse_object_features(features, source).boxes3d
