"""The devkit's own error types.

Every error a user can trigger with bad or missing data is one of these, and its message names
the file and what is wrong (and, for a missing file, the download stream that brings it).
"""

from __future__ import annotations

from os import PathLike


class ZodError(Exception):
    """Base class of every error raised by the devkit."""


class MissingFileError(ZodError, FileNotFoundError):
    """A file listed by the index is not on disk (or, for a URL, not in the object store).

    ``what`` says what the file is ("lidar scan", "blurred image", ...), ``stream`` how to get it
    (a ``zod download`` flag such as ``--num-scans-before`` or a stream name such as ``oxts``).
    """

    def __init__(self, path: str | PathLike[str], what: str, stream: str | None = None) -> None:
        self.path = str(path)
        self.what = what
        self.stream = stream
        where = "in the store" if "://" in self.path else "on disk"  # a URL: an object store
        message = f"{what} {self.path} is not {where}"
        if stream:
            message += f"; download it with {stream}"
        super().__init__(message)

    def __str__(self) -> str:  # FileNotFoundError would otherwise print errno-style text
        return self.args[0]


class FormatError(ZodError, ValueError):
    """A file exists but does not follow the ZOD format (truncated, wrong dtype, missing key...)."""

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class NotAnnotatedError(ZodError):
    """Raised when a project is not annotated for the requested frame or sequence."""


class UnreadableFileError(FormatError, OSError):
    """Something is in place of a file but cannot be read as one: a directory, a socket or
    device, a symlink loop, a file without read permission. Also an ``OSError``, as the
    reference devkit raised there."""

    def __str__(self) -> str:
        return str(self.args[0])


class MissingKeyError(FormatError, KeyError):
    """A file lacks a key it must have. Also a ``KeyError``, as the reference devkit raised."""

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])
