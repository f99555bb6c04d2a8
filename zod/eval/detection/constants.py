"""Which object classes the detection evaluation scores (spec section 11).

Every class and subclass of the object annotations is evaluated except ``Unclear`` and the
rarest subclasses (``Vehicle_Other``, ``VulnerableVehicle_Other``,
``VulnerableVehicle_Wheelchair``), as in the reference devkit. Two levels:

- class level: the 10 classes (``Vehicle``, ``Pedestrian``, ...);
- subclass level: the subclasses (``Vehicle_Car``, ``TrafficSign_Front``, ...), where a class
  without subclasses (``Pedestrian``) is its own subclass.

A ground-truth object counts for its class and for its subclass.
"""

from __future__ import annotations

from zod.annotations.classes import OBJECT_CLASSES, OBJECT_SUBCLASSES

EXCLUDED_CLASSES = frozenset(
    {"Unclear", "Vehicle_Other", "VulnerableVehicle_Other", "VulnerableVehicle_Wheelchair"}
)

EVALUATION_CLASSES: list[str] = sorted(set(OBJECT_CLASSES + OBJECT_SUBCLASSES) - EXCLUDED_CLASSES)
"""The 27 evaluated names, sorted (the reference devkit's list)."""

CLASS_LEVEL: tuple[str, ...] = tuple(c for c in OBJECT_CLASSES if c not in EXCLUDED_CLASSES)
"""Evaluated class-level names."""

SUBCLASS_LEVEL: tuple[str, ...] = tuple(c for c in OBJECT_SUBCLASSES if c not in EXCLUDED_CLASSES)
"""Evaluated subclass-level names (classes without subclasses included)."""

LEVELS: dict[str, tuple[str, ...]] = {
    "all": tuple(EVALUATION_CLASSES),
    "class": CLASS_LEVEL,
    "subclass": SUBCLASS_LEVEL,
}
"""Named class sets a user can evaluate on."""

DEFAULT_RANGE_M = 250.0
"""Ground truths and predictions farther than this (xy, from the frame origin) are ignored."""

DISTANCE_BINS_M: tuple[float, ...] = (0.0, 50.0, 100.0, 150.0, 245.0)
"""Default distance bins (m, xy) of ``evaluate_by_range``: ZOD annotates objects to 245 m."""

DIST_THRESHOLDS_M: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
"""Centre-distance thresholds of the AP; the TP errors use 2 m."""


def superclass_of(name: str) -> str:
    """The class of a class or subclass name (``"Vehicle_Car"`` -> ``"Vehicle"``)."""
    return name.split("_", 1)[0]


def subclass_name(class_name: str, subclass: str | None) -> str | None:
    """Full subclass name from a class and a (short or full) subclass, or None.

    ``("Vehicle", "Car")`` and ``("Vehicle", "Vehicle_Car")`` give ``"Vehicle_Car"``;
    ``("Pedestrian", None)`` gives ``None``.
    """
    if not subclass:
        return None
    if subclass == class_name or subclass.startswith(class_name + "_") or subclass == "Unclear":
        return subclass
    return f"{class_name}_{subclass}"
