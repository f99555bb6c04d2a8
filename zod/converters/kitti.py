"""ZOD Frames -> KITTI 3D object layout (for OpenPCDet, mmdetection3d and friends).

Layout written under the output directory::

    training/velodyne/<id>.bin    float32 (N, 4): x, y, z (m, "velo" frame), intensity / 255
    training/label_2/<id>.txt     one object per line (KITTI label format, camera convention)
    training/calib/<id>.txt       P0..P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo
    training/image_2/<id>.jpg     the key camera image (symlink, hard link or copy), or
    training/image_2/<id>.png     re-encoded as PNG (``image_mode="png"``: what OpenPCDet's and
                                  mmdetection3d's KITTI info scripts open; slow and large)
    ImageSets/train.txt, ImageSets/val.txt   frame ids, one a line

Frames (all right-handed)::

    ZOD lidar (sensor)        "velo" (what we write)        KITTI camera = ZOD camera
      x lateral, y along        x forward                     z forward (optical axis)
      the vehicle, z up         ^                            /
                                |                           o----> x right
                        y <-----o z up                      |
                                                            v y down

- velo = the lidar frame rotated onto the ego axes (the rotation of ``lidar_extrinsics``, no
  translation): origin at the lidar, x forward, y left, z up exactly like the ego frame.
- ``Tr_velo_to_cam`` = camera_from_velo (rigid, from ``calibration.json``); ``R0_rect`` = I.
- ``P2`` (and P0, P1, P3) = ``[[fx, 0, cx, 0], [0, fy, cy, 0], [0, 0, 1, 0]]``: a PINHOLE
  APPROXIMATION of the Kannala-Brandt fisheye, exact at the image centre (theta_d ~ theta for
  small angles) and increasingly wrong towards the edges (a point 50 degrees off axis lands
  hundreds of pixels away). Use it for rough overlays only; the label 2D boxes are the
  annotated ones, not projections.
- Label line: ``type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y``, with
  (x, y, z) the box's bottom centre in the camera frame, ``rotation_y`` = -yaw_velo - pi/2 and
  ``alpha`` = rotation_y - atan2(x, z), both wrapped to [-pi, pi). This is exactly the inverse
  of OpenPCDet's ``boxes3d_kitti_camera_to_lidar`` (centre = velo_from_cam @ bottom + h/2 up,
  heading = -(rotation_y + pi/2)), so the tools recover the boxes we started from.
- Boxes keep only their heading about the velo z axis (KITTI has no roll / pitch): the small
  tilt of a box in the ego frame (the vehicle's own pitch / roll against the ground, well
  under a degree) is dropped. Centres, sizes and headings round-trip exactly.
- Objects without a 3D box and unclear objects are written as ``DontCare`` (2D box only,
  dimensions -1, location -1000, rotation -10, as KITTI does).
- ``occluded``: None -> 0, Light/Medium -> 1, Heavy/VeryHeavy -> 2, unknown -> 3.
- ``truncated``: share of the (fisheye) projected 3D box outside the image, 0..1.
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


def frame_label_text(
    objects: ObjectArrays,
    calib: KittiCalib,
    velo_from_lidar: np.ndarray,
    camera: Any,
    label_type: str = "class",
) -> str:
    """The label file of one frame from its object arrays (see ``_frames.object_arrays``).

    Objects that are unclear or have no 3D box are ``DontCare`` lines.
    """
    n = len(objects)
    if n == 0:
        return ""
    boxes = objects.boxes3d
    rows = boxes.attributes["feature_index"]  # (M,) row of each 3D box in ``objects``
    has3d = np.zeros(n, dtype=bool)
    has3d[rows] = ~boxes.unclear
    names = objects.subclasses if label_type == "subclass" else objects.classes
    types = [str(names[i]) if has3d[i] else DONT_CARE for i in range(n)]
    occluded = np.array(
        [
            OCCLUSION_TO_KITTI.get(o, 3) if isinstance(o, str) else 3
            for o in objects.attributes["occlusion_level"]
        ]
    )
    centers_velo, yaw_velo = boxes_lidar_to_velo(
        boxes.centers_m, boxes.quaternions_wxyz, velo_from_lidar
    )
    cam_from_velo = calib.cam_from_velo
    location_m, rotation_m, alpha_m = velo_boxes_to_camera(
        centers_velo, boxes.sizes_lwh_m, yaw_velo, cam_from_velo
    )
    # truncation from the full rotation of the box in the camera frame
    cam_from_lidar_rot = cam_from_velo[:3, :3] @ velo_from_lidar
    rot_cam = cam_from_lidar_rot @ rotation_matrices_from_quaternions(boxes.quaternions_wxyz)
    centers_cam = boxes.centers_m @ cam_from_lidar_rot.T + cam_from_velo[:3, 3]
    truncated_m = truncation_from_projection(
        centers_cam,
        boxes.sizes_lwh_m,
        rot_cam,
        camera.intrinsics,
        camera.distortion,
        camera.image_dimensions,
    )
    truncated, alpha, rotation_y = np.zeros(n), np.zeros(n), np.zeros(n)
    sizes_hwl, location = np.zeros((n, 3)), np.zeros((n, 3))
    truncated[rows], alpha[rows], rotation_y[rows] = truncated_m, alpha_m, rotation_m
    sizes_hwl[rows], location[rows] = boxes.sizes_lwh_m[:, [2, 1, 0]], location_m
    # KITTI's DontCare convention
    truncated[~has3d] = -1.0
    occluded[~has3d] = -1
    alpha[~has3d] = -10.0
    sizes_hwl[~has3d] = -1.0
    location[~has3d] = -1000.0
    rotation_y[~has3d] = -10.0
    return format_label_lines(
        types, truncated, occluded, alpha, objects.boxes2d, sizes_hwl, location, rotation_y
    )


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
    image_mode: str = "symlink"  # symlink | hardlink | copy | png | none
    label_type: str = "class"  # class | subclass
    overwrite: bool = False

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
        calib, velo_from_lidar = kitti_calib(
            ego_from_lidar, camera.extrinsics.transform, camera.intrinsics
        )
        objects = _frames.object_arrays(info)
        label_text = frame_label_text(objects, calib, velo_from_lidar, camera, self.label_type)
        lidar = _frames.lidar_scans(zod_frame)
        velodyne = velodyne_points(lidar.points, lidar.intensity, velo_from_lidar)
        if self.image_mode == "png":
            image_bgr = _frames.read_bgr(
                _frames.key_camera_frame(info, self.anonymization).filepath, self.anonymization
            )
            atomic_write(
                paths["image"],
                lambda tmp: cv2.imwrite(str(tmp), image_bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1]),
            )
        elif self.image_mode != "none":
            image = _frames.key_camera_frame(info, self.anonymization)
            link_or_copy(
                Path(image.filepath),
                paths["image"],
                self.image_mode,
                f"{self.anonymization} image",
                images_flag(self.anonymization),
            )
        atomic_write(paths["velodyne"], lambda tmp: velodyne.tofile(tmp))
        atomic_write_text(paths["calib"], calib.to_text())
        atomic_write_text(paths["label"], label_text)  # last: its presence marks the frame done
        return {"frame_id": frame_id, "written": True}


def convert_to_kitti(
    dataset_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    version: str = "full",
    anonymization: str = "blur",
    image_mode: str = "symlink",
    label_type: str = "class",
    *,
    options: RunOptions | None = None,
    **run_kwargs: Unpack[RunKwargs],
) -> Path:
    """Convert the train and val frames to the KITTI layout under ``output_dir``; returns it.

    How the run goes: ``options`` (:class:`~zod.converters.runner.RunOptions`), or its fields
    as keywords (``workers=2, progress=False``).
    """
    run = run_options(options, **run_kwargs)
    root = str(Path(dataset_root).resolve())
    out = Path(output_dir).resolve()
    task = KittiFrameTask(
        root, version, str(out), anonymization, image_mode, label_type, run.overwrite
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
    return out
