"""The reference devkit's ``zod.data_classes.metadata`` module.

Its names are the same objects as in ``zod.metadata`` (no copies).
"""

from __future__ import annotations

from zod.metadata import FrameMetaData, SequenceMetadata

__all__ = [
    "FrameMetaData",
    "SequenceMetadata",
]
