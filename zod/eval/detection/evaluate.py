"""nuScenes-style 3D detection evaluation of ZOD: per-class AP, TP errors, mAP and NDS.

``evaluate_detection(ground_truth, predictions)`` takes two ``DetectionBoxes`` (same frame
convention, normally the lidar frame of the annotations) and returns a ``DetectionResult``
with per-class numbers, an overall summary, a summary per class level, and JSON output.

Differences from the reference devkit, on purpose (docs/eval.md):
- the mean TP errors average over the evaluated classes only (the reference also averages in
  a 0.0 for every class without ground truth, which makes mATE/mASE/mAOE and NDS too good);
- predictions on frames that are not in the ground truth are an error unless asked for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from zod._atomic import atomic_write_text
from zod.eval.detection.boxes import DetectionBoxes
from zod.eval.detection.constants import (
    CLASS_LEVEL,
    DEFAULT_RANGE_M,
    DIST_THRESHOLDS_M,
    DISTANCE_BINS_M,
    EVALUATION_CLASSES,
    SUBCLASS_LEVEL,
)
from zod.eval.detection.metrics import (
    TP_METRICS,
    ClassBoxes,
    MetricCurves,
    accumulate_thresholds,
    average_precision,
    nd_score,
    tp_error,
)

TP_METRIC_SHORT = {"trans_err": "mATE", "scale_err": "mASE", "orient_err": "mAOE"}
"""Summary names of the mean TP errors."""


@dataclass(frozen=True)
class DetectionConfig:
    """Settings of the evaluation (defaults: the reference devkit's ZOD settings).

    Attributes:
        classes: names to evaluate; a name is scored only if it has ground truth in range.
        class_range_m: evaluation range per name (missing names use ``default_range_m``).
        default_range_m: range of names not in ``class_range_m``; boxes with
            ``min_range_m < xy distance <= range`` are kept, on both sides.
        min_range_m: lower end of the evaluated distances (0: everything but the origin);
            ``evaluate_by_range`` sets it per distance bin.
        dist_ths_m: centre-distance thresholds averaged in the AP.
        dist_th_tp_m: threshold whose matches give the TP errors (one of ``dist_ths_m``).
        min_recall, min_precision: nuScenes AP clipping.
        max_boxes_per_frame: more predictions than this in one frame is an error (None: any).
        mean_ap_weight: weight of mAP in the NDS (against 1 per TP error).
    """

    classes: tuple[str, ...] = tuple(EVALUATION_CLASSES)
    class_range_m: Mapping[str, float] = field(default_factory=dict)
    default_range_m: float = DEFAULT_RANGE_M
    min_range_m: float = 0.0
    dist_ths_m: tuple[float, ...] = DIST_THRESHOLDS_M
    dist_th_tp_m: float = 2.0
    min_recall: float = 0.1
    min_precision: float = 0.1
    max_boxes_per_frame: int | None = 500
    mean_ap_weight: float = 5.0

    def __post_init__(self) -> None:
        if self.dist_th_tp_m not in self.dist_ths_m:
            raise ValueError(f"dist_th_tp_m {self.dist_th_tp_m} is not in {self.dist_ths_m}")
        if not (0 <= self.min_precision < 1 and 0 <= self.min_recall <= 1):
            raise ValueError("min_precision must be in [0, 1) and min_recall in [0, 1]")

    def range_m(self, name: str) -> float:
        """Evaluation range of one class name."""
        return float(self.class_range_m.get(name, self.default_range_m))

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly settings."""
        return {
            "classes": list(self.classes),
            "class_range_m": {c: self.range_m(c) for c in self.classes},
            "min_range_m": self.min_range_m,
            "dist_fcn": "center_distance",
            "dist_ths_m": list(self.dist_ths_m),
            "dist_th_tp_m": self.dist_th_tp_m,
            "min_recall": self.min_recall,
            "min_precision": self.min_precision,
            "max_boxes_per_frame": self.max_boxes_per_frame,
            "mean_ap_weight": self.mean_ap_weight,
        }


@dataclass(frozen=True)
class ClassResult:
    """Numbers of one class: AP per threshold, their mean, TP errors at ``dist_th_tp_m``."""

    name: str
    num_gt: int
    num_pred: int
    ap_by_threshold: dict[float, float]
    mean_ap: float
    tp_errors: dict[str, float]
    curves: dict[float, MetricCurves] = field(repr=False, default_factory=dict)

    def to_dict(self, include_curves: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "num_gt": self.num_gt,
            "num_pred": self.num_pred,
            "ap": {str(th): ap for th, ap in self.ap_by_threshold.items()},
            "mAP": self.mean_ap,
            **{TP_METRIC_SHORT[m]: v for m, v in self.tp_errors.items()},
        }
        if include_curves:
            out["curves"] = {str(th): c.to_dict() for th, c in self.curves.items()}
        return out


@dataclass(frozen=True)
class Summary:
    """mAP, mean TP errors and NDS over a set of evaluated classes."""

    classes: tuple[str, ...]
    mean_ap: float
    tp_errors: dict[str, float]
    nds: float

    @classmethod
    def over(cls, results: Mapping[str, ClassResult], mean_ap_weight: float) -> Summary:
        """Summary of the given class results (an empty set gives zero mAP and NDS)."""
        names = tuple(results)
        if not names:
            errors = dict.fromkeys(TP_METRICS, 1.0)
            return cls(names, 0.0, errors, nd_score(0.0, errors, mean_ap_weight))
        mean_ap = float(np.mean([r.mean_ap for r in results.values()]))
        errors = {
            m: float(np.nanmean([r.tp_errors[m] for r in results.values()])) for m in TP_METRICS
        }
        return cls(names, mean_ap, errors, nd_score(mean_ap, errors, mean_ap_weight))

    def to_dict(self) -> dict[str, object]:
        return {
            "NDS": self.nds,
            "mAP": self.mean_ap,
            **{TP_METRIC_SHORT[m]: v for m, v in self.tp_errors.items()},
            "classes": list(self.classes),
        }


@dataclass(frozen=True)
class DetectionResult:
    """Everything an evaluation produced."""

    config: DetectionConfig
    per_class: dict[str, ClassResult]
    summary: Summary
    by_level: dict[str, Summary]
    num_frames: int

    @property
    def nds(self) -> float:
        return self.summary.nds

    @property
    def mean_ap(self) -> float:
        return self.summary.mean_ap

    def to_dict(self, include_curves: bool = False) -> dict[str, object]:
        """JSON-friendly result: summary, per level, per class, settings."""
        return {
            **{k: v for k, v in self.summary.to_dict().items() if k != "classes"},
            "num_frames": self.num_frames,
            "evaluated_classes": list(self.summary.classes),
            "levels": {name: s.to_dict() for name, s in self.by_level.items()},
            "per_class": {n: r.to_dict(include_curves) for n, r in self.per_class.items()},
            "config": self.config.to_dict(),
        }

    def to_reference_dict(self) -> dict[str, float]:
        """The flat dict of the reference devkit (``NDS``, ``mAP``, ``<class>/mATE``...)."""
        out: dict[str, float] = {"NDS": self.summary.nds, "mAP": self.summary.mean_ap}
        out.update({TP_METRIC_SHORT[m]: v for m, v in self.summary.tp_errors.items()})
        out.update({f"{n}/mAP": r.mean_ap for n, r in self.per_class.items()})
        out.update(
            {
                f"{n}/{TP_METRIC_SHORT[m]}": r.tp_errors[m]
                for n, r in self.per_class.items()
                for m in TP_METRICS
            }
        )
        return out

    def write_json(self, path: str | os.PathLike[str], include_curves: bool = False) -> Path:
        """Write ``to_dict()`` to ``path`` atomically (temp file then rename)."""
        return write_json_atomic(path, self.to_dict(include_curves))

    def table(self) -> str:
        """A human-readable table: summary lines then one line per class."""
        lines = [
            f"frames: {self.num_frames}   classes evaluated: {len(self.per_class)}",
            f"NDS:  {self.summary.nds:.4f}",
            f"mAP:  {self.summary.mean_ap:.4f}",
            *(f"{TP_METRIC_SHORT[m]}: {v:.4f}" for m, v in self.summary.tp_errors.items()),
        ]
        for level, s in self.by_level.items():
            lines.append(f"{level:>8} level: NDS {s.nds:.4f}  mAP {s.mean_ap:.4f}")
        lines.append("")
        lines.append(f"{'class':<38}{'#gt':>7}{'#pred':>8}{'AP':>8}{'ATE':>8}{'ASE':>8}{'AOE':>8}")
        for name, r in self.per_class.items():
            e = r.tp_errors
            lines.append(
                f"{name:<38}{r.num_gt:>7}{r.num_pred:>8}{r.mean_ap:>8.4f}"
                f"{e['trans_err']:>8.4f}{e['scale_err']:>8.4f}{e['orient_err']:>8.4f}"
            )
        return "\n".join(lines)


def write_json_atomic(path: str | os.PathLike[str], payload: object) -> Path:
    """Dump ``payload`` as JSON to ``path`` through a temporary file in the same folder."""
    return atomic_write_text(path, json.dumps(payload, indent=2))


def _rows_in_range_by_name(boxes: DetectionBoxes, config: DetectionConfig) -> dict[str, np.ndarray]:
    """Per evaluated name, the (k,) rows (in row order) with ``min < xy distance <= range``."""
    if not len(boxes):
        return {}
    names, inverse = np.unique(boxes.names, return_inverse=True)
    inverse = inverse.reshape(-1)
    wanted = set(config.classes)
    range_of_name = np.array([config.range_m(n) if n in wanted else -np.inf for n in names])
    distance = boxes.distance_xy_m
    kept = np.flatnonzero((distance > config.min_range_m) & (distance <= range_of_name[inverse]))
    by_name = kept[np.argsort(inverse[kept], kind="stable")]
    bounds = np.searchsorted(inverse[by_name], np.arange(len(names) + 1))
    return {
        str(name): by_name[bounds[i] : bounds[i + 1]]
        for i, name in enumerate(names)
        if bounds[i + 1] > bounds[i]
    }


def _class_boxes(
    boxes: DetectionBoxes, yaw_rad: np.ndarray, rows: np.ndarray, frame_map: np.ndarray
) -> ClassBoxes:
    return ClassBoxes(
        frame=frame_map[boxes.frame_index[rows]],
        centers_xy_m=boxes.centers_m[rows, :2],
        sizes_lwh_m=boxes.sizes_lwh_m[rows],
        yaw_rad=yaw_rad[rows],
        score=boxes.scores[rows],
    )


def evaluate_detection(
    ground_truth: DetectionBoxes,
    predictions: DetectionBoxes,
    config: DetectionConfig | None = None,
    *,
    allow_unknown_frames: bool = False,
    keep_curves: bool = False,
) -> DetectionResult:
    """Evaluate predictions against ground truth, nuScenes style.

    Args:
        ground_truth: boxes without scores; its ``frame_ids`` is the evaluated frame set.
        predictions: boxes with finite scores, in the same coordinate frame.
        config: settings (default: ZOD settings, 250 m range, all 27 classes).
        allow_unknown_frames: keep predictions on frames missing from the ground truth (they
            are false positives, as in the reference devkit) instead of raising ValueError.
        keep_curves: keep the 101-point curves in the result (for plots, ``to_dict``).
    """
    config = config or DetectionConfig()
    if len(predictions) and not np.isfinite(predictions.scores).all():
        raise ValueError("every prediction needs a finite score")
    known = set(ground_truth.frame_ids)
    unknown_with_boxes = [
        f
        for f, n in zip(predictions.frame_ids, predictions.count_per_frame())
        if n and f not in known
    ]
    if unknown_with_boxes and not allow_unknown_frames:
        raise ValueError(
            f"predictions for {len(unknown_with_boxes)} frames that are not in the ground truth"
            f" (e.g. {unknown_with_boxes[:3]}): wrong split, version or sub-dataset?"
        )
    if config.max_boxes_per_frame is not None and len(predictions):
        worst = int(predictions.count_per_frame().max())
        if worst > config.max_boxes_per_frame:
            raise ValueError(
                f"a frame has {worst} predictions, more than max_boxes_per_frame="
                f"{config.max_boxes_per_frame}"
            )

    # One frame numbering for both sides.
    all_frames = tuple(dict.fromkeys(ground_truth.frame_ids + predictions.frame_ids))
    lookup = {f: i for i, f in enumerate(all_frames)}
    gt_frame_map = np.array([lookup[f] for f in ground_truth.frame_ids], dtype=np.int64)
    pred_frame_map = np.array([lookup[f] for f in predictions.frame_ids], dtype=np.int64)

    gt, pred = ground_truth, predictions  # short names below
    gt_rows = _rows_in_range_by_name(gt, config)  # in range, per evaluated name
    pred_rows = _rows_in_range_by_name(pred, config)
    gt_yaw, pred_yaw = gt.yaw_rad, pred.yaw_rad  # once, not per class

    per_class: dict[str, ClassResult] = {}
    for name in config.classes:  # a class without ground truth in range is not evaluated
        if name not in gt_rows:
            continue
        gt_c = _class_boxes(gt, gt_yaw, gt_rows[name], gt_frame_map)
        pred_c = _class_boxes(
            pred, pred_yaw, pred_rows.get(name, np.zeros(0, dtype=np.int64)), pred_frame_map
        )
        curves = accumulate_thresholds(gt_c, pred_c, config.dist_ths_m)
        aps = {
            th: average_precision(c, config.min_recall, config.min_precision)
            for th, c in curves.items()
        }
        tp_curves = curves[config.dist_th_tp_m]
        per_class[name] = ClassResult(
            name=name,
            num_gt=len(gt_c),
            num_pred=len(pred_c),
            ap_by_threshold=aps,
            mean_ap=float(np.mean(list(aps.values()))),
            tp_errors={m: tp_error(tp_curves, config.min_recall, m) for m in TP_METRICS},
            curves=curves if keep_curves else {},
        )

    by_level = {
        level: Summary.over(
            {n: r for n, r in per_class.items() if n in names}, config.mean_ap_weight
        )
        for level, names in (("class", CLASS_LEVEL), ("subclass", SUBCLASS_LEVEL))
    }
    return DetectionResult(
        config=config,
        per_class=per_class,
        summary=Summary.over(per_class, config.mean_ap_weight),
        by_level=by_level,
        num_frames=len(ground_truth.frame_ids),
    )


def evaluate_by_range(
    ground_truth: DetectionBoxes,
    predictions: DetectionBoxes,
    bin_edges_m: tuple[float, ...] = DISTANCE_BINS_M,
    config: DetectionConfig | None = None,
    **kwargs: bool,
) -> dict[str, DetectionResult]:
    """One evaluation per distance bin ``(lo, hi]`` of the xy distance (both sides cut alike).

    Default bins: ``DISTANCE_BINS_M`` (0-50, 50-100, 100-150, 150-245 m). Every number of
    ``evaluate_detection`` (per class and subclass, per level) exists per bin.
    Keys are ``"lo-hi"`` (``"0-50"``, ...). A box near a bin edge can match nothing in its bin
    while its counterpart sits in the next one: bins tell how quality changes with distance,
    the full-range result stays the reference number. ``kwargs`` go to
    ``evaluate_detection``.
    """
    from dataclasses import replace

    config = config or DetectionConfig()
    edges = [float(e) for e in bin_edges_m]
    if len(edges) < 2 or any(b <= a for a, b in pairwise(edges)):
        raise ValueError(f"bin edges must increase, got {bin_edges_m}")
    results: dict[str, DetectionResult] = {}
    for lo, hi in pairwise(edges):
        bin_config = replace(
            config,
            min_range_m=lo,
            default_range_m=hi,
            class_range_m={n: min(hi, config.range_m(n)) for n in config.classes},
        )
        results[f"{lo:g}-{hi:g}"] = evaluate_detection(
            ground_truth, predictions, bin_config, **kwargs
        )
    return results


def by_range_dict(results: Mapping[str, DetectionResult]) -> dict[str, dict[str, object]]:
    """JSON-friendly ``evaluate_by_range``: per bin NDS, mAP, errors, class mAPs, and every
    class's (and subclass's) full entry (``per_class``) and the level summaries (``levels``)."""
    return {
        name: {
            **{k: v for k, v in r.summary.to_dict().items() if k != "classes"},
            "num_gt": {n: c.num_gt for n, c in r.per_class.items()},
            "class_mAP": {n: c.mean_ap for n, c in r.per_class.items()},
            "levels": {level: s.to_dict() for level, s in r.by_level.items()},
            "per_class": {n: c.to_dict() for n, c in r.per_class.items()},
        }
        for name, r in results.items()
    }
