"""Which archive (stream) every file of a release belongs to (spec section 13).

This module is the single place that knows how the release is cut into archives:

```
<share>/
    single_frames/                      sequences/                 drives/
        frames_mini.tar.gz                  sequences_mini.tar.gz      drives_mini.tar.gz
        infos.tar.gz                        infos.tar.gz               infos.tar.gz
        annotations.tar.gz                  annotations.tar.gz         oxts.tar.gz
        oxts.tar.gz                         oxts.tar.gz                images_front_blur.tar.gz
        images_front_blur.tar.gz            images_front_blur.tar.gz   lidar_velodyne.tar.gz
        images_front_dnat.tar.gz            lidar_velodyne.tar.gz      vehicle_data.tar.gz
        lidar_velodyne.tar.gz   (core)      vehicle_data.tar.gz        radar.tar.gz
        lidar_velodyne_01before.tar.gz      radar.tar.gz
        ... lidar_velodyne_10before.tar.gz
        lidar_velodyne_01after.tar.gz ... lidar_velodyne_10after.tar.gz
        SHA256SUMS (optional, mirrors made by `zod mirror build`)
```

Every archive extracts into the dataset root (member names such as
``single_frames/009158/oxts.hdf5``). Reading archive names is liberal (the stream is recognised
from words in the name, like the reference devkit does); writing them (`zod mirror build`) is
strict: ``<stream>.tar.gz`` and ``<subset>_mini.tar.gz``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from zod.constants import DRIVES, FRAMES, SEQUENCES, TRAINVAL_FILES

# Sub-dataset names of the command line -> folder under the root and in the share.
SUBSET_FOLDERS: dict[str, str] = {"frames": FRAMES, "sequences": SEQUENCES, "drives": DRIVES}

# Streams of a full release, in the order they are listed.
INFOS = "infos"
ANNOTATIONS = "annotations"
OXTS = "oxts"
IMAGES_BLUR = "images_front_blur"
IMAGES_DNAT = "images_front_dnat"
LIDAR = "lidar_velodyne"
VEHICLE_DATA = "vehicle_data"
RADAR = "radar"
MINI = "mini"

BASE_STREAMS: tuple[str, ...] = (
    INFOS,
    ANNOTATIONS,
    OXTS,
    IMAGES_BLUR,
    IMAGES_DNAT,
    LIDAR,
    VEHICLE_DATA,
    RADAR,
)
MAX_SURROUNDING_SCANS = 10
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
CHECKSUM_FILE = "SHA256SUMS"

_LIDAR_OFFSET_RE = re.compile(r"(\d{1,2})_?(before|after)")


def subset_folder(subset: str) -> str:
    """Folder of a sub-dataset (``frames`` -> ``single_frames``); folder names pass through."""
    if subset in SUBSET_FOLDERS:
        return SUBSET_FOLDERS[subset]
    if subset in SUBSET_FOLDERS.values():
        return subset
    raise ValueError(f"unknown sub-dataset {subset!r}: expected one of {sorted(SUBSET_FOLDERS)}")


def subset_name(subset: str) -> str:
    """Command-line name of a sub-dataset (``single_frames`` -> ``frames``)."""
    folder = subset_folder(subset)
    return next(name for name, f in SUBSET_FOLDERS.items() if f == folder)


def index_file_name(subset: str, version: str) -> str:
    """``trainval-<subset>-<version>.json`` (spec section 2)."""
    return TRAINVAL_FILES[subset_folder(subset)][version]


def lidar_stream(offset: int) -> str:
    """Stream of the lidar scan ``offset`` scans from the core one (frames: -10..10)."""
    if offset == 0:
        return LIDAR
    if abs(offset) > MAX_SURROUNDING_SCANS:
        raise ValueError(f"lidar offset {offset} outside -10..10")
    return f"{LIDAR}_{abs(offset):02d}{'before' if offset < 0 else 'after'}"


def lidar_offset(stream: str) -> int | None:
    """Inverse of `lidar_stream`: the signed scan offset, or None for a non-lidar stream."""
    if not stream.startswith(LIDAR):
        return None
    match = _LIDAR_OFFSET_RE.search(stream[len(LIDAR) :])
    if match is None:
        return 0
    distance = int(match.group(1))
    return -distance if match.group(2) == "before" else distance


def archive_name(subset: str, stream: str) -> str:
    """File name `zod mirror build` gives the archive of ``stream`` (strict writer)."""
    if stream == MINI:
        return f"{subset_name(subset)}_mini.tar.gz"
    return f"{stream}.tar.gz"


def strip_archive_suffix(name: str) -> str | None:
    """``infos.tar.gz`` -> ``infos``; None when the name is not an archive."""
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return None


def stream_of_archive(name: str) -> str | None:
    """Stream carried by an archive, read liberally from its name (None: not a ZOD archive).

    ``frames_mini.tar.gz`` -> ``mini``; ``lidar_velodyne_03before.tar.gz`` ->
    ``lidar_velodyne_03before``; ``single_frames_images_front_dnat.tar.gz`` ->
    ``images_front_dnat``.
    """
    stem = strip_archive_suffix(name)
    if stem is None:
        return None
    stem = stem.lower()
    if "mini" in stem:
        return MINI
    if "lidar" in stem:
        match = _LIDAR_OFFSET_RE.search(stem)
        if match is None:
            return LIDAR
        offset = int(match.group(1))
        if not 1 <= offset <= MAX_SURROUNDING_SCANS:
            return None
        return lidar_stream(-offset if match.group(2) == "before" else offset)
    if "images" in stem or "camera" in stem:
        if "dnat" in stem:
            return IMAGES_DNAT
        if "blur" in stem:
            return IMAGES_BLUR
        return None
    for stream in (ANNOTATIONS, OXTS, INFOS, VEHICLE_DATA, RADAR):
        if stream in stem:
            return stream
    return None


@dataclass(frozen=True)
class StreamFilter:
    """What the user asked for (the ``zod download`` filter flags).

    ``num_scans_before``/``num_scans_after``: surrounding lidar scans of Frames to fetch,
    -1 for all of them (sequences and drives have no surrounding-scan archives).
    """

    version: str = "full"
    annotations: bool = True
    images: bool = True
    blur: bool = True
    dnat: bool = False
    lidar: bool = True
    oxts: bool = True
    infos: bool = True
    radar: bool = True
    vehicle_data: bool = True
    num_scans_before: int = 0
    num_scans_after: int = 0

    def wants(self, stream: str | None) -> bool:
        """True when the archive of ``stream`` must be fetched for this filter."""
        if stream is None:
            return False
        if self.version == "mini":
            return stream == MINI
        if stream == MINI:
            return False
        if stream in (IMAGES_BLUR, IMAGES_DNAT):
            return self.images and (self.blur if stream == IMAGES_BLUR else self.dnat)
        offset = lidar_offset(stream)
        if offset is not None:
            if not self.lidar:
                return False
            limit = self.num_scans_before if offset < 0 else self.num_scans_after
            return offset == 0 or limit == -1 or abs(offset) <= limit
        flags = {
            INFOS: self.infos,
            ANNOTATIONS: self.annotations,
            OXTS: self.oxts,
            VEHICLE_DATA: self.vehicle_data,
            RADAR: self.radar,
        }
        return flags.get(stream, False)


def stream_of_file(relpath: str, lidar_offsets: dict[str, int] | None = None) -> str | None:
    """Stream (full-release archive) that brings the file ``relpath`` (relative to the root).

    ``lidar_offsets`` maps lidar scan paths of Frames to their offset from the core scan (from
    the index); a scan not in it is counted as a core scan. Returns None for a file that no
    stream of spec section 13 carries.
    """
    parts = PurePosixPath(relpath).parts
    if len(parts) == 1:
        return INFOS if re.fullmatch(r"trainval-\w+-\w+\.json", parts[0]) else None
    if len(parts) < 3 or parts[0] not in SUBSET_FOLDERS.values():
        return None
    rest = parts[2:]
    head = rest[0]
    if len(rest) == 1:
        if head in ("calibration.json", "ego_motion.json", "metadata.json", "info.json"):
            return INFOS
        if head == "oxts.hdf5":
            return OXTS
        if head == "vehicle_data.hdf5":
            return VEHICLE_DATA
        return None
    if head == "annotations":
        return ANNOTATIONS
    if head == "camera_front_blur":
        return IMAGES_BLUR
    if head == "camera_front_dnat":
        return IMAGES_DNAT
    if head == "lidar_velodyne":
        if parts[0] == FRAMES and lidar_offsets:
            return lidar_stream(lidar_offsets.get(relpath, 0))
        return LIDAR
    if head.startswith("radar"):
        return RADAR
    return None


def download_hint(stream: str, subset: str = "frames") -> str:
    """How to get a stream with `zod download` (for `MissingFileError` messages and verify)."""
    base = f"zod download --subset {subset_name(subset)}"
    offset = lidar_offset(stream)
    if offset:
        option = "--num-scans-before" if offset < 0 else "--num-scans-after"
        return f"{base} --version full {option} {abs(offset)}"
    flag = {
        INFOS: "--infos",
        ANNOTATIONS: "--annotations",
        OXTS: "--oxts",
        IMAGES_BLUR: "--images --blur",
        IMAGES_DNAT: "--images --dnat",
        LIDAR: "--lidar",
        VEHICLE_DATA: "--vehicle-data",
        RADAR: "--radar",
    }.get(stream)
    if stream == MINI:
        return f"{base} --version mini"
    return f"{base} --version full {flag}" if flag else base


def all_streams(subset: str) -> list[str]:
    """Streams of the full release of one sub-dataset, in listing order."""
    folder = subset_folder(subset)
    streams = (
        [INFOS, OXTS, IMAGES_BLUR] if folder == DRIVES else [INFOS, ANNOTATIONS, OXTS, IMAGES_BLUR]
    )
    if folder == FRAMES:
        streams += [IMAGES_DNAT, LIDAR]
        streams += [lidar_stream(-k) for k in range(1, MAX_SURROUNDING_SCANS + 1)]
        streams += [lidar_stream(k) for k in range(1, MAX_SURROUNDING_SCANS + 1)]
    else:
        streams += [LIDAR, VEHICLE_DATA, RADAR]
    return streams
