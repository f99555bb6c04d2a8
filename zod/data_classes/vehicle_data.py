"""The reference devkit's ``zod.data_classes.vehicle_data`` module.

Its names are the same objects as in ``zod.vehicle_data`` (no copies).
"""

from __future__ import annotations

from zod.vehicle_data import EgoVehicleControls, EgoVehicleData, Satellite, VehicleData

__all__ = [
    "EgoVehicleControls",
    "EgoVehicleData",
    "Satellite",
    "VehicleData",
]
