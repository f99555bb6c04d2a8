"""zod-devkit: a fast, complete and robust development kit for the Zenseact Open Dataset.

The top-level names are those of the reference devkit (``from zod import ZodFrames``); they are
imported lazily so that ``import zod`` stays cheap and needs only the core dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zod import _lazy

# public name -> module that defines it
_LAZY_NAMES: dict[str, str] = {
    "ZodDataset": "zod.dataset",
    "ZodFrames": "zod.dataset",
    "ZodSequences": "zod.dataset",
    "ZodDrives": "zod.dataset",
    "ZodFrame": "zod.frame",
    "ZodSequence": "zod.frame",
    "ObjectAnnotation": "zod.annotations.objects",
    "LaneAnnotation": "zod.annotations.lanes",
    "EgoRoadAnnotation": "zod.annotations.ego_road",
    "RoadConditionAnnotation": "zod.annotations.road_condition",
    "TrafficSignAnnotation": "zod.annotations.traffic_signs",
    "AnnotationProject": "zod.constants",
    "Anonymization": "zod.constants",
    "Camera": "zod.constants",
    "Lidar": "zod.constants",
    "Radar": "zod.constants",
    "NotAnnotatedError": "zod.errors",
    "ZodError": "zod.errors",
    "MissingFileError": "zod.errors",
    "FormatError": "zod.errors",
}

__all__ = [
    "AnnotationProject",
    "Anonymization",
    "Camera",
    "EgoRoadAnnotation",
    "FormatError",
    "LaneAnnotation",
    "Lidar",
    "MissingFileError",
    "NotAnnotatedError",
    "ObjectAnnotation",
    "Radar",
    "RoadConditionAnnotation",
    "TrafficSignAnnotation",
    "ZodDataset",
    "ZodDrives",
    "ZodError",
    "ZodFrame",
    "ZodFrames",
    "ZodSequence",
    "ZodSequences",
]


def _version() -> str:
    """The installed distribution's version (importlib.metadata costs ~30 ms: only on demand)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("zod-devkit")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0.0.0"


_lazy_getattr = _lazy.lazy_getattr(__name__, _LAZY_NAMES, globals())


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    return _lazy_getattr(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from zod.annotations.ego_road import EgoRoadAnnotation
    from zod.annotations.lanes import LaneAnnotation
    from zod.annotations.objects import ObjectAnnotation
    from zod.annotations.road_condition import RoadConditionAnnotation
    from zod.annotations.traffic_signs import TrafficSignAnnotation
    from zod.constants import AnnotationProject, Anonymization, Camera, Lidar, Radar
    from zod.dataset import ZodDataset, ZodDrives, ZodFrames, ZodSequences
    from zod.errors import FormatError, MissingFileError, NotAnnotatedError, ZodError
    from zod.frame import ZodFrame, ZodSequence
