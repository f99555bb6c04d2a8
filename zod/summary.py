"""What ``zod info ROOT`` reports: the sub-datasets and versions on disk, their counts, and
which download streams are present or missing (with the flag that would bring them).

Existence is checked with one directory listing per item folder (not one ``stat`` per file),
so a full Frames root is scanned in seconds; a tqdm bar shows progress. A URL root
(``s3://bucket/zod``) works the same, one listing per item prefix.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from zod._io import is_file, join_path, list_names
from zod.constants import DRIVES, FRAMES, SEQUENCES, TRAINVAL_FILES, VERSIONS, AnnotationProject
from zod.errors import ZodError
from zod.index import ZodIndex
from zod.info import Information
from zod.release import (
    ANNOTATIONS,
    INFOS,
    LIDAR,
    NUM_SCANS_AFTER,
    NUM_SCANS_BEFORE,
    OXTS,
    RADAR,
    VEHICLE_DATA,
    download_flag,
    images_flag,
)

SUBSET_NAMES = {FRAMES: "ZodFrames", SEQUENCES: "ZodSequences", DRIVES: "ZodDrives"}


@dataclass
class StreamCount:
    """Files of one download stream: how many the index lists and how many are on disk."""

    flag: str  # the `zod download` flag(s) that bring the stream
    expected: int = 0
    present: int = 0

    @property
    def missing(self) -> int:
        return self.expected - self.present


@dataclass
class SubsetSummary:
    subset: str  # folder name: single_frames, sequences, drives
    version: str
    index_path: str
    num_items: int
    splits: dict[str, int]
    projects: dict[str, int]  # items annotated per project
    object_classes: dict[str, int] = field(default_factory=dict)  # objects per class
    streams: dict[str, StreamCount] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{SUBSET_NAMES[self.subset]} {self.version}"


def _stream_of_files(info: Information) -> list[tuple[str, str, str]]:
    """(stream label, download flag, absolute path) of every file an info lists.

    Flags come from `zod.release`; surrounding lidar scans are grouped per side ("N" scans).
    """
    out = [
        ("infos", download_flag(INFOS), p)
        for p in (info.calibration_path, info.ego_motion_path, info.metadata_path)
        if p
    ]
    if info.oxts_path:
        out.append(("oxts", download_flag(OXTS), info.oxts_path))
    if info.vehicle_data_path:
        out.append(("vehicle data", download_flag(VEHICLE_DATA), info.vehicle_data_path))
    out += [
        ("annotations", download_flag(ANNOTATIONS), a.filepath) for a in info.annotations.values()
    ]
    for key, camera_frames in info.camera_frames.items():
        flag = images_flag(key.rsplit("_", 1)[-1])
        out += [(f"images {key}", flag, f.filepath) for f in camera_frames]
    for lidar_frames in info.lidar_frames.values():
        for frame in lidar_frames:
            if frame.stream.startswith(NUM_SCANS_BEFORE):
                out.append(("lidar scans before the core", f"{NUM_SCANS_BEFORE} N", frame.filepath))
            elif frame.stream.startswith(NUM_SCANS_AFTER):
                out.append(("lidar scans after the core", f"{NUM_SCANS_AFTER} N", frame.filepath))
            else:
                out.append(("lidar", download_flag(LIDAR), frame.filepath))
    for radar_frames in (info.radar_frames or {}).values():
        out += [("radar", download_flag(RADAR), f.filepath) for f in radar_frames]
    return out


class _DirCache:
    """Names in a directory, listed once."""

    def __init__(self) -> None:
        self._names: dict[str, frozenset[str]] = {}

    def exists(self, path: str) -> bool:
        folder, name = os.path.split(path)
        names = self._names.get(folder)
        if names is None:
            names = self._names[folder] = list_names(folder)
        return name in names


def summarize_subset(
    root: str | os.PathLike[str],
    subset: str,
    version: str,
    object_classes: bool = True,
    check_files: bool = True,
    progress: bool = True,
    workers: int = 4,
) -> SubsetSummary:
    """Summary of one sub-dataset version (its index file must exist)."""
    root = os.fspath(root)
    path = join_path(root, TRAINVAL_FILES[subset][version])
    index = ZodIndex(path, root)
    splits = {name: len(index.split_ids(name)) for name in index.split_names}
    projects = {p.value: n for p, n in index.project_counts().items()}
    summary = SubsetSummary(subset, version, str(path), len(index), splits, projects)
    if not (object_classes or check_files):
        return summary

    def scan(item_id: str) -> tuple[list[tuple[str, str, bool]], Counter[str], list[str]]:
        cache = _DirCache()
        files: list[tuple[str, str, bool]] = []
        classes: Counter[str] = Counter()
        problems: list[str] = []
        try:
            info = index.info(item_id)
        except ZodError as err:
            return files, classes, [str(err)]
        if check_files:
            files = [(s, flag, cache.exists(p)) for s, flag, p in _stream_of_files(info)]
        anno = info.annotations.get(AnnotationProject.OBJECT_DETECTION)
        if object_classes and anno is not None and is_file(anno.filepath):
            try:
                classes.update(o.name for o in anno.read())
            except ZodError as err:
                problems.append(str(err))
        return files, classes, problems

    ids = list(index)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(scan, ids)
        for files, classes, problems in tqdm(
            results,
            total=len(ids),
            desc=f"Scanning {subset} {version}",
            unit="item",
            disable=not progress,
            leave=False,
        ):
            for stream, flag, ok in files:
                count = summary.streams.setdefault(stream, StreamCount(flag))
                count.expected += 1
                count.present += ok
            for name, n in classes.items():
                summary.object_classes[name] = summary.object_classes.get(name, 0) + n
            summary.problems += problems
    summary.object_classes = dict(sorted(summary.object_classes.items(), key=lambda kv: -kv[1]))
    index.close()
    return summary


def summarize(
    root: str | os.PathLike[str],
    object_classes: bool = True,
    check_files: bool = True,
    progress: bool = True,
    workers: int = 4,
) -> list[SubsetSummary]:
    """Summaries of every sub-dataset version whose index file is under ``root``."""
    out = []
    for subset in (FRAMES, SEQUENCES, DRIVES):
        for version in VERSIONS:
            if is_file(join_path(root, TRAINVAL_FILES[subset][version])):
                out.append(
                    summarize_subset(
                        root, subset, version, object_classes, check_files, progress, workers
                    )
                )
    return out


def old_index_files(root: str | os.PathLike[str]) -> list[str]:
    """Underscore-named index files of devkit releases before 0.2 found under ``root``."""
    return sorted(fnmatch.filter(list_names(root), "trainval_*_*.json"))


def to_json(summaries: list[SubsetSummary]) -> str:
    return json.dumps([asdict(s) for s in summaries], indent=2)


def format_summary(root: str | os.PathLike[str], summaries: list[SubsetSummary]) -> str:
    """Human-readable report."""
    lines = [f"ZOD dataset at {os.fspath(root)}"]
    if not summaries:
        lines.append("  no index file (trainval-<frames|sequences|drives>-<mini|full>.json) found")
        for name in old_index_files(root):
            lines.append(
                f"  {name} is an old underscore-named index (devkit < 0.2); "
                "get the current ones with `zod download --infos`"
            )
        return "\n".join(lines)
    for s in summaries:
        split_text = ", ".join(f"{k} {v}" for k, v in s.splits.items())
        lines.append(f"\n{s.name}: {s.num_items} items ({split_text})  [{Path(s.index_path).name}]")
        annotated = {k: v for k, v in s.projects.items() if v}
        if annotated:
            lines.append("  annotated: " + ", ".join(f"{k} {v}" for k, v in annotated.items()))
        if s.object_classes:
            lines.append(
                "  objects:   " + ", ".join(f"{k} {v}" for k, v in s.object_classes.items())
            )
        if s.streams:
            lines.append(f"  {'stream':<30} {'present':>9} {'listed':>9}  to download")
            for name, c in s.streams.items():
                hint = "" if c.missing == 0 else f"zod download {c.flag}"
                lines.append(f"  {name:<30} {c.present:>9} {c.expected:>9}  {hint}")
        for problem in s.problems[:5]:
            lines.append(f"  problem: {problem}")
    return "\n".join(lines)
