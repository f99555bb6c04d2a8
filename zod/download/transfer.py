"""Resumable, verified transfer of one archive from a `Source` to a local file.

The bytes go to ``<name>.part`` next to the destination; an interrupted transfer (crash, Ctrl-C,
dropped connection) continues from the size of the ``.part`` file with a ``Range`` request.
Transient failures are retried with exponential backoff. When the size and the checksums the
source provides match, the ``.part`` file is renamed into place (atomic).
"""

from __future__ import annotations

import errno
import http.client
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from zod.download.checksums import MultiHasher
from zod.download.errors import ChecksumError, DiskFullError, DownloadCancelled, NetworkError
from zod.download.sources import RemoteFile, Source, TransientError

CHUNK_BYTES = 1 << 20
PART_SUFFIX = ".part"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures: ``attempts`` in a row without progress, waiting
    ``backoff_s * 2**k`` (capped by ``max_wait_s``) before the k-th retry."""

    attempts: int = 6
    backoff_s: float = 1.0
    max_wait_s: float = 60.0

    def wait_s(self, failures: int, hint_s: float | None = None) -> float:
        wait = min(self.max_wait_s, self.backoff_s * 2 ** max(failures - 1, 0))
        return max(wait, min(hint_s or 0.0, self.max_wait_s))


@dataclass
class TransferResult:
    path: Path
    sha256: str
    content_hash: str | None
    downloaded_bytes: int  # bytes fetched by this call (less than the size after a resume)
    resumed_from: int


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + PART_SUFFIX)


def download_file(source: Source, remote: RemoteFile, dest: Path, retry: RetryPolicy | None = None,
                  progress: bool = True, overall: tqdm | None = None,
                  cancel: threading.Event | None = None) -> TransferResult:
    """Fetch ``remote`` into ``dest`` (resuming ``dest.part``), verify it, rename into place.

    ``cancel``: when set (Ctrl-C in the main thread), the transfer stops at the next chunk with
    `DownloadCancelled`, keeping the ``.part`` file for the next run.

    Raises `ChecksumError` (the partial file is deleted), `DiskFullError`, `LinkError`,
    `NetworkError` once retries are exhausted.
    """
    retry = retry or RetryPolicy()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    size = remote.size
    hasher = MultiHasher(dropbox=remote.content_hash is not None)
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if offset:
        # Hash what is already there so the whole file is read exactly once.
        offset = hasher.update_from_file(part, offset)
    resumed_from = offset
    fetched = 0
    pbar = tqdm(total=size, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False, disable=not progress, desc=remote.name)
    failures = 0
    try:
        with open(part, "r+b" if part.exists() else "wb") as out:
            out.seek(offset)
            out.truncate()
            while size is None or offset < size:
                try:
                    stream, start = source.open(remote, offset)
                except TransientError as err:
                    failures = _backoff(retry, failures, err, remote)
                    continue
                if start != offset:  # server ignored Range: start over
                    out.seek(0)
                    out.truncate()
                    pbar.reset(total=size)
                    hasher = MultiHasher(dropbox=remote.content_hash is not None)
                    offset = 0
                progressed = False
                try:
                    with stream:
                        # read1: whatever has arrived (up to a chunk), so the .part file and
                        # the progress bar follow a slow connection
                        read = getattr(stream, "read1", stream.read)
                        while True:
                            if cancel is not None and cancel.is_set():
                                raise DownloadCancelled(f"{remote.name}: interrupted at byte {offset}")
                            chunk = read(CHUNK_BYTES)
                            if not chunk:
                                break
                            out.write(chunk)
                            hasher.update(chunk)
                            offset += len(chunk)
                            fetched += len(chunk)
                            progressed = True
                            pbar.update(len(chunk))
                            if overall is not None:
                                overall.update(len(chunk))
                except (http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as err:
                    out.flush()
                    failures = 0 if progressed else failures
                    failures = _backoff(retry, failures, TransientError(f"{remote.name}: {err!r}"), remote)
                    continue
                out.flush()
                if size is None:
                    break
                if offset < size:  # connection closed early without an error
                    failures = 0 if progressed else failures
                    failures = _backoff(retry, failures, TransientError(f"{remote.name}: stream ended at {offset} of {size} bytes"), remote)
            os.fsync(out.fileno())
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise DiskFullError(str(dest.parent), None, None) from err
        raise
    finally:
        pbar.close()

    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        part.unlink()
        raise ChecksumError(str(dest), "size", size, actual_size)
    sha256 = hasher.sha256.hexdigest()
    if remote.sha256 is not None and sha256 != remote.sha256.lower():
        part.unlink()
        raise ChecksumError(str(dest), "SHA-256", remote.sha256, sha256)
    content_hash = hasher.dropbox.hexdigest() if hasher.dropbox is not None else None
    if remote.content_hash is not None and content_hash != remote.content_hash.lower():
        part.unlink()
        raise ChecksumError(str(dest), "Dropbox content hash", remote.content_hash, content_hash)
    os.replace(part, dest)
    return TransferResult(dest, sha256, content_hash, fetched, resumed_from)


def _backoff(retry: RetryPolicy, failures: int, err: TransientError, remote: RemoteFile) -> int:
    failures += 1
    if failures > retry.attempts:
        raise NetworkError(remote.name, f"{err} (gave up after {retry.attempts} retries)")
    wait = retry.wait_s(failures, err.retry_after_s)
    tqdm.write(f"{remote.name}: {err}; retry {failures}/{retry.attempts} in {wait:.1f} s")
    time.sleep(wait)
    return failures
