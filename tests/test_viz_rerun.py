"""`zod view` and zod.viz.rerun_log: recordings read back with rerun's own reader.

rerun is a required test dependency (the `viewer` extra, installed by scripts/setup.sh): the
import below fails the module, it does not skip it.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simplejpeg
from rerun.chunk import RrdReader

from zod import ZodDrives, ZodFrames, ZodSequences
from zod.constants import EGO, AnnotationProject, Camera, Lidar
from zod.geometry.transforms import rotation_matrices_from_quaternions
from zod.viz import rerun_log as zr
from zod.viz.colors import apply_colormap

FRAME_ID = "002506"
SEQUENCE_ID = "000326"
DRIVE_ID = "000020"


# ---------------------------------------------------------------------------- reading .rrd
def read_rrd(path: Path) -> dict[str, list[dict[str, Any]]]:
    """entity -> rows: ``{"time_ns": int | None, "<Archetype:component>": value, ...}``.

    Null components are left out of a row, so a ``Clear`` row has only ``Clear:is_recursive``.
    """
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for chunk in RrdReader(path).stream():
        table = chunk.to_record_batch().to_pydict()
        times = table.get(zr.TIMELINE)
        names = [n for n in table if ":" in n]
        for i in range(chunk.num_rows):
            row: dict[str, Any] = {
                "time_ns": None if times is None else int(times[i].value),
            }
            row.update({n: table[n][i] for n in names if table[n][i] is not None})
            rows[chunk.entity_path.lstrip("/")].append(row)
    for entity_rows in rows.values():
        entity_rows.sort(key=lambda r: -1 if r["time_ns"] is None else r["time_ns"])
    return dict(rows)


def component_rows(
    rows: dict[str, list[dict[str, Any]]], entity: str, component: str
) -> list[dict[str, Any]]:
    return [r for r in rows.get(entity, []) if component in r]


def only(rows: dict[str, list[dict[str, Any]]], entity: str, component: str) -> Any:
    found = component_rows(rows, entity, component)
    assert len(found) == 1, f"{entity} {component}: {len(found)} rows"
    return found[0][component]


def transform(rows: dict[str, list[dict[str, Any]]], entity: str) -> np.ndarray:
    """The static Transform3D of an entity as parent_from_child (4, 4), decoded as rerun
    stores it (mat3x3 column-major)."""
    assert not component_rows(rows, entity, "Transform3D:relation")  # default: parent_from_child
    out = np.eye(4)
    out[:3, :3] = np.asarray(only(rows, entity, "Transform3D:mat3x3")[0]).reshape(3, 3).T
    out[:3, 3] = only(rows, entity, "Transform3D:translation")[0]
    return out


def pinhole_k(rows: dict[str, list[dict[str, Any]]], entity: str = zr.IMAGE) -> np.ndarray:
    return np.asarray(only(rows, entity, "Pinhole:image_from_camera")[0]).reshape(3, 3).T


def ns(time_s: float) -> int:
    return round(time_s * 1e9)


def unpack_rgb(packed: list[int]) -> np.ndarray:
    """rerun's 0xRRGGBBAA colours -> (N, 3) uint8."""
    values = np.asarray(packed, dtype=np.uint32)
    return np.stack([(values >> s) & 0xFF for s in (24, 16, 8)], axis=1).astype(np.uint8)


def run_view(zod_cli: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*zod_cli, "view", *args, "--no-progress"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def frame_rrd(sample_root: Path, zod_cli: list[str], tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("view") / "frame.rrd"
    result = run_view(zod_cli, str(sample_root), FRAME_ID, "--version", "mini", "--save", str(out))
    assert f"wrote {out}" in result.stdout
    return out, read_rrd(out)


def log_to_file(path: Path, item: Any, **options: Any) -> dict[str, list[dict[str, Any]]]:
    rec = zr.new_recording(item.id, subset="test")
    rec.save(path, default_blueprint=zr.default_blueprint())
    zr.log_item(rec, item, zr.LogOptions(**options))
    rec.flush()
    rec.disconnect()
    return read_rrd(path)


# ---------------------------------------------------------------------------- frames
def test_frame_entities_counts_and_times(frame_rrd, sample_root: Path) -> None:
    _, rows = frame_rrd
    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    expected = {
        zr.WORLD,
        zr.EGO_ENTITY,
        zr.LIDAR,
        zr.CAMERA,
        zr.IMAGE,
        f"{zr.LIDAR}/points",
        f"{zr.LIDAR}/boxes",
        f"{zr.IMAGE}/boxes2d",
        f"{zr.IMAGE}/lanes",
        f"{zr.WORLD}/trajectory",
        f"{zr.SIGNALS}/oxts/speed_m_s",
    }
    assert expected <= set(rows)
    assert f"{zr.RADAR}/points" not in rows  # frames have no radar

    scan_frame = frame.info.get_key_lidar_frame()
    (points,) = component_rows(rows, f"{zr.LIDAR}/points", "Points3D:positions")
    scan = scan_frame.read()
    assert points["time_ns"] == ns(scan_frame.time.timestamp())
    np.testing.assert_allclose(np.asarray(points["Points3D:positions"]), scan.points, atol=1e-6)

    camera = frame.get_camera_frame()
    (image,) = component_rows(rows, zr.IMAGE, "EncodedImage:blob")
    assert image["time_ns"] == ns(camera.time.timestamp())
    assert bytes(image["EncodedImage:blob"][0]) == Path(camera.filepath).read_bytes()

    objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    key_ns = ns(frame.info.keyframe_time.timestamp())
    (boxes,) = component_rows(rows, f"{zr.LIDAR}/boxes", "Boxes3D:centers")
    assert boxes["time_ns"] == key_ns
    with_3d = [o for o in objects if o.box3d is not None]
    assert with_3d
    assert len(boxes["Boxes3D:centers"]) == len(with_3d)
    assert boxes["Boxes3D:labels"] == [o.subclass for o in with_3d]
    np.testing.assert_allclose(
        np.asarray(boxes["Boxes3D:half_sizes"]), [o.box3d.size / 2 for o in with_3d], atol=1e-5
    )
    (boxes2d,) = component_rows(rows, f"{zr.IMAGE}/boxes2d", "Boxes2D:centers")
    assert len(boxes2d["Boxes2D:centers"]) == len(objects)
    np.testing.assert_allclose(
        np.asarray(boxes2d["Boxes2D:centers"]),
        [np.asarray(o.box2d.xyxy).reshape(2, 2).mean(axis=0) for o in objects],
        atol=1e-3,
    )
    lanes = frame.get_annotation(AnnotationProject.LANE_MARKINGS)
    (strips,) = component_rows(rows, f"{zr.IMAGE}/lanes", "LineStrips2D:strips")
    assert len(strips["LineStrips2D:strips"]) == sum(len(p) for a in lanes for p in a.polygons)
    # the ego pose at the lidar time is the interpolated world_from_ego
    poses = component_rows(rows, zr.EGO_ENTITY, "Transform3D:translation")
    at_scan = next(r for r in poses if r["time_ns"] == points["time_ns"])
    expected_pose = frame.ego_motion.get_poses(scan_frame.time.timestamp())
    np.testing.assert_allclose(
        at_scan["Transform3D:translation"][0], expected_pose[:3, 3], atol=1e-4
    )
    q_xyzw = np.asarray(at_scan["Transform3D:quaternion"][0])
    rotation = rotation_matrices_from_quaternions(np.roll(q_xyzw, 1)[None])[0]
    np.testing.assert_allclose(rotation, expected_pose[:3, :3], atol=1e-6)


def test_box_in_lidar_frame_resolves_to_the_pinhole_pixel(frame_rrd, sample_root: Path) -> None:
    """Box centres and corners logged in the lidar frame, taken through the *logged*
    transforms (lidar -> ego -> camera) and the logged Pinhole, land on the pixel of
    K @ camera_from_lidar @ p computed from zod.calibration (float64, independently)."""
    _, rows = frame_rrd
    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    calib = frame.calibration
    ego_from_lidar = transform(rows, zr.LIDAR)
    ego_from_camera = transform(rows, zr.CAMERA)
    k_logged = pinhole_k(rows)
    # camera axes x right (3), y down (2), z forward (5) in rerun's ViewDir codes: ZOD's
    assert only(rows, zr.IMAGE, "Pinhole:camera_xyz")[0] == [3, 2, 5]
    (boxes,) = component_rows(rows, f"{zr.LIDAR}/boxes", "Boxes3D:centers")
    centers = np.asarray(boxes["Boxes3D:centers"], dtype=np.float64)
    half = np.asarray(boxes["Boxes3D:half_sizes"], dtype=np.float64)
    q_wxyz = np.roll(np.asarray(boxes["Boxes3D:quaternions"], dtype=np.float64), 1, axis=1)
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
    corners = centers[:, None] + np.einsum(
        "nij,nkj->nki", rotation_matrices_from_quaternions(q_wxyz), signs[None] * half[:, None]
    )
    points_lidar = np.concatenate([centers, corners.reshape(-1, 3)])

    def through_logged(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        camera_from_lidar = np.linalg.inv(ego_from_camera) @ ego_from_lidar
        p_cam = p @ camera_from_lidar[:3, :3].T + camera_from_lidar[:3, 3]
        uvw = p_cam @ k_logged.T
        return uvw[:, :2] / uvw[:, 2:], p_cam[:, 2]

    # independent path: the calibration file's numbers, float64
    objects = [
        o for o in frame.get_annotation(AnnotationProject.OBJECT_DETECTION) if o.box3d is not None
    ]
    camera_from_lidar = calib.get_transform(Lidar.VELODYNE, Camera.FRONT)
    k = np.asarray(calib.cameras[Camera.FRONT].intrinsics)[:3, :3]
    p_cam = points_lidar @ camera_from_lidar[:3, :3].T + camera_from_lidar[:3, 3]
    in_front = p_cam[:, 2] > 1.0
    assert in_front.sum() >= 10
    expected = (p_cam @ k.T)[:, :2] / p_cam[:, 2:]
    pixels, depth = through_logged(points_lidar)
    np.testing.assert_allclose(depth, p_cam[:, 2], atol=2e-4)
    np.testing.assert_allclose(pixels[in_front], expected[in_front], atol=0.05)
    # the logged centres are the annotation's (float32)
    np.testing.assert_allclose(centers, [o.box3d.center for o in objects], atol=1e-5)

    # the pinhole is only the fisheye near the optical axis: the same pixel at the centre of
    # the image, pixels apart at 30 degrees off-axis (what docs/visualize.md says)
    cam = calib.cameras[Camera.FRONT]
    axis_point = np.array([[0.0, 0.0, 10.0], [10.0 * np.tan(np.radians(30)), 0.0, 10.0]])
    fisheye = cam.project(axis_point)
    pinhole = (axis_point @ k.T)[:, :2] / axis_point[:, 2:]
    assert np.abs(fisheye[0] - pinhole[0]).max() < 1e-6
    assert np.abs(fisheye[1] - pinhole[1]).max() > 20


def test_reduced_image_scale_scales_the_pinhole(sample_root: Path, tmp_path: Path) -> None:
    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    rows = log_to_file(tmp_path / "q.rrd", frame, image_scale=0.25, signals=False)
    (image,) = component_rows(rows, zr.IMAGE, "EncodedImage:blob")
    height, width, _, _ = simplejpeg.decode_jpeg_header(bytes(image["EncodedImage:blob"][0]))
    assert only(rows, zr.IMAGE, "Pinhole:resolution")[0] == [width, height]
    full_w, full_h = frame.calibration.cameras[Camera.FRONT].image_dimensions
    assert (width, height) == (int(np.ceil(full_w / 4)), int(np.ceil(full_h / 4)))
    k = np.asarray(frame.calibration.cameras[Camera.FRONT].intrinsics)[:3, :3]
    expected = np.diag([width / full_w, height / full_h, 1.0]) @ k
    np.testing.assert_allclose(pinhole_k(rows), expected, rtol=1e-6)
    objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    (boxes2d,) = component_rows(rows, f"{zr.IMAGE}/boxes2d", "Boxes2D:half_sizes")
    np.testing.assert_allclose(
        np.asarray(boxes2d["Boxes2D:half_sizes"])[:, 0],
        [(o.box2d.xyxy[2] - o.box2d.xyxy[0]) / 2 * width / full_w for o in objects],
        rtol=1e-5,
    )


def test_lidar_colours_and_aggregation(sample_root: Path, tmp_path: Path) -> None:
    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    rows = log_to_file(
        tmp_path / "agg.rrd",
        frame,
        lidar_color="intensity",
        aggregate=2,
        num_scans_before=1,
        num_scans_after=1,
        signals=False,
    )
    logged = component_rows(rows, f"{zr.LIDAR}/points", "Points3D:colors")
    scan_frames = frame.get_lidar_frames(1, 1)
    assert [r["time_ns"] for r in logged] == [ns(f.time.timestamp()) for f in scan_frames]
    core = scan_frames[1].read()
    np.testing.assert_array_equal(
        unpack_rgb(logged[1]["Points3D:colors"]), apply_colormap(core.intensity / 255.0)
    )
    (aggregated,) = component_rows(rows, f"{zr.LIDAR}/aggregated", "Points3D:positions")
    key_time = frame.info.keyframe_time.timestamp()
    assert aggregated["time_ns"] == ns(key_time)
    expected = frame.get_aggregated_lidar(2, 2, timestamp=key_time)
    np.testing.assert_allclose(
        np.asarray(aggregated["Points3D:positions"]), expected.points, atol=1e-4
    )
    # height colours: the ego z of each point through the calibration
    rows_h = log_to_file(tmp_path / "h.rrd", frame, signals=False)
    (heights,) = component_rows(rows_h, f"{zr.LIDAR}/points", "Points3D:colors")
    z = frame.calibration.transform_points(core.points.astype(np.float64), Lidar.VELODYNE, EGO)[
        :, 2
    ]
    same = np.all(unpack_rgb(heights["Points3D:colors"]) == apply_colormap((z + 0.5) / 3.5), axis=1)
    assert same.mean() > 0.999  # float64 sums in another order may round a rare point apart


# ---------------------------------------------------------------------------- sequences, drives
def test_sequence_time_line_window_radar_and_keyframe(sample_root: Path, tmp_path: Path) -> None:
    sequence = ZodSequences(sample_root, "mini")[SEQUENCE_ID]
    info = sequence.info
    start = info.start_time.timestamp()
    rows = log_to_file(tmp_path / "seq.rrd", sequence, start_s=0.2, end_s=1.2, compensate=True)
    lo, hi = start + 0.2, start + 1.2
    lidar_times = [
        f.time.timestamp() for f in info.get_lidar_frames() if lo <= f.time.timestamp() <= hi
    ]
    scans = component_rows(rows, f"{zr.LIDAR}/points", "Points3D:positions")
    assert [r["time_ns"] for r in scans] == [ns(t) for t in lidar_times]
    assert len(scans) < len(info.get_lidar_frames())
    # --compensate: each scan moved pointwise to its own core time
    first_logged_frame = next(f for f in info.get_lidar_frames() if f.time.timestamp() >= lo)
    scan = first_logged_frame.read()
    moved = sequence.compensate_lidar(scan, scan.core_timestamp, pointwise=True)
    np.testing.assert_allclose(np.asarray(scans[0]["Points3D:positions"]), moved.points, atol=1e-4)
    assert not np.allclose(moved.points, scan.points, atol=1e-4)

    camera_times = [
        f.time.timestamp() for f in info.get_camera_frames() if lo <= f.time.timestamp() <= hi
    ]
    images = component_rows(rows, zr.IMAGE, "EncodedImage:blob")
    assert [r["time_ns"] for r in images] == [ns(t) for t in camera_times]

    radar = sequence.get_radar()
    radar_rows = component_rows(rows, f"{zr.RADAR}/points", "Points3D:positions")
    in_window = (radar.time_s >= lo) & (radar.time_s <= hi)
    assert sum(len(r["Points3D:positions"]) for r in radar_rows) == int(in_window.sum())
    assert len(radar_rows) == len(np.unique(radar.scan_index[in_window]))
    assert transform(rows, zr.RADAR).shape == (4, 4)

    # the keyframe's boxes at the keyframe, cleared at the next sensor sample
    key_ns = ns(info.keyframe_time.timestamp())
    (boxes,) = component_rows(rows, f"{zr.LIDAR}/boxes", "Boxes3D:centers")
    assert boxes["time_ns"] == key_ns
    clears = component_rows(rows, f"{zr.LIDAR}/boxes", "Clear:is_recursive")
    sample_ns = sorted({r["time_ns"] for r in scans + images})
    assert [c["time_ns"] for c in clears] == [min(t for t in sample_ns if t > key_ns)]
    assert f"{zr.LIDAR}/predictions" not in rows  # no predictions: no (cleared) layer

    # ego pose at every sensor and radar time; time series inside the window
    pose_ns = {r["time_ns"] for r in component_rows(rows, zr.EGO_ENTITY, "Transform3D:translation")}
    assert set(sample_ns) <= pose_ns
    speed = component_rows(rows, f"{zr.SIGNALS}/oxts/speed_m_s", "Scalars:scalars")
    assert speed and all(ns(lo) - 1 <= r["time_ns"] <= ns(hi) + 1 for r in speed)
    steering = component_rows(
        rows, f"{zr.SIGNALS}/vehicle/ego_vehicle_controls/steering_angle", "Scalars:scalars"
    )
    vd = sequence.vehicle_data.ego_vehicle_controls
    keep = (vd.time_s >= lo) & (vd.time_s <= hi)
    np.testing.assert_allclose(
        [r["Scalars:scalars"][0] for r in steering], vd.steering_angle[keep], rtol=1e-12
    )


def test_drive_via_cli_start_end(sample_root: Path, zod_cli: list[str], tmp_path: Path) -> None:
    out = tmp_path / "drive.rrd"
    run_view(
        zod_cli,
        str(sample_root),
        DRIVE_ID,
        "--subset",
        "drives",
        "--version",
        "mini",
        "--end",
        "0.5",
        "--save",
        str(out),
    )
    rows = read_rrd(out)
    drive = ZodDrives(sample_root, "mini")[DRIVE_ID]
    start = drive.info.start_time.timestamp()
    times = [f.time.timestamp() for f in drive.info.get_lidar_frames()]
    scans = component_rows(rows, f"{zr.LIDAR}/points", "Points3D:positions")
    assert [r["time_ns"] for r in scans] == [ns(t) for t in times if t <= start + 0.5]


# ---------------------------------------------------------------------------- predictions
def test_predictions_coloured_by_match(
    sample_root: Path, zod_cli: list[str], tmp_path: Path
) -> None:
    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    gt = [
        o
        for o in frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        if o.box3d is not None and not o.unclear
    ]
    assert len(gt) >= 3

    def record(o: Any, shift_m: float, score: float, name: str | None = None) -> dict[str, Any]:
        return {
            "class": name or o.name,
            "score": score,
            "center": (o.box3d.center + np.array([shift_m, 0.0, 0.0])).tolist(),
            "size": o.box3d.size.tolist(),
            "rotation": list(o.box3d.orientation.elements),
        }

    records = [record(gt[0], 0.3, 0.9), record(gt[1], 0.0, 0.8)]  # TP, TP
    records.append(record(gt[2], 6.0, 0.7))  # too far: FP
    records.append(record(gt[1], 0.1, 0.6))  # second on a taken ground truth: FP
    other = "Animal" if gt[0].name != "Animal" else "Pedestrian"
    records.append(record(gt[0], 0.0, 0.5, other))  # wrong class: FP
    records.append(record(gt[0], 0.0, 0.05))  # below --min-score: not shown
    # a subclass row of the first box (as write_predictions writes it): the same box
    records.append(dict(records[0], **{"class": f"{gt[0].name}_Other"}))
    path = tmp_path / "preds.json"
    path.write_text(json.dumps({"results": {FRAME_ID: records, "999999": []}}))
    out = tmp_path / "p.rrd"
    run_view(
        zod_cli,
        str(sample_root),
        FRAME_ID,
        "--version",
        "mini",
        "--predictions",
        str(path),
        "--min-score",
        "0.1",
        "--no-signals",
        "--save",
        str(out),
    )
    rows = read_rrd(out)
    (preds,) = component_rows(rows, f"{zr.LIDAR}/predictions", "Boxes3D:centers")
    assert preds["time_ns"] == ns(frame.info.keyframe_time.timestamp())
    colors = [tuple(c) for c in unpack_rgb(preds["Boxes3D:colors"])]
    assert colors == [zr.TP_COLOR, zr.TP_COLOR, zr.FP_COLOR, zr.FP_COLOR, zr.FP_COLOR]
    labels = preds["Boxes3D:labels"]
    assert labels[0] == f"{gt[0].name}_Other 0.90 TP"
    assert labels[3].endswith("0.60 FP")


def test_match_predictions_agrees_with_the_evaluation(sample_root: Path) -> None:
    """The TP count of match_predictions equals the evaluation's TP count at 2 m."""
    from zod.eval.detection.io import ground_truth_from_objects
    from zod.eval.detection.matching import match_greedy

    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    gt = ground_truth_from_objects({FRAME_ID: objects})
    rng = np.random.default_rng(0)
    keep = ~np.char.count(gt.names.astype(str), "_").astype(bool)  # class rows
    centers = gt.centers_m[keep] + rng.normal(0, 1.5, (keep.sum(), 3))
    preds = zr.PredictedBoxes(
        centers,
        gt.sizes_lwh_m[keep],
        gt.quaternions_wxyz[keep],
        gt.names[keep],
        rng.uniform(0.1, 1.0, keep.sum()),
    )
    is_tp = zr.match_predictions(preds, gt.centers_m[keep], list(gt.names[keep]))
    expected = 0
    for name in np.unique(gt.names[keep]):
        g = gt.names[keep] == name
        result = match_greedy(
            np.zeros(g.sum(), int),
            gt.centers_m[keep][g, :2],
            np.zeros(g.sum(), int),
            centers[g, :2],
            preds.scores[g],
            2.0,
        )
        expected += int(result.is_tp.sum())
    assert 0 < is_tp.sum() == expected < len(preds)


def test_cli_errors(sample_root: Path, zod_cli: list[str], tmp_path: Path) -> None:
    both = subprocess.run(
        [*zod_cli, "view", str(sample_root), FRAME_ID, "--save", "x.rrd", "--serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert both.returncode == 1 and "not both" in both.stderr
    unknown = subprocess.run(
        [*zod_cli, "view", str(sample_root), "123456", "--save", str(tmp_path / "u.rrd")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 1 and "123456" in unknown.stderr


def test_rectified_view_logged_with_its_exact_k(sample_root: Path, tmp_path: Path) -> None:
    """A pinhole view (K, size, pose, resampling) is logged beside the fisheye: its images at
    its own entity, its Pinhole exact, so rerun's overlay of a lidar-frame point is
    K_view @ view_from_lidar @ p."""
    import cv2

    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    calib = frame.calibration
    cam = calib.cameras[Camera.FRONT]
    width, height = 960, 540
    k_view = np.array([[600.0, 0.0, width / 2], [0.0, 600.0, height / 2], [0.0, 0.0, 1.0]])
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1) @ np.linalg.inv(k_view).T
    source = cam.project(rays).reshape(height, width, 2).astype(np.float32)

    def rectify(rgb: np.ndarray) -> np.ndarray:
        return cv2.remap(rgb, source[..., 0], source[..., 1], cv2.INTER_LINEAR)

    view = zr.RectifiedView(
        "pinhole_front", k_view, (width, height), cam.extrinsics.transform, rectify
    )
    rows = log_to_file(tmp_path / "v.rrd", frame, views=(view,), signals=False)
    entity = f"{zr.EGO_ENTITY}/pinhole_front"
    (image,) = component_rows(rows, f"{entity}/image", "EncodedImage:blob")
    h, w, _, _ = simplejpeg.decode_jpeg_header(bytes(image["EncodedImage:blob"][0]))
    assert (w, h) == (width, height)
    assert image["time_ns"] == ns(frame.get_camera_frame().time.timestamp())
    np.testing.assert_allclose(pinhole_k(rows, f"{entity}/image"), k_view, rtol=1e-6)
    (boxes,) = component_rows(rows, f"{zr.LIDAR}/boxes", "Boxes3D:centers")
    centers = np.asarray(boxes["Boxes3D:centers"], dtype=np.float64)
    logged = np.linalg.inv(transform(rows, entity)) @ transform(rows, zr.LIDAR)
    p_logged = centers @ logged[:3, :3].T + logged[:3, 3]
    truth = calib.get_transform(Lidar.VELODYNE, Camera.FRONT)
    p_true = centers @ truth[:3, :3].T + truth[:3, 3]
    front = p_true[:, 2] > 1.0
    assert front.sum() >= 5
    pix_logged = (p_logged @ k_view.T)[:, :2] / p_logged[:, 2:]
    pix_true = (p_true @ k_view.T)[:, :2] / p_true[:, 2:]
    np.testing.assert_allclose(pix_logged[front], pix_true[front], atol=0.02)


def test_pinhole_view_resolves_to_its_exact_projection(sample_root: Path, tmp_path: Path) -> None:
    """RectifiedView.from_pinhole(FRONT_VIEW): the boxes logged in the lidar frame, carried
    through the logged transforms and the view's Pinhole, land on zod.geometry.pinhole's
    projection of the same points; the image is rectify() of the fisheye JPEG."""
    from zod.geometry.pinhole import FRONT_VIEW, points_to_view, rectify

    frame = ZodFrames(sample_root, "mini")[FRAME_ID]
    calib = frame.calibration
    view = zr.RectifiedView.from_pinhole(FRONT_VIEW, calib)
    rows = log_to_file(tmp_path / "p.rrd", frame, views=(view,), signals=False)
    entity = f"{zr.EGO_ENTITY}/pinhole_front"
    k_logged = pinhole_k(rows, f"{entity}/image")
    np.testing.assert_allclose(k_logged, FRONT_VIEW.intrinsics, rtol=1e-6)
    (boxes,) = component_rows(rows, f"{zr.LIDAR}/boxes", "Boxes3D:centers")
    centers = np.asarray(boxes["Boxes3D:centers"], dtype=np.float64)
    view_from_lidar = np.linalg.inv(transform(rows, entity)) @ transform(rows, zr.LIDAR)
    p_view = centers @ view_from_lidar[:3, :3].T + view_from_lidar[:3, 3]
    truth = points_to_view(centers, calib, FRONT_VIEW)
    seen = truth.in_front & (p_view[:, 2] > 1.0)
    assert seen.sum() >= 5
    pix_logged = (p_view @ k_logged.T)[:, :2] / p_view[:, 2:]
    np.testing.assert_allclose(pix_logged[seen], truth.pixels[seen], atol=0.02)
    (image,) = component_rows(rows, f"{entity}/image", "EncodedImage:blob")
    logged_rgb = simplejpeg.decode_jpeg(bytes(image["EncodedImage:blob"][0]))
    expected = rectify(frame.get_camera_frame().read(), calib, FRONT_VIEW)
    assert logged_rgb.shape == expected.shape
    assert np.abs(logged_rgb.astype(int) - expected.astype(int)).mean() < 3.0  # JPEG q90


def test_cli_pinhole_rig(sample_root: Path, zod_cli: list[str], tmp_path: Path) -> None:
    """`zod view --pinhole rig` logs the three rig views with their exact K beside the fisheye."""
    from zod.geometry.pinhole import THREE_VIEW_RIG

    out = tmp_path / "rig.rrd"
    run_view(zod_cli, str(sample_root), FRAME_ID, "--pinhole", "rig", "--save", str(out))
    rows = read_rrd(out)
    for view in THREE_VIEW_RIG:
        entity = f"{zr.EGO_ENTITY}/pinhole_{view.name}/image"
        np.testing.assert_allclose(pinhole_k(rows, entity), view.intrinsics, rtol=1e-6)
        (image,) = component_rows(rows, entity, "EncodedImage:blob")
        h, w, _, _ = simplejpeg.decode_jpeg_header(bytes(image["EncodedImage:blob"][0]))
        assert (w, h) == (view.width_px, view.height_px)


def test_cli_serve_starts_the_web_viewer(sample_root: Path, zod_cli: list[str]) -> None:
    """--serve logs to a gRPC server and serves the web viewer's page (then runs until stopped)."""
    import socket
    import time
    import urllib.request

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    web_port, grpc_port = free_port(), free_port()
    args = ["--web-port", str(web_port), "--grpc-port", str(grpc_port), "--no-progress"]
    proc = subprocess.Popen(
        [*zod_cli, "view", str(sample_root), FRAME_ID, "--version", "mini", "--serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert lines[0].startswith(f"web viewer: http://localhost:{web_port}/?url="), lines
        assert str(grpc_port) in lines[0]
        assert lines[1].startswith("logged 1 camera, 1 lidar, 1 keyframe"), lines
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=5) as page:
                    assert page.status == 200
                    assert b"<html" in page.read().lower()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the web viewer did not answer")
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(30)
