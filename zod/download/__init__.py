"""Download, mirror and verify the Zenseact Open Dataset (spec section 13).

- `streams`: which archive (stream) carries which file; archive names; the filter flags.
- `sources`: HTTP mirrors, local directories and Dropbox shared links.
- `transfer`: resumable, verified transfer of one archive; `extract`: safe extraction.
- `download`: plan and run a download; `mirror`: build a mirror; `verify`: check a root.
"""

from __future__ import annotations
