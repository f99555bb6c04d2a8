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

from zod.download.download import DownloadOptions, plan_download, run_download
from zod.download.extract import safe_extract
from zod.download.mirror import build_mirror
from zod.download.sources import make_source
from zod.download.streams import StreamFilter, download_hint, stream_of_file
from zod.download.verify import verify_dataset

__all__ = [
    "DownloadOptions", "StreamFilter", "build_mirror", "download_hint", "make_source",
    "plan_download", "run_download", "safe_extract", "stream_of_file", "verify_dataset",
]
