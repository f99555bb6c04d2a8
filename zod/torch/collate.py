"""Batching of ZOD samples whose parts have different sizes (points, boxes).

A sample is a dict of tensors and metadata. Parts with a fixed shape (image, intrinsics, poses)
are stacked. Parts listed as *variable* (a first dimension that differs between samples: lidar
points, boxes, class ids) are batched in one of two ways, chosen by ``mode``:

``"pad"``: ``key`` becomes ``(B, N_max, ...)`` filled with ``pad_value``, plus ``key + "_mask"``
(B, N_max) bool, True where the row is real data::

    sample 0: [a0 a1 a2]        key      = [[a0 a1 a2], [b0 0 0]]
    sample 1: [b0]          ->  key_mask = [[T  T  T ], [T  F F]]

``"flat"``: ``key`` becomes ``(N_0 + ... + N_{B-1}, ...)`` and ``key + "_offsets"`` (B + 1,)
int64, so that sample ``i`` is ``key[offsets[i]:offsets[i + 1]]``; ``key + "_batch"`` (N_total,)
int64 holds the sample index of every row (what scatter / segment ops want)::

    key = [a0 a1 a2 b0],  key_offsets = [0 3 4],  key_batch = [0 0 0 1]

Metadata (strings, bools, None) is returned as a list; Python numbers become (B,) tensors;
nested dicts are collated recursively (a variable key inside is named by its leaf name).
Collators are plain picklable objects, so they work with ``DataLoader(num_workers > 0)``; they
collate into reused memory (``zod.torch.batch_memory``): shared in a worker, private elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import get_worker_info

from zod.torch import batch_memory

CollateMode = Literal["pad", "flat"]

# Keys that the zod.torch datasets produce with a per-sample length. A key that is not listed
# but whose first dimension differs inside a batch is treated as variable too.
DEFAULT_VARIABLE_KEYS: frozenset[str] = frozenset(
    {
        "lidar_points",
        "lidar_time_s",
        "lidar_intensity",
        "lidar_diode_index",
        "lidar_scan_index",
        "boxes_2d",
        "boxes_3d",
        "box_3d_valid",
        "class_ids",
        "unclear",
        "in_view",
        "class_names",
        "object_uuids",
        "radar_points",
        "radar_range_rate",
        "radar_amplitude",
    }
)


def _to_tensor(value: Any) -> Any:
    """numpy arrays and numpy scalars to tensors; anything else unchanged."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biufc":
            return torch.from_numpy(np.ascontiguousarray(value))
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return torch.as_tensor(value)
    return value


_NOT_IN_NUMPY = frozenset({torch.bfloat16, torch.complex32})


def _numpy_ok(tensors: Sequence[torch.Tensor]) -> bool:
    """True when the tensors can be batched through numpy (CPU, no autograd, numpy dtype).

    numpy copies single-threaded; small torch ops on a busy machine can wait tens of ms on the
    intra-op thread pool, so batching in numpy is both simpler and much faster there."""
    return all(t.is_cpu and not t.requires_grad and t.dtype not in _NOT_IN_NUMPY for t in tensors)


def _empty(shape: tuple[int, ...], dtype: torch.dtype, shared: bool | None = None) -> torch.Tensor:
    """An uninitialized CPU tensor for a batch (``shared=None``): in the arena of the batch being
    collated when there is one (``batch_memory``), else in new shared memory inside a
    DataLoader worker (so that sending the batch does not copy it again), else private.
    ``shared=False`` for intermediate tensors that are not sent."""
    if shared is None:
        allocator = batch_memory.current_allocator()
        if allocator is not None:
            tensor = allocator.empty(shape, dtype)
            if tensor is not None:
                return tensor
        shared = get_worker_info() is not None
    if not shared:
        return torch.empty(shape, dtype=dtype)
    storage = torch.UntypedStorage._new_shared(max(1, math.prod(shape)) * dtype.itemsize)
    return batch_memory.tensor_on(storage, 0, shape, dtype)


def _batch_tensor(array: np.ndarray) -> torch.Tensor:
    """A small numpy result (mask, offsets) as a batch tensor (in the arena when collating
    into one, so that the batch crosses to the main process as one block)."""
    if batch_memory.current_allocator() is None:
        return torch.from_numpy(array)
    out = _empty(array.shape, torch.from_numpy(array[:0]).dtype)
    out.numpy()[...] = array
    return out


_FREE_STACK_MIN_BYTES = 1 << 16  # below this a copy costs less than checking for a block


def _stacked_base(tensors: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """The (B, ...) tensor whose rows ``tensors`` are, when they are consecutive rows of one
    contiguous block (what ``ZodFramesDataset.__getitems__`` makes): stacking is then free."""
    first = tensors[0]
    row_bytes = first.numel() * first.dtype.itemsize
    if row_bytes < _FREE_STACK_MIN_BYTES or not first.is_cpu or not first.is_contiguous():
        return None
    storage_ptr = first.untyped_storage().data_ptr()
    for i, t in enumerate(tensors):
        if (
            t.shape != first.shape
            or t.dtype != first.dtype
            or not t.is_contiguous()
            or t.untyped_storage().data_ptr() != storage_ptr
            or t.data_ptr() != first.data_ptr() + i * row_bytes
        ):
            return None
    return batch_memory.tensor_on(
        first.untyped_storage(),
        int(first.storage_offset()),
        (len(tensors), *first.shape),
        first.dtype,
    )


def stack(tensors: Sequence[torch.Tensor], shared: bool | None = None) -> torch.Tensor:
    """``torch.stack`` of same-shape tensors (through numpy when possible, see ``_numpy_ok``);
    free for consecutive rows of one block unless the batch must be in shared memory."""
    allocator = batch_memory.current_allocator()
    goes_to_shared_memory = (
        shared
        if shared is not None
        else (allocator.shared if allocator is not None else get_worker_info() is not None)
    )
    if not goes_to_shared_memory:
        base = _stacked_base(tensors)
        if base is not None:
            return base
    if _numpy_ok(tensors):
        out = _empty((len(tensors), *tensors[0].shape), tensors[0].dtype, shared)
        out_np = out.numpy()
        for i, t in enumerate(tensors):
            out_np[i] = t.numpy()
        return out
    return torch.stack(list(tensors))


def pad_stack(
    tensors: Sequence[torch.Tensor], pad_value: float = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack tensors of shapes (N_i, ...) into (B, N_max, ...) and a (B, N_max) bool mask."""
    if not tensors:
        raise ValueError("pad_stack needs at least one tensor")
    lengths = [t.shape[0] for t in tensors]
    n_max = max(lengths)
    trailing = tuple(tensors[0].shape[1:])
    mask = _empty((len(tensors), n_max), torch.bool)
    mask_np = mask.numpy()
    for i, length in enumerate(lengths):
        mask_np[i, :length] = True
        mask_np[i, length:] = False
    if _numpy_ok(tensors):
        out = _empty((len(tensors), n_max, *trailing), tensors[0].dtype)
        out_np = out.numpy()
        for i, (t, length) in enumerate(zip(tensors, lengths)):  # one copy per sample, not per row
            out_np[i, :length] = t.numpy()
            out_np[i, length:] = pad_value
        return out, mask
    out = torch.full(
        (len(tensors), n_max, *trailing),
        pad_value,
        dtype=tensors[0].dtype,
        device=tensors[0].device,
    )
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out, mask


def flat_concat(
    tensors: Sequence[torch.Tensor], shared: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate (N_i, ...) tensors: (sum N_i, ...), offsets (B + 1,), batch index (sum N_i,)."""
    if not tensors:
        raise ValueError("flat_concat needs at least one tensor")
    lengths = np.array([t.shape[0] for t in tensors], dtype=np.int64)
    offsets = np.zeros(len(tensors) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if _numpy_ok(tensors):
        flat = _empty((int(offsets[-1]), *tensors[0].shape[1:]), tensors[0].dtype, shared)
        np.concatenate([t.numpy() for t in tensors], axis=0, out=flat.numpy())
    else:
        flat = torch.cat(list(tensors), dim=0)
    batch = _batch_tensor(np.repeat(np.arange(len(tensors), dtype=np.int64), lengths))
    return flat, _batch_tensor(offsets), batch


def unflatten(flat: torch.Tensor, offsets: torch.Tensor) -> list[torch.Tensor]:
    """Split a flat batch back into per-sample tensors (views)."""
    bounds = offsets.tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]


class Collator:
    """Turns a list of sample dicts into one batch dict (see the module docstring).

    Args:
        mode: ``"pad"`` (padded tensor plus ``_mask``) or ``"flat"`` (concatenation plus
            ``_offsets`` and ``_batch``) for variable-size parts.
        variable_keys: keys always batched as variable, even when every sample of a batch
            happens to have the same length (so that the batch layout does not depend on luck).
        pad_value: fill value of padded rows.
        reuse_memory: collate into one of the process's reused blocks (``zod.torch.batch_memory``):
            in a DataLoader worker a shared block the main process receives whole, elsewhere a
            private one; instead of new memory per tensor per batch. False: torch's way.
    """

    def __init__(
        self,
        mode: CollateMode = "pad",
        variable_keys: Iterable[str] = DEFAULT_VARIABLE_KEYS,
        pad_value: float = 0,
        reuse_memory: bool = True,
    ) -> None:
        if mode not in ("pad", "flat"):
            raise ValueError(f"mode must be 'pad' or 'flat', not {mode!r}")
        self.mode: CollateMode = mode
        self.variable_keys = frozenset(variable_keys)
        self.pad_value = pad_value
        self.reuse_memory = reuse_memory

    def __call__(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        if not self.reuse_memory or batch_memory.current_allocator() is not None:
            return self._collate_dicts(samples)
        return batch_memory.collate_in_arena(
            self._collate_dicts, samples, shared=get_worker_info() is not None
        )

    def _collate_dicts(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        keys = list(samples[0].keys())
        for s in samples[1:]:
            if set(s.keys()) != set(keys):
                missing = set(keys) ^ set(s.keys())
                raise ValueError(f"samples of a batch have different keys: {sorted(missing)}")
        batch: dict[str, Any] = {}
        for key in keys:
            values = [_to_tensor(s[key]) for s in samples]
            batch.update(self._collate_values(key, values))
        return batch

    def _collate_values(self, key: str, values: list[Any]) -> dict[str, Any]:
        first = values[0]
        if isinstance(first, torch.Tensor):
            if not all(isinstance(v, torch.Tensor) for v in values):
                raise TypeError(f"{key!r}: a batch mixes tensors and non-tensors")
            if first.dim() == 0:
                return {key: stack(values)}
            same_shape = all(v.shape == first.shape for v in values)
            if key in self.variable_keys or not same_shape:
                if not all(v.dim() >= 1 and v.shape[1:] == first.shape[1:] for v in values):
                    raise ValueError(
                        f"{key!r}: variable-size parts must agree on all but the first dimension, "
                        f"got {[tuple(v.shape) for v in values]}"
                    )
                if self.mode == "pad":
                    padded, mask = pad_stack(values, self.pad_value)
                    return {key: padded, f"{key}_mask": mask}
                flat, offsets, index = flat_concat(values)
                return {key: flat, f"{key}_offsets": offsets, f"{key}_batch": index}
            return {key: stack(values)}
        if isinstance(first, bool) or first is None or isinstance(first, str):
            return {key: list(values)}
        if isinstance(first, (int, float)) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            dtype = np.int64 if all(isinstance(v, int) for v in values) else np.float64
            return {key: _batch_tensor(np.array(values, dtype=dtype))}
        if isinstance(first, Mapping) and all(isinstance(v, Mapping) for v in values):
            return {key: self._collate_dicts(values)}
        return {key: list(values)}


def collate_pad(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Collate with padding and masks (the default)."""
    return Collator("pad")(samples)


def collate_flat(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Collate variable parts as flat tensors with batch offsets."""
    return Collator("flat")(samples)


def collate(samples: Sequence[Mapping[str, Any]], mode: CollateMode = "pad") -> dict[str, Any]:
    """Collate a list of samples; ``mode`` is ``"pad"`` or ``"flat"`` (see the module docstring)."""
    return Collator(mode)(samples)
