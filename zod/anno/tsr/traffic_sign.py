"""The reference devkit's ``zod.anno.tsr.traffic_sign`` module.

Its names are the same objects as in ``zod.annotations.traffic_signs`` (no copies).
"""

from __future__ import annotations

from zod.annotations.traffic_signs import TrafficSignAnnotation

__all__ = [
    "TrafficSignAnnotation",
]
