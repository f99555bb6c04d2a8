"""Issue 8 acceptance: user code written for the reference devkit runs unchanged on ours.

Every import below uses the reference devkit's module paths, and the flow follows its tutorial
(frames and sequences of the mini version). The checks are values: shapes, equalities between
independent ways of reading the same data, pixels that drawing changed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import zod.constants as constants
from zod import ZodFrames, ZodSequences
from zod.anno.ego_road import EgoRoadAnnotation, EgoRoadClass
from zod.anno.lane import LaneMarkingAnnotation
from zod.anno.object import OBJECT_CLASSES, ObjectAnnotation
from zod.anno.parser import AnnotationFile
from zod.anno.tsr.class_map import get_class_idx, get_class_name
from zod.anno.tsr.traffic_sign import TrafficSignAnnotation
from zod.constants import AnnotationProject, Anonymization, Camera, Lidar
from zod.data_classes import Calibration, LidarData, Pose
from zod.data_classes.box import Box2D, Box3D
from zod.data_classes.ego_motion import EgoMotion
from zod.data_classes.frame import ZodFrame
from zod.data_classes.info import Information
from zod.data_classes.metadata import FrameMetaData, SequenceMetadata
from zod.data_classes.sensor import CameraFrame, LidarFrame
from zod.data_classes.sequence import ZodSequence
from zod.utils.compensation import motion_compensate_scanwise
from zod.utils.geometry import (
    get_points_in_camera_fov,
    project_3d_to_2d_kannala,
    transform_points,
    unproject_2d_to_3d_kannala,
)
from zod.utils.polygon_transformations import polygons_to_binary_mask
from zod.utils.utils import parse_datetime_from_filename, zfill_id
from zod.visualization.lidar_bev import BEVBox
from zod.visualization.lidar_on_image import project_lidar_to_image, visualize_lidar_on_image
from zod.visualization.object_visualization import (
    overlay_object_2d_box_on_image,
    overlay_object_3d_box_on_image,
)
from zod.visualization.oxts_on_image import visualize_oxts_on_image
from zod.visualization.polygon_utils import overlay_mask_on_image


@pytest.fixture(scope="module")
def zod_frames(sample_root: Path) -> ZodFrames:
    return ZodFrames(dataset_root=str(sample_root), version="mini")


@pytest.fixture(scope="module")
def zod_frame(zod_frames: ZodFrames) -> ZodFrame:
    # the tutorial picks a frame that has every annotation project
    for frame_id in sorted(
        zod_frames.get_split(constants.TRAIN) | zod_frames.get_split(constants.VAL)
    ):
        frame = zod_frames[frame_id]
        if all(frame.is_annotated(project) for project in AnnotationProject):
            return frame
    raise AssertionError("the mini sample has no frame with all five annotation projects")


def _changed_pixels(before: np.ndarray, after: np.ndarray) -> int:
    return int(np.any(before != after, axis=-1).sum())


def test_open_frames_and_splits(zod_frames: ZodFrames) -> None:
    train = zod_frames.get_split(constants.TRAIN)
    val = zod_frames.get_split(constants.VAL)
    assert train and val and not (train & val)
    assert set(zod_frames.get_all_ids()) == train | val
    assert len(zod_frames) >= len(train | val)
    some_id = sorted(train)[0]
    by_str = zod_frames[some_id]
    by_int = zod_frames[int(some_id)]
    assert isinstance(by_str, ZodFrame) and by_str.info.id == by_int.info.id == zfill_id(
        int(some_id)
    )
    assert isinstance(by_str.info, Information)


def test_metadata_oxts_ego_motion_and_calibration(zod_frame: ZodFrame) -> None:
    metadata = zod_frame.metadata
    assert isinstance(metadata, FrameMetaData) and metadata.frame_id == zod_frame.info.id

    oxts = zod_frame.oxts
    ego_motion = zod_frame.ego_motion
    assert isinstance(oxts, EgoMotion) and isinstance(ego_motion, EgoMotion)
    for motion in (oxts, ego_motion):
        n = len(motion.timestamps)
        assert motion.poses.shape == (n, 4, 4)
        assert motion.velocities.shape == motion.accelerations.shape == (n, 3)
    key_time = zod_frame.info.keyframe_time.timestamp()
    pose_oxts = oxts.get_poses(key_time)
    pose_light = ego_motion.get_poses(key_time)
    assert pose_oxts.shape == pose_light.shape == (4, 4)

    calibration = zod_frame.calibration
    assert isinstance(calibration, Calibration)
    camera_calibration = calibration.cameras[Camera.FRONT]
    assert camera_calibration.image_dimensions.tolist() == [3848, 2168]
    assert isinstance(calibration.lidars[Lidar.VELODYNE].extrinsics, Pose)


def test_camera_frames_blur_and_dnat_and_oxts_track(zod_frame: ZodFrame) -> None:
    blur_frame = zod_frame.info.get_key_camera_frame(Anonymization.BLUR)
    dnat_frame = zod_frame.info.get_key_camera_frame(Anonymization.DNAT)
    assert isinstance(blur_frame, CameraFrame)
    assert parse_datetime_from_filename(blur_frame.filepath) == blur_frame.time
    blur = blur_frame.read()
    dnat = dnat_frame.read()
    assert blur.shape == dnat.shape == (2168, 3848, 3) and blur.dtype == np.uint8
    assert np.array_equal(blur, zod_frame.get_image(Anonymization.BLUR))
    assert not np.array_equal(blur, dnat)

    drawn = visualize_oxts_on_image(
        zod_frame.oxts,
        zod_frame.info.keyframe_time.timestamp(),
        zod_frame.calibration,
        blur.copy(),
        camera=Camera.FRONT,
    )
    # the future ego path lies on the road ahead: it changes pixels in the lower half only
    changed = np.any(drawn != blur, axis=-1)
    assert changed.sum() > 100
    rows = np.nonzero(changed)[0]
    assert np.median(rows) > 2168 / 2


def test_three_ways_to_the_core_scan(zod_frame: ZodFrame) -> None:
    core_frame = zod_frame.info.get_key_lidar_frame()
    assert isinstance(core_frame, LidarFrame)
    from_frame = core_frame.read()
    from_npy = LidarData.from_npy(core_frame.filepath)
    from_get_lidar = zod_frame.get_lidar()[0]
    assert from_frame == from_npy == from_get_lidar
    assert from_npy.points.shape[1] == 3 and from_npy.points.dtype == np.float32
    all_frames = zod_frame.get_lidar_frames(num_before=10, num_after=10)
    assert len(all_frames) == 21 and all_frames[10].filepath == core_frame.filepath


def test_objects_2d_and_3d_boxes_on_the_image(zod_frame: ZodFrame) -> None:
    annotations = zod_frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    assert annotations and all(isinstance(obj, ObjectAnnotation) for obj in annotations)
    assert {obj.name for obj in annotations} <= set(OBJECT_CLASSES) | {"Unclear"}
    with_3d = [obj for obj in annotations if obj.box3d is not None]
    assert with_3d and len(with_3d) < len(annotations)  # some objects are 2D-only
    image = zod_frame.get_image(Anonymization.DNAT)

    box2d = with_3d[0].box2d
    assert isinstance(box2d, Box2D)
    with_2d_box = overlay_object_2d_box_on_image(
        image.copy(), box2d, color=(255, 0, 0), line_thickness=5
    )
    x1, y1, x2, y2 = np.round(box2d.xyxy).astype(int)
    assert _changed_pixels(image, with_2d_box) > 0
    assert tuple(with_2d_box[(y1 + y2) // 2, max(x1, 0) + 1]) == (255, 0, 0)  # left edge

    box3d = with_3d[0].box3d
    assert isinstance(box3d, Box3D) and box3d.frame == Lidar.VELODYNE
    with_3d_box = overlay_object_3d_box_on_image(
        image.copy(), box3d, zod_frame.calibration, color=(0, 255, 0), line_thickness=5
    )
    changed = np.argwhere(np.any(with_3d_box != image, axis=-1))
    assert len(changed) > 0
    # the projected 3D box is drawn where the 2D box of the same object is
    cy, cx = changed.mean(axis=0)
    assert x1 - 50 <= cx <= x2 + 50 and y1 - 50 <= cy <= y2 + 50


def test_traffic_signs_classes(zod_frame: ZodFrame) -> None:
    signs = zod_frame.get_annotation(AnnotationProject.TRAFFIC_SIGNS)
    assert all(isinstance(sign, TrafficSignAnnotation) for sign in signs)
    known = [sign for sign in signs if sign.traffic_sign_idx is not None]
    for sign in known:
        assert get_class_idx(sign.traffic_sign_class) == sign.traffic_sign_idx
        assert get_class_name(sign.traffic_sign_idx) == sign.traffic_sign_class


def test_ego_road_and_lane_masks(zod_frame: ZodFrame) -> None:
    image = zod_frame.get_image()
    ego_road = zod_frame.get_annotation(AnnotationProject.EGO_ROAD)
    assert ego_road and all(isinstance(anno, EgoRoadAnnotation) for anno in ego_road)
    assert all(anno.type in (EgoRoadClass.ROAD, EgoRoadClass.DEBRIS) for anno in ego_road)
    mask = polygons_to_binary_mask([anno.geometry for anno in ego_road])
    assert mask.shape == (2168, 3848) and mask.dtype == bool and mask.any()
    overlaid = overlay_mask_on_image(mask, image.copy(), fill_color=(100, 0, 0), alpha=0.5)
    # the reference blends with OpenCV's addWeighted(gamma=-1): outside the mask a pixel loses
    # at most 1 (the reference's numbers, kept); inside it gains the fill colour
    difference = overlaid.astype(int) - image.astype(int)
    assert difference[~mask].min() >= -1 and difference[~mask].max() <= 0
    assert (difference[mask][:, 0] > 40).mean() > 0.5

    lanes = zod_frame.get_annotation(AnnotationProject.LANE_MARKINGS)
    markings = [anno for anno in lanes if isinstance(anno, LaneMarkingAnnotation)]
    assert markings
    lane_mask = polygons_to_binary_mask([anno.geometry for anno in markings])
    assert lane_mask.any() and lane_mask.sum() < mask.size


def test_annotation_file_parser(zod_frame: ZodFrame) -> None:
    annotation_file = zod_frame.info.annotations[AnnotationProject.OBJECT_DETECTION]
    assert isinstance(annotation_file, AnnotationFile)
    assert len(annotation_file.read()) == len(
        zod_frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    )


def test_bev_of_points_and_boxes(zod_frame: ZodFrame) -> None:
    lidar = zod_frame.get_lidar()[0]
    objects = [
        obj for obj in zod_frame.get_annotation(AnnotationProject.OBJECT_DETECTION) if obj.box3d
    ]
    bev = BEVBox()
    picture = bev(
        np.hstack((lidar.points, lidar.intensity[:, None])),
        (
            np.array([obj.name for obj in objects]),
            np.concatenate([obj.box3d.center[None, :] for obj in objects], axis=0),
            np.concatenate([obj.box3d.size[None, :] for obj in objects], axis=0),
            np.array([obj.box3d.orientation for obj in objects]),
        ),
    )
    array = np.asarray(picture)
    assert array.ndim == 3 and array.shape[2] == 3 and array.std() > 0


def test_lidar_on_image_with_compensation_and_aggregation(zod_frame: ZodFrame) -> None:
    image = zod_frame.get_image()
    key_time = zod_frame.info.keyframe_time.timestamp()
    core = zod_frame.get_lidar()[0]
    compensated = zod_frame.compensate_lidar(core, key_time)
    assert compensated.points.shape == core.points.shape
    same_by_function = motion_compensate_scanwise(
        core, zod_frame.ego_motion, zod_frame.calibration.lidars[Lidar.VELODYNE], key_time
    )
    np.testing.assert_allclose(compensated.points, same_by_function.points, atol=1e-4)

    aggregated = zod_frame.get_aggregated_lidar(num_before=10, num_after=0, timestamp=key_time)
    scans = zod_frame.get_lidar(num_before=10, num_after=0)
    assert len(scans) == 11
    assert aggregated.points.shape[0] == sum(scan.points.shape[0] for scan in scans)

    xyd, mask = project_lidar_to_image(compensated, zod_frame.calibration)
    assert xyd.shape == (mask.sum(), 3) and len(xyd) > 0  # pixel u, v and depth
    assert (xyd[:, 2] > 0).all()
    drawn = visualize_lidar_on_image(aggregated, zod_frame.calibration, image.copy())
    assert _changed_pixels(image, drawn) > 1000


def test_reference_geometry_functions(zod_frame: ZodFrame) -> None:
    camera = zod_frame.calibration.cameras[Camera.FRONT]
    rng = np.random.default_rng(0)
    points = np.column_stack(
        [rng.uniform(-5, 5, 50), rng.uniform(-2, 2, 50), rng.uniform(3, 80, 50)]
    )
    pixels = project_3d_to_2d_kannala(points, camera.intrinsics[..., :3], camera.distortion)
    depth = np.linalg.norm(points, axis=1)
    back = unproject_2d_to_3d_kannala(
        pixels, camera.intrinsics[..., :3], camera.undistortion, depth
    )
    np.testing.assert_allclose(back, points, atol=0.05 * depth.max() / 80)
    in_fov, _ = get_points_in_camera_fov(camera.field_of_view, points)
    assert len(in_fov) > 0
    identity = transform_points(points, np.eye(4))
    np.testing.assert_allclose(identity, points)


def test_oxts_module_is_deprecated_alias() -> None:
    import sys

    sys.modules.pop("zod.data_classes.oxts", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from zod.data_classes.oxts import EgoMotion as OxtsEgoMotion
    assert OxtsEgoMotion is EgoMotion
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_sequence_compensated_lidar_over_camera_lidar_map(sample_root: Path) -> None:
    zod_sequences = ZodSequences(dataset_root=str(sample_root), version="mini")
    sequence_id = sorted(zod_sequences.get_all_ids())[0]
    sequence = zod_sequences[sequence_id]
    assert isinstance(sequence, ZodSequence)
    assert isinstance(sequence.metadata, SequenceMetadata)
    key_camera_frame = sequence.info.get_key_camera_frame(Anonymization.BLUR)
    lidar = sequence.get_compensated_lidar(key_camera_frame.time)
    assert lidar.points.shape[0] > 0
    camera_lidar_map = list(sequence.info.get_camera_lidar_map())
    assert len(camera_lidar_map) == len(sequence.info.get_camera_frames())
    for camera_frame, lidar_frame in camera_lidar_map[:3]:
        assert abs((camera_frame.time - lidar_frame.time).total_seconds()) < 0.1
        compensated = sequence.get_compensated_lidar(camera_frame.time)
        assert compensated.points.shape == lidar_frame.read().points.shape


def test_every_reference_path_of_the_alias_table_imports() -> None:
    import importlib

    from zod.compat import ALIASES, resolve

    for old_module, names in ALIASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(old_module)
        for name, target in names.items():
            assert getattr(module, name) is resolve(target), f"{old_module}.{name}"
        with pytest.raises(AttributeError):
            getattr(module, "no_such_name")  # noqa: B009


def test_unknown_submodule_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        __import__("zod.data_classes.no_such_module")
