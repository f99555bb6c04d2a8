"""`zod convert shards`: ZOD Frames to WebDataset-style tar shards (zod.converters.shards).

Registered by `cli/convert.py`'s ``register`` (``convert_app.command("shards")(shards)``).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli._common import DATASET_ROOT, ROOT, VERSION, AnonymizationName, VersionName, fail
from cli.convert import ANON, OUT, _convert, _frames_root_and_version, _run_options

if TYPE_CHECKING:
    from zod.converters.runner import RunOptions

__all__ = ["shards"]


class ShardSplit(str, Enum):
    train = "train"
    val = "val"
    all = "all"


class ShardImageMode(str, Enum):
    original = "original"
    jpeg = "jpeg"
    pinhole = "pinhole"


class LidarCodec(str, Enum):
    npy = "npy"
    bsz = "bsz"


class ShardModality(str, Enum):
    image = "image"
    lidar = "lidar"
    objects = "objects"
    ego_road = "ego_road"
    lanes = "lanes"


@_run_options
def shards(
    root: str | None = ROOT,
    output_dir: Path = OUT,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    split: ShardSplit = typer.Option(ShardSplit.train, "--split", help="Frames to write."),
    modalities: list[ShardModality] = typer.Option(
        [ShardModality.image, ShardModality.lidar, ShardModality.objects],
        "--modality",
        help="What each sample holds (repeat the option).",
    ),
    anonymization: AnonymizationName = ANON,
    image_mode: ShardImageMode = typer.Option(
        ShardImageMode.original,
        "--image-mode",
        help="original: the JPEG bytes; jpeg: re-encoded at --image-scale; pinhole: rectified.",
    ),
    image_scale: float = typer.Option(
        1.0, "--image-scale", help="Scale of the re-encoded image (1, 0.5, 0.25, 0.125)."
    ),
    jpeg_quality: int = typer.Option(90, "--jpeg-quality", min=1, max=100),
    pinhole_fov: float = typer.Option(90.0, "--pinhole-fov", help="Pinhole horizontal FOV (deg)."),
    pinhole_width: int = typer.Option(1920, "--pinhole-width", min=1),
    pinhole_height: int = typer.Option(1080, "--pinhole-height", min=1),
    num_before: int = typer.Option(0, "--num-before", min=0, help="Lidar scans before the core."),
    num_after: int = typer.Option(0, "--num-after", min=0, help="Lidar scans after the core."),
    compensate: bool = typer.Option(
        True, "--compensate/--no-compensate", help="Motion-compensate aggregated scans."
    ),
    lidar_codec: LidarCodec = typer.Option(
        LidarCodec.npy,
        "--lidar-codec",
        help="npy: plain float32 table, fastest to read; bsz: byte-shuffled zlib, half the bytes.",
    ),
    shard_size_mb: float = typer.Option(1024.0, "--shard-size-mb", help="Target shard size."),
    samples_per_shard: int | None = typer.Option(
        None, "--samples-per-shard", min=1, help="Fixed samples per shard (overrides the size)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample order."),
    shuffle: bool = typer.Option(True, "--shuffle/--no-shuffle", help="Permute the frames."),
    prefix: str = typer.Option("shard", "--prefix", help="Shard file names: <prefix>-000000.tar"),
    verify: bool = typer.Option(
        False, "--verify", help="Re-hash existing shards before keeping them."
    ),
    run: RunOptions | None = None,
) -> None:
    """Tar shards of training samples (image, lidar, boxes, masks) and manifest.json."""
    from zod.converters.shards import ShardConfig, convert_to_shards

    root_path, version_name = _frames_root_and_version(root, dataset_root_option, version)
    pinhole = None
    if image_mode == ShardImageMode.pinhole:
        pinhole = {
            "name": "pinhole",
            "horizontal_fov_deg": pinhole_fov,
            "width_px": pinhole_width,
            "height_px": pinhole_height,
        }
    try:
        config = ShardConfig(
            modalities=tuple(m.value for m in modalities),
            anonymization=anonymization.value,
            image_mode=image_mode.value,
            image_scale=image_scale,
            jpeg_quality=jpeg_quality,
            pinhole=pinhole,
            lidar_scans=(num_before, num_after),
            lidar_compensate=compensate,
            lidar_codec=lidar_codec.value,
        )
    except ValueError as err:
        fail(err)
    manifest = _convert(
        convert_to_shards,
        root_path,
        output_dir,
        version_name,
        None if split == ShardSplit.all else split.value,
        config,
        shard_size_mb,
        samples_per_shard,
        seed if shuffle else None,
        prefix,
        verify=verify,
        options=run,
    )
    typer.echo(
        f"Wrote {manifest['num_samples']} samples in {len(manifest['shards'])} shards "
        f"({manifest['num_bytes'] / 1e6:.1f} MB) under {output_dir}"
    )
    if manifest["missing"]:
        typer.echo(
            f"{len(manifest['missing'])} frame(s) skipped (missing files): see manifest.json"
        )
