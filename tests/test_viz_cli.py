"""`zod visualize frame|bev|lidar|sequence` on the sample: real console command, real files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d
import pytest

from zod import ZodFrames, ZodSequences
from zod.viz.frame import render_frame_image


@pytest.fixture(scope="module")
def frame_id(sample_root: Path) -> str:
    return sorted(ZodFrames(str(sample_root), "mini").get_all_ids())[0]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    assert bgr is not None, path
    return bgr[..., ::-1]


def test_frame_png_equals_library_picture(
    zod_cli: list[str], sample_root: Path, frame_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "pics" / "frame.png"
    res = run(
        [
            *zod_cli,
            "visualize",
            "frame",
            str(sample_root),
            str(int(frame_id)),
            "--version",
            "mini",
            "--layers",
            "image,boxes2d,boxes3d,lidar,masks,trajectory",
            "--scale",
            "0.25",
            "--out",
            str(out),
        ]
    )
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout
    picture = read_rgb(out)
    frame = ZodFrames(str(sample_root), "mini")[frame_id]
    expected = render_frame_image(
        frame, ["image", "boxes2d", "boxes3d", "lidar", "masks", "trajectory"], scale=0.25
    )
    assert np.array_equal(picture, expected)


def test_frame_bad_layer_fails_clearly(
    zod_cli: list[str], sample_root: Path, frame_id: str, tmp_path: Path
) -> None:
    res = run(
        [
            *zod_cli,
            "visualize",
            "frame",
            str(sample_root),
            frame_id,
            "--version",
            "mini",
            "--layers",
            "image,radar",
            "--out",
            str(tmp_path / "x.png"),
        ]
    )
    assert res.returncode == 1 and "unknown layer" in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_bev_png(zod_cli: list[str], sample_root: Path, frame_id: str, tmp_path: Path) -> None:
    out = tmp_path / "bev.png"
    res = run(
        [
            *zod_cli,
            "visualize",
            "bev",
            str(sample_root),
            frame_id,
            "--version",
            "mini",
            "--forward",
            "50",
            "--backward",
            "10",
            "--side",
            "20",
            "--resolution",
            "0.2",
            "--labels",
            "--out",
            str(out),
        ]
    )
    assert res.returncode == 0, res.stderr
    picture = read_rgb(out)
    assert picture.shape == (300, 200, 3)
    # the ego (white) covers ego x = 1 m, y = 0: row (50 - 1) / 0.2 = 245, column 20 / 0.2 = 100
    assert tuple(picture[245, 100]) == (255, 255, 255)


def test_lidar_png_and_ply(
    zod_cli: list[str], sample_root: Path, frame_id: str, tmp_path: Path
) -> None:
    png = tmp_path / "lidar.png"
    res = run(
        [
            *zod_cli,
            "visualize",
            "lidar",
            str(sample_root),
            frame_id,
            "--version",
            "mini",
            "--width",
            "320",
            "--height",
            "200",
            "--out",
            str(png),
        ]
    )
    assert res.returncode == 0, res.stderr + res.stdout
    picture = read_rgb(png)
    assert picture.shape == (200, 320, 3)
    assert (picture.sum(axis=2) > 0).mean() > 0.01  # points and boxes on a black background
    ply = tmp_path / "lidar.ply"
    res = run(
        [
            *zod_cli,
            "visualize",
            "lidar",
            str(sample_root),
            frame_id,
            "--version",
            "mini",
            "--out",
            str(ply),
        ]
    )
    assert res.returncode == 0, res.stderr
    cloud = o3d.io.read_point_cloud(ply)
    frame = ZodFrames(str(sample_root), "mini")[frame_id]
    assert len(cloud.points) == len(frame.get_lidar()[0].points)
    assert (tmp_path / "lidar_boxes.ply").exists()


def test_sequence_mp4(zod_cli: list[str], sample_root: Path, tmp_path: Path) -> None:
    seq_id = sorted(ZodSequences(str(sample_root), "mini").get_all_ids())[0]
    out = tmp_path / "clip.mp4"
    res = run(
        [
            *zod_cli,
            "visualize",
            "sequence",
            str(sample_root),
            seq_id,
            "--version",
            "mini",
            "--scale",
            "0.125",
            "--max-frames",
            "2",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert res.returncode == 0, res.stderr
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 2
    cap.release()
    res = run(
        [
            *zod_cli,
            "visualize",
            "sequence",
            str(sample_root),
            seq_id,
            "--subset",
            "frames",
            "--out",
            str(tmp_path / "no.mp4"),
        ]
    )
    assert res.returncode == 1 and "sequence or a drive" in res.stderr


def test_missing_lidar_file_names_the_stream(
    zod_cli: list[str], sample_copy: Path, tmp_path: Path
) -> None:
    frames = ZodFrames(str(sample_copy), "mini")
    frame_id = sorted(frames.get_all_ids())[0]
    core = frames[frame_id].info.get_key_lidar_frame()
    Path(core.filepath).unlink()
    out = tmp_path / "f.png"
    res = run(
        [
            *zod_cli,
            "visualize",
            "frame",
            str(sample_copy),
            frame_id,
            "--version",
            "mini",
            "--layers",
            "image,lidar",
            "--scale",
            "0.125",
            "--out",
            str(out),
        ]
    )
    assert res.returncode == 1 and not out.exists()
    assert (
        "ERROR" in res.stderr and "lidar" in res.stderr.lower() and "download" in res.stderr.lower()
    )
    # the layers that do not need the scan still work
    res = run(
        [
            *zod_cli,
            "visualize",
            "frame",
            str(sample_copy),
            frame_id,
            "--version",
            "mini",
            "--layers",
            "image,boxes3d,masks",
            "--scale",
            "0.125",
            "--out",
            str(out),
        ]
    )
    assert res.returncode == 0, res.stderr
    assert read_rgb(out).shape == (271, 481, 3)


def test_frame_with_predictions(
    zod_cli: list[str], sample_root: Path, frame_id: str, tmp_path: Path
) -> None:
    import json

    from zod.constants import AnnotationProject
    from zod.viz.frame import predictions_for_item

    frame = ZodFrames(str(sample_root), "mini")[frame_id]
    objects = [
        o for o in frame.get_annotation(AnnotationProject.OBJECT_DETECTION) if o.box3d is not None
    ]
    preds = {
        "results": {
            frame_id: [
                {
                    "class": o.name,
                    "score": 0.8,
                    "center": o.box3d.center.tolist(),
                    "size": o.box3d.size.tolist(),
                    "yaw": 0.3,
                }
                for o in objects
            ]
        }
    }
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(preds))
    out = tmp_path / "p.png"
    res = run(
        [
            *zod_cli,
            "visualize",
            "frame",
            str(sample_root),
            frame_id,
            "--version",
            "mini",
            "--layers",
            "image",
            "--scale",
            "0.125",
            "--predictions",
            str(path),
            "--out",
            str(out),
        ]
    )
    assert res.returncode == 0, res.stderr
    expected = render_frame_image(
        frame, ["image"], scale=0.125, predictions=predictions_for_item(path, frame_id, 0.3)
    )
    assert np.array_equal(read_rgb(out), expected)
    assert not np.array_equal(expected, render_frame_image(frame, ["image"], scale=0.125))
