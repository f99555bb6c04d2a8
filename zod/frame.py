"""One item of a sub-dataset: ``ZodFrame`` (Frames) and ``ZodSequence`` (Sequences and Drives).

Sidecars (calibration, ego motion, oxts, metadata, vehicle data) are read on first access and
cached. Lidar compensation and aggregation come from ``zod.aggregation``'s mixins.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import numpy as np

from zod.aggregation import FrameGeometryMixin, SequenceGeometryMixin
from zod.calibration import Calibration
from zod.constants import AnnotationProject, Anonymization, Camera, Lidar, Radar
from zod.ego_motion import EgoMotion
from zod.errors import MissingFileError, NotAnnotatedError
from zod.info import Information
from zod.metadata import FrameMetaData, SequenceMetadata
from zod.release import VEHICLE_DATA, download_flag
from zod.sensors.frames import CameraFrame, LidarFrame
from zod.sensors.lidar import LidarData
from zod.sensors.radar import RadarData
from zod.vehicle_data import VehicleData

_Meta = TypeVar("_Meta", FrameMetaData, SequenceMetadata)


class _Item(Generic[_Meta]):
    """What frames and sequences share: the info, cached sidecars and annotations."""

    _metadata_cls: type[_Meta]

    def __init__(self, info: Information) -> None:
        self.info: Information = info
        self._calibration: Calibration | None = None
        self._ego_motion: EgoMotion | None = None
        self._oxts: EgoMotion | None = None
        self._metadata: _Meta | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.info.id!r})"

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def calibration(self) -> Calibration:
        if self._calibration is None:
            self._calibration = Calibration.from_json_path(self.info.calibration_path)
        return self._calibration

    @property
    def ego_motion(self) -> EgoMotion:
        """The light ego motion (``ego_motion.json``)."""
        if self._ego_motion is None:
            self._ego_motion = EgoMotion.from_json_path(self.info.ego_motion_path)
        return self._ego_motion

    @property
    def oxts(self) -> EgoMotion:
        """The full GNSS/INS ego motion (``oxts.hdf5``)."""
        if self._oxts is None:
            self._oxts = EgoMotion.from_oxts_path(self.info.oxts_path)
        return self._oxts

    @property
    def metadata(self) -> _Meta:
        if self._metadata is None:
            self._metadata = self._metadata_cls.from_json_path(self.info.metadata_path)
        return self._metadata

    def is_annotated(self, project: AnnotationProject | str) -> bool:
        return AnnotationProject(project) in self.info.annotations

    def get_annotation(self, project: AnnotationProject | str) -> Any:
        """The parsed annotation of a project (``NotAnnotatedError`` if the item has none)."""
        project = AnnotationProject(project)
        if project not in self.info.annotations:
            raise NotAnnotatedError(f"Project {project} is not annotated for {self.info.id}.")
        return self.info.annotations[project].read()

    def get_camera_frame(self, anonymization: Anonymization = Anonymization.BLUR) -> CameraFrame:
        """The key camera frame."""
        return self.info.get_key_camera_frame(anonymization=anonymization, camera=Camera.FRONT)

    def get_image(
        self, anonymization: Anonymization = Anonymization.BLUR, scale: float = 1
    ) -> np.ndarray:
        """The key image, RGB uint8 (H, W, 3) (1/2, 1/4, 1/8 ``scale`` decodes smaller)."""
        return self.get_camera_frame(anonymization).read(scale=scale)


class ZodFrame(FrameGeometryMixin, _Item[FrameMetaData]):
    """One frame of ZOD Frames: a keyframe with 21 lidar scans around it."""

    _metadata_cls = FrameMetaData

    def get_lidar_frames(self, num_before: int = 0, num_after: int = 0) -> list[LidarFrame]:
        """The core scan (the middle one) with up to ``num_before`` / ``num_after`` around it."""
        frames = self.info.get_lidar_frames(Lidar.VELODYNE)
        core = len(frames) // 2
        return frames[max(0, core - int(num_before)) : min(len(frames), core + int(num_after) + 1)]

    def get_lidar(self, num_before: int = 0, num_after: int = 0) -> list[LidarData]:
        """The scans of ``get_lidar_frames``, read (ego returns removed)."""
        return [frame.read() for frame in self.get_lidar_frames(num_before, num_after)]


class ZodSequence(SequenceGeometryMixin, _Item[SequenceMetadata]):
    """One sequence (20 s) or drive (minutes): all its scans, images, radar and vehicle data."""

    _metadata_cls = SequenceMetadata

    def __init__(self, info: Information) -> None:
        super().__init__(info)
        self._vehicle_data: VehicleData | None = None

    @property
    def vehicle_data(self) -> VehicleData:
        if self._vehicle_data is None:
            if self.info.vehicle_data_path is None:
                raise MissingFileError(
                    f"<no vehicle_data_path in info {self.info.id}>",
                    "vehicle data",
                    download_flag(VEHICLE_DATA),
                )
            self._vehicle_data = VehicleData.from_hdf5(self.info.vehicle_data_path)
        return self._vehicle_data

    def get_lidar(self, start: int = 0, end: int | None = None) -> list[LidarData]:
        """The scans ``[start:end]`` of the clip, read."""
        return [frame.read() for frame in self.info.get_lidar_frames(Lidar.VELODYNE)[start:end]]

    def get_radar(self, radar: Radar = Radar.FRONT) -> RadarData:
        """All radar detections of the clip (newer releases only)."""
        return self.info.get_radar_frames(radar)[0].read()
