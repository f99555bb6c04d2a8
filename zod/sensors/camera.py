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

import numpy as np
import simplejpeg

from zod._io import open_checked, read_bytes_checked
from zod.errors import FormatError

# OpenCV's imread flag (by name) of each scale divisor. cv2 is imported where an image falls back
# to it: ~0.14 s and a native thread that every reader of the index (``zod.info`` imports this
# module), converter pool workers included, would otherwise pay for.
_REDUCED_FLAGS = {
    1: "IMREAD_COLOR",
    2: "IMREAD_REDUCED_COLOR_2",
    4: "IMREAD_REDUCED_COLOR_4",
    8: "IMREAD_REDUCED_COLOR_8",
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
    import cv2

    flag = getattr(cv2, _REDUCED_FLAGS[divisor])
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag) if data else None
    if image is None:
        return None
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


MAX_PIXELS = 1 << 27
"""Pixels a JPEG header may claim when the expected size is not known (16x a ZOD image)."""


def _sof_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of the first JPEG frame header (any SOFn) in ``data``, or None."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:  # not at a marker (corrupt data): on to the next 0xFF byte
            i = data.find(b"\xff", i)
            if i < 0:
                return None
            continue
        marker = data[i + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        if marker == 0xDA:  # start of scan: the frame header comes before it, if at all
            return None
        if marker == 0xD8 or marker == 0xFF or 0xD0 <= marker <= 0xD7:
            i += 1 if marker == 0xFF else 2
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _check_claimed_size(data: bytes, path: str, expected: tuple[int, int] | None) -> None:
    """``FormatError`` if the JPEG header claims an implausible size (see ``read_image``)."""
    if not data.startswith(_JPEG_SOI):
        return
    size = _sof_size(data)  # walks the segment headers only: cheap on any file
    if size is None:
        return  # no frame header near the start: the decoders refuse it
    width, height = size
    if width == 0 or height == 0:
        raise FormatError(path, f"JPEG header claims an empty image ({width}x{height})")
    if expected is not None:
        if width > 2 * expected[0] or height > 2 * expected[1]:
            raise FormatError(
                path,
                f"JPEG header claims {width}x{height} pixels, the index lists "
                f"{expected[0]}x{expected[1]}",
            )
    elif width * height > MAX_PIXELS:
        raise FormatError(path, f"JPEG header claims an implausible {width}x{height} pixels")


def read_image(
    path: str | PathLike[str],
    scale: float = 1,
    stream: str | None = "--images",
    buffer: np.ndarray | None = None,
    expected_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode a JPEG (or PNG) to RGB uint8, shape (ceil(H*scale), ceil(W*scale), 3).

    ``buffer``: optional writable C-contiguous uint8 array (any shape) reused across calls; a
    JPEG is decoded into it when it holds the image (the result is then a view of it, valid until
    the buffer is reused). A loop that copies each image elsewhere (e.g. to a (3, H, W) tensor)
    saves a fresh allocation per image this way. Otherwise a new array is returned.

    ``expected_size`` (width, height), e.g. what the index lists: a JPEG header claiming more
    than twice either is refused before decoding (without it, more than ``MAX_PIXELS``), so a
    corrupt header cannot make the decoder reserve gigabytes.

    Raises ``MissingFileError`` (naming ``stream``) if absent, ``FormatError`` if undecodable
    (truncated, corrupt beyond repair, not an image, not a file).
    """
    _divisor(scale)  # a bad scale is a ValueError before the disk is touched
    path = os.fspath(path)
    data = read_bytes_checked(path, "camera image", stream)
    return decode_image(data, scale, buffer, where=path, expected_size=expected_size)


def decode_image(
    data: bytes,
    scale: float = 1,
    buffer: np.ndarray | None = None,
    where: str = "image",
    expected_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """``read_image`` on bytes already in memory (a tar shard member): RGB uint8
    (ceil(H*scale), ceil(W*scale), 3); a header claiming too much or undecodable bytes raise
    ``FormatError`` naming ``where``."""
    divisor = _divisor(scale)
    _check_claimed_size(data, where, expected_size)
    image = _decode_jpeg(data, divisor, buffer) if data.startswith(_JPEG_SOI) else None
    if image is None:
        image = _decode_opencv(data, divisor)
    if image is None:
        raise FormatError(where, "not a decodable image (truncated or not a JPEG)")
    return image


def image_size(path: str | PathLike[str]) -> tuple[int, int]:
    """(width, height) of a JPEG read from its header only (no decode)."""
    with open_checked(path, "camera image", None) as f:
        data = f.read(1 << 16)
    size = _sof_size(data)
    if size is None:
        raise FormatError(path, "no JPEG frame header found")
    return size
