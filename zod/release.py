"""Which release stream (archive) brings each file, and the `zod download` flag that fetches it.

The single source of truth for the release layout of spec section 13, shared by the readers
(`MissingFileError` hints), `zod info` (`zod.summary`) and the download code
(`zod.download.streams` adds the archive names and filters on top). Kept outside
`zod.download` so that readers do not import the download machinery.

Stream names are the archive stems (``infos``, ``images_front_blur``,
``lidar_velodyne_03before``...); flags are the command-line options of `zod download`
(``--infos``, ``--images --blur``, ``--num-scans-before 3``...).
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath

from zod.constants import DRIVES, FRAMES, SEQUENCES, TRAINVAL_FILES, VERSIONS

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
LIDAR_OFFSET_RE = re.compile(r"(\d{1,2})_?(before|after)")


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
    match = LIDAR_OFFSET_RE.search(stream[len(LIDAR) :])
    if match is None:
        return 0
    distance = int(match.group(1))
    return -distance if match.group(2) == "before" else distance


def images_stream(anonymization: object) -> str:
    """Stream of the front camera images of one anonymization: ``blur`` -> ``images_front_blur``.

    Takes a name or an `Anonymization` member.
    """
    return f"images_front_{getattr(anonymization, 'value', anonymization)}"


_FLAGS: dict[str, str] = {
    INFOS: "--infos",
    ANNOTATIONS: "--annotations",
    OXTS: "--oxts",
    IMAGES_BLUR: "--images --blur",
    IMAGES_DNAT: "--images --dnat",
    LIDAR: "--lidar",
    VEHICLE_DATA: "--vehicle-data",
    RADAR: "--radar",
    MINI: "--version mini",
}
NUM_SCANS_BEFORE = "--num-scans-before"
NUM_SCANS_AFTER = "--num-scans-after"


def download_flag(stream: str) -> str:
    """The `zod download` flag(s) that bring ``stream``.

    ``lidar_velodyne_03before`` -> ``--num-scans-before 3``; ValueError for an unknown stream.
    """
    offset = lidar_offset(stream)
    if offset:
        return f"{NUM_SCANS_BEFORE if offset < 0 else NUM_SCANS_AFTER} {abs(offset)}"
    try:
        return _FLAGS[stream]
    except KeyError:
        raise ValueError(f"unknown release stream {stream!r}") from None


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


def images_flag(anonymization: object) -> str:
    """Download flag of the front camera images of one anonymization (``--images --blur``).

    Liberal: an anonymization the release does not know still gets ``--images --<name>``.
    """
    name = getattr(anonymization, "value", anonymization)
    try:
        return download_flag(images_stream(name))
    except ValueError:
        return f"--images --{name}"


def index_file_names(subset: str) -> list[str]:
    """Index file names of a sub-dataset, one per version, "full" first (spec §2):
    ``["trainval-frames-full.json", "trainval-frames-mini.json"]``."""
    files = TRAINVAL_FILES[subset_folder(subset)]
    return [files[version] for version in VERSIONS]


def versions_on_disk(dataset_root: str | os.PathLike[str], subset: str) -> list[str]:
    """Versions of ``subset`` whose index file is under ``dataset_root``, "full" first.

    ``["mini"]`` for a mini-only download, ``[]`` when neither index is there. An old,
    underscore-named index (devkit < 0.2) does not count.
    """
    from zod.errors import MissingFileError
    from zod.index import index_file_path  # imported here: zod.index imports numpy

    found = []
    for version, name in zip(VERSIONS, index_file_names(subset)):
        try:
            index_file_path(dataset_root, name)
        except MissingFileError:
            continue
        found.append(version)
    return found
