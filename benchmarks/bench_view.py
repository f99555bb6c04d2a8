"""Benchmark: logging a 20 s sequence to a rerun recording (``zod view``) against reading it.

A generated sequence (``zod.sample``; 10 Hz lidar and camera, full-resolution JPEGs, radar,
oxts and vehicle data) is

- *read*: every lidar scan (``LidarFrame.read``) and every camera JPEG's bytes, in time
  order, one after another: the floor, what any tool pays to touch the data;
- *logged*: ``zod.viz.rerun_log.log_sequence`` to an ``.rrd`` file (images as the JPEG files,
  scans coloured by height, keyframe boxes and lanes, radar, ego poses, time series), as
  ``zod view ROOT ID --subset sequences --save out.rrd`` does.

Each runs in its own process (peak RSS is per process); best and median of ``--repeat`` runs.

    python benchmarks/bench_view.py [--seconds 20] [--points 100000] [--repeat 3] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(root: Path, seconds: float, points: int) -> None:
    from zod.sample import SampleConfig, generate_sample

    config = SampleConfig.default().replace(
        num_frames=1,
        num_frames_mini=1,
        num_sequences=1,
        num_sequences_mini=1,
        num_drives=0,
        num_drives_mini=0,
        sequence_duration_s=seconds,
        sequence_camera_rate_hz=10.0,
        points_per_sequence_scan=points,
        points_per_core_scan=points,
        points_per_surrounding_scan=1000,
        num_scans_before=0,
        num_scans_after=0,
        workers=2,
    )
    generate_sample(root, config)


def child(root: Path, mode: str, out: Path) -> dict[str, float]:
    from zod import ZodSequences

    sequences = ZodSequences(root, "full")
    sequence = sequences[sorted(sequences.get_all_ids())[0]]
    info = sequence.info
    started = time.perf_counter()
    if mode == "read":
        frames = sorted(
            list(info.get_lidar_frames()) + list(info.get_camera_frames()),
            key=lambda f: f.time,
        )
        points = 0
        for frame in frames:
            if hasattr(frame, "is_compensated"):
                points += frame.read().num_points
            else:
                points += len(Path(frame.filepath).read_bytes())
        counts = {"samples": len(frames)}
    else:
        from zod.viz import rerun_log as zr

        rec = zr.new_recording(sequence.id, subset="sequences")
        rec.save(out, default_blueprint=zr.default_blueprint())
        counts = zr.log_sequence(rec, sequence)
        rec.flush()
        rec.disconnect()
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"seconds": seconds, "peak_rss_mb": peak_mb, **counts}
    if mode == "log":
        result["rrd_mb"] = out.stat().st_size / 1e6
    return result


def run(root: Path, mode: str, out: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--root", str(root), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--points", type=int, default=100_000, help="Points per lidar scan.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", type=Path, default=None, help="Reuse / keep the dataset here.")
    parser.add_argument("--child", choices=("read", "log"), default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.root, args.child, args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp) / "sample"
        if not (root / "trainval-sequences-full.json").exists():
            started = time.perf_counter()
            generate(root, args.seconds, args.points)
            print(f"generated {root} in {time.perf_counter() - started:.0f} s", flush=True)
        out = Path(tmp) / "sequence.rrd"
        results: dict[str, list[dict[str, float]]] = {"read": [], "log": []}
        for _ in range(args.repeat):
            for mode in ("read", "log"):  # interleaved: both see the same page cache state
                results[mode].append(run(root, mode, out))
        read_s = [r["seconds"] for r in results["read"]]
        log_s = [r["seconds"] for r in results["log"]]
        last = results["log"][-1]
        print(
            f"{args.seconds:.0f} s sequence, {results['read'][-1]['samples']:.0f} samples "
            f"({last['lidar']:.0f} scans of {args.points} points, {last['camera']:.0f} images)"
        )
        print(f"read : best {min(read_s):.2f} s, median {statistics.median(read_s):.2f} s")
        print(f"log  : best {min(log_s):.2f} s, median {statistics.median(log_s):.2f} s")
        print(
            f"ratio (median log / median read): "
            f"{statistics.median(log_s) / statistics.median(read_s):.2f}x; "
            f".rrd {last['rrd_mb']:.0f} MB; peak RSS read "
            f"{max(r['peak_rss_mb'] for r in results['read']):.0f} MB, log "
            f"{max(r['peak_rss_mb'] for r in results['log']):.0f} MB"
        )


if __name__ == "__main__":
    main()
