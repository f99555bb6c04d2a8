"""Where archives come from: an HTTP(S) mirror, a local directory, or a Dropbox shared folder.

Every source has the same shape: ``<url>/<subset folder>/<archive>`` plus an optional
``SHA256SUMS`` beside the archives. A source lists the archives of one folder
(`Source.list_folder`) and opens one of them from a byte offset (`Source.open`), which is
what resumable downloads need. Only the standard library talks HTTP.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO, NoReturn

from zod.download.checksums import parse_sha256sums
from zod.download.errors import LinkError, NetworkError, ServerError
from zod.download.streams import CHECKSUM_FILE, strip_archive_suffix

DEFAULT_TIMEOUT_S = 60.0
USER_AGENT = "zod-devkit-downloader"
DROPBOX_API_URL = "https://api.dropboxapi.com"
DROPBOX_CONTENT_URL = "https://content.dropboxapi.com"
# Environment variables of the Dropbox backend (an option on the command line wins).
ENV_DROPBOX_TOKEN = "ZOD_DROPBOX_TOKEN"
ENV_DROPBOX_API_URL = "ZOD_DROPBOX_API_URL"
ENV_DROPBOX_CONTENT_URL = "ZOD_DROPBOX_CONTENT_URL"
ENV_DROPBOX_REFRESH_TOKEN = "ZOD_DROPBOX_REFRESH_TOKEN"
ENV_DROPBOX_APP_KEY = "ZOD_DROPBOX_APP_KEY"
ENV_DROPBOX_APP_SECRET = "ZOD_DROPBOX_APP_SECRET"
LINK_ERROR_STATUSES = (401, 403, 404, 409, 410)  # 409: Dropbox API error (bad path/link)


@dataclass(frozen=True)
class RemoteFile:
    """One archive of a source: its name, size and the checksums the source provides."""

    folder: str
    name: str
    size: int | None
    sha256: str | None = None
    content_hash: str | None = None  # Dropbox content hash (4 MiB block SHA-256 tree)


class TransientError(Exception):
    """A failure worth retrying (connection dropped, timeout, 5xx, 429)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Source(ABC):
    """An archive source (see module docstring)."""

    description: str

    @abstractmethod
    def list_folder(self, folder: str) -> list[RemoteFile]:
        """Archives of one sub-dataset folder with their sizes and checksums."""

    @abstractmethod
    def open(self, remote: RemoteFile, start: int, end: int | None = None) -> tuple[BinaryIO, int]:
        """A readable stream of ``remote`` from byte ``start``, and the offset it really starts at.

        ``end`` (inclusive) asks for a bounded range; the stream may run past it (the caller
        stops reading). The offset is 0 when the server ignored the range request.
        """


def _raise_http(url: str, err: urllib.error.HTTPError) -> NoReturn:
    """Raise the devkit error of an HTTP error status."""
    try:
        detail = err.read().decode("utf-8", "replace")
    except Exception:
        detail = ""
    if err.code in LINK_ERROR_STATUSES:
        raise LinkError(url, err.code, detail) from None
    if err.code == 429 or err.code >= 500:
        retry_after = err.headers.get("Retry-After") if err.headers else None
        try:
            delay = float(retry_after) if retry_after else None
        except ValueError:
            delay = None
        raise TransientError(f"HTTP {err.code} for {url}", delay) from None
    raise ServerError(f"HTTP {err.code} for {url}: {detail.strip()[:300]}") from None


def _urlopen(request: urllib.request.Request, timeout: float) -> http.client.HTTPResponse:
    """urlopen with the devkit's errors: LinkError, NetworkError, TransientError."""
    url = request.full_url
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        _raise_http(url, err)
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (socket.timeout, TimeoutError, ConnectionResetError)):
            raise TransientError(f"{url}: {reason}") from None
        raise NetworkError(url, reason) from None
    except (TimeoutError, ConnectionError) as err:
        raise TransientError(f"{url}: {err}") from None


def _range_header(start: int, end: int | None) -> dict[str, str]:
    if start == 0 and end is None:
        return {}
    return {"Range": f"bytes={start}-{'' if end is None else end}"}


def _check_range(url: str, response: http.client.HTTPResponse, start: int) -> int:
    """Offset the response body starts at (0 when the server ignored Range)."""
    if start == 0 or response.status == 200:
        return 0
    if response.status != 206:
        raise ServerError(f"unexpected HTTP {response.status} for a range request to {url}")
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-", content_range)
    if match is None or int(match.group(1)) != start:
        raise ServerError(f"{url}: asked for bytes {start}-, got Content-Range {content_range!r}")
    return start


# --------------------------------------------------------------------------- HTTP mirror


class _LinkParser(HTMLParser):
    """Collects (href, text after the link up to the next tag) of a directory index page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[list[str]] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append([href, ""])
                self._in_link = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False

    def handle_data(self, data: str) -> None:
        if self.links and not self._in_link:
            self.links[-1][1] += data


class HttpSource(Source):
    """A web directory per sub-dataset, listed by the server's index page (nginx autoindex in
    HTML or JSON format, or any page of links), with an optional ``SHA256SUMS`` beside it.

    Credentials in the URL (``https://user:password@host/zod``) are sent as HTTP basic
    authentication (and never printed).
    """

    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(url)
        self._auth: dict[str, str] = {}
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._auth = {"Authorization": f"Basic {token}"}
            host = parts.hostname or ""
            netloc = f"[{host}]" if ":" in host else host
            netloc += f":{parts.port}" if parts.port else ""
            url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        self.base_url = url if url.endswith("/") else url + "/"
        self.timeout_s = timeout_s
        self.description = f"HTTP mirror {self.base_url}"

    def _folder_url(self, folder: str) -> str:
        return urllib.parse.urljoin(self.base_url, urllib.parse.quote(folder.strip("/")) + "/")

    def _request(
        self, url: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        request = urllib.request.Request(
            url, method=method, headers={"User-Agent": USER_AGENT, **self._auth, **(headers or {})}
        )
        return _urlopen(request, self.timeout_s)

    def list_folder(self, folder: str) -> list[RemoteFile]:
        url = self._folder_url(folder)
        with self._request(
            url, headers={"Accept": "application/json, text/html;q=0.9"}
        ) as response:
            body = response.read().decode("utf-8", "replace")
        entries = self._parse_listing(url, body)
        sums = self._checksums(url)
        files = []
        for name, size in sorted(entries.items()):
            if strip_archive_suffix(name) is None:
                continue
            if size is None:
                size = self._head_size(urllib.parse.urljoin(url, urllib.parse.quote(name)))
            files.append(RemoteFile(folder, name, size, sha256=sums.get(name)))
        return files

    @staticmethod
    def _parse_listing(url: str, body: str) -> dict[str, int | None]:
        """name -> exact size in bytes (None when the listing does not give it)."""
        text = body.lstrip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as err:
                raise ServerError(f"{url}: malformed JSON directory listing ({err})") from None
            return {
                str(item["name"]): (int(item["size"]) if "size" in item else None)
                for item in items
                if isinstance(item, dict) and item.get("type", "file") == "file" and "name" in item
            }
        parser = _LinkParser()
        parser.feed(body)
        entries: dict[str, int | None] = {}
        for href, after in parser.links:
            parsed = urllib.parse.urlsplit(href)
            if parsed.scheme or parsed.netloc or parsed.query or href.endswith("/"):
                continue
            name = urllib.parse.unquote(parsed.path)
            if "/" in name or name in ("", ".", ".."):
                continue
            # nginx autoindex: "<a href=..>name</a>   26-Nov-2026 14:00    12345"; a size given
            # in units ("12K", autoindex_exact_size off) is not exact, so it is asked for.
            words = after.split()
            size = int(words[-1]) if words and words[-1].isdigit() else None
            entries[name] = size
        return entries

    def _head_size(self, url: str) -> int | None:
        with self._request(url, method="HEAD") as response:
            length = response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    def _checksums(self, folder_url: str) -> dict[str, str]:
        try:
            with self._request(urllib.parse.urljoin(folder_url, CHECKSUM_FILE)) as response:
                text = response.read().decode("utf-8", "replace")
        except LinkError as err:
            if err.status == 404:
                return {}
            raise
        try:
            return parse_sha256sums(text)
        except ValueError as err:
            raise ServerError(f"{folder_url}{CHECKSUM_FILE}: {err}") from None

    def open(self, remote: RemoteFile, start: int, end: int | None = None) -> tuple[BinaryIO, int]:
        url = urllib.parse.urljoin(self._folder_url(remote.folder), urllib.parse.quote(remote.name))
        response = self._request(url, headers=_range_header(start, end))
        return response, _check_range(url, response, start)


# --------------------------------------------------------------------------- local directory


class LocalSource(Source):
    """A directory (or ``file://`` URL) of the same shape as a mirror, e.g. a copy on a NAS."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.description = f"local directory {self.root}"

    def list_folder(self, folder: str) -> list[RemoteFile]:
        directory = self.root / folder
        if not directory.is_dir():
            raise LinkError(str(directory), 404, "no such directory")
        sums_path = directory / CHECKSUM_FILE
        sums = parse_sha256sums(sums_path.read_text()) if sums_path.is_file() else {}
        files = []
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.is_file() and strip_archive_suffix(entry.name) is not None:
                files.append(
                    RemoteFile(
                        folder, entry.name, entry.stat().st_size, sha256=sums.get(entry.name)
                    )
                )
        return files

    def open(self, remote: RemoteFile, start: int, end: int | None = None) -> tuple[BinaryIO, int]:
        path = self.root / remote.folder / remote.name
        try:
            handle = open(path, "rb")  # noqa: SIM115 (returned open: the caller closes it)
        except FileNotFoundError:
            raise LinkError(str(path), 404, "file vanished from the source directory") from None
        handle.seek(start)
        return handle, start


# --------------------------------------------------------------------------- Dropbox


class DropboxSource(Source):
    """A Dropbox shared-folder link, read with the Dropbox HTTP API.

    Listing: ``files/list_folder`` (+ ``/continue``) with the ``shared_link`` argument; content:
    ``sharing/get_shared_link_file`` with a ``Range`` header. Each entry's ``content_hash`` is
    verified after download. The token comes from ``token`` or ``$ZOD_DROPBOX_TOKEN``; the API
    hosts from ``api_url``/``content_url`` or ``$ZOD_DROPBOX_API_URL``/``$ZOD_DROPBOX_CONTENT_URL``
    (tests point them at a local emulation of those endpoints). Access tokens are short-lived
    (hours): with a refresh token and the app key (``$ZOD_DROPBOX_REFRESH_TOKEN``,
    ``$ZOD_DROPBOX_APP_KEY``, optional ``$ZOD_DROPBOX_APP_SECRET``) a new one is fetched from
    ``oauth2/token`` when needed and whenever the API answers 401.
    """

    def __init__(
        self,
        shared_link: str,
        token: str | None = None,
        api_url: str | None = None,
        content_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        refresh_token: str | None = None,
        app_key: str | None = None,
        app_secret: str | None = None,
    ) -> None:
        self.shared_link = shared_link
        self.token = token or os.environ.get(ENV_DROPBOX_TOKEN)
        self.refresh_token = refresh_token or os.environ.get(ENV_DROPBOX_REFRESH_TOKEN)
        self.app_key = app_key or os.environ.get(ENV_DROPBOX_APP_KEY)
        self.app_secret = app_secret or os.environ.get(ENV_DROPBOX_APP_SECRET)
        self.api_url = (api_url or os.environ.get(ENV_DROPBOX_API_URL) or DROPBOX_API_URL).rstrip(
            "/"
        )
        self.content_url = (
            content_url or os.environ.get(ENV_DROPBOX_CONTENT_URL) or DROPBOX_CONTENT_URL
        ).rstrip("/")
        self.timeout_s = timeout_s
        self.description = f"Dropbox shared folder {shared_link}"
        self._lock = threading.Lock()
        if not self.token and not self.can_refresh:
            raise LinkError(
                shared_link,
                401,
                "a Dropbox access token is required: pass --dropbox-token (or "
                f"${ENV_DROPBOX_TOKEN}), or a refresh token and app key (--dropbox-refresh-token, "
                "--dropbox-app-key)",
            )

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token and self.app_key)

    def _refresh(self, stale: str | None) -> None:
        """Get a new short-lived access token with the refresh token (OAuth2 ``oauth2/token``).

        ``stale``: the token that failed; when another thread already replaced it, nothing is done.
        """
        with self._lock:
            if self.token and self.token != stale:
                return
            form = {
                "grant_type": "refresh_token",
                "refresh_token": self.refresh_token or "",
                "client_id": self.app_key or "",
            }
            if self.app_secret:
                form["client_secret"] = self.app_secret
            request = urllib.request.Request(
                f"{self.api_url}/oauth2/token",
                data=urllib.parse.urlencode(form).encode(),
                method="POST",
                headers={
                    "User-Agent": USER_AGENT,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            with _urlopen(request, self.timeout_s) as response:
                answer = json.loads(response.read())
            if "access_token" not in answer:
                raise ServerError(f"{self.api_url}/oauth2/token: no access_token in the answer")
            self.token = answer["access_token"]

    def _authorized(
        self, make_request: Callable[[str | None], urllib.request.Request]
    ) -> http.client.HTTPResponse:
        """Open ``make_request(token)``; on HTTP 401 refresh the token once (when possible)."""
        if not self.token:
            self._refresh(None)
        token = self.token
        try:
            return _urlopen(make_request(token), self.timeout_s)
        except LinkError as err:
            if err.status != 401 or not self.can_refresh:
                raise
        self._refresh(token)
        return _urlopen(make_request(self.token), self.timeout_s)

    @staticmethod
    def _headers(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}

    def _rpc(self, endpoint: str, args: dict[str, object]) -> dict:
        url = f"{self.api_url}/2/{endpoint}"
        response = self._authorized(
            lambda token: urllib.request.Request(
                url,
                data=json.dumps(args).encode(),
                method="POST",
                headers={**self._headers(token), "Content-Type": "application/json"},
            )
        )
        with response:
            try:
                return json.loads(response.read())
            except json.JSONDecodeError as err:
                raise ServerError(f"{url}: malformed JSON answer ({err})") from None

    def list_folder(self, folder: str) -> list[RemoteFile]:
        result = self._rpc(
            "files/list_folder",
            {"path": f"/{folder.strip('/')}", "shared_link": {"url": self.shared_link}},
        )
        entries = list(result.get("entries", []))
        while result.get("has_more"):
            result = self._rpc("files/list_folder/continue", {"cursor": result["cursor"]})
            entries.extend(result.get("entries", []))
        files = []
        for entry in entries:
            if entry.get(".tag") != "file" or strip_archive_suffix(entry.get("name", "")) is None:
                continue
            files.append(
                RemoteFile(
                    folder,
                    entry["name"],
                    int(entry["size"]) if "size" in entry else None,
                    content_hash=entry.get("content_hash"),
                )
            )
        return sorted(files, key=lambda f: f.name)

    def open(self, remote: RemoteFile, start: int, end: int | None = None) -> tuple[BinaryIO, int]:
        url = f"{self.content_url}/2/sharing/get_shared_link_file"
        arg = json.dumps(
            {"url": self.shared_link, "path": f"/{remote.folder.strip('/')}/{remote.name}"}
        )

        def make_request(token: str | None) -> urllib.request.Request:
            headers = {**self._headers(token), "Dropbox-API-Arg": arg, **_range_header(start, end)}
            return urllib.request.Request(url, data=b"", method="POST", headers=headers)

        response = self._authorized(make_request)
        return response, _check_range(url, response, start)


def is_dropbox_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host == "dropbox.com" or host.endswith(".dropbox.com")


def make_source(
    url: str,
    dropbox_token: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    **dropbox_options: str | None,
) -> Source:
    """The source a URL names: Dropbox link, ``http(s)://`` mirror, ``file://`` URL or a path.

    ``dropbox_options``: further `DropboxSource` arguments (``api_url``, ``content_url``,
    ``refresh_token``, ``app_key``, ``app_secret``), used for Dropbox links only.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("http", "https"):
        if is_dropbox_url(url):
            return DropboxSource(url, token=dropbox_token, timeout_s=timeout_s, **dropbox_options)
        return HttpSource(url, timeout_s=timeout_s)
    if parsed.scheme == "file":
        return LocalSource(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in ("",) or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = Path(url).expanduser()
        if not path.is_dir():
            raise LinkError(str(path), 404, "no such local directory")
        return LocalSource(path)
    raise LinkError(
        url, 404, f"unsupported URL scheme {parsed.scheme!r} (use http(s)://, file:// or a path)"
    )
