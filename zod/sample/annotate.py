"""The five annotation projects of one keyframe, derived from the simulated scene (spec section 11).

Every geometry is computed, never made up: 2D boxes are the projections of the 3D boxes drawn in
the image, 3D boxes are the scene's boxes in the lidar frame at the keyframe time, and lane /
ego-road polygons are the projections of the painted areas of the road (the same polygons are
drawn into the image).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zod.geometry.transforms import quaternions_from_rotation_matrices
from zod.sample.camera import ObjectView, project_world
from zod.sample.rig import SensorRig
from zod.sample.scene import (
    DASH_LENGTH_M,
    DASH_PERIOD_M,
    LANE_WIDTH_M,
    ROAD_HALF_WIDTH_M,
    Road,
    SceneObjects,
    template_class,
)

TRAFFIC_SIGN_TSV = Path(__file__).resolve().parent.parent / "resources" / "traffic-sign-classes.tsv"
UNKNOWN_SIGN_NAME = "Warning_SampleUnknownSign"  # deliberately not in the tsv (spec section 14)
MARKING_RGB = (235, 235, 228)
BARRIER_RGB = (160, 162, 166)


def new_uuid(rng: np.random.Generator) -> str:
    """A random (version 4) UUID drawn from ``rng`` (deterministic)."""
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def traffic_sign_names() -> list[str]:
    """The 156 class names of the traffic-sign tsv, in index order."""
    lines = TRAFFIC_SIGN_TSV.read_text().splitlines()[1:]
    return [line.split("\t")[1] for line in lines if line.strip()]


def occlusion_ratio(visible_fraction: float) -> str:
    """Occlusion level name of a visible share (1 = fully visible)."""
    hidden = 1.0 - visible_fraction
    for limit, name in ((0.1, "None"), (0.3, "Light"), (0.6, "Medium"), (0.9, "Heavy")):
        if hidden < limit:
            return name
    return "VeryHeavy"


def _box_geometry(box: np.ndarray) -> dict[str, Any]:
    x1, y1, x2, y2 = (round(float(v), 2) for v in box)
    return {"type": "MultiPoint", "coordinates": [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]}


# --- road-frame shapes (d forward, l left, z up), rings as (K, 3) arrays -------------------------


def _rect(d0: float, d1: float, l0: float, l1: float) -> np.ndarray:
    return np.array([[d0, l0, 0.0], [d1, l0, 0.0], [d1, l1, 0.0], [d0, l1, 0.0]])


def _densify(ring: np.ndarray, step_m: float = 0.5) -> np.ndarray:
    """Ring (K, 3) with extra points every ``step_m`` along its edges (fisheye bends lines)."""
    closed = np.vstack([ring, ring[:1]])
    seg = np.diff(closed, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    counts = np.maximum(1, np.ceil(lengths / step_m).astype(int))
    pieces = [
        closed[i] + np.outer(np.arange(counts[i]) / counts[i], seg[i]) for i in range(len(seg))
    ]
    return np.vstack(pieces)


@dataclass
class RoadShape:
    """An annotated area of the road: polygons (lists of rings, outline first) and properties."""

    polygons: list[list[np.ndarray]]
    properties: dict[str, Any]
    multi: bool = False


def lane_shapes(rng: np.random.Generator, near_m: float, far_m: float) -> list[RoadShape]:
    """Lane markings, a shaded area and road paintings between ``near_m`` and ``far_m`` ahead."""
    dash_starts = np.arange(
        np.ceil(near_m / DASH_PERIOD_M) * DASH_PERIOD_M, far_m - DASH_LENGTH_M, DASH_PERIOD_M
    )
    half = LANE_WIDTH_M / 2
    dashes = [[_rect(s, s + DASH_LENGTH_M, -half - 0.075, -half + 0.075)] for s in dash_starts]
    double = [
        [_rect(near_m, far_m, half - 0.15, half - 0.05)],
        [_rect(near_m, far_m, half + 0.05, half + 0.15)],
    ]
    edge = [[_rect(near_m, far_m, -ROAD_HALF_WIDTH_M + 0.025, -ROAD_HALF_WIDTH_M + 0.175)]]
    arrow = np.array(
        [
            [12.0, -0.15, 0],
            [14.5, -0.15, 0],
            [14.5, -0.45, 0],
            [16.0, 0.0, 0],
            [14.5, 0.45, 0],
            [14.5, 0.15, 0],
            [12.0, 0.15, 0],
        ],
        dtype=np.float64,
    )
    ring_outer = _rect(20.0, 23.0, -0.7, 0.7)
    ring_hole = _rect(20.5, 22.5, -0.4, 0.4)[::-1]
    painting_flags = [
        "Unclear",
        "Odd",
        "ContainsArrow",
        "ContainsPictogram",
        "ContainsText",
        "ContainsTrafficSign",
        "ContainsCrossWalk",
        "ContainsMarker",
        "ContainsOther",
    ]

    def painting(kind: str) -> dict[str, Any]:
        props: dict[str, Any] = {"annotation_uuid": new_uuid(rng)}
        props.update({flag: flag == kind for flag in painting_flags})
        return props

    return [
        RoadShape(
            dashes,
            {
                "annotation_uuid": new_uuid(rng),
                "class": "dashed",
                "coloured": False,
                "InstanceID": 1,
            },
            multi=True,
        ),
        RoadShape(
            double,
            {
                "annotation_uuid": new_uuid(rng),
                "class": "solid",
                "coloured": False,
                "InstanceID": 2,
                "MultipleLaneMarkings": "Double",
            },
            multi=True,
        ),
        RoadShape(edge, {"annotation_uuid": new_uuid(rng), "class": "solid", "coloured": False}),
        RoadShape(
            [[_rect(30.0, 42.0, half + 0.4, ROAD_HALF_WIDTH_M - 0.35)]],
            {
                "annotation_uuid": new_uuid(rng),
                "class": "shaded_area",
                "ShadedAreaType": "Hatched",
                "coloured": False,
            },
        ),
        RoadShape([[arrow]], painting("ContainsArrow")),
        RoadShape([[ring_outer, ring_hole]], painting("ContainsText")),  # a polygon with a hole
    ]


def ego_road_shapes(
    rng: np.random.Generator, near_m: float, far_m: float, with_debris: bool
) -> list[RoadShape]:
    """Ego road (the whole carriageway), optional debris, a road edge and a guard-rail barrier."""
    rail_end = far_m - 20.0
    shapes = [
        RoadShape(
            [[_rect(near_m, far_m, -ROAD_HALF_WIDTH_M, ROAD_HALF_WIDTH_M)]],
            {"annotation_uuid": new_uuid(rng), "class": "EgoRoad_Road"},
        ),
        RoadShape(
            [[_rect(near_m, far_m, ROAD_HALF_WIDTH_M, ROAD_HALF_WIDTH_M + 0.2)]],
            {"annotation_uuid": new_uuid(rng), "class": "RoadEdge"},
        ),
        RoadShape(
            [
                [
                    np.array(
                        [
                            [near_m, -6.2, 0.3],
                            [rail_end, -6.2, 0.3],
                            [rail_end, -6.2, 0.8],
                            [near_m, -6.2, 0.8],
                        ]
                    )
                ]
            ],
            {"annotation_uuid": new_uuid(rng), "class": "Barrier"},
        ),
    ]
    if with_debris:
        shapes.insert(
            1,
            RoadShape(
                [[_rect(30.0, 30.8, -0.6, 0.2)]],
                {"annotation_uuid": new_uuid(rng), "class": "EgoRoad_Debris"},
            ),
        )
    return shapes


def clip_ring(ring: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland-Hodgman clip of a polygon ring (K, 2) to the image [0, width-1] x [0, height-1].

    One vectorized pass per image edge (4 passes); returns (K', 2), possibly empty.
    """
    pts = np.asarray(ring, dtype=np.float64)
    for axis, limit, keep_below in (
        (0, 0.0, False),
        (0, width - 1.0, True),
        (1, 0.0, False),
        (1, height - 1.0, True),
    ):
        if pts.shape[0] == 0:
            break
        nxt = np.roll(pts, -1, axis=0)
        inside = pts[:, axis] <= limit if keep_below else pts[:, axis] >= limit
        inside_next = np.roll(inside, -1)
        crossing = inside != inside_next
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = (limit - pts[:, axis]) / (nxt[:, axis] - pts[:, axis])
            cross_pts = pts + frac[:, None] * (nxt - pts)
        cross_pts[:, axis] = limit
        # each vertex emits itself if inside, then the crossing point of its outgoing edge
        emit = np.stack([inside, crossing], axis=1).reshape(-1)
        candidates = np.stack([pts, cross_pts], axis=1).reshape(-1, 2)
        pts = candidates[emit]
    return pts


def _ring_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def project_shapes(
    shapes: list[RoadShape], road: Road, rig: SensorRig, camera_from_world: np.ndarray
) -> list[list[list[np.ndarray]]]:
    """Image polygons (per shape: polygons -> rings (K, 2)) of road shapes, clipped to the image."""
    width, height = rig.image_size
    out = []
    for shape in shapes:
        polys = []
        for rings in shape.polygons:
            img_rings = []
            for ring in rings:
                pixels, valid = project_world(rig, camera_from_world, road.to_world(_densify(ring)))
                pts = clip_ring(pixels[valid], width, height)
                if pts.shape[0] >= 3 and _ring_area(pts) >= 1.0:
                    img_rings.append(pts)
                elif not img_rings:
                    break  # no outline: holes alone are not a polygon
            if img_rings:
                polys.append(img_rings)
        out.append(polys)
    return out


def _geometry(polys: list[list[np.ndarray]], multi: bool) -> dict[str, Any]:
    def ring_list(ring: np.ndarray) -> list[list[float]]:
        return [[round(float(x), 2), round(float(y), 2)] for x, y in ring]

    if multi:
        return {
            "type": "MultiPolygon",
            "coordinates": [[ring_list(r) for r in rings] for rings in polys],
        }
    return {"type": "Polygon", "coordinates": [ring_list(r) for r in polys[0]]}


def shapes_to_features(
    shapes: list[RoadShape], image_polys: list[list[list[np.ndarray]]]
) -> list[dict[str, Any]]:
    """GeoJSON-like features of the shapes that are visible in the image."""
    features = []
    for shape, polys in zip(shapes, image_polys):
        if not polys:
            continue
        features.append(
            {
                "geometry": _geometry(polys, shape.multi or len(polys) > 1),
                "properties": dict(shape.properties),
            }
        )
    return features


def object_features(
    rng: np.random.Generator,
    objects: SceneObjects,
    views: list[ObjectView],
    lidar_from_world: np.ndarray,
    keyframe_time_s: float,
) -> tuple[list[dict[str, Any]], list[int]]:
    """object_detection.json features of the annotated, visible objects and their scene indices.

    3D boxes are in the lidar frame at the keyframe time (spec section 11).
    """
    centers = objects.centers_at(np.array([keyframe_time_s]))[0]
    centers_lidar = centers @ lidar_from_world[:3, :3].T + lidar_from_world[:3, 3]
    rot_lidar = np.einsum("ij,mjk->mik", lidar_from_world[:3, :3], objects.rotation_world)
    quats = quaternions_from_rotation_matrices(rot_lidar)
    features, kept = [], []
    for m, (spec, view) in enumerate(zip(objects.specs, views)):
        if not spec.annotated or view.box2d is None or view.visible_fraction < 0.02:
            continue
        cls_name, type_name = template_class(spec.template)
        props: dict[str, Any] = {"annotation_uuid": new_uuid(rng), "class": cls_name}
        unclear = bool(spec.props.get("unclear", False))
        if spec.template == "unknown":
            unclear = True
        if spec.props.get("type_inconclusive"):
            type_name = "Inconclusive"
        if type_name is not None:
            props["type"] = type_name
        props["unclear"] = unclear
        props["occlusion_ratio"] = occlusion_ratio(view.visible_fraction)
        if not unclear:
            props["artificial"] = bool(spec.props.get("artificial", False))
            if cls_name == "Vehicle":
                props["emergency"] = bool(spec.props.get("emergency", False))
            if cls_name == "VulnerableVehicle":
                props["with_rider"] = str(spec.props.get("with_rider", "True"))
            if cls_name in ("TrafficSign", "TrafficSignal"):
                props["traffic_content_visible"] = "True" if view.front_visible else "False"
            if cls_name == "Pedestrian":
                props["is_pulling_or_pushing"] = False
        if spec.has_3d and not unclear:
            size = objects.size_m[m]
            props["location_3d"] = {
                "type": "Point",
                "coordinates": [round(float(v), 4) for v in centers_lidar[m]],
            }
            props["size_3d_length"] = round(float(size[0]), 4)
            props["size_3d_width"] = round(float(size[1]), 4)
            props["size_3d_height"] = round(float(size[2]), 4)
            for key, value in zip(("qw", "qx", "qy", "qz"), quats[m]):
                props[f"orientation_3d_{key}"] = float(value)
        features.append({"geometry": _box_geometry(view.box2d), "properties": props})
        kept.append(m)
    return features, kept


def traffic_sign_features(
    rng: np.random.Generator,
    objects: SceneObjects,
    views: list[ObjectView],
    object_feats: list[dict[str, Any]],
    kept: list[int],
    with_unknown_name: bool,
) -> list[dict[str, Any]]:
    """traffic_signs.json: one entry per annotated traffic sign (content visible ones get a class
    from the tsv, the others ``unclear``); one name outside the tsv when asked."""
    names = traffic_sign_names()
    features: list[dict[str, Any]] = []
    for feat, _ in zip(object_feats, kept):
        props = feat["properties"]
        if props["class"] != "TrafficSign":
            continue
        geometry = feat["geometry"]
        if props.get("traffic_content_visible") == "True":
            name = str(rng.choice(names[1:]))
            if with_unknown_name and not any(
                f["properties"]["class"] == UNKNOWN_SIGN_NAME for f in features
            ):
                name = UNKNOWN_SIGN_NAME
            features.append(
                {
                    "geometry": geometry,
                    "properties": {
                        "annotation_uuid": new_uuid(rng),
                        "class": name,
                        "unclear": False,
                        "occlusion_ratio": props["occlusion_ratio"],
                        "is_electronic": bool(rng.random() < 0.2),
                    },
                }
            )
        else:
            features.append(
                {
                    "geometry": geometry,
                    "properties": {
                        "annotation_uuid": new_uuid(rng),
                        "class": "unclear",
                        "unclear": True,
                        "occlusion_ratio": props["occlusion_ratio"],
                        "is_electronic": False,
                    },
                }
            )
    return features
