"""Benchmark: the reference-compatible per-object API, ours against the reference devkit.

What migrating users run first (the reference tutorial), on the same generated frame with
``--objects`` annotated objects (a ZOD frame has ~50-100; the generator's cast has 20, so the
benchmark repeats its features, with new uuids and shifted boxes, up to that size):

1. ``frame.get_annotation(AnnotationProject.OBJECT_DETECTION)`` (read + parse the file into
   ``ObjectAnnotation`` objects). Goal >= 3x.
2. per 3D box: ``box.convert_to(Camera.FRONT, calib)`` then ``box.project_into_camera(calib)``.
   Goal >= 15x.
3. both: the annotation, then every box to the camera and projected.

The same timing script runs twice: in the reference devkit's venv (``.venv-oracle``, ``python
-I``, no PYTHONPATH: zod==0.8.0) and in ours; it prints best-of-``--repeat`` times as JSON and
the pixels it got, so the benchmark also checks that both agree.

    python benchmarks/bench_reference_api.py [--objects 80] [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ORACLE_CANDIDATES = [REPO / ".venv-oracle" / "bin" / "python", Path("/opt/zod-oracle/bin/python")]

# Runs unchanged on both devkits: only the reference's public API.
TIMING_SCRIPT = r"""
import json, sys, time
import numpy as np
from zod import ZodFrames
from zod.constants import AnnotationProject, Camera

root, frame_id, repeat, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
frame = ZodFrames(root, "full")[frame_id]
calib = frame.calibration
OD = AnnotationProject.OBJECT_DETECTION

def best(fn, n):
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)

t_anno = best(lambda: frame.get_annotation(OD), repeat)
objects = frame.get_annotation(OD)
boxes = [o.box3d for o in objects if o.box3d is not None]
per_box = []
for _ in range(repeat):
    fresh = [b.copy() for b in boxes]
    t0 = time.perf_counter()
    for b in fresh:
        b.convert_to(Camera.FRONT, calib)
        b.project_into_camera(calib)
    per_box.append((time.perf_counter() - t0) / len(fresh))

def tutorial(keep=None):
    pixels = []
    for obj in frame.get_annotation(OD):
        if obj.box3d is not None:
            obj.box3d.convert_to(Camera.FRONT, calib)
            pixels.append(obj.box3d.project_into_camera(calib))
            if keep is not None:
                keep.append([float(v) for v in obj.box3d.orientation.q])
    return pixels

t_both = best(tutorial, repeat)
orientations = []
pixels = np.array(tutorial(orientations))
json.dump(
    {
        "annotation_s": t_anno,
        "per_box_s": min(per_box),
        "tutorial_s": t_both,
        "objects": len(objects),
        "boxes": len(boxes),
        "pixels": pixels.tolist(),
        "orientations": orientations,
        "subclasses": [o.subclass for o in objects],
    },
    open(out, "w"),
)
"""


def _oracle_python() -> Path | None:
    return next((p for p in ORACLE_CANDIDATES if p.exists()), None)


def make_frame(workdir: Path, n_objects: int) -> tuple[Path, str]:
    """A generated sample (2 frames) whose first frame has ``n_objects`` annotated objects."""
    from zod.sample import SampleConfig, generate_sample

    root = workdir / "sample"
    config = SampleConfig(
        num_frames=2,
        num_frames_mini=1,
        num_sequences=0,
        num_sequences_mini=0,
        num_drives=0,
        num_drives_mini=0,
        points_per_core_scan=1000,
        points_per_surrounding_scan=1000,
        num_scans_before=0,
        num_scans_after=0,
        image_noise_std=0.0,
    )
    generate_sample(root, config)
    index = json.loads((root / "trainval-frames-full.json").read_text())
    info = (index["train"] + index["val"])[0]
    path = root / info["annotations"]["object_detection"]["filepath"]
    if not path.is_absolute():
        path = root / path
    features = json.loads(path.read_text())
    grown = []
    for k in range(n_objects):
        feature = json.loads(json.dumps(features[k % len(features)]))
        props = feature["properties"]
        if k >= len(features):
            props["annotation_uuid"] = f"{props.get('annotation_uuid', 'obj')}-{k}"
            if props.get("location_3d") is not None:  # a copy a bit further away
                x, y, z = props["location_3d"]["coordinates"]
                props["location_3d"]["coordinates"] = [x, y + 2.0 * (k // len(features)), z]
        grown.append(feature)
    path.write_text(json.dumps(grown))
    return root, str(info["id"])


def run_timing(python: str, env: dict[str, str], root: Path, frame_id: str, repeat: int) -> Any:
    with (
        tempfile.NamedTemporaryFile(suffix=".json") as out,
        tempfile.NamedTemporaryFile("w", suffix=".py") as script,
    ):
        script.write(TIMING_SCRIPT)
        script.flush()
        subprocess.run(
            [python, *(["-I"] if "PYTHONPATH" not in env else []), script.name, str(root),
             frame_id, str(repeat), out.name],
            check=True,
            env=env,
            cwd=tempfile.gettempdir(),
        )  # fmt: skip
        return json.loads(Path(out.name).read_text())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    oracle = _oracle_python()
    if oracle is None:
        print("the reference devkit venv (.venv-oracle) is missing: run scripts/setup.sh")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-reference-api-") as tmp:
        root, frame_id = make_frame(Path(tmp), args.objects)
        ref_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        ours_env = dict(os.environ, PYTHONPATH=str(REPO))
        ref = run_timing(str(oracle), ref_env, root, frame_id, args.repeat)
        ours = run_timing(sys.executable, ours_env, root, frame_id, args.repeat)
    err = float(np.abs(np.array(ref["pixels"]) - np.array(ours["pixels"])).max())
    same_q = np.allclose(ref["orientations"], ours["orientations"], rtol=1e-12, atol=1e-12)
    same_sub = ref["subclasses"] == ours["subclasses"]
    print(
        f"reference API, one frame of {ours['objects']} objects ({ours['boxes']} 3D boxes), "
        f"best of {args.repeat}:"
    )
    rows = [
        ("get_annotation(OBJECT_DETECTION)", "annotation_s", 1e3, "ms", 3),
        ("Box3D.convert_to + project_into_camera, per box", "per_box_s", 1e6, "us", 15),
        ("tutorial: get_annotation + every box to camera", "tutorial_s", 1e3, "ms", None),
    ]
    for name, key, scale, unit, goal in rows:
        ratio = ref[key] / ours[key]
        print(
            f"  {name:<48}: reference {ref[key] * scale:8.2f} {unit}  ours "
            f"{ours[key] * scale:8.2f} {unit}  ratio {ratio:5.1f}x"
            + (f" (goal >= {goal}x)" if goal else "")
        )
    print(
        f"  agreement: max pixel diff {err:.1e}, orientations equal {same_q}, "
        f"subclasses equal {same_sub}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
