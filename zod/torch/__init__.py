"""PyTorch datasets for ZOD (optional extra: ``pip install zod-devkit[torch]``).

This package is the only part of the devkit that imports torch.

- ``ZodFramesDataset``: map-style ZOD Frames (image at a reduced JPEG scale, lidar, boxes, masks).
- ``ZodSequencesDataset``: clips of T synchronized steps from sequences or drives.
- ``ZodStreamDataset``: every step of sequences / drives, sharded by DDP rank and worker.
- ``collate`` / ``Collator``: variable-size parts padded with a mask or flat with offsets.

Modules: ``datasets`` (the Dataset classes), ``tensors`` (array and annotation to tensor
conversions, the scaled-image pixel convention), ``collate``, ``batch_memory``.
"""

from __future__ import annotations

from zod.torch.collate import (
    Collator,
    collate,
    collate_flat,
    collate_pad,
    flat_concat,
    pad_stack,
    unflatten,
)
from zod.torch.datasets import ZodFramesDataset, ZodSequencesDataset, ZodStreamDataset, shard_info
from zod.torch.tensors import scale_intrinsics, scale_pixels

__all__ = [
    "Collator",
    "ZodFramesDataset",
    "ZodSequencesDataset",
    "ZodStreamDataset",
    "collate",
    "collate_flat",
    "collate_pad",
    "flat_concat",
    "pad_stack",
    "scale_intrinsics",
    "scale_pixels",
    "shard_info",
    "unflatten",
]
