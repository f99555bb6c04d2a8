"""Atomic file output: write to a temporary sibling, then rename it onto the final name.

Readers never see a half-written file and a crash (or Ctrl-C) leaves nothing under the final
name. The temporary file lives in the same folder (a rename is only atomic within one file
system), starts with a dot (hidden, and skipped by `zod.download.mirror` as a leftover) and
keeps the final suffix, because writers such as OpenCV and open3d pick the format from it::

    out/frame.png   <-  os.replace  <-  out/.frame.a1b2c3.tmp.png   (written first)

``tempfile.mkstemp`` creates 0600 files; before the rename the file gets the mode a plain
``open()`` would give it (0666 minus the umask). No fsync: this guards against torn files from
an interrupted process, not against power loss (an fsync per file would slow the converters).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "default_file_mode",
    "temp_sibling",
]


def default_file_mode() -> int:
    """0o666 minus the process umask: the mode ``open()`` gives a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temp_sibling(path: str | os.PathLike[str]) -> Path:
    """Create (empty, closed) and return a unique hidden sibling of ``path`` with its suffix."""
    path = Path(path)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    return Path(name)


@contextmanager
def atomic_path(path: str | os.PathLike[str], mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    The parent folder is created when missing. ``mode`` (default: the umask-respecting
    `default_file_mode`) is applied before the rename. On an exception the temporary file is
    removed and the exception propagates; ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``path``; returns ``Path(path)``.

    A ``write`` returning ``False`` (how ``cv2.imwrite`` and open3d report failure) raises
    OSError and leaves no file behind.
    """
    with atomic_path(path) as tmp:
        if write(tmp) is False:
            raise OSError(f"could not write {path}")
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
