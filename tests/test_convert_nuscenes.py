"""`zod convert nuscenes`: the maths (our venv) and acceptance by nuscenes-devkit itself.

The acceptance tests run ``tests/nuscenes_driver.py`` with the python of ``.venv-nuscenes``
(nuscenes-devkit 1.2.0) on our output and compare what the devkit computes with what we
compute from the ZOD files through independent paths. They fail (not skip) without that venv.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zod.converters import nuscenes as nus
from zod.converters import nuscenes_tables as tables
from zod.geometry.transforms import (
    invert_transforms,
    make_transforms,
    quaternions_from_yaw,
    rotation_matrices_from_quaternions,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
NUSCENES_PYTHON = REPO_ROOT / ".venv-nuscenes" / "bin" / "python"
DRIVER = Path(__file__).resolve().parent / "nuscenes_driver.py"
VERSION = "v1.0-trainval"


# --------------------------------------------------------------------------- helpers
def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _random_rotations(rng: np.random.Generator, n: int, tilt: float = 0.3) -> np.ndarray:
    q = np.concatenate(
        [rng.normal(size=(n, 1)) + 2, rng.normal(0, tilt, (n, 2)), rng.normal(size=(n, 1))], axis=1
    )
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def nuscenes_corners(center: np.ndarray, rotation: np.ndarray, lwh: np.ndarray) -> np.ndarray:
    """(8, 3) corners in nuscenes-devkit's ``Box.corners`` order, from our own numbers."""
    length, width, height = lwh
    x = length / 2 * np.array([1, 1, 1, 1, -1, -1, -1, -1])
    y = width / 2 * np.array([1, -1, -1, 1, 1, -1, -1, 1])
    z = height / 2 * np.array([1, 1, -1, -1, 1, 1, -1, -1])
    return (rotation @ np.stack([x, y, z])).T + center


def _tables(out: Path) -> dict[str, Any]:
    return {t: json.loads((out / VERSION / f"{t}.json").read_text()) for t in nus.TABLE_NAMES}


@pytest.fixture(scope="module")
def nuscenes_python() -> Path:
    if not NUSCENES_PYTHON.exists():
        pytest.fail(f"nuscenes-devkit venv missing at {NUSCENES_PYTHON}: run scripts/setup.sh")
    return NUSCENES_PYTHON


def run_driver(python: Path, job: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Run the devkit driver in its venv (our package kept off its path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run = subprocess.run(
        [str(python), str(DRIVER)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout)


# --------------------------------------------------------------------------- maths
def test_box_to_global_known_case() -> None:
    # global_from_lidar: 90 degrees about z, then a shift; a box 1 m along lidar x, yaw 0
    global_from_lidar = make_transforms(_rot_z(np.pi / 2), np.array([10.0, 20.0, 1.0]))
    translation, size, rotation = nus.boxes_lidar_to_global(
        np.array([[1.0, 0.0, 0.5]]),
        np.array([[4.0, 2.0, 1.5]]),
        np.array([[1.0, 0.0, 0.0, 0.0]]),
        global_from_lidar,
    )
    np.testing.assert_allclose(translation, [[10.0, 21.0, 1.5]], atol=1e-12)
    np.testing.assert_allclose(size, [[2.0, 4.0, 1.5]])  # nuScenes (w, l, h)
    np.testing.assert_allclose(np.abs(rotation), [[np.sqrt(0.5), 0, 0, np.sqrt(0.5)]], atol=1e-12)


def test_boxes_round_trip_and_compose_like_matrices() -> None:
    rng = np.random.default_rng(0)
    n = 50
    centers = rng.uniform(-100, 100, (n, 3))
    quats = _random_rotations(rng, n)
    pose = make_transforms(
        rotation_matrices_from_quaternions(_random_rotations(rng, 1))[0], rng.normal(size=3)
    )
    glob_c, glob_q = nus.boxes_to_parent(centers, quats, pose)
    # the same as composing the 4 x 4 matrices
    box_pose = make_transforms(rotation_matrices_from_quaternions(quats), centers)
    composed = pose @ box_pose
    np.testing.assert_allclose(glob_c, composed[:, :3, 3], atol=1e-10)
    np.testing.assert_allclose(
        rotation_matrices_from_quaternions(glob_q), composed[:, :3, :3], atol=1e-12
    )
    back_c, back_q = nus.boxes_global_to_sensor(glob_c, glob_q, pose)
    np.testing.assert_allclose(back_c, centers, atol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(back_q * quats, axis=1)), 1.0, atol=1e-12)


def test_count_points_in_boxes_equals_brute_force() -> None:
    rng = np.random.default_rng(1)
    n = 30
    centers = rng.uniform(-10, 10, (n, 3))
    centers[1] = centers[0] + 0.3  # overlapping boxes: a shared point counts for both
    sizes = rng.uniform(0.5, 5.0, (n, 3))
    quats = _random_rotations(rng, n)
    points = rng.uniform(-14, 14, (40_000, 3))
    points[:5] = centers[0]  # certainly inside box 0 (and maybe box 1)
    counts = nus.count_points_in_boxes(points, centers, sizes, quats)
    rot = rotation_matrices_from_quaternions(quats)
    expected = [
        int(np.all(np.abs((points - centers[i]) @ rot[i]) <= sizes[i] / 2, axis=1).sum())
        for i in range(n)  # brute force: every point in every box frame
    ]
    assert counts.tolist() == expected
    assert counts[0] >= 5 and counts.sum() > 100
    # a point on a face counts (borders inside)
    face = nus.count_points_in_boxes(
        np.array([[2.0, 0.0, 0.0]]),
        np.zeros((1, 3)),
        np.array([[4.0, 2.0, 1.0]]),
        np.array([[1.0, 0, 0, 0]]),
    )
    assert face.tolist() == [1]
    assert (
        nus.count_points_in_boxes(points, np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4))).size
        == 0
    )


def test_pcd_bin_layout_is_five_float32(tmp_path: Path) -> None:
    points = np.array([[1.5, -2.0, 0.25], [100.0, 3.0, -1.0]], dtype=np.float32)
    cloud = nus.pcd_bin_array(points, np.array([7, 255], np.uint8), np.array([0, 127], np.uint8))
    path = tmp_path / "x.pcd.bin"
    cloud.tofile(path)
    assert path.stat().st_size == 2 * 5 * 4
    back = np.fromfile(path, dtype=np.float32).reshape(-1, 5)  # what LidarPointCloud reads
    np.testing.assert_array_equal(back, [[1.5, -2.0, 0.25, 7, 0], [100.0, 3.0, -1.0, 255, 127]])


def test_pick_sample_times() -> None:
    cams = np.arange(0.0, 20.0, 0.1) + 1000.0  # 10 Hz for 20 s, keyframe at 1010.03
    picked = nus.pick_sample_times(cams, 1010.03, 2.0)
    assert 100 in picked  # the camera frame nearest the keyframe
    np.testing.assert_allclose(np.diff(cams[picked]), 0.5, atol=1e-9)
    assert len(picked) == 40  # grid 1000.03 ... 1019.53 (1020.03 is past the last frame)
    assert nus.pick_sample_times(cams, 1010.03, None) == list(range(200))
    assert nus.pick_sample_times([5.0], 5.0, 2.0) == [0]


def test_category_table_covers_every_zod_subclass() -> None:
    for subclass in tables.all_subclasses():
        name = tables.category_of(subclass, False, None, None)
        assert name in tables.CATEGORY_NAMES, subclass
    assert tables.category_of("Vehicle_Van", False, "Van", None) == "vehicle.car"
    # a bicycle without rider stays a bicycle, with the nuScenes attribute
    name = tables.category_of("VulnerableVehicle_NoRider", False, "Bicycle", False)
    assert name == "vehicle.bicycle"
    assert tables.attribute_of(name, False) == "cycle.without_rider"
    assert tables.category_of("Vehicle_Car", True, "Car", None) == "unclear"
    evaluated = {tables.DETECTION_NAME_OF_CATEGORY.get(n) for n in tables.CATEGORY_NAMES} - {None}
    assert evaluated == set(tables.DETECTION_NAMES)  # all 10 nuScenes classes can be filled
    assert tables.visibility_of("None") == "4" and tables.visibility_of("VeryHeavy") == "1"


def test_tokens_are_deterministic_hex() -> None:
    a = tables.token("sample", "zod-frames-000001", "0")
    assert a == tables.token("sample", "zod-frames-000001", "0")
    assert len(a) == 32 and int(a, 16) >= 0
    assert a != tables.token("sample", "zod-frames-000001", "1")


# --------------------------------------------------------------------------- our export
@pytest.fixture(scope="module")
def frames_export(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nuscenes-frames")
    nus.convert_to_nuscenes(sample_root, out, version="full", workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def sequences_export(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nuscenes-sequences")
    nus.convert_to_nuscenes(
        sample_root, out, version="mini", subset="sequences", workers=1, progress=False
    )
    return out


def _check_links(rows: list[dict[str, Any]], key: str | None = None) -> None:
    by_token = {r["token"]: r for r in rows}
    for r in rows:
        if r["next"]:
            assert by_token[r["next"]]["prev"] == r["token"]
            if key:
                assert by_token[r["next"]][key] >= r[key]


@pytest.mark.parametrize("export", ["frames_export", "sequences_export"])
def test_tables_are_consistent(export: str, request: pytest.FixtureRequest) -> None:
    out: Path = request.getfixturevalue(export)
    t = _tables(out)
    tokens = {name: {r["token"] for r in rows} for name, rows in t.items()}
    for sd in t["sample_data"]:
        assert sd["sample_token"] in tokens["sample"]
        assert sd["ego_pose_token"] in tokens["ego_pose"]
        assert sd["calibrated_sensor_token"] in tokens["calibrated_sensor"]
        assert (out / sd["filename"]).is_file()
        if sd["fileformat"] == "pcd":
            assert (out / sd["filename"]).stat().st_size % 20 == 0
    for ann in t["sample_annotation"]:
        assert (
            ann["sample_token"] in tokens["sample"] and ann["instance_token"] in tokens["instance"]
        )
        assert set(ann["attribute_tokens"]) <= tokens["attribute"]
        assert ann["visibility_token"] in tokens["visibility"] | {""}
    for inst in t["instance"]:
        assert inst["category_token"] in tokens["category"]
        assert inst["first_annotation_token"] in tokens["sample_annotation"]
    for scene in t["scene"]:
        chain, token = [], scene["first_sample_token"]
        samples = {s["token"]: s for s in t["sample"]}
        while token:
            chain.append(token)
            token = samples[token]["next"]
        assert chain[-1] == scene["last_sample_token"] and len(chain) == scene["nbr_samples"]
    _check_links(t["sample"], "timestamp")
    _check_links(t["sample_data"], "timestamp")
    for sample in t["sample"]:
        keys = [
            sd
            for sd in t["sample_data"]
            if sd["sample_token"] == sample["token"] and sd["is_key_frame"]
        ]
        assert len(keys) == 4  # LIDAR_TOP and the three views, all at the sample time
        assert {sd["timestamp"] for sd in keys} == {sample["timestamp"]}
    assert {r["channel"] for r in t["sensor"]} == {"LIDAR_TOP", *nus.RIG_CHANNELS}
    splits = json.loads((out / VERSION / "splits.json").read_text())
    assert sorted(splits["zod_train"] + splits["zod_val"]) == sorted(s["name"] for s in t["scene"])


def test_frames_export_matches_zod(frames_export: Path, sample_root: Path) -> None:
    from zod.constants import Lidar
    from zod.dataset import ZodFrames

    t = _tables(frames_export)
    frames = ZodFrames(str(sample_root), "full")
    assert len(t["scene"]) == len(frames.get_split("train")) + len(frames.get_split("val")) == 4
    poses = {p["token"]: p for p in t["ego_pose"]}
    for scene in t["scene"]:
        frame = frames[scene["name"].rsplit("-", 1)[1]]
        lidar_sds = [
            sd
            for sd in t["sample_data"]
            if sd["filename"].endswith(".pcd.bin") and scene["name"] in sd["filename"]
        ]
        assert len(lidar_sds) == 21  # the key scan and its 20 surrounding scans
        key = next(sd for sd in lidar_sds if sd["is_key_frame"])
        cloud = np.fromfile(frames_export / key["filename"], dtype=np.float32).reshape(-1, 5)
        expected = frame.get_keyframe_lidar()  # compensated to the keyframe time
        np.testing.assert_allclose(cloud[:, :3], expected.points, atol=1e-4)
        np.testing.assert_array_equal(cloud[:, 4], expected.diode_idx)
        pose = poses[key["ego_pose_token"]]
        matrix = frame.ego_motion.get_poses(key["timestamp"] / 1e6)
        np.testing.assert_allclose(pose["translation"], matrix[:3, 3], atol=1e-9)
        np.testing.assert_allclose(
            rotation_matrices_from_quaternions(np.array(pose["rotation"])),
            matrix[:3, :3],
            atol=1e-12,
        )
        assert frame.calibration.get_extrinsics(Lidar.VELODYNE) is not None


def test_resume_redoes_only_what_is_missing(sample_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "nus"
    kwargs: dict[str, Any] = {
        "version": "mini",
        "cameras": "front",
        "sweeps_before": 1,
        "sweeps_after": 1,
    }
    nus.convert_to_nuscenes(sample_root, out, workers=1, progress=False, **kwargs)
    tables_before = {p.name: p.read_bytes() for p in (out / VERSION).iterdir()}
    files = sorted(p for p in out.rglob("*") if p.is_file() and VERSION not in p.parts)
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    victim = next(p for p in files if p.name.endswith(".pcd.bin"))
    victim.unlink()
    nus.convert_to_nuscenes(sample_root, out, workers=1, progress=False, **kwargs)
    changed = {p for p in files if not p.exists() or p.stat().st_mtime_ns != mtimes[p]}
    item_id = victim.name.split("__")[0].rsplit("-", 1)[1]
    assert victim in changed and victim.exists()
    # only that item's files (its data and its part file) and the map mask were written again
    assert all(item_id in p.name or p.name == "zod-no-map.png" for p in changed), changed
    others = [p for p in files if item_id not in p.name and p.name != "zod-no-map.png"]
    assert len(others) == 5  # the other frame: part, CAM_FRONT, 3 scans, all left alone
    assert {p.name: p.read_bytes() for p in (out / VERSION).iterdir()} == tables_before
    # other options: every item is redone (the part files remember what they were made with)
    kwargs["sweeps_after"] = 0
    nus.convert_to_nuscenes(sample_root, out, workers=1, progress=False, **kwargs)
    sweeps = json.loads((out / VERSION / "sample_data.json").read_text())
    assert len([sd for sd in sweeps if sd["fileformat"] == "pcd"]) == 2 * 2  # key + 1 before


# --------------------------------------------------------------------------- nuscenes-devkit
def _expected_sensor_boxes(
    out: Path, sample_root: Path, subset: str, version: str
) -> dict[str, dict[str, np.ndarray]]:
    """Our own transforms: per sample_data token, per annotation token, the box corners in that
    sensor frame, straight from the ZOD files (calibration, ego motion, annotations)."""
    from zod.annotations.objects import box_set_from_object_annotations
    from zod.constants import AnnotationProject, Camera, Lidar
    from zod.dataset import ZodFrames, ZodSequences

    t = _tables(out)
    dataset = (ZodFrames if subset == "frames" else ZodSequences)(str(sample_root), version)
    calib_channel = {c["token"]: c for c in t["calibrated_sensor"]}
    sensor_channel = {s["token"]: s["channel"] for s in t["sensor"]}
    views = dict(nus.camera_views("rig"))
    annotated = {a["sample_token"] for a in t["sample_annotation"]}
    sample_time = {s["token"]: s["timestamp"] / 1e6 for s in t["sample"] if s["token"] in annotated}
    expected: dict[str, dict[str, np.ndarray]] = {}
    for sd in t["sample_data"]:
        name = sd["filename"].split("/")[-1].split("__")[0]
        item = dataset[name.rsplit("-", 1)[1]]
        calib = item.calibration
        ego_from_lidar = calib.get_extrinsics(Lidar.VELODYNE).transform
        channel = sensor_channel[calib_channel[sd["calibrated_sensor_token"]]["sensor_token"]]
        if channel == "LIDAR_TOP":
            ego_from_sensor = ego_from_lidar
        else:
            ego_from_sensor = nus.ego_from_view(
                calib.cameras[Camera.FRONT].extrinsics.transform, views[channel]
            )
        if sd["sample_token"] not in sample_time:  # a sample without annotations (sequences)
            expected[sd["token"]] = {}
            continue
        boxes = box_set_from_object_annotations(
            item.get_annotation(AnnotationProject.OBJECT_DETECTION)
        )
        key_time = sample_time[sd["sample_token"]]
        global_from_lidar = item.ego_motion.get_poses(key_time) @ ego_from_lidar
        sensor_from_global = invert_transforms(
            item.ego_motion.get_poses(sd["timestamp"] / 1e6) @ ego_from_sensor
        )
        sensor_from_lidar = sensor_from_global @ global_from_lidar
        rot = sensor_from_lidar[:3, :3] @ rotation_matrices_from_quaternions(boxes.quaternions_wxyz)
        centers = boxes.centers_m @ sensor_from_lidar[:3, :3].T + sensor_from_lidar[:3, 3]
        uuids = np.asarray(boxes.uuids)
        expected[sd["token"]] = {
            tables.token("sample_annotation", name, str(uuids[i])): nuscenes_corners(
                centers[i], rot[i], boxes.sizes_lwh_m[i]
            )
            for i in range(len(boxes))
        }
    return expected


def _compare_boxes(
    theirs_by_sd: dict[str, Any], expected: dict[str, dict[str, np.ndarray]]
) -> tuple[float, int]:
    """Largest corner difference (m) between the devkit's and our boxes, and how many."""
    assert expected.keys() == theirs_by_sd.keys()
    worst, compared = 0.0, 0
    for sd_token, ours in expected.items():
        theirs = {b["token"]: np.array(b["corners"]) for b in theirs_by_sd[sd_token]["boxes"]}
        assert theirs.keys() == ours.keys(), sd_token
        for token, corners in ours.items():
            worst = max(worst, float(np.abs(theirs[token] - corners).max()))
            compared += 1
    return worst, compared


@pytest.fixture(scope="module")
def devkit_frames(
    frames_export: Path,
    sample_root: Path,
    nuscenes_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """One devkit run on the frames export: boxes, point counts, multi-sweep, pictures, evals."""
    work = tmp_path_factory.mktemp("devkit")
    evals = _prepare_predictions(frames_export, sample_root, work)
    job = {
        "dataroot": str(frames_export),
        "version": VERSION,
        "boxes": True,
        "point_counts": True,
        "multisweep": {"nsweeps": 4, "npy": str(work / "multisweep.npz")},
        "render": {
            "lidar": str(work / "lidar.png"),
            "camera": str(work / "camera.png"),
            "nsweeps": 3,
        },
        "evals": [spec for spec, _ in evals],
    }
    answer = run_driver(nuscenes_python, job, work)
    answer["work"] = str(work)
    answer["ours"] = [ours for _, ours in evals]
    answer["variants"] = [spec["variant"] for spec, _ in evals]
    return answer


def test_devkit_loads_and_gets_our_boxes(
    devkit_frames: dict[str, Any], frames_export: Path, sample_root: Path
) -> None:
    assert devkit_frames["counts"]["scene"] == 4 and devkit_frames["counts"]["sample"] == 4
    assert set(devkit_frames["scenes"].values()) == {1}
    expected = _expected_sensor_boxes(frames_export, sample_root, "frames", "full")
    worst, compared = _compare_boxes(devkit_frames["boxes"], expected)
    assert compared > 500  # 4 frames x 24 sample_data x ~11 boxes (sweeps included)
    assert worst < 1e-6, worst
    views = dict(nus.camera_views("rig"))
    intrinsics = [v["intrinsic"] for v in devkit_frames["boxes"].values() if v["intrinsic"]]
    assert any(np.allclose(k, views["CAM_FRONT"].intrinsics) for k in intrinsics)


def test_devkit_points_in_box_equal_num_lidar_pts(
    devkit_frames: dict[str, Any], frames_export: Path
) -> None:
    anns = {a["token"]: a["num_lidar_pts"] for a in _tables(frames_export)["sample_annotation"]}
    assert devkit_frames["point_counts"] == anns
    assert sum(anns.values()) > 1000 and 0 in anns.values()


def test_devkit_multisweep_equals_zod_aggregation(
    devkit_frames: dict[str, Any], frames_export: Path, sample_root: Path
) -> None:
    """The devkit moves our raw sweeps with our ego poses like ZodFrame.get_aggregated_lidar."""
    from zod.dataset import ZodFrames

    clouds = np.load(Path(devkit_frames["work"]) / "multisweep.npz")
    t = _tables(frames_export)
    frames = ZodFrames(str(sample_root), "full")
    for sample in t["sample"]:
        name = next(s["name"] for s in t["scene"] if s["token"] == sample["scene_token"])
        frame = frames[name.rsplit("-", 1)[1]]
        theirs, lags = clouds[sample["token"]], clouds[sample["token"] + "_times"]
        ours = frame.get_aggregated_lidar(num_before=3, timestamp=sample["timestamp"] / 1e6)
        core = frame.get_keyframe_lidar().num_points
        sweeps_theirs = theirs[lags > 0]  # the key scan has lag 0
        # ours: key scan first, then the three scans before it in time order; theirs: newest first
        scans = frame.get_lidar(num_before=3)[:-1]
        sizes = [s.num_points for s in scans]
        ours_sweeps = np.split(ours.points[core:], np.cumsum(sizes)[:-1])
        theirs_sweeps = np.split(sweeps_theirs[:, :3], np.cumsum(sizes[::-1])[:-1])[::-1]
        for a, b in zip(ours_sweeps, theirs_sweeps):
            np.testing.assert_allclose(b, a, atol=2e-4)
        assert len(sweeps_theirs) == sum(sizes) > 0


def test_devkit_renders(devkit_frames: dict[str, Any]) -> None:
    import cv2

    for name in ("lidar.png", "camera.png"):
        image = cv2.imread(str(Path(devkit_frames["work"]) / name))
        assert image is not None and image.std() > 10


def _prepare_predictions(
    out: Path, sample_root: Path, work: Path
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Results files for the devkit and our evaluator's numbers on the same boxes.

    Variants per split: ``gt`` (the annotations the devkit evaluates: detection classes with
    lidar points), ``gt_all`` (every annotation of a detection class), ``perturbed`` (noisy
    centres, sizes, yaws and scores, misses, false positives). The boxes come from the ZOD
    annotations (lidar frame); the devkit gets them moved to global by our transforms.
    """
    from zod.annotations.objects import box_set_from_object_annotations
    from zod.constants import AnnotationProject, Lidar
    from zod.dataset import ZodFrames
    from zod.eval.detection import DetectionBoxes, DetectionConfig, evaluate_detection
    from zod.geometry.transforms import quaternion_multiply

    t = _tables(out)
    splits = json.loads((out / VERSION / "splits.json").read_text())
    frames = ZodFrames(str(sample_root), "full")
    num_pts = {a["token"]: a["num_lidar_pts"] for a in t["sample_annotation"]}
    sample_of_scene = {s["scene_token"]: s for s in t["sample"]}
    meta = {"use_camera": False, "use_lidar": True, "use_radar": False, "use_map": False}
    meta["use_external"] = False
    rng = np.random.default_rng(7)
    specs = []
    for eval_set in ("zod_train", "zod_val"):
        for variant in ("gt", "gt_all", "perturbed"):
            results: dict[str, list[dict[str, Any]]] = {}
            gt_rows: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, float]] = []
            pred_rows: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, float]] = []
            ids = [n.rsplit("-", 1)[1] for n in splits[eval_set]]
            for name, item_id in zip(splits[eval_set], ids):
                frame = frames[item_id]
                sample = sample_of_scene[tables.token("scene", name)]
                objects = frame.get_annotation(AnnotationProject.OBJECT_DETECTION)
                boxes = box_set_from_object_annotations(objects)
                attrs = boxes.attributes
                subclasses, uuids = np.asarray(boxes.subclasses), np.asarray(boxes.uuids)
                unclear = np.asarray(boxes.unclear)
                mine: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, float]] = []
                for i in range(len(boxes)):
                    category = tables.category_of(
                        str(subclasses[i]),
                        bool(unclear[i]),
                        attrs["object_type"][i],
                        attrs["with_rider"][i],
                    )
                    det = tables.DETECTION_NAME_OF_CATEGORY.get(category)
                    has_points = num_pts[tables.token("sample_annotation", name, str(uuids[i]))] > 0
                    if det is None:
                        continue
                    box = (
                        item_id,
                        det,
                        boxes.centers_m[i],
                        boxes.sizes_lwh_m[i],
                        boxes.quaternions_wxyz[i],
                    )
                    if has_points:  # the devkit drops ground truth without points
                        gt_rows.append((*box, 1.0))
                    if variant == "gt" and not has_points:
                        continue
                    if variant != "perturbed":
                        mine.append((*box, 1.0))
                        continue
                    if rng.random() < 0.15:
                        continue  # a miss
                    center = box[2] + np.r_[rng.normal(0, 0.7, 2), 0.0]
                    size = box[3] * rng.uniform(0.7, 1.3, 3)
                    quat = quaternion_multiply(quaternions_from_yaw(rng.normal(0, 0.3)), box[4])
                    mine.append((item_id, det, center, size, quat, round(rng.uniform(0.05, 1), 3)))
                    if rng.random() < 0.3:  # a false positive nearby
                        shifted = center + np.array([rng.uniform(3, 8), 0.0, 0.0])
                        mine.append(
                            (item_id, det, shifted, size, quat, round(rng.uniform(0, 0.5), 3))
                        )
                pred_rows += mine
                results[sample["token"]] = []
                if not mine:
                    continue
                global_from_lidar = (
                    frame.ego_motion.get_poses(sample["timestamp"] / 1e6)
                    @ frame.calibration.get_extrinsics(Lidar.VELODYNE).transform
                )
                tr, wlh, rot = nus.boxes_lidar_to_global(
                    np.array([r[2] for r in mine]),
                    np.array([r[3] for r in mine]),
                    np.array([r[4] for r in mine]),
                    global_from_lidar,
                )
                results[sample["token"]] = [
                    {
                        "sample_token": sample["token"],
                        "translation": tr[j].tolist(),
                        "size": wlh[j].tolist(),
                        "rotation": rot[j].tolist(),
                        "velocity": [0.0, 0.0],
                        "detection_name": row[1],
                        "detection_score": row[5],
                        "attribute_name": "",
                    }
                    for j, row in enumerate(mine)
                ]
            path = work / f"results_{eval_set}_{variant}.json"
            path.write_text(json.dumps({"meta": meta, "results": results}))
            gt, pred = (
                DetectionBoxes.from_columns(
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    np.array([r[2] for r in rows]).reshape(-1, 3),
                    np.array([r[3] for r in rows]).reshape(-1, 3),
                    quaternions_wxyz=np.array([r[4] for r in rows]).reshape(-1, 4),
                    scores=None if rows is gt_rows else np.array([r[5] for r in rows]),
                    frame_ids=ids,
                )
                for rows in (gt_rows, pred_rows)
            )
            present = tuple(sorted({r[1] for r in gt_rows}))
            result = evaluate_detection(gt, pred, DetectionConfig(classes=present))
            ours = {
                "mAP": result.mean_ap,
                "aps": {
                    n: {str(k): v for k, v in r.ap_by_threshold.items()}
                    for n, r in result.per_class.items()
                },
                "tp": {n: r.tp_errors for n, r in result.per_class.items()},
            }
            spec = {
                "results": str(path),
                "eval_set": eval_set,
                "output_dir": str(work / f"eval_{eval_set}_{variant}"),
                "variant": variant,
            }
            specs.append((spec, ours))
    return specs


def test_devkit_detection_eval(devkit_frames: dict[str, Any]) -> None:
    """GT as predictions: mAP 1; perturbed: the devkit's numbers equal our evaluator's."""
    for theirs, ours in zip(devkit_frames["evals"], devkit_frames["ours"]):
        assert theirs["present"] == sorted(ours["aps"])
        assert theirs["num_gt"] > 5
        assert theirs["mAP"] == pytest.approx(ours["mAP"], abs=1e-9)
        for name, aps in theirs["label_aps"].items():
            for th, ap in aps.items():
                assert ap == pytest.approx(ours["aps"][name][th], abs=1e-9), (name, th)
            for metric in ("trans_err", "scale_err", "orient_err"):
                mine, devkit = ours["tp"][name][metric], theirs["label_tp_errors"][name][metric]
                if np.isnan(mine):
                    assert devkit is None or np.isnan(devkit)
                else:
                    assert devkit == pytest.approx(mine, abs=1e-4), (name, metric)
    maps: dict[str, list[float]] = {v: [] for v in ("gt", "gt_all", "perturbed")}
    for variant, theirs in zip(devkit_frames["variants"], devkit_frames["evals"]):
        maps[variant].append(theirs["mAP"])
    assert maps["gt"] == pytest.approx([1.0, 1.0], abs=1e-12)  # what the devkit evaluates: mAP 1
    # all annotations: those without lidar points are dropped from the ground truth (not from
    # the predictions), so they become false positives at the top score
    assert all(0.5 < m < 1.0 for m in maps["gt_all"])
    assert all(0.05 < m < 0.95 for m in maps["perturbed"])


def test_devkit_loads_sequences_as_scenes_of_many_samples(
    sequences_export: Path, sample_root: Path, nuscenes_python: Path, tmp_path: Path
) -> None:
    from zod.dataset import ZodSequences

    answer = run_driver(
        nuscenes_python,
        {"dataroot": str(sequences_export), "version": VERSION, "boxes": True},
        tmp_path,
    )
    sequences = ZodSequences(str(sample_root), "mini")
    assert len(answer["scenes"]) == len(sequences.get_all_ids()) == 2
    assert all(n >= 3 for n in answer["scenes"].values())  # 2 Hz samples of 1.5 s clips
    t = _tables(sequences_export)
    assert len({a["sample_token"] for a in t["sample_annotation"]}) == 2  # one keyframe each
    expected = _expected_sensor_boxes(sequences_export, sample_root, "sequences", "mini")
    worst, compared = _compare_boxes(answer["boxes"], expected)
    assert compared > 50 and worst < 1e-6, (compared, worst)


def test_cli_command(sample_root: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    args = ["convert", "nuscenes", str(sample_root), "--version", "mini"]
    args += ["--cameras", "none", "--sweeps-before", "0", "--sweeps-after", "0"]
    args += ["--workers", "1", "--no-progress"]
    run = CliRunner().invoke(app, [*args, "--output-dir", str(tmp_path / "a")])
    assert run.exit_code == 0, run.output
    assert "NuScenes(version='v1.0-trainval'" in run.output
    t = _tables(tmp_path / "a")
    assert len(t["scene"]) == 2 and len(t["sample_data"]) == 2  # key scans only, no cameras
    bad = CliRunner().invoke(
        app, [*args, "--output-dir", str(tmp_path / "b"), "--nuscenes-version", "a/b"]
    )
    assert bad.exit_code == 1 and "bad nuScenes version" in bad.output


def test_ray_engine_writes_the_same_files(sample_root: Path, tmp_path: Path) -> None:
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        kwargs: dict[str, Any] = {"version": "mini", "cameras": "front", "progress": False}
        local = nus.convert_to_nuscenes(sample_root, tmp_path / "local", workers=1, **kwargs)
        remote = nus.convert_to_nuscenes(sample_root, tmp_path / "ray", engine="ray", **kwargs)
    finally:
        if started:
            ray.shutdown()

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    ours, theirs = tree(local.parent), tree(remote.parent)
    assert len(ours) > 10 and ours == theirs
