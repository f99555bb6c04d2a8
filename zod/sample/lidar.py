"""Simulated 128-diode spinning lidar: vectorized ray casting against the ground and the boxes.

Spin convention (seen from above, lidar frame: x to the right of the car, y forward)::

                    y (forward): reached at 75 % of the spin, at the file-name time
                    ^
                    |
     (left) -x  ----o----> x (right): the spin starts and ends here (the cut-off)
                    |
               clockwise: right -> back -> left -> front -> right

A scan lasts one period (0.1 s at 10 Hz); the column at spin fraction f is fired at
``t_file - 0.75 * period + f * period``, so point ``timestamp`` values run from -75 000 to
+25 000 microseconds and the reference's core time ``0.75 max + 0.25 min`` is the file time.
Points are in the lidar frame at their own firing time (not motion compensated, spec section 7).
"""

from __future__ import annotations

import numpy as np

from zod.sample.rig import NUM_DIODES, SensorRig
from zod.sample.scene import Road, SceneObjects, Trajectory

LIDAR_DTYPE = np.dtype(
    [
        ("x", np.float32),
        ("y", np.float32),
        ("z", np.float32),
        ("timestamp", np.int64),
        ("intensity", np.uint8),
        ("diode_index", np.uint8),
    ]
)

# Ego returns are drawn inside this part of the spec's ego box (lidar frame, metres).
EGO_RETURN_REGION = np.array([[-0.9, -2.2, -1.1], [0.9, 2.5, -0.45]])
EGO_RETURN_FRACTION = 0.004
CORE_FRACTION = 0.75


def _directions_lidar(num_columns: int, elevation_rad: np.ndarray) -> np.ndarray:
    """Unit ray directions (C, D, 3) in the lidar frame, column c at azimuth -2 pi c / C."""
    azimuth = -2.0 * np.pi * np.arange(num_columns) / num_columns
    cos_el, sin_el = np.cos(elevation_rad), np.sin(elevation_rad)
    out = np.empty((num_columns, elevation_rad.size, 3))
    out[..., 0] = np.cos(azimuth)[:, None] * cos_el[None]
    out[..., 1] = np.sin(azimuth)[:, None] * cos_el[None]
    out[..., 2] = sin_el[None]
    return out


def cast_rays(
    origins_world: np.ndarray,
    directions_world: np.ndarray,
    column_times_s: np.ndarray,
    objects: SceneObjects,
    max_range_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of each ray: ground plane z = 0 or a (moving) box.

    origins_world (C, 3) one origin per column, directions_world (C, D, 3) unit rays,
    column_times_s (C,). Returns range_m (C, D) (inf when nothing within ``max_range_m``) and
    hit_box (C, D) int (index of the box hit, -1 for the ground or nothing).

    Boxes are culled per column by their bounding circle, then the slab test runs vectorized
    over all remaining (column, box) pairs and their D rays.
    """
    num_cols, num_diodes, _ = directions_world.shape
    dz = directions_world[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = np.where(dz < -1e-9, -origins_world[:, None, 2] / dz, np.inf)
    best = np.where(t_ground <= max_range_m, t_ground, np.inf)
    hit_box = np.full((num_cols, num_diodes), -1, dtype=np.int64)
    if len(objects) == 0:
        return best, hit_box

    centers = objects.centers_at(column_times_s)  # (C, M, 3)
    rel = centers - origins_world[:, None, :]  # origin -> box centre
    half = 0.5 * objects.size_m  # (M, 3)
    radius = np.linalg.norm(half, axis=1)  # (M,)
    horizontal = np.hypot(rel[..., 0], rel[..., 1])  # (C, M)
    bearing = np.arctan2(rel[..., 1], rel[..., 0])
    # horizontal azimuth of each column's rays (all diodes share it up to the small tilt)
    col_dir = directions_world[:, num_diodes // 2, :2]
    col_az = np.arctan2(col_dir[:, 1], col_dir[:, 0])
    diff = np.abs((col_az[:, None] - bearing + np.pi) % (2 * np.pi) - np.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        half_angle = np.arcsin(np.clip(radius[None] / np.maximum(horizontal, 1e-9), 0.0, 1.0))
    candidate = ((diff <= half_angle + 0.02) | (horizontal <= radius[None])) & (
        horizontal - radius[None] <= max_range_m
    )
    cols, boxes = np.nonzero(candidate)
    if cols.size == 0:
        return best, hit_box
    rot = objects.rotation_world[boxes]  # (P, 3, 3) box -> world
    origin_box = -np.einsum("pji,pj->pi", rot, rel[cols, boxes])  # (P, 3) ray origin in box frame
    dir_box = np.matmul(directions_world[cols], rot)  # (P, D, 3): rows d @ R = R^T d
    safe = np.where(np.abs(dir_box) < 1e-12, 1e-12, dir_box)
    inv = 1.0 / safe
    h = half[boxes][:, None, :]
    t1 = (-h - origin_box[:, None, :]) * inv
    t2 = (h - origin_box[:, None, :]) * inv
    t_near = np.minimum(t1, t2).max(axis=2)
    t_far = np.maximum(t1, t2).min(axis=2)
    hit = (t_near <= t_far) & (t_near > 0.05) & (t_near <= max_range_m)
    pair_idx, diode_idx = np.nonzero(hit)
    if pair_idx.size == 0:
        return best, hit_box
    t_hit = t_near[pair_idx, diode_idx]
    ray = cols[pair_idx] * num_diodes + diode_idx
    order = np.lexsort((t_hit, ray))  # by ray, then nearest first
    ray, t_hit, box_of = ray[order], t_hit[order], boxes[pair_idx][order]
    first = np.ones(ray.size, dtype=bool)
    first[1:] = ray[1:] != ray[:-1]
    ray, t_hit, box_of = ray[first], t_hit[first], box_of[first]
    flat_best = best.reshape(-1)
    flat_box = hit_box.reshape(-1)
    closer = t_hit < flat_best[ray]
    flat_best[ray[closer]] = t_hit[closer]
    flat_box[ray[closer]] = box_of[closer]
    return best, hit_box


def _column_geometry(
    num_columns: int,
    file_time_s: float,
    period_s: float,
    rig: SensorRig,
    trajectory: Trajectory,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column: times (C,), world origins (C, 3), lidar-frame and world directions (C, D, 3)."""
    fraction = np.arange(num_columns) / num_columns
    times = file_time_s - CORE_FRACTION * period_s + fraction * period_s
    world_from_lidar = trajectory.world_from_ego(times) @ rig.ego_from_lidar  # (C, 4, 4)
    dirs_lidar = _directions_lidar(num_columns, rig.diode_elevation_rad)
    dirs_world = np.matmul(dirs_lidar, np.swapaxes(world_from_lidar[:, :3, :3], 1, 2))  # (C, D, 3)
    return times, world_from_lidar[:, :3, 3], dirs_lidar, dirs_world


def simulate_scan(
    rng: np.random.Generator,
    num_points: int,
    file_time_us: int,
    rig: SensorRig,
    trajectory: Trajectory,
    objects: SceneObjects,
    road: Road,
    period_s: float = 0.1,
    max_range_m: float = 250.0,
) -> np.ndarray:
    """One lidar scan: a structured array (``num_points``,) of ``LIDAR_DTYPE`` (spec section 7).

    Exactly ``num_points`` records (when the scene returns enough hits), sorted by time: ray hits
    subsampled uniformly, plus ~0.4 % returns from the ego car's own body.
    """
    file_time_s = file_time_us / 1e6
    num_ego = max(1, round(EGO_RETURN_FRACTION * num_points))
    wanted = num_points - num_ego
    # a coarse pass estimates the fraction of rays that return, to size the azimuth grid
    coarse = 90
    times, origins, _, dirs_world = _column_geometry(coarse, file_time_s, period_s, rig, trajectory)
    rng_coarse, _ = cast_rays(origins, dirs_world, times, objects, max_range_m)
    hit_fraction = max(float(np.isfinite(rng_coarse).mean()), 0.05)
    num_columns = int(np.ceil(wanted / (NUM_DIODES * hit_fraction) * 1.08))
    times, origins, dirs_lidar, dirs_world = _column_geometry(
        num_columns, file_time_s, period_s, rig, trajectory
    )
    range_m, hit_box = cast_rays(origins, dirs_world, times, objects, max_range_m)

    col_idx, diode_idx = np.nonzero(np.isfinite(range_m))  # row-major: time order, then diode
    if col_idx.size > wanted:
        keep = np.sort(rng.choice(col_idx.size, size=wanted, replace=False))
        col_idx, diode_idx = col_idx[keep], diode_idx[keep]
    ranges = range_m[col_idx, diode_idx] + rng.normal(0.0, 0.01, size=col_idx.size)
    boxes = hit_box[col_idx, diode_idx]
    points = dirs_lidar[col_idx, diode_idx] * ranges[:, None]

    intensity = np.empty(col_idx.size, dtype=np.float64)
    on_box = boxes >= 0
    intensity[on_box] = objects.reflectivity[boxes[on_box]].astype(np.float64)
    ground = ~on_box
    if ground.any():
        hits_world = (
            origins[col_idx[ground]]
            + dirs_world[col_idx[ground], diode_idx[ground]] * ranges[ground, None]
        )
        road_pts = road.road_from_world_points(hits_world)
        along_m, lateral_m = road_pts[:, 0], road_pts[:, 1]
        intensity[ground] = np.where(
            road.paint_mask(along_m, lateral_m),
            170.0,
            np.where(road.on_road(lateral_m), 12.0, 35.0),
        )
    intensity += rng.normal(0.0, 4.0, size=intensity.size)
    intensity *= np.clip(1.2 - ranges / 400.0, 0.5, 1.2)

    times_us = np.rint((times[col_idx] - file_time_s) * 1e6).astype(np.int64)
    # returns from the ego car's roof and bonnet (inside the spec's ego box)
    ego_pts = rng.uniform(EGO_RETURN_REGION[0], EGO_RETURN_REGION[1], size=(num_ego, 3))
    period_us = round(period_s * 1e6)
    ego_time = rng.integers(0, period_us, size=num_ego) - round(CORE_FRACTION * period_us)
    ego_diode = rng.integers(NUM_DIODES - 40, NUM_DIODES, size=num_ego)

    out = np.empty(col_idx.size + num_ego, dtype=LIDAR_DTYPE)
    all_pts = np.concatenate([points, ego_pts])
    out["x"], out["y"], out["z"] = (all_pts[:, i].astype(np.float32) for i in range(3))
    out["timestamp"] = np.concatenate([times_us, ego_time.astype(np.int64)])
    out["intensity"] = np.clip(
        np.rint(np.concatenate([intensity, rng.normal(60, 5, num_ego)])), 0, 255
    ).astype(np.uint8)
    out["diode_index"] = np.concatenate([diode_idx, ego_diode]).astype(np.uint8)
    order = np.argsort(out["timestamp"], kind="stable")
    return out[order]
