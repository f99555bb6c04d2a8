"""JPEG camera images (spec §9) decoded to RGB uint8, at full or reduced scale.

OpenCV's reduced decode (``IMREAD_REDUCED_COLOR_2/4/8``) makes the JPEG decoder itself output
1/2, 1/4 or 1/8 of the size, which is several times faster than decoding fully and resizing.
"""

from __future__ import annotations

import os
from os import PathLike

import cv2
import numpy as np

from zod.errors import FormatError, MissingFileError

_REDUCED_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def _divisor(scale: float) -> int:
    for divisor in _REDUCED_FLAGS:
        if abs(scale - 1.0 / divisor) < 1e-9:
            return divisor
    raise ValueError(f"scale must be 1, 1/2, 1/4 or 1/8, got {scale}")


def read_image(path: str | PathLike[str], scale: float = 1, stream: str | None = "--images") -> np.ndarray:
    """Decode a JPEG to RGB uint8, shape (H*scale, W*scale, 3) (size rounded up by the decoder).

    Raises ``MissingFileError`` (naming ``stream``) if absent, ``FormatError`` if undecodable.
    """
    flag = _REDUCED_FLAGS[_divisor(scale)]
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(path, "camera image", stream)
    buffer = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(buffer, flag) if buffer.size else None
    if image is None:
        raise FormatError(path, "not a decodable image (truncated or not a JPEG)")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_size(path: str | PathLike[str]) -> tuple[int, int]:
    """(width, height) of a JPEG read from its header only (no decode)."""
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    raise FormatError(path, "no JPEG frame header found")
