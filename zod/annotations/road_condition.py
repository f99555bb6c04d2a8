"""Road condition annotation (spec §11, ``road_condition.json``): one object per frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zod.annotations._common import to_bool


@dataclass
class RoadConditionAnnotation:
    wet: bool
    snowy: bool

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoadConditionAnnotation:
        """From ``{"wetness": bool, "snow_coverage": bool}`` (camelCase ``snowCoverage``
        accepted)."""
        snow = data["snow_coverage"] if "snow_coverage" in data else data["snowCoverage"]
        return cls(wet=bool(to_bool(data["wetness"])), snowy=bool(to_bool(snow)))
