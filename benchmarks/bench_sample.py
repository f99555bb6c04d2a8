"""Benchmark: the sample generator's lidar ray casting and whole-sample throughput.

Baseline (measured in the same run, on the same rays): a brute-force vectorized slab test of
every ray against every box (chunked over rays), which is what the generator would do without
its per-column bounding-circle culling. Both must return the same ranges; the ratio is
baseline time / ours. Then one realistic core scan (250k points) and the test preset end to end.

    python benchmarks/bench_sample.py [--points 250000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from zod.sample import SampleConfig, generate_sample
from zod.sample.lidar import _column_geometry, cast_rays, simulate_scan
from zod.sample.rig import make_rig
from zod.sample.scene import SceneObjects, build_scene, make_trajectory


def brute_force(
    origins: np.ndarray,
    dirs: np.ndarray,
    times: np.ndarray,
    objects: SceneObjects,
    max_range: float,
) -> np.ndarray:
    """Nearest hit range (C, D) testing every ray against every box (no culling)."""
    num_cols = dirs.shape[0]
    dz = dirs[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        best = np.where(dz < -1e-9, -origins[:, None, 2] / dz, np.inf)
    best = np.where(best <= max_range, best, np.inf)
    half = 0.5 * objects.size_m
    rot = objects.rotation_world
    centers = objects.centers_at(times)  # (C, M, 3)
    for start in range(0, num_cols, 64):
        sl = slice(start, start + 64)
        rel = centers[sl] - origins[sl, None, :]  # (c, M, 3)
        o_box = -np.einsum("mji,cmj->cmi", rot, rel)  # (c, M, 3)
        d_box = np.einsum("mji,cdj->cdmi", rot, dirs[sl])  # (c, D, M, 3)
        safe = np.where(np.abs(d_box) < 1e-12, 1e-12, d_box)
        inv = 1.0 / safe
        t1 = (-half[None, None] - o_box[:, None]) * inv
        t2 = (half[None, None] - o_box[:, None]) * inv
        t_near = np.minimum(t1, t2).max(-1)
        t_far = np.maximum(t1, t2).min(-1)
        hit = (t_near <= t_far) & (t_near > 0.05) & (t_near <= max_range)
        t_hit = np.where(hit, t_near, np.inf).min(-1)
        best[sl] = np.minimum(best[sl], t_hit)
    return best


def timed(func, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rig = make_rig()
    t0 = 1.65e9
    trajectory = make_trajectory(rng, t0, 6.0)
    objects, road = build_scene(rng, trajectory, t0 + 3.0, 20)
    columns = int(args.points / 128 / 0.55)
    times, origins, _, dirs = _column_geometry(columns, t0 + 3.0, 0.1, rig, trajectory)

    t_ours, (ours, _) = timed(lambda: cast_rays(origins, dirs, times, objects, 250.0), args.repeat)
    t_base, base = timed(lambda: brute_force(origins, dirs, times, objects, 250.0), args.repeat)
    same = np.array_equal(np.isfinite(ours), np.isfinite(base)) and np.allclose(
        ours[np.isfinite(ours)], base[np.isfinite(base)]
    )
    rays = columns * 128
    print(f"ray casting, {rays} rays x {len(objects)} boxes:")
    print(f"  brute force  {t_base * 1e3:8.1f} ms")
    print(
        f"  culled       {t_ours * 1e3:8.1f} ms   ratio x{t_base / t_ours:.1f}   "
        f"same result: {same}"
    )

    t_scan, scan = timed(
        lambda: simulate_scan(
            rng, args.points, int((t0 + 3.0) * 1e6), rig, trajectory, objects, road
        ),
        args.repeat,
    )
    print(
        f"one core scan of {len(scan)} points: {t_scan * 1e3:.0f} ms "
        f"({len(scan) / t_scan / 1e6:.2f} M points/s)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_sample(tmp, SampleConfig.for_tests())
        print(f"SampleConfig.for_tests() end to end: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
