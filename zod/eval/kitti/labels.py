"""KITTI label and result files of many frames as one column table; reading and writing.

A label file ``<frame id>.txt`` holds one object a line (KITTI object format, the camera
convention of ``zod.eval.kitti.iou`` and ``zod.converters.kitti``)::

    type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]
    Car  0.00      0        -1.57 614 181 727 284 1.57 1.73 4.15 1.0 1.75 13.2 -1.6  0.93

- ground truth (our KITTI export's ``training/label_2``): 15 fields; DontCare lines mark
  regions where detections are not counted (2D box only);
- predictions (the "results" files of OpenPCDet, mmdetection3d, KITTI's own devkit): the same
  15 fields and a 16th, the confidence score (any finite number, higher is more confident);
  ``truncated`` / ``occluded`` are not read for predictions (write 0), ``alpha`` only for the
  orientation score AOS (write -10 when unknown).

Reading is strict where the metric needs a value and liberal elsewhere: extra fields after the
16th are ignored, empty lines are skipped, a frame's file may be empty; a short line, a field
that is not a number or a non-finite score raises ``FormatError`` naming the file and the line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zod._atomic import atomic_write_text
from zod.converters.kitti import KittiLabel, format_label_lines, parse_label
from zod.errors import FormatError, MissingFileError

__all__ = [
    "KittiObjects",
    "format_result_lines",
    "frame_ids_from_image_set",
    "parse_label_text",
    "read_label_folder",
    "write_label_folder",
]

DONT_CARE = "DontCare"


@dataclass(frozen=True, eq=False)
class KittiObjects:
    """The objects of several frames, one row per label line, frames in ``frame_ids`` order.

    Attributes:
        frame_ids: every frame of the set (frames without objects included).
        offsets: (F + 1,) rows of frame f are ``offsets[f]:offsets[f + 1]``.
        names: (N,) str object type.
        truncated: (N,) float 0..1; occluded: (N,) int 0..3; alpha: (N,) rad.
        boxes_xyxy: (N, 4) image box x1 y1 x2 y2, pixels.
        dimensions_hwl: (N, 3) height, width, length, m.
        location_cam: (N, 3) bottom centre in the camera frame, m.
        rotation_y: (N,) rad about the camera y axis.
        scores: (N,) confidence, NaN for ground truth.
        missing_files: frames whose file was absent and read as empty (``allow_missing``).
    """

    frame_ids: tuple[str, ...]
    offsets: np.ndarray
    names: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    boxes_xyxy: np.ndarray
    dimensions_hwl: np.ndarray
    location_cam: np.ndarray
    rotation_y: np.ndarray
    scores: np.ndarray
    missing_files: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.names.shape[0])

    @property
    def frame_index(self) -> np.ndarray:
        """(N,) index into ``frame_ids`` of every row."""
        return np.repeat(np.arange(len(self.frame_ids)), np.diff(self.offsets))

    @property
    def counts(self) -> np.ndarray:
        """(F,) rows per frame."""
        return np.diff(self.offsets)

    @classmethod
    def from_labels(
        cls,
        frame_ids: Sequence[str],
        labels: Sequence[KittiLabel],
        scores: Sequence[np.ndarray] | None = None,
        missing_files: Sequence[str] = (),
    ) -> KittiObjects:
        """Concatenate per-frame labels (and scores, (n_f,) each) in ``frame_ids`` order."""
        if len(labels) != len(frame_ids):
            raise ValueError(f"{len(frame_ids)} frame ids but {len(labels)} labels")
        counts = np.array([len(label.types) for label in labels], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

        def cat(attr: str, width: int | None) -> np.ndarray:
            parts = [np.asarray(getattr(label, attr), dtype=np.float64) for label in labels]
            shape = (0,) if width is None else (0, width)
            return np.concatenate(parts) if parts else np.zeros(shape)

        if scores is None:
            score_column = np.full(int(offsets[-1]), np.nan)
        else:
            parts = [np.asarray(s, dtype=np.float64).reshape(-1) for s in scores]
            score_column = np.concatenate(parts) if parts else np.zeros(0)
            if score_column.shape[0] != offsets[-1]:
                raise ValueError("one score per object is needed")
        names = [name for label in labels for name in label.types]
        return cls(
            frame_ids=tuple(frame_ids),
            offsets=offsets,
            names=np.array(names, dtype=str) if names else np.zeros(0, dtype=str),
            truncated=cat("truncated", None),
            occluded=cat("occluded", None).astype(np.int64),
            alpha=cat("alpha", None),
            boxes_xyxy=cat("boxes_xyxy", 4).reshape(-1, 4),
            dimensions_hwl=cat("dimensions_hwl", 3).reshape(-1, 3),
            location_cam=cat("location_cam", 3).reshape(-1, 3),
            rotation_y=cat("rotation_y", None),
            scores=score_column,
            missing_files=tuple(missing_files),
        )

    def frame_label(self, frame: int | str) -> tuple[KittiLabel, np.ndarray]:
        """The label (and (n,) scores) of one frame, by position or id."""
        f = self.frame_ids.index(frame) if isinstance(frame, str) else int(frame)
        rows = slice(int(self.offsets[f]), int(self.offsets[f + 1]))
        label = KittiLabel(
            types=[str(n) for n in self.names[rows]],
            truncated=self.truncated[rows],
            occluded=self.occluded[rows],
            alpha=self.alpha[rows],
            boxes_xyxy=self.boxes_xyxy[rows],
            dimensions_hwl=self.dimensions_hwl[rows],
            location_cam=self.location_cam[rows],
            rotation_y=self.rotation_y[rows],
        )
        return label, self.scores[rows]


def _bad_line(text: str, path: str | os.PathLike[str] | None, min_fields: int) -> FormatError:
    """The FormatError of the first malformed line of ``text`` (called once parsing failed)."""
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < min_fields:
            what = "a KITTI result line" if min_fields == 16 else "a KITTI label line"
            return FormatError(
                path, f"line {number}: {what} needs {min_fields} fields, got {len(fields)}"
            )
        for column, value in enumerate(fields[1:min_fields], start=2):
            try:
                number_value = float(value)
            except ValueError:
                return FormatError(
                    path, f"line {number}, field {column}: {value!r} is not a number"
                )
            if column == 16 and not np.isfinite(number_value):
                return FormatError(path, f"line {number}: the score {value!r} is not finite")
    return FormatError(path, "not a KITTI label file")


def parse_label_text(
    text: str, path: str | os.PathLike[str] | None = None, scored: bool = False
) -> tuple[KittiLabel, np.ndarray]:
    """One label file's text -> (label, (n,) scores): NaN scores unless ``scored`` (16 fields)."""
    try:
        label = parse_label(text, None if path is None else str(path))
        if not scored:
            return label, np.full(len(label.types), np.nan)
        rows = [line.split() for line in text.splitlines() if line.strip()]
        if any(len(row) < 16 for row in rows):
            raise ValueError("no score")
        scores = np.array([float(row[15]) for row in rows], dtype=np.float64)
        if not np.isfinite(scores).all():
            raise ValueError("score not finite")
    except ValueError as err:  # FormatError is a ValueError
        raise _bad_line(text, path, 16 if scored else 15) from err
    return label, scores


def frame_ids_from_image_set(path: str | os.PathLike[str]) -> list[str]:
    """Frame ids of a KITTI ``ImageSets/<split>.txt`` (one a line, blank lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "KITTI image set file")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_label_folder(
    folder: str | os.PathLike[str],
    frame_ids: Iterable[str] | None = None,
    *,
    scored: bool = False,
    allow_missing: bool = False,
) -> KittiObjects:
    """Read ``<folder>/<frame id>.txt`` of each frame (default: every ``*.txt``, sorted).

    ``scored``: result files (16 fields). A listed frame without a file raises
    ``MissingFileError`` unless ``allow_missing`` (then it has no objects and is listed in
    ``missing_files``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(
            folder, "KITTI label folder" if not scored else "KITTI results folder"
        )
    ids = sorted(p.stem for p in folder.glob("*.txt")) if frame_ids is None else list(frame_ids)
    labels, scores, missing = [], [], []
    for frame_id in ids:
        path = folder / f"{frame_id}.txt"
        try:
            text = path.read_text()
        except FileNotFoundError:
            if not allow_missing:
                raise MissingFileError(
                    path, "KITTI results file" if scored else "KITTI label file"
                ) from None
            text = ""
            missing.append(frame_id)
        except UnicodeDecodeError as err:
            raise FormatError(path, f"not a text file: {err}") from err
        label, score = parse_label_text(text, path, scored)
        labels.append(label)
        scores.append(score)
    return KittiObjects.from_labels(ids, labels, scores if scored else None, missing)


def format_result_lines(label: KittiLabel, scores: np.ndarray | None = None) -> str:
    """KITTI label text (15 fields) or, with (n,) ``scores``, result text (16 fields)."""
    text = format_label_lines(
        label.types,
        np.asarray(label.truncated, dtype=np.float64),
        np.asarray(label.occluded),
        np.asarray(label.alpha, dtype=np.float64),
        np.asarray(label.boxes_xyxy, dtype=np.float64).reshape(-1, 4),
        np.asarray(label.dimensions_hwl, dtype=np.float64).reshape(-1, 3),
        np.asarray(label.location_cam, dtype=np.float64).reshape(-1, 3),
        np.asarray(label.rotation_y, dtype=np.float64),
    )
    if scores is None:
        return text
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if values.shape[0] != len(label.types):
        raise ValueError(f"{len(label.types)} objects but {values.shape[0]} scores")
    if not np.isfinite(values).all():
        raise ValueError("scores must be finite")
    lines = text.splitlines()
    return "".join(f"{line} {score:.6f}\n" for line, score in zip(lines, values.tolist()))


def write_label_folder(
    folder: str | os.PathLike[str],
    objects: KittiObjects | Mapping[str, tuple[KittiLabel, np.ndarray | None]],
) -> list[Path]:
    """Write one file per frame (empty frames too) into ``folder``, each atomically.

    ``objects``: a ``KittiObjects`` (result files when it has scores, label files when its
    scores are NaN) or ``{frame id: (label, scores or None)}``. Returns the paths written.
    """
    folder = Path(folder)
    if isinstance(objects, KittiObjects):
        items = {}
        for f, frame_id in enumerate(objects.frame_ids):
            label, scores = objects.frame_label(f)
            items[frame_id] = (label, None if np.isnan(scores).all() else scores)
    else:
        items = dict(objects)
    # format everything first: a bad value fails before any file is written
    texts = {frame_id: format_result_lines(label, s) for frame_id, (label, s) in items.items()}
    return [atomic_write_text(folder / f"{fid}.txt", text) for fid, text in texts.items()]
