"""``metadata.json`` sidecars (spec §6): ``FrameMetaData`` and ``SequenceMetadata``.

Keys in snake_case or camelCase; unknown keys are kept in ``extra``. The id is required; a
missing other field reads as ``None`` (documented fallback) rather than failing the whole file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from typing import Any, ClassVar, TypeVar

from zod.annotations._common import read_json
from zod.errors import FormatError
from zod.info import snake_keys
from zod.release import INFOS, download_flag
from zod.time import parse_time


def _build(cls: type, data: Any, id_key: str, time_keys: tuple[str, ...], source: Any) -> Any:
    if not isinstance(data, dict):
        raise FormatError(source, f"metadata must be a JSON object, got {type(data).__name__}")
    d = snake_keys(data)
    if id_key not in d:
        raise FormatError(source, f"metadata lacks {id_key!r} (or its camelCase form)")
    names = [f.name for f in dataclasses.fields(cls) if f.name != "extra"]
    values = {n: d.get(n) for n in names}
    values[id_key] = str(d[id_key]).zfill(6)
    try:
        for key in time_keys:
            if values[key] is not None:
                values[key] = parse_time(values[key])
    except FormatError as err:
        raise FormatError(source, err.problem) from None
    return cls(**values, extra={k: v for k, v in d.items() if k not in names})


_M = TypeVar("_M", bound="_Metadata")


class _Metadata:
    """Reading shared by both sidecars: ``ID_KEY`` is required, ``TIME_KEYS`` are parsed."""

    ID_KEY: ClassVar[str]
    TIME_KEYS: ClassVar[tuple[str, ...]]

    @classmethod
    def from_dict(cls: type[_M], data: dict[str, Any], source: Any = None) -> _M:
        """Build from a parsed ``metadata.json`` (``source`` only serves error messages)."""
        return _build(cls, data, cls.ID_KEY, cls.TIME_KEYS, source)

    @classmethod
    def from_json_path(cls: type[_M], path: str | PathLike[str]) -> _M:
        """Read ``metadata.json``: MissingFileError naming ``--infos``, FormatError if malformed."""
        return cls.from_dict(read_json(path, "metadata", download_flag(INFOS)), source=path)


@dataclass
class FrameMetaData(_Metadata):
    """Metadata of one Frames item."""

    ID_KEY: ClassVar[str] = "frame_id"
    TIME_KEYS: ClassVar[tuple[str, ...]] = ("time",)

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
    TIME_KEYS: ClassVar[tuple[str, ...]] = ("start_time", "end_time")

    sequence_id: str
    start_time: datetime | None
    end_time: datetime | None
    country_code: str | None
    collection_car: str | None
    longitude: float | None
    latitude: float | None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
