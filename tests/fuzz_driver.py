"""Fuzz driver of tests/test_fuzz_readers.py: corrupts one file of a sample copy per case and
calls the public reading API on it, in a process whose address space is capped.

    python tests/fuzz_driver.py SAMPLE_ROOT WORK_DIR SEED CASES_PER_PAIR [--no-limit]

The sample is copied to WORK_DIR once; each case mutates one file (one mutation family), calls
the reader that reads it, then restores the file. A case passes when the reader returns a
plausible value or raises a ``ZodError`` whose message names the file. The address-space cap
(``RLIMIT_AS``: what the process maps after its imports plus ``HEADROOM``) turns any attempt to
allocate what a corrupt header claims into a ``MemoryError``, that is a failure. Prints one
JSON object: ``{"cases": n, "failures": [{reader, family, file, error}, ...]}``.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import socket
import struct
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from zod import ZodFrames, ZodSequences
from zod.constants import AnnotationProject
from zod.errors import MissingFileError, ZodError
from zod.info import Information

HEADROOM = 2 << 30  # bytes of address space a case may add (a whole real scan is 6 MB)

Mutation = Callable[[Path, random.Random], bool]  # False: not applicable to this file


# --------------------------------------------------------------------------- file families
def truncate(path: Path, rng: random.Random) -> bool:
    size = path.stat().st_size
    cut = rng.choice([0, 1, rng.randrange(size), max(0, size - 1), size // 2])
    with open(path, "r+b") as f:
        f.truncate(cut)
    return True


def bitflip(path: Path, rng: random.Random) -> bool:
    data = bytearray(path.read_bytes())
    if not data:
        return False
    # half the cases in the first KiB: the headers, where a flip does the most damage
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(min(len(data), 1024)) if rng.random() < 0.5 else rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return True


def directory(path: Path, rng: random.Random) -> bool:
    path.unlink()
    path.mkdir()
    return True


def unreadable(path: Path, rng: random.Random) -> bool:
    """A file that cannot be opened for reading, even by root: a unix socket, or mode 000."""
    path.unlink()
    if os.geteuid() == 0 or rng.random() < 0.5:
        cwd = os.getcwd()
        os.chdir(path.parent)  # a socket path is limited to 108 bytes: bind a relative one
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(path.name)
            sock.close()
        finally:
            os.chdir(cwd)
    else:
        path.write_bytes(b"{}")
        path.chmod(0)
    return True


def symlink_loop(path: Path, rng: random.Random) -> bool:
    path.unlink()
    other = path.with_name(path.name + ".loop")
    os.symlink(other.name, path)
    os.symlink(path.name, other)
    return True


# --------------------------------------------------------------------------- JSON families
def _nodes(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key) of every value below ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((value, k))
            _nodes(v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((value, i))
            _nodes(v, out)
    return out


def _json_edit(path: Path, rng: random.Random, edit: Callable[[Any, random.Random], bool]) -> bool:
    if path.suffix != ".json":
        return False
    data = json.loads(path.read_bytes())
    if not edit(data, rng):
        return False
    text = json.dumps(data)
    text = text.replace('"__HUGE__"', "1e400").replace('"__NEG_HUGE__"', "-1e400")
    path.write_text(text)
    return True


def _pick(data: Any, rng: random.Random, want: Callable[[Any], bool]) -> tuple[Any, Any] | None:
    nodes = [(c, k) for c, k in _nodes(data, []) if want(c[k])]
    return rng.choice(nodes) if nodes else None


def json_type(path: Path, rng: random.Random) -> bool:
    def edit(data: Any, rng: random.Random) -> bool:
        node = _pick(data, rng, lambda v: True)
        if node is None:
            return False
        container, key = node
        old = container[key]
        choices = [None, True, "x", 7, 2.5, [], {}, [1, 2], {"a": 1}]
        container[key] = rng.choice([c for c in choices if type(c) is not type(old)])
        return True

    return _json_edit(path, rng, edit)


def json_key(path: Path, rng: random.Random) -> bool:
    def edit(data: Any, rng: random.Random) -> bool:
        node = _pick(data, rng, lambda v: isinstance(v, dict) and bool(v))
        if node is None:
            if isinstance(data, dict) and data:
                parent: dict[str, Any] = data
            else:
                return False
        else:
            parent = node[0][node[1]]
        key = rng.choice(list(parent))
        value = parent.pop(key)
        if rng.random() < 0.5:
            parent[key + "_renamed"] = value
        return True

    return _json_edit(path, rng, edit)


def json_value(path: Path, rng: random.Random) -> bool:
    def edit(data: Any, rng: random.Random) -> bool:
        node = _pick(data, rng, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        if node is None:
            return False
        container, key = node
        container[key] = rng.choice(
            [math.nan, math.inf, -math.inf, "__HUGE__", "__NEG_HUGE__", 1e308, -1.0, 10**30]
        )
        return True

    return _json_edit(path, rng, edit)


def json_empty(path: Path, rng: random.Random) -> bool:
    def edit(data: Any, rng: random.Random) -> bool:
        node = _pick(data, rng, lambda v: isinstance(v, (list, dict)) and bool(v))
        if node is None:
            return False
        container, key = node
        container[key] = type(container[key])()
        return True

    return _json_edit(path, rng, edit)


# --------------------------------------------------------------------------- .npy families
def _npy_parts(path: Path) -> tuple[dict[str, Any], int] | None:
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            return None
        major, _ = f.read(2)
        header_len = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(header_len).decode("latin1")
        offset = f.tell()
    import ast

    return ast.literal_eval(header), offset


def npy_header(path: Path, rng: random.Random) -> bool:
    """The header claims another shape (often far more records than the file holds), another
    dtype or Fortran order; the data bytes stay."""
    if path.suffix != ".npy":
        return False
    parts = _npy_parts(path)
    if parts is None:
        return False
    header, offset = parts
    n = header["shape"][0] if header["shape"] else 1
    choice = rng.randrange(6)
    if choice == 0:
        header["shape"] = (rng.choice([2**31, 2**33, 10**10, 2**40]),)
    elif choice == 1:
        header["shape"] = (n + rng.randint(1, 1000),)
    elif choice == 2:
        header["shape"] = (n, rng.randint(2, 10**6))
    elif choice == 3:
        header["shape"] = ()
    elif choice == 4:
        header["fortran_order"] = True
        header["shape"] = (2, n // 2 + 1)
    else:
        header["descr"] = rng.choice(["<f8", "|u1", [("x", "<f4")], "<U10"])
    data = path.read_bytes()[offset:]
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(data)
    return True


def npy_dtype(path: Path, rng: random.Random) -> bool:
    """A valid .npy of the wrong dtype or shape: a field dropped or of another type, plain
    floats, 2-D records, an empty array."""
    if path.suffix != ".npy":
        return False
    data = np.load(path)
    names = list(data.dtype.names or [])
    choice = rng.randrange(5)
    if choice == 0 and names:
        drop = rng.choice(names)
        new = np.empty(len(data), [(n, data.dtype[n]) for n in names if n != drop])
        for n in new.dtype.names or []:
            new[n] = data[n]
    elif choice == 1 and names:
        retype = rng.choice(names)
        new = np.zeros(len(data), [(n, "S4" if n == retype else data.dtype[n]) for n in names])
    elif choice == 2:
        new = np.zeros((len(data), 3), np.float32)
    elif choice == 3:
        new = np.stack([data, data])
    else:
        new = data[:0]
    np.save(path, new)
    return True


def npy_value(path: Path, rng: random.Random) -> bool:
    if path.suffix != ".npy":
        return False
    data = np.load(path)
    floats = [n for n in data.dtype.names or [] if data.dtype[n].kind == "f"]
    if not floats or not len(data):
        return False
    field = rng.choice(floats)
    idx = rng.randrange(len(data))
    data[field][idx] = rng.choice([np.nan, np.inf, -np.inf, 3e38])
    np.save(path, data)
    return True


# --------------------------------------------------------------------------- HDF5 families
def _datasets(file: h5py.File) -> list[str]:
    names: list[str] = []
    file.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def h5_missing(path: Path, rng: random.Random) -> bool:
    if path.suffix != ".hdf5":
        return False
    with h5py.File(path, "r+") as f:
        del f[rng.choice(_datasets(f))]
    return True


def h5_dtype(path: Path, rng: random.Random) -> bool:
    """A dataset replaced by one of another dtype, shape or length (or a group, or a scalar)."""
    if path.suffix != ".hdf5":
        return False
    with h5py.File(path, "r+") as f:
        name = rng.choice(_datasets(f))
        old = f[name][()]
        del f[name]
        choice = rng.randrange(6)
        if choice == 0:
            f[name] = np.array([b"abc"] * max(1, len(np.atleast_1d(old))))
        elif choice == 1:
            f[name] = np.zeros((3, 5, 7))
        elif choice == 2:
            f[name] = np.atleast_1d(old)[: max(0, len(np.atleast_1d(old)) // 2)]
        elif choice == 3:
            f[name] = np.zeros(0)
        elif choice == 4:
            f.create_group(name)
        else:
            f[name] = 1.5
    return True


def h5_value(path: Path, rng: random.Random) -> bool:
    if path.suffix != ".hdf5":
        return False
    with h5py.File(path, "r+") as f:
        names = [n for n in _datasets(f) if f[n].dtype.kind == "f" and f[n].size]
        if not names:
            return False
        dataset = f[rng.choice(names)]
        values = dataset[()]
        flat = values.reshape(-1)
        flat[rng.randrange(flat.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e300])
        dataset[...] = values
    return True


# --------------------------------------------------------------------------- JPEG family
def jpeg_header(path: Path, rng: random.Random) -> bool:
    """The SOF header claims a huge (or zero) image size."""
    if path.suffix != ".jpg":
        return False
    data = bytearray(path.read_bytes())
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        i = data.find(marker)
        if i >= 0:
            height, width = rng.choice([(65500, 65500), (65500, 100), (0, 0), (1, 65535)])
            data[i + 5 : i + 9] = struct.pack(">HH", height, width)
            path.write_bytes(bytes(data))
            return True
    return False


PRESENT = ("directory", "unreadable", "symlink_loop")  # something is there: not "missing"

FAMILIES: dict[str, Mutation] = {
    "truncate": truncate,
    "bitflip": bitflip,
    "directory": directory,
    "unreadable": unreadable,
    "symlink_loop": symlink_loop,
    "json_type": json_type,
    "json_key": json_key,
    "json_value": json_value,
    "json_empty": json_empty,
    "npy_header": npy_header,
    "npy_dtype": npy_dtype,
    "npy_value": npy_value,
    "h5_missing": h5_missing,
    "h5_dtype": h5_dtype,
    "h5_value": h5_value,
    "jpeg_header": jpeg_header,
}


# --------------------------------------------------------------------------- plausibility
def _finite(*arrays: Any) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays)


def _rigid(transforms: Any) -> bool:
    t = np.asarray(transforms, dtype=np.float64).reshape(-1, 4, 4)
    if not _finite(t):
        return False
    rotations = t[:, :3, :3]
    eye = np.broadcast_to(np.eye(3), rotations.shape)
    return bool(
        np.allclose(rotations @ np.swapaxes(rotations, 1, 2), eye, atol=2e-4)
        and np.allclose(np.linalg.det(rotations), 1.0, atol=2e-4)
        and np.allclose(t[:, 3], [0, 0, 0, 1], atol=2e-4)
    )


def check_calibration(calib: Any) -> str | None:
    cam = next(iter(calib.cameras.values()))
    poses = [cam.extrinsics.transform, *(c.extrinsics.transform for c in calib.lidars.values())]
    if not all(_rigid(p) for p in poses):
        return "a non-rigid or non-finite extrinsic was read"
    values = (cam.intrinsics, cam.distortion, cam.undistortion, cam.field_of_view)
    if not _finite(*values):
        return "a non-finite camera parameter was read"
    if np.any(np.asarray(cam.image_dimensions) <= 0) or np.any(cam.focal_lengths <= 0):
        return "a non-positive image size or focal length was read"
    return None


def check_ego_motion(motion: Any) -> str | None:
    n = len(motion.timestamps)
    if n == 0:
        return "an ego motion without samples was read"
    if not _rigid(motion.poses) or not _finite(motion.timestamps):
        return "a non-rigid or non-finite pose or time was read"
    if n > 1 and np.any(np.diff(motion.timestamps) <= 0):
        return "ego-motion times out of order were read"
    for name in ("velocities", "accelerations", "angular_rates"):
        if np.shape(getattr(motion, name)) != (n, 3):
            return f"{name} of shape {np.shape(getattr(motion, name))} for {n} samples"
    return None


def check_vehicle_data(data: Any) -> str | None:
    for group in (data.ego_vehicle_data, data.ego_vehicle_controls, data.satellite):
        n = np.shape(group.timestamp)
        for name in type(group).FIELDS:
            value = np.asarray(getattr(group, name))
            if value.ndim != 1 or value.shape != n or value.dtype.kind not in "biuf":
                return f"{type(group).__name__}.{name} of shape {value.shape} {value.dtype}"
    return None


def check_lidar(scan: Any) -> str | None:
    n = scan.num_points
    if scan.points.shape != (n, 3) or scan.timestamps.shape != (n,):
        return f"lidar arrays of shapes {scan.points.shape}, {scan.timestamps.shape}"
    if scan.intensity.shape != (n,) or scan.diode_idx.shape != (n,):
        return "lidar intensity or diode arrays of another length"
    return None


def check_radar(radar: Any) -> str | None:
    n = len(radar.radar_range)
    if any(np.shape(v) != (n,) for v in vars(radar).values()):
        return "radar arrays of different lengths"
    return None


def check_metadata(metadata: Any) -> str | None:
    """Every field of a frame's or clip's metadata is null or of its spec type (section 6)."""
    for name, value in vars(metadata).items():
        if value is None or name == "extra":
            continue
        if name in ("time", "start_time", "end_time"):
            ok = isinstance(value, datetime)
        elif name.startswith("num_"):
            ok = type(value) is int and value >= 0
        elif name in ("longitude", "latitude", "solar_angle_elevation"):
            limit = 180 if name == "longitude" else 90
            ok = type(value) is float and math.isfinite(value) and abs(value) <= limit
        else:
            ok = type(value) is str
        if not ok:
            return f"metadata {name} = {value!r:.40} ({type(value).__name__}) was read"
    return None


def check_image(image: Any) -> str | None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        return f"an image of shape {image.shape} {image.dtype}"
    return None


def check_objects(objects: Any) -> str | None:
    for obj in objects:
        box = getattr(obj, "box3d", None)
        if box is not None:
            size = np.asarray(box.size, dtype=np.float64)
            if not _finite(size, box.center) or np.any(size < 0):
                return f"a 3D box of size {size} at {box.center} was read"
    return None


# --------------------------------------------------------------------------- the readers
class Readers:
    """The reader of each file of the sample copy (public API, fresh objects per case)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        frames = ZodFrames(str(root), "mini")
        sequences = ZodSequences(str(root), "mini")
        # the frame annotated for the most projects (the first of them): every parser is fuzzed
        self.frame_id = max(
            sorted(frames.get_all_ids()), key=lambda i: len(frames.get_info(i).annotations)
        )
        self.seq_id = next(
            i for i in sorted(sequences.get_all_ids()) if sequences[i].info.radar_frames
        )
        frame, seq = frames[self.frame_id], sequences[self.seq_id]
        info = frame.info
        self.targets: dict[str, tuple[Path, Callable[[], Any], Callable[[Any], str | None]]] = {
            "index": (root / "trainval-frames-mini.json", self.index, lambda _: None),
            "info": (
                Path(seq.info.calibration_path).with_name("info.json"),
                self.info,
                lambda _: None,
            ),
            "calibration": (
                Path(info.calibration_path),
                lambda: self.frame().calibration,
                check_calibration,
            ),
            "ego_motion": (
                Path(info.ego_motion_path),
                lambda: self.frame().ego_motion,
                check_ego_motion,
            ),
            "oxts": (Path(info.oxts_path), lambda: self.frame().oxts, check_ego_motion),
            "metadata": (Path(info.metadata_path), lambda: self.frame().metadata, check_metadata),
            "sequence_metadata": (
                Path(seq.info.metadata_path),
                lambda: self.sequence().metadata,
                check_metadata,
            ),
            "vehicle_data": (
                Path(str(seq.info.vehicle_data_path)),
                lambda: self.sequence().vehicle_data,
                check_vehicle_data,
            ),
            "lidar": (
                Path(info.get_key_lidar_frame().filepath),
                lambda: self.frame().info.get_key_lidar_frame().read(),
                check_lidar,
            ),
            "radar": (
                Path(seq.info.get_radar_frames()[0].filepath),
                lambda: self.sequence().get_radar(),
                check_radar,
            ),
            "camera": (
                Path(info.get_key_camera_frame().filepath),
                lambda: self.frame().get_image(),
                check_image,
            ),
        }
        for project, annotation in info.annotations.items():
            check = check_objects if project == AnnotationProject.OBJECT_DETECTION else None
            self.targets[f"annotation:{project.value}"] = (
                Path(annotation.filepath),
                self._annotation(project),
                check or (lambda _: None),
            )

    def frame(self) -> Any:
        return ZodFrames(str(self.root), "mini")[self.frame_id]

    def sequence(self) -> Any:
        return ZodSequences(str(self.root), "mini")[self.seq_id]

    def index(self) -> None:
        frames = ZodFrames(str(self.root), "mini", use_cache=False)
        for item_id in frames.index.ids:
            frames.get_info(item_id)

    def info(self) -> Information:
        path = self.targets["info"][0]
        return Information.from_json_path(path, self.root, subset="sequences")

    def _annotation(self, project: AnnotationProject) -> Callable[[], Any]:
        return lambda: self.frame().get_annotation(project)


def _restore(path: Path, original: bytes, mode: int) -> None:
    loop = path.with_name(path.name + ".loop")
    for p in (path, loop):
        if p.is_symlink() or p.is_file() or p.is_socket():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)
    path.write_bytes(original)
    path.chmod(mode)


def run(sample: Path, work: Path, seed: int, cases_per_pair: int) -> dict[str, Any]:
    root = work / "sample"
    if not root.exists():
        shutil.copytree(sample, root)
    os.environ["ZOD_CACHE_DIR"] = str(work / "cache")
    readers = Readers(root)
    rng = random.Random(seed)
    failures: list[dict[str, str]] = []
    cases = 0
    per_family: dict[str, int] = dict.fromkeys(FAMILIES, 0)
    for reader, (path, call, check) in readers.targets.items():
        original, mode = path.read_bytes(), path.stat().st_mode
        for family, mutate in FAMILIES.items():
            for _ in range(cases_per_pair):
                try:
                    applied = mutate(path, rng)
                    if not applied:
                        break
                    cases += 1
                    per_family[family] += 1
                    problem: str | None = None
                    try:
                        value = call()
                    except ZodError as err:
                        if str(path) not in str(err):
                            problem = f"{type(err).__name__} not naming the file: {err}"
                        elif family in PRESENT and isinstance(err, MissingFileError):
                            problem = f"a file that is there reported as missing: {err}"
                    except BaseException as err:
                        if isinstance(err, KeyboardInterrupt):
                            raise
                        problem = f"{type(err).__name__}: {str(err)[:300]}"
                    else:
                        problem = check(value)
                    if problem:
                        failures.append(
                            {
                                "reader": reader,
                                "family": family,
                                "file": path.name,
                                "error": problem,
                            }
                        )
                finally:
                    _restore(path, original, mode)
    return {"cases": cases, "per_family": per_family, "failures": failures}


def _limit_address_space() -> None:
    with open("/proc/self/status") as f:
        vm_size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    limit = vm_size + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


if __name__ == "__main__":
    sample_arg, work_arg, seed_arg, cases_arg = sys.argv[1:5]
    if "--no-limit" not in sys.argv:
        _limit_address_space()
    result = run(Path(sample_arg), Path(work_arg), int(seed_arg), int(cases_arg))
    print(json.dumps(result))
