"""JPEG camera images (spec §9) decoded to RGB uint8, at full or reduced scale.

JPEGs are decoded by libjpeg-turbo through ``simplejpeg``, straight into an RGB array (no BGR
intermediate, no colour conversion pass): 3-5x faster than ``PIL``/``cv2.imdecode`` at full
size. At 1/2, 1/4 or 1/8 the decoder scales the DCT itself (the output is ceil(W s) x
ceil(H s), the same size and, measured, the same pixels as OpenCV's ``IMREAD_REDUCED_COLOR_*``),
which is several times faster than decoding fully and resizing.

OpenCV stays the decoder for anything that is not a JPEG (PNG) and for a JPEG libjpeg-turbo
refuses in strict mode (corrupt entropy data, unusual colour spaces): it then decodes exactly
as before this fast path existed, and a file neither can decode is a ``FormatError``.
"""

from __future__ import annotations

import math
import os
from os import PathLike

import cv2
import numpy as np
import simplejpeg

from zod.errors import FormatError, MissingFileError

_REDUCED_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
_JPEG_SOI = b"\xff\xd8"


def _divisor(scale: float) -> int:
    for divisor in _REDUCED_FLAGS:
        if abs(scale - 1.0 / divisor) < 1e-9:
            return divisor
    raise ValueError(f"scale must be 1, 1/2, 1/4 or 1/8, got {scale}")


def _decode_jpeg(data: bytes, divisor: int, buffer: np.ndarray | None = None) -> np.ndarray | None:
    """libjpeg-turbo decode to RGB (H', W', 3) at 1/``divisor``, H' = ceil(H / divisor), written
    into ``buffer`` when it is large enough; None if refused (strict: any libjpeg warning, e.g.
    corrupt data, counts as a refusal)."""
    try:
        height, width = simplejpeg.decode_jpeg_header(data)[:2]
        height, width = math.ceil(height / divisor), math.ceil(width / divisor)
        if buffer is not None and buffer.nbytes < height * width * 3:
            buffer = None
        # min_factor forbids any scale above 1/divisor; the minimum size forbids any below it,
        # so libjpeg-turbo's choice among its M/8 scales is exactly 1/divisor.
        image = simplejpeg.decode_jpeg(
            data, "RGB", min_height=height, min_width=width, min_factor=divisor, buffer=buffer
        )
    except ValueError:
        return None
    return image if image.shape == (height, width, 3) else None


def _decode_opencv(data: bytes, divisor: int) -> np.ndarray | None:
    """OpenCV decode (any format it reads) to RGB (H', W', 3); None if undecodable."""
    image = (
        cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _REDUCED_FLAGS[divisor]) if data else None
    )
    if image is None:
        return None
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image(
    path: str | PathLike[str],
    scale: float = 1,
    stream: str | None = "--images",
    buffer: np.ndarray | None = None,
) -> np.ndarray:
    """Decode a JPEG (or PNG) to RGB uint8, shape (ceil(H*scale), ceil(W*scale), 3).

    ``buffer``: optional writable C-contiguous uint8 array (any shape) reused across calls; a
    JPEG is decoded into it when it holds the image (the result is then a view of it, valid until
    the buffer is reused). A loop that copies each image elsewhere (e.g. to a (3, H, W) tensor)
    saves a fresh allocation per image this way. Otherwise a new array is returned.

    Raises ``MissingFileError`` (naming ``stream``) if absent, ``FormatError`` if undecodable
    (truncated, corrupt beyond repair, not an image).
    """
    _divisor(scale)  # a bad scale is a ValueError before the disk is touched
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(path, "camera image", stream)
    with open(path, "rb") as f:
        data = f.read()
    return decode_image(data, scale, buffer, where=path)


def decode_image(
    data: bytes, scale: float = 1, buffer: np.ndarray | None = None, where: str = "image"
) -> np.ndarray:
    """``read_image`` on bytes already in memory (a tar shard member): RGB uint8
    (ceil(H*scale), ceil(W*scale), 3); undecodable bytes raise ``FormatError`` naming ``where``."""
    divisor = _divisor(scale)
    image = _decode_jpeg(data, divisor, buffer) if data.startswith(_JPEG_SOI) else None
    if image is None:
        image = _decode_opencv(data, divisor)
    if image is None:
        raise FormatError(where, "not a decodable image (truncated or not a JPEG)")
    return image


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
