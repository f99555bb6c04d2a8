"""Score (simulated) ego-road masks, lane-marking polygons and road-condition guesses.

    python examples/evaluate_segmentation.py DATASET_ROOT OUTPUT_DIR

Ego road: quarter-resolution PNG masks made from the annotations, eroded a little, scored
with IoU / precision / recall / F1 per image and overall. Lane markings: the annotated
polygons shifted by 6 pixels, written as a polygon predictions file. Road condition: the
annotations with every third frame wrong. Each gets a report folder. From the shell:

    zod eval segmentation ROOT --version full --split train --task ego_road \
        --predictions OUTPUT_DIR/masks --report OUTPUT_DIR/report_ego_road
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from zod.dataset import open_subset
from zod.eval import road_condition as rc
from zod.eval.plots import road_condition_report, segmentation_report
from zod.eval.segmentation import (
    evaluate_segmentation_dataset,
    ground_truth_mask,
    write_mask,
    write_polygon_predictions,
)
from zod.geometry.masks import annotation_kind


def main(dataset_root: str, output_dir: str) -> None:
    out = Path(output_dir)
    frames = open_subset(dataset_root, "full", "frames")
    split = "train"
    ids = sorted(frames.get_split(split))
    lanes: dict[str, list[list[np.ndarray]]] = {}
    for frame_id in ids:
        frame = frames[frame_id]
        if frame.is_annotated("ego_road"):
            mask = ground_truth_mask("ego_road", frame.get_annotation("ego_road"), 0.25)
            eroded = cv2.erode(mask, np.ones((9, 9), np.uint8))
            write_mask(out / "masks" / f"{frame_id}.png", eroded)
        if frame.is_annotated("lane_markings"):
            lanes[frame_id] = [
                [ring + 6.0 for ring in polygon]
                for annotation in frame.get_annotation("lane_markings")
                if annotation_kind(annotation) == "lane_marking"
                for polygon in annotation.polygons
            ]
    road = evaluate_segmentation_dataset(dataset_root, out / "masks", "ego_road", "full", split)
    print(road.table())
    print("wrote", segmentation_report(road, out / "report_ego_road"))

    polygons = write_polygon_predictions(out / "lanes.json", lanes, "lane_markings")
    lane = evaluate_segmentation_dataset(
        dataset_root, polygons, "lane_markings", "full", split, scale=0.5
    )
    print(lane.table())
    print("wrote", segmentation_report(lane, out / "report_lanes"))

    gt = rc.ground_truth_from_dataset(dataset_root, "full", split)
    guesses = {
        frame_id: ("snow" if i % 3 == 0 else rc.condition_of(*value))
        for i, (frame_id, value) in enumerate(sorted(gt.items()))
    }
    path = rc.write_predictions(out / "road_condition.json", guesses)
    result = rc.evaluate_road_condition(gt, rc.read_predictions(path))
    print(result.table())
    print("wrote", road_condition_report(result, out / "report_road_condition"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
