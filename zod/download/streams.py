"""Which archive (stream) every file of a release belongs to (spec section 13).

The archive names of the release (the stream names and the file -> stream mapping live in
`zod.release`, shared with the readers):

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

from dataclasses import dataclass

from zod.constants import TRAINVAL_FILES
from zod.release import (  # re-exported: the release layout lives in zod.release
    ANNOTATIONS,
    BASE_STREAMS,
    IMAGES_BLUR,
    IMAGES_DNAT,
    INFOS,
    LIDAR,
    LIDAR_OFFSET_RE,
    MAX_SURROUNDING_SCANS,
    MINI,
    OXTS,
    RADAR,
    SUBSET_FOLDERS,
    VEHICLE_DATA,
    all_streams,
    download_flag,
    lidar_offset,
    lidar_stream,
    stream_of_file,
    subset_folder,
    subset_name,
)

__all__ = [
    "ANNOTATIONS",
    "ARCHIVE_SUFFIXES",
    "BASE_STREAMS",
    "CHECKSUM_FILE",
    "IMAGES_BLUR",
    "IMAGES_DNAT",
    "INFOS",
    "LIDAR",
    "MAX_SURROUNDING_SCANS",
    "MINI",
    "OXTS",
    "RADAR",
    "SUBSET_FOLDERS",
    "VEHICLE_DATA",
    "StreamFilter",
    "all_streams",
    "archive_name",
    "download_flag",
    "download_hint",
    "index_file_name",
    "lidar_offset",
    "lidar_stream",
    "stream_of_archive",
    "stream_of_file",
    "strip_archive_suffix",
    "subset_folder",
    "subset_name",
]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
CHECKSUM_FILE = "SHA256SUMS"


def index_file_name(subset: str, version: str) -> str:
    """``trainval-<subset>-<version>.json`` (spec section 2)."""
    return TRAINVAL_FILES[subset_folder(subset)][version]


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
        match = LIDAR_OFFSET_RE.search(stem)
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


def download_hint(stream: str, subset: str = "frames") -> str:
    """How to get a stream with `zod download` (for `MissingFileError` messages and verify)."""
    base = f"zod download --subset {subset_name(subset)}"
    if stream == MINI:
        return f"{base} --version mini"
    try:
        return f"{base} --version full {download_flag(stream)}"
    except ValueError:
        return base
