"""zod._atomic: temp sibling + rename, umask-respecting mode, cleanup on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from zod._atomic import (
    atomic_path,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    default_file_mode,
    temp_sibling,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_mode_follows_umask() -> None:
    old = os.umask(0o027)
    try:
        assert default_file_mode() == 0o640
    finally:
        os.umask(old)
    assert default_file_mode() == 0o666 & ~old


def test_write_bytes_and_text_create_folders_and_use_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = atomic_write_bytes(tmp_path / "a" / "b" / "x.bin", b"\x00\x01\xff")
        txt = atomic_write_text(tmp_path / "t.txt", "héllo\n")
    finally:
        os.umask(old)
    assert out.read_bytes() == b"\x00\x01\xff"
    assert txt.read_bytes() == "héllo\n".encode()
    assert _mode(out) == 0o644 and _mode(txt) == 0o644  # not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["t.txt", "x.bin"]


def test_temp_sibling_is_hidden_same_folder_same_suffix(tmp_path: Path) -> None:
    tmp = temp_sibling(tmp_path / "frame.png")
    assert tmp.parent == tmp_path and tmp.name.startswith(".frame.") and tmp.suffix == ".png"
    assert tmp.exists() and tmp.stat().st_size == 0
    assert temp_sibling(tmp_path / "frame.png") != tmp  # unique


def test_atomic_path_replaces_existing_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        assert target.read_text() == "old"  # the final name is untouched while writing
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]  # temp file removed
    with atomic_path(target, mode=0o600) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_atomic_write_false_result_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "img.png"
    with pytest.raises(OSError, match="could not write"):
        atomic_write(target, lambda tmp: False)  # how cv2.imwrite reports failure
    assert list(tmp_path.iterdir()) == []
    seen: list[Path] = []

    def write(tmp: Path) -> bool:
        seen.append(tmp)
        tmp.write_bytes(b"png")
        return True

    assert atomic_write(target, write) == target
    assert target.read_bytes() == b"png" and seen[0].suffix == ".png" and not seen[0].exists()
