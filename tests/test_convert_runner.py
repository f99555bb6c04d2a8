"""The per-frame runner: order, parallel = serial, failures reported, atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from zod.converters import runner
from zod.converters.runner import (
    FrameFailures,
    atomic_write,
    atomic_write_text,
    link_or_copy,
    run_frames,
)
from zod.errors import FormatError, MissingFileError


@dataclass(frozen=True)
class SquareTask:
    """Writes <out>/<id>.txt with id**2 and returns a record; ids in `missing`/`broken` fail."""

    output_dir: str
    missing: tuple[str, ...] = ()
    broken: tuple[str, ...] = ()

    def __call__(self, frame_id: str) -> dict:
        if frame_id in self.missing:
            raise MissingFileError(f"/nowhere/{frame_id}.npy", "lidar scan", "lidar_velodyne")
        if frame_id in self.broken:
            raise FormatError(f"/bad/{frame_id}.json", "truncated")
        value = int(frame_id) ** 2
        atomic_write_text(Path(self.output_dir) / f"{frame_id}.txt", str(value))
        return {"id": frame_id, "square": value, "pid": os.getpid()}


IDS = [f"{i:06d}" for i in range(40)]


@pytest.fixture
def pool_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of these tiny frames go to a pool all the same (after one frame converted here)."""
    monkeypatch.setattr(runner, "_POOL_MIN_SECONDS", 0.0)
    monkeypatch.setattr(runner, "_PROBE_SECONDS", 0.0)


def test_serial_and_parallel_give_the_same_records_in_order(
    tmp_path: Path, pool_always: None
) -> None:
    serial = run_frames(SquareTask(str(tmp_path / "a")), IDS, workers=1, progress=False)
    parallel = run_frames(SquareTask(str(tmp_path / "b")), IDS, workers=2, progress=False)
    assert [r["square"] for r in serial.records] == [i * i for i in range(40)]
    assert [r["id"] for r in parallel.records] == IDS
    assert [r["square"] for r in parallel.records] == [r["square"] for r in serial.records]
    # the pool really used other processes
    assert {r["pid"] for r in parallel.records} != {os.getpid()}
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [f"{i}.txt" for i in IDS]
    assert (tmp_path / "b" / "000007.txt").read_text() == "49"


def test_too_little_work_for_a_pool_runs_inline(tmp_path: Path) -> None:
    """Without a pool yet, a first chunk measures the frames: 40 that cost microseconds are not
    worth starting one (the run stays in this process and makes no pool)."""
    workers = 3  # a pool size no other test starts
    assert workers not in runner._POOLS
    result = run_frames(SquareTask(str(tmp_path)), IDS, workers=workers, progress=False)
    assert [r["square"] for r in result.records] == [i * i for i in range(40)]
    assert {r["pid"] for r in result.records} == {os.getpid()}
    assert workers not in runner._POOLS


@dataclass(frozen=True)
class BusyTask:
    """Each frame costs ``seconds`` of CPU."""

    seconds: float

    def __call__(self, frame_id: str) -> str:
        end = time.process_time() + self.seconds
        while time.process_time() < end:
            pass
        return frame_id


def test_the_first_frames_say_whether_a_pool_pays() -> None:
    # 10 ms a frame: one frame says 0.39 s are left
    outcomes, pays = runner._probe(BusyTask(0.01), IDS)
    assert pays and [payload for _, payload in outcomes] == IDS[:1]
    # 0.1 ms a frame, 40 frames: ~4 ms left after the first, finished inline
    outcomes, pays = runner._probe(BusyTask(0.0001), IDS)
    assert not pays and len(outcomes) == 1
    # 5000 of them: 0.5 s, a pool pays, known once ~5 ms of frames were measured (chunks 1, 2..)
    ids = [str(i) for i in range(5000)]
    outcomes, pays = runner._probe(BusyTask(0.0001), ids)
    assert pays and len(outcomes) in (31, 63) and [p for _, p in outcomes] == ids[: len(outcomes)]


def test_progress_bar_counts_every_frame(
    tmp_path: Path, pool_always: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for workers in (1, 2):
        run_frames(SquareTask(str(tmp_path / str(workers))), IDS, workers=workers, desc="Sq")
        bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
        assert bar.startswith("Sq: 100%") and "40/40" in bar, bar


def test_start_method_forks_only_a_single_threaded_process() -> None:
    """fork while this process runs one thread and no module with native thread pools; else
    a forkserver (a fork would inherit the other threads' locks); the variable overrides."""
    code = (
        "import threading\n"
        "from zod.converters.runner import start_method\n"
        "print(start_method())\n"
        "stop = threading.Event()\n"
        "thread = threading.Thread(target=stop.wait)\n"
        "thread.start()\n"
        "print(start_method())\n"
        "stop.set(); thread.join()\n"
        "print(start_method())\n"
        "import cv2\n"
        "print(start_method())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ZOD_MP_START_METHOD"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert run.stdout.split() == ["fork", "forkserver", "fork", "forkserver"]
    env["ZOD_MP_START_METHOD"] = "spawn"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert run.stdout.split() == ["spawn"] * 4


@dataclass(frozen=True)
class ExplodingTask:
    """A bug (not a devkit error) on one frame."""

    bad: str

    def __call__(self, frame_id: str) -> int:
        if frame_id == self.bad:
            raise RuntimeError(f"bug on {frame_id}")
        return int(frame_id)


def test_an_error_in_a_worker_stops_the_run_and_drops_the_pool(
    tmp_path: Path, pool_always: None
) -> None:
    """Like an interruption: the run stops and its pool (maybe mid-chunk) is dropped; the next
    run starts a new one."""
    run_frames(ExplodingTask("nothing"), IDS, workers=2, progress=False)  # the pool is up
    pool = runner._POOLS[2]
    with pytest.raises(RuntimeError, match="bug on 000035"):
        run_frames(ExplodingTask("000035"), IDS, workers=2, progress=False)
    assert runner._POOLS.get(2) is not pool
    done = run_frames(SquareTask(str(tmp_path)), IDS, workers=2, progress=False)
    assert [r["square"] for r in done.records] == [i * i for i in range(40)]
    assert {r["pid"] for r in done.records[-10:]} & {os.getpid()} == set()


def test_missing_frames_fail_the_run_after_the_others_are_done(tmp_path: Path) -> None:
    task = SquareTask(str(tmp_path), missing=("000003", "000011"))
    with pytest.raises(FrameFailures) as info:
        run_frames(task, IDS, workers=2, progress=False)
    assert set(info.value.missing) == {"000003", "000011"}
    assert "lidar_velodyne" in info.value.missing["000003"]
    assert "--skip-missing" in str(info.value)
    # every other frame was still converted (the run is resumable)
    assert len(list(tmp_path.iterdir())) == len(IDS) - 2


def test_skip_missing_reports_and_drops_them(tmp_path: Path) -> None:
    task = SquareTask(str(tmp_path), missing=("000003",))
    result = run_frames(task, IDS, workers=1, skip_missing=True, progress=False)
    assert list(result.missing) == ["000003"]
    kept = [fid for fid, _ in result.ok()]
    assert kept == [i for i in IDS if i != "000003"]


def test_malformed_input_fails_even_with_skip_missing(tmp_path: Path) -> None:
    task = SquareTask(str(tmp_path), broken=("000005",))
    with pytest.raises(FrameFailures) as info:
        run_frames(task, IDS[:10], workers=1, skip_missing=True, progress=False)
    assert list(info.value.failed) == ["000005"]
    assert "truncated" in info.value.failed["000005"]


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"

    def explode(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert list(tmp_path.iterdir()) == []
    # the temporary name keeps the suffix (open3d / cv2 pick the format from it)
    seen: list[str] = []
    atomic_write(target, lambda tmp: (seen.append(tmp.suffix), tmp.write_bytes(b"ok")))
    assert seen == [".bin"] and target.read_bytes() == b"ok"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_link_or_copy_modes(tmp_path: Path) -> None:
    source = tmp_path / "src.jpg"
    source.write_bytes(b"jpeg")
    for mode in ("symlink", "hardlink", "copy"):
        target = tmp_path / mode / "x.jpg"
        link_or_copy(source, target, mode)  # type: ignore[arg-type]
        assert target.read_bytes() == b"jpeg"
    assert (tmp_path / "symlink" / "x.jpg").is_symlink()
    assert (tmp_path / "hardlink" / "x.jpg").stat().st_ino == source.stat().st_ino
    with pytest.raises(MissingFileError, match="images_front_blur"):
        link_or_copy(
            tmp_path / "nope.jpg", tmp_path / "y.jpg", "copy", "blur image", "images_front_blur"
        )


def test_paused_gc_pauses_and_restores_the_collector() -> None:
    import gc

    from zod.converters.runner import paused_gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()
