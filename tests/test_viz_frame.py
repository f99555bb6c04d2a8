"""zod.viz.frame on the generated sample: each layer checked against an independent computation."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from zod import ZodFrames, ZodSequences
from zod.constants import EGO, AnnotationProject, Anonymization, Camera, Lidar
from zod.geometry.fisheye import project
from zod.viz import frame as vf
from zod.viz.bev import BACKGROUND, GRID_COLOR, BevGrid
from zod.viz.colors import class_color, colormap_lut

SCALE = 0.25


@pytest.fixture(scope="module")
def frames(sample_root: Path) -> ZodFrames:
    return ZodFrames(str(sample_root), "full")


@pytest.fixture(scope="module")
def annotated_frame(frames: ZodFrames):
    """A frame with objects (some with 3D boxes) and an ego road annotation."""
    for item_id in sorted(frames.get_all_ids()):
        frame = frames[item_id]
        if frame.is_annotated(AnnotationProject.EGO_ROAD) and frame.is_annotated(
            AnnotationProject.OBJECT_DETECTION
        ):
            return frame
    pytest.fail("the sample has no frame with both ego road and objects")


def shoelace(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def test_parse_layers() -> None:
    assert vf.parse_layers("image, lidar") == ("image", "lidar")
    assert vf.parse_layers("all") == vf.FRAME_LAYERS
    with pytest.raises(ValueError, match="unknown layer"):
        vf.parse_layers("image,radar")


def test_image_layer_is_the_scaled_camera_image(annotated_frame) -> None:
    picture = vf.render_frame_image(annotated_frame, ["image"], scale=SCALE)
    cam = annotated_frame.calibration.cameras[Camera.FRONT]
    assert picture.shape == (
        round(cam.image_dimensions[1] * SCALE),
        round(cam.image_dimensions[0] * SCALE),
        3,
    )
    full = annotated_frame.get_image(Anonymization.BLUR)
    reference = cv2.resize(full, (picture.shape[1], picture.shape[0]), interpolation=cv2.INTER_AREA)
    # reduced JPEG decoding differs from decode-then-resize only by resampling noise
    assert np.abs(picture.astype(int) - reference.astype(int)).mean() < 4.0


def test_masks_layer_covers_the_ego_road_polygon_area(annotated_frame) -> None:
    picture = vf.render_frame_image(annotated_frame, ["masks"], scale=SCALE)
    road = [
        a
        for a in annotated_frame.get_annotation(AnnotationProject.EGO_ROAD)
        if str(getattr(a.type, "value", a.type)).startswith("EgoRoad")
    ]
    area_full = sum(
        shoelace(p[0]) - sum(shoelace(h) for h in p[1:]) for a in road for p in a.polygons
    )
    expected = area_full * SCALE * SCALE
    road_rgb = np.rint(0.35 * np.array(vf.EGO_ROAD_COLOR))
    lane_over_road = np.rint(0.6 * np.array(vf.LANE_COLOR) + 0.4 * road_rgb)  # lanes blend on top
    road_px = (picture == road_rgb.astype(np.uint8)).all(axis=2) | (
        picture == lane_over_road.astype(np.uint8)
    ).all(axis=2)
    assert expected > 1000
    assert abs(road_px.sum() - expected) / expected < 0.03, (road_px.sum(), expected)
    lanes = (picture == lane_over_road.astype(np.uint8)).all(axis=2)
    lanes |= (picture == np.rint(0.6 * np.array(vf.LANE_COLOR)).astype(np.uint8)).all(axis=2)
    assert lanes.sum() > 100  # lane markings drawn over (or beside) the road


def test_boxes3d_layer_draws_projected_edges_in_class_colours(annotated_frame) -> None:
    picture = vf.render_frame_image(annotated_frame, ["boxes3d"], scale=SCALE)
    calib = annotated_frame.calibration
    cam = calib.cameras[Camera.FRONT]
    checked = 0
    for obj in annotated_frame.get_annotation(AnnotationProject.OBJECT_DETECTION):
        if obj.box3d is None:
            continue
        corners_cam = calib.transform_points(obj.box3d.corners, Lidar.VELODYNE, Camera.FRONT)
        mid = (corners_cam[4] + corners_cam[5]) / 2  # middle of a top edge
        if mid[2] < 3.0:
            continue
        u, v = project(mid[None], cam.intrinsics, cam.distortion)[0] * SCALE
        if not (3 <= u < picture.shape[1] - 3 and 3 <= v < picture.shape[0] - 3):
            continue
        patch = picture[int(v) - 2 : int(v) + 3, int(u) - 2 : int(u) + 3].reshape(-1, 3).astype(int)
        colour = np.array(class_color(obj.name))
        # antialiased line on black: some pixel is >= 60 % of the class colour, same hue
        ratio = patch @ colour / max(colour @ colour, 1)
        assert ratio.max() > 0.6, (obj.name, u, v)
        checked += 1
    assert checked >= 3


def test_lidar_layer_colours_are_depth_colours(annotated_frame) -> None:
    picture = vf.render_frame_image(annotated_frame, ["lidar"], scale=SCALE, max_depth_m=60.0)
    drawn = picture.reshape(-1, 3)[picture.reshape(-1, 3).any(axis=1)]
    assert len(drawn) > 500
    lut = {tuple(c) for c in colormap_lut("turbo").tolist()}
    assert all(tuple(c) in lut for c in np.unique(drawn, axis=0).tolist())
    # the nearest points (bottom rows: ground just ahead) are blue-ish, the horizon red-ish or green
    rows = np.nonzero(picture.any(axis=2))[0]
    bottom = picture[rows.max() - 2 : rows.max() + 1].reshape(-1, 3)
    bottom = bottom[bottom.any(axis=1)].astype(int)
    assert (bottom[:, 2] > bottom[:, 0]).mean() > 0.8


def test_trajectory_layer_passes_through_projected_future_position(annotated_frame) -> None:
    picture = vf.render_frame_image(annotated_frame, ["trajectory"], scale=SCALE)
    motion = annotated_frame.ego_motion
    key = annotated_frame.info.keyframe_time.timestamp()
    from zod.viz.image import trajectory_in_ego

    pos = trajectory_in_ego(motion.poses, motion.get_poses(key))
    ahead = pos[(pos[:, 0] > 6.0) & (pos[:, 0] < 30.0)]
    assert len(ahead) > 0
    calib = annotated_frame.calibration
    cam = calib.cameras[Camera.FRONT]
    uv = (
        project(
            calib.transform_points(ahead[len(ahead) // 2][None], EGO, Camera.FRONT),
            cam.intrinsics,
            cam.distortion,
        )[0]
        * SCALE
    )
    patch = picture[int(uv[1]) - 2 : int(uv[1]) + 3, int(uv[0]) - 2 : int(uv[0]) + 3]
    assert (patch[..., 0] > 120).any()


def test_all_layers_render(annotated_frame, frames) -> None:
    picture = vf.render_frame_image(
        annotated_frame, vf.FRAME_LAYERS, scale=SCALE, num_scans_before=1, num_scans_after=1
    )
    assert picture.dtype == np.uint8 and picture.std() > 10
    # a frame without some annotation projects still renders every layer (skipped, not an error)
    for item_id in sorted(frames.get_all_ids()):
        vf.render_frame_image(frames[item_id], vf.FRAME_LAYERS, scale=0.125)


def test_bev_places_lidar_and_boxes(annotated_frame) -> None:
    grid = BevGrid((-20.0, 60.0), (-30.0, 30.0), 0.2)
    picture = vf.render_frame_bev(annotated_frame, grid, trajectory=False)
    calib = annotated_frame.calibration
    scan = annotated_frame.get_lidar()[0]
    pts = calib.transform_points(scan.points, Lidar.VELODYNE, EGO)
    row, col, _ = grid.cells(pts)
    empty = (picture == np.array(BACKGROUND, np.uint8)).all(axis=2) | (
        picture == np.array(GRID_COLOR, np.uint8)
    ).all(axis=2)
    assert (~empty[row, col]).mean() > 0.95  # every lidar cell is coloured
    # box footprints: the middle of each box's footprint edge 1-2 (front) is drawn
    from zod.annotations.objects import box_set_from_object_annotations

    boxes = box_set_from_object_annotations(
        annotated_frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    )
    corners = boxes.convert_to(EGO, calib).corners()
    mids = (corners[:, 1, :2] + corners[:, 2, :2]) / 2
    uv = grid.to_pixels(mids)
    visible = (
        (uv[:, 0] > 2)
        & (uv[:, 0] < picture.shape[1] - 2)
        & (uv[:, 1] > 2)
        & (uv[:, 1] < picture.shape[0] - 2)
    )
    assert visible.sum() >= 3
    for (u, v), name in zip(uv[visible], np.asarray(boxes.classes)[visible]):
        patch = picture[int(v) - 1 : int(v) + 2, int(u) - 1 : int(u) + 2].reshape(-1, 3).astype(int)
        colour = np.array(class_color(name))
        assert (np.abs(patch - colour).sum(axis=1) < 150).any(), name


def test_frame_scene_in_ego_frame(annotated_frame) -> None:
    scene = vf.frame_scene(annotated_frame)
    calib = annotated_frame.calibration
    scan = annotated_frame.get_lidar()[0]
    assert np.allclose(scene["points"], calib.transform_points(scan.points, Lidar.VELODYNE, EGO))
    objects = annotated_frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    with_3d = [o for o in objects if o.box3d is not None]
    assert scene["corners"].shape == (len(with_3d), 8, 3)
    first = with_3d[0].box3d.copy().convert_to(EGO, calib)
    assert np.allclose(scene["corners"][0], first.corners)


def test_sequence_videos(sample_root: Path, tmp_path: Path) -> None:
    sequences = ZodSequences(str(sample_root), "mini")
    seq = sequences[sorted(sequences.get_all_ids())[0]]
    n_cam = len(seq.info.get_camera_frames())
    out = vf.render_sequence_video(
        seq, tmp_path / "clip.mp4", "camera", scale=0.125, progress=False
    )
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == n_cam
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 482  # 3848 / 8 = 481, padded to even
    cap.release()
    gif = vf.render_sequence_video(
        seq,
        tmp_path / "bev.gif",
        "bev",
        max_frames=3,
        progress=False,
        grid=BevGrid((-10.0, 30.0), (-15.0, 15.0), 0.25),
    )
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 3 and im.size == (120, 160)  # type: ignore[attr-defined]


def test_threaded_video_pictures_equal_serial(sample_root: Path) -> None:
    sequences = ZodSequences(str(sample_root), "mini")
    seq = sequences[sorted(sequences.get_all_ids())[-1]]
    grid = BevGrid((-10.0, 30.0), (-15.0, 15.0), 0.25)
    for view in ("camera", "bev"):
        serial, n = vf.sequence_video_frames(seq, view, scale=0.125, grid=grid, workers=1)
        threaded, n2 = vf.sequence_video_frames(seq, view, scale=0.125, grid=grid, workers=3)
        a, b = list(serial), list(threaded)
        assert n == n2 == len(a) == len(b) > 1
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), view


def test_predictions_overlay(annotated_frame, tmp_path: Path) -> None:
    import json

    objects = [
        o
        for o in annotated_frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        if o.box3d is not None
    ]
    records = [
        {
            "class": o.name,
            "score": 0.9,
            "center": o.box3d.center.tolist(),
            "size": o.box3d.size.tolist(),
            "rotation": list(o.box3d.orientation.q),
        }
        for o in objects
    ]
    records[0]["score"] = 0.1  # below --min-score
    path = tmp_path / "preds.json"
    path.write_text(json.dumps({"results": {str(int(annotated_frame.info.id)): records}}))
    preds = vf.predictions_for_item(path, annotated_frame.info.id, min_score=0.3)
    assert len(preds) == len(objects) - 1
    assert np.allclose(preds.centers_m, [o.box3d.center for o in objects[1:]])
    assert len(vf.predictions_for_item(path, "999999")) == 0

    picture = vf.render_frame_image(annotated_frame, [], scale=SCALE, predictions=preds)
    calib = annotated_frame.calibration
    cam = calib.cameras[Camera.FRONT]
    checked = 0
    for obj in objects[1:]:
        corners_cam = calib.transform_points(obj.box3d.corners, Lidar.VELODYNE, Camera.FRONT)
        mid = (corners_cam[4] + corners_cam[5]) / 2
        if mid[2] < 3.0:
            continue
        u, v = project(mid[None], cam.intrinsics, cam.distortion)[0] * SCALE
        if 3 <= u < picture.shape[1] - 3 and 3 <= v < picture.shape[0] - 3:
            patch = (
                picture[int(v) - 2 : int(v) + 3, int(u) - 2 : int(u) + 3].reshape(-1, 3).astype(int)
            )
            assert (
                (patch.min(axis=1) > 120) & (patch.max(axis=1) - patch.min(axis=1) < 10)
            ).any()  # white
            checked += 1
    assert checked >= 2
    # the low-score box is not drawn: only white (grey) pixels, and fewer than with it
    all_preds = vf.predictions_for_item(path, annotated_frame.info.id, min_score=0.0)
    more = vf.render_frame_image(annotated_frame, [], scale=SCALE, predictions=all_preds)
    assert (more.any(axis=2)).sum() >= (picture.any(axis=2)).sum()
    grid = BevGrid((-20.0, 60.0), (-30.0, 30.0), 0.2)
    bev = vf.render_frame_bev(annotated_frame, grid, predictions=preds)
    plain = vf.render_frame_bev(annotated_frame, grid)
    added = (bev != plain).any(axis=2)
    assert (
        added.sum() > 50 and (bev[added].min(axis=1) > 200).sum() > 20
    )  # white outlines (antialiased)
