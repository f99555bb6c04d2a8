"""`zod convert nuscenes`: ZOD Frames or Sequences to the nuScenes v1.0 layout.

A thin layer over :func:`zod.converters.nuscenes.convert_to_nuscenes`. ``register(convert_app)``
adds the command to the `convert` group (``cli/convert.py`` calls it).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from cli._common import VersionName, fail


class NuScenesSubset(str, Enum):
    frames = "frames"
    sequences = "sequences"


class NuScenesCameras(str, Enum):
    rig = "rig"
    front = "front"
    none = "none"


class Anonymization(str, Enum):
    blur = "blur"
    dnat = "dnat"


class Engine(str, Enum):
    local = "local"
    ray = "ray"


def nuscenes(
    dataset_root: Path = typer.Option(
        ...,
        "--dataset-root",
        exists=True,
        file_okay=False,
        resolve_path=True,
        help="Root of the ZOD dataset.",
    ),
    output_dir: Path = typer.Option(
        ...,
        "--output-dir",
        file_okay=False,
        resolve_path=True,
        help="nuScenes dataroot to write (created if needed).",
    ),
    version: VersionName = typer.Option(VersionName.full, "--version", help="Dataset version."),
    subset: NuScenesSubset = typer.Option(
        NuScenesSubset.frames,
        "--subset",
        help="frames: one-sample scenes; sequences: scenes of many samples.",
    ),
    nuscenes_version: str = typer.Option(
        "v1.0-trainval", "--nuscenes-version", help="Table folder name (NuScenes(version=...))."
    ),
    anonymization: Anonymization = typer.Option(
        Anonymization.blur, "--anonymization", help="Image anonymization."
    ),
    cameras: NuScenesCameras = typer.Option(
        NuScenesCameras.rig,
        "--cameras",
        help="rig: CAM_FRONT_LEFT / CAM_FRONT / CAM_FRONT_RIGHT pinhole views; front: CAM_FRONT "
        "(90 degrees); none: lidar only.",
    ),
    sweeps_before: int = typer.Option(
        10, "--sweeps-before", min=0, help="Frames: scans before the key scan written as sweeps."
    ),
    sweeps_after: int = typer.Option(
        10, "--sweeps-after", min=0, help="Frames: scans after the key scan written as sweeps."
    ),
    sample_rate_hz: float = typer.Option(
        2.0,
        "--sample-rate",
        min=0.0,
        help="Sequences: samples per second (camera frames; 0: every camera frame).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", "--num-workers", min=1, help="Worker processes (default: all cores)."
    ),
    engine: Engine = typer.Option(
        Engine.local, "--engine", help="local: process pool; ray: a Ray cluster through Ray Data."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster address (default: start or join a local one)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo items whose outputs exist (default: skip them, resuming)."
    ),
    skip_missing: bool = typer.Option(
        False, "--skip-missing", help="Skip (and list) items with missing files instead of failing."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """nuScenes v1.0 layout: <version>/*.json tables, samples/, sweeps/, maps/ (docs/convert.md)."""
    from zod.converters.nuscenes import convert_to_nuscenes
    from zod.errors import ZodError

    try:
        table_dir = convert_to_nuscenes(
            dataset_root,
            output_dir,
            version=version.value,
            subset=subset.value,
            nuscenes_version=nuscenes_version,
            anonymization=anonymization.value,
            cameras=cameras.value,
            sweeps_before=sweeps_before,
            sweeps_after=sweeps_after,
            sample_rate_hz=sample_rate_hz or None,
            overwrite=overwrite,
            skip_missing=skip_missing,
            engine=engine.value,
            workers=workers,
            ray_address=ray_address,
            progress=progress,
        )
    except (ZodError, ValueError) as err:
        fail(err)
    typer.echo(f"Converted ZOD {subset.value} to nuScenes: tables in {table_dir}")
    typer.echo(
        f"    NuScenes(version={nuscenes_version!r}, dataroot={str(output_dir)!r}); "
        "splits zod_train / zod_val in splits.json"
    )


def register(convert_app: typer.Typer) -> None:
    """Add `nuscenes` to the `convert` group."""
    convert_app.command("nuscenes", no_args_is_help=True)(nuscenes)
