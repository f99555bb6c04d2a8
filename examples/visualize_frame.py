"""Visualize a ZOD frame: camera overlays, bird's-eye view, 3D render, and a sequence clip.

    python examples/visualize_frame.py DATASET_ROOT OUTPUT_DIR [--version mini] [--scale 0.25]

Writes to OUTPUT_DIR:
- ``frame.png``: the key image with every layer (masks, lidar by depth, trajectory, 2D and 3D
  boxes, labels), made by ``zod.viz.frame.render_frame_image``;
- ``frame_reference_api.png``: the same kind of picture made with the reference devkit's
  helper names (``overlay_object_3d_box_on_image``, ``visualize_lidar_on_image``, ...), as
  tutorial code written for the reference devkit does it;
- ``bev.png``: bird's-eye view (lidar by height, boxes, ego, path);
- ``lidar3d.png``: an open3d offscreen render of the 3D scene (or ``lidar3d.ply`` + boxes
  when this machine cannot render offscreen);
- ``sequence.gif``: the first pictures of a sequence with lidar drawn (when the dataset has
  sequences).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from zod import ZodFrames, ZodSequences
from zod.constants import AnnotationProject, Anonymization
from zod.geometry.masks import polygons_to_binary_mask
from zod.viz import open3d_viz as v3
from zod.viz.bev import BevGrid
from zod.viz.colors import class_colors, write_png
from zod.viz.frame import (
    FRAME_LAYERS,
    frame_scene,
    render_frame_bev,
    render_frame_image,
    render_sequence_video,
)
from zod.viz.image import (
    overlay_mask_on_image,
    overlay_object_2d_box_on_image,
    overlay_object_3d_box_on_image,
    visualize_lidar_on_image,
    visualize_oxts_on_image,
)


def reference_style_picture(frame) -> np.ndarray:
    """The reference devkit's tutorial flow, helper by helper, on the full-resolution image."""
    image = frame.get_image(Anonymization.BLUR)
    calib = frame.calibration
    if frame.is_annotated(AnnotationProject.EGO_ROAD):
        road = frame.get_annotation(AnnotationProject.EGO_ROAD)
        mask = polygons_to_binary_mask([anno.geometry for anno in road])
        image = overlay_mask_on_image(mask, image, fill_color=(100, 0, 100), alpha=0.5)
    image = visualize_oxts_on_image(frame.oxts, frame.info.keyframe_time.timestamp(), calib, image)
    image = visualize_lidar_on_image(frame.get_lidar()[0], calib, image)
    for obj in frame.get_annotation(AnnotationProject.OBJECT_DETECTION):
        image = overlay_object_2d_box_on_image(
            image, obj.box2d, color=(255, 255, 255), line_thickness=4
        )
        if obj.box3d is not None:
            image = overlay_object_3d_box_on_image(
                image, obj.box3d, calib, color=(0, 200, 255), line_thickness=5
            )
    return image


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset_root", type=Path)
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--version", default="mini")
    parser.add_argument(
        "--scale", type=float, default=0.25, help="camera pictures relative to full resolution"
    )
    args = parser.parse_args()
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)

    frames = ZodFrames(str(args.dataset_root), args.version)
    frame = frames[sorted(frames.get_all_ids())[0]]
    print(f"frame {frame.info.id}")

    write_png(out / "frame.png", render_frame_image(frame, FRAME_LAYERS, scale=args.scale))
    reference = reference_style_picture(frame)
    size = (round(reference.shape[1] * args.scale), round(reference.shape[0] * args.scale))
    write_png(
        out / "frame_reference_api.png", cv2.resize(reference, size, interpolation=cv2.INTER_AREA)
    )
    write_png(
        out / "bev.png",
        render_frame_bev(frame, BevGrid((-20.0, 80.0), (-40.0, 40.0), 0.1), labels=True),
    )

    scene = frame_scene(frame)
    boxes = scene["corners"] if len(scene["corners"]) else None
    colors = class_colors(scene["classes"]) if boxes is not None else None
    try:
        picture = v3.render_offscreen(
            v3.scene_geometries(scene["points"], scene["colors"], boxes, colors),
            960,
            540,
            point_size=2,
        )
        write_png(out / "lidar3d.png", picture)
    except v3.OffscreenUnavailableError as err:
        print(f"no offscreen rendering here ({err}); writing .ply files instead")
        v3.export_ply(out / "lidar3d.ply", scene["points"], scene["colors"], boxes, colors)

    try:
        sequences = ZodSequences(str(args.dataset_root), args.version)
    except FileNotFoundError:
        sequences = None
    if sequences is not None and len(sequences):
        seq = sequences[sorted(sequences.get_all_ids())[0]]
        render_sequence_video(
            seq, out / "sequence.gif", "camera", fps=2, scale=0.125, max_frames=4, progress=False
        )

    for path in sorted(out.iterdir()):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
