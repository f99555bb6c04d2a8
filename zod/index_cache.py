"""The cache file of an index scan: the arrays of ``zod.index_scan`` in a small ``.npz``.

One cache file per index file (named by a hash of its resolved path) in ``cache_dir()``. It
holds a key made of the index file's size, mtime and a hash of its first and last 64 KiB, and
is reused only while that key matches. An index in an object store (a URL) gets its cache in
the same local directory, named by a hash of the URL and keyed by what the store says of the
object (size, ETag or generation, modification time: ``url_key``), so a hit costs no
download; a store that tells neither a version nor a time gets no cache. Unreadable or stale
caches are ignored; an unwritable cache directory only costs the next load a scan.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from zod._atomic import atomic_path
from zod._io import is_url
from zod.index_scan import IndexArrays, IndexBuffer

CACHE_VERSION = 2
"""Bumped whenever the arrays' meaning changes: older caches then no longer match (2: split
names with JSON escapes decoded, malformed tops of files no longer accepted)."""

_EDGE = 65536  # bytes hashed at each end of the index file


def cache_dir() -> Path:
    """Where index caches live: ``$ZOD_CACHE_DIR``, else ``$XDG_CACHE_HOME/zod-devkit``, else
    ``~/.cache/zod-devkit``."""
    env = os.environ.get("ZOD_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zod-devkit"


def file_key(path: Path, buffer: IndexBuffer) -> str:
    """Size + mtime + a hash of the first and last 64 KiB of ``buffer`` (the file's bytes):
    changes whenever the file does."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{CACHE_VERSION}:{stat.st_size}:{stat.st_mtime_ns}:".encode())
    digest.update(buffer[:_EDGE])
    digest.update(buffer[-_EDGE:])
    return digest.hexdigest()


_VERSION_FIELDS = (
    "ETag",  # S3, HTTP
    "etag",  # GCS, Azure
    "generation",  # GCS
    "VersionId",  # S3 with versioning
    "LastModified",  # S3
    "last_modified",  # Azure
    "updated",  # GCS
    "mtime",  # SFTP, HDFS ...
    "created",  # fsspec's memory filesystem
)
"""Fields of fsspec's ``info`` that change when an object is rewritten."""


def url_key(url: str, info: dict[str, Any]) -> str | None:
    """The key of the index object at ``url`` from the store's ``info`` of it: size plus every
    version or time field it has; None (no cache) when it has none."""
    versions = [f"{name}={info[name]}" for name in _VERSION_FIELDS if info.get(name) is not None]
    if not versions:
        return None
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{CACHE_VERSION}:{url}:{info.get('size')}:{':'.join(versions)}".encode())
    return digest.hexdigest()


def cache_path(path: Path | str) -> Path:
    """The cache file of the index file ``path`` (a local path, or a URL as a string)."""
    source = os.fspath(path) if is_url(path) else str(Path(path).resolve())
    name = hashlib.sha1(source.encode()).hexdigest()[:20]
    return cache_dir() / f"index-{name}.npz"


def load_cache(cache: Path, key: str) -> IndexArrays | None:
    """The arrays stored in ``cache`` if its key is ``key``, else None (also when unreadable)."""
    try:
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            return IndexArrays(
                z["starts"],
                z["ends"],
                z["ids"],
                z["split_codes"],
                z["project_masks"],
                tuple(z["split_names"].tolist()),
            )
    except (OSError, KeyError, ValueError):
        return None


def save_cache(cache: Path, key: str, arrays: IndexArrays) -> None:
    """Write ``arrays`` under ``key`` (atomically); a failure to write is not an error."""
    try:
        with atomic_path(cache) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                key=np.array(key),
                starts=arrays.starts,
                ends=arrays.ends,
                ids=arrays.ids,
                split_codes=arrays.split_codes,
                project_masks=arrays.project_masks,
                split_names=np.array(arrays.split_names, dtype=str),
            )
    except OSError:  # a read-only home must not stop anyone from reading the dataset
        pass
