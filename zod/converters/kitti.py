"""ZOD Frames -> KITTI 3D object layout (for OpenPCDet, mmdetection3d and friends).

Layout written under the output directory::

    training/velodyne/<id>.bin    float32 (N, 4): x, y, z (m, "velo" frame), intensity / 255
    training/label_2/<id>.txt     one object per line (KITTI label format, camera convention)
    training/calib/<id>.txt       P0..P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo
    training/image_2/<id>.png     camera="pinhole" (default): the rectified pinhole view
                                  (``FRONT_VIEW``, 1920 x 1080), PNG (what OpenPCDet's and
                                  mmdetection3d's info scripts open) or ``<id>.jpg`` (jpeg)
    training/image_2/<id>.jpg     camera="fisheye": the raw key image (symlink, hard link or
                                  copy), or re-encoded as ``<id>.png`` (``image_mode="png"``)
    ImageSets/train.txt, val.txt   frame ids, one a line; test.txt empty (both tools' info
                                  scripts read it)

Frames (all right-handed; the ZOD ego, lidar and camera frames are drawn in
:mod:`zod.calibration`; docs/convert.md refers to this picture)::

    velo = ego axes at the lidar             KITTI camera = the VIEW's frame
    (what velodyne/*.bin holds)              (camera="pinhole"; with "fisheye" the real camera)
              ^ x forward                          z forward (view axis)
              |                                   /
    y left <--o z up                             o----> x right
                                                 |
                                                 v y down

    velo_from_lidar  = rotation of lidar_extrinsics (no translation)
    camera_from_velo = inverse(ego_from_camera) @ ego_from_lidar @ lidar_from_velo (rigid)
    view_from_velo   = view_from_camera @ camera_from_velo     (pinhole: Tr_velo_to_cam)
    pixel            = P2 @ R0_rect @ Tr_velo_to_cam @ [x_velo, 1]   (R0_rect = I)

camera="pinhole" (default): the view is a perfect pinhole camera at the fisheye's centre
(:mod:`zod.geometry.pinhole`), so ``P2 = [K | 0]`` is exact: a point projected with P2 lands
where the fisheye sees it, mapped into the view (to ~1e-9 px, tested).

- image_2: the key image rectified into the view (one ``cv2.remap`` of the full decode),
  written as PNG (``image_mode="png"``, the default) or JPEG (``"jpeg"``, quality 95).
  ``symlink`` / ``hardlink`` / ``copy`` are refused: a rectified image is a new image.
- label 2D boxes: the bounding box of the 3D box's projected corners (cut at a near plane
  0.1 m in front of the camera when the box reaches behind it), clipped to
  [0, W - 1] x [0, H - 1]; ``truncated`` = share of that box's area outside the image.
  Objects whose box is wholly behind the camera or outside the image are dropped (KITTI
  labels objects in the image only). DontCare regions (objects without a 3D box, unclear
  objects) are the annotated fisheye 2D box mapped into the view (its outline, exact
  inverse model), dropped likewise.

camera="fisheye": the raw fisheye image and a pinhole STAND-IN for it:
``P2 = [[fx, 0, cx, 0], [0, fy, cy, 0], [0, 0, 1, 0]]`` of the Kannala-Brandt intrinsics,
exact at the image centre and increasingly wrong towards the edges (a point 50 degrees off axis
lands hundreds of pixels away): rough overlays only. Label 2D boxes are the annotated ones;
``truncated`` is the share of the fisheye-projected 3D box outside the image; every object is
written.

Both cameras:

- Label line: ``type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y``, with
  (x, y, z) the box's bottom centre in the KITTI camera frame, ``rotation_y`` = -yaw_velo -
  pi/2 and ``alpha`` = rotation_y - atan2(x, z), both wrapped to [-pi, pi). This is exactly
  the inverse of OpenPCDet's ``boxes3d_kitti_camera_to_lidar`` and mmdetection3d's camera ->
  lidar box conversion (centre = velo_from_cam @ bottom + h/2 up, heading = -(rotation_y +
  pi/2)), so the tools recover the boxes we started from. (Taken literally, rotation_y is the
  heading about the camera's y axis; the two differ by the camera's small yaw against the ego,
  ~0.3 degrees on the sample rig.)
- Real objects first, then the DontCare lines: both tools count the non-DontCare lines and take
  that many FIRST rows as the 3D boxes (``num_objects`` in their info scripts).
- Boxes keep only their heading about the velo z axis (KITTI has no roll / pitch): the small
  tilt of a box in the ego frame (the vehicle's own pitch / roll against the ground, well
  under a degree) is dropped. Centres, sizes and headings round-trip exactly.
- Objects without a 3D box and unclear objects are written as ``DontCare`` (2D box only,
  dimensions -1, location -1000, rotation -10, as KITTI does).
- ``type``: the ZOD class, the subclass (``label_type="subclass"``) or, with
  ``kitti_names=True``, the KITTI type of :data:`KITTI_NAMES` (objects mapped to None are
  left out).
- ``occluded``: None -> 0, Light/Medium -> 1, Heavy/VeryHeavy -> 2, unknown -> 3.
- Numbers are written with 6 decimals (KITTI uses 2), so a round trip is within 1e-6 m.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from zod.annotations.object_features import ObjectArrays
from zod.converters import _frames
from zod.converters.runner import (
    RunKwargs,
    RunOptions,
    atomic_write,
    atomic_write_text,
    link_or_copy,
    run_frames,
    run_options,
)
from zod.errors import FormatError
from zod.geometry.pinhole import FRONT_VIEW, PinholeView
from zod.geometry.transforms import (
    invert_transforms,
    make_transforms,
    quaternions_from_rotation_matrices,
    rotation_matrices_from_quaternions,
)
from zod.release import images_flag

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11 on

OCCLUSION_TO_KITTI = {"None": 0, "Light": 1, "Medium": 1, "Heavy": 2, "VeryHeavy": 2}
DONT_CARE = "DontCare"

CAMERAS = ("pinhole", "fisheye")
IMAGE_MODES = ("symlink", "hardlink", "copy", "png", "jpeg", "none")
JPEG_QUALITY = 95

# ZOD subclass (spec section 11, the reference's rule) -> KITTI type; None: left out (KITTI does
# not label it). docs/convert.md holds the same table (a test checks it). KITTI's evaluation
# ignores Van for Car and Person_sitting for Pedestrian (neighbouring classes, neither rewarded
# nor penalized), and detections inside DontCare regions.
KITTI_NAMES: dict[str, str | None] = {
    "Vehicle_Car": "Car",
    "Vehicle_Van": "Van",
    "Vehicle_Truck": "Truck",
    "Vehicle_Bus": "Misc",
    "Vehicle_Trailer": "Misc",
    "Vehicle_TramTrain": "Tram",
    "Vehicle_HeavyEquip": "Misc",
    "Vehicle_Emergency": "Misc",
    "Vehicle_Other": "Misc",
    "Vehicle_Artificial": "DontCare",
    "VulnerableVehicle_Bicycle": "Cyclist",
    "VulnerableVehicle_Motorcycle": "Cyclist",
    "VulnerableVehicle_Stroller": "Misc",
    "VulnerableVehicle_Wheelchair": "Person_sitting",
    "VulnerableVehicle_PersonalTransporter": "Misc",
    "VulnerableVehicle_NoRider": "Misc",
    "VulnerableVehicle_Other": "Misc",
    "VulnerableVehicle_Artificial": "DontCare",
    "Pedestrian": "Pedestrian",
    "Animal": "DontCare",
    "PoleObject": None,
    "TrafficBeacon": None,
    "TrafficSign_Front": None,
    "TrafficSign_Back": None,
    "TrafficSign_Artificial": None,
    "TrafficSignal_Front": None,
    "TrafficSignal_Back": None,
    "TrafficSignal_Artificial": None,
    "TrafficGuide": None,
    "DynamicBarrier": None,
    "Unclear": "DontCare",
}
KITTI_TYPES = ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc")


def kitti_type(subclass: str) -> str | None:
    """KITTI type of a ZOD subclass (:data:`KITTI_NAMES`); a subclass missing from the table
    (a newer release) goes by its class: Vehicle_* -> Misc, VulnerableVehicle_* -> Misc,
    anything else left out (None)."""
    if subclass in KITTI_NAMES:
        return KITTI_NAMES[subclass]
    if subclass.startswith(("Vehicle_", "VulnerableVehicle_")):
        return "Misc"
    return None


def resolve_image_mode(camera: str, image_mode: str | None) -> str:
    """The image mode to use (None: ``png`` for the pinhole view, ``symlink`` for the fisheye);
    ValueError for an unknown camera or mode, or a link / copy of a rectified image."""
    if camera not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, not {camera!r}")
    if image_mode is None:
        return "png" if camera == "pinhole" else "symlink"
    if image_mode not in IMAGE_MODES:
        raise ValueError(f"image mode must be one of {IMAGE_MODES}, not {image_mode!r}")
    if camera == "pinhole" and image_mode in ("symlink", "hardlink", "copy"):
        raise ValueError(
            f"image mode {image_mode!r} cannot place a rectified pinhole image (it is a new "
            "image, not the dataset's file): use png, jpeg or none, or camera 'fisheye'"
        )
    if camera == "fisheye" and image_mode == "jpeg":
        raise ValueError(
            "image mode 'jpeg' re-encodes the rectified pinhole view; the fisheye image is a "
            "JPEG already: use symlink, hardlink or copy"
        )
    return image_mode


# Unit cube corners of a box (length along x, width along y, height along z), order of spec §11.
_UNIT_CORNERS = 0.5 * np.array(
    [
        [-1, -1, -1],
        [1, -1, -1],
        [1, 1, -1],
        [-1, 1, -1],
        [-1, -1, 1],
        [1, -1, 1],
        [1, 1, 1],
        [-1, 1, 1],
    ],
    dtype=np.float64,
)


def wrap_angle(angle_rad: np.ndarray | float) -> np.ndarray:
    """Angles (any shape) wrapped to [-pi, pi)."""
    return (np.asarray(angle_rad, dtype=np.float64) + np.pi) % (2 * np.pi) - np.pi


def velo_from_lidar_rotation(ego_from_lidar: np.ndarray) -> np.ndarray:
    """(3, 3) rotation from the ZOD lidar frame to the KITTI-like velo frame (ego axes)."""
    return np.asarray(ego_from_lidar, dtype=np.float64)[:3, :3].copy()


@dataclass
class KittiCalib:
    """The matrices of one ``calib/<id>.txt``: P (3, 4) for P0..P3, R0_rect (3, 3),
    Tr_velo_to_cam (3, 4) (camera_from_velo) and Tr_imu_to_velo (3, 4)."""

    P: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    Tr_imu_to_velo: np.ndarray

    def to_text(self) -> str:
        """The KITTI calib file text."""

        def row(name: str, matrix: np.ndarray) -> str:
            return (
                name
                + ": "
                + " ".join(f"{v:.12e}" for v in np.asarray(matrix, dtype=np.float64).ravel())
            )

        lines = [row(f"P{i}", self.P) for i in range(4)]
        lines += [row("R0_rect", self.R0_rect), row("Tr_velo_to_cam", self.Tr_velo_to_cam)]
        lines.append(row("Tr_imu_to_velo", self.Tr_imu_to_velo))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str, path: str | None = None) -> KittiCalib:
        """Parse a KITTI calib file (``key: v1 v2 ...`` lines)."""
        values: dict[str, np.ndarray] = {}
        for line in text.splitlines():
            if ":" not in line:
                continue
            key, rest = line.split(":", 1)
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        try:
            return cls(
                P=values["P2"].reshape(3, 4),
                R0_rect=values["R0_rect"].reshape(3, 3),
                Tr_velo_to_cam=values["Tr_velo_to_cam"].reshape(3, 4),
                Tr_imu_to_velo=values.get("Tr_imu_to_velo", np.eye(4)[:3].ravel()).reshape(3, 4),
            )
        except (KeyError, ValueError) as err:
            raise FormatError(path, f"not a KITTI calib file: {err!r}") from err

    @property
    def cam_from_velo(self) -> np.ndarray:
        """(4, 4) rectified-camera_from_velo = R0_rect @ Tr_velo_to_cam."""
        rect = np.eye(4)
        rect[:3, :3] = self.R0_rect
        tr = np.eye(4)
        tr[:3] = self.Tr_velo_to_cam
        return rect @ tr


def kitti_calib(
    ego_from_lidar: np.ndarray, ego_from_camera: np.ndarray, intrinsics: np.ndarray
) -> tuple[KittiCalib, np.ndarray]:
    """Calib of one frame and the velo_from_lidar rotation (3, 3) used for points and boxes."""
    velo_from_lidar = velo_from_lidar_rotation(ego_from_lidar)
    lidar_from_velo = make_transforms(velo_from_lidar.T, np.zeros(3))
    cam_from_velo = (
        invert_transforms(ego_from_camera)
        @ np.asarray(ego_from_lidar, dtype=np.float64)
        @ lidar_from_velo
    )
    k = np.asarray(intrinsics, dtype=np.float64)
    pinhole = np.array(
        [[k[0, 0], 0.0, k[0, 2], 0.0], [0.0, k[1, 1], k[1, 2], 0.0], [0.0, 0.0, 1.0, 0.0]]
    )
    calib = KittiCalib(
        P=pinhole, R0_rect=np.eye(3), Tr_velo_to_cam=cam_from_velo[:3], Tr_imu_to_velo=np.eye(4)[:3]
    )
    return calib, velo_from_lidar


def boxes_lidar_to_velo(
    centers_lidar: np.ndarray, quaternions_lidar: np.ndarray, velo_from_lidar: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Box centres (N, 3) and wxyz rotations (N, 4) in the lidar frame -> velo centres (N, 3)
    and headings (N,) (rad, about velo z, of the box length axis)."""
    centers_velo = np.asarray(centers_lidar, dtype=np.float64).reshape(-1, 3) @ velo_from_lidar.T
    rot_velo = velo_from_lidar @ rotation_matrices_from_quaternions(
        np.asarray(quaternions_lidar).reshape(-1, 4)
    )
    yaw_velo = np.arctan2(rot_velo[:, 1, 0], rot_velo[:, 0, 0])
    return centers_velo, yaw_velo


def boxes_velo_to_lidar(
    centers_velo: np.ndarray, yaw_velo: np.ndarray, velo_from_lidar: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`boxes_lidar_to_velo` for upright boxes: lidar centres (N, 3) and
    wxyz rotations (N, 4)."""
    centers_lidar = np.asarray(centers_velo, dtype=np.float64).reshape(-1, 3) @ velo_from_lidar
    yaw = np.asarray(yaw_velo, dtype=np.float64).reshape(-1)
    c, s = np.cos(yaw), np.sin(yaw)
    rot_velo = np.zeros((yaw.size, 3, 3))
    rot_velo[:, 0, 0], rot_velo[:, 0, 1], rot_velo[:, 1, 0], rot_velo[:, 1, 1] = c, -s, s, c
    rot_velo[:, 2, 2] = 1.0
    rot_lidar = velo_from_lidar.T @ rot_velo
    return centers_lidar, quaternions_from_rotation_matrices(rot_lidar)


def velo_boxes_to_camera(
    centers_velo: np.ndarray, sizes_lwh: np.ndarray, yaw_velo: np.ndarray, cam_from_velo: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """KITTI label geometry: bottom centres in the camera (N, 3), rotation_y (N,), alpha (N,)."""
    bottom_velo = np.asarray(centers_velo, dtype=np.float64).reshape(-1, 3).copy()
    bottom_velo[:, 2] -= 0.5 * np.asarray(sizes_lwh, dtype=np.float64).reshape(-1, 3)[:, 2]
    location_cam = bottom_velo @ cam_from_velo[:3, :3].T + cam_from_velo[:3, 3]
    rotation_y = wrap_angle(-np.asarray(yaw_velo, dtype=np.float64) - np.pi / 2)
    alpha = wrap_angle(rotation_y - np.arctan2(location_cam[:, 0], location_cam[:, 2]))
    return location_cam, rotation_y, alpha


def camera_boxes_to_velo(
    location_cam: np.ndarray,
    sizes_hwl: np.ndarray,
    rotation_y: np.ndarray,
    cam_from_velo: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`velo_boxes_to_camera` (OpenPCDet's rule): velo centres (N, 3),
    sizes lwh (N, 3), headings (N,)."""
    hwl = np.asarray(sizes_hwl, dtype=np.float64).reshape(-1, 3)
    velo_from_cam = invert_transforms(cam_from_velo)
    centers = (
        np.asarray(location_cam, dtype=np.float64).reshape(-1, 3) @ velo_from_cam[:3, :3].T
        + velo_from_cam[:3, 3]
    )
    centers[:, 2] += 0.5 * hwl[:, 0]
    yaw = wrap_angle(-np.asarray(rotation_y, dtype=np.float64) - np.pi / 2)
    return centers, hwl[:, [2, 1, 0]], yaw


def truncation_from_projection(
    centers_cam: np.ndarray,
    sizes_lwh: np.ndarray,
    rotations_cam: np.ndarray,
    intrinsics: np.ndarray,
    distortion: np.ndarray,
    image_size_wh: Sequence[int],
) -> np.ndarray:
    """Share (N,) of each box's projected extent that falls outside the image, 0..1.

    The 8 corners (N, 8, 3) are projected with the fisheye model; a box with a corner behind the
    camera counts as fully truncated (1.0).
    """
    from zod.geometry.fisheye import project

    n = len(centers_cam)
    if n == 0:
        return np.zeros(0)
    corners = np.einsum(
        "nij,nkj->nki", rotations_cam, _UNIT_CORNERS[None] * np.asarray(sizes_lwh)[:, None, :]
    )
    corners += np.asarray(centers_cam)[:, None, :]
    behind = (corners[..., 2] <= 1e-6).any(axis=1)
    pixels = project(corners.reshape(-1, 3), intrinsics, distortion).reshape(n, 8, 2)
    lo, hi = pixels.min(axis=1), pixels.max(axis=1)
    size = np.asarray(image_size_wh[:2], dtype=np.float64)
    clipped_lo, clipped_hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
    area = np.prod(hi - lo, axis=1)
    inside = np.prod(np.maximum(clipped_hi - clipped_lo, 0), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        truncation = np.where(area > 0, 1.0 - inside / area, 1.0)
    truncation[behind] = 1.0
    return np.clip(truncation, 0.0, 1.0)


def format_label_lines(
    types: Sequence[str],
    truncated: np.ndarray,
    occluded: np.ndarray,
    alpha: np.ndarray,
    boxes_xyxy: np.ndarray,
    sizes_hwl: np.ndarray,
    location_cam: np.ndarray,
    rotation_y: np.ndarray,
) -> str:
    """KITTI label file text, one line per object (all arrays have N rows)."""
    table = np.column_stack(
        [truncated, occluded, alpha, boxes_xyxy, sizes_hwl, location_cam, rotation_y]
    ).astype(np.float64)
    lines = []
    for name, row in zip(types, table.tolist()):
        lines.append(
            f"{name} {row[0]:.2f} {int(row[1])} {row[2]:.6f} "
            + " ".join(f"{v:.2f}" for v in row[3:7])
            + " "
            + " ".join(f"{v:.6f}" for v in row[7:])
        )
    return "".join(line + "\n" for line in lines)


@dataclass
class KittiLabel:
    """Parsed label file: types (N,), truncated, occluded, alpha (N,), boxes (N, 4) xyxy,
    dimensions (N, 3) h w l, location (N, 3) camera bottom centres, rotation_y (N,)."""

    types: list[str]
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    boxes_xyxy: np.ndarray
    dimensions_hwl: np.ndarray
    location_cam: np.ndarray
    rotation_y: np.ndarray


def parse_label(text: str, path: str | None = None) -> KittiLabel:
    """Parse a KITTI label file."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if any(len(r) < 15 for r in rows):
        raise FormatError(path, "a KITTI label line needs 15 fields")
    numbers = np.array([[float(v) for v in r[1:15]] for r in rows], dtype=np.float64).reshape(
        -1, 14
    )
    return KittiLabel(
        types=[r[0] for r in rows],
        truncated=numbers[:, 0],
        occluded=numbers[:, 1].astype(np.int64),
        alpha=numbers[:, 2],
        boxes_xyxy=numbers[:, 3:7],
        dimensions_hwl=numbers[:, 7:10],
        location_cam=numbers[:, 10:13],
        rotation_y=numbers[:, 13],
    )


@dataclass
class _DenseBoxes:
    """The 3D box columns of N objects, one row per object (rows without a 3D box: zero centre,
    unit size, identity rotation), and has3d (N,): a clear 3D box."""

    has3d: np.ndarray
    centers_lidar: np.ndarray
    sizes_lwh: np.ndarray
    quaternions_lidar: np.ndarray


def _dense_boxes(objects: ObjectArrays) -> _DenseBoxes:
    n = len(objects)
    boxes = objects.boxes3d
    rows = np.asarray(boxes.attributes["feature_index"], dtype=np.int64)
    has3d = np.zeros(n, dtype=bool)
    has3d[rows] = ~np.asarray(boxes.unclear, dtype=bool)
    centers, sizes = np.zeros((n, 3)), np.ones((n, 3))
    quaternions = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    centers[rows], sizes[rows] = boxes.centers_m, boxes.sizes_lwh_m
    quaternions[rows] = boxes.quaternions_wxyz
    return _DenseBoxes(
        has3d & ~np.asarray(objects.unclear, dtype=bool), centers, sizes, quaternions
    )


def label_types(
    names: Sequence[str],
    subclasses: Sequence[str],
    has3d: np.ndarray,
    label_type: str = "class",
    kitti_names: bool = False,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Type column of N objects: (types (N,), dont_care (N,) bool, kept (N,) bool).

    ``kitti_names``: the KITTI type of each subclass (:data:`KITTI_NAMES`; None -> not kept);
    otherwise the class (``label_type="class"``) or subclass. Objects without a (clear) 3D box
    (``has3d`` False) and objects mapped to DontCare are DontCare regions.
    """
    if label_type not in ("class", "subclass"):
        raise ValueError(f"label_type must be 'class' or 'subclass', not {label_type!r}")
    n = len(names)
    if kitti_names:
        mapped = [kitti_type(subclass) for subclass in subclasses]
    else:
        mapped = list(subclasses if label_type == "subclass" else names)
    kept = np.array([t is not None for t in mapped], dtype=bool).reshape(n)
    dont_care = ~np.asarray(has3d, dtype=bool) | np.array(
        [t == DONT_CARE for t in mapped], dtype=bool
    ).reshape(n)
    types = [DONT_CARE if dont_care[i] else str(mapped[i]) for i in range(n)]
    return types, dont_care, kept


def label_order(dont_care: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Row order of a label file: the kept real objects in file order, then the kept DontCare
    regions (OpenPCDet and mmdetection3d take the first non-DontCare-count rows as boxes)."""
    return np.concatenate([np.flatnonzero(kept & ~dont_care), np.flatnonzero(kept & dont_care)])


def _occlusion_codes(occlusion: Sequence[str | None] | np.ndarray) -> np.ndarray:
    return np.array(
        [OCCLUSION_TO_KITTI.get(o, 3) if isinstance(o, str) else 3 for o in occlusion],
        dtype=np.int64,
    )


def frame_label_text(
    objects: ObjectArrays,
    calib: KittiCalib,
    velo_from_lidar: np.ndarray,
    camera: Any,
    label_type: str = "class",
    kitti_names: bool = False,
) -> str:
    """The label file of one frame from its object arrays (see ``_frames.object_arrays``),
    for the raw fisheye image (camera="fisheye": annotated 2D boxes, every object kept)."""
    n = len(objects)
    if n == 0:
        return ""
    dense = _dense_boxes(objects)
    has3d = dense.has3d
    types, dont_care, kept = label_types(
        list(objects.classes), list(objects.subclasses), has3d, label_type, kitti_names
    )
    occluded = _occlusion_codes(objects.attributes["occlusion_level"])
    centers_velo, yaw_velo = boxes_lidar_to_velo(
        dense.centers_lidar, dense.quaternions_lidar, velo_from_lidar
    )
    cam_from_velo = calib.cam_from_velo
    location, rotation_y, alpha = velo_boxes_to_camera(
        centers_velo, dense.sizes_lwh, yaw_velo, cam_from_velo
    )
    # truncation from the full rotation of the box in the camera frame
    cam_from_lidar_rot = cam_from_velo[:3, :3] @ velo_from_lidar
    rot_cam = cam_from_lidar_rot @ rotation_matrices_from_quaternions(dense.quaternions_lidar)
    centers_cam = dense.centers_lidar @ cam_from_lidar_rot.T + cam_from_velo[:3, 3]
    truncated = truncation_from_projection(
        centers_cam,
        dense.sizes_lwh,
        rot_cam,
        camera.intrinsics,
        camera.distortion,
        camera.image_dimensions,
    )
    sizes_hwl = dense.sizes_lwh[:, [2, 1, 0]].copy()
    return _label_text(
        types,
        dont_care,
        label_order(dont_care, kept),
        truncated,
        occluded,
        alpha,
        objects.boxes2d,
        sizes_hwl,
        location,
        rotation_y,
    )


def _label_text(
    types: list[str],
    dont_care: np.ndarray,
    order: np.ndarray,
    truncated: np.ndarray,
    occluded: np.ndarray,
    alpha: np.ndarray,
    boxes_xyxy: np.ndarray,
    sizes_hwl: np.ndarray,
    location: np.ndarray,
    rotation_y: np.ndarray,
) -> str:
    """KITTI's DontCare convention on the DontCare rows, then the rows of ``order``, formatted."""
    truncated, occluded, alpha = truncated.copy(), occluded.copy(), alpha.copy()
    sizes_hwl, location, rotation_y = sizes_hwl.copy(), location.copy(), rotation_y.copy()
    truncated[dont_care] = -1.0
    occluded[dont_care] = -1
    alpha[dont_care] = -10.0
    sizes_hwl[dont_care] = -1.0
    location[dont_care] = -1000.0
    rotation_y[dont_care] = -10.0
    return format_label_lines(
        [types[i] for i in order],
        truncated[order],
        occluded[order],
        alpha[order],
        np.asarray(boxes_xyxy)[order],
        sizes_hwl[order],
        location[order],
        rotation_y[order],
    )


def view_calib(
    ego_from_lidar: np.ndarray, ego_from_camera: np.ndarray, view: PinholeView
) -> tuple[KittiCalib, np.ndarray]:
    """Calib of one frame for a pinhole view (camera="pinhole") and velo_from_lidar (3, 3).

    P0..P3 = ``[K | 0]`` of the view (exact), R0_rect = I, Tr_velo_to_cam = view_from_velo
    (the view's rotation included: the KITTI camera frame is the view's frame).
    """
    calib, velo_from_lidar = kitti_calib(ego_from_lidar, ego_from_camera, view.intrinsics)
    calib.Tr_velo_to_cam = view.view_from_camera @ calib.Tr_velo_to_cam
    return calib, velo_from_lidar


def box_corners(centers: np.ndarray, sizes_lwh: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Corners (N, 8, 3) of boxes: centres (N, 3), sizes (N, 3), rotations (N, 3, 3), any frame;
    corner order of spec section 11."""
    corners = np.einsum(
        "nij,nkj->nki",
        np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3),
        _UNIT_CORNERS[None] * np.asarray(sizes_lwh, dtype=np.float64).reshape(-1, 1, 3),
    )
    return corners + np.asarray(centers, dtype=np.float64).reshape(-1, 1, 3)


def view_label_text(
    objects: ObjectArrays,
    calib: KittiCalib,
    velo_from_lidar: np.ndarray,
    camera: Any,
    view: PinholeView,
    label_type: str = "class",
    kitti_names: bool = False,
) -> str:
    """The label file of one frame for a pinhole view (camera="pinhole"; ``calib`` from
    :func:`view_calib`, ``camera`` the fisheye's ``CameraCalibration``): 2D boxes of the
    projected 3D boxes, objects outside the view dropped (see the module docstring)."""
    n = len(objects)
    if n == 0:
        return ""
    dense = _dense_boxes(objects)
    from zod.geometry.view_boxes import fisheye_boxes_to_view, project_corners_to_view

    has3d = dense.has3d
    types, dont_care, kept = label_types(
        list(objects.classes), list(objects.subclasses), has3d, label_type, kitti_names
    )
    centers_velo, yaw_velo = boxes_lidar_to_velo(
        dense.centers_lidar, dense.quaternions_lidar, velo_from_lidar
    )
    view_from_velo = calib.cam_from_velo
    location, rotation_y, alpha = velo_boxes_to_camera(
        centers_velo, dense.sizes_lwh, yaw_velo, view_from_velo
    )
    view_from_lidar_rot = view_from_velo[:3, :3] @ velo_from_lidar
    corners_view = box_corners(
        dense.centers_lidar @ view_from_lidar_rot.T + view_from_velo[:3, 3],
        dense.sizes_lwh,
        view_from_lidar_rot @ rotation_matrices_from_quaternions(dense.quaternions_lidar),
    )
    projected = project_corners_to_view(corners_view, view)
    regions = fisheye_boxes_to_view(objects.boxes2d, camera, view)
    boxes = np.where(dont_care[:, None], regions.clipped_xyxy, projected.clipped_xyxy)
    visible = np.where(dont_care, regions.visible, projected.visible)
    return _label_text(
        types,
        dont_care,
        label_order(dont_care, kept & visible),
        projected.truncation,
        _occlusion_codes(objects.attributes["occlusion_level"]),
        alpha,
        boxes,
        dense.sizes_lwh[:, [2, 1, 0]],
        location,
        rotation_y,
    )


def rectified_bgr(
    image_path: str | os.PathLike[str], anonymization: str, camera: Any, view: PinholeView
) -> np.ndarray:
    """The key image (full decode, BGR) rectified into the view: (H, W, 3) uint8."""
    from zod.geometry.pinhole import rectify

    return rectify(_frames.read_bgr(image_path, anonymization), camera, view)


def velodyne_points(
    points_lidar: np.ndarray, intensity: np.ndarray, velo_from_lidar: np.ndarray
) -> np.ndarray:
    """(N, 4) float32 KITTI velodyne array: velo x, y, z (m) and intensity / 255 (0..1)."""
    out = np.empty((len(points_lidar), 4), dtype=np.float32)
    out[:, :3] = np.asarray(points_lidar, dtype=np.float64) @ velo_from_lidar.T
    out[:, 3] = np.asarray(intensity, dtype=np.float32) / 255.0
    return out


@dataclass(frozen=True)
class KittiFrameTask(_frames.FrameTask):
    """Per-frame work: velodyne, label, calib and image files of one frame."""

    anonymization: str = "blur"
    image_mode: str = "symlink"  # symlink | hardlink | copy | png | jpeg | none
    label_type: str = "class"  # class | subclass
    overwrite: bool = False
    camera: str = "fisheye"  # pinhole | fisheye (convert_to_kitti's default is pinhole)
    kitti_names: bool = False
    view: PinholeView = FRONT_VIEW

    def paths(self, frame_id: str) -> dict[str, Path]:
        base = Path(self.output_dir) / "training"
        return {
            "velodyne": base / "velodyne" / f"{frame_id}.bin",
            "label": base / "label_2" / f"{frame_id}.txt",
            "calib": base / "calib" / f"{frame_id}.txt",
            "image": base
            / "image_2"
            / f"{frame_id}.{'png' if self.image_mode == 'png' else 'jpg'}",
        }

    def __call__(self, frame_id: str) -> dict[str, Any]:
        paths = self.paths(frame_id)
        wanted = {k: p for k, p in paths.items() if k != "image" or self.image_mode != "none"}
        if not self.overwrite and all(p.exists() or p.is_symlink() for p in wanted.values()):
            return {"frame_id": frame_id, "written": False}
        zod_frame = _frames.frame(self.dataset_root, self.version, frame_id)
        info = zod_frame.info
        calibration = _frames.calibration(info)
        camera = _frames.front_camera_calibration(calibration)
        ego_from_lidar = _frames.ego_from_lidar(calibration)
        objects = _frames.object_arrays(info)
        if self.camera == "pinhole":
            calib, velo_from_lidar = view_calib(
                ego_from_lidar, camera.extrinsics.transform, self.view
            )
            label_text = view_label_text(
                objects, calib, velo_from_lidar, camera, self.view, self.label_type,
                self.kitti_names,
            )  # fmt: skip
        else:
            calib, velo_from_lidar = kitti_calib(
                ego_from_lidar, camera.extrinsics.transform, camera.intrinsics
            )
            label_text = frame_label_text(
                objects, calib, velo_from_lidar, camera, self.label_type, self.kitti_names
            )
        lidar = _frames.lidar_scans(zod_frame)
        velodyne = velodyne_points(lidar.points, lidar.intensity, velo_from_lidar)
        if self.image_mode != "none":
            self._write_image(info, camera, paths["image"])
        atomic_write(paths["velodyne"], lambda tmp: velodyne.tofile(tmp))
        atomic_write_text(paths["calib"], calib.to_text())
        atomic_write_text(paths["label"], label_text)  # last: its presence marks the frame done
        return {"frame_id": frame_id, "written": True}

    def _write_image(self, info: Any, camera: Any, path: Path) -> None:
        """image_2/<id>: the rectified view (pinhole) or the key image (fisheye)."""
        image = _frames.key_camera_frame(info, self.anonymization)
        if self.camera == "pinhole" or self.image_mode == "png":
            if self.camera == "pinhole":
                bgr = rectified_bgr(image.filepath, self.anonymization, camera, self.view)
            else:
                bgr = _frames.read_bgr(image.filepath, self.anonymization)
            params = (
                [cv2.IMWRITE_PNG_COMPRESSION, 1]
                if self.image_mode == "png"
                else [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            ext = ".png" if self.image_mode == "png" else ".jpg"

            def write(tmp: Path) -> None:
                ok, data = cv2.imencode(ext, bgr, params)
                if not ok:
                    raise FormatError(str(path), "could not encode the image")
                data.tofile(tmp)

            atomic_write(path, write)
        else:
            link_or_copy(
                Path(image.filepath),
                path,
                self.image_mode,
                f"{self.anonymization} image",
                images_flag(self.anonymization),
            )


def convert_to_kitti(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    anonymization: str = "blur",
    image_mode: str | None = None,
    label_type: str = "class",
    camera: str = "pinhole",
    kitti_names: bool = False,
    view: PinholeView = FRONT_VIEW,
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> Path:
    """Convert the train and val frames to the KITTI layout under ``output_dir``; returns it.

    ``camera``: ``"pinhole"`` (default; image_2 is ``view`` rectified, P2 its exact K) or
    ``"fisheye"`` (the raw image, a pinhole stand-in P2); ``image_mode`` (None: ``png`` for the
    pinhole view, ``symlink`` for the fisheye) as :func:`resolve_image_mode` allows;
    ``kitti_names``: KITTI types (:data:`KITTI_NAMES`) in the type column. How the run goes:
    ``options`` (:class:`~zod.converters.runner.RunOptions`), or its fields as keywords
    (``workers=2, progress=False``).
    """
    image_mode = resolve_image_mode(camera, image_mode)
    if kitti_names and label_type != "class":
        raise ValueError("kitti_names maps the subclasses itself: leave label_type at 'class'")
    if label_type not in ("class", "subclass"):
        raise ValueError(f"label_type must be 'class' or 'subclass', not {label_type!r}")
    run = run_options(options, **run_kwargs)
    root = str(Path(dataset_root).resolve())
    out = Path(output_dir).resolve()
    task = KittiFrameTask(
        root,
        version,
        str(out),
        anonymization,
        image_mode,
        label_type,
        run.overwrite,
        camera=camera,
        kitti_names=kitti_names,
        view=view,
    )
    for split in ("train", "val"):
        frame_ids = _frames.split_ids(root, version, split)
        result = run_frames(task, frame_ids, run, desc=f"KITTI {split}")
        done = [frame_id for frame_id, _ in result.ok()]
        atomic_write_text(out / "ImageSets" / f"{split}.txt", "".join(f"{i}\n" for i in done))
        if result.missing:
            atomic_write_text(
                out / "ImageSets" / f"{split}.missing.txt",
                "".join(f"{fid}\t{msg}\n" for fid, msg in result.missing.items()),
            )
    # both tools' info scripts read ImageSets/test.txt (testing/ is not written: no test split)
    atomic_write_text(out / "ImageSets" / "test.txt", "")
    return out
