"""Sensor, sidecar and time readers: hand-made files with known values, and the sample."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from pyquaternion import Quaternion

from zod.constants import Anonymization, Lidar
from zod.dataset import ZodFrames, ZodSequences
from zod.errors import FormatError, MissingFileError
from zod.geometry.pose import Pose
from zod.metadata import FrameMetaData, SequenceMetadata
from zod.sensors.camera import image_size, read_image
from zod.sensors.lidar import LIDAR_DTYPE, LidarData
from zod.sensors.radar import RADAR_DTYPE, RadarData
from zod.time import epoch_s, format_filename_time, format_time, parse_time, time_from_filename
from zod.vehicle_data import VehicleData

T0 = datetime(2022, 2, 14, 13, 23, 32, 140954, tzinfo=timezone.utc)


# ----------------------------------------------------------------------------- time
def test_time_parsing() -> None:
    assert parse_time("2022-02-14T13:23:32.140954+00:00") == T0
    assert parse_time("2022-02-14T13:23:32.140954Z") == T0
    assert parse_time("2022-02-14T13:23:32.140954") == T0  # naive = UTC
    assert parse_time("2022-02-14T15:23:32.140954+02:00") == T0
    assert parse_time(T0).tzinfo is not None
    assert epoch_s("2022-02-14T13:23:32.140954Z") == T0.timestamp() == 1644845012.140954
    assert format_time(T0) == "2022-02-14T13:23:32.140954+00:00"
    assert format_filename_time(T0) == "2022-02-14T13:23:32.140954Z"
    name = f"single_frames/009158/lidar_velodyne/009158_romeo_{format_filename_time(T0)}.npy"
    assert time_from_filename(name) == T0


# ----------------------------------------------------------------------------- lidar
def _scan_file(
    tmp_path: Path, records: list[tuple], time: datetime = T0, dtype=LIDAR_DTYPE
) -> Path:
    path = tmp_path / f"000001_romeo_{format_filename_time(time)}.npy"
    np.save(path, np.array(records, dtype=dtype))
    return path


def test_lidar_from_npy_values_and_ego_returns(tmp_path: Path) -> None:
    records = [
        (10.0, 0.0, 0.0, 0, 10, 1),  # kept
        (0.0, 0.0, 0.0, 1000, 20, 2),  # inside the ego box -> dropped
        (1.49, 2.99, 0.49, 2000, 30, 3),  # inside (bounds exclusive)
        (1.5, 0.0, 0.0, 3000, 40, 4),  # on the boundary -> kept
        (-5.0, 3.5, -1.0, -50_000, 50, 127),  # kept, negative relative time
    ]
    path = _scan_file(tmp_path, records)
    scan = LidarData.from_npy(path)
    assert scan.points.dtype == np.float32 and scan.points.shape == (3, 3)
    np.testing.assert_array_equal(scan.points, [[10, 0, 0], [1.5, 0, 0], [-5, 3.5, -1]])
    np.testing.assert_array_equal(scan.intensity, [10, 40, 50])
    np.testing.assert_array_equal(scan.diode_idx, [1, 4, 127])
    assert scan.core_timestamp == T0.timestamp()
    np.testing.assert_allclose(scan.timestamps, T0.timestamp() + np.array([0, 3000, -50_000]) / 1e6)
    assert scan.timestamps.dtype == np.float64
    kept_all = LidarData.from_npy(path, remove_ego_lidar_returns=False)
    assert kept_all.num_points == 5


def test_lidar_accepts_float64_points(tmp_path: Path) -> None:
    dtype = np.dtype(
        [
            ("x", "f8"),
            ("y", "f8"),
            ("z", "f8"),
            ("timestamp", "i8"),
            ("intensity", "u1"),
            ("diode_index", "u1"),
        ]
    )
    path = _scan_file(tmp_path, [(20.0, 1.0, 2.0, 5, 1, 2)], dtype=dtype)
    scan = LidarData.from_npy(path)
    assert scan.points.dtype == np.float32
    np.testing.assert_array_equal(scan.points, [[20, 1, 2]])


def test_lidar_round_trip_transform_extend_eq(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 1000
    records = [
        (x, y, z, int(t), int(i), int(d))
        for x, y, z, t, i, d in zip(
            rng.uniform(5, 50, n),
            rng.uniform(5, 50, n),
            rng.uniform(-2, 2, n),
            rng.integers(-50_000, 50_000, n),
            rng.integers(0, 256, n),
            rng.integers(0, 128, n),
        )
    ]
    scan = LidarData.from_npy(_scan_file(tmp_path, records))
    out = tmp_path / "out" / f"x_{format_filename_time(T0)}.npy"
    out.parent.mkdir()
    scan.to_npy(out)
    again = LidarData.from_npy(out)
    assert again == scan
    np.testing.assert_array_equal(
        np.load(out)["timestamp"], np.load(_scan_file(tmp_path, records))["timestamp"]
    )
    assert list(out.parent.iterdir()) == [out]  # no temporary left behind

    # transform: a 90 degree yaw and a translation, checked on a hand-computed point
    moved = scan.copy()
    pose = Pose.from_translation_rotation(
        np.array([1.0, 2.0, 3.0]), Quaternion(axis=[0, 0, 1], angle=np.pi / 2)
    )
    moved.transform(pose)
    x, y, z = scan.points[0].astype(np.float64)
    np.testing.assert_allclose(moved.points[0], [1 - y, 2 + x, 3 + z], atol=1e-4)
    matrix_moved = scan.copy()
    matrix_moved.transform(pose.transform)
    np.testing.assert_array_equal(matrix_moved.points, moved.points)
    assert moved != scan
    assert scan.copy() == scan and scan.copy() is not scan

    # extend: arrays concatenated, core time the point-weighted mean
    other = LidarData.empty()
    other.points = np.zeros((3000, 3), np.float32)
    other.timestamps = np.full(3000, scan.core_timestamp + 4.0)
    other.intensity = np.zeros(3000, np.uint8)
    other.diode_idx = np.zeros(3000, np.uint8)
    other.core_timestamp = scan.core_timestamp + 4.0
    merged = scan.copy()
    merged.extend(other)
    assert merged.num_points == scan.num_points + 3000
    assert merged.core_timestamp == pytest.approx(
        scan.core_timestamp + 4.0 * 3000 / (scan.num_points + 3000)
    )
    assert LidarData.empty().num_points == 0 and LidarData.empty() != scan


# ----------------------------------------------------------------------------- radar
def test_radar_cartesian_and_round_trip(tmp_path: Path) -> None:
    data = np.zeros(3, dtype=RADAR_DTYPE)
    data["radar_range"] = [10.0, 20.0, 5.0]
    data["azimuth_angle"] = [0.0, np.pi / 2, 0.0]
    data["elevation_angle"] = [0.0, 0.0, np.pi / 6]
    data["scan_index"] = [0, 0, 1]
    data["timestamp"] = [
        1_600_000_000_000_000_000,
        1_600_000_000_000_000_000,
        1_600_000_000_050_000_000,
    ]
    path = tmp_path / "radar.npy"
    np.save(path, data)
    radar = RadarData.from_npy(path)
    xyz = radar.get_cartesian_coordinates()
    np.testing.assert_allclose(
        xyz, [[10, 0, 0], [0, 20, 0], [5 * np.cos(np.pi / 6), 0, 2.5]], atol=1e-5
    )
    assert radar.timestamp.dtype == np.int64  # raw integers are kept
    np.testing.assert_allclose(radar.time_s, [1.6e9, 1.6e9, 1.6e9 + 0.05])
    assert [len(s.radar_range) for s in radar.scans()] == [2, 1]
    radar.to_npy(tmp_path / "again.npy")
    assert RadarData.from_npy(tmp_path / "again.npy") == radar


# ----------------------------------------------------------------------------- camera
def test_camera_scales(tmp_path: Path) -> None:
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[:, :48] = (255, 0, 0)  # left half red
    rgb[:, 48:] = (0, 0, 255)  # right half blue
    path = tmp_path / "img.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    full = read_image(path)
    assert full.shape == (64, 96, 3) and full.dtype == np.uint8
    assert full[32, 10, 0] > 200 and full[32, 10, 2] < 60  # red stays red (RGB order)
    assert full[32, 80, 2] > 200 and full[32, 80, 0] < 60
    for scale, shape in ((0.5, (32, 48, 3)), (0.25, (16, 24, 3)), (0.125, (8, 12, 3))):
        small = read_image(path, scale=scale)
        assert small.shape == shape
        assert small[shape[0] // 2, 1, 0] > 180
    with pytest.raises(ValueError):
        read_image(path, scale=0.3)
    assert image_size(path) == (96, 64)


_CV2_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def _cv2_rgb(path: Path, divisor: int) -> np.ndarray:
    """The independent path: OpenCV's own (reduced) decode, made 3-channel RGB."""
    image = cv2.imread(str(path), _CV2_FLAGS[divisor])
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("height,width", [(1, 1), (7, 9), (17, 33), (100, 3), (123, 457)])
@pytest.mark.parametrize("gray,progressive", [(False, False), (False, True), (True, False)])
def test_camera_jpeg_matches_opencv_reduced_decode(
    tmp_path: Path, height: int, width: int, gray: bool, progressive: bool
) -> None:
    """libjpeg-turbo (simplejpeg) decode: size ceil(W s) x ceil(H s) and pixels identical to
    OpenCV's reduced decode at every scale, for odd sizes, progressive and grayscale JPEGs."""
    rng = np.random.default_rng(height * 1000 + width)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (5, 5), 0)
    path = tmp_path / "img.jpg"
    cv2.imwrite(
        str(path),
        bgr[:, :, 0] if gray else bgr,
        [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)],
    )
    for divisor in (1, 2, 4, 8):
        ours = read_image(path, scale=1 / divisor)
        expected = _cv2_rgb(path, divisor)
        assert (
            ours.shape == (-(-height // divisor), -(-width // divisor), 3)
            and ours.dtype == np.uint8
        )
        np.testing.assert_array_equal(ours, expected)
        if gray:
            assert (ours[..., 0] == ours[..., 2]).all()


def test_camera_sample_image_matches_opencv(
    sample_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full-size (3848 x 2168) sample JPEG: decoded by libjpeg-turbo alone (OpenCV is not
    called), with the same pixels as OpenCV's decode at 1, 1/2, 1/4, 1/8."""
    from zod.sensors import camera

    path = sorted((sample_root / "single_frames").glob("*/camera_front_blur/*.jpg"))[0]
    width, height = image_size(path)
    for divisor in (1, 2, 4, 8):
        with monkeypatch.context() as patch:
            patch.setattr(
                camera, "_decode_opencv", lambda *args: pytest.fail("JPEG fell back to OpenCV")
            )
            ours = read_image(path, scale=1 / divisor)
        assert ours.shape == (-(-height // divisor), -(-width // divisor), 3)
        np.testing.assert_array_equal(ours, _cv2_rgb(path, divisor))


def test_camera_decode_into_buffer(tmp_path: Path) -> None:
    """``buffer``: a large enough one is written in place (the result is a view of it); a too
    small one is left alone and a new array returned; both give the same pixels."""
    rng = np.random.default_rng(5)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (61, 83, 3), dtype=np.uint8), (5, 5), 0)
    path = tmp_path / "img.jpg"
    cv2.imwrite(str(path), bgr)
    buffer = np.zeros(61 * 83 * 3 + 100, np.uint8)
    for scale in (1, 0.5, 0.125):
        expected = read_image(path, scale=scale)
        ours = read_image(path, scale=scale, buffer=buffer)
        assert np.shares_memory(ours, buffer)
        np.testing.assert_array_equal(ours, expected)
    small = np.zeros(10, np.uint8)
    image = read_image(path, buffer=small)
    assert not np.shares_memory(image, small) and not small.any()
    np.testing.assert_array_equal(image, read_image(path))


def test_camera_png_and_broken_files(tmp_path: Path) -> None:
    """Non-JPEG files go to OpenCV; truncated or corrupt JPEGs are a FormatError naming the file,
    except corrupt entropy data that libjpeg recovers from, which decodes as OpenCV decodes it."""
    rng = np.random.default_rng(3)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (7, 7), 0)
    png = tmp_path / "img.png"
    cv2.imwrite(str(png), bgr)
    np.testing.assert_array_equal(read_image(png), bgr[:, :, ::-1])
    assert read_image(png, scale=0.5).shape == (120, 160, 3)

    jpg = tmp_path / "img.jpg"
    cv2.imwrite(str(jpg), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    data = jpg.read_bytes()
    broken = {
        "truncated.jpg": data[: len(data) // 2],
        "no_end_marker.jpg": data[:-2],
        "header_only.jpg": data[:100],
        "garbage.jpg": b"\xff\xd8 this is not a JPEG" * 10,
        "empty.jpg": b"",
    }
    for name, content in broken.items():
        path = tmp_path / name
        path.write_bytes(content)
        for scale in (1, 0.5):
            with pytest.raises(FormatError, match="not a decodable image") as err:
                read_image(path, scale=scale)
            assert str(path) in str(err.value)

    middle = len(data) // 2
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(data[:middle] + bytes(64) + data[middle + 64 :])
    from zod.sensors import camera

    assert (
        camera._decode_jpeg(damaged.read_bytes(), 1) is None
    )  # strict libjpeg-turbo refuses it ...
    np.testing.assert_array_equal(
        read_image(damaged), _cv2_rgb(damaged, 1)
    )  # ... OpenCV decodes it
    with pytest.raises(MissingFileError, match="--images"):
        read_image(tmp_path / "absent.jpg")


# ----------------------------------------------------------------------------- sidecars
def test_metadata_snake_and_camel(tmp_path: Path) -> None:
    snake = {
        "frame_id": "009158",
        "time": "2022-02-14T13:23:32.140954Z",
        "country_code": "SE",
        "scraped_weather": "rain",
        "collection_car": "Vc6",
        "road_type": "city",
        "road_condition": "wet",
        "time_of_day": "day",
        "num_lane_instances": 2,
        "num_vehicles": 3,
        "num_vulnerable_vehicles": 0,
        "num_pedestrians": 1,
        "num_traffic_lights": 0,
        "num_traffic_signs": 4,
        "longitude": 12.5,
        "latitude": 57.7,
        "solar_angle_elevation": 10.0,
        "future_key": 1,
    }
    camel = {
        (
            "frameId"
            if k == "frame_id"
            else "".join(w.capitalize() if i else w for i, w in enumerate(k.split("_")))
        ): v
        for k, v in snake.items()
    }
    for data in (snake, camel):
        path = tmp_path / "metadata.json"
        path.write_text(json.dumps(data))
        md = FrameMetaData.from_json_path(path)
        assert md.frame_id == "009158" and md.time == T0 and md.num_traffic_signs == 4
        assert md.road_condition == "wet" and md.extra == {"future_key": 1}
    seq = SequenceMetadata.from_dict(
        {
            "sequenceId": 2,
            "startTime": "2022-02-14T13:23:32.140954+00:00",
            "end_time": "2022-02-14T13:23:52.140954+00:00",
            "country_code": "DE",
        }
    )
    assert seq.sequence_id == "000002" and seq.start_time == T0 and seq.longitude is None


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("country_code", 7, "'country_code' is int 7, expected a string"),
        ("road_type", ["city"], r"'road_type' is list \['city'\], expected a string"),
        ("scraped_weather", {"a": 1}, "'scraped_weather' is dict"),
        ("num_vehicles", "3", "'num_vehicles' is str '3', expected an integer count"),
        ("numVehicles", True, "'num_vehicles' is bool True, expected an integer count"),
        ("num_pedestrians", 2.5, "'num_pedestrians' is float 2.5"),
        ("num_traffic_signs", -1, "'num_traffic_signs' is -1, a count cannot be negative"),
        ("latitude", "57.7", "'latitude' is str '57.7', expected a number"),
        ("longitude", 200.0, r"'longitude' is 200.0, outside \[-180.0, 180.0\]"),
        ("solar_angle_elevation", float("nan"), "'solar_angle_elevation' is nan, not a finite"),
        ("latitude", 10**400, "'latitude' is an integer too large"),
        ("time", 1644845012, "'time': expected an ISO 8601 time string"),
        ("frame_id", [9158], "'frame_id' is list, expected a string or an integer"),
        ("frame_id", None, "'frame_id' is NoneType"),
    ],
)
def test_metadata_refuses_wrong_types(
    tmp_path: Path, key: str, value: object, problem: str
) -> None:
    """A value of another JSON type (or out of range) is a FormatError naming file and key."""
    data = {"frame_id": "009158", "time": "2022-02-14T13:23:32.140954Z", "latitude": 57.7}
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps({**data, key: value}))
    with pytest.raises(FormatError, match=problem) as err:
        FrameMetaData.from_json_path(path)
    assert str(path) in str(err.value)


def test_metadata_nulls_and_integral_counts(tmp_path: Path) -> None:
    """Null reads as None like a missing key; a count written 3.0 is the int 3; integer
    coordinates are floats. Sequences are checked the same way."""
    md = FrameMetaData.from_dict(
        {"frame_id": 12, "country_code": None, "num_vehicles": 3.0, "longitude": 12}
    )
    assert md.frame_id == "000012" and md.country_code is None and md.time is None
    assert md.num_vehicles == 3 and type(md.num_vehicles) is int
    assert md.longitude == 12.0 and type(md.longitude) is float
    with pytest.raises(FormatError, match=r"seq\.json: metadata value 'collection_car' is int"):
        SequenceMetadata.from_dict({"sequence_id": "000002", "collection_car": 6}, "seq.json")
    with pytest.raises(FormatError, match="'end_time': not an ISO 8601 time: 'soon'"):
        SequenceMetadata.from_dict({"sequence_id": "000002", "end_time": "soon"})


def test_vehicle_data_groups(tmp_path: Path) -> None:
    from zod.vehicle_data import EgoVehicleControls, EgoVehicleData, Satellite

    path = tmp_path / "vehicle_data.hdf5"
    n = 5
    with h5py.File(path, "w") as f:
        for cls, group in (
            (EgoVehicleData, "ego_vehicle_data"),
            (EgoVehicleControls, "ego_vehicle_controls"),
            (Satellite, "satellite"),
        ):
            for k, (name, key) in enumerate(cls.FIELDS.items()):
                values = (
                    np.arange(n, dtype=np.int64) * 10_000_000 + 1_600_000_000_000_000_000
                    if name == "timestamp"
                    else np.arange(n, dtype=np.float64) + k
                )
                f[f"{group}/{key}"] = values
    vd = VehicleData.from_hdf5(path)
    np.testing.assert_array_equal(vd.ego_vehicle_data.lon_vel, np.arange(n) + 3)
    np.testing.assert_array_equal(vd.ego_vehicle_data.picth_rate, vd.ego_vehicle_data.pitch_rate)
    np.testing.assert_array_equal(vd.satellite.timstamp, vd.satellite.timestamp)
    np.testing.assert_allclose(vd.ego_vehicle_controls.time_s, 1.6e9 + np.arange(n) * 0.01)
    np.testing.assert_allclose(vd.satellite.lat_deg, (np.arange(n) + 2) * 1e-9)


# ----------------------------------------------------------------------------- the sample
def test_every_reader_on_sample_frames(sample_root: Path) -> None:
    frames = ZodFrames(sample_root, "full")
    for item_id in sorted(frames.get_all_ids()):
        frame = frames[item_id]
        info = frame.info
        scans = info.get_lidar_frames()
        assert len(scans) == 21
        core = frame.get_lidar_frames()[0]
        assert core is scans[10] and core is info.get_key_lidar_frame()
        data = core.read()
        raw = np.load(core.filepath)
        assert data.num_points < len(raw)  # ego returns are in the sample and removed
        assert LidarData.from_npy(core.filepath, remove_ego_lidar_returns=False).num_points == len(
            raw
        )
        assert data.core_timestamp == time_from_filename(core.filepath).timestamp()
        assert abs(data.core_timestamp - info.keyframe_time.timestamp()) < 0.06
        for anonymization in (Anonymization.BLUR, Anonymization.DNAT):
            camera = frame.get_camera_frame(anonymization)
            assert image_size(camera.filepath) == (camera.width, camera.height)
            image = frame.get_image(anonymization, scale=0.25)
            assert image.shape == (-(-camera.height // 4), -(-camera.width // 4), 3)
        assert frame.metadata.frame_id == item_id
        assert Lidar.VELODYNE in frame.calibration.lidars
        assert (
            frame.ego_motion.timestamps[0]
            <= info.keyframe_time.timestamp()
            <= frame.ego_motion.timestamps[-1]
        )
        assert len(frame.oxts.timestamps) > len(frame.ego_motion.timestamps) // 2


def test_every_reader_on_sample_sequences(sample_root: Path) -> None:
    sequences = ZodSequences(sample_root, "full")
    for item_id in sorted(sequences.get_all_ids()):
        seq = sequences[item_id]
        info = seq.info
        assert seq.metadata.sequence_id == item_id
        scans = seq.get_lidar(0, 2)
        assert len(scans) == 2 and scans[0].core_timestamp < scans[1].core_timestamp
        vd = seq.vehicle_data
        t = vd.ego_vehicle_data.time_s
        assert np.all(np.diff(t) > 0)
        assert t[0] - 5 < info.start_time.timestamp() < t[-1]
        radar = seq.get_radar()
        assert len(radar.radar_range) > 0
        assert np.all(np.isfinite(radar.get_cartesian_coordinates()))
        assert radar.scan_index.dtype == np.uint32
        cameras = info.get_camera_frames()
        assert len(cameras) >= 2
        pairs = list(info.get_camera_lidar_map())
        assert len(pairs) == len(cameras)
        for camera, lidar in pairs:
            gaps = [abs((f.time - camera.time).total_seconds()) for f in info.get_lidar_frames()]
            assert abs((lidar.time - camera.time).total_seconds()) == min(gaps)
