"""The fast way from an ``object_detection.json`` to ``ObjectAnnotation`` objects (spec §11).

What ``frame.get_annotation(OBJECT_DETECTION)`` runs. The file is decoded by a typed
``msgspec`` decoder (the ``fast`` extra) into exactly the fields an ``ObjectAnnotation`` holds,
the columns go through the same rule functions as the one parse
(:mod:`zod.annotations.object_rules`: types, class and unclear, flags) and the objects are
built without per-object validation or pyquaternion work (a ``Box3D`` makes its
``Quaternion`` when ``orientation`` is read). Anything the typed decoder does not accept (other
layouts, unexpected value types, a box without a key, no msgspec) returns None: the caller then
takes the generic path, :func:`zod.annotations.objects.object_annotations_from_features`, which
reads such files liberally and reports real problems. ``tests/test_object_decode.py`` checks
that both paths give the same objects.
"""

from __future__ import annotations

import os
from operator import attrgetter
from typing import Any, List, Tuple, Union  # noqa: UP035 - msgspec struct fields

import numpy as np

from zod._io import read_bytes_checked
from zod.annotations.object_features import check_box_values, warn_unknown_classes
from zod.annotations.object_rules import FLAG_KEYS, classes_and_unclear, flag_column, resolve_types
from zod.annotations.objects import ObjectAnnotation, ObjectBoxes, lazy_object_annotations
from zod.release import ANNOTATIONS, download_flag

__all__ = ["decode_object_annotations", "read_object_annotations"]

try:  # optional: the `fast` extra
    import msgspec
except ImportError:  # pragma: no cover - installed with zod-devkit[fast]
    msgspec = None  # type: ignore[assignment]

_Flag = Union[bool, str, None]  # noqa: UP007 - runtime names for msgspec

if msgspec is not None:
    _UNSET: Any = msgspec.UNSET
    _Number = Union[float, msgspec.UnsetType]  # noqa: UP007
    _Text = Union[str, msgspec.UnsetType, None]  # noqa: UP007

    class _Point(msgspec.Struct, gc=False):
        coordinates: List[float]  # noqa: UP006

    class _Props(msgspec.Struct, gc=False):  # never in a cycle: not tracked by the GC
        name: str = msgspec.field(name="class")
        type: _Text = msgspec.UNSET
        object_type: _Text = msgspec.UNSET
        unclear: _Flag = False
        annotation_uuid: Union[str, None] = ""  # noqa: UP007
        occlusion_ratio: Union[str, None] = None  # noqa: UP007
        artificial: _Flag = None
        with_rider: _Flag = None
        emergency: _Flag = None
        traffic_content_visible: _Flag = None
        location_3d: Union[_Point, List[float], None] = None  # noqa: UP006, UP007
        size_3d_length: _Number = msgspec.UNSET
        size_3d_width: _Number = msgspec.UNSET
        size_3d_height: _Number = msgspec.UNSET
        orientation_3d_qw: _Number = msgspec.UNSET
        orientation_3d_qx: _Number = msgspec.UNSET
        orientation_3d_qy: _Number = msgspec.UNSET
        orientation_3d_qz: _Number = msgspec.UNSET

    class _Geometry(msgspec.Struct, gc=False):
        coordinates: List[Tuple[float, float]]  # noqa: UP006

    class _Feature(msgspec.Struct, gc=False):
        geometry: _Geometry
        properties: _Props

    _DECODER: Any = msgspec.json.Decoder(List[_Feature])  # noqa: UP006
    _ERRORS: tuple[type[Exception], ...] = (msgspec.ValidationError, msgspec.DecodeError)
else:  # pragma: no cover
    _UNSET = None
    _DECODER = None
    _ERRORS = ()

_PROPERTIES = attrgetter("properties")
_CORNERS = attrgetter("geometry.coordinates")
_COLUMNS = attrgetter(
    "name",
    "type",
    "object_type",
    "unclear",
    "annotation_uuid",
    "occlusion_ratio",
    *FLAG_KEYS,
    "location_3d",
)
_BOX = attrgetter(
    "size_3d_length",
    "size_3d_width",
    "size_3d_height",
    "orientation_3d_qw",
    "orientation_3d_qx",
    "orientation_3d_qy",
    "orientation_3d_qz",
)


def decode_object_annotations(data: bytes, source: Any = None) -> list[ObjectAnnotation] | None:
    """The ``ObjectAnnotation`` of each feature of an object file's bytes, or None where the
    typed decoder cannot read them (then the generic path must).

    ``FormatError`` (naming ``source``) for what the rules reject (a flag that is not a
    boolean), as the generic path does.
    """
    if _DECODER is None:
        return None
    try:
        features = _DECODER.decode(data)
    except _ERRORS:
        return None
    if not features:
        return []
    corners = list(map(_CORNERS, features))
    if not all(corners):  # a box without corner points: the generic path reports it
        return None
    props = list(map(_PROPERTIES, features))
    names, types, object_types, raw_unclear, uuids, occlusion, *flag_values, locations = zip(
        *map(_COLUMNS, props)
    )
    kinds = resolve_types(types, object_types, _UNSET)
    classes, unclear = classes_and_unclear(names, kinds, raw_unclear, source)
    flags = [flag_column(values, key, source) for key, values in zip(FLAG_KEYS, flag_values)]
    warn_unknown_classes(classes, source, stacklevel=4)
    rows = [i for i, location in enumerate(locations) if location is not None]
    values = []  # (M, 10): centre, size, quaternion as written (not normalised)
    for i in rows:
        location = locations[i]
        center = location if isinstance(location, list) else location.coordinates
        box = _BOX(props[i])
        if len(center) != 3 or _UNSET in box:  # the generic path reports it
            return None
        values.append([*center, *box])
    try:
        table = np.array(values, dtype=np.float64).reshape(-1, 10)
    except (TypeError, ValueError, OverflowError):  # not numbers: the generic path reports it
        return None
    check_box_values(table, source)
    boxes = ObjectBoxes(len(props), None, corners, table, rows)
    return lazy_object_annotations(boxes, [unclear, classes, uuids, kinds, occlusion, *flags])


def read_object_annotations(path: str | os.PathLike[str]) -> list[ObjectAnnotation] | None:
    """:func:`decode_object_annotations` of a file (None: take the generic path); read with
    the one open helper (absent: ``MissingFileError`` naming ``--annotations``; a directory or
    an unreadable file: ``FormatError``)."""
    data = read_bytes_checked(path, "object detection annotation", download_flag(ANNOTATIONS))
    return decode_object_annotations(data, os.fspath(path))
