"""zod.viz's reference-named helpers against the reference devkit itself, on the sample frames."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from zod import ZodFrames
from zod.constants import AnnotationProject
from zod.viz.reference import overlay_object_2d_box_on_image, visualize_oxts_on_image

ORACLE_SCRIPT = r"""
import sys
import numpy as np
from zod import ZodFrames
from zod.constants import AnnotationProject
from zod.visualization.oxts_on_image import visualize_oxts_on_image
from zod.visualization.object_visualization import overlay_object_2d_box_on_image
frames = ZodFrames(sys.argv[1], "mini")
frame = frames[sys.argv[2]]
image = np.zeros((2168, 3848, 3), np.uint8)
image = visualize_oxts_on_image(
    frame.oxts, frame.info.keyframe_time.timestamp(), frame.calibration, image
)
boxes = np.zeros((2168, 3848, 3), np.uint8)
# (no scale_factor: the reference's cv2.rectangle call fails on the float corners it makes)
for obj in frame.get_annotation(AnnotationProject.OBJECT_DETECTION):
    boxes = overlay_object_2d_box_on_image(boxes, obj.box2d, color=(0, 255, 0))
np.savez_compressed(sys.argv[3], oxts=image, boxes=boxes)
"""


def test_oxts_track_and_2d_boxes_match_reference_pixels(
    oracle_python: Path, sample_root: Path, tmp_path: Path
) -> None:
    frames = ZodFrames(str(sample_root), "mini")
    frame_id = sorted(frames.get_all_ids())[0]
    script, out = tmp_path / "ref.py", tmp_path / "ref.npz"
    script.write_text(ORACLE_SCRIPT)
    res = subprocess.run(
        [str(oracle_python), "-I", str(script), str(sample_root), frame_id, str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # the oracle's own zod
    )
    assert res.returncode == 0, res.stderr[-2000:]
    ref = np.load(out)

    frame = frames[frame_id]
    ours = visualize_oxts_on_image(
        frame.oxts,
        frame.info.keyframe_time.timestamp(),
        frame.calibration,
        np.zeros((2168, 3848, 3), np.uint8),
    )
    drawn_ref, drawn_ours = ref["oxts"].any(axis=2), ours.any(axis=2)
    assert drawn_ref.sum() > 100
    # same dots (radius-3 OpenCV discs at the same truncated centres): identical up to rounding
    assert (drawn_ref != drawn_ours).sum() <= 0.01 * drawn_ref.sum()
    assert np.array_equal(ours[drawn_ours][:1], np.array([[255, 0, 0]], np.uint8))

    boxes = np.zeros((2168, 3848, 3), np.uint8)
    for obj in frame.get_annotation(AnnotationProject.OBJECT_DETECTION):
        boxes = overlay_object_2d_box_on_image(boxes, obj.box2d, color=(0, 255, 0))
    assert ref["boxes"].any() and np.array_equal(boxes, ref["boxes"])
