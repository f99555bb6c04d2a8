"""Benchmark: `convert_to_nuscenes` frames per second against the bare decode + write time.

The bare time of a frame is what any nuScenes export of it must spend at the least: read its
21 lidar scans (``np.load``), decode the fisheye JPEG, write the 21 ``.pcd.bin`` files and
encode + write the three JPEG views (of the rig's size), with no geometry (no compensation,
rectification, boxes) and no tables. The converter does all that plus the rest.

    python benchmarks/bench_convert_nuscenes.py [--frames 4] [--workdir DIR] [--repeat 3]

The data: ``--frames`` frames of the sample generator at its default (realistic) sizes:
250k-point core scans, 60k-point surrounding scans, 3848 x 2168 images.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from zod.constants import Anonymization, Lidar
from zod.converters.nuscenes import convert_to_nuscenes
from zod.converters.runner import default_workers
from zod.dataset import ZodFrames
from zod.geometry.pinhole import THREE_VIEW_RIG
from zod.sample import SampleConfig, generate_sample


def bare_frame(frame: object, out: Path) -> None:
    """Decode and write one frame's data without any geometry (the lower bound)."""
    info = frame.info  # type: ignore[attr-defined]
    for i, lidar in enumerate(info.get_lidar_frames(Lidar.VELODYNE)):
        scan = np.load(lidar.filepath)
        cloud = np.empty((len(scan), 5), dtype=np.float32)
        cloud[:, 0], cloud[:, 1], cloud[:, 2] = scan["x"], scan["y"], scan["z"]
        cloud[:, 3], cloud[:, 4] = scan["intensity"], scan["diode_index"]
        cloud.tofile(out / f"{i}.pcd.bin")
    image = cv2.imread(info.get_key_camera_frame(Anonymization.BLUR).filepath, cv2.IMREAD_COLOR)
    assert image is not None
    for j, view in enumerate(THREE_VIEW_RIG):
        crop = np.ascontiguousarray(image[: view.height_px, : view.width_px])
        _, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        (out / f"{j}.jpg").write_bytes(data.tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-nuscenes-"))
    root = work / "zod"
    if not (root / "trainval-frames-full.json").exists():
        config = SampleConfig.default().replace(
            num_frames=args.frames,
            num_frames_mini=1,
            num_sequences=0,
            num_sequences_mini=0,
            num_drives=0,
            num_drives_mini=0,
        )
        generate_sample(root, config)
    frames = ZodFrames(str(root), "full")
    ids = sorted(frames.get_split("train") | frames.get_split("val"))
    n = len(ids)

    bare_out = work / "bare"
    bare_out.mkdir(exist_ok=True)
    bare = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        for frame_id in ids:
            bare_frame(frames[frame_id], bare_out)
        bare = min(bare, time.perf_counter() - start)

    results = {}
    for workers in sorted({1, default_workers()}):
        best = float("inf")
        for _ in range(args.repeat):
            out = work / f"nuscenes-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            convert_to_nuscenes(root, out, version="full", workers=workers, progress=False)
            best = min(best, time.perf_counter() - start)
        results[workers] = best
    # a resumed run: every item is done, only the tables are merged again
    start = time.perf_counter()
    convert_to_nuscenes(root, work / "nuscenes-1", version="full", workers=1, progress=False)
    resumed = time.perf_counter() - start

    print(f"{n} frames, default sample sizes (250k + 20 x 60k points, 3848 x 2168 JPEG)")
    print(f"bare decode + write   : {bare / n * 1e3:7.0f} ms/frame  {n / bare:5.2f} frames/s")
    for workers, seconds in results.items():
        print(
            f"convert, {workers} worker(s)  : {seconds / n * 1e3:7.0f} ms/frame  "
            f"{n / seconds:5.2f} frames/s  ({seconds / bare:4.2f}x the bare time)"
        )
    print(f"resumed run (nothing to do): {resumed:5.2f} s")


if __name__ == "__main__":
    main()
