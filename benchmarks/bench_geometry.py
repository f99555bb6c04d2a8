"""Benchmark: geometry hot paths against the reference devkit's formulas, run in this process.

1. lidar -> image: a 250k-point scan projected into the front camera and drawn coloured by
   depth. Baseline: the reference approach (homogeneous transform, FOV filter in degrees, the
   Kannala-Brandt formula, one colour lookup per point in Python, then the pixel writes).
   Goal >= 10x.
2. 20 boxes (lidar frame) converted to the camera and projected (centre + 8 corners).
   Baseline: the reference per-object loop (pyquaternion products, corners, projection per box).
   Goal >= 15x.
3. 21 scans of 250k points read from .npy and aggregated with scanwise compensation.
   Baseline: the reference path (np.load, ego-return filter per axis, three batched
   transforms per scan, vstack per field). Goal >= 2x.

Synthetic data: the sample's sensor rig (``zod.sample.rig.make_rig``), random scans.

    python benchmarks/bench_geometry.py [--points 250000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pyquaternion import Quaternion

from zod.calibration import Calibration
from zod.constants import Camera, Lidar
from zod.ego_motion import EgoMotion
from zod.geometry.box_set import Box3DSet
from zod.geometry.fisheye import points_to_image
from zod.geometry.transforms import (
    make_transforms,
    quaternions_from_yaw,
    rotation_matrices_from_quaternions,
)
from zod.sample.rig import make_rig

EGO_RETURNS_BOX = np.array([[-1.5, -3.0, -1.5], [1.5, 3.0, 0.5]])


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time (s) of ``repeat`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_calibration() -> Calibration:
    return Calibration.from_dict(make_rig().calibration_json(with_radar=False))


def random_scan_lidar(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) float32 lidar-frame points: all azimuths, -25..15 deg elevation, 1..250 m."""
    az = rng.uniform(-np.pi, np.pi, n)
    el = np.deg2rad(rng.uniform(-25, 15, n))
    r = np.exp(rng.uniform(np.log(1.0), np.log(250.0), n))
    return np.stack(
        [r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], 1
    ).astype(np.float32)


# --------------------------------------------------------------------------- 1. lidar on image
def reference_lidar_on_image(
    points: np.ndarray, calib: Calibration, image: np.ndarray, lut: np.ndarray
) -> np.ndarray:
    """The reference approach: per-step arrays, then one Python colour lookup per point."""
    cam = calib.cameras[Camera.FRONT]
    lidar_to_cam = (
        np.linalg.inv(cam.extrinsics.transform) @ calib.lidars[Lidar.VELODYNE].extrinsics.transform
    )
    hom = np.concatenate((points, np.ones((points.shape[0], 1))), axis=1)
    cam_pts = np.matmul(hom, lidar_to_cam.T)
    cam_pts = cam_pts[:, :3] / cam_pts[:, 3:]
    positive = cam_pts[:, 2] > 0
    cam_pts = cam_pts[positive]
    hfov, vfov = cam.field_of_view
    h = np.rad2deg(np.arctan2(cam_pts[:, 0], cam_pts[:, 2]))
    v = np.rad2deg(np.arctan2(cam_pts[:, 1], cam_pts[:, 2]))
    fov = (h > -hfov / 2) & (h < hfov / 2) & (v > -vfov / 2) & (v < vfov / 2)
    cam_pts = cam_pts[fov]
    k, d = cam.intrinsics, cam.distortion
    hom = np.concatenate((cam_pts, np.ones((cam_pts.shape[0], 1))), axis=1)
    norm = np.linalg.norm(hom[:, :2], axis=1)
    rad = np.arctan2(norm, hom[:, 2])
    r2 = rad**2
    dist = rad * (1 + d[0] * r2 + d[1] * r2**2 + d[2] * r2**3 + d[3] * r2**4)
    u = k[0, 0] * dist * hom[:, 0] / norm + k[0, 2]
    vv = k[1, 1] * dist * hom[:, 1] / norm + k[1, 2]
    xyd = np.stack([u, vv, cam_pts[:, 2]], axis=1)
    normed = xyd[:, 2] - xyd[:, 2].min()
    normed = normed / normed.max()
    colors = [[int(c) for c in lut[int(x * 255)]] for x in normed]  # per point, as the reference
    coords = xyd[:, :2].astype(np.int32)
    inside = (
        (coords[:, 0] >= 0)
        & (coords[:, 0] < image.shape[1])
        & (coords[:, 1] >= 0)
        & (coords[:, 1] < image.shape[0])
    )
    image[coords[inside, 1], coords[inside, 0]] = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)[
        inside
    ]
    return image


def ours_lidar_on_image(
    points: np.ndarray, calib: Calibration, image: np.ndarray, lut: np.ndarray
) -> np.ndarray:
    proj = points_to_image(points, calib)
    depth = proj.depth_m
    normed = (depth - depth.min()) / max(float(np.ptp(depth)), 1e-9)
    px = proj.pixels.astype(np.int32)
    image[px[:, 1], px[:, 0]] = lut[(normed * 255).astype(np.intp)]
    return image


# --------------------------------------------------------------------------- 2. boxes
def reference_boxes(
    centers: np.ndarray, sizes: np.ndarray, quats: np.ndarray, calib: Calibration
) -> np.ndarray:
    """Per-object loop as the reference Box3D: convert_to (pyquaternion), project_into_camera."""
    cam = calib.cameras[Camera.FRONT]
    ego_from_lidar = calib.lidars[Lidar.VELODYNE].extrinsics
    ego_from_cam = cam.extrinsics
    unit = np.array(
        [[-0.5, -0.5, -0.5], [0.5, -0.5, -0.5], [0.5, 0.5, -0.5], [-0.5, 0.5, -0.5],
         [-0.5, -0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, 0.5], [-0.5, 0.5, 0.5]]
    )  # fmt: skip
    out = []
    for c, s, q in zip(centers, sizes, quats):
        center = c.copy()
        orientation = Quaternion(*q)
        center = ego_from_lidar.rotation_matrix @ center + ego_from_lidar.translation
        orientation = ego_from_lidar.rotation * orientation
        center = ego_from_cam.rotation_matrix.T @ (center - ego_from_cam.translation)
        orientation = ego_from_cam.rotation.inverse * orientation
        corners = (orientation.rotation_matrix @ (unit * s).T + center.reshape(-1, 1)).T
        pts = np.concatenate([center.reshape(1, -1), corners], axis=0)
        norm = np.linalg.norm(pts[:, :2], axis=1)
        rad = np.arctan2(norm, pts[:, 2])
        r2 = rad**2
        d = cam.distortion
        dist = rad * (1 + d[0] * r2 + d[1] * r2**2 + d[2] * r2**3 + d[3] * r2**4)
        k = cam.intrinsics
        out.append(
            np.stack(
                [
                    k[0, 0] * dist * pts[:, 0] / norm + k[0, 2],
                    k[1, 1] * dist * pts[:, 1] / norm + k[1, 2],
                ],
                -1,
            )
        )
    return np.array(out)


# --------------------------------------------------------------------------- 3. aggregation
def write_scans(
    folder: Path, n_points: int, rng: np.random.Generator, t0: datetime
) -> list[tuple[Path, float]]:
    dtype = [
        ("x", "<f4"),
        ("y", "<f4"),
        ("z", "<f4"),
        ("timestamp", "<i8"),
        ("intensity", "u1"),
        ("diode_index", "u1"),
    ]
    out = []
    for k in range(21):
        t = t0 + timedelta(seconds=0.1 * k)
        path = folder / f"000001_romeo_{t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}.npy"
        rec = np.empty(n_points, dtype=dtype)
        pts = random_scan_lidar(n_points, rng)
        rec["x"], rec["y"], rec["z"] = pts.T
        rec["timestamp"] = np.sort(rng.integers(0, 100_000, n_points))
        rec["intensity"] = rng.integers(0, 256, n_points)
        rec["diode_index"] = rng.integers(0, 128, n_points)
        np.save(path, rec)
        out.append((path, t.timestamp()))
    return out


def make_ego_motion(t0: float) -> EgoMotion:
    t = t0 - 1.0 + np.arange(500) * 0.01
    yaw = 0.2 * (t - t0)
    trans = np.stack([15 * (t - t0), 0.3 * (t - t0) ** 2, np.zeros_like(t)], 1)
    poses = make_transforms(rotation_matrices_from_quaternions(quaternions_from_yaw(yaw)), trans)
    z = np.zeros((len(t), 3))
    return EgoMotion(poses, z, z, z, t, (57.0, 12.0))


def reference_aggregate(
    scans: list[tuple[Path, float]], em: EgoMotion, calib: Calibration
) -> np.ndarray:
    """The reference ZodFrame.get_aggregated_lidar path, with its LidarData maths."""

    def read(path: Path, core: float) -> dict:
        data = np.load(path)
        mask = np.ones(len(data), dtype=np.bool_)
        for i, dim in enumerate(("x", "y", "z")):
            mask &= np.logical_and(
                data[dim] > EGO_RETURNS_BOX[0, i], data[dim] < EGO_RETURNS_BOX[1, i]
            )
        data = data[~mask]
        return {
            "points": np.vstack((data["x"], data["y"], data["z"])).T,
            "timestamps": core + data["timestamp"] / 1e6,
            "intensity": data["intensity"],
            "diode_idx": data["diode_index"],
        }

    def transform(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
        rot, trans = pose[..., :3, :3], pose[..., :3, 3]
        return (points[..., None, :] @ rot.swapaxes(-2, -1) + trans[..., None, :]).squeeze(-2)

    ego_from_lidar = calib.lidars[Lidar.VELODYNE].extrinsics.transform
    key = read(*scans[10])
    key_core = 0.75 * key["timestamps"].max() + 0.25 * key["timestamps"].min()
    target_pose = em.get_poses(key_core)
    parts = [key]
    for k, (path, core) in enumerate(scans):
        if k == 10:
            continue
        scan = read(path, core)
        scan = {name: value.copy() for name, value in scan.items()}  # LidarData.copy()
        core = 0.75 * scan["timestamps"].max() + 0.25 * scan["timestamps"].min()
        odometry = np.linalg.inv(target_pose) @ em.get_poses(core)
        pts = transform(scan["points"], ego_from_lidar)
        pts = transform(pts, odometry)
        scan["points"] = transform(pts, np.linalg.inv(ego_from_lidar))
        parts.append(scan)
    return np.vstack([p["points"] for p in parts])


class _FakeLidarFrame:
    """Just enough of a LidarFrame for the aggregation mixin (read() -> LidarData)."""

    def __init__(self, path: Path) -> None:
        self.filepath = str(path)

    def read(self) -> Any:
        from zod.sensors.lidar import LidarData

        return LidarData.from_npy(self.filepath)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _FakeLidarFrame) and other.filepath == self.filepath


def ours_aggregate(
    scans: list[tuple[Path, float]], em: EgoMotion, calib: Calibration, workers: int
) -> np.ndarray:
    from zod.aggregation import FrameGeometryMixin

    frames = [_FakeLidarFrame(p) for p, _ in scans]

    class Info:
        def get_key_lidar_frame(self) -> _FakeLidarFrame:
            return frames[10]

    class Frame(FrameGeometryMixin):
        info = Info()
        calibration = calib
        ego_motion = em

        def get_lidar_frames(self, num_before: int, num_after: int) -> list[_FakeLidarFrame]:
            return frames[10 - num_before : 11 + num_after]

    return Frame().get_aggregated_lidar(10, 10, workers=workers).points


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-aggregation", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    calib = make_calibration()
    lut = (
        np.stack([np.linspace(0, 1, 256), 0.5 * np.ones(256), np.linspace(1, 0, 256)], 1) * 255
    ).astype(np.uint8)

    points = random_scan_lidar(args.points, rng)
    image = np.zeros((2168, 3848, 3), dtype=np.uint8)
    ref_img = reference_lidar_on_image(points, calib, image.copy(), lut)
    our_img = ours_lidar_on_image(points, calib, image.copy(), lut)
    n_drawn = int(points_to_image(points, calib).mask.sum())
    agree = float(np.mean(np.all(ref_img == our_img, axis=2)))
    t_ref = best_time(
        lambda: reference_lidar_on_image(points, calib, image.copy(), lut), args.repeat
    )
    t_ours = best_time(lambda: ours_lidar_on_image(points, calib, image.copy(), lut), args.repeat)
    print(
        f"lidar->image  {args.points} pts ({n_drawn} drawn): reference {t_ref * 1e3:8.1f} ms  ours "
        f"{t_ours * 1e3:7.1f} ms  ratio {t_ref / t_ours:6.1f}x "
        f"(goal >= 10x; pixels equal {agree:.4%})"
    )

    n_boxes = 20
    centers = rng.uniform([-15, 5, -1], [15, 80, 1], (n_boxes, 3))
    sizes = rng.uniform([0.5, 0.5, 1.0], [6, 2.5, 3], (n_boxes, 3))
    quats = np.array(
        [Quaternion(axis=[0, 0, 1], angle=a).q for a in rng.uniform(-np.pi, np.pi, n_boxes)]
    )
    boxes = Box3DSet(centers, sizes, quats, Lidar.VELODYNE)
    ref_px = reference_boxes(centers, sizes, quats, calib)
    our_px = boxes.project(calib).pixels
    err = float(np.abs(ref_px - our_px).max())
    t_ref = best_time(lambda: reference_boxes(centers, sizes, quats, calib), args.repeat * 20)
    t_ours = best_time(
        lambda: Box3DSet(centers, sizes, quats, Lidar.VELODYNE).project(calib), args.repeat * 20
    )
    print(
        f"boxes         {n_boxes} boxes -> camera, (N,9,2): reference {t_ref * 1e3:6.2f} ms  ours "
        f"{t_ours * 1e3:6.3f} ms  ratio {t_ref / t_ours:6.1f}x (goal >= 15x; max diff {err:.1e} px)"
    )

    if args.skip_aggregation:
        return
    with tempfile.TemporaryDirectory(prefix="zod-bench-geometry-") as tmp:
        t0 = datetime(2022, 2, 14, 13, 23, 31, 251875, tzinfo=timezone.utc)
        scans = write_scans(Path(tmp), args.points, rng, t0)
        em = make_ego_motion(t0.timestamp())
        ref = reference_aggregate(scans, em, calib)
        ours = ours_aggregate(scans, em, calib, workers=1)
        err = float(np.abs(ref - ours).max())
        repeat = max(1, args.repeat // 2)
        t_ref = best_time(lambda: reference_aggregate(scans, em, calib), repeat)
        t_ours = best_time(lambda: ours_aggregate(scans, em, calib, workers=1), repeat)
        t_par = best_time(lambda: ours_aggregate(scans, em, calib, workers=4), repeat)
        print(
            f"aggregation   21 x {args.points} pts: reference {t_ref * 1e3:7.0f} ms  "
            f"ours {t_ours * 1e3:6.0f} ms "
            f"ratio {t_ref / t_ours:5.1f}x  (4 reader threads: {t_ref / t_par:4.1f}x) (goal >= 2x; "
            f"{len(ours)} pts, max diff {err:.1e} m)"
        )


if __name__ == "__main__":
    main()
