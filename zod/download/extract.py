"""Safe, streaming extraction of the release's tar archives.

Every member is checked before anything is written for it (the same rules as Python's tarfile
``data`` filter, written out so they also hold on Python 3.10):

- no absolute names and no ``..`` component; the member's parent directory, with existing
  symlinks on disk resolved, must lie inside the output directory;
- symlinks must point inside the output directory (relative targets only); hard links must
  name a file already extracted from the same output directory;
- devices, fifos and unknown member types are refused;
- permissions are reduced to rw-r--r-- (rwxr-xr-x when executable), owners are ignored.

A refused member aborts that archive with `UnsafeArchiveError`; members before it (all inside the
output directory) stay. Regular files are written to a temporary name and renamed into place,
so an interrupted extraction never leaves a truncated file under its final name.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import shutil
import tarfile
import threading
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from tqdm import tqdm

from zod._atomic import atomic_path
from zod.download.errors import DiskFullError, DownloadCancelled, UnsafeArchiveError
from zod.errors import FormatError

_COPY_CHUNK = 1 << 20


@dataclass
class ExtractResult:
    """What one archive put on disk."""

    files: int = 0
    directories: int = 0
    links: int = 0
    bytes: int = 0


class _CountingReader(io.BufferedIOBase):
    """Forward-only reader that reports how many compressed bytes were consumed (for tqdm).

    A ``BufferedIOBase`` so that it is the file object gzip, bz2, lzma and tarfile expect (not
    seekable: they only read it front to back). Closing it leaves ``raw`` open.
    """

    def __init__(self, raw: BinaryIO, pbar: tqdm | None) -> None:
        super().__init__()
        self._raw = raw
        self._pbar = pbar

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        if self._pbar is not None and data:
            self._pbar.update(len(data))
        return data


def _decompressed(raw: BinaryIO, reader: _CountingReader) -> io.BufferedIOBase:
    """A decompressing reader chosen from the magic bytes (gzip, bzip2, xz or plain tar).

    Unlike tarfile's own stream mode, these readers check the compressed stream's checksum.
    """
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=reader, mode="rb")
    if magic[:3] == b"BZh":
        return bz2.BZ2File(reader, mode="rb")
    if magic == b"\xfd7zXZ\x00":
        # typeshed asks for a typing.IO[bytes]; LZMAFile only ever calls read() on it
        return lzma.LZMAFile(reader, mode="rb")  # type: ignore[arg-type]
    return reader


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _checked_relative(archive: str, name: str) -> str | None:
    """Normalised member name, or None for the root itself; raises for unsafe names."""
    if not name or "\x00" in name:
        raise UnsafeArchiveError(archive, name, "has an empty or invalid name")
    if name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(archive, name, "has an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(archive, name, "contains '..'")
    return "/".join(parts) if parts else None


def _target_path(archive: str, name: str, rel: str, real_root: str) -> str:
    """Absolute destination of a member, after checking its parent resolves inside the root."""
    dest = os.path.join(real_root, *rel.split("/"))
    parent = os.path.realpath(os.path.dirname(dest))
    if not _inside(parent, real_root):
        raise UnsafeArchiveError(
            archive, name, "would be written through a link leaving the output directory"
        )
    return os.path.join(parent, os.path.basename(dest))


def _remove_existing(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)


def _write_regular(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str) -> int:
    source = tar.extractfile(member)
    if source is None:
        raise FormatError(dest, "tar member has no data")
    if os.path.isdir(dest) and not os.path.islink(dest):
        raise FormatError(dest, "archive file would replace a directory")
    with atomic_path(dest, mode=0o755 if member.mode & 0o100 else 0o644) as tmp:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(source, out, _COPY_CHUNK)
        os.utime(tmp, (member.mtime, member.mtime))
    return member.size


def safe_extract(
    archive: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    progress: bool = True,
    cancel: threading.Event | None = None,
) -> ExtractResult:
    """Extract the tar archive ``archive`` (any compression) into ``output_dir``, safely.

    ``cancel``: when set, extraction stops between members with `DownloadCancelled`.

    Raises `UnsafeArchiveError` on a refused member, `FormatError` on a corrupt archive and
    `DiskFullError` when the disk fills up.
    """
    archive_str = str(archive)
    os.makedirs(output_dir, exist_ok=True)
    real_root = os.path.realpath(output_dir)
    result = ExtractResult()
    size = os.path.getsize(archive_str)
    pbar = tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        leave=False,
        disable=not progress,
        desc=f"Extracting {os.path.basename(archive_str)}",
    )
    try:
        with open(archive_str, "rb") as raw:
            stream = _decompressed(raw, _CountingReader(raw, pbar))
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelled(f"{archive_str}: extraction interrupted")
                    _extract_member(tar, member, archive_str, real_root, result)
            # tarfile stops at the end-of-archive blocks: read on to the end of the compressed
            # stream so its checksum (gzip CRC-32, xz/bz2 checks) is verified too.
            while stream.read(_COPY_CHUNK):
                pass
    except FormatError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as err:
        raise FormatError(archive_str, f"corrupt or truncated archive ({err})") from err
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise DiskFullError(str(output_dir), None, None) from err
        if err.errno is None:  # a decompressor's complaint (bz2: "Invalid data stream")
            raise FormatError(archive_str, f"corrupt or truncated archive ({err})") from err
        raise
    finally:
        pbar.close()
    return result


def _extract_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    archive: str,
    real_root: str,
    result: ExtractResult,
) -> None:
    name = member.name
    rel = _checked_relative(archive, name)
    if rel is None:
        if member.isdir():
            return
        raise UnsafeArchiveError(archive, name, "has no file name")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise UnsafeArchiveError(archive, name, "is a device or fifo")
    dest = _target_path(archive, name, rel, real_root)
    if member.isdir():
        if os.path.islink(dest):
            raise UnsafeArchiveError(archive, name, "would replace a symbolic link by a directory")
        os.makedirs(dest, exist_ok=True)
        result.directories += 1
        return
    if member.issym():
        target = member.linkname
        if not target or os.path.isabs(target) or target.startswith(("/", "\\")):
            raise UnsafeArchiveError(archive, name, f"is a symlink to an absolute path {target!r}")
        resolved = os.path.normpath(os.path.join(os.path.dirname(dest), target))
        if not _inside(os.path.realpath(resolved), real_root):
            raise UnsafeArchiveError(
                archive, name, f"is a symlink leaving the output directory ({target!r})"
            )
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        _remove_existing(dest)
        os.symlink(target, dest)
        result.links += 1
        return
    if member.islnk():
        link_rel = _checked_relative(archive, member.linkname)
        if link_rel is None:
            raise UnsafeArchiveError(archive, name, "is a hard link to the output directory itself")
        source = os.path.realpath(os.path.join(real_root, *link_rel.split("/")))
        if not _inside(source, real_root):
            raise UnsafeArchiveError(
                archive, name, f"is a hard link leaving the output directory ({member.linkname!r})"
            )
        if not os.path.isfile(source):
            raise FormatError(
                archive, f"hard link {name!r} names {member.linkname!r}, not extracted before it"
            )
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.abspath(source) != os.path.abspath(dest):
            _remove_existing(dest)
            shutil.copyfile(source, dest)
            os.chmod(dest, 0o644)
        result.links += 1
        return
    if not member.isreg():
        raise UnsafeArchiveError(archive, name, f"has an unsupported member type {member.type!r}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    result.bytes += _write_regular(tar, member, dest)
    result.files += 1
