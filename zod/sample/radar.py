"""Simulated front radar of a clip: one structured array of all detections (spec section 8).

Each scan sees, for every box within 200 m and +-60 degrees azimuth, the point of the box nearest
to the radar (plus up to two jittered neighbours), with the range rate of the box relative to
the moving radar; and a few ground-clutter detections whose range rate is that of static ground.
Timestamps are epoch nanoseconds (the working assumption of spec section 8).
"""

from __future__ import annotations

import numpy as np

from zod.geometry.transforms import invert_transforms
from zod.sample.rig import SensorRig
from zod.sample.scene import SceneObjects, Trajectory

RADAR_DTYPE = np.dtype(
    [
        ("scan_index", np.uint32),
        ("timestamp", np.int64),
        ("radar_range", np.float32),
        ("azimuth_angle", np.float32),
        ("elevation_angle", np.float32),
        ("range_rate", np.float32),
        ("amplitude", np.float32),
        ("validity", np.int8),
        ("mode", np.uint8),
        ("quality", np.uint8),
    ]
)
MAX_RANGE_M = 200.0
MAX_AZIMUTH_RAD = np.deg2rad(60.0)
CLUTTER_PER_SCAN = 8
COPIES = 3


def simulate_radar(
    rng: np.random.Generator,
    scan_times_ns: np.ndarray,
    rig: SensorRig,
    trajectory: Trajectory,
    objects: SceneObjects,
) -> np.ndarray:
    """All detections (N,) of ``RADAR_DTYPE`` for scans at epoch times (S,) in nanoseconds."""
    times_s = scan_times_ns / 1e9
    num_scans = times_s.size
    state = trajectory.state(times_s)
    world_from_radar = state.world_from_ego @ rig.ego_from_radar  # (S, 4, 4)
    radar_from_world = invert_transforms(world_from_radar)
    radar_pos = world_from_radar[:, :3, 3]
    ego_vel_world = np.einsum("sij,sj->si", state.world_from_ego[:, :3, :3], state.velocity_ego)

    centers = objects.centers_at(times_s)  # (S, M, 3)
    half = 0.5 * objects.sizes_lwh_m[None]  # (1, M, 3)
    rot = objects.rotation_world[None]  # (1, M, 3, 3)
    local = np.einsum(
        "smji,smj->smi", np.broadcast_to(rot, centers.shape + (3,)), radar_pos[:, None] - centers
    )
    nearest_local = np.clip(local, -half, half)
    nearest = centers + np.einsum(
        "smij,smj->smi", np.broadcast_to(rot, centers.shape + (3,)), nearest_local
    )
    # COPIES jittered detections per (scan, box)
    jitter = rng.normal(0.0, 0.15, size=(COPIES,) + nearest.shape)
    jitter[0] = 0.0
    det_world = nearest[None] + jitter  # (C, S, M, 3)
    det_radar = (
        np.einsum("sij,csmj->csmi", radar_from_world[:, :3, :3], det_world)
        + radar_from_world[None, :, None, :3, 3]
    )
    rng_m = np.linalg.norm(det_radar, axis=-1)
    azimuth = np.arctan2(det_radar[..., 1], det_radar[..., 0])
    elevation = np.arcsin(np.clip(det_radar[..., 2] / np.maximum(rng_m, 1e-9), -1, 1))
    los_world = (det_world - radar_pos[None, :, None]) / np.maximum(rng_m, 1e-9)[..., None]
    rel_vel = objects.velocity_world[None, None] - ego_vel_world[None, :, None]
    range_rate = np.einsum("csmi,csmi->csm", los_world, np.broadcast_to(rel_vel, los_world.shape))
    keep = (
        (rng_m > 0.5)
        & (rng_m < MAX_RANGE_M)
        & (np.abs(azimuth) < MAX_AZIMUTH_RAD)
        & (np.abs(elevation) < np.deg2rad(15))
    )
    keep[1:] &= rng.random(keep[1:].shape) < 0.6  # not every neighbour is detected
    scan_of = np.broadcast_to(np.arange(num_scans)[None, :, None], keep.shape)

    obj_scan = scan_of[keep]
    obj_range = rng_m[keep]
    obj_az = azimuth[keep]
    obj_el = elevation[keep]
    obj_rate = range_rate[keep]
    obj_amp = (
        30.0
        - 10.0 * np.log10(np.maximum(obj_range, 1.0))
        + rng.normal(0, 1.5, obj_range.size)
        + 20.0
    )

    # static ground clutter: range rate is minus the radar speed along the line of sight
    c_scan = np.repeat(np.arange(num_scans), CLUTTER_PER_SCAN)
    c_range = rng.uniform(5.0, 150.0, c_scan.size)
    c_az = rng.uniform(-MAX_AZIMUTH_RAD, MAX_AZIMUTH_RAD, c_scan.size)
    c_el = rng.uniform(-0.05, 0.02, c_scan.size)
    speed = state.speed_mps[c_scan]
    c_rate = -speed * np.cos(c_az) * np.cos(c_el)
    c_amp = rng.uniform(5.0, 15.0, c_scan.size)

    scan = np.concatenate([obj_scan, c_scan])
    order = np.argsort(scan, kind="stable")
    out = np.empty(scan.size, dtype=RADAR_DTYPE)
    out["scan_index"] = scan[order].astype(np.uint32)
    out["timestamp"] = scan_times_ns[scan[order]]
    out["radar_range"] = np.concatenate([obj_range, c_range])[order]
    out["azimuth_angle"] = np.concatenate([obj_az, c_az])[order]
    out["elevation_angle"] = np.concatenate([obj_el, c_el])[order]
    out["range_rate"] = np.concatenate([obj_rate, c_rate])[order]
    out["amplitude"] = np.concatenate([obj_amp, c_amp])[order]
    out["validity"] = 1
    out["mode"] = np.concatenate([np.zeros(obj_scan.size), np.ones(c_scan.size)])[order].astype(
        np.uint8
    )
    out["quality"] = np.clip(np.rint(100.0 - out["radar_range"] / 3.0), 0, 100).astype(np.uint8)
    return out
