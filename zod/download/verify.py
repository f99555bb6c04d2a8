"""`zod verify`: which files the index expects, which are on disk, per stream and lidar offset.

Expected files come from the index (`zod.index.ZodIndex`): every ``*_path``/``filepath`` string
of every info (train, val and blacklisted). Each file is assigned to the stream (archive) that
brings it with `zod.download.streams.stream_of_file`; for Frames the lidar scans are split by
their offset from the core scan (``i - n // 2`` of the info's lidar list, as the reference
devkit counts them). Presence is checked with one directory listing per folder, not one
``stat`` per file. Optionally the digests of a ``SHA256SUMS`` file are checked against the
downloaded archives (``<root>/downloads/<folder>/``) or dataset files it names.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from zod.download.checksums import parse_sha256sums, sha256_file
from zod.download.download import DOWNLOADS_DIR
from zod.download.errors import LinkError, NetworkError
from zod.download.streams import (
    ANNOTATIONS,
    CHECKSUM_FILE,
    all_streams,
    download_hint,
    index_file_name,
    stream_of_file,
    subset_folder,
)
from zod.errors import FormatError

OTHER = "other"


@dataclass
class StreamStatus:
    """Expected and present file counts of one row of the table."""

    expected: int = 0
    present: int = 0
    missing_examples: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.expected - self.present

    @property
    def percent(self) -> float:
        return 100.0 * self.present / self.expected if self.expected else 100.0


@dataclass
class ChecksumStatus:
    ok: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    subset: str
    version: str
    items: int
    rows: dict[str, StreamStatus]  # "stream" or "stream/detail" (annotation project)
    checksums: ChecksumStatus | None = None

    @property
    def complete(self) -> bool:
        return all(row.missing == 0 for key, row in self.rows.items() if "/" not in key)

    def table(self) -> str:
        """The per-stream table (annotation projects indented under ``annotations``)."""
        lines = [
            f"{self.subset} {self.version}: {self.items} items",
            f"{'stream':<28} {'expected':>9} {'present':>9} {'%':>7}   get it with",
            "-" * 100,
        ]
        for key, row in self.rows.items():
            name = "  " + key.split("/", 1)[1] if "/" in key else key
            hint = (
                ""
                if row.missing == 0 or "/" in key or key == OTHER
                else download_hint(key, self.subset)
            )
            lines.append(
                f"{name:<28} {row.expected:>9} {row.present:>9} {row.percent:>7.2f}   {hint}"
            )
        missing = sum(row.missing for key, row in self.rows.items() if "/" not in key)
        expected = sum(row.expected for key, row in self.rows.items() if "/" not in key)
        lines.append("-" * 100)
        if missing == 0:
            lines.append(f"All {expected} expected files are present.")
        else:
            lines.append(
                f"{missing} of {expected} expected files are missing (this may be intended: "
                "streams are downloaded selectively)."
            )
        if self.checksums is not None:
            c = self.checksums
            lines.append(
                f"Checksums: {len(c.ok)} ok, {len(c.mismatched)} mismatched, "
                f"{len(c.absent)} not on disk"
            )
            lines += [f"  MISMATCH {name}" for name in c.mismatched]
        return "\n".join(lines)


def _paths_of(value: Any, key: str = "") -> Iterator[str]:
    """Every file path string of an info object (keys ``*_path``, ``*Path``, ``filepath``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths_of(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _paths_of(v, key)
    elif isinstance(value, str) and key.lower().replace("_", "").endswith("path"):
        yield value


def _relative(path_text: str, root: Path) -> str:
    path = PurePosixPath(path_text.replace("\\", "/"))
    if path.is_absolute():
        try:
            return path.relative_to(PurePosixPath(root.as_posix())).as_posix()
        except ValueError:
            return path.as_posix()
    text = path.as_posix()
    return text.removeprefix("./")


def expected_files(raw_info: dict[str, Any], root: Path, frames: bool) -> list[tuple[str, str]]:
    """(relative path, row key) of every file one info lists."""
    offsets: dict[str, int] = {}
    if frames:
        lidar_frames = raw_info.get("lidar_frames", raw_info.get("lidarFrames")) or {}
        for scans in lidar_frames.values():
            scans = scans or []
            for i, scan in enumerate(scans):
                path = scan.get("filepath") if isinstance(scan, dict) else None
                if isinstance(path, str):
                    offsets[_relative(path, root)] = i - len(scans) // 2
    out = []
    for path_text in _paths_of(raw_info):
        rel = _relative(path_text, root)
        stream = stream_of_file(rel, offsets) or OTHER
        if stream == ANNOTATIONS:
            out.append((rel, f"{ANNOTATIONS}/{PurePosixPath(rel).stem}"))
        out.append((rel, stream))
    return out


def _present_in(directories: list[str]) -> set[str]:
    present: set[str] = set()
    for directory in directories:
        try:
            with os.scandir(directory) as it:
                present.update(os.path.join(directory, e.name) for e in it)
        except (FileNotFoundError, NotADirectoryError):
            pass
    return present


def verify_dataset(
    dataset_root: str | os.PathLike[str],
    subset: str,
    version: str,
    checksums: str | None = None,
    workers: int = 8,
    progress: bool = True,
    max_examples: int = 5,
) -> VerifyReport:
    """Count expected and present files of ``subset``/``version`` under ``dataset_root``."""
    from zod.index import ZodIndex

    root = Path(dataset_root).expanduser()
    frames = subset_folder(subset) == subset_folder("frames")
    index_path = root / index_file_name(subset, version)
    index = ZodIndex(index_path, dataset_root=root)
    rows: dict[str, StreamStatus] = {s: StreamStatus() for s in all_streams(subset)}
    rows["infos"].expected += 1
    rows["infos"].present += 1  # the index itself (ZodIndex opened it)

    try:
        ids = list(index)

        def check(chunk: list[str]) -> list[tuple[str, bool, str]]:
            expected: list[tuple[str, str]] = []
            for item_id in chunk:
                expected += expected_files(index.raw(item_id), root, frames)
            full_paths = [os.path.join(root, rel) for rel, _ in expected]
            present = _present_in(sorted({os.path.dirname(p) for p in full_paths}))
            return [(key, p in present, rel) for (rel, key), p in zip(expected, full_paths)]

        chunks = [ids[i : i + 64] for i in range(0, len(ids), 64)]
        results: dict[str, StreamStatus] = {}
        with (
            ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
            tqdm(
                total=len(ids), unit="item", desc="Verifying", disable=not progress, leave=False
            ) as pbar,
        ):
            for chunk, result in zip(chunks, pool.map(check, chunks)):
                for key, ok, rel in result:
                    row = results.setdefault(key, StreamStatus())
                    row.expected += 1
                    row.present += ok
                    if not ok and len(row.missing_examples) < max_examples:
                        row.missing_examples.append(rel)
                pbar.update(len(chunk))
    finally:
        index.close()
    for key, row in results.items():
        target = rows.setdefault(key, StreamStatus())
        target.expected += row.expected
        target.present += row.present
        target.missing_examples += row.missing_examples
    order = {s: i for i, s in enumerate(all_streams(subset))}
    ordered = dict(
        sorted(
            ((k, v) for k, v in rows.items() if v.expected or k == "infos"),
            key=lambda kv: (order.get(kv[0].split("/")[0], len(order)), kv[0]),
        )
    )
    report = VerifyReport(subset, version, len(ids), ordered)
    if checksums:
        report.checksums = check_checksums(root, subset, checksums, workers)
    return report


def read_checksums(location: str) -> dict[str, str]:
    """Entries of a ``SHA256SUMS`` given as a file, a directory holding one, or a URL."""
    parsed = urllib.parse.urlsplit(location)
    try:
        if parsed.scheme in ("http", "https", "file"):
            url = location
            if parsed.scheme == "file" and Path(urllib.request.url2pathname(parsed.path)).is_dir():
                url = location.rstrip("/") + "/" + CHECKSUM_FILE
            with urllib.request.urlopen(url, timeout=60) as response:
                text = response.read().decode("utf-8", "replace")
        else:
            path = Path(location).expanduser()
            if path.is_dir():
                path = path / CHECKSUM_FILE
            text = path.read_text()
    except urllib.error.HTTPError as err:
        raise LinkError(location, err.code) from None
    except urllib.error.URLError as err:
        raise NetworkError(location, err.reason) from None
    except FileNotFoundError:
        raise FormatError(location, "checksum file not found") from None
    try:
        return parse_sha256sums(text)
    except ValueError as err:
        raise FormatError(location, str(err)) from None


def check_checksums(root: Path, subset: str, location: str, workers: int = 8) -> ChecksumStatus:
    """Check each entry against ``<root>/downloads/<folder>/<name>`` or ``<root>/<name>``
    (archives of ``SHA256SUMS``, dataset files of a mirror's ``FILES.sha256``); files are
    hashed by ``workers`` threads."""
    status = ChecksumStatus()
    folder = subset_folder(subset)

    def check(entry: tuple[str, str]) -> tuple[str, str]:
        name, digest = entry
        candidates = [root / DOWNLOADS_DIR / folder / name, root / name]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            return name, "absent"
        return name, "ok" if sha256_file(path) == digest else "mismatched"

    entries = sorted(read_checksums(location).items())
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for name, outcome in pool.map(check, entries):
            getattr(status, outcome).append(name)
    return status
