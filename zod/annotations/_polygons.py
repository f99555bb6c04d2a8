"""GeoJSON polygon geometry of lane and ego-road annotations (spec §11).

``Polygon`` coordinates are a list of rings (first = outline, others = holes), each a list of
[x, y] pixels; ``MultiPolygon`` a list of such polygons. Rings with fewer than 3 points enclose
no area: they are dropped (documented fallback, spec §14), and a feature left without any
outline is dropped by the parser with a warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _is_point(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) >= 2
        and all(isinstance(v, (int, float)) for v in value[:2])
    )


def polygons_of(geometry: dict[str, Any]) -> list[list[np.ndarray]]:
    """Every polygon of a geometry as a list of rings, each (K, 2) float64, K >= 3."""
    kind = geometry.get("type", "Polygon")
    coords = geometry.get("coordinates") or []
    if kind == "MultiPolygon":
        polygons = coords
    elif kind == "Polygon":
        polygons = [coords]
    elif kind in ("LineString", "MultiPoint") or (coords and _is_point(coords[0])):
        polygons = [[coords]]  # a bare ring written without the ring level
    else:
        raise ValueError(f"unsupported geometry type {kind!r}")
    out = []
    for polygon in polygons:
        if polygon and _is_point(polygon[0]):
            polygon = [polygon]
        rings = [
            np.asarray(r, dtype=np.float64).reshape(-1, 2)[:, :2] if len(r) else np.zeros((0, 2))
            for r in polygon
        ]
        if not rings or len(rings[0]) < 3:
            continue  # no outline: nothing of this polygon encloses area
        out.append([rings[0]] + [h for h in rings[1:] if len(h) >= 3])
    return out


def clean_coordinates(geometry: dict[str, Any]) -> list[Any]:
    """The geometry's coordinates with degenerate rings and polygons removed (same nesting)."""
    polygons = [[ring.tolist() for ring in poly] for poly in polygons_of(geometry)]
    return polygons if geometry.get("type") == "MultiPolygon" else (polygons[0] if polygons else [])


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, (list, tuple)) and value:
        depth += 1
        value = value[0]
    return depth


def polygons_from_coordinates(coordinates: list[Any]) -> list[list[np.ndarray]]:
    """``polygons_of`` for bare coordinates: nesting depth 4 is a MultiPolygon, else a Polygon."""
    kind = "MultiPolygon" if _depth(coordinates) >= 4 else "Polygon"
    return polygons_of({"type": kind, "coordinates": coordinates})
