"""Safe, all-or-nothing, interruptible extraction of the release's tar archives.

The release's archives (spec section 13) are ``.tar.gz`` files of regular files and
directories, all extracting into the dataset root. An archive is extracted in three steps::

    <root>/.zod-extract-<pid>@<host>@<archive>-<rand>/   1. stage: every member checked, then
                                                        streamed here (hidden, same disk)
    end of tar + compressed stream checksum          2. verify: the whole archive was read
    <root>/<path>  <-  os.rename / os.replace  <-  staging/<path>
                                                     3. place: directory merge (a folder the
                                                        root lacks moves whole, files replace
                                                        files); staging removed

Nothing of an archive reaches the root before the whole archive was read without error, so a
refused member, a truncated or corrupt archive, a limit exceeded, Ctrl-C or a full disk leave
no member of it behind (the staging directory is removed, no hidden temporary file remains).

Checks on every member, before anything is written for it. Spec section 13 lists data files
and folders only and is silent on links: links are accepted, but only in a canonical form that
provably stays inside the root (liberal enough for any sane archive, strict on safety):

- names: no absolute path, no ``..`` component, no name starting with ``.zod-extract-``;
- paths are resolved component by component in the *merged view* (what this archive staged so
  far laid over what is already in the root, links of both followed): a member whose parent
  resolves outside the root (through any chain of links) is refused, and it is staged at its
  resolved, link-free path;
- symlinks: relative target only, ``..`` only as leading components (``../../a/b``, not
  ``a/../b``), not climbing above the root from the link's own directory, and the target
  resolved in the merged view must stay inside the root. The shape rule makes the check
  independent of the order links appear in (``s -> y/../out`` followed by ``y -> .`` is
  refused at ``s``) and of other archives extracted in parallel: a target of leading ``..``
  and plain names can only leave the root through a link that itself leaves it;
- hard links: must name a regular file staged earlier from the same archive (linked, or
  copied where the file system has no hard links);
- devices, fifos and unknown member types are refused; a name that appears twice (other than a
  repeated directory) is refused; a file may not replace a directory nor a directory a file or
  a link already in the root;
- permissions are reduced to rw-r--r-- (rwxr-xr-x when executable), owners are ignored.

Running limits (`ExtractLimits`), checked on every chunk read from the decompressor, so a
decompression bomb is stopped after a bounded amount of work, whatever the tar headers claim:
a maximum of decompressed bytes, and a maximum ratio of decompressed to compressed bytes read
so far (after a floor, 64 MiB by default). The same check stops the extraction within a chunk
(1 MiB) when ``cancel`` is set; Ctrl-C in the calling thread raises `KeyboardInterrupt` there.
A tar stream must end with its end-of-archive block (tarfile alone stops silently at a
truncated or invalid header) and the gzip/xz/bzip2 stream's own checksum is read to the end.

Step 3 is renames only (each atomic: a file is whole or absent; a folder the root lacks appears
with all its content at once) and runs only after step 2; it takes seconds even for 100,000
members, and a reader looking during those seconds may see part of the archive in folders the
root already had. The record that an archive is complete is kept by the caller: `zod download`
marks it "extracted" in its state file only after `safe_extract` returned. If the process dies
during step 3 (SIGKILL, power loss), some members are in place, the rest are in the staging
directory; the next run finds the archive not marked extracted and extracts it again (members
are replaced), after deleting every staging directory whose process is gone
(`remove_stale_staging`).
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import io
import lzma
import os
import re
import shutil
import socket
import stat
import tarfile
import tempfile
import threading
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from tqdm import tqdm

from zod.download.errors import DiskFullError, DownloadCancelled, UnsafeArchiveError, format_size
from zod.errors import FormatError

_COPY_CHUNK = 1 << 20
STAGING_PREFIX = ".zod-extract-"
_MAX_LINK_HOPS = 40  # like the kernel's limit on symlinks followed in one lookup


@dataclass(frozen=True)
class ExtractLimits:
    """Running limits on what one archive may expand to, checked on every decompressed chunk.

    ``max_bytes``: decompressed bytes of the tar stream (headers, data, padding); None = no
    limit. ``max_ratio``: decompressed / compressed bytes read so far, checked once more than
    ``ratio_floor_bytes`` were decompressed; None = no limit. gzip expands at most ~1032:1
    (zeros); the release's images, scans and JSON compress far below 200:1.
    """

    max_bytes: int | None = None
    max_ratio: float | None = 200.0
    ratio_floor_bytes: int = 64 << 20


@dataclass
class ExtractResult:
    """What one archive put on disk."""

    files: int = 0
    directories: int = 0
    links: int = 0
    bytes: int = 0


class _Refused(Exception):
    """A member is refused (internal; turned into `UnsafeArchiveError` with the member name)."""


class _CountingReader(io.BufferedIOBase):
    """Forward-only reader that counts the compressed bytes consumed (ratio limit, tqdm).

    A ``BufferedIOBase`` so that it is the file object gzip, bz2, lzma and tarfile expect (not
    seekable: they only read it front to back). Closing it leaves ``raw`` open.
    """

    def __init__(self, raw: BinaryIO, pbar: tqdm | None) -> None:
        super().__init__()
        self._raw = raw
        self._pbar = pbar
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        self.count += len(data)
        if self._pbar is not None and data:
            self._pbar.update(len(data))
        return data


class _GzipStream(io.BufferedIOBase):
    """A gzip file (RFC 1952: members in sequence, zero padding allowed between and after
    them) decompressed in 1 MiB input chunks with at most ``size`` bytes out per read.

    zlib checks each member's CRC-32 and length; a stream ending inside a member raises
    EOFError. Faster than `gzip.GzipFile`, which reads 8 KiB at a time on Python 3.11, and
    ``consumed`` counts the compressed bytes really used (for the ratio limit), not read ahead.
    """

    def __init__(self, reader: _CountingReader) -> None:
        super().__init__()
        self._reader = reader
        self._pending = b""  # compressed bytes read but not yet used
        self._member: zlib._Decompress | None = None

    @property
    def consumed(self) -> int:
        return self._reader.count - len(self._pending)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = size if size is not None and size > 0 else _COPY_CHUNK
        while True:
            if not self._pending:
                self._pending = self._reader.read(_COPY_CHUNK)
                if not self._pending:
                    if self._member is not None:
                        raise EOFError("compressed stream ended inside a gzip member")
                    return b""
            if self._member is None:
                data = self._pending.lstrip(b"\x00")
                self._pending = data
                if not data:
                    continue
                self._member = zlib.decompressobj(wbits=31)
            out = self._member.decompress(self._pending, size)
            if self._member.eof:
                self._pending = self._member.unused_data
                self._member = None
            else:
                self._pending = self._member.unconsumed_tail
            if out:
                return out


def _decompressed(raw: BinaryIO, reader: _CountingReader) -> io.BufferedIOBase:
    """A decompressing reader chosen from the magic bytes (gzip, bzip2, xz or plain tar).

    Unlike tarfile's own stream mode, these readers check the compressed stream's checksum.
    """
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return _GzipStream(reader)
    if magic[:3] == b"BZh":
        return bz2.BZ2File(reader, mode="rb")
    if magic == b"\xfd7zXZ\x00":
        # typeshed asks for a typing.IO[bytes]; LZMAFile only ever calls read() on it
        return lzma.LZMAFile(reader, mode="rb")  # type: ignore[arg-type]
    return reader


class _MeteredStream(io.BufferedIOBase):
    """The decompressed tar stream; every read checks the running limits and ``cancel``."""

    def __init__(
        self, job: _Extraction, stream: io.BufferedIOBase, compressed: _CountingReader
    ) -> None:
        super().__init__()
        self._job = job
        self._stream = stream
        self._compressed = compressed
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._job.check_cancel()
        data = self._stream.read(size)
        self.count += len(data)
        limits = self._job.limits
        out = self.count
        comp = getattr(self._stream, "consumed", self._compressed.count)
        if limits.max_bytes is not None and out > limits.max_bytes:
            raise _Refused(
                f"expands past the limit of {format_size(limits.max_bytes)} "
                f"({format_size(out)} decompressed so far)"
            )
        if (
            limits.max_ratio is not None
            and out > limits.ratio_floor_bytes
            and out > limits.max_ratio * max(comp, 1)
        ):
            raise _Refused(
                f"expands {out / max(comp, 1):.0f}:1 ({format_size(out)} from "
                f"{format_size(comp)} of archive), past the limit of {limits.max_ratio:.0f}:1 "
                "(a decompression bomb?)"
            )
        return data


class _EndCheckingTarInfo(tarfile.TarInfo):
    """Records why tarfile stopped reading headers: only a zero block is a proper end.

    tarfile ends the member list silently at a missing, truncated or invalid header once past
    the first member; a tar cut at a member boundary would otherwise look complete.
    """

    @classmethod
    def fromtarfile(cls, tarfile: tarfile.TarFile) -> _EndCheckingTarInfo:
        tar = tarfile
        try:
            return super().fromtarfile(tar)
        except Exception as err:
            setattr(tar, "_zod_stop", err)  # noqa: B010
            raise


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _name_parts(text: str, what: str) -> list[str]:
    """Normalised components of a member name; raises `_Refused` for unsafe names."""
    if not text or "\x00" in text:
        raise _Refused(f"has an empty or invalid {what}")
    if text.startswith(("/", "\\")) or os.path.isabs(text) or (len(text) > 1 and text[1] == ":"):
        raise _Refused(f"has an absolute path as {what} ({text!r})")
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refused(f"contains '..' in its {what} ({text!r})")
    return parts


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, someone else's
        return True
    return True


def staging_owner(pid: int | None = None) -> str:
    """``<pid>@<host>``: who a staging directory belongs to (the host, because a dataset root
    on a shared disk may be written from several machines or containers, each with its pids)."""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64]
    return f"{os.getpid() if pid is None else pid}@{host}"


def remove_stale_staging(root: str | os.PathLike[str]) -> list[str]:
    """Delete staging directories left in ``root`` by processes of this host that are gone
    (SIGKILL, power loss); returns their names. Those of live processes or of other hosts are
    left alone."""
    removed: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    host = staging_owner().partition("@")[2]
    for name in names:
        if not name.startswith(STAGING_PREFIX):
            continue
        pid_text, _, rest = name[len(STAGING_PREFIX) :].partition("@")
        if not pid_text.isdigit() or rest.partition("@")[0] != host:
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        removed.append(name)
    return removed


class _Extraction:
    """The state of one archive's extraction: the staged tree and the counters."""

    def __init__(
        self,
        archive: str,
        real_root: str,
        staging: str,
        limits: ExtractLimits,
        cancel: threading.Event | None,
    ) -> None:
        self.archive = archive
        self.real_root = real_root
        self.staging = staging
        self.limits = limits
        self.cancel = cancel
        self.result = ExtractResult()
        self.member = "(tar header)"  # the member being read, for error messages
        self.kinds: dict[str, str] = {}  # staged path -> "dir" | "file" | "link"
        self.targets: dict[str, str] = {}  # staged symlink path -> its target
        self._made: set[str] = {""}  # directories created in the staging tree
        self._absent: set[str] = set()  # paths found absent from the root (no lstat below)
        self._parents: dict[tuple[str, ...], list[str]] = {}  # parent name -> resolved path

    # ------------------------------------------------------------------- merged view
    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled(
                f"{self.archive}: extraction interrupted at member {self.member!r}; "
                "nothing of this archive was kept"
            )

    def _lookup(self, key: str) -> tuple[str, str | None]:
        """Kind ("dir", "file", "link", "none") and link target of a path in the merged view."""
        kind = self.kinds.get(key)
        if kind is not None:
            return kind, self.targets.get(key)
        st = self._on_disk(key)
        if st is None:
            return "none", None
        if stat.S_ISLNK(st.st_mode):
            return "link", os.readlink(os.path.join(self.real_root, key))
        return ("dir" if stat.S_ISDIR(st.st_mode) else "file"), None

    def _on_disk(self, key: str) -> os.stat_result | None:
        """lstat of a path in the root, None when absent (known absent below an absent path)."""
        if key.rpartition("/")[0] in self._absent:
            self._absent.add(key)
            return None
        try:
            return os.lstat(os.path.join(self.real_root, key))
        except (FileNotFoundError, NotADirectoryError):
            self._absent.add(key)
            return None

    def _resolve(self, parts: list[str], what: str) -> list[str]:
        """The link-free path (components under the root) that ``parts`` leads to, following
        links of the archive and of the root; raises `_Refused` when it leaves the root."""
        todo = list(reversed(parts))
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not done:
                    raise _Refused(f"{what} leads outside the output directory")
                done.pop()
                continue
            done.append(part)
            kind, target = self._lookup("/".join(done))
            if kind == "link":
                assert target is not None
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    raise _Refused(f"{what} goes through too many links (a loop?)")
                link = "/".join(done)
                done.pop()
                if os.path.isabs(target):  # only links already on disk can be absolute
                    real = os.path.realpath(target)
                    if not _inside(real, self.real_root):
                        raise _Refused(
                            f"{what} goes through a link leaving the output directory "
                            f"({link!r} -> {target!r})"
                        )
                    rel = os.path.relpath(real, self.real_root)
                    done = [] if rel == "." else rel.split(os.sep)
                else:
                    todo.extend(reversed(target.split("/")))
            elif kind == "file" and any(p not in ("", ".") for p in todo):
                raise _Refused(f"{what} goes through the file {'/'.join(done)!r}")
        return done

    def _parent(self, parts: list[str]) -> list[str]:
        """Resolved parent directory of a member (cached; the cache is cleared by new links)."""
        key = tuple(parts[:-1])
        cached = self._parents.get(key)
        if cached is not None:
            return cached
        resolved = self._resolve(list(key), "its directory")
        if resolved and self._lookup("/".join(resolved))[0] == "file":
            raise _Refused(f"would be written under the file {'/'.join(resolved)!r}")
        for i in range(1, len(resolved) + 1):  # implied directories are part of the tree
            self.kinds.setdefault("/".join(resolved[:i]), "dir")
        self._parents[key] = resolved
        return resolved

    # ----------------------------------------------------------------------- members
    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Check one member and stage it."""
        self.member = member.name
        parts = _name_parts(member.name, "name")
        if not parts:
            if member.isdir():
                return
            raise _Refused("has no file name")
        if parts[0].startswith(STAGING_PREFIX):
            raise _Refused("uses the name reserved for extraction staging")
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise _Refused("is a device or fifo")
        if not (member.isdir() or member.issym() or member.islnk() or member.isreg()):
            raise _Refused(f"has an unsupported member type {member.type!r}")
        parent = self._parent(parts)
        key = "/".join([*parent, parts[-1]])
        self._check_leaf(member, key)
        path = os.path.join(self.staging, key)
        self._make_staged_dir(parent)
        if member.isdir():
            self._make_staged_dir([*parent, parts[-1]])
            self.kinds[key] = "dir"
            self.result.directories += 1
        elif member.issym():
            self._check_symlink(member.linkname, parent, key)
            os.symlink(member.linkname, path)
            self.result.links += 1
        elif member.islnk():
            source = self._hardlink_source(member.linkname)
            try:
                os.link(os.path.join(self.staging, source), path, follow_symlinks=False)
            except OSError:  # no hard links on this file system: a copy
                shutil.copyfile(os.path.join(self.staging, source), path)
                os.chmod(path, 0o644)
            self.kinds[key] = "file"
            self.result.links += 1
        else:
            self.result.bytes += self._write_file(tar, member, path)
            self.kinds[key] = "file"
            self.result.files += 1

    def _make_staged_dir(self, parts: list[str]) -> None:
        key = "/".join(parts)
        if key not in self._made:
            self._make_staged_dir(parts[:-1])
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.join(self.staging, key))
            self._made.add(key)

    def _check_leaf(self, member: tarfile.TarInfo, key: str) -> None:
        """Refuse duplicates and members that would replace what must not be replaced."""
        staged = self.kinds.get(key)
        if staged is not None:
            if staged == "dir" and member.isdir():
                return
            raise _Refused(f"appears twice in the archive (as {key!r})")
        st = self._on_disk(key)
        if st is None:
            return
        if member.isdir():
            if stat.S_ISLNK(st.st_mode):
                raise _Refused("would replace a symbolic link in the output directory")
            if not stat.S_ISDIR(st.st_mode):
                raise _Refused("is a directory but a file of that name is in the output directory")
        elif stat.S_ISDIR(st.st_mode):
            raise _Refused("would replace a directory of the output directory")

    def _check_symlink(self, target: str, parent: list[str], key: str) -> None:
        if not target or "\x00" in target:
            raise _Refused("is a symlink with an empty or invalid target")
        if target.startswith(("/", "\\")) or os.path.isabs(target):
            raise _Refused(f"is a symlink to an absolute path {target!r}")
        parts = [p for p in target.replace("\\", "/").split("/") if p not in ("", ".")]
        ups = 0
        while ups < len(parts) and parts[ups] == "..":
            ups += 1
        if ".." in parts[ups:]:
            raise _Refused(
                f"is a symlink whose target {target!r} has '..' after a name (only leading "
                "'..' are accepted, so no chain of links can lead it out)"
            )
        if ups > len(parent):
            raise _Refused(f"is a symlink leaving the output directory ({target!r})")
        self.kinds[key] = "link"
        self.targets[key] = target
        self._parents.clear()  # resolutions through this name change
        self._resolve([*parent, *parts], f"is a symlink whose target {target!r}")

    def _hardlink_source(self, linkname: str) -> str:
        parts = _name_parts(linkname, "hard link target")
        if not parts:
            raise _Refused("is a hard link to the output directory itself")
        source = "/".join([*self._resolve(parts[:-1], "its hard link target"), parts[-1]])
        if self.kinds.get(source) != "file":
            raise _Refused(
                f"is a hard link to {linkname!r}, not a file extracted before it from this archive"
            )
        return source

    def _write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> int:
        source = tar.extractfile(member)
        if source is None:
            raise FormatError(self.archive, f"tar member {member.name!r} has no data")
        written = 0
        with open(path, "xb", buffering=0) as out:  # unbuffered: 1 MiB writes, no tty probe
            while True:
                chunk = source.read(_COPY_CHUNK)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:  # an unbuffered write may be partial
                    view = view[out.write(view) or 0 :]
                written += len(chunk)
                self.check_cancel()
            os.fchmod(out.fileno(), 0o755 if member.mode & 0o100 else 0o644)
        with contextlib.suppress(OverflowError, ValueError, OSError):  # mtime out of range
            os.utime(path, (member.mtime, member.mtime))
        return written

    # --------------------------------------------------------------------- placement
    def place(self, rel: str = "") -> None:
        """Step 3: move the staged tree into the root. A directory the root lacks is renamed
        whole (a fresh item folder appears at once, in one rename); one it has is merged entry
        by entry; files and links replace what is there (checked in `_check_leaf`)."""
        with os.scandir(os.path.join(self.staging, rel)) as it:
            entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it)
        for name, is_dir in entries:
            key = f"{rel}/{name}" if rel else name
            self.member = key
            source = os.path.join(self.staging, key)
            dest = os.path.join(self.real_root, key)
            if not is_dir:
                os.replace(source, dest)
                continue
            try:
                st = os.lstat(dest)
            except FileNotFoundError:
                try:
                    os.rename(source, dest)  # replaces at most an empty directory: harmless
                    continue
                except OSError as err:  # created meanwhile by an archive extracted in parallel
                    if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    st = os.lstat(dest)
            if not stat.S_ISDIR(st.st_mode):  # a link or a file appeared since the check
                raise _Refused(f"cannot be placed: {key!r} is no longer a directory")
            self.place(key)


def safe_extract(
    archive: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    progress: bool = True,
    cancel: threading.Event | None = None,
    limits: ExtractLimits | None = None,
) -> ExtractResult:
    """Extract the tar archive ``archive`` (any compression) into ``output_dir``: safely, all
    or nothing, within ``limits`` (default `ExtractLimits()`); see the module docstring.

    ``cancel``: when set (from another thread), extraction stops within one chunk (1 MiB) with
    `DownloadCancelled`; Ctrl-C in this thread stops it as fast (`KeyboardInterrupt`). Either
    way nothing of the archive is left, staging included.

    Raises `UnsafeArchiveError` on a refused member or an exceeded limit, `FormatError` on a
    corrupt or truncated archive and `DiskFullError` when the disk fills up; each names the
    archive and the member.
    """
    archive_str = str(archive)
    os.makedirs(output_dir, exist_ok=True)
    real_root = os.path.realpath(output_dir)
    remove_stale_staging(real_root)
    base = os.path.basename(archive_str)
    prefix = f"{STAGING_PREFIX}{staging_owner()}@{base[:100]}-"
    staging = tempfile.mkdtemp(prefix=prefix, dir=real_root)
    job = _Extraction(archive_str, real_root, staging, limits or ExtractLimits(), cancel)
    size = os.path.getsize(archive_str)
    pbar = tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        leave=False,
        disable=not progress,
        desc=f"Extracting {base}",
    )
    try:
        with open(archive_str, "rb") as raw:
            compressed = _CountingReader(raw, pbar)
            stream = _MeteredStream(job, _decompressed(raw, compressed), compressed)
            with tarfile.open(
                fileobj=stream,
                mode="r|",
                bufsize=_COPY_CHUNK,
                tarinfo=_EndCheckingTarInfo,
            ) as tar:
                for member in tar:
                    job.add(tar, member)
                stop = getattr(tar, "_zod_stop", None)
                if not isinstance(stop, getattr(tarfile, "EOFHeaderError")):  # noqa: B009
                    raise FormatError(
                        archive_str,
                        f"corrupt or truncated archive after member {job.member!r} "
                        f"({stop or 'no end-of-archive block'}); nothing of it was extracted",
                    )
            # tarfile stops at the end-of-archive block: read on to the end of the compressed
            # stream so its checksum (gzip CRC-32, xz/bz2 checks) is verified too.
            job.member = "(end of archive)"
            while stream.read(_COPY_CHUNK):
                pass
        job.place()
    except _Refused as err:
        raise UnsafeArchiveError(archive_str, job.member, str(err)) from None
    except FormatError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as err:
        raise FormatError(
            archive_str,
            f"corrupt or truncated archive at member {job.member!r} ({err}); "
            "nothing of it was extracted",
        ) from err
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise DiskFullError(str(output_dir), None, None) from err
        if err.errno is None:  # a decompressor's complaint (bz2: "Invalid data stream")
            raise FormatError(
                archive_str, f"corrupt or truncated archive at member {job.member!r} ({err})"
            ) from err
        raise
    finally:
        pbar.close()
        shutil.rmtree(staging, ignore_errors=True)
    return job.result
