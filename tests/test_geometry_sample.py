"""The sample dataset's files agree with each other through the geometry functions:
3D boxes project onto the annotated 2D boxes, lidar points fall in the 3D boxes and project
into the 2D boxes, lane polygons land on the painted markings, 21 compensated scans of a static
scene are sharp, and the reference devkit aggregates the same clouds."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from zod.aggregation import FrameGeometryMixin, SequenceGeometryMixin
from zod.annotations.object_features import box_set_from_features
from zod.annotations.objects import ObjectAnnotation, box_set_from_object_annotations
from zod.calibration import Calibration
from zod.constants import Camera, Lidar
from zod.ego_motion import EgoMotion
from zod.geometry import masks
from zod.geometry.box_set import Box3DSet
from zod.geometry.fisheye import points_to_image
from zod.sensors.frames import LidarFrame
from zod.time import parse_time

STATIC_CLASSES = ["TrafficSign", "TrafficSignal"]  # elevated, never moving in the sample


class _Info:
    """The few Information methods the geometry mixins use, read straight from an index entry."""

    def __init__(self, root: Path, entry: dict[str, Any]) -> None:
        self.id = entry["id"]
        self.keyframe_time = parse_time(entry["keyframe_time"])
        self._lidar = [
            LidarFrame(str(root / f["filepath"]), parse_time(f["time"]))
            for f in entry["lidar_frames"]["velodyne"]
        ]

    def get_lidar_frames(self, lidar: Lidar = Lidar.VELODYNE) -> list[LidarFrame]:
        return list(self._lidar)

    def get_key_lidar_frame(self, lidar: Lidar = Lidar.VELODYNE) -> LidarFrame:
        return min(self._lidar, key=lambda f: abs(f.time_s - self.keyframe_time.timestamp()))

    def get_lidar_frame(self, time: datetime, lidar: Lidar = Lidar.VELODYNE) -> LidarFrame:
        return min(self._lidar, key=lambda f: abs(f.time_s - time.timestamp()))


class _Item:
    def __init__(self, root: Path, entry: dict[str, Any]) -> None:
        self.entry = entry
        self.root = root
        self.info = _Info(root, entry)
        self.calibration = Calibration.from_json_path(root / entry["calibration_path"])
        self.ego_motion = EgoMotion.from_json_path(root / entry["ego_motion_path"])

    def features(self, project: str) -> list[dict[str, Any]]:
        return json.loads((self.root / self.entry["annotations"][project]["filepath"]).read_text())

    def image(self) -> np.ndarray:
        path = self.root / self.entry["camera_frames"]["front_blur"][0]["filepath"]
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


class _Frame(_Item, FrameGeometryMixin):
    def get_lidar_frames(self, num_before: int = 0, num_after: int = 0) -> list[LidarFrame]:
        frames = self.info.get_lidar_frames()
        key = len(frames) // 2
        return frames[max(0, key - num_before) : key + num_after + 1]


class _Sequence(_Item, SequenceGeometryMixin):
    pass


def _entries(root: Path, index: str) -> list[dict[str, Any]]:
    data = json.loads((root / index).read_text())
    return data["train"] + data["val"]


@pytest.fixture(scope="module")
def frames(sample_root: Path) -> list[_Frame]:
    return [_Frame(sample_root, e) for e in _entries(sample_root, "trainval-frames-full.json")]


def test_3d_boxes_project_onto_2d_boxes(frames: list[_Frame]) -> None:
    checked = 0
    for frame in frames:
        feats = frame.features("object_detection")
        boxes = box_set_from_features(feats)
        assert len(boxes) > 0
        proj = boxes.project(frame.calibration)
        corners = proj.pixels[:, 1:]
        extent = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
        width, height = frame.calibration.cameras[Camera.FRONT].image_dimensions
        inside = (
            proj.visible
            & (extent[:, 0] >= 0)
            & (extent[:, 1] >= 0)
            & (extent[:, 2] < width)
            & (extent[:, 3] < height)
        )
        np.testing.assert_allclose(extent[inside], boxes.boxes2d[inside], atol=1.0)
        checked += int(inside.sum())
        # the per-object path (ObjectAnnotation -> Box3D -> camera) gives the same pixels
        objects = [ObjectAnnotation.from_dict(f) for f in feats]
        singles = [
            o.box3d.copy()
            .convert_to(Camera.FRONT, frame.calibration)
            .project_into_camera(frame.calibration)
            for o in objects
            if o.box3d is not None
        ]
        np.testing.assert_allclose(np.array(singles), proj.pixels, atol=1e-6)
    assert checked >= 10


def test_lidar_points_fall_in_boxes_and_project_into_2d_boxes(frames: list[_Frame]) -> None:
    with_points = 0
    for frame in frames:
        boxes = box_set_from_features(frame.features("object_detection"))
        scan = frame.get_keyframe_lidar(motion_compensated=True)
        idx = boxes.points_in_boxes(scan.points)
        counts = np.bincount(idx[idx >= 0], minlength=len(boxes))
        # near and wide (the test scans have ~1.5 degree columns: a pedestrian can fall between)
        near = (boxes.distances() < 30) & (boxes.sizes_lwh_m[:, :2].min(axis=1) >= 1.0)
        near &= boxes.project(frame.calibration).visible
        assert np.all(counts[near] > 0), (frame.info.id, counts, boxes.distances())
        for b in np.flatnonzero(counts >= 10):
            proj = points_to_image(scan.points[idx == b], frame.calibration)
            x0, y0, x1, y1 = boxes.boxes2d[b]
            px = proj.pixels
            in_2d = (
                (px[:, 0] >= x0 - 3)
                & (px[:, 0] <= x1 + 3)
                & (px[:, 1] >= y0 - 3)
                & (px[:, 1] <= y1 + 3)
            )
            assert in_2d.mean() >= 0.9, (frame.info.id, boxes.classes[b], in_2d.mean())
            with_points += 1
    assert with_points >= 10


def _static_sharpness(boxes: Box3DSet, points: np.ndarray) -> tuple[int, int]:
    """(points within 0.15 m of static boxes, points within 3 m of them)."""
    static = boxes.filter_classes(STATIC_CLASSES)
    tight = Box3DSet(
        static.centers_m, static.sizes_lwh_m + 0.3, static.quaternions_wxyz, static.frame
    )
    shell = Box3DSet(
        static.centers_m,
        static.sizes_lwh_m + np.array([6.0, 6.0, 0.3]),
        static.quaternions_wxyz,
        static.frame,
    )
    return int((tight.points_in_boxes(points) >= 0).sum()), int(
        (shell.points_in_boxes(points) >= 0).sum()
    )


def test_21_scan_static_aggregation_is_sharp(frames: list[_Frame]) -> None:
    frame = frames[0]
    boxes = box_set_from_features(frame.features("object_detection"))
    assert len(boxes.filter_classes(STATIC_CLASSES)) >= 1
    lidar_frames = frame.get_lidar_frames(10, 10)
    assert len(lidar_frames) == 21
    key = frame.info.get_key_lidar_frame().read()
    raw = np.concatenate([f.read().points for f in lidar_frames])
    raw_tight, raw_shell = _static_sharpness(boxes, raw)
    assert raw_tight / raw_shell < 0.8  # without compensation the static objects smear
    for pointwise in (False, True):
        agg = frame.get_aggregated_lidar(10, 10, pointwise=pointwise)
        assert len(agg.points) == len(raw)
        tight, shell = _static_sharpness(boxes, agg.points)
        assert shell >= 50
        assert tight / shell >= 0.97, (pointwise, tight, shell)
    # reference semantics: the key scan comes first and is not moved (default target time)
    agg = frame.get_aggregated_lidar(10, 10)
    np.testing.assert_array_equal(agg.points[: len(key.points)], key.points)
    # an explicit time moves every scan there, the key scan included
    t = frame.info.keyframe_time.timestamp()
    at_t = frame.get_aggregated_lidar(2, 2, timestamp=t)
    expected_key = frame.compensate_lidar(_adjusted(key), t)
    np.testing.assert_allclose(at_t.points[: len(key.points)], expected_key.points, atol=1e-5)


def _adjusted(scan: Any) -> Any:
    from zod.aggregation import adjust_lidar_core_time

    return adjust_lidar_core_time(scan.copy())


def test_lane_polygons_land_on_painted_markings(frames: list[_Frame]) -> None:
    frame = frames[0]
    image = frame.image().astype(np.float64)
    lanes = frame.features("lane_markings")
    marking = (
        masks.semantic_mask(lanes, image_shape=image.shape[:2])
        == masks.DEFAULT_SEMANTIC_CLASSES["lane_marking"]
    )
    assert marking.sum() > 500
    brightness = image.mean(axis=2)
    # painted markings are near-white on a dark road: the mask much brighter than just around it
    around = (
        cv2.dilate(marking.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool) & ~marking
    )
    assert brightness[marking].mean() > brightness[around].mean() + 40
    half = masks.semantic_mask(lanes, image_shape=image.shape[:2], scale=0.5)
    assert half.shape == (image.shape[0] // 2, image.shape[1] // 2)
    ratio = (half == 1).sum() * 4 / marking.sum()
    assert 0.8 < ratio < 1.25


def test_sequence_mixins(sample_root: Path) -> None:
    seq = _Sequence(sample_root, _entries(sample_root, "trainval-sequences-full.json")[0])
    frames = seq.info.get_lidar_frames()
    key = seq.get_keyframe_lidar(motion_compensated=False)
    moved = seq.get_keyframe_lidar()
    expected = seq.compensate_lidar(key, seq.info.keyframe_time.timestamp())
    np.testing.assert_allclose(moved.points, expected.points)
    assert not np.allclose(moved.points, key.points)
    agg = seq.get_aggregated_lidar(start=0, end=5)
    parts = [f.read() for f in frames[:5]]
    assert len(agg.points) == sum(len(p.points) for p in parts)
    # the middle scan is the target: left where it is; the others moved to its time
    order_start = sum(len(p.points) for p in parts[:2])
    np.testing.assert_array_equal(
        agg.points[order_start : order_start + len(parts[2].points)], parts[2].points
    )
    comp = seq.get_compensated_lidar(frames[3].time)
    np.testing.assert_allclose(comp.points, parts[3].points, atol=1e-9)  # already at that time


ORACLE = r"""
import sys
import numpy as np
from zod import ZodFrames, ZodSequences
root, frame_id, seq_id, out = sys.argv[1:5]
frame = ZodFrames(root, "full")[frame_id]
agg = frame.get_aggregated_lidar(num_before=10, num_after=10)
seq = ZodSequences(root, "full")[seq_id]
key = seq.get_keyframe_lidar(motion_compensated=True)
sagg = seq.get_aggregated_lidar(start=0, end=5)
oxts = frame.oxts
key_t = frame.info.keyframe_time.timestamp()
oxts_pose = oxts.get_poses(np.array([key_t, oxts.timestamps[3] + 0.0037]))
np.savez(out, oxts_t=oxts.timestamps, oxts_vel=oxts.velocities, oxts_pose=oxts_pose,
         oxts_origin=np.array(oxts.origin_lat_lon), agg=agg.points, agg_t=agg.timestamps,
         agg_core=agg.core_timestamp, key=key.points, sagg=sagg.points,
         sagg_core=sagg.core_timestamp)
"""


def test_aggregation_agrees_with_reference(
    sample_root: Path, oracle_python: Path, tmp_path: Path
) -> None:
    frame = _Frame(sample_root, _entries(sample_root, "trainval-frames-full.json")[0])
    seq = _Sequence(sample_root, _entries(sample_root, "trainval-sequences-full.json")[0])
    script = tmp_path / "oracle.py"
    script.write_text(ORACLE)
    out = tmp_path / "out.npz"
    proc = subprocess.run(
        [
            str(oracle_python),
            "-I",
            str(script),
            str(sample_root),
            frame.info.id,
            seq.info.id,
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = np.load(out)
    ours = frame.get_aggregated_lidar(10, 10)
    np.testing.assert_allclose(ours.points, ref["agg"], atol=2e-4)
    np.testing.assert_allclose(ours.timestamps, ref["agg_t"], atol=1e-6)
    # core_timestamp: LidarData.extend (foundation) takes the point-weighted mean of the scans'
    # core times; the reference weights the first scan by the *extended* length (a quirk), so
    # the two differ by a fraction of a millisecond. Both lie within the aggregated span.
    assert abs(ours.core_timestamp - float(ref["agg_core"])) < 5e-3
    np.testing.assert_allclose(seq.get_keyframe_lidar().points, ref["key"], atol=2e-4)
    sagg = seq.get_aggregated_lidar(0, 5)
    np.testing.assert_allclose(sagg.points, ref["sagg"], atol=2e-4)
    # oxts.hdf5: the reference's epoch rule, velocities and interpolated poses
    oxts = EgoMotion.from_oxts_path(frame.root / frame.entry["oxts_path"])
    np.testing.assert_array_equal(oxts.timestamps, ref["oxts_t"])
    np.testing.assert_allclose(oxts.velocities, ref["oxts_vel"])
    np.testing.assert_allclose(oxts.origin_lat_lon, ref["oxts_origin"])
    key_t = frame.info.keyframe_time.timestamp()
    times = np.array([key_t, oxts.timestamps[3] + 0.0037])
    np.testing.assert_allclose(oxts.get_poses(times), ref["oxts_pose"], atol=1e-6)
    assert abs(sagg.core_timestamp - float(ref["sagg_core"])) < 0.2


def test_zod_frame_and_sequence_use_the_mixins(sample_root: Path) -> None:
    from zod import ZodFrames, ZodSequences

    entry = _entries(sample_root, "trainval-frames-full.json")[0]
    frame = ZodFrames(str(sample_root), "full")[entry["id"]]
    local = _Frame(sample_root, entry)
    agg = frame.get_aggregated_lidar(num_before=10, num_after=10)
    np.testing.assert_array_equal(agg.points, local.get_aggregated_lidar(10, 10).points)
    boxes = box_set_from_features(local.features("object_detection"))
    tight, shell = _static_sharpness(boxes, agg.points)
    assert shell >= 50 and tight / shell >= 0.97
    scan = frame.get_lidar()[0]
    t = frame.info.keyframe_time.timestamp()
    np.testing.assert_allclose(
        frame.compensate_lidar(scan, t).points, local.compensate_lidar(scan, t).points
    )

    seq_entry = _entries(sample_root, "trainval-sequences-full.json")[0]
    seq = ZodSequences(str(sample_root), "full")[seq_entry["id"]]
    local_seq = _Sequence(sample_root, seq_entry)
    np.testing.assert_array_equal(
        seq.get_keyframe_lidar().points, local_seq.get_keyframe_lidar().points
    )
    np.testing.assert_array_equal(
        seq.get_aggregated_lidar(0, 5).points, local_seq.get_aggregated_lidar(0, 5).points
    )
    key_time = seq.info.keyframe_time
    np.testing.assert_array_equal(
        seq.get_compensated_lidar(key_time).points, local_seq.get_compensated_lidar(key_time).points
    )


def test_aggregation_with_missing_scans(sample_copy: Path) -> None:
    from zod.errors import MissingFileError

    entry = _entries(sample_copy, "trainval-frames-full.json")[0]
    frame = _Frame(sample_copy, entry)
    lidar_frames = frame.get_lidar_frames(10, 10)
    full = frame.get_aggregated_lidar(2, 2)
    Path(lidar_frames[9].filepath).unlink()  # the scan just before the key scan
    with pytest.raises(MissingFileError, match="download"):
        frame.get_aggregated_lidar(2, 2)
    with pytest.warns(UserWarning, match="1 of 5 lidar scans"):
        partial = frame.get_aggregated_lidar(2, 2, skip_missing=True)
    key = frame.info.get_key_lidar_frame().read()
    np.testing.assert_array_equal(partial.points[: len(key.points)], full.points[: len(key.points)])
    assert len(full.points) > len(partial.points) > len(key.points)
    Path(frame.info.get_key_lidar_frame().filepath).unlink()
    with pytest.warns(UserWarning, match="2 of 5"), pytest.raises(MissingFileError):
        frame.get_aggregated_lidar(2, 2, skip_missing=True)


def test_radar_detections_land_on_annotated_objects(sample_root: Path) -> None:
    """Radar -> lidar through the calibration: the keyframe's radar scan hits the 3D boxes."""
    from zod import ZodSequences
    from zod.constants import EGO, AnnotationProject, Radar

    sequences = ZodSequences(str(sample_root), "full")
    seq = sequences[min(sequences.get_all_ids())]
    radar = seq.get_radar()
    scan_times = np.unique(radar.timestamp)  # int64, nanoseconds (spec section 8 assumption)
    key_ns = seq.info.keyframe_time.timestamp() * 1e9
    nearest = radar.timestamp == scan_times[np.argmin(np.abs(scan_times - key_ns))]
    assert nearest.sum() >= 10
    xyz_radar = radar.get_cartesian_coordinates()[nearest]
    boxes = box_set_from_object_annotations(seq.get_annotation(AnnotationProject.OBJECT_DETECTION))
    loose = Box3DSet(boxes.centers_m, boxes.sizes_lwh_m + 1.0, boxes.quaternions_wxyz, boxes.frame)
    hits = (
        loose.points_in_boxes(
            seq.calibration.transform_points(xyz_radar, Radar.FRONT, Lidar.VELODYNE)
        )
        >= 0
    )
    assert hits.mean() >= 0.4
    # ignoring the radar extrinsics (radar taken as ego) misses the objects
    wrong = (
        loose.points_in_boxes(seq.calibration.transform_points(xyz_radar, EGO, Lidar.VELODYNE)) >= 0
    )
    assert wrong.mean() < hits.mean() / 2
