"""Radar detections of a sequence or drive (spec §8): ``RadarData``.

``timestamp`` keeps the raw int64 of the file: the release does not document its unit;
nanoseconds (like the vehicle data) is the working assumption, used only by ``time_s``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from io import BufferedReader
from os import PathLike

import numpy as np

from zod._atomic import atomic_path
from zod._io import (
    column_block,
    fields_problem,
    iter_records_checked,
    open_npy_checked,
    read_into_checked,
)
from zod.errors import FormatError
from zod.release import RADAR, download_flag

RADAR_DTYPE = np.dtype(
    [
        ("scan_index", np.uint32),
        ("timestamp", np.int64),
        ("radar_range", np.float32),
        ("azimuth_angle", np.float32),
        ("elevation_angle", np.float32),
        ("range_rate", np.float32),
        ("amplitude", np.float32),
        ("validity", np.int8),
        ("mode", np.uint8),
        ("quality", np.uint8),
    ]
)
_KINDS = {
    "scan_index": "iu",
    "timestamp": "iu",
    "radar_range": "f",
    "azimuth_angle": "f",
    "elevation_angle": "f",
    "range_rate": "f",
    "amplitude": "f",
    "validity": "iub",
    "mode": "iu",
    "quality": "iu",
}

_WHAT = "radar file"
_CHUNK = 1 << 15  # records per read: 1.1 MB (measured best among 4k-64k records)


@dataclass
class RadarData:
    """All radar detections of a clip (N detections, all scans concatenated)."""

    radar_range: np.ndarray  # (N,) float32, m
    azimuth_angle: np.ndarray  # (N,) float32, rad
    elevation_angle: np.ndarray  # (N,) float32, rad
    range_rate: np.ndarray  # (N,) float32, m/s
    amplitude: np.ndarray  # (N,) float32
    validity: np.ndarray  # (N,) int8
    mode: np.ndarray  # (N,) uint8
    quality: np.ndarray  # (N,) uint8
    scan_index: np.ndarray  # (N,) uint32
    timestamp: np.ndarray  # (N,) int64, raw scan time (unit undocumented; ns assumed)

    @classmethod
    def empty(cls) -> RadarData:
        return cls(*(np.empty(0, RADAR_DTYPE[name]) for name in _FIELD_ORDER))

    def copy(self) -> RadarData:
        return RadarData(*(getattr(self, name).copy() for name in _FIELD_ORDER))

    @classmethod
    def from_npy(cls, path: str | PathLike[str]) -> RadarData:
        """Read the radar file (``MissingFileError`` with ``--radar`` if absent).

        The ``.npy`` header is checked (fields, their kinds, the size it claims against the
        file's) before anything is allocated. Files of the release's records are read in one
        pass (``_read_detections``); other field dtypes of the right kinds are read whole and
        cast to ``RADAR_DTYPE``'s.
        """
        path = os.fspath(path)
        f, dtype, count = open_npy_checked(
            path, _WHAT, download_flag(RADAR), lambda dtype: fields_problem(dtype, _KINDS)
        )
        with f:
            if dtype == RADAR_DTYPE:
                return cls(**_read_detections(f, count, path))
            data = np.empty(count, dtype=dtype)
            read_into_checked(f, data, path, _WHAT)
        return cls(
            **{
                name: np.ascontiguousarray(data[name], dtype=RADAR_DTYPE[name])
                for name in _FIELD_ORDER
            }
        )

    def to_npy(self, path: str | PathLike[str]) -> None:
        """Write in the on-disk format (temporary file, then rename)."""
        n = len(self.radar_range)
        data = np.empty(n, dtype=RADAR_DTYPE)
        for name in _FIELD_ORDER:
            value = np.asarray(getattr(self, name))
            if name == "timestamp" and value.shape != (n,):  # one time per scan -> per detection
                value = (
                    value.reshape(-1)[self.scan_index - self.scan_index.min()] if n else value[:0]
                )
            data[name] = value
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, data)

    @property
    def time_s(self) -> np.ndarray:
        """(N,) float64 epoch seconds, assuming ``timestamp`` is in nanoseconds (see module doc)."""
        return self.timestamp.astype(np.float64) / 1e9

    def get_cartesian_coordinates(self) -> np.ndarray:
        """(N, 3) float64 x, y, z, radar frame: r cos(el) cos(az), r cos(el) sin(az), r sin(el)."""
        r = self.radar_range.astype(np.float64)
        az = self.azimuth_angle.astype(np.float64)
        el = self.elevation_angle.astype(np.float64)
        cos_el = np.cos(el)
        return np.stack((r * cos_el * np.cos(az), r * cos_el * np.sin(az), r * np.sin(el)), axis=1)

    def scans(self) -> list[RadarData]:
        """Split into one ``RadarData`` per ``scan_index`` (in scan order)."""
        order = np.argsort(self.scan_index, kind="stable")
        values, starts = np.unique(self.scan_index[order], return_index=True)
        bounds = list(starts) + [len(order)]
        return [
            RadarData(*(getattr(self, n)[order[bounds[i] : bounds[i + 1]]] for n in _FIELD_ORDER))
            for i in range(len(values))
        ]

    def extend(self, *other: RadarData) -> None:
        for name in _FIELD_ORDER:
            setattr(
                self,
                name,
                np.concatenate([getattr(self, name), *(getattr(o, name) for o in other)]),
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RadarData):
            return NotImplemented
        return all(
            np.shape(getattr(self, n)) == np.shape(getattr(other, n))
            and np.allclose(getattr(self, n), getattr(other, n))
            for n in _FIELD_ORDER
        )

    __hash__ = None  # type: ignore[assignment]


_FIELD_ORDER = (
    "radar_range",
    "azimuth_angle",
    "elevation_angle",
    "range_rate",
    "amplitude",
    "validity",
    "mode",
    "quality",
    "scan_index",
    "timestamp",
)
if tuple(RadarData.__dataclass_fields__) != _FIELD_ORDER:
    raise FormatError(None, "internal: radar field order")  # pragma: no cover


def _read_detections(f: BufferedReader, count: int, path: str) -> dict[str, np.ndarray]:
    """The ``count`` records of ``RADAR_DTYPE`` at ``f``'s position as contiguous columns, read
    in one pass: each cache-sized chunk is read into one reused buffer and split into columns
    that share one allocation (``column_block``). Reading the whole array and copying each
    field out instead allocates twice the file and page-faults both."""
    names = list(_FIELD_ORDER)
    columns = column_block(count, [(RADAR_DTYPE[name], 1) for name in names])
    start = 0
    for records in iter_records_checked(f, RADAR_DTYPE, count, path, _WHAT, _CHUNK):
        end = start + len(records)
        for name, column in zip(names, columns):
            column[start:end] = records[name]
        start = end
    return dict(zip(names, columns))
