"""Per-frame job runner shared by every converter: local process pool or Ray Data.

A conversion is a *frame task*: a picklable callable ``task(frame_id) -> record`` that writes
the frame's own output files (atomically, skipping those already there unless the task was made
with ``overwrite=True``) and returns a small JSON-native record (dicts, lists, str, int, float,
bool, None) that the driver gathers, in frame order, to write the dataset-level files (COCO
json, ImageSets lists, ``dataset.json``...).

Engines:

- ``local``: ``workers`` processes (default: all cores; ``1`` runs inline), a tqdm bar. The
  pool is started when the first frames show that the run pays for it (:func:`_probe`), its
  workers forked from this process when that is safe (:func:`start_method`), kept for the
  next runs.
- ``ray``: the frame ids become a Ray Dataset (``ray.data.from_items``), ``map_batches`` runs
  the same task on each batch on the cluster's workers, which write per-frame files to the
  (shared) output directory; the records come back to the driver. Both engines return the same
  records in the same order, so the outputs are byte for byte equal.

How a run goes (engine, workers, resuming, missing files, progress bar) is one
:class:`RunOptions` object, the same for every converter and built once by `zod convert`.

A frame whose input file is missing (``MissingFileError``) or malformed (``FormatError``) is
never dropped silently: the run goes on with the other frames, then :class:`FrameFailures` is
raised listing them, unless ``skip_missing`` allows missing files (malformed files always fail).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from zod._atomic import atomic_write, atomic_write_bytes, atomic_write_text, temp_sibling
from zod.errors import FormatError, MissingFileError, ZodError

if TYPE_CHECKING:  # imported where pools are made: ~25 ms of start-up a one-worker run skips
    from concurrent.futures import ProcessPoolExecutor

    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on

Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")

FrameTask = Callable[[str], Any]


@dataclass(frozen=True)
class RunOptions:
    """How a conversion runs: the options every converter (and :func:`run_frames`) takes.

    Attributes:
        overwrite: redo frames whose outputs exist (default: keep them, so a rerun resumes).
            The frame tasks and the converters' drivers read it; ``run_frames`` does not.
        skip_missing: frames with missing input files are left out and listed (the converters
            write them to ``*.missing.*`` next to their outputs) instead of failing the run.
        engine: ``"local"`` (a process pool) or ``"ray"`` (Ray Data on a Ray cluster).
        workers: processes of the local engine; None or 0: all cores, 1: run inline.
        ray_address: the Ray cluster to join (None: start or join a local one).
        ray_batch_size: frames per Ray Data batch (None: chosen from the number of frames).
        progress: show a progress bar on stderr.

    Raises ValueError for an unknown engine or a negative number of workers or batch size.
    """

    overwrite: bool = False
    skip_missing: bool = False
    engine: Engine = "local"
    workers: int | None = None
    ray_address: str | None = None
    ray_batch_size: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}, expected one of {ENGINES}")
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0: all cores), not {self.workers}")
        if self.ray_batch_size is not None and self.ray_batch_size < 1:
            raise ValueError(f"ray_batch_size must be >= 1, not {self.ray_batch_size}")

    @property
    def worker_count(self) -> int:
        """Processes of the local engine (``workers``, or all cores for None / 0)."""
        return self.workers or default_workers()


class RunKwargs(TypedDict, total=False):
    """The fields of :class:`RunOptions` as keyword arguments, which the converters also accept
    (their call style before ``RunOptions``: ``convert_to_coco(root, out, workers=2)``)."""

    overwrite: bool
    skip_missing: bool
    engine: Engine
    workers: int | None
    ray_address: str | None
    ray_batch_size: int | None
    progress: bool


def run_options(options: RunOptions | None = None, **changes: Unpack[RunKwargs]) -> RunOptions:
    """``options`` (default: ``RunOptions()``) with the keyword ``changes`` applied.

    How every converter takes both ``options=RunOptions(...)`` and the older keywords; a
    keyword given alongside ``options`` wins. An unknown keyword raises TypeError.
    """
    base = RunOptions() if options is None else options
    return replace(base, **changes) if changes else base


# Outcome status of one frame.
OK, MISSING, FAILED = "ok", "missing", "failed"


class FrameFailures(ZodError):
    """Some frames could not be converted; ``missing`` / ``failed`` map frame id -> message."""

    def __init__(self, missing: dict[str, str], failed: dict[str, str]) -> None:
        self.missing = missing
        self.failed = failed
        lines = []
        if missing:
            lines.append(
                f"{len(missing)} frame(s) have missing files (use --skip-missing to skip them):"
            )
            lines += [f"  {fid}: {msg}" for fid, msg in list(missing.items())[:20]]
        if failed:
            lines.append(f"{len(failed)} frame(s) have malformed files:")
            lines += [f"  {fid}: {msg}" for fid, msg in list(failed.items())[:20]]
        super().__init__("\n".join(lines))


@dataclass
class RunResult:
    """What a run produced: ``records[i]`` is the record of ``frame_ids[i]`` (None if it failed)."""

    frame_ids: list[str]
    records: list[Any]
    missing: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def ok(self) -> Iterator[tuple[str, Any]]:
        """(frame id, record) of the frames that were converted, in input order."""
        for frame_id, record in zip(self.frame_ids, self.records):
            if frame_id not in self.missing and frame_id not in self.failed:
                yield frame_id, record


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _run_one(task: FrameTask, frame_id: str) -> tuple[str, Any]:
    """Run the task on one frame; missing / malformed input becomes an outcome, not a crash."""
    try:
        return OK, task(frame_id)
    except MissingFileError as err:
        return MISSING, str(err)
    except FormatError as err:
        return FAILED, str(err)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run a block without the cyclic garbage collector (restored after, if it was on).

    Converters build ~10^5 small acyclic objects (decoded files, dicts, lists) per chunk; the
    collector would rescan them again and again for nothing (~15% of a COCO run). Reference
    counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run_chunk(task: FrameTask, frame_ids: Sequence[str]) -> list[tuple[str, Any]]:
    """Outcomes of a chunk of frames; a task with ``run_batch(frame_ids)`` gets the whole chunk
    (to vectorize across frames) and returns the same ``(status, payload)`` outcomes."""
    run_batch = getattr(task, "run_batch", None)
    with paused_gc():
        if run_batch is not None:
            return run_batch(list(frame_ids))
        return [_run_one(task, frame_id) for frame_id in frame_ids]


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _timed_chunk(task: FrameTask, frame_ids: Sequence[str]) -> tuple[list[tuple[str, Any]], float]:
    """:func:`_run_chunk` in a pool worker, with the CPU seconds it took there (sizes the next
    chunks; CPU, not wall time, so that a loaded machine does not shrink them)."""
    start = time.process_time()
    outcomes = _run_chunk(task, frame_ids)
    return outcomes, time.process_time() - start


def _warm(task: FrameTask) -> None:
    """A pool worker's first job: import the task's modules (unpickling it did) and run its
    ``warm()`` if it has one (e.g. open the dataset index; nothing left to do in a forked
    worker, which has the parent's)."""
    warm = getattr(task, "warm", None)
    if warm is not None:
        warm()


# Worker pools, kept warm between runs of one process (a converter runs one pass per split;
# workers keep their imports and opened indexes), shut down at exit.
_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
# pools being started in the background (see _start_pool): the thread, then its warm-up jobs
_STARTING: dict[int, threading.Thread] = {}
_WARMING: dict[int, list[Any]] = {}

# Modules with native thread pools of their own (OpenCV, PyTorch, Ray...): once loaded, a fork
# of this process could inherit one of their locks held by a thread the child does not have.
_FORK_UNSAFE_MODULES = ("cv2", "torch", "ray", "pyarrow", "open3d", "rerun", "tensorflow", "jax")


def start_method() -> str:
    """How the local engine makes its workers (``ZOD_MP_START_METHOD`` overrides).

    ``fork`` on Linux while this process runs one thread (the main one) and has loaded none of
    ``_FORK_UNSAFE_MODULES``: a forked worker is up in milliseconds with everything this process
    imported and opened (the dataset index). Otherwise ``forkserver`` (spawn where there is
    none): workers are forks of a clean process, never of this one, whose other threads' locks a
    forked child would inherit locked; they import the task's modules once (~0.2 s).
    """
    forced = os.environ.get("ZOD_MP_START_METHOD")
    if forced:
        return forced
    single_threaded = (
        threading.active_count() == 1 and threading.current_thread() is threading.main_thread()
    )
    if (
        sys.platform == "linux"  # (macOS has fork too, but system libraries that break in a fork)
        and single_threaded
        and not any(name in sys.modules for name in _FORK_UNSAFE_MODULES)
    ):
        return "fork"
    import multiprocessing  # (~12 ms: not for a run that turns out too small for a pool)

    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _pool(workers: int) -> ProcessPoolExecutor:
    """The process pool of ``workers`` workers (created on first use, see :func:`start_method`;
    waits for one being started in the background)."""
    with _POOLS_LOCK:
        return _pool_unlocked(workers)


def _pool_unlocked(
    workers: int, preload: Sequence[str] = (), method: str | None = None
) -> ProcessPoolExecutor:
    """``_pool`` under the lock; a new forkserver also imports ``preload`` (once, for all its
    workers)."""
    pool = _POOLS.get(workers)
    if pool is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context(method or start_method())
        if context.get_start_method() == "forkserver":
            context.set_forkserver_preload(["zod.converters.runner", "numpy", *preload])
        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        if context.get_start_method() == "fork":
            pool.submit(os.getpid)  # forks all the workers now, from this thread
    return pool


def _pool_started(workers: int) -> bool:
    return workers in _POOLS or workers in _STARTING


def _pool_ready(workers: int) -> bool:
    """The pool exists and its workers are up (their warm-up jobs done)."""
    starting = _STARTING.get(workers)
    if workers not in _POOLS or (starting is not None and starting.is_alive()):
        return False
    return all(job.done() for job in _WARMING.get(workers, ()))


def _start_pool(task: FrameTask, workers: int) -> None:
    """Start the pool's workers, each running :func:`_warm` first. Forked ones now, in this
    thread (milliseconds, and before any other thread exists: the progress bar's); from a
    forkserver in the background, so that this process goes on converting meanwhile. A new
    forkserver imports the task's module and its ``preload`` modules once, before forking."""
    method = start_method()
    module = type(task).__module__
    preload = [*([] if module == "__main__" else [module]), *getattr(task, "preload", ())]

    def start() -> None:
        with _POOLS_LOCK:  # run_frames' _pool waits for this
            pool = _pool_unlocked(workers, preload=preload, method=method)
            _WARMING[workers] = [pool.submit(_warm, task) for _ in range(workers)]

    if method == "fork":
        start()
        return
    thread = _STARTING[workers] = threading.Thread(
        target=start, name="zod-pool-warm-up", daemon=True
    )
    thread.start()


def warm_up(task: FrameTask, options: RunOptions | None = None) -> None:
    """Start the local pool's workers from a forkserver in the background, so that their
    start-up overlaps what the caller does before :func:`run_frames` (reading the index...).

    Nothing for one worker, the Ray engine, or workers that :func:`start_method` forks: those
    start in milliseconds when the run has converted a first chunk and seen that a pool pays
    (forked after the caller's preparations, they share them, the opened index included)."""
    run = RunOptions() if options is None else options
    workers = run.worker_count
    if run.engine != "local" or workers <= 1 or _pool_started(workers):
        return
    if start_method() != "fork":
        _start_pool(task, workers)


@atexit.register
def _shutdown_pools() -> None:
    for pool in _POOLS.values():
        pool.shutdown(wait=True, cancel_futures=True)
    _POOLS.clear()
    _STARTING.clear()
    _WARMING.clear()


class _NoBar:
    """What a disabled bar does: nothing (``--no-progress`` runs skip importing tqdm, ~30 ms)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, desc: str, progress: bool) -> Any:
    """A tqdm bar on stderr, or a no-op one when ``progress`` is off."""
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr)


# Seconds of work per chunk: long enough to amortise a chunk's round trip (~1 ms), short enough
# to keep the bar moving and the cores balanced at the end.
_CHUNK_SECONDS = 0.05
# A run with less work than this left after its first frames is finished inline: starting a
# pool (forking ~10 ms, or a forkserver's imports) would cost about what it saves.
_POOL_MIN_SECONDS = 0.1
# CPU seconds of the first frames, converted here to see what a frame costs.
_PROBE_SECONDS = 0.005
# CPU seconds per frame each task type took in its last run (sizes the next run's first chunks).
_FRAME_SECONDS: dict[type, float] = {}


def _per_frame(seconds: float, frames: int) -> float:
    return max(seconds / max(1, frames), 1e-7)


def _chunk_size(per_frame: float) -> int:
    """Frames of ``_CHUNK_SECONDS`` of work at ``per_frame`` seconds a frame."""
    return max(1, min(4096, int(_CHUNK_SECONDS / per_frame)))


def _timed_run_chunk(task: FrameTask, frame_ids: Sequence[str]) -> tuple[list[Any], float]:
    """:func:`_run_chunk` here, and the CPU seconds per frame it took (remembered per task type)."""
    outcomes, seconds = _timed_chunk(task, frame_ids)
    per_frame = _FRAME_SECONDS[type(task)] = _per_frame(seconds, len(outcomes))
    return outcomes, per_frame


def _probe(task: FrameTask, frame_ids: Sequence[str]) -> tuple[list[Any], bool]:
    """Outcomes of the first frames, converted here in chunks of 1, 2, 4... frames until they
    took ``_PROBE_SECONDS``, and whether the rest is worth a pool: at their cost per frame, at
    least ``_POOL_MIN_SECONDS`` of work left (one heavy frame says it; light ones, a few tens)."""
    outcomes: list[Any] = []
    spent, size, n = 0.0, 1, len(frame_ids)
    while len(outcomes) < n:
        chunk_outcomes, seconds = _timed_chunk(
            task, frame_ids[len(outcomes) : len(outcomes) + size]
        )
        outcomes.extend(chunk_outcomes)
        spent += seconds
        per_frame = _FRAME_SECONDS[type(task)] = _per_frame(spent, len(outcomes))
        left = per_frame * (n - len(outcomes))
        if left < _POOL_MIN_SECONDS:
            return outcomes, False
        if spent >= _PROBE_SECONDS:
            return outcomes, True
        size *= 2
    return outcomes, False


def _run_local(
    task: FrameTask, frame_ids: Sequence[str], workers: int, desc: str, progress: bool
) -> list[tuple[str, Any]]:
    """The frames inline (one worker, or too little work for a pool) or on the pool.

    Without a pool yet, the first frames are converted here (:func:`_probe`): what they cost
    says whether the rest pays for starting one."""
    outcomes: list[tuple[str, Any]] = []
    n = len(frame_ids)
    if workers > 1 and n > 1 and not _pool_started(workers):
        outcomes, pays = _probe(task, frame_ids)
        if pays:
            _start_pool(task, workers)
        else:
            workers = 1
    bar = _progress_bar(n, desc, progress)  # (after a fork: tqdm starts a monitor thread)
    bar.update(len(outcomes))
    try:
        rest = frame_ids[len(outcomes) :]
        if workers <= 1 or len(rest) <= 1:
            for chunk in _chunks(rest, 64):
                outcomes.extend(_run_chunk(task, chunk))
                bar.update(len(chunk))
            return outcomes
        return outcomes + _run_pool(task, rest, workers, bar)
    finally:
        bar.close()


def _run_pool(
    task: FrameTask, frame_ids: Sequence[str], workers: int, bar: Any
) -> list[tuple[str, Any]]:
    """The frames in chunks on the pool, in order. Chunks are sized to the work:
    ``_CHUNK_SECONDS`` of it at the CPU time per frame last measured (small chunks until one
    is), never more than a worker's share of what is left (the last chunks split across the
    workers) nor less than 1/8 of that size (a tail of tiny round trips). While the workers of
    a pool started in the background come up, the first frames are converted here (at most a
    worker's share), instead of waiting for them."""
    from collections import deque

    n = len(frame_ids)
    outcomes: list[tuple[str, Any]] = []
    in_flight: deque[Any] = deque()
    start = 0
    # chunks of _CHUNK_SECONDS of work once one said what a frame costs, small ones until then
    known = _FRAME_SECONDS.get(type(task))
    size = floor = max(1, min(16, n // (workers * 4)))
    if known is not None:
        size = _chunk_size(known)
        floor = max(1, size // 8)
    here = n // (workers + 1)  # at most a worker's share is converted here
    while start < here and not _pool_ready(workers):
        # while the workers start: short chunks, to look at them again soon
        chunk = frame_ids[start : min(here, start + max(1, size // 5))]
        chunk_outcomes, per_frame = _timed_run_chunk(task, chunk)
        outcomes.extend(chunk_outcomes)
        bar.update(len(chunk_outcomes))
        start += len(chunk_outcomes)
        size = _chunk_size(per_frame)
        floor = max(1, size // 8)
    pool = _pool(workers)
    _STARTING.pop(workers, None)
    _WARMING.pop(workers, None)
    try:
        while start < n or in_flight:
            while start < n and len(in_flight) < 2 * workers:
                share = (n - start) // workers
                chunk = list(frame_ids[start : start + max(floor, min(size, share))])
                in_flight.append(pool.submit(_timed_chunk, task, chunk))
                start += len(chunk)
            chunk_outcomes, seconds = in_flight.popleft().result()  # in order: frame order
            outcomes.extend(chunk_outcomes)
            bar.update(len(chunk_outcomes))
            per_frame = _FRAME_SECONDS[type(task)] = _per_frame(seconds, len(chunk_outcomes))
            size = _chunk_size(per_frame)
            floor = max(1, size // 8)  # the tail's chunks: not below 1/8 of the target
    except BaseException:
        _POOLS.pop(workers, None)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return outcomes


def _ray_batch(batch: dict[str, Any], task: FrameTask) -> dict[str, Any]:
    """Ray Data ``map_batches`` function: run the task on each frame id of the batch.

    Records travel back as JSON text so that Arrow never reinterprets their types.
    """
    statuses, payloads = [], []
    for status, payload in _run_chunk(task, [str(frame_id) for frame_id in batch["frame_id"]]):
        statuses.append(status)
        payloads.append(json.dumps(payload))
    return {"index": list(batch["index"]), "status": statuses, "payload": payloads}


def _run_ray(
    task: FrameTask,
    frame_ids: Sequence[str],
    address: str | None,
    batch_size: int | None,
    progress: bool,
) -> list[tuple[str, Any]]:
    try:
        import ray
    except ImportError as err:  # pragma: no cover - ray is an installed extra in the dev env
        raise ZodError("--engine ray needs Ray: pip install 'zod-devkit[ray]'") from err
    from functools import partial

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    items = [{"index": i, "frame_id": frame_id} for i, frame_id in enumerate(frame_ids)]
    dataset = ray.data.from_items(items)
    size = batch_size or max(1, min(64, len(frame_ids) // 16 or 1))
    converted = dataset.map_batches(
        partial(_ray_batch, task=task), batch_size=size, batch_format="numpy"
    )
    outcomes: list[tuple[str, Any]] = [(FAILED, "not run")] * len(frame_ids)
    for row in converted.iter_rows():
        outcomes[int(row["index"])] = (str(row["status"]), json.loads(str(row["payload"])))
    return outcomes


def run_frames(
    task: FrameTask,
    frame_ids: Sequence[str],
    options: RunOptions | None = None,
    *,
    desc: str = "Converting frames",
    **changes: Unpack[RunKwargs],
) -> RunResult:
    """Run ``task`` on every frame id as ``options`` say and gather the records in order.

    ``options`` may also come as keywords (:func:`run_options`): ``run_frames(task, ids,
    workers=2)``. Raises :class:`FrameFailures` after the whole run if a frame failed (malformed
    input), or had missing files while ``skip_missing`` is False. With ``skip_missing`` the
    missing frames are listed in ``RunResult.missing`` for the caller to report.
    """
    run = run_options(options, **changes)
    frame_ids = list(frame_ids)
    if run.engine == "ray":
        outcomes = _run_ray(task, frame_ids, run.ray_address, run.ray_batch_size, run.progress)
    else:
        outcomes = _run_local(task, frame_ids, run.worker_count, desc, run.progress)
    result = RunResult(frame_ids=frame_ids, records=[None] * len(frame_ids))
    for i, (frame_id, (status, payload)) in enumerate(zip(frame_ids, outcomes)):
        if status == OK:
            result.records[i] = payload
        elif status == MISSING:
            result.missing[frame_id] = payload
        else:
            result.failed[frame_id] = payload
    if result.failed or (result.missing and not run.skip_missing):
        raise FrameFailures(result.missing, result.failed)
    return result


# --- atomic output (the helpers live in zod._atomic; re-exported here for the converters) -------


def json_bytes(obj: Any) -> bytes:
    """Compact JSON of JSON-native ``obj`` (msgspec's encoder when installed: ~5x faster)."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - the `fast` extra
        return json.dumps(obj, separators=(",", ":")).encode()
    return msgspec.json.encode(obj)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = None) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (compact unless ``indent``)."""
    if indent is None:
        return atomic_write_bytes(path, json_bytes(obj))
    return atomic_write_text(path, json.dumps(obj, indent=indent))


def link_or_copy(
    source: Path,
    target: Path,
    mode: str,
    what: str = "image",
    stream: str | None = None,
) -> None:
    """Place ``source`` at ``target`` (atomically) as a symlink, a hard link or a copy.

    ``mode``: ``"symlink"``, ``"hardlink"`` or ``"copy"`` (another raises ValueError). A hard
    link falls back to a copy across file systems. A missing source raises
    ``MissingFileError(source, what, stream)``.
    """
    import shutil

    if not source.exists():
        raise MissingFileError(source, what, stream)
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "symlink":
        tmp = temp_sibling(target)
        tmp.unlink()
        os.symlink(os.path.abspath(source), tmp)
        os.replace(tmp, target)
    elif mode == "hardlink":
        tmp = temp_sibling(target)
        tmp.unlink()
        try:
            os.link(source, tmp)
            os.replace(tmp, target)
        except OSError:
            tmp.unlink(missing_ok=True)
            atomic_write(target, lambda t: shutil.copyfile(source, t))
    elif mode == "copy":
        atomic_write(target, lambda t: shutil.copyfile(source, t))
    else:
        raise ValueError(f"unknown image mode {mode!r}")
