"""zod.release: the one file -> stream -> download-flag mapping of readers, info and download."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zod.constants import Anonymization
from zod.dataset import ZodFrames
from zod.download.streams import download_hint
from zod.info import lidar_stream_flags
from zod.release import (
    IMAGES_BLUR,
    INFOS,
    LIDAR,
    OXTS,
    all_streams,
    download_flag,
    images_flag,
    images_stream,
    lidar_offset,
    lidar_stream,
    stream_of_file,
)


def test_download_flags_of_streams() -> None:
    assert download_flag(INFOS) == "--infos" and download_flag(OXTS) == "--oxts"
    assert download_flag(IMAGES_BLUR) == "--images --blur"
    assert download_flag("images_front_dnat") == "--images --dnat"
    assert download_flag(lidar_stream(-3)) == "--num-scans-before 3"
    assert download_flag(lidar_stream(10)) == "--num-scans-after 10"
    assert download_flag(LIDAR) == "--lidar"
    with pytest.raises(ValueError, match="unknown release stream"):
        download_flag("camera_rear")
    for subset in ("frames", "sequences", "drives"):  # every stream of the release has a flag
        for stream in all_streams(subset):
            assert download_flag(stream) in download_hint(stream, subset)


def test_lidar_and_image_streams() -> None:
    assert [lidar_offset(lidar_stream(k)) for k in range(-10, 11)] == list(range(-10, 11))
    assert lidar_stream_flags(5) == [
        "--num-scans-before 2",
        "--num-scans-before 1",
        "--lidar",
        "--num-scans-after 1",
        "--num-scans-after 2",
    ]
    assert images_stream(Anonymization.DNAT) == "images_front_dnat" == images_stream("dnat")
    assert images_flag(Anonymization.BLUR) == "--images --blur"
    assert images_flag("original") == "--images --original"  # liberal for names the release lacks


def test_reader_hints_agree_with_file_mapping(sample_root: Path) -> None:
    """The flag a reader puts in MissingFileError == the flag of the stream carrying the file."""
    frames = ZodFrames(sample_root, "full")
    info = frames[sorted(frames.get_all_ids())[0]].info

    def stream(path: str) -> str | None:
        return stream_of_file(Path(os.path.relpath(path, sample_root)).as_posix())

    for cams in info.camera_frames.values():
        for cam in cams:
            assert download_flag(stream(cam.filepath)) == cam.stream
    scans = info.get_lidar_frames()
    core = scans[len(scans) // 2]
    assert stream(core.filepath) == LIDAR and core.stream == download_flag(LIDAR)
    assert stream(info.calibration_path) == INFOS and stream(info.oxts_path) == OXTS
