"""`zod mirror build` + `zod download` + `zod verify` end to end, against a real nginx.

The mirror is built from the sample dataset; nginx (started here on 127.0.0.1, a free port,
foreground, its own config/pid/log/temp paths in a temp dir) serves it with autoindex in HTML
or JSON format. A missing nginx binary makes these tests fail, never skip.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MIRROR_USER, MIRROR_PASSWORD = "zoduser", "s3cret@pw"  # "@" must be quoted in the URL
DOWNLOAD_CMD = [sys.executable, "-m", "cli.download"]

# What each stream holds, written out independently of zod.download.streams (spec section 13).
ITEM_FILES = {
    "infos": {"calibration.json", "ego_motion.json", "metadata.json", "info.json"},
    "oxts": {"oxts.hdf5"},
    "vehicle_data": {"vehicle_data.hdf5"},
}
ITEM_DIRS = {
    "annotations": "annotations",
    "images_front_blur": "camera_front_blur",
    "images_front_dnat": "camera_front_dnat",
    "radar": "radar_front",
}


# ------------------------------------------------------------------------------ nginx fixture


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Nginx:
    url: str
    access_log: Path
    process: subprocess.Popen

    def requests(self) -> list[dict]:
        """Access-log records: method, path, status, bytes, range."""
        out = []
        for line in self.access_log.read_text().splitlines():
            out.append(json.loads(line))
        return out


def start_nginx(
    root: Path, workdir: Path, autoindex_format: str = "html", slow_rate: str = "100k"
) -> Nginx:
    """nginx serving ``root`` at ``/``, the same throttled to ``slow_rate`` at ``/slow/`` and
    behind basic authentication at ``/auth/``, and fixed 401/403/410 answers at ``/private/``,
    ``/forbidden/``, ``/gone/``."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.fail("nginx is not installed (scripts/setup.sh installs it with apt-get)")
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (workdir / sub).mkdir(exist_ok=True)
    port = _free_port()
    access_log = workdir / "logs" / "access.log"
    conf = f"""
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    log_format probe escape=json '{{"method":"$request_method","uri":"$uri","status":$status,'
                                 '"bytes":$body_bytes_sent,"range":"$http_range"}}';
    access_log {access_log} probe;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    default_type application/octet-stream;
    sendfile off;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex on;
        autoindex_format {autoindex_format};
        autoindex_exact_size on;
        location /slow/ {{
            alias {root}/;
            limit_rate {slow_rate};
        }}
        location /auth/ {{
            alias {root}/;
            auth_basic "zod mirror";
            auth_basic_user_file {workdir}/htpasswd;
        }}
        location /private/ {{ return 401; }}
        location /forbidden/ {{ return 403; }}
        location /gone/ {{ return 410; }}
    }}
}}
"""
    (workdir / "nginx.conf").write_text(conf)
    (workdir / "htpasswd").write_text(f"{MIRROR_USER}:{{PLAIN}}{MIRROR_PASSWORD}\n")
    process = subprocess.Popen(
        # -e: the startup error log too (the default /var/log/nginx is not writable for users)
        [
            nginx,
            "-p",
            str(workdir),
            "-e",
            str(workdir / "logs" / "error.log"),
            "-c",
            str(workdir / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("nginx did not start listening")
    return Nginx(f"http://127.0.0.1:{port}", access_log, process)


def stop_nginx(server: Nginx) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# ------------------------------------------------------------------------------ shared setup


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, **kwargs
    )


@pytest.fixture(scope="module")
def mirror(sample_root: Path, tmp_path_factory: pytest.TempPathFactory, zod_cli: list[str]) -> Path:
    """A mirror of the sample dataset built with the `zod mirror build` command."""
    out = tmp_path_factory.mktemp("mirror")
    result = run(
        zod_cli + ["mirror", "build", str(sample_root), str(out), "--no-progress", "--workers", "2"]
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def nginx_html(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    server = start_nginx(mirror, tmp_path_factory.mktemp("nginx-html"), "html")
    yield server
    stop_nginx(server)


@pytest.fixture(scope="module")
def nginx_json(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    server = start_nginx(mirror, tmp_path_factory.mktemp("nginx-json"), "json")
    yield server
    stop_nginx(server)


def _load_index(root: Path, subset: str, version: str) -> list[dict]:
    data = json.loads((root / f"trainval-{subset}-{version}.json").read_text())
    return [info for split in data.values() for info in split]


def _lidar_offsets(root: Path) -> dict[str, int]:
    """Frames: lidar path -> offset from the middle (core) scan of the info's list."""
    offsets = {}
    for info in _load_index(root, "frames", "full"):
        scans = (info.get("lidar_frames") or info.get("lidarFrames"))["velodyne"]
        for i, scan in enumerate(scans):
            offsets[scan["filepath"]] = i - len(scans) // 2
    return offsets


def expected_tree(
    root: Path, folder: str, subset: str, streams: set[str], before: int = 0, after: int = 0
) -> set[str]:
    """Files of ``root`` a full download of ``streams`` must bring (written out by hand)."""
    files = set()
    if "infos" in streams:
        files |= {p.name for p in root.glob(f"trainval-{subset}-*.json")}
    offsets = _lidar_offsets(root) if folder == "single_frames" else {}
    for path in (root / folder).rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        parts = rel.split("/")
        if len(parts) == 3:
            if any(parts[2] in ITEM_FILES[s] for s in streams if s in ITEM_FILES):
                files.add(rel)
        elif parts[2] == "lidar_velodyne":
            offset = offsets.get(rel, 0)
            if "lidar_velodyne" in streams and (
                offset == 0
                or (offset < 0 and -offset <= before)
                or (offset > 0 and offset <= after)
            ):
                files.add(rel)
        elif any(parts[2] == ITEM_DIRS[s] for s in streams if s in ITEM_DIRS):
            files.add(rel)
    return files


def tree(root: Path, skip_downloads: bool = True) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not (skip_downloads and p.relative_to(root).parts[0] == "downloads")
    }


def assert_same_bytes(a: Path, b: Path, files: set[str]) -> None:
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


# ------------------------------------------------------------------------------ tests


def test_mirror_layout_and_checksums(mirror: Path, sample_root: Path) -> None:
    from zod.download.checksums import parse_sha256sums, sha256_file

    frames = mirror / "single_frames"
    names = {p.name for p in frames.iterdir()}
    assert {
        "SHA256SUMS",
        "frames_mini.tar.gz",
        "infos.tar.gz",
        "annotations.tar.gz",
        "oxts.tar.gz",
        "images_front_blur.tar.gz",
        "images_front_dnat.tar.gz",
        "lidar_velodyne.tar.gz",
        "lidar_velodyne_01before.tar.gz",
        "lidar_velodyne_01after.tar.gz",
    } <= names
    sums = parse_sha256sums((frames / "SHA256SUMS").read_text())
    assert set(sums) == names - {"SHA256SUMS", "FILES.sha256"}
    assert all(sha256_file(frames / n) == d for n, d in sums.items())
    seq_names = {p.name for p in (mirror / "sequences").iterdir()}
    assert {
        "sequences_mini.tar.gz",
        "vehicle_data.tar.gz",
        "radar.tar.gz",
        "lidar_velodyne.tar.gz",
    } <= seq_names
    assert not any("before" in n or "after" in n for n in seq_names)
    assert (mirror / "drives" / "drives_mini.tar.gz").is_file()


def test_download_mini_html_index_equals_source(
    nginx_html: Nginx, sample_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "zod"
    result = run(
        DOWNLOAD_CMD
        + [
            "download",
            "--url",
            nginx_html.url,
            "--output-dir",
            str(out),
            "--subset",
            "sequences",
            "--version",
            "mini",
            "-y",
            "--no-progress",
        ]
    )
    assert result.returncode == 0, result.stderr + result.stdout
    mini_ids = {info["id"] for info in _load_index(sample_root, "sequences", "mini")}
    expected = {"trainval-sequences-mini.json"} | {
        p.relative_to(sample_root).as_posix()
        for i in mini_ids
        for p in (sample_root / "sequences" / i).rglob("*")
        if p.is_file()
    }
    assert tree(out) == expected
    assert_same_bytes(sample_root, out, expected)
    # verify: everything of the mini version is there, and the archive matches SHA256SUMS
    result = run(
        DOWNLOAD_CMD
        + [
            "verify",
            "--dataset-root",
            str(out),
            "--subset",
            "sequences",
            "--version",
            "mini",
            "--fail-on-missing",
            "--no-progress",
            "--checksums",
            f"{nginx_html.url}/sequences/SHA256SUMS",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All " in result.stdout and "1 ok, 0 mismatched" in result.stdout


def test_download_full_with_filters_json_index(
    nginx_json: Nginx, sample_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "zod"
    args = [
        "download",
        "--url",
        nginx_json.url + "/",
        "--output-dir",
        str(out),
        "--subset",
        "frames",
        "--version",
        "full",
        "-y",
        "--no-progress",
        "--dnat",
        "--no-blur",
        "--no-oxts",
        "--num-scans-before",
        "2",
        "--num-scans-after",
        "-1",
        "--max-workers",
        "3",
    ]
    result = run(DOWNLOAD_CMD + args)
    assert result.returncode == 0, result.stderr + result.stdout
    streams = {"infos", "annotations", "images_front_dnat", "lidar_velodyne"}
    expected = expected_tree(sample_root, "single_frames", "frames", streams, before=2, after=10)
    assert tree(out) == expected
    assert_same_bytes(sample_root, out, expected)
    fetched = {r["uri"] for r in nginx_json.requests() if r["uri"].endswith(".tar.gz")}
    assert (
        "/single_frames/oxts.tar.gz" not in fetched
        and "/single_frames/lidar_velodyne_03before.tar.gz" not in fetched
    )

    # verify: oxts, blur and the earlier scans are reported missing with the flag that brings them
    result = run(
        DOWNLOAD_CMD
        + [
            "verify",
            "--dataset-root",
            str(out),
            "--subset",
            "frames",
            "--version",
            "full",
            "--fail-on-missing",
            "--no-progress",
        ]
    )
    assert result.returncode == 1
    rows = {
        line.split()[0]: line.split()
        for line in result.stdout.splitlines()
        if line
        and line.split()[0]
        in (
            "oxts",
            "images_front_blur",
            "images_front_dnat",
            "lidar_velodyne_03before",
            "lidar_velodyne_02before",
        )
    }
    n_frames = len(_load_index(sample_root, "frames", "full"))
    assert rows["oxts"][1:3] == [str(n_frames), "0"] and "--oxts" in rows["oxts"]
    assert rows["images_front_dnat"][1:3] == [str(n_frames), str(n_frames)]
    assert rows["lidar_velodyne_02before"][1] == rows["lidar_velodyne_02before"][2]
    assert rows["lidar_velodyne_03before"][2] == "0" and "3" in rows["lidar_velodyne_03before"]

    # a second run is a no-op: nothing is fetched again
    before = len(nginx_json.requests())
    result = run(DOWNLOAD_CMD + args)
    assert result.returncode == 0, result.stderr
    again = [r for r in nginx_json.requests()[before:] if r["uri"].endswith(".tar.gz")]
    assert again == [] and "already done" in result.stdout


def _settled_request_count(server: Nginx, name: str, at_least: int, timeout_s: float = 20) -> int:
    """Requests for ``name`` in the access log once it holds ``at_least`` and stops growing."""
    deadline = time.monotonic() + timeout_s
    count, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len([r for r in server.requests() if r["uri"].endswith(name)])
        if now != count:
            count, stable_since = now, time.monotonic()
        elif count >= at_least and time.monotonic() - stable_since > 0.5:
            return count
        time.sleep(0.05)
    raise AssertionError(f"access log did not settle: {count} requests for {name}")


@pytest.mark.parametrize(
    ("sig", "segments"), [(signal.SIGKILL, 1), (signal.SIGINT, 1), (signal.SIGKILL, 3)]
)
def test_kill_and_resume_throttled_download(
    mirror: Path, tmp_path: Path, sig: signal.Signals, segments: int
) -> None:
    """Kill (SIGKILL) or interrupt (Ctrl-C) a download in the middle of a file, rerun, get
    identical bytes via Range requests (one stream, or parallel segments)."""
    from zod.download.transfer import partial_bytes

    archive = mirror / "single_frames" / "images_front_blur.tar.gz"
    size = archive.stat().st_size
    rate = max(size // (6 * segments), 32 * 1024)  # per connection
    server = start_nginx(mirror, tmp_path / "nginx", "json", slow_rate=str(rate))
    try:
        out = tmp_path / "zod"
        flags = [f"--no-{f}" for f in ("annotations", "oxts", "infos", "lidar")]
        flags += ["--segments", str(segments), "--segment-min-mb", "0.01"]
        cmd = DOWNLOAD_CMD + [
            "download",
            "--url",
            server.url + "/slow",
            "--output-dir",
            str(out),
            "--subset",
            "frames",
            "--version",
            "full",
            "-y",
            "--no-progress",
            *flags,
        ]
        part = out / "downloads" / "single_frames" / (archive.name + ".part")
        process = subprocess.Popen(
            cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        dest = out / "downloads" / "single_frames" / archive.name
        while time.monotonic() < deadline and partial_bytes(dest) <= size // 4:
            time.sleep(0.05)
        process.send_signal(sig)
        stopped_at = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        if sig == signal.SIGINT:  # stops at the next chunk, not at the end of the file
            assert time.monotonic() - stopped_at < 3
            assert process.returncode == 130 and b"rerun the same command to resume" in stderr
        partial = partial_bytes(dest)
        assert 0 < partial < size and part.exists() and not dest.exists()
        # nginx logs an aborted request when it notices the closed connection, which can be
        # after the client died: wait until the first run's requests are all in the log
        first_run = _settled_request_count(server, archive.name, at_least=segments)

        result = run(cmd)
        assert result.returncode == 0, result.stderr + result.stdout
        assert dest.read_bytes() == archive.read_bytes() and not part.exists()
        gets = [r for r in server.requests() if r["uri"].endswith(archive.name)][first_run:]
        assert len(gets) == segments and all(r["status"] == 206 for r in gets)
        assert sum(r["bytes"] for r in gets) == size - partial  # only the missing bytes
        if segments == 1:
            assert gets[0]["range"] == f"bytes={partial}-"
    finally:
        stop_nginx(server)


def test_corrupted_archive_is_detected_and_retried_once(mirror: Path, tmp_path: Path) -> None:
    bad_mirror = tmp_path / "bad"
    shutil.copytree(mirror / "drives", bad_mirror / "drives")
    archive = bad_mirror / "drives" / "oxts.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01  # SHA256SUMS still has the good digest
    archive.write_bytes(bytes(data))
    server = start_nginx(bad_mirror, tmp_path / "nginx")
    try:
        out = tmp_path / "zod"
        result = run(
            DOWNLOAD_CMD
            + [
                "download",
                "--url",
                server.url,
                "--output-dir",
                str(out),
                "--subset",
                "drives",
                "--version",
                "full",
                "-y",
                "--no-progress",
                "--no-images",
                "--no-lidar",
                "--no-radar",
                "--no-vehicle-data",
                "--no-infos",
            ]
        )
        assert result.returncode == 1
        assert "SHA-256 mismatch" in result.stderr and "oxts.tar.gz" in result.stderr
        gets = [r for r in server.requests() if r["uri"] == "/drives/oxts.tar.gz"]
        assert len(gets) == 2  # deleted and fetched again once, then a loud failure
        left = {p for p in tree(out, skip_downloads=False) if not p.endswith(".zod-download.lock")}
        assert left == set()  # nothing kept, nothing extracted
    finally:
        stop_nginx(server)


@pytest.mark.parametrize(
    ("prefix", "status", "words"),
    [
        ("/private", 401, "token"),
        ("/forbidden", 403, "forbidden"),
        ("/gone", 410, "expired"),
        ("/nothing-here", 404, "check the URL"),
    ],
)
def test_link_errors_are_explained(
    nginx_html: Nginx, tmp_path: Path, prefix: str, status: int, words: str
) -> None:
    result = run(
        DOWNLOAD_CMD
        + [
            "download",
            "--url",
            nginx_html.url + prefix,
            "--output-dir",
            str(tmp_path),
            "--subset",
            "frames",
            "--version",
            "mini",
            "-y",
            "--no-progress",
        ]
    )
    assert result.returncode == 1
    assert f"HTTP {status}" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr


def test_no_network_is_explained(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    result = run(
        DOWNLOAD_CMD
        + [
            "download",
            "--url",
            url,
            "--output-dir",
            str(tmp_path),
            "--subset",
            "frames",
            "--version",
            "mini",
            "-y",
            "--no-progress",
        ]
    )
    assert (
        result.returncode == 1
        and "cannot reach" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_full_disk_is_refused_before_starting(
    nginx_html: Nginx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zod.download import download as dl
    from zod.download.errors import DiskFullError
    from zod.download.sources import make_source
    from zod.download.streams import StreamFilter

    plan = dl.plan_download(
        make_source(nginx_html.url),
        "frames",
        StreamFilter(version="mini"),
        dl.DownloadOptions(tmp_path / "zod", progress=False),
    )
    assert plan.bytes_to_fetch > 0
    monkeypatch.setattr(
        dl.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**12, 10**12 - 1000, 1000)
    )
    with pytest.raises(DiskFullError, match="not enough free space"):
        dl.run_download(plan)
    assert not (tmp_path / "zod").exists()


def test_prompts_confirmation_dry_run_rm_and_extract_later(
    nginx_html: Nginx, sample_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "zod"

    def archive_gets() -> list[str]:
        return [r["uri"] for r in nginx_html.requests() if r["uri"].endswith(".tar.gz")]

    # missing required options are asked for; without -y a summary is shown and confirmed
    start = len(archive_gets())
    answers = f"{nginx_html.url}\n{out}\ndrives\nmini\nn\n"
    result = run(DOWNLOAD_CMD + ["download", "--dry-run", "--no-progress"], input=answers)
    assert result.returncode == 1 and "Aborted" in (result.stdout + result.stderr)
    assert "drives_mini.tar.gz" in result.stdout and "free" in result.stdout
    result = run(
        DOWNLOAD_CMD + ["download", "--dry-run", "--no-progress"],
        input=answers.replace("\nn\n", "\ny\n"),
    )
    assert (
        result.returncode == 0
        and "Would download and extract drives/drives_mini.tar.gz" in result.stdout
    )
    assert archive_gets()[start:] == [] and not out.exists()

    # --no-extract keeps the archives; a later run extracts them without fetching again
    base = DOWNLOAD_CMD + [
        "download",
        "--url",
        nginx_html.url,
        "--output-dir",
        str(out),
        "--subset",
        "drives",
        "--version",
        "full",
        "-y",
        "--no-progress",
        "--no-images",
        "--no-lidar",
        "--no-radar",
    ]
    result = run(base + ["--no-extract"])
    assert result.returncode == 0, result.stderr
    assert tree(out) == set()
    assert {"oxts.tar.gz", "vehicle_data.tar.gz", "infos.tar.gz"} <= {
        p.name for p in (out / "downloads" / "drives").iterdir()
    }
    fetched = len(archive_gets())
    result = run(base + ["--rm"])
    assert result.returncode == 0, result.stderr
    assert len(archive_gets()) == fetched  # extracted from the archives already there
    expected = expected_tree(sample_root, "drives", "drives", {"infos", "oxts", "vehicle_data"})
    assert tree(out) == expected
    assert_same_bytes(sample_root, out, expected)
    assert not list((out / "downloads" / "drives").glob("*.tar.gz"))  # --rm
    result = run(base)  # a rerun after --rm is still a no-op
    assert (
        result.returncode == 0
        and len(archive_gets()) == fetched
        and "3 already done" in result.stdout
    )


def test_file_checksums_verify_extracted_content(
    nginx_html: Nginx, mirror: Path, sample_root: Path, tmp_path: Path
) -> None:
    """`FILES.sha256` of the mirror lists every dataset file; verify checks extracted bytes."""
    from zod.download.checksums import parse_sha256sums, sha256_file

    sums = parse_sha256sums((mirror / "drives" / "FILES.sha256").read_text())
    source_files = {
        p.relative_to(sample_root).as_posix()
        for p in (sample_root / "drives").rglob("*")
        if p.is_file()
    } | {p.name for p in sample_root.glob("trainval-drives-*.json")}
    assert set(sums) == source_files
    assert all(sha256_file(sample_root / rel) == digest for rel, digest in sums.items())

    out = tmp_path / "zod"
    result = run(
        DOWNLOAD_CMD
        + [
            "download",
            "--url",
            nginx_html.url,
            "--output-dir",
            str(out),
            "--subset",
            "drives",
            "--version",
            "mini",
            "-y",
            "--no-progress",
            "--rm",
        ]
    )
    assert result.returncode == 0, result.stderr
    present = tree(out)
    victim = sorted(p for p in present if p.endswith(".npy"))[0]
    data = bytearray((out / victim).read_bytes())
    data[-1] ^= 0xFF  # bit rot after extraction
    (out / victim).write_bytes(bytes(data))
    result = run(
        DOWNLOAD_CMD
        + [
            "verify",
            "--dataset-root",
            str(out),
            "--subset",
            "drives",
            "--version",
            "mini",
            "--no-progress",
            "--checksums",
            f"{nginx_html.url}/drives/FILES.sha256",
        ]
    )
    assert result.returncode == 1
    ok, bad, absent = len(present) - 1, 1, len(source_files) - len(present)
    assert f"Checksums: {ok} ok, {bad} mismatched, {absent} not on disk" in result.stdout
    assert f"MISMATCH {victim}" in result.stdout


def test_mirror_behind_basic_authentication(
    nginx_html: Nginx, sample_root: Path, tmp_path: Path
) -> None:
    from urllib.parse import quote

    host = nginx_html.url.removeprefix("http://")
    good = f"http://{MIRROR_USER}:{quote(MIRROR_PASSWORD, safe='')}@{host}/auth"
    out = tmp_path / "zod"
    base = [
        "--output-dir",
        str(out),
        "--subset",
        "drives",
        "--version",
        "mini",
        "-y",
        "--no-progress",
    ]
    result = run(DOWNLOAD_CMD + ["download", "--url", good, *base])
    assert result.returncode == 0, result.stderr
    name = "trainval-drives-mini.json"
    assert (out / name).read_bytes() == (sample_root / name).read_bytes()
    result = run(DOWNLOAD_CMD + ["download", "--url", good.replace("s3cret", "Xyzzy42"), *base])
    assert result.returncode == 1 and "HTTP 401" in result.stderr and "credentials" in result.stderr
    assert "Xyzzy42" not in result.stderr + result.stdout  # the password is never printed
    assert "<html>" not in result.stderr  # the server's error page is reduced to its text
