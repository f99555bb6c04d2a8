"""zod.viz.video: MP4 and GIF written atomically and read back with the right frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from zod.viz.video import write_video


def moving_square(n: int, height: int = 64, width: int = 96) -> list[np.ndarray]:
    """n frames: a red 16x16 square moving 8 px right per frame on a dark blue background."""
    frames = []
    for i in range(n):
        img = np.zeros((height, width, 3), np.uint8)
        img[:] = (0, 0, 120)
        img[24:40, 8 * i : 8 * i + 16] = (255, 0, 0)
        frames.append(img)
    return frames


def test_mp4_round_trip(tmp_path) -> None:
    frames = moving_square(8)
    out = write_video(iter(frames), tmp_path / "clip.mp4", fps=4, progress=False)
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 8
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(4.0)
    decoded = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        decoded.append(bgr[..., ::-1])
    cap.release()
    assert len(decoded) == 8 and decoded[0].shape == (64, 96, 3)
    for i, img in enumerate(decoded):
        # lossy codec: the square's centre is red, the background blue, in every frame
        centre = img[32, 8 * i + 8].astype(int)
        assert centre[0] > 180 and centre[2] < 90, (i, centre)
        assert img[5, 5, 2] > 80 and img[5, 5, 0] < 60
    assert not list(tmp_path.glob(".tmp-*"))


def test_gif_round_trip(tmp_path) -> None:
    frames = moving_square(5)
    out = write_video(frames, tmp_path / "clip.gif", fps=10, progress=False)
    with Image.open(out) as gif:
        assert gif.n_frames == 5  # type: ignore[attr-defined]
        for i in range(5):
            gif.seek(i)
            rgb = np.asarray(gif.convert("RGB"))
            assert tuple(rgb[32, 8 * i + 8]) == (255, 0, 0)
            assert tuple(rgb[5, 5]) == (0, 0, 120)
        assert gif.info["duration"] == 100


def test_errors_leave_nothing_behind(tmp_path) -> None:
    with pytest.raises(ValueError, match="one size"):
        write_video(
            [np.zeros((10, 10, 3), np.uint8), np.zeros((12, 10, 3), np.uint8)],
            tmp_path / "a.mp4",
            progress=False,
        )
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "b.gif", progress=False)
    with pytest.raises(ValueError, match="unknown video type"):
        write_video([np.zeros((10, 10, 3), np.uint8)], tmp_path / "c.webm", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_odd_sizes_are_padded_not_cropped(tmp_path) -> None:
    frames = [np.full((33, 47, 3), 200, np.uint8) for _ in range(3)]
    frames[0][:, -1] = (255, 0, 0)  # the last column must survive
    out = write_video(frames, tmp_path / "odd.mp4", fps=2, progress=False)
    cap = cv2.VideoCapture(str(out))
    ok, bgr = cap.read()
    cap.release()
    assert ok and bgr.shape == (34, 48, 3)
    assert (
        bgr[16, 46, 2] > 180 and bgr[16, 46, 0] < 90
    )  # red column kept (BGR), then the replicated pad


def test_outputs_get_normal_permissions(tmp_path) -> None:
    import os

    from zod.viz.colors import write_png

    mask = os.umask(0)
    os.umask(mask)
    png = write_png(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    mp4 = write_video(moving_square(2), tmp_path / "a.mp4", progress=False)
    for path in (png, mp4):
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask
