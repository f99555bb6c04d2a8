"""Benchmark: JPEG decode at reduced scale, and DataLoader throughput of ZodFramesDataset.

1. Decode one 3848 x 2168 front-camera JPEG of the sample: ours (libjpeg-turbo through
   simplejpeg, full and reduced DCT decode via ``zod.sensors.camera``) against the reference
   devkit's way, ``np.array(PIL.Image.open(path))`` at full resolution (goal: >= 2x at scale 1,
   >= 3x at 1/2); OpenCV's ``imdecode`` (our previous decoder) is shown for comparison.
3. Steps/s of ``zod.stream.SensorStream`` with its read-ahead thread pool against sequential reads.
2. Samples/s of ``DataLoader(ZodFramesDataset(image at 1/2 + core scan + 2D/3D boxes))`` with
   0 and 2 workers, against a bare loop that decodes and loads the same files in the main
   process (goal: >= 0.8 of it).

    python benchmarks/bench_torch.py [--root DATASET_ROOT] [--repeat 7] [--rounds 9]

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


def bench_decode(image_paths: list[str], repeat: int) -> dict[str, float]:
    """Median decode times; PIL and each of our scales are timed in interleaved rounds so that
    a change of load on a shared machine hits them alike."""
    from PIL import Image

    from zod.sensors import camera

    path = image_paths[0]
    import cv2

    candidates: dict[str, Callable[[], object]] = {
        "pil": lambda: np.array(Image.open(path)),
        "opencv": lambda: cv2.cvtColor(
            cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
        ),
    }
    for scale in (1.0, 0.5, 0.25, 0.125):
        candidates[f"ours_{scale}"] = lambda s=scale: camera.read_image(path, scale=s)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()
    for _ in range(repeat):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    results = {name: statistics.median(values) for name, values in times.items()}
    pil_s = results["pil"]
    print(f"JPEG decode of {Path(path).name} (median of {repeat} interleaved rounds)")
    print(f"  reference  PIL full res       {pil_s * 1e3:8.1f} ms")
    print(
        f"  OpenCV     imdecode full res  {results['opencv'] * 1e3:8.1f} ms   "
        f"speed-up vs PIL full: {pil_s / results['opencv']:5.2f}x"
    )
    for scale in (1.0, 0.5, 0.25, 0.125):
        ours_s = results[f"ours_{scale}"]
        shape = camera.read_image(path, scale=scale).shape
        print(
            f"  ours       scale {scale:<6} {shape[1]}x{shape[0]:<5} {ours_s * 1e3:8.1f} ms   "
            f"speed-up vs PIL full: {pil_s / ours_s:5.2f}x"
        )
    return results


def bench_loader(root: Path, rounds: int, repeat_frames: int = 16) -> None:
    """Rates of the bare loop and of the DataLoader (0 and 2 workers), measured in interleaved
    rounds so that the load of a shared machine hits all three alike; each round gives a ratio to
    the bare loop, and the median ratio over the rounds is reported.
    Each round reads every frame ``repeat_frames`` times (the sample has few frames; this
    amortizes the per-epoch start of the DataLoader as a long epoch would)."""
    from torch.utils.data import DataLoader

    from zod.constants import AnnotationProject
    from zod.dataset import ZodFrames
    from zod.sensors import camera
    from zod.torch import ZodFramesDataset, collate

    dataset = ZodFramesDataset(
        root,
        version="full",
        split=None,
        modalities=("image", "lidar", "objects", "boxes_3d"),
        image_scale=0.5,
    )
    n = len(dataset) * repeat_frames
    order = list(range(len(dataset))) * repeat_frames
    print(
        f"\nDataLoader over {len(dataset)} frames x {repeat_frames} "
        "(image 1/2 + core scan + 2D/3D boxes), batch 2, "
        f"{rounds} interleaved rounds"
    )
    zod_frames = ZodFrames(str(root), "full")

    def bare() -> int:
        for index in order:
            frame = zod_frames[dataset.frame_ids[index]]
            camera.read_image(frame.info.get_key_camera_frame().filepath, scale=0.5)
            frame.get_lidar_frames(0, 0)[0].read()
            frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        return n

    loaders = {
        workers: DataLoader(
            dataset,
            batch_size=2,
            sampler=order,
            num_workers=workers,
            collate_fn=collate,
            persistent_workers=workers > 0,
        )
        for workers in (0, 2)
    }

    def run(loader: DataLoader) -> int:
        return sum(len(batch["frame_id"]) for batch in loader)

    candidates: dict[str, Callable[[], int]] = {
        "bare decode+load loop": bare,
        "DataLoader num_workers=0": lambda: run(loaders[0]),
        "DataLoader num_workers=2": lambda: run(loaders[2]),
    }
    for fn in candidates.values():  # warm-up: page cache, worker start, index open
        fn()
    rates: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            count = fn()
            rates[name].append(count / (time.perf_counter() - start))
    bare_rates = rates["bare decode+load loop"]
    for name, values in rates.items():
        # ratio within each round (same machine load), then the median and range over rounds
        ratios = [rate / bare for rate, bare in zip(values, bare_rates)]
        print(
            f"  {name:<28} {statistics.median(values):8.1f} samples/s   ratio to bare: "
            f"{statistics.median(ratios):5.2f} (rounds: {min(ratios):.2f} - {max(ratios):.2f})"
        )


def bench_stream(root: Path, rounds: int) -> None:
    """Steps/s of ``SensorStream`` (image 1/4 + lidar + pose) with its read-ahead thread pool
    against the same reads done one after the other (``num_threads=1``, no read-ahead)."""
    from zod.dataset import ZodSequences
    from zod.stream import SensorStream

    sequences = ZodSequences(str(root), "full")
    items = [sequences[i] for i in sorted(sequences.get_all_ids())]

    def run(num_threads: int, prefetch: int) -> int:
        count = 0
        for item in items:
            for _ in SensorStream(
                item,
                reference="lidar",
                parts=("image", "lidar", "pose"),
                image_scale=0.25,
                tolerance_s=None,
                num_threads=num_threads,
                prefetch=prefetch,
            ):
                count += 1
        return count

    from zod.stream import default_num_threads

    threads = default_num_threads()
    candidates = {
        "sequential (1 thread, no read-ahead)": (1, 0),
        f"SensorStream ({threads} threads, read-ahead 4)": (threads, 4),
    }
    rates: dict[str, list[float]] = {name: [] for name in candidates}
    for args in candidates.values():
        run(*args)
    for _ in range(rounds):
        for name, args in candidates.items():
            start = time.perf_counter()
            count = run(*args)
            rates[name].append(count / (time.perf_counter() - start))
    base = statistics.median(rates["sequential (1 thread, no read-ahead)"])
    print(f"\nSensorStream over {len(items)} sequences (every lidar step: image 1/4 + scan + pose)")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"  {name:<40} {rate:8.1f} steps/s   ratio: {rate / base:5.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="dataset root (default: generate a sample)"
    )
    parser.add_argument(
        "--repeat", type=int, default=7, help="interleaved rounds of the decode benchmark"
    )
    parser.add_argument(
        "--rounds", type=int, default=9, help="interleaved rounds of the loader benchmark"
    )
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
        bench_loader(root, args.rounds)
        bench_stream(root, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
