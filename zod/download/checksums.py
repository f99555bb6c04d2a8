"""Checksums of archives: SHA-256 (``SHA256SUMS`` files) and Dropbox's ``content_hash``."""

from __future__ import annotations

import hashlib
import os
import re

DROPBOX_BLOCK_SIZE = 4 * 1024 * 1024
_READ_CHUNK = 1 << 20
_SUMS_LINE = re.compile(r"^\\?([0-9a-fA-F]{64}) [ *](.+)$")


class DropboxContentHasher:
    """Dropbox's content hash: SHA-256 of the concatenated SHA-256s of the 4 MiB blocks.

    ``update`` accepts data cut anywhere; ``hexdigest`` does not consume the state.
    """

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._block_pos = 0

    def update(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while len(view):
            room = DROPBOX_BLOCK_SIZE - self._block_pos
            part = view[:room]
            self._block.update(part)
            self._block_pos += len(part)
            view = view[len(part) :]
            if self._block_pos == DROPBOX_BLOCK_SIZE:
                self._overall.update(self._block.digest())
                self._block = hashlib.sha256()
                self._block_pos = 0

    def hexdigest(self) -> str:
        overall = self._overall.copy()
        if self._block_pos:
            overall.update(self._block.digest())
        return overall.hexdigest()


class MultiHasher:
    """Feeds the same bytes to SHA-256 and (optionally) the Dropbox content hasher."""

    def __init__(self, dropbox: bool = False) -> None:
        self.sha256 = hashlib.sha256()
        self.dropbox = DropboxContentHasher() if dropbox else None

    def update(self, data: bytes | memoryview) -> None:
        self.sha256.update(data)
        if self.dropbox is not None:
            self.dropbox.update(data)

    def update_from_file(self, path: str | os.PathLike[str], limit: int | None = None) -> int:
        """Hash the first ``limit`` bytes of a file (all when None); returns the bytes read."""
        done = 0
        with open(path, "rb") as f:
            while limit is None or done < limit:
                want = _READ_CHUNK if limit is None else min(_READ_CHUNK, limit - done)
                chunk = f.read(want)
                if not chunk:
                    break
                self.update(chunk)
                done += len(chunk)
        return done


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file."""
    hasher = MultiHasher()
    hasher.update_from_file(path)
    return hasher.sha256.hexdigest()


def dropbox_content_hash_file(path: str | os.PathLike[str]) -> str:
    """Dropbox ``content_hash`` of a file."""
    hasher = MultiHasher(dropbox=True)
    hasher.update_from_file(path)
    assert hasher.dropbox is not None
    return hasher.dropbox.hexdigest()


def parse_sha256sums(text: str) -> dict[str, str]:
    """Parse the output format of ``sha256sum`` (``<hex>  <name>`` or ``<hex> *<name>``).

    Returns name -> lowercase hex digest; blank lines and ``#`` comments are ignored, a
    leading ``./`` is dropped from names.
    """
    sums: dict[str, str] = {}
    for line in text.splitlines():
        line = line.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SUMS_LINE.match(line)
        if match is None:
            raise ValueError(f"not a sha256sum line: {line!r}")
        name = match.group(2)
        name = name.removeprefix("./")
        sums[name] = match.group(1).lower()
    return sums


def format_sha256sums(sums: dict[str, str]) -> str:
    """Write name -> digest in the output format of ``sha256sum`` (sorted by name)."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
