"""zod.stream: nearest-time matching, prefetching reader, contiguous scan batches."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from zod.stream import Prefetcher, ScanBatch, match_nearest, read_ahead


def test_match_nearest_hand_computed() -> None:
    reference = np.array([0.0, 0.1, 0.26, 0.5, 10.0])
    candidates = np.array([0.3, 0.02, 0.12, 0.2])  # unsorted on purpose
    idx = match_nearest(reference, candidates, tolerance_s=0.05)
    # 0.0 -> 0.02 (idx 1); 0.1 -> 0.12 (idx 2); 0.26 -> 0.3 (0.04, idx 0) vs 0.2 (0.06);
    # 0.5 -> 0.3 is 0.2 away: none; 10 -> none
    assert idx.tolist() == [1, 2, 0, -1, -1]
    assert match_nearest(reference, candidates, tolerance_s=None).tolist() == [1, 2, 0, 0, 0]
    # tie goes to the earlier candidate
    assert match_nearest(np.array([0.15]), np.array([0.1, 0.2]), None).tolist() == [0]
    assert match_nearest(np.array([1.0]), np.array([]), None).tolist() == [-1]


def test_match_nearest_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(0)
    reference = rng.uniform(0, 20, 500)
    candidates = rng.uniform(0, 20, 200)
    idx = match_nearest(reference, candidates, tolerance_s=0.03)
    distance = np.abs(reference[:, None] - candidates[None, :])
    brute = distance.argmin(1)
    brute[distance.min(1) > 0.03] = -1
    assert (idx == brute).all()


def test_prefetcher_keeps_order_and_runs_ahead() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def read(i: int) -> int:
        with lock:
            started.append(i)
        time.sleep(0.01 * (5 - i % 5))  # later items finish first
        return i * i

    batches = list(Prefetcher(range(11), read, batch_size=3, num_threads=4, prefetch_batches=1))
    assert [len(b) for b in batches] == [3, 3, 3, 2]
    assert [x for b in batches for x in b] == [i * i for i in range(11)]
    assert sorted(started) == list(range(11))
    assert list(read_ahead(range(5), lambda i: -i, num_threads=2)) == [0, -1, -2, -3, -4]


def test_prefetcher_bounds_reads_in_flight() -> None:
    consumed = 0
    max_ahead = 0
    lock = threading.Lock()

    def read(i: int) -> int:
        nonlocal max_ahead
        with lock:
            max_ahead = max(max_ahead, i - consumed)
        return i

    for batch in Prefetcher(range(40), read, batch_size=2, num_threads=4, prefetch_batches=1):
        time.sleep(0.002)
        consumed += len(batch)
    # at most (prefetch_batches + 1) * batch_size reads are submitted beyond what was consumed
    assert max_ahead <= 4


def test_prefetcher_propagates_errors_in_turn() -> None:
    def read(i: int) -> int:
        if i == 3:
            raise OSError("boom at 3")
        return i

    seen: list[int] = []
    with pytest.raises(OSError, match="boom at 3"):
        for item in read_ahead(range(6), read, num_threads=2):
            seen.append(item)  # noqa: PERF402 - consumed one by one until the error
    assert seen == [0, 1, 2]


class _Scan:
    def __init__(self, n: int, t0: float) -> None:
        self.points = np.arange(3 * n, dtype=np.float32).reshape(n, 3) + t0
        self.timestamps = t0 + np.linspace(0, 0.1, n)
        self.intensity = np.full(n, int(t0) % 256, np.uint8)
        self.diode_idx = (np.arange(n) % 128).astype(np.uint8)
        self.core_timestamp = t0


def test_scan_batch_concatenate_and_views() -> None:
    scans = [_Scan(4, 100.0), _Scan(0, 101.0), _Scan(2, 102.0)]
    batch = ScanBatch.concatenate(scans)
    assert len(batch) == 3
    assert batch.offsets.tolist() == [0, 4, 4, 6]
    assert batch.num_points.tolist() == [4, 0, 2]
    assert batch.scan_index.tolist() == [0, 0, 0, 0, 2, 2]
    assert batch.points.dtype == np.float32 and batch.points.flags.c_contiguous
    np.testing.assert_array_equal(batch.points[batch.scan_slice(2)], scans[2].points)
    np.testing.assert_array_equal(batch.time_s[batch.scan_slice(0)], scans[0].timestamps)
    assert batch.core_time_s.tolist() == [100.0, 101.0, 102.0]
    assert batch.intensity[batch.scan_slice(-1)].tolist() == [102, 102]
    with pytest.raises(IndexError):
        batch.scan_slice(3)
    assert len(ScanBatch.empty()) == 0
