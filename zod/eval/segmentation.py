"""Ego-road and lane-marking segmentation: IoU, precision, recall and F1 of predicted masks or
polygons against the GeoJSON annotations, per image and overall.

Ground truth (spec section 11): the polygons of ``ego_road.json`` / ``lane_markings.json``
rasterised with GeoJSON semantics (first ring the outline, further rings holes) by
``zod.geometry.masks`` at the resolution of the prediction. Tasks (``TASKS``):

| task | classes (pixel value) | from |
| --- | --- | --- |
| ``ego_road`` | 0 background, 1 ego road | ``EgoRoad_Road`` polygons (debris is not road) |
| ``lane_markings`` | 0 background, 1 lane marking | lane markings (solid, dashed, ...) |
| ``lane_kinds`` | 0, 1 lane marking, 2 shaded area, 3 road painting | every lane feature |

Predictions, per frame id (docs/eval.md):

- **masks**: a folder of ``<frame id>.png`` (8- or 16-bit, one channel) or ``<frame id>.npy``
  ((H, W) bool / integer) holding the class of each pixel; for the binary tasks any non-zero
  pixel is the positive class (0/1 and 0/255 masks both work). H x W is the full image
  (2168 x 3848) or a scaled copy (round(2168 s) x round(3848 s), e.g. 542 x 962 for s = 1/4):
  the ground truth is rasterised at that size;
- **polygons**: one JSON file ``{"results": {"<frame id>": [geometry, ...]}}``, each entry a
  GeoJSON geometry (``Polygon`` / ``MultiPolygon``, full-resolution pixels, holes as further
  rings) or a feature ``{"geometry": ..., "properties": {"class": "shaded_area"}}`` (class
  by name, for the multi-class task; default class 1). Later entries paint over earlier ones.

Scores (from the per-class confusion of pixels, rows = true class, columns = predicted):
IoU = TP / (TP + FP + FN), precision = TP / (TP + FP), recall = TP / (TP + FN),
F1 = 2 TP / (2 TP + FP + FN). *Overall* = the same on the confusion summed over the images
(sum of intersections / sum of unions); *per image* = on each image's own counts (NaN where a
class is absent from both sides: such an image is left out of the mean per-image IoU).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from zod.errors import FormatError, MissingFileError
from zod.eval._frames import ItemTask, open_dataset, read_items
from zod.geometry.masks import (
    FULL_IMAGE_SHAPE,
    annotation_kind,
    geometry_to_polygons,
    rasterize_polygons,
)

__all__ = [
    "TASKS",
    "SegmentationResult",
    "SegmentationTask",
    "confusion_of_masks",
    "evaluate_segmentation",
    "evaluate_segmentation_dataset",
    "ground_truth_mask",
    "mask_scale",
    "read_mask",
    "read_polygon_predictions",
    "segmentation_metrics",
    "write_mask",
    "write_polygon_predictions",
]


def _ego_road_label(annotation: Any) -> int | None:
    kind = getattr(annotation, "type", None)
    value = getattr(kind, "value", kind)
    return 1 if value == "EgoRoad_Road" else None


def _lane_marking_label(annotation: Any) -> int | None:
    return 1 if annotation_kind(annotation) == "lane_marking" else None


_LANE_KINDS = {"lane_marking": 1, "shaded_area": 2, "road_painting": 3}


def _lane_kind_label(annotation: Any) -> int | None:
    return _LANE_KINDS.get(annotation_kind(annotation))


@dataclass(frozen=True)
class SegmentationTask:
    """What is segmented: the annotation project, the class names (index = pixel value, 0 =
    background) and which class each annotation paints (None: not painted)."""

    name: str
    project: str
    class_names: tuple[str, ...]
    label_of: Callable[[Any], int | None]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def binary(self) -> bool:
        return self.num_classes == 2

    def class_id(self, name: str | int) -> int:
        """The pixel value of a class given by name or value (ValueError if unknown)."""
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            if 0 <= int(name) < self.num_classes:
                return int(name)
        elif str(name) in self.class_names:
            return self.class_names.index(str(name))
        raise ValueError(f"unknown class {name!r} for {self.name}: one of {list(self.class_names)}")


TASKS: dict[str, SegmentationTask] = {
    "ego_road": SegmentationTask(
        "ego_road", "ego_road", ("background", "ego_road"), _ego_road_label
    ),
    "lane_markings": SegmentationTask(
        "lane_markings", "lane_markings", ("background", "lane_marking"), _lane_marking_label
    ),
    "lane_kinds": SegmentationTask(
        "lane_kinds",
        "lane_markings",
        ("background", "lane_marking", "shaded_area", "road_painting"),
        _lane_kind_label,
    ),
}
"""The segmentation tasks by name."""


def _task(task: SegmentationTask | str) -> SegmentationTask:
    if isinstance(task, SegmentationTask):
        return task
    if task not in TASKS:
        raise ValueError(f"unknown segmentation task {task!r}: one of {sorted(TASKS)}")
    return TASKS[task]


# --------------------------------------------------------------------------- masks and counts
def mask_scale(shape: Sequence[int], path: Any = None) -> float:
    """The scale s of an (H, W) mask of the front image: W / 3848, with H = round(2168 s)."""
    height, width = int(shape[0]), int(shape[1])
    full_h, full_w = FULL_IMAGE_SHAPE
    scale = width / full_w
    if width < 1 or max(1, round(full_h * scale)) != height:
        raise FormatError(
            path,
            f"a {height} x {width} mask is not the front image ({full_h} x {full_w}) or a "
            "scaled copy of it (round(2168 s) x round(3848 s))",
        )
    return scale


def ground_truth_mask(
    task: SegmentationTask | str,
    annotations: Iterable[Any],
    scale: float = 1.0,
    image_shape: Sequence[int] = FULL_IMAGE_SHAPE,
) -> np.ndarray:
    """uint8 (round(H s), round(W s)): the class of each pixel (annotations painted in order)."""
    spec = _task(task)
    kept, values = [], []
    for annotation in annotations:
        value = spec.label_of(annotation)
        if value is not None:
            kept.append(annotation)
            values.append(value)
    return rasterize_polygons(kept, values, image_shape, scale)


def confusion_of_masks(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 pixel counts, row = true class, column = predicted class (masks (H, W))."""
    truth = np.asarray(truth)
    predicted = np.asarray(predicted)
    if truth.shape != predicted.shape:
        raise ValueError(f"masks differ in shape: {truth.shape} and {predicted.shape}")
    dtype = np.uint16 if num_classes <= 255 else np.int64
    index = truth.astype(dtype) * num_classes + predicted.astype(dtype)
    counts = np.bincount(index.ravel(), minlength=num_classes * num_classes)
    return counts[: num_classes * num_classes].reshape(num_classes, num_classes).astype(np.int64)


def segmentation_metrics(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class scores of confusions (..., K, K): iou, precision, recall, f1 (..., K) (NaN where
    undefined) and tp, fp, fn."""
    c = np.asarray(confusion, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    fp = c.sum(axis=-2) - tp
    fn = c.sum(axis=-1) - tp

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.full(np.shape(num), np.nan), where=den > 0)

    return {
        "iou": ratio(tp, tp + fp + fn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


@dataclass(frozen=True)
class SegmentationResult:
    """Per-image pixel confusions of a segmentation task.

    Attributes:
        task: the task name; class_names: (K,) names, index = pixel value.
        frame_ids: (F,) the scored images; confusions: (F, K, K) int64 counts.
        scales: (F,) the resolution each image was scored at (1 = full).
    """

    task: str
    class_names: tuple[str, ...]
    frame_ids: tuple[str, ...]
    confusions: np.ndarray
    scales: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def total(self) -> np.ndarray:
        """(K, K) confusion summed over the images."""
        return self.confusions.sum(axis=0)

    def overall(self) -> dict[str, np.ndarray]:
        """Scores per class (K,) on the summed counts."""
        return segmentation_metrics(self.total)

    def per_image(self) -> dict[str, np.ndarray]:
        """Scores per image and class (F, K)."""
        return segmentation_metrics(self.confusions)

    def mean_iou(self) -> float:
        """Mean overall IoU over the classes other than background that occur (NaN if none)."""
        iou = self.overall()["iou"][1:]
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")

    def mean_image_iou(self, cls: int = 1) -> float:
        """Mean of the per-image IoU of one class over the images where it is defined."""
        values = self.per_image()["iou"][:, cls]
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    def to_dict(self, per_image: bool = True) -> dict[str, Any]:
        """JSON-friendly: overall per class, mean IoU, and per image (IoU and F1 per class)."""

        def clean(value: float) -> float | None:
            return None if not np.isfinite(value) else float(value)

        overall = self.overall()
        out: dict[str, Any] = {
            "task": self.task,
            "num_images": len(self.frame_ids),
            "mIoU": clean(self.mean_iou()),
            "overall": {
                name: {
                    "iou": clean(overall["iou"][k]),
                    "precision": clean(overall["precision"][k]),
                    "recall": clean(overall["recall"][k]),
                    "f1": clean(overall["f1"][k]),
                    "tp": int(overall["tp"][k]),
                    "fp": int(overall["fp"][k]),
                    "fn": int(overall["fn"][k]),
                    "mean_image_iou": clean(self.mean_image_iou(k)),
                }
                for k, name in enumerate(self.class_names)
                if k > 0
            },
            "confusion": {"labels": list(self.class_names), "matrix": self.total.tolist()},
        }
        if per_image:
            images = self.per_image()
            out["per_image"] = {
                frame_id: {
                    name: {"iou": clean(images["iou"][f, k]), "f1": clean(images["f1"][f, k])}
                    for k, name in enumerate(self.class_names)
                    if k > 0
                }
                for f, frame_id in enumerate(self.frame_ids)
            }
        return out

    def write_json(self, path: str | os.PathLike[str], per_image: bool = True) -> Path:
        """Write ``to_dict()`` atomically."""
        from zod.eval.detection.evaluate import write_json_atomic

        return write_json_atomic(path, self.to_dict(per_image))

    def table(self) -> str:
        """Overall scores per class."""
        overall = self.overall()
        lines = [
            f"{self.task}: {len(self.frame_ids)} images, mIoU {self.mean_iou():.4f}",
            f"{'class':<16}{'IoU':>8}{'prec':>8}{'recall':>8}{'F1':>8}{'img IoU':>9}",
        ]
        for k, name in enumerate(self.class_names):
            if k == 0:
                continue
            lines.append(
                f"{name:<16}{overall['iou'][k]:>8.4f}{overall['precision'][k]:>8.4f}"
                f"{overall['recall'][k]:>8.4f}{overall['f1'][k]:>8.4f}"
                f"{self.mean_image_iou(k):>9.4f}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- predictions
def read_mask(path: str | os.PathLike[str], task: SegmentationTask | str) -> np.ndarray:
    """A predicted mask (PNG or NPY) as uint8 class ids (H, W); binary tasks: non-zero -> 1."""
    import cv2

    spec = _task(task)
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "predicted mask")
    if path.suffix.lower() == ".npy":
        try:
            mask = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise FormatError(path, f"not a numpy array file: {err}") from err
    else:
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise FormatError(path, "not an image OpenCV can read")
        if mask.ndim == 3:
            if not (mask == mask[..., :1]).all():
                raise FormatError(path, "a mask needs one channel (or equal channels)")
            mask = mask[..., 0]
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise FormatError(path, f"a mask is (H, W), got shape {mask.shape}")
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
        raise FormatError(path, f"a mask holds integers or booleans, got {mask.dtype}")
    mask_scale(mask.shape, path)
    if spec.binary:
        return (mask != 0).astype(np.uint8)
    top = int(mask.max()) if mask.size else 0
    low = int(mask.min()) if mask.size else 0
    if low < 0 or top >= spec.num_classes:
        bad = top if top >= spec.num_classes else low
        raise FormatError(
            path, f"pixel value {bad} is not a class of {spec.name} (0..{spec.num_classes - 1})"
        )
    return mask.astype(np.uint8)


def write_mask(path: str | os.PathLike[str], mask: np.ndarray) -> Path:
    """Write a predicted mask (H, W) of class ids, atomically: ``.png`` (8-bit) or ``.npy``."""
    import cv2

    from zod._atomic import atomic_write

    path = Path(path)
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"a mask is (H, W), got shape {arr.shape}")
    mask_scale(arr.shape, path)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer) or (
        arr.size and (arr.min() < 0 or arr.max() > 255)
    ):
        raise ValueError("a mask holds class ids 0..255")
    arr = arr.astype(np.uint8)
    if path.suffix.lower() == ".npy":
        return atomic_write(path, lambda tmp: np.save(tmp, arr))
    if path.suffix.lower() != ".png":
        raise ValueError(f"write masks as .png or .npy, not {path.suffix!r}")
    return atomic_write(path, lambda tmp: cv2.imwrite(str(tmp), arr))


def _frame_key(key: Any) -> str:
    from zod.eval.detection.boxes import normalize_frame_id

    return normalize_frame_id(key)


def read_polygon_predictions(
    path: str | os.PathLike[str], task: SegmentationTask | str
) -> dict[str, list[tuple[Any, int]]]:
    """``{frame id: [(geometry, class id), ...]}`` of a polygon predictions file (validated)."""
    spec = _task(task)
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "polygon predictions file")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(path, f"not valid JSON: {err}") from err
    if isinstance(payload, Mapping) and "results" in payload:
        payload = payload["results"]
    if not isinstance(payload, Mapping):
        raise FormatError(path, 'polygon predictions are {"results": {frame id: [geometry, ...]}}')
    out: dict[str, list[tuple[Any, int]]] = {}
    for key, entries in payload.items():
        if isinstance(entries, Mapping) and entries.get("type") == "FeatureCollection":
            entries = entries.get("features", [])
        if not isinstance(entries, list):
            raise FormatError(path, f"frame {key}: expected a list of geometries")
        items: list[tuple[Any, int]] = []
        for index, entry in enumerate(entries):
            where = f"frame {key}, entry {index}"
            if not isinstance(entry, Mapping):
                raise FormatError(path, f"{where}: a geometry or feature object is needed")
            geometry = entry.get("geometry", entry)
            properties = entry.get("properties") or {}
            try:
                value = spec.class_id(properties.get("class", 1))
                if not isinstance(geometry, Mapping) or geometry.get("type") not in (
                    "Polygon",
                    "MultiPolygon",
                ):
                    raise ValueError("the geometry type must be Polygon or MultiPolygon")
                polygons = geometry_to_polygons(geometry)
                for rings in polygons:
                    for ring in rings:
                        if not np.isfinite(ring).all():
                            raise ValueError("coordinates must be finite numbers")
            except (ValueError, TypeError) as err:
                raise FormatError(path, f"{where}: {err}") from None
            items.append((geometry, value))
        out[_frame_key(key)] = items
    return out


def write_polygon_predictions(
    path: str | os.PathLike[str],
    predictions: Mapping[str, Sequence[Any]]
    | Mapping[int, Sequence[Any]]
    | Mapping[str | int, Sequence[Any]],
    task: SegmentationTask | str = "ego_road",
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{frame id: [geometry or (geometry, class), ...]}`` as a polygon predictions file,
    atomically. A geometry is a GeoJSON dict or polygon rings ([outline, hole, ...])."""
    from zod.eval.detection.evaluate import write_json_atomic

    spec = _task(task)
    results: dict[str, list[dict[str, Any]]] = {}
    for frame_id, entries in predictions.items():
        items = []
        for entry in entries:
            geometry, cls = entry if isinstance(entry, tuple) else (entry, 1)
            if not isinstance(geometry, Mapping):
                rings = [np.asarray(r, dtype=np.float64).reshape(-1, 2).tolist() for r in geometry]
                geometry = {"type": "Polygon", "coordinates": rings}
            value = spec.class_id(cls)
            items.append(
                {"geometry": dict(geometry), "properties": {"class": spec.class_names[value]}}
            )
        results[_frame_key(frame_id)] = items
    return write_json_atomic(
        path, {"meta": {"task": spec.name, **(meta or {})}, "results": results}
    )


def _rasterize_prediction(entries: Sequence[tuple[Any, int]], scale: float) -> np.ndarray:
    return rasterize_polygons(
        [g for g, _ in entries], [v for _, v in entries], FULL_IMAGE_SHAPE, scale
    )


# --------------------------------------------------------------------------- evaluation
PredictionSource = Any  # (H, W) mask, mask file path, or [(geometry, class id), ...]


def _prediction_mask(
    spec: SegmentationTask, frame_id: str, prediction: PredictionSource, scale: float
) -> np.ndarray:
    if isinstance(prediction, (str, os.PathLike)):
        return read_mask(prediction, spec)
    if isinstance(prediction, np.ndarray):
        mask = np.asarray(prediction)
        mask_scale(mask.shape, f"prediction of frame {frame_id}")
        if spec.binary:
            return (mask != 0).astype(np.uint8)
        return mask.astype(np.uint8)
    return _rasterize_prediction(prediction, scale)


def score_frame(
    task: SegmentationTask | str,
    frame_id: str,
    annotations: Iterable[Any],
    prediction: PredictionSource,
    scale: float = 1.0,
) -> tuple[np.ndarray, float]:
    """The (K, K) confusion of one image, and the scale it was scored at (a mask's own)."""
    spec = _task(task)
    mask = _prediction_mask(spec, frame_id, prediction, scale)
    used = mask_scale(mask.shape)
    truth = ground_truth_mask(spec, annotations, used)
    return confusion_of_masks(truth, mask, spec.num_classes), used


def evaluate_segmentation(
    task: SegmentationTask | str,
    ground_truth: Mapping[str, Iterable[Any]],
    predictions: Mapping[str, PredictionSource],
    scale: float = 1.0,
    missing_as_empty: bool = False,
) -> SegmentationResult:
    """Score ``predictions`` per frame against ``{frame id: [annotation, ...]}``.

    A prediction is an (H, W) mask, a mask file path, or ``[(geometry, class id), ...]``
    (rasterised at ``scale``). A frame of the ground truth without a prediction raises
    ``KeyError`` unless ``missing_as_empty`` (then it predicts background everywhere).
    """
    spec = _task(task)
    ids, confusions, scales = [], [], []
    for frame_id, frame_annotations in ground_truth.items():
        prediction = predictions.get(frame_id)
        if prediction is None:
            if not missing_as_empty:
                raise KeyError(f"no prediction for frame {frame_id}")
            prediction = []
        confusion, used = score_frame(spec, frame_id, frame_annotations, prediction, scale)
        ids.append(frame_id)
        confusions.append(confusion)
        scales.append(used)
    k = spec.num_classes
    return SegmentationResult(
        spec.name,
        spec.class_names,
        tuple(ids),
        np.array(confusions, dtype=np.int64).reshape(-1, k, k),
        np.array(scales, dtype=np.float64),
    )


@lru_cache(maxsize=2)
def _cached_polygons(path: str, task_name: str) -> dict[str, list[tuple[Any, int]]]:
    return read_polygon_predictions(path, task_name)


def _mask_files(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".png", ".npy") or path.name.startswith("."):
            continue
        key = _frame_key(path.stem)
        if key in files:
            raise FormatError(path, f"a second mask for frame {key} ({files[key].name})")
        files[key] = path
    return files


@lru_cache(maxsize=2)
def _cached_mask_files(folder: str) -> dict[str, Path]:
    return _mask_files(Path(folder))


@dataclass(frozen=True)
class _SegmentationItemTask(ItemTask):
    """Picklable per-frame scoring: read the annotation and the prediction, count pixels."""

    task_name: str = "ego_road"
    predictions: str = ""
    scale: float = 1.0
    missing_as_empty: bool = False

    def __call__(self, frame_id: str) -> tuple[np.ndarray, float] | None:
        spec = TASKS[self.task_name]
        item = self.item(frame_id)
        if spec.project not in {p.value for p in item.info.annotations}:
            return None  # not annotated for this project (spec section 2)
        annotations = item.get_annotation(spec.project)
        source = Path(self.predictions)
        prediction: PredictionSource
        if source.is_dir():
            path = _cached_mask_files(str(source)).get(frame_id)
            if path is None:
                if not self.missing_as_empty:
                    raise MissingFileError(source / f"{frame_id}.png", "predicted mask")
                prediction = []
            else:
                prediction = path
        else:
            polygons = _cached_polygons(str(source), self.task_name)
            if frame_id not in polygons and not self.missing_as_empty:
                raise FormatError(source, f"no prediction for frame {frame_id}")
            prediction = polygons.get(frame_id, [])
        return score_frame(spec, frame_id, annotations, prediction, self.scale)


def evaluate_segmentation_dataset(
    dataset_root: str | os.PathLike[str],
    predictions: str | os.PathLike[str],
    task: str = "ego_road",
    version: str = "full",
    split: str = "val",
    *,
    scale: float = 1.0,
    only_predicted_frames: bool = False,
    missing_as_empty: bool = False,
    skip_missing: bool = False,
    workers: int = 1,
    subset: str = "frames",
) -> SegmentationResult:
    """Score a folder of masks or a polygon predictions file against a split of ZOD.

    Frames not annotated for the task's project are skipped. ``scale`` is the resolution of
    polygon predictions (masks carry theirs). ``workers`` processes (0: all cores).
    """
    spec = _task(task)
    root = str(Path(dataset_root).expanduser())
    source = Path(predictions)
    if source.is_dir():
        _cached_mask_files.cache_clear()  # the folder may have changed since the last call
        predicted = set(_cached_mask_files(str(source)))
    else:
        _cached_polygons.cache_clear()
        predicted = set(_cached_polygons(str(source), spec.name))
    split_ids = sorted(open_dataset(root, version, subset).get_split(split))
    unknown = sorted(predicted - set(split_ids))
    if unknown:
        raise FormatError(
            source,
            f"predictions for {len(unknown)} frames outside the {split} split (first: "
            f"{unknown[0]}): wrong split or version?",
        )
    ids = sorted(predicted) if only_predicted_frames else split_ids
    run = read_items(
        _SegmentationItemTask(
            root, version, subset, spec.name, str(source), scale, missing_as_empty
        ),
        ids,
        workers,
        skip_missing,
        f"scoring {spec.name}",
    )
    kept = [(fid, value) for fid, value in run.ok() if value is not None]
    kept.sort()
    k = spec.num_classes
    return SegmentationResult(
        spec.name,
        spec.class_names,
        tuple(fid for fid, _ in kept),
        np.array([value[0] for _, value in kept], dtype=np.int64).reshape(-1, k, k),
        np.array([value[1] for _, value in kept], dtype=np.float64),
    )
