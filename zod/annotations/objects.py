"""Object detection annotations (spec §11, ``object_detection.json``): ``ObjectAnnotation``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zod.annotations._common import boxes_xyxy_from_corners
from zod.annotations.object_features import ATTRIBUTE_NAMES, ObjectArrays, parse_object_features
from zod.annotations.object_rules import object_subclass
from zod.constants import Camera, CoordinateFrame, Lidar
from zod.geometry.box import Box2D, Box3D
from zod.geometry.box_set import Box3DSet

__all__ = [
    "LAZY",
    "AnnotatedObject",
    "ObjectAnnotation",
    "ObjectBoxes",
    "box_set_from_object_annotations",
    "lazy_object_annotations",
    "object_annotations_from_arrays",
    "object_annotations_from_box_set",
    "object_annotations_from_features",
    "object_subclass",
]


class _Lazy:
    """The value of a box not built yet (pickles as the one sentinel)."""

    def __repr__(self) -> str:
        return "<lazy>"

    def __reduce__(self) -> str:
        return "LAZY"


LAZY: Any = _Lazy()
"""Stands for a box of an ``ObjectAnnotation`` that its ``ObjectBoxes`` builds on first read."""


class ObjectBoxes:
    """The 2D and 3D boxes of one file's N objects, built all at once on the first read.

    From the parse's arrays: the float32 (N, 4) xyxy boxes, or the objects' corner lists
    (K_i (x, y) pairs: reduced to xyxy then), and the 3D boxes' values (M, 10) (centre, size,
    quaternion as in the file) of the objects ``rows`` (M,). Each ``ObjectAnnotation`` built
    lazily holds this and its index.
    """

    __slots__ = ("_boxes2d", "_boxes3d", "_corners", "_n", "_rows", "_values", "_xyxy")

    def __init__(
        self,
        n: int,
        xyxy: np.ndarray | None,
        corners: Sequence[Any] | None,
        values: np.ndarray | Sequence[Sequence[float]],
        rows: Sequence[int],
    ) -> None:
        self._n, self._xyxy, self._corners = n, xyxy, corners
        self._values, self._rows = values, rows
        self._boxes2d: list[Box2D] | None = None
        self._boxes3d: list[Box3D | None] | None = None

    def box2d(self, index: int) -> Box2D:
        if self._boxes2d is None:
            xyxy = self._xyxy
            if xyxy is None:
                xyxy = boxes_xyxy_from_corners(self._corners or [])
            front = Camera.FRONT
            self._boxes2d = [Box2D._from_xyxy(row, front) for row in xyxy]
            self._corners = self._xyxy = None
        return self._boxes2d[index]

    def box3d(self, index: int) -> Box3D | None:
        if self._boxes3d is None:
            boxes: list[Box3D | None] = [None] * self._n
            if len(self._rows):
                table = np.array(self._values, dtype=np.float64).reshape(-1, 10)
                lidar = Lidar.VELODYNE
                for i, row, (w, x, y, z) in zip(self._rows, table, table[:, 6:10].tolist()):
                    boxes[i] = Box3D._from_values(row[:3], row[3:6], (w, x, y, z), lidar)
            self._boxes3d = boxes
            self._values = ()
        return self._boxes3d[index]


class _LazyBoxFields:
    """ObjectAnnotation's box state (a plain base class: instance attributes, not fields)."""

    _box2d: Box2D
    _box3d: Box3D | None
    _boxes: ObjectBoxes
    _index: int


@dataclass
class ObjectAnnotation(_LazyBoxFields):
    """One annotated object: a 2D box always, a 3D box (lidar frame) when annotated.

    Drop-in for the reference's. Read from a file, its boxes are made on first read of
    ``box2d`` / ``box3d`` (for all the objects of the file at once, see ``ObjectBoxes``).
    """

    box2d: Box2D  # box2d and box3d: properties below (built on first read)
    unclear: bool
    name: str  # class ("Vehicle", ...; "Inconclusive" is read as "Unclear")
    uuid: str
    box3d: Box3D | None
    object_type: str | None  # subclass type ("Car", ...), from `type` (older files: `object_type`)
    occlusion_level: str | None  # None|Light|Medium|Heavy|VeryHeavy
    artificial: bool | None
    with_rider: bool | None
    emergency: bool | None
    traffic_content_visible: bool | None

    @property
    def superclass(self) -> str:
        return self.name

    @property
    def subclass(self) -> str:
        """The reference devkit's subclass, by the ordered rules of spec §11."""
        return object_subclass(
            self.superclass,
            self.unclear,
            self.object_type,
            self.artificial,
            self.with_rider,
            self.emergency,
            self.traffic_content_visible,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Any = None) -> ObjectAnnotation:
        """Parse one feature; ``FormatError`` (naming ``source``) for a malformed one."""
        return object_annotations_from_features([data], source)[0]

    # ------------------------------------------------------------------ lazy boxes
    def _get_box2d(self) -> Box2D:
        box = self._box2d
        if box is LAZY:
            box = self._box2d = self._boxes.box2d(self._index)
        return box

    def _set_box2d(self, box: Box2D) -> None:
        self._box2d = box

    def _get_box3d(self) -> Box3D | None:
        box = self._box3d
        if box is LAZY:
            box = self._box3d = self._boxes.box3d(self._index)
        return box

    def _set_box3d(self, box: Box3D | None) -> None:
        self._box3d = box

    def __getstate__(self) -> dict[str, Any]:
        """The fields with the boxes built (a pickle holds no lazy state)."""
        state = dict(self.__dict__)
        state["_box2d"], state["_box3d"] = self.box2d, self.box3d
        state.pop("_boxes", None)
        state.pop("_index", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for name in ("box2d", "box3d"):  # a pickle of an object that held them as fields
            if name in state:
                state["_" + name] = state.pop(name)
        self.__dict__.update(state)


ObjectAnnotation.box2d = property(  # type: ignore[assignment]
    ObjectAnnotation._get_box2d, ObjectAnnotation._set_box2d, doc="The 2D box (front camera)."
)
ObjectAnnotation.box3d = property(  # type: ignore[assignment]
    ObjectAnnotation._get_box3d,
    ObjectAnnotation._set_box3d,
    doc="The 3D box in the lidar frame, or None (built on first read).",
)


def lazy_object_annotations(
    boxes: ObjectBoxes, columns: Sequence[Sequence[Any]]
) -> list[ObjectAnnotation]:
    """ObjectAnnotations whose boxes ``boxes`` builds on first read; ``columns``: unclear,
    name, uuid, object_type, occlusion_level and the four flags, each (N,)."""
    out = []
    for index, (unclear, name, uuid, kind, occlusion, *flags) in enumerate(zip(*columns)):
        obj = ObjectAnnotation(LAZY, unclear, name, uuid, LAZY, kind, occlusion, *flags)
        obj._boxes = boxes
        obj._index = index
        out.append(obj)
    return out


def object_annotations_from_arrays(arrays: ObjectArrays) -> list[ObjectAnnotation]:
    """One ``ObjectAnnotation`` per row of ``arrays`` (3D boxes in the lidar frame, made on
    first read)."""
    boxes = ObjectBoxes(
        len(arrays),
        arrays.boxes2d.astype(np.float32),  # the reference's Box2D precision
        None,
        arrays.box_values.copy(),  # as in the file (quaternions not normalised)
        arrays.boxes3d.attributes["feature_index"].tolist(),
    )
    attributes = [arrays.attributes[name].tolist() for name in ATTRIBUTE_NAMES]
    return lazy_object_annotations(
        boxes,
        [arrays.unclear.tolist(), arrays.classes.tolist(), arrays.uuids.tolist(), *attributes],
    )


def object_annotations_from_features(
    features: Sequence[Mapping[str, Any]], source: Any = None
) -> list[ObjectAnnotation]:
    """The ``ObjectAnnotation`` of each feature of an ``object_detection.json``, through the one
    parse (:func:`zod.annotations.object_features.parse_object_features`)."""
    return object_annotations_from_arrays(parse_object_features(features, source))


def box_set_from_object_annotations(
    objects: Sequence[ObjectAnnotation], frame: CoordinateFrame | None = None
) -> Box3DSet:
    """The ``Box3DSet`` of the objects that have a 3D box (``attributes["object_index"]`` maps
    each box back to its index in ``objects``).

    The set is in the boxes' frame (the lidar for annotations); ``frame`` only names the frame
    of an empty result.
    """
    kept = [(i, o) for i, o in enumerate(objects) if o.box3d is not None]
    if not kept:
        return Box3DSet.empty(Lidar.VELODYNE if frame is None else frame)
    geometry = Box3DSet.from_boxes([o.box3d for _, o in kept if o.box3d is not None])
    objs = [o for _, o in kept]
    return Box3DSet(
        geometry.centers_m,
        geometry.sizes_lwh_m,
        geometry.quaternions_wxyz,
        geometry.frame,
        [o.name for o in objs],
        [o.subclass for o in objs],
        [o.uuid for o in objs],
        [bool(o.unclear) for o in objs],
        np.array([np.asarray(o.box2d.xyxy, dtype=np.float64) for o in objs]),
        {name: [getattr(o, name, None) for o in objs] for name in ATTRIBUTE_NAMES}
        | {"object_index": np.array([i for i, _ in kept], dtype=np.int64)},
    )


def object_annotations_from_box_set(boxes: Box3DSet) -> list[ObjectAnnotation]:
    """One ``ObjectAnnotation`` per box of ``boxes`` (attributes missing from the set: None)."""
    out = []
    for i, box in enumerate(boxes.to_boxes()):
        values = [
            boxes.attributes[name][i] if name in boxes.attributes else None
            for name in ATTRIBUTE_NAMES
        ]
        out.append(
            ObjectAnnotation(
                Box2D(boxes.boxes2d[i].astype(np.float32), Camera.FRONT),
                bool(boxes.unclear[i]),
                boxes.classes[i],
                boxes.uuids[i],
                box,
                *values,
            )
        )
    return out


# Compatibility with the reference's old name
AnnotatedObject = ObjectAnnotation
