"""Pictures of evaluation results (OpenCV drawing, no plotting library) and the report folder.

Every ``draw_*`` returns an RGB uint8 picture (H, W, 3); every ``*_report`` writes PNGs and a
summary (``summary.md`` linking them, ``summary.json`` with the numbers) into a folder::

    report/
      summary.md            tables + ![..](pr_Car_3d.png) links
      summary.json          the result's to_dict()
      pr_Car_3d.png ...     precision-recall curves (KITTI: one per class and metric)
      ap_by_distance.png    AP per distance bin (detection)
      confusion.png         confusion matrices (segmentation pixels, road condition)

Axes of the line and bar charts::

    value
    1 +---------------------+  legend
      |                     |  -- label
    0 +---------------------+
      0         x           1
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = [
    "detection_report",
    "draw_bars",
    "draw_confusion_matrix",
    "draw_curves",
    "kitti_report",
    "road_condition_report",
    "segmentation_report",
    "write_report",
]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BLACK = (0, 0, 0)
_GRID = (215, 215, 215)
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 230, 44, 60


def _colors(n: int) -> list[tuple[int, int, int]]:
    from zod.viz.colors import apply_colormap

    rgb = apply_colormap(np.linspace(0.1, 0.9, max(n, 1)), "turbo")[:n]
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rgb]


def _text(image: np.ndarray, text: str, xy: tuple[int, int], scale: float = 0.45) -> None:
    cv2.putText(image, text, xy, _FONT, scale, _BLACK, 1, cv2.LINE_AA)


def _axes(
    width: int,
    height: int,
    title: str,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]],
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """White picture with a 0..1 y axis, grid and labels; returns it and the axes box."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    x0, y0, x1, y1 = _LEFT, _TOP, width - _RIGHT, height - _BOTTOM
    for tick in np.linspace(0.0, 1.0, 6):
        y = int(round(y1 - tick * (y1 - y0)))
        cv2.line(image, (x0, y), (x1, y), _GRID, 1)
        _text(image, f"{tick:.1f}", (x0 - 36, y + 5))
    for value, label in x_ticks:
        x = int(round(x0 + value * (x1 - x0)))
        cv2.line(image, (x, y0), (x, y1), _GRID, 1)
        _text(image, label, (x - 4 * len(label), y1 + 20))
    cv2.rectangle(image, (x0, y0), (x1, y1), _BLACK, 1)
    _text(image, x_label, ((x0 + x1) // 2 - 4 * len(x_label), height - 16), 0.55)
    _text(image, y_label, (6, y0 - 12), 0.55)
    if title:
        _text(image, title, (x0 + 90, 24), 0.6)
    return image, (x0, y0, x1, y1)


def draw_curves(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    title: str = "",
    x_label: str = "recall",
    y_label: str = "precision",
    *,
    width: int = 780,
    height: int = 520,
) -> np.ndarray:
    """One line per label through points (x (N,), y (N,)) in [0, 1]; legend on the right."""
    ticks = [(t, f"{t:.1f}") for t in np.linspace(0.0, 1.0, 6)]
    image, (x0, y0, x1, y1) = _axes(width, height, title, x_label, y_label, ticks)
    for i, ((label, (xs, ys)), color) in enumerate(zip(curves.items(), _colors(len(curves)))):
        x = x0 + np.clip(np.asarray(xs, dtype=np.float64), 0, 1) * (x1 - x0)
        y = y1 - np.clip(np.asarray(ys, dtype=np.float64), 0, 1) * (y1 - y0)
        points = np.rint(np.stack([x, y], axis=1)).astype(np.int32).reshape(-1, 1, 2)
        if len(points) > 1:
            cv2.polylines(image, [points], False, color, 2, cv2.LINE_AA)
        elif len(points) == 1:
            cv2.circle(image, tuple(int(v) for v in points[0, 0]), 4, color, -1, cv2.LINE_AA)
        ly = y0 + 14 + 24 * i
        cv2.line(image, (x1 + 14, ly - 4), (x1 + 40, ly - 4), color, 3)
        _text(image, label[:28], (x1 + 46, ly))
    return image


def draw_bars(
    values: Mapping[str, Sequence[float]],
    groups: Sequence[str],
    title: str = "",
    y_label: str = "AP",
    *,
    y_max: float = 1.0,
    width: int = 860,
    height: int = 480,
) -> np.ndarray:
    """Grouped bars: x = ``groups`` (e.g. distance bins), one bar per label of ``values``
    (label -> one value per group, NaN = no bar). Values are drawn on a 0..``y_max`` axis."""
    n_groups, n_series = len(groups), max(len(values), 1)
    ticks = [((g + 0.5) / max(n_groups, 1), name) for g, name in enumerate(groups)]
    image, (x0, y0, x1, y1) = _axes(width, height, title, "", y_label, ticks)
    if y_max != 1.0:  # relabel the y ticks
        image[y0 - 8 : y1 + 8, : _LEFT - 2] = 255
        for tick in np.linspace(0.0, 1.0, 6):
            y = int(round(y1 - tick * (y1 - y0)))
            _text(image, f"{tick * y_max:.0f}", (x0 - 40, y + 5))
    slot = (x1 - x0) / max(n_groups, 1)
    bar = 0.8 * slot / n_series
    for s, ((label, series), color) in enumerate(zip(values.items(), _colors(len(values)))):
        for g, value in enumerate(series):
            if not np.isfinite(value):
                continue
            left = x0 + g * slot + 0.1 * slot + s * bar
            top = y1 - np.clip(value / y_max, 0, 1) * (y1 - y0)
            cv2.rectangle(image, (int(left), int(top)), (int(left + bar) - 1, y1), color, -1)
            if bar >= 22:
                _text(
                    image,
                    f"{value:.2f}" if y_max <= 1 else f"{value:.0f}",
                    (int(left), int(top) - 4),
                    0.35,
                )
        ly = y0 + 14 + 24 * s
        cv2.rectangle(image, (x1 + 14, ly - 10), (x1 + 34, ly + 2), color, -1)
        _text(image, label[:28], (x1 + 42, ly))
    return image


def draw_confusion_matrix(
    matrix: np.ndarray, labels: Sequence[str], title: str = "", *, cell_px: int = 64
) -> np.ndarray:
    """A (K, K) confusion (rows true, columns predicted): cells coloured by their share of the
    row (the diagonal reads as recall) and labelled with the count and the share."""
    from zod.viz.colors import apply_colormap

    counts = np.asarray(matrix, dtype=np.float64)
    k = counts.shape[0]
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    left = 20 + 8 * max((len(s) for s in labels), default=4)
    top = 80
    width = max(left + k * cell_px + 20, 20 + 11 * len(title))
    height = top + k * cell_px + 40
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    colors = apply_colormap(share, "viridis")
    block = np.repeat(np.repeat(colors, cell_px, axis=0), cell_px, axis=1)
    image[top : top + k * cell_px, left : left + k * cell_px] = block
    if title:
        _text(image, title, (10, 22), 0.55)
    _text(image, "predicted ->", (left, top - 36))
    _text(image, "true", (4, top - 10))
    for i, name in enumerate(labels):  # K labels and K x K cells: drawing, not data
        _text(image, name, (8, top + i * cell_px + cell_px // 2 + 4))
        _text(image, name[: cell_px // 6], (left + i * cell_px + 2, top - 10), 0.32)
        for j in range(k):
            ink = (0, 0, 0) if share[i, j] > 0.6 else (255, 255, 255)
            count = counts[i, j]
            text = f"{count:.0f}" if count < 1e5 else f"{count:.2g}"
            x, y = left + j * cell_px + 4, top + i * cell_px + cell_px // 2
            cv2.putText(image, text, (x, y - 2), _FONT, 0.38, ink, 1, cv2.LINE_AA)
            cv2.putText(image, f"{share[i, j]:.0%}", (x, y + 14), _FONT, 0.38, ink, 1, cv2.LINE_AA)
    return image


# --------------------------------------------------------------------------- reports
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "plot"


def write_report(
    folder: str | os.PathLike[str],
    title: str,
    pictures: Mapping[str, tuple[str, np.ndarray]],
    tables: Sequence[str],
    numbers: Mapping[str, Any],
) -> Path:
    """Write ``pictures`` ({file name: (caption, RGB image)}) as PNGs, ``summary.json`` and a
    ``summary.md`` with the tables (markdown) and the pictures linked; returns the summary."""
    from zod._atomic import atomic_write_text
    from zod.viz.colors import write_png

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    for table in tables:
        lines += [table, ""]
    for name, (caption, image) in pictures.items():
        write_png(out / name, image)
        lines += [f"![{caption}]({name})", ""]
    atomic_write_text(out / "summary.json", json.dumps(numbers, indent=2))
    return atomic_write_text(out / "summary.md", "\n".join(lines))


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "n/a" if not np.isfinite(value) else f"{value:.4f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def kitti_report(result: Any, folder: str | os.PathLike[str]) -> Path:
    """PR curves (one picture per class and metric, a curve per difficulty), AP bars per class,
    tables and JSON of a ``zod.eval.kitti.KittiResult``."""
    pictures: dict[str, tuple[str, np.ndarray]] = {}
    for cls in result.classes:
        for metric in result.metrics:
            # KITTI's picture: slot i (recall i / 40) against its interpolated precision
            curves = {
                f"{d}  AP40 {result.ap(cls, d, metric):.2f}": (
                    np.arange(41) / 40.0,
                    result.curves[(cls, d, metric)].precision,
                )
                for d in result.difficulties
            }
            threshold = result.iou_thresholds.get(cls, {}).get(metric, float("nan"))
            pictures[f"pr_{_slug(cls)}_{metric}.png"] = (
                f"{cls} {metric} precision-recall",
                draw_curves(curves, f"{cls}: {metric.upper()} at IoU {threshold:.2f}"),
            )
    for metric in result.metrics:
        bars = {d: [result.ap(c, d, metric) for c in result.classes] for d in result.difficulties}
        pictures[f"ap_{metric}.png"] = (
            f"AP40 {metric} per class",
            draw_bars(
                bars,
                list(result.classes),
                f"KITTI AP_R40 ({metric.upper()}), percent",
                "AP",
                y_max=100.0,
            ),
        )
    rows = [
        [c, m, *[result.ap(c, d, m) for d in result.difficulties]]
        for c in result.classes
        for m in result.metrics
    ]
    table = _markdown_table(["class", "metric", *result.difficulties], rows)
    return write_report(
        folder,
        f"KITTI AP_R40 (percent), {result.num_frames} frames",
        pictures,
        [table],
        result.to_dict(),
    )


def detection_report(
    result: Any,
    by_range: Mapping[str, Any],
    folder: str | os.PathLike[str],
    max_classes: int = 8,
) -> Path:
    """nuScenes-style detection: PR curves of the most frequent classes (at the four distance
    thresholds; needs ``keep_curves``), AP by distance bin (``evaluate_by_range`` results), tables
    and the JSON (result and per-bin entries)."""
    from zod.eval.detection.evaluate import by_range_dict
    from zod.eval.detection.plot import draw_pr_curves

    cfg = result.config
    classes = sorted(result.per_class, key=lambda n: -result.per_class[n].num_gt)[:max_classes]
    pictures: dict[str, tuple[str, np.ndarray]] = {}
    if by_range:
        bins = list(by_range)
        series = {
            name: [
                r.per_class[name].mean_ap if name in r.per_class else float("nan")
                for r in by_range.values()
            ]
            for name in classes
        }
        series["mAP (all)"] = [r.mean_ap for r in by_range.values()]
        pictures["ap_by_distance.png"] = (
            "AP by distance",
            draw_bars(series, [f"{b} m" for b in bins], "mean AP (0.5-4 m) by distance", "AP"),
        )
        pictures["nds_by_distance.png"] = (
            "NDS and mAP by distance",
            draw_bars(
                {
                    "NDS": [r.nds for r in by_range.values()],
                    "mAP": [r.mean_ap for r in by_range.values()],
                },
                [f"{b} m" for b in bins],
                "NDS and mAP by distance",
                "score",
            ),
        )
    for name in classes:
        entry = result.per_class[name]
        if entry.curves:
            pictures[f"pr_{_slug(name)}.png"] = (
                f"{name} precision-recall",
                draw_pr_curves(
                    {f"{th:g} m": c for th, c in entry.curves.items()},
                    f"{name}: {entry.num_gt} GT, {entry.num_pred} predictions",
                    min_recall=cfg.min_recall,
                    min_precision=cfg.min_precision,
                ),
            )
    rows = [
        [
            n,
            r.num_gt,
            r.num_pred,
            r.mean_ap,
            *(r.tp_errors[m] for m in ("trans_err", "scale_err", "orient_err")),
        ]
        for n, r in result.per_class.items()
    ]
    tables = [
        f"NDS {result.nds:.4f}, mAP {result.mean_ap:.4f}, {result.num_frames} frames",
        _markdown_table(["class", "GT", "predictions", "mAP", "ATE", "ASE", "AOE"], rows),
    ]
    if by_range:
        bin_rows = [
            [
                b,
                r.nds,
                r.mean_ap,
                *(r.per_class[n].mean_ap if n in r.per_class else float("nan") for n in classes),
            ]
            for b, r in by_range.items()
        ]
        tables.append(_markdown_table(["distance (m)", "NDS", "mAP", *classes], bin_rows))
    numbers = result.to_dict()
    if by_range:
        numbers["by_range"] = by_range_dict(by_range)
    return write_report(folder, "3D detection (nuScenes style)", pictures, tables, numbers)


def segmentation_report(result: Any, folder: str | os.PathLike[str]) -> Path:
    """Pixel confusion (share of each true class), per-class scores and the per-image IoU
    curve (sorted) of a ``zod.eval.segmentation.SegmentationResult``."""
    overall = result.overall()
    names = list(result.class_names)
    pictures: dict[str, tuple[str, np.ndarray]] = {
        "confusion.png": (
            "pixel confusion",
            draw_confusion_matrix(result.total, names, f"{result.task}: pixels, rows = truth"),
        ),
    }
    per_image = result.per_image()["iou"]
    curves = {}
    for k in range(1, len(names)):
        values = np.sort(per_image[:, k][np.isfinite(per_image[:, k])])
        if values.size:
            curves[names[k]] = (np.linspace(0, 1, values.size), values)
    if curves:
        pictures["image_iou.png"] = (
            "per-image IoU, sorted",
            draw_curves(
                curves, f"{result.task}: per-image IoU, worst to best", "share of images", "IoU"
            ),
        )
    rows = [
        [
            names[k],
            overall["iou"][k],
            overall["precision"][k],
            overall["recall"][k],
            overall["f1"][k],
            result.mean_image_iou(k),
        ]
        for k in range(1, len(names))
    ]
    table = _markdown_table(["class", "IoU", "precision", "recall", "F1", "mean image IoU"], rows)
    return write_report(
        folder,
        f"{result.task}: {len(result.frame_ids)} images",
        pictures,
        [table],
        result.to_dict(),
    )


def road_condition_report(result: Any, folder: str | os.PathLike[str]) -> Path:
    """Confusion matrix and scores of a ``zod.eval.road_condition.RoadConditionResult``."""
    c = result.classification
    pictures = {
        "confusion.png": (
            "road condition confusion",
            draw_confusion_matrix(c.confusion, list(c.class_names), "road condition, rows = truth"),
        )
    }
    rows = [
        [name, c.precision[i], c.recall[i], c.f1[i], int(c.support[i])]
        for i, name in enumerate(c.class_names)
    ]
    table = _markdown_table(["class", "precision", "recall", "F1", "frames"], rows)
    head = (
        f"accuracy {result.accuracy:.4f}, wetness accuracy {result.wetness_accuracy:.4f}, "
        f"snow accuracy {result.snow_accuracy:.4f}"
    )
    return write_report(
        folder,
        f"road condition: {result.num_frames} frames",
        pictures,
        [head, table],
        result.to_dict(),
    )
