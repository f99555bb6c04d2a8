"""ZOD Frames traffic signs -> image patches for classification (reference ``extract-tsr-patches``).

Output under the output directory::

    <split>/<class>/<frame_id>_<annotation_uuid>.png   one crop per sign (split = train | val)
    dataset.json                                       {"train": [...], "val": [...]}

The split folder level is what the reference devkit 0.8.0 actually writes (its summary text
omits it); ``split_folders=False`` writes ``<class>/<frame_id>_<uuid>.png`` instead.
``<class>`` is the sign class, or ``unclear`` for unclear signs (left out with
``exclude_unclear``). Each ``dataset.json`` entry has the reference's keys (``frame_id``,
``image_path``, ``padding_left/top/right/bottom``, ``padded_width/height``, ``center_x/y``,
``original_width/height``, ``annotation``) plus ``box_xyxy`` (the annotated box, pixels) and
``class_index`` (the index column of ``traffic-sign-classes.tsv``; None for unclear signs and
for class names outside the list).

Cropping (same numbers as the reference ``Box2D.crop_from_image``)::

    box corners rounded to pixels: xmin = round(x_min), ... (round half to even)
    pad_x, pad_y = padding_px, or int(width * padding_factor), int(height * padding_factor)
    crop = image[max(0, ymin - pad_y) : min(H, ymax + pad_y),
                 max(0, xmin - pad_x) : min(W, xmax + pad_x)]
    padding (left, top, right, bottom) = what was really added after clipping to the image
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zod.annotations._common import boxes_xyxy_from_features, to_bool
from zod.constants import AnnotationProject
from zod.converters import _frames
from zod.converters.runner import (
    RunKwargs,
    RunOptions,
    atomic_write,
    atomic_write_json,
    run_frames,
    run_options,
)
from zod.errors import FormatError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on


def traffic_sign_class_index() -> dict[str, int]:
    """Class name -> conventional index (``zod/resources/traffic-sign-classes.tsv``)."""
    from zod.annotations.classes import CLASS_NAME_TO_CLASS_IDX

    return CLASS_NAME_TO_CLASS_IDX


def crop_windows(
    boxes_xyxy: np.ndarray,
    image_size_wh: tuple[int, int],
    padding_px: tuple[int, int] | None = None,
    padding_factor: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop windows (N, 4) int ``[x0, y0, x1, y1]`` (exclusive ends) and the padding actually
    applied (N, 4) int ``(left, top, right, bottom)`` for boxes (N, 4) float32 xyxy."""
    if padding_px is not None and padding_factor is not None:
        raise ValueError("give padding in pixels or as a factor, not both")
    boxes = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
    rounded = np.round(boxes).astype(np.int64)
    if padding_px is not None:
        pad = np.broadcast_to(np.asarray(padding_px, dtype=np.int64), (len(boxes), 2))
    elif padding_factor is not None:
        dims = boxes[:, 2:] - boxes[:, :2]
        pad = (dims * padding_factor).astype(np.int64)  # int() truncation like the reference
    else:
        pad = np.zeros((len(boxes), 2), dtype=np.int64)
    width, height = image_size_wh
    x0 = np.maximum(0, rounded[:, 0] - pad[:, 0])
    y0 = np.maximum(0, rounded[:, 1] - pad[:, 1])
    x1 = np.minimum(width, rounded[:, 2] + pad[:, 0])
    y1 = np.minimum(height, rounded[:, 3] + pad[:, 1])
    windows = np.column_stack([x0, y0, x1, y1])
    applied = np.column_stack(
        [rounded[:, 0] - x0, rounded[:, 1] - y0, x1 - rounded[:, 2], y1 - rounded[:, 3]]
    )
    return windows, applied


def _flag(value: Any) -> bool:
    try:
        return bool(to_bool(value))
    except ValueError:
        return False


def _write_png(target: Path, crop: np.ndarray) -> None:
    """Write one crop (h, w, 3) BGR as a PNG, atomically."""
    import cv2

    atomic_write(target, lambda tmp: cv2.imwrite(str(tmp), crop))


@dataclass(frozen=True)
class TsrFrameTask(_frames.FrameTask):
    """Per-frame work: crop every traffic sign of a frame and describe each crop."""

    split: str = "train"
    anonymization: str = "blur"
    padding_px: tuple[int, int] | None = None
    padding_factor: float | None = None
    exclude_unclear: bool = False
    split_folders: bool = True
    overwrite: bool = False

    def __call__(self, frame_id: str) -> list[dict[str, Any]]:
        info = _frames.frame_info(self.dataset_root, self.version, frame_id)
        features, path = _frames.read_features(info, AnnotationProject.TRAFFIC_SIGNS)
        if not features:
            return []
        try:
            props = [f["properties"] for f in features]
            unclear = [p.get("class") == "unclear" or _flag(p.get("unclear", False)) for p in props]
        except (KeyError, TypeError) as err:
            raise FormatError(path, f"traffic sign feature without properties: {err!r}") from err
        keep = [i for i in range(len(features)) if not (self.exclude_unclear and unclear[i])]
        if not keep:
            return []
        boxes = boxes_xyxy_from_features([features[i] for i in keep], path)
        camera = _frames.key_camera_frame(info, self.anonymization)
        windows, applied = crop_windows(
            boxes, (int(camera.width), int(camera.height)), self.padding_px, self.padding_factor
        )
        out = Path(self.output_dir) / self.split if self.split_folders else Path(self.output_dir)
        class_index = traffic_sign_class_index()
        image = None
        records = []
        for row, i in enumerate(keep):
            p = props[i]
            cls_name = "unclear" if unclear[i] else str(p.get("class"))
            uuid = str(p.get("annotation_uuid", ""))
            new_id = f"{frame_id}_{uuid}"
            target = out / cls_name / f"{new_id}.png"
            x0, y0, x1, y1 = (int(v) for v in windows[row])
            if x1 <= x0 or y1 <= y0:  # box entirely outside the image: nothing to crop
                continue
            if self.overwrite or not target.exists():
                if image is None:
                    image = _frames.read_bgr(camera.filepath, self.anonymization)
                _write_png(target, image[y0:y1, x0:x1])
            box = boxes[row].astype(np.float64)
            dims32 = boxes[row, 2:] - boxes[row, :2]  # float32 like the reference's Box2D
            width, height = float(dims32[0]), float(dims32[1])
            records.append(
                {
                    "frame_id": new_id,
                    "image_path": str(target),
                    "padding_left": float(applied[row, 0]),
                    "padding_top": float(applied[row, 1]),
                    "padding_right": float(applied[row, 2]),
                    "padding_bottom": float(applied[row, 3]),
                    "padded_width": x1 - x0,
                    "padded_height": y1 - y0,
                    "center_x": float(applied[row, 0] + dims32[0] // 2),
                    "center_y": float(applied[row, 1] + dims32[1] // 2),
                    "original_width": width,
                    "original_height": height,
                    "box_xyxy": box.tolist(),
                    "class_index": None if unclear[i] else class_index.get(cls_name),
                    "annotation": {
                        "unclear": bool(unclear[i]),
                        "uuid": uuid,
                        "traffic_sign_class": None if unclear[i] else cls_name,
                        "traffic_sign_idx": None if unclear[i] else class_index.get(cls_name),
                        "occlusion_ratio": None if unclear[i] else p.get("occlusion_ratio"),
                        "annotation_uuid": None if unclear[i] else uuid,
                        "electronic_sign": None if unclear[i] else p.get("is_electronic"),
                    },
                }
            )
        return records


def extract_tsr_patches(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    anonymization: str = "blur",
    padding_factor: float | None = None,
    padding_px: tuple[int, int] | None = None,
    exclude_unclear: bool = False,
    split_folders: bool = True,
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> Path:
    """Crop every traffic sign of the train and val frames; returns the ``dataset.json`` path.

    How the run goes: ``options`` (:class:`~zod.converters.runner.RunOptions`), or its fields
    as keywords (``workers=2, progress=False``).
    """
    run = run_options(options, **run_kwargs)
    if padding_px is not None and padding_factor is not None:
        raise ValueError("give padding in pixels or as a factor, not both")
    root = str(Path(dataset_root).resolve())
    out = Path(output_dir).resolve()
    dataset: dict[str, list[dict[str, Any]]] = {}
    missing: dict[str, str] = {}
    for split in ("train", "val"):
        task = TsrFrameTask(
            root,
            version,
            str(out),
            split,
            anonymization,
            None if padding_px is None else (int(padding_px[0]), int(padding_px[1])),
            padding_factor,
            exclude_unclear,
            split_folders,
            run.overwrite,
        )
        frame_ids = _frames.split_ids(root, version, split)
        result = run_frames(task, frame_ids, run, desc=f"Traffic signs {split}")
        dataset[split] = [record for _, records in result.ok() for record in records]
        missing.update(result.missing)
    path = out / "dataset.json"
    atomic_write_json(path, dataset)
    if missing:
        atomic_write_json(out / "dataset.missing.json", missing, indent=1)
    return path
