"""`zod convert kitti --camera fisheye` on the sample: labels parsed back into lidar-frame boxes
recover the annotations (1e-4 m / 1e-4 rad), velodyne files hold the scan, calib and ImageSets
agree. (The default camera, the pinhole view: tests/test_convert_kitti_pinhole.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zod.constants import Lidar
from zod.converters.kitti import (
    KittiCalib,
    boxes_velo_to_lidar,
    camera_boxes_to_velo,
    convert_to_kitti,
    parse_label,
)
from zod.geometry.transforms import rotation_matrices_from_quaternions


def _index(root: Path, version: str) -> dict:
    return json.loads((root / f"trainval-frames-{version}.json").read_text())


@pytest.fixture(scope="module")
def kitti_out(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kitti")
    convert_to_kitti(sample_root, out, "full", camera="fisheye", workers=2, progress=False)
    return out


def _file_order(features: list[dict]) -> list[int]:
    """Label line -> feature index: the objects with a clear 3D box in file order, then the
    DontCare ones (what OpenPCDet and mmdetection3d expect)."""
    real = [
        i
        for i, f in enumerate(features)
        if "location_3d" in f["properties"] and not f["properties"]["unclear"]
    ]
    return real + [i for i in range(len(features)) if i not in real]


def test_imagesets_list_the_splits(kitti_out: Path, sample_root: Path) -> None:
    index = _index(sample_root, "full")
    for split in ("train", "val"):
        listed = (kitti_out / "ImageSets" / f"{split}.txt").read_text().split()
        assert listed == [info["id"] for info in index[split]]


def test_labels_round_trip_to_the_annotated_lidar_boxes(kitti_out: Path, sample_root: Path) -> None:
    index = _index(sample_root, "full")
    checked = 0
    for info in index["train"] + index["val"]:
        frame_id = info["id"]
        features = json.loads(
            (sample_root / info["annotations"]["object_detection"]["filepath"]).read_text()
        )
        label = parse_label((kitti_out / "training" / "label_2" / f"{frame_id}.txt").read_text())
        assert len(label.types) == len(features)  # one line per object
        calib = KittiCalib.from_text(
            (kitti_out / "training" / "calib" / f"{frame_id}.txt").read_text()
        )
        calibration = json.loads((sample_root / info["calibration_path"]).read_text())["FC"]
        ego_from_lidar = np.array(calibration["lidar_extrinsics"])
        velo_from_lidar = ego_from_lidar[:3, :3]
        centers_velo, sizes_lwh, yaw_velo = camera_boxes_to_velo(
            label.location_cam, label.dimensions_hwl, label.rotation_y, calib.cam_from_velo
        )
        centers_lidar, quats_lidar = boxes_velo_to_lidar(centers_velo, yaw_velo, velo_from_lidar)
        for i, feature_index in enumerate(_file_order(features)):
            feature = features[feature_index]
            props = feature["properties"]
            corners = np.array(feature["geometry"]["coordinates"])
            np.testing.assert_allclose(
                label.boxes_xyxy[i], [*corners.min(0), *corners.max(0)], atol=0.006
            )
            if "location_3d" not in props or props["unclear"]:
                assert label.types[i] == "DontCare"
                continue
            assert label.types[i] == props["class"]
            np.testing.assert_allclose(
                centers_lidar[i], props["location_3d"]["coordinates"], atol=1e-4
            )
            np.testing.assert_allclose(
                sizes_lwh[i],
                [props["size_3d_length"], props["size_3d_width"], props["size_3d_height"]],
                atol=1e-4,
            )
            q = np.array([props[f"orientation_3d_q{c}"] for c in "wxyz"])
            rot_velo = velo_from_lidar @ rotation_matrices_from_quaternions(q)
            heading = np.arctan2(rot_velo[1, 0], rot_velo[0, 0])
            assert abs(np.angle(np.exp(1j * (yaw_velo[i] - heading)))) < 1e-4, (frame_id, i)
            # KITTI boxes have no roll / pitch: what is dropped is the small tilt of the box in the
            # ego frame (the ego's own pitch / roll against the ground), well under a degree
            q /= np.linalg.norm(q)
            angle = 2 * np.arccos(min(1.0, abs(float(np.dot(q, quats_lidar[i])))))
            assert angle < np.deg2rad(1.0), (frame_id, i, angle)
            checked += 1
    assert checked > 0


def test_camera_convention_puts_boxes_in_front_and_below(
    kitti_out: Path, sample_root: Path
) -> None:
    """KITTI camera: z forward, y down; location = bottom centre, so y_bottom > y_top."""
    index = _index(sample_root, "full")
    info = index["train"][0]
    label = parse_label((kitti_out / "training" / "label_2" / f"{info['id']}.txt").read_text())
    real = np.array([t != "DontCare" for t in label.types])
    assert real.any()
    assert np.all(label.location_cam[real, 2] > 0)  # in front of the camera
    # box centres sit half a height above the bottom: y_centre = y_bottom - h/2 (y down)
    calib = KittiCalib.from_text(
        (kitti_out / "training" / "calib" / f"{info['id']}.txt").read_text()
    )
    centers, _, _ = camera_boxes_to_velo(
        label.location_cam[real],
        label.dimensions_hwl[real],
        label.rotation_y[real],
        calib.cam_from_velo,
    )
    bottoms, _, _ = camera_boxes_to_velo(
        label.location_cam[real],
        np.zeros_like(label.dimensions_hwl[real]),
        label.rotation_y[real],
        calib.cam_from_velo,
    )
    np.testing.assert_allclose(
        centers[:, 2] - bottoms[:, 2], label.dimensions_hwl[real, 0] / 2, atol=1e-9
    )
    # P2 is the pinhole approximation at the fisheye centre: K of calibration.json
    calibration = json.loads((sample_root / info["calibration_path"]).read_text())["FC"]
    np.testing.assert_allclose(calib.P[:, :3], np.array(calibration["intrinsics"])[:, :3])


def test_velodyne_holds_the_core_scan_in_the_velo_frame(kitti_out: Path, sample_root: Path) -> None:
    from zod.dataset import ZodFrames

    frames = ZodFrames(str(sample_root), "full")
    frame_id = _index(sample_root, "full")["val"][0]["id"]
    frame = frames[frame_id]
    lidar = frame.get_lidar()[0]
    cloud = np.fromfile(
        kitti_out / "training" / "velodyne" / f"{frame_id}.bin", dtype=np.float32
    ).reshape(-1, 4)
    assert cloud.shape == (len(lidar.points), 4)
    rot = frame.calibration.get_extrinsics(Lidar.VELODYNE).transform[:3, :3]
    np.testing.assert_allclose(cloud[:, :3], lidar.points @ rot.T, atol=1e-4)
    np.testing.assert_allclose(cloud[:, 3], np.asarray(lidar.intensity) / 255.0, atol=1e-6)
    # the velo frame has the ego axes: the ground (most points) lies below the lidar, z up
    assert np.median(cloud[:, 2]) < 0
    image = kitti_out / "training" / "image_2" / f"{frame_id}.jpg"
    assert (
        image.is_symlink()
        and image.resolve() == Path(frame.info.get_key_camera_frame().filepath).resolve()
    )


def test_resumable_skips_done_frames(kitti_out: Path, sample_root: Path) -> None:
    frame_id = _index(sample_root, "full")["train"][0]["id"]
    label = kitti_out / "training" / "label_2" / f"{frame_id}.txt"
    original = label.read_text()
    label.write_text("edited\n")
    convert_to_kitti(sample_root, kitti_out, "full", camera="fisheye", workers=1, progress=False)
    assert label.read_text() == "edited\n"  # done frames are skipped
    convert_to_kitti(
        sample_root, kitti_out, "full", camera="fisheye", workers=1, overwrite=True, progress=False
    )
    assert label.read_text() == original


def test_cli_reports_missing_lidar_and_skips_it_on_request(
    zod_cli: list[str], sample_copy: Path, tmp_path: Path
) -> None:
    import subprocess

    index = _index(sample_copy, "mini")
    victim = index["train"][0]["id"]
    for scan in (sample_copy / "single_frames" / victim / "lidar_velodyne").glob("*.npy"):
        scan.unlink()
    command = [
        *zod_cli,
        "convert",
        "kitti",
        "--dataset-root",
        str(sample_copy),
        "--output-dir",
        str(tmp_path),
        "--version",
        "mini",
        "--workers",
        "1",
        "--no-progress",
    ]
    failed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert (
        victim in failed.stderr and "--skip-missing" in failed.stderr and "lidar" in failed.stderr
    )
    done = subprocess.run([*command, "--skip-missing"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    listed = (tmp_path / "ImageSets" / "train.txt").read_text().split()
    assert victim not in listed and listed == [i["id"] for i in index["train"][1:]]
    assert (tmp_path / "ImageSets" / "train.missing.txt").read_text().startswith(victim)
    assert not (tmp_path / "training" / "label_2" / f"{victim}.txt").exists()


def test_subclass_labels_match_the_annotation_parser(sample_root: Path, tmp_path: Path) -> None:
    from zod.annotations.parser import parse_object_detection_annotation

    convert_to_kitti(
        sample_root,
        tmp_path,
        "mini",
        label_type="subclass",
        image_mode="none",
        camera="fisheye",
        workers=1,
        progress=False,
    )
    index = _index(sample_root, "mini")
    compared = 0
    for info in index["train"] + index["val"]:
        path = sample_root / info["annotations"]["object_detection"]["filepath"]
        objects = parse_object_detection_annotation(path)
        order = _file_order(json.loads(path.read_text()))
        objects = [objects[i] for i in order]
        label = parse_label((tmp_path / "training" / "label_2" / f"{info['id']}.txt").read_text())
        assert not (tmp_path / "training" / "image_2").exists()
        for obj, kitti_type in zip(objects, label.types):
            expected = "DontCare" if obj.box3d is None or obj.unclear else obj.subclass
            assert kitti_type == expected
            compared += kitti_type != "DontCare"
    assert compared > 0


def test_png_images_for_openpcdet(sample_root: Path, tmp_path: Path) -> None:
    import cv2

    convert_to_kitti(
        sample_root, tmp_path, "mini", image_mode="png", camera="fisheye", workers=1, progress=False
    )
    info = _index(sample_root, "mini")["val"][0]
    png = tmp_path / "training" / "image_2" / f"{info['id']}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not png.is_symlink()
    original = cv2.imread(str(sample_root / info["camera_frames"]["front_blur"][0]["filepath"]))
    np.testing.assert_array_equal(
        cv2.imread(str(png)), original
    )  # lossless copy of the decoded JPEG
