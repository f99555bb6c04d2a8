"""Run with either devkit's python: dump what the reference API reads from a dataset as JSON.

Usage: python dump_readers.py DATASET_ROOT. Only the reference devkit's public API is used, so
the output of zod==0.8.0 and of ours can be compared (tests/test_oracle_agreement.py).
"""

import json
import os
import sys

import numpy as np

from zod import ZodDrives, ZodFrames, ZodSequences
from zod.constants import AnnotationProject as AP
from zod.constants import Anonymization, Camera, Lidar

root = sys.argv[1]
out = {}
for cls in (ZodFrames, ZodSequences, ZodDrives):
    for v in ("mini", "full"):
        ds = cls(root, v, mp=False)
        d = out.setdefault(f"{cls.__name__}-{v}", {})
        d["len"] = len(ds)
        d["train"] = sorted(ds.get_split("train"))
        d["val"] = sorted(ds.get_split("val"))
        d["all_ids"] = sorted(ds.get_all_ids())
        d["infos"] = sorted(ds.get_all_infos())
        d["iter"] = [f.info.id for f in ds]
        d["split_proj"] = {p.value: sorted(ds.get_split("train", p)) for p in AP}
        items = {}
        for item_id in d["infos"]:
            f = ds[item_id]
            info = f.info
            it = {
                "start": info.start_time.timestamp(),
                "key": info.keyframe_time.isoformat(),
                "calib_path": info.calibration_path,
                "n_lidar": len(info.get_lidar_frames()),
                "key_lidar": info.get_key_lidar_frame().filepath,
                "key_cam": info.get_key_camera_frame().filepath,
                "lidar_times": [lf.time.timestamp() for lf in info.get_lidar_frames()][:5],
                "radar": None
                if not info.radar_frames
                else [os.path.basename(r.filepath) for r in next(iter(info.radar_frames.values()))],
            }
            scan = info.get_key_lidar_frame().read()
            it["scan"] = [
                scan.points.shape[0],
                float(scan.points.astype(np.float64).sum()),
                float(scan.timestamps.min()),
                float(scan.timestamps.max()),
                int(scan.intensity.sum()),
                int(scan.diode_idx.sum()),
                scan.core_timestamp,
                str(scan.points.dtype),
            ]
            scan2 = info.get_key_lidar_frame().read(remove_ego_lidar_returns=False)
            it["scan_raw_n"] = scan2.points.shape[0]
            md = f.metadata
            fields = (
                (
                    "frame_id",
                    "time",
                    "country_code",
                    "scraped_weather",
                    "collection_car",
                    "road_type",
                    "road_condition",
                    "time_of_day",
                    "num_lane_instances",
                    "num_vehicles",
                    "num_vulnerable_vehicles",
                    "num_pedestrians",
                    "num_traffic_lights",
                    "num_traffic_signs",
                    "longitude",
                    "latitude",
                    "solar_angle_elevation",
                )
                if cls is ZodFrames
                else (
                    "sequence_id",
                    "start_time",
                    "end_time",
                    "country_code",
                    "collection_car",
                    "longitude",
                    "latitude",
                )
            )
            it["metadata"] = {
                k: (
                    getattr(md, k).isoformat()
                    if hasattr(getattr(md, k), "isoformat")
                    else getattr(md, k)
                )
                for k in fields
            }
            it["calib"] = [
                f.calibration.cameras[Camera.FRONT].intrinsics.tolist(),
                f.calibration.lidars[Lidar.VELODYNE].extrinsics.transform.tolist(),
            ]
            em = f.ego_motion
            it["ego_motion"] = [
                float(em.timestamps[0]),
                float(em.timestamps[-1]),
                em.poses[len(em.poses) // 2].tolist(),
            ]
            ox = f.oxts
            it["oxts"] = [
                len(ox.timestamps),
                float(ox.timestamps[0]),
                float(ox.timestamps[-1]),
                list(map(float, ox.origin_lat_lon)),
            ]
            annos = {}
            for p in AP:
                if not f.is_annotated(p):
                    continue
                try:
                    a = f.get_annotation(p)
                except Exception as e:
                    annos[p.value] = "ERROR " + type(e).__name__
                    continue
                if p == AP.OBJECT_DETECTION:
                    annos[p.value] = [
                        [
                            o.uuid,
                            o.name,
                            o.subclass,
                            o.unclear,
                            o.box2d.xyxy.tolist(),
                            None
                            if o.box3d is None
                            else o.box3d.center.tolist()
                            + o.box3d.size.tolist()
                            + list(o.box3d.orientation.elements),
                            o.object_type,
                            o.occlusion_level,
                            o.artificial,
                            o.with_rider,
                            o.emergency,
                            o.traffic_content_visible,
                        ]
                        for o in a
                    ]
                elif p == AP.TRAFFIC_SIGNS:
                    try:
                        annos[p.value] = [
                            [
                                s.uuid,
                                s.traffic_sign_class,
                                s.traffic_sign_idx,
                                s.unclear,
                                s.bounding_box.xyxy.tolist(),
                                s.occlusion_ratio,
                                s.electronic_sign,
                            ]
                            for s in a
                        ]
                    except Exception as e:
                        annos[p.value] = "ERROR " + repr(e)
                elif p == AP.LANE_MARKINGS:
                    annos[p.value] = [
                        [type(m).__name__, m.uuid, getattr(m, "type", None), m.geometry] for m in a
                    ]
                elif p == AP.EGO_ROAD:
                    annos[p.value] = [[e.uuid, e.type.value, e.geometry] for e in a]
                else:
                    annos[p.value] = [a.wet, a.snowy]
            it["annotations"] = annos
            if cls is ZodFrames:
                img = f.get_image(Anonymization.BLUR)
                it["image"] = [list(img.shape), float(img.astype(np.float64).mean())]
                it["lidar_frames_2_3"] = [lf.filepath for lf in f.get_lidar_frames(2, 3)]
            else:
                vd = f.vehicle_data
                it["vd"] = [
                    float(np.sum(vd.ego_vehicle_data.lat_vel)),
                    int(vd.satellite.timstamp[0]),
                    float(np.sum(vd.ego_vehicle_controls.steering_angle)),
                ]
                if info.radar_frames:
                    from zod.data_classes.sensor import RadarData

                    rf = next(iter(info.radar_frames.values()))[0]
                    r = RadarData.from_npy(
                        rf.filepath
                        if os.path.isabs(rf.filepath)
                        else os.path.join(root, rf.filepath)
                    )
                    it["radar_data"] = [
                        len(r.radar_range),
                        float(r.get_cartesian_coordinates().sum()),
                        int(r.timestamp[0]),
                    ]
            items[item_id] = it
        d["items"] = items
json.dump(out, sys.stdout, default=str)
