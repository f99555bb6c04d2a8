"""Ego road annotations (spec §11, ``ego_road.json``); ``Barrier``/``RoadEdge`` are not ego road."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from zod.annotations._polygons import clean_coordinates, polygons_from_coordinates


class EgoRoadClass(Enum):
    ROAD = "EgoRoad_Road"
    DEBRIS = "EgoRoad_Debris"


@dataclass
class EgoRoadAnnotation:
    uuid: str
    geometry: list[Any]  # GeoJSON coordinates, degenerate rings removed
    type: EgoRoadClass

    @property
    def polygons(self) -> list[list[np.ndarray]]:
        """Polygons as lists of rings (K, 2) float64 (outline first, then holes)."""
        return polygons_from_coordinates(self.geometry)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EgoRoadAnnotation:
        return cls(
            uuid=data["properties"].get("annotation_uuid", ""),
            geometry=clean_coordinates(data["geometry"]),
            type=EgoRoadClass(data["properties"]["class"]),
        )
