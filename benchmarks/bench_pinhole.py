"""Benchmark: rectifying the fisheye into pinhole views against decoding the JPEG, same run.

1. full resolution: decode a 3848 x 2168 JPEG (``zod.sensors.camera.read_image``) vs
   ``rectify`` into ``FRONT_VIEW`` (1920 x 1080, cached fixed-point tables). Goal: rectify
   <= 2x the decode (printed as rectify / decode).
2. the same with float32 tables straight into ``cv2.remap`` (what the fixed-point tables save),
   and with OpenCV limited to one thread (the decoder uses one).
3. half scale: decode at 1/2 vs rectify into ``FRONT_VIEW.scaled(0.5)``; the three-view rig.
4. building the tables (once per calibration and view, then cached).

The JPEG is textured so that it weighs like a real ZOD image (1-3 MB); ``--image`` takes a real
one. The calibration is the sample's rig (``zod.sample.rig.make_rig``).

    python benchmarks/bench_pinhole.py [--image PATH] [--repeat 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from zod.calibration import Calibration
from zod.constants import Camera
from zod.geometry import pinhole
from zod.geometry.pinhole import FRONT_VIEW, THREE_VIEW_RIG
from zod.sample.rig import make_rig
from zod.sensors.camera import read_image


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time (s) of ``repeat`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def textured_jpeg(path: Path, width: int = 3848, height: int = 2168) -> None:
    """A photo-like JPEG: smooth gradients plus blurred noise, quality 90 (about 1-3 MB)."""
    rng = np.random.default_rng(0)
    coarse = rng.normal(0.0, 40.0, (height // 2, width // 2, 3)).astype(np.float32)
    noise = cv2.resize(cv2.GaussianBlur(coarse, (0, 0), 0.8), (width, height))
    ramp = np.linspace(40.0, 200.0, width, dtype=np.float32)[None, :, None]
    image = np.clip(ramp + noise + rng.normal(0.0, 6.0, noise.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=None, help="a 3848 x 2168 JPEG")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    camera = Calibration.from_dict(make_rig().calibration_json(with_radar=False)).cameras[
        Camera.FRONT
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = args.image
        if path is None:
            path = Path(tmp) / "fisheye.jpg"
            textured_jpeg(path)
        size_mb = path.stat().st_size / 1e6
        image = read_image(path)
        half_image = read_image(path, scale=0.5)
        print(
            f"JPEG {image.shape[1]} x {image.shape[0]}, {size_mb:.1f} MB; "
            f"OpenCV threads {cv2.getNumThreads()}"
        )

        t_build = time.perf_counter()
        k_bytes, d_bytes = pinhole._model_key(camera)
        pinhole._fixed_point_tables(k_bytes, d_bytes, FRONT_VIEW, 1.0)
        t_build = time.perf_counter() - t_build
        map_x, map_y = pinhole.remap_tables(camera, FRONT_VIEW)

        t_decode = best_time(lambda: read_image(path), args.repeat)
        t_rectify = best_time(lambda: pinhole.rectify(image, camera, FRONT_VIEW), args.repeat)
        t_float = best_time(lambda: cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR), args.repeat)
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        t_rectify_1 = best_time(lambda: pinhole.rectify(image, camera, FRONT_VIEW), args.repeat)
        cv2.setNumThreads(threads)
        print(
            f"full res : decode {t_decode * 1e3:6.1f} ms  rectify FRONT_VIEW "
            f"{t_rectify * 1e3:6.1f} ms  ratio rectify/decode {t_rectify / t_decode:4.2f} "
            f"(goal <= 2)"
        )
        print(
            f"           float32 tables in cv2.remap {t_float * 1e3:6.1f} ms "
            f"({t_float / t_rectify:3.1f}x the fixed-point tables); "
            f"rectify on 1 OpenCV thread {t_rectify_1 * 1e3:6.1f} ms "
            f"(ratio {t_rectify_1 / t_decode:4.2f})"
        )

        half_view = FRONT_VIEW.scaled(0.5)
        t_decode_half = best_time(lambda: read_image(path, scale=0.5), args.repeat)
        t_rectify_half = best_time(
            lambda: pinhole.rectify(half_image, camera, half_view), args.repeat
        )
        t_rig = best_time(
            lambda: [pinhole.rectify(image, camera, view) for view in THREE_VIEW_RIG], args.repeat
        )
        print(
            f"half res : decode {t_decode_half * 1e3:6.1f} ms  rectify 960 x 540 "
            f"{t_rectify_half * 1e3:6.1f} ms  ratio {t_rectify_half / t_decode_half:4.2f}"
        )
        print(
            f"rig      : 3 views of 960 x 1536 {t_rig * 1e3:6.1f} ms  "
            f"ratio to one decode {t_rig / t_decode:4.2f}"
        )
        print(f"tables   : built once per calibration and view in {t_build * 1e3:6.0f} ms")


if __name__ == "__main__":
    main()
