"""Resumable, verified transfer of one archive from a `Source` to a local file.

The bytes go to ``<name>.part`` next to the destination; an interrupted transfer (crash, Ctrl-C,
dropped connection) continues where it stopped with ``Range`` requests. Transient failures are
retried with exponential backoff. When the size and the checksums the source provides match,
the ``.part`` file is renamed into place (atomic).

Two ways to fill the ``.part`` file:

- one stream (small files, or a ``.part`` left by a one-stream run): bytes are appended and
  hashed as they arrive; the resume point is the size of the ``.part`` file;
- ``segments`` parallel ranged streams (large files; per-connection limits are common on file
  hosts): the file is cut into contiguous byte ranges written in place with ``pwrite``; the
  bytes done per range are recorded in ``<name>.part.segments.json`` (written after the data),
  which is the resume point; the whole file is hashed once at the end.

```
.part:  |==== seg 0 ====>.....|==== seg 1 ==>........|==== seg 2 =====>....|
         start0      done0  end0=start1   done1     end1=start2  done2   end2=size
```
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import socket
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from zod._atomic import atomic_write_text
from zod.download.checksums import MultiHasher
from zod.download.errors import ChecksumError, DiskFullError, DownloadCancelled, NetworkError
from zod.download.sources import RemoteFile, Source, TransientError

CHUNK_BYTES = 1 << 20
PART_SUFFIX = ".part"
SEGMENTS_SUFFIX = ".part.segments.json"
_SAVE_EVERY_BYTES = 16 * CHUNK_BYTES
_NETWORK_ERRORS = (http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)


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


@dataclass(frozen=True)
class SegmentPolicy:
    """Files of at least ``min_bytes`` are fetched as ``segments`` parallel byte ranges."""

    segments: int = 4
    min_bytes: int = 256 * 1024 * 1024


@dataclass
class TransferResult:
    path: Path
    sha256: str
    content_hash: str | None
    downloaded_bytes: int  # bytes fetched by this call (less than the size after a resume)
    resumed_from: int  # bytes already on disk when this call started
    segments: int = 1


class _RangeIgnored(Exception):
    """The server answered a ranged request with the whole file: no segmented download."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + PART_SUFFIX)


def segments_path(dest: Path) -> Path:
    return dest.with_name(dest.name + SEGMENTS_SUFFIX)


def partial_bytes(dest: Path) -> int:
    """Bytes of ``dest`` already fetched by an interrupted download (0 when none)."""
    part = part_path(dest)
    if not part.exists():
        return 0
    try:
        state = json.loads(segments_path(dest).read_text())
        return sum(int(r[2]) for r in state["ranges"])
    except FileNotFoundError:
        return part.stat().st_size
    except (ValueError, KeyError, TypeError, IndexError):
        return 0


def download_file(
    source: Source,
    remote: RemoteFile,
    dest: Path,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    overall: tqdm | None = None,
    cancel: threading.Event | None = None,
    segment_policy: SegmentPolicy | None = None,
) -> TransferResult:
    """Fetch ``remote`` into ``dest`` (resuming ``dest.part``), verify it, rename into place.

    ``cancel``: when set (Ctrl-C in the main thread), the transfer stops at the next chunk with
    `DownloadCancelled`, keeping the ``.part`` file for the next run. ``segment_policy``: when
    (and how many) parallel ranges to use; None: one stream.

    Raises `ChecksumError` (the partial file is deleted), `DiskFullError`, `LinkError`,
    `NetworkError` once retries are exhausted.
    """
    retry = retry or RetryPolicy()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    size = remote.size
    use_segments = (
        segment_policy is not None
        and segment_policy.segments > 1
        and size is not None
        and size >= segment_policy.min_bytes
        and (segments_path(dest).exists() or not part.exists())  # a one-stream .part goes on as one
    )
    pbar = tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        disable=not progress,
        desc=remote.name,
    )
    try:
        hasher = None
        n_segments = 1
        if use_segments:
            assert segment_policy is not None and size is not None
            try:
                fetched, resumed_from, n_segments = _fetch_segments(
                    source,
                    remote,
                    dest,
                    size,
                    segment_policy.segments,
                    retry,
                    pbar,
                    overall,
                    cancel,
                )
            except _RangeIgnored:
                segments_path(dest).unlink(missing_ok=True)
                part.unlink(missing_ok=True)
                pbar.reset(total=size)
                use_segments = False
        if not use_segments:
            hasher, fetched, resumed_from = _fetch_stream(
                source, remote, part, retry, pbar, overall, cancel
            )
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise DiskFullError(str(dest.parent), None, None) from err
        raise
    finally:
        pbar.close()

    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        _discard(dest)
        raise ChecksumError(str(dest), "size", size, actual_size)
    if hasher is None:  # segments arrive out of order: hash the finished file once
        hasher = MultiHasher(dropbox=remote.content_hash is not None)
        hasher.update_from_file(part)
    sha256 = hasher.sha256.hexdigest()
    if remote.sha256 is not None and sha256 != remote.sha256.lower():
        _discard(dest)
        raise ChecksumError(str(dest), "SHA-256", remote.sha256, sha256)
    content_hash = hasher.dropbox.hexdigest() if hasher.dropbox is not None else None
    if remote.content_hash is not None and content_hash != remote.content_hash.lower():
        _discard(dest)
        raise ChecksumError(str(dest), "Dropbox content hash", remote.content_hash, content_hash)
    os.replace(part, dest)
    segments_path(dest).unlink(missing_ok=True)
    return TransferResult(dest, sha256, content_hash, fetched, resumed_from, n_segments)


def _discard(dest: Path) -> None:
    part_path(dest).unlink(missing_ok=True)
    segments_path(dest).unlink(missing_ok=True)


def _fetch_stream(
    source: Source,
    remote: RemoteFile,
    part: Path,
    retry: RetryPolicy,
    pbar: tqdm,
    overall: tqdm | None,
    cancel: threading.Event | None,
) -> tuple[MultiHasher, int, int]:
    """One stream appended to ``part``; returns (hasher of the file, fetched, resumed_from)."""
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
    pbar.update(offset)
    fetched = 0
    failures = 0
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
                    # read1: whatever has arrived (up to a chunk), so the .part file and the
                    # progress bar follow a slow connection
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
            except _NETWORK_ERRORS as err:
                out.flush()
                failures = 0 if progressed else failures
                failures = _backoff(
                    retry, failures, TransientError(f"{remote.name}: {err!r}"), remote
                )
                continue
            out.flush()
            if size is None:
                break
            if offset < size:  # connection closed early without an error
                failures = 0 if progressed else failures
                failures = _backoff(
                    retry,
                    failures,
                    TransientError(f"{remote.name}: stream ended at {offset} of {size} bytes"),
                    remote,
                )
        os.fsync(out.fileno())
    return hasher, fetched, resumed_from


def _fetch_segments(
    source: Source,
    remote: RemoteFile,
    dest: Path,
    size: int,
    n_segments: int,
    retry: RetryPolicy,
    pbar: tqdm,
    overall: tqdm | None,
    cancel: threading.Event | None,
) -> tuple[int, int, int]:
    """Parallel ranges written in place; returns (fetched, resumed_from, number of segments)."""
    part, state_path = part_path(dest), segments_path(dest)
    ranges: list[list[int]] | None = None  # [start, end (exclusive), done]
    if state_path.exists() and part.exists():
        try:
            state = json.loads(state_path.read_text())
            if state.get("size") == size and part.stat().st_size == size:
                ranges = [[int(a), int(b), int(c)] for a, b, c in state["ranges"]]
        except (ValueError, KeyError, TypeError):
            ranges = None

    def save() -> None:
        atomic_write_text(state_path, json.dumps({"size": size, "ranges": ranges}))

    if ranges is None:
        bounds = [size * k // n_segments for k in range(n_segments + 1)]
        ranges = [[bounds[k], bounds[k + 1], 0] for k in range(n_segments)]
        # The state file first: a .part without one is always a one-stream download.
        save()
        with open(part, "wb") as f:
            f.truncate(size)  # sparse until filled
    resumed_from = sum(r[2] for r in ranges)
    save_every = min(_SAVE_EVERY_BYTES, max(size // 64, 64 * 1024))  # progress lost on a crash
    pbar.update(resumed_from)
    lock = threading.Lock()
    fetched = [0]
    stop = threading.Event()
    unsaved = [0]

    fd = os.open(part, os.O_RDWR)

    def run(k: int) -> None:
        seg = ranges[k]
        failures = 0
        while seg[0] + seg[2] < seg[1]:
            offset = seg[0] + seg[2]
            try:
                stream, start = source.open(remote, offset, seg[1] - 1)
            except TransientError as err:
                failures = _backoff(retry, failures, err, remote)
                continue
            if start != offset:
                stream.close()
                raise _RangeIgnored()
            progressed = False
            try:
                with stream:
                    read = getattr(stream, "read1", stream.read)
                    while seg[0] + seg[2] < seg[1]:
                        if stop.is_set() or (cancel is not None and cancel.is_set()):
                            raise DownloadCancelled(f"{remote.name}: interrupted")
                        want = min(CHUNK_BYTES, seg[1] - seg[0] - seg[2])
                        chunk = read(want)[:want]
                        if not chunk:
                            break
                        os.pwrite(fd, chunk, seg[0] + seg[2])
                        progressed = True
                        with lock:
                            seg[2] += len(chunk)
                            fetched[0] += len(chunk)
                            unsaved[0] += len(chunk)
                            if unsaved[0] >= save_every:
                                save()
                                unsaved[0] = 0
                        pbar.update(len(chunk))
                        if overall is not None:
                            overall.update(len(chunk))
            except _NETWORK_ERRORS as err:
                failures = 0 if progressed else failures
                failures = _backoff(
                    retry, failures, TransientError(f"{remote.name}: {err!r}"), remote
                )
                continue
            if seg[0] + seg[2] < seg[1]:
                failures = 0 if progressed else failures
                failures = _backoff(
                    retry,
                    failures,
                    TransientError(
                        f"{remote.name}: segment {k} ended at {seg[0] + seg[2]} of {seg[1]}"
                    ),
                    remote,
                )

    try:
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            futures = [pool.submit(run, k) for k in range(len(ranges))]
            wait(futures, return_when=FIRST_EXCEPTION)
            stop.set()  # one failed (or all done): the others stop at their next chunk
            errors = [f.exception() for f in futures]
        os.fsync(fd)
    finally:
        os.close(fd)
        with lock:
            save()
    for err in errors:
        if isinstance(err, _RangeIgnored):
            raise err
    for err in errors:
        if err is not None:
            raise err
    return fetched[0], resumed_from, len(ranges)


def _backoff(retry: RetryPolicy, failures: int, err: TransientError, remote: RemoteFile) -> int:
    failures += 1
    if failures > retry.attempts:
        raise NetworkError(remote.name, f"{err} (gave up after {retry.attempts} retries)")
    wait = retry.wait_s(failures, err.retry_after_s)
    tqdm.write(f"{remote.name}: {err}; retry {failures}/{retry.attempts} in {wait:.1f} s")
    time.sleep(wait)
    return failures
