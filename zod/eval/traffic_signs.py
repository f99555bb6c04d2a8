"""Traffic-sign classification evaluation: accuracy, per-class precision/recall/F1, confusion.

The task: given each annotated traffic sign (its ``annotation_uuid``; crop it with
``zod.converters`` or ``Box2D.crop_from_image``), predict its class, one of the 156 names of
``traffic-sign-classes.tsv`` (spec section 11). Unclear signs are not scored.

Predictions file (docs/eval.md): a JSON object mapping annotation uuid to a class name or
class index, optionally nested per frame id and/or under ``"results"``::

    {"results": {"3f1c...": "Priority_Stop", "9a2e...": 15}}
    {"009158": {"3f1c...": "Priority_Stop"}}

A sign without a prediction counts as wrong (a false negative of its class, in
``missing_per_class``); a prediction for an unknown uuid is ignored and counted.
Names outside the known list are kept as extra classes (they must not crash anything).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zod.errors import FormatError, MissingFileError
from zod.eval._frames import ItemTask, item_ids, read_items


def known_class_names() -> tuple[str, ...]:
    """The 156 traffic-sign class names in index order (index = conventional class id)."""
    from zod.annotations.classes import TRAFFIC_SIGN_CLASSES

    return tuple(TRAFFIC_SIGN_CLASSES)


@dataclass(frozen=True)
class ClassificationResult:
    """Scores of a classification run.

    Attributes:
        class_names: (C,) label names; rows and columns of ``confusion`` follow this order.
        confusion: (C, C) int counts, row = true class, column = predicted class.
        missing_per_class: (C,) ground truths of each class that got no prediction.
        num_unmatched_predictions: predictions whose uuid is not in the ground truth.
    """

    class_names: tuple[str, ...]
    confusion: np.ndarray
    missing_per_class: np.ndarray
    num_unmatched_predictions: int = 0

    @property
    def support(self) -> np.ndarray:
        """(C,) ground truths per class (predicted or not)."""
        return self.confusion.sum(axis=1) + self.missing_per_class

    @property
    def num_predicted(self) -> np.ndarray:
        """(C,) predictions per class (on scored ground truths)."""
        return self.confusion.sum(axis=0)

    @property
    def num_correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float:
        """Correct / all scored ground truths (a missing prediction is wrong); NaN if none."""
        total = int(self.support.sum())
        return self.num_correct / total if total else float("nan")

    @property
    def precision(self) -> np.ndarray:
        """(C,) TP / predicted; 0 for a class never predicted."""
        tp = np.diag(self.confusion).astype(np.float64)
        return np.divide(
            tp, self.num_predicted, out=np.zeros_like(tp), where=self.num_predicted > 0
        )

    @property
    def recall(self) -> np.ndarray:
        """(C,) TP / support; 0 for a class without ground truth."""
        tp = np.diag(self.confusion).astype(np.float64)
        return np.divide(tp, self.support, out=np.zeros_like(tp), where=self.support > 0)

    @property
    def f1(self) -> np.ndarray:
        """(C,) harmonic mean of precision and recall (0 where both are 0)."""
        p, r = self.precision, self.recall
        return np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)

    @property
    def active(self) -> np.ndarray:
        """(C,) bool: the class occurs in the ground truth or the predictions."""
        return (self.support > 0) | (self.num_predicted > 0)

    def macro(self) -> dict[str, float]:
        """Unweighted means of precision, recall and F1 over the active classes."""
        act = self.active
        if not act.any():
            return {"precision": float("nan"), "recall": float("nan"), "f1": float("nan")}
        return {
            "precision": float(self.precision[act].mean()),
            "recall": float(self.recall[act].mean()),
            "f1": float(self.f1[act].mean()),
        }

    def to_dict(self, include_confusion: bool = True) -> dict[str, Any]:
        """JSON-friendly result; per-class entries only for active classes."""
        act = np.flatnonzero(self.active)
        out: dict[str, Any] = {
            "accuracy": self.accuracy,
            "num_ground_truth": int(self.support.sum()),
            "num_correct": self.num_correct,
            "num_missing": int(self.missing_per_class.sum()),
            "num_unmatched_predictions": self.num_unmatched_predictions,
            "macro": self.macro(),
            "per_class": {
                self.class_names[i]: {
                    "precision": float(self.precision[i]),
                    "recall": float(self.recall[i]),
                    "f1": float(self.f1[i]),
                    "support": int(self.support[i]),
                    "predicted": int(self.num_predicted[i]),
                    "missing": int(self.missing_per_class[i]),
                }
                for i in act
            },
        }
        if include_confusion:
            out["confusion"] = {
                "labels": [self.class_names[i] for i in act],
                "matrix": self.confusion[np.ix_(act, act)].tolist(),
            }
        return out

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_dict()`` atomically."""
        from zod.eval.detection.evaluate import write_json_atomic

        return write_json_atomic(path, self.to_dict())

    def table(self, max_rows: int = 30) -> str:
        """Summary and the per-class lines of the most frequent classes."""
        macro = self.macro()
        lines = [
            (
                f"signs: {int(self.support.sum())}  correct: {self.num_correct}  "
                f"missing: {int(self.missing_per_class.sum())}"
            ),
            f"accuracy: {self.accuracy:.4f}",
            (
                f"macro precision {macro['precision']:.4f}  recall {macro['recall']:.4f}  "
                f"F1 {macro['f1']:.4f}"
            ),
            "",
            f"{'class':<45}{'support':>8}{'prec':>8}{'recall':>8}{'F1':>8}",
        ]
        order = np.argsort(-self.support, kind="stable")
        for i in order[self.active[order]][:max_rows]:
            lines.append(
                f"{self.class_names[i]:<45}{int(self.support[i]):>8}"
                f"{self.precision[i]:>8.4f}{self.recall[i]:>8.4f}{self.f1[i]:>8.4f}"
            )
        return "\n".join(lines)


def _vocabulary(class_names: Sequence[str] | None, *label_lists: Iterable[str]) -> list[str]:
    names = list(class_names) if class_names is not None else list(known_class_names())
    seen = set(names)
    for labels in label_lists:
        for extra in np.unique(np.asarray(list(labels), dtype=str)):
            if extra not in seen:  # names outside the list become extra classes
                seen.add(extra)
                names.append(str(extra))
    return names


def _indices(labels: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """(N,) index of each label in the vocabulary (vectorized over unique labels)."""
    arr = np.asarray(labels, dtype=str)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(arr, return_inverse=True)
    lookup = {name: i for i, name in enumerate(vocabulary)}
    return np.array([lookup[u] for u in uniq], dtype=np.int64)[inverse.reshape(-1)]


def evaluate_classification(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    class_names: Sequence[str] | None = None,
) -> ClassificationResult:
    """Score label pairs; ``y_pred[i] = None`` is a missing prediction.

    ``class_names`` fixes the label order (default: the 156 traffic-sign classes); labels
    outside it are appended as extra classes.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    missing = np.array([p is None for p in y_pred], dtype=bool)
    pred_given = [str(p) for p in y_pred if p is not None]
    true_all = [str(t) for t in y_true]
    vocabulary = _vocabulary(class_names, true_all, pred_given)
    n_classes = len(vocabulary)
    true_idx = _indices(true_all, vocabulary)
    pred_idx = _indices(pred_given, vocabulary)
    scored_true = true_idx[~missing]
    confusion = np.bincount(
        scored_true * n_classes + pred_idx, minlength=n_classes * n_classes
    ).reshape(n_classes, n_classes)
    return ClassificationResult(
        class_names=tuple(vocabulary),
        confusion=confusion,
        missing_per_class=np.bincount(true_idx[missing], minlength=n_classes),
    )


def evaluate_traffic_signs(
    ground_truth: Mapping[str, str],
    predictions: Mapping[str, str],
    class_names: Sequence[str] | None = None,
) -> ClassificationResult:
    """Score predictions ``{uuid: class}`` against ground truth ``{uuid: class}``."""
    uuids = list(ground_truth)
    result = evaluate_classification(
        [ground_truth[u] for u in uuids], [predictions.get(u) for u in uuids], class_names
    )
    unmatched = len(set(predictions) - set(ground_truth))
    return ClassificationResult(
        result.class_names, result.confusion, result.missing_per_class, unmatched
    )


def _label(value: Any, names: Sequence[str], where: str, source: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= int(value) < len(names):
            return names[int(value)]
        raise FormatError(source, f"{where}: class index {value} is out of range")
    raise FormatError(source, f"{where}: a prediction must be a class name or index")


def predictions_from_mapping(payload: Any, source: Any = None) -> dict[str, str]:
    """Flatten ``{uuid: class}`` (optionally under "results" and/or per frame) to names."""
    if isinstance(payload, Mapping) and "results" in payload:
        payload = payload["results"]
    if not isinstance(payload, Mapping):
        raise FormatError(source, "traffic-sign predictions must be a JSON object")
    names = known_class_names()
    out: dict[str, str] = {}
    for key, value in payload.items():
        if isinstance(value, Mapping):  # per-frame nesting
            for uuid, label in value.items():
                out[str(uuid)] = _label(label, names, f"frame {key}, sign {uuid}", source)
        else:
            out[str(key)] = _label(value, names, f"sign {key}", source)
    return out


def read_predictions(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a traffic-sign predictions file (format in the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "traffic-sign predictions file")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(path, f"not valid JSON: {err}") from err
    return predictions_from_mapping(payload, path)


def ground_truth_from_signs(signs_per_frame: Mapping[str, Iterable[Any]]) -> dict[str, str]:
    """``{uuid: class}`` of the clear signs of ``TrafficSignAnnotation``-like objects."""
    out: dict[str, str] = {}
    for signs in signs_per_frame.values():
        for sign in signs:
            name = getattr(sign, "traffic_sign_class", None)
            if getattr(sign, "unclear", False) or not name or name == "unclear":
                continue
            out[str(sign.uuid)] = str(name)
    return out


@dataclass(frozen=True)
class _SignsTask(ItemTask):
    """Picklable per-frame task: ``{uuid: class}`` of the frame's clear signs ({} if none)."""

    def __call__(self, frame_id: str) -> dict[str, str]:
        from zod.constants import AnnotationProject

        frame = self.item(frame_id)
        if AnnotationProject.TRAFFIC_SIGNS not in frame.info.annotations:
            return {}  # not annotated for traffic signs (spec section 2)
        signs = frame.get_annotation(AnnotationProject.TRAFFIC_SIGNS)
        return ground_truth_from_signs({frame_id: signs})


def ground_truth_from_dataset(
    dataset_root: str | os.PathLike[str],
    version: str = "full",
    split: str = "val",
    *,
    frame_ids: Iterable[str | int] | None = None,
    skip_missing: bool = False,
    workers: int = 1,
    subset: str = "frames",
) -> dict[str, str]:
    """``{uuid: class}`` of the clear traffic signs of a split of ZOD Frames (or Sequences).

    Items not annotated for traffic signs are skipped; a listed but missing file raises
    ``FrameFailures`` unless ``skip_missing``. ``workers`` processes read the files (0: all
    cores); ``subset`` is ``"frames"`` or ``"sequences"`` (keyframe annotations).
    """
    root = str(Path(dataset_root).expanduser())
    run = read_items(
        _SignsTask(root, version, subset),
        item_ids(root, version, subset, split, frame_ids),
        workers,
        skip_missing,
        "reading traffic signs",
    )
    out: dict[str, str] = {}
    for _, signs in run.ok():
        out.update(signs)
    return out


CONFUSION_MARGIN_LEFT, CONFUSION_MARGIN_TOP = 290, 40
"""Pixels left of and above the matrix in ``draw_confusion`` pictures (labels go there)."""


def draw_confusion(
    result: ClassificationResult, max_classes: int = 20, cell_px: int = 28
) -> np.ndarray:
    """RGB uint8 (H, W, 3) picture of the confusion matrix of the most frequent classes.

    Rows are true classes, columns predicted ones, in order of support; each row is coloured
    by the fraction of that class's signs (so the diagonal reads as recall), with the count
    written in the cell. Labels are the class indices (or names when not in the table).
    """
    import cv2

    from zod.viz.colors import apply_colormap

    order = np.argsort(-result.support, kind="stable")
    order = order[result.active[order]][:max_classes]
    k = order.size
    counts = result.confusion[np.ix_(order, order)]
    row_total = np.maximum(result.support[order], 1)[:, None]
    margin_left, margin_top = CONFUSION_MARGIN_LEFT, CONFUSION_MARGIN_TOP
    width, height = margin_left + k * cell_px + 10, margin_top + k * cell_px + 10
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    colors = apply_colormap(counts / row_total, "viridis")  # (k, k, 3)
    block = np.repeat(np.repeat(colors, cell_px, axis=0), cell_px, axis=1)
    image[margin_top : margin_top + k * cell_px, margin_left : margin_left + k * cell_px] = block
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i, cls in enumerate(order):  # k <= max_classes labels and cells: drawing, not data
        name = result.class_names[cls]
        y = margin_top + i * cell_px + cell_px // 2 + 4
        cv2.putText(image, f"{i:>2} {name[:38]}", (4, y), font, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(
            image,
            str(i),
            (margin_left + i * cell_px + 6, margin_top - 10),
            font,
            0.38,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        for j in np.flatnonzero(counts[i]).tolist():
            text_color = (0, 0, 0) if counts[i, j] / row_total[i, 0] > 0.6 else (255, 255, 255)
            cv2.putText(
                image,
                str(int(counts[i, j])),
                (margin_left + j * cell_px + 3, y),
                font,
                0.35,
                text_color,
                1,
                cv2.LINE_AA,
            )
    cv2.putText(
        image,
        "predicted ->",
        (margin_left - 110, margin_top - 10),
        font,
        0.4,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return image
