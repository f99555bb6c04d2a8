"""`zod mirror build`: turn an extracted dataset into a mirror of the release's archives.

The output is what `zod download` reads from a web server or a directory (spec section 13)::

    OUT_DIR/<folder>/<stream>.tar.gz        one per stream present (full version)
    OUT_DIR/<folder>/<subset>_mini.tar.gz   everything of the mini version
    OUT_DIR/<folder>/SHA256SUMS             ``sha256sum`` format, one line per archive
    OUT_DIR/<folder>/FILES.sha256           the same format, one line per dataset file

Which file goes to which archive is decided by `zod.download.streams.stream_of_file`; the
surrounding lidar scans of Frames are told apart by their position in the index's lidar list
(offset ``i - n // 2``, as the reference devkit's verify counts them). Archives are
reproducible (sorted members, no owners, gzip header time 0), written to ``.part`` and renamed,
and an archive already listed in ``SHA256SUMS`` is not rebuilt (resumable) unless ``force``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from tqdm import tqdm

from zod._atomic import atomic_write_text
from zod.download.checksums import format_sha256sums, parse_sha256sums, sha256_file
from zod.download.streams import (
    CHECKSUM_FILE,
    MINI,
    SUBSET_FOLDERS,
    archive_name,
    index_file_name,
    stream_of_file,
    subset_folder,
)
from zod.errors import FormatError

_COPY_CHUNK = 1 << 20
# Beside SHA256SUMS: the SHA-256 of every dataset file in the archives (paths relative to the
# root), for `zod verify --checksums` on an extracted dataset.
FILE_CHECKSUMS = "FILES.sha256"


@dataclass
class MirrorReport:
    """What `build_mirror` wrote."""

    archives: dict[str, list[str]] = field(default_factory=dict)  # folder -> archive names built
    reused: dict[str, list[str]] = field(default_factory=dict)  # folder -> names kept from before
    ignored_files: list[str] = field(default_factory=list)  # files no stream carries
    file_counts: dict[str, int] = field(default_factory=dict)  # "<folder>/<archive>" -> members


def _relative(path_text: str, root: Path) -> str:
    """Index path -> posix path relative to the root (index paths are relative; be liberal)."""
    path = PurePosixPath(path_text.replace("\\", "/"))
    if path.is_absolute():
        try:
            path = path.relative_to(PurePosixPath(root.as_posix()))
        except ValueError:
            return path.as_posix()
    text = path.as_posix()
    return text.removeprefix("./")


def _get(mapping: dict[str, Any], key: str) -> Any:
    from zod.index import camel_case

    if key in mapping:
        return mapping[key]
    return mapping.get(camel_case(key))


def lidar_offsets_from_index(index_path: Path, root: Path) -> dict[str, int]:
    """Lidar scan path (relative to root) -> offset from the core scan, for every frame."""
    from zod.index import ZodIndex

    index = ZodIndex(index_path, dataset_root=root)
    offsets: dict[str, int] = {}
    try:
        for item_id in index:
            raw = index.raw(item_id)
            lidar_frames = _get(raw, "lidar_frames") or {}
            for frames in lidar_frames.values():
                frames = frames or []
                core = len(frames) // 2
                for i, frame in enumerate(frames):
                    path = _get(frame, "filepath") if isinstance(frame, dict) else None
                    if isinstance(path, str):
                        offsets[_relative(path, root)] = i - core
    finally:
        index.close()
    return offsets


def _index_ids(index_path: Path, root: Path) -> list[str]:
    from zod.index import ZodIndex

    index = ZodIndex(index_path, dataset_root=root)
    try:
        return list(index)
    finally:
        index.close()


def _is_temporary(name: str) -> bool:
    """Hidden files and leftovers of interrupted writes (``.part``, extraction temp names)."""
    return name.startswith(".") or name.endswith((".part", ".tmp")) or ".zodtmp-" in name


def plan_archives(
    src_root: Path,
    subset: str,
    versions: tuple[str, ...] = ("full", "mini"),
    report: MirrorReport | None = None,
) -> dict[str, list[str]]:
    """Archive name -> sorted member paths (relative to ``src_root``) for one sub-dataset."""
    folder = subset_folder(subset)
    plan: dict[str, list[str]] = {}
    full_index = src_root / index_file_name(subset, "full")
    mini_index = src_root / index_file_name(subset, "mini")
    if "full" in versions and (src_root / folder).is_dir():
        offsets: dict[str, int] = {}
        if subset_folder(subset) == SUBSET_FOLDERS["frames"]:
            for index_path in (full_index, mini_index):
                if index_path.is_file():
                    offsets = lidar_offsets_from_index(index_path, src_root)
                    break
        groups: dict[str, list[str]] = {}
        for index_path in (full_index, mini_index):
            if index_path.is_file():
                groups.setdefault("infos", []).append(index_path.name)
        for dirpath, dirnames, filenames in os.walk(src_root / folder):
            dirnames.sort()
            for name in filenames:
                rel = (Path(dirpath) / name).relative_to(src_root).as_posix()
                stream = None if _is_temporary(name) else stream_of_file(rel, offsets)
                if stream is None:
                    if report is not None:
                        report.ignored_files.append(rel)
                    continue
                groups.setdefault(stream, []).append(rel)
        for stream, members in groups.items():
            plan[archive_name(subset, stream)] = sorted(members)
    if "mini" in versions and mini_index.is_file():
        members = [mini_index.name]
        for item_id in _index_ids(mini_index, src_root):
            item_dir = src_root / folder / item_id
            for dirpath, _, filenames in os.walk(item_dir):
                members += [
                    (Path(dirpath) / n).relative_to(src_root).as_posix()
                    for n in filenames
                    if not _is_temporary(n)
                ]
        plan[archive_name(subset, MINI)] = sorted(members)
    return plan


class _HashingReader:
    """File reader that hashes what tarfile reads from it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha256.update(data)
        return data


def write_archive(
    src_root: str, members: list[str], dest: str, compress_level: int = 6
) -> tuple[str, dict[str, str]]:
    """Write a reproducible ``.tar.gz`` of ``members`` (relative to ``src_root``) to ``dest``
    (through ``dest.part``); returns its SHA-256 and the SHA-256 of every member."""
    part = dest + ".part"
    member_sums: dict[str, str] = {}
    try:
        with (
            open(part, "wb") as raw,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=compress_level, mtime=0
            ) as gz,
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            for rel in members:
                path = os.path.join(src_root, rel)
                st = os.stat(path)
                info = tarfile.TarInfo(rel)
                info.size = st.st_size
                info.mtime = int(st.st_mtime)
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as f:
                    reader = _HashingReader(f)
                    tar.addfile(info, reader)
                    member_sums[rel] = reader.sha256.hexdigest()
        os.replace(part, dest)
    except BaseException:
        if os.path.exists(part):
            os.unlink(part)
        raise
    return sha256_file(dest), member_sums


def build_mirror(
    src_root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    subsets: tuple[str, ...] | None = None,
    versions: tuple[str, ...] = ("full", "mini"),
    compress_level: int = 6,
    workers: int = 1,
    force: bool = False,
    progress: bool = True,
) -> MirrorReport:
    """Build the mirror of the sub-datasets of ``src_root`` in ``out_dir`` (see module doc).

    ``subsets``: command-line names (default: every sub-dataset found); ``workers``: archives
    built in parallel (0 = one per CPU core).
    """
    src = Path(src_root).resolve()
    out = Path(out_dir)
    if not src.is_dir():
        raise FormatError(src, "the dataset root to mirror is not a directory")
    names = subsets or tuple(
        name
        for name, folder in SUBSET_FOLDERS.items()
        if (src / folder).is_dir()
        or any((src / index_file_name(name, v)).is_file() for v in ("full", "mini"))
    )
    report = MirrorReport()
    jobs: list[tuple[str, str, list[str]]] = []
    sums: dict[str, dict[str, str]] = {}
    file_sums: dict[str, dict[str, str]] = {}
    for subset in names:
        folder = subset_folder(subset)
        (out / folder).mkdir(parents=True, exist_ok=True)
        sums[folder] = _read_sums(out / folder / CHECKSUM_FILE)
        file_sums[folder] = _read_sums(out / folder / FILE_CHECKSUMS)
        report.archives.setdefault(folder, [])
        report.reused.setdefault(folder, [])
        for name, members in plan_archives(src, subset, versions, report).items():
            report.file_counts[f"{folder}/{name}"] = len(members)
            dest = out / folder / name
            if not force and dest.is_file() and name in sums[folder]:
                report.reused[folder].append(name)
                continue
            jobs.append((folder, name, members))

    def done(folder: str, name: str, result: tuple[str, dict[str, str]]) -> None:
        sums[folder][name], member_sums = result
        file_sums[folder].update(member_sums)
        report.archives[folder].append(name)
        _write_sums(out / folder, sums[folder])

    max_workers = workers if workers > 0 else (os.cpu_count() or 1)
    total = sum(len(m) for _, _, m in jobs)
    with tqdm(total=total, unit="file", desc="Building archives", disable=not progress) as pbar:
        if max_workers == 1 or len(jobs) <= 1:
            for folder, name, members in jobs:
                archive = str(out / folder / name)
                done(folder, name, write_archive(str(src), members, archive, compress_level))
                pbar.update(len(members))
        else:
            with ProcessPoolExecutor(max_workers=min(max_workers, len(jobs))) as pool:
                futures = {
                    pool.submit(
                        write_archive, str(src), members, str(out / folder / name), compress_level
                    ): (folder, name, len(members))
                    for folder, name, members in jobs
                }
                for future in as_completed(futures):
                    folder, name, count = futures[future]
                    done(folder, name, future.result())
                    pbar.update(count)
    for folder, folder_sums in sums.items():
        _write_sums(out / folder, folder_sums)
        atomic_write_text(out / folder / FILE_CHECKSUMS, format_sha256sums(file_sums[folder]))
        report.archives[folder].sort()
    return report


def _read_sums(path: Path) -> dict[str, str]:
    return parse_sha256sums(path.read_text()) if path.is_file() else {}


def _write_sums(folder_dir: Path, sums: dict[str, str]) -> None:
    """Write ``SHA256SUMS`` (only archives still present), atomically."""
    present = {name: digest for name, digest in sums.items() if (folder_dir / name).is_file()}
    atomic_write_text(folder_dir / CHECKSUM_FILE, format_sha256sums(present))
