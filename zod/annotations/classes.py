"""Class lists of the annotations (spec §11) and the traffic-sign class table.

The traffic-sign table is ``zod/resources/traffic-sign-classes.tsv`` (index, class, sample
counts); its index column is the conventional class index.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

OBJECT_CLASSES_DYNAMIC = ("Vehicle", "VulnerableVehicle", "Pedestrian", "Animal")
OBJECT_CLASSES_STATIC = (
    "PoleObject",
    "TrafficBeacon",
    "TrafficSign",
    "TrafficSignal",
    "TrafficGuide",
    "DynamicBarrier",
)
OBJECT_CLASSES = (*OBJECT_CLASSES_DYNAMIC, *OBJECT_CLASSES_STATIC, "Unclear")
CLASSES_WITH_SUBCLASSES = ("Vehicle", "VulnerableVehicle", "TrafficSign", "TrafficSignal")
VEHICLE_SUBCLASSES = (
    "Car",
    "Van",
    "Truck",
    "Bus",
    "Trailer",
    "TramTrain",
    "HeavyEquip",
    "Emergency",
    "Other",
)
VULNERABLE_VEHICLE_SUBCLASSES = (
    "Bicycle",
    "Motorcycle",
    "Stroller",
    "Wheelchair",
    "PersonalTransporter",
    "NoRider",
    "Other",
)
OBJECT_SUBCLASSES = (
    *[c for c in OBJECT_CLASSES if c not in CLASSES_WITH_SUBCLASSES],
    *[f"Vehicle_{t}" for t in VEHICLE_SUBCLASSES],
    *[f"VulnerableVehicle_{t}" for t in VULNERABLE_VEHICLE_SUBCLASSES],
    "TrafficSign_Front",
    "TrafficSign_Back",
    "TrafficSignal_Front",
    "TrafficSignal_Back",
)
INCONCLUSIVE = "Inconclusive"  # read as class "Unclear", unclear = True

TRAFFIC_SIGN_TSV = Path(__file__).resolve().parent.parent / "resources" / "traffic-sign-classes.tsv"


@lru_cache(maxsize=1)
def _traffic_sign_table() -> tuple[dict[str, int], dict[int, str], dict[str, tuple[int, int]]]:
    name_to_idx: dict[str, int] = {}
    counts: dict[str, tuple[int, int]] = {}
    with open(TRAFFIC_SIGN_TSV, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            name_to_idx[row["class"]] = int(row["index"])
            counts[row["class"]] = (
                int(row.get("train_samples") or 0),
                int(row.get("val_samples") or 0),
            )
    return name_to_idx, {i: n for n, i in name_to_idx.items()}, counts


CLASS_NAME_TO_CLASS_IDX: dict[str, int] = dict(_traffic_sign_table()[0])
CLASS_IDX_TO_CLASS_NAME: dict[int, str] = dict(_traffic_sign_table()[1])
TRAFFIC_SIGN_CLASSES: tuple[str, ...] = tuple(
    CLASS_IDX_TO_CLASS_NAME[i] for i in sorted(CLASS_IDX_TO_CLASS_NAME)
)
TRAIN_SAMPLES_PER_CLASS_NAME = {n: c[0] for n, c in _traffic_sign_table()[2].items()}
VAL_SAMPLES_PER_CLASS_NAME = {n: c[1] for n, c in _traffic_sign_table()[2].items()}


def get_class_idx(class_name: str) -> int | None:
    """Index of a traffic-sign class; ``None`` for ``unclear`` or a name not in the table.

    (The reference raises ``ValueError`` for unknown names; real files hold names outside the
    list, spec §14, so ours returns ``None`` and the annotation keeps its name.)
    """
    return CLASS_NAME_TO_CLASS_IDX.get(class_name)


def get_class_name(class_idx: int) -> str:
    """Name of a traffic-sign class index (``ValueError`` if out of the table)."""
    if class_idx not in CLASS_IDX_TO_CLASS_NAME:
        raise ValueError(f"Unknown traffic-sign class index: {class_idx}")
    return CLASS_IDX_TO_CLASS_NAME[class_idx]
