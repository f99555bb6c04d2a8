"""Evaluation of ZOD tasks (docs/eval.md says which metric applies to what).

- ``zod.eval.detection``: ``evaluate_detection`` on ``DetectionBoxes`` (ours), per distance bin
  with ``evaluate_by_range``, and the reference devkit's ``evaluate_nuscenes_style`` /
  ``EvalBoxes`` / ``DetectionBox``.
- ``zod.eval.kitti``: KITTI AP_R40 / AP_R11 (2D, BEV, 3D) on KITTI label and result files.
- ``zod.eval.traffic_signs``: accuracy, per-class precision/recall, confusion matrix.
- ``zod.eval.segmentation``: ego road and lane markings, IoU / F1 per image and overall.
- ``zod.eval.road_condition``: normal / wet / snow accuracy and confusion.
- ``zod.eval.plots``: PR curves, bars, confusion matrices and report folders (PNG + summary).
"""

from __future__ import annotations

__all__: list[str] = []  # a package of modules: import them by name
