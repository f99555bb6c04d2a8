"""Pictures to video: MP4 (OpenCV) or GIF (Pillow), written atomically, with a progress bar.

``write_video(frames, "clip.mp4", fps=5)`` takes any iterable of RGB uint8 pictures (H, W, 3)
of one size (MP4/AVI frames of odd width or height are padded by one edge pixel: the codecs
need even sizes) (a generator is consumed lazily for MP4, so long sequences need no memory; a
GIF needs all frames at once). The output goes to a temporary name next to the target and is
renamed into place only when complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from zod._atomic import atomic_path

__all__ = ["VIDEO_SUFFIXES", "write_video"]

# suffix -> OpenCV FourCC (GIF is written by Pillow)
_FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}
VIDEO_SUFFIXES = (*_FOURCC, ".gif")


def write_video(
    frames: Iterable[np.ndarray],
    path: str | PathLike[str],
    fps: float = 5.0,
    total: int | None = None,
    progress: bool = True,
    description: str = "video",
) -> Path:
    """Write RGB uint8 pictures (H, W, 3), all of one size, to ``path`` (.mp4, .avi or .gif).

    ``total`` (the number of frames, when known) sizes the progress bar. Returns the path.
    Raises ValueError for an unknown suffix, no frames, or frames of different sizes.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"unknown video type {out.name!r}: use one of {', '.join(VIDEO_SUFFIXES)}")
    if fps <= 0:
        raise ValueError("fps must be positive")
    bar = tqdm(frames, total=total, desc=description, unit="frame", disable=not progress)
    try:
        with atomic_path(out) as tmp:
            if suffix == ".gif":
                count = _write_gif(bar, tmp, fps)
            else:
                count = _write_opencv(bar, tmp, fps, _FOURCC[suffix])
            if count == 0:
                raise ValueError("no frames to write")
    finally:
        bar.close()
    return out


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None) -> tuple[int, int]:
    img = np.asarray(frame)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"video frames must be RGB uint8 (H, W, 3), got {img.dtype} {img.shape}")
    if size is not None and img.shape[:2] != size:
        raise ValueError(f"all video frames must have one size: {img.shape[:2]} != {size}")
    return img.shape[0], img.shape[1]


def _write_opencv(frames: Iterable[np.ndarray], tmp: Path, fps: float, fourcc: str) -> int:
    writer = None
    size = None
    count = 0
    try:
        for frame in frames:
            size = _check_frame(frame, size)
            # codecs work on even sizes (MPEG-4 crops an odd column): pad by one edge pixel instead
            pad_h, pad_w = size[0] % 2, size[1] % 2
            if writer is None:
                frame_size = (size[1] + pad_w, size[0] + pad_h)
                writer = cv2.VideoWriter(
                    str(tmp), cv2.VideoWriter.fourcc(*fourcc), float(fps), frame_size
                )
                if not writer.isOpened():
                    raise RuntimeError(
                        f"OpenCV cannot write {tmp.suffix} video ({fourcc}) on this machine"
                    )
            bgr = np.asarray(frame)[..., ::-1]
            if pad_h or pad_w:
                bgr = cv2.copyMakeBorder(
                    np.ascontiguousarray(bgr), 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE
                )
            writer.write(np.ascontiguousarray(bgr))
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count


def _write_gif(frames: Iterable[np.ndarray], tmp: Path, fps: float) -> int:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "GIF output needs Pillow: pip install 'zod-devkit[viz]' (or write .mp4)"
        ) from exc
    size = None
    images = []
    for frame in frames:
        size = _check_frame(frame, size)
        images.append(Image.fromarray(np.asarray(frame)))
    if images:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=max(int(round(1000.0 / fps)), 20),
            loop=0,
        )
    return len(images)
