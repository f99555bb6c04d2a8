"""The reference devkit's ``zod.utils.utils`` module.

Its names are the same objects as in ``zod.time`` (no copies).
"""

from __future__ import annotations

from zod.time import datetime_from_str, parse_datetime_from_filename, str_from_datetime, zfill_id

__all__ = [
    "datetime_from_str",
    "parse_datetime_from_filename",
    "str_from_datetime",
    "zfill_id",
]
