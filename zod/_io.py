"""The one way readers open a file: bad input becomes the devkit's own errors.

Every reader goes through these helpers, so that whatever is on disk in place of a file
raises only ``MissingFileError`` (nothing there: a dangling link counts as nothing) or a
``FormatError`` naming the file and what is wrong (a directory, a socket, an unreadable file,
a symlink loop, truncated or malformed content). ``load_npy_checked`` checks a ``.npy``
header (dtype, shape, order) against the file's size before it allocates anything, so a
corrupt header cannot make a reader reserve gigabytes.

Local path or URL, one rule (``is_url``): a path with a scheme (``s3://``, ``gs://``,
``memory://``, ``https://``, fsspec's chained ``simplecache::s3://``...) is read through fsspec,
imported only then; a plain path or a ``file://`` URL takes the local code path, unchanged.
On a URL the same helpers give the same errors (a missing object is a ``MissingFileError``
naming the stream, a prefix with objects under it is a directory, any other failure of the
store an ``UnreadableFileError`` naming the URL) and read ranged where a file is large: a
``.npy`` or HDF5 file through an fsspec file object whose block cache fetches ``URL_BLOCK_SIZE``
blocks (its header checked after the first block), a JPEG or JSON file whole in one request.
Storage options (endpoint, credentials) registered for a root URL by ``set_storage_options``
(``ZodFrames(..., storage_options=...)`` does it) apply to every URL under that root; other
URLs get fsspec's own configuration (its ``FSSPEC_<PROTOCOL>_<OPTION>`` environment variables
and config files, then the store's client defaults such as AWS's environment and profiles).
"""

from __future__ import annotations

import ast
import errno
import functools
import io
import json
import math
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from io import BufferedReader
from os import PathLike
from typing import IO, Any

import numpy as np

from zod.errors import FormatError, MissingFileError, UnreadableFileError, ZodError

__all__ = [
    "URL_BLOCK_SIZE",
    "UrlRanges",
    "check_file",
    "column_block",
    "fields_problem",
    "files_present",
    "is_dir",
    "is_file",
    "is_url",
    "iter_records_checked",
    "join_path",
    "list_names",
    "load_npy_checked",
    "local_or_url",
    "npy_from_bytes",
    "open_binary",
    "open_checked",
    "open_hdf5_checked",
    "open_npy_checked",
    "os_error_as_devkit_error",
    "path_exists",
    "read_bytes_checked",
    "read_hdf5_column",
    "read_into_checked",
    "read_json_checked",
    "register_storage_options",
    "rigid_problem",
    "set_storage_options",
    "storage_options_for",
    "url_filesystem",
    "url_info",
]

_NPY_MAGIC = b"\x93NUMPY"
_MAX_NPY_HEADER = 1 << 16  # numpy itself writes at most a few hundred bytes


URL_BLOCK_SIZE = 4 << 20
"""Bytes an fsspec file object fetches per request: a lidar scan of up to ~4 MB comes in one
GET with its header, a larger file in blocks, and a ``.npy`` header is checked (and a corrupt
one refused) after the first block, before the rest is fetched."""


# --------------------------------------------------------------------------------------------
# local path or URL
# --------------------------------------------------------------------------------------------
def is_url(path: str | PathLike[str]) -> bool:
    """Whether ``path`` is read through fsspec: it has a scheme (``s3://``, ``gs://``,
    ``memory://``...) other than ``file://`` (a local path)."""
    path = os.fspath(path)
    return "://" in path and not path.startswith("file://")


def _local_or_url(path: str | PathLike[str]) -> tuple[str, bool]:
    """(the path, whether it is a URL); a ``file://`` URL becomes its local path."""
    path = os.fspath(path)
    if "://" not in path:
        return path, False
    if path.startswith("file://"):
        return path[len("file://") :], False
    return path, True


def local_or_url(path: str | PathLike[str]) -> str:
    """``path`` as the readers take it: a ``file://`` URL as its local path, anything else as
    given."""
    return _local_or_url(path)[0]


def join_path(root: str | PathLike[str], *parts: str) -> str:
    """``root`` joined with ``parts``: with ``/`` for a URL, ``os.path.join`` for a local path."""
    root = os.fspath(root)
    if is_url(root):
        return "/".join([root.rstrip("/"), *(part.strip("/") for part in parts)])
    return os.path.join(root, *parts)


_STORAGE_OPTIONS: dict[str, dict[str, Any]] = {}
"""Root URL (no trailing slash) -> fsspec storage options for every URL under it."""


def set_storage_options(root: str | PathLike[str], options: Mapping[str, Any] | None) -> None:
    """Use ``options`` (fsspec storage options: ``endpoint_url``, ``key``, ``token``...) for
    every URL under ``root`` in this process; None forgets the ones registered for ``root``."""
    key = os.fspath(root).rstrip("/")
    if options is None:
        _STORAGE_OPTIONS.pop(key, None)
    else:
        _STORAGE_OPTIONS[key] = dict(options)


def register_storage_options(
    sources: Iterable[str | PathLike[str]], options: Mapping[str, Any] | None
) -> None:
    """``set_storage_options(source, options)`` for each URL of ``sources`` (a no-op without
    options: fsspec's environment and config then apply)."""
    if options is None:
        return
    for source in sources:
        if is_url(source):
            set_storage_options(source, options)


def storage_options_for(url: str) -> tuple[str, dict[str, Any]] | None:
    """(root, options) registered for the longest root ``url`` is under, or None."""
    best: tuple[str, dict[str, Any]] | None = None
    for root, options in list(_STORAGE_OPTIONS.items()):
        under = url == root or url.startswith(root + "/")
        if under and (best is None or len(root) > len(best[0])):
            best = (root, options)
    return best


def url_filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` (with the storage options registered for it) and the
    path in it. fsspec caches its filesystem objects per process and options, so this is cheap
    after the first call and safe after a fork."""
    try:
        import fsspec.core
    except ImportError as err:
        raise ImportError(f"reading {url} needs fsspec: pip install 'zod-devkit[cloud]'") from err
    found = storage_options_for(url)
    try:
        fs, path = fsspec.core.url_to_fs(url, **(found[1] if found else {}))
    except ImportError as err:  # the store's package (s3fs, gcsfs...) is not installed
        raise ImportError(f"reading {url}: {err} (pip install 'zod-devkit[cloud]')") from err
    return fs, path


def _store_error(url: str, err: Exception, what: str, stream: str | None) -> Exception:
    """The devkit error for a failure of the store (any exception of fsspec or its client)
    met on ``url``."""
    if isinstance(err, ZodError):
        return err
    if isinstance(err, FileNotFoundError):
        return MissingFileError(url, what, stream)
    if isinstance(err, IsADirectoryError):
        return UnreadableFileError(url, f"{what} is a directory (a prefix of objects), not a file")
    reason = str(err) or type(err).__name__
    return UnreadableFileError(url, f"{what} cannot be read ({type(err).__name__}: {reason})")


def url_info(url: str, what: str, stream: str | None) -> dict[str, Any]:
    """fsspec's ``info`` of the object at ``url`` (``size``, ``ETag``...), which must be a
    file: ``MissingFileError`` if nothing is there, ``FormatError`` for a prefix of objects (a
    directory) or a store that fails."""
    fs, path = url_filesystem(url)
    try:
        info: dict[str, Any] = fs.info(path)
    except Exception as err:
        raise _store_error(url, err, what, stream) from None
    kind = info.get("type")
    if kind == "directory":
        raise UnreadableFileError(url, f"{what} is a directory (a prefix of objects), not a file")
    if kind != "file":
        raise UnreadableFileError(url, f"{what} is not a file (the store says {kind!r})")
    return info


class _UrlRaw(io.RawIOBase):
    """An fsspec file object as a raw stream: reads go through its block cache (ranged GETs),
    any failure of the store becomes an ``OSError``; ``repr`` is the URL (h5py names a file
    object by its ``repr``)."""

    def __init__(self, file: Any, url: str) -> None:
        super().__init__()
        self._file = file
        self.name = url

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return int(self._file.readinto(buffer))
        except OSError:
            raise
        except Exception as err:  # the store's client errors (botocore, aiohttp ...)
            raise OSError(errno.EIO, f"{type(err).__name__}: {err}") from err

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._file.seek(offset, whence))

    def tell(self) -> int:
        return int(self._file.tell())

    def close(self) -> None:
        if not self.closed:
            try:
                self._file.close()
            finally:
                super().close()

    def __repr__(self) -> str:
        return self.name


def _open_url_raw(
    url: str, what: str, stream: str | None, info: dict[str, Any], cache: str
) -> _UrlRaw:
    """The object at ``url`` (``info`` from ``url_info``) opened for ranged reads through
    fsspec's ``cache`` (``readahead`` for front-to-back reads, ``blockcache`` for HDF5's
    jumps), ``URL_BLOCK_SIZE`` bytes per request. The file object is handed ``info``, so it
    asks the store for nothing but the ranges."""
    fs, path = url_filesystem(url)
    try:
        file = fs.open(
            path, "rb", block_size=URL_BLOCK_SIZE, cache_type=cache, size=int(info["size"])
        )
    except Exception as err:
        raise _store_error(url, err, what, stream) from None
    if isinstance(getattr(type(file), "details", None), property):
        file.details = info  # fsspec's buffered files: else s3fs asks for it again (ETag check)
    return _UrlRaw(file, url)


def _open_url(url: str, what: str, stream: str | None, info: dict[str, Any]) -> BufferedReader:
    """``_open_url_raw`` (read-ahead) behind a ``BufferedReader``, as ``open(path, "rb")``."""
    return io.BufferedReader(_open_url_raw(url, what, stream, info, "readahead"))


def _read_url(url: str, what: str, stream: str | None) -> bytes:
    """All bytes of the object at ``url`` in one request (a GET of ``bytes=0-``: no size
    asked first)."""
    fs, path = url_filesystem(url)
    failure: Exception | None = None
    try:
        return bytes(fs.cat_file(path, start=0))
    except FileNotFoundError:
        pass  # or a prefix of objects: ``url_info`` below tells which
    except Exception as err:
        failure = err
    if url_info(url, what, stream)["size"] == 0:  # a range of nothing fails on some stores
        return b""
    if failure is not None:
        raise _store_error(url, failure, what, stream)
    raise MissingFileError(url, what, stream)


def _ask_store(url: str, question: str) -> Any:
    """fsspec's ``question`` (``exists``, ``isdir``, ``info``) about ``url``; a failure of the
    store other than "not there" is an ``UnreadableFileError`` naming the URL."""
    fs, path = url_filesystem(url)
    try:
        return getattr(fs, question)(path)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise _store_error(url, err, "path", None) from None


def path_exists(path: str | PathLike[str]) -> bool:
    """``os.path.exists`` of a local path; for a URL, whether an object or a prefix is there."""
    path, remote = _local_or_url(path)
    return bool(_ask_store(path, "exists")) if remote else os.path.exists(path)


def is_file(path: str | PathLike[str]) -> bool:
    """``os.path.isfile`` of a local path; for a URL, whether an object is there."""
    path, remote = _local_or_url(path)
    if not remote:
        return os.path.isfile(path)
    try:
        return bool(_ask_store(path, "info").get("type") == "file")
    except FileNotFoundError:
        return False


def is_dir(path: str | PathLike[str]) -> bool:
    """``os.path.isdir`` of a local path; for a URL, whether it is a prefix of objects."""
    path, remote = _local_or_url(path)
    return bool(_ask_store(path, "isdir")) if remote else os.path.isdir(path)


def list_names(folder: str | PathLike[str]) -> frozenset[str]:
    """Names in a directory (for a URL: under a prefix, one listing); empty if it is not
    there or (locally) cannot be listed."""
    folder, remote = _local_or_url(folder)
    if not remote:
        try:
            return frozenset(os.listdir(folder))
        except OSError:
            return frozenset()
    fs, fs_path = url_filesystem(folder)
    try:
        names = fs.ls(fs_path, detail=False)
    except FileNotFoundError:
        return frozenset()
    except Exception as err:
        raise _store_error(folder, err, "directory", None) from None
    return frozenset(str(name).rstrip("/").rsplit("/", 1)[-1] for name in names)


def files_present(paths: Iterable[str | PathLike[str]]) -> list[bool]:
    """``path_exists`` of each path; URLs are answered by one listing per folder instead of a
    request per file."""
    listed: dict[str, frozenset[str]] = {}
    out = []
    for item in paths:
        path, remote = _local_or_url(item)
        if not remote:
            out.append(os.path.exists(path))
            continue
        folder, _, name = path.rstrip("/").rpartition("/")
        names = listed.get(folder)
        if names is None:
            names = listed[folder] = list_names(folder)
        out.append(name in names)
    return out


def open_binary(path: str | PathLike[str]) -> IO[bytes]:
    """A local path or a URL opened for reading bytes front to back (a shard: one sequential
    stream); no checks, errors as ``open`` and fsspec raise them."""
    path, remote = _local_or_url(path)
    if not remote:
        return open(path, "rb")
    fs, fs_path = url_filesystem(path)
    stream: IO[bytes] = fs.open(fs_path, "rb")
    return stream


class UrlRanges:
    """Byte ranges of one object in a store, sliced as ``data[start:end]`` (``ZodIndex`` slices
    an info from it): an fsspec file object with a read-ahead cache behind a lock, so the
    neighbouring spans of infos read in file order come in one request, from any thread."""

    def __init__(
        self,
        url: str,
        size: int,
        what: str,
        stream: str | None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.url, self.size, self.what, self.stream = url, size, what, stream
        self._info = {"size": size, "type": "file"} if info is None else info
        self._lock = threading.Lock()
        self._file: BufferedReader | None = None

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, span: slice) -> bytes:
        start, stop, step = span.indices(self.size)
        if step != 1:
            raise ValueError("UrlRanges reads contiguous ranges only")
        if stop <= start:
            return b""
        with self._lock:
            if self._file is None:
                self._file = _open_url(self.url, self.what, self.stream, self._info)
            try:
                self._file.seek(start)
                data = self._file.read(stop - start)
            except OSError as err:
                raise os_error_as_devkit_error(self.url, err, self.what, self.stream) from None
        if len(data) != stop - start:
            raise FormatError(self.url, f"{self.what} ends before byte {stop} (changed?)")
        return data

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


# --------------------------------------------------------------------------------------------
# the checked readers
# --------------------------------------------------------------------------------------------
def os_error_as_devkit_error(path: str, err: OSError, what: str, stream: str | None) -> Exception:
    """The devkit error for an ``OSError`` met opening or reading ``path``."""
    if isinstance(err, FileNotFoundError) and (is_url(path) or not os.path.islink(path)):
        return MissingFileError(path, what, stream)
    if err.errno == errno.ELOOP:
        return UnreadableFileError(path, f"{what} is a symlink loop")
    if isinstance(err, FileNotFoundError):  # a link to nothing: the target is what is missing
        return MissingFileError(path, what, stream)
    if isinstance(err, IsADirectoryError):
        return UnreadableFileError(path, f"{what} is a directory, not a file")
    reason = err.strerror or str(err) or type(err).__name__
    return UnreadableFileError(path, f"{what} cannot be read ({reason})")


def check_file(path: str | PathLike[str], what: str, stream: str | None) -> int:
    """The size in bytes of the regular file ``path`` (``stat`` only, no open; for a URL the
    store's ``info``).

    ``MissingFileError`` if nothing is there, ``FormatError`` if something else is (a
    directory, a socket or device, a symlink loop).
    """
    path, remote = _local_or_url(path)
    if remote:
        return int(url_info(path, what, stream)["size"])
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
    """``open(path, "rb")`` of a regular file (a URL: ranged reads, read ahead); errors as
    in ``check_file``."""
    path, remote = _local_or_url(path)
    if remote:
        return _open_url(path, what, stream, url_info(path, what, stream))
    check_file(path, what, stream)
    return _open(path, what, stream)


def _open(path: str, what: str, stream: str | None) -> BufferedReader:
    """``open(path, "rb")`` of a path ``check_file`` accepted (so the open cannot block)."""
    try:
        return open(path, "rb")
    except OSError as err:
        raise os_error_as_devkit_error(path, err, what, stream) from None


def read_bytes_checked(path: str | PathLike[str], what: str, stream: str | None) -> bytes:
    """All bytes of a regular file (a URL: in one request); errors as in ``check_file``."""
    path, remote = _local_or_url(path)
    if remote:
        return _read_url(path, what, stream)
    with open_checked(path, what, stream) as f:
        try:
            return f.read()
        except OSError as err:
            raise os_error_as_devkit_error(path, err, what, stream) from None


def read_json_checked(path: str | PathLike[str], what: str, stream: str | None) -> Any:
    """Parsed JSON of a file; ``FormatError`` if it is not UTF-8 JSON. ``NaN`` and
    ``Infinity`` parse (as Python's ``json`` does); the readers refuse them where they matter."""
    path = local_or_url(path)
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
    path, remote = _local_or_url(path)
    if remote:  # read ahead one block: the header is checked before the rest is fetched
        info = url_info(path, what, stream)
        size = int(info["size"])
        f = _open_url(path, what, stream, info)
    else:
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


def fields_problem(dtype: np.dtype[Any], fields: dict[str, str]) -> str | None:
    """What is wrong with a record dtype that should have ``fields`` of their kinds, or None.

    ``fields`` maps a field name to its numpy kind letters ("f" float, "iu" integer, ...); the
    ``dtype_check`` of ``open_npy_checked`` for a structured ``.npy`` file.
    """
    if dtype.names is None:
        return f"expected a structured array with fields {list(fields)}, got dtype {dtype}"
    missing = [f for f in fields if f not in dtype.names]
    if missing:
        return f"missing field(s) {missing} (has {list(dtype.names)})"
    wrong = [f"{f}: {dtype[f]}" for f, kinds in fields.items() if dtype[f].kind not in kinds]
    if wrong:
        return f"field(s) of the wrong dtype: {', '.join(wrong)}"
    return None


def iter_records_checked(
    f: BufferedReader, dtype: np.dtype[Any], count: int, path: str, what: str, chunk: int
) -> Iterator[np.ndarray]:
    """The ``count`` records of ``dtype`` at ``f``'s position, ``chunk`` records at a time,
    each read into the same buffer (a chunk is overwritten by the next: split it before asking
    for the next). The file is read once and each piece is still in cache while it is split;
    ``FormatError`` if the file ends first."""
    buffer = np.empty(min(count, chunk), dtype=dtype)
    for start in range(0, count, chunk):
        records = buffer[: min(chunk, count - start)]
        read_into_checked(f, records, path, what)
        yield records


def column_block(count: int, layout: Sequence[tuple[np.dtype[Any], int]]) -> list[np.ndarray]:
    """Uninitialised output columns for ``count`` records, carved out of one allocation: for
    each ``(dtype, rows)`` of ``layout`` a C-contiguous ``(count,)`` array, or ``(rows, count)``
    when ``rows > 1``; returned in ``layout`` order, placed widest item first (aligned).

    One block rather than one array per column: glibc hands a freed multi-MB block back to the
    OS unless it is the largest it has freed so far (its adaptive mmap and trim thresholds), and
    then every read page-faults its fresh output again (~1500 faults, ~3.5 ms of a 5 ms lidar
    read on a VM). A block the size of the file is reused from the heap, like ``np.load``'s.
    """
    dtypes = [np.dtype(dtype) for dtype, _ in layout]
    order = sorted(range(len(layout)), key=lambda i: -dtypes[i].itemsize)
    block = np.empty(
        count * sum(d.itemsize * rows for d, (_, rows) in zip(dtypes, layout)), np.uint8
    )
    columns: list[np.ndarray] = [block] * len(layout)
    offset = 0
    for i in order:
        rows, size = layout[i][1], count * dtypes[i].itemsize * layout[i][1]
        column = block[offset : offset + size].view(dtypes[i])
        columns[i] = column.reshape(rows, count) if rows > 1 else column
        offset += size
    return columns


def load_npy_checked(
    path: str | PathLike[str],
    what: str,
    stream: str | None,
    dtype_check: Callable[[np.dtype[Any]], str | None] | None = None,
) -> np.ndarray:
    """A 1-D ``.npy`` array, read once after its header passed the checks of
    ``open_npy_checked`` (so a corrupt header cannot make it allocate what the file lacks)."""
    path = local_or_url(path)
    f, dtype, count = open_npy_checked(path, what, stream, dtype_check)
    with f:
        data = np.empty(count, dtype=dtype)
        read_into_checked(f, data, path, what)
    return data


def open_hdf5_checked(path: str | PathLike[str], what: str, stream: str | None) -> Any:
    """An ``h5py.File`` opened for reading; errors as in ``check_file``, a file HDF5 refuses
    is a ``FormatError``."""
    import h5py

    path, remote = _local_or_url(path)
    source: Any = path
    if remote:  # h5py reads the fsspec file object, whose block cache keeps what it jumps to
        source = _open_url_raw(path, what, stream, url_info(path, what, stream), "blockcache")
    else:
        check_file(path, what, stream)
    try:
        return h5py.File(source, "r")
    except OSError as err:
        if remote:
            source.close()
        if isinstance(err, FileNotFoundError):
            raise MissingFileError(path, what, stream) from None
        raise FormatError(path, f"not a readable HDF5 file ({err})") from None
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        if remote:
            source.close()
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
