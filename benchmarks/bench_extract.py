"""Benchmark of safe extraction (stage, verify, place) against GNU ``tar -xzf`` in the same run.

The archive is Frames-like: incompressible 2 MiB "images", half-compressible 2 MiB "scans" and
many 1 KiB JSON files (the per-member cost), gzip level 1 as `zod mirror build` writes it.

Run: ``.venv/bin/python benchmarks/bench_extract.py [--mb 256] [--small 5000]``. Prints MB/s
and the ratio (tar time / our time: above 1 means we are faster). ``zod`` is imported from
PYTHONPATH when set (to compare another checkout), else from this repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))


def make_archive(path: Path, total_mb: int, small: int) -> int:
    """Write the archive; returns the bytes of member data."""
    import numpy as np

    rng = np.random.default_rng(0)
    data_bytes = 0
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:

        def add(name: str, data: bytes) -> None:
            nonlocal data_bytes
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, __import__("io").BytesIO(data))
            data_bytes += len(data)

        for k in range(max(1, total_mb // 4)):
            item = f"single_frames/{k:06d}"
            add(f"{item}/camera_front_blur/{k:06d}.jpg", rng.bytes(2 << 20))
            scan = rng.integers(0, 16, size=2 << 20, dtype="uint8").tobytes()
            add(f"{item}/lidar_velodyne/{k:06d}.npy", scan)
        for k in range(small):
            add(f"single_frames/{k % 5000:06d}/annotations/object_detection_{k}.json", b"{}" * 512)
    return data_bytes


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256, help="MiB of large members")
    parser.add_argument("--small", type=int, default=5000, help="number of 1 KiB members")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept")
    args = parser.parse_args()

    import zod.download.extract as extract

    print(f"zod.download.extract from {extract.__file__}")
    with tempfile.TemporaryDirectory(prefix="zod-bench-extract-") as tmp_name:
        tmp = Path(tmp_name)
        archive = tmp / "frames.tar.gz"
        data_bytes = make_archive(archive, args.mb, args.small)
        mb = data_bytes / 1e6
        print(f"archive: {archive.stat().st_size / 1e6:.0f} MB, members {mb:.0f} MB")
        best_tar = best_ours = float("inf")
        for _ in range(args.repeat):
            out = tmp / "x_tar"
            out.mkdir()
            cmd = ["tar", "-xzf", str(archive), "-C", str(out)]
            best_tar = min(best_tar, timed(lambda: subprocess.run(cmd, check=True)))  # noqa: B023
            shutil.rmtree(out)
            out = tmp / "x_ours"
            best_ours = min(
                best_ours,
                timed(lambda: extract.safe_extract(archive, out, progress=False)),  # noqa: B023
            )
            shutil.rmtree(out)
        print(
            f"extraction  ours {best_ours:6.2f} s ({mb / best_ours:6.0f} MB/s)   "
            f"tar -xzf {best_tar:6.2f} s ({mb / best_tar:6.0f} MB/s)   "
            f"ratio x{best_tar / best_ours:.2f}"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
