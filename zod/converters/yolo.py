"""ZOD Frames -> YOLO (Ultralytics / Darknet) detection layout.

Layout written under the output directory::

    images/{train,val}/<id>.jpg     the key camera image: symlink, hard link, copy, or resized copy
    labels/{train,val}/<id>.txt     one object a line: ``class cx cy w h``, normalized to 0..1
    train.txt, val.txt              absolute image paths of the converted frames
    data.yaml                       ``path``, ``train``, ``val``, ``nc``, ``names``

- class index = position in ``classes`` (default Vehicle, Pedestrian, VulnerableVehicle);
- boxes are the annotated 2D boxes clipped to the image; centre and size divided by the image
  width / height, so a resized image keeps the same labels;
- unclear objects (COCO ``iscrowd``) are left out unless ``include_unclear``;
- ``image_size`` (pixels of the long side) writes resized JPEGs (cv2, INTER_AREA) instead of links.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zod.converters import _frames
from zod.converters.coco import DEFAULT_CLASSES, check_classes
from zod.converters.runner import (
    RunKwargs,
    RunOptions,
    atomic_write,
    atomic_write_text,
    link_or_copy,
    run_frames,
    run_options,
)
from zod.errors import FormatError
from zod.release import images_flag

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on


def yolo_lines(
    boxes_xyxy: np.ndarray, class_indices: np.ndarray, image_size_wh: tuple[int, int]
) -> str:
    """Label file text: boxes (N, 4) xyxy pixels and class indices (N,) -> ``c cx cy w h`` lines."""
    if len(boxes_xyxy) == 0:
        return ""
    width, height = float(image_size_wh[0]), float(image_size_wh[1])
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0.0, height)
    scale = np.array([width, height, width, height])
    normalized = (
        np.column_stack([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]]) / scale
    )
    return "".join(
        f"{int(c)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n"
        for c, (cx, cy, w, h) in zip(np.asarray(class_indices).tolist(), normalized.tolist())
    )


def parse_yolo_labels(text: str, path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Label file text -> class indices (N,) int and normalized ``cx cy w h`` (N, 4)."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if any(len(r) != 5 for r in rows):
        raise FormatError(path, "a YOLO label line needs 5 fields")
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return table[:, 0].astype(np.int64), table[:, 1:]


def data_yaml(output_dir: Path, classes: Sequence[str]) -> str:
    """The ``data.yaml`` text (hand-written YAML: no yaml dependency)."""
    lines = [
        "# ZOD Frames in YOLO format, written by `zod convert yolo`",
        f"path: {output_dir}",
        "train: train.txt",
        "val: val.txt",
        f"nc: {len(classes)}",
        "names:",
        *[f"  {i}: {name}" for i, name in enumerate(classes)],
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class YoloFrameTask(_frames.FrameTask):
    """Per-frame work: the image (linked, copied or resized) and the label file."""

    split: str = "train"
    anonymization: str = "blur"
    classes: tuple[str, ...] = DEFAULT_CLASSES
    image_mode: str = "symlink"  # symlink | hardlink | copy | none
    image_size: int | None = None
    include_unclear: bool = False
    overwrite: bool = False

    def paths(self, frame_id: str) -> tuple[Path, Path]:
        out = Path(self.output_dir)
        return (
            out / "images" / self.split / f"{frame_id}.jpg",
            out / "labels" / self.split / f"{frame_id}.txt",
        )

    def __call__(self, frame_id: str) -> dict[str, Any]:
        image_path, label_path = self.paths(frame_id)
        image_done = self.image_mode == "none" or image_path.exists() or image_path.is_symlink()
        if not self.overwrite and image_done and label_path.exists():
            return {"frame_id": frame_id, "image": str(image_path), "written": False}
        info = _frames.frame_info(self.dataset_root, self.version, frame_id)
        camera = _frames.key_camera_frame(info, self.anonymization)
        source = Path(camera.filepath)
        objects = _frames.object_arrays(info)
        index_of = {name: i for i, name in enumerate(self.classes)}
        keep = np.array(
            [
                name in index_of and (self.include_unclear or not unclear)
                for name, unclear in zip(objects.classes, objects.unclear)
            ],
            dtype=bool,
        )
        class_indices = np.array(
            [index_of[objects.classes[i]] for i in np.flatnonzero(keep)], dtype=np.int64
        )
        text = yolo_lines(
            objects.boxes2d[keep], class_indices, (int(camera.width), int(camera.height))
        )
        if self.image_mode != "none":
            if self.image_size:
                _write_resized(source, image_path, self.image_size, self.anonymization)
            else:
                link_or_copy(
                    source,
                    image_path,
                    self.image_mode,
                    f"{self.anonymization} image",
                    images_flag(self.anonymization),
                )
        atomic_write_text(label_path, text)  # last: marks the frame done
        return {"frame_id": frame_id, "image": str(image_path), "written": True}


def _write_resized(source: Path, target: Path, long_side: int, anonymization: str) -> None:
    """Decode, resize so that the long side is ``long_side`` pixels, re-encode as JPEG."""
    import cv2

    image = _frames.read_bgr(source, anonymization)
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    atomic_write(target, lambda tmp: cv2.imwrite(str(tmp), resized, [cv2.IMWRITE_JPEG_QUALITY, 95]))


def convert_to_yolo(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    anonymization: str = "blur",
    classes: Sequence[str] = DEFAULT_CLASSES,
    image_mode: str = "symlink",
    image_size: int | None = None,
    include_unclear: bool = False,
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> Path:
    """Convert the train and val frames to the YOLO layout; returns the ``data.yaml`` path.

    How the run goes: ``options`` (:class:`~zod.converters.runner.RunOptions`), or its fields
    as keywords (``workers=2, progress=False``).
    """
    run = run_options(options, **run_kwargs)
    check_classes(classes)
    root = str(Path(dataset_root).resolve())
    out = Path(output_dir).resolve()
    for split in ("train", "val"):
        task = YoloFrameTask(
            root,
            version,
            str(out),
            split=split,
            anonymization=anonymization,
            classes=tuple(classes),
            image_mode=image_mode,
            image_size=image_size,
            include_unclear=include_unclear,
            overwrite=run.overwrite,
        )
        frame_ids = _frames.split_ids(root, version, split)
        result = run_frames(task, frame_ids, run, desc=f"YOLO {split}")
        atomic_write_text(
            out / f"{split}.txt", "".join(f"{rec['image']}\n" for _, rec in result.ok())
        )
        if result.missing:
            atomic_write_text(
                out / f"{split}.missing.txt",
                "".join(f"{fid}\t{msg}\n" for fid, msg in result.missing.items()),
            )
    yaml_path = out / "data.yaml"
    atomic_write_text(yaml_path, data_yaml(out, classes))
    return yaml_path
