"""The index scans agree: fast, robust and auto against the json-module reference walk.

On the generated sample's index files, on synthetic indexes (hypothesis: random ids, key
order, whitespace, escaped and unicode strings, camelCase keys, a blacklisted split, repeated
split names) and on mutated ones (truncated, one byte replaced, dropped or inserted). For a
mutated file, either the reference raises ``FormatError`` and the devkit does too (when
scanning, or when the broken info is parsed, as ``ZodIndex.raw`` does), both naming the file,
or both accept it and every array is the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from zod.constants import AnnotationProject
from zod.errors import FormatError
from zod.index import ZodIndex, camel_case, scan_index
from zod.index_reference import reference_scan
from zod.index_scan import IndexArrays

PATH = "/data/trainval-frames-full.json"  # the name every error must carry
BITS = {p.value: 1 << i for i, p in enumerate(AnnotationProject)}
BITS.update({camel_case(k): v for k, v in list(BITS.items())})


def _same(a: IndexArrays, b: IndexArrays) -> None:
    assert a.ids.tolist() == b.ids.tolist()
    assert a.split_names == b.split_names
    assert a.split_codes.tolist() == b.split_codes.tolist()
    assert a.project_masks.tolist() == b.project_masks.tolist()
    assert a.starts.tolist() == b.starts.tolist()
    assert a.ends.tolist() == b.ends.tolist()


def _devkit(raw: bytes, method: str) -> IndexArrays | FormatError | None:
    """What the devkit makes of a file: its arrays, or the ``FormatError`` raised when scanning
    or when parsing one of its infos (``ZodIndex.raw``'s ``json.loads``); None when the fast
    scan declines the file (``ValueError``: ``auto`` then takes the robust path)."""
    try:
        arrays = scan_index(raw, PATH, method)  # type: ignore[arg-type]
    except FormatError as err:
        return err
    except ValueError:
        assert method == "fast"
        return None
    for start, end in zip(arrays.starts.tolist(), arrays.ends.tolist()):
        try:
            value = json.loads(raw[start:end])
        except ValueError as err:
            return FormatError(PATH, str(err))
        assert isinstance(value, dict)  # the scan only keeps '{'...'}' spans
    return arrays


def check_agreement(raw: bytes) -> IndexArrays | None:
    """All scans agree with the reference on ``raw``; the reference's arrays (None if the file
    is rejected)."""
    try:
        expected: IndexArrays | None = reference_scan(raw, PATH)
    except FormatError as err:
        assert PATH in str(err)
        expected = None
    for method in ("robust", "auto", "fast"):
        got = _devkit(raw, method)
        if got is None:
            continue
        if expected is None:
            assert isinstance(got, FormatError), f"{method} accepts what json rejects"
            assert PATH in str(got)
        else:
            assert isinstance(got, IndexArrays), f"{method}: {got}"
            _same(got, expected)
    return expected


# ----------------------------------------------------------------------------------------------
# The sample generator's index files


def _mask(annotations: dict[str, Any]) -> int:
    """Bits of the known project keys with an object value (either key case: one bit)."""
    mask = 0
    for key, value in annotations.items():
        if key in BITS and isinstance(value, dict):
            mask |= BITS[key]
    return mask


def _expected_from_json(data: dict[str, list[dict[str, Any]]]) -> tuple[list, list, list]:
    ids, splits, masks = [], [], []
    for split, infos in data.items():
        for info in infos:
            ids.append(str(info["id"]).zfill(6))
            splits.append(split)
            annotations = info.get("annotations") or {}
            masks.append(_mask(annotations))
    return ids, splits, masks


def test_sample_indexes_agree(sample_root: Path) -> None:
    paths = sorted(sample_root.glob("trainval-*.json"))
    assert len(paths) == 6
    saw_blacklisted = False
    for path in paths:
        raw = path.read_bytes()
        expected = check_agreement(raw)
        assert expected is not None
        assert scan_index(raw, method="fast") is not None  # the generator's layout is the fast one
        data = json.loads(raw)
        ids, splits, masks = _expected_from_json(data)
        assert expected.ids.tolist() == ids
        assert [expected.split_names[c] for c in expected.split_codes] == splits
        assert expected.project_masks.tolist() == masks
        infos = [info for split in data.values() for info in split]
        for k, info in enumerate(infos):  # each span is exactly that info
            assert json.loads(raw[expected.starts[k] : expected.ends[k]]) == info
        saw_blacklisted |= "blacklisted" in expected.split_names
        index = ZodIndex(path, sample_root, use_cache=False)
        assert [index.raw(i) for i in index.ids] == infos
    assert saw_blacklisted


# ----------------------------------------------------------------------------------------------
# Synthetic indexes

_TRICKY = list('ab09 {}[]":,\\/\n\t\x01éß€😀\u2028')  # brackets, quotes, escapes, unicode
_TEXT = st.text(
    alphabet=st.sampled_from(_TRICKY) | st.characters(exclude_categories=("Cs",)), max_size=12
)
_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_KEY = st.sampled_from(["id", "annotations", "object_detection", "egoRoad", "x"]) | _TEXT
_JSON = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY, inner, max_size=3),
    max_leaves=6,
)
_PROJECT_KEYS = sorted(BITS)


@st.composite
def _info(draw: st.DrawFn, item_id: int, camel: bool) -> dict[str, Any]:
    """One info object with ``item_id``: projects (object, null or other values, known or
    not), extra keys with any JSON, keys in random order."""
    width = draw(st.sampled_from([6, 6, 6, 7]))
    id_value: str | int = draw(st.sampled_from([f"{item_id:0{width}d}", item_id]))
    fields: dict[str, Any] = {"id": id_value}
    if draw(st.integers(0, 5)):  # mostly an annotations object
        annotations: dict[str, Any] = {}
        for key in draw(st.lists(st.sampled_from(_PROJECT_KEYS + ["future_project"]), unique=True)):
            entry = {"filepath": f"single_frames/{item_id:06d}/annotations/{key}.json"}
            annotations[key] = draw(st.sampled_from([entry, entry, None, "x", [entry]]))
        fields["annotations"] = annotations
    else:
        fields["annotations"] = draw(st.sampled_from([None, [], "none"]))
    for key, value in draw(st.dictionaries(_TEXT, _JSON, max_size=3)).items():
        if key not in ("id", "annotations"):
            fields[camel_case(key) if camel else key] = value
    fields["keyframe_time" if not camel else "keyframeTime"] = "2022-02-14T13:23:32.140954Z"
    order = draw(st.permutations(list(fields)))
    return {k: fields[k] for k in order}


_SPLIT = st.sampled_from(["train", "val", "blacklisted", "train", "tést", 'q"\\'])
_BLANK = st.text(alphabet=" \t\n\r", max_size=3)


@st.composite
def _index(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, list[dict[str, Any]]]]]:
    """An index file's bytes (written by hand at the top level: any whitespace, a split name
    may come twice) and its split lists."""
    camel = draw(st.booleans())
    ids = draw(st.lists(st.integers(0, 1_200_000), unique=True, max_size=8))
    lists: list[tuple[str, list[dict[str, Any]]]] = []
    rest = list(ids)
    for _ in range(draw(st.integers(0, 3))):
        count = draw(st.integers(0, len(rest)))
        lists.append((draw(_SPLIT), [draw(_info(i, camel)) for i in rest[:count]]))
        rest = rest[count:]
    indent = draw(st.sampled_from([None, None, 0, 2, "\t"]))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " \t: ")]))
    ascii_only = draw(st.booleans())

    def dump(value: Any) -> str:
        return json.dumps(value, indent=indent, separators=separators, ensure_ascii=ascii_only)

    blank = lambda: draw(_BLANK)  # noqa: E731
    parts = []
    for name, infos in lists:
        body = ("," + blank()).join(blank() + dump(info) + blank() for info in infos)
        parts.append(f"{blank()}{dump(name)}{blank()}:{blank()}[{body or blank()}]{blank()}")
    text = blank() + "{" + ",".join(parts) + (blank() if not parts else "") + "}" + blank()
    return text.encode(), lists


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_index())
def test_synthetic_indexes_agree(
    case: tuple[bytes, list[tuple[str, list[dict[str, Any]]]]],
) -> None:
    raw, lists = case
    expected = check_agreement(raw)
    assert expected is not None
    names: list[str] = []
    for name, _ in lists:
        if name not in names:
            names.append(name)
    infos = [(name, info) for name, split in lists for info in split]
    assert expected.split_names == tuple(names)
    assert expected.ids.tolist() == [str(info["id"]).zfill(6) for _, info in infos]
    assert [names[c] for c in expected.split_codes] == [name for name, _ in infos]
    masks = [
        _mask(info["annotations"] if isinstance(info["annotations"], dict) else {})
        for _, info in infos
    ]
    assert expected.project_masks.tolist() == masks
    for k, (_, info) in enumerate(infos):
        assert json.loads(raw[expected.starts[k] : expected.ends[k]]) == info


# ----------------------------------------------------------------------------------------------
# Mutated indexes

_BASE_INFOS = [
    {"id": "000001", "annotations": {"object_detection": {"filepath": "a.json"}}, "t": "x {y}"},
    {"id": 2, "note": 'q"uo\\te [', "annotations": {"egoRoad": {}, "lane_markings": None}},
    {"annotations": {}, "id": "000003", "n": [1, 2.5, True, None], "u": "é€"},
]
_BASES = [
    json.dumps({"train": _BASE_INFOS[:2], "blacklisted": _BASE_INFOS[2:]}).encode(),
    json.dumps(
        {"train": [{"id": "000001", "annotations": {"road_condition": {}}}], "val": []},
        separators=(",", ":"),
    ).encode(),
    json.dumps({"val": _BASE_INFOS[:1], "train": _BASE_INFOS[2:]}, indent=1).encode(),
]
_BYTES = st.sampled_from(list(b'{}[]":,\\ \n09ax') + [0x00, 0x1F, 0x7F, 0xC3, 0xE2, 0xFF])


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(range(len(_BASES))),
    st.sampled_from(["truncate", "replace", "drop", "insert"]),
    st.integers(0, 10_000),
    _BYTES | st.integers(0, 255),
)
def test_mutated_indexes_agree(base: int, how: str, at: int, byte: int) -> None:
    raw = _BASES[base]
    at %= len(raw) + (how in ("truncate", "insert"))
    if how == "truncate":
        mutated = raw[:at]
    elif how == "replace":
        assume(raw[at] != byte)
        mutated = raw[:at] + bytes([byte]) + raw[at + 1 :]
    elif how == "drop":
        mutated = raw[:at] + raw[at + 1 :]
    else:
        mutated = raw[:at] + bytes([byte]) + raw[at:]
    check_agreement(mutated)


@pytest.mark.parametrize("base", range(len(_BASES)))
def test_every_truncation_and_dropped_byte(base: int) -> None:
    """Exhaustively, for the small files: each prefix, each file with one byte left out."""
    raw = _BASES[base]
    accepted = 0
    for at in range(len(raw) + 1):
        accepted += check_agreement(raw[:at]) is not None
        if at < len(raw):
            check_agreement(raw[:at] + raw[at + 1 :])
    assert accepted == 1  # only the whole file


def test_mutated_file_errors_name_the_file(tmp_path: Path) -> None:
    """Through ZodIndex: a broken top level fails on load, a broken info when it is parsed."""
    path = tmp_path / "trainval-frames-mini.json"
    good = _BASES[0]
    path.write_bytes(good.replace(b"}], ", b"}] ", 1))  # the comma between two split lists
    with pytest.raises(FormatError) as err:
        ZodIndex(path, use_cache=False)
    assert str(path) in str(err.value)
    path.write_bytes(good.replace(b'"t": ', b'"t": nul, "s": ', 1))  # balanced, not JSON
    index = ZodIndex(path, use_cache=False)
    assert index.ids == ["000001", "000002", "000003"]
    with pytest.raises(FormatError) as err:
        index.raw("000001")
    assert str(path) in str(err.value) and "000001" in str(err.value)
    assert index.raw("000002")["id"] == 2
