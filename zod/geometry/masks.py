"""Rasterize polygon annotations (lane markings, ego road, ...) into masks (spec section 11).

Polygons are in full-resolution image pixels (x right, y down; 3848 x 2168). GeoJSON semantics:
a ``Polygon`` is a list of rings, the first the outline and the others holes; a
``MultiPolygon`` is a list of such polygons::

    Polygon  [[outline], [hole], ...]            +-----------+   outline filled,
    ring     [[x0, y0], [x1, y1], ...]           |  +-----+  |   hole left empty
                                                 |  |hole |  |
                                                 |  +-----+  |
                                                 +-----------+

Masks can be made at a reduced resolution (``scale`` < 1: coordinates are scaled, not the
mask down-sampled). ``polygons_to_binary_mask`` / ``polygon_to_mask`` keep the reference
devkit's behaviour (every ring filled, holes included; coordinates truncated to int).
One ``cv2.fillPoly`` call per polygon, never a loop over pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np

__all__ = [
    "DEFAULT_SEMANTIC_CLASSES",
    "FULL_IMAGE_SHAPE",
    "annotation_kind",
    "binary_mask",
    "geometry_to_polygons",
    "instance_mask",
    "polygon_to_array",
    "polygon_to_mask",
    "polygons_to_binary_mask",
    "rasterize_polygons",
    "semantic_mask",
]

FULL_IMAGE_SHAPE = (2168, 3848)  # (height, width) of the front camera
_SHIFT = 4  # fixed-point fractional bits for cv2.fillPoly (1/16 pixel)

# default class ids of semantic_mask with the default labeller (0 is background)
DEFAULT_SEMANTIC_CLASSES: dict[str, int] = {
    "lane_marking": 1,
    "shaded_area": 2,
    "road_painting": 3,
    "ego_road": 4,
}


# --------------------------------------------------------------------------- reference behaviour
def polygon_to_array(polygon: Any) -> np.ndarray:
    """All coordinates of ``polygon`` as one contour (K, 1, 2) int32, truncated (reference)."""
    return _flat_coords(polygon).reshape(-1, 1, 2).astype(np.int32)


def polygon_to_mask(
    polygon: Any, img_shape: Sequence[int] = (2168, 3848, 3), fill_color: Any = (100, 0, 0)
) -> np.ndarray:
    """uint8 image of ``img_shape``, ``polygon`` filled with ``fill_color`` (as the reference)."""
    mask = np.zeros(tuple(img_shape), dtype=np.uint8)
    cv2.fillPoly(mask, [polygon_to_array(polygon)], fill_color)
    return mask


def polygons_to_binary_mask(
    multi_polygons: Iterable[Any], img_shape: Sequence[int] = (2168, 3848)
) -> np.ndarray:
    """bool (H, W): union of every element of every item, each filled as one contour.

    Reference behaviour: for an annotation geometry (a Polygon's list of rings) each ring is
    filled on its own, so holes come out filled. Use :func:`binary_mask` for GeoJSON holes.
    """
    if len(img_shape) != 2:
        raise ValueError(f"img_shape must be (height, width), got {tuple(img_shape)}")
    mask = np.zeros(tuple(img_shape), dtype=np.uint8)
    for multi_polygon in multi_polygons:
        for polygon in multi_polygon:
            contour = polygon_to_array(polygon)
            if len(contour):
                cv2.fillPoly(mask, [contour], 1)
    return mask.astype(bool)


def _flat_coords(coords: Any) -> np.ndarray:
    """Any nesting of [x, y] pairs -> (K, 2) float64 (ragged nestings are concatenated)."""
    try:
        arr = np.asarray(coords, dtype=np.float64)
        return arr.reshape(-1, 2)
    except ValueError:
        parts = [_flat_coords(c) for c in coords]
        return np.concatenate(parts) if parts else np.zeros((0, 2))


# --------------------------------------------------------------------------- GeoJSON semantics
def _depth(coords: Any) -> int:
    """Nesting depth of a coordinate list: 1 point [x, y], 2 ring, 3 Polygon, 4 MultiPolygon."""
    depth = 0
    node = coords
    while isinstance(node, (list, tuple, np.ndarray)) and len(node) > 0:
        depth += 1
        node = node[0]
    return depth


def _geometry_of(item: Any) -> Any:
    """Coordinates (or a geometry dict) of a GeoJSON feature / geometry / annotation object."""
    if isinstance(item, Mapping):
        if "geometry" in item:
            return item["geometry"]
        return item
    geometry = getattr(item, "geometry", None)
    return item if geometry is None else geometry


def geometry_to_polygons(geometry: Any) -> list[list[np.ndarray]]:
    """A geometry -> list of polygons, each a list of rings (K, 2) float64 (outline first).

    Accepts a GeoJSON geometry dict (``Polygon`` / ``MultiPolygon``), a feature, an
    annotation object with ``.geometry``, or bare coordinates (nesting depth tells: a ring, a
    Polygon or a MultiPolygon). Rings with fewer than 3 points are dropped (nothing to fill).
    """
    geometry = _geometry_of(geometry)
    kind = None
    if isinstance(geometry, Mapping):
        kind = geometry.get("type")
        geometry = geometry.get("coordinates", [])
    depth = _depth(geometry)
    if kind == "MultiPolygon" or (kind is None and depth >= 4):
        polygons = list(geometry)
    elif kind == "Polygon" or (kind is None and depth == 3):
        polygons = [geometry]
    elif depth == 2:  # a single ring
        polygons = [[geometry]]
    elif depth == 0:
        return []
    else:
        raise ValueError(f"cannot rasterize a geometry of type {kind or f'depth {depth}'}")
    out: list[list[np.ndarray]] = []
    for polygon in polygons:
        rings = [np.asarray(ring, dtype=np.float64).reshape(-1, 2) for ring in polygon]
        if not rings or len(rings[0]) < 3:
            continue
        out.append([ring for ring in rings if len(ring) >= 3])
    return out


def _fill_polygon(mask: np.ndarray, rings: list[np.ndarray], value: int, scale: float) -> None:
    """Fill one polygon (outline minus holes) with ``value`` into ``mask`` (in place)."""
    height, width = mask.shape[:2]
    fixed = [np.round(ring * scale * (1 << _SHIFT)).astype(np.int64) for ring in rings]
    outline = fixed[0]
    lo = np.maximum(outline.min(axis=0) >> _SHIFT, 0)
    hi = np.minimum((outline.max(axis=0) >> _SHIFT) + 2, [width, height])
    if np.any(hi <= lo):
        return  # entirely outside the image
    local = np.zeros((int(hi[1] - lo[1]), int(hi[0] - lo[0])), dtype=np.uint8)
    offset = (lo << _SHIFT).astype(np.int64)
    cv2.fillPoly(
        local,
        [(outline - offset).astype(np.int32).reshape(-1, 1, 2)],
        1,
        lineType=cv2.LINE_8,
        shift=_SHIFT,
    )
    for hole in fixed[1:]:
        cv2.fillPoly(
            local,
            [(hole - offset).astype(np.int32).reshape(-1, 1, 2)],
            0,
            lineType=cv2.LINE_8,
            shift=_SHIFT,
        )
    view = mask[lo[1] : hi[1], lo[0] : hi[0]]
    view[local.astype(bool)] = value


def _out_shape(image_shape: Sequence[int], scale: float) -> tuple[int, int]:
    height, width = int(image_shape[0]), int(image_shape[1])
    return max(1, round(height * scale)), max(1, round(width * scale))


def rasterize_polygons(
    geometries: Iterable[Any],
    values: Iterable[int] | int = 1,
    image_shape: Sequence[int] = FULL_IMAGE_SHAPE,
    scale: float = 1.0,
    dtype: Any = np.uint8,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Paint geometries in order (later ones on top), each with its value, GeoJSON holes respected.

    ``image_shape`` is the full-resolution (height, width); the mask is
    (round(height * scale), round(width * scale)) of ``dtype`` unless ``out`` is given.
    """
    geometries = list(geometries)
    if out is None:
        out = np.zeros(_out_shape(image_shape, scale), dtype=dtype)
    value_list = (
        [values] * len(geometries) if isinstance(values, (int, np.integer)) else list(values)
    )
    if len(value_list) != len(geometries):
        raise ValueError(f"{len(geometries)} geometries but {len(value_list)} values")
    for geometry, value in zip(geometries, value_list):
        for rings in geometry_to_polygons(geometry):
            _fill_polygon(out, rings, int(value), scale)
    return out


def binary_mask(
    geometries: Iterable[Any], image_shape: Sequence[int] = FULL_IMAGE_SHAPE, scale: float = 1.0
) -> np.ndarray:
    """bool (H, W): pixels covered by any of the geometries (holes excluded)."""
    return rasterize_polygons(geometries, 1, image_shape, scale).astype(bool)


def annotation_kind(annotation: Any) -> str:
    """Default semantic label: lane_marking, shaded_area, road_painting or ego_road."""
    name = type(annotation).__name__
    if name.startswith("LaneMarking"):
        return "lane_marking"
    if name.startswith("ShadedArea"):
        return "shaded_area"
    if name.startswith("RoadPainting"):
        return "road_painting"
    if name.startswith("EgoRoad"):
        return "ego_road"
    if isinstance(annotation, Mapping):  # a raw feature: tell the kinds apart like spec section 11
        props = annotation.get("properties", {}) or {}
        cls = props.get("class")
        if cls is None:
            return "road_painting"
        if cls == "shaded_area":
            return "shaded_area"
        if str(cls).startswith("EgoRoad"):
            return "ego_road"
        return "lane_marking"
    raise ValueError(f"no default semantic label for {name}; pass label_fn")


def semantic_mask(
    annotations: Iterable[Any],
    class_ids: Mapping[str, int] | None = None,
    label_fn: Callable[[Any], str] | None = None,
    image_shape: Sequence[int] = FULL_IMAGE_SHAPE,
    scale: float = 1.0,
    dtype: Any = np.uint8,
) -> np.ndarray:
    """Class id per pixel (0 = background): each annotation painted with ``class_ids[label_fn(a)]``.

    Defaults: ``label_fn`` = :func:`annotation_kind`, ``class_ids`` = ``DEFAULT_SEMANTIC_CLASSES``.
    For lane types pass e.g. ``label_fn=lambda a: a.type`` and a mapping of the types. Labels
    missing from ``class_ids`` are skipped. Later annotations are painted on top.
    """
    class_ids = DEFAULT_SEMANTIC_CLASSES if class_ids is None else class_ids
    label_fn = annotation_kind if label_fn is None else label_fn
    kept, values = [], []
    for annotation in annotations:
        label = label_fn(annotation)
        if label in class_ids:
            kept.append(annotation)
            values.append(int(class_ids[label]))
    return rasterize_polygons(kept, values, image_shape, scale, dtype=dtype)


def instance_mask(
    annotations: Iterable[Any],
    image_shape: Sequence[int] = FULL_IMAGE_SHAPE,
    scale: float = 1.0,
    ids: Iterable[int] | None = None,
) -> np.ndarray:
    """int32 (H, W): 0 background, else the instance id (later annotations on top).

    Default ids: i + 1 for the i-th annotation; pass ``ids`` to use others (e.g. the lane
    markings' ``InstanceID`` so that the pieces of one marking share an id).
    """
    annotations = list(annotations)
    values = list(range(1, len(annotations) + 1)) if ids is None else [int(i) for i in ids]
    return rasterize_polygons(annotations, values, image_shape, scale, dtype=np.int32)
