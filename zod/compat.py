"""The reference devkit's module paths: the table of what each one serves.

Existing user code imports the reference devkit (PyPI ``zod``) by its module paths, e.g.
``from zod.data_classes.box import Box3D`` or ``from zod.anno.object import ObjectAnnotation``.
Our own layout is different (see docs/architecture.md); each old path is a real, small module
(``zod/data_classes/``, ``zod/anno/``, ``zod/utils/``, ``zod/visualization/``, ``zod/zod_*.py``)
that imports its names from our modules and re-exports them, so that editors and type checkers
resolve them. Nothing there re-implements behaviour: the names are our objects, not copies.

``ALIASES`` lists every old module with its names and where they come from; the tests check
that the modules and this table agree (both ways); docs/migrating.md lists them for users.

    old module path                 names             our module
    zod.data_classes.box      ->    Box2D, Box3D  ->  zod.geometry.box
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ALIASES", "resolve"]

# old module -> {old name: "our.module:our_name"}; a module whose table is empty is a package
# that only holds submodules. ``zod.data_classes.oxts`` warns when imported (deprecated, as in
# the reference devkit).
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
        name: f"zod.viz.reference:{name}"
        for name in (
            "project_lidar_to_image",
            "visualize_lidar_on_image",
            "draw_projections_as_points",
        )
    },
    "zod.visualization.object_visualization": {
        name: f"zod.viz.reference:{name}"
        for name in (
            "overlay_object_2d_box_on_image",
            "overlay_object_3d_box_on_image",
            "overlay_object_properties_on_image",
        )
    },
    "zod.visualization.polygon_utils": {
        "overlay_mask_on_image": "zod.viz.reference:overlay_mask_on_image",
        "overlay_polygon_on_image": "zod.viz.reference:overlay_polygon_on_image",
    },
    "zod.visualization.oxts_on_image": {
        "visualize_oxts_on_image": "zod.viz.reference:visualize_oxts_on_image"
    },
    "zod.visualization.lidar_bev": {"BEVBox": "zod.viz.bev:BEVBox"},
    "zod.visualization.lidar_3d": {"Viz3D": "zod.viz.open3d_viz:Viz3D"},
}


def resolve(target: str) -> Any:
    """Return the object named by ``"module:attribute"`` (an entry of ``ALIASES``)."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
