"""Time handling of ZOD (spec §2, §3, §7): ISO 8601 strings and file-name times.

All times are UTC. Strings become timezone-aware ``datetime`` objects; ``epoch_s`` gives float
epoch seconds computed exactly like the reference devkit (``datetime.timestamp()``), so numbers
agree bit for bit.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from os import PathLike

from zod.errors import FormatError

UTC = timezone.utc
FILENAME_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_time(text: str | datetime) -> datetime:
    """Parse an ISO 8601 time (``+00:00`` offset, trailing ``Z`` or naive) to an aware datetime.

    Naive times are taken as UTC (spec §2: treat all times as UTC). A datetime passes through
    (made aware if naive).
    """
    if isinstance(text, datetime):
        return text if text.tzinfo is not None else text.replace(tzinfo=UTC)
    if not isinstance(text, str):
        raise FormatError(None, f"expected an ISO 8601 time string, got {text!r}")
    try:
        value = datetime.fromisoformat(text)  # Python >= 3.11 also takes a trailing "Z"
    except ValueError:
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise FormatError(None, f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """Format an aware datetime as the index writes it: ``2022-02-14T13:23:32.140954+00:00``."""
    value = parse_time(value).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def format_filename_time(value: datetime) -> str:
    """Format a datetime as it appears in file names: ``2022-02-14T13:23:32.140954Z``."""
    return parse_time(value).astimezone(UTC).strftime(FILENAME_TIME_FORMAT)


def time_from_filename(path: str | PathLike[str]) -> datetime:
    """The time encoded in a file name ``<id>_<codename>_<time>.<ext>`` (after the last ``_``)."""
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    text = stem.rsplit("_", 1)[-1]
    try:
        return parse_time(text)
    except FormatError:
        raise FormatError(
            path, f"file name does not end in _<time> ({text!r} is not a time)"
        ) from None


def epoch_s(value: datetime | str) -> float:
    """Float epoch seconds of a time (aware datetime or ISO string)."""
    return parse_time(value).timestamp()


def from_epoch_s(time_s: float) -> datetime:
    """Aware UTC datetime of float epoch seconds."""
    return datetime.fromtimestamp(time_s, tz=UTC)


# --- the reference devkit's names (zod.utils.utils) -------------------------------------------
def zfill_id(frame_id: int | str) -> str:
    """``9158`` or ``"9158"`` -> ``"009158"``."""
    return str(frame_id).zfill(6)


def datetime_from_str(timestamp: str) -> datetime:
    """An index time string as an aware datetime."""
    return parse_time(timestamp)


def str_from_datetime(timestamp: datetime) -> str:
    """An aware datetime as ``%Y-%m-%dT%H:%M:%S.%f%z`` (the reference's format)."""
    return timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def parse_datetime_from_filename(filename: str | PathLike[str]) -> datetime:
    """The time in a file name (``..._<time>.<ext>``)."""
    return time_from_filename(filename)
