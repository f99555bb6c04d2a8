"""Road-condition classification: accuracy, per-class precision / recall / F1, confusion.

Ground truth (spec section 11, ``road_condition.json``): ``{"wetness": bool, "snow_coverage":
bool}`` per frame, scored as one of three classes like the frame metadata's
``road_condition``: ``snow`` if snow-covered, else ``wet`` if wet, else ``normal``; and as the
two yes/no attributes on their own (``wetness``, ``snow_coverage`` accuracy).

Predictions file (docs/eval.md): a JSON object from frame id to a class name or to the two
booleans, optionally under ``"results"``::

    {"results": {"009158": "wet", "009159": {"wetness": true, "snow_coverage": false}}}

A frame without a prediction counts as wrong (``missing``); predictions for frames without a
road-condition annotation are ignored and counted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zod.errors import FormatError, MissingFileError
from zod.eval._frames import ItemTask, item_ids, read_items
from zod.eval.traffic_signs import ClassificationResult, evaluate_classification

__all__ = [
    "ROAD_CONDITIONS",
    "RoadConditionResult",
    "condition_of",
    "evaluate_road_condition",
    "ground_truth_from_dataset",
    "predictions_from_mapping",
    "read_predictions",
    "write_predictions",
]

ROAD_CONDITIONS = ("normal", "wet", "snow")
"""The classes, in the order of the confusion matrix."""


def condition_of(wet: bool, snowy: bool) -> str:
    """The class of a (wetness, snow coverage) pair: snow wins over wet."""
    return "snow" if snowy else ("wet" if wet else "normal")


def _pair(value: str | tuple[bool | None, bool | None]) -> tuple[bool | None, bool | None]:
    """(wet, snowy) of a class name or a pair. ``snow`` says nothing about wetness (None)."""
    if isinstance(value, str):
        return {"normal": (False, False), "wet": (True, False), "snow": (None, True)}[value]
    return (value[0], value[1])


def _class_of(value: str | tuple[bool | None, bool | None]) -> str:
    if isinstance(value, str):
        return value
    return condition_of(bool(value[0]), bool(value[1]))


@dataclass(frozen=True)
class RoadConditionResult:
    """The three-class result and the two attributes' accuracies.

    ``classification`` holds the confusion (rows true, columns predicted) over
    ``ROAD_CONDITIONS``. ``wetness_accuracy`` / ``snow_accuracy`` score each boolean against
    the annotation's own on the frames whose prediction says it (a class name says both,
    except ``snow``, which says nothing about wetness); a missing prediction is wrong.
    """

    classification: ClassificationResult
    wetness_accuracy: float
    snow_accuracy: float
    num_frames: int
    num_unmatched_predictions: int = 0

    @property
    def accuracy(self) -> float:
        return self.classification.accuracy

    def to_dict(self) -> dict[str, Any]:
        out = self.classification.to_dict()
        out.update(
            {
                "num_frames": self.num_frames,
                "wetness_accuracy": self.wetness_accuracy,
                "snow_accuracy": self.snow_accuracy,
                "num_unmatched_predictions": self.num_unmatched_predictions,
            }
        )
        return out

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_dict()`` atomically."""
        from zod.eval.detection.evaluate import write_json_atomic

        return write_json_atomic(path, self.to_dict())

    def table(self) -> str:
        c = self.classification
        header = "true \\ predicted"
        lines = [
            f"road condition: {self.num_frames} frames, accuracy {self.accuracy:.4f} "
            f"(missing {int(c.missing_per_class.sum())})",
            f"wetness accuracy {self.wetness_accuracy:.4f}  snow accuracy {self.snow_accuracy:.4f}",
            f"{header:<18}" + "".join(f"{n:>8}" for n in c.class_names),
        ]
        for i, name in enumerate(c.class_names):
            lines.append(f"{name:<18}" + "".join(f"{v:>8}" for v in c.confusion[i].tolist()))
        return "\n".join(lines)


def evaluate_road_condition(
    ground_truth: Mapping[str, str | tuple[bool, bool]],
    predictions: Mapping[str, str | tuple[bool | None, bool | None]],
) -> RoadConditionResult:
    """Score predictions against the ground truth, both ``{frame id: class or (wet, snowy)}``."""
    frames = list(ground_truth)
    truth = [ground_truth[f] for f in frames]
    guessed = [predictions.get(f) for f in frames]
    classification = evaluate_classification(
        [_class_of(t) for t in truth],
        [None if g is None else _class_of(g) for g in guessed],
        ROAD_CONDITIONS,
    )

    def attribute_accuracy(index: int) -> float:
        right = total = 0
        for t, g in zip(truth, guessed):
            said = None if g is None else _pair(g)[index]
            if g is not None and said is None:
                continue  # the prediction does not say
            total += 1
            right += said is not None and said == _pair(t)[index]
        return right / total if total else float("nan")

    unmatched = len(set(predictions) - set(ground_truth))
    return RoadConditionResult(
        ClassificationResult(
            classification.class_names,
            classification.confusion,
            classification.missing_per_class,
            unmatched,
        ),
        attribute_accuracy(0),
        attribute_accuracy(1),
        len(frames),
        unmatched,
    )


def _label(value: Any, where: str, source: Any) -> str | tuple[bool, bool]:
    if isinstance(value, str):
        if value not in ROAD_CONDITIONS:
            raise FormatError(source, f"{where}: {value!r} is not one of {list(ROAD_CONDITIONS)}")
        return value
    if isinstance(value, Mapping):
        try:
            wet = value["wetness"]
            snow = value["snow_coverage"] if "snow_coverage" in value else value["snowCoverage"]
        except KeyError as err:
            raise FormatError(source, f"{where}: missing {err.args[0]!r}") from None
        if not isinstance(wet, bool) or not isinstance(snow, bool):
            raise FormatError(source, f"{where}: wetness and snow_coverage must be true/false")
        return (wet, snow)
    raise FormatError(
        source, f'{where}: a prediction is a class name or {{"wetness": .., "snow_coverage": ..}}'
    )


def predictions_from_mapping(
    payload: Any, source: Any = None
) -> dict[str, str | tuple[bool, bool]]:
    """``{frame id: class or (wet, snowy)}`` from a decoded predictions file."""
    from zod.eval.detection.boxes import normalize_frame_id

    if isinstance(payload, Mapping) and "results" in payload:
        payload = payload["results"]
    if not isinstance(payload, Mapping):
        raise FormatError(source, "road-condition predictions must be a JSON object")
    return {
        normalize_frame_id(key): _label(value, f"frame {key}", source)
        for key, value in payload.items()
    }


def read_predictions(path: str | os.PathLike[str]) -> dict[str, str | tuple[bool, bool]]:
    """Read a road-condition predictions file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "road-condition predictions file")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(path, f"not valid JSON: {err}") from err
    return predictions_from_mapping(payload, path)


def write_predictions(
    path: str | os.PathLike[str],
    predictions: Mapping[str, str | tuple[bool, bool]]
    | Mapping[int, str | tuple[bool, bool]]
    | Mapping[str | int, str | tuple[bool, bool]],
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{frame id: class or (wet, snowy)}`` as a predictions file, atomically (every
    value is checked before anything is written)."""
    from zod.eval.detection.boxes import normalize_frame_id
    from zod.eval.detection.evaluate import write_json_atomic

    results: dict[str, Any] = {}
    for key, value in predictions.items():
        raw: Any = (
            {"wetness": value[0], "snow_coverage": value[1]} if isinstance(value, tuple) else value
        )
        checked = _label(raw, f"frame {key}", None)
        results[normalize_frame_id(key)] = (
            checked
            if isinstance(checked, str)
            else {"wetness": checked[0], "snow_coverage": checked[1]}
        )
    return write_json_atomic(path, {"meta": dict(meta or {}), "results": results})


@dataclass(frozen=True)
class _RoadConditionTask(ItemTask):
    """Picklable per-frame reader: the frame's class, or None when not annotated."""

    def __call__(self, frame_id: str) -> tuple[bool, bool] | None:
        from zod.constants import AnnotationProject

        item = self.item(frame_id)
        if AnnotationProject.ROAD_CONDITION not in item.info.annotations:
            return None
        annotation = item.get_annotation(AnnotationProject.ROAD_CONDITION)
        return (bool(annotation.wet), bool(annotation.snowy))


def ground_truth_from_dataset(
    dataset_root: str | os.PathLike[str],
    version: str = "full",
    split: str = "val",
    *,
    frame_ids: Iterable[str | int] | None = None,
    skip_missing: bool = False,
    workers: int = 1,
    subset: str = "frames",
) -> dict[str, tuple[bool, bool]]:
    """``{frame id: (wet, snowy)}`` of the frames of a split annotated for road condition."""
    root = str(Path(dataset_root).expanduser())
    run = read_items(
        _RoadConditionTask(root, version, subset),
        item_ids(root, version, subset, split, frame_ids),
        workers,
        skip_missing,
        "reading road condition",
    )
    return {fid: value for fid, value in sorted(run.ok()) if value is not None}
