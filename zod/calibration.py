"""``calibration.json`` (spec section 4): sensor extrinsics and the fisheye camera model.

Frames (all extrinsics are poses in the ego frame, i.e. ``ego_from_sensor``)::

                 z up
                 |   x forward            camera: x right, y down, z forward
                 |  /                     lidar : its own axes (x lateral, y along the car),
     y left <----o/   ego                          related to ego only by lidar_extrinsics
                                          radar : newer sequence/drive releases only

``Calibration.transform_points(points, from_frame, to_frame)`` moves points between any two
of ``EGO``, ``Lidar.VELODYNE``, ``Camera.FRONT``, ``Radar.FRONT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np

from zod.annotations._common import read_json
from zod.constants import EGO, Camera, CoordinateFrame, Lidar, Radar
from zod.errors import FormatError, ZodError
from zod.geometry import fisheye
from zod.geometry.pose import Pose
from zod.geometry.transforms import invert_transforms, transform_points
from zod.release import INFOS, download_flag

__all__ = [
    "Calibration",
    "CameraCalibration",
    "LidarCalibration",
    "MissingCalibrationError",
    "RadarCalibration",
]

# key in calibration.json -> accepted spellings (snake_case first; camelCase from serializers)
_KEYS = {
    "extrinsics": ("extrinsics",),
    "intrinsics": ("intrinsics",),
    "distortion": ("distortion",),
    "undistortion": ("undistortion",),
    "image_dimensions": ("image_dimensions", "imageDimensions"),
    "field_of_view": ("field_of_view", "fieldOfView"),
    "lidar_extrinsics": ("lidar_extrinsics", "lidarExtrinsics"),
    "radar_extrinsics": ("radar_extrinsics", "radarExtrinsics"),
}
_SHAPES = {
    "extrinsics": (4, 4),
    "intrinsics": None,  # (3, 4) per spec; (3, 3) accepted
    "distortion": (4,),
    "undistortion": (4,),
    "image_dimensions": (2,),
    "field_of_view": (2,),
    "lidar_extrinsics": (4, 4),
    "radar_extrinsics": (4, 4),
}


class MissingCalibrationError(ZodError, ValueError):
    """The calibration has no entry for the requested sensor (e.g. radar in an old release)."""


@dataclass
class LidarCalibration:
    """Lidar pose in the ego frame (``ego_from_lidar``)."""

    extrinsics: Pose


@dataclass
class RadarCalibration:
    """Radar pose in the ego frame (``ego_from_radar``)."""

    extrinsics: Pose


@dataclass
class CameraCalibration:
    """Front camera: pose in ego (``ego_from_camera``) and its Kannala-Brandt model.

    intrinsics (3, 4) (fx=[0,0], fy=[1,1], cx=[0,2], cy=[1,2]), distortion (4,) used for
    projection, undistortion (4,) fitted inverse used for unprojection, image_dimensions
    (width, height) pixels, field_of_view (hfov, vfov) degrees.
    """

    extrinsics: Pose
    intrinsics: np.ndarray
    distortion: np.ndarray
    undistortion: np.ndarray
    image_dimensions: np.ndarray
    field_of_view: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CameraCalibration):
            return NotImplemented
        return self.extrinsics == other.extrinsics and all(
            np.allclose(getattr(self, name), getattr(other, name))
            for name in (
                "intrinsics",
                "distortion",
                "undistortion",
                "image_dimensions",
                "field_of_view",
            )
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def focal_lengths(self) -> np.ndarray:
        """(fx, fy) in pixels."""
        return np.array([self.intrinsics[0, 0], self.intrinsics[1, 1]])

    @property
    def principal_point(self) -> np.ndarray:
        """(cx, cy) in pixels."""
        return np.array([self.intrinsics[0, 2], self.intrinsics[1, 2]])

    def project(self, points_camera: np.ndarray) -> np.ndarray:
        """Camera-frame points (N, 3) -> pixels (N, 2) (no filtering, see ``project_to_image``)."""
        return fisheye.project(points_camera, self.intrinsics, self.distortion)

    def project_to_image(
        self, points_camera: np.ndarray, use_field_of_view: bool = True
    ) -> fisheye.ImageProjection:
        """Camera-frame points (N, 3) -> ``ImageProjection`` of the visible points.

        The projection holds ``pixels``, ``depth_m`` and the ``mask`` of the kept input points.
        """
        return fisheye.project_to_image(
            points_camera,
            self.intrinsics,
            self.distortion,
            image_size=self.image_dimensions,
            field_of_view_deg=self.field_of_view if use_field_of_view else None,
        )

    def unproject(
        self, pixels: np.ndarray, depth: np.ndarray | float, exact: bool = False
    ) -> np.ndarray:
        """Pixels (N, 2) at distance ``depth`` m -> camera-frame points (N, 3)."""
        return fisheye.unproject(
            pixels,
            self.intrinsics,
            self.undistortion,
            depth,
            distortion=self.distortion,
            exact=exact,
        )


@dataclass
class Calibration:
    """All sensor calibrations of one frame / sequence / drive, keyed by the sensor enums."""

    lidars: dict[Lidar, LidarCalibration]
    cameras: dict[Camera, CameraCalibration]
    radars: dict[Radar, RadarCalibration] | None = None
    source_path: str | None = field(default=None, compare=False, repr=False)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_dict(cls, calib_dict: dict[str, Any], source_path: str | None = None) -> Calibration:
        """Build from the parsed JSON object ``{"FC": {...}}`` (snake_case or camelCase keys)."""
        if not isinstance(calib_dict, dict):
            raise FormatError(
                source_path, f"calibration must be a JSON object, got {type(calib_dict).__name__}"
            )
        fc = calib_dict.get("FC", calib_dict.get("fc"))
        if not isinstance(fc, dict):
            raise FormatError(source_path, "calibration has no 'FC' (front camera) object")

        def find(name: str) -> np.ndarray | None:
            for key in _KEYS[name]:
                if key in fc and fc[key] is not None:
                    try:
                        value = np.asarray(fc[key], dtype=np.float64)
                    except (TypeError, ValueError) as exc:
                        raise FormatError(
                            source_path, f"calibration key '{key}' is not numeric: {exc}"
                        ) from None
                    shape = _SHAPES[name]
                    if name == "intrinsics":
                        if value.shape not in ((3, 3), (3, 4)):
                            raise FormatError(
                                source_path, f"'{key}' must be 3x4 (or 3x3), got {value.shape}"
                            )
                    elif value.shape != shape:
                        raise FormatError(
                            source_path, f"'{key}' must have shape {shape}, got {value.shape}"
                        )
                    return value
            return None

        def get(name: str) -> np.ndarray:
            value = find(name)
            if value is None:
                raise FormatError(source_path, f"calibration misses key '{_KEYS[name][0]}'")
            return value

        lidars = {Lidar.VELODYNE: LidarCalibration(extrinsics=Pose(get("lidar_extrinsics")))}
        cameras = {
            Camera.FRONT: CameraCalibration(
                extrinsics=Pose(get("extrinsics")),
                intrinsics=get("intrinsics"),
                distortion=get("distortion"),
                undistortion=get("undistortion"),
                image_dimensions=get("image_dimensions").astype(np.int64),
                field_of_view=get("field_of_view"),
            )
        }
        radar = find("radar_extrinsics")
        radars = None if radar is None else {Radar.FRONT: RadarCalibration(extrinsics=Pose(radar))}
        return cls(lidars=lidars, cameras=cameras, radars=radars, source_path=source_path)

    @classmethod
    def from_json_path(cls, json_path: str | PathLike[str]) -> Calibration:
        """Read ``calibration.json``; missing file -> MissingFileError, bad JSON -> FormatError."""
        path = str(json_path)
        return cls.from_dict(
            read_json(path, "calibration file", download_flag(INFOS)), source_path=path
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``calibration.json`` (snake_case keys)."""
        cam = self.cameras[Camera.FRONT]
        fc: dict[str, Any] = {
            "extrinsics": cam.extrinsics.transform.tolist(),
            "intrinsics": np.asarray(cam.intrinsics).tolist(),
            "distortion": np.asarray(cam.distortion).tolist(),
            "undistortion": np.asarray(cam.undistortion).tolist(),
            "image_dimensions": np.asarray(cam.image_dimensions).astype(int).tolist(),
            "field_of_view": np.asarray(cam.field_of_view).tolist(),
            "lidar_extrinsics": self.lidars[Lidar.VELODYNE].extrinsics.transform.tolist(),
        }
        if self.radars:
            fc["radar_extrinsics"] = self.radars[Radar.FRONT].extrinsics.transform.tolist()
        return {"FC": fc}

    # ------------------------------------------------------------------ frames
    def get_extrinsics(self, frame: CoordinateFrame) -> Pose:
        """Pose of ``frame`` in the ego frame (``ego_from_frame``); identity for ``EGO``."""
        if frame == EGO:
            return Pose.identity()
        calib: LidarCalibration | CameraCalibration | RadarCalibration | None
        if isinstance(frame, Lidar):
            calib = self.lidars.get(frame)
        elif isinstance(frame, Camera):
            calib = self.cameras.get(frame)
        elif isinstance(frame, Radar):
            if self.radars is None:
                raise MissingCalibrationError(
                    f"{self._where()}has no radar calibration: radar data and its extrinsics "
                    "exist only in the newer releases of ZOD Sequences and Drives (not in ZOD "
                    "Frames nor older releases); download the latest release to use the radar"
                )
            calib = self.radars.get(frame)
        else:
            raise ValueError(
                f"unknown coordinate frame {frame!r}; use EGO, a Lidar, Camera or Radar"
            )
        if calib is None:
            raise MissingCalibrationError(f"{self._where()}has no calibration for {frame}")
        return calib.extrinsics

    def get_transform(self, from_frame: CoordinateFrame, to_frame: CoordinateFrame) -> np.ndarray:
        """(4, 4) transform ``to_from_from`` = inverse(ego_from_to) @ ego_from_from."""
        if from_frame == to_frame:
            return np.eye(4)
        ego_from_src = self.get_extrinsics(from_frame).transform
        if to_frame == EGO:
            return ego_from_src.copy()
        return invert_transforms(self.get_extrinsics(to_frame).transform) @ ego_from_src

    def transform_points(
        self, points: np.ndarray, from_frame: CoordinateFrame, to_frame: CoordinateFrame
    ) -> np.ndarray:
        """Points (N, 3) in ``from_frame`` -> (N, 3) in ``to_frame``.

        float64; the same frame returns ``points`` unchanged.
        """
        if from_frame == to_frame:
            return points
        return transform_points(points, self.get_transform(from_frame, to_frame))

    def _where(self) -> str:
        return f"calibration {self.source_path} " if self.source_path else "this calibration "
