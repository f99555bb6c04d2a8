"""The simulated world of one item: the ego trajectory, the road and the objects on it.

World frame: a local east-north-up frame whose origin is the ego position at the first oxts
sample (spec section 5: "the origin is the first sample"); the ground is the plane z = 0.

Road frame: the ego position and heading at the keyframe, on the ground. Lanes, markings and
objects are laid out in it (d forward along the road, l to the left)::

          l (left)
          ^     oncoming lane   l in [1.75, 5.25]     road edge l = +5.25
          |  ==================================   double solid line l = +1.75 +- 0.1
        --o-------------------------------------> d (forward)    ego lane l in [-1.75, 1.75]
          |  -----     -----     -----     -----   dashed line l = -1.75 (3 m dash, 9 m period)
          |     right lane      l in [-5.25, -1.75]
          |  __________________________________   solid edge line l = -5.25 + 0.1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zod.geometry.transforms import invert_transforms, make_transforms

LANE_WIDTH_M = 3.5
ROAD_HALF_WIDTH_M = 1.5 * LANE_WIDTH_M  # 5.25
LINE_HALF_WIDTH_M = 0.075
DASH_LENGTH_M = 3.0
DASH_PERIOD_M = 9.0


def _rotations_zyx(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Rz(yaw) @ Ry(pitch) @ Rx(roll) for arrays (N,) -> (N, 3, 3)."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    out = np.empty(np.shape(yaw) + (3, 3))
    out[..., 0, 0] = cy * cp
    out[..., 0, 1] = cy * sp * sr - sy * cr
    out[..., 0, 2] = cy * sp * cr + sy * sr
    out[..., 1, 0] = sy * cp
    out[..., 1, 1] = sy * sp * sr + cy * cr
    out[..., 1, 2] = sy * sp * cr - cy * sr
    out[..., 2, 0] = -sp
    out[..., 2, 1] = cp * sr
    out[..., 2, 2] = cp * cr
    return out


@dataclass
class EgoState:
    """Ego kinematics at N times (all arrays (N,) or (N, 3)); angles in rad, ego-frame rates."""

    time_s: np.ndarray
    position_world: np.ndarray  # (N, 3)
    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    speed_mps: np.ndarray
    accel_long_mps2: np.ndarray
    yaw_rate: np.ndarray
    pitch_rate: np.ndarray
    roll_rate: np.ndarray

    @property
    def world_from_ego(self) -> np.ndarray:
        """(N, 4, 4) ego poses."""
        return make_transforms(_rotations_zyx(self.yaw, self.pitch, self.roll), self.position_world)

    @property
    def velocity_ego(self) -> np.ndarray:
        """(N, 3) velocity in the ego frame (no side slip)."""
        zeros = np.zeros_like(self.speed_mps)
        return np.stack([self.speed_mps, zeros, zeros], axis=1)

    @property
    def acceleration_ego(self) -> np.ndarray:
        """(N, 3) acceleration in the ego frame (longitudinal, centripetal, 0; gravity removed)."""
        return np.stack(
            [self.accel_long_mps2, self.speed_mps * self.yaw_rate, np.zeros_like(self.speed_mps)],
            axis=1,
        )

    @property
    def angular_rates_ego(self) -> np.ndarray:
        """(N, 3) body rates (roll, pitch, yaw rates; the Euler rates at these small angles)."""
        return np.stack([self.roll_rate, self.pitch_rate, self.yaw_rate], axis=1)


@dataclass
class Trajectory:
    """A smooth drive: speed and yaw rate are slow sinusoids, pitch and roll small oscillations.

    Position is the integral of the velocity on a 1 ms grid from ``origin_time_s`` (where the ego
    is at the world origin); everything else is closed form.
    """

    origin_time_s: float
    yaw0: float
    speed0: float
    speed_amp: float
    speed_freq: float
    speed_phase: float
    yaw_rate_amp: float
    yaw_rate_freq: float
    yaw_rate_phase: float
    pitch_amp: float
    pitch_freq: float
    roll_amp: float
    roll_freq: float
    duration_s: float
    _grid_t: np.ndarray = field(init=False, repr=False)
    _grid_xy: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        steps = int(np.ceil(self.duration_s * 1000.0)) + 2
        t = np.arange(steps) / 1000.0
        speed, yaw = self._speed(t), self._yaw(t)
        vel = np.stack([speed * np.cos(yaw), speed * np.sin(yaw)], axis=1)
        xy = np.zeros((steps, 2))
        xy[1:] = np.cumsum(0.5 * (vel[1:] + vel[:-1]) / 1000.0, axis=0)
        self._grid_t, self._grid_xy = t, xy

    # closed-form pieces, t relative to origin_time_s
    def _speed(self, t: np.ndarray) -> np.ndarray:
        return self.speed0 + self.speed_amp * np.sin(
            2 * np.pi * self.speed_freq * t + self.speed_phase
        )

    def _accel(self, t: np.ndarray) -> np.ndarray:
        w = 2 * np.pi * self.speed_freq
        return self.speed_amp * w * np.cos(w * t + self.speed_phase)

    def _yaw_rate(self, t: np.ndarray) -> np.ndarray:
        return self.yaw_rate_amp * np.sin(2 * np.pi * self.yaw_rate_freq * t + self.yaw_rate_phase)

    def _yaw(self, t: np.ndarray) -> np.ndarray:
        w = 2 * np.pi * self.yaw_rate_freq
        return self.yaw0 - self.yaw_rate_amp / w * (
            np.cos(w * t + self.yaw_rate_phase) - np.cos(self.yaw_rate_phase)
        )

    def state(self, time_s: np.ndarray | float) -> EgoState:
        """Ego state at epoch times (N,) (must lie within the simulated span)."""
        times = np.atleast_1d(np.asarray(time_s, dtype=np.float64))
        t = times - self.origin_time_s
        if t.size and (t.min() < -1e-6 or t.max() > self._grid_t[-1] + 1e-6):
            raise ValueError("time outside the simulated trajectory")
        x = np.interp(t, self._grid_t, self._grid_xy[:, 0])
        y = np.interp(t, self._grid_t, self._grid_xy[:, 1])
        wp, wr = 2 * np.pi * self.pitch_freq, 2 * np.pi * self.roll_freq
        return EgoState(
            time_s=times,
            position_world=np.stack([x, y, np.zeros_like(x)], axis=1),
            yaw=self._yaw(t),
            pitch=self.pitch_amp * np.sin(wp * t),
            roll=self.roll_amp * np.sin(wr * t),
            speed_mps=self._speed(t),
            accel_long_mps2=self._accel(t),
            yaw_rate=self._yaw_rate(t),
            pitch_rate=self.pitch_amp * wp * np.cos(wp * t),
            roll_rate=self.roll_amp * wr * np.cos(wr * t),
        )

    def world_from_ego(self, time_s: np.ndarray | float) -> np.ndarray:
        """(N, 4, 4) ego poses at epoch times (N,)."""
        return self.state(time_s).world_from_ego


def make_trajectory(
    rng: np.random.Generator, origin_time_s: float, duration_s: float
) -> Trajectory:
    """A random but tame drive (8-14 m/s, |yaw rate| < 0.012 rad/s, pitch/roll < 0.35 deg)."""
    return Trajectory(
        origin_time_s=origin_time_s,
        yaw0=float(rng.uniform(-np.pi, np.pi)),
        speed0=float(rng.uniform(8.0, 14.0)),
        speed_amp=float(rng.uniform(0.3, 1.5)),
        speed_freq=float(rng.uniform(0.05, 0.12)),
        speed_phase=float(rng.uniform(0, 2 * np.pi)),
        yaw_rate_amp=float(rng.uniform(0.004, 0.012)),
        yaw_rate_freq=float(rng.uniform(0.06, 0.12)),
        yaw_rate_phase=float(rng.uniform(0, 2 * np.pi)),
        pitch_amp=float(np.deg2rad(rng.uniform(0.1, 0.35))),
        pitch_freq=float(rng.uniform(0.3, 0.7)),
        roll_amp=float(np.deg2rad(rng.uniform(0.05, 0.25))),
        roll_freq=float(rng.uniform(0.3, 0.7)),
        duration_s=duration_s,
    )


# --- objects ---------------------------------------------------------------------------------

# class, type, (L, W, H), height of the box bottom above ground (m), RGB colour, lidar reflectivity
_TEMPLATES: dict[
    str, tuple[str, str | None, tuple[float, float, float], float, tuple[int, int, int], int]
] = {
    "car": ("Vehicle", "Car", (4.5, 1.85, 1.5), 0.0, (190, 35, 35), 70),
    "van": ("Vehicle", "Van", (5.2, 2.0, 2.2), 0.0, (235, 235, 225), 80),
    "truck": ("Vehicle", "Truck", (9.5, 2.5, 3.5), 0.0, (40, 70, 170), 75),
    "bus": ("Vehicle", "Bus", (12.0, 2.55, 3.1), 0.0, (225, 185, 30), 75),
    "trailer": ("Vehicle", "Trailer", (6.0, 2.4, 2.8), 0.0, (120, 120, 130), 60),
    "bicycle": ("VulnerableVehicle", "Bicycle", (1.8, 0.6, 1.7), 0.0, (30, 190, 200), 50),
    "motorcycle": ("VulnerableVehicle", "Motorcycle", (2.1, 0.8, 1.5), 0.0, (20, 120, 60), 60),
    "pedestrian": ("Pedestrian", None, (0.6, 0.6, 1.75), 0.0, (235, 120, 200), 40),
    "animal": ("Animal", None, (1.3, 0.5, 0.9), 0.0, (130, 90, 40), 30),
    "pole": ("PoleObject", None, (0.25, 0.25, 5.0), 0.0, (155, 155, 150), 90),
    "beacon": ("TrafficBeacon", None, (0.4, 0.4, 1.0), 0.0, (255, 95, 0), 200),
    "sign": ("TrafficSign", None, (0.08, 0.75, 0.75), 1.7, (245, 245, 250), 230),
    "signal": ("TrafficSignal", None, (0.3, 0.4, 1.0), 3.0, (25, 25, 25), 150),
    "guide": ("TrafficGuide", None, (0.3, 0.3, 1.0), 0.0, (255, 150, 0), 180),
    "barrier": ("DynamicBarrier", None, (2.0, 0.4, 1.0), 0.0, (250, 240, 0), 120),
    "unknown": ("Inconclusive", None, (0.8, 0.8, 0.8), 0.0, (95, 100, 120), 40),
}


@dataclass
class ObjectSpec:
    """One object of the cast: where it is (road frame) and what its annotation says."""

    template: str
    d_m: tuple[float, float]  # range of forward distance
    l_m: float  # lateral position (left positive)
    heading: float = 0.0  # relative to the road (0 = same direction as the ego)
    speed: float | str = 0.0  # m/s along its heading, or "ego" to follow the ego speed
    annotated: bool = True
    has_3d: bool = True
    props: dict[str, Any] = field(default_factory=dict)


def default_cast(rng: np.random.Generator) -> list[ObjectSpec]:
    """The annotated objects of an item, nearest first in importance; covers every quirk.

    Distances span 8 to 245 m; some objects are 2D-only, one is unclear, one Inconclusive; every
    class appears across a few items.
    """
    small = str(rng.choice(["beacon", "guide", "barrier", "animal"]))
    vehicle_far = str(rng.choice(["truck", "bus", "van"]))
    cast = [
        ObjectSpec("car", (18, 28), 0.0, speed="ego"),
        ObjectSpec("car", (9, 14), 3.5, heading=np.pi, speed=-6.0),
        ObjectSpec("truck", (40, 70), -3.5, speed="ego"),
        ObjectSpec("pedestrian", (12, 25), -7.0, heading=np.pi / 2),
        ObjectSpec("bicycle", (22, 35), -5.8, props={"with_rider": "True"}),
        ObjectSpec("sign", (26, 40), -7.5, heading=np.pi),
        ObjectSpec("car", (120, 170), -3.5),
        ObjectSpec(vehicle_far, (190, 245), 3.5, heading=np.pi),
        ObjectSpec("sign", (30, 50), 7.8, heading=0.0),
        ObjectSpec("van", (60, 90), 3.5, heading=np.pi, props={"emergency": True}),
        ObjectSpec("unknown", (70, 100), -9.0, has_3d=False),
        ObjectSpec("car", (85, 110), 8.0, has_3d=False, props={"type_inconclusive": True}),
        ObjectSpec("bicycle", (40, 55), -6.2, props={"with_rider": "False"}),
        ObjectSpec("car", (95, 115), -6.5, heading=np.pi / 2, props={"artificial": True}),
        ObjectSpec("pedestrian", (150, 200), -7.5, has_3d=False, props={"unclear": True}),
        ObjectSpec("signal", (50, 60), 6.8, heading=np.pi),
        ObjectSpec("pole", (15, 60), -8.5),
        ObjectSpec(small, (20, 40), 6.5),
        ObjectSpec("motorcycle", (30, 45), 3.5, heading=np.pi, speed=-8.0),
        ObjectSpec("trailer", (100, 130), -3.5),
    ]
    return cast


def background_cast(rng: np.random.Generator) -> list[ObjectSpec]:
    """Objects outside the camera view (behind and beside the car): seen by lidar only."""
    return [
        ObjectSpec("car", (-25, -15), 0.0, speed="ego", annotated=False),
        ObjectSpec("van", (-40, -30), 3.5, heading=np.pi, annotated=False),
        ObjectSpec("pole", (-8, 2), -8.0, annotated=False),
        ObjectSpec("pedestrian", (-5, 3), 7.5, heading=-np.pi / 2, annotated=False),
    ]


@dataclass
class SceneObjects:
    """M boxes in the world at ``reference_time_s`` (the keyframe), moving at constant velocity.

    Box frame: x along the object's length (its front), y to its left, z up; ``size_m`` is
    (L, W, H) along (x, y, z); ``rotation_world`` (M, 3, 3) maps box axes to world axes.
    """

    reference_time_s: float
    center_world: np.ndarray  # (M, 3) at reference_time_s
    velocity_world: np.ndarray  # (M, 3)
    rotation_world: np.ndarray  # (M, 3, 3)
    size_m: np.ndarray  # (M, 3)
    colour_rgb: np.ndarray  # (M, 3) uint8
    reflectivity: np.ndarray  # (M,) uint8
    specs: list[ObjectSpec]

    def __len__(self) -> int:
        return len(self.specs)

    def centers_at(self, time_s: np.ndarray) -> np.ndarray:
        """Box centres (T, M, 3) at epoch times (T,)."""
        dt = np.asarray(time_s, dtype=np.float64) - self.reference_time_s
        return self.center_world[None] + dt[:, None, None] * self.velocity_world[None]

    def world_from_box(self, time_s: float) -> np.ndarray:
        """(M, 4, 4) box poses at one time."""
        return make_transforms(self.rotation_world, self.centers_at(np.array([time_s]))[0])

    @property
    def annotated(self) -> np.ndarray:
        return np.array([s.annotated for s in self.specs], dtype=bool)


@dataclass
class Road:
    """The road laid out in the road frame (see the module docstring)."""

    world_from_road: np.ndarray  # (4, 4), a rotation about z and a translation on the ground

    def __post_init__(self) -> None:
        self.road_from_world = invert_transforms(self.world_from_road)

    def road_from_world_points(self, points_world: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> road-frame (d, l, z) (N, 3)."""
        road_from_world = self.road_from_world
        return points_world @ road_from_world[:3, :3].T + road_from_world[:3, 3]

    def to_world(self, points_road: np.ndarray) -> np.ndarray:
        """Road-frame points (..., 3) -> world (..., 3)."""
        return points_road @ self.world_from_road[:3, :3].T + self.world_from_road[:3, 3]

    @staticmethod
    def paint_mask(along_m: np.ndarray, lateral_m: np.ndarray) -> np.ndarray:
        """Which road-frame ground points (along, lateral in metres) lie on painted lines (bool)."""
        dashed = (np.abs(lateral_m + LANE_WIDTH_M / 2) < LINE_HALF_WIDTH_M) & (
            np.mod(along_m, DASH_PERIOD_M) < DASH_LENGTH_M
        )
        double = (np.abs(lateral_m - (LANE_WIDTH_M / 2 - 0.1)) < 0.05) | (
            np.abs(lateral_m - (LANE_WIDTH_M / 2 + 0.1)) < 0.05
        )
        edge = np.abs(lateral_m - (-ROAD_HALF_WIDTH_M + 0.1)) < LINE_HALF_WIDTH_M
        return dashed | double | edge

    @staticmethod
    def on_road(lateral_m: np.ndarray) -> np.ndarray:
        return np.abs(lateral_m) <= ROAD_HALF_WIDTH_M


def build_scene(
    rng: np.random.Generator,
    trajectory: Trajectory,
    keyframe_time_s: float,
    num_objects: int,
) -> tuple[SceneObjects, Road]:
    """Place the first ``num_objects`` of the cast (plus the background objects) on the road."""
    key = trajectory.state(keyframe_time_s)
    yaw = float(key.yaw[0])
    world_from_road = make_transforms(
        np.array(
            [[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]]
        ),
        np.array([key.position_world[0, 0], key.position_world[0, 1], 0.0]),
    )
    road = Road(world_from_road)
    specs = default_cast(rng)[: max(0, num_objects)] + background_cast(rng)
    ego_speed = float(key.speed_mps[0])
    placed_d: list[float] = []
    placed_l: list[float] = []
    placed_r: list[float] = []
    centers, velocities, rotations, sizes, colours, refl = [], [], [], [], [], []
    for spec in specs:  # a few dozen objects: plain Python is fine here
        _cls, _type, lwh, z0, colour, reflect = _TEMPLATES[spec.template]
        scale = rng.uniform(0.93, 1.07, size=3)
        size = np.array(lwh) * scale
        radius = 0.5 * float(np.hypot(size[0], size[1]))
        d = float(rng.uniform(*spec.d_m))
        for _ in range(30):  # keep boxes apart
            clash = any(
                abs(d - pd) < radius + pr + 0.5 and abs(spec.l_m - pl) < radius + pr + 0.3
                for pd, pl, pr in zip(placed_d, placed_l, placed_r)
            )
            if not clash:
                break
            d = float(rng.uniform(*spec.d_m))
        placed_d.append(d)
        placed_l.append(spec.l_m)
        placed_r.append(radius)
        heading = spec.heading + float(rng.normal(0.0, 0.03))
        speed = ego_speed if spec.speed == "ego" else float(spec.speed)
        center_road = np.array([d, spec.l_m + float(rng.normal(0.0, 0.15)), z0 + size[2] / 2])
        yaw_world = yaw + heading
        rot = np.array(
            [
                [np.cos(yaw_world), -np.sin(yaw_world), 0.0],
                [np.sin(yaw_world), np.cos(yaw_world), 0.0],
                [0.0, 0.0, 1.0],
            ]
        )
        centers.append(road.to_world(center_road))
        # signed speed along the road direction (oncoming objects have a negative speed)
        velocities.append(speed * np.array([np.cos(yaw), np.sin(yaw), 0.0]))
        rotations.append(rot)
        sizes.append(size)
        colours.append(np.clip(np.array(colour) + rng.integers(-12, 13, size=3), 0, 255))
        refl.append(int(np.clip(reflect + rng.integers(-10, 11), 1, 255)))
    return (
        SceneObjects(
            reference_time_s=keyframe_time_s,
            center_world=np.array(centers, dtype=np.float64).reshape(-1, 3),
            velocity_world=np.array(velocities, dtype=np.float64).reshape(-1, 3),
            rotation_world=np.array(rotations, dtype=np.float64).reshape(-1, 3, 3),
            size_m=np.array(sizes, dtype=np.float64).reshape(-1, 3),
            colour_rgb=np.array(colours, dtype=np.uint8).reshape(-1, 3),
            reflectivity=np.array(refl, dtype=np.uint8),
            specs=specs,
        ),
        road,
    )


def template_class(template: str) -> tuple[str, str | None]:
    """(class, type) of a template name."""
    return _TEMPLATES[template][0], _TEMPLATES[template][1]
