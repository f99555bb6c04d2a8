"""Every bad-input case of the issue gives a clear ZodError naming the file (and download flag)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from zod.constants import AnnotationProject, Anonymization
from zod.dataset import ZodFrames, ZodSequences
from zod.errors import FormatError, MissingFileError, NotAnnotatedError, ZodError
from zod.index import OldIndexFileError
from zod.info import Information
from zod.metadata import FrameMetaData
from zod.sensors.lidar import LIDAR_DTYPE, LidarData
from zod.sensors.radar import RadarData


def _first_frame(root: Path) -> tuple[ZodFrames, str]:
    frames = ZodFrames(root, "full")
    return frames, min(frames.get_all_ids())


# ----------------------------------------------------------------------------- .npy
def test_truncated_npy(tmp_path: Path) -> None:
    path = tmp_path / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    np.save(path, np.zeros(1000, dtype=LIDAR_DTYPE))
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(FormatError, match=r"not a complete \.npy") as err:
        LidarData.from_npy(path)
    assert str(path) in str(err.value)


def test_not_npy_at_all(tmp_path: Path) -> None:
    path = tmp_path / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    path.write_bytes(b"this is not numpy")
    with pytest.raises(FormatError):
        LidarData.from_npy(path)


@pytest.mark.parametrize(
    "dtype,match",
    [
        (np.float32, "structured"),  # a plain array
        (
            [("x", "f4"), ("y", "f4"), ("z", "f4"), ("timestamp", "i8"), ("intensity", "u1")],
            "diode_index",
        ),
        (
            [
                ("x", "i4"),
                ("y", "f4"),
                ("z", "f4"),
                ("timestamp", "i8"),
                ("intensity", "u1"),
                ("diode_index", "u1"),
            ],
            "wrong dtype",
        ),
    ],
)
def test_wrong_dtype_npy(tmp_path: Path, dtype, match: str) -> None:
    path = tmp_path / "000001_romeo_2022-02-14T13:23:32.140954Z.npy"
    np.save(path, np.zeros(10, dtype=dtype))
    with pytest.raises(FormatError, match=match):
        LidarData.from_npy(path)


def test_radar_wrong_dtype(tmp_path: Path) -> None:
    path = tmp_path / "radar.npy"
    np.save(path, np.zeros(4, dtype=[("radar_range", "f4")]))
    with pytest.raises(FormatError, match="azimuth_angle"):
        RadarData.from_npy(path)


def test_lidar_file_name_without_time(tmp_path: Path) -> None:
    path = tmp_path / "scan.npy"
    np.save(path, np.zeros(3, dtype=LIDAR_DTYPE))
    with pytest.raises(FormatError, match="_<time>"):
        LidarData.from_npy(path)


# ----------------------------------------------------------------------------- missing files
def test_missing_lidar_names_the_download_flag(sample_copy: Path) -> None:
    frames, item_id = _first_frame(sample_copy)
    frame = frames[item_id]
    scans = frame.info.get_lidar_frames()
    for i, expected in ((10, "--lidar"), (7, "--num-scans-before 3"), (15, "--num-scans-after 5")):
        Path(scans[i].filepath).unlink()
        with pytest.raises(MissingFileError) as err:
            scans[i].read()
        assert err.value.stream == expected and expected in str(err.value)
        assert scans[i].filepath in str(err.value) and isinstance(err.value, FileNotFoundError)
    with pytest.raises(MissingFileError, match="--num-scans-before 3"):
        frame.get_lidar(num_before=3)


@pytest.mark.parametrize(
    "what,flag",
    [
        ("image_blur", "--images --blur"),
        ("image_dnat", "--images --dnat"),
        ("annotations", "--annotations"),
        ("metadata", "--infos"),
    ],
)
def test_missing_files_name_their_stream(sample_copy: Path, what: str, flag: str) -> None:
    frames, item_id = _first_frame(sample_copy)
    frame = frames[item_id]
    anonymization = Anonymization(what.split("_")[1]) if what.startswith("image") else None

    def call() -> object:
        if anonymization is not None:
            return frame.get_image(anonymization)
        if what == "annotations":
            return frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
        return frame.metadata

    if anonymization is not None:
        Path(frame.get_camera_frame(anonymization).filepath).unlink()
    elif what == "annotations":
        Path(frame.info.annotations[AnnotationProject.OBJECT_DETECTION].filepath).unlink()
    else:
        Path(frame.info.metadata_path).unlink()
    with pytest.raises(MissingFileError) as err:
        call()
    assert err.value.stream == flag


def test_missing_vehicle_data_and_radar(sample_copy: Path) -> None:
    sequences = ZodSequences(sample_copy, "full")
    seq = sequences[min(sequences.get_all_ids())]
    Path(seq.info.vehicle_data_path).unlink()
    with pytest.raises(MissingFileError, match="--vehicle-data"):
        _ = seq.vehicle_data
    Path(seq.info.get_radar_frames()[0].filepath).unlink()
    with pytest.raises(MissingFileError, match="--radar"):
        seq.get_radar()


def test_missing_index_and_old_name(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"trainval-frames-mini\.json"):
        ZodFrames(tmp_path, "mini")
    (tmp_path / "trainval_frames_mini.json").write_text("{}")
    with pytest.raises(OldIndexFileError, match="old underscore-named index"):
        ZodFrames(tmp_path, "mini")
    with pytest.raises(ValueError, match="Unknown version"):
        ZodFrames(tmp_path, "medium")


# ----------------------------------------------------------------------------- malformed JSON
def test_malformed_annotation_json(sample_copy: Path) -> None:
    frames, item_id = _first_frame(sample_copy)
    path = Path(frames[item_id].info.annotations[AnnotationProject.OBJECT_DETECTION].filepath)
    path.write_text(path.read_text()[:-20])
    with pytest.raises(FormatError, match="malformed JSON") as err:
        frames[item_id].get_annotation(AnnotationProject.OBJECT_DETECTION)
    assert str(path) in str(err.value)


def test_annotation_missing_keys(tmp_path: Path) -> None:
    from zod.annotations.parser import AnnotationFile

    path = tmp_path / "object_detection.json"
    path.write_text(
        json.dumps(
            [
                {
                    "geometry": {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]},
                    "properties": {"annotation_uuid": "x"},
                }
            ]
        )
    )  # no class
    with pytest.raises(FormatError, match=r"object 0.*class"):
        AnnotationFile(str(path), AnnotationProject.OBJECT_DETECTION).read()
    path.write_text(json.dumps([{"properties": {"class": "Vehicle"}}]))  # no geometry
    with pytest.raises(FormatError, match="geometry"):
        AnnotationFile(str(path), AnnotationProject.OBJECT_DETECTION).read()
    path.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(FormatError, match="list"):
        AnnotationFile(str(path), AnnotationProject.OBJECT_DETECTION).read()
    path.write_text(
        json.dumps(
            [
                {
                    "geometry": {"type": "MultiPoint", "coordinates": []},
                    "properties": {"class": "Vehicle", "annotation_uuid": "y"},
                }
            ]
        )
    )
    with pytest.raises(FormatError, match="empty"):
        AnnotationFile(str(path), AnnotationProject.OBJECT_DETECTION).read()
    rc = tmp_path / "road_condition.json"
    rc.write_text(json.dumps({"wetness": True}))
    with pytest.raises(FormatError, match="snow"):
        AnnotationFile(str(rc), AnnotationProject.ROAD_CONDITION).read()


def test_info_missing_keys() -> None:
    with pytest.raises(FormatError, match="keyframe_time"):
        Information.from_dict(
            {
                "id": "000001",
                "start_time": "2022-01-01T00:00:00Z",
                "end_time": "2022-01-01T00:00:01Z",
            }
        )
    with pytest.raises(FormatError, match="000001"):
        Information.from_dict(
            {
                "id": "000001",
                "start_time": "2022-01-01T00:00:00Z",
                "end_time": "2022-01-01T00:00:01Z",
                "keyframe_time": "yesterday",
            }
        )


def test_metadata_missing_id(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps({"time": "2022-01-01T00:00:00Z"}))
    with pytest.raises(FormatError, match="frame_id"):
        FrameMetaData.from_json_path(path)


def test_not_annotated(sample_root: Path) -> None:
    from zod.dataset import ZodDrives

    drives = ZodDrives(sample_root, "full")
    drive = drives[min(drives.get_all_ids())]
    for project in AnnotationProject:
        assert not drive.is_annotated(project)
        with pytest.raises(NotAnnotatedError):
            drive.get_annotation(project)


def test_errors_are_zod_errors() -> None:
    assert issubclass(MissingFileError, ZodError) and issubclass(FormatError, ZodError)
    assert issubclass(NotAnnotatedError, ZodError)


def test_index_listing_missing_item_folder_reads_fine_until_used(sample_copy: Path) -> None:
    """A frame listed in the index but absent on disk (spec §14).

    Loading the dataset works; reading the frame says what is missing.
    """
    frames, item_id = _first_frame(sample_copy)
    shutil.rmtree(sample_copy / "single_frames" / item_id)
    frames = ZodFrames(sample_copy, "full")
    frame = frames[item_id]
    assert frame.is_annotated(AnnotationProject.OBJECT_DETECTION)
    with pytest.raises(MissingFileError, match="--lidar"):
        frame.get_lidar()
    with pytest.raises(MissingFileError):
        _ = frame.calibration
