"""The reference devkit's ``zod.data_classes.oxts`` module (deprecated there too: it warns).

Its names are the same objects as in ``zod.ego_motion`` and ``zod.geometry.transforms`` (no
copies).
"""

from __future__ import annotations

import warnings

from zod.ego_motion import EgoMotion
from zod.geometry.transforms import interpolate_transforms

__all__ = [
    "EgoMotion",
    "interpolate_transforms",
]

warnings.warn(
    "The 'zod.data_classes.oxts' module is deprecated; use 'zod.data_classes.ego_motion' "
    "(or our own 'zod.ego_motion') instead.",
    DeprecationWarning,
    stacklevel=2,
)
