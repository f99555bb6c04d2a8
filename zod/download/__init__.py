"""Download, mirror and verify the Zenseact Open Dataset (spec section 13).

- `streams`: which archive (stream) carries which file; archive names; the filter flags.
- `sources`: HTTP mirrors, local directories and Dropbox shared links.
- `transfer`: resumable, verified transfer of one archive; `extract`: safe extraction.
- `download`: plan and run a download; `mirror`: build a mirror; `verify`: check a root.

```python
from zod.download import DownloadOptions, StreamFilter, make_source, plan_download, run_download

plan = plan_download(make_source("https://mirror.example.org/zod"), "frames",
                     StreamFilter(num_scans_before=2), DownloadOptions(Path("data/zod")))
print(plan.summary())
run_download(plan)
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zod._lazy import lazy_getattr

# Imported on first use, so that `zod.download.errors` or `zod.download.streams` (and the CLI's
# start-up) do not pay for the HTTP and archive machinery.
_LAZY_NAMES: dict[str, str] = {
    "DownloadOptions": "zod.download.download",
    "plan_download": "zod.download.download",
    "run_download": "zod.download.download",
    "safe_extract": "zod.download.extract",
    "build_mirror": "zod.download.mirror",
    "make_source": "zod.download.sources",
    "StreamFilter": "zod.download.streams",
    "download_hint": "zod.download.streams",
    "stream_of_file": "zod.download.streams",
    "verify_dataset": "zod.download.verify",
}
__all__ = [
    "DownloadOptions",
    "StreamFilter",
    "build_mirror",
    "download_hint",
    "make_source",
    "plan_download",
    "run_download",
    "safe_extract",
    "stream_of_file",
    "verify_dataset",
]


__getattr__ = lazy_getattr(__name__, _LAZY_NAMES, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from zod.download.download import DownloadOptions, plan_download, run_download
    from zod.download.extract import safe_extract
    from zod.download.mirror import build_mirror
    from zod.download.sources import make_source
    from zod.download.streams import StreamFilter, download_hint, stream_of_file
    from zod.download.verify import verify_dataset
