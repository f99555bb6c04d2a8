"""KITTI-style 3D object detection evaluation: AP_R40 / AP_R11 for 2D, BEV and 3D boxes.

For the files of our KITTI export (``zod convert kitti``: ``training/label_2`` as ground truth)
and the result files of the KITTI tool chain (OpenPCDet, mmdetection3d: one ``<id>.txt`` per
frame with a score column). Modules: ``labels`` (reading and writing label / result files),
``iou`` (2D, rotated BEV and 3D overlaps, vectorized), ``evaluate`` (the metric).
"""

from __future__ import annotations

from zod.eval.kitti.evaluate import KITTI_CLASSES as KITTI_CLASSES
from zod.eval.kitti.evaluate import KITTI_DIFFICULTIES as KITTI_DIFFICULTIES
from zod.eval.kitti.evaluate import ZOD_CLASSES as ZOD_CLASSES
from zod.eval.kitti.evaluate import KittiClass as KittiClass
from zod.eval.kitti.evaluate import KittiConfig as KittiConfig
from zod.eval.kitti.evaluate import KittiDifficulty as KittiDifficulty
from zod.eval.kitti.evaluate import KittiResult as KittiResult
from zod.eval.kitti.evaluate import evaluate_kitti as evaluate_kitti
from zod.eval.kitti.evaluate import evaluate_kitti_folders as evaluate_kitti_folders
from zod.eval.kitti.labels import KittiObjects as KittiObjects
from zod.eval.kitti.labels import frame_ids_from_image_set as frame_ids_from_image_set
from zod.eval.kitti.labels import read_label_folder as read_label_folder
from zod.eval.kitti.labels import write_label_folder as write_label_folder

__all__ = [
    "KITTI_CLASSES",
    "KITTI_DIFFICULTIES",
    "ZOD_CLASSES",
    "KittiClass",
    "KittiConfig",
    "KittiDifficulty",
    "KittiObjects",
    "KittiResult",
    "evaluate_kitti",
    "evaluate_kitti_folders",
    "frame_ids_from_image_set",
    "read_label_folder",
    "write_label_folder",
]
