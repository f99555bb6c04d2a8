"""Benchmark: samples/s from tar shards (``ZodShardsDataset``) vs the raw files
(``ZodFramesDataset``), same samples, same decode work, in one run (goal: >= 2x).

Both sides produce identical sample dicts (tests/test_shards.py checks it): the front image
decoded at 1/2 from the original JPEG bytes, the core lidar scan, 2D and 3D boxes. What
differs is where the bytes come from: ~8 small files per frame (index lookup, info, JSON
calibration and GeoJSON annotations parsed, a .npy scan) or one sequential tar stream (the
calibration and the boxes already as compact arrays, the scan as plain ``.npy`` columns, or
byte-shuffled and zlib'ed with ``bsz``).

Two conditions, each timed in interleaved rounds (shards, raw, shards, raw...):

- warm: every file in the page cache (what a second epoch on a local disk sees);
- cold: the pages of exactly the files of the run are evicted before each pass
  (``posix_fadvise(DONTNEED)``; ``--drop-caches`` drops the whole page cache instead, as root),
  the closest stand-in for a network file system here: first reads come from the disk.

Also printed: the size and decode time of the lidar codecs and the writer's frames/s.

    python benchmarks/bench_shards.py [--root DATASET_ROOT] [--frames 32] [--rounds 3]

Without ``--root`` a sample dataset of ``--frames`` frames is generated in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

MODALITIES = ("image", "lidar", "objects", "boxes_3d")
SCALES = (0.5, 0.125)  # the decode work: an 8 MP JPEG at 1/2 dominates; at 1/8 the I/O shows


def evict(paths: Iterable[Path], drop_caches: bool) -> None:
    """Evict the page-cache pages of ``paths`` (or, with ``drop_caches``, all of them)."""
    if drop_caches:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _count(samples: Iterable[Any]) -> int:
    return sum(1 for _ in samples)


def bench_loaders(
    root: Path,
    shard_dirs: dict[str, Path],
    rounds: int,
    drop_caches: bool,
    cold: bool,
    scale: float,
) -> dict[str, tuple[float, float]]:
    """Median (samples/s, samples per CPU second of this process) of each shard set and of
    the raw files (``"raw"``) over ``rounds`` interleaved passes. The CPU rate is what other
    load on a shared machine disturbs least; it leaves out time spent waiting on the disk."""
    from zod.torch import ZodFramesDataset
    from zod.torch.shards import ZodShardsDataset

    raw = ZodFramesDataset(root, "full", split=None, modalities=MODALITIES, image_scale=scale)
    raw_files = _files(root)

    def run_raw() -> int:
        # the index is re-opened each pass (its infos parsed anew), as in a DataLoader worker
        # of a new epoch; its scan comes from the devkit's cache file
        raw._zod = None
        return sum(1 for _ in (raw[i] for i in range(len(raw))))

    runs: dict[str, tuple[Callable[[], int], list[Path]]] = {"raw": (run_raw, raw_files)}
    for name, directory in shard_dirs.items():
        dataset = ZodShardsDataset(directory, modalities=MODALITIES, image_scale=scale)
        runs[name] = (partial(_count, dataset), _files(directory))
    rates: dict[str, list[float]] = {name: [] for name in runs}
    cpu_rates: dict[str, list[float]] = {name: [] for name in runs}
    for run, _ in runs.values():  # warm-up (imports, first decode)
        run()
    for _ in range(rounds):
        for name, (run, files) in runs.items():
            if cold:
                evict(files, drop_caches)
            start, start_cpu = time.perf_counter(), time.process_time()
            count = run()
            rates[name].append(count / (time.perf_counter() - start))
            cpu_rates[name].append(count / (time.process_time() - start_cpu))
    return {
        name: (statistics.median(rates[name]), statistics.median(cpu_rates[name])) for name in runs
    }


def bench_bytes(root: Path, shard_dir: Path, rounds: int, drop_caches: bool) -> None:
    """The I/O alone, cold: open and read every file a sample needs (raw) vs the shards."""
    from zod.constants import AnnotationProject
    from zod.dataset import ZodFrames

    frames = ZodFrames(root, "full")
    needed: list[Path] = []
    for frame_id in sorted(frames.get_all_ids()):
        info = frames[frame_id].info
        if AnnotationProject.OBJECT_DETECTION not in (info.annotations or {}):
            continue
        needed += [
            Path(info.get_key_camera_frame().filepath),
            Path(frames[frame_id].get_lidar_frames()[0].filepath),
            Path(info.annotations[AnnotationProject.OBJECT_DETECTION].filepath),
            Path(info.calibration_path),
        ]
    shard_files = sorted(shard_dir.glob("*.tar"))
    samples = len(needed) // 4

    def read(paths: list[Path]) -> int:
        total = 0
        for path in paths:  # in blocks of 1 MiB, as a stream is read
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    total += len(block)
        return total

    for label, paths in (("raw files", needed), ("shards", shard_files)):
        times = []
        for _ in range(rounds):
            evict(paths, drop_caches)
            start = time.perf_counter()
            num_bytes = read(paths)
            times.append(time.perf_counter() - start)
        print(
            f"  {label:9s}: {len(paths) / samples:5.2f} files and {num_bytes / samples / 1e6:.2f} "
            f"MB per sample, cold read {samples / statistics.median(times):8.1f} samples/s"
        )


def bench_codecs(root: Path) -> None:
    """Size and decode time of one core scan in each lidar codec."""
    from zod.converters.shards import (
        ShardConfig,
        _lidar_members,
        _npz_bytes,
        decode_lidar_member,
    )
    from zod.dataset import ZodFrames

    frames = ZodFrames(root, "full")
    frame = frames[sorted(frames.get_all_ids())[0]]
    time_s = frame.info.keyframe_time.timestamp()
    lidar = frame.get_lidar_frames()[0].read()
    raw_bytes = lidar.points.nbytes + lidar.num_points * 5  # float32 times, uint8 intensities

    def codec(name: str) -> tuple[dict[str, bytes], dict[str, Any]]:
        members, num_points = _lidar_members(frame, ShardConfig(lidar_codec=name), time_s)
        return members, {"lidar": {"codec": name, "num_points": num_points}}

    arrays = decode_lidar_member(*codec("npy"))
    compressed = {"lidar.npz": _npz_bytes(arrays, compressed=True)}
    codecs = {
        "npy (3 plain members)": codec("npy"),
        "bsz (shuffle+zlib 6)": codec("bsz"),
        "npz compressed": (compressed, {"lidar": {"codec": "npz", "num_points": lidar.num_points}}),
    }
    print(
        f"lidar codecs, one core scan of {lidar.num_points} points ({raw_bytes / 1e6:.2f} MB raw)"
    )
    for name, (members, meta) in codecs.items():
        times = []
        for _ in range(15):
            start = time.perf_counter()
            decode_lidar_member(members, meta)
            times.append(time.perf_counter() - start)
        size = sum(map(len, members.values()))
        print(
            f"  {name:22s} {size / raw_bytes:5.2f} of raw   "
            f"decode {statistics.median(times) * 1e3:6.2f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="dataset root (default: sample)")
    parser.add_argument("--frames", type=int, default=32, help="frames of a generated sample")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--drop-caches", action="store_true", help="cold passes drop the whole page cache (root)"
    )
    args = parser.parse_args()
    from zod.converters.shards import ShardConfig, convert_to_shards

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            from zod.sample import SampleConfig, generate_sample

            root = Path(tmp) / "sample"
            config = SampleConfig.for_tests().replace(
                num_frames=args.frames,
                num_frames_mini=2,
                num_sequences=1,
                num_sequences_mini=1,
                num_drives=1,
                num_drives_mini=1,
                points_per_core_scan=100_000,
                workers=2,
            )
            print(f"generating a sample of {args.frames} frames ...", file=sys.stderr)
            generate_sample(root, config)
        bench_codecs(root)
        shard_dirs: dict[str, Path] = {}
        for codec in ("npy", "bsz"):
            shard_dir = shard_dirs[f"shards ({codec} lidar)"] = Path(tmp) / f"shards-{codec}"
            start = time.perf_counter()
            manifest = convert_to_shards(
                root,
                shard_dir,
                split=None,
                config=ShardConfig(modalities=("image", "lidar", "objects"), lidar_codec=codec),
                shard_size_mb=64,
                workers=2,
                progress=False,
            )
            elapsed = time.perf_counter() - start
            raw_mb = sum(p.stat().st_size for p in _files(root / "single_frames")) / 1e6
            print(
                f"writer ({codec} lidar): {manifest['num_samples']} frames in "
                f"{len(manifest['shards'])} shards, {manifest['num_bytes'] / 1e6:.1f} MB "
                f"({raw_mb:.1f} MB of frame files incl. the 21 scans per frame), "
                f"{manifest['num_samples'] / elapsed:.1f} frames/s (2 workers)"
            )
        print("bytes only (no decode), the files of each sample, page cache evicted:")
        bench_bytes(root, shard_dirs["shards (npy lidar)"], args.rounds, args.drop_caches)
        print(
            f"loader: image + core scan + 2D/3D boxes, one process, median of {args.rounds} "
            "interleaved passes, samples/s (ratio to the raw files; goal >= 2x)"
        )
        for scale in SCALES:
            for cold in (False, True):
                rates = bench_loaders(root, shard_dirs, args.rounds, args.drop_caches, cold, scale)
                raw_rate, raw_cpu = rates.pop("raw")
                label = "cold" if cold else "warm"
                print(
                    f"  image 1/{int(1 / scale)} {label}: raw files {raw_rate:6.1f} /s "
                    f"({raw_cpu:6.1f} per CPU s)"
                )
                for name, (rate, cpu) in rates.items():
                    print(
                        f"      {name:18s} {rate:6.1f} /s ({rate / raw_rate:4.2f}x)   "
                        f"{cpu:6.1f} per CPU s ({cpu / raw_cpu:4.2f}x)"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
