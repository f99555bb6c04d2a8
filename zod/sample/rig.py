"""The simulated sensor rig: camera, lidar and radar mounted on the ego car (spec section 4).

Ego frame (x forward, y left, z up), origin on the ground below the rear axle, seen from above::

                 y (left)
                 ^
                 |      lidar (1.25, 0, 1.95)   camera (1.9, 0, 1.45)   radar (3.8, 0, 0.55)
     rear -1.0 --o------------------------------------------------------- 3.8 front --> x
                 |
                 (the car body spans x in [-1.0, 3.8], y in [-0.95, 0.95], z up to 1.5)

The lidar is mounted as the real one: its x axis points to the right of the car and its y axis
forward (ego_from_lidar rotates by -90 degrees about z), plus a small tilt so that no code can
get away with assuming axis-aligned extrinsics. The camera looks forward (camera x right, y down,
z forward) and is pitched down by 1.5 degrees. The radar frame has the ego axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from zod.geometry.fisheye import distort_angles, fit_undistortion, undistort_radii
from zod.geometry.transforms import make_transforms

NUM_DIODES = 128


def _rot_x(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def diode_elevations_rad() -> np.ndarray:
    """Elevation angle (128,) of each diode, diode 0 the highest; dense around the horizon.

    16 diodes from +15 to +2 degrees, 72 from +2 to -3 (0.07 degree spacing: far objects get
    several rings) and 40 from -3 to -25 degrees.
    """
    top = np.linspace(15.0, 2.0, 16, endpoint=False)
    middle = np.linspace(2.0, -3.0, 72, endpoint=False)
    bottom = np.linspace(-3.0, -25.0, 40)
    return np.deg2rad(np.concatenate([top, middle, bottom]))


@dataclass(frozen=True)
class SensorRig:
    """Extrinsics (ego_from_sensor, (4, 4)) and camera model of the sample's car."""

    ego_from_lidar: np.ndarray
    ego_from_camera: np.ndarray
    ego_from_radar: np.ndarray
    intrinsics: np.ndarray  # (3, 4)
    distortion: np.ndarray  # (4,) k1..k4
    undistortion: np.ndarray  # (4,) fitted inverse
    image_size: tuple[int, int]  # width, height
    field_of_view_deg: tuple[float, float]  # horizontal, vertical
    diode_elevation_rad: np.ndarray  # (128,)

    def calibration_json(self, with_radar: bool) -> dict[str, Any]:
        """The ``calibration.json`` object (spec section 4); radar extrinsics for clips only."""
        entry: dict[str, Any] = {
            "extrinsics": self.ego_from_camera.tolist(),
            "intrinsics": self.intrinsics.tolist(),
            "distortion": self.distortion.tolist(),
            "undistortion": self.undistortion.tolist(),
            "image_dimensions": [int(self.image_size[0]), int(self.image_size[1])],
            "field_of_view": [float(self.field_of_view_deg[0]), float(self.field_of_view_deg[1])],
            "lidar_extrinsics": self.ego_from_lidar.tolist(),
        }
        if with_radar:
            entry["radar_extrinsics"] = self.ego_from_radar.tolist()
        return {"FC": entry}


def make_rig(image_width: int = 3848, image_height: int = 2168) -> SensorRig:
    """The fixed rig of every generated item: a ~120 degree fisheye, a 128-diode lidar, a radar."""
    base_lidar = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # x right, y fwd
    rot_lidar = _rot_z(np.deg2rad(0.4)) @ _rot_y(np.deg2rad(-0.3)) @ base_lidar
    ego_from_lidar = make_transforms(rot_lidar, np.array([1.25, 0.0, 1.95]))

    base_camera = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # x right, y down
    rot_camera = _rot_y(np.deg2rad(1.5)) @ _rot_z(np.deg2rad(-0.3)) @ base_camera
    ego_from_camera = make_transforms(rot_camera, np.array([1.9, 0.02, 1.45]))

    ego_from_radar = make_transforms(_rot_z(np.deg2rad(0.5)), np.array([3.8, 0.0, 0.55]))

    distortion = np.array([-0.035, 0.004, -0.0015, 0.0001])
    width, height = int(image_width), int(image_height)
    cx, cy = width / 2.0 - 4.3, height / 2.0 + 6.7
    # focal length so that the image spans ~120 degrees horizontally
    half_hfov = np.deg2rad(60.0)
    focal = float(cx / distort_angles(np.array(half_hfov), distortion))
    intrinsics = np.array([[focal, 0.0, cx, 0.0], [0.0, focal, cy, 0.0], [0.0, 0.0, 1.0, 0.0]])
    undistortion = fit_undistortion(distortion)
    radii = np.array([cx, width - cx, cy, height - cy]) / focal
    theta = undistort_radii(radii, distortion=distortion)
    fov = (float(np.degrees(theta[0] + theta[1])), float(np.degrees(theta[2] + theta[3])))
    return SensorRig(
        ego_from_lidar=ego_from_lidar,
        ego_from_camera=ego_from_camera,
        ego_from_radar=ego_from_radar,
        intrinsics=intrinsics,
        distortion=distortion,
        undistortion=np.asarray(undistortion, dtype=np.float64),
        image_size=(width, height),
        field_of_view_deg=fov,
        diode_elevation_rad=diode_elevations_rad(),
    )
