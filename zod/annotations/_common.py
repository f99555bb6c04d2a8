"""Shared helpers of the annotation parsers: reading the file, checking a feature."""

from __future__ import annotations

import json
import os
from os import PathLike
from typing import Any

from zod.errors import FormatError, MissingFileError
from zod.release import ANNOTATIONS, download_flag


def read_json(path: str | PathLike[str], what: str, stream: str | None) -> Any:
    """Parsed JSON of ``path``; ``MissingFileError`` naming ``stream`` if absent, ``FormatError`` if malformed."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise MissingFileError(path, what, stream) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(path, f"malformed JSON: {err}") from None


def read_feature_list(path: str | PathLike[str], what: str) -> list[dict[str, Any]]:
    """A GeoJSON-like feature list (spec §11); ``null`` reads as an empty list."""
    data = read_json(path, what, download_flag(ANNOTATIONS))
    if data is None:
        return []
    if isinstance(data, dict) and isinstance(data.get("features"), list):  # a FeatureCollection
        data = data["features"]
    if not isinstance(data, list):
        raise FormatError(path, f"expected a JSON list of features, got {type(data).__name__}")
    for i, feature in enumerate(data):
        if (
            not isinstance(feature, dict)
            or not isinstance(feature.get("properties"), dict)
            or not isinstance(feature.get("geometry"), dict)
        ):
            raise FormatError(path, f"feature {i} lacks 'geometry' or 'properties' objects")
    return data


def to_bool(value: Any) -> bool | None:
    """True/False from a bool or the strings "True"/"False" (case-insensitive); None stays None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no", ""):
            return False
    if isinstance(value, (int, float)):
        return bool(value)
    raise ValueError(f"not a boolean: {value!r}")


def get_key(properties: dict[str, Any], *names: str, default: Any = None) -> Any:
    """The first of ``names`` present in ``properties`` (names in either key case)."""
    for name in names:
        if name in properties:
            return properties[name]
    return default
