"""Benchmark: the KITTI export per frame, camera="pinhole" against camera="fisheye", same run.

One ``KittiFrameTask`` call per frame (read calibration, objects, lidar; write velodyne, calib,
label and the image), in-process, on the generated sample whose key images are replaced by
photo-like 3848 x 2168 JPEGs (1-3 MB, like real ZOD images; the sample's own are flat). Rows:

- fisheye, symlink (today's default: no image work) and fisheye, png (the full image re-encoded,
  what OpenPCDet / mmdetection3d open);
- pinhole, png (the new default: decode, rectify into FRONT_VIEW, PNG) and pinhole, jpeg;
- the rectification alone (``rectify`` of the decoded image, cached tables), to see its share.

Medians of ``--repeat`` passes over the frames (all outputs rewritten each pass); ratios against
fisheye/symlink and fisheye/png of the same run.

    python benchmarks/bench_kitti_views.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pinhole import textured_jpeg

from zod.converters import _frames
from zod.converters.kitti import KittiFrameTask
from zod.geometry.pinhole import FRONT_VIEW, rectify
from zod.sample import SampleConfig, generate_sample


def per_frame_s(task: KittiFrameTask, frame_ids: list[str], repeat: int) -> float:
    """Median over passes of the mean time (s) per frame of ``task``."""
    for frame_id in frame_ids:  # warm-up: index, tables, imports
        task(frame_id)
    passes = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for frame_id in frame_ids:
            task(frame_id)
        passes.append((time.perf_counter() - t0) / len(frame_ids))
    return statistics.median(passes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sample"
        generate_sample(root, SampleConfig.for_tests())
        frame_ids = _frames.split_ids(str(root), "full", "train") + _frames.split_ids(
            str(root), "full", "val"
        )
        infos = [_frames.frame_info(str(root), "full", i) for i in frame_ids]
        for info in infos:
            textured_jpeg(Path(info.get_key_camera_frame().filepath))
        size_mb = Path(infos[0].get_key_camera_frame().filepath).stat().st_size / 1e6
        print(f"{len(frame_ids)} frames, 3848 x 2168 JPEGs of {size_mb:.1f} MB; view 1920 x 1080")

        rows: dict[str, float] = {}
        for camera, mode in (
            ("fisheye", "symlink"),
            ("fisheye", "png"),
            ("pinhole", "png"),
            ("pinhole", "jpeg"),
        ):
            out = Path(tmp) / f"out-{camera}-{mode}"
            task = KittiFrameTask(
                str(root), "full", str(out), image_mode=mode, overwrite=True, camera=camera
            )
            rows[f"{camera}, {mode}"] = per_frame_s(task, frame_ids, args.repeat)

        calibration = _frames.calibration(infos[0])
        camera_calibration = _frames.front_camera_calibration(calibration)
        image = _frames.read_bgr(infos[0].get_key_camera_frame().filepath, "blur")
        rectify(image, camera_calibration, FRONT_VIEW)
        times = []
        for _ in range(args.repeat * 3):
            t0 = time.perf_counter()
            rectify(image, camera_calibration, FRONT_VIEW)
            times.append(time.perf_counter() - t0)
        rectify_s = statistics.median(times)

    base, base_png = rows["fisheye, symlink"], rows["fisheye, png"]
    print(f"{'per frame':<22} {'ms':>8} {'/ fisheye symlink':>18} {'/ fisheye png':>14}")
    for name, seconds in rows.items():
        print(
            f"{name:<22} {seconds * 1e3:8.1f} {seconds / base:17.2f}x {seconds / base_png:13.2f}x"
        )
    share = rectify_s / rows["pinhole, png"]
    print(f"rectify alone: {rectify_s * 1e3:.1f} ms = {share:.0%} of a pinhole/png frame")


if __name__ == "__main__":
    main()
