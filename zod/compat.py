"""The reference devkit's module paths, served from one alias table.

Existing user code imports the reference devkit (PyPI ``zod``) by its module paths, e.g.
``from zod.data_classes.box import Box3D`` or ``from zod.anno.object import ObjectAnnotation``.
Our own layout is different (see docs/architecture.md); instead of a tree of re-export files,
this module installs an import hook that creates each old module on first import and binds its
names lazily to our implementation. Nothing here re-implements behaviour.

    old module path                 names             our module
    zod.data_classes.box      ->    Box2D, Box3D  ->  zod.geometry.box
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# old module -> {old name: "our.module:our_name"}; a module whose table is empty is a package
# that only holds submodules.
ALIASES: dict[str, dict[str, str]] = {
    "zod.zod_frames": {"ZodFrames": "zod.dataset:ZodFrames"},
    "zod.zod_sequences": {"ZodSequences": "zod.dataset:ZodSequences"},
    "zod.zod_drives": {"ZodDrives": "zod.dataset:ZodDrives"},
    "zod._zod_dataset": {"ZodDataset": "zod.dataset:ZodDataset"},
    "zod.data_classes": {
        "Calibration": "zod.calibration:Calibration",
        "Pose": "zod.geometry.pose:Pose",
        "LidarData": "zod.sensors.lidar:LidarData",
    },
    "zod.data_classes.box": {"Box2D": "zod.geometry.box:Box2D", "Box3D": "zod.geometry.box:Box3D"},
    "zod.data_classes.calibration": {
        name: f"zod.calibration:{name}"
        for name in ("Calibration", "CameraCalibration", "LidarCalibration", "RadarCalibration")
    },
    "zod.data_classes.ego_motion": {
        "EgoMotion": "zod.ego_motion:EgoMotion",
        "interpolate_transforms": "zod.geometry.transforms:interpolate_transforms",
    },
    "zod.data_classes.oxts": {
        "EgoMotion": "zod.ego_motion:EgoMotion",
        "interpolate_transforms": "zod.geometry.transforms:interpolate_transforms",
    },
    "zod.data_classes.frame": {"ZodFrame": "zod.frame:ZodFrame"},
    "zod.data_classes.sequence": {"ZodSequence": "zod.frame:ZodSequence"},
    "zod.data_classes.geometry": {"Pose": "zod.geometry.pose:Pose"},
    "zod.data_classes.info": {"Information": "zod.info:Information"},
    "zod.data_classes.metadata": {
        "FrameMetaData": "zod.metadata:FrameMetaData",
        "SequenceMetadata": "zod.metadata:SequenceMetadata",
    },
    "zod.data_classes.sensor": {
        "LidarData": "zod.sensors.lidar:LidarData",
        "RadarData": "zod.sensors.radar:RadarData",
        **{
            name: f"zod.sensors.frames:{name}"
            for name in ("SensorFrame", "CameraFrame", "LidarFrame", "RadarFrames")
        },
    },
    "zod.data_classes.vehicle_data": {
        name: f"zod.vehicle_data:{name}"
        for name in ("VehicleData", "EgoVehicleData", "EgoVehicleControls", "Satellite")
    },
    "zod.anno": {},
    "zod.anno.object": {
        "ObjectAnnotation": "zod.annotations.objects:ObjectAnnotation",
        **{
            name: f"zod.annotations.classes:{name}"
            for name in (
                "OBJECT_CLASSES",
                "OBJECT_CLASSES_DYNAMIC",
                "OBJECT_CLASSES_STATIC",
                "OBJECT_SUBCLASSES",
                "VEHICLE_SUBCLASSES",
                "VULNERABLE_VEHICLE_SUBCLASSES",
            )
        },
    },
    "zod.anno.lane": {
        name: f"zod.annotations.lanes:{name}"
        for name in (
            "LaneAnnotation",
            "LaneMarkingAnnotation",
            "ShadedAreaAnnotation",
            "RoadPaintingAnnotation",
        )
    },
    "zod.anno.ego_road": {
        "EgoRoadAnnotation": "zod.annotations.ego_road:EgoRoadAnnotation",
        "EgoRoadClass": "zod.annotations.ego_road:EgoRoadClass",
    },
    "zod.anno.road_condition": {
        "RoadConditionAnnotation": "zod.annotations.road_condition:RoadConditionAnnotation"
    },
    "zod.anno.parser": {"AnnotationFile": "zod.annotations.parser:AnnotationFile"},
    "zod.anno.tsr": {},
    "zod.anno.tsr.traffic_sign": {
        "TrafficSignAnnotation": "zod.annotations.traffic_signs:TrafficSignAnnotation"
    },
    "zod.anno.tsr.class_map": {
        name: f"zod.annotations.classes:{name}"
        for name in (
            "get_class_idx",
            "get_class_name",
            "CLASS_NAME_TO_CLASS_IDX",
            "CLASS_IDX_TO_CLASS_NAME",
        )
    },
    "zod.utils": {},
    "zod.utils.compensation": {
        "motion_compensate_scanwise": "zod.geometry.compensation:motion_compensate_scanwise",
        "motion_compensate_pointwise": "zod.geometry.compensation:motion_compensate_pointwise",
    },
    "zod.utils.geometry": {
        "project_3d_to_2d_kannala": "zod.geometry.fisheye:project_3d_to_2d_kannala",
        "unproject_2d_to_3d_kannala": "zod.geometry.fisheye:unproject_2d_to_3d_kannala",
        "transform_points": "zod.geometry.transforms:transform_points",
        "get_points_in_camera_fov": "zod.geometry.fisheye:get_points_in_camera_fov",
    },
    "zod.utils.polygon_transformations": {
        "polygon_to_mask": "zod.geometry.masks:polygon_to_mask",
        "polygons_to_binary_mask": "zod.geometry.masks:polygons_to_binary_mask",
    },
    "zod.utils.utils": {
        name: f"zod.time:{name}"
        for name in (
            "zfill_id",
            "parse_datetime_from_filename",
            "datetime_from_str",
            "str_from_datetime",
        )
    },
    "zod.visualization": {},
    "zod.visualization.lidar_on_image": {
        name: f"zod.viz.image:{name}"
        for name in (
            "project_lidar_to_image",
            "visualize_lidar_on_image",
            "draw_projections_as_points",
        )
    },
    "zod.visualization.object_visualization": {
        name: f"zod.viz.image:{name}"
        for name in (
            "overlay_object_2d_box_on_image",
            "overlay_object_3d_box_on_image",
            "overlay_object_properties_on_image",
        )
    },
    "zod.visualization.polygon_utils": {
        "overlay_mask_on_image": "zod.viz.image:overlay_mask_on_image",
        "overlay_polygon_on_image": "zod.viz.image:overlay_polygon_on_image",
    },
    "zod.visualization.oxts_on_image": {
        "visualize_oxts_on_image": "zod.viz.image:visualize_oxts_on_image"
    },
    "zod.visualization.lidar_bev": {"BEVBox": "zod.viz.bev:BEVBox"},
    "zod.visualization.lidar_3d": {"Viz3D": "zod.viz.open3d_viz:Viz3D"},
}

# Old modules that warn when imported, as the reference devkit does.
DEPRECATED_MODULES: dict[str, str] = {
    "zod.data_classes.oxts": (
        "The 'zod.data_classes.oxts' module is deprecated; use 'zod.data_classes.ego_motion' "
        "(or our own 'zod.ego_motion') instead."
    ),
}


def resolve(target: str) -> Any:
    """Return the object named by ``"module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _is_package(old_module: str) -> bool:
    prefix = old_module + "."
    return any(name.startswith(prefix) for name in ALIASES)


class _AliasModule(ModuleType):
    """A module of the reference layout whose attributes resolve to our implementation."""

    def __getattr__(self, name: str) -> Any:
        target = ALIASES[self.__name__].get(name)
        if target is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = resolve(target)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(ALIASES[self.__name__]))


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = _AliasModule(spec.name, f"Alias of the reference devkit's {spec.name}.")
        module.__all__ = sorted(ALIASES[spec.name])  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: ModuleType) -> None:
        message = DEPRECATED_MODULES.get(module.__name__)
        if message:
            warnings.warn(message, DeprecationWarning, stacklevel=2)


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths listed in ``ALIASES``; every other name is left alone."""

    _loader = _AliasLoader()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ALIASES:
            return None
        is_package = _is_package(fullname)
        spec = importlib.machinery.ModuleSpec(fullname, self._loader, is_package=is_package)
        if is_package:
            spec.submodule_search_locations = []
        return spec


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (idempotent; done by ``import zod``)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
