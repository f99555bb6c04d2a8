"""A tour of the devkit's readers: datasets, frames, sensors, sidecars and annotations.

    python examples/tour.py DATASET_ROOT OUTPUT_DIR

Prints what it reads and writes ``tour.json`` (the numbers) and ``tour_keyframe.jpg`` (the key
image at 1/4 scale) into OUTPUT_DIR. Works on any root holding at least ZOD Frames mini.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from zod import ZodFrames, ZodSequences
from zod.constants import TRAINVAL_FILES, AnnotationProject, Anonymization, Lidar
from zod.errors import MissingFileError
from zod.summary import format_summary, summarize


def main(root: str, output_dir: str) -> None:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {}

    # 1. What is on disk (the same as `zod info ROOT --no-classes`)
    print(format_summary(root, summarize(root, object_classes=False, progress=False)))

    # 2. A sub-dataset: ids and splits come from the fast index; infos are parsed on access
    frames = ZodFrames(root, version="mini")
    train, val = frames.get_split("train"), frames.get_split("val")
    with_signs = frames.get_split("train", AnnotationProject.TRAFFIC_SIGNS)
    print(
        f"\nZodFrames mini: {len(frames)} frames, {len(train)} train / {len(val)} val, "
        f"{len(with_signs)} train frames with traffic signs"
    )
    report["frames"] = {"len": len(frames), "train": sorted(train), "val": sorted(val)}

    # 3. One frame: times, sensors, sidecars
    frame = frames[min(frames.get_all_ids())]
    info = frame.info
    print(f"\nframe {info.id}: keyframe {info.keyframe_time.isoformat()}")
    scans = frame.get_lidar_frames(num_before=2, num_after=2)
    print(f"  lidar scans around the keyframe: {[s.time.strftime('%S.%f') for s in scans]}")
    core = frame.get_lidar()[0]
    ranges = np.linalg.norm(core.points, axis=1)
    print(
        f"  core scan: {core.num_points} points (ego returns removed), range {ranges.min():.1f}.."
        f"{ranges.max():.1f} m, spin {core.timestamps.max() - core.timestamps.min():.3f} s"
    )
    image = frame.get_image(Anonymization.BLUR, scale=0.25)
    cv2.imwrite(str(out / "tour_keyframe.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    print(f"  blurred image at 1/4 scale: {image.shape}")
    md = frame.metadata
    print(
        f"  metadata: {md.country_code}, {md.road_type}, {md.time_of_day}, "
        f"weather {md.scraped_weather}"
    )
    cameras = [c.value for c in frame.calibration.cameras]
    lidars = [lid.value for lid in frame.calibration.lidars]
    print(f"  calibration: cameras {cameras}, lidars {lidars}")
    ego = frame.ego_motion
    print(
        f"  ego motion: {len(ego.timestamps)} poses "
        f"over {ego.timestamps[-1] - ego.timestamps[0]:.2f} s"
    )
    report["frame"] = {
        "id": info.id,
        "core_points": core.num_points,
        "image_shape": list(image.shape),
        "scans": [s.filepath.rsplit("/", 1)[-1] for s in scans],
    }

    # 4. Annotations of every project the frame has
    annotations = {}
    for project in AnnotationProject:
        if not frame.is_annotated(project):
            print(f"  {project.value}: not annotated")
            continue
        anno = frame.get_annotation(project)
        if project == AnnotationProject.OBJECT_DETECTION:
            subclasses = Counter(obj.subclass for obj in anno)
            with_3d = sum(obj.box3d is not None for obj in anno)
            print(f"  objects: {len(anno)} ({with_3d} with a 3D box): {dict(subclasses)}")
            annotations[project.value] = dict(subclasses)
        elif project == AnnotationProject.ROAD_CONDITION:
            print(f"  road condition: wet={anno.wet} snowy={anno.snowy}")
            annotations[project.value] = {"wet": anno.wet, "snowy": anno.snowy}
        else:
            print(f"  {project.value}: {len(anno)} annotations")
            annotations[project.value] = len(anno)
    report["annotations"] = annotations

    # 5. A sequence, if present: vehicle data and radar over the clip
    if (Path(root) / TRAINVAL_FILES["sequences"]["mini"]).is_file():
        sequences = ZodSequences(root, version="mini")
        seq = sequences[min(sequences.get_all_ids())]
        lidar_frames = seq.info.get_lidar_frames(Lidar.VELODYNE)
        print(
            f"\nsequence {seq.info.id}: {len(lidar_frames)} lidar scans, "
            f"{len(seq.info.get_camera_frames())} images"
        )
        try:
            vd = seq.vehicle_data.ego_vehicle_data
            print(
                f"  vehicle data: {len(vd.timestamp)} samples, "
                f"mean speed {np.mean(vd.lon_vel):.1f} m/s"
            )
            radar = seq.get_radar()
            print(
                f"  radar: {len(radar.radar_range)} detections "
                f"in {len(np.unique(radar.scan_index))} scans"
            )
            report["sequence"] = {
                "id": seq.info.id,
                "vehicle_samples": len(vd.timestamp),
                "radar_detections": len(radar.radar_range),
            }
        except MissingFileError as err:  # a partial download says what to fetch
            print(f"  {err}")

    (out / "tour.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out / 'tour.json'} and {out / 'tour_keyframe.jpg'}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
