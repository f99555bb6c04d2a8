"""Pinhole views of the fisheye: rectify a frame, draw lidar and 3D boxes in the view.

    python examples/pinhole_views.py DATASET_ROOT OUTPUT_DIR

Writes into OUTPUT_DIR:

- ``pinhole_front.png``: the fisheye image with the footprint of ``FRONT_VIEW`` outlined, next
  to the rectified view with the lidar points (coloured by depth) and the 3D boxes drawn as
  straight edges (a pinhole keeps 3D lines straight);
- ``pinhole_rig.png``: the three views of ``THREE_VIEW_RIG`` side by side;
- ``pinhole_views.json``: the view intrinsics, and how well two independent paths agree:
  lidar -> view directly, and lidar -> fisheye pixel -> view pixel (exact inverse map).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from zod import ZodFrames
from zod.annotations.objects import box_set_from_object_annotations
from zod.constants import AnnotationProject, Camera
from zod.geometry import pinhole
from zod.geometry.fisheye import points_to_image
from zod.geometry.pinhole import FRONT_VIEW, THREE_VIEW_RIG

BOX_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5)]
BOX_EDGES += [(2, 6), (3, 7)]


def write_png(path: Path, image_rgb: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)


def footprint(camera: object, view: pinhole.PinholeView) -> np.ndarray:
    """The view's border carried into the fisheye image: (K, 1, 2) int32 polyline."""
    w, h = view.width_px - 1, view.height_px - 1
    t = np.linspace(0.0, 1.0, 50)
    border = np.concatenate(
        [
            np.stack([t * w, np.zeros_like(t)], 1),
            np.stack([np.full_like(t, w), t * h], 1),
            np.stack([(1 - t) * w, np.full_like(t, h)], 1),
            np.stack([np.zeros_like(t), (1 - t) * h], 1),
        ]
    )
    fisheye_px = pinhole.view_to_fisheye_pixels(border, camera, view).pixels
    return np.round(fisheye_px).astype(np.int32).reshape(-1, 1, 2)


def main(root: str, output_dir: str) -> None:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = ZodFrames(root, "mini")
    frame = frames[min(frames.get_all_ids())]
    calib = frame.calibration
    camera = calib.cameras[Camera.FRONT]
    image = frame.get_image()

    # The view: one remap with tables built once and cached (= pinhole.rectify(image, camera,
    # FRONT_VIEW); frame.get_image(view=FRONT_VIEW) says the same).
    view_image = frame.get_view_image(FRONT_VIEW)

    # Lidar into the view, directly (one rigid transform and K) ...
    points = frame.get_lidar()[0].points
    direct = frame.project_to_view(points, FRONT_VIEW)  # pinhole.points_to_view(points, calib, ...)
    # ... and through the fisheye: project with the Kannala-Brandt model, then the inverse map.
    fisheye_proj = points_to_image(points, calib, use_field_of_view=False)
    via_fisheye = pinhole.fisheye_to_view_pixels(fisheye_proj.pixels, camera, FRONT_VIEW)
    both = direct.pixels[fisheye_proj.mask]
    agreement_px = float(np.abs(both - via_fisheye.pixels).max())

    shown = np.flatnonzero(direct.in_image)
    depth = np.clip(direct.depth_m[shown] / 60.0, 0.0, 1.0)
    levels = (255 * (1 - depth)).astype(np.uint8).reshape(-1, 1)
    colours = cv2.applyColorMap(levels, cv2.COLORMAP_JET).reshape(-1, 3)[:, ::-1]  # RGB
    for (u, v), colour in zip(direct.pixels[shown], colours.tolist()):
        cv2.circle(view_image, (round(u), round(v)), 2, colour, -1)

    boxes = box_set_from_object_annotations(
        frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    )
    corners = boxes.corners()  # (N, 8, 3) lidar frame
    corner_proj = pinhole.points_to_view(corners.reshape(-1, 3), calib, FRONT_VIEW)
    corner_px = corner_proj.pixels.reshape(-1, 8, 2)
    drawn = 0
    ahead = (corner_proj.depth_m.reshape(-1, 8) > 0.5).all(axis=1)  # no edge crosses the camera
    for i in np.flatnonzero(ahead):
        pts = np.round(corner_px[i] * 16).astype(np.int64)  # 4 fractional bits
        for a, b in BOX_EDGES:
            cv2.line(view_image, tuple(pts[a]), tuple(pts[b]), (255, 255, 0), 2, cv2.LINE_AA, 4)
        drawn += 1

    fisheye_image = image.copy()
    cv2.polylines(fisheye_image, [footprint(camera, FRONT_VIEW)], True, (255, 255, 0), 6)
    height = view_image.shape[0]
    scale = height / fisheye_image.shape[0]
    fisheye_small = cv2.resize(
        fisheye_image,
        (round(fisheye_image.shape[1] * scale), height),
        interpolation=cv2.INTER_AREA,
    )
    write_png(out / "pinhole_front.png", np.concatenate([fisheye_small, view_image], axis=1))

    rig = [pinhole.rectify(image, camera, view) for view in THREE_VIEW_RIG]
    write_png(out / "pinhole_rig.png", np.concatenate(rig, axis=1))

    summary = {
        "frame_id": frame.info.id,
        "views": [
            {
                "preset": preset,
                "name": view.name,
                "yaw_deg": view.yaw_deg,
                "pitch_deg": view.pitch_deg,
                "horizontal_fov_deg": view.horizontal_fov_deg,
                "vertical_fov_deg": round(view.vertical_fov_deg, 3),
                "size_px": [view.width_px, view.height_px],
                "intrinsics": view.intrinsics.round(3).tolist(),
            }
            for preset, views in (("FRONT_VIEW", [FRONT_VIEW]), ("THREE_VIEW_RIG", THREE_VIEW_RIG))
            for view in views
        ],
        "lidar_points_in_front_view": int(direct.in_image.sum()),
        "lidar_points_in_fisheye_image": int(fisheye_proj.mask.sum()),
        "direct_vs_via_fisheye_max_px": agreement_px,
        "boxes_drawn": drawn,
    }
    tmp = out / "pinhole_views.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, out / "pinhole_views.json")
    if not agreement_px < 0.1:
        sys.exit(f"direct and fisheye paths disagree by {agreement_px} px")
    print(
        f"frame {frame.info.id}: {int(direct.in_image.sum())} lidar points and {drawn} boxes in "
        f"the front view; direct vs via the fisheye: {agreement_px:.1e} px -> {out}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
