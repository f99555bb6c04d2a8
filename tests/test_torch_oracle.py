"""ZodFramesDataset against the reference devkit (zod==0.8.0) on the sample.

The reference has no PyTorch dataset; what a sample holds must still be what the reference
reads: the full-resolution image (PIL decode), the core lidar scan, the object classes and
their 2D boxes, and the 3D boxes converted to the ego frame by the reference's ``Box3D``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import torch
from pyquaternion import Quaternion

from zod.geometry.box import Box3D
from zod.torch import ZodFramesDataset

SCRIPT = r"""
import json, sys
import numpy as np
from zod import ZodFrames
from zod.constants import AnnotationProject, EGO
root, ids = sys.argv[1], sys.argv[2].split(",")
frames = ZodFrames(root, "full", mp=False)
out = {}
for frame_id in ids:
    frame = frames[frame_id]
    image = frame.get_image()
    scan = frame.get_lidar()[0]
    objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
    boxes_ego = []
    for obj in objects:
        if obj.box3d is None:
            boxes_ego.append(None)
            continue
        box = obj.box3d
        box.convert_to(EGO, frame.calibration)
        boxes_ego.append(box.center.tolist() + box.size.tolist() + box.corners.tolist())
    out[frame_id] = {
        "image_shape": list(image.shape),
        "image_sum": image.reshape(-1, 3).astype(np.int64).sum(0).tolist(),
        "image_row": image[image.shape[0] // 2, ::97].astype(int).tolist(),
        "scan": [
            scan.points.shape[0],
            float(scan.points.astype(np.float64).sum()),
            float(scan.timestamps.min()),
        ],
        "names": [obj.name for obj in objects],
        "boxes_2d": [list(map(float, obj.box2d.xyxy)) for obj in objects],
        "boxes_ego": boxes_ego,
    }
print(json.dumps(out))
"""


def test_frames_dataset_agrees_with_reference(
    sample_root: Path, oracle_python: Path, tmp_path: Path
) -> None:
    ds = ZodFramesDataset(
        sample_root,
        "full",
        None,
        modalities=("image", "lidar", "objects", "boxes_3d"),
        boxes_frame="ego",
    )
    script = tmp_path / "reference.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [str(oracle_python), str(script), str(sample_root), ",".join(ds.frame_ids)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # the oracle's own zod
    )
    assert result.returncode == 0, result.stderr
    reference = json.loads(result.stdout)
    assert sorted(reference) == sorted(ds.frame_ids)
    for i, frame_id in enumerate(ds.frame_ids):
        ref = reference[frame_id]
        sample = ds[i]
        image = sample["image"].permute(1, 2, 0).numpy()
        assert list(image.shape) == ref["image_shape"]
        # OpenCV and PIL both decode with libjpeg: the same pixels
        np.testing.assert_array_equal(
            image[image.shape[0] // 2, ::97].astype(int), ref["image_row"]
        )
        assert image.reshape(-1, 3).astype(np.int64).sum(0).tolist() == ref["image_sum"]
        points = sample["lidar_points"].numpy().astype(np.float64)
        assert [len(points), points.sum()] == [ref["scan"][0], ref["scan"][1]]
        assert abs(sample["time_s"] + float(sample["lidar_time_s"].min()) - ref["scan"][2]) < 1e-5
        names = [ds.classes[c] for c in sample["class_ids"].tolist()]
        assert names == ref["names"]
        np.testing.assert_allclose(
            sample["boxes_2d"].numpy(), np.array(ref["boxes_2d"]).reshape(-1, 4), atol=1e-3
        )
        for row, valid, ref_box in zip(
            sample["boxes_3d"].double(), sample["box_3d_valid"], ref["boxes_ego"]
        ):
            assert bool(valid) == (ref_box is not None)
            if ref_box is None:
                continue
            np.testing.assert_allclose(row[:6].numpy(), ref_box[:6], atol=1e-4)
            corners = Box3D(
                row[:3].numpy(), row[3:6].numpy(), Quaternion(row[6:].numpy()), "ego"
            ).corners
            np.testing.assert_allclose(corners, np.array(ref_box[6:]), atol=1e-3)
    assert torch.is_tensor(sample["image"])
