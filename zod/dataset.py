"""The sub-datasets: ``ZodFrames``, ``ZodSequences``, ``ZodDrives`` (spec §1, §2, §12).

Compatible with the reference devkit: ``len`` counts every info (blacklisted included),
iteration covers train + val in index order, ``[id]`` takes a 6-digit string, an int or a slice,
``get_split(split, project)`` returns a set of ids. Loading is the fast lazy index of
``zod.index`` (infos are parsed when first accessed), so ``mp`` is accepted and not needed.

Slices: ``ds[a:b]`` takes positions in the sorted ids. Where ids run from 0 without gaps (the
full releases) that is the reference's meaning (ids ``a`` to ``b-1``); elsewhere the reference
raises ``KeyError`` and this returns the items at those positions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from os import PathLike
from typing import Any, Generic, TypeVar, overload

from tqdm import tqdm

from zod._io import is_url, join_path, local_or_url, set_storage_options
from zod.constants import (
    DRIVES,
    FRAMES,
    SEQUENCES,
    TRAIN,
    TRAINVAL_FILES,
    VAL,
    VERSIONS,
    AnnotationProject,
)
from zod.errors import ZodError
from zod.frame import ZodFrame, ZodSequence
from zod.index import ZodIndex, index_file_path
from zod.info import Information
from zod.time import zfill_id

T = TypeVar("T")


class UnknownIdError(ZodError, KeyError):
    """An id that the index does not list."""

    def __str__(self) -> str:
        return str(self.args[0])


class LazyInfos(Mapping[str, Information]):
    """id -> ``Information`` of every info (blacklisted included), parsed on access."""

    def __init__(self, index: ZodIndex) -> None:
        self._index = index

    def __getitem__(self, item_id: str) -> Information:
        if item_id not in self._index:
            raise UnknownIdError(f"no id {item_id!r} in {self._index.path}")
        return self._index.info(item_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index


class ZodDataset(Generic[T]):
    """Base of the three sub-datasets (``subset`` is the folder name, e.g. ``single_frames``);
    a subclass says which item object (``T``) an info becomes.

    ``dataset_root`` is a local folder or an fsspec URL (``s3://bucket/zod``, ``gs://...``;
    the ``cloud`` extra): every reader then reads from the store. ``storage_options`` (fsspec's:
    ``endpoint_url``, ``key``, ``secret``, ``token``, ``anon``...) apply to every URL under the
    root in this process (``zod._io.set_storage_options``); without them fsspec's own
    configuration and the store's client defaults (environment, profiles) apply. They are
    ignored for a local root.
    """

    subset: str = FRAMES

    def __init__(
        self,
        dataset_root: str | PathLike[str],
        version: str,
        mp: bool = True,
        use_cache: bool = True,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"Unknown version: {version!r}, must be one of: {VERSIONS}")
        self._dataset_root = local_or_url(dataset_root)
        if storage_options is not None and is_url(self._dataset_root):
            set_storage_options(self._dataset_root, storage_options)
        self._version = version
        self._mp = mp  # accepted for compatibility; the lazy index needs no process pool
        name = self.trainval_files[version]
        # a URL: ZodIndex asks the store once (and explains a missing index the same way)
        url = is_url(self._dataset_root)
        path = (
            join_path(self._dataset_root, name)
            if url
            else index_file_path(self._dataset_root, name)
        )
        self.index = ZodIndex(path, self._dataset_root, use_cache=use_cache, subset=self.subset)
        self._train_ids = set(self.index.split_ids(TRAIN))
        self._val_ids = set(self.index.split_ids(VAL))

    # -- reference API --
    @property
    def trainval_files(self) -> dict[str, str]:
        """Version -> index file name."""
        return TRAINVAL_FILES[self.subset]

    @property
    def dataset_root(self) -> str:
        return self._dataset_root

    @property
    def version(self) -> str:
        return self._version

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[T]:
        for item_id in self.index.trainval_ids():
            yield self[item_id]

    def _item(self, info: Information) -> T:
        """The item object of one info (``ZodFrame`` or ``ZodSequence``)."""
        raise NotImplementedError(f"{type(self).__name__} does not say what its items are")

    @overload
    def __getitem__(self, item_id: int | str) -> T: ...

    @overload
    def __getitem__(self, item_id: slice) -> list[T]: ...

    def __getitem__(self, item_id: int | str | slice) -> T | list[T]:
        """One item by id (``"000123"`` or ``123``), or the items at sorted-id positions."""
        if isinstance(item_id, slice):
            ids = sorted(self.index.ids)
            return [self._item(self.get_info(i)) for i in ids[item_id]]
        return self._item(self.get_info(item_id))

    def get_info(self, item_id: int | str) -> Information:
        key = zfill_id(item_id)
        if key not in self.index:
            raise UnknownIdError(f"no {self.subset} item {key!r} in {self.index.path}")
        return self.index.info(key)

    def get_split(self, split: str, project: AnnotationProject | str | None = None) -> set[str]:
        """Ids of ``train``, ``val`` or ``blacklisted``, optionally only those annotated for
        ``project``; ``ValueError`` for another split name (the index's rule, ``split_ids``)."""
        return set(self.index.split_ids(split, project))

    def get_all_infos(self) -> Mapping[str, Information]:
        """id -> ``Information`` of every item, blacklisted included (parsed lazily)."""
        return LazyInfos(self.index)

    def get_all_ids(self) -> set[str]:
        """Train and val ids (blacklisted excluded)."""
        return self._train_ids | self._val_ids

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._dataset_root!r}, {self._version!r}: {len(self)} items)"
        )


class ZodFrames(ZodDataset[ZodFrame]):
    """ZOD Frames: annotated keyframes."""

    subset = FRAMES

    def _item(self, info: Information) -> ZodFrame:
        return ZodFrame(info)

    def get_subclass_counts(
        self, require_3d: bool = False, progress: bool = True
    ) -> dict[str, int]:
        """Object subclass -> count over train + val (optionally only objects with a 3D box)."""
        counts: Counter[str] = Counter()
        ids = self.index.split_ids(
            TRAIN, AnnotationProject.OBJECT_DETECTION
        ) + self.index.split_ids(VAL, AnnotationProject.OBJECT_DETECTION)
        for item_id in tqdm(ids, desc="Processing annotations", disable=not progress):
            for obj in self[item_id].get_annotation(AnnotationProject.OBJECT_DETECTION):
                if require_3d and obj.box3d is None:
                    continue
                counts[obj.subclass] += 1
        return dict(counts)


class ZodSequences(ZodDataset[ZodSequence]):
    """ZOD Sequences: 20 s clips (the middle keyframe annotated)."""

    subset = SEQUENCES

    def _item(self, info: Information) -> ZodSequence:
        return ZodSequence(info)


class ZodDrives(ZodDataset[ZodSequence]):
    """ZOD Drives: long drives; items are ``ZodSequence`` objects, like the reference."""

    subset = DRIVES

    def _item(self, info: Information) -> ZodSequence:
        return ZodSequence(info)


SUBSET_CLASSES: dict[str, type[ZodDataset[Any]]] = {
    "frames": ZodFrames,
    "sequences": ZodSequences,
    "drives": ZodDrives,
}
"""Short sub-dataset names (as the CLI and `zod download --subset` spell them) -> class."""


def open_subset(
    dataset_root: str | PathLike[str],
    version: str,
    subset: str,
    storage_options: Mapping[str, Any] | None = None,
) -> ZodDataset[Any]:
    """``ZodFrames`` / ``ZodSequences`` / ``ZodDrives`` by short name (``"frames"`` ...)."""
    cls = SUBSET_CLASSES.get(subset)
    if cls is None:
        raise ValueError(f"unknown sub-dataset {subset!r}, expected one of {tuple(SUBSET_CLASSES)}")
    return cls(dataset_root, version, storage_options=storage_options)
