"""Benchmark: one frame read from local files vs from an object store (``s3://``), same bytes.

The store is an emulation of S3: moto's S3 server on a loopback port (``tests/s3_emulator.py``),
since no real store is reachable here. Its latency is a local HTTP round trip through moto's
Python server, not S3's (~10-50 ms to the first byte, 50-100 MB/s per connection), so the
numbers show the requests and the devkit's overhead per frame, not what a real bucket costs.

A frame read = the index lookup and info, the front JPEG decoded at 1/2, the core lidar scan,
the object annotations and the calibration. Rounds alternate local and store reads of the
same frames; printed are best-of and median per frame, and the requests one frame costs.

Then the loaders: ``ZodFramesDataset`` on the store's root against ``ZodShardsDataset`` on
shards of the same frames uploaded to the store (same sample dicts), samples/s.

    python benchmarks/bench_object_store.py [--frames 4] [--rounds 5]

Measured (``--frames 16 --rounds 3``, shared 2-core VM): per frame local 9.8 ms median, store
45.2 ms (4.6x; 1 HEAD + 5 GETs, 2.41 MB); loaders on the store: raw files 18.0 samples/s,
shards 84.4 samples/s (4.68x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from s3_emulator import moto_s3_server, storage_options


def read_frame(frame: Any) -> None:
    """What a training sample reads from one frame."""
    frame.get_image(scale=0.5)
    frame.get_lidar()
    frame.get_annotation("object_detection")
    _ = frame.calibration


def time_frames(dataset: Any, ids: list[str]) -> list[float]:
    """Seconds per frame, each read once (the dataset's item objects made fresh)."""
    out = []
    for frame_id in ids:
        start = time.perf_counter()
        read_frame(dataset[frame_id])
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import s3fs

    from zod import ZodFrames
    from zod.sample import SampleConfig, generate_sample

    with tempfile.TemporaryDirectory() as tmp, moto_s3_server() as endpoint:
        root = Path(tmp) / "sample"
        config = SampleConfig.for_tests().replace(
            num_frames=args.frames, points_per_core_scan=100_000, workers=2
        )
        print(f"generating a sample of {args.frames} frames ...", file=sys.stderr)
        generate_sample(root, config)
        options = storage_options(endpoint)
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bench")
        fs.put(f"{root}/", "bench/zod", recursive=True)

        open_times: dict[str, list[float]] = {"local": [], "store": []}
        times: dict[str, list[float]] = {"local": [], "store": []}
        for _ in range(args.rounds):
            for side, where in (("local", str(root)), ("store", "s3://bench/zod")):
                start = time.perf_counter()
                dataset = ZodFrames(where, "full", storage_options=options)
                open_times[side].append(time.perf_counter() - start)
                ids = sorted(dataset.get_all_ids())
                times[side] += time_frames(dataset, ids)

        loaders = bench_loaders(root, Path(tmp) / "shards", fs, options, args.rounds)

        calls: list[tuple[str, int]] = []
        original = s3fs.S3FileSystem._call_s3

        async def counting(self: Any, method: str, *a: Any, **kw: Any) -> Any:
            answer = await original(self, method, *a, **kw)
            calls.append((method, int(answer.get("ContentLength", 0) or 0)))
            return answer

        s3fs.S3FileSystem._call_s3 = counting  # type: ignore[method-assign]
        dataset = ZodFrames("s3://bench/zod", "full", storage_options=options)
        frame_id = sorted(dataset.get_all_ids())[0]
        calls.clear()
        read_frame(dataset[frame_id])
        s3fs.S3FileSystem._call_s3 = original  # type: ignore[method-assign]

    print(f"{args.frames} frames x {args.rounds} rounds (store: moto's S3 server, an emulation)")
    for side in ("local", "store"):
        t = times[side]
        print(
            f"  {side:5s}: per frame best {min(t) * 1e3:7.1f} ms, median "
            f"{statistics.median(t) * 1e3:7.1f} ms; open ZodFrames (cached index) median "
            f"{statistics.median(open_times[side][1:] or open_times[side]) * 1e3:6.1f} ms"
        )
    ratio = statistics.median(times["store"]) / statistics.median(times["local"])
    print(f"  store / local, median per frame: {ratio:.2f}x")
    kinds: dict[str, int] = {}
    for method, _ in calls:
        kinds[method] = kinds.get(method, 0) + 1
    fetched = sum(n for method, n in calls if method == "get_object")
    print(f"  one frame from the store: {kinds} requests, {fetched / 1e6:.2f} MB fetched")
    print(
        "loaders on the store, image 1/2 + core scan + 2D/3D boxes, one process, median of "
        f"{args.rounds} interleaved passes:"
    )
    raw = loaders.pop("raw files")
    print(f"  raw files (ZodFramesDataset)  {raw:6.1f} samples/s")
    for name, rate in loaders.items():
        print(f"  {name:29s} {rate:6.1f} samples/s ({rate / raw:.2f}x)")
    return 0


def bench_loaders(
    root: Path, shard_dir: Path, fs: Any, options: dict[str, Any], rounds: int
) -> dict[str, float]:
    """Samples/s of ``ZodFramesDataset`` on the store's dataset root against
    ``ZodShardsDataset`` on shards of the same frames in the store (the same sample dicts)."""
    from zod.converters.shards import ShardConfig, convert_to_shards
    from zod.torch import ZodFramesDataset
    from zod.torch.shards import ZodShardsDataset

    convert_to_shards(root, shard_dir, split=None, config=ShardConfig(), workers=1, progress=False)
    fs.put(f"{shard_dir}/", "bench/shards", recursive=True)
    modalities = ("image", "lidar", "objects", "boxes_3d")
    raw = ZodFramesDataset(
        "s3://bench/zod",
        "full",
        split=None,
        modalities=modalities,
        image_scale=0.5,
        storage_options=options,
    )
    shards = ZodShardsDataset(
        "s3://bench/shards", modalities=modalities, image_scale=0.5, storage_options=options
    )

    def run_raw() -> int:
        raw._zod = None  # reopened each pass, as in a DataLoader worker of a new epoch
        return sum(1 for i in range(len(raw)) if raw[i] is not None)

    runs = {"raw files": run_raw, "shards (default npy lidar)": lambda: sum(1 for _ in shards)}
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm-up: imports, the index cache
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            count = run()
            rates[name].append(count / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


if __name__ == "__main__":
    sys.exit(main())
