"""Traffic sign annotations (spec §11, ``traffic_signs.json``): ``TrafficSignAnnotation``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from zod.annotations._common import to_bool
from zod.annotations.classes import get_class_idx
from zod.constants import Camera
from zod.errors import FormatError
from zod.geometry.box import Box2D

_warned: set[str] = set()


@dataclass
class TrafficSignAnnotation:
    """One traffic sign: its box, and its class unless unclear.

    ``traffic_sign_idx`` is the tsv index of the class; ``None`` for a name outside the table
    (kept in ``traffic_sign_class``; a warning is given once per name).
    """

    bounding_box: Box2D
    unclear: bool
    uuid: str
    traffic_sign_class: str | None = None
    traffic_sign_idx: int | None = None
    occlusion_ratio: str | None = None
    annotation_uuid: str | None = None
    electronic_sign: bool | None = None

    @property
    def box2d(self) -> Box2D:
        return self.bounding_box

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Any = None) -> TrafficSignAnnotation:
        try:
            properties = data["properties"]
            points = np.asarray(data["geometry"]["coordinates"], dtype=np.float64).reshape(-1, 2)
            if len(points) == 0:
                raise FormatError(source, "traffic sign with an empty box geometry")
            box = Box2D.from_points(points, Camera.FRONT)
            uuid = properties.get("annotation_uuid", "")
            name = properties.get("class", "unclear")
            if name is None or str(name).lower() == "unclear":
                return cls(bounding_box=box, unclear=True, uuid=uuid)
            idx = get_class_idx(name)
            if idx is None and name not in _warned:
                _warned.add(name)
                warnings.warn(
                    f"{source}: traffic-sign class {name!r} is not in the class table; "
                    "its index is None",
                    stacklevel=2,
                )
            return cls(
                bounding_box=box,
                unclear=bool(to_bool(properties.get("unclear", False))),
                uuid=uuid,
                traffic_sign_class=name,
                traffic_sign_idx=idx,
                occlusion_ratio=properties.get("occlusion_ratio"),
                annotation_uuid=uuid,
                electronic_sign=to_bool(properties.get("is_electronic")),
            )
        except FormatError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise FormatError(source, f"traffic sign: {type(err).__name__}: {err}") from None
