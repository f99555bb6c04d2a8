"""`zod convert pointcloud` on the sample, read back with open3d and compared to the reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open3d as o3d

from zod.converters.pointcloud import convert_to_pointclouds


def test_pcd_and_ply_read_back_with_open3d(sample_root: Path, tmp_path: Path) -> None:
    from zod.constants import Lidar
    from zod.dataset import ZodFrames

    index = json.loads((sample_root / "trainval-frames-mini.json").read_text())
    frames = ZodFrames(str(sample_root), "mini")
    convert_to_pointclouds(sample_root, tmp_path / "pcd", "mini", "pcd", workers=2, progress=False)
    convert_to_pointclouds(
        sample_root,
        tmp_path / "ply",
        "mini",
        "ply",
        num_before=1,
        num_after=1,
        coordinate_frame="ego",
        workers=1,
        progress=False,
    )
    for split in ("train", "val"):
        for info in index[split]:
            frame = frames[info["id"]]
            keyframe_s = frame.info.keyframe_time.timestamp()
            cloud = o3d.t.io.read_point_cloud(str(tmp_path / "pcd" / split / f"{info['id']}.pcd"))
            lidar = frame.get_lidar()[0]
            np.testing.assert_allclose(cloud.point.positions.numpy(), lidar.points, atol=1e-5)
            np.testing.assert_array_equal(
                cloud.point.intensity.numpy().ravel(), np.asarray(lidar.intensity, dtype=np.float32)
            )
            np.testing.assert_allclose(
                cloud.point.time.numpy().ravel(), lidar.timestamps - keyframe_s, atol=1e-6
            )
            # the core scan spans ~0.1 s around the key frame
            assert np.abs(cloud.point.time.numpy()).max() < 0.2
            # aggregated (3 scans) and in the ego frame
            aggregated = frame.get_aggregated_lidar(num_before=1, num_after=1)
            cloud = o3d.t.io.read_point_cloud(str(tmp_path / "ply" / split / f"{info['id']}.ply"))
            ego_from_lidar = frame.calibration.get_extrinsics(Lidar.VELODYNE).transform
            expected = aggregated.points @ ego_from_lidar[:3, :3].T + ego_from_lidar[:3, 3]
            assert len(aggregated.points) > len(lidar.points)
            np.testing.assert_allclose(cloud.point.positions.numpy(), expected, atol=1e-4)
            np.testing.assert_allclose(
                cloud.point.time.numpy().ravel(), aggregated.timestamps - keyframe_s, atol=1e-6
            )
