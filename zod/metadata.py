"""``metadata.json`` sidecars (spec §6): ``FrameMetaData`` and ``SequenceMetadata``.

Keys in snake_case or camelCase; unknown keys are kept in ``extra``. The id is required; a
missing or null other field reads as ``None`` (documented fallback) rather than failing the
whole file. A value of the wrong JSON type (a string for a count, a list for a name, a number
for a time) or out of range (a negative count, a latitude of 200, NaN) is a ``FormatError``
naming the file and the key, as the info and calibration readers do; counts written as
integral floats (``3.0``) read as ``int``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from typing import Any, ClassVar, TypeVar, get_args, get_type_hints

from zod.annotations._common import read_json
from zod.errors import FormatError
from zod.info import snake_keys
from zod.release import INFOS, download_flag
from zod.time import parse_time

# Plausible ranges of the float fields (degrees); counts must not be negative.
_RANGES = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0)}
_RANGES["solar_angle_elevation"] = _RANGES["latitude"]


@functools.cache
def _kinds(cls: type) -> dict[str, type]:
    """Field name -> its non-None type (``str``, ``int``, ``float`` or ``datetime``)."""
    hints = get_type_hints(cls)
    return {
        f.name: next(t for t in get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
        for f in dataclasses.fields(cls)
        if f.name != "extra"
    }


def _checked(key: str, value: Any, kind: type) -> Any:
    """``value`` of field ``key`` as ``kind`` (null stays None); ``FormatError`` (no file yet)
    naming the key if it is of another JSON type or out of range."""
    if value is None:
        return None
    if kind is datetime:
        try:
            return parse_time(value)
        except FormatError as err:
            raise FormatError(None, f"{key!r}: {err.problem}") from None
    got = type(value).__name__
    if kind is str:
        if not isinstance(value, str):
            raise FormatError(None, f"{key!r} is {got} {value!r:.40}, expected a string")
        return value
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        if not is_number or (isinstance(value, float) and not value.is_integer()):
            raise FormatError(None, f"{key!r} is {got} {value!r:.40}, expected an integer count")
        if value < 0:
            raise FormatError(None, f"{key!r} is {value}, a count cannot be negative")
        return int(value)
    if not is_number:
        raise FormatError(None, f"{key!r} is {got} {value!r:.40}, expected a number")
    try:
        number = float(value)
    except OverflowError:
        raise FormatError(None, f"{key!r} is an integer too large for a number") from None
    if not math.isfinite(number):
        raise FormatError(None, f"{key!r} is {value!r}, not a finite number")
    lo, hi = _RANGES.get(key, (-math.inf, math.inf))
    if not lo <= number <= hi:
        raise FormatError(None, f"{key!r} is {value!r:.40}, outside [{lo}, {hi}]")
    return number


def _build(cls: type, data: Any, id_key: str, source: Any) -> Any:
    if not isinstance(data, dict):
        raise FormatError(source, f"metadata must be a JSON object, got {type(data).__name__}")
    d = snake_keys(data)
    if id_key not in d:
        raise FormatError(source, f"metadata lacks {id_key!r} (or its camelCase form)")
    item_id = d[id_key]
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        raise FormatError(
            source, f"{id_key!r} is {type(item_id).__name__}, expected a string or an integer"
        )
    kinds = _kinds(cls)
    try:
        values = {
            key: _checked(key, d.get(key), kind) for key, kind in kinds.items() if key != id_key
        }
    except FormatError as err:
        raise FormatError(source, f"metadata value {err.problem}") from None
    values[id_key] = str(item_id).zfill(6)
    return cls(**values, extra={k: v for k, v in d.items() if k not in kinds})


_M = TypeVar("_M", bound="_Metadata")


class _Metadata:
    """Reading shared by both sidecars: ``ID_KEY`` is required, every field is checked against
    its annotated type (times parsed)."""

    ID_KEY: ClassVar[str]

    @classmethod
    def from_dict(cls: type[_M], data: dict[str, Any], source: Any = None) -> _M:
        """Build from a parsed ``metadata.json`` (``source`` only serves error messages)."""
        return _build(cls, data, cls.ID_KEY, source)

    @classmethod
    def from_json_path(cls: type[_M], path: str | PathLike[str]) -> _M:
        """Read ``metadata.json``: MissingFileError naming ``--infos``, FormatError if malformed."""
        return cls.from_dict(read_json(path, "metadata", download_flag(INFOS)), source=path)


@dataclass
class FrameMetaData(_Metadata):
    """Metadata of one Frames item."""

    ID_KEY: ClassVar[str] = "frame_id"

    frame_id: str
    time: datetime | None
    country_code: str | None
    scraped_weather: str | None
    collection_car: str | None
    road_type: str | None
    road_condition: str | None
    time_of_day: str | None
    num_lane_instances: int | None
    num_vehicles: int | None
    num_vulnerable_vehicles: int | None
    num_pedestrians: int | None
    num_traffic_lights: int | None
    num_traffic_signs: int | None
    longitude: float | None
    latitude: float | None
    solar_angle_elevation: float | None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class SequenceMetadata(_Metadata):
    """Metadata of one sequence or drive."""

    ID_KEY: ClassVar[str] = "sequence_id"

    sequence_id: str
    start_time: datetime | None
    end_time: datetime | None
    country_code: str | None
    collection_car: str | None
    longitude: float | None
    latitude: float | None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
