"""Benchmark: zod.viz drawing against the reference devkit's own visualization functions.

Both run on the same synthetic data in the same run; the reference (PyPI ``zod==0.8.0``) runs
in its own venv (``.venv-oracle``, made by scripts/setup.sh) and reports its own timings.

1. lidar on image: a 250k-point scan drawn as radius-2 discs coloured by depth on a
   full-resolution image. Reference: ``zod.visualization.lidar_on_image.visualize_lidar_on_image``
   (one colour lookup and one ``cv2.circle`` per point). Ours: ``visualize_lidar_on_image``
   (same signature; vectorized disc stamping with a z-buffer).
2. 3D boxes: 60 boxes drawn on the image. Reference: ``overlay_object_3d_box_on_image`` per
   box (straight lines between projected corners). Ours: ``draw_boxes_3d`` on a Box3DSet
   (fisheye-curved, clipped edges, thinned to ~24 px segments).

    python benchmarks/bench_viz.py [--points 250000] [--boxes 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zod.calibration import Calibration
from zod.constants import Lidar
from zod.geometry.box_set import Box3DSet
from zod.geometry.transforms import quaternions_from_yaw
from zod.sample.rig import make_rig
from zod.viz.image import draw_boxes_3d, visualize_lidar_on_image

REPO = Path(__file__).resolve().parent.parent
ORACLE_PYTHON = REPO / ".venv-oracle" / "bin" / "python"

ORACLE_SCRIPT = r"""
import json, sys, time
import numpy as np
from pyquaternion import Quaternion
from zod.constants import Lidar
from zod.data_classes.box import Box3D
from zod.data_classes.calibration import Calibration
from zod.data_classes.sensor import LidarData
from zod.visualization.lidar_on_image import visualize_lidar_on_image
from zod.visualization.object_visualization import overlay_object_3d_box_on_image

data = np.load(sys.argv[1])
calib = Calibration.from_dict(json.load(open(sys.argv[2])))
repeat = int(sys.argv[3])
pts = data["points"]
n = len(pts)
lidar = LidarData(points=pts, timestamps=np.zeros(n), intensity=np.zeros(n), diode_idx=np.zeros(n),
                  core_timestamp=0.0)
boxes = [Box3D(c, s, Quaternion(q), Lidar.VELODYNE)
         for c, s, q in zip(data["centers"], data["sizes"], data["quats"])]

def best(fn):
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(); out.append(time.perf_counter() - t0)
    return min(out)

def lidar_run():
    visualize_lidar_on_image(lidar, calib, np.zeros((2168, 3848, 3), np.uint8))

def boxes_run():
    img = np.zeros((2168, 3848, 3), np.uint8)
    for b in boxes:
        overlay_object_3d_box_on_image(img, b, calib, color=(255, 0, 0))

print(json.dumps({"lidar": best(lidar_run), "boxes": best(boxes_run)}))
"""


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time (s) of ``repeat`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def scene(
    n_points: int, n_boxes: int, calib: Calibration, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Lidar-frame points (mostly in front of the camera) and boxes ahead of the ego."""
    az = rng.uniform(-np.pi, np.pi, n_points)
    el = np.deg2rad(rng.uniform(-25, 15, n_points))
    r = rng.uniform(2.0, 120.0, n_points)
    pts_ego = np.stack(
        [r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el) + 1.9], axis=1
    )
    points = calib.transform_points(pts_ego, "ego", Lidar.VELODYNE)
    centers_ego = np.stack(
        [rng.uniform(5, 80, n_boxes), rng.uniform(-20, 20, n_boxes), np.full(n_boxes, 0.8)], 1
    )
    centers = calib.transform_points(centers_ego, "ego", Lidar.VELODYNE)
    sizes = np.stack(
        [
            rng.uniform(3.5, 5, n_boxes),
            rng.uniform(1.7, 2.1, n_boxes),
            rng.uniform(1.4, 1.8, n_boxes),
        ],
        1,
    )
    quats = quaternions_from_yaw(rng.uniform(-np.pi, np.pi, n_boxes))
    return {"points": points, "centers": centers, "sizes": sizes, "quats": quats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=250_000)
    parser.add_argument("--boxes", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    calib_json = make_rig().calibration_json(with_radar=False)
    calib = Calibration.from_dict(calib_json)
    data = scene(args.points, args.boxes, calib, np.random.default_rng(0))

    class Scan:
        points = data["points"]

    ours_lidar = best_time(
        lambda: visualize_lidar_on_image(Scan(), calib, np.zeros((2168, 3848, 3), np.uint8)),
        args.repeat,
    )
    box_set = Box3DSet(data["centers"], data["sizes"], data["quats"], Lidar.VELODYNE)
    ours_boxes = best_time(
        lambda: draw_boxes_3d(
            np.zeros((2168, 3848, 3), np.uint8), box_set, calib, colors=(255, 0, 0)
        ),
        args.repeat,
    )

    if not ORACLE_PYTHON.exists():
        sys.exit(f"reference venv missing at {ORACLE_PYTHON}: run scripts/setup.sh")
    with tempfile.TemporaryDirectory() as tmp:
        npz, cal, script = Path(tmp) / "scene.npz", Path(tmp) / "calib.json", Path(tmp) / "ref.py"
        np.savez(npz, **data)
        cal.write_text(json.dumps(calib_json))
        script.write_text(ORACLE_SCRIPT)
        proc = subprocess.run(
            [str(ORACLE_PYTHON), str(script), str(npz), str(cal), str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
        )
        ref = json.loads(proc.stdout.strip().splitlines()[-1])

    print(f"lidar on image ({args.points} points, radius-2 discs, 3848x2168):")
    print(
        f"  reference {ref['lidar'] * 1e3:8.1f} ms   ours {ours_lidar * 1e3:8.1f} ms   "
        f"ratio {ref['lidar'] / ours_lidar:6.1f}x"
    )
    print(f"3D boxes on image ({args.boxes} boxes):")
    print(
        f"  reference {ref['boxes'] * 1e3:8.1f} ms   ours {ours_boxes * 1e3:8.1f} ms   "
        f"ratio {ref['boxes'] / ours_boxes:6.1f}x"
    )
    print("  (ours: edges sampled through the fisheye, thinned to ~24 px segments, clipped behind")
    print("   the camera; the reference draws straight lines between projected corners)")


if __name__ == "__main__":
    main()
