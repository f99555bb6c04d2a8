"""Names and enums of the Zenseact Open Dataset (compatible with the reference devkit's)."""

from __future__ import annotations

import typing
from enum import Enum
from typing import Literal

from zod.errors import NotAnnotatedError as NotAnnotatedError

# Sub-dataset folders under the dataset root.
FRAMES = "single_frames"
SEQUENCES = "sequences"
DRIVES = "drives"
SUBSETS = (FRAMES, SEQUENCES, DRIVES)
DB_DATE_STRING_FORMAT_W_MICROSECONDS = "%Y-%m-%dT%H:%M:%S.%f%z"

Split = Literal["train", "val", "blacklisted"]
SPLITS = typing.get_args(Split)
TRAIN, VAL, BLACKLISTED = SPLITS

Version = Literal["full", "mini"]
VERSIONS = typing.get_args(Version)
FULL, MINI = VERSIONS

# Index file names per sub-dataset and version (spec section 2).
TRAINVAL_FILES = {
    subset_dir: {version: f"trainval-{name}-{version}.json" for version in VERSIONS}
    for subset_dir, name in ((FRAMES, "frames"), (SEQUENCES, "sequences"), (DRIVES, "drives"))
}


class Anonymization(Enum):
    BLUR = "blur"
    DNAT = "dnat"
    ORIGINAL = "original"


class AnnotationProject(Enum):
    OBJECT_DETECTION = "object_detection"
    LANE_MARKINGS = "lane_markings"
    TRAFFIC_SIGNS = "traffic_signs"
    EGO_ROAD = "ego_road"
    ROAD_CONDITION = "road_condition"


class Camera(Enum):
    FRONT = "front"


class Lidar(Enum):
    VELODYNE = "velodyne"


class Radar(Enum):
    FRONT = "front"


Ego = Literal["ego"]
EGO: Ego = "ego"
CoordinateFrame = Camera | Lidar | Radar | Ego

# Frames mean image colour (RGB, 0..1), spec section 12.
FRAMES_IMAGE_MEAN = [0.337, 0.345, 0.367]
FRAMES_IMAGE_STD = [0.160, 0.180, 0.214]

__all__ = [
    "BLACKLISTED",
    "DRIVES",
    "EGO",
    "FRAMES",
    "FULL",
    "MINI",
    "SEQUENCES",
    "SPLITS",
    "TRAIN",
    "TRAINVAL_FILES",
    "VAL",
    "VERSIONS",
    "AnnotationProject",
    "Anonymization",
    "Camera",
    "CoordinateFrame",
    "Ego",
    "Lidar",
    "NotAnnotatedError",
    "Radar",
]
