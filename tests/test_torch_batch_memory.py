"""Reused batch memory: arenas from DataLoader workers, private image blocks, free stacking."""

from __future__ import annotations

import gc
import pickle
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing  # registers torch's reducers with ForkingPickler
from torch.utils.data import DataLoader

from zod.torch import Collator, ZodFramesDataset, collate
from zod.torch import batch_memory as bm
from zod.torch.collate import stack

MP_CONTEXT = "forkserver"  # see test_torch_datasets.py
MODALITIES = ("image", "lidar", "objects", "boxes_3d", "calibration")


def _assert_batches_equal(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert actual[key].dtype == value.dtype and torch.equal(actual[key], value), key
        else:
            assert actual[key] == value, key


@pytest.fixture(scope="module")
def dataset(sample_root: Path) -> ZodFramesDataset:
    return ZodFramesDataset(sample_root, "full", None, modalities=MODALITIES, image_scale=0.125)


def _reference_batches(
    ds: ZodFramesDataset, order: list[int], batch_size: int
) -> list[dict[str, Any]]:
    """Batches made in this process through ``__getitem__`` (no ``__getitems__``, no arenas)."""
    return [
        collate([ds[i] for i in order[k : k + batch_size]])
        for k in range(0, len(order), batch_size)
    ]


def test_getitems_equals_getitem_and_stacks_without_copy(dataset: ZodFramesDataset) -> None:
    indices = list(range(len(dataset)))
    samples = dataset.__getitems__(indices)
    for index, sample in zip(indices, samples):
        _assert_batches_equal(sample, dataset[index])
    batch = collate(samples)
    _assert_batches_equal(batch, collate([dataset[i] for i in indices]))
    # the samples' images are the rows of one block: the batch image is that block itself
    assert batch["image"].data_ptr() == samples[0]["image"].data_ptr()
    assert (
        batch["image"].untyped_storage().data_ptr()
        == samples[-1]["image"].untyped_storage().data_ptr()
    )


def test_getitems_float_images_and_transforms(sample_root: Path) -> None:
    def flip(sample: dict[str, Any]) -> dict[str, Any]:
        return {**sample, "image": sample["image"].flip(-1)}

    kwargs: dict[str, Any] = {
        "modalities": ("image",),
        "image_scale": 0.25,
        "image_dtype": torch.float32,
        "normalize": True,
    }
    plain = ZodFramesDataset(sample_root, "full", None, **kwargs)
    flipped = ZodFramesDataset(sample_root, "full", None, transforms=flip, **kwargs)
    indices = [1, 0]
    for sample, index in zip(plain.__getitems__(indices), indices):
        assert torch.equal(sample["image"], plain[index]["image"])
    batch = collate(flipped.__getitems__(indices))  # rows replaced by the transform: copied
    assert torch.equal(batch["image"], torch.stack([plain[i]["image"].flip(-1) for i in indices]))
    half = ZodFramesDataset(sample_root, "full", None, **{**kwargs, "image_dtype": torch.float16})
    assert torch.equal(half.__getitems__([0])[0]["image"], plain[0]["image"].half())


def test_stack_copies_unless_rows_are_consecutive() -> None:
    block = torch.arange(4 * 64 * 300, dtype=torch.int32).reshape(4, 64, 300)  # 75 KiB rows
    assert stack([block[1], block[2]]).data_ptr() == block[1].data_ptr()  # free
    small = block[:, :2, :3].contiguous()
    assert stack([small[1], small[2]]).data_ptr() != small[1].data_ptr()  # small: copied
    swapped = stack([block[2], block[1]])
    assert swapped.data_ptr() not in (block[1].data_ptr(), block[2].data_ptr())
    assert torch.equal(swapped, torch.stack([block[2], block[1]]))
    gapped = stack([block[0], block[2]])
    assert torch.equal(gapped, torch.stack([block[0], block[2]]))
    assert gapped.data_ptr() != block[0].data_ptr()


def test_reusable_empty_reuses_a_buffer_only_once_released() -> None:
    first = bm.reusable_empty((1000,), torch.float32)
    first_ptr = first.data_ptr()
    view = first[10:20]
    del first
    gc.collect()
    second = bm.reusable_empty((1000,), torch.float32)
    assert second.data_ptr() != first_ptr  # a view keeps the buffer leased
    del view, second
    gc.collect()
    again = bm.reusable_empty((500,), torch.float64)  # same bytes, other dtype: reused
    buffers = bm._private_pool("images").buffers
    assert again.data_ptr() in {first_ptr} | {b.ctypes.data for b in buffers}
    assert again.dtype == torch.float64 and again.shape == (500,)
    many = [bm.reusable_empty((10,), torch.uint8) for _ in range(bm.DEFAULT_PRIVATE_BUFFERS + 2)]
    assert len({t.data_ptr() for t in many}) == len(many)  # beyond the pool: new tensors


def test_workers_send_batches_through_reused_arenas(dataset: ZodFramesDataset) -> None:
    order = list(range(len(dataset))) * 6
    reference = _reference_batches(dataset, order, 2)
    loader = DataLoader(
        dataset,
        batch_size=2,
        sampler=order,
        num_workers=2,
        collate_fn=Collator(),
        multiprocessing_context=MP_CONTEXT,
        persistent_workers=True,
    )
    for epoch in range(2):
        arena_batches = 0
        for batch, expected in zip(loader, reference, strict=True):
            _assert_batches_equal(batch, expected)
            # views of a kept mapping: ordinary tensors, not torch's shared blocks
            arena_batches += not any(
                v.is_shared() for v in batch.values() if isinstance(v, torch.Tensor)
            )
            del batch
        # each worker's first batch sizes its arenas; later ones all come through them
        assert arena_batches >= len(reference) - (2 if epoch == 0 else 0)
    worker_pids = {pid for pid, _ in bm._MAPPINGS}
    assert len(worker_pids) == 2
    assert all(slot < bm.DEFAULT_ARENAS_PER_WORKER for _, slot in bm._MAPPINGS)


def test_batches_kept_by_the_loop_are_never_overwritten(dataset: ZodFramesDataset) -> None:
    """Keeping every batch exhausts the arenas; the later batches go torch's way, and no
    batch changes after it was received."""
    order = list(range(len(dataset))) * 6
    reference = _reference_batches(dataset, order, 2)
    loader = DataLoader(
        dataset,
        batch_size=2,
        sampler=order,
        num_workers=2,
        collate_fn=Collator(),
        multiprocessing_context=MP_CONTEXT,
    )
    kept = []
    for batch in loader:
        kept.append(batch)
        kept.append(
            {
                key: value.clone() if isinstance(value, torch.Tensor) else value
                for key, value in batch.items()
            }
        )
    for k, expected in enumerate(reference):
        _assert_batches_equal(kept[2 * k], expected)
        _assert_batches_equal(kept[2 * k], kept[2 * k + 1])
    # a view of one tensor keeps its whole arena leased
    loader = DataLoader(
        dataset,
        batch_size=2,
        sampler=order,
        num_workers=1,
        collate_fn=Collator(),
        multiprocessing_context=MP_CONTEXT,
    )
    image_rows = []
    for batch in loader:
        image_rows.append(batch["image"][0])  # a view; the batch dict itself is dropped
        del batch
    for rows, expected in zip(image_rows, reference):
        assert torch.equal(rows, expected["image"][0])


def _count_points(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """A user's collate that wraps ours and edits its batch (module level: picklable)."""
    batch = Collator()(samples)
    batch["num_points"] = batch.pop("lidar_points_mask").sum(dim=1)
    return batch


def test_a_wrapping_collate_may_edit_the_batch(dataset: ZodFramesDataset) -> None:
    order = list(range(len(dataset))) * 3
    loader = DataLoader(
        dataset,
        batch_size=2,
        sampler=order,
        num_workers=2,
        collate_fn=_count_points,
        multiprocessing_context=MP_CONTEXT,
    )
    for batch, expected in zip(loader, _reference_batches(dataset, order, 2), strict=True):
        assert "lidar_points_mask" not in batch
        assert torch.equal(batch["num_points"], expected["lidar_points_mask"].sum(dim=1))
        assert torch.equal(batch["image"], expected["image"])


def test_packed_batch_pickles_to_a_plain_dict_of_views() -> None:
    """In one process: a PackedBatch made as in a worker round-trips through pickle."""
    pool = bm.ArenaPool(capacity=1)
    slot, arena = pool.acquire()  # type: ignore[misc]
    allocator = bm.BumpAllocator(arena)
    values = allocator.empty((3, 2), torch.float32)
    assert values is not None
    values.copy_(torch.arange(6, dtype=torch.float32).reshape(3, 2))
    packed = bm.PackedBatch(
        {"values": values, "ids": ["a"], "outside": torch.ones(2)},
        arena,
        slot,
        allocator.used_bytes,
    )
    data = ForkingPickler.dumps(packed)  # what the DataLoader's queue does (fds sent aside)
    del packed, values
    batch = pickle.loads(data)
    assert type(batch) is dict and batch["ids"] == ["a"]
    assert torch.equal(batch["values"], torch.arange(6, dtype=torch.float32).reshape(3, 2))
    assert torch.equal(batch["outside"], torch.ones(2))
    assert int(arena[0]) == bm.LEASED
    del batch
    gc.collect()
    assert int(arena[0]) == bm.FREE  # the last view gone: the worker may reuse the arena
    assert allocator.empty((arena.numel(),), torch.uint8) is None  # beyond the arena: None


def test_getitems_when_the_index_disagrees_with_the_jpeg_size(sample_copy: Path) -> None:
    """Image sizes come from the index for the batch block; a file of another size gets its own
    tensor (as ``__getitem__`` gives it), it never breaks the batch."""
    import json

    index_path = sample_copy / "trainval-frames-full.json"
    index = json.loads(index_path.read_text())
    infos = index["train"][:2]
    true_height = infos[0]["camera_frames"]["front_blur"][0]["height"]
    for info in infos:
        info["camera_frames"]["front_blur"][0]["height"] = 2000  # both wrong, in agreement
    index_path.write_text(json.dumps(index))
    ds = ZodFramesDataset(
        sample_copy,
        "full",
        None,
        modalities=("image",),
        image_scale=0.25,
        frame_ids=[info["id"] for info in infos],
    )
    samples = ds.__getitems__([0, 1])
    assert [tuple(s["image"].shape) for s in samples] == [(3, -(-true_height // 4), 962)] * 2
    for index_in_ds, sample in enumerate(samples):
        assert torch.equal(sample["image"], ds[index_in_ds]["image"])
