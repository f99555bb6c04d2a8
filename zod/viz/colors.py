"""Colours of zod.viz: colormaps (vectorized lookup tables) and per-class colours.

Every picture in ``zod.viz`` is an RGB ``uint8`` array of shape (H, W, 3), like the camera
images the readers return; colours are ``(r, g, b)`` tuples of ints in 0..255. Only
:func:`write_png` converts to OpenCV's BGR order, when a picture is written to disk.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import cache
from os import PathLike

import cv2
import numpy as np

from zod._atomic import atomic_write_bytes

__all__ = [
    "CLASS_COLORS",
    "COLORMAPS",
    "RGB",
    "apply_colormap",
    "class_color",
    "class_colors",
    "colormap_lut",
    "depth_colors",
    "to_rgb_tuple",
    "write_png",
]

RGB = tuple[int, int, int]

# OpenCV's built-in maps (0 -> first colour, 1 -> last). "turbo" and "jet" go blue -> red.
_OPENCV_MAPS = {
    "turbo": cv2.COLORMAP_TURBO,
    "jet": cv2.COLORMAP_JET,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "plasma": cv2.COLORMAP_PLASMA,
    "inferno": cv2.COLORMAP_INFERNO,
    "magma": cv2.COLORMAP_MAGMA,
    "hot": cv2.COLORMAP_HOT,
    "rainbow": cv2.COLORMAP_RAINBOW,
}
# Diverging blue -> light grey -> red map (the reference devkit draws lidar depth with
# matplotlib's "coolwarm"); anchor colours from Moreland's diverging map, linear in RGB.
_COOLWARM_ANCHORS = np.array(
    [
        [59, 76, 192],
        [124, 159, 249],
        [192, 212, 245],
        [221, 221, 221],
        [242, 203, 183],
        [238, 132, 104],
        [180, 4, 38],
    ],
    dtype=np.float64,
)
COLORMAPS = ("coolwarm", "gray", *sorted(_OPENCV_MAPS))


@cache
def colormap_lut(name: str = "turbo") -> np.ndarray:
    """The (256, 3) uint8 RGB lookup table of colormap ``name`` (see ``COLORMAPS``)."""
    ramp = np.arange(256, dtype=np.uint8)
    if name == "gray":
        lut = np.repeat(ramp[:, None], 3, axis=1)
    elif name == "coolwarm":
        anchor_pos = np.linspace(0.0, 255.0, len(_COOLWARM_ANCHORS))
        lut = (
            np.stack(
                [np.interp(ramp, anchor_pos, _COOLWARM_ANCHORS[:, c]) for c in range(3)], axis=1
            )
            .round()
            .astype(np.uint8)
        )
    elif name in _OPENCV_MAPS:
        bgr = cv2.applyColorMap(ramp.reshape(256, 1), _OPENCV_MAPS[name]).reshape(256, 3)
        lut = np.ascontiguousarray(bgr[:, ::-1], dtype=np.uint8)
    else:
        raise ValueError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    lut.setflags(write=False)
    return lut


def apply_colormap(values01: np.ndarray, name: str = "turbo") -> np.ndarray:
    """Values in [0, 1] (any shape S; clipped, NaN -> 0) -> RGB uint8 colours (S + (3,))."""
    v = np.nan_to_num(np.asarray(values01, dtype=np.float64), nan=0.0)
    idx = np.clip(np.rint(v * 255.0), 0, 255).astype(np.intp)
    return colormap_lut(name)[idx]


def depth_colors(
    depth_m: np.ndarray,
    max_depth_m: float | None = None,
    min_depth_m: float = 0.0,
    colormap: str = "turbo",
) -> np.ndarray:
    """Depths (N,) metres -> RGB uint8 colours (N, 3); near: start of the map (blue), far: its end.

    Depths are scaled linearly from ``min_depth_m`` to ``max_depth_m`` (default: the largest
    depth given) and clipped, so a fixed ``max_depth_m`` gives the same colour to the same
    distance in every picture.
    """
    d = np.asarray(depth_m, dtype=np.float64)
    if max_depth_m is None:
        max_depth_m = float(d.max()) if d.size else 1.0
    span = max(float(max_depth_m) - float(min_depth_m), 1e-9)
    return apply_colormap((d - float(min_depth_m)) / span, colormap)


# One colour per object class of spec section 11 (RGB); traffic objects in warm tones,
# road users in saturated distinct hues.
CLASS_COLORS: dict[str, RGB] = {
    "Vehicle": (0, 200, 255),
    "VulnerableVehicle": (255, 140, 0),
    "Pedestrian": (255, 40, 80),
    "Animal": (170, 110, 40),
    "PoleObject": (160, 160, 160),
    "TrafficBeacon": (255, 220, 0),
    "TrafficSign": (255, 255, 80),
    "TrafficSignal": (80, 255, 80),
    "TrafficGuide": (200, 120, 255),
    "DynamicBarrier": (255, 90, 200),
    "Unclear": (120, 120, 120),
    "Inconclusive": (120, 120, 120),
}


def class_color(name: str | None) -> RGB:
    """Colour of a class (or sub-class ``Vehicle_Car``: the part before ``_``).

    Unknown names get a stable colour derived from the name (the same in every run).
    """
    if not name:
        return CLASS_COLORS["Unclear"]
    if name in CLASS_COLORS:
        return CLASS_COLORS[name]
    base = name.split("_", 1)[0]
    if base in CLASS_COLORS:
        return CLASS_COLORS[base]
    digest = hashlib.md5(name.encode("utf-8")).digest()
    hue = digest[0] * 180 // 256  # OpenCV hue range 0..179
    hsv = np.array([[[hue, 200, 255]]], dtype=np.uint8)
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return (int(r), int(g), int(b))


def class_colors(names: Sequence[str | None]) -> np.ndarray:
    """Class names (N,) -> RGB uint8 colours (N, 3) (one lookup per distinct name)."""
    names = list(names)
    if not names:
        return np.zeros((0, 3), dtype=np.uint8)
    uniq, inverse = np.unique(np.array([n or "" for n in names], dtype=object), return_inverse=True)
    table = np.array([class_color(n) for n in uniq], dtype=np.uint8)
    return table[inverse.reshape(-1)]


def to_rgb_tuple(color: Sequence[float] | np.ndarray) -> RGB:
    """Any 3-sequence (ints 0..255 or floats) -> an ``(r, g, b)`` tuple of Python ints (OpenCV)."""
    c = np.asarray(color).reshape(-1)[:3]
    return (int(c[0]), int(c[1]), int(c[2]))


def write_png(path: str | PathLike[str], image_rgb: np.ndarray) -> str:
    """Write an RGB (H, W, 3) or grey (H, W) uint8 picture as PNG, atomically (temp + rename).

    Returns the path written. The parent folder is created when missing.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    img = np.asarray(image_rgb)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    bgr = img[..., ::-1] if img.ndim == 3 and img.shape[2] == 3 else img
    ok, data = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:
        raise ValueError(f"could not encode a picture of shape {img.shape} as PNG")
    atomic_write_bytes(path, data.tobytes())
    return path
