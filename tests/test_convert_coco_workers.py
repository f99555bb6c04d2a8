"""COCO with a process pool: records come back as JSON text made in the workers and the driver
joins them; the files are byte for byte those of one worker. The runner sizes chunks to the
work and keeps frame order."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zod.converters import runner
from zod.converters.coco import (
    CocoFrameTask,
    coco_document,
    coco_document_bytes,
    convert_to_coco,
    encode_record,
)
from zod.converters.runner import json_bytes, run_frames, warm_up


@pytest.fixture
def fresh_pools() -> Iterator[None]:
    """No worker pool when the test starts (each size is made anew), none left after it."""
    runner._shutdown_pools()
    yield
    runner._shutdown_pools()


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_one_and_two_workers_write_the_same_bytes(
    sample_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_pools: None,
    method: str,
) -> None:
    # forked workers (which share this process's opened index) or a forkserver's (which open
    # their own); the pool is there before the run, so all of the few sample frames go to it
    monkeypatch.setenv("ZOD_MP_START_METHOD", method)
    runner._pool(2)
    pooled: list[int] = []
    run_pool = runner._run_pool

    def spy(task: Any, frame_ids: Any, workers: int, bar: Any) -> Any:
        pooled.append(len(frame_ids))
        return run_pool(task, frame_ids, workers, bar)

    monkeypatch.setattr(runner, "_run_pool", spy)
    seg = ["ego_road", "lane_markings"]
    one = convert_to_coco(
        sample_root, tmp_path / "one", "full", segmentation=seg, workers=1, progress=False
    )
    assert not pooled
    two = convert_to_coco(
        sample_root, tmp_path / "two", "full", segmentation=seg, workers=2, progress=False
    )
    assert pooled == [2, 2]  # train and val, both on the pool
    assert runner._POOLS[2]._mp_context.get_start_method() == method  # type: ignore[attr-defined]
    assert sorted(one) == sorted(two) and len(one) == 6
    for key in one:
        assert one[key].read_bytes() == two[key].read_bytes(), key
    doc = json.loads(one["train"].read_text())
    assert doc["images"] and doc["annotations"]
    assert list(doc) == ["images", "annotations", "info", "licenses", "categories"]
    # the same document as the dicts of the plain (unencoded) task, encoded whole
    task = CocoFrameTask(str(Path(sample_root).resolve()), "full")
    ids = [str(image["id"]).zfill(6) for image in doc["images"]]
    records = [task(frame_id) for frame_id in ids]
    whole = coco_document(
        [r["image"] for r in records],
        [a for r in records for a in r["annotations"]],
        ("Vehicle", "Pedestrian", "VulnerableVehicle"),
        "full",
    )
    assert one["train"].read_bytes() == json_bytes(whole)


def test_document_bytes_equal_the_whole_encoding() -> None:
    images = [
        {"id": 1, "file_name": "/data/ö/1.jpg", "height": 2, "width": 3},
        {"id": 2, "file_name": "b.jpg", "height": 2, "width": 3},
        {"id": 3, "file_name": "c.jpg", "height": 2, "width": 3},
    ]
    annotations: list[list[dict[str, Any]]] = [
        [{"id": 1000, "bbox": [0.5, 1.25, 2.0, 3.0], "iscrowd": 0}],
        [],  # a frame without objects
        [{"id": 3000, "bbox": [1.0, 2.0, 3.0, 4.0]}, {"id": 3001, "area": 1e-7}],
    ]
    records = [encode_record({"image": i, "annotations": a}) for i, a in zip(images, annotations)]
    assert records[1]["annotations"] == ""
    for classes in (("Vehicle",), ("Pedestrian", "Unclear")):
        expected = json_bytes(
            coco_document(images, [a for frame in annotations for a in frame], classes, "mini")
        )
        got = coco_document_bytes(
            [r["image"] for r in records], [r["annotations"] for r in records], classes, "mini"
        )
        assert got == expected
    empty = coco_document_bytes([], [], ("Vehicle",), "full")
    assert empty == json_bytes(coco_document([], [], ("Vehicle",), "full"))


@dataclass(frozen=True)
class SlowEvenTask:
    """A record per frame; even frames cost more (chunks must still come back in order)."""

    def __call__(self, frame_id: str) -> dict:
        value = int(frame_id)
        total = sum(range(2000 if value % 2 else 20000))
        return {"id": frame_id, "pid": os.getpid(), "total": total}


def test_pool_chunks_sized_to_the_work_keep_frame_order() -> None:
    ids = [str(i) for i in range(3000)]
    sizes: list[int] = []
    task = SlowEvenTask()
    warm_up(task, runner.RunOptions(workers=2))
    pool: Any = runner._pool(2)
    original = pool.submit

    def spy(fn: Any, *args: Any) -> Any:
        if fn is runner._timed_chunk:
            sizes.append(len(args[1]))
        return original(fn, *args)

    pool.submit = spy
    try:
        result = run_frames(task, ids, workers=2, progress=False)
    finally:
        pool.submit = original
    assert [r["id"] for r in result.records] == ids
    # the first frames may be converted here while the workers start: at most a worker's share
    here = sum(r["pid"] == os.getpid() for r in result.records)
    assert here <= len(ids) // 3
    assert all(r["pid"] == os.getpid() for r in result.records[:here])
    assert sum(sizes) + here == len(ids)
    assert max(sizes) > 16  # sized to ~_CHUNK_SECONDS of work
    assert sizes[-1] <= sizes[len(sizes) // 2]  # the tail is split across the workers
