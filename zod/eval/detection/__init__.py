"""nuScenes-style 3D detection evaluation (centre-distance matching, AP, TP errors, NDS).

Our API: ``DetectionBoxes`` (column tables of boxes), ``evaluate_detection``,
``evaluate_by_range``, ``DetectionConfig``, ``DetectionResult``, ``read_predictions`` /
``write_predictions`` (the predictions JSON of docs/eval.md) and ``ground_truth_from_dataset``.

The reference devkit's names are here too: ``EvalBoxes``, ``DetectionBox``,
``EVALUATION_CLASSES``, ``evaluate_nuscenes_style``.
"""

from __future__ import annotations

from zod.eval.detection.boxes import DetectionBoxes as DetectionBoxes
from zod.eval.detection.constants import EVALUATION_CLASSES as EVALUATION_CLASSES
from zod.eval.detection.constants import LEVELS as LEVELS
from zod.eval.detection.eval_nuscenes_style import DetectionBox as DetectionBox
from zod.eval.detection.eval_nuscenes_style import EvalBoxes as EvalBoxes
from zod.eval.detection.eval_nuscenes_style import (
    evaluate_nuscenes_style as evaluate_nuscenes_style,
)
from zod.eval.detection.evaluate import DetectionConfig as DetectionConfig
from zod.eval.detection.evaluate import DetectionResult as DetectionResult
from zod.eval.detection.evaluate import evaluate_by_range as evaluate_by_range
from zod.eval.detection.evaluate import evaluate_detection as evaluate_detection
from zod.eval.detection.io import ground_truth_from_dataset as ground_truth_from_dataset
from zod.eval.detection.io import read_predictions as read_predictions
from zod.eval.detection.io import write_predictions as write_predictions

__all__ = [
    "EVALUATION_CLASSES",
    "LEVELS",
    "DetectionBox",
    "DetectionBoxes",
    "DetectionConfig",
    "DetectionResult",
    "EvalBoxes",
    "evaluate_by_range",
    "evaluate_detection",
    "evaluate_nuscenes_style",
    "ground_truth_from_dataset",
    "read_predictions",
    "write_predictions",
]
