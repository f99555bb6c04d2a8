"""The byte scanner of an index file ``trainval-<subset>-<version>.json`` (spec §2).

The full Frames index holds ~100k info objects in ~300 MB of JSON; ``json.load`` plus building
every object takes many seconds. ``scan_index`` instead finds, with vectorized numpy over the
mapped bytes (1 MiB chunks in threads), every top-level info object and keeps per info its byte
span, id, split and a bitmask of annotated projects (``IndexArrays``); ``zod.index`` parses one
info with ``json.loads`` only when it is used.

Two scans give identical arrays:

- fast (files without backslashes): brackets are found with three byte operations, and
  whether each lies inside a string comes from quote-parity bitmaps (the quote mask packed
  into 64-bit words, prefix-XOR in each word, running XOR across words); ids and project keys
  are then read next to the brackets (``{"id": "000123"``, ``"object_detection": {``: the
  bytes before each bracket gathered once as u64 words, compared 8 bytes at a time);
- robust (backslashes, another key order or spacing): every string is located (escaped
  quotes recognised) and keys are matched by content.

``zod.index_reference`` walks the same file with the ``json`` module: readable and slow, it
defines what both scans must return (the tests check that they do).

Nesting depth, counted after each bracket::

    {                       depth 1  (root object: split name -> list)
      "train": [            depth 2  (split list)
        {                   depth 3  (one info object)  <- spans kept here
          "annotations": {  depth 4  (project name -> annotation file)
          ...

What the scan validates: quote pairing and bracket balance everywhere, and everything outside
the info objects exactly as JSON (the root object, split keys, commas, list brackets, nothing
but whitespace around them). The inside of an info is checked by ``json.loads`` when that info
is parsed (``FormatError`` then), so that a file the scan accepts fails exactly where
``json.load`` of the whole file would.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np

from zod.constants import AnnotationProject
from zod.errors import FormatError
from zod.keys import camel_case

IndexBuffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap
"""The bytes of an index file: read into memory or mapped."""

ScanMethod: TypeAlias = Literal["auto", "fast", "robust"]

_QUOTE, _BACKSLASH, _COMMA = 0x22, 0x5C, 0x2C
_OPEN_BRACE, _OPEN_BRACKET, _CLOSE_BRACE, _CLOSE_BRACKET = 0x7B, 0x5B, 0x7D, 0x5D
_BLANK = np.zeros(256, dtype=bool)  # JSON whitespace: space, tab, line feed, carriage return
_BLANK[[0x20, 0x09, 0x0A, 0x0D]] = True
_BLANK_OR_COMMA = _BLANK.copy()
_BLANK_OR_COMMA[_COMMA] = True

# Bit i of a project mask <=> PROJECTS[i] is annotated.
PROJECTS: tuple[AnnotationProject, ...] = tuple(AnnotationProject)
PROJECT_BIT: dict[AnnotationProject, int] = {p: 1 << i for i, p in enumerate(PROJECTS)}
PROJECT_KEY_BIT: dict[bytes, int] = {}
"""Project names as keys of ``annotations`` (snake_case and camelCase) -> bit."""
for _p in PROJECTS:
    PROJECT_KEY_BIT[_p.value.encode()] = PROJECT_BIT[_p]
    PROJECT_KEY_BIT[camel_case(_p.value).encode()] = PROJECT_BIT[_p]


@dataclass
class IndexArrays:
    """Per-info arrays of one index file, in file order (n infos)."""

    starts: np.ndarray  # (n,) int64, byte offset of the info's '{'
    ends: np.ndarray  # (n,) int64, byte offset one past the info's '}'
    ids: np.ndarray  # (n,) str, six-digit zero-padded ids (wider if the file has wider ones)
    split_codes: np.ndarray  # (n,) int16, index into split_names
    project_masks: np.ndarray  # (n,) uint8, bit i <=> PROJECTS[i] annotated
    split_names: tuple[str, ...]  # in order of first appearance in the file


# ----------------------------------------------------------------------------------------------
# Robust scan: every quote and bracket, strings located


_CHUNK = 1 << 20
_KEYS = (b"id", b"annotations", *PROJECT_KEY_BIT)
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
        quotes = np.flatnonzero(is_quote)
        escaped = _escaped(data, local[quotes].astype(np.int64) + start)
        if escaped.any():
            is_quote[quotes[escaped]] = False
            keep = is_quote | (chars != _QUOTE)
            local, chars, is_quote = local[keep], chars[keep], is_quote[keep]
    return local, chars, is_quote


def _escaped(data: np.ndarray, quotes: np.ndarray) -> np.ndarray:
    """Which of the quote positions ``quotes`` (n,) are escaped: preceded by a backslash run
    of odd length (the run is measured one step at a time for all candidates at once)."""
    run = np.zeros(quotes.size, dtype=np.int64)
    active = np.flatnonzero(quotes > 0)
    active = active[data[quotes[active] - 1] == _BACKSLASH]
    while active.size:
        run[active] += 1
        at = quotes[active] - run[active] - 1
        active = active[at >= 0]
        at = at[at >= 0]
        active = active[data[at] == _BACKSLASH]
    return run % 2 == 1


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

    def cat(i: int, dtype: type[np.generic]) -> np.ndarray:
        return np.concatenate([p[i] for p in parts]) if parts else np.empty(0, dtype)

    return cat(0, np.int64), cat(1, np.uint8), cat(2, np.int64), cat(3, np.int64)


def _has_backslash(buffer: IndexBuffer) -> bool:
    """Whether the buffer holds any backslash (memchr speed)."""
    if isinstance(buffer, memoryview):
        return bytes(buffer).find(b"\\") >= 0
    return buffer.find(b"\\") >= 0


def _next_byte_after_blanks(data: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First non-blank byte at or after each position (n,), and where it is (the last byte of
    ``data`` if only blanks follow)."""
    last = data.size - 1
    pos = np.minimum(after.astype(np.int64), last)
    byte = data[pos]
    todo = np.flatnonzero(_BLANK[byte] & (pos < last))
    while todo.size:  # compact or indented JSON: a few blanks at most, any number allowed
        pos[todo] += 1
        byte[todo] = data[pos[todo]]
        todo = todo[_BLANK[byte[todo]] & (pos[todo] < last)]
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
        for offset, char in enumerate(text):
            first = first[self.data[first + offset] == char]
        close = first + len(text)
        close = close[self.depth_at(close) == depth]
        after, _ = _next_byte_after_blanks(self.data, close + 1)
        return close[after == 0x3A]

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


# ----------------------------------------------------------------------------------------------
# Fast scan: quote-parity bitmaps, keys read next to the brackets


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
    for key, bit in PROJECT_KEY_BIT.items():
        for sep in (b": ", b":"):
            text = b'"' + key + b'"' + sep  # 9 bytes or more: its last 8 fill the last word
            rows = np.flatnonzero(last == np.uint64(int.from_bytes(text[-8:], "little")))
            rows = rows[valid[rows] & _tail_matches(tails[rows], text)]
            masks[span[rows]] |= bit
            matched[rows] = True
    return masks if matched.all() else None


# ----------------------------------------------------------------------------------------------
# Structure: depth, bracket kinds, the root object and split lists


def _tags(chars: np.ndarray, depth_after: np.ndarray) -> np.ndarray:
    """Depth and bracket kind in one int32 per bracket (see ``_tag``): one comparison selects
    e.g. the '{' that open infos."""
    kind = ((chars >> 1) & 1) | ((chars >> 4) & 2)  # bit 0: opening ('[' '{'), bit 1: brace
    return (depth_after << 2) | kind


def _tag(depth_after: int, bracket: int) -> int:
    """``_tags`` value of a bracket byte with a given nesting depth after it."""
    return depth_after << 2 | ((bracket >> 1) & 1) | ((bracket >> 4) & 2)


_ROOT_OPEN, _ROOT_CLOSE = _tag(1, _OPEN_BRACE), _tag(0, _CLOSE_BRACE)
_LIST_OPEN, _LIST_CLOSE = _tag(2, _OPEN_BRACKET), _tag(1, _CLOSE_BRACKET)
_INFO_OPEN, _INFO_CLOSE = _tag(3, _OPEN_BRACE), _tag(2, _CLOSE_BRACE)
# the only tags allowed between the root's braces at depth <= 2 and openings at depth 3
_TOP_OK = np.zeros(16, dtype=bool)
_TOP_OK[[_LIST_OPEN, _LIST_CLOSE, _INFO_OPEN, _INFO_CLOSE]] = True
_BOM = b"\xef\xbb\xbf"
_BLANKS = rb"[ \t\n\r]*"
# between the root '{' (or the ']' of a split list) and the next list's '[': the split key
_KEY_GAP = re.compile(
    _BLANKS + rb"(,)?" + _BLANKS + rb'("(?:[^"\\]|\\.)*")' + _BLANKS + rb":" + _BLANKS, re.S
)
_HEAD = re.compile(rb"(?:" + _BOM + rb")?" + _BLANKS)  # a UTF-8 byte order mark is accepted
_TAIL = re.compile(_BLANKS)


@dataclass
class _Layout:
    """The root object, split lists and info spans of a scanned file."""

    starts: np.ndarray  # (n,) int64, each info's '{'
    ends: np.ndarray  # (n,) int64, one past each info's '}'
    split_codes: np.ndarray  # (n,) int16
    split_names: tuple[str, ...]


def _layout(
    buffer: IndexBuffer,
    data: np.ndarray,
    struct: np.ndarray,
    tag: np.ndarray,
    path: str | os.PathLike[str] | None,
) -> _Layout:
    """Check everything outside the info objects as JSON does and find the infos and splits.

    The brackets of the root object, the split lists and the infos' own braces are few (two
    per info); between consecutive ones only whitespace, one comma (between infos) or a split
    key (``"train":``, after a comma from the second list on) may stand.
    """

    def fail(problem: str) -> FormatError:
        return FormatError(path, _json_problem(buffer, problem))

    top = np.flatnonzero((tag < 12) | ((tag | 2) == _INFO_OPEN))  # depth <= 2, or opening a 3
    kinds, where = tag[top], struct[top]
    if kinds[-1] != _ROOT_CLOSE or not _TOP_OK[kinds[1:-1]].all():
        raise fail("not a JSON object of split lists holding info objects")
    if _HEAD.fullmatch(bytes(buffer[: int(where[0])])) is None:
        raise fail("unexpected bytes before the root object")
    if _TAIL.fullmatch(bytes(buffer[int(where[-1]) + 1 :])) is None:
        raise fail("unexpected bytes after the root object")

    before, after = kinds[:-1], kinds[1:]
    lo, hi = where[:-1] + 1, where[1:]
    keyed = after == _LIST_OPEN  # gaps holding a split key, checked one by one (few)
    plain = ~keyed & (before != _INFO_OPEN)  # the inside of an info is json's job
    commas = (before == _INFO_CLOSE) & (after == _INFO_OPEN)
    if not _only_blanks_and_commas(data, lo[plain], hi[plain], commas[plain]):
        raise fail("expected one comma between infos and only whitespace around the lists")

    split_names: list[str] = []
    list_codes = []
    for k in np.flatnonzero(keyed).tolist():
        gap = bytes(buffer[int(lo[k]) : int(hi[k])])
        match = _KEY_GAP.fullmatch(gap)
        if match is None or (match.group(1) is None) != (before[k] == _ROOT_OPEN):
            raise fail(f"expected a split name before the list at byte {int(hi[k])}")
        try:
            name = json.loads(match.group(2))
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            problem = f"malformed split name before byte {int(hi[k])}: {err}"
            raise FormatError(path, problem) from None
        if name not in split_names:
            split_names.append(name)
        list_codes.append(split_names.index(name))

    info = kinds == _INFO_OPEN
    which_list = np.cumsum(kinds == _LIST_OPEN)[info] - 1
    return _Layout(
        starts=where[info],
        ends=where[kinds == _INFO_CLOSE] + 1,
        split_codes=np.array(list_codes, dtype=np.int16)[which_list],
        split_names=tuple(split_names),
    )


def _only_blanks_and_commas(
    data: np.ndarray, lo: np.ndarray, hi: np.ndarray, want_comma: np.ndarray
) -> bool:
    """Whether each byte range ``[lo, hi)`` (n,) holds whitespace only, with exactly one comma
    where ``want_comma`` (n,) and none elsewhere (all ranges' bytes gathered at once)."""
    lengths = hi - lo
    if lengths.size == 0:
        return True
    if (lengths < want_comma).any():
        return False
    offsets = np.cumsum(lengths) - lengths  # where each range starts in the gathered bytes
    gathered = data[np.arange(int(lengths.sum())) + np.repeat(lo - offsets, lengths)]
    if not _BLANK_OR_COMMA[gathered].all():
        return False
    comma_count = np.concatenate(([0], np.cumsum(gathered == _COMMA)))
    return bool(np.array_equal(comma_count[offsets + lengths] - comma_count[offsets], want_comma))


def scan_index(
    buffer: IndexBuffer,
    path: str | os.PathLike[str] | None = None,
    method: ScanMethod = "auto",
) -> IndexArrays:
    """Locate the info objects of an index file held in ``buffer`` (see the module docstring).

    ``method``: ``"robust"`` finds every string (any key order, escapes, spacing); ``"fast"``
    finds brackets with quote-parity bitmaps and reads the keys next to them (files without
    backslashes, ids first, annotations present; ``ValueError`` where that does not hold);
    ``"auto"`` tries fast and falls back to robust wherever the fast path's assumptions do not
    hold. All give identical arrays. ``FormatError`` (naming ``path``) for a malformed file.
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
    layout = _layout(buffer, data, struct, tag, path)
    starts = layout.starts

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
    return IndexArrays(starts, layout.ends, ids, layout.split_codes, masks, layout.split_names)


# ----------------------------------------------------------------------------------------------
# Robust reading of ids and projects (any key order and spacing)

# the value of an "id" key: a string of digits or a non-negative integer
_ID_VALUE = re.compile(rb'"([0-9]+)"|([0-9]+)(?=[ \t\n\r,}])')


def _scan_ids(
    scan: _Scan, buffer: IndexBuffer, path: str | os.PathLike[str] | None, starts: np.ndarray
) -> np.ndarray:
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
            value = bytes(buffer[int(at[k]) : int(at[k]) + 64])
            m = _ID_VALUE.match(value)
            if m is None:
                raise FormatError(
                    path, f"info object at byte {int(starts[owner[k]])} has an invalid id"
                )
            values.append((m.group(1) or m.group(2)).decode().zfill(6))
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
    for key, bit in PROJECT_KEY_BIT.items():
        k = scan.keys(key, 4)
        has_obj, _, _ = scan.object_value(k)
        at = k[has_obj]
        span = np.searchsorted(anno_start, at) - 1
        inside = (span >= 0) & (at < anno_end[np.maximum(span, 0)])
        masks[np.searchsorted(starts, at[inside]) - 1] |= bit
    return masks


def _json_problem(buffer: IndexBuffer, fallback: str) -> str:
    """Describe why a buffer is not valid JSON (json's own message with line and column)."""
    try:
        json.loads(bytes(buffer))
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        return f"malformed JSON: {err}"
    return fallback
