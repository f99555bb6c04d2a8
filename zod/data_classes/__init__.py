"""The reference devkit's ``zod.data_classes`` package.

Its names are the same objects as in ``zod.calibration``, ``zod.geometry.pose`` and
``zod.sensors.lidar`` (no copies). They are imported on first use, so that importing one
submodule (``zod.data_classes.box``) costs no more than the module it serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zod._lazy import lazy_getattr

_LAZY_NAMES = {
    "Calibration": "zod.calibration",
    "LidarData": "zod.sensors.lidar",
    "Pose": "zod.geometry.pose",
}

__all__ = [
    "Calibration",
    "LidarData",
    "Pose",
]

__getattr__ = lazy_getattr(__name__, _LAZY_NAMES, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from zod.calibration import Calibration
    from zod.geometry.pose import Pose
    from zod.sensors.lidar import LidarData
