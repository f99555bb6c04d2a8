"""`--engine ray`: a real local Ray instance converts the sample; the output equals the local
engine's byte for byte."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from zod.converters.coco import convert_to_coco
from zod.converters.kitti import convert_to_kitti


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def _tree(root: Path) -> dict[str, bytes | str]:
    """Relative path -> bytes (or link target for symlinks) of every file under root."""
    out: dict[str, bytes | str] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = (
                os.readlink(path) if path.is_symlink() else path.read_bytes()
            )
    return out


def test_ray_engine_equals_local_engine(local_ray: None, sample_root: Path, tmp_path: Path) -> None:
    local = convert_to_coco(
        sample_root,
        tmp_path / "coco-local",
        "full",
        segmentation=["ego_road"],
        workers=2,
        progress=False,
    )
    remote = convert_to_coco(
        sample_root,
        tmp_path / "coco-ray",
        "full",
        segmentation=["ego_road"],
        engine="ray",
        progress=False,
    )
    for key in local:
        assert remote[key].read_bytes() == local[key].read_bytes(), key
    convert_to_kitti(sample_root, tmp_path / "kitti-local", "full", workers=2, progress=False)
    convert_to_kitti(sample_root, tmp_path / "kitti-ray", "full", engine="ray", progress=False)
    local_tree, ray_tree = _tree(tmp_path / "kitti-local"), _tree(tmp_path / "kitti-ray")
    assert sorted(local_tree) == sorted(ray_tree)
    assert any(name.startswith("training/velodyne/") for name in local_tree)
    for name, content in local_tree.items():
        assert ray_tree[name] == content, name
