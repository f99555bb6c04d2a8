"""Shared helpers of the annotation parsers: reading the file, checking a feature, flags and
the 2D boxes of ``MultiPoint`` features."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from itertools import chain
from os import PathLike
from typing import Any

import numpy as np

from zod.errors import FormatError, MissingFileError
from zod.release import ANNOTATIONS, download_flag


def read_json(path: str | PathLike[str], what: str, stream: str | None) -> Any:
    """Parsed JSON of ``path``; ``MissingFileError`` naming ``stream`` if absent, ``FormatError``
    if malformed."""
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


def reduce_boxes(points: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy (min then max) of stacked points (P, 2) and per-box point counts (N,) >= 1."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.concatenate(
        [np.minimum.reduceat(points, starts, axis=0), np.maximum.reduceat(points, starts, axis=0)],
        axis=1,
    )


def boxes_xyxy_from_corners(corners: Sequence[Sequence[Sequence[float]]]) -> np.ndarray:
    """(N, 4) float32 xyxy of N corner lists (each K_i >= 1 (x, y) pairs), in one numpy pass.

    The pairs are streamed into one flat array (``np.fromiter``, 2x faster than ``np.array``
    of the nested lists) and reduced per box, in float32 like the reference's ``Box2D``.
    """
    if not corners:
        return np.zeros((0, 4), dtype=np.float32)
    counts = np.fromiter(map(len, corners), dtype=np.int64, count=len(corners))
    flat = np.fromiter(
        chain.from_iterable(chain.from_iterable(corners)),
        dtype=np.float64,
        count=2 * int(counts.sum()),
    )
    return reduce_boxes(flat.astype(np.float32).reshape(-1, 2), counts)


def boxes_xyxy_from_features(
    features: Sequence[Mapping[str, Any]], source: Any = None
) -> np.ndarray:
    """(N, 4) float32 ``[xmin, ymin, xmax, ymax]`` of each feature's ``MultiPoint`` corners.

    All points of all features are stacked once and reduced per feature, in float32 like the
    reference's ``Box2D`` (the min / max of float32 values equals the float32 of the float64
    min / max). A feature without points or with points that are not (x, y) numbers raises
    ``FormatError`` naming ``source``.
    """
    if not features:
        return np.zeros((0, 4), dtype=np.float32)
    try:
        point_lists = [feature["geometry"]["coordinates"] for feature in features]
        counts = np.fromiter(
            (len(points) for points in point_lists), dtype=np.int64, count=len(point_lists)
        )
        empty = counts.min() == 0
        points = np.array([xy for points in point_lists for xy in points], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as err:
        raise FormatError(source, f"box geometry is not a list of [x, y] points: {err!r}") from None
    if empty:
        raise FormatError(source, "empty box geometry (no corner points)")
    if points.ndim != 2 or points.shape[1] < 2:
        raise FormatError(source, "box geometry is not a list of [x, y] points")
    return reduce_boxes(points[:, :2].astype(np.float32), counts)
