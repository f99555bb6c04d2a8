"""Lane annotations (spec §11, ``lane_markings.json``): markings, shaded areas, road paintings.

``geometry`` keeps the GeoJSON coordinates (rings of [x, y] pixels) with degenerate rings
(< 3 points) removed; ``polygons`` gives them as numpy rings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from zod.annotations._common import to_bool
from zod.annotations._polygons import clean_coordinates, polygons_from_coordinates

_PAINTING_FLAGS = (
    ("contains_arrow", "ContainsArrow", "arrow"),
    ("contains_pictogram", "ContainsPictogram", "pictogram"),
    ("contains_text", "ContainsText", "text"),
    ("contains_trafficsign", "ContainsTrafficSign", "trafficsign"),
    ("contains_crosswalk", "ContainsCrossWalk", "crosswalk"),
    ("contains_marker", "ContainsMarker", "marker"),
    ("contains_other", "ContainsOther", "other"),
)


@dataclass
class LaneAnnotation:
    """Base of the three lane annotation kinds."""

    uuid: str
    geometry: list[Any]  # GeoJSON coordinates (Polygon: rings; MultiPolygon: polygons of rings)

    @property
    def polygons(self) -> list[list[np.ndarray]]:
        """Polygons as lists of rings (K, 2) float64 (outline first, then holes)."""
        return polygons_from_coordinates(self.geometry)


@dataclass
class LaneMarkingAnnotation(LaneAnnotation):
    type: str  # "solid", "dashed", ...
    colored: bool
    instance_id: int | None
    cardinality: str  # "Single" when absent, else e.g. "Double"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaneMarkingAnnotation:
        p = data["properties"]
        return cls(
            uuid=p.get("annotation_uuid", ""),
            geometry=clean_coordinates(data["geometry"]),
            type=p["class"],
            colored=bool(to_bool(p.get("coloured", False))),
            instance_id=None if p.get("InstanceID") is None else int(p["InstanceID"]),
            cardinality=p.get("MultipleLaneMarkings") or "Single",
        )


@dataclass
class ShadedAreaAnnotation(LaneAnnotation):
    type: str  # ShadedAreaType
    colored: bool

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShadedAreaAnnotation:
        p = data["properties"]
        return cls(
            uuid=p.get("annotation_uuid", ""),
            geometry=clean_coordinates(data["geometry"]),
            type=p.get("ShadedAreaType", "unknown"),
            colored=bool(to_bool(p.get("coloured", False))),
        )


@dataclass
class RoadPaintingAnnotation(LaneAnnotation):
    unclear: bool | None
    odd: bool | None
    contains_arrow: bool | None
    contains_pictogram: bool | None
    contains_text: bool | None
    contains_trafficsign: bool | None
    contains_crosswalk: bool | None
    contains_marker: bool | None
    contains_other: bool | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoadPaintingAnnotation:
        p = data["properties"]
        return cls(
            uuid=p.get("annotation_uuid", ""),
            geometry=clean_coordinates(data["geometry"]),
            unclear=to_bool(p.get("Unclear")),
            odd=to_bool(p.get("Odd")),
            **{attr: to_bool(p.get(key)) for attr, key, _ in _PAINTING_FLAGS},
        )

    @property
    def type(self) -> str:
        """The painting type: the first set Contains* flag, else "unclear"/"odd"/"none"."""
        for attr, _, name in _PAINTING_FLAGS:
            if getattr(self, attr):
                return name
        if self.unclear:
            return "unclear"
        if self.odd:
            return "odd"
        return "none"


def parse_lane_annotation(data: dict[str, Any]) -> LaneAnnotation:
    """One feature of ``lane_markings.json`` as the right kind (told apart by ``class``)."""
    properties = data["properties"]
    if "class" in properties:
        if properties["class"] == "shaded_area":
            return ShadedAreaAnnotation.from_dict(data)
        return LaneMarkingAnnotation.from_dict(data)
    return RoadPaintingAnnotation.from_dict(data)
