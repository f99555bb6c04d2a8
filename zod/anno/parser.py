"""The reference devkit's ``zod.anno.parser`` module.

Its names are the same objects as in ``zod.annotations.parser`` (no copies).
"""

from __future__ import annotations

from zod.annotations.parser import AnnotationFile

__all__ = [
    "AnnotationFile",
]
