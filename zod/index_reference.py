"""The reference scan of an index file: the ``json`` module walks it, one value at a time.

Readable and slow (seconds for the full Frames index): it defines what ``zod.index_scan``
must return, and the tests check that the fast and the robust scans agree with it on
generated and mutated files. The index (spec §2) is a JSON object whose keys are split names,
each a list of info objects; per info this keeps its byte span, its ``id`` (a string of digits
or a non-negative integer, zero-padded to six digits), its split, and which annotation
projects its ``annotations`` object lists with an object value. Split lists are kept in file
order; a split name given twice adds its second list to the first.

A file that ``json.loads`` rejects, or whose structure is not that, raises ``FormatError``
naming the file.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from zod.errors import FormatError
from zod.index_scan import PROJECT_KEY_BIT, IndexArrays, IndexBuffer

_BLANKS = re.compile(r"[ \t\n\r]*")
_DIGITS = re.compile(r"[0-9]+")
_PROJECT_KEYS = {key.decode(): bit for key, bit in PROJECT_KEY_BIT.items()}


class _Walk:
    """A position in the decoded text and the byte offset it stands for."""

    def __init__(self, raw: bytes, path: str | os.PathLike[str] | None) -> None:
        self.path = path
        try:
            self.text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise self.error(f"malformed JSON: not UTF-8 ({err})") from None
        self.decoder = json.JSONDecoder()
        self.pos = 1 if self.text.startswith("\ufeff") else 0  # a byte order mark is accepted
        self._char, self._byte = 0, 0  # last converted position: offsets only grow

    def error(self, problem: str) -> FormatError:
        return FormatError(self.path, problem)

    def byte_offset(self, char: int) -> int:
        """Byte offset of character ``char`` (non-decreasing calls)."""
        self._byte += len(self.text[self._char : char].encode("utf-8"))
        self._char = char
        return self._byte

    def skip_blanks(self) -> str:
        """Move past whitespace; the next character ('' at the end)."""
        match = _BLANKS.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()
        return self.text[self.pos : self.pos + 1]

    def expect(self, char: str) -> None:
        found = self.skip_blanks()
        if found != char:
            at = self.byte_offset(self.pos)
            raise self.error(f"malformed index: expected {char!r} at byte {at}, found {found!r}")
        self.pos += 1

    def accept(self, char: str) -> bool:
        """Move past ``char`` if it comes next."""
        if self.skip_blanks() == char:
            self.pos += 1
            return True
        return False

    def value(self) -> tuple[Any, int, int]:
        """The next JSON value (any JSON value, hence ``Any``) and its character span."""
        self.skip_blanks()
        start = self.pos
        try:
            value, self.pos = self.decoder.raw_decode(self.text, start)
        except json.JSONDecodeError as err:
            raise self.error(f"malformed JSON: {err}") from None
        return value, start, self.pos


def _info_id(info: dict[str, Any], where: int, walk: _Walk) -> str:
    """The six-digit id of one info object (``where``: its byte offset, for messages)."""
    if "id" not in info:
        raise walk.error(f'info object at byte {where} has no "id" key')
    value = info["id"]
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return value.zfill(6)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value).zfill(6)
    raise walk.error(f"info object at byte {where} has an invalid id")


def _project_mask(info: dict[str, Any]) -> int:
    """Bits of the projects listed with an object value under ``annotations``."""
    annotations = info.get("annotations")
    if not isinstance(annotations, dict):
        return 0
    mask = 0
    for key, entry in annotations.items():
        if key in _PROJECT_KEYS and isinstance(entry, dict):
            mask |= _PROJECT_KEYS[key]
    return mask


def reference_scan(buffer: IndexBuffer, path: str | os.PathLike[str] | None = None) -> IndexArrays:
    """The arrays of ``zod.index_scan.scan_index`` for the index file bytes in ``buffer``."""
    walk = _Walk(bytes(buffer), path)
    starts: list[int] = []
    ends: list[int] = []
    ids: list[str] = []
    codes: list[int] = []
    masks: list[int] = []
    split_names: list[str] = []

    walk.expect("{")
    if not walk.accept("}"):
        while True:
            name, _, _ = walk.value()
            if not isinstance(name, str):
                raise walk.error("malformed index: a split name must be a string")
            if name not in split_names:
                split_names.append(name)
            walk.expect(":")
            walk.expect("[")
            if not walk.accept("]"):
                while True:
                    info, start, end = walk.value()
                    where = walk.byte_offset(start)
                    if not isinstance(info, dict):
                        raise walk.error(f"split {name!r} holds a non-object at byte {where}")
                    starts.append(where)
                    ends.append(walk.byte_offset(end))
                    ids.append(_info_id(info, where, walk))
                    codes.append(split_names.index(name))
                    masks.append(_project_mask(info))
                    if not walk.accept(","):
                        break
                walk.expect("]")
            if not walk.accept(","):
                break
        walk.expect("}")
    if walk.skip_blanks():
        raise walk.error(f"malformed JSON: extra data at byte {walk.byte_offset(walk.pos)}")
    width = max([6, *map(len, ids)])
    return IndexArrays(
        starts=np.array(starts, dtype=np.int64),
        ends=np.array(ends, dtype=np.int64),
        ids=np.array(ids, dtype=f"<U{width}"),
        split_codes=np.array(codes, dtype=np.int16),
        project_masks=np.array(masks, dtype=np.uint8),
        split_names=tuple(split_names),
    )
