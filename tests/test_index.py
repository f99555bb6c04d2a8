"""The fast lazy index (zod.index): agreement with json.load, key cases, quirks, cache."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zod.constants import AnnotationProject
from zod.errors import FormatError, MissingFileError
from zod.index import OldIndexFileError, ZodIndex, camel_case, scan_index, snake_case

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_index import make_info


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZOD_CACHE_DIR", str(cache))
    return cache


def _camel(obj):
    if isinstance(obj, dict):
        return {camel_case(k): _camel(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_camel(v) for v in obj]
    return obj


def _expected(data: dict) -> tuple[list[str], list[str], list[int]]:
    """ids, split names and project masks straight from json.load (the slow, sure path)."""
    ids, splits, masks = [], [], []
    bits = {p.value: 1 << i for i, p in enumerate(AnnotationProject)}
    bits.update({camel_case(k): v for k, v in list(bits.items())})
    for split, infos in data.items():
        for info in infos:
            ids.append(str(info["id"]).zfill(6))
            splits.append(split)
            annotations = info.get("annotations") or {}
            masks.append(
                sum(bits[k] for k, v in annotations.items() if v is not None and k in bits)
            )
    return ids, splits, masks


def _check_scan(text: str, fast: bool | None = None) -> None:
    """Every scan method agrees with json.load; ``fast`` says whether the fast path must apply."""
    data = json.loads(text)
    raw = text.encode()
    ids, splits, masks = _expected(data)
    results = [scan_index(raw, method="robust"), scan_index(raw)]
    try:
        results.append(scan_index(raw, method="fast"))
        fast_applies = True
    except ValueError:
        fast_applies = False
    if fast is not None:
        assert fast_applies == fast
    for arrays in results:
        assert arrays.ids.tolist() == ids
        assert [arrays.split_names[c] for c in arrays.split_codes] == splits
        assert arrays.project_masks.tolist() == masks
        for k in range(len(ids)):  # each span is exactly one info object
            span = json.loads(raw[arrays.starts[k] : arrays.ends[k]])
            assert str(span["id"]).zfill(6) == ids[k]


def test_snake_and_camel_case() -> None:
    assert snake_case("keyframeTime") == "keyframe_time"
    assert snake_case("keyframe_time") == "keyframe_time"
    assert snake_case("id") == "id"
    assert camel_case("vehicle_data_path") == "vehicleDataPath"
    assert snake_case(camel_case("lidar_frames")) == "lidar_frames"


@pytest.mark.parametrize(
    "separators,indent,fast",
    [((",", ":"), None, True), ((", ", ": "), None, True), ((",", ": "), 2, False)],
)
def test_scan_agrees_with_json_load(separators, indent, fast) -> None:
    infos = [make_info(i) for i in range(37)]
    text = json.dumps(
        {"train": infos[:25], "val": infos[25:33], "blacklisted": infos[33:]},
        separators=separators,
        indent=indent,
    )
    _check_scan(text, fast=fast)  # indented infos do not open with '{"id"': robust path


def test_fast_path_declines_unusual_layouts() -> None:
    """Key order, missing annotations, unknown project keys: auto falls back, still exact."""
    a = make_info(1)
    b = dict(reversed(list(make_info(2).items())))  # id last
    _check_scan(json.dumps({"train": [a, b]}), fast=False)
    c = make_info(3)
    del c["annotations"]
    _check_scan(json.dumps({"train": [a, c]}), fast=False)
    d = make_info(4)
    d["annotations"]["future_project"] = {"filepath": "x.json", "project": "future_project"}
    _check_scan(json.dumps({"train": [a, d]}), fast=False)
    e = make_info(5)
    e["annotations"]["ego_road"] = None
    e["lidar_frames"]["velodyne"][0]["note"] = 'braces {in} [strings] and "quotes"'
    _check_scan(json.dumps({"train": [a, e]}), fast=False)  # backslashes: robust only
    f = make_info(6)
    f["lidar_frames"]["velodyne"][0]["note"] = "braces {in} [strings] without escapes"
    f["annotations"] = {}
    _check_scan(json.dumps({"train": [a, f]}), fast=True)


def test_camel_case_keys() -> None:
    infos = [_camel(make_info(i)) for i in range(9)]
    assert (
        "keyframeTime" in infos[0] and "objectDetection" in infos[0]["annotations"]
    ) or "object_detection" in infos[0]["annotations"]
    # camelCase project keys as well
    for info in infos:
        info["annotations"] = {camel_case(k): v for k, v in info["annotations"].items()}
    _check_scan(json.dumps({"train": infos[:5], "val": infos[5:]}))


def test_quirks_braces_in_strings_escapes_numeric_ids_and_nulls() -> None:
    a = make_info(1)
    a["note"] = (
        'a {brace} [bracket] "quoted \\" id": "999999"'  # brackets + escaped quotes inside a string
    )
    a["annotations"]["ego_road"] = None  # null entry: not annotated
    b = make_info(2)
    b["id"] = 2  # numeric id
    b["annotations"] = None
    c = make_info(3)
    c["nested"] = {"id": "777777", "annotations": {"object_detection": {}}}  # keys at other depths
    c["path\\with\\backslashes"] = "C:\\\\data\\\\"
    d = make_info(4)
    del d["annotations"]
    text = json.dumps({"train": [a, b], "val": [c], "blacklisted": [d]})
    _check_scan(text)
    arrays = scan_index(text.encode())
    assert arrays.ids.tolist() == ["000001", "000002", "000003", "000004"]
    assert arrays.split_names == ("train", "val", "blacklisted")


def test_empty_splits_and_missing_split() -> None:
    arrays = scan_index(b'{"train": [], "val": []}')
    assert arrays.ids.size == 0 and arrays.split_names == ("train", "val")
    arrays = scan_index(json.dumps({"train": [make_info(5)]}).encode())
    assert arrays.ids.tolist() == ["000005"]


@pytest.mark.parametrize(
    "text",
    [
        b'{"train": [{"id": "000001"}',  # truncated
        b'{"train": [{"id": "000001}]}',  # unbalanced quote
        b'["not", "an", "object"]',
        b"",
    ],
)
def test_malformed_index_is_a_format_error(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "trainval-frames-mini.json"
    path.write_bytes(text)
    with pytest.raises(FormatError) as err:
        ZodIndex(path)
    assert str(path) in str(err.value)


def test_info_without_id_is_a_format_error(tmp_path: Path) -> None:
    info = make_info(1)
    del info["id"]
    path = tmp_path / "trainval-frames-mini.json"
    path.write_text(json.dumps({"train": [info]}))
    with pytest.raises(FormatError, match='no "id"'):
        ZodIndex(path)


def test_malformed_info_reported_when_parsed(tmp_path: Path) -> None:
    """The scan checks structure; a broken value inside one info fails when that info is read."""
    good = json.dumps(make_info(1))
    bad = json.dumps(make_info(2)).replace(
        '"keyframe_time": ', '"keyframe_time": nonsense, "x": ', 1
    )
    path = tmp_path / "trainval-frames-mini.json"
    path.write_text('{"train": [' + good + ", " + bad + "]}")
    index = ZodIndex(path)
    assert index.info("000001").id == "000001"
    with pytest.raises(FormatError, match="000002"):
        index.info("000002")


def test_old_underscore_index_name(tmp_path: Path) -> None:
    (tmp_path / "trainval_frames_mini.json").write_text("{}")
    with pytest.raises(OldIndexFileError) as err:
        ZodIndex(tmp_path / "trainval-frames-mini.json")
    message = str(err.value)
    assert (
        "trainval_frames_mini.json" in message
        and "old" in message
        and "zod download --infos" in message
    )
    assert isinstance(err.value, MissingFileError) and isinstance(err.value, FileNotFoundError)


def test_missing_index_names_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"trainval-frames-full\.json"):
        ZodIndex(tmp_path / "trainval-frames-full.json")


def test_cache_reused_and_invalidated(tmp_path: Path, _private_cache: Path) -> None:
    path = tmp_path / "trainval-frames-mini.json"
    path.write_text(json.dumps({"train": [make_info(i) for i in range(6)], "val": [make_info(9)]}))
    first = ZodIndex(path)
    caches = list(_private_cache.glob("*.npz"))
    assert len(caches) == 1
    second = ZodIndex(path)
    assert second.ids == first.ids
    # a changed index (same size even) must not reuse the cache
    text = path.read_text().replace('"id": "000009"', '"id": "000008"')
    time.sleep(0.01)
    path.write_text(text)
    os.utime(path, ns=(time.time_ns(), time.time_ns()))
    third = ZodIndex(path)
    assert third.split_ids("val") == ["000008"]
    # a corrupt cache file is ignored, not fatal
    caches[0].write_bytes(b"garbage")
    assert ZodIndex(path).split_ids("val") == ["000008"]


def test_unwritable_cache_dir_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("ZOD_CACHE_DIR", str(blocker / "sub"))  # cannot be created
    path = tmp_path / "trainval-frames-mini.json"
    path.write_text(json.dumps({"train": [make_info(1)]}))
    assert ZodIndex(path).ids == ["000001"]


def test_split_and_project_queries(tmp_path: Path) -> None:
    infos = [make_info(i) for i in range(12)]
    path = tmp_path / "trainval-frames-mini.json"
    path.write_text(json.dumps({"train": infos[:8], "val": infos[8:]}))
    index = ZodIndex(path, dataset_root=tmp_path)
    ids, splits, _ = _expected(json.loads(path.read_text()))
    assert index.split_ids("train") == [i for i, s in zip(ids, splits) if s == "train"]
    for project in AnnotationProject:
        want = [info["id"] for info in infos[:8] if project.value in info["annotations"]]
        assert index.split_ids("train", project) == want
        assert index.split_ids("train", project.value) == want
    assert index.split_ids("blacklisted") == []
    assert index.projects("000000") == [
        p for p in AnnotationProject if p.value in infos[0]["annotations"]
    ]
    info = index.info("000003")
    assert info.calibration_path == os.path.join(
        str(tmp_path), "single_frames/000003/calibration.json"
    )
    assert index.info("000003") is info  # parsed once


def test_sample_index_matches_json_load(sample_root: Path) -> None:
    for path in sorted(sample_root.glob("trainval-*.json")):
        text = path.read_text()
        _check_scan(text)
        index = ZodIndex(path, sample_root)
        data = json.loads(text)
        for split, infos in data.items():
            assert index.split_ids(split) == [i["id"] for i in infos]


def test_scan_is_vectorized_fast(tmp_path: Path) -> None:
    """2000 infos scan far faster than json.load + per-item work would need (sanity bound)."""
    text = json.dumps({"train": [make_info(i) for i in range(2000)]}).encode()
    t0 = time.perf_counter()
    arrays = scan_index(text)
    elapsed = time.perf_counter() - t0
    assert arrays.ids.size == 2000
    assert np.array_equal(arrays.ids, np.array([f"{i:06d}" for i in range(2000)]))
    assert elapsed < 5.0  # generous: the shared CI machine is slow; the benchmark measures speed


def test_camel_case_info_reads_like_snake_case(tmp_path: Path) -> None:
    from zod.constants import Lidar
    from zod.info import Information

    snake = make_info(7)
    camel = _camel(snake)
    camel["annotations"] = {camel_case(k): v for k, v in camel["annotations"].items()}
    assert "keyframeTime" in camel and "isCompensated" in camel["lidarFrames"]["velodyne"][0]
    a, b = Information.from_dict(snake, tmp_path), Information.from_dict(camel, tmp_path)
    assert a == b
    assert b.keyframe_time.tzinfo is not None and len(b.lidar_frames[Lidar.VELODYNE]) == 21
    assert set(b.annotations) == {AnnotationProject(p) for p in snake["annotations"]}
    z = json.loads(json.dumps(snake).replace("+00:00", "Z"))  # trailing Z times
    assert Information.from_dict(z, tmp_path) == a


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_tiny_chunks_and_threads_agree(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Strings, escapes and brackets cut by chunk borders; one thread or several: same result."""
    import zod.index_scan as index_module

    a = make_info(1)
    a["note"] = 'x {y} [z] "q\\" ' * 5
    infos = [a] + [make_info(i) for i in range(2, 6)]
    text = json.dumps({"train": infos[:3], "val": infos[3:]}, indent=1)
    monkeypatch.setattr(index_module, "_CHUNK", chunk)
    data = np.frombuffer(text.encode(), np.uint8)
    one = index_module._chunked_scan(data, True, workers=1)
    two = index_module._chunked_scan(data, True, workers=3)
    for x, y in zip(one, two, strict=True):
        np.testing.assert_array_equal(x, y)
    _check_scan(text)


@pytest.mark.parametrize("popcount", [True, False])
@pytest.mark.parametrize("chunk", [64, 128, 1024])
def test_fast_brackets_tiny_chunks(
    monkeypatch: pytest.MonkeyPatch, chunk: int, popcount: bool
) -> None:
    """The bitmap path with strings (holding brackets) cut by word and chunk borders; quote
    parity by popcount (numpy >= 2) and by the prefix-XOR fallback."""
    import zod.index_scan as index_module

    if not popcount:
        monkeypatch.setattr(index_module, "_POPCOUNT", None)
    else:
        assert index_module._POPCOUNT is not None  # numpy >= 2 in the project venv

    a = make_info(1)
    a["note"] = "x {y} [z] " * 20
    infos = [a] + [make_info(i) for i in range(2, 6)]
    data = np.frombuffer(json.dumps({"train": infos[:3], "val": infos[3:]}).encode(), np.uint8)
    robust = index_module._chunked_scan(data, False, workers=1)[:2]
    monkeypatch.setattr(index_module, "_CHUNK", chunk)
    for workers in (1, 3):
        fast = index_module._fast_brackets(data, workers=workers)
        np.testing.assert_array_equal(fast[0], robust[0])
        np.testing.assert_array_equal(fast[1], robust[1])


def test_after_tiny_chunks_normal_scans_work() -> None:
    """Per-thread scratch buffers grow back after a test used tiny chunks."""
    _check_scan(json.dumps({"train": [make_info(i) for i in range(3)]}))


def test_tail_words_any_alignment_and_bounds() -> None:
    """The aligned 8-byte gathers equal plain slicing at every alignment; out of range flagged."""
    import zod.index_scan as index_module

    data = np.random.default_rng(3).integers(0, 256, 203, dtype=np.uint8)
    words = index_module._u64_view(data)
    ends = np.arange(0, data.size + 1)
    for lanes in (1, 2, 3):
        tails, valid = index_module._tail_words(words, ends, lanes)
        expect_valid = (ends >= 8 * lanes) & (ends <= 8 * words.size - 8)
        np.testing.assert_array_equal(valid, expect_valid)
        for e in ends[valid].tolist():
            assert tails[e].tobytes() == data[e - 8 * lanes : e].tobytes()
    tails, _ = index_module._tail_words(words, np.array([20]), 2)
    assert index_module._tail_matches(tails, data[9:20].tobytes())[0]
    assert not index_module._tail_matches(tails, data[8:19].tobytes())[0]


def test_fast_path_projects_and_ids_compact_and_spaced() -> None:
    """The u64-lane key matching: both separators, camelCase keys, a project missing."""
    a, b = make_info(1), make_info(2)
    del b["annotations"]["ego_road"]
    b["annotations"] = {camel_case(k): v for k, v in b["annotations"].items()}
    for separators in ((",", ":"), (", ", ": ")):
        _check_scan(json.dumps({"train": [a], "val": [b]}, separators=separators), fast=True)


@pytest.mark.parametrize(
    "text,ids,splits",
    [
        (b'{"train": [{"id": "000001"}}}', None, None),  # a list closed by a brace
        (b'{"train": [{"id": "00001x"}]}', None, None),  # not digits
        (b'{"train": [{"id": 2.5}]}', None, None),  # not an integer
        (b'{"train": [{"id"' + b" " * 17 + b': "000001"}]}', ["000001"], ("train",)),
        (b'{"train": [{"id":' + b" " * 17 + b'"000001"}]}', ["000001"], ("train",)),
        (b'{"tr\xffin": []}', None, None),  # not UTF-8
        (b'{"train": [{"id": "000001"}, 5]}', None, None),  # a list item that is no info
        (b'junk{"train": []}', None, None),
        (b'{"train": [{"id": "000001"},]}', None, None),  # trailing comma
        (b'{"train": [{"id": "000001"} {"id": "000002"}]}', None, None),  # missing comma
        (b'{"train": []} []', None, None),  # extra data
        (b'{"q\\"x": [{"id": "000001"}]}', ["000001"], ('q"x',)),  # an escaped split name
        (b'\xef\xbb\xbf {"val": [{"id": 7}]}\n', ["000007"], ("val",)),  # byte order mark
    ],
)
def test_scan_accepts_and_rejects_like_json(text: bytes, ids, splits) -> None:
    """Outside the infos the scan is as strict as json; FormatError (naming the file), never
    another exception or a made-up id or split name (11 of these 13 went wrong on main)."""
    for method in ("robust", "auto"):
        if ids is None:
            with pytest.raises(FormatError, match=r"trainval-x\.json"):
                scan_index(text, "trainval-x.json", method=method)
        else:
            arrays = scan_index(text, "trainval-x.json", method=method)
            assert arrays.ids.tolist() == ids and arrays.split_names == splits


def test_cache_of_another_version_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache written under another CACHE_VERSION is rescanned (and replaced), not trusted."""
    import zod.index as index_module
    import zod.index_cache as cache_module

    path = tmp_path / "trainval-frames-mini.json"
    path.write_text(json.dumps({"train": [make_info(1)]}))
    ZodIndex(path)  # writes the cache
    scans = []
    real_scan = index_module.scan_index

    def counting_scan(*args, **kwargs):
        scans.append(1)
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(index_module, "scan_index", counting_scan)
    assert ZodIndex(path).ids == ["000001"] and scans == []  # same version: the cache
    monkeypatch.setattr(cache_module, "CACHE_VERSION", cache_module.CACHE_VERSION + 1)
    assert ZodIndex(path).ids == ["000001"] and scans == [1]  # another version: a scan
    assert ZodIndex(path).ids == ["000001"] and scans == [1]  # ... whose cache is reused
