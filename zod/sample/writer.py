"""``generate_sample``: plan the items, simulate each, write files and index (spec sections 1-3).

Each item (frame, sequence or drive) is simulated independently from its own seed
(``SeedSequence([seed, subset, index])``), so the output does not depend on the number of worker
processes. Every file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from zod._atomic import atomic_path, atomic_write_bytes
from zod.constants import DRIVES, FRAMES, SEQUENCES, TRAINVAL_FILES
from zod.geometry.transforms import invert_transforms
from zod.sample import annotate as anno
from zod.sample._threads import single_threaded_blas
from zod.sample.camera import add_noise, anonymize, encode_jpeg, render, world_from_camera
from zod.sample.config import SampleConfig
from zod.sample.lidar import simulate_scan
from zod.sample.motion import (
    ego_motion_json,
    oxts_arrays,
    oxts_sample_times_s,
    vehicle_data_arrays,
    write_hdf5_flat,
)
from zod.sample.radar import simulate_radar
from zod.sample.rig import SensorRig, make_rig
from zod.sample.scene import (
    Road,
    SceneObjects,
    Trajectory,
    build_scene,
    make_trajectory,
    template_class,
)
from zod.time import format_filename_time, format_time

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SUBSET_CODES = {FRAMES: 1, SEQUENCES: 2, DRIVES: 3}
ID_RANGES = {FRAMES: 100_000, SEQUENCES: 1473, DRIVES: 29}
CODENAMES = (
    "romeo",
    "sierra",
    "tango",
    "victor",
    "kilo",
    "lima",
    "oscar",
    "quebec",
    "juliett",
    "hotel",
)
COUNTRIES = ("SE", "DE", "PL", "NO", "FR", "IT", "HU", "GB", "CZ", "NL", "BE", "FI", "ES", "AT")
WEATHER = ("partly-cloudy-day", "clear-day", "cloudy", "rain", "fog", "snow")
COLLECTION_CARS = ("Vc5", "Vc6")
LIDAR_PERIOD_US = 100_000
PROJECTS = ("object_detection", "lane_markings", "traffic_signs", "ego_road", "road_condition")


def _dt(time_us: int) -> datetime:
    """Aware UTC datetime of integer epoch microseconds (exact)."""
    return _EPOCH + timedelta(microseconds=int(time_us))


# --- atomic writers ----------------------------------------------------------------------------


def _write_bytes(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)


def _write_json(path: Path, obj: Any) -> None:
    _write_bytes(path, json.dumps(obj).encode())


def _write_npy(path: Path, array: np.ndarray) -> None:
    buf = BytesIO()
    np.save(buf, array, allow_pickle=False)
    _write_bytes(path, buf.getvalue())


def _write_hdf5(path: Path, datasets: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        write_hdf5_flat(str(tmp), datasets)


# --- planning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemJob:
    """One item to simulate: which sub-dataset, its index (mini items first), id and split."""

    subset: str
    index: int
    item_id: str
    split: str  # train | val | blacklisted
    in_mini: bool
    root: str
    config: SampleConfig
    unknown_sign: bool = False


def _split_counts(n_mini: int, n_full: int, val_fraction: float) -> tuple[int, int]:
    """Number of val items among the mini ones and among the others (both splits non-empty)."""
    vm = 0 if n_mini < 2 else int(np.clip(round(val_fraction * n_mini), 1, n_mini - 1))
    n_rest = n_full - n_mini
    vr = int(np.clip(round(val_fraction * n_rest), 0, n_rest))
    if n_full >= 2 and vm + vr == 0:
        vr = 1
    if n_full >= 2 and (n_mini - vm) + (n_rest - vr) == 0:
        vr -= 1
    return vm, vr


def plan_items(root: Path, config: SampleConfig) -> list[ItemJob]:
    """All items of the sample, in a fixed order (frames, sequences, drives; mini first)."""
    jobs: list[ItemJob] = []
    counts = {
        FRAMES: (config.num_frames, config.num_frames_mini, config.num_blacklisted_frames),
        SEQUENCES: (config.num_sequences, config.num_sequences_mini, 0),
        DRIVES: (config.num_drives, config.num_drives_mini, 0),
    }
    for subset, (n_full, n_mini, n_black) in counts.items():
        total = n_full + n_black
        if total == 0:
            continue
        rng = np.random.default_rng([config.seed, 0, SUBSET_CODES[subset]])
        id_range = max(ID_RANGES[subset], 10 * total)
        ids = rng.permutation(np.sort(rng.choice(id_range, size=total, replace=False)))
        vm, vr = _split_counts(n_mini, n_full, config.val_fraction)
        val = set(range(n_mini - vm, n_mini)) | set(range(n_full - vr, n_full))
        unknown_index = -1
        if subset == FRAMES and config.unknown_traffic_sign:
            with_signs = [i for i in range(n_full) if i % config.traffic_signs_every == 0]
            outside_mini = [i for i in with_signs if i >= n_mini]
            if with_signs:
                unknown_index = (outside_mini or with_signs)[-1]
        for i in range(total):
            split = "blacklisted" if i >= n_full else ("val" if i in val else "train")
            jobs.append(
                ItemJob(
                    subset,
                    i,
                    f"{int(ids[i]):06d}",
                    split,
                    i < n_mini,
                    str(root),
                    config,
                    i == unknown_index,
                )
            )
    return jobs


# --- one item ----------------------------------------------------------------------------------


def _item_times(job: ItemJob, rng: np.random.Generator) -> dict[str, Any]:
    """Integer-microsecond times of the scans, camera frames and keyframe of an item."""
    cfg = job.config
    day = datetime(2021, 3, 1, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 600)))
    base_us = (
        int((day - _EPOCH).total_seconds()) * 1_000_000
        + int(rng.integers(7 * 3600, 17 * 3600)) * 1_000_000
    )
    base_us += int(rng.integers(0, 1_000_000))
    period_us = round(1e6 / cfg.lidar_rate_hz)
    if job.subset == FRAMES:
        ks = np.arange(-cfg.num_scans_before, cfg.num_scans_after + 1)
        jitter = rng.integers(-300, 301, size=ks.size)
        jitter[ks == 0] = 0
        scans = base_us + ks * period_us + jitter
        keyframe = base_us + int(rng.integers(-15_000, 15_001))
        cameras = np.array([keyframe])
        core = int(np.flatnonzero(ks == 0)[0])
    else:
        duration = cfg.sequence_duration_s if job.subset == SEQUENCES else cfg.drive_duration_s
        n_scans = int(np.floor(duration * cfg.lidar_rate_hz + 1e-9)) + 1
        ks = np.arange(n_scans)
        scans = base_us + ks * period_us + rng.integers(-300, 301, size=n_scans)
        scans[0] = base_us
        cam_period = round(1e6 / cfg.sequence_camera_rate_hz)
        cameras = base_us + 30_000 + np.arange(0, int(duration * 1e6) - 30_000 + 1, cam_period)
        middle = base_us + int(duration * 1e6 / 2)
        keyframe = int(cameras[np.argmin(np.abs(cameras - middle))])
        core = int(np.argmin(np.abs(scans - keyframe)))
    return {
        "scans_us": scans.astype(np.int64),
        "cameras_us": cameras.astype(np.int64),
        "keyframe_us": int(keyframe),
        "core": core,
        "start_us": int(min(scans[0], cameras[0])),
        "end_us": int(max(scans[-1], cameras[-1])),
    }


def _anonymization_regions(views: list, objects: Any) -> list[tuple[int, int, int, int]]:
    """Faces of pedestrians / riders and number plates of vehicles (x1, y1, x2, y2 pixels)."""
    regions: list[tuple[int, int, int, int]] = []
    for view, spec in zip(views, objects.specs):
        if view.box2d is None:
            continue
        x1, y1, x2, y2 = view.box2d
        w, h = x2 - x1, y2 - y1
        cls_name, _ = template_class(spec.template)
        if cls_name in ("Pedestrian", "VulnerableVehicle"):
            region = (x1 + 0.3 * w, y1, x2 - 0.3 * w, y1 + 0.15 * h)
        elif cls_name == "Vehicle":
            region = (x1 + 0.38 * w, y2 - 0.3 * h, x2 - 0.38 * w, y2 - 0.18 * h)
        else:
            continue
        x1_px, y1_px, x2_px, y2_px = (round(v) for v in region)
        if x2_px - x1_px >= 2 and y2_px - y1_px >= 2:
            regions.append((x1_px, y1_px, x2_px, y2_px))
    return regions


@dataclass
class _Item:
    """Everything one item's writers share: the job, its random streams, its simulated world."""

    job: ItemJob
    rig: SensorRig
    rngs: dict[str, np.random.Generator]
    times: dict[str, Any]
    codename: str
    oxts_times_s: np.ndarray
    trajectory: Trajectory
    origin_lat_lon: tuple[float, float]
    objects: SceneObjects
    road: Road

    @property
    def cfg(self) -> SampleConfig:
        return self.job.config

    @property
    def root(self) -> Path:
        return Path(self.job.root)

    @property
    def folder_rel(self) -> str:
        return f"{self.job.subset}/{self.job.item_id}"

    @property
    def is_frame(self) -> bool:
        return self.job.subset == FRAMES

    @property
    def keyframe_s(self) -> float:
        return self.times["keyframe_us"] / 1e6

    def file_name(self, time_us: int, ext: str) -> str:
        """``<id>_<codename>_<time>Z.<ext>`` (spec section 3)."""
        return f"{self.job.item_id}_{self.codename}_{format_filename_time(_dt(time_us))}.{ext}"

    def camera_from_world(self, time_s: float) -> np.ndarray:
        return invert_transforms(world_from_camera(self.rig, self.trajectory, time_s))


_RNG_NAMES = ("time", "trajectory", "scene", "lidar", "image", "annotations", "radar", "misc")
# road shapes in the road frame: annotated from 2.5 m ahead of the rear axle to 60 m (lines) and
# 80 m (ego road); drawn from just ahead of the car at every image time
NEAR_M, LANES_FAR_M, ROAD_FAR_M, DRAW_FAR_M = 2.5, 60.0, 80.0, 150.0
DEBRIS_RGB = (96, 72, 50)


def _simulate_world(job: ItemJob) -> _Item:
    """Times, trajectory (covering every point time with a 1 s margin) and scene of an item."""
    cfg = job.config
    seeds = np.random.SeedSequence([cfg.seed, SUBSET_CODES[job.subset], job.index]).spawn(
        len(_RNG_NAMES)
    )
    rngs = {name: np.random.default_rng(seed) for name, seed in zip(_RNG_NAMES, seeds)}
    times = _item_times(job, rngs["time"])
    codename = str(rngs["misc"].choice(CODENAMES))
    first_s = (int(times["scans_us"][0]) - LIDAR_PERIOD_US) / 1e6 - 1.0
    last_s = max(int(times["scans_us"][-1]) + LIDAR_PERIOD_US, times["end_us"]) / 1e6 + 1.0
    oxts_t = oxts_sample_times_s(first_s, last_s, cfg.oxts_rate_hz)
    trajectory = make_trajectory(
        rngs["trajectory"], float(oxts_t[0]), float(oxts_t[-1] - oxts_t[0]) + 0.01
    )
    origin = (float(rngs["misc"].uniform(48.0, 63.0)), float(rngs["misc"].uniform(5.0, 25.0)))
    objects, road = build_scene(
        rngs["scene"], trajectory, times["keyframe_us"] / 1e6, cfg.num_objects
    )
    return _Item(
        job,
        make_rig(cfg.image_width, cfg.image_height),
        rngs,
        times,
        codename,
        oxts_t,
        trajectory,
        origin,
        objects,
        road,
    )


def _write_lidar(item: _Item) -> list[dict[str, Any]]:
    """Every lidar scan of the item; returns the index entries."""
    cfg, entries = item.cfg, []
    for k, scan_us in enumerate(item.times["scans_us"]):
        if item.is_frame:
            n_points = (
                cfg.points_per_core_scan
                if k == item.times["core"]
                else cfg.points_per_surrounding_scan
            )
        else:
            n_points = cfg.points_per_sequence_scan
        scan = simulate_scan(
            item.rngs["lidar"],
            n_points,
            int(scan_us),
            item.rig,
            item.trajectory,
            item.objects,
            item.road,
            period_s=1.0 / cfg.lidar_rate_hz,
            max_range_m=cfg.lidar_max_range_m,
        )
        rel = f"{item.folder_rel}/lidar_velodyne/{item.file_name(int(scan_us), 'npy')}"
        _write_npy(item.root / rel, scan)
        entries.append(
            {"filepath": rel, "time": format_time(_dt(int(scan_us))), "is_compensated": False}
        )
    return entries


def _drawn_polygons(
    item: _Item, time_s: float, with_debris: bool
) -> list[tuple[list, tuple[int, int, int]]]:
    """(image polygons, RGB colour) of the road paint, rail and debris to draw at ``time_s``."""
    d_ego = float(
        item.road.road_from_world_points(item.trajectory.state(time_s).position_world)[0, 0]
    )
    scratch = np.random.default_rng(0)  # the uuids of drawn shapes are not used
    cam_from_world = item.camera_from_world(time_s)
    lane_draw = anno.lane_shapes(scratch, d_ego + NEAR_M, d_ego + DRAW_FAR_M)
    road_draw = anno.ego_road_shapes(scratch, d_ego + NEAR_M, d_ego + ROAD_FAR_M, with_debris)
    lane_polys = anno.project_shapes(lane_draw, item.road, item.rig, cam_from_world)
    road_polys = anno.project_shapes(road_draw, item.road, item.rig, cam_from_world)

    def polys_of(cls_name: str) -> list:
        return [
            p
            for polys, shape in zip(road_polys, road_draw)
            if shape.properties["class"] == cls_name
            for p in polys
        ]

    return [
        ([poly for polys in lane_polys for poly in polys], anno.MARKING_RGB),
        (polys_of("Barrier"), anno.BARRIER_RGB),
        (polys_of("EgoRoad_Debris"), DEBRIS_RGB),
    ]


def _write_camera(
    item: _Item, with_debris: bool
) -> tuple[dict[str, list[dict[str, Any]]], list | None]:
    """Every image (blur and, for frames, dnat); return the index entries and the keyframe views."""
    anonymizations = ("blur", "dnat") if item.is_frame else ("blur",)
    entries: dict[str, list[dict[str, Any]]] = {f"front_{a}": [] for a in anonymizations}
    key_views = None
    width, height = item.rig.image_size
    for cam_us in item.times["cameras_us"]:
        time_s = int(cam_us) / 1e6
        polygons = _drawn_polygons(item, time_s, with_debris)
        image, views = render(item.rig, item.trajectory, item.objects, item.road, time_s, polygons)
        image = add_noise(image, item.rngs["image"], item.cfg.image_noise_std)
        if int(cam_us) == item.times["keyframe_us"]:
            key_views = views
        regions = _anonymization_regions(views, item.objects)
        for a in anonymizations:
            rel = f"{item.folder_rel}/camera_front_{a}/{item.file_name(int(cam_us), 'jpg')}"
            jpeg = encode_jpeg(
                anonymize(image, regions, a, item.rngs["image"]), item.cfg.jpeg_quality
            )
            _write_bytes(item.root / rel, jpeg)
            entries[f"front_{a}"].append(
                {
                    "filepath": rel,
                    "time": format_time(_dt(int(cam_us))),
                    "height": height,
                    "width": width,
                }
            )
    return entries, key_views


def _write_annotations(
    item: _Item, key_views: list, road_condition: str, with_debris: bool
) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    """The keyframe's annotation files; returns the index entries and the metadata counts."""
    job, rng = item.job, item.rngs["annotations"]
    lanes = anno.lane_shapes(rng, NEAR_M, LANES_FAR_M)
    ego_road = anno.ego_road_shapes(rng, NEAR_M, ROAD_FAR_M, with_debris=with_debris)
    world_from_lidar = (
        item.trajectory.world_from_ego(np.array([item.keyframe_s]))[0] @ item.rig.ego_from_lidar
    )
    obj_feats, kept = anno.object_features(
        rng, item.objects, key_views, invert_transforms(world_from_lidar), item.keyframe_s
    )
    cam_from_world = item.camera_from_world(item.keyframe_s)
    files: dict[str, Any] = {
        "object_detection": obj_feats,
        "lane_markings": anno.shapes_to_features(
            lanes, anno.project_shapes(lanes, item.road, item.rig, cam_from_world)
        ),
        "road_condition": {
            "wetness": road_condition == "wet",
            "snow_coverage": road_condition == "snow",
        },
    }
    if job.index % item.cfg.traffic_signs_every == 0:
        files["traffic_signs"] = anno.traffic_sign_features(
            rng, item.objects, key_views, obj_feats, kept, job.unknown_sign
        )
    if job.index % item.cfg.ego_road_every == 0:
        road_polys = anno.project_shapes(ego_road, item.road, item.rig, cam_from_world)
        files["ego_road"] = anno.shapes_to_features(ego_road, road_polys)
    entries: dict[str, dict[str, str]] = {}
    for project in PROJECTS:
        if project in files:
            rel = f"{item.folder_rel}/annotations/{project}.json"
            _write_json(item.root / rel, files[project])
            entries[project] = {"filepath": rel, "project": project}
    classes = [f["properties"]["class"] for f in obj_feats]
    counts = {
        "num_lane_instances": sum(
            1 for s in lanes if s.properties.get("class") in ("solid", "dashed")
        ),
        "num_vehicles": classes.count("Vehicle"),
        "num_vulnerable_vehicles": classes.count("VulnerableVehicle"),
        "num_pedestrians": classes.count("Pedestrian"),
        "num_traffic_lights": classes.count("TrafficSignal"),
        "num_traffic_signs": classes.count("TrafficSign"),
    }
    return entries, counts


def _metadata(item: _Item, road_condition: str, counts: dict[str, int]) -> dict[str, Any]:
    """``metadata.json`` (spec section 6): frame keys or sequence / drive keys."""
    rng = item.rngs["misc"]
    country, car = str(rng.choice(COUNTRIES)), str(rng.choice(COLLECTION_CARS))
    lat, lon = item.origin_lat_lon
    if not item.is_frame:
        return {
            "sequence_id": item.job.item_id,
            "start_time": format_time(_dt(item.times["start_us"])),
            "end_time": format_time(_dt(item.times["end_us"])),
            "country_code": country,
            "collection_car": car,
            "longitude": lon,
            "latitude": lat,
        }
    return {
        "frame_id": item.job.item_id,
        "time": format_time(_dt(item.times["keyframe_us"])),
        "country_code": country,
        "scraped_weather": {"normal": "partly-cloudy-day", "wet": "rain", "snow": "snow"}[
            road_condition
        ],
        "collection_car": car,
        "road_type": str(rng.choice(["city", "highway", "rural"])),
        "road_condition": road_condition,
        "time_of_day": "day",
        **counts,
        "longitude": lon,
        "latitude": lat,
        "solar_angle_elevation": round(float(rng.uniform(5.0, 50.0)), 3),
    }


def _write_clip_streams(item: _Item) -> tuple[str, list[dict[str, str]]]:
    """Vehicle data and radar of a sequence or drive; returns their index entries."""
    times, cfg = item.times, item.cfg
    vehicle = vehicle_data_arrays(
        item.trajectory,
        times["start_us"] / 1e6,
        times["end_us"] / 1e6,
        cfg.vehicle_data_rate_hz,
        10.0,
        item.origin_lat_lon,
        item.rngs["misc"],
    )
    _write_hdf5(item.root / item.folder_rel / "vehicle_data.hdf5", vehicle)
    radar_period_ns = round(1e9 / cfg.radar_rate_hz)
    radar_ns = np.arange(
        times["start_us"] * 1000, times["end_us"] * 1000 + 1, radar_period_ns, dtype=np.int64
    )
    radar = simulate_radar(item.rngs["radar"], radar_ns, item.rig, item.trajectory, item.objects)
    rel = f"{item.folder_rel}/radar_front/{item.file_name(times['keyframe_us'], 'npy')}"
    _write_npy(item.root / rel, radar)
    return f"{item.folder_rel}/vehicle_data.hdf5", [
        {"filepath": rel, "time": format_time(_dt(times["keyframe_us"]))}
    ]


def generate_item(job: ItemJob) -> dict[str, Any]:
    """Simulate and write one item; returns its info object (snake_case, paths relative)."""
    item = _simulate_world(job)
    with_debris = job.index % 4 == 0
    lidar_entries = _write_lidar(item)
    camera_entries, key_views = _write_camera(item, with_debris)
    road_condition = str(item.rngs["misc"].choice(["normal", "normal", "wet", "snow"]))
    annotations: dict[str, dict[str, str]] = {}
    counts: dict[str, int] = {}
    if job.subset in (FRAMES, SEQUENCES):  # drives are not annotated
        assert key_views is not None
        annotations, counts = _write_annotations(item, key_views, road_condition, with_debris)
    folder = item.root / item.folder_rel
    oxts = oxts_arrays(item.trajectory, item.oxts_times_s, item.origin_lat_lon)
    _write_hdf5(folder / "oxts.hdf5", oxts)
    _write_json(folder / "ego_motion.json", ego_motion_json(oxts))
    _write_json(
        folder / "calibration.json", item.rig.calibration_json(with_radar=not item.is_frame)
    )
    _write_json(folder / "metadata.json", _metadata(item, road_condition, counts))
    info: dict[str, Any] = {
        "id": job.item_id,
        "start_time": format_time(_dt(item.times["start_us"])),
        "end_time": format_time(_dt(item.times["end_us"])),
        "keyframe_time": format_time(_dt(item.times["keyframe_us"])),
        "calibration_path": f"{item.folder_rel}/calibration.json",
        "ego_motion_path": f"{item.folder_rel}/ego_motion.json",
        "metadata_path": f"{item.folder_rel}/metadata.json",
        "oxts_path": f"{item.folder_rel}/oxts.hdf5",
        "vehicle_data_path": None,
        "annotations": annotations,
        "camera_frames": camera_entries,
        "lidar_frames": {"velodyne": lidar_entries},
    }
    if not item.is_frame:
        info["vehicle_data_path"], radar_entries = _write_clip_streams(item)
        info["radar_frames"] = {"front": radar_entries}
        _write_json(folder / "info.json", info)
    return info


# --- the whole sample ------------------------------------------------------------------------

# Finished items of an interrupted run are recorded here (and reused by the next run with the same
# config); the folder is removed once the index files are written, so a complete sample holds
# only the files of the spec.
PARTIAL_DIR = ".zod-sample-partial"


def config_digest(config: SampleConfig) -> str:
    """Hash of everything in the config that changes the output (not workers / progress)."""
    fields = {k: v for k, v in config.to_dict().items() if k not in ("workers", "progress")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def generate_or_resume(job: ItemJob) -> dict[str, Any]:
    """``generate_item`` unless a previous, interrupted run with the same config finished it.

    Runs with numpy's BLAS on one thread (see ``_threads``): items are parallel across processes.
    """
    state = Path(job.root) / PARTIAL_DIR / f"{job.subset}-{job.index}.json"
    digest = config_digest(job.config)
    if state.is_file():
        try:
            saved = json.loads(state.read_text())
            if saved.get("config") == digest:
                return saved["info"]
        except (OSError, ValueError):
            pass  # unreadable: simulate again
    with single_threaded_blas():
        info = generate_item(job)
    _write_json(state, {"config": digest, "info": info})
    return info


def _run(jobs: list[ItemJob], workers: int, progress: bool) -> Iterable[dict[str, Any]]:
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            yield from tqdm(
                pool.map(generate_or_resume, jobs),
                total=len(jobs),
                disable=not progress,
                desc="sample",
            )
    else:
        yield from tqdm(
            map(generate_or_resume, jobs), total=len(jobs), disable=not progress, desc="sample"
        )


def generate_sample(output_dir: str | os.PathLike[str], config: SampleConfig | None = None) -> Path:
    """Write a complete, format-exact sample dataset under ``output_dir``; returns its path.

    All three sub-datasets (as configured), both versions (``mini`` a subset of ``full``), with
    every stream of spec sections 2-11. Deterministic: the same config gives the same bytes.
    Resumable: after an interruption, a new call with the same config skips the finished items.
    """
    config = SampleConfig.default() if config is None else config
    root = Path(output_dir).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    jobs = plan_items(root, config)
    workers = int(config.workers) if config.workers > 0 else (os.cpu_count() or 1)
    infos = list(_run(jobs, workers, config.progress))
    for subset in (FRAMES, SEQUENCES, DRIVES):
        pairs = [(job, info) for job, info in zip(jobs, infos) if job.subset == subset]
        if not pairs:
            continue
        for version in ("full", "mini"):
            index: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
            for job, info in pairs:
                if version == "mini" and not job.in_mini:
                    continue
                index.setdefault(job.split, []).append(info)
            if any(index.values()):  # no empty version files (e.g. a mini with no drives)
                _write_json(root / TRAINVAL_FILES[subset][version], index)
    shutil.rmtree(root / PARTIAL_DIR, ignore_errors=True)
    return root
