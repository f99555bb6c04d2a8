"""Detection boxes of many frames as columns: what the evaluation consumes.

A ``DetectionBoxes`` holds ground truths or predictions of a whole split: one row per box
with its frame, class name, score, centre, size and rotation. Box geometry (corners, frame
changes) belongs to ``zod.geometry``; this is only the table the metrics read.

Box convention (ZOD annotations, spec section 11): centre and rotation in the lidar frame;
size is (length, width, height) along the box's own x, y, z; the yaw is the angle of the box x
axis (its length) around the frame's z axis, from x towards y::

        y ^
          |     length (box x)
          |    /
          |   / yaw
          +---------> x
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from zod.eval.detection.metrics import yaw_from_quaternion
from zod.geometry.transforms import quaternions_from_yaw


def quaternion_from_yaw(yaw_rad: np.ndarray) -> np.ndarray:
    """(N, 4) unit quaternions (w, x, y, z) of rotations by ``yaw_rad`` (N,) around z."""
    return quaternions_from_yaw(np.asarray(yaw_rad, dtype=np.float64).reshape(-1))


def normalize_frame_id(frame_id: str | int) -> str:
    """A frame id as the six-digit string of the index (``9158`` and ``"9158"`` -> ``"009158"``).

    Ids that are not decimal numbers are kept as given (user-made ground truth may use any key).
    """
    text = str(frame_id).strip()
    return text.zfill(6) if text.isdigit() else text


@dataclass(frozen=True, eq=False)
class DetectionBoxes:
    """Boxes of several frames, one row per box.

    Attributes:
        frame_ids: every frame of the set, including frames without boxes (an empty frame of
            the ground truth still counts: predictions there are false positives).
        frame_index: (N,) int index into ``frame_ids``.
        names: (N,) str class (or subclass) name of each box.
        scores: (N,) float confidence (NaN for ground truth).
        centers_m: (N, 3) box centres, metres, lidar frame.
        sizes_lwh_m: (N, 3) (length, width, height), metres.
        quaternions_wxyz: (N, 4) rotations lidar_from_box, quaternions (w, x, y, z).

    The names of the geometry columns are those of ``zod.geometry.box_set.Box3DSet``; the
    predictions file keeps its own keys (``center``, ``size``, ``rotation``, docs/eval.md).
    """

    frame_ids: tuple[str, ...]
    frame_index: np.ndarray
    names: np.ndarray
    scores: np.ndarray
    centers_m: np.ndarray
    sizes_lwh_m: np.ndarray
    quaternions_wxyz: np.ndarray

    def __post_init__(self) -> None:
        n = int(np.asarray(self.frame_index).shape[0])
        expected = {
            "frame_index": (n,),
            "names": (n,),
            "scores": (n,),
            "centers_m": (n, 3),
            "sizes_lwh_m": (n, 3),
            "quaternions_wxyz": (n, 4),
        }
        for field, shape in expected.items():
            value = np.asarray(getattr(self, field))
            if value.shape != shape:
                raise ValueError(f"DetectionBoxes.{field} has shape {value.shape}, want {shape}")
        if len(set(self.frame_ids)) != len(self.frame_ids):
            raise ValueError("DetectionBoxes.frame_ids has duplicates")
        if n and (self.frame_index.min() < 0 or self.frame_index.max() >= len(self.frame_ids)):
            raise ValueError("DetectionBoxes.frame_index points outside frame_ids")
        for field in ("centers_m", "sizes_lwh_m", "quaternions_wxyz"):
            if not np.isfinite(getattr(self, field)).all():
                raise ValueError(f"DetectionBoxes.{field} has non-finite values")
        if n and not (self.sizes_lwh_m > 0).all():
            raise ValueError("DetectionBoxes.sizes_lwh_m must be > 0")
        if n and not (np.linalg.norm(self.quaternions_wxyz, axis=1) > 0).all():
            raise ValueError("DetectionBoxes.quaternions_wxyz has a zero quaternion")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_columns(
        cls,
        frame_id: Sequence[str | int] | np.ndarray,
        names: Sequence[str] | np.ndarray,
        centers_m: np.ndarray,
        sizes_lwh_m: np.ndarray,
        *,
        quaternions_wxyz: np.ndarray | None = None,
        yaw_rad: np.ndarray | None = None,
        scores: np.ndarray | None = None,
        frame_ids: Iterable[str | int] | None = None,
    ) -> DetectionBoxes:
        """Build from per-box columns; give ``quaternions_wxyz`` (N, 4) or ``yaw_rad`` (N,).

        ``frame_ids`` lists every frame of the set (default: the frames that have boxes, in
        order of first appearance); each box's ``frame_id`` must be one of them.
        """
        per_box = [normalize_frame_id(f) for f in frame_id]
        if frame_ids is None:
            all_frames = tuple(dict.fromkeys(per_box))
        else:
            all_frames = tuple(dict.fromkeys(normalize_frame_id(f) for f in frame_ids))
        lookup = {f: i for i, f in enumerate(all_frames)}
        missing = sorted(set(per_box) - lookup.keys())
        if missing:
            raise ValueError(f"boxes of frames not listed in frame_ids: {missing[:5]}")
        n = len(per_box)
        if (quaternions_wxyz is None) == (yaw_rad is None):
            raise ValueError("give exactly one of quaternions_wxyz and yaw_rad")
        rotation = (
            quaternion_from_yaw(yaw_rad)
            if yaw_rad is not None
            else np.asarray(quaternions_wxyz, dtype=np.float64).reshape(n, 4)
        )
        return cls(
            frame_ids=all_frames,
            frame_index=np.fromiter((lookup[f] for f in per_box), dtype=np.int64, count=n),
            names=np.asarray(names, dtype=str).reshape(n),
            scores=(
                np.full(n, np.nan)
                if scores is None
                else np.asarray(scores, dtype=np.float64).reshape(n)
            ),
            centers_m=np.asarray(centers_m, dtype=np.float64).reshape(n, 3),
            sizes_lwh_m=np.asarray(sizes_lwh_m, dtype=np.float64).reshape(n, 3),
            quaternions_wxyz=rotation,
        )

    @classmethod
    def empty(cls, frame_ids: Iterable[str | int] = ()) -> DetectionBoxes:
        """No boxes, over the given frames."""
        return cls.from_columns(
            [],
            [],
            np.zeros((0, 3)),
            np.zeros((0, 3)),
            quaternions_wxyz=np.zeros((0, 4)),
            frame_ids=frame_ids,
        )

    @classmethod
    def concatenate(cls, parts: Sequence[DetectionBoxes]) -> DetectionBoxes:
        """Rows of all parts; the frame list is the union, in order of first appearance."""
        all_frames = tuple(dict.fromkeys(f for part in parts for f in part.frame_ids))
        lookup = {f: i for i, f in enumerate(all_frames)}
        if not parts:
            return cls.empty()
        remap = [np.array([lookup[f] for f in p.frame_ids], dtype=np.int64) for p in parts]
        return cls(
            frame_ids=all_frames,
            frame_index=np.concatenate([m[p.frame_index] for m, p in zip(remap, parts)]).astype(
                np.int64
            ),
            names=np.concatenate([p.names for p in parts]).astype(str),
            scores=np.concatenate([p.scores for p in parts]),
            centers_m=np.concatenate([p.centers_m for p in parts]).reshape(-1, 3),
            sizes_lwh_m=np.concatenate([p.sizes_lwh_m for p in parts]).reshape(-1, 3),
            quaternions_wxyz=np.concatenate([p.quaternions_wxyz for p in parts]).reshape(-1, 4),
        )

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.frame_index.shape[0])

    def __repr__(self) -> str:
        return f"DetectionBoxes({len(self)} boxes in {len(self.frame_ids)} frames)"

    @property
    def yaw_rad(self) -> np.ndarray:
        """(N,) heading of each box around z (see the module docstring)."""
        return yaw_from_quaternion(self.quaternions_wxyz)

    @property
    def frame_id_per_box(self) -> np.ndarray:
        """(N,) str frame id of each box."""
        return (
            np.asarray(self.frame_ids, dtype=str)[self.frame_index]
            if len(self)
            else (np.zeros(0, dtype=str))
        )

    @property
    def distance_xy_m(self) -> np.ndarray:
        """(N,) distance of each centre from the frame origin in the xy plane."""
        return np.sqrt(self.centers_m[:, 0] ** 2 + self.centers_m[:, 1] ** 2)

    def select(self, mask_or_index: np.ndarray) -> DetectionBoxes:
        """The rows picked by a (N,) bool mask or an index array; same frame list."""
        pick = np.asarray(mask_or_index)
        return DetectionBoxes(
            frame_ids=self.frame_ids,
            frame_index=self.frame_index[pick],
            names=self.names[pick],
            scores=self.scores[pick],
            centers_m=self.centers_m[pick],
            sizes_lwh_m=self.sizes_lwh_m[pick],
            quaternions_wxyz=self.quaternions_wxyz[pick],
        )

    def with_frames(self, frame_ids: Iterable[str | int]) -> DetectionBoxes:
        """The same boxes over another frame list (boxes of frames not in it are dropped)."""
        new_frames = tuple(dict.fromkeys(normalize_frame_id(f) for f in frame_ids))
        lookup = {f: i for i, f in enumerate(new_frames)}
        remap = np.array([lookup.get(f, -1) for f in self.frame_ids], dtype=np.int64)
        new_index = remap[self.frame_index] if len(self) else np.zeros(0, dtype=np.int64)
        keep = new_index >= 0
        kept = self.select(keep)
        return DetectionBoxes(
            frame_ids=new_frames,
            frame_index=new_index[keep],
            names=kept.names,
            scores=kept.scores,
            centers_m=kept.centers_m,
            sizes_lwh_m=kept.sizes_lwh_m,
            quaternions_wxyz=kept.quaternions_wxyz,
        )

    def count_per_frame(self) -> np.ndarray:
        """(F,) number of boxes in each frame of ``frame_ids``."""
        return np.bincount(self.frame_index, minlength=len(self.frame_ids))

    def to_records(self) -> dict[str, list[dict[str, object]]]:
        """Per frame id, the boxes as JSON-friendly dicts (the predictions file format)."""
        records: dict[str, list[dict[str, object]]] = {f: [] for f in self.frame_ids}
        frame_of_box = self.frame_id_per_box
        for i in range(len(self)):  # serialisation only, not a hot path
            box: dict[str, object] = {
                "class": str(self.names[i]),
                "center": self.centers_m[i].tolist(),
                "size": self.sizes_lwh_m[i].tolist(),
                "rotation": self.quaternions_wxyz[i].tolist(),
            }
            if not np.isnan(self.scores[i]):
                box["score"] = float(self.scores[i])
            records[str(frame_of_box[i])].append(box)
        return records
