"""ZOD Frames -> COCO 2D detection json (compatible with the reference devkit's `generate coco`).

Output: ``zod_<version>_<anonymization>[_png]_{train,val}.json`` in the output directory.

- image id = ``int(frame_id)``; ``file_name`` the key camera image (absolute path like the
  reference, or relative to the dataset root with ``relative_paths``); ``.png`` with ``use_png``;
  for ``original`` anonymization the blur path with ``blur`` replaced by ``original``.
- category ids are 1.. in the class order of spec §11 (``Vehicle`` = 1, ... ``Unclear`` = 11)
  whatever subset of classes is exported, so files made with different ``--classes`` agree.
- annotation id = ``image_id * 1000 + index of the object in the annotation file``.
- ``bbox`` is ``[x, y, w, h]`` of the min/max of the ``MultiPoint`` corners, computed in float32
  and rounded to 2 decimals like the reference (so the numbers are identical to its output);
  ``area`` = ``w * h`` rounded the same way; ``iscrowd`` is 1 for unclear objects, else 0
  (the reference writes ``true``/``false``; COCO tools expect integers).

Optional segmentation files (``segmentation=("ego_road", "lane_markings")``):
``<base>_<project>_{train,val}.json`` with polygons (or RLE for polygons with holes).

Speed: no ``Information`` and no per-object annotation objects are built. Four fields are read
from the raw info object; the annotation file is decoded by :mod:`zod.converters.coco_decode`
(a typed ``msgspec`` decoder when the ``fast`` extra is installed, only class, type, unclear
and corners; anything unusual falls back to the generic ``json`` path; class and unclear by the
one rule of :mod:`zod.annotations.object_rules`); the boxes of a whole chunk of frames are
computed in one numpy pass (``CocoFrameTask.run_batch``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from zod.annotations._common import boxes_xyxy_from_corners, boxes_xyxy_from_features
from zod.annotations.classes import OBJECT_CLASSES
from zod.annotations.object_rules import classes_and_unclear_from_features
from zod.converters import DEFAULT_CLASSES, _frames
from zod.converters.coco_decode import read_objects
from zod.converters.runner import (
    FAILED,
    MISSING,
    OK,
    RunKwargs,
    RunOptions,
    RunResult,
    atomic_write_bytes,
    atomic_write_json,
    json_bytes,
    run_frames,
    run_options,
    warm_up,
)
from zod.errors import FormatError, MissingFileError
from zod.release import images_flag

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on

# Spec §11 class order (OBJECT_CLASSES); the category id of a class is its position + 1.
CATEGORY_NAME_TO_ID: dict[str, int] = {name: i + 1 for i, name in enumerate(OBJECT_CLASSES)}

OPEN_DATASET_URL = "https://zod.zenseact.com"
COCO_LICENSES = [
    {
        "url": "https://creativecommons.org/licenses/by-sa/4.0/",
        "name": "Attribution-ShareAlike 4.0 International (CC BY-SA 4.0)",
        "id": 1,
    }
]


def coco_base_name(version: str, anonymization: str, use_png: bool) -> str:
    """``zod_<version>_<anonymization>[_png]``: the stem shared by the train and val files."""
    return f"zod_{version}_{anonymization}" + ("_png" if use_png else "")


def coco_output_paths(
    output_dir: Path, version: str, anonymization: str, use_png: bool
) -> dict[str, Path]:
    """Split name -> output json path."""
    base = coco_base_name(version, anonymization, use_png)
    return {split: Path(output_dir) / f"{base}_{split}.json" for split in ("train", "val")}


def coco_annotations_from_features(
    features: Sequence[dict[str, Any]],
    image_id: int,
    classes: Sequence[str],
    path: str | None = None,
) -> list[dict[str, Any]]:
    """COCO annotation dicts of one frame's object features, keeping only ``classes``."""
    if not features:
        return []
    names, unclear = classes_and_unclear_from_features(features, path)
    return _annotation_dicts(
        names, unclear, boxes_xyxy_from_features(features, path), image_id, classes
    )


def _annotation_dicts(
    names: list[str], unclear: list[bool], xyxy: np.ndarray, image_id: int, classes: Sequence[str]
) -> list[dict[str, Any]]:
    """The dicts, from class names (N,), unclear flags (N,) and float32 boxes (N, 4) xyxy."""
    xywh, area = _rounded_xywh_area(xyxy)
    return _dicts(names, unclear, xywh, area, image_id, set(classes))


def _rounded_xywh_area(xyxy: np.ndarray) -> tuple[list[list[float]], list[float]]:
    """float32 boxes (N, 4) xyxy -> ``[x, y, w, h]`` and ``w * h``, computed in float32 then
    rounded to 2 decimals: exactly the reference's numbers."""
    xywh = np.array(xyxy, dtype=np.float32).reshape(-1, 4)
    xywh[:, 2:] -= xywh[:, :2]
    area = (xywh[:, 2] * xywh[:, 3]).astype(np.float32)
    return np.round(xywh.astype(np.float64), 2).tolist(), np.round(
        area.astype(np.float64), 2
    ).tolist()


def _dicts(
    names: list[str],
    unclear: list[bool],
    xywh: list[list[float]],
    area: list[float],
    image_id: int,
    wanted: set[str],
) -> list[dict[str, Any]]:
    base_id = image_id * 1000
    return [
        {
            "id": base_id + i,
            "image_id": image_id,
            "category_id": CATEGORY_NAME_TO_ID[name],
            "bbox": xywh[i],
            "area": area[i],
            "iscrowd": int(unclear[i]),
        }
        for i, name in enumerate(names)
        if name in wanted
    ]


def coco_annotations_from_file(
    path: str, image_id: int, classes: Sequence[str]
) -> list[dict[str, Any]]:
    """COCO annotation dicts of one object-detection file (fast path when msgspec is there)."""
    objects = read_objects(path)
    if isinstance(objects, list):
        return coco_annotations_from_features(objects, image_id, classes, path)
    names, unclear, corners = objects
    return _annotation_dicts(names, unclear, boxes_xyxy_from_corners(corners), image_id, classes)


def coco_categories(classes: Sequence[str]) -> list[dict[str, Any]]:
    """The categories of ``classes``, in spec order, with their fixed ids."""
    wanted = set(classes)
    return [
        {"supercategory": "object", "id": cid, "name": name}
        for name, cid in CATEGORY_NAME_TO_ID.items()
        if name in wanted
    ]


# Segmentation output (``segmentation=("ego_road", "lane_markings")``): one more pair of files
# per project, ``<base>_<project>_{train,val}.json``, with these categories (ids 1..).
SEGMENTATION_CATEGORIES: dict[str, tuple[str, ...]] = {
    "ego_road": ("EgoRoad_Road", "EgoRoad_Debris"),
    "lane_markings": ("lane_marking", "shaded_area", "road_painting"),
}


def _segmentation_label(project: str, feature: dict[str, Any]) -> str:
    from zod.geometry.masks import annotation_kind

    if project == "ego_road":
        return str((feature.get("properties") or {}).get("class"))
    return annotation_kind(feature)


def _ring_area(ring: np.ndarray) -> float:
    """Shoelace area of a ring (K, 2)."""
    x, y = ring[:, 0], ring[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE of a bool mask (H, W): column-major run lengths, zeros first."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


def coco_segmentation_annotations(
    features: Sequence[dict[str, Any]],
    image_id: int,
    project: str,
    image_shape: tuple[int, int],
    path: str | None = None,
) -> list[dict[str, Any]]:
    """COCO annotations with ``segmentation`` of one frame's ego road / lane features.

    A polygon without holes is written as COCO polygons (outline rings, flat x, y lists); one
    with holes as an uncompressed RLE of its rasterized mask (``iscrowd`` = 1, as COCO requires
    for RLE). Features with no ring of 3+ points are skipped (spec §14); so are ego road
    entries that are not ego road (``Barrier``, ``RoadEdge``).
    """
    from zod.geometry.masks import binary_mask, geometry_to_polygons

    category_ids = {name: i + 1 for i, name in enumerate(SEGMENTATION_CATEGORIES[project])}
    annotations = []
    for index, feature in enumerate(features):
        label = _segmentation_label(project, feature)
        if label not in category_ids:
            continue
        try:
            polygons = geometry_to_polygons(feature)
        except (ValueError, TypeError) as err:
            raise FormatError(path, f"feature {index}: {err}") from err
        if not polygons:
            continue
        outlines = np.concatenate([rings[0] for rings in polygons])
        lo, hi = outlines.min(axis=0), outlines.max(axis=0)
        has_holes = any(len(rings) > 1 for rings in polygons)
        if has_holes:
            mask = binary_mask([feature], image_shape)
            segmentation: Any = uncompressed_rle(mask)
            area = float(mask.sum())
        else:
            segmentation = [np.round(rings[0], 2).ravel().tolist() for rings in polygons]
            area = sum(_ring_area(rings[0]) for rings in polygons)
        annotations.append(
            {
                "id": image_id * 1000 + index,
                "image_id": image_id,
                "category_id": category_ids[label],
                "segmentation": segmentation,
                "bbox": [round(float(v), 2) for v in (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])],
                "area": round(area, 2),
                "iscrowd": int(has_holes),
            }
        )
    return annotations


def coco_document(
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    classes: Sequence[str],
    version: str,
    categories: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole COCO json of one split (``categories`` default: those of ``classes``)."""
    return {
        "images": images,
        "annotations": annotations,
        "info": {
            "description": "Zenseact Open Dataset",
            "url": OPEN_DATASET_URL,
            "version": version,
            "year": 2022,
            "contributor": "ZOD team",
            "date_created": "2022/12/15",
        },
        "licenses": COCO_LICENSES,
        "categories": coco_categories(classes) if categories is None else categories,
    }


def _json_text(obj: Any) -> str:
    return json_bytes(obj).decode("utf-8")


def encode_record(record: dict[str, Any]) -> dict[str, Any]:
    """A frame's record with its parts as compact JSON text, made where the frame is converted
    (a pool worker): ``image`` the image object, ``annotations`` (and each ``segmentation``
    project's list) the items of its list without the brackets ("" when empty; None stays
    None). Text travels back from a worker for ~nothing, and the driver only joins it.
    """
    out: dict[str, Any] = {
        "image": _json_text(record["image"]),
        "annotations": _json_text(record["annotations"])[1:-1],
    }
    if "segmentation" in record:
        out["segmentation"] = {
            project: None if items is None else _json_text(items)[1:-1]
            for project, items in record["segmentation"].items()
        }
    return out


def coco_document_bytes(
    images: Sequence[str],
    annotations: Sequence[str],
    classes: Sequence[str],
    version: str,
    categories: list[dict[str, Any]] | None = None,
) -> bytes:
    """``json_bytes(coco_document(...))`` from encoded parts (``encode_record``): the image
    objects and the annotation list fragments ("" for none) as JSON text, byte for byte the
    compact JSON of the whole document."""
    rest = json_bytes(coco_document([], [], classes, version, categories))
    head = b'{"images":[],"annotations":[],'
    if not rest.startswith(head):  # pragma: no cover - an encoder with another layout
        raise AssertionError("unexpected JSON layout of the COCO document")
    body = (
        '{"images":['
        + ",".join(images)
        + '],"annotations":['
        + ",".join(fragment for fragment in annotations if fragment)
        + "],"
    )
    return body.encode("utf-8") + rest[len(head) :]


def check_classes(classes: Sequence[str]) -> None:
    """Raise ValueError naming any class that is not an object class of spec §11."""
    bad = [c for c in classes if c not in CATEGORY_NAME_TO_ID]
    if bad:
        raise ValueError(f"unknown object class(es) {bad}; valid: {list(OBJECT_CLASSES)}")


@dataclass(frozen=True)
class CocoFrameTask:
    """Per-frame work of the COCO conversion: the image dict and the annotation dicts."""

    dataset_root: str
    version: str
    anonymization: str = "blur"
    use_png: bool = False
    classes: tuple[str, ...] = DEFAULT_CLASSES
    relative_paths: bool = False
    check_images: bool = True
    segmentation: tuple[str, ...] = ()
    encoded: bool = False  # records hold JSON text (see ``encode_record``)
    preload: ClassVar[tuple[str, ...]] = ("zod.index", "msgspec")  # for pool workers (warm_up)

    def __call__(self, frame_id: str) -> dict[str, Any]:
        record, objects = self._prepare(frame_id)
        self._finish([(record, objects)])
        return encode_record(record) if self.encoded else record

    def warm(self) -> None:
        """Open what every frame needs (the index), e.g. in a pool worker before its first
        chunk arrives."""
        _frames.index(self.dataset_root, self.version)

    def run_batch(self, frame_ids: Sequence[str]) -> list[tuple[str, Any]]:
        """Outcomes ``(status, record or message)`` of several frames, with the boxes of all of
        them computed in one vectorized pass (the runner calls this on each chunk)."""
        outcomes: list[tuple[str, Any]] = []
        pending = []
        for frame_id in frame_ids:
            try:
                record, objects = self._prepare(frame_id)
            except MissingFileError as err:
                outcomes.append((MISSING, str(err)))
                continue
            except FormatError as err:
                outcomes.append((FAILED, str(err)))
                continue
            outcomes.append((OK, record))
            pending.append((record, objects))
        self._finish(pending)
        if self.encoded:
            return [(status, encode_record(r) if status == OK else r) for status, r in outcomes]
        return outcomes

    def _prepare(self, frame_id: str) -> tuple[dict[str, Any], Any]:
        """The frame's record without its object annotations, and its decoded objects."""
        from zod.constants import AnnotationProject

        source_anon = "blur" if self.anonymization == "original" else self.anonymization
        camera, date_captured, annotation_path = _frames.raw_info_fields(
            self.dataset_root,
            self.version,
            frame_id,
            source_anon,
            AnnotationProject.OBJECT_DETECTION,
        )
        file_name = camera.filepath
        check = self.check_images and not self.use_png and self.anonymization != "original"
        if check and not os.path.exists(file_name):
            raise MissingFileError(file_name, f"{source_anon} image", images_flag(source_anon))
        if self.relative_paths:
            file_name = os.path.relpath(file_name, self.dataset_root)
        if self.anonymization == "original":
            file_name = file_name.replace("blur", "original")
        if self.use_png:
            file_name = file_name.replace(".jpg", ".png")
        image_id = int(frame_id)
        image = {
            "id": image_id,
            "license": 1,
            "file_name": file_name,
            "height": int(camera.height),
            "width": int(camera.width),
            "date_captured": date_captured,
        }
        record: dict[str, Any] = {"image": image, "annotations": []}
        objects = None
        if annotation_path is not None:
            objects = read_objects(annotation_path)
            if isinstance(objects, list):  # generic path, done here
                record["annotations"] = coco_annotations_from_features(
                    objects, image_id, self.classes, annotation_path
                )
                objects = None
        if self.segmentation:
            info = _frames.frame_info(self.dataset_root, self.version, frame_id)
            shape = (int(camera.height), int(camera.width))
            record["segmentation"] = {}
            for project in self.segmentation:
                seg_features, seg_path = _frames.read_features(info, AnnotationProject(project))
                annotated = _frames.annotation_path(info, AnnotationProject(project)) is not None
                record["segmentation"][project] = (
                    coco_segmentation_annotations(seg_features, image_id, project, shape, seg_path)
                    if annotated
                    else None
                )
        return record, objects

    def _finish(self, pending: list[tuple[dict[str, Any], Any]]) -> None:
        """Fill the annotations of the fast-decoded frames: all their boxes in one pass."""
        pending = [(record, objects) for record, objects in pending if objects is not None]
        if not pending:
            return
        corners = [c for _, (_, _, frame_corners) in pending for c in frame_corners]
        xywh, area = _rounded_xywh_area(boxes_xyxy_from_corners(corners))
        wanted = set(self.classes)
        start = 0
        for record, (names, unclear, _) in pending:
            end = start + len(names)
            record["annotations"] = _dicts(
                names, unclear, xywh[start:end], area[start:end], record["image"]["id"], wanted
            )
            start = end


def _write_split(
    result: RunResult,
    path: Path,
    seg_paths: dict[str, Path],
    classes: Sequence[str],
    version: str,
) -> None:
    """Write one split's COCO file, its segmentation files (project -> path) and its
    ``.missing.json`` report (removed when nothing is missing) from the run's encoded records."""
    records = [record for _, record in result.ok()]
    missing_report = path.with_name(path.stem + ".missing.json")
    if result.missing:
        atomic_write_json(missing_report, result.missing, indent=1)
    else:
        missing_report.unlink(missing_ok=True)
    for project, seg_path in seg_paths.items():
        seg = [r for r in records if r["segmentation"][project] is not None]
        categories = [
            {"supercategory": project, "id": i + 1, "name": name}
            for i, name in enumerate(SEGMENTATION_CATEGORIES[project])
        ]
        atomic_write_bytes(
            seg_path,
            coco_document_bytes(
                [r["image"] for r in seg],
                [r["segmentation"][project] for r in seg],
                classes,
                version,
                categories,
            ),
        )
    atomic_write_bytes(
        path,
        coco_document_bytes(
            [r["image"] for r in records], [r["annotations"] for r in records], classes, version
        ),
    )


def convert_to_coco(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    anonymization: str = "blur",
    use_png: bool = False,
    classes: Sequence[str] = DEFAULT_CLASSES,
    relative_paths: bool = False,
    segmentation: Sequence[str] = (),
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> dict[str, Path]:
    """Write the train and val COCO files; returns split -> path (and ``<project>_<split>`` ->
    path of the segmentation files of ``segmentation`` projects, ``ego_road`` / ``lane_markings``).

    Resumable at file level: a split whose json already exists is kept unless ``overwrite``.
    Frames with missing files raise ``FrameFailures`` unless ``skip_missing`` (then they are
    left out of the json and listed in ``<split>.missing.json`` next to it).

    How the run goes: ``options`` (:class:`~zod.converters.runner.RunOptions`), or its fields
    as keywords (``workers=2, progress=False``).
    """
    run = run_options(options, **run_kwargs)
    check_classes(classes)
    if anonymization not in ("blur", "dnat", "original"):
        raise ValueError(f"unknown anonymization {anonymization!r}")
    root = str(Path(dataset_root).resolve())
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    bad = [p for p in segmentation if p not in SEGMENTATION_CATEGORIES]
    if bad:
        raise ValueError(
            f"unknown segmentation project(s) {bad}; valid: {list(SEGMENTATION_CATEGORIES)}"
        )
    task = CocoFrameTask(
        root,
        version,
        anonymization,
        use_png,
        tuple(classes),
        relative_paths,
        segmentation=tuple(segmentation),
        encoded=True,
    )
    warm_up(task, run)  # forkserver workers start while this process reads the index
    paths = coco_output_paths(output_dir, version, anonymization, use_png)
    base = coco_base_name(version, anonymization, use_png)
    seg_paths = {
        (project, split): output_dir / f"{base}_{project}_{split}.json"
        for project in segmentation
        for split in paths
    }
    # Each split's files are joined and written by a thread while the next split converts (the
    # main process mostly waits for pool workers then).
    from concurrent.futures import ThreadPoolExecutor

    writes = []
    with ThreadPoolExecutor(1, thread_name_prefix="zod-coco-write") as writer:
        for split, path in paths.items():
            split_seg = {project: seg_paths[(project, split)] for project in segmentation}
            if path.exists() and all(p.exists() for p in split_seg.values()) and not run.overwrite:
                continue
            frame_ids = _frames.split_ids(root, version, split)
            result = run_frames(task, frame_ids, run, desc=f"COCO {split}")
            writes.append(writer.submit(_write_split, result, path, split_seg, classes, version))
    for write in writes:
        write.result()  # (an error of the writer)
    all_paths: dict[str, Path] = dict(paths)
    all_paths.update({f"{project}_{split}": p for (project, split), p in seg_paths.items()})
    return all_paths


def load_coco(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a COCO json written by :func:`convert_to_coco`."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)
