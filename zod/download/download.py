"""`zod download`: plan which archives to fetch, fetch them in parallel, verify, extract.

Layout on disk (compatible with the reference devkit)::

    <output_dir>/                       the dataset root (archives extract here)
    <output_dir>/downloads/<folder>/    the archives, ``<name>.part`` while downloading,
                                        ``<name>.state.json`` once verified / extracted

The state file makes a second run a no-op: an archive whose state says "extracted" with the
same size and checksums as the source lists is skipped, even after ``--rm`` deleted it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from zod._atomic import atomic_write_text
from zod.download.checksums import MultiHasher
from zod.download.errors import (
    ChecksumError,
    DiskFullError,
    DownloadError,
    NetworkError,
    format_size,
)
from zod.download.extract import safe_extract
from zod.download.sources import RemoteFile, Source, TransientError
from zod.download.streams import StreamFilter, stream_of_archive, subset_folder
from zod.download.transfer import (
    RetryPolicy,
    SegmentPolicy,
    download_file,
    part_path,
    partial_bytes,
)

DOWNLOADS_DIR = "downloads"
STATE_SUFFIX = ".state.json"


@dataclass
class DownloadOptions:
    """General settings of a download (the filter is a `StreamFilter`)."""

    output_dir: Path
    rm: bool = False
    dry_run: bool = False
    extract: bool = True
    extract_already_downloaded: bool = False
    parallel: bool = True
    max_workers: int | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    segments: SegmentPolicy = field(default_factory=SegmentPolicy)
    progress: bool = True
    check_space: bool = True


@dataclass
class PlannedArchive:
    """One archive of the plan and what will happen to it."""

    remote: RemoteFile
    stream: str
    archive_path: Path
    action: str  # "skip" (done before), "extract" (already downloaded), "download"
    partial_bytes: int = 0  # bytes of a previous interrupted download

    @property
    def bytes_to_fetch(self) -> int:
        if self.action != "download":
            return 0
        return max((self.remote.size or 0) - self.partial_bytes, 0)


@dataclass
class DownloadPlan:
    source: Source
    folder: str
    options: DownloadOptions
    archives: list[PlannedArchive]
    ignored: list[str]  # names in the folder that are not recognised ZOD archives

    @property
    def total_bytes(self) -> int:
        return sum(a.remote.size or 0 for a in self.archives)

    @property
    def bytes_to_fetch(self) -> int:
        return sum(a.bytes_to_fetch for a in self.archives)

    @property
    def bytes_needed(self) -> int:
        """Disk space still needed: the bytes to fetch, plus (estimated) as much again when
        extracting (the release's data is mostly incompressible images and scans)."""
        extract = 0
        if self.options.extract:
            extract = sum(a.remote.size or 0 for a in self.archives if a.action != "skip")
        return self.bytes_to_fetch + extract

    def free_bytes(self) -> int:
        probe = self.options.output_dir
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        return shutil.disk_usage(probe).free

    def summary(self) -> str:
        lines = [
            f"Source: {self.source.description} ({self.folder}/)",
            f"Output: {self.options.output_dir}",
        ]
        for a in self.archives:
            size = format_size(a.remote.size) if a.remote.size is not None else "unknown size"
            note = {
                "skip": "already downloaded and extracted",
                "extract": "already downloaded",
                "download": "resume from " + format_size(a.partial_bytes)
                if a.partial_bytes
                else "download",
            }[a.action]
            check = (
                "sha256"
                if a.remote.sha256
                else "content_hash"
                if a.remote.content_hash
                else "size only"
            )
            lines.append(f"  {a.remote.name:<40} {size:>11}  [{check}]  {note}")
        for name in self.ignored:
            lines.append(f"  {name:<40} (not a known ZOD archive, ignored)")
        lines.append(
            f"{len(self.archives)} archives, {format_size(self.total_bytes)} in total, "
            f"{format_size(self.bytes_to_fetch)} to download, about "
            f"{format_size(self.bytes_needed)} of disk needed, "
            f"{format_size(self.free_bytes())} free"
        )
        return "\n".join(lines)


def _state_path(archive_path: Path) -> Path:
    return archive_path.with_name(archive_path.name + STATE_SUFFIX)


def _read_state(archive_path: Path) -> dict:
    try:
        return json.loads(_state_path(archive_path).read_text())
    except (OSError, ValueError):
        return {}


def _write_state(archive_path: Path, state: dict) -> None:
    path = _state_path(archive_path)
    atomic_write_text(path, json.dumps(state, indent=1, sort_keys=True))


def _same_remote(state: dict, remote: RemoteFile) -> bool:
    """The state was recorded for this very archive (same size and checksums)."""
    if state.get("size") != remote.size:
        return False
    if remote.sha256 and state.get("sha256") not in (None, remote.sha256):
        return False
    return not (
        remote.content_hash and state.get("content_hash") not in (None, remote.content_hash)
    )


def _reference_download(dl_dir: Path, remote: RemoteFile) -> Path | None:
    """An archive downloaded by the reference devkit (``<name>_<content_hash[:8]>``)."""
    if remote.content_hash:
        candidate = dl_dir / f"{remote.name}_{remote.content_hash[:8]}"
        if candidate.is_file() and candidate.stat().st_size == remote.size:
            return candidate
    return None


def _list_with_retries(source: Source, folder: str, retry: RetryPolicy) -> list[RemoteFile]:
    """The folder listing, retried like transfers on transient failures (5xx, 429, timeouts)."""
    failures = 0
    while True:
        try:
            return source.list_folder(folder)
        except TransientError as err:
            failures += 1
            if failures > retry.attempts:
                raise NetworkError(
                    folder, f"{err} (gave up after {retry.attempts} retries)"
                ) from None
            wait = retry.wait_s(failures, err.retry_after_s)
            tqdm.write(
                f"listing {folder}: {err}; retry {failures}/{retry.attempts} in {wait:.1f} s"
            )
            time.sleep(wait)


def plan_download(
    source: Source, subset: str, stream_filter: StreamFilter, options: DownloadOptions
) -> DownloadPlan:
    """List the source's folder of ``subset`` and decide what to do with each wanted archive."""
    folder = subset_folder(subset)
    remotes = _list_with_retries(source, folder, options.retry)
    dl_dir = options.output_dir / DOWNLOADS_DIR / folder
    planned: list[PlannedArchive] = []
    ignored: list[str] = []
    for remote in remotes:
        stream = stream_of_archive(remote.name)
        if stream is None:
            ignored.append(remote.name)
            continue
        if not stream_filter.wants(stream):
            continue
        archive_path = dl_dir / remote.name
        state = _read_state(archive_path)
        reference_copy = _reference_download(dl_dir, remote)
        if reference_copy is not None and not archive_path.exists():
            archive_path = reference_copy
        action = "download"
        partial = 0
        if (
            _same_remote(state, remote)
            and state.get("extracted")
            and not options.extract_already_downloaded
        ):
            action = "skip"
        elif archive_path.is_file() and archive_path.stat().st_size == remote.size:
            action = "extract"
        elif part_path(archive_path).is_file():
            partial = partial_bytes(archive_path)
        if action == "extract" and not options.extract and _same_remote(state, remote):
            action = "skip"
        planned.append(PlannedArchive(remote, stream, archive_path, action, partial))
    return DownloadPlan(source, folder, options, planned, ignored)


@dataclass
class DownloadReport:
    downloaded: list[str] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    fetched_bytes: int = 0


def run_download(plan: DownloadPlan) -> DownloadReport:
    """Execute a plan: download (resuming, verified), extract safely, record state.

    Archives are processed in parallel (``max_workers`` threads, default 8); one failing
    archive does not stop the others. Raises `DownloadError` at the end when any failed.
    """
    options = plan.options
    report = DownloadReport()
    if options.dry_run:
        for a in plan.archives:
            verb = {
                "skip": "skip",
                "extract": "extract" if options.extract else "keep",
                "download": "download and extract" if options.extract else "download",
            }[a.action]
            tqdm.write(f"Would {verb} {plan.folder}/{a.remote.name} -> {a.archive_path}")
        return report
    if options.check_space:
        needed, free = plan.bytes_needed, plan.free_bytes()
        if needed > free:
            raise DiskFullError(str(options.output_dir), needed, free)
    options.output_dir.mkdir(parents=True, exist_ok=True)
    dl_dir = options.output_dir / DOWNLOADS_DIR / plan.folder
    dl_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(dl_dir):
        return _run_locked(plan)


@contextlib.contextmanager
def _exclusive(dl_dir: Path) -> Iterator[None]:
    """One `zod download` at a time per download folder (two would write the same .part files)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(dl_dir / ".zod-download.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise DownloadError(
                f"another `zod download` is writing to {dl_dir}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_locked(plan: DownloadPlan) -> DownloadReport:
    options = plan.options
    report = DownloadReport()
    lock = threading.Lock()
    cancel = threading.Event()
    overall = tqdm(
        total=plan.bytes_to_fetch,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="Total",
        disable=not options.progress or plan.bytes_to_fetch == 0,
    )

    def process(item: PlannedArchive) -> None:
        name = item.remote.name
        if item.action == "skip":
            with lock:
                report.skipped.append(name)
            return
        state = _read_state(item.archive_path) if item.action == "extract" else {}
        if item.action == "extract" and not (
            state.get("verified") and _same_remote(state, item.remote)
        ):
            try:
                state = _verify_existing(item)
                _write_state(item.archive_path, state)
            except ChecksumError as err:
                tqdm.write(f"{err}; downloading it again")
                item.action = "download"
                item.archive_path = item.archive_path.with_name(item.remote.name)
        if item.action == "download":
            result = None
            for attempt in (1, 2):  # a checksum mismatch deletes the file and retries once
                try:
                    result = download_file(
                        plan.source,
                        item.remote,
                        item.archive_path,
                        options.retry,
                        options.progress,
                        overall,
                        cancel,
                        options.segments,
                    )
                    break
                except ChecksumError as err:
                    if attempt == 2:
                        raise
                    tqdm.write(f"{err}; downloading it again")
            assert result is not None
            state = {
                "size": item.remote.size,
                "sha256": result.sha256,
                "content_hash": result.content_hash,
                "verified": True,
                "extracted": False,
            }
            _write_state(item.archive_path, state)
            with lock:
                report.downloaded.append(name)
                report.fetched_bytes += result.downloaded_bytes
        if options.extract:
            safe_extract(
                item.archive_path, options.output_dir, progress=options.progress, cancel=cancel
            )
            state["extracted"] = True
            _write_state(item.archive_path, state)
            with lock:
                report.extracted.append(name)
        if options.rm:
            item.archive_path.unlink(missing_ok=True)

    workers = (
        max(1, min(options.max_workers or 8, len(plan.archives) or 1)) if options.parallel else 1
    )
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(process, item): item for item in plan.archives}
        for future in as_completed(futures):
            err = future.exception()
            if err is not None:
                name = futures[future].remote.name
                if not isinstance(err, (DownloadError, OSError, ValueError)):
                    raise err
                report.failed[name] = str(err)
                tqdm.write(f"FAILED {name}: {err}")
    except BaseException:
        # Ctrl-C (or a bug): stop the workers at their next chunk, keep the .part files
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        overall.close()
    if report.failed:
        details = "\n".join(f"  {name}: {msg}" for name, msg in sorted(report.failed.items()))
        raise DownloadError(
            f"{len(report.failed)} of {len(plan.archives)} archives failed "
            f"(rerun the same command to resume):\n{details}"
        )
    return report


def _verify_existing(item: PlannedArchive) -> dict:
    """Check an archive found on disk against the source's size and checksums."""
    remote = item.remote
    hasher = MultiHasher(dropbox=remote.content_hash is not None)
    hasher.update_from_file(item.archive_path)
    sha256 = hasher.sha256.hexdigest()
    content_hash = hasher.dropbox.hexdigest() if hasher.dropbox is not None else None
    if remote.sha256 and sha256 != remote.sha256:
        item.archive_path.unlink()
        raise ChecksumError(str(item.archive_path), "SHA-256", remote.sha256, sha256)
    if remote.content_hash and content_hash != remote.content_hash:
        item.archive_path.unlink()
        raise ChecksumError(
            str(item.archive_path), "Dropbox content hash", remote.content_hash, content_hash
        )
    return {
        "size": remote.size,
        "sha256": sha256,
        "content_hash": content_hash,
        "verified": True,
        "extracted": False,
    }
