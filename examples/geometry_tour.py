"""Geometry tour: frames, fisheye projection, 3D boxes, lidar aggregation and masks on one frame.

    python examples/geometry_tour.py DATASET_ROOT OUTPUT_DIR

Writes ``geometry_tour.png`` (aggregated lidar and 3D boxes drawn on the image, lane masks
tinted) and ``geometry_tour.json`` (per-box lidar point counts, how well the projected boxes
match the annotated 2D boxes, aggregation sharpness) into OUTPUT_DIR.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from zod import ZodFrames
from zod.annotations.objects import box_set_from_object_annotations
from zod.constants import AnnotationProject, Camera, Lidar
from zod.geometry import masks
from zod.geometry.fisheye import points_to_image
from zod.viz.colors import write_png
from zod.viz.image import draw_boxes_3d, draw_lidar


def main(root: str, output_dir: str) -> None:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = ZodFrames(root, "mini")
    frame = frames[min(frames.get_all_ids())]
    calib = frame.calibration

    # Frames: a point 20 m ahead of the ego, in every frame.
    ahead_ego = np.array([[20.0, 0.0, 1.0]])
    in_lidar = calib.transform_points(ahead_ego, "ego", Lidar.VELODYNE)
    in_camera = calib.transform_points(ahead_ego, "ego", Camera.FRONT)

    # Boxes: one vectorized set from the annotation objects, projected in one call.
    objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    boxes = box_set_from_object_annotations(objects)
    projection = boxes.project(calib)
    corners_px = projection.pixels[:, 1:]
    extent = np.concatenate([corners_px.min(axis=1), corners_px.max(axis=1)], axis=1)
    box_error_px = np.abs(extent - boxes.boxes2d).max(axis=1)

    # Lidar: the 21 scans aggregated at the key scan's time; points per box; points in the image.
    cloud = frame.get_aggregated_lidar(num_before=10, num_after=10)
    box_of_point = boxes.points_in_boxes(cloud.points)
    counts = np.bincount(box_of_point[box_of_point >= 0], minlength=len(boxes))
    visible = points_to_image(cloud.points, calib)

    # Picture: lidar coloured by depth, boxes, lane masks (GeoJSON holes respected).
    image = frame.get_image()
    lanes = frame.get_annotation(AnnotationProject.LANE_MARKINGS)
    lane_mask = masks.binary_mask(lanes, image_shape=image.shape[:2])
    image[lane_mask] = (0.5 * image[lane_mask] + [0, 127, 0]).astype(np.uint8)
    draw_lidar(image, cloud.points, calib)
    draw_boxes_3d(image, boxes[projection.visible], calib)
    write_png(out / "geometry_tour.png", image)

    summary = {
        "frame_id": frame.info.id,
        "point_20m_ahead": {
            "lidar": in_lidar[0].round(3).tolist(),
            "camera": in_camera[0].round(3).tolist(),
        },
        "boxes": [
            {
                "class": str(boxes.classes[i]),
                "distance_m": round(float(boxes.distances()[i]), 2),
                "lidar_points": int(counts[i]),
                "visible": bool(projection.visible[i]),
                "projected_vs_annotated_2d_px": round(float(box_error_px[i]), 2),
            }
            for i in range(len(boxes))
        ],
        "aggregated_points": len(cloud.points),
        "points_in_image": int(visible.mask.sum()),
        "lane_mask_pixels": int(lane_mask.sum()),
    }
    tmp = out / "geometry_tour.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2))
    os.replace(tmp, out / "geometry_tour.json")
    print(
        f"frame {frame.info.id}: {len(boxes)} 3D boxes, {len(cloud.points)} aggregated points, "
        f"{int(visible.mask.sum())} in the image -> {out}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
