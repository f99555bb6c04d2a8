"""Benchmark: loading a 20k and a 100k info index (spec §2) against the reference path.

The reference path is ``json.load`` of the whole file plus building every ``Information``
object (what zod==0.8.0 does). Ours is ``ZodIndex`` (vectorized scan, lazy infos) cold (no
cache file) and warm (cache file present). Synthetic index files are built by replicating a
Frames info with the spec's keys, paths and times (2 cameras, 5 projects, varied ids and
times) in two layouts:

- ``spec``: 21 lidar scans per info as the spec lists them: 4.8 KB per info, 486 MB for 100k;
- ``3kb``: 10 lidar scans: 3.0 KB per info, the ~300 MB for ~100k infos the spec gives for
  the real full Frames file (with the spec's path and time strings, 21 scans cannot fit in
  3 KB, so the real file's exact layout is unknown; both bracket it).

    python benchmarks/bench_index.py [--sizes 20000 100000] [--layouts spec 3kb] [--no-reference]
        [--scans]   (also the fast, robust and json-module reference scans alone)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PROJECT_NAMES = ("object_detection", "lane_markings", "traffic_signs", "ego_road", "road_condition")


LAYOUT_SCANS = {"spec": 21, "3kb": 10}


def make_info(i: int, scans: int = 21) -> dict[str, Any]:
    """A Frames info object (as in spec §2) for id ``i`` with ``scans`` lidar scans (odd: the
    core scan in the middle)."""
    fid = f"{i:06d}"
    key = datetime(2022, 2, 14, 13, 23, 32, 140954, tzinfo=timezone.utc) + timedelta(seconds=37 * i)

    def t(dt: datetime) -> str:
        return dt.isoformat()

    def fn(dt: datetime) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    base = f"single_frames/{fid}"
    projects = [p for k, p in enumerate(PROJECT_NAMES) if (i + k) % 4 != 0 or k < 2]
    return {
        "id": fid,
        "start_time": t(key - timedelta(seconds=1)),
        "end_time": t(key + timedelta(seconds=1)),
        "keyframe_time": t(key),
        "calibration_path": f"{base}/calibration.json",
        "ego_motion_path": f"{base}/ego_motion.json",
        "metadata_path": f"{base}/metadata.json",
        "oxts_path": f"{base}/oxts.hdf5",
        "vehicle_data_path": None,
        "annotations": {
            p: {"filepath": f"{base}/annotations/{p}.json", "project": p} for p in projects
        },
        "camera_frames": {
            f"front_{a}": [
                {
                    "filepath": f"{base}/camera_front_{a}/{fid}_romeo_{fn(key)}.jpg",
                    "time": t(key),
                    "height": 2168,
                    "width": 3848,
                }
            ]
            for a in ("blur", "dnat")
        },
        "lidar_frames": {
            "velodyne": [
                {
                    "filepath": f"{base}/lidar_velodyne/{fid}_romeo_"
                    f"{fn(key + timedelta(seconds=0.1 * k))}.npy",
                    "time": t(key + timedelta(seconds=0.1 * k)),
                    "is_compensated": False,
                }
                for k in range(-(scans // 2), scans - scans // 2)
            ]
        },
    }


def write_index(path: Path, n: int, scans: int = 21) -> None:
    n_val = n // 10
    infos = [make_info(i, scans) for i in range(n)]
    with open(path, "w") as f:
        json.dump({"train": infos[n_val:], "val": infos[:n_val]}, f)


def reference_load(path: Path, root: str) -> int:
    """json.load + build every Information (the reference devkit's path)."""
    from zod.info import Information

    with open(path) as f:
        data = json.load(f)
    infos = {d["id"]: Information.from_dict(d, root) for split in data.values() for d in split}
    return len(infos)


def ours(path: Path, root: str) -> int:
    from zod.index import ZodIndex

    index = ZodIndex(path, root)
    index.info(index.ids[len(index) // 2])  # the first real access
    return len(index)


def scan_times(path: Path, repeat: int) -> dict[str, float]:
    """Best-of seconds of each scan of the file's bytes: fast, robust, and the json-module
    reference walk (``zod.index_reference``, run once: it is slow)."""
    from zod.index_reference import reference_scan
    from zod.index_scan import scan_index

    raw = path.read_bytes()
    out = {}
    for method in ("fast", "robust"):
        out[method] = min(
            timed(lambda m=method: scan_index(raw, method=m).ids.size)[0] for _ in range(repeat)
        )
    out["reference"] = timed(lambda: reference_scan(raw).ids.size)[0]
    return out


ORACLE = Path(__file__).resolve().parent.parent / ".venv-oracle" / "bin" / "python"
ORACLE_SCRIPT = """
import sys, time
t0 = time.perf_counter()
from zod import ZodFrames
frames = ZodFrames(sys.argv[1], "full", mp=False)
frames[sorted(frames.get_all_ids())[0]]
print(time.perf_counter() - t0, len(frames))
"""


def reference_devkit_load(path: Path, work: Path) -> float | None:
    """Seconds the reference devkit (zod==0.8.0, its own venv) takes to open the same index."""
    if not ORACLE.exists():
        return None
    root = work / f"oracle-root-{path.stem}"
    root.mkdir(exist_ok=True)
    link = root / "trainval-frames-full.json"
    if not link.exists():
        link.symlink_to(path)
    # -I and a neutral cwd: the repo's own `zod` folder must not shadow the reference package
    out = subprocess.run(
        [str(ORACLE), "-I", "-c", ORACLE_SCRIPT, str(root)],
        check=False,
        capture_output=True,
        text=True,
        cwd=work,
    )
    return float(out.stdout.split()[0]) if out.returncode == 0 else None


def timed(fn: Callable[..., int], *args: object) -> tuple[float, int]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument(
        "--layouts", nargs="+", choices=sorted(LAYOUT_SCANS), default=["spec", "3kb"]
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the slow json.load reference"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="cold loads per file (the best is shown)"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--devkit-max",
        type=int,
        default=20000,
        help="also time the reference devkit itself up to this many infos (it is slow)",
    )
    parser.add_argument(
        "--scans",
        action="store_true",
        help="also time the fast, the robust and the json-module reference scan of each file",
    )
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="zod-bench-index-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["ZOD_CACHE_DIR"] = str(work / "cache")
    import zod.index
    import zod.info  # noqa: F401  (imports are not part of any timing)

    print(
        "reference = json.load + an Information for every info; "
        "cold = ZodIndex without a cache file;"
    )
    print("warm = ZodIndex with its cache file. Both 'ours' include parsing one info.")
    print(
        f"best of {args.repeat} cold loads (a shared machine is noisy); KB = bytes per info / 1000"
    )
    print(
        f"{'layout':>6} {'infos':>8} {'KB':>5} {'MB':>7} {'reference s':>12} {'cold s':>8} "
        f"{'warm s':>8} {'cold x':>8} {'warm x':>8}"
    )
    for layout in args.layouts:
        for n in args.sizes:
            path = work / f"trainval-frames-{layout}-{n}.json"
            if not path.exists():
                write_index(path, n, LAYOUT_SCANS[layout])
            with open(path, "rb") as f:  # the file in the page cache for every contender alike
                while f.read(1 << 24):
                    pass
            colds = []
            for _ in range(args.repeat):
                for cache in (work / "cache").glob("*.npz"):
                    cache.unlink()
                t_cold, n_cold = timed(ours, path, str(work))
                colds.append(t_cold)
            t_cold = min(colds)
            t_warm, n_warm = timed(ours, path, str(work))
            t_ref, n_ref = (
                (float("nan"), n) if args.no_reference else timed(reference_load, path, str(work))
            )
            assert n_ref == n_cold == n_warm == n, (n_ref, n_cold, n_warm)
            size_mb = path.stat().st_size / 1e6
            print(
                f"{layout:>6} {n:>8} {size_mb * 1e3 / n:>5.2f} {size_mb:>7.1f} {t_ref:>12.2f} "
                f"{t_cold:>8.3f} {t_warm:>8.3f} {t_ref / t_cold:>7.1f}x {t_ref / t_warm:>7.1f}x",
                flush=True,
            )
            if args.scans:
                scans = scan_times(path, args.repeat)
                print(
                    f"{'':>15} scan only: fast {scans['fast']:.3f} s, "
                    f"robust {scans['robust']:.3f} s, "
                    f"json-module reference {scans['reference']:.2f} s",
                    flush=True,
                )
            if n <= args.devkit_max and not args.no_reference:
                t_devkit = reference_devkit_load(path, work)
                if t_devkit is not None:
                    print(
                        f"{'':>15} reference devkit zod==0.8.0 ZodFrames(mp=False): "
                        f"{t_devkit:.2f} s -> ours {t_devkit / t_cold:.1f}x (cold), "
                        f"{t_devkit / t_warm:.0f}x (warm)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
