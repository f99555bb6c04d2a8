"""The reference devkit's ``zod.visualization.oxts_on_image`` module.

Its names are the same objects as in ``zod.viz.reference`` (no copies).
"""

from __future__ import annotations

from zod.viz.reference import visualize_oxts_on_image

__all__ = [
    "visualize_oxts_on_image",
]
