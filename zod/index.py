"""The lazy index of a sub-dataset: ``trainval-<subset>-<version>.json`` (spec §2).

``ZodIndex`` holds, per info, the byte span, id, split and annotated projects that
``zod.index_scan`` finds in the mapped file (or that ``zod.index_cache`` kept from the last
scan), and parses one info with ``json.loads`` only when it is accessed, building its
``Information`` with the sub-dataset the index belongs to.

The scanner's names (``scan_index``, ``IndexArrays``, ``PROJECTS``), the cache's
(``cache_dir``) and the key-case helpers (``snake_case``, ``camel_case``) are importable from
here as well.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zod._io import (
    UrlRanges,
    check_file,
    is_file,
    is_url,
    join_path,
    local_or_url,
    read_bytes_checked,
    set_storage_options,
    storage_options_for,
    url_info,
)
from zod.constants import (
    BLACKLISTED,
    DRIVES,
    FRAMES,
    SEQUENCES,
    SPLITS,
    TRAIN,
    VAL,
    AnnotationProject,
)
from zod.errors import FormatError, MissingFileError, UnreadableFileError
from zod.index_cache import (
    CACHE_VERSION,
    cache_dir,
    cache_path,
    file_key,
    load_cache,
    save_cache,
    url_key,
)
from zod.index_scan import PROJECT_BIT, PROJECTS, IndexArrays, IndexBuffer, scan_index
from zod.info import Information
from zod.keys import camel_case, snake_case

__all__ = [
    "CACHE_VERSION",
    "PROJECTS",
    "IndexArrays",
    "IndexBuffer",
    "OldIndexFileError",
    "ZodIndex",
    "cache_dir",
    "camel_case",
    "index_file_path",
    "scan_index",
    "snake_case",
    "subset_of_file",
]


class OldIndexFileError(MissingFileError):
    """The index file is missing but an old, underscore-named one (zod < 0.2) is present."""

    def __init__(self, path: str | os.PathLike[str], old_path: str | os.PathLike[str]) -> None:
        super().__init__(path, "index file", "zod download --infos")
        self.old_path = str(old_path)
        message = (
            f"index file {self.path} is not on disk, but {self.old_path} is: that is the old "
            "underscore-named index of devkit releases before 0.2, whose format this devkit does "
            "not read. Download the current index files with `zod download --infos` (they are "
            f"named {Path(self.path).name}) or read the old files with zod<0.2."
        )
        self.args = (message,)


_INDEX_STREAM = "zod download --infos (or the mini archive)"


def index_file_path(
    dataset_root: str | os.PathLike[str], file_name: str, what: str = "index file"
) -> Path | str:
    """Path of an index file that must exist; explains an old underscore name if one is found.
    Under a URL root (``s3://bucket/zod``) the path is that URL as a string."""
    if is_url(dataset_root):
        url = join_path(dataset_root, file_name)
        try:
            url_info(url, what, _INDEX_STREAM)
        except MissingFileError:
            old_url = join_path(dataset_root, file_name.replace("-", "_"))
            if is_file(old_url):
                raise OldIndexFileError(url, old_url) from None
            raise
        return url
    path = Path(local_or_url(dataset_root)) / file_name
    if path.is_file():
        return path
    if os.path.lexists(path):  # something else is there (a directory, a loop...): say what
        check_file(path, what, _INDEX_STREAM)
    old = path.with_name(file_name.replace("-", "_"))
    if old.is_file():
        raise OldIndexFileError(path, old)
    raise MissingFileError(path, what, _INDEX_STREAM)


_SUBSET_OF_NAME = {"frames": FRAMES, "sequences": SEQUENCES, "drives": DRIVES}
_INDEX_NAME = re.compile(r"trainval-(frames|sequences|drives)-")


def subset_of_file(path: str | os.PathLike[str]) -> str | None:
    """The sub-dataset folder (``single_frames``, ``sequences``, ``drives``) an index file's
    name gives (``trainval-frames-mini.json`` -> ``single_frames``), or None."""
    match = _INDEX_NAME.match(Path(path).name)
    return _SUBSET_OF_NAME[match.group(1)] if match else None


def _or_list(names: Iterable[str]) -> str:
    """``a, b or c``."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _map_file(path: Path, populate: bool = False) -> mmap.mmap:
    """Read-only map of a file; ``populate`` maps every page up front (Linux MAP_POPULATE),
    cheaper than one page fault per few pages when all of it is read next."""
    with open(path, "rb") as f:
        if populate and hasattr(mmap, "MAP_POPULATE"):
            return mmap.mmap(
                f.fileno(), 0, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, prot=mmap.PROT_READ
            )
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class ZodIndex:
    """A lazily parsed index file: ids, splits and project flags up front, infos on access.

    ``dataset_root`` makes the infos' paths absolute (defaults to the index file's folder).
    ``subset`` (``single_frames``, ``sequences`` or ``drives``; default: from the file name,
    ``trainval-<subset>-<version>.json``) is passed to every ``Information`` built.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dataset_root: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        subset: str | None = None,
    ) -> None:
        self.path: Path | str = os.fspath(path) if is_url(path) else Path(local_or_url(path))
        if dataset_root is None:
            dataset_root = (
                self.path.rsplit("/", 1)[0] if isinstance(self.path, str) else self.path.parent
            )
        self.dataset_root = local_or_url(dataset_root)
        self.subset = subset if subset is not None else subset_of_file(self.path)
        self._storage: tuple[str, dict[str, Any]] | None = None
        self._buffer: mmap.mmap | bytes | UrlRanges
        if isinstance(self.path, str):
            arrays = self._load_url(self.path, use_cache)
        else:
            arrays = self._load_file(self.path, use_cache)
        self._arrays = arrays
        self.ids: list[str] = arrays.ids.tolist()
        self._position = dict(zip(self.ids, range(len(self.ids))))
        self._infos: dict[str, Information] = {}

    def _load_file(self, path: Path, use_cache: bool) -> IndexArrays:
        """The arrays of a local index file (cached or scanned); maps the file."""
        if not path.is_file():
            index_file_path(path.parent, path.name)
        if check_file(path, "index file", "zod download --infos") == 0:
            raise FormatError(path, "the index file is empty")
        try:
            self._buffer = buffer = _map_file(path)
        except OSError as err:
            raise UnreadableFileError(path, f"index file cannot be read ({err})") from None
        arrays = None
        if use_cache:
            key = file_key(path, buffer)
            cache = cache_path(path)
            arrays = load_cache(cache, key)
        if arrays is None:
            buffer.close()  # the scan reads every page: map them all in one call
            self._buffer = buffer = _map_file(path, populate=True)
            arrays = scan_index(buffer, path)
            if use_cache:
                save_cache(cache, key, arrays)
        return arrays

    def _load_url(self, url: str, use_cache: bool) -> IndexArrays:
        """The arrays of an index object in a store. A cache hit (keyed by the store's size,
        ETag, time) downloads nothing: infos are then read as ranges on access. Else the object
        is read whole (one request) and scanned, and its bytes kept for the infos."""
        self._storage = storage_options_for(url)
        try:
            info = url_info(url, "index file", _INDEX_STREAM)
        except MissingFileError:
            root, _, name = url.rpartition("/")
            index_file_path(root, name)  # explains an old underscore-named index, if there
            raise
        self._size = int(info["size"])
        if self._size == 0:
            raise FormatError(url, "the index file is empty")
        key = url_key(url, info) if use_cache else None
        cache = cache_path(url)
        arrays = load_cache(cache, key) if key is not None else None
        if arrays is not None:
            self._buffer = UrlRanges(url, self._size, "index file", _INDEX_STREAM, info)
            return arrays
        data = read_bytes_checked(url, "index file", _INDEX_STREAM)
        arrays = scan_index(data, url)
        if key is not None:
            save_cache(cache, key, arrays)
        self._buffer = data
        return arrays

    # -- ids and splits --
    def __len__(self) -> int:
        return len(self._position)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._position

    def __iter__(self) -> Iterator[str]:
        """All ids in file order (blacklisted included)."""
        return iter(self._position)

    @property
    def split_names(self) -> tuple[str, ...]:
        """The split lists of the file, in file order."""
        return self._arrays.split_names

    def _split_mask(self, split: str) -> np.ndarray:
        """(n,) bool: the infos of ``split``. A split of the spec (``train``, ``val``,
        ``blacklisted``) that the file does not list is empty; any other name not in the file
        is a ``ValueError`` (a typo must not read as an empty split)."""
        names = self._arrays.split_names
        if split in names:
            return self._arrays.split_codes == names.index(split)
        if split in SPLITS:
            return np.zeros(len(self.ids), dtype=bool)
        choices = _or_list([*SPLITS, *(n for n in names if n not in SPLITS)])
        raise ValueError(f"Unknown split: {split}, should be {choices}")

    def split_ids(self, split: str, project: AnnotationProject | str | None = None) -> list[str]:
        """Ids of one split in file order, optionally only those annotated for ``project``."""
        mask = self._split_mask(split)
        if project is not None:
            bit = PROJECT_BIT[AnnotationProject(project)]
            mask = mask & (self._arrays.project_masks & bit > 0)
        return self._arrays.ids[mask].tolist()

    def trainval_ids(self) -> list[str]:
        """Train and val ids in file order (what iteration covers)."""
        mask = self._split_mask(TRAIN) | self._split_mask(VAL)
        return self._arrays.ids[mask].tolist()

    def split_of(self, item_id: str) -> str:
        """The split whose list holds ``item_id``."""
        return self._arrays.split_names[int(self._arrays.split_codes[self._position[item_id]])]

    def projects(self, item_id: str) -> list[AnnotationProject]:
        """Annotated projects of an item, read from the scan (no parse)."""
        mask = int(self._arrays.project_masks[self._position[item_id]])
        return [p for p in PROJECTS if mask & PROJECT_BIT[p]]

    def project_counts(self, ids: Iterable[str] | None = None) -> dict[AnnotationProject, int]:
        """Project -> number of items annotated for it (all items, or those of ``ids``)."""
        masks = self._arrays.project_masks
        if ids is not None:
            masks = masks[[self._position[i] for i in ids]]
        return {p: int(np.count_nonzero(masks & PROJECT_BIT[p])) for p in PROJECTS}

    @property
    def blacklisted_ids(self) -> list[str]:
        return self.split_ids(BLACKLISTED)

    # -- infos --
    def _span(self, item_id: str) -> tuple[int, int]:
        k = self._position[item_id]
        return int(self._arrays.starts[k]), int(self._arrays.ends[k])

    def raw_bytes(self, item_id: str) -> bytes:
        """The JSON text of the info object of ``item_id``, as it is in the file."""
        start, end = self._span(item_id)
        return self._buffer[start:end]

    def raw(self, item_id: str) -> dict[str, Any]:
        """The info object of ``item_id`` as parsed JSON (keys as in the file)."""
        start, end = self._span(item_id)
        try:
            value = json.loads(self._buffer[start:end])
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            raise FormatError(
                self.path, f"info {item_id} (bytes {start}..{end}) is malformed JSON: {err}"
            ) from None
        if not isinstance(value, dict):
            raise FormatError(self.path, f"info {item_id} is not a JSON object")
        return value

    def info(self, item_id: str) -> Information:
        """The ``Information`` of ``item_id`` (parsed once, then cached)."""
        info = self._infos.get(item_id)
        if info is None:
            info = Information.from_dict(
                self.raw(item_id), self.dataset_root, source=self.path, subset=self.subset
            )
            self._infos[item_id] = info
        return info

    def close(self) -> None:
        if not isinstance(self._buffer, bytes):
            self._buffer.close()

    # -- pickling (worker processes of DataLoader / Ray / spawn): the map is reopened (an index
    # in a store: read as ranges, with the storage options it was opened with) --
    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        del state["_buffer"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if isinstance(self.path, str):
            if self._storage is not None:
                set_storage_options(*self._storage)
            self._buffer = UrlRanges(self.path, self._size, "index file", _INDEX_STREAM)
        else:
            self._buffer = _map_file(self.path)
