"""The one way readers open a file: bad input becomes the devkit's own errors.

Every reader goes through these helpers, so that whatever is on disk in place of a file
raises only ``MissingFileError`` (nothing there: a dangling link counts as nothing) or a
``FormatError`` naming the file and what is wrong (a directory, a socket, an unreadable file,
a symlink loop, truncated or malformed content). ``load_npy_checked`` checks a ``.npy``
header (dtype, shape, order) against the file's size before it allocates anything, so a
corrupt header cannot make a reader reserve gigabytes.
"""

from __future__ import annotations

import ast
import errno
import functools
import json
import math
import os
import stat
from collections.abc import Callable
from io import BufferedReader
from os import PathLike
from typing import Any

import numpy as np

from zod.errors import FormatError, MissingFileError, UnreadableFileError

__all__ = [
    "check_file",
    "load_npy_checked",
    "npy_from_bytes",
    "open_checked",
    "open_hdf5_checked",
    "open_npy_checked",
    "os_error_as_devkit_error",
    "read_bytes_checked",
    "read_hdf5_column",
    "read_into_checked",
    "read_json_checked",
    "rigid_problem",
]

_NPY_MAGIC = b"\x93NUMPY"
_MAX_NPY_HEADER = 1 << 16  # numpy itself writes at most a few hundred bytes


def os_error_as_devkit_error(path: str, err: OSError, what: str, stream: str | None) -> Exception:
    """The devkit error for an ``OSError`` met opening or reading ``path``."""
    if isinstance(err, FileNotFoundError) and not os.path.islink(path):
        return MissingFileError(path, what, stream)
    if err.errno == errno.ELOOP:
        return UnreadableFileError(path, f"{what} is a symlink loop")
    if isinstance(err, FileNotFoundError):  # a link to nothing: the target is what is missing
        return MissingFileError(path, what, stream)
    if isinstance(err, IsADirectoryError):
        return UnreadableFileError(path, f"{what} is a directory, not a file")
    reason = err.strerror or type(err).__name__
    return UnreadableFileError(path, f"{what} cannot be read ({reason})")


def check_file(path: str | PathLike[str], what: str, stream: str | None) -> int:
    """The size in bytes of the regular file ``path`` (``stat`` only, no open).

    ``MissingFileError`` if nothing is there, ``FormatError`` if something else is (a
    directory, a socket or device, a symlink loop).
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as err:
        raise os_error_as_devkit_error(path, err, what, stream) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableFileError(path, f"{what} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFileError(path, f"{what} is not a regular file")
    return st.st_size


def open_checked(path: str | PathLike[str], what: str, stream: str | None) -> BufferedReader:
    """``open(path, "rb")`` of a regular file; errors as in ``check_file``."""
    path = os.fspath(path)
    check_file(path, what, stream)
    return _open(path, what, stream)


def _open(path: str, what: str, stream: str | None) -> BufferedReader:
    """``open(path, "rb")`` of a path ``check_file`` accepted (so the open cannot block)."""
    try:
        return open(path, "rb")
    except OSError as err:
        raise os_error_as_devkit_error(path, err, what, stream) from None


def read_bytes_checked(path: str | PathLike[str], what: str, stream: str | None) -> bytes:
    """All bytes of a regular file; errors as in ``check_file``."""
    path = os.fspath(path)
    with open_checked(path, what, stream) as f:
        try:
            return f.read()
        except OSError as err:
            raise os_error_as_devkit_error(path, err, what, stream) from None


def read_json_checked(path: str | PathLike[str], what: str, stream: str | None) -> Any:
    """Parsed JSON of a file; ``FormatError`` if it is not UTF-8 JSON. ``NaN`` and
    ``Infinity`` parse (as Python's ``json`` does); the readers refuse them where they matter."""
    path = os.fspath(path)
    data = read_bytes_checked(path, what, stream)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(path, f"malformed JSON: {err}") from None
    except RecursionError:
        raise FormatError(path, "malformed JSON: nested too deeply") from None


@functools.lru_cache(maxsize=256)
def _parse_npy_header(raw: bytes, major: int) -> tuple[np.dtype[Any], tuple[int, ...], bool] | str:
    """dtype, shape and Fortran order of the header dict of a ``.npy`` file, or what is wrong
    with it. Cached: the headers of a dataset's files repeat (``ast.literal_eval`` is most of
    the cost of reading a small array)."""
    try:
        header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin1"))
        if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
            raise ValueError("not a dict of descr, fortran_order, shape")
        shape = header["shape"]
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError(f"shape {shape!r}")
        if not isinstance(header["fortran_order"], bool):
            raise ValueError(f"fortran_order {header['fortran_order']!r}")
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
        return f"malformed .npy header ({err})"
    return dtype, shape, header["fortran_order"]


def _npy_preamble(head: bytes, path: str) -> tuple[int, int, int]:
    """Format major version, header length and header offset from the first 12 bytes."""
    if len(head) < 10 or not head.startswith(_NPY_MAGIC):
        raise FormatError(path, "not a complete .npy file (no NUMPY magic)")
    major = head[6]
    if major == 1:
        length, offset = int.from_bytes(head[8:10], "little"), 10
    elif major in (2, 3):
        if len(head) < 12:
            raise FormatError(path, "not a complete .npy file (truncated header)")
        length, offset = int.from_bytes(head[8:12], "little"), 12
    else:
        raise FormatError(path, f"unknown .npy format version {major}")
    if length > _MAX_NPY_HEADER:
        raise FormatError(path, f".npy header of {length} bytes is not plausible")
    return major, length, offset


def _checked_header(
    raw: bytes, major: int, path: str
) -> tuple[np.dtype[Any], tuple[int, ...], bool]:
    parsed = _parse_npy_header(raw, major)
    if isinstance(parsed, str):
        raise FormatError(path, parsed)
    return parsed


def _npy_header(f: BufferedReader, path: str) -> tuple[np.dtype[Any], tuple[int, ...], bool, int]:
    """dtype, shape, Fortran order and data offset of an open ``.npy`` file (no data read)."""
    head = f.read(10)
    if len(head) == 10 and head.startswith(_NPY_MAGIC) and head[6] in (2, 3):
        head += f.read(2)
    major, length, offset = _npy_preamble(head, path)
    raw = f.read(length)
    if len(raw) < length:
        raise FormatError(path, "not a complete .npy file (truncated header)")
    return (*_checked_header(raw, major, path), offset + length)


def npy_from_bytes(data: bytes, where: str, what: str = ".npy member") -> np.ndarray:
    """The array of ``.npy`` bytes (a member of a tar shard, say), read-only and without a
    copy (``np.frombuffer``); ``FormatError`` naming ``where`` if the header is malformed,
    the dtype holds Python objects or the data is not exactly the header's size."""
    major, length, offset = _npy_preamble(data[:12], where)
    if len(data) < offset + length:
        raise FormatError(where, f"{what} is not a complete .npy (truncated header)")
    dtype, shape, fortran = _checked_header(data[offset : offset + length], major, where)
    if dtype.hasobject:
        raise FormatError(where, f"{what} holds Python objects (dtype {dtype})")
    count = math.prod(shape)
    start = offset + length
    if count * dtype.itemsize != len(data) - start:
        raise FormatError(
            where,
            f"{what}: the .npy header claims {count} items of {dtype.itemsize} bytes but "
            f"{len(data) - start} bytes follow it",
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def open_npy_checked(
    path: str | PathLike[str],
    what: str,
    stream: str | None,
    dtype_check: Callable[[np.dtype[Any]], str | None] | None = None,
) -> tuple[BufferedReader, np.dtype[Any], int]:
    """An open ``.npy`` file positioned at its data, with the dtype and record count of its
    header, once the header passed every check (nothing allocated for the data yet).

    The array must be 1-D, C order, of a dtype without Python objects that
    ``dtype_check(dtype) -> problem | None`` accepts (when given), and the record count times
    the record size must equal the bytes after the header (the file's size, from ``stat``).
    Errors as in ``check_file``, else ``FormatError`` naming what is wrong.
    """
    path = os.fspath(path)
    size = check_file(path, what, stream)  # a regular file: the open below cannot block
    f = _open(path, what, stream)
    try:
        dtype, shape, fortran, offset = _npy_header(f, path)
        if dtype.hasobject:
            raise FormatError(path, f"{what} holds Python objects (dtype {dtype})")
        if len(shape) != 1 or fortran:
            raise FormatError(
                path,
                f"{what} must be a 1-D array, the header says shape {shape}"
                + (" in Fortran order" if fortran else ""),
            )
        problem = dtype_check(dtype) if dtype_check is not None else None
        if problem:
            raise FormatError(path, problem)
        count = shape[0]
        need, have = count * dtype.itemsize, size - offset
        if need != have:
            raise FormatError(
                path,
                ("not a complete .npy file (truncated): " if need > have else "")
                + f"the .npy header claims {count} records of {dtype.itemsize} bytes "
                f"({need} bytes) but the file holds {have} bytes after it",
            )
    except OSError as err:
        f.close()
        raise os_error_as_devkit_error(path, err, what, stream) from None
    except BaseException:
        f.close()
        raise
    return f, dtype, count


def read_into_checked(f: BufferedReader, buffer: np.ndarray, path: str, what: str) -> None:
    """Fill ``buffer`` (C-contiguous) from ``f``; ``FormatError`` if the file ends first."""
    want = buffer.nbytes
    try:
        target: Any = buffer.view(np.uint8)  # a writable buffer (numpy's stubs do not say so)
        got = f.readinto(target) if want else 0
    except OSError as err:
        raise os_error_as_devkit_error(path, err, what, None) from None
    if got != want:
        raise FormatError(path, f"{what} is truncated: read {got} of {want} data bytes")


def load_npy_checked(
    path: str | PathLike[str],
    what: str,
    stream: str | None,
    dtype_check: Callable[[np.dtype[Any]], str | None] | None = None,
) -> np.ndarray:
    """A 1-D ``.npy`` array, read once after its header passed the checks of
    ``open_npy_checked`` (so a corrupt header cannot make it allocate what the file lacks)."""
    path = os.fspath(path)
    f, dtype, count = open_npy_checked(path, what, stream, dtype_check)
    with f:
        data = np.empty(count, dtype=dtype)
        read_into_checked(f, data, path, what)
    return data


def open_hdf5_checked(path: str | PathLike[str], what: str, stream: str | None) -> Any:
    """An ``h5py.File`` opened for reading; errors as in ``check_file``, a file HDF5 refuses
    is a ``FormatError``."""
    import h5py

    path = os.fspath(path)
    check_file(path, what, stream)
    try:
        return h5py.File(path, "r")
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise MissingFileError(path, what, stream) from None
        raise FormatError(path, f"not a readable HDF5 file ({err})") from None
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        raise FormatError(path, f"corrupt HDF5 file ({type(err).__name__}: {err})") from None


HDF5_ERRORS = (KeyError, RuntimeError, TypeError, ValueError, OSError, AttributeError)


def read_hdf5_column(
    file: Any, name: str, path: str, kinds: str = "biuf", ndim: int | tuple[int, ...] = 1
) -> np.ndarray:
    """Dataset ``name`` of an open HDF5 file as an array of ``ndim`` dimensions whose dtype
    kind is one of ``kinds``; ``FormatError`` naming ``path`` if it is missing, a group, of
    another dtype or shape, or unreadable (a corrupt node)."""
    import h5py

    try:
        node = file.get(name)
        if node is None:
            raise FormatError(path, f"missing dataset {name!r}")
        if not isinstance(node, h5py.Dataset):
            raise FormatError(path, f"{name!r} is a {type(node).__name__}, not a dataset")
        dims = (ndim,) if isinstance(ndim, int) else ndim
        if node.dtype.kind not in kinds or node.ndim not in dims:
            raise FormatError(
                path,
                f"dataset {name!r} is {node.dtype} of shape {node.shape}, expected "
                f"{' or '.join(map(str, dims))}-D numbers",
            )
        values = node[()]
    except FormatError:
        raise
    except HDF5_ERRORS as err:
        raise FormatError(
            path, f"corrupt HDF5 node {name!r} ({type(err).__name__}: {err})"
        ) from None
    return np.asarray(values)


def rigid_problem(transforms: np.ndarray, tolerance: float = 1e-4) -> str | None:
    """What makes (..., 4, 4) transforms not rigid (non-finite, rotation not orthonormal with
    determinant +1, last row not 0 0 0 1), or None. ``tolerance`` allows float32-rounded
    rotations."""
    t = np.asarray(transforms, dtype=np.float64).reshape(-1, 4, 4)
    # max-abs tests, not np.allclose: a calibration has two poses and allclose's overhead
    # was most of reading one (0.27 ms a pose)
    if not np.isfinite(t).all():
        return "non-finite values"
    if len(t) == 0:
        return None
    if np.abs(t[:, 3] - _LAST_ROW).max() > tolerance:
        return "last row is not 0 0 0 1"
    rotations = t[:, :3, :3]
    gram = rotations @ np.swapaxes(rotations, 1, 2)
    if np.abs(gram - _EYE3).max() > tolerance:
        return "rotation is not orthonormal"
    if np.abs(np.linalg.det(rotations) - 1.0).max() > tolerance:
        return "rotation is a reflection"
    return None


_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0])
_EYE3 = np.eye(3)
