"""Benchmark: JPEG decode at reduced scale, and DataLoader throughput of ZodFramesDataset.

1. Decode one 3848 x 2168 front-camera JPEG of the sample: ours (OpenCV, full and reduced DCT
   decode via ``zod.sensors.camera``) against the reference devkit's way,
   ``np.array(PIL.Image.open(path))`` at full resolution (goal: >= 2x at scale 1, >= 3x at 1/2).
2. Samples/s of ``DataLoader(ZodFramesDataset(image at 1/2 + core scan + 2D/3D boxes))`` with
   0 and 2 workers, against a bare loop that decodes and loads the same files in the main
   process (goal: >= 0.8 of it).

    python benchmarks/bench_torch.py [--root DATASET_ROOT] [--repeat 5] [--epochs 3]

Without ``--root`` a sample dataset is generated in a temporary folder first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_decode(image_paths: list[str], repeat: int) -> dict[str, float]:
    from PIL import Image

    from zod.sensors import camera

    path = image_paths[0]
    pil_s = best_time(lambda: np.array(Image.open(path)), repeat)
    results = {"pil_full_s": pil_s}
    print(f"JPEG decode of {Path(path).name}")
    print(f"  reference  PIL full res       {pil_s * 1e3:8.1f} ms")
    for scale in (1.0, 0.5, 0.25, 0.125):
        ours_s = best_time(lambda s=scale: camera.read_image(path, scale=s), repeat)
        results[f"ours_{scale}_s"] = ours_s
        shape = camera.read_image(path, scale=scale).shape
        print(f"  ours       scale {scale:<6} {shape[1]}x{shape[0]:<5} {ours_s * 1e3:8.1f} ms   "
              f"speed-up vs PIL full: {pil_s / ours_s:5.2f}x")
    return results


def bench_loader(root: Path, epochs: int) -> None:
    import torch
    from torch.utils.data import DataLoader

    from zod.constants import AnnotationProject
    from zod.dataset import ZodFrames
    from zod.torch import ZodFramesDataset, collate

    kwargs = {"version": "full", "split": None, "modalities": ("image", "lidar", "objects", "boxes_3d"), "image_scale": 0.5}
    dataset = ZodFramesDataset(root, **kwargs)
    n = len(dataset)
    print(f"\nDataLoader over {n} frames (image 1/2 + core scan + 2D/3D boxes), {epochs} epochs")

    zod_frames = ZodFrames(str(root), "full")
    from zod.sensors import camera

    def bare() -> None:
        for frame_id in dataset.frame_ids:
            frame = zod_frames[frame_id]
            camera.read_image(frame.info.get_key_camera_frame().filepath, scale=0.5)
            frame.get_lidar_frames(0, 0)[0].read()
            frame.get_annotation(AnnotationProject.OBJECT_DETECTION)

    bare()  # warm the page cache
    start = time.perf_counter()
    for _ in range(epochs):
        bare()
    bare_rate = epochs * n / (time.perf_counter() - start)
    print(f"  bare decode+load loop            {bare_rate:8.1f} samples/s")

    for workers in (0, 2):
        loader = DataLoader(dataset, batch_size=2, num_workers=workers, collate_fn=collate,
                            persistent_workers=workers > 0)
        for _ in loader:  # warm-up epoch (worker start, index open)
            pass
        start = time.perf_counter()
        count = 0
        for _ in range(epochs):
            for batch in loader:
                count += len(batch["frame_id"])
        rate = count / (time.perf_counter() - start)
        print(f"  DataLoader num_workers={workers}         {rate:8.1f} samples/s   "
              f"ratio to bare: {rate / bare_rate:5.2f}")
        del loader
    torch.set_num_threads(torch.get_num_threads())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None, help="dataset root (default: generate a sample)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="zod-bench-torch-") as tmp:
        root = args.root
        if root is None:
            from zod.sample import SampleConfig, generate_sample

            root = Path(tmp) / "sample"
            print("generating a sample dataset ...", flush=True)
            generate_sample(root, SampleConfig.for_tests())
        images = sorted(str(p) for p in (root / "single_frames").glob("*/camera_front_blur/*.jpg"))
        if not images:
            print(f"no front blur images under {root}/single_frames", file=sys.stderr)
            return 1
        bench_decode(images, args.repeat)
        bench_loader(root, args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
