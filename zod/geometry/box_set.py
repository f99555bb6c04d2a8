"""``Box3DSet``: N oriented 3D boxes held as arrays (the devkit's fast path for boxes).

Modelled on av2-api's cuboid lists but fully vectorized: one object with
``centers`` (N, 3) m, ``sizes`` (N, 3) = (L, W, H) m, ``quaternions`` (N, 4) wxyz, one
``frame`` for all, and per-box columns ``classes``, ``subclasses``, ``uuids``, ``unclear``,
``boxes2d`` (N, 4) xyxy pixels plus ``attributes`` (other annotation fields, object arrays).
Built straight from the GeoJSON features of ``object_detection.json`` (no per-object Box3D
or Quaternion objects). Corner order is that of :mod:`zod.geometry.box` (drawn there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from zod.constants import Camera, CoordinateFrame, Lidar
from zod.errors import FormatError
from zod.geometry.box import UNIT_CORNERS
from zod.geometry.transforms import (
    as_transform,
    quaternion_multiply,
    quaternions_from_rotation_matrices,
    rotation_matrices_from_quaternions,
    yaw_from_quaternions,
)

__all__ = ["ATTRIBUTE_NAMES", "Box3DSet", "BoxProjection"]

# annotation fields kept as columns in ``attributes`` (ObjectAnnotation attribute names)
ATTRIBUTE_NAMES = (
    "object_type",
    "occlusion_level",
    "artificial",
    "with_rider",
    "emergency",
    "traffic_content_visible",
)


class BoxProjection(NamedTuple):
    """Boxes projected into a camera image.

    pixels (N, 9, 2): the centre then the 8 corners; points_visible (N, 9): each point in
    front of the camera, within the lens model's range and inside the image; visible (N,):
    all 9 points in front of the camera (within the lens range) and at least one inside the
    image, i.e. the projected box can be drawn.
    """

    pixels: np.ndarray
    points_visible: np.ndarray
    visible: np.ndarray


def _str_column(values: Iterable[Any] | None, n: int) -> np.ndarray:
    """An object column of length n (all None when ``values`` is None); object arrays pass through."""
    if isinstance(values, np.ndarray) and values.dtype == object and values.shape == (n,):
        return values
    out = np.empty(n, dtype=object)
    if values is not None:
        out[:] = list(values)
    return out


@dataclass
class Box3DSet:
    """N boxes in one frame; see the module docstring."""

    centers: np.ndarray
    sizes: np.ndarray
    quaternions: np.ndarray
    frame: CoordinateFrame = Lidar.VELODYNE
    classes: np.ndarray | None = None
    subclasses: np.ndarray | None = None
    uuids: np.ndarray | None = None
    unclear: np.ndarray | None = None
    boxes2d: np.ndarray | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.centers = np.asarray(self.centers, dtype=np.float64).reshape(-1, 3)
        n = len(self.centers)
        self.sizes = np.asarray(self.sizes, dtype=np.float64).reshape(n, 3)
        q = np.asarray(self.quaternions, dtype=np.float64).reshape(n, 4)
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        self.quaternions = q / np.where(norms == 0, 1.0, norms)
        self.classes = _str_column(self.classes, n)
        self.subclasses = _str_column(self.subclasses, n)
        self.uuids = _str_column(self.uuids, n)
        self.unclear = (
            np.zeros(n, dtype=bool)
            if self.unclear is None
            else np.asarray(self.unclear, dtype=bool).reshape(n)
        )
        self.boxes2d = (
            np.full((n, 4), np.nan, dtype=np.float64)
            if self.boxes2d is None
            else np.asarray(self.boxes2d, dtype=np.float64).reshape(n, 4)
        )
        self.attributes = {k: _str_column(v, n) for k, v in self.attributes.items()}

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, frame: CoordinateFrame = Lidar.VELODYNE) -> Box3DSet:
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4)), frame)

    @classmethod
    def from_features(
        cls,
        features: Sequence[dict[str, Any]],
        frame: CoordinateFrame = Lidar.VELODYNE,
        source: Any = None,
    ) -> Box3DSet:
        """Boxes of the features of ``object_detection.json`` that have a 3D box (spec section 11).

        ``attributes["feature_index"]`` gives each box's index in ``features``. Classes follow the
        spec: ``Inconclusive`` -> ``Unclear`` (and unclear); ``type`` or older ``object_type``.
        Subclasses follow ``ObjectAnnotation.subclass``. A malformed feature raises
        ``FormatError`` naming ``source`` (e.g. the file path).
        """
        try:
            return cls._from_features(features, frame)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            what = (
                f"missing key {err}"
                if isinstance(err, KeyError)
                else f"{type(err).__name__}: {err}"
            )
            raise FormatError(source, f"malformed object feature: {what}") from None

    @classmethod
    def _from_features(cls, features: Sequence[dict[str, Any]], frame: CoordinateFrame) -> Box3DSet:
        rows = [
            (i, f["properties"])
            for i, f in enumerate(features)
            if isinstance(f.get("properties"), dict)
            and f["properties"].get("location_3d") is not None
        ]
        n = len(rows)
        if n == 0:
            return cls.empty(frame)
        props = [p for _, p in rows]
        locations = [p["location_3d"] for p in props]  # a GeoJSON Point (or a bare [x, y, z])
        centers = np.array(
            [loc["coordinates"] if isinstance(loc, dict) else loc for loc in locations],
            dtype=np.float64,
        ).reshape(n, 3)
        sizes = np.array(
            [(p["size_3d_length"], p["size_3d_width"], p["size_3d_height"]) for p in props],
            dtype=np.float64,
        )
        quats = np.array(
            [
                (
                    p["orientation_3d_qw"],
                    p["orientation_3d_qx"],
                    p["orientation_3d_qy"],
                    p["orientation_3d_qz"],
                )
                for p in props
            ],
            dtype=np.float64,
        )
        raw_classes = [p.get("class") for p in props]
        types = [p.get("type", p.get("object_type")) for p in props]
        unclear = np.array(
            [
                bool(p.get("unclear", False)) or "Inconclusive" in (c, t)
                for p, c, t in zip(props, raw_classes, types)
            ]
        )
        classes = ["Unclear" if c == "Inconclusive" else c for c in raw_classes]
        boxes2d = np.full((n, 4), np.nan)
        for row, (i, _) in enumerate(rows):  # geometry -> xyxy (min/max of the MultiPoint)
            coords = (features[i].get("geometry") or {}).get("coordinates")
            if coords:
                pts = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
                boxes2d[row] = np.concatenate([pts.min(axis=0), pts.max(axis=0)])

        def as_bool(v: Any) -> bool | None:  # bools or "True"/"False" strings (spec section 11)
            if v is None or isinstance(v, bool):
                return v
            return str(v).strip().lower() == "true"

        attributes = {
            "object_type": types,
            "occlusion_level": [p.get("occlusion_ratio") for p in props],
            "artificial": [as_bool(p.get("artificial")) for p in props],
            "with_rider": [as_bool(p.get("with_rider")) for p in props],
            "emergency": [as_bool(p.get("emergency")) for p in props],
            "traffic_content_visible": [as_bool(p.get("traffic_content_visible")) for p in props],
            "feature_index": [i for i, _ in rows],
        }
        subclasses = _subclasses(classes, unclear, attributes)
        return cls(
            centers,
            sizes,
            quats,
            frame,
            classes,
            subclasses,
            [p.get("annotation_uuid") for p in props],
            unclear,
            boxes2d,
            attributes,
        )

    @classmethod
    def from_boxes(cls, boxes: Sequence[Any]) -> Box3DSet:
        """From a list of :class:`zod.geometry.box.Box3D` (all in one frame)."""
        if not boxes:
            return cls.empty()
        frames = {b.frame for b in boxes}
        if len(frames) != 1:
            raise ValueError(f"boxes are in several frames {frames}; convert them first")
        return cls(
            np.array([b.center for b in boxes]),
            np.array([b.size for b in boxes]),
            np.array([b.orientation.q for b in boxes]),
            frames.pop(),
        )

    @classmethod
    def from_object_annotations(
        cls, objects: Sequence[Any], frame: CoordinateFrame | None = None
    ) -> Box3DSet:
        """From ``ObjectAnnotation``s: those with a 3D box (``attributes["object_index"]`` maps back).

        The set is in the boxes' frame (the lidar for annotations); ``frame`` only names the
        frame of an empty result.
        """
        kept = [(i, o) for i, o in enumerate(objects) if getattr(o, "box3d", None) is not None]
        if not kept:
            return cls.empty(Lidar.VELODYNE if frame is None else frame)
        boxes = cls.from_boxes([o.box3d for _, o in kept])
        objs = [o for _, o in kept]
        out = cls(
            boxes.centers,
            boxes.sizes,
            boxes.quaternions,
            boxes.frame,
            [o.name for o in objs],
            [_safe_subclass(o) for o in objs],
            [o.uuid for o in objs],
            [bool(o.unclear) for o in objs],
            np.array([np.asarray(o.box2d.xyxy, dtype=np.float64) for o in objs]),
            {name: [getattr(o, name, None) for o in objs] for name in ATTRIBUTE_NAMES}
            | {"object_index": [i for i, _ in kept]},
        )
        return out

    def to_boxes(self) -> list[Any]:
        """A list of :class:`zod.geometry.box.Box3D` (one Python object per box: the slow path)."""
        from pyquaternion import Quaternion

        from zod.geometry.box import Box3D

        return [
            Box3D(c.copy(), s.copy(), Quaternion(q), self.frame)
            for c, s, q in zip(self.centers, self.sizes, self.quaternions)
        ]

    def to_object_annotations(self) -> list[Any]:
        """A list of ``ObjectAnnotation`` (from :mod:`zod.annotations.objects`) with these boxes."""
        from zod.annotations.objects import ObjectAnnotation
        from zod.geometry.box import Box2D

        out = []
        boxes = self.to_boxes()
        for i, box in enumerate(boxes):
            kwargs = {
                name: self.attributes[name][i]
                for name in ATTRIBUTE_NAMES
                if name in self.attributes
            }
            for name in ATTRIBUTE_NAMES:
                kwargs.setdefault(name, None)
            out.append(
                ObjectAnnotation(
                    box2d=Box2D(self.boxes2d[i].astype(np.float32), Camera.FRONT),
                    box3d=box,
                    unclear=bool(self.unclear[i]),
                    name=self.classes[i],
                    uuid=self.uuids[i],
                    **kwargs,
                )
            )
        return out

    # ------------------------------------------------------------------ container
    def __len__(self) -> int:
        return len(self.centers)

    def __getitem__(self, index: Any) -> Box3DSet:
        """Subset by bool mask, index array or slice (an int gives a set of one box)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return replace(
            self,
            centers=self.centers[index],
            sizes=self.sizes[index],
            quaternions=self.quaternions[index],
            classes=self.classes[index],
            subclasses=self.subclasses[index],
            uuids=self.uuids[index],
            unclear=self.unclear[index],
            boxes2d=self.boxes2d[index],
            attributes={k: v[index] for k, v in self.attributes.items()},
        )

    def copy(self) -> Box3DSet:
        return self[np.arange(len(self))]

    # ------------------------------------------------------------------ geometry
    @property
    def rotation_matrices(self) -> np.ndarray:
        """(N, 3, 3) box-to-frame rotations."""
        return rotation_matrices_from_quaternions(self.quaternions)

    @property
    def yaw(self) -> np.ndarray:
        """(N,) heading (rad) of each box's length axis about the frame's z axis."""
        return yaw_from_quaternions(self.quaternions)

    def transform(self, target_from_source: Any, new_frame: CoordinateFrame) -> Box3DSet:
        """A new set moved by one rigid (4, 4) transform / Pose into ``new_frame``."""
        t = as_transform(target_from_source)
        q_t = quaternions_from_rotation_matrices(t[:3, :3])
        return replace(
            self,
            centers=self.centers @ t[:3, :3].T + t[:3, 3],
            quaternions=quaternion_multiply(q_t, self.quaternions),
            frame=new_frame,
            attributes=dict(self.attributes),
        )

    def convert_to(self, frame: CoordinateFrame, calibration: Any) -> Box3DSet:
        """A new set expressed in ``frame`` (one fused transform for all boxes)."""
        if frame == self.frame:
            return self.copy()
        return self.transform(calibration.get_transform(self.frame, frame), frame)

    def corners(self) -> np.ndarray:
        """(N, 8, 3) corners in the set's frame, in the order of :mod:`zod.geometry.box`."""
        local = UNIT_CORNERS[None, :, :] * self.sizes[:, None, :]
        return np.einsum("nij,nkj->nki", self.rotation_matrices, local) + self.centers[:, None, :]

    def bev_corners(self) -> np.ndarray:
        """(N, 4, 2) bottom corners' (x, y) (the reference ``corners_bev`` for each box)."""
        return self.corners()[:, :4, :2]

    def distances(self) -> np.ndarray:
        """(N,) distance (m) of each centre from the frame's origin."""
        return np.linalg.norm(self.centers, axis=1)

    def project(self, calibration: Any, camera: Camera = Camera.FRONT) -> BoxProjection:
        """Project centres and corners into ``camera``'s image: (N, 9, 2) pixels + visibility."""
        from zod.geometry.fisheye import max_valid_theta, project
        from zod.geometry.transforms import apply_rigid

        cam = calibration.cameras[camera]
        points = np.concatenate([self.centers[:, None, :], self.corners()], axis=1).reshape(-1, 3)
        if self.frame != camera:  # move the 9 points of each box with one fused transform
            camera_from_frame = calibration.get_transform(self.frame, camera)
            points = apply_rigid(points, camera_from_frame[:3, :3], camera_from_frame[:3, 3])
        pixels = project(points, cam.intrinsics, cam.distortion).reshape(-1, 9, 2)
        theta = np.arctan2(np.hypot(points[:, 0], points[:, 1]), points[:, 2])
        in_front = ((points[:, 2] > 0) & (theta <= max_valid_theta(cam.distortion))).reshape(-1, 9)
        width, height = (float(v) for v in np.asarray(cam.image_dimensions)[:2])
        inside = (
            (pixels[..., 0] >= 0)
            & (pixels[..., 0] < width)
            & (pixels[..., 1] >= 0)
            & (pixels[..., 1] < height)
        )
        points_visible = in_front & inside
        visible = in_front.all(axis=1) & points_visible.any(axis=1)
        return BoxProjection(pixels, points_visible, visible)

    def points_in_boxes(self, points: np.ndarray) -> np.ndarray:
        """(M,) index of the box holding each point (M, 3) of the set's frame, -1 for none.

        Borders count as inside; where boxes overlap the lowest index wins. Axis-aligned
        bounds prune the (box, point) pairs before the exact oriented test.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out = np.full(len(pts), -1, dtype=np.int64)
        if len(self) == 0 or len(pts) == 0:
            return out
        corners = self.corners()
        lo, hi = corners.min(axis=1), corners.max(axis=1)  # (N, 3)
        # coarse: per box, points within its axis-aligned bounds (vectorized over (N, M))
        cand = np.ones((len(self), len(pts)), dtype=bool)
        for axis in range(3):  # 3 iterations over axes, not over boxes or points
            coord = pts[:, axis]
            cand &= (coord[None, :] >= lo[:, axis, None]) & (coord[None, :] <= hi[:, axis, None])
        box_idx, pt_idx = np.nonzero(cand)
        if box_idx.size == 0:
            return out
        rot = self.rotation_matrices[box_idx]  # (K, 3, 3)
        local = np.einsum("kji,kj->ki", rot, pts[pt_idx] - self.centers[box_idx])
        inside = np.all(np.abs(local) <= self.sizes[box_idx] / 2 + 1e-9, axis=1)
        box_idx, pt_idx = box_idx[inside], pt_idx[inside]
        # lowest box index per point: assign in reverse order so the smallest index wins
        order = np.argsort(-box_idx, kind="stable")
        out[pt_idx[order]] = box_idx[order]
        return out

    def count_points(self, points: np.ndarray) -> np.ndarray:
        """(N,) number of points (M, 3) in each box (a point counts for the first box holding it)."""
        idx = self.points_in_boxes(points)
        return np.bincount(idx[idx >= 0], minlength=len(self))

    # ------------------------------------------------------------------ filtering
    def filter_classes(self, classes: Iterable[str], subclasses: bool = False) -> Box3DSet:
        """Boxes whose class (or subclass) is one of ``classes``."""
        column = self.subclasses if subclasses else self.classes
        return self[np.isin(column.astype(str), np.asarray(list(classes), dtype=str))]

    def filter_distance(self, max_distance: float, min_distance: float = 0.0) -> Box3DSet:
        """Boxes whose centre lies within [min_distance, max_distance] m of the frame's origin."""
        d = self.distances()
        return self[(d >= min_distance) & (d <= max_distance)]

    def filter_unclear(self, keep_unclear: bool = False) -> Box3DSet:
        """Drop (default) or keep only the unclear boxes."""
        return self[self.unclear if keep_unclear else ~self.unclear]


def _safe_subclass(obj: Any) -> Any:
    try:
        return obj.subclass
    except Exception:
        return None


def _subclasses(
    classes: list[Any], unclear: np.ndarray, attributes: dict[str, list[Any]]
) -> list[Any]:
    """Subclass of each object by the spec's rules (section 11), which live once, in
    ``zod.annotations.objects.object_subclass`` (no Box3D / Quaternion is built)."""
    from zod.annotations.objects import object_subclass

    return [
        object_subclass(
            name,
            bool(unclear[i]),
            attributes["object_type"][i],
            attributes["artificial"][i],
            attributes["with_rider"][i],
            attributes["emergency"][i],
            attributes["traffic_content_visible"][i],
        )
        for i, name in enumerate(classes)
    ]
