"""Benchmark: COCO conversion of a generated sample, whole command, against the reference.

Baseline (measured in the same run): the reference devkit zod==0.8.0 in its own venv, doing
what its `generate coco` does on one core: open ``ZodFrames``, build every ``ObjectAnnotation``
of every frame (``frame.get_annotation``), then the COCO dicts, then ``json.dump``.
Ours: ``zod convert coco --workers 1`` (and ``--workers 2``, ``--workers 4``... up to the
cores) as a subprocess, from interpreter start to the files on disk.

    python benchmarks/bench_convert.py [--frames 300] [--objects 60] [--workdir DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORACLE_CANDIDATES = [REPO / ".venv-oracle" / "bin" / "python", Path("/opt/zod-oracle/bin/python")]

REFERENCE_SCRIPT = r"""
import json, sys
from zod import ZodFrames
from zod.cli.generate_coco_json import generate_coco_json
from zod.constants import Anonymization
import zod.cli.generate_coco_json as g

# one core: the reference's process_map replaced by a plain map (same per-frame function)
g.process_map = lambda fn, items, **kw: [fn(item) for item in items]
root, version, out = sys.argv[1], sys.argv[2], sys.argv[3]
frames = ZodFrames(root, version)
classes = ["Vehicle", "Pedestrian", "VulnerableVehicle"]
for split in ("train", "val"):
    doc = generate_coco_json(frames, split=split, classes=classes, anonymization=Anonymization.BLUR, use_png=False)
    with open(f"{out}/zod_{version}_blur_{split}.json", "w") as f:
        json.dump(doc, f)
"""


def _oracle_python() -> Path | None:
    return next((p for p in ORACLE_CANDIDATES if p.exists()), None)


def _time(cmd: list[str], repeat: int) -> float:
    """Best wall time (s) of ``repeat`` runs of a command (it must succeed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        best = min(best, time.perf_counter() - start)
    return best


def make_dataset(root: Path, frames: int, objects: int) -> None:
    from zod.sample import SampleConfig, generate_sample

    config = SampleConfig(
        num_frames=frames,
        num_frames_mini=max(1, frames // 10),
        num_sequences=0,
        num_sequences_mini=0,
        num_drives=0,
        num_drives_mini=0,
        points_per_core_scan=1000,
        points_per_surrounding_scan=1000,
        num_scans_before=0,
        num_scans_after=0,
        num_objects=objects,
        workers=max(1, len(os.sched_getaffinity(0))),
    )
    generate_sample(root, config)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--objects", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-convert-"))
    root = workdir / "data"
    if not (root / "trainval-frames-full.json").exists():
        print(f"generating {args.frames} frames with {args.objects} objects each in {root} ...", flush=True)
        make_dataset(root, args.frames, args.objects)
    zod_exe = Path(sys.executable).with_name("zod")
    cores = max(1, len(os.sched_getaffinity(0)))

    ours_out = workdir / "ours"
    ours_out.mkdir(exist_ok=True)
    base = [str(zod_exe), "convert", "coco", "--dataset-root", str(root), "--output-dir", str(ours_out),
            "--version", "full", "--overwrite", "--no-progress"]
    timings = {}
    worker_counts = sorted({1, *[w for w in (2, 4, 8, 16) if w <= cores], cores})
    for workers in worker_counts:
        timings[workers] = _time(base + ["--workers", str(workers)], args.repeat)

    oracle = _oracle_python()
    reference_s = None
    if oracle is not None:
        ref_out = workdir / "reference"
        ref_out.mkdir(exist_ok=True)
        script = workdir / "reference_coco.py"
        script.write_text(REFERENCE_SCRIPT)
        reference_s = _time([str(oracle), str(script), str(root), "full", str(ref_out)], args.repeat)
        ours_doc = json.loads((ours_out / "zod_full_blur_train.json").read_text())
        ref_doc = json.loads((ref_out / "zod_full_blur_train.json").read_text())
        same = [a["bbox"] for a in ours_doc["annotations"]] == [a["bbox"] for a in ref_doc["annotations"]]
        print(f"same boxes as the reference: {same} ({len(ours_doc['annotations'])} train annotations)")

    print(f"COCO conversion of {args.frames} frames x {args.objects} objects (whole command, best of {args.repeat}):")
    if reference_s is not None:
        print(f"  reference zod 0.8.0, 1 core : {reference_s:8.3f} s")
    for workers, seconds in timings.items():
        line = f"  zod convert --workers {workers:<3}: {seconds:8.3f} s"
        if reference_s is not None:
            line += f"   {reference_s / seconds:6.1f}x faster than the reference"
        if workers > 1:
            line += f"   speed-up vs 1 worker {timings[1] / seconds:4.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
