"""Object detection annotations (spec §11, ``object_detection.json``): ``ObjectAnnotation``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyquaternion import Quaternion

from zod.annotations.object_features import ATTRIBUTE_NAMES, ObjectArrays, parse_object_features
from zod.annotations.object_rules import object_subclass
from zod.constants import Camera, CoordinateFrame, Lidar
from zod.geometry.box import Box2D, Box3D
from zod.geometry.box_set import Box3DSet

__all__ = [
    "AnnotatedObject",
    "ObjectAnnotation",
    "box_set_from_object_annotations",
    "object_annotations_from_arrays",
    "object_annotations_from_box_set",
    "object_annotations_from_features",
    "object_subclass",
]


@dataclass
class ObjectAnnotation:
    """One annotated object: a 2D box always, a 3D box (lidar frame) when annotated."""

    box2d: Box2D
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


def object_annotations_from_arrays(arrays: ObjectArrays) -> list[ObjectAnnotation]:
    """One ``ObjectAnnotation`` per row of ``arrays`` (3D boxes in the lidar frame)."""
    n = len(arrays)
    boxes2d = arrays.boxes2d.astype(np.float32)  # the reference's Box2D precision
    boxes3d: list[Box3D | None] = [None] * n
    values = arrays.box_values.copy()  # as in the file (quaternions not normalised)
    quaternions = values[:, 6:10].tolist()
    frame = arrays.boxes3d.frame
    for row, i in enumerate(arrays.boxes3d.attributes["feature_index"].tolist()):
        boxes3d[i] = Box3D(values[row, :3], values[row, 3:6], Quaternion(quaternions[row]), frame)
    attributes = [arrays.attributes[name].tolist() for name in ATTRIBUTE_NAMES]
    return [
        ObjectAnnotation(
            Box2D(boxes2d[i], Camera.FRONT),
            unclear,
            name,
            uuid,
            boxes3d[i],
            *values,
        )
        for i, (name, unclear, uuid, *values) in enumerate(
            zip(
                arrays.classes.tolist(), arrays.unclear.tolist(), arrays.uuids.tolist(), *attributes
            )
        )
    ]


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
