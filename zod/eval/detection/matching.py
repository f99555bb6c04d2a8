"""Greedy centre-distance matching of predictions to ground truths (nuScenes style), vectorized.

The nuScenes rule: predictions of one class are visited by descending score (ties: the later
prediction first); each takes the nearest ground truth of its frame (xy centre distance; ties:
the first ground truth) that no earlier prediction took, and is a true positive when that
distance is below the threshold.

Frames do not interact (a ground truth can only be taken in its own frame), so the greedy loop
runs over the *rank of a prediction within its frame*: step ``k`` handles the ``k``-th
prediction of every frame at once, vectorized over frames and ground truths. The number of
steps is the largest number of predictions in one frame, not the number of predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatchResult:
    """Outcome of matching one class at one distance threshold, in confidence order.

    Attributes:
        order: (P,) indices of the predictions sorted by descending score (ties: later first).
        gt_index: (P,) matched ground-truth index per visited prediction, -1 for a false positive.
        distance_m: (P,) xy centre distance to the matched ground truth (inf for a false
            positive whose frame had no free ground truth, else the nearest free distance).
    """

    order: np.ndarray
    gt_index: np.ndarray
    distance_m: np.ndarray

    @property
    def is_tp(self) -> np.ndarray:
        """(P,) bool: the visited prediction is a true positive."""
        return self.gt_index >= 0


def confidence_order(scores: np.ndarray) -> np.ndarray:
    """(P,) visiting order: descending score, and among equal scores the larger index first.

    This is the order of ``sorted((score, index))[::-1]`` used by the nuScenes devkit.
    """
    scores = np.asarray(scores, dtype=np.float64)
    index = np.arange(scores.shape[0])
    return np.lexsort((-index, -scores))


def _rank_within_group(group: np.ndarray) -> np.ndarray:
    """(N,) position of each element among the elements of the same group, in array order."""
    n = group.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    starts = np.r_[0, np.flatnonzero(sorted_group[1:] != sorted_group[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[by_group] = np.arange(n) - run_start
    return rank


def match_greedy(
    gt_frame: np.ndarray,
    gt_xy_m: np.ndarray,
    pred_frame: np.ndarray,
    pred_xy_m: np.ndarray,
    pred_score: np.ndarray,
    dist_th_m: float,
) -> MatchResult:
    """Match the predictions of one class to its ground truths by xy centre distance.

    Args:
        gt_frame: (G,) integer frame index of each ground truth (same numbering as pred_frame).
        gt_xy_m: (G, 2) ground-truth centres (x, y) in metres.
        pred_frame: (P,) integer frame index of each prediction.
        pred_xy_m: (P, 2) predicted centres (x, y) in metres.
        pred_score: (P,) confidences.
        dist_th_m: a prediction matches when its distance is strictly below this.

    Ground truths of one frame are tried in array order (the first of equally near ones wins).
    """
    return match_greedy_thresholds(
        gt_frame, gt_xy_m, pred_frame, pred_xy_m, pred_score, (dist_th_m,)
    )[0]


def match_greedy_thresholds(
    gt_frame: np.ndarray,
    gt_xy_m: np.ndarray,
    pred_frame: np.ndarray,
    pred_xy_m: np.ndarray,
    pred_score: np.ndarray,
    dist_ths_m: tuple[float, ...] | list[float],
) -> list[MatchResult]:
    """``match_greedy`` at several thresholds at once (one result per threshold, same order).

    The visiting order and the distances do not depend on the threshold, only which ground
    truths are already taken does; the thresholds run side by side in each step.
    """
    gt_frame = np.asarray(gt_frame, dtype=np.int64)
    pred_frame = np.asarray(pred_frame, dtype=np.int64)
    gt_xy_m = np.asarray(gt_xy_m, dtype=np.float64).reshape(-1, 2)
    pred_xy_m = np.asarray(pred_xy_m, dtype=np.float64).reshape(-1, 2)
    ths = np.asarray(dist_ths_m, dtype=np.float64).reshape(-1)
    n_pred, n_th = pred_frame.shape[0], ths.shape[0]

    order = confidence_order(pred_score)
    gt_index = np.full((n_th, n_pred), -1, dtype=np.int64)
    distance_m = np.full((n_th, n_pred), np.inf)
    if n_pred and gt_frame.shape[0]:
        # Frames renumbered densely over those that have predictions or ground truths.
        frames, inverse = np.unique(np.r_[gt_frame, pred_frame], return_inverse=True)
        gt_slot_frame = inverse[: gt_frame.shape[0]]
        pred_slot_frame = inverse[gt_frame.shape[0] :]

        # Ground truths padded per frame: (F, Gmax); a padding slot is born "taken".
        gt_rank = _rank_within_group(gt_slot_frame)
        n_frames, g_max = frames.shape[0], int(gt_rank.max()) + 1
        pad_xy = np.zeros((n_frames, g_max, 2))
        pad_xy[gt_slot_frame, gt_rank] = gt_xy_m
        pad_gt_index = np.full((n_frames, g_max), -1, dtype=np.int64)
        pad_gt_index[gt_slot_frame, gt_rank] = np.arange(gt_frame.shape[0])
        taken = np.repeat((pad_gt_index < 0)[None], n_th, axis=0)  # (T, F, Gmax)

        # Predictions in visiting order, grouped by their rank inside their frame.
        ordered_frame = pred_slot_frame[order]
        step = _rank_within_group(ordered_frame)
        by_step = np.argsort(step, kind="stable")
        n_steps = int(step.max()) + 1
        step_bounds = np.searchsorted(step[by_step], np.arange(n_steps + 1))

        for k in range(n_steps):
            visit = by_step[step_bounds[k] : step_bounds[k + 1]]  # positions in `order`
            frame_k = ordered_frame[visit]  # distinct frames
            delta = pad_xy[frame_k] - pred_xy_m[order[visit]][:, None, :]
            dist = np.sqrt(delta[..., 0] ** 2 + delta[..., 1] ** 2)  # (n_k, Gmax)
            dist = np.where(taken[:, frame_k], np.inf, dist[None])  # (T, n_k, Gmax)
            nearest = np.argmin(dist, axis=2)  # first minimum, as the reference loop
            nearest_dist = np.take_along_axis(dist, nearest[..., None], axis=2)[..., 0]
            distance_m[:, visit] = nearest_dist
            t_hit, v_hit = np.nonzero(nearest_dist < ths[:, None])
            g_hit = nearest[t_hit, v_hit]
            taken[t_hit, frame_k[v_hit], g_hit] = True
            gt_index[t_hit, visit[v_hit]] = pad_gt_index[frame_k[v_hit], g_hit]

    return [MatchResult(order, gt_index[t], distance_m[t]) for t in range(n_th)]
