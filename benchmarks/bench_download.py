"""Benchmark of `zod download`'s parts on generated data, with baselines measured in the same run.

- transfer: our parallel, resumable, verified download of every archive from a local nginx, vs a
  sequential plain-urllib copy with 8 MiB reads (what the reference devkit does per file);
- extraction: our safe, verifying extraction vs GNU ``tar -xzf`` (the reference's extractor);
- mirror: our `write_archive` (gzip level 1) vs ``tar -czf`` (gzip level 6 default).

Run: ``.venv/bin/python benchmarks/bench_download.py [--mb 160]``. Prints seconds and ratios
(baseline time / our time: above 1 means we are faster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def make_tree(root: Path, total_mb: int) -> None:
    """Frames-like folders: incompressible 'images' and half-compressible 'scans'."""
    rng = __import__("numpy").random.default_rng(0)
    per_item = 4 * 1024 * 1024
    items = max(1, total_mb * 1024 * 1024 // per_item)
    for k in range(items):
        item = root / "single_frames" / f"{k:06d}"
        (item / "camera_front_blur").mkdir(parents=True)
        (item / "lidar_velodyne").mkdir()
        (item / "camera_front_blur" / f"{k:06d}_a_2022-01-01T00:00:00.000000Z.jpg").write_bytes(
            rng.bytes(2 * 1024 * 1024)
        )
        scan = rng.integers(0, 16, size=2 * 1024 * 1024, dtype="uint8").tobytes()
        (item / "lidar_velodyne" / f"{k:06d}_a_2022-01-01T00:00:00.000000Z.npy").write_bytes(scan)
        (item / "calibration.json").write_text("{}")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=160, help="size of the generated data")
    args = parser.parse_args()

    from test_download_http import start_nginx, stop_nginx

    from zod.download.download import DownloadOptions, plan_download, run_download
    from zod.download.extract import safe_extract
    from zod.download.mirror import build_mirror
    from zod.download.sources import make_source
    from zod.download.streams import StreamFilter
    from zod.download.transfer import SegmentPolicy

    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        src = tmp / "src"
        make_tree(src, args.mb)
        size_mb = sum(p.stat().st_size for p in src.rglob("*") if p.is_file()) / 2**20
        print(f"data: {size_mb:.0f} MiB")

        # --- mirror build: ours (level 1) vs tar -czf (default level 6) ---------------------
        mirror = tmp / "mirror"
        ours = timed(
            lambda: build_mirror(
                src, mirror, versions=("full",), compress_level=1, workers=2, progress=False
            )
        )
        base = timed(
            lambda: subprocess.run(
                ["tar", "-czf", str(tmp / "baseline.tar.gz"), "-C", str(src), "."], check=True
            )
        )
        print(
            f"mirror build   ours {ours:6.2f} s   tar -czf {base:6.2f} s   ratio x{base / ours:.2f}"
        )

        # --- transfer from nginx --------------------------------------------------------------
        server = start_nginx(mirror, tmp / "nginx", "json", slow_rate="40m")
        try:
            names = sorted(p.name for p in (mirror / "single_frames").glob("*.tar.gz"))

            def baseline_transfer() -> None:
                dest = tmp / "plain"
                dest.mkdir()
                for name in names:
                    with (
                        urllib.request.urlopen(f"{server.url}/single_frames/{name}") as r,
                        open(dest / name, "wb") as f,
                    ):
                        while chunk := r.read(8 * 1024 * 1024):
                            f.write(chunk)

            def our_transfer() -> None:
                options = DownloadOptions(
                    tmp / "ours",
                    extract=False,
                    progress=False,
                    max_workers=4,
                    segments=SegmentPolicy(segments=4, min_bytes=8 * 2**20),
                )
                flt = StreamFilter(dnat=True, num_scans_before=-1, num_scans_after=-1)
                run_download(plan_download(make_source(server.url), "frames", flt, options))

            base = timed(baseline_transfer)
            ours = timed(our_transfer)
            print(
                f"transfer       ours {ours:6.2f} s   urllib    {base:6.2f} s   "
                f"ratio x{base / ours:.2f}"
                "   (loopback, unlimited; ours also verifies SHA-256 and fsyncs)"
            )
            shutil.rmtree(tmp / "plain")
            shutil.rmtree(tmp / "ours")
            server.url += "/slow"  # 40 MB/s per connection, like a remote server
            base = timed(baseline_transfer)
            ours = timed(our_transfer)
            print(
                f"transfer       ours {ours:6.2f} s   urllib    {base:6.2f} s   "
                f"ratio x{base / ours:.2f}"
                "   (40 MB/s per connection; ours: 4 segments per archive)"
            )
        finally:
            stop_nginx(server)

        # --- extraction -----------------------------------------------------------------------
        archive = tmp / "baseline.tar.gz"
        (tmp / "x_tar").mkdir()
        base = timed(
            lambda: subprocess.run(
                ["tar", "-xzf", str(archive), "-C", str(tmp / "x_tar")], check=True
            )
        )
        ours = timed(lambda: safe_extract(archive, tmp / "x_ours", progress=False))
        print(
            f"extraction     ours {ours:6.2f} s   tar -xzf  {base:6.2f} s   "
            f"ratio x{base / ours:.2f}"
            "   (ours checks every member)"
        )
        shutil.rmtree(tmp / "x_tar")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
