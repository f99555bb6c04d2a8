"""Unit tests of zod.download: stream names, checksums, safe extraction, resumable transfer."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from pathlib import Path

import pytest

from zod.download.checksums import (
    DROPBOX_BLOCK_SIZE,
    DropboxContentHasher,
    format_sha256sums,
    parse_sha256sums,
)
from zod.download.errors import ChecksumError, LinkError, UnsafeArchiveError
from zod.download.extract import safe_extract
from zod.download.sources import LocalSource, RemoteFile, Source, make_source
from zod.download.streams import (
    StreamFilter,
    all_streams,
    archive_name,
    download_hint,
    lidar_offset,
    lidar_stream,
    stream_of_archive,
    stream_of_file,
)
from zod.download.transfer import RetryPolicy, download_file, part_path
from zod.errors import FormatError

# ------------------------------------------------------------------------------------ streams


@pytest.mark.parametrize(
    ("name", "stream"),
    [
        ("frames_mini.tar.gz", "mini"),
        ("sequences_mini.tar.gz", "mini"),
        ("infos.tar.gz", "infos"),
        ("annotations.tar.gz", "annotations"),
        ("oxts.tar.gz", "oxts"),
        ("images_front_blur.tar.gz", "images_front_blur"),
        ("images_front_dnat.tar.gz", "images_front_dnat"),
        ("lidar_velodyne.tar.gz", "lidar_velodyne"),
        ("lidar_velodyne_03before.tar.gz", "lidar_velodyne_03before"),
        ("lidar_velodyne_10after.tar.gz", "lidar_velodyne_10after"),
        ("vehicle_data.tar.gz", "vehicle_data"),
        ("radar.tar.gz", "radar"),
        ("single_frames_images_front_dnat.tgz", "images_front_dnat"),  # liberal reading
        ("lidar_velodyne_11after.tar.gz", None),
        ("README.txt", None),
        ("SHA256SUMS", None),
        ("something.tar.gz", None),
    ],
)
def test_stream_of_archive(name: str, stream: str | None) -> None:
    assert stream_of_archive(name) == stream


def test_archive_names_round_trip_for_every_stream() -> None:
    for subset in ("frames", "sequences", "drives"):
        for stream in all_streams(subset) + ["mini"]:
            assert stream_of_archive(archive_name(subset, stream)) == stream
    assert archive_name("single_frames", "mini") == "frames_mini.tar.gz"
    assert len(all_streams("frames")) == 6 + 20
    assert "annotations" not in all_streams("drives") and "radar" in all_streams("drives")


def test_lidar_stream_offsets() -> None:
    assert lidar_stream(0) == "lidar_velodyne"
    assert lidar_stream(-3) == "lidar_velodyne_03before"
    assert lidar_stream(10) == "lidar_velodyne_10after"
    for offset in range(-10, 11):
        assert lidar_offset(lidar_stream(offset)) == offset
    assert lidar_offset("oxts") is None
    with pytest.raises(ValueError):
        lidar_stream(11)


def test_stream_filter_like_reference() -> None:
    default = StreamFilter()
    wanted = {s for s in all_streams("frames") if default.wants(s)}
    # defaults of the reference devkit: no DNAT, only the core scan
    assert wanted == {"infos", "annotations", "oxts", "images_front_blur", "lidar_velodyne"}
    f = StreamFilter(num_scans_before=2, num_scans_after=-1, dnat=True, blur=False, oxts=False)
    wanted = {s for s in all_streams("frames") if f.wants(s)}
    assert "lidar_velodyne_02before" in wanted and "lidar_velodyne_03before" not in wanted
    assert all(f"lidar_velodyne_{k:02d}after" in wanted for k in range(1, 11))
    assert (
        "images_front_dnat" in wanted and "images_front_blur" not in wanted and "oxts" not in wanted
    )
    assert not StreamFilter(images=False, dnat=True).wants("images_front_dnat")
    assert not StreamFilter(lidar=False, num_scans_after=-1).wants("lidar_velodyne_01after")
    mini = StreamFilter(version="mini", infos=False)
    assert mini.wants("mini") and not mini.wants("infos")
    assert not default.wants("mini") and not default.wants(None)


@pytest.mark.parametrize(
    ("path", "stream"),
    [
        ("trainval-frames-full.json", "infos"),
        ("single_frames/000001/calibration.json", "infos"),
        ("sequences/000002/info.json", "infos"),
        ("single_frames/000001/oxts.hdf5", "oxts"),
        ("drives/000000/vehicle_data.hdf5", "vehicle_data"),
        ("single_frames/000001/annotations/lane_markings.json", "annotations"),
        (
            "single_frames/000001/camera_front_dnat/000001_a_2022-02-14T13:23:32.140954Z.jpg",
            "images_front_dnat",
        ),
        ("sequences/000002/camera_front_blur/x.jpg", "images_front_blur"),
        ("sequences/000002/lidar_velodyne/x.npy", "lidar_velodyne"),
        ("sequences/000002/radar_front/x.npy", "radar"),
        ("single_frames/000001/notes.txt", None),
        ("elsewhere/000001/oxts.hdf5", None),
    ],
)
def test_stream_of_file(path: str, stream: str | None) -> None:
    assert stream_of_file(path) == stream


def test_stream_of_file_uses_lidar_offsets_for_frames_only() -> None:
    scan = "single_frames/000001/lidar_velodyne/s.npy"
    assert stream_of_file(scan, {scan: -4}) == "lidar_velodyne_04before"
    assert stream_of_file(scan, {"other": 1}) == "lidar_velodyne"  # unknown scan: core
    seq_scan = "sequences/000001/lidar_velodyne/s.npy"
    assert stream_of_file(seq_scan, {seq_scan: 5}) == "lidar_velodyne"


def test_download_hint_names_the_flag() -> None:
    assert "--num-scans-after 7" in download_hint("lidar_velodyne_07after")
    assert "--dnat" in download_hint("images_front_dnat")
    assert "--subset sequences" in download_hint("radar", "sequences")
    assert "--version mini" in download_hint("mini")


# ---------------------------------------------------------------------------------- checksums


def _dropbox_hash_reference(data: bytes) -> str:
    """The documented algorithm, written the plain way."""
    blocks = [data[i : i + DROPBOX_BLOCK_SIZE] for i in range(0, len(data), DROPBOX_BLOCK_SIZE)]
    return hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in blocks)).hexdigest()


def test_dropbox_content_hash_any_chunking() -> None:
    data = os.urandom(2 * DROPBOX_BLOCK_SIZE + 12345)
    expected = _dropbox_hash_reference(data)
    for chunk in (1 << 20, 999_999, DROPBOX_BLOCK_SIZE, len(data)):
        hasher = DropboxContentHasher()
        for i in range(0, len(data), chunk):
            hasher.update(data[i : i + chunk])
        assert hasher.hexdigest() == expected
    exact = os.urandom(DROPBOX_BLOCK_SIZE)
    hasher = DropboxContentHasher()
    hasher.update(exact)
    assert hasher.hexdigest() == _dropbox_hash_reference(exact)
    assert DropboxContentHasher().hexdigest() == hashlib.sha256(b"").hexdigest()


def test_sha256sums_round_trip_and_sha256sum_format() -> None:
    sums = {"b.tar.gz": "ab" * 32, "a.tar.gz": "CD" * 32}
    text = format_sha256sums(sums)
    assert text.splitlines()[0] == "CD" * 32 + "  a.tar.gz"
    assert parse_sha256sums(text) == {"a.tar.gz": "cd" * 32, "b.tar.gz": "ab" * 32}
    assert parse_sha256sums(f"{'0' * 64} *./x.tar.gz\n\n# comment\n") == {"x.tar.gz": "0" * 64}
    with pytest.raises(ValueError):
        parse_sha256sums("not a line\n")


# ---------------------------------------------------------------------------- safe extraction


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_safe_extract_writes_members_atomically(tmp_path: Path) -> None:
    exe = _file("single_frames/000001/run.sh")
    exe.mode = 0o4777  # setuid and world-writable: reduced
    archive = _tar(
        tmp_path / "ok.tar.gz",
        [
            (_file("./single_frames/000001/oxts.hdf5"), b"oxts"),
            (exe, b"#!/bin/sh\n"),
            (_link("single_frames/000001/alias.hdf5", "oxts.hdf5"), None),
            (
                _link(
                    "single_frames/000001/hard.hdf5",
                    "single_frames/000001/oxts.hdf5",
                    tarfile.LNKTYPE,
                ),
                None,
            ),
        ],
    )
    out = tmp_path / "out"
    result = safe_extract(archive, out, progress=False)
    assert (result.files, result.links, result.bytes) == (2, 2, 14)
    item = out / "single_frames/000001"
    assert (item / "oxts.hdf5").read_bytes() == b"oxts"
    assert (item / "alias.hdf5").is_symlink() and (item / "alias.hdf5").read_bytes() == b"oxts"
    assert (item / "hard.hdf5").read_bytes() == b"oxts"
    assert (item / "run.sh").stat().st_mode & 0o7777 == 0o755
    assert not any(".zodtmp" in p for p in _all_files(out))


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ([(_file("../escape.txt"), b"x")], "'..'"),
        ([(_file("a/../../escape.txt"), b"x")], "'..'"),
        ([(_file("/tmp/zod-absolute-escape.txt"), b"x")], "absolute"),
        ([(_link("link", "/etc/passwd"), None)], "absolute"),
        ([(_link("link", "../.."), None)], "leaving"),
        ([(_link("d/link", "../../outside"), None)], "leaving"),
        ([(_link("hard", "../outside.txt", tarfile.LNKTYPE), None)], "'..'"),
        ([(_link("dev", "", tarfile.CHRTYPE), None)], "device"),
        ([(_link("fifo", "", tarfile.FIFOTYPE), None)], "fifo"),
    ],
)
def test_safe_extract_refuses_escapes(tmp_path: Path, members: list, problem: str) -> None:
    good = [(_file("single_frames/000001/before.json"), b"{}")]
    archive = _tar(tmp_path / "bad.tar.gz", good + members + [(_file("after.json"), b"{}")])
    base = tmp_path / "base"
    out = base / "out"
    with pytest.raises(UnsafeArchiveError, match=problem):
        safe_extract(archive, out, progress=False)
    # nothing outside the output directory, nothing after the refused member
    assert _all_files(base) <= {"out"} | {f"out/{p}" for p in _all_files(out)}
    assert not (out / "after.json").exists()
    assert not Path("/tmp/zod-absolute-escape.txt").exists()
    assert _all_files(out) <= {
        "single_frames",
        "single_frames/000001",
        "single_frames/000001/before.json",
    }


def test_safe_extract_refuses_writing_through_a_symlink(tmp_path: Path) -> None:
    """A symlink inside the archive that points inside is fine, but a member written through
    an existing link that leaves the output directory is refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "escape").symlink_to(outside)  # e.g. left by an earlier, unsafe tool
    archive = _tar(tmp_path / "a.tar.gz", [(_file("escape/pwned.txt"), b"x")])
    with pytest.raises(UnsafeArchiveError, match="link leaving"):
        safe_extract(archive, out, progress=False)
    assert list(outside.iterdir()) == []
    # two-step escape inside one archive: a link to '.', then a member through it is fine...
    ok = _tar(tmp_path / "b.tar.gz", [(_link("here", "."), None), (_file("here/x.txt"), b"x")])
    safe_extract(ok, out, progress=False)
    assert (out / "x.txt").read_bytes() == b"x"


def test_safe_extract_detects_corrupt_archives(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar.gz", [(_file("big.bin"), os.urandom(200_000))])
    data = archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="corrupt or truncated"):
        safe_extract(truncated, tmp_path / "out1", progress=False)
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    garbled = tmp_path / "garbled.tar.gz"
    garbled.write_bytes(bytes(flipped))
    with pytest.raises(FormatError):
        safe_extract(garbled, tmp_path / "out2", progress=False)
    not_tar = tmp_path / "text.tar.gz"
    not_tar.write_bytes(b"hello, this is not an archive")
    with pytest.raises(FormatError):
        safe_extract(not_tar, tmp_path / "out3", progress=False)


# -------------------------------------------------------------------- resumable transfer


class _FlakySource(Source):
    """A local source that drops the connection after ``cut`` bytes, ``failures`` times."""

    def __init__(self, root: Path, cut: int, failures: int) -> None:
        self.inner = LocalSource(root)
        self.cut = cut
        self.failures = failures
        self.starts: list[int] = []
        self.description = "flaky"
        self.lock = threading.Lock()

    def list_folder(self, folder: str) -> list[RemoteFile]:
        return self.inner.list_folder(folder)

    def _should_cut(self, start: int) -> bool:
        with self.lock:
            self.failures -= 1
            return self.failures >= 0

    def open(self, remote: RemoteFile, start: int, end: int | None = None):
        self.starts.append(start)
        stream, offset = self.inner.open(remote, start, end)
        if not self._should_cut(start):
            return stream, offset
        outer = self

        class Cut:
            sent = 0

            def read(self, n: int = -1) -> bytes:
                if self.sent >= outer.cut:
                    stream.close()
                    raise ConnectionResetError("connection reset by peer (simulated)")
                data = stream.read(min(n, outer.cut - self.sent))
                self.sent += len(data)
                return data

            def __enter__(self):
                return self

            def __exit__(self, *exc: object) -> None:
                stream.close()

        return Cut(), offset


def test_transfer_resumes_after_dropped_connections(tmp_path: Path) -> None:
    folder = tmp_path / "mirror" / "single_frames"
    folder.mkdir(parents=True)
    data = os.urandom(3_000_000)
    (folder / "oxts.tar.gz").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    source = _FlakySource(tmp_path / "mirror", cut=700_000, failures=3)
    remote = RemoteFile("single_frames", "oxts.tar.gz", len(data), sha256=sha)
    dest = tmp_path / "dl" / "oxts.tar.gz"
    result = download_file(
        source, remote, dest, RetryPolicy(attempts=2, backoff_s=0.01), progress=False
    )
    assert dest.read_bytes() == data and not part_path(dest).exists()
    assert source.starts == [0, 700_000, 1_400_000, 2_100_000]
    assert result.sha256 == sha and result.downloaded_bytes == len(data)


def test_transfer_continues_a_part_file_and_verifies(tmp_path: Path) -> None:
    folder = tmp_path / "mirror" / "single_frames"
    folder.mkdir(parents=True)
    data = os.urandom(1_000_000)
    (folder / "infos.tar.gz").write_bytes(data)
    dest = tmp_path / "dl" / "infos.tar.gz"
    dest.parent.mkdir()
    part_path(dest).write_bytes(data[:400_000])
    source = _FlakySource(tmp_path / "mirror", cut=0, failures=0)
    remote = RemoteFile(
        "single_frames", "infos.tar.gz", len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    result = download_file(source, remote, dest, progress=False)
    assert source.starts == [400_000]
    assert (result.resumed_from, result.downloaded_bytes) == (400_000, 600_000)
    assert dest.read_bytes() == data
    # a corrupted partial file is caught by the checksum and deleted
    dest.unlink()
    part_path(dest).write_bytes(b"\0" * 400_000)
    with pytest.raises(ChecksumError, match="SHA-256 mismatch"):
        download_file(source, remote, dest, progress=False)
    assert not dest.exists() and not part_path(dest).exists()


def test_transfer_gives_up_after_retries(tmp_path: Path) -> None:
    folder = tmp_path / "mirror" / "single_frames"
    folder.mkdir(parents=True)
    (folder / "oxts.tar.gz").write_bytes(os.urandom(10_000))
    source = _FlakySource(tmp_path / "mirror", cut=0, failures=100)
    remote = RemoteFile("single_frames", "oxts.tar.gz", 10_000)
    from zod.download.errors import NetworkError

    with pytest.raises(NetworkError, match="gave up after 2 retries"):
        download_file(
            source,
            remote,
            tmp_path / "x.tar.gz",
            RetryPolicy(attempts=2, backoff_s=0.0),
            progress=False,
        )
    assert len(source.starts) == 3


def test_make_source_dispatch(tmp_path: Path) -> None:
    from zod.download.sources import DropboxSource, HttpSource

    assert isinstance(make_source("https://mirror.example.org/zod"), HttpSource)
    assert isinstance(make_source(tmp_path.as_uri()), LocalSource)
    assert isinstance(make_source(str(tmp_path)), LocalSource)
    link = "https://www.dropbox.com/sh/abc/def?dl=0"
    assert isinstance(make_source(link, dropbox_token="t"), DropboxSource)
    os.environ.pop("ZOD_DROPBOX_TOKEN", None)
    with pytest.raises(LinkError, match="token"):
        make_source(link)
    with pytest.raises(LinkError, match="no such local directory"):
        make_source(str(tmp_path / "missing"))
    with pytest.raises(LinkError, match="unsupported URL scheme"):
        make_source("ftp://example.org/zod")


def test_full_disk_during_transfer_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from zod.download import transfer
    from zod.download.errors import DiskFullError

    folder = tmp_path / "mirror" / "drives"
    folder.mkdir(parents=True)
    (folder / "oxts.tar.gz").write_bytes(os.urandom(100_000))
    real_open = open

    class FullDisk:
        def __init__(self, handle) -> None:
            self.handle = handle

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    monkeypatch.setattr(
        transfer, "open", lambda *a, **k: FullDisk(real_open(*a, **k)), raising=False
    )
    remote = RemoteFile("drives", "oxts.tar.gz", 100_000)
    with pytest.raises(DiskFullError, match="is full"):
        download_file(
            LocalSource(tmp_path / "mirror"),
            remote,
            tmp_path / "dl" / "oxts.tar.gz",
            progress=False,
        )


# --------------------------------------------------------------------------- segmented transfer


def _mirror_file(tmp_path: Path, size: int) -> tuple[Path, bytes, RemoteFile]:
    folder = tmp_path / "mirror" / "single_frames"
    folder.mkdir(parents=True)
    data = os.urandom(size)
    (folder / "images_front_blur.tar.gz").write_bytes(data)
    remote = RemoteFile(
        "single_frames", "images_front_blur.tar.gz", size, sha256=hashlib.sha256(data).hexdigest()
    )
    return tmp_path / "mirror", data, remote


def test_segmented_transfer_with_dropped_connections(tmp_path: Path) -> None:
    from zod.download.transfer import SegmentPolicy, segments_path

    root, data, remote = _mirror_file(tmp_path, 5_000_003)
    bounds = [5_000_003 * k // 4 for k in range(4)]

    class FirstConnectionsDrop(_FlakySource):
        """The first connection of each segment (opened at its start) drops after 300 kB."""

        def _should_cut(self, start: int) -> bool:
            return start in bounds

    source = FirstConnectionsDrop(root, cut=300_000, failures=0)
    dest = tmp_path / "dl" / remote.name
    result = download_file(
        source,
        remote,
        dest,
        RetryPolicy(attempts=2, backoff_s=0.0),
        progress=False,
        segment_policy=SegmentPolicy(segments=4, min_bytes=1_000_000),
    )
    assert result.segments == 4 and dest.read_bytes() == data
    assert not part_path(dest).exists() and not segments_path(dest).exists()
    assert sorted(source.starts) == sorted(bounds + [b + 300_000 for b in bounds])
    assert result.sha256 == remote.sha256 and result.downloaded_bytes == len(data)


class _CancellingSource(Source):
    """Sets ``cancel`` once ``after`` bytes were read in total (a Ctrl-C in the middle)."""

    def __init__(self, root: Path, cancel, after: int) -> None:
        self.inner = LocalSource(root)
        self.cancel = cancel
        self.after = after
        self.read_total = 0
        self.description = "cancelling"

    def list_folder(self, folder: str) -> list[RemoteFile]:
        return self.inner.list_folder(folder)

    def open(self, remote: RemoteFile, start: int, end: int | None = None):
        stream, offset = self.inner.open(remote, start, end)
        outer = self

        class Reader:
            def read(self, n: int = -1) -> bytes:
                data = stream.read(min(n, 64 * 1024))
                outer.read_total += len(data)
                if outer.read_total >= outer.after:
                    outer.cancel.set()
                return data

            def __enter__(self):
                return self

            def __exit__(self, *exc: object) -> None:
                stream.close()

            def close(self) -> None:
                stream.close()

        return Reader(), offset


@pytest.mark.parametrize("segments", [1, 3])
def test_interrupted_transfer_resumes_from_recorded_progress(tmp_path: Path, segments: int) -> None:
    import threading

    from zod.download.errors import DownloadCancelled
    from zod.download.transfer import SegmentPolicy, partial_bytes, segments_path

    root, data, remote = _mirror_file(tmp_path, 40_000_000)
    dest = tmp_path / "dl" / remote.name
    policy = SegmentPolicy(segments=segments, min_bytes=1)
    cancel = threading.Event()
    with pytest.raises(DownloadCancelled):
        download_file(
            _CancellingSource(root, cancel, 25_000_000),
            remote,
            dest,
            progress=False,
            cancel=cancel,
            segment_policy=policy,
        )
    done = partial_bytes(dest)
    assert 0 < done < len(data) and not dest.exists()
    assert segments_path(dest).exists() == (segments > 1)
    source = _FlakySource(root, cut=0, failures=0)
    result = download_file(source, remote, dest, progress=False, segment_policy=policy)
    assert dest.read_bytes() == data
    assert result.resumed_from == done and result.downloaded_bytes == len(data) - done


def test_segmented_transfer_falls_back_when_ranges_are_ignored(tmp_path: Path) -> None:
    from zod.download.transfer import SegmentPolicy

    root, data, remote = _mirror_file(tmp_path, 3_000_000)

    class NoRanges(_FlakySource):
        def open(self, remote: RemoteFile, start: int, end: int | None = None):
            self.starts.append(start)
            stream, _ = self.inner.open(remote, 0)
            return stream, 0  # the whole file, whatever was asked

    source = NoRanges(root, cut=0, failures=0)
    dest = tmp_path / "dl" / remote.name
    result = download_file(source, remote, dest, progress=False, segment_policy=SegmentPolicy(3, 1))
    assert dest.read_bytes() == data and result.segments == 1


# ------------------------------------------------------------------------- listings and locking


def test_directory_listings_html_and_json() -> None:
    from zod.download.sources import HttpSource

    nginx_html = """<html><head><title>Index of /single_frames/</title></head><body>
<h1>Index of /single_frames/</h1><hr><pre><a href="../">../</a>
<a href="SHA256SUMS">SHA256SUMS</a>  26-Nov-2026 14:22                 790
<a href="images%20front_blur.tar.gz">images front_blur.tar.gz</a>  26-Nov-2026 14:22\
             1248123
<a href="infos.tar.gz">infos.tar.gz</a>  26-Nov-2026 14:22                 12K
<a href="sub/">sub/</a>  26-Nov-2026 14:22                   -
<a href="https://elsewhere.org/x.tar.gz">x.tar.gz</a>
<a href="?C=N;O=D">Name</a>
</pre><hr></body></html>"""
    entries = HttpSource._parse_listing("http://h/single_frames/", nginx_html)
    assert entries == {"SHA256SUMS": 790, "images front_blur.tar.gz": 1248123, "infos.tar.gz": None}
    nginx_json = json.dumps(
        [
            {
                "name": "infos.tar.gz",
                "type": "file",
                "mtime": "Thu, 26 Nov 2026 14:22:00 GMT",
                "size": 3474,
            },
            {"name": "sub", "type": "directory", "mtime": "Thu, 26 Nov 2026 14:22:00 GMT"},
        ]
    )
    assert HttpSource._parse_listing("http://h/x/", nginx_json) == {"infos.tar.gz": 3474}
    from zod.download.errors import ServerError

    with pytest.raises(ServerError, match="malformed JSON"):
        HttpSource._parse_listing("http://h/x/", "[{broken")


def test_one_download_per_folder(tmp_path: Path) -> None:
    from zod.download.download import DownloadOptions, _exclusive, plan_download, run_download
    from zod.download.errors import DownloadError

    folder = tmp_path / "mirror" / "drives"
    folder.mkdir(parents=True)
    with tarfile.open(folder / "oxts.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("drives/000000/oxts.hdf5")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"oxts"))
    options = DownloadOptions(tmp_path / "zod", progress=False)
    plan = plan_download(LocalSource(tmp_path / "mirror"), "drives", StreamFilter(), options)
    dl_dir = tmp_path / "zod" / "downloads" / "drives"
    dl_dir.mkdir(parents=True)
    with (
        _exclusive(dl_dir),  # another process holds the folder
        pytest.raises(DownloadError, match="another `zod download`"),
    ):
        run_download(plan)
    report = run_download(plan)
    assert report.extracted == ["oxts.tar.gz"]
    assert (tmp_path / "zod" / "drives" / "000000" / "oxts.hdf5").read_bytes() == b"oxts"
