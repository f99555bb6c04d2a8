"""KITTI-style average precision: 2D, BEV and 3D, easy / moderate / hard, 40 (and 11) recall points.

The rules are those of the KITTI object benchmark as its Python evaluator implements them
(the ``kitti_object_eval_python`` lineage used by SECOND, OpenPCDet and mmdetection3d), which
the tests check to 1e-4 on the same files:

1. **Who counts** (per class and difficulty). A ground truth of the class is *valid* unless it
   is too small, occluded or truncated for the difficulty (image box height <= min height,
   occluded > max occlusion, truncated > max truncation): then it is *ignored*. Ground truths
   of a *similar* class (Van for Car, Person_sitting for Pedestrian) are ignored too; all other
   ground truths do not take part. A detection of the class is valid, one whose image box is
   lower than the min height is ignored (whatever its class), the others do not take part.
2. **Matching** (per frame, ground truths in file order). Each ground truth takes one free
   detection with IoU > the class threshold: to collect the score thresholds, the
   highest-scoring one; then, at each threshold, among the detections scoring at least the
   threshold, the valid one of highest IoU, else the first ignored one. A pair with an
   ignored side is neither a true nor a false positive.
3. **Thresholds**: the scores of the true positives of the first pass, thinned to at most 41
   so that they sample recall 0, 1/40, ..., 1 (KITTI's ``get_thresholds``).
4. **Counts at each threshold**: TP, FN (valid ground truths left without a detection), FP
   (valid detections left free; for the 2D metric, minus those whose box lies in a DontCare
   region: intersection / detection area > the threshold). Precision = TP / (TP + FP), recall
   = TP / (TP + FN), both made non-increasing from the right.
5. **AP_R40** = mean precision at the 40 recall points 1/40 ... 1 (the 41 slots minus the first),
   **AP_R11** = mean at every fourth slot (0, 0.1, ..., 1), in percent like KITTI. AOS
   (the orientation score of the 2D metric) averages (1 + cos(delta alpha)) / 2 the same way.

IoU (``zod.eval.kitti.iou``): 2D axis-aligned image boxes; BEV rotated rectangles in the
camera x-z plane; 3D = BEV intersection x height overlap / union of volumes.

Vectorized: overlaps are computed for the detection / ground-truth pairs of each frame only;
the greedy matching steps over the rank of a ground truth inside its frame, handling that rank
of every frame (and every score threshold) at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zod.eval.kitti.iou import box3d_iou, image_iou, image_overlap_of_first, rotated_intersection
from zod.eval.kitti.labels import DONT_CARE, KittiObjects

__all__ = [
    "KITTI_CLASSES",
    "KITTI_DIFFICULTIES",
    "METRICS",
    "ZOD_CLASSES",
    "KittiClass",
    "KittiConfig",
    "KittiCurve",
    "KittiDifficulty",
    "KittiResult",
    "evaluate_kitti",
    "evaluate_kitti_folders",
    "kitti_thresholds",
]

METRICS = ("2d", "bev", "3d")
"""The three overlap kinds, in KITTI's order (bbox, bev, 3d)."""

N_SAMPLE_POINTS = 41


@dataclass(frozen=True)
class KittiDifficulty:
    """Which ground truths are valid at a difficulty (others of the class are ignored)."""

    name: str
    min_height_px: float
    max_occlusion: int
    max_truncation: float


KITTI_DIFFICULTIES: tuple[KittiDifficulty, ...] = (
    KittiDifficulty("easy", 40.0, 0, 0.15),
    KittiDifficulty("moderate", 25.0, 1, 0.30),
    KittiDifficulty("hard", 25.0, 2, 0.50),
)
"""KITTI's levels (in KITTI image pixels: 375 px high; ZOD's front camera is 2168 px high)."""


@dataclass(frozen=True)
class KittiClass:
    """An evaluated class: its IoU thresholds (2D, BEV, 3D) and its similar (ignored) classes.

    ``loose_iou`` is KITTI's second set (reported as "loose"/"easy_loose" by the tools).
    """

    name: str
    iou: tuple[float, float, float]
    similar: tuple[str, ...] = ()
    loose_iou: tuple[float, float, float] | None = None


def _strict(name: str, iou: float, similar: tuple[str, ...] = ()) -> KittiClass:
    loose = (0.7, 0.5, 0.5) if iou >= 0.7 else (0.5, 0.25, 0.25)
    return KittiClass(name, (iou, iou, iou), similar, loose)


KITTI_CLASSES: dict[str, KittiClass] = {
    c.name: c
    for c in (
        _strict("Car", 0.7, ("Van",)),
        _strict("Pedestrian", 0.5, ("Person_sitting",)),
        _strict("Cyclist", 0.5),
        _strict("Van", 0.7),
        _strict("Person_sitting", 0.5),
    )
}
"""KITTI's names and thresholds (Car 0.7; Pedestrian, Cyclist 0.5)."""

_ZOD_VEHICLES = ("Car", "Van", "Truck", "Bus", "Trailer", "TramTrain", "HeavyEquip", "Emergency")
_ZOD_VULNERABLE = ("Bicycle", "Motorcycle", "Stroller", "Wheelchair", "PersonalTransporter")
ZOD_CLASSES: dict[str, KittiClass] = {
    c.name: c
    for c in (
        _strict("Vehicle", 0.7),
        _strict("VulnerableVehicle", 0.5),
        _strict("Pedestrian", 0.5),
        _strict("Animal", 0.5),
        *(
            _strict(f"Vehicle_{t}", 0.7, ("Vehicle_Van",) if t == "Car" else ())
            for t in _ZOD_VEHICLES
        ),
        *(_strict(f"VulnerableVehicle_{t}", 0.5) for t in _ZOD_VULNERABLE),
    )
}
"""The names of our KITTI export (``label_type`` class or subclass): vehicles 0.7 like Car,
vulnerable vehicles 0.5 like Cyclist, pedestrians and animals 0.5; Vehicle_Car ignores
Vehicle_Van as KITTI's Car ignores Van."""


@dataclass(frozen=True)
class KittiConfig:
    """What is evaluated.

    Attributes:
        classes: the classes, or None: every class of ``KITTI_CLASSES`` / ``ZOD_CLASSES`` that
            has ground truth (KITTI's three first when the files use KITTI names).
        difficulties: the levels (default easy, moderate, hard).
        metrics: subset of ``("2d", "bev", "3d")``.
        loose: use each class's ``loose_iou`` instead of ``iou``.
        dontcare_all_metrics: apply DontCare regions to BEV and 3D too (KITTI's C++ devkit
            does; the Python evaluators only for 2D, the default here).
        aos: compute the orientation score: True, False or None (when both sides have an
            alpha other than -10).
    """

    classes: tuple[KittiClass, ...] | None = None
    difficulties: tuple[KittiDifficulty, ...] = KITTI_DIFFICULTIES
    metrics: tuple[str, ...] = METRICS
    loose: bool = False
    dontcare_all_metrics: bool = False
    aos: bool | None = None

    def __post_init__(self) -> None:
        unknown = set(self.metrics) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}: choose from {METRICS}")

    def resolve_classes(self, gt: KittiObjects) -> tuple[KittiClass, ...]:
        """The evaluated classes for this ground truth."""
        if self.classes is not None:
            return tuple(self.classes)
        present = {str(n).lower() for n in np.unique(gt.names)}
        if present & {"car", "cyclist"}:
            return tuple(KITTI_CLASSES[n] for n in ("Car", "Pedestrian", "Cyclist"))
        return tuple(c for c in ZOD_CLASSES.values() if c.name.lower() in present)


@dataclass(frozen=True)
class KittiCurve:
    """The 41-slot curves of one class, difficulty and metric.

    Slot i is the i-th sampled score threshold, at recall about i / 40. ``precision`` and
    ``aos`` (41,) after KITTI's right-to-left maximum, ``recall`` (41,) the recall reached at
    each threshold (zeros beyond the last one); ``thresholds`` (k,) the sampled scores,
    k <= 41; ``tp`` / ``fp`` / ``fn`` (k,) the counts at each threshold.
    """

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    aos: np.ndarray | None = None

    @property
    def ap_r40(self) -> float:
        """AP in percent over recall 1/40 .. 1."""
        return float(self.precision[1:].sum() / 40 * 100)

    @property
    def ap_r11(self) -> float:
        """AP in percent over recall 0, 0.1, .., 1 (KITTI's original 11 points)."""
        return float(self.precision[::4].sum() / 11 * 100)

    @property
    def aos_r40(self) -> float | None:
        return None if self.aos is None else float(self.aos[1:].sum() / 40 * 100)

    @property
    def aos_r11(self) -> float | None:
        return None if self.aos is None else float(self.aos[::4].sum() / 11 * 100)


@dataclass(frozen=True)
class KittiResult:
    """APs of a KITTI evaluation (percent).

    ``curves[(class, difficulty, metric)]``; ``num_valid_gt[(class, difficulty)]``.
    """

    classes: tuple[str, ...]
    difficulties: tuple[str, ...]
    metrics: tuple[str, ...]
    curves: dict[tuple[str, str, str], KittiCurve]
    num_valid_gt: dict[tuple[str, str], int]
    num_frames: int
    iou_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    missing_prediction_files: tuple[str, ...] = ()

    def ap(self, cls: str, difficulty: str, metric: str, points: int = 40) -> float:
        """AP (percent) of one class, difficulty, metric; ``points`` 40 or 11."""
        curve = self.curves[(cls, difficulty, metric)]
        return curve.ap_r40 if points == 40 else curve.ap_r11

    def mean_ap(self, difficulty: str, metric: str, points: int = 40) -> float:
        """Mean AP over the classes (NaN without classes)."""
        values = [self.ap(c, difficulty, metric, points) for c in self.classes]
        return float(np.mean(values)) if values else float("nan")

    @property
    def has_aos(self) -> bool:
        return any(c.aos is not None for c in self.curves.values())

    def to_dict(self, include_curves: bool = False) -> dict[str, Any]:
        """JSON-friendly: per class, per metric, per difficulty AP_R40 and AP_R11 (percent)."""
        out: dict[str, Any] = {
            "unit": "percent",
            "num_frames": self.num_frames,
            "classes": list(self.classes),
            "difficulties": list(self.difficulties),
            "iou_thresholds": self.iou_thresholds,
            "mAP_R40": {
                m: {d: self.mean_ap(d, m) for d in self.difficulties} for m in self.metrics
            },
            "per_class": {},
        }
        if self.missing_prediction_files:
            out["missing_prediction_files"] = list(self.missing_prediction_files)
        for c in self.classes:
            entry: dict[str, Any] = {
                "num_valid_gt": {d: self.num_valid_gt[(c, d)] for d in self.difficulties}
            }
            for m in self.metrics:
                entry[m] = {
                    "AP_R40": {d: self.ap(c, d, m, 40) for d in self.difficulties},
                    "AP_R11": {d: self.ap(c, d, m, 11) for d in self.difficulties},
                }
                if m == "2d" and self.curves[(c, self.difficulties[0], m)].aos is not None:
                    entry["aos"] = {
                        "AOS_R40": {d: self.curves[(c, d, m)].aos_r40 for d in self.difficulties},
                        "AOS_R11": {d: self.curves[(c, d, m)].aos_r11 for d in self.difficulties},
                    }
                if include_curves:
                    entry[m]["curves"] = {
                        d: {
                            "precision": self.curves[(c, d, m)].precision.tolist(),
                            "recall": self.curves[(c, d, m)].recall.tolist(),
                            "thresholds": self.curves[(c, d, m)].thresholds.tolist(),
                        }
                        for d in self.difficulties
                    }
            out["per_class"][c] = entry
        return out

    def write_json(self, path: str | os.PathLike[str], include_curves: bool = False) -> Path:
        """Write ``to_dict()`` atomically."""
        from zod.eval.detection.evaluate import write_json_atomic

        return write_json_atomic(path, self.to_dict(include_curves))

    def table(self) -> str:
        """KITTI-like text: per class and metric, AP_R40 easy / moderate / hard."""
        head = " / ".join(self.difficulties)
        lines = [f"KITTI AP_R40 (percent), {self.num_frames} frames; columns: {head}"]
        for c in self.classes:
            thresholds = self.iou_thresholds.get(c, {})
            for m in self.metrics:
                values = "  ".join(f"{self.ap(c, d, m):7.4f}" for d in self.difficulties)
                th = thresholds.get(m, float("nan"))
                lines.append(f"{c:<28}{m:>4} @{th:.2f}  {values}")
            if self.curves[(c, self.difficulties[0], self.metrics[0])].aos is not None:
                values = "  ".join(
                    f"{self.curves[(c, d, '2d')].aos_r40 or 0.0:7.4f}" for d in self.difficulties
                )
                lines.append(f"{c:<28}{'aos':>4}        {values}")
        for m in self.metrics:
            values = "  ".join(f"{self.mean_ap(d, m):7.4f}" for d in self.difficulties)
            lines.append(f"{'mean':<28}{m:>4}        {values}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the algorithm
def kitti_thresholds(
    tp_scores: np.ndarray, num_gt: int, num_points: int = N_SAMPLE_POINTS
) -> np.ndarray:
    """The score thresholds (k,) that sample recall 0, 1/(num_points-1), .., 1 (KITTI's rule).

    Scores are taken in decreasing order; a score is kept when its recall is the closest to
    the next sample point (``current_recall``, advanced by 1/40 at each kept score).
    """
    scores = np.sort(np.asarray(tp_scores, dtype=np.float64))[::-1]
    n = scores.shape[0]
    if n == 0 or num_gt <= 0:
        return np.zeros(0)
    i = np.arange(n)
    left = (i + 1) / num_gt
    right = np.where(i < n - 1, (i + 2) / num_gt, left)
    kept: list[float] = []
    current = 0.0
    start = 0
    step = 1 / (num_points - 1.0)
    while start < n:  # at most num_points iterations
        ok = (right[start:] - current) >= (current - left[start:])
        ok[-1] = True
        k = start + int(np.argmax(ok))
        kept.append(float(scores[k]))
        current += step
        start = k + 1
    return np.array(kept)


@dataclass(frozen=True)
class _Pairs:
    """Detection / ground-truth pairs of the same frame (global row indices)."""

    dt: np.ndarray
    gt: np.ndarray


def _frame_pairs(
    dt_rows: np.ndarray, dt_frame: np.ndarray, gt_rows: np.ndarray, gt_frame: np.ndarray, n: int
) -> _Pairs:
    """Every (detection, ground truth) of the same frame among the given rows (frame-sorted)."""
    nd = np.bincount(dt_frame, minlength=n)
    ng = np.bincount(gt_frame, minlength=n)
    d_start = np.concatenate([[0], np.cumsum(nd)[:-1]])
    g_start = np.concatenate([[0], np.cumsum(ng)[:-1]])
    counts = nd * ng
    total = int(counts.sum())
    frame = np.repeat(np.arange(n), counts)
    k = np.arange(total) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    width = np.maximum(ng[frame], 1)
    return _Pairs(dt=dt_rows[d_start[frame] + k // width], gt=gt_rows[g_start[frame] + k % width])


def _overlaps(
    metrics: Sequence[str], dt: KittiObjects, gt: KittiObjects, pairs: _Pairs
) -> dict[str, np.ndarray]:
    """(P,) IoU of each pair for each metric (BEV and 3D share one rotated intersection)."""
    out: dict[str, np.ndarray] = {}
    if "2d" in metrics:
        out["2d"] = image_iou(dt.boxes_xyxy[pairs.dt], gt.boxes_xyxy[pairs.gt])
    if "bev" not in metrics and "3d" not in metrics:
        return out

    # footprints whose circumscribed circles meet (1-D gathers first: most pairs are apart)
    xz_dt, xz_gt = dt.location_cam[:, [0, 2]], gt.location_cam[:, [0, 2]]
    reach_dt = 0.5 * np.hypot(dt.dimensions_hwl[:, 1], dt.dimensions_hwl[:, 2])
    reach_gt = 0.5 * np.hypot(gt.dimensions_hwl[:, 1], gt.dimensions_hwl[:, 2])
    gap = np.hypot(xz_dt[pairs.dt, 0] - xz_gt[pairs.gt, 0], xz_dt[pairs.dt, 1] - xz_gt[pairs.gt, 1])
    near = np.flatnonzero(gap < reach_dt[pairs.dt] + reach_gt[pairs.gt])
    d_rows, g_rows = pairs.dt[near], pairs.gt[near]

    def bev(obj: KittiObjects, rows: np.ndarray) -> np.ndarray:
        loc, dims = obj.location_cam[rows], obj.dimensions_hwl[rows]
        return np.column_stack([loc[:, 0], loc[:, 2], dims[:, 2], dims[:, 1], obj.rotation_y[rows]])

    bev_dt, bev_gt = bev(dt, d_rows), bev(gt, g_rows)
    area = rotated_intersection(bev_dt, bev_gt)
    if "bev" in metrics:
        union = bev_dt[:, 2] * bev_dt[:, 3] + bev_gt[:, 2] * bev_gt[:, 3] - area
        out["bev"] = np.zeros(pairs.dt.size)
        out["bev"][near] = np.divide(area, union, out=np.zeros_like(area), where=area > 0)
    if "3d" in metrics:
        out["3d"] = np.zeros(pairs.dt.size)
        out["3d"][near] = box3d_iou(
            dt.location_cam[d_rows],
            dt.dimensions_hwl[d_rows],
            dt.rotation_y[d_rows],
            gt.location_cam[g_rows],
            gt.dimensions_hwl[g_rows],
            gt.rotation_y[g_rows],
            bev_intersection=area,
        )
    return out


def _greedy(
    pair_gt: np.ndarray,
    pair_dt: np.ndarray,
    priority: tuple[np.ndarray, ...],
    gt_frame: np.ndarray,
    det_ok: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """KITTI's matching loop: each ground truth in file order takes its best free detection.

    ``priority``: sort keys of the pairs (last key most significant, np.lexsort order), best
    first within a ground truth. ``det_ok`` (T, D): detections usable at each of T thresholds.
    Returns the ground truths that had candidates (U,), the chosen detection (T, U) or -1, and
    ``assigned`` (T, D).
    """
    t_count, d_count = det_ok.shape
    assigned = np.zeros((t_count, d_count), dtype=bool)
    gts, group = np.unique(pair_gt, return_inverse=True)
    group = group.reshape(-1)
    chosen = np.full((t_count, gts.size), -1, dtype=np.int64)
    if gts.size == 0:
        return gts, chosen, assigned
    frames = gt_frame[gts]
    _, first, frame_group = np.unique(frames, return_index=True, return_inverse=True)
    rank = np.arange(gts.size) - first[frame_group.reshape(-1)]
    order = np.lexsort((*priority, group, rank[group]))
    p_gt_group, p_dt = group[order], pair_dt[order]
    p_rank = rank[p_gt_group]
    rank_starts = np.searchsorted(p_rank, np.arange(int(rank.max()) + 2))
    for r in range(int(rank.max()) + 1):  # the rank of a ground truth inside its frame
        lo, hi = int(rank_starts[r]), int(rank_starts[r + 1])
        groups = p_gt_group[lo:hi]
        dts = p_dt[lo:hi]
        starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
        available = det_ok[:, dts] & ~assigned[:, dts]  # (T, S)
        size = hi - lo
        position = np.where(available, np.arange(size), size)
        best = np.minimum.reduceat(position, starts, axis=1)  # (T, groups at rank r)
        found = best < size
        picked = dts[np.minimum(best, size - 1)]
        t_idx, g_idx = np.nonzero(found)
        assigned[t_idx, picked[t_idx, g_idx]] = True
        chosen[:, groups[starts]] = np.where(found, picked, -1)
    return gts, chosen, assigned


def _curve(
    gt: KittiObjects,
    dt: KittiObjects,
    pairs: _Pairs,
    overlaps: np.ndarray,
    gt_status: np.ndarray,
    dt_status: np.ndarray,
    min_overlap: float,
    dontcare_overlap: np.ndarray | None,
    aos: bool,
) -> KittiCurve:
    """Precision / recall (and AOS) of one class, difficulty and metric."""
    gt_frame = np.repeat(np.arange(len(gt.frame_ids)), gt.counts)
    keep = (overlaps > min_overlap) & (gt_status[pairs.gt] != -1) & (dt_status[pairs.dt] != -1)
    pair_gt, pair_dt, pair_ov = pairs.gt[keep], pairs.dt[keep], overlaps[keep]
    n_valid = int((gt_status == 0).sum())
    scores = dt.scores

    # pass 1: highest score, to collect the true-positive scores
    ok_all = np.ones((1, len(dt)), dtype=bool)
    gts, chosen, _ = _greedy(pair_gt, pair_dt, (pair_dt, -scores[pair_dt]), gt_frame, ok_all)
    picked = chosen[0]
    tp_mask = (picked >= 0) & (gt_status[gts] == 0)
    tp_mask[tp_mask] &= dt_status[picked[tp_mask]] == 0
    thresholds = kitti_thresholds(scores[picked[tp_mask]], n_valid)

    # pass 2: at every threshold, valid detections by IoU first, then ignored ones in order
    t_count = thresholds.size
    precision, recall = np.zeros(N_SAMPLE_POINTS), np.zeros(N_SAMPLE_POINTS)
    aos_curve = np.zeros(N_SAMPLE_POINTS) if aos else None
    tp = fp = fn = np.zeros(0)
    if t_count:
        det_ok = scores[None, :] >= thresholds[:, None]  # (T, D)
        is_valid_dt = (dt_status[pair_dt] == 0).astype(np.int64)
        key_overlap = np.where(is_valid_dt == 1, -pair_ov, 0.0)
        gts, chosen, assigned = _greedy(
            pair_gt, pair_dt, (pair_dt, key_overlap, 1 - is_valid_dt), gt_frame, det_ok
        )
        has = chosen >= 0
        valid_gt = gt_status[gts] == 0
        picked_status = np.where(has, dt_status[np.maximum(chosen, 0)], -1)
        is_tp = has & valid_gt[None, :] & (picked_status == 0)
        tp = is_tp.sum(axis=1).astype(np.float64)
        fn = n_valid - (has & valid_gt[None, :]).sum(axis=1).astype(np.float64)
        free = det_ok & ~assigned & (dt_status == 0)[None, :]
        if dontcare_overlap is not None:
            free &= ~(dontcare_overlap > min_overlap)[None, :]
        fp = free.sum(axis=1).astype(np.float64)
        recall[:t_count] = np.divide(tp, tp + fn, out=np.zeros(t_count), where=(tp + fn) > 0)
        precision[:t_count] = np.divide(tp, tp + fp, out=np.zeros(t_count), where=(tp + fp) > 0)
        if aos_curve is not None:
            delta = gt.alpha[gts][None, :] - dt.alpha[np.maximum(chosen, 0)]
            similarity = np.where(is_tp, (1.0 + np.cos(delta)) / 2.0, 0.0).sum(axis=1)
            aos_curve[:t_count] = np.divide(
                similarity, tp + fp, out=np.zeros(t_count), where=(tp + fp) > 0
            )
    # KITTI: every slot takes the best value at this recall or beyond (recall is kept as is:
    # the tools' running maximum of recall is its maximum everywhere)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    if aos_curve is not None:
        aos_curve = np.maximum.accumulate(aos_curve[::-1])[::-1]
    return KittiCurve(precision, recall, thresholds, tp, fp, fn, aos_curve)


def _status_gt(
    gt: KittiObjects, names_lower: np.ndarray, cls: KittiClass, level: KittiDifficulty
) -> np.ndarray:
    """(G,) 0 valid, 1 ignored, -1 not taking part."""
    height = gt.boxes_xyxy[:, 3] - gt.boxes_xyxy[:, 1]
    of_class = names_lower == cls.name.lower()
    similar = np.isin(names_lower, [s.lower() for s in cls.similar])
    hard = (
        (gt.occluded > level.max_occlusion)
        | (gt.truncated > level.max_truncation)
        | (height <= level.min_height_px)
    )
    status = np.full(len(gt), -1, dtype=np.int64)
    status[similar | (of_class & hard)] = 1
    status[of_class & ~hard] = 0
    return status


def _status_dt(
    dt: KittiObjects, names_lower: np.ndarray, cls: KittiClass, level: KittiDifficulty
) -> np.ndarray:
    """(D,) 0 valid, 1 ignored (box too low, any class), -1 not taking part."""
    height = np.abs(dt.boxes_xyxy[:, 3] - dt.boxes_xyxy[:, 1])
    status = np.where(names_lower == cls.name.lower(), 0, -1)
    status[height < level.min_height_px] = 1
    return status


def _dontcare_overlap(gt: KittiObjects, dt: KittiObjects) -> np.ndarray:
    """(D,) the largest intersection / detection area of each detection with a DontCare box."""
    out = np.zeros(len(dt))
    dc_rows = np.flatnonzero(gt.names == DONT_CARE)
    if dc_rows.size == 0 or len(dt) == 0:
        return out
    pairs = _frame_pairs(
        np.arange(len(dt)), dt.frame_index, dc_rows, gt.frame_index[dc_rows], len(gt.frame_ids)
    )
    ov = image_overlap_of_first(dt.boxes_xyxy[pairs.dt], gt.boxes_xyxy[pairs.gt])
    np.maximum.at(out, pairs.dt, ov)
    return out


def _align(gt: KittiObjects, dt: KittiObjects) -> KittiObjects:
    """The predictions in the ground truth's frame order (frames without rows: empty)."""
    if dt.frame_ids == gt.frame_ids:
        return dt
    extra = sorted(set(dt.frame_ids) - set(gt.frame_ids))
    if extra:
        raise ValueError(
            f"predictions for {len(extra)} frames without ground truth (first: {extra[0]}): "
            "wrong split or folder?"
        )
    where = {fid: i for i, fid in enumerate(dt.frame_ids)}
    counts = dt.counts
    rows = [
        np.arange(dt.offsets[where[f]], dt.offsets[where[f]] + counts[where[f]])
        if f in where
        else np.zeros(0, dtype=np.int64)
        for f in gt.frame_ids
    ]
    take = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    new_counts = np.array([r.size for r in rows], dtype=np.int64)
    return KittiObjects(
        frame_ids=gt.frame_ids,
        offsets=np.concatenate([[0], np.cumsum(new_counts)]).astype(np.int64),
        names=dt.names[take],
        truncated=dt.truncated[take],
        occluded=dt.occluded[take],
        alpha=dt.alpha[take],
        boxes_xyxy=dt.boxes_xyxy[take],
        dimensions_hwl=dt.dimensions_hwl[take],
        location_cam=dt.location_cam[take],
        rotation_y=dt.rotation_y[take],
        scores=dt.scores[take],
        missing_files=dt.missing_files,
    )


def evaluate_kitti(
    ground_truth: KittiObjects,
    predictions: KittiObjects,
    config: KittiConfig | None = None,
) -> KittiResult:
    """KITTI AP of ``predictions`` (scored objects) against ``ground_truth`` (label files)."""
    config = config or KittiConfig()
    gt = ground_truth
    dt = _align(gt, predictions)
    if len(dt) and not np.isfinite(dt.scores).all():
        raise ValueError("every prediction needs a finite score (16th field of a result line)")
    classes = config.resolve_classes(gt)
    gt_lower = np.char.lower(gt.names.astype(str)) if len(gt) else np.zeros(0, dtype=str)
    dt_lower = np.char.lower(dt.names.astype(str)) if len(dt) else np.zeros(0, dtype=str)
    use_aos = config.aos
    if use_aos is None:
        use_aos = bool((dt.alpha != -10).any()) and bool((gt.alpha != -10).any())
    use_aos = use_aos and "2d" in config.metrics

    # pairs: ground truths that can take part (a class or a similar class) x every detection
    # that can (its class, or any class when lower than the largest min height)
    wanted = {c.name.lower() for c in classes} | {s.lower() for c in classes for s in c.similar}
    gt_rows = np.flatnonzero(np.isin(gt_lower, sorted(wanted)))
    max_height = max((d.min_height_px for d in config.difficulties), default=0.0)
    dt_height = np.abs(dt.boxes_xyxy[:, 3] - dt.boxes_xyxy[:, 1])
    dt_rows = np.flatnonzero(
        np.isin(dt_lower, [c.name.lower() for c in classes]) | (dt_height < max_height)
    )
    pairs = _frame_pairs(
        dt_rows, dt.frame_index[dt_rows], gt_rows, gt.frame_index[gt_rows], len(gt.frame_ids)
    )
    # per metric, only the pairs above the lowest threshold of any class take part
    lowest = {
        m: min(
            dict(zip(METRICS, c.loose_iou if (config.loose and c.loose_iou) else c.iou))[m]
            for c in classes
        )
        if classes
        else 0.0
        for m in config.metrics
    }
    candidates: dict[str, tuple[_Pairs, np.ndarray]] = {}
    for m, ov in _overlaps(config.metrics, dt, gt, pairs).items():
        keep = ov > lowest[m]
        candidates[m] = (_Pairs(dt=pairs.dt[keep], gt=pairs.gt[keep]), ov[keep])
    dontcare = _dontcare_overlap(gt, dt)

    curves: dict[tuple[str, str, str], KittiCurve] = {}
    num_valid: dict[tuple[str, str], int] = {}
    thresholds_used: dict[str, dict[str, float]] = {}
    for cls in classes:
        ious = cls.loose_iou if (config.loose and cls.loose_iou is not None) else cls.iou
        per_metric = dict(zip(METRICS, ious))
        thresholds_used[cls.name] = {m: float(per_metric[m]) for m in config.metrics}
        for level in config.difficulties:
            gt_status = _status_gt(gt, gt_lower, cls, level)
            dt_status = _status_dt(dt, dt_lower, cls, level)
            num_valid[(cls.name, level.name)] = int((gt_status == 0).sum())
            for m in config.metrics:
                use_dc = m == "2d" or config.dontcare_all_metrics
                metric_pairs, metric_overlaps = candidates[m]
                curves[(cls.name, level.name, m)] = _curve(
                    gt,
                    dt,
                    metric_pairs,
                    metric_overlaps,
                    gt_status,
                    dt_status,
                    per_metric[m],
                    dontcare if use_dc else None,
                    use_aos and m == "2d",
                )
    return KittiResult(
        classes=tuple(c.name for c in classes),
        difficulties=tuple(d.name for d in config.difficulties),
        metrics=tuple(config.metrics),
        curves=curves,
        num_valid_gt=num_valid,
        num_frames=len(gt.frame_ids),
        iou_thresholds=thresholds_used,
        missing_prediction_files=predictions.missing_files,
    )


def evaluate_kitti_folders(
    gt_folder: str | os.PathLike[str],
    predictions_folder: str | os.PathLike[str],
    frame_ids: Iterable[str] | None = None,
    config: KittiConfig | None = None,
    *,
    allow_missing: bool = False,
) -> KittiResult:
    """Read label files and result files and evaluate (frames: ``frame_ids``, else every
    result file)."""
    from zod.eval.kitti.labels import read_label_folder

    if frame_ids is None:
        predictions = read_label_folder(predictions_folder, scored=True)
        ids: Sequence[str] = predictions.frame_ids
    else:
        ids = list(frame_ids)
        predictions = read_label_folder(
            predictions_folder, ids, scored=True, allow_missing=allow_missing
        )
    gt = read_label_folder(gt_folder, ids)
    return evaluate_kitti(gt, predictions, config)
