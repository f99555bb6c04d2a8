"""The Dropbox backend of `zod download` against a local EMULATION of the Dropbox HTTP API.

`DropboxEmulation` implements just the endpoints the backend calls (``files/list_folder``,
``files/list_folder/continue``, ``sharing/get_shared_link_file``, ``oauth2/token``) over
a mirror directory built from the sample dataset: bearer-token check, shared-link check,
pagination with cursors, ``content_hash`` per file, ``Range`` requests, and connections dropped
mid-file on demand. It is an emulation for tests, not Dropbox.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DOWNLOAD_CMD = [sys.executable, "-m", "cli.download"]
TOKEN = "test-token-123"
REFRESH_TOKEN = "refresh-456"
APP_KEY = "app-key-789"
LINK = "https://www.dropbox.com/sh/zodtest/AAAexample?dl=0"
BLOCK = 4 * 1024 * 1024


def content_hash(data: bytes) -> str:
    """Dropbox's content hash, the plain way (SHA-256 over the SHA-256s of 4 MiB blocks)."""
    digests = b"".join(
        hashlib.sha256(data[i : i + BLOCK]).digest() for i in range(0, len(data), BLOCK)
    )
    return hashlib.sha256(digests).hexdigest()


class DropboxEmulation:
    """Local emulation of three Dropbox API endpoints over ``root/<folder>/<file>``."""

    def __init__(self, root: Path, page_size: int = 2) -> None:
        self.root = root
        self.page_size = page_size
        self.log: list[dict] = []
        self.cut_first_get_after: int | None = None  # drop the first GET of each file after N bytes
        self.wrong_hash_for: set[str] = set()
        self.busy_listings = 0  # answer this many list_folder calls with 503 (server busy)
        self._cut_done: set[str] = set()
        emulation = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                emulation.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _entries(self, folder: str) -> list[dict]:
        directory = self.root / folder.strip("/")
        entries: list[dict] = [
            {".tag": "folder", "name": "subdir", "path_lower": f"{folder}/subdir"}
        ]
        for path in sorted(directory.iterdir()):
            data = path.read_bytes()
            digest = content_hash(data)
            if path.name in self.wrong_hash_for:
                digest = "0" * 64
            entries.append(
                {
                    ".tag": "file",
                    "name": path.name,
                    "path_lower": f"{folder}/{path.name}".lower(),
                    "size": len(data),
                    "content_hash": digest,
                    "id": f"id:{path.name}",
                }
            )
        return entries

    def _page(self, handler, folder: str, pos: int) -> None:
        entries = self._entries(folder)
        page = entries[pos : pos + self.page_size]
        more = pos + self.page_size < len(entries)
        cursor = base64.urlsafe_b64encode(
            json.dumps({"folder": folder, "pos": pos + self.page_size}).encode()
        )
        handler._json(200, {"entries": page, "cursor": cursor.decode(), "has_more": more})

    def handle(self, handler, body: bytes) -> None:
        endpoint = handler.path
        record = {"endpoint": endpoint, "range": handler.headers.get("Range")}
        self.log.append(record)
        if endpoint == "/oauth2/token":  # refresh-token grant
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if (
                form.get("grant_type") == "refresh_token"
                and form.get("refresh_token") == REFRESH_TOKEN
                and form.get("client_id") == APP_KEY
            ):
                handler._json(
                    200, {"access_token": TOKEN, "token_type": "bearer", "expires_in": 14400}
                )
            else:
                handler._json(400, {"error": "invalid_grant"})
            return
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            handler._json(
                401,
                {
                    "error_summary": "invalid_access_token/..",
                    "error": {".tag": "invalid_access_token"},
                },
            )
            return
        if endpoint == "/2/files/list_folder" and self.busy_listings > 0:
            self.busy_listings -= 1
            handler._json(503, {"error_summary": "service_unavailable"})
            return
        if endpoint == "/2/files/list_folder":
            args = json.loads(body)
            if args.get("shared_link", {}).get("url") != LINK:
                handler._json(409, {"error_summary": "shared_link_not_found/.."})
                return
            if not (self.root / args["path"].strip("/")).is_dir():
                handler._json(409, {"error_summary": "path/not_found/.."})
                return
            self._page(handler, args["path"], 0)
        elif endpoint == "/2/files/list_folder/continue":
            cursor = json.loads(base64.urlsafe_b64decode(json.loads(body)["cursor"]))
            self._page(handler, cursor["folder"], cursor["pos"])
        elif endpoint == "/2/sharing/get_shared_link_file":
            arg = json.loads(handler.headers["Dropbox-API-Arg"])
            record["path"] = arg["path"]
            path = self.root / arg["path"].strip("/")
            if arg.get("url") != LINK or not path.is_file():
                handler._json(409, {"error_summary": "shared_link_not_found/.."})
                return
            data = path.read_bytes()
            start, end = 0, len(data) - 1
            rng = handler.headers.get("Range")
            if rng:
                first, last = rng.removeprefix("bytes=").split("-")
                start, end = int(first), min(int(last), end) if last else end
            chunk = data[start : end + 1]
            handler.send_response(206 if rng else 200)
            if rng:
                handler.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            handler.send_header("Content-Length", str(len(chunk)))
            handler.send_header(
                "Dropbox-API-Result", json.dumps({"name": path.name, "size": len(data)})
            )
            handler.end_headers()
            cut = self.cut_first_get_after
            if cut is not None and arg["path"] not in self._cut_done and len(chunk) > cut:
                self._cut_done.add(arg["path"])
                handler.wfile.write(chunk[:cut])
                handler.wfile.flush()
                handler.close_connection = True
                handler.connection.shutdown(2)  # connection dropped mid-file
                return
            handler.wfile.write(chunk)
        else:
            handler._json(404, {"error_summary": "unknown endpoint"})


@pytest.fixture(scope="module")
def mirror(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zod.download.mirror import build_mirror

    out = tmp_path_factory.mktemp("dropbox-mirror")
    build_mirror(
        sample_root, out, subsets=("sequences", "drives"), progress=False, compress_level=1
    )
    return out


@pytest.fixture()
def dropbox(mirror: Path) -> Iterator[DropboxEmulation]:
    emulation = DropboxEmulation(mirror)
    yield emulation
    emulation.close()


def _download(
    emulation: DropboxEmulation, out: Path, *extra: str, token: str = TOKEN, link: str = LINK
) -> subprocess.CompletedProcess:
    cmd = DOWNLOAD_CMD + [
        "download",
        "--url",
        link,
        "--output-dir",
        str(out),
        "-y",
        "--no-progress",
        "--dropbox-token",
        token,
        "--dropbox-api-url",
        emulation.url,
        "--dropbox-content-url",
        emulation.url,
        "--retry-backoff",
        "0.01",
        *extra,
    ]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_dropbox_full_download_with_pagination_and_ranges(
    dropbox: DropboxEmulation, mirror: Path, sample_root: Path, tmp_path: Path
) -> None:
    dropbox.cut_first_get_after = 3000  # every file: first connection dropped after 3000 bytes
    out = tmp_path / "zod"
    result = _download(
        dropbox, out, "--subset", "sequences", "--version", "full", "--max-workers", "2"
    )
    assert result.returncode == 0, result.stderr + result.stdout
    # the extracted tree is the source's sequences, byte for byte (all streams are wanted)
    source_files = {
        p.relative_to(sample_root).as_posix()
        for p in (sample_root / "sequences").rglob("*")
        if p.is_file()
    }
    source_files |= {p.name for p in sample_root.glob("trainval-sequences-*.json")}
    got = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.relative_to(out).parts[0] != "downloads"
    }
    assert got == source_files
    for rel in source_files:
        assert (out / rel).read_bytes() == (sample_root / rel).read_bytes(), rel
    # pagination: the listing needed continue calls; every file was resumed at byte 3000
    endpoints = [r["endpoint"] for r in dropbox.log]
    archives = sorted(
        p.name for p in (mirror / "sequences").glob("*.tar.gz") if "mini" not in p.name
    )
    pages = -(-(len(list((mirror / "sequences").iterdir())) + 1) // dropbox.page_size)
    assert endpoints.count("/2/files/list_folder") == 1
    assert endpoints.count("/2/files/list_folder/continue") == pages - 1
    gets = [r for r in dropbox.log if r["endpoint"] == "/2/sharing/get_shared_link_file"]
    assert sorted({r["path"].split("/")[-1] for r in gets}) == archives
    for name in archives:
        ranges = [r["range"] for r in gets if r["path"].endswith("/" + name)]
        size = (mirror / "sequences" / name).stat().st_size
        assert ranges == ([None, "bytes=3000-"] if size > 3000 else [None]), (name, ranges)
    state = json.loads((out / "downloads" / "sequences" / "radar.tar.gz.state.json").read_text())
    assert state["content_hash"] == content_hash(
        (mirror / "sequences" / "radar.tar.gz").read_bytes()
    )


def test_dropbox_mini_and_content_hash_mismatch(
    dropbox: DropboxEmulation, sample_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "zod"
    result = _download(dropbox, out, "--subset", "drives", "--version", "mini")
    assert result.returncode == 0, result.stderr
    assert (out / "trainval-drives-mini.json").read_bytes() == (
        sample_root / "trainval-drives-mini.json"
    ).read_bytes()

    dropbox.wrong_hash_for = {"oxts.tar.gz"}
    out2 = tmp_path / "zod2"
    result = _download(
        dropbox,
        out2,
        "--subset",
        "drives",
        "--version",
        "full",
        "--no-images",
        "--no-lidar",
        "--no-radar",
        "--no-vehicle-data",
        "--no-infos",
    )
    assert result.returncode == 1
    assert "Dropbox content hash mismatch" in result.stderr
    gets = [r for r in dropbox.log if r.get("path") == "/drives/oxts.tar.gz"]
    assert len(gets) == 2  # retried once, then failed loudly
    assert not list((out2 / "downloads" / "drives").glob("oxts.tar.gz*"))


def test_dropbox_bad_token_and_bad_link(dropbox: DropboxEmulation, tmp_path: Path) -> None:
    result = _download(dropbox, tmp_path, "--subset", "drives", "--version", "mini", token="wrong")
    assert result.returncode == 1 and "HTTP 401" in result.stderr and "token" in result.stderr
    result = _download(
        dropbox,
        tmp_path,
        "--subset",
        "drives",
        "--version",
        "mini",
        link="https://www.dropbox.com/sh/other/BBB?dl=0",
    )
    assert (
        result.returncode == 1
        and "HTTP 409" in result.stderr
        and "shared_link_not_found" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_dropbox_library_listing(dropbox: DropboxEmulation, mirror: Path) -> None:
    from zod.download.sources import DropboxSource

    source = DropboxSource(LINK, token=TOKEN, api_url=dropbox.url, content_url=dropbox.url)
    files = source.list_folder("sequences")
    assert [f.name for f in files] == sorted(
        p.name for p in (mirror / "sequences").glob("*.tar.gz")
    )
    for f in files:
        data = (mirror / "sequences" / f.name).read_bytes()
        assert f.size == len(data) and f.content_hash == content_hash(data) and f.sha256 is None
    stream, start = source.open(files[0], 10)
    with stream:
        assert (
            start == 10
            and stream.read() == (mirror / "sequences" / files[0].name).read_bytes()[10:]
        )


def test_reference_devkit_downloads_are_reused(
    dropbox: DropboxEmulation, mirror: Path, sample_root: Path, tmp_path: Path
) -> None:
    """The reference devkit saved archives as ``<name>_<content_hash[:8]>``: not fetched again."""
    out = tmp_path / "zod"
    data = (mirror / "drives" / "oxts.tar.gz").read_bytes()
    old = out / "downloads" / "drives" / f"oxts.tar.gz_{content_hash(data)[:8]}"
    old.parent.mkdir(parents=True)
    old.write_bytes(data)
    result = _download(
        dropbox,
        out,
        "--subset",
        "drives",
        "--version",
        "full",
        "--no-images",
        "--no-lidar",
        "--no-radar",
        "--no-vehicle-data",
        "--no-infos",
    )
    assert result.returncode == 0, result.stderr
    assert [r for r in dropbox.log if r["endpoint"] == "/2/sharing/get_shared_link_file"] == []
    info = json.loads((sample_root / "trainval-drives-full.json").read_text())["train"][0]
    assert (out / info["oxts_path"]).read_bytes() == (sample_root / info["oxts_path"]).read_bytes()


@pytest.mark.parametrize("access_token", ["expired-token", ""])
def test_dropbox_refresh_token(
    dropbox: DropboxEmulation, sample_root: Path, tmp_path: Path, access_token: str
) -> None:
    """An expired (401) or absent access token is replaced once from the refresh token."""
    out = tmp_path / "zod"
    result = _download(
        dropbox,
        out,
        "--subset",
        "drives",
        "--version",
        "mini",
        "--dropbox-refresh-token",
        REFRESH_TOKEN,
        "--dropbox-app-key",
        APP_KEY,
        token=access_token,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "trainval-drives-mini.json").read_bytes() == (
        sample_root / "trainval-drives-mini.json"
    ).read_bytes()
    endpoints = [r["endpoint"] for r in dropbox.log]
    assert endpoints.count("/oauth2/token") == 1
    assert endpoints[0] == ("/2/files/list_folder" if access_token else "/oauth2/token")
    result = _download(
        dropbox,
        tmp_path / "other",
        "--subset",
        "drives",
        "--version",
        "mini",
        "--dropbox-refresh-token",
        "revoked",
        "--dropbox-app-key",
        APP_KEY,
        token="",
    )
    assert (
        result.returncode == 1 and "HTTP 400" in result.stderr and "invalid_grant" in result.stderr
    )


def test_dropbox_segmented_download(
    dropbox: DropboxEmulation, mirror: Path, sample_root: Path, tmp_path: Path
) -> None:
    """Large archives are fetched as parallel bounded ranges (``bytes=a-b``) and still verified."""
    out = tmp_path / "zod"
    result = _download(
        dropbox,
        out,
        "--subset",
        "drives",
        "--version",
        "full",
        "--no-images",
        "--no-radar",
        "--no-vehicle-data",
        "--no-infos",
        "--no-oxts",
        "--segments",
        "3",
        "--segment-min-mb",
        "0",
    )
    assert result.returncode == 0, result.stderr
    data = (mirror / "drives" / "lidar_velodyne.tar.gz").read_bytes()
    ranges = sorted(
        r["range"] for r in dropbox.log if r.get("path") == "/drives/lidar_velodyne.tar.gz"
    )
    bounds = [len(data) * k // 3 for k in range(4)]
    assert ranges == sorted(f"bytes={bounds[k]}-{bounds[k + 1] - 1}" for k in range(3))
    assert (out / "downloads" / "drives" / "lidar_velodyne.tar.gz").read_bytes() == data
    info = json.loads((sample_root / "trainval-drives-full.json").read_text())["train"][0]
    scan = info["lidar_frames"]["velodyne"][0]["filepath"]
    assert (out / scan).read_bytes() == (sample_root / scan).read_bytes()


def test_dropbox_busy_listing_is_retried(dropbox: DropboxEmulation, tmp_path: Path) -> None:
    dropbox.busy_listings = 2
    result = _download(dropbox, tmp_path / "zod", "--subset", "drives", "--version", "mini")
    assert result.returncode == 0, result.stderr
    assert [r["endpoint"] for r in dropbox.log].count("/2/files/list_folder") == 3
    dropbox.busy_listings = 100
    result = _download(
        dropbox, tmp_path / "zod2", "--subset", "drives", "--version", "mini", "--retries", "2"
    )
    assert result.returncode == 1 and "gave up after 2 retries" in result.stderr
