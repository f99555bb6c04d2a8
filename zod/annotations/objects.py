"""Object detection annotations (spec §11, ``object_detection.json``): ``ObjectAnnotation``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyquaternion import Quaternion

from zod.annotations._common import get_key, to_bool
from zod.annotations.classes import CLASSES_WITH_SUBCLASSES, INCONCLUSIVE, OBJECT_CLASSES
from zod.constants import Camera, Lidar
from zod.errors import FormatError
from zod.geometry.box import Box2D, Box3D

_SIZE_KEYS = ("size_3d_length", "size_3d_width", "size_3d_height")
_QUAT_KEYS = ("orientation_3d_qw", "orientation_3d_qx", "orientation_3d_qy", "orientation_3d_qz")
_warned_classes: set[str] = set()


def object_subclass(
    name: str,
    unclear: bool,
    object_type: str | None = None,
    artificial: bool | None = None,
    with_rider: bool | None = None,
    emergency: bool | None = None,
    traffic_content_visible: bool | None = None,
) -> str:
    """The reference devkit's subclass of an object, by the ordered rules of spec §11.

    The one place the rule lives: ``ObjectAnnotation.subclass``, ``Box3DSet`` and the
    converters all call it (on parsed values, no annotation object needed).
    """
    if unclear:
        return "Unclear"
    if name not in CLASSES_WITH_SUBCLASSES:
        return name
    if artificial is True:
        return f"{name}_Artificial"
    if traffic_content_visible is not None:
        return f"{name}_{'Front' if traffic_content_visible else 'Back'}"
    if with_rider is False:
        return f"{name}_NoRider"
    if emergency is True and name == "Vehicle":
        return f"{name}_Emergency"
    if object_type is not None:
        return f"{name}_{object_type}"
    return f"{name}_Other"  # the reference raises here; no rule applies, so "Other"


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
        try:
            properties: dict[str, Any] = data["properties"]
            coordinates = data["geometry"]["coordinates"]
            points = np.asarray(coordinates, dtype=np.float64).reshape(-1, 2)
            if len(points) == 0:
                raise FormatError(source, "object with an empty box geometry")
            box2d = Box2D.from_points(points, frame=Camera.FRONT)
            box3d = None
            if properties.get("location_3d") is not None:
                location = properties["location_3d"]
                center = location["coordinates"] if isinstance(location, dict) else location
                box3d = Box3D(
                    center=np.asarray(center, dtype=np.float64).reshape(3),
                    size=np.array([float(properties[k]) for k in _SIZE_KEYS]),
                    orientation=Quaternion(*[float(properties[k]) for k in _QUAT_KEYS]),
                    frame=Lidar.VELODYNE,
                )
            name = properties["class"]
            object_type = get_key(properties, "type", "object_type")
            unclear = bool(to_bool(properties.get("unclear", False))) or INCONCLUSIVE in (
                name,
                object_type,
            )
            if name == INCONCLUSIVE:
                name = "Unclear"
            if name not in OBJECT_CLASSES and name not in _warned_classes:
                _warned_classes.add(name)
                warnings.warn(f"{source}: unknown object class {name!r} kept as is", stacklevel=2)
            return cls(
                box2d=box2d,
                unclear=unclear,
                name=name,
                uuid=properties.get("annotation_uuid", ""),
                box3d=box3d,
                object_type=object_type,
                occlusion_level=properties.get("occlusion_ratio"),
                artificial=to_bool(properties.get("artificial")),
                with_rider=to_bool(properties.get("with_rider")),
                emergency=to_bool(properties.get("emergency")),
                traffic_content_visible=to_bool(properties.get("traffic_content_visible")),
            )
        except FormatError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            what = (
                f"missing key {err}"
                if isinstance(err, KeyError)
                else f"{type(err).__name__}: {err}"
            )
            uuid = (
                data.get("properties", {}).get("annotation_uuid", "?")
                if isinstance(data, dict)
                else "?"
            )
            raise FormatError(source, f"object {uuid}: {what}") from None


# Compatibility with the reference's old name
AnnotatedObject = ObjectAnnotation
