"""Ego motion sidecars of the simulated drive: ``oxts.hdf5``, ``ego_motion.json`` (spec section 5)
and ``vehicle_data.hdf5`` (spec section 10), all sampled from one ``Trajectory``.

oxts conventions used here (the spec is silent on them): ``heading`` in degrees clockwise from
north, ``pitch`` positive nose up, ``roll`` positive right side down, all in degrees; rates in
rad/s in the ego frame, accelerations in m/s^2 in the ego frame without gravity. The world frame
is east-north-up with its origin at the first sample, so ``posLat``/``posLon`` of the first sample
are the ``origin_lat_lon`` of ``ego_motion.json``.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from zod.sample.scene import Trajectory

GPS_EPOCH_S = 315964800  # 1980-01-06T00:00:00Z as epoch seconds
LEAP_SECONDS = 18.0
EARTH_RADIUS_M = 6_378_137.0


def oxts_sample_times_s(start_s: float, end_s: float, rate_hz: float) -> np.ndarray:
    """Sample times (N,) covering [start_s, end_s], on a grid of 1 / rate_hz seconds."""
    period = 1.0 / rate_hz
    first = np.floor(start_s / period) * period
    count = int(np.ceil((end_s - first) / period)) + 1
    return first + np.arange(count) * period


def oxts_arrays(
    trajectory: Trajectory, times_s: np.ndarray, origin_lat_lon: tuple[float, float]
) -> dict[str, np.ndarray]:
    """All oxts datasets (one value per sample) at epoch times (N,)."""
    state = trajectory.state(times_s)
    lat0, lon0 = origin_lat_lon
    east, north = state.position_world[:, 0], state.position_world[:, 1]
    gps_time = times_s - GPS_EPOCH_S - LEAP_SECONDS
    n = times_s.size
    vel_world = state.speed_mps[:, None] * np.stack([np.cos(state.yaw), np.sin(state.yaw)], axis=1)
    acc = state.acceleration_ego
    rates = state.angular_rates_ego
    return {
        "poses": state.world_from_ego,
        "timestamp": gps_time,
        "leapSeconds": np.full(n, LEAP_SECONDS),
        "posLat": lat0 + np.degrees(north / EARTH_RADIUS_M),
        "posLon": lon0 + np.degrees(east / (EARTH_RADIUS_M * np.cos(np.radians(lat0)))),
        "posAlt": 45.0 + state.position_world[:, 2],
        "undulation": np.full(n, 32.5),
        "heading": np.mod(90.0 - np.degrees(state.yaw), 360.0),
        "pitch": -np.degrees(state.pitch),
        "roll": np.degrees(state.roll),
        "velForward": state.speed_mps.copy(),
        "velLateral": np.zeros(n),
        "velDown": np.zeros(n),
        "velNorth": vel_world[:, 1],
        "velEast": vel_world[:, 0],
        "accelerationX": acc[:, 0],
        "accelerationY": acc[:, 1],
        "accelerationZ": acc[:, 2],
        "angularRateX": rates[:, 0],
        "angularRateY": rates[:, 1],
        "angularRateZ": rates[:, 2],
    }


def ego_motion_json(oxts: dict[str, np.ndarray]) -> dict[str, Any]:
    """``ego_motion.json`` from the same samples as the oxts file.

    Timestamps are computed with the reference reader's formula ``315964800 + timestamp +
    leapSeconds`` so the two files give bit-identical times.
    """
    timestamps = GPS_EPOCH_S + oxts["timestamp"] + oxts["leapSeconds"]
    velocities = np.stack([oxts["velForward"], oxts["velLateral"], -oxts["velDown"]], axis=1)
    accelerations = np.stack(
        [oxts["accelerationX"], oxts["accelerationY"], oxts["accelerationZ"]], axis=1
    )
    rates = np.stack([oxts["angularRateX"], oxts["angularRateY"], oxts["angularRateZ"]], axis=1)
    return {
        "poses": oxts["poses"].tolist(),
        "velocities": velocities.tolist(),
        "accelerations": accelerations.tolist(),
        "angular_rates": rates.tolist(),
        "timestamps": timestamps.tolist(),
        "origin_lat_lon": [float(oxts["posLat"][0]), float(oxts["posLon"][0])],
    }


def write_hdf5_flat(path: str, datasets: dict[str, np.ndarray]) -> None:
    """Write flat (or slash-nested) datasets; no timestamps in the file, so the bytes repeat."""
    with h5py.File(path, "w", libver="earliest", track_order=False) as f:
        for name, values in datasets.items():
            f.create_dataset(name, data=values, track_times=False)


def vehicle_data_arrays(
    trajectory: Trajectory,
    start_s: float,
    end_s: float,
    rate_hz: float,
    satellite_rate_hz: float,
    origin_lat_lon: tuple[float, float],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Every leaf of spec section 10 (``group/.../value`` -> values), following the trajectory."""
    t = oxts_sample_times_s(start_s, end_s, rate_hz)
    t = t[(t >= start_s - 1e-9) & (t <= end_s + 1e-9)]
    state = trajectory.state(t)
    ns = np.rint(t * 1e9).astype(np.int64)
    n = t.size
    wheelbase, steering_ratio = 2.9, 15.5
    road_wheel = np.arctan(wheelbase * state.yaw_rate / np.maximum(state.speed_mps, 0.5))
    accel = state.accel_long_mps2
    steering_rate = np.gradient(road_wheel * steering_ratio, t) if n > 1 else np.zeros(n)
    out: dict[str, np.ndarray] = {
        "ego_vehicle_data/roll_rate_data/angle_rate/radians_per_second/value": state.roll_rate,
        "ego_vehicle_data/pitch_rate_data/angle_rate/radians_per_second/value": state.pitch_rate,
        "ego_vehicle_data/lat_vel_data/velocity/meters_per_second/value": np.zeros(n),
        "ego_vehicle_data/lon_vel_data/velocity/meters_per_second/value": state.speed_mps,
        "ego_vehicle_data/lat_acc_data/acceleration/meters_per_second2/value": state.speed_mps
        * state.yaw_rate,
        "ego_vehicle_data/lon_acc_data/acceleration/meters_per_second2/value": accel,
        "ego_vehicle_data/body_height/body_height/meters/value": 0.42 + 0.003 * np.sin(7.0 * t),
        "ego_vehicle_data/body_pitch/angle/radians/value": -state.pitch,
        "ego_vehicle_data/timestamp/nanoseconds/value": ns,
        "ego_vehicle_controls/acceleration_pedal/ratio/unitless/value": np.clip(
            18.0 + 25.0 * accel, 0.0, 100.0
        ),
        "ego_vehicle_controls/brake_pedal_pressed/is_brake_pedal_pressed/unitless/value": accel
        < -0.3,
        "ego_vehicle_controls/steering_wheel_angle/angle/radians/value": road_wheel
        * steering_ratio,
        "ego_vehicle_controls/steering_wheel_angle/angle_rate/"
        "radians_per_second/value": steering_rate,
        "ego_vehicle_controls/steer_wheel_torque/torque/newton_meters/value": 0.8
        * road_wheel
        * steering_ratio
        + rng.normal(0.0, 0.05, n),
        "ego_vehicle_controls/turn_indicator_status/state": np.zeros(n, dtype=np.int64),
        "ego_vehicle_controls/timestamp/nanoseconds/value": ns.copy(),
    }
    ts = oxts_sample_times_s(start_s, end_s, satellite_rate_hz)
    ts = ts[(ts >= start_s - 1e-9) & (ts <= end_s + 1e-9)]
    sat = trajectory.state(ts)
    lat0, lon0 = origin_lat_lon
    lat = lat0 + np.degrees(sat.position_world[:, 1] / EARTH_RADIUS_M)
    lon = lon0 + np.degrees(sat.position_world[:, 0] / (EARTH_RADIUS_M * np.cos(np.radians(lat0))))
    out.update(
        {
            "satellite/altitude/meters/value": 45.0 + sat.position_world[:, 2],
            "satellite/heading/degrees/value": np.mod(90.0 - np.degrees(sat.yaw), 360.0),
            "satellite/latposn/nanodegrees/value": np.rint(lat * 1e9).astype(np.int64),
            "satellite/longposn/nanodegrees/value": np.rint(lon * 1e9).astype(np.int64),
            "satellite/nrof_satellites/unitless/value": rng.integers(9, 15, size=ts.size).astype(
                np.int64
            ),
            "satellite/speed/meters_per_second/value": sat.speed_mps,
            "satellite/timestamp/nanoseconds/value": np.rint(ts * 1e9).astype(np.int64),
        }
    )
    return out
