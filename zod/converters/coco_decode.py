"""Decoding object-detection files for the COCO conversion: class, unclear flag and box corners.

Two decoders, one rule. The fast one (the optional ``msgspec``, the ``fast`` extra) decodes only
the fields COCO needs (class, type, older object_type, unclear, corners), ~6x faster than
``json.loads`` of the whole file; a file it cannot read (other layout, unexpected types) goes
the generic way: the raw feature list (``zod.annotations._common.read_feature_list``), liberal,
reporting real problems as ``FormatError``. Both turn the decoded values into classes and
unclear flags with the same functions, :func:`zod.annotations.object_rules.resolve_types`
and :func:`~zod.annotations.object_rules.classes_and_unclear` (spec §11).
"""

from __future__ import annotations

import os
from operator import attrgetter
from typing import Any, List, NamedTuple, Tuple, Union  # noqa: UP035 - msgspec struct fields

from zod._io import os_error_as_devkit_error
from zod.annotations._common import read_feature_list
from zod.annotations.object_rules import classes_and_unclear, resolve_types
from zod.release import ANNOTATIONS, download_flag

__all__ = ["FastObjects", "decode_objects_fast", "object_decoder", "read_bytes", "read_objects"]

try:  # optional: the `fast` extra
    import msgspec
except ImportError:  # pragma: no cover - installed with zod-devkit[fast]
    msgspec = None  # type: ignore[assignment]


class FastObjects(NamedTuple):
    """An object file as the fast decoder reads it: classes (N,) after the rule, unclear
    flags (N,) and each object's corner list (K_i (x, y) pairs, boxed later in one pass)."""

    classes: list[str]
    unclear: list[bool]
    corners: list[Any]


if msgspec is not None:
    _UNSET: Any = msgspec.UNSET

    class _Props(msgspec.Struct, gc=False):  # never in a cycle: not tracked by the GC
        name: str = msgspec.field(name="class")
        type: Union[str, msgspec.UnsetType, None] = msgspec.UNSET  # noqa: UP007 - runtime names
        object_type: Union[str, msgspec.UnsetType, None] = msgspec.UNSET  # noqa: UP007
        unclear: Union[bool, str, None] = False  # noqa: UP007

    class _Geometry(msgspec.Struct, gc=False):  # never in a cycle: not tracked by the GC
        coordinates: List[Tuple[float, float]]  # noqa: UP006

    class _Feature(msgspec.Struct, gc=False):  # never in a cycle: not tracked by the GC
        geometry: _Geometry
        properties: _Props

    _OBJECT_DECODER: Any = (
        msgspec.json.Decoder(list[_Feature]),
        (msgspec.ValidationError, msgspec.DecodeError),
    )
else:  # pragma: no cover
    _UNSET = None
    _OBJECT_DECODER = None


_GEOMETRY = attrgetter("geometry")
_COORDINATES = attrgetter("coordinates")
_PROPERTIES = attrgetter("properties")
_PROPS = attrgetter("name", "type", "object_type", "unclear")


def object_decoder() -> Any:
    """(msgspec decoder of object-detection files, its error types), or None without msgspec."""
    return _OBJECT_DECODER


def decode_objects_fast(data: bytes, source: Any = None) -> FastObjects | None:
    """The classes, unclear flags and corner lists of an object file's bytes, or None if the
    fast decoder cannot read them (then the generic path reads the file)."""
    decoder = object_decoder()
    if decoder is None:
        return None
    decode, errors = decoder
    try:
        features = decode.decode(data)
    except errors:
        return None
    if not features:
        return FastObjects([], [], [])
    corners = list(map(_COORDINATES, map(_GEOMETRY, features)))  # C-speed column extraction
    if not all(corners):  # a box without corner points: the generic path reports it
        return None
    names, types, object_types, flags = zip(*map(_PROPS, map(_PROPERTIES, features)))
    classes, unclear = classes_and_unclear(
        names, resolve_types(types, object_types, _UNSET), flags, source
    )
    return FastObjects(classes, unclear, corners)


def read_bytes(path: str) -> bytes:
    """The bytes of a file through the os calls (half the time of ``open().read()`` for a small
    file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)  # one byte more than the size: all of it, or the file grew
        if len(data) == size:
            return data
        chunks = [data]
        while chunk := os.read(fd, 1 << 20):  # a short read or a growing file: to the end
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_objects(path: str) -> FastObjects | list[dict[str, Any]]:
    """An object-detection file decoded for COCO: :class:`FastObjects` on the fast path, else
    the list of raw features (generic path). ``MissingFileError`` (``--annotations``) if absent,
    ``FormatError`` if something unreadable is in its place (a directory, a symlink loop)."""
    try:
        data = read_bytes(path)
    except OSError as err:
        what = "object_detection annotation"
        raise os_error_as_devkit_error(path, err, what, download_flag(ANNOTATIONS)) from None
    decoded = decode_objects_fast(data, path)
    if decoded is None:
        return read_feature_list(path, "object_detection annotation")
    return decoded
