"""nuScenes-style detection metrics on arrays: curves, AP, true-positive errors, NDS.

The numbers follow the nuScenes detection benchmark (and the reference ZOD devkit, which
uses it): precision is sampled at 101 recall points, AP ignores recalls up to ``min_recall``
and precisions below ``min_precision``; the true-positive errors are cumulative means of the
matched errors resampled at the same operating points and averaged from ``min_recall`` to the
highest recall reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zod.eval.detection.matching import MatchResult, match_greedy_thresholds
from zod.geometry.transforms import yaw_from_quaternions

N_RECALL_SAMPLES = 101
"""Recall sampling points 0, 0.01, ..., 1."""

TP_METRICS = ("trans_err", "scale_err", "orient_err")
"""True-positive error names (units: m, 1 - IoU, rad)."""


@dataclass(frozen=True)
class ClassBoxes:
    """Boxes of one class as columns (ground truths or predictions).

    Attributes:
        frame: (N,) integer frame index (one numbering shared by ground truth and predictions).
        centers_xy_m: (N, 2) box centres (x, y), metres.
        sizes_lwh_m: (N, 3) box sizes (length, width, height), metres, all > 0.
        yaw_rad: (N,) heading: angle of the box's x axis around z, from x towards y.
        score: (N,) confidence (unused for ground truth).
    """

    frame: np.ndarray
    centers_xy_m: np.ndarray
    sizes_lwh_m: np.ndarray
    yaw_rad: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.frame.shape[0])


@dataclass(frozen=True)
class MetricCurves:
    """One class at one distance threshold, sampled at the 101 recall points (all (101,)).

    ``confidence`` is 0 beyond the highest recall reached; the errors are cumulative means of
    the true positives' errors up to each operating point.
    """

    recall: np.ndarray
    precision: np.ndarray
    confidence: np.ndarray
    trans_err: np.ndarray
    scale_err: np.ndarray
    orient_err: np.ndarray

    @classmethod
    def no_predictions(cls) -> MetricCurves:
        """Curves of a class with no true positive: zero precision, unit errors."""
        return cls(
            recall=np.linspace(0.0, 1.0, N_RECALL_SAMPLES),
            precision=np.zeros(N_RECALL_SAMPLES),
            confidence=np.zeros(N_RECALL_SAMPLES),
            trans_err=np.ones(N_RECALL_SAMPLES),
            scale_err=np.ones(N_RECALL_SAMPLES),
            orient_err=np.ones(N_RECALL_SAMPLES),
        )

    @property
    def max_recall_index(self) -> int:
        """Index of the highest recall reached (the last non-zero confidence), 0 if none."""
        nonzero = np.flatnonzero(self.confidence)
        return int(nonzero[-1]) if nonzero.size else 0

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-friendly lists."""
        return {
            name: getattr(self, name).tolist()
            for name in ("recall", "precision", "confidence", *TP_METRICS)
        }


def yaw_from_quaternion(quaternions_wxyz: np.ndarray) -> np.ndarray:
    """(N,) yaw of the rotated x axis projected on the xy plane, from (N, 4) (w, x, y, z).

    Quaternions need not be normalised (they are, first, as pyquaternion does).
    """
    q = np.asarray(quaternions_wxyz, dtype=np.float64).reshape(-1, 4)
    return yaw_from_quaternions(q / np.linalg.norm(q, axis=1, keepdims=True))


def angle_diff(to_rad: np.ndarray, from_rad: np.ndarray, period: float = 2 * np.pi) -> np.ndarray:
    """Signed smallest difference ``to - from`` modulo ``period``, in [-pi, pi)."""
    diff = (np.asarray(to_rad) - np.asarray(from_rad) + period / 2) % period - period / 2
    return np.where(diff > np.pi, diff - 2 * np.pi, diff)


def scale_iou(size_a_m: np.ndarray, size_b_m: np.ndarray) -> np.ndarray:
    """(N,) IoU of boxes with sizes (N, 3) and (N, 3) once centred and aligned."""
    intersection = np.prod(np.minimum(size_a_m, size_b_m), axis=-1)
    union = np.prod(size_a_m, axis=-1) + np.prod(size_b_m, axis=-1) - intersection
    return intersection / union


def _cumulative_mean(values: np.ndarray) -> np.ndarray:
    """Running mean that skips NaNs; all-NaN input gives ones (no error can be measured)."""
    nan = np.isnan(values)
    if nan.all():
        return np.ones(values.shape[0])
    total = np.nancumsum(values)
    count = np.cumsum(~nan)
    return np.divide(total, count, out=np.zeros_like(total), where=count != 0)


def accumulate(
    gt: ClassBoxes, pred: ClassBoxes, dist_th_m: float, orientation_period: float = 2 * np.pi
) -> MetricCurves:
    """Match one class at one threshold and sample precision and errors at 101 recalls.

    Must not be called with zero ground truths (the class is then not evaluated).
    """
    return accumulate_thresholds(gt, pred, (dist_th_m,), orientation_period)[dist_th_m]


def accumulate_thresholds(
    gt: ClassBoxes,
    pred: ClassBoxes,
    dist_ths_m: tuple[float, ...] | list[float],
    orientation_period: float = 2 * np.pi,
) -> dict[float, MetricCurves]:
    """``accumulate`` at several thresholds, matching them side by side."""
    if len(gt) == 0:
        raise ValueError("accumulate needs at least one ground truth")
    matches = match_greedy_thresholds(
        gt.frame, gt.centers_xy_m, pred.frame, pred.centers_xy_m, pred.score, dist_ths_m
    )
    return {
        float(th): _curves(gt, pred, match, orientation_period)
        for th, match in zip(dist_ths_m, matches)
    }


def _curves(
    gt: ClassBoxes, pred: ClassBoxes, match: MatchResult, orientation_period: float
) -> MetricCurves:
    """Precision, confidence and cumulative TP errors at the 101 recall points."""
    n_gt = len(gt)
    is_tp = match.is_tp
    if not is_tp.any():
        return MetricCurves.no_predictions()

    conf = np.asarray(pred.score, dtype=np.float64)[match.order]
    tp = np.cumsum(is_tp).astype(np.float64)
    fp = np.cumsum(~is_tp).astype(np.float64)
    precision = tp / (tp + fp)
    recall = tp / float(n_gt)

    recall_samples = np.linspace(0.0, 1.0, N_RECALL_SAMPLES)
    precision_samples = np.interp(recall_samples, recall, precision, right=0)
    conf_samples = np.interp(recall_samples, recall, conf, right=0)

    # Errors of the true positives, in visiting order.
    pred_tp = match.order[is_tp]
    gt_tp = match.gt_index[is_tp]
    errors = {
        "trans_err": match.distance_m[is_tp],
        "scale_err": 1.0 - scale_iou(gt.sizes_lwh_m[gt_tp], pred.sizes_lwh_m[pred_tp]),
        "orient_err": np.abs(
            angle_diff(gt.yaw_rad[gt_tp], pred.yaw_rad[pred_tp], orientation_period)
        ),
    }
    tp_conf_rev = conf[is_tp][::-1]
    resampled = {
        name: np.interp(conf_samples[::-1], tp_conf_rev, _cumulative_mean(err)[::-1])[::-1]
        for name, err in errors.items()
    }
    return MetricCurves(
        recall=recall_samples,
        precision=precision_samples,
        confidence=conf_samples,
        **resampled,
    )


def average_precision(curves: MetricCurves, min_recall: float, min_precision: float) -> float:
    """AP: mean precision above ``min_recall`` after removing ``min_precision``, rescaled to
    0..1."""
    if not (0 <= min_precision < 1 and 0 <= min_recall <= 1):
        raise ValueError(f"bad min_precision {min_precision} or min_recall {min_recall}")
    precision = curves.precision[round(100 * min_recall) + 1 :] - min_precision
    precision = np.clip(precision, 0.0, None)
    return float(np.mean(precision)) / (1.0 - min_precision)


def tp_error(curves: MetricCurves, min_recall: float, metric: str) -> float:
    """Mean of one true-positive error from ``min_recall`` to the highest recall reached.

    1.0 when the highest recall reached is not above ``min_recall``.
    """
    first = round(100 * min_recall) + 1
    last = curves.max_recall_index
    if last < first:
        return 1.0
    return float(np.mean(getattr(curves, metric)[first : last + 1]))


def nd_score(mean_ap: float, tp_errors: dict[str, float], mean_ap_weight: float = 5.0) -> float:
    """NDS-like score: weighted mean of mAP and the true-positive scores ``max(0, 1 - error)``."""
    scores = [max(0.0, 1.0 - err) for err in tp_errors.values()]
    return float((mean_ap_weight * mean_ap + sum(scores)) / (mean_ap_weight + len(scores)))
