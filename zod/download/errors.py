"""Errors of `zod download`, `zod verify`, `zod mirror`: each says what happened and what to do."""

from __future__ import annotations

import re
from typing import ClassVar

from zod.errors import ZodError


class DownloadError(ZodError):
    """Base class of the download errors."""


class LinkError(DownloadError):
    """The server refused the link or the file (HTTP 401/403/404/410 or a Dropbox API error)."""

    _ADVICE: ClassVar[dict[int, str]] = {
        401: "credentials are missing, wrong or expired (Dropbox: --dropbox-token or "
        "ZOD_DROPBOX_TOKEN; a web mirror: https://user:password@host/...)",
        403: "access is forbidden: the link is not shared with you, or the share's bandwidth "
        "limit is reached (try again later)",
        404: "not found: check the URL (quote it on the command line) and the sub-dataset",
        409: "the shared link or the path inside it is not valid (Dropbox API error)",
        410: "the link has expired or was revoked: ask for a new link at zod.zenseact.com",
    }

    def __init__(self, url: str, status: int, detail: str = "") -> None:
        self.url = url
        self.status = status
        advice = self._ADVICE.get(status, "the server refused the request")
        message = f"HTTP {status} for {url}: {advice}"
        if detail:
            message += f" ({_plain_text(detail)[:300]})"
        super().__init__(message)


class NetworkError(DownloadError):
    """The server could not be reached (no network, DNS failure, connection refused, timeout)."""

    def __init__(self, url: str, reason: object) -> None:
        self.url = url
        super().__init__(
            f"cannot reach {url}: {reason}. Check the network connection and the URL; "
            "rerun the same command to resume where it stopped."
        )


class DownloadCancelled(DownloadError):
    """The download was interrupted (Ctrl-C); partial files are kept for the next run."""


class ServerError(DownloadError):
    """The server answered with an unexpected status or a malformed listing."""


class ChecksumError(DownloadError):
    """A downloaded archive has the wrong size or checksum (deleted; rerun to fetch it again)."""

    def __init__(self, path: str, what: str, expected: object, actual: object) -> None:
        self.path = path
        super().__init__(
            f"{path}: {what} mismatch (expected {expected}, got {actual}); the file was deleted"
        )


class DiskFullError(DownloadError):
    """Not enough free disk space for the download (checked before starting, or ENOSPC)."""

    def __init__(self, path: str, needed_bytes: int | None, free_bytes: int | None) -> None:
        self.path = path
        if needed_bytes is None:
            message = f"the disk holding {path} is full"
        else:
            message = (
                f"not enough free space in {path}: {format_size(needed_bytes)} needed, "
                f"{format_size(free_bytes or 0)} free"
            )
        super().__init__(
            message + ". Free some space, choose another --output-dir, drop streams with the "
            "filter flags, or use --rm to delete archives after extraction."
        )


class UnsafeArchiveError(DownloadError):
    """An archive member would be written outside the output directory (or is a device)."""

    def __init__(self, archive: str, member: str, problem: str) -> None:
        self.archive = archive
        self.member = member
        super().__init__(
            f"refusing to extract {archive}: member {member!r} {problem}; "
            "extraction of this archive was aborted"
        )


def _plain_text(text: str) -> str:
    """An error body without HTML tags and with collapsed whitespace."""
    return " ".join(re.sub(r"<[^>]*>", " ", text).split())


def format_size(num_bytes: float) -> str:
    """Human size with binary units (``1.5 GiB``)."""
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
