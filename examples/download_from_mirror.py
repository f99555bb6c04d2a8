"""Mirror a dataset, download part of it back, and verify the result.

Usage: python examples/download_from_mirror.py DATASET_ROOT OUTPUT_DIR

1. `zod mirror build` equivalent: DATASET_ROOT -> OUTPUT_DIR/mirror (archives + SHA256SUMS);
2. `zod download` equivalent from that mirror (a local directory here; an http(s):// URL of a
   web server listing it, or a Dropbox link, works the same) of Frames without DNAT images and
   with 2 earlier lidar scans, into OUTPUT_DIR/zod;
3. `zod verify` equivalent: expected vs present files per stream, and the downloaded archives
   against the mirror's SHA256SUMS.
"""

from __future__ import annotations

import sys
from pathlib import Path

from zod.download.download import DownloadOptions, plan_download, run_download
from zod.download.mirror import build_mirror
from zod.download.sources import make_source
from zod.download.streams import StreamFilter
from zod.download.verify import verify_dataset


def main(dataset_root: Path, output_dir: Path) -> None:
    mirror = output_dir / "mirror"
    report = build_mirror(
        dataset_root, mirror, subsets=("frames",), compress_level=1, progress=False
    )
    print(f"mirror: {', '.join(report.archives['single_frames'])}")

    options = DownloadOptions(output_dir / "zod", progress=False)
    wanted = StreamFilter(version="full", dnat=False, num_scans_before=2)
    plan = plan_download(make_source(str(mirror)), "frames", wanted, options)
    print(plan.summary())
    result = run_download(plan)
    print(f"downloaded {len(result.downloaded)} archives, extracted {len(result.extracted)}")

    checks = verify_dataset(
        options.output_dir,
        "frames",
        "full",
        progress=False,
        checksums=str(mirror / "single_frames" / "SHA256SUMS"),
    )
    print(checks.table())
    assert checks.checksums is not None and not checks.checksums.mismatched
    assert checks.rows["lidar_velodyne_02before"].missing == 0
    assert checks.rows["images_front_dnat"].present == 0  # filtered out, as asked


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
