"""Precision-recall pictures of a detection result (OpenCV drawing, no plotting library).

The picture is an RGB uint8 array (H, W, 3) like every picture of ``zod.viz``::

    precision
    1 +--------------------+   legend
      |\\___               |   -- 0.5 m  AP 0.62
      |     \\__           |   -- 1.0 m  AP 0.80
      |        \\_         |   ...
    0 +--------------------+
      0       recall       1

The grey band marks what the AP ignores (recall <= min_recall, precision <= min_precision).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import cv2
import numpy as np

from zod.eval.detection.evaluate import DetectionResult
from zod.eval.detection.metrics import MetricCurves, average_precision

_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 70, 200, 44, 56
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def plot_area(width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel corners of the axes box: (x0, y1) is recall 0, precision 0."""
    return _MARGIN_LEFT, _MARGIN_TOP, width - _MARGIN_RIGHT, height - _MARGIN_BOTTOM


def to_pixels(recall: np.ndarray, precision: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 2) int pixel (x, y) of (N,) recall and precision values in [0, 1]."""
    x0, y0, x1, y1 = plot_area(width, height)
    x = x0 + np.clip(recall, 0, 1) * (x1 - x0)
    y = y1 - np.clip(precision, 0, 1) * (y1 - y0)
    return np.rint(np.stack([x, y], axis=1)).astype(np.int32)


def curve_colors(n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct RGB colours (turbo colormap, avoiding its darkest ends)."""
    from zod.viz.colors import apply_colormap

    rgb = apply_colormap(np.linspace(0.1, 0.9, max(n, 1)), "turbo")[:n]
    return [tuple(int(c) for c in row) for row in rgb]  # type: ignore[misc]


def draw_pr_curves(
    curves: Mapping[str, MetricCurves],
    title: str = "",
    *,
    min_recall: float = 0.1,
    min_precision: float = 0.1,
    width: int = 760,
    height: int = 520,
) -> np.ndarray:
    """Draw one precision-recall curve per label (legend: label and its AP); RGB (H, W, 3)."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    x0, y0, x1, y1 = plot_area(width, height)
    # ignored band (what the AP does not count)
    rx, _ = to_pixels(np.array([min_recall]), np.array([0.0]), width, height)[0]
    _, py = to_pixels(np.array([0.0]), np.array([min_precision]), width, height)[0]
    image[y0 : y1 + 1, x0 : rx + 1] = (235, 235, 235)
    image[py : y1 + 1, x0 : x1 + 1] = (235, 235, 235)
    for tick in np.linspace(0.0, 1.0, 6):
        (tx, ty) = to_pixels(np.array([tick]), np.array([tick]), width, height)[0]
        cv2.line(image, (int(tx), y0), (int(tx), y1), (210, 210, 210), 1)
        cv2.line(image, (x0, int(ty)), (x1, int(ty)), (210, 210, 210), 1)
        cv2.putText(
            image, f"{tick:.1f}", (int(tx) - 12, y1 + 20), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
        cv2.putText(
            image, f"{tick:.1f}", (x0 - 36, int(ty) + 5), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
    cv2.rectangle(image, (x0, y0), (x1, y1), (0, 0, 0), 1)
    cv2.putText(
        image, "recall", ((x0 + x1) // 2 - 25, height - 14), _FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA
    )
    cv2.putText(image, "precision", (6, y0 - 12), _FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    if title:
        cv2.putText(image, title, (x0 + 80, 26), _FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)

    for i, ((label, c), color) in enumerate(zip(curves.items(), curve_colors(len(curves)))):
        points = to_pixels(c.recall, c.precision, width, height)
        cv2.polylines(image, [points.reshape(-1, 1, 2)], False, color, 2, cv2.LINE_AA)
        ap = average_precision(c, min_recall, min_precision)
        ly = y0 + 14 + 24 * i
        cv2.line(image, (x1 + 14, ly - 4), (x1 + 40, ly - 4), color, 3)
        cv2.putText(
            image, f"{label}  AP {ap:.3f}", (x1 + 46, ly), _FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
    return image


def save_pr_curves(result: DetectionResult, class_name: str, path: str | os.PathLike[str]) -> str:
    """Write the PR curves of one class at every threshold as a PNG (needs ``keep_curves``)."""
    from zod.viz.colors import write_png

    if class_name not in result.per_class:
        raise KeyError(f"class {class_name!r} was not evaluated (no ground truth in range)")
    entry = result.per_class[class_name]
    if not entry.curves:
        raise ValueError("the result holds no curves: evaluate with keep_curves=True")
    cfg = result.config
    image = draw_pr_curves(
        {f"{th:g} m": c for th, c in entry.curves.items()},
        f"{class_name}: {entry.num_gt} GT, {entry.num_pred} predictions",
        min_recall=cfg.min_recall,
        min_precision=cfg.min_precision,
    )
    return write_png(path, image)
