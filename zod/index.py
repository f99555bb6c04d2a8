"""The fast, lazy index of a sub-dataset: ``trainval-<subset>-<version>.json`` (spec §2).

The full Frames index holds ~100k info objects in ~300 MB of JSON; ``json.load`` plus building
every object takes many seconds. This module instead

1. maps the file and finds every top-level info object with vectorized numpy, 1 MiB chunks in
   threads. Fast path: brackets are found with three byte operations, and whether each lies
   inside a string comes from quote-parity bitmaps (the quote mask packed into 64-bit words,
   prefix-XOR in each word, running XOR across words); ids and project keys are then read next
   to the brackets (``{"id": "000123"``, ``"object_detection": {``: the bytes before each
   bracket gathered once as u64 words, compared 8 bytes at a time). Robust path (files with
   backslashes, another key order or spacing): every string is located (escaped quotes
   recognised) and keys are matched by content. Both give the same arrays;
2. keeps, per info, its byte span, id, split code and a bitmask of annotated projects,
3. parses one info with ``json.loads`` only when it is accessed (and caches the result),
4. stores the arrays of step 2 in a small cache file (user cache dir), reused while the index
   file keeps its size, mtime and head/tail hash.

Nesting depth, counted after each bracket::

    {                       depth 1  (root object: split name -> list)
      "train": [            depth 2  (split list)
        {                   depth 3  (one info object)  <- spans kept here
          "annotations": {  depth 4  (project name -> annotation file)
          ...

The scan checks bracket balance and quote pairing only; a malformed info object is reported
(``FormatError``) when that info is parsed.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zod._atomic import atomic_path
from zod.constants import BLACKLISTED, TRAIN, VAL, AnnotationProject
from zod.errors import FormatError, MissingFileError

if TYPE_CHECKING:
    from zod.info import Information

CACHE_VERSION = 1
_QUOTE, _BACKSLASH = 0x22, 0x5C
_OPEN_BRACE, _OPEN_BRACKET = 0x7B, 0x5B

# Bit i of a project mask <=> PROJECTS[i] is annotated.
PROJECTS: tuple[AnnotationProject, ...] = tuple(AnnotationProject)
_PROJECT_BIT = {p: 1 << i for i, p in enumerate(PROJECTS)}


def snake_case(key: str) -> str:
    """``keyframeTime`` -> ``keyframe_time`` (snake_case keys pass through unchanged)."""
    if key.islower() or not any(c.isupper() for c in key):
        return key
    out = []
    for i, c in enumerate(key):
        if c.isupper():
            if i and key[i - 1] != "_":
                out.append("_")
            out.append(c.lower())
        else:
            out.append(c)
    return "".join(out)


def camel_case(key: str) -> str:
    """``keyframe_time`` -> ``keyframeTime``."""
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


# Project names as keys of ``annotations`` in either key case.
_PROJECT_KEY_BIT = {}
for _p in PROJECTS:
    _PROJECT_KEY_BIT[_p.value.encode()] = _PROJECT_BIT[_p]
    _PROJECT_KEY_BIT[camel_case(_p.value).encode()] = _PROJECT_BIT[_p]


class OldIndexFileError(MissingFileError):
    """The index file is missing but an old, underscore-named one (zod < 0.2) is present."""

    def __init__(self, path: str | os.PathLike[str], old_path: str | os.PathLike[str]) -> None:
        super().__init__(path, "index file", "zod download --infos")
        self.old_path = str(old_path)
        message = (
            f"index file {self.path} is not on disk, but {self.old_path} is: that is the old "
            "underscore-named index of devkit releases before 0.2, whose format this devkit does "
            "not read. Download the current index files with `zod download --infos` (they are "
            f"named {Path(self.path).name}) or read the old files with zod<0.2."
        )
        self.args = (message,)


def index_file_path(
    dataset_root: str | os.PathLike[str], file_name: str, what: str = "index file"
) -> Path:
    """Path of an index file that must exist; explains an old underscore name if one is found."""
    path = Path(dataset_root) / file_name
    if path.is_file():
        return path
    old = path.with_name(file_name.replace("-", "_"))
    if old.is_file():
        raise OldIndexFileError(path, old)
    raise MissingFileError(path, what, "zod download --infos (or the mini archive)")


# ----------------------------------------------------------------------------------------------
# The scan


@dataclass
class IndexArrays:
    """Per-info arrays of one index file, in file order (n infos)."""

    starts: np.ndarray  # (n,) int64, byte offset of the info's '{'
    ends: np.ndarray  # (n,) int64, byte offset one past the info's '}'
    ids: np.ndarray  # (n,) str, six-digit zero-padded ids
    split_codes: np.ndarray  # (n,) int16, index into split_names
    project_masks: np.ndarray  # (n,) uint8, bit i <=> PROJECTS[i] annotated
    split_names: tuple[str, ...]


_CHUNK = 1 << 20
_KEYS = (b"id", b"annotations", *_PROJECT_KEY_BIT)
_KEY_LENGTHS = {len(k) for k in _KEYS}
# (length, first byte) of the keys the scan looks for: a cheap filter of all strings
_KEY_CODE_OK = np.zeros((max(_KEY_LENGTHS) + 2) * 256, dtype=bool)
for _k in _KEYS:
    _KEY_CODE_OK[len(_k) * 256 + _k[0]] = True


_buffers = threading.local()


def _chunk_marks(
    data: np.ndarray, start: int, escapes: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase 1 of one chunk: positions (int32, chunk-relative) of quotes and brackets, their
    bytes, and which are string-delimiting quotes (escaped quotes removed)."""
    chunk = data[start : start + _CHUNK]
    n = chunk.size
    bufs = getattr(_buffers, "arrays", None)
    if bufs is None or bufs[0].size < n:  # per-thread scratch, reused: no page faults per chunk
        bufs = _buffers.arrays = (
            np.empty(_CHUNK, np.uint8),
            np.empty(_CHUNK, bool),
            np.empty(_CHUNK, bool),
        )
    folded, mask, other = bufs
    # brackets: c - '[' is 0x00, 0x02, 0x20 or 0x22 for '[', ']', '{', '}' and only for them
    np.subtract(chunk, _OPEN_BRACKET, out=folded[:n])
    np.bitwise_and(folded[:n], 0xDD, out=folded[:n])
    np.equal(folded[:n], 0, out=mask[:n])
    np.equal(chunk, _QUOTE, out=other[:n])
    mask[:n] |= other[:n]
    local = np.flatnonzero(mask[:n]).astype(np.int32)
    chars = chunk[local]
    is_quote = chars == _QUOTE
    if escapes and is_quote.any():
        for k in np.flatnonzero(is_quote).tolist():  # a backslash run of odd length escapes
            p, run = start + int(local[k]) - 1, 0
            while p >= 0 and data[p] == _BACKSLASH:
                run += 1
                p -= 1
            if run % 2:
                is_quote[k] = False
        keep = is_quote | (chars != _QUOTE)
        local, chars, is_quote = local[keep], chars[keep], is_quote[keep]
    return local, chars, is_quote


def _chunked_scan(
    data: np.ndarray,
    escapes: bool,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scan the bytes 1 MiB at a time (in cache, no file-sized temporaries), chunks in threads.

    Returns the brackets outside strings (positions, bytes) and the strings whose (length,
    first byte) may be one of ``_KEYS`` (opening and closing quote positions). Phase 1 marks
    each chunk independently; a cheap sequential pass carries the quote parity (and the string
    left open) from chunk to chunk; phase 2 splits each chunk's marks into brackets and strings.
    """
    starts = list(range(0, data.size, _CHUNK))
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if data.size > 8 * _CHUNK else 1
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        run = pool.map if pool is not None else map
        marks = list(run(lambda st: _chunk_marks(data, st, escapes), starts))
        parities, pendings = [], []
        parity, pending = 0, -1
        for st, (local, _, is_quote) in zip(starts, marks):
            parities.append(parity)
            pendings.append(pending)
            count = int(np.count_nonzero(is_quote))
            if count:
                last_quote = st + int(local[np.flatnonzero(is_quote)[-1]])
                parity = (parity + count) % 2
                if parity:
                    pending = last_quote
        if parity:
            raise FormatError(None, "unbalanced quotes")
        max_len = max(_KEY_LENGTHS)

        def split(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            local, chars, is_quote = marks[k]
            st, parity_in = starts[k], parities[k]
            before = np.cumsum(is_quote, dtype=np.int32)
            before -= is_quote
            outside = ~is_quote & ((before + parity_in) % 2 == 0)
            struct = local[outside].astype(np.int64) + st
            quotes = local[is_quote].astype(np.int64) + st
            if parity_in:
                quotes = np.concatenate(([pendings[k]], quotes))
            if quotes.size % 2:
                quotes = quotes[:-1]  # its string closes in a later chunk
            opens, closes = quotes[0::2], quotes[1::2]
            length = np.minimum(closes - opens - 1, max_len + 1)
            short = _KEY_CODE_OK[length * 256 + data[np.minimum(opens + 1, data.size - 1)]]
            return struct, chars[outside], opens[short], closes[short]

        parts = list(run(split, range(len(starts))))
    finally:
        if pool is not None:
            pool.shutdown()
    cat = lambda i, dtype: np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype)
    return cat(0, np.int64), cat(1, np.uint8), cat(2, np.int64), cat(3, np.int64)


def _has_backslash(buffer: Any) -> bool:
    """Whether the buffer holds any backslash (memchr speed)."""
    return (buffer.find(b"\\") if hasattr(buffer, "find") else bytes(buffer).find(b"\\")) >= 0


def _next_byte_after_blanks(data: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First non-blank byte at or after each position, and where it is."""
    pos = np.minimum(after.astype(np.int64), data.size - 1)
    byte = data[pos]
    for _ in range(16):  # compact or indented JSON: a few blanks at most
        blank = (byte == 0x20) | (byte == 0x0A) | (byte == 0x0D) | (byte == 0x09)
        if not blank.any():
            break
        pos[blank] = np.minimum(pos[blank] + 1, data.size - 1)
        byte = data[pos]
    return byte, pos


@dataclass
class _Scan:
    """Intermediate arrays of one scan (positions are byte offsets)."""

    data: np.ndarray
    s_open: np.ndarray  # opening quote of the short strings (lengths in _KEY_LENGTHS)
    s_close: np.ndarray  # their closing quote
    struct: np.ndarray  # brackets outside strings
    chars: np.ndarray  # their bytes
    depth_after: np.ndarray  # nesting depth after each bracket
    _closing: dict[int, np.ndarray] = field(default_factory=dict)  # depth -> bracket indices

    def depth_at(self, positions: np.ndarray) -> np.ndarray:
        j = np.searchsorted(self.struct, positions)
        return np.where(j > 0, self.depth_after[np.maximum(j - 1, 0)], 0)

    def keys(self, text: bytes, depth: int) -> np.ndarray:
        """Closing-quote positions of the keys ``"text":`` at nesting ``depth``."""
        first = self.s_open[self.s_close - self.s_open - 1 == len(text)] + 1
        for offset, byte in enumerate(text):
            first = first[self.data[first + offset] == byte]
        close = first + len(text)
        close = close[self.depth_at(close) == depth]
        byte, _ = _next_byte_after_blanks(self.data, close + 1)
        return close[byte == 0x3A]

    def value_start(self, key_close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first byte of each key's value and its position."""
        _, colon = _next_byte_after_blanks(self.data, key_close + 1)
        return _next_byte_after_blanks(self.data, colon + 1)

    def object_value(self, key_close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For keys: which have an object value, and that object's first and last byte."""
        byte, at = self.value_start(key_close)
        ok = byte == _OPEN_BRACE
        j = np.searchsorted(self.struct, at[ok])
        level = self.depth_after[j] - 1  # the depth after the matching '}'
        ends = np.empty(j.size, dtype=np.int64)
        for d in np.unique(level).tolist():  # few distinct depths
            closing = self._closing.get(d)
            if closing is None:
                closing = self._closing[d] = np.flatnonzero(self.depth_after == d)
            sel = level == d
            ends[sel] = self.struct[closing[np.searchsorted(closing, j[sel])]]
        return ok, at[ok], ends


_U64_SHIFTS = tuple(np.uint64(k) for k in (1, 2, 4, 8, 16, 32))
_POPCOUNT = getattr(np, "bitwise_count", None)  # numpy >= 2.0; else prefix XOR by shifts


def _bracket_chunk(data: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Fast path, one chunk: bracket positions (global), whether each is inside a string as
    seen from the chunk start (to be flipped if the chunk starts inside one), the chunk's
    quote parity."""
    chunk = data[start : start + _CHUNK]
    n = chunk.size
    padded = -(-n // 64) * 64
    bufs = getattr(_buffers, "arrays", None)
    if bufs is None or bufs[0].size < padded:
        size = max(_CHUNK, padded)
        bufs = _buffers.arrays = (
            np.empty(size, np.uint8),
            np.zeros(size, bool),
            np.zeros(size, bool),
        )
    folded, mask, other = bufs
    mask, other = mask[:padded], other[:padded]
    np.subtract(chunk, _OPEN_BRACKET, out=folded[:n])  # see _chunk_marks
    np.bitwise_and(folded[:n], 0xDD, out=folded[:n])
    np.equal(folded[:n], 0, out=mask[:n])
    np.equal(chunk, _QUOTE, out=other[:n])
    mask[n:] = False  # the tail of a short last chunk
    other[n:] = False
    local = np.flatnonzero(mask)
    words = np.packbits(other, bitorder="little").view("<u8")
    w, bit = local >> 6, (local & 63).astype(np.uint64)
    if _POPCOUNT is not None:  # quotes below each bracket in its word: popcount of the low bits
        parity = (_POPCOUNT(words) & 1).astype(np.uint8)
        below = words[w] & ((np.uint64(1) << bit) - np.uint64(1))
        in_word = (_POPCOUNT(below) & 1).astype(np.uint8)
    else:
        for shift in _U64_SHIFTS:  # bit i := xor of the quote bits 0..i of its word
            words ^= words << shift
        parity = (words >> _U64_SHIFTS[-1] >> np.uint64(31)).astype(np.uint8)  # bit 63 of each word
        in_word = (words[w] >> bit).astype(np.uint8) & 1
    carry = np.bitwise_xor.accumulate(parity)
    carry_before = carry ^ parity  # xor of the words before
    inside = in_word ^ carry_before[w]
    local += start
    return local, inside.astype(bool), int(carry[-1]) if carry.size else 0


def _fast_brackets(data: np.ndarray, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Brackets outside strings, for files without backslashes (no escaped quotes).

    Quote parity as bitmaps (the simdjson idea): per chunk, the quote mask is packed into
    64-bit words, a prefix XOR inside each word (6 shift-xor steps) and a running XOR of the
    word parities give "inside a string" for every byte; only the brackets' bits are looked
    up, and a chunk that starts inside a string flips its answers. No per-quote array is built.
    """
    if _CHUNK % 64:
        raise ValueError("chunk size must be a multiple of 64")
    starts = list(range(0, data.size, _CHUNK))
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if data.size > 8 * _CHUNK else 1
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda st: _bracket_chunk(data, st), starts))
    else:
        parts = [_bracket_chunk(data, st) for st in starts]
    kept, carry = [], 0
    for positions, inside, parity in parts:
        kept.append(positions[inside == bool(carry)])  # outside a string given the carry-in
        carry ^= parity
    if carry:
        raise FormatError(None, "unbalanced quotes")
    struct = np.concatenate(kept) if kept else np.empty(0, np.int64)
    return struct, data[struct]


def _u64_view(data: np.ndarray) -> np.ndarray:
    """The bytes as aligned little-endian u64 words (a trailing partial word is left out)."""
    return data[: data.size // 8 * 8].view("<u8")


def _lane_pattern(text: bytes, lanes: int) -> list[tuple[int, int]]:
    """``text`` right-aligned in ``lanes`` u64 words: (value, byte mask) per word."""
    pad = 8 * lanes - len(text)
    value, mask = bytes(pad) + text, bytes(pad) + b"\xff" * len(text)
    return [
        (
            int.from_bytes(value[8 * k : 8 * k + 8], "little"),
            int.from_bytes(mask[8 * k : 8 * k + 8], "little"),
        )
        for k in range(lanes)
    ]


def _tail_words(words: np.ndarray, ends: np.ndarray, lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, lanes) u64: the ``8 * lanes`` bytes just before each of ``ends`` (little-endian, any
    alignment), and whether those bytes are inside the words.

    One ``np.take`` of ``lanes + 1`` aligned words per row (neighbours in one cache line) and
    shifts: scattered reads over a big map are what costs (a stride-1 u64 view gathers
    several times slower), so callers gather once and compare many patterns.
    """
    out = np.zeros((ends.size, lanes), dtype=np.uint64)
    first = ends - 8 * lanes
    valid = (first >= 0) & (ends <= 8 * words.size - 8)
    if words.size < lanes + 1:
        return out, np.zeros(ends.size, dtype=bool)
    first = np.clip(first, 0, 8 * (words.size - lanes - 1))
    q = first >> 3
    right = (first & 7).astype(np.uint64) << np.uint64(3)
    left = np.uint64(56) - right  # then 8 more: a shift by 64 is not defined
    aligned = np.take(words, q[:, None] + np.arange(lanes + 1))  # one pass: same cache lines
    right, left = right[:, None], left[:, None]
    out[:] = (aligned[:, :-1] >> right) | (aligned[:, 1:] << left << np.uint64(8))
    return out, valid


def _tail_matches(tails: np.ndarray, text: bytes) -> np.ndarray:
    """Which rows of ``_tail_words`` end with ``text`` (len(text) <= 8 * lanes)."""
    lanes = tails.shape[1]
    ok = np.ones(tails.shape[0], dtype=bool)
    for k, (value, mask) in enumerate(_lane_pattern(text, lanes)):
        if mask == 0:
            continue
        word = tails[:, k] if mask == (1 << 64) - 1 else tails[:, k] & np.uint64(mask)
        ok &= word == np.uint64(value)
    return ok


def _fast_ids(data: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """Ids when every info opens with its id: ``{"id": "000123"`` or ``{"id":"000123"``."""
    if starts.size == 0:
        return np.empty(0, dtype="<U6")
    tails, valid = _tail_words(_u64_view(data), starts + 16, 2)  # the info's first 16 bytes
    head = tails.view(np.uint8).reshape(-1, 16)
    if not valid.all():
        return None
    digits = np.zeros((starts.size, 6), dtype=np.uint8)
    found = np.zeros(starts.size, dtype=bool)
    for text in (b'{"id": "', b'{"id":"'):
        at = len(text)
        ok = (
            ~found
            & (head[:, :at] == np.frombuffer(text, np.uint8)).all(axis=1)
            & (head[:, at + 6] == _QUOTE)
        )
        digits[ok] = head[ok, at : at + 6]
        found |= ok
    if not (found.all() and ((digits >= 0x30) & (digits <= 0x39)).all()):
        return None
    return digits.view("S6").ravel().astype("<U6")


def _fast_projects(
    data: np.ndarray,
    struct: np.ndarray,
    tag: np.ndarray,
    depth_after: np.ndarray,
    starts: np.ndarray,
) -> np.ndarray | None:
    """Project bitmasks when each info has an ``"annotations": {...}`` object whose entries are
    all known projects with object values (the 24 bytes before each ``{``, gathered once, are
    compared with every ``"key": `` / ``"key":``, 8 bytes per operation)."""
    masks = np.zeros(starts.size, dtype=np.uint8)
    if starts.size == 0:
        return masks
    words = _u64_view(data)
    j4 = np.flatnonzero(tag == _tag(4, _OPEN_BRACE))
    at4 = struct[j4]
    # cheap one-byte filter first: the 'n' of "...ns": (not "camera_frames", "lidar_frames")
    j4 = j4[(data[np.maximum(at4 - 5, 0)] == 0x6E) | (data[np.maximum(at4 - 4, 0)] == 0x6E)]
    tails, valid = _tail_words(words, struct[j4], 2)
    is_anno = valid & (
        _tail_matches(tails, b'"annotations": ') | _tail_matches(tails, b'"annotations":')
    )
    j_anno = j4[is_anno]
    owner = np.searchsorted(starts, struct[j_anno]) - 1
    if j_anno.size != starts.size or not np.array_equal(owner, np.arange(starts.size)):
        return None  # an info without (or with an unusually written) annotations: robust path
    closing3 = np.flatnonzero(depth_after == 3)
    anno_end = struct[closing3[np.searchsorted(closing3, j_anno)]]
    at5 = struct[tag == _tag(5, _OPEN_BRACE)]
    span = np.searchsorted(struct[j_anno], at5) - 1
    inside = (span >= 0) & (at5 < anno_end[np.maximum(span, 0)])
    at5, span = at5[inside], span[inside]
    tails, valid = _tail_words(words, at5, 3)
    last = tails[:, -1]
    matched = np.zeros(at5.size, dtype=bool)
    for key, bit in _PROJECT_KEY_BIT.items():
        for sep in (b": ", b":"):
            text = b'"' + key + b'"' + sep  # 9 bytes or more: its last 8 fill the last word
            rows = np.flatnonzero(last == np.uint64(int.from_bytes(text[-8:], "little")))
            rows = rows[valid[rows] & _tail_matches(tails[rows], text)]
            masks[span[rows]] |= bit
            matched[rows] = True
    return masks if matched.all() else None


def _tags(chars: np.ndarray, depth_after: np.ndarray) -> np.ndarray:
    """Depth and bracket kind in one int32 per bracket (see ``_tag``): one comparison selects
    e.g. the '{' that open infos."""
    kind = ((chars >> 1) & 1) | ((chars >> 4) & 2)  # bit 0: opening ('[' '{'), bit 1: brace
    return (depth_after << 2) | kind


def _tag(depth_after: int, bracket: int) -> int:
    """``_tags`` value of a bracket byte with a given nesting depth after it."""
    return depth_after << 2 | ((bracket >> 1) & 1) | ((bracket >> 4) & 2)


def scan_index(
    buffer: bytes | mmap.mmap | memoryview,
    path: str | os.PathLike[str] | None = None,
    method: str = "auto",
) -> IndexArrays:
    """Locate the info objects of an index file held in ``buffer`` (see the module docstring).

    ``method``: ``"robust"`` finds every string (any key order, escapes, spacing); ``"fast"``
    finds brackets with quote-parity bitmaps and reads the keys next to them (files without
    backslashes, ids first, annotations present); ``"auto"`` tries fast and falls back to
    robust wherever the fast path's assumptions do not hold. Both give identical arrays.
    """
    data = np.frombuffer(buffer, dtype=np.uint8)
    escapes = _has_backslash(buffer)
    use_fast = method == "fast" or (method == "auto" and not escapes)
    if method == "fast" and escapes:
        raise ValueError("the fast scan does not handle backslashes")
    strings: tuple[np.ndarray, np.ndarray] | None = None
    try:
        if use_fast:
            struct, chars = _fast_brackets(data)
        else:
            struct, chars, s_open, s_close = _chunked_scan(data, escapes)
            strings = (s_open, s_close)
    except FormatError:
        raise FormatError(path, _json_problem(buffer, "unbalanced quotes")) from None
    # '[' '{' have bit 1 set, ']' '}' not: +1 / -1 without a full-size int64 temporary
    depth_after = np.cumsum((chars & 2).view(np.int8) - 1, dtype=np.int32)
    if (
        struct.size == 0
        or chars[0] != _OPEN_BRACE
        or depth_after[-1] != 0
        or (depth_after[:-1] <= 0).any()
    ):
        raise FormatError(path, _json_problem(buffer, "not a JSON object of split lists"))

    tag = _tags(chars, depth_after)
    starts = struct[tag == _tag(3, _OPEN_BRACE)]
    ends = struct[tag == _tag(2, 0x7D)] + 1
    if starts.size != ends.size:
        raise FormatError(path, _json_problem(buffer, "info objects are not balanced"))

    # split lists: '[' at depth 2; the key is the string before the ':' before the bracket
    list_pos = struct[tag == _tag(2, _OPEN_BRACKET)]
    list_end = struct[tag == _tag(1, 0x5D)]
    split_names: list[str] = []
    list_codes = np.empty(list_pos.size, dtype=np.int16)
    for k, p in enumerate(list_pos.tolist()):
        head = bytes(buffer[max(0, p - 200) : p])
        m = re.search(rb'"([^"]*)"\s*:\s*$', head)
        name = m.group(1).decode() if m else "?"
        if name not in split_names:
            split_names.append(name)
        list_codes[k] = split_names.index(name)
    which_list = np.searchsorted(list_pos, starts) - 1
    if starts.size and (
        (which_list < 0).any() or (starts > list_end[np.maximum(which_list, 0)]).any()
    ):
        raise FormatError(path, "info objects found outside the split lists")
    split_codes = list_codes[which_list] if starts.size else np.empty(0, dtype=np.int16)

    ids = masks = None
    if use_fast:
        ids = _fast_ids(data, starts)
        masks = _fast_projects(data, struct, tag, depth_after, starts) if ids is not None else None
        if (ids is None or masks is None) and method == "fast":
            raise ValueError("the fast scan's layout assumptions do not hold for this file")
    if ids is None or masks is None:
        if strings is None:
            _, _, s_open, s_close = _chunked_scan(data, escapes)
            strings = (s_open, s_close)
        scan = _Scan(data, strings[0], strings[1], struct, chars, depth_after)
        ids = _scan_ids(scan, buffer, path, starts)
        masks = _scan_projects(scan, starts)
    return IndexArrays(starts, ends, ids, split_codes, masks, tuple(split_names))


def _scan_ids(scan: _Scan, buffer: Any, path: Any, starts: np.ndarray) -> np.ndarray:
    """The ``id`` of every info: the string (or number) after its depth-3 key ``"id"``."""
    keys = scan.keys(b"id", 3)
    owner = np.searchsorted(starts, keys) - 1
    ids = np.full(starts.size, "", dtype="<U6")
    byte, at = scan.value_start(keys)
    digits = scan.data[np.minimum(at[:, None] + np.arange(1, 8), scan.data.size - 1)]
    six = (
        (byte == _QUOTE)
        & (digits[:, 6] == _QUOTE)
        & ((digits[:, :6] >= 0x30) & (digits[:, :6] <= 0x39)).all(axis=1)
    )
    if six.any():
        ids[owner[six]] = np.ascontiguousarray(digits[six, :6]).view("S6").ravel().astype("<U6")
    rest = np.flatnonzero(~six)
    if rest.size:  # numeric ids or other widths: parse those one by one
        values = []
        for k in rest.tolist():
            m = re.compile(rb'"?([0-9]+)').match(bytes(buffer[int(at[k]) : int(at[k]) + 64]))
            if m is None:
                raise FormatError(
                    path, f"info object at byte {int(starts[owner[k]])} has an invalid id"
                )
            values.append(m.group(1).decode().zfill(6))
        width = max(6, max(len(v) for v in values))
        ids = ids.astype(f"<U{width}")
        ids[owner[rest]] = values
    missing = np.flatnonzero(ids == "")
    if missing.size:
        raise FormatError(path, f'info object at byte {int(starts[missing[0]])} has no "id" key')
    return ids


def _scan_projects(scan: _Scan, starts: np.ndarray) -> np.ndarray:
    """Bitmask of the projects listed (with an object value) under each info's ``annotations``."""
    masks = np.zeros(starts.size, dtype=np.uint8)
    _, anno_start, anno_end = scan.object_value(scan.keys(b"annotations", 3))
    if anno_start.size == 0:
        return masks
    for key, bit in _PROJECT_KEY_BIT.items():
        k = scan.keys(key, 4)
        has_obj, _, _ = scan.object_value(k)
        at = k[has_obj]
        span = np.searchsorted(anno_start, at) - 1
        inside = (span >= 0) & (at < anno_end[np.maximum(span, 0)])
        masks[np.searchsorted(starts, at[inside]) - 1] |= bit
    return masks


def _json_problem(buffer: Any, fallback: str) -> str:
    """Describe why a buffer is not valid JSON (json's own message with line and column)."""
    try:
        json.loads(bytes(buffer))
    except json.JSONDecodeError as err:
        return f"malformed JSON: {err}"
    except (UnicodeDecodeError, ValueError) as err:
        return f"malformed JSON: {err}"
    return fallback


# ----------------------------------------------------------------------------------------------
# The cache


def cache_dir() -> Path:
    """Where index caches live: ``$ZOD_CACHE_DIR``, else ``$XDG_CACHE_HOME/zod-devkit``, else ``~/.cache/zod-devkit``."""
    env = os.environ.get("ZOD_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zod-devkit"


def _file_key(path: Path, buffer: Any) -> str:
    """Size + mtime + a hash of the first and last 64 KiB: changes whenever the file does."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{CACHE_VERSION}:{stat.st_size}:{stat.st_mtime_ns}:".encode())
    digest.update(buffer[:65536])
    digest.update(buffer[-65536:])
    return digest.hexdigest()


def _cache_path(path: Path) -> Path:
    name = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:20]
    return cache_dir() / f"index-{name}.npz"


def _load_cache(cache: Path, key: str) -> IndexArrays | None:
    try:
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            return IndexArrays(
                z["starts"],
                z["ends"],
                z["ids"],
                z["split_codes"],
                z["project_masks"],
                tuple(z["split_names"].tolist()),
            )
    except (OSError, KeyError, ValueError):
        return None


def _save_cache(cache: Path, key: str, arrays: IndexArrays) -> None:
    try:
        with atomic_path(cache) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                key=np.array(key),
                starts=arrays.starts,
                ends=arrays.ends,
                ids=arrays.ids,
                split_codes=arrays.split_codes,
                project_masks=arrays.project_masks,
                split_names=np.array(arrays.split_names, dtype=str),
            )
    except OSError:  # a read-only home must not stop anyone from reading the dataset
        pass


# ----------------------------------------------------------------------------------------------
# The index


def _map_file(path: Path, populate: bool = False) -> mmap.mmap:
    """Read-only map of a file; ``populate`` maps every page up front (Linux MAP_POPULATE),
    cheaper than one page fault per few pages when all of it is read next."""
    with open(path, "rb") as f:
        if populate and hasattr(mmap, "MAP_POPULATE"):
            return mmap.mmap(
                f.fileno(), 0, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, prot=mmap.PROT_READ
            )
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class ZodIndex:
    """A lazily parsed index file: ids, splits and project flags up front, infos on access.

    ``dataset_root`` makes the infos' paths absolute (defaults to the index file's folder).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dataset_root: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> None:
        self.path = Path(path)
        self.dataset_root = str(dataset_root if dataset_root is not None else self.path.parent)
        if not self.path.is_file():
            index_file_path(self.path.parent, self.path.name)
        if self.path.stat().st_size == 0:
            raise FormatError(self.path, "the index file is empty")
        self._buffer = _map_file(self.path)
        arrays = None
        if use_cache:
            key = _file_key(self.path, self._buffer)
            cache = _cache_path(self.path)
            arrays = _load_cache(cache, key)
        if arrays is None:
            self._buffer.close()  # the scan reads every page: map them all in one call
            self._buffer = _map_file(self.path, populate=True)
            arrays = scan_index(self._buffer, self.path)
            if use_cache:
                _save_cache(cache, key, arrays)
        self._arrays = arrays
        self.ids: list[str] = arrays.ids.tolist()
        self._position = dict(zip(self.ids, range(len(self.ids))))
        self._infos: dict[str, Information] = {}

    # -- ids and splits --
    def __len__(self) -> int:
        return len(self._position)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._position

    def __iter__(self) -> Iterator[str]:
        """All ids in file order (blacklisted included)."""
        return iter(self._position)

    @property
    def split_names(self) -> tuple[str, ...]:
        return self._arrays.split_names

    def _split_mask(self, split: str) -> np.ndarray:
        if split not in self._arrays.split_names:
            return np.zeros(len(self.ids), dtype=bool)
        return self._arrays.split_codes == self._arrays.split_names.index(split)

    def split_ids(self, split: str, project: AnnotationProject | str | None = None) -> list[str]:
        """Ids of one split in file order, optionally only those annotated for ``project``."""
        mask = self._split_mask(split)
        if project is not None:
            mask = mask & (
                self._arrays.project_masks & _PROJECT_BIT[AnnotationProject(project)] > 0
            )
        return self._arrays.ids[mask].tolist()

    def trainval_ids(self) -> list[str]:
        """Train and val ids in file order (what iteration covers)."""
        mask = self._split_mask(TRAIN) | self._split_mask(VAL)
        return self._arrays.ids[mask].tolist()

    def split_of(self, item_id: str) -> str:
        return self._arrays.split_names[int(self._arrays.split_codes[self._position[item_id]])]

    def projects(self, item_id: str) -> list[AnnotationProject]:
        """Annotated projects of an item, read from the scan (no parse)."""
        mask = int(self._arrays.project_masks[self._position[item_id]])
        return [p for p in PROJECTS if mask & _PROJECT_BIT[p]]

    def project_counts(self, ids: Iterable[str] | None = None) -> dict[AnnotationProject, int]:
        masks = self._arrays.project_masks
        if ids is not None:
            masks = masks[[self._position[i] for i in ids]]
        return {p: int(np.count_nonzero(masks & _PROJECT_BIT[p])) for p in PROJECTS}

    @property
    def blacklisted_ids(self) -> list[str]:
        return self.split_ids(BLACKLISTED)

    # -- infos --
    def raw_bytes(self, item_id: str) -> bytes:
        """The JSON text of the info object of ``item_id``, as it is in the file."""
        k = self._position[item_id]
        return self._buffer[int(self._arrays.starts[k]) : int(self._arrays.ends[k])]

    def raw(self, item_id: str) -> dict[str, Any]:
        """The info object of ``item_id`` as parsed JSON (keys as in the file)."""
        k = self._position[item_id]
        start, end = int(self._arrays.starts[k]), int(self._arrays.ends[k])
        try:
            value = json.loads(self._buffer[start:end])
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise FormatError(
                self.path, f"info {item_id} (bytes {start}..{end}) is malformed JSON: {err}"
            ) from None
        if not isinstance(value, dict):
            raise FormatError(self.path, f"info {item_id} is not a JSON object")
        return value

    def info(self, item_id: str) -> Information:
        """The ``Information`` of ``item_id`` (parsed once, then cached)."""
        info = self._infos.get(item_id)
        if info is None:
            from zod.info import Information

            info = Information.from_dict(self.raw(item_id), self.dataset_root, source=self.path)
            self._infos[item_id] = info
        return info

    def close(self) -> None:
        self._buffer.close()

    # -- pickling (worker processes of DataLoader / Ray / spawn): the map is reopened --
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_buffer"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._buffer = _map_file(self.path)
