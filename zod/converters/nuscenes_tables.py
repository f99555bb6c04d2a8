"""The fixed tables of the nuScenes export: categories, attributes, visibility, sensors.

The category table maps every ZOD class / subclass (spec section 11) to a nuScenes-style
category name. Where nuScenes has the same thing, its own name is used, so that
nuscenes-devkit's ``category_to_detection_name`` (reproduced in ``DETECTION_NAME_OF_CATEGORY``)
puts the box in one of its 10 detection classes; the other names follow nuScenes' dotted style
and are kept in the tables but never evaluated by nuscenes-devkit.

=================================== ================================== ======================
ZOD (reference subclass)            nuScenes-style category            detection class
=================================== ================================== ======================
Vehicle_Car, Vehicle_Van            vehicle.car                        car
Vehicle_Truck                       vehicle.truck                      truck
Vehicle_Bus                         vehicle.bus.rigid                  bus
Vehicle_Trailer                     vehicle.trailer                    trailer
Vehicle_HeavyEquip                  vehicle.construction               construction_vehicle
Vehicle_TramTrain                   vehicle.tram                       -
Vehicle_Emergency                   vehicle.emergency                  -
Vehicle_Other                       vehicle.other                      -
VulnerableVehicle_Bicycle           vehicle.bicycle                    bicycle
VulnerableVehicle_Motorcycle        vehicle.motorcycle                 motorcycle
VulnerableVehicle_NoRider           by its type: vehicle.bicycle /     bicycle / motorcycle
                                    vehicle.motorcycle / vehicle.cycle
VulnerableVehicle_Stroller          human.pedestrian.stroller          -
VulnerableVehicle_Wheelchair        human.pedestrian.wheelchair        -
VulnerableVehicle_PersonalTransp.   human.pedestrian.personal_mobility -
VulnerableVehicle_Other             vehicle.cycle                      -
Pedestrian                          human.pedestrian.adult             pedestrian
Animal                              animal                             -
PoleObject                          static_object.pole                 -
TrafficBeacon                       static_object.traffic_beacon       -
TrafficSign_Front / _Back           static_object.traffic_sign.front / .back  -
TrafficSignal_Front / _Back         static_object.traffic_signal.front / .back  -
TrafficGuide                        movable_object.trafficcone         traffic_cone
DynamicBarrier                      movable_object.barrier             barrier
<class>_Artificial                  artificial.<class in snake case>   -
unclear objects                     unclear                            -
=================================== ================================== ======================

Notes: nuScenes counts vans as cars ("sedans, ..., vans, mini-vans, SUVs"), so ZOD's Van goes
there; ZOD's TrafficGuide (cones, guide posts) is the nearest thing to nuScenes' traffic cone,
an approximation; ZOD has no adult / child distinction (every pedestrian is ``adult``).
"""

from __future__ import annotations

import hashlib
import re

from zod.annotations.classes import OBJECT_CLASSES, OBJECT_SUBCLASSES

TOKEN_NAMESPACE = "zod-devkit/nuscenes/"


def token(*parts: str) -> str:
    """A deterministic nuScenes token (32 hex digits) of a path of names.

    Every record's token is a hash of what it is (``token("sample", "frames", "009158", "0")``),
    so workers make their records independently and a rerun gives the same tables.
    """
    return hashlib.md5((TOKEN_NAMESPACE + "/".join(parts)).encode()).hexdigest()


# --------------------------------------------------------------------------------- categories
# ZOD subclass (the reference rule) -> (category name, description)
CATEGORY_OF_SUBCLASS: dict[str, str] = {
    "Vehicle_Car": "vehicle.car",
    "Vehicle_Van": "vehicle.car",
    "Vehicle_Truck": "vehicle.truck",
    "Vehicle_Bus": "vehicle.bus.rigid",
    "Vehicle_Trailer": "vehicle.trailer",
    "Vehicle_HeavyEquip": "vehicle.construction",
    "Vehicle_TramTrain": "vehicle.tram",
    "Vehicle_Emergency": "vehicle.emergency",
    "Vehicle_Other": "vehicle.other",
    "VulnerableVehicle_Bicycle": "vehicle.bicycle",
    "VulnerableVehicle_Motorcycle": "vehicle.motorcycle",
    "VulnerableVehicle_Stroller": "human.pedestrian.stroller",
    "VulnerableVehicle_Wheelchair": "human.pedestrian.wheelchair",
    "VulnerableVehicle_PersonalTransporter": "human.pedestrian.personal_mobility",
    "VulnerableVehicle_Other": "vehicle.cycle",
    "Pedestrian": "human.pedestrian.adult",
    "Animal": "animal",
    "PoleObject": "static_object.pole",
    "TrafficBeacon": "static_object.traffic_beacon",
    "TrafficSign_Front": "static_object.traffic_sign.front",
    "TrafficSign_Back": "static_object.traffic_sign.back",
    "TrafficSignal_Front": "static_object.traffic_signal.front",
    "TrafficSignal_Back": "static_object.traffic_signal.back",
    "TrafficGuide": "movable_object.trafficcone",
    "DynamicBarrier": "movable_object.barrier",
    "Unclear": "unclear",
}

# A VulnerableVehicle without rider keeps the category of its type (the attribute says "without
# rider"); the reference subclass would say only NoRider.
CATEGORY_OF_NO_RIDER_TYPE: dict[str, str] = {
    "Bicycle": "vehicle.bicycle",
    "Motorcycle": "vehicle.motorcycle",
}
NO_RIDER_DEFAULT = "vehicle.cycle"
UNCLEAR = "unclear"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


ARTIFICIAL_CATEGORIES: dict[str, str] = {
    f"{c}_Artificial": f"artificial.{_snake(c)}" for c in OBJECT_CLASSES if c != "Unclear"
}

CATEGORY_DESCRIPTIONS: dict[str, str] = {
    "vehicle.car": "ZOD Vehicle_Car and Vehicle_Van (nuScenes counts vans as cars).",
    "vehicle.truck": "ZOD Vehicle_Truck.",
    "vehicle.bus.rigid": "ZOD Vehicle_Bus (ZOD does not tell rigid from bendy buses).",
    "vehicle.trailer": "ZOD Vehicle_Trailer.",
    "vehicle.construction": "ZOD Vehicle_HeavyEquip.",
    "vehicle.tram": "ZOD Vehicle_TramTrain (no nuScenes category).",
    "vehicle.emergency": "ZOD Vehicle_Emergency (police, ambulance, fire: not told apart).",
    "vehicle.other": "ZOD Vehicle_Other.",
    "vehicle.bicycle": "ZOD VulnerableVehicle_Bicycle, and NoRider objects of type Bicycle.",
    "vehicle.motorcycle": "ZOD VulnerableVehicle_Motorcycle, and NoRider of type Motorcycle.",
    "vehicle.cycle": "ZOD VulnerableVehicle_Other, and NoRider objects of other types.",
    "human.pedestrian.stroller": "ZOD VulnerableVehicle_Stroller.",
    "human.pedestrian.wheelchair": "ZOD VulnerableVehicle_Wheelchair.",
    "human.pedestrian.personal_mobility": "ZOD VulnerableVehicle_PersonalTransporter.",
    "human.pedestrian.adult": "ZOD Pedestrian (ZOD does not tell adults from children).",
    "animal": "ZOD Animal.",
    "static_object.pole": "ZOD PoleObject.",
    "static_object.traffic_beacon": "ZOD TrafficBeacon.",
    "static_object.traffic_sign.front": "ZOD TrafficSign_Front (content visible).",
    "static_object.traffic_sign.back": "ZOD TrafficSign_Back.",
    "static_object.traffic_signal.front": "ZOD TrafficSignal_Front (content visible).",
    "static_object.traffic_signal.back": "ZOD TrafficSignal_Back.",
    "movable_object.trafficcone": "ZOD TrafficGuide (cones, guide posts: an approximation).",
    "movable_object.barrier": "ZOD DynamicBarrier.",
    "unclear": "ZOD objects marked unclear (never evaluated).",
}
CATEGORY_DESCRIPTIONS.update(
    {name: f"ZOD {sub} (an artificial object)." for sub, name in ARTIFICIAL_CATEGORIES.items()}
)
CATEGORY_NAMES: tuple[str, ...] = tuple(dict.fromkeys(CATEGORY_DESCRIPTIONS))

# nuscenes-devkit's category_to_detection_name (nuscenes/eval/detection/utils.py), the categories
# its detection evaluation scores.
DETECTION_NAME_OF_CATEGORY: dict[str, str] = {
    "movable_object.barrier": "barrier",
    "vehicle.bicycle": "bicycle",
    "vehicle.bus.bendy": "bus",
    "vehicle.bus.rigid": "bus",
    "vehicle.car": "car",
    "vehicle.construction": "construction_vehicle",
    "vehicle.motorcycle": "motorcycle",
    "human.pedestrian.adult": "pedestrian",
    "human.pedestrian.child": "pedestrian",
    "human.pedestrian.construction_worker": "pedestrian",
    "human.pedestrian.police_officer": "pedestrian",
    "movable_object.trafficcone": "traffic_cone",
    "vehicle.trailer": "trailer",
    "vehicle.truck": "truck",
}
DETECTION_NAMES: tuple[str, ...] = (
    "car",
    "truck",
    "bus",
    "trailer",
    "construction_vehicle",
    "pedestrian",
    "motorcycle",
    "bicycle",
    "traffic_cone",
    "barrier",
)


def category_of(
    subclass: str, unclear: bool, object_type: str | None, with_rider: bool | None
) -> str:
    """The category name of one object (see the module table)."""
    if unclear or subclass == "Unclear":
        return UNCLEAR
    if subclass.endswith("_NoRider") or (
        subclass.startswith("VulnerableVehicle_") and with_rider is False
    ):
        return CATEGORY_OF_NO_RIDER_TYPE.get(str(object_type), NO_RIDER_DEFAULT)
    if subclass in ARTIFICIAL_CATEGORIES:
        return ARTIFICIAL_CATEGORIES[subclass]
    name = CATEGORY_OF_SUBCLASS.get(subclass)
    if name is None:  # a class or subclass outside spec section 11: keep it visible
        return f"zod.{_snake(subclass)}"
    return name


def all_subclasses() -> tuple[str, ...]:
    """Every ZOD subclass name the category table must cover (spec section 11)."""
    return tuple(OBJECT_SUBCLASSES) + tuple(ARTIFICIAL_CATEGORIES)


# --------------------------------------------------------------------------------- attributes
# Only what ZOD's properties say: with_rider for bicycles and motorcycles. nuScenes' other
# attributes (vehicle.moving / parked / stopped, pedestrian.moving / standing / sitting) have no
# ZOD property and are listed (so that tools that expect them find them) but never used.
ATTRIBUTES: dict[str, str] = {
    "cycle.with_rider": "There is a rider on the bicycle or motorcycle (ZOD with_rider True).",
    "cycle.without_rider": "No rider on the bicycle or motorcycle (ZOD with_rider False).",
    "vehicle.moving": "Not set by the ZOD export (no ZOD property).",
    "vehicle.parked": "Not set by the ZOD export (no ZOD property).",
    "vehicle.stopped": "Not set by the ZOD export (no ZOD property).",
    "pedestrian.moving": "Not set by the ZOD export (no ZOD property).",
    "pedestrian.sitting_lying_down": "Not set by the ZOD export (no ZOD property).",
    "pedestrian.standing": "Not set by the ZOD export (no ZOD property).",
}
CYCLE_CATEGORIES = frozenset({"vehicle.bicycle", "vehicle.motorcycle", "vehicle.cycle"})


def attribute_of(category: str, with_rider: bool | None) -> str | None:
    """The one attribute of an object (nuScenes allows at most one per evaluated box), or None."""
    if category in CYCLE_CATEGORIES and with_rider is not None:
        return "cycle.with_rider" if with_rider else "cycle.without_rider"
    return None


# --------------------------------------------------------------------------------- visibility
# nuScenes' four visibility bins (token, level, description) and ZOD's occlusion_ratio on them.
VISIBILITY: tuple[tuple[str, str, str], ...] = (
    ("1", "v0-40", "visibility of whole object is between 0 and 40%"),
    ("2", "v40-60", "visibility of whole object is between 40 and 60%"),
    ("3", "v60-80", "visibility of whole object is between 60 and 80%"),
    ("4", "v80-100", "visibility of whole object is between 80 and 100%"),
)
VISIBILITY_OF_OCCLUSION: dict[str, str] = {
    "None": "4",
    "Light": "3",
    "Medium": "2",
    "Heavy": "1",
    "VeryHeavy": "1",
}
UNKNOWN_VISIBILITY = ""  # occlusion not annotated: nuScenes' "no visibility" (empty token)


def visibility_of(occlusion: str | None) -> str:
    """Visibility token of a ZOD occlusion ratio (None -> most visible, VeryHeavy -> least)."""
    if occlusion is None:
        return UNKNOWN_VISIBILITY
    return VISIBILITY_OF_OCCLUSION.get(str(occlusion), UNKNOWN_VISIBILITY)
