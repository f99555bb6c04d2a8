"""Batches from DataLoader workers to the main process through reused shared-memory blocks.

torch sends each tensor of a batch made in a worker through a new shared-memory block: the
worker creates and fills it (every page of it fresh, which the kernel must find and zero:
~12 ms for the 12 MB of two half-size images on the 2-core development VM, more than
decoding them) and the main process maps it anew. Here each worker keeps a few blocks
("arenas"), collates into one, and reuses it once the main process has let go of it::

    worker                                      main process
    ------                                      ------------
    take a FREE arena, mark it LEASED
    collate the batch into it (bump allocation)
    send PackedBatch(arena, layout)  ------>    map the arena (once: the mapping is kept)
                                                batch tensors = views of that mapping
                                                ... training step ...
    reuse the arena          <------  FREE      last tensor of the batch gone: byte 0 = FREE

In the main process the tensors are views of the kept mapping handed out through a numpy
array: ordinary (not shared) CPU tensors whose last release sets the arena's FREE byte
(``weakref.finalize`` on that array). Sending such a tensor on to another process makes torch
move it into a new block first, so the worker never overwrites memory that is still in use.

An arena is reused only when free; with all of a worker's arenas in use (the training loop
keeps batches) or little room left in ``/dev/shm``, a batch goes the ordinary torch way.

The same idea serves private memory in every process: a batch collated outside a worker, and
the image block of a batch (``reusable_empty``), come from a few buffers of the process that
are reused once every tensor on them is gone, instead of fresh pages for every batch.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

ALIGN_BYTES = 64
HEADER_BYTES = 64  # byte 0: FREE / LEASED; the rest keeps tensor data aligned
FREE, LEASED = 0, 1
DEFAULT_ARENAS_PER_WORKER = 3  # prefetch_factor (2) queued or in the step, + one being made
_MIB = 1 << 20


def tensor_on(
    storage: torch.UntypedStorage, offset: int, shape: Sequence[int], dtype: torch.dtype
) -> torch.Tensor:
    """A C-contiguous ``shape`` tensor of ``dtype`` on ``storage``, from element ``offset``."""
    strides = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * int(shape[axis + 1])
    return torch.empty(0, dtype=dtype).set_(storage, offset, tuple(shape), tuple(strides))


def _shared_bytes(num_bytes: int) -> torch.Tensor:
    """(num_bytes,) uint8 tensor on a new torch shared-memory block."""
    storage = torch.UntypedStorage._new_shared(num_bytes)
    return tensor_on(storage, 0, (num_bytes,), torch.uint8)


def _shm_free_bytes() -> int | None:
    try:
        stat = os.statvfs("/dev/shm")
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


class ArenaPool:
    """A worker's arenas: (capacity,) shared blocks, each with its FREE/LEASED byte."""

    def __init__(self, capacity: int = DEFAULT_ARENAS_PER_WORKER) -> None:
        self.pid = os.getpid()
        self.capacity = capacity
        self.arenas: list[torch.Tensor] = []
        self.wanted_bytes = _MIB  # grows to 1.25x the largest batch seen

    def acquire(self) -> tuple[int, torch.Tensor] | None:
        """(slot, arena) of a free arena of at least ``wanted_bytes``, marked LEASED; None when
        every arena is in use or /dev/shm is short of room (the caller goes the torch way)."""
        free = [slot for slot, arena in enumerate(self.arenas) if int(arena[0]) == FREE]
        for slot in free:
            if self.arenas[slot].numel() >= self.wanted_bytes:
                self.arenas[slot][0] = LEASED
                return slot, self.arenas[slot]
        if not free and len(self.arenas) >= self.capacity:
            return None
        size = math.ceil((self.wanted_bytes + HEADER_BYTES) / _MIB) * _MIB
        room = _shm_free_bytes()
        if room is not None and room < 4 * size:
            return None
        arena = _shared_bytes(size)
        arena[0] = LEASED
        if free:  # a free arena that is too small: replaced by a bigger one
            slot = free[0]
            self.arenas[slot] = arena
        else:
            slot = len(self.arenas)
            self.arenas.append(arena)
        return slot, arena


class BumpAllocator:
    """Hands out aligned tensors from one arena, front to back; None once it is full."""

    def __init__(self, arena: torch.Tensor, shared: bool = True) -> None:
        self.arena = arena
        self.storage = arena.untyped_storage()
        self.shared = shared
        self.used_bytes = HEADER_BYTES
        self.needed_bytes = HEADER_BYTES  # what the whole batch would have taken

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor | None:
        num_bytes = math.prod(shape) * dtype.itemsize
        start = self.used_bytes
        end = start + -(-num_bytes // ALIGN_BYTES) * ALIGN_BYTES
        self.needed_bytes += end - start
        if end > self.arena.numel():
            return None
        self.used_bytes = end
        # the arena starts its storage; ALIGN_BYTES is a multiple of every itemsize
        return tensor_on(self.storage, start // dtype.itemsize, shape, dtype)


class _InArena:
    """Placeholder of a tensor inside the arena: byte offset, dtype, shape."""

    __slots__ = ("dtype", "offset", "shape")

    def __init__(self, offset: int, dtype: torch.dtype, shape: tuple[int, ...]) -> None:
        self.offset, self.dtype, self.shape = offset, dtype, shape

    def __reduce__(self) -> tuple[Any, ...]:
        return (_InArena, (self.offset, self.dtype, self.shape))


def _layout(value: Any, arena: torch.Tensor, used_bytes: int) -> Any:
    """``value`` with each tensor that lies in the arena replaced by an ``_InArena``."""
    if isinstance(value, torch.Tensor):
        offset = value.data_ptr() - arena.data_ptr()
        if value.device.type == "cpu" and value.is_contiguous() and 0 < offset < used_bytes:
            return _InArena(offset, value.dtype, tuple(value.shape))
        return value
    if isinstance(value, dict):
        return {key: _layout(item, arena, used_bytes) for key, item in value.items()}
    return value


def _views(value: Any, buffer: torch.Tensor) -> Any:
    """Inverse of ``_layout``: ``_InArena`` placeholders to views of ``buffer``."""
    if isinstance(value, _InArena):
        num_bytes = math.prod(value.shape) * value.dtype.itemsize
        return buffer[value.offset : value.offset + num_bytes].view(value.dtype).view(value.shape)
    if isinstance(value, dict):
        return {key: _views(item, buffer) for key, item in value.items()}
    return value


class PackedBatch(dict):
    """A collated batch (a dict) whose tensors lie in one arena; pickles to the arena and the
    layout, and unpickles to a plain dict of views (``_unpack``). A collate function that wraps
    ours may edit it like any dict: the layout is taken when it is pickled."""

    def __init__(
        self, batch: dict[str, Any], arena: torch.Tensor, slot: int, used_bytes: int
    ) -> None:
        super().__init__(batch)
        self.arena, self.pid, self.slot, self.used_bytes = arena, os.getpid(), slot, used_bytes

    def __reduce__(self) -> tuple[Any, ...]:
        layout = _layout(dict(self), self.arena, self.used_bytes)
        return (_unpack, (self.arena, self.pid, self.slot, layout, self.used_bytes))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        import copy

        return copy.deepcopy(dict(self), memo)


# main process: (worker pid, slot) -> (storage kept mapped, numpy view of the whole arena)
_MAPPINGS: dict[tuple[int, int], tuple[torch.UntypedStorage, np.ndarray]] = {}
_MAPPINGS_LOCK = threading.Lock()


def _set_free(arena_array: np.ndarray) -> None:
    arena_array[0] = FREE


def _forget_dead_workers() -> None:
    """Drop the kept mappings of workers that exited (non-persistent workers end each epoch)."""
    for pid in {pid for pid, _ in _MAPPINGS}:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            for key in [key for key in _MAPPINGS if key[0] == pid]:
                del _MAPPINGS[key]
        except PermissionError:
            pass


def _unpack(arena: torch.Tensor, pid: int, slot: int, layout: Any, used_bytes: int) -> Any:
    with _MAPPINGS_LOCK:
        key = (pid, slot)
        entry = _MAPPINGS.get(key)
        if entry is None or entry[0].data_ptr() != arena.untyped_storage().data_ptr():
            if pid not in {known for known, _ in _MAPPINGS}:
                _forget_dead_workers()
            entry = _MAPPINGS[key] = (arena.untyped_storage(), arena.numpy())
    batch_array = entry[1][:used_bytes]  # a new array object per batch: its end frees the arena
    weakref.finalize(batch_array, _set_free, entry[1])
    return _views(layout, torch.from_numpy(batch_array))


class _PrivateBuffers:
    """A process's reusable private buffers: (capacity,) uint8 arrays, their FREE/LEASED flags."""

    def __init__(self, capacity: int) -> None:
        self.pid = os.getpid()
        self.capacity = capacity
        self.buffers: list[np.ndarray] = []
        self.state = np.zeros(capacity, dtype=np.uint8)
        self.lock = threading.Lock()
        self.wanted_bytes = _MIB  # for batches: grows to 1.25x the largest seen

    def lease(self, num_bytes: int) -> np.ndarray | None:
        """A (num_bytes,) view of a free buffer (replaced when too small) whose end frees it;
        None when all are in use."""
        with self.lock:
            free = [i for i in range(len(self.buffers)) if self.state[i] == FREE]
            fits = [i for i in free if self.buffers[i].nbytes >= num_bytes]
            if fits:
                slot = fits[0]
            elif free:
                slot = free[0]
                self.buffers[slot] = np.empty(num_bytes, dtype=np.uint8)
            elif len(self.buffers) < self.capacity:
                slot = len(self.buffers)
                self.buffers.append(np.empty(num_bytes, dtype=np.uint8))
            else:
                return None
            self.state[slot] = LEASED
            view = self.buffers[slot][:num_bytes]
        weakref.finalize(view, self._release, slot)
        return view

    def _release(self, slot: int) -> None:
        self.state[slot] = FREE


DEFAULT_PRIVATE_BUFFERS = 3  # the batch in the step, the one being made, one spare
_SHARED_POOL: list[ArenaPool] = []  # this process's pool of shared arenas (0 or 1)
_PRIVATE_POOLS: dict[str, _PrivateBuffers] = {}  # "images" / "batches" -> this process's buffers


def _shared_pool() -> ArenaPool:
    if not _SHARED_POOL or _SHARED_POOL[0].pid != os.getpid():  # a forked child starts its own
        _SHARED_POOL[:] = [ArenaPool()]
    return _SHARED_POOL[0]


def _private_pool(kind: str) -> _PrivateBuffers:
    pool = _PRIVATE_POOLS.get(kind)
    if pool is None or pool.pid != os.getpid():  # a forked child starts its own
        pool = _PRIVATE_POOLS[kind] = _PrivateBuffers(DEFAULT_PRIVATE_BUFFERS)
    return pool


def reusable_empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialized CPU tensor on one of this process's reused buffers (its memory is warm:
    no page faults), or a new tensor when they are all in use."""
    num_bytes = math.prod(shape) * dtype.itemsize
    view = _private_pool("images").lease(num_bytes) if num_bytes else None
    if view is None:
        return torch.empty(shape, dtype=dtype)
    return torch.from_numpy(view).view(dtype).view(shape)


_CURRENT = threading.local()


def current_allocator() -> BumpAllocator | None:
    """The arena allocator of the batch being collated in this thread, if any."""
    return getattr(_CURRENT, "allocator", None)


def collate_in_arena(
    collate_fn: Callable[[Any], dict[str, Any]], samples: Any, shared: bool
) -> dict[str, Any]:
    """Run ``collate_fn(samples)`` with the batch's tensors allocated in one arena: a shared one
    of this worker's (returns a ``PackedBatch``) or a private reused buffer of this process
    (returns the dict). Falls back to plain ``collate_fn(samples)`` when none is free."""
    pool: ArenaPool | _PrivateBuffers
    if shared:
        pool = _shared_pool()
        acquired = pool.acquire()
        if acquired is None:
            return collate_fn(samples)
        slot, arena = acquired
    else:
        pool = _private_pool("batches")
        view = pool.lease(pool.wanted_bytes)
        if view is None:
            return collate_fn(samples)
        slot, arena = -1, torch.from_numpy(view)
    allocator = BumpAllocator(arena, shared)
    _CURRENT.allocator = allocator
    try:
        batch = collate_fn(samples)
    except BaseException:
        if shared:
            arena[0] = FREE
        raise
    finally:
        _CURRENT.allocator = None
    pool.wanted_bytes = max(pool.wanted_bytes, math.ceil(allocator.needed_bytes * 1.25))
    return PackedBatch(batch, arena, slot, allocator.used_bytes) if shared else batch
