"""`zod convert kitti --camera pinhole` (the default): image_2 is the rectified front view, P2 its
exact K, label 2D boxes the 3D boxes projected into the view.

Independent paths: P2 (read back by the KITTI calib parser) against the fisheye projection
mapped through the view's exact inverse map; label boxes against ``pinhole.points_to_view`` of
the annotated boxes' corners; the image against ``rectify`` of the decoded JPEG and, for box
centres, against the fisheye image's colour there.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from zod.annotations.classes import OBJECT_SUBCLASSES
from zod.annotations.object_features import parse_object_features
from zod.annotations.parser import parse_object_detection_annotation
from zod.calibration import Calibration
from zod.constants import Camera, Lidar
from zod.converters.kitti import (
    KITTI_NAMES,
    KITTI_TYPES,
    KittiCalib,
    camera_boxes_to_velo,
    convert_to_kitti,
    parse_label,
    view_calib,
    view_label_text,
)
from zod.geometry import fisheye, pinhole
from zod.geometry.pinhole import FRONT_VIEW

REPO = Path(__file__).resolve().parent.parent


def _index(root: Path, version: str) -> list[dict]:
    index = json.loads((root / f"trainval-frames-{version}.json").read_text())
    return index["train"] + index["val"]


@pytest.fixture(scope="module")
def pinhole_out(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kitti-pinhole")
    convert_to_kitti(sample_root, out, "full", kitti_names=True, workers=2, progress=False)
    return out


def _read(out: Path, kind: str, frame_id: str) -> str:
    return (out / "training" / kind / f"{frame_id}.txt").read_text()


def _frame(sample_root: Path, info: dict) -> tuple[Calibration, list]:
    calibration = Calibration.from_json_path(sample_root / info["calibration_path"])
    path = sample_root / info["annotations"]["object_detection"]["filepath"]
    return calibration, parse_object_detection_annotation(path)


def _project_with_p2(calib: KittiCalib, points_velo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KITTI's rule: pixel = P2 @ R0_rect @ Tr_velo_to_cam @ [x, 1] -> (pixels (N, 2), depth)."""
    rect = np.eye(4)
    rect[:3, :3] = calib.R0_rect
    tr = np.eye(4)
    tr[:3] = calib.Tr_velo_to_cam
    hom = np.c_[points_velo, np.ones(len(points_velo))] @ (calib.P @ rect @ tr).T
    return hom[:, :2] / hom[:, 2:3], hom[:, 2]


def test_p2_equals_the_fisheye_projection_mapped_through_the_view(
    pinhole_out: Path, sample_root: Path
) -> None:
    errors = []
    for info in _index(sample_root, "full"):
        calib = KittiCalib.from_text(_read(pinhole_out, "calib", info["id"]))
        np.testing.assert_allclose(calib.P[:, :3], FRONT_VIEW.intrinsics, atol=1e-9)
        np.testing.assert_array_equal(calib.P[:, 3], 0.0)
        np.testing.assert_array_equal(calib.R0_rect, np.eye(3))
        calibration, objects = _frame(sample_root, info)
        camera = calibration.cameras[Camera.FRONT]
        corners_lidar = np.concatenate([o.box3d.corners for o in objects if o.box3d is not None])
        velo_from_lidar = calibration.get_extrinsics(Lidar.VELODYNE).transform[:3, :3]
        pixels_p2, depth = _project_with_p2(calib, corners_lidar @ velo_from_lidar.T)
        corners_camera = calibration.transform_points(corners_lidar, Lidar.VELODYNE, Camera.FRONT)
        fisheye_px = fisheye.project(corners_camera, camera.intrinsics, camera.distortion)
        mapped = pinhole.fisheye_to_view_pixels(fisheye_px, camera, FRONT_VIEW)
        theta = np.arctan2(
            np.hypot(corners_camera[:, 0], corners_camera[:, 1]), corners_camera[:, 2]
        )
        usable = mapped.valid & (depth > 0) & (theta < fisheye.max_valid_theta(camera.distortion))
        errors.append(np.abs(pixels_p2[usable] - mapped.pixels[usable]).max(axis=1))
    error = np.concatenate(errors)
    assert error.size > 100
    assert error.max() < 0.5  # the goal; measured ~1e-9 px
    assert error.max() < 1e-6


def test_label_boxes_are_the_boxes_projected_into_the_view(
    pinhole_out: Path, sample_root: Path
) -> None:
    """Each real label is an annotated box (matched by its bottom centre), its 2D box the clipped
    bounding box of ``points_to_view`` of the box corners (IoU 1 up to the 2 decimals written),
    its truncation the share outside; every box in the view is written, none other."""
    checked = 0
    for info in _index(sample_root, "full"):
        calib = KittiCalib.from_text(_read(pinhole_out, "calib", info["id"]))
        label = parse_label(_read(pinhole_out, "label_2", info["id"]))
        calibration, objects = _frame(sample_root, info)
        real = [t != "DontCare" for t in label.types]
        assert real == sorted(real, reverse=True)  # DontCare lines last
        centers_velo, _, _ = camera_boxes_to_velo(
            label.location_cam, label.dimensions_hwl, label.rotation_y, calib.cam_from_velo
        )
        velo_from_lidar = calibration.get_extrinsics(Lidar.VELODYNE).transform[:3, :3]
        expected_in_view = 0
        for obj in objects:
            kitti_type = KITTI_NAMES[obj.subclass]
            if obj.box3d is None or obj.unclear or kitti_type in (None, "DontCare"):
                continue
            projection = pinhole.points_to_view(obj.box3d.corners, calibration, FRONT_VIEW)
            assert projection.in_front.all()  # the sample has no box reaching behind the camera
            lo, hi = projection.pixels.min(axis=0), projection.pixels.max(axis=0)
            limit = np.array([FRONT_VIEW.width_px - 1.0, FRONT_VIEW.height_px - 1.0])
            clipped = np.r_[np.clip(lo, 0, limit), np.clip(hi, 0, limit)]
            in_view = bool(np.all(clipped[2:] > clipped[:2]))
            expected_in_view += in_view
            match = np.flatnonzero(
                np.linalg.norm(centers_velo - obj.box3d.center @ velo_from_lidar.T, axis=1) < 1e-4
            )
            if not in_view:
                assert match.size == 0  # outside the view: dropped
                continue
            assert match.size == 1, (info["id"], obj.subclass)
            row = int(match[0])
            assert label.types[row] == kitti_type
            np.testing.assert_allclose(label.boxes_xyxy[row], clipped, atol=0.0051)
            area = np.prod(hi - lo)
            truncation = 1.0 - np.prod(clipped[2:] - clipped[:2]) / area
            assert abs(label.truncated[row] - truncation) < 0.0051
            checked += 1
        assert sum(real) == expected_in_view
    assert checked > 10


def test_image_is_the_rectified_key_image(pinhole_out: Path, sample_root: Path) -> None:
    info = _index(sample_root, "full")[0]
    png = cv2.imread(str(pinhole_out / "training" / "image_2" / f"{info['id']}.png"))
    assert png is not None and png.shape == (FRONT_VIEW.height_px, FRONT_VIEW.width_px, 3)
    fisheye_bgr = cv2.imread(str(sample_root / info["camera_frames"]["front_blur"][0]["filepath"]))
    assert fisheye_bgr is not None
    calibration, _ = _frame(sample_root, info)
    camera = calibration.cameras[Camera.FRONT]
    np.testing.assert_array_equal(png, pinhole.rectify(fisheye_bgr, camera, FRONT_VIEW))


def test_view_shows_at_each_projected_box_centre_what_the_fisheye_shows(
    pinhole_out: Path, sample_root: Path
) -> None:
    """Content check: the view image at P2 @ (a box's front-face centre) has the colour of the
    fisheye image at that point's fisheye projection (the sample paints boxes in flat colours)."""
    compared = 0
    for info in _index(sample_root, "full"):
        calib = KittiCalib.from_text(_read(pinhole_out, "calib", info["id"]))
        calibration, objects = _frame(sample_root, info)
        camera = calibration.cameras[Camera.FRONT]
        view = cv2.imread(str(pinhole_out / "training" / "image_2" / f"{info['id']}.png"))
        raw = cv2.imread(str(sample_root / info["camera_frames"]["front_blur"][0]["filepath"]))
        assert view is not None and raw is not None
        velo_from_lidar = calibration.get_extrinsics(Lidar.VELODYNE).transform[:3, :3]
        for obj in objects:
            if obj.box3d is None or obj.occlusion_level != "None":
                continue
            # the point of the box nearest the camera along its centre ray: the visible face
            center_cam = calibration.transform_points(
                obj.box3d.center[None], Lidar.VELODYNE, Camera.FRONT
            )[0]
            point_cam = center_cam * (1 - 0.45 * min(obj.box3d.size) / np.linalg.norm(center_cam))
            point_lidar = calibration.transform_points(
                point_cam[None], Camera.FRONT, Lidar.VELODYNE
            )
            pixels, _ = _project_with_p2(calib, point_lidar @ velo_from_lidar.T)
            u, v = pixels[0]
            uf, vf = fisheye.project(point_cam[None], camera.intrinsics, camera.distortion)[0]
            if not (2 <= u < FRONT_VIEW.width_px - 2 and 2 <= v < FRONT_VIEW.height_px - 2):
                continue
            a = view[round(v), round(u)].astype(int)
            b = raw[round(vf), round(uf)].astype(int)
            assert np.abs(a - b).max() <= 12, (info["id"], obj.subclass, a, b)
            compared += 1
    assert compared >= 8


class _Camera:
    """The sample-like fisheye (what view_label_text reads of a CameraCalibration)."""

    intrinsics = np.array([[1900.0, 0, 1919.7, 0], [0, 1900.0, 1090.7, 0], [0, 0, 1, 0]])
    distortion = np.array([-0.035, 0.004, -0.0015, 0.0001])
    image_dimensions = np.array([3848, 2168])


def test_objects_outside_the_view_are_dropped_and_dont_care_comes_last() -> None:
    """Hand-placed boxes, camera = ego-aligned view at the lidar: in front (kept, untruncated),
    behind (dropped), 80 degrees to the left (dropped), a long one alongside reaching behind the
    camera (kept: cut at the near plane, clipped to the image edge, truncated), a DontCare."""
    ego_from_lidar = np.eye(4)
    ego_from_camera = np.eye(4)
    ego_from_camera[:3, :3] = [[0, 0, 1.0], [-1.0, 0, 0], [0, -1.0, 0]]  # x right, y down, z fwd
    calib, velo_from_lidar = view_calib(ego_from_lidar, ego_from_camera, FRONT_VIEW)
    centers = np.array([[20.0, 0, 0], [-15.0, 0, 0], [3.0, 17.0, 0], [2.0, -4.0, 0], [30, 0, 0]])
    sizes = np.array([[4.0, 2, 1.5], [4, 2, 1.5], [4, 2, 1.5], [12.0, 2.5, 3.0], [1, 1, 1]])
    features = []
    for i, (center, size) in enumerate(zip(centers, sizes)):
        props: dict[str, Any] = {"annotation_uuid": str(i), "occlusion_ratio": "None"}
        props.update({"class": "Vehicle", "type": "Car"} if i < 4 else {"class": "Pedestrian"})
        if i < 4:  # the pedestrian has no 3D box: a DontCare region
            props["location_3d"] = {"type": "Point", "coordinates": center.tolist()}
            props.update(zip(("size_3d_length", "size_3d_width", "size_3d_height"), size))
            props.update(zip(("orientation_3d_qw", "orientation_3d_qx"), (1.0, 0.0)))
            props.update(zip(("orientation_3d_qy", "orientation_3d_qz"), (0.0, 0.0)))
        corners = [[1900.0, 1000.0], [2000.0, 1000.0], [2000.0, 1100.0], [1900.0, 1100.0]]
        features.append(
            {"geometry": {"type": "MultiPoint", "coordinates": corners}, "properties": props}
        )
    objects = parse_object_features(features)
    text = view_label_text(objects, calib, velo_from_lidar, _Camera(), FRONT_VIEW)
    label = parse_label(text)
    assert label.types == ["Vehicle", "Vehicle", "DontCare"]
    # the car 20 m ahead: centred, fully inside
    f = FRONT_VIEW.focal_px
    cx, cy = FRONT_VIEW.principal_point
    near_face_z = 18.0  # its rear face, 20 - 4 / 2 m ahead, spans x +-1 m and y +-0.75 m
    np.testing.assert_allclose(
        label.boxes_xyxy[0],
        [cx - f * 1 / near_face_z, cy - f * 0.75 / near_face_z, cx + f / near_face_z,
         cy + f * 0.75 / near_face_z],
        atol=0.0051,
    )  # fmt: skip
    assert label.truncated[0] == 0.0
    # the long truck on the right from 4 m behind to 8 m ahead: reaches the right image edge
    assert label.boxes_xyxy[1, 2] == FRONT_VIEW.width_px - 1
    assert 0.5 < label.truncated[1] <= 1.0  # 2 decimals: a box this long is ~1.00
    np.testing.assert_allclose(label.location_cam[1], [4.0, 0.0 + 1.5, 2.0], atol=1e-6)


def test_kitti_names_table_is_the_one_in_the_docs() -> None:
    text = (REPO / "docs" / "convert.md").read_text()
    text = text[text.index("### KITTI names") :]
    text = text[: text.index("\n#", 1)]
    rows = re.findall(r"^\| `([A-Za-z_]+)` \| (`([A-Za-z_]+)`|left out) \|", text, re.MULTILINE)
    table = {zod: (kitti or None) for zod, _, kitti in rows}
    assert table == KITTI_NAMES
    assert set(OBJECT_SUBCLASSES) <= set(KITTI_NAMES)
    assert {t for t in KITTI_NAMES.values() if t is not None} <= {*KITTI_TYPES, "DontCare"}


def test_cli_refuses_a_link_of_a_rectified_image(
    zod_cli: list[str], sample_root: Path, tmp_path: Path
) -> None:
    base = [*zod_cli, "convert", "kitti", str(sample_root), "--output-dir", str(tmp_path)]
    for extra in (["--images", "symlink"], ["--kitti-names", "--label-type", "subclass"]):
        run = subprocess.run([*base, *extra], capture_output=True, text=True, check=False)
        assert run.returncode == 2, (extra, run.stderr)
        assert run.stderr.startswith("ERROR: ")
    assert not (tmp_path / "training").exists()
    run = subprocess.run(
        [*base, "--camera", "fisheye", "--images", "none", "--workers", "1", "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    calib = KittiCalib.from_text((tmp_path / "training" / "calib" / "002506.txt").read_text())
    assert calib.P[0, 0] != FRONT_VIEW.focal_px  # the fisheye's stand-in, not the view's K


def test_files_follow_the_rules_the_tools_info_scripts_rely_on(
    pinhole_out: Path, sample_root: Path
) -> None:
    """Our own reading of our files by the rules OpenPCDet's and mmdetection3d's KITTI info
    scripts apply (docs/convert.md lists them): ids as integers formatted %06d, ImageSets with
    test.txt, image_2 PNGs, calib by line position split on single spaces, 15-field labels with
    DontCare last, and their camera -> lidar box rule recovering the annotated boxes."""
    sets = pinhole_out / "ImageSets"
    assert (sets / "test.txt").read_text() == ""
    ids = [
        line for split in ("train", "val") for line in (sets / f"{split}.txt").read_text().split()
    ]
    assert ids and all(f"{int(i):06d}" == i for i in ids)
    for frame_id in ids:
        training = pinhole_out / "training"
        for kind, ext in (
            ("velodyne", "bin"),
            ("label_2", "txt"),
            ("calib", "txt"),
            ("image_2", "png"),
        ):
            assert (training / kind / f"{frame_id}.{ext}").is_file()
        lines = (training / "calib" / f"{frame_id}.txt").read_text().splitlines()
        fields = [line.split(" ") for line in lines]
        assert [f[0] for f in fields] == [
            "P0:", "P1:", "P2:", "P3:", "R0_rect:", "Tr_velo_to_cam:", "Tr_imu_to_velo:"
        ]  # fmt: skip
        assert [len(f) - 1 for f in fields] == [12, 12, 12, 12, 9, 12, 12]
        p2 = np.array(fields[2][1:], dtype=np.float64).reshape(3, 4)
        r0 = np.eye(4)
        r0[:3, :3] = np.array(fields[4][1:], dtype=np.float64).reshape(3, 3)
        v2c = np.eye(4)
        v2c[:3] = np.array(fields[5][1:], dtype=np.float64).reshape(3, 4)
        np.testing.assert_allclose(p2[:, :3], FRONT_VIEW.intrinsics)
        rows = [
            line.strip().split(" ") for line in _read(pinhole_out, "label_2", frame_id).splitlines()
        ]
        assert all(len(row) == 15 for row in rows)
        assert all(int(row[2]) in (-1, 0, 1, 2, 3) for row in rows)
        names = [row[0] for row in rows]
        num_objects = sum(name != "DontCare" for name in names)
        assert all(name != "DontCare" for name in names[:num_objects])
        table = np.array([row[1:] for row in rows[:num_objects]], dtype=np.float64).reshape(-1, 14)
        # the tools' rule: lidar centre = inv(R0 @ V2C) @ location, lifted by h / 2; heading
        # = -(pi / 2 + rotation_y); dimensions h w l
        location = np.c_[table[:, 10:13], np.ones(num_objects)] @ np.linalg.inv(r0 @ v2c).T
        centers = location[:, :3] + np.c_[np.zeros((num_objects, 2)), table[:, 7] / 2]
        headings = -(np.pi / 2 + table[:, 13])
        info = next(i for i in _index(sample_root, "full") if i["id"] == frame_id)
        calibration, objects = _frame(sample_root, info)
        velo_from_lidar = calibration.get_extrinsics(Lidar.VELODYNE).transform[:3, :3]
        boxed = [o for o in objects if o.box3d is not None]
        annotated = np.array([o.box3d.center @ velo_from_lidar.T for o in boxed])
        for center, heading, hwl in zip(centers, headings, table[:, 7:10]):
            distance = np.linalg.norm(annotated - center, axis=1)
            assert distance.min() < 1e-4
            obj = boxed[int(distance.argmin())]
            assert obj.box3d is not None
            np.testing.assert_allclose(hwl[::-1], obj.box3d.size, atol=1e-5)
            rot = velo_from_lidar @ obj.box3d.orientation.rotation_matrix
            yaw = np.arctan2(rot[1, 0], rot[0, 0])
            assert abs(np.angle(np.exp(1j * (heading - yaw)))) < 1e-5
