"""zod.stream: nearest-time matching, prefetching reader, contiguous scan batches."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zod.constants import Lidar, Radar
from zod.dataset import ZodDrives, ZodFrames, ZodSequences
from zod.stream import Prefetcher, ScanBatch, SensorStream, match_nearest, read_ahead, read_scans


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
            seen.append(item)
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


# ------------------------------------------------------------------ on the sample dataset


def _first(dataset: ZodSequences | ZodDrives | ZodFrames) -> Any:
    return dataset[min(dataset.get_all_ids())]


def test_sequence_stream_matches_brute_force(sample_root: Path) -> None:
    seq = _first(ZodSequences(str(sample_root), "full"))
    cameras = seq.info.get_camera_frames()
    lidars = seq.info.get_lidar_frames()
    stream = SensorStream(
        seq,
        reference="camera",
        tolerance_s=0.05,
        parts=("image", "lidar", "pose", "vehicle", "radar"),
        image_scale=0.25,
    )
    assert len(stream) == len(cameras)
    steps = list(stream)
    assert [s.index for s in steps] == list(range(len(cameras)))
    times = np.array([s.time_s for s in steps])
    assert (np.diff(times) > 0).all()
    vehicle = seq.vehicle_data
    radar = seq.get_radar(Radar.FRONT)
    for step, camera in zip(steps, cameras):
        assert step.camera_frame.filepath == camera.filepath
        assert step.time_s == camera.time.timestamp()
        assert step.image.shape == (542, 962, 3) and step.image.dtype == np.uint8
        np.testing.assert_array_equal(step.image, camera.read(scale=0.25))
        gaps = [abs(f.time.timestamp() - step.time_s) for f in lidars]
        nearest = int(np.argmin(gaps))
        if gaps[nearest] <= 0.05:
            assert step.lidar_frame.filepath == lidars[nearest].filepath
            np.testing.assert_array_equal(step.lidar.points, lidars[nearest].read().points)
        else:
            assert step.lidar_frame is None and step.lidar is None
        np.testing.assert_allclose(
            step.world_from_ego, seq.ego_motion.get_poses(np.array([step.time_s]))[0], atol=1e-9
        )
        # vehicle data: the nearest sample of the group, in tolerance
        stamps = vehicle.ego_vehicle_data.timestamp.astype(np.float64) / 1e9
        row = int(np.argmin(np.abs(stamps - step.time_s)))
        assert step.vehicle["ego_vehicle_data"]["lon_vel"] == pytest.approx(
            float(vehicle.ego_vehicle_data.lon_vel[row])
        )
        # radar: one scan of the clip's file, the one nearest in time
        scan_times = {int(i): float(t) / 1e9 for i, t in zip(radar.scan_index, radar.timestamp)}
        best = min(scan_times, key=lambda i: abs(scan_times[i] - step.time_s))
        if abs(scan_times[best] - step.time_s) <= 0.05:
            assert set(step.radar.scan_index.tolist()) == {best}
            assert len(step.radar.radar_range) == int((radar.scan_index == best).sum())
            assert step.radar_time_s == pytest.approx(scan_times[best])


def test_lidar_reference_and_tolerance(sample_root: Path) -> None:
    seq = _first(ZodSequences(str(sample_root), "full"))
    lidar_times = np.array([f.time.timestamp() for f in seq.info.get_lidar_frames()])
    camera_times = np.array([f.time.timestamp() for f in seq.info.get_camera_frames()])
    stream = SensorStream(seq, reference="lidar", tolerance_s=0.05, parts=())
    assert len(stream) == len(lidar_times)
    np.testing.assert_array_equal(stream.time_s, np.sort(lidar_times))
    matched = stream.camera_index >= 0
    gaps = np.abs(stream.time_s[:, None] - camera_times[None, :]).min(1)
    assert (matched == (gaps <= 0.05)).all() and matched.sum() >= 1
    loose = SensorStream(seq, reference="lidar", tolerance_s=None, parts=())
    assert (loose.camera_index >= 0).all()
    part = SensorStream(seq, reference="lidar", parts=(), start=2, stop=5)
    np.testing.assert_array_equal(part.time_s, stream.time_s[2:5])
    with pytest.raises(ValueError, match="parts"):
        SensorStream(seq, parts=("sonar",))


def test_frame_stream_and_drive_stream(sample_root: Path) -> None:
    frame = _first(ZodFrames(str(sample_root), "full"))
    stream = SensorStream(frame, reference="lidar", parts=("lidar",))
    assert len(stream) == len(frame.info.get_lidar_frames())
    key = frame.info.get_key_lidar_frame()
    cameras = [s for s in stream if s.camera_frame is not None]
    assert len(cameras) == 1 and cameras[0].lidar_frame.filepath == key.filepath
    drive = _first(ZodDrives(str(sample_root), "full"))
    steps = list(SensorStream(drive, reference="camera", parts=("lidar", "pose")))
    assert len(steps) == len(drive.info.get_camera_frames()) and all(
        s.world_from_ego is not None for s in steps
    )


def test_read_scans_and_lidar_batches(sample_root: Path) -> None:
    frame = _first(ZodFrames(str(sample_root), "full"))
    lidar_frames = frame.get_lidar_frames(2, 2)
    batch = read_scans(lidar_frames, num_threads=2)
    assert len(batch) == 5
    for i, lidar_frame in enumerate(lidar_frames):
        scan = lidar_frame.read()
        rows = batch.scan_slice(i)
        np.testing.assert_array_equal(batch.points[rows], scan.points)
        np.testing.assert_array_equal(batch.time_s[rows], scan.timestamps)
        assert batch.core_time_s[i] == scan.core_timestamp
        assert batch.scan(i) == scan
    seq = _first(ZodSequences(str(sample_root), "full"))
    stream = SensorStream(seq, reference="lidar", parts=())
    batches = list(stream.lidar_batches(4))
    assert sum(len(b) for b in batches) == len(seq.info.get_lidar_frames(Lidar.VELODYNE))
    assert all(len(b) == 4 for b in batches[:-1])
    first = seq.info.get_lidar_frames()[0].read()
    np.testing.assert_array_equal(batches[0].points[batches[0].scan_slice(0)], first.points)
