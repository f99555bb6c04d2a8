"""Evaluation of ZOD tasks: 3D object detection (nuScenes style) and traffic-sign classification.

- ``zod.eval.detection``: ``evaluate_detection`` on ``DetectionBoxes`` (ours) and the reference
  devkit's ``evaluate_nuscenes_style`` / ``EvalBoxes`` / ``DetectionBox``.
- ``zod.eval.traffic_signs``: accuracy, per-class precision/recall, confusion matrix.
"""

from __future__ import annotations

__all__: list[str] = []  # a package of modules: import them by name
