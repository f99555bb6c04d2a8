"""The reference devkit's detection entry points (``zod.eval.detection``), on our evaluator.

Code written for the reference devkit builds ``DetectionBox`` objects, groups them per frame in
``EvalBoxes`` and calls ``evaluate_nuscenes_style(gt_boxes, det_boxes)``. The same calls work
here with the same signatures and dictionary keys; the numbers come from
``zod.eval.detection.evaluate`` (vectorized). As in the reference, boxes are expected in the
ego frame (x forward) unless ``verify_coordinate_system=False``.

One deliberate difference: the mean TP errors (mATE, mASE, mAOE) and NDS average over the
evaluated classes only; the reference also averages in a 0.0 for every class without ground
truth. ``reference_tp_means=True`` reproduces the reference numbers.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from zod.eval.detection.boxes import DetectionBoxes
from zod.eval.detection.constants import EVALUATION_CLASSES
from zod.eval.detection.evaluate import (
    TP_METRIC_SHORT,
    DetectionConfig,
    DetectionResult,
    evaluate_detection,
    nd_score,
    write_json_atomic,
)
from zod.eval.detection.metrics import TP_METRICS

ZOD_DEFAULT_SETTINGS: dict[str, object] = {
    "class_range": dict.fromkeys(EVALUATION_CLASSES, 250),
    "dist_fcn": "center_distance",
    "dist_ths": [0.5, 1.0, 2.0, 4.0],
    "dist_th_tp": 2.0,
    "min_recall": 0.1,
    "min_precision": 0.1,
    "max_boxes_per_sample": 500,
    "mean_ap_weight": 5,
}
"""The reference devkit's settings (kept for code that reads them)."""

VALID_TP_METRICS = dict(TP_METRIC_SHORT)
OUTPUT_FILE_NAME = "nuscenes_evaluation_metrics.json"


class DetectionBox:
    """One ground-truth or predicted box, as in the reference devkit.

    ``translation`` (x, y, z) metres, ``size`` three positive extents (any fixed order, the
    same for ground truth and predictions), ``rotation`` quaternion (w, x, y, z),
    ``detection_name`` one of ``EVALUATION_CLASSES``, ``detection_score`` (-1.0 for ground
    truth).
    """

    def __init__(
        self,
        sample_token: str = "",
        translation: Sequence[float] = (0, 0, 0),
        size: Sequence[float] = (0, 0, 0),
        rotation: Sequence[float] = (0, 0, 0, 0),
        num_pts: int = -1,
        detection_name: str = "car",
        detection_score: float = -1.0,
    ) -> None:
        if not isinstance(sample_token, str):
            raise TypeError("sample_token must be a string")
        for label, value, length in (
            ("translation", translation, 3),
            ("size", size, 3),
            ("rotation", rotation, 4),
        ):
            if len(value) != length or np.isnan(np.asarray(value, dtype=float)).any():
                raise ValueError(f"{label} must be {length} numbers without NaN, got {value}")
        if detection_name not in EVALUATION_CLASSES:
            raise ValueError(f"unknown detection_name {detection_name!r}")
        if not isinstance(detection_score, float) or np.isnan(detection_score):
            raise ValueError("detection_score must be a float and not NaN")
        self.sample_token = sample_token
        self.translation = tuple(translation)
        self.size = tuple(size)
        self.rotation = tuple(rotation)
        self.num_pts = int(num_pts)
        self.detection_name = detection_name
        self.detection_score = detection_score

    @property
    def ego_dist(self) -> float:
        """Distance of the centre from the origin in the xy plane."""
        return float(np.hypot(self.translation[0], self.translation[1]))

    def serialize(self) -> dict[str, object]:
        return {
            "sample_token": self.sample_token,
            "translation": self.translation,
            "size": self.size,
            "rotation": self.rotation,
            "num_pts": self.num_pts,
            "detection_name": self.detection_name,
            "detection_score": self.detection_score,
        }

    @classmethod
    def deserialize(cls, content: dict[str, object]) -> DetectionBox:
        return cls(
            sample_token=str(content["sample_token"]),
            translation=tuple(content["translation"]),  # type: ignore[arg-type]
            size=tuple(content["size"]),  # type: ignore[arg-type]
            rotation=tuple(content["rotation"]),  # type: ignore[arg-type]
            num_pts=int(content.get("num_pts", -1)),  # type: ignore[call-overload]
            detection_name=str(content["detection_name"]),
            detection_score=float(content.get("detection_score", -1.0)),  # type: ignore[arg-type]
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DetectionBox) and self.serialize() == other.serialize()

    def __repr__(self) -> str:
        return str(self.serialize())


class EvalBoxes:
    """Boxes grouped by frame (``sample_token``), as in the reference devkit."""

    def __init__(self) -> None:
        self.boxes: defaultdict[str, list[DetectionBox]] = defaultdict(list)

    def __getitem__(self, item: str) -> list[DetectionBox]:
        return self.boxes[item]

    def __len__(self) -> int:
        return len(self.boxes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EvalBoxes) and dict(self.boxes) == dict(other.boxes)

    def __repr__(self) -> str:
        return f"EvalBoxes with {len(self.all)} boxes across {len(self.sample_tokens)} samples"

    @property
    def all(self) -> list[DetectionBox]:
        """Every box, frame by frame."""
        return [box for token in self.sample_tokens for box in self.boxes[token]]

    @property
    def sample_tokens(self) -> list[str]:
        return list(self.boxes.keys())

    def add_boxes(self, sample_token: str, boxes: Iterable[DetectionBox]) -> None:
        self.boxes[sample_token].extend(boxes)

    def serialize(self) -> dict[str, list[dict[str, object]]]:
        return {token: [box.serialize() for box in boxes] for token, boxes in self.boxes.items()}

    @classmethod
    def deserialize(cls, content: dict, box_cls: type[DetectionBox] = DetectionBox) -> EvalBoxes:
        out = cls()
        for token, boxes in content.items():
            out.add_boxes(token, [box_cls.deserialize(box) for box in boxes])
        return out

    def to_detection_boxes(self) -> DetectionBoxes:
        """The same boxes as one column table (frames kept verbatim, even if not numeric)."""
        tokens = self.sample_tokens
        boxes = self.all
        frame_index = np.array(
            [i for i, token in enumerate(tokens) for _ in self.boxes[token]], dtype=np.int64
        )
        n = len(boxes)
        return DetectionBoxes(
            frame_ids=tuple(tokens),
            frame_index=frame_index.reshape(n),
            names=np.array([b.detection_name for b in boxes], dtype=str).reshape(n),
            scores=np.array([b.detection_score for b in boxes], dtype=np.float64).reshape(n),
            centers_m=np.array([b.translation for b in boxes], dtype=np.float64).reshape(n, 3),
            sizes_lwh_m=np.array([b.size for b in boxes], dtype=np.float64).reshape(n, 3),
            quaternions_wxyz=np.array([b.rotation for b in boxes], dtype=np.float64).reshape(n, 4),
        )


def _check_coordinate_system(gt: DetectionBoxes) -> None:
    """The reference heuristic: in the ego frame the mean centre is largest along x."""
    if not len(gt):
        return
    axis = int(np.argmax(gt.centers_m.mean(axis=0)))
    if axis != 0:
        sensor = "lidar" if axis == 1 else "camera"
        raise ValueError(
            f"Looks like the boxes were provided in the {sensor} coordinate system. "
            "Please convert them to the ego coordinate system. If you know what you are doing, "
            "you can disable this check by setting `verify_coordinate_system=False`."
        )


def _reference_dict(result: DetectionResult, reference_tp_means: bool) -> dict[str, float]:
    out = result.to_reference_dict()
    if reference_tp_means:
        # The reference averages per-class errors over all its classes, 0.0 for the missing.
        n_classes = len(result.config.classes)
        errors = {
            m: float(sum(r.tp_errors[m] for r in result.per_class.values()) / n_classes)
            for m in TP_METRICS
        }
        out.update({TP_METRIC_SHORT[m]: v for m, v in errors.items()})
        mean_ap = result.summary.mean_ap if result.per_class else float("nan")
        out["mAP"] = mean_ap
        out["NDS"] = nd_score(mean_ap, errors, result.config.mean_ap_weight)
    return out


def evaluate_nuscenes_style(
    gt_boxes: EvalBoxes,
    det_boxes: EvalBoxes,
    verbose: bool = False,
    output_path: str | os.PathLike[str] | None = None,
    verify_coordinate_system: bool = True,
    *,
    reference_tp_means: bool = False,
) -> dict[str, float]:
    """nuScenes-style evaluation with the reference devkit's signature and output keys.

    Returns ``{"NDS", "mAP", "mATE", "mASE", "mAOE", "<class>/mAP", "<class>/mATE", ...}``
    for the classes that have ground truth; writes it to
    ``<output_path>/nuscenes_evaluation_metrics.json`` when ``output_path`` is given.
    """
    gt = gt_boxes.to_detection_boxes()
    pred = det_boxes.to_detection_boxes()
    if verify_coordinate_system:
        _check_coordinate_system(gt)
    config = DetectionConfig(max_boxes_per_frame=None)
    result = evaluate_detection(gt, pred, config, allow_unknown_frames=True)
    serialized = _reference_dict(result, reference_tp_means)
    if verbose:
        print(result.table())
    if output_path:
        write_json_atomic(Path(output_path) / OUTPUT_FILE_NAME, serialized)
    return serialized
