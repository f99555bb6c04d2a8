"""`zod convert coco|yolo|kitti|pointcloud|tsr-patches|nuscenes` and the reference's
`zod generate ...`.

A thin layer over :mod:`zod.converters`: options in, one library call, a summary out.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli._common import (
    DATASET_ROOT,
    ROOT,
    VERSION,
    AnonymizationName,
    EngineName,
    PinholeViewsName,
    VersionName,
    dataset_root,
    dataset_version,
    fail,
    progress_option,
)
from zod.converters import DEFAULT_CLASSES

if TYPE_CHECKING:
    from zod.converters.runner import RunOptions


class ImageMode(str, Enum):
    symlink = "symlink"
    hardlink = "hardlink"
    copy = "copy"
    none = "none"


class KittiImageMode(str, Enum):
    symlink = "symlink"
    hardlink = "hardlink"
    copy = "copy"
    png = "png"
    jpeg = "jpeg"
    none = "none"


class KittiCamera(str, Enum):
    pinhole = "pinhole"
    fisheye = "fisheye"


class CloudFormat(str, Enum):
    pcd = "pcd"
    ply = "ply"


class CloudFrame(str, Enum):
    lidar = "lidar"
    ego = "ego"


class LabelType(str, Enum):
    class_ = "class"
    subclass = "subclass"


OUT = typer.Option(
    ...,
    "--output-dir",
    file_okay=False,
    resolve_path=True,
    help="Output directory (created if needed).",
)
ANON = typer.Option(AnonymizationName.blur, "--anonymization", help="Image anonymization.")

# The run options every converter takes (name -> (type, typer option)): added to each command by
# `_run_options`, which gives it one `RunOptions` (zod.converters.runner) built from them.
_RUN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "workers": (
        int | None,
        typer.Option(
            None,
            "--workers",
            "--num-workers",
            min=0,
            help="Worker processes (default and 0: all cores; 1: no pool).",
        ),
    ),
    "engine": (
        EngineName,
        typer.Option(
            EngineName.local,
            "--engine",
            help="local: process pool; ray: a Ray cluster through Ray Data.",
        ),
    ),
    "ray_address": (
        str | None,
        typer.Option(
            None, "--ray-address", help="Ray cluster address (default: start or join a local one)."
        ),
    ),
    "overwrite": (
        bool,
        typer.Option(
            False,
            "--overwrite",
            help="Redo frames whose outputs exist (default: skip them, resuming).",
        ),
    ),
    "skip_missing": (
        bool,
        typer.Option(
            False,
            "--skip-missing",
            help="Skip (and list) frames with missing files instead of failing.",
        ),
    ),
    "progress": (bool, progress_option()),
}


def _run_options(command: Callable[..., None]) -> Callable[..., None]:
    """Append the `_RUN_OPTIONS` to ``command``'s options; it gets them as one ``run:
    RunOptions`` (built here, once, for the library call)."""
    # RunOptions is imported for type checkers only (start-up time): a stand-in evaluates `run`'s
    # annotation, and `run` is no command-line option anyway.
    hints = typing.get_type_hints(command, localns={"RunOptions": object})
    signature = inspect.signature(command)
    own = [
        p.replace(annotation=hints[p.name])
        for p in signature.parameters.values()
        if p.name != "run"
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, (kind, option) in _RUN_OPTIONS.items()
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        from zod.converters.runner import RunOptions

        values = {name: kwargs.pop(name) for name in _RUN_OPTIONS}
        values["engine"] = EngineName(values["engine"]).value
        try:
            run = RunOptions(**values)
        except ValueError as err:
            fail(err)
        command(**kwargs, run=run)

    wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
    del wrapper.__wrapped__  # typer must see the new signature, not the wrapped one
    return wrapper


def _convert(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``; a devkit error or a bad value exits through `fail`."""
    from zod.errors import ZodError

    try:
        return call(*args, **kwargs)
    except (ZodError, ValueError) as err:
        fail(err)


def _frames_root_and_version(
    root: str | None, dataset_root_option: str | None, version: VersionName | None
) -> tuple[Path | str, str]:
    """The dataset root (ROOT or --dataset-root) and the Frames version to convert."""
    path = dataset_root(root, dataset_root_option)
    return path, dataset_version(path, "frames", version)


@_run_options
def coco(
    root: str | None = ROOT,
    output_dir: Path = OUT,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    anonymization: AnonymizationName = ANON,
    use_png: bool = typer.Option(
        False, "--use-png/--no-use-png", help="Name the images .png instead of .jpg."
    ),
    classes: list[str] = typer.Option(
        list(DEFAULT_CLASSES), "--classes", help="Object classes to include (repeat the option)."
    ),
    relative_paths: bool = typer.Option(
        False,
        "--relative-paths",
        help="Image file names relative to the dataset root (default: absolute, as the reference).",
    ),
    segmentation: list[str] = typer.Option(
        [],
        "--segmentation",
        help="Also write segmentation files for ego_road and/or lane_markings (repeat).",
    ),
    run: RunOptions | None = None,
) -> None:
    """COCO 2D detection json: zod_<version>_<anonymization>[_png]_{train,val}.json."""
    from zod.converters.coco import convert_to_coco

    root_path, version_name = _frames_root_and_version(root, dataset_root_option, version)
    paths = _convert(
        convert_to_coco,
        root_path,
        output_dir,
        version_name,
        anonymization.value,
        use_png,
        classes,
        relative_paths=relative_paths,
        segmentation=segmentation,
        options=run,
    )
    typer.echo("Converted ZOD to COCO format. Output files:")
    for split, out_path in paths.items():
        typer.echo(f"    {split}:  {out_path}")


@_run_options
def yolo(
    root: str | None = ROOT,
    output_dir: Path = OUT,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    anonymization: AnonymizationName = ANON,
    classes: list[str] = typer.Option(
        list(DEFAULT_CLASSES), "--classes", help="Object classes, in class-index order."
    ),
    image_mode: ImageMode = typer.Option(
        ImageMode.symlink, "--images", help="How images are placed in images/."
    ),
    image_size: int | None = typer.Option(
        None, "--image-size", min=16, help="Resize images: pixels of the long side."
    ),
    include_unclear: bool = typer.Option(False, "--include-unclear", help="Keep unclear objects."),
    run: RunOptions | None = None,
) -> None:
    """YOLO layout: images/, labels/ (class cx cy w h), train.txt, val.txt, data.yaml."""
    from zod.converters.yolo import convert_to_yolo

    root_path, version_name = _frames_root_and_version(root, dataset_root_option, version)
    path = _convert(
        convert_to_yolo,
        root_path,
        output_dir,
        version_name,
        anonymization.value,
        classes,
        image_mode.value,
        image_size,
        include_unclear,
        options=run,
    )
    typer.echo(f"Converted ZOD to YOLO format: {path}")


@_run_options
def kitti(
    root: str | None = ROOT,
    output_dir: Path = OUT,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    anonymization: AnonymizationName = ANON,
    camera: KittiCamera = typer.Option(
        KittiCamera.pinhole,
        "--camera",
        help="pinhole: image_2 is the rectified front view and P2 its exact K; fisheye: the raw "
        "image with a pinhole stand-in P2 (approximate off the centre).",
    ),
    image_mode: KittiImageMode | None = typer.Option(
        None,
        "--images",
        help="How images are placed in image_2/: png (default for pinhole; what OpenPCDet / "
        "mmdet3d open) or jpeg re-encodes; symlink (default for fisheye), hardlink, copy place "
        "the fisheye JPEG; none.",
    ),
    label_type: LabelType = typer.Option(
        LabelType.class_, "--label-type", help="KITTI type column: ZOD class or subclass."
    ),
    kitti_names: bool = typer.Option(
        False,
        "--kitti-names",
        help="KITTI types (Car, Van, Truck, Pedestrian, Cyclist, ...) in the type column, "
        "from the subclasses (table in docs/convert.md).",
    ),
    run: RunOptions | None = None,
) -> None:
    """KITTI 3D object layout: velodyne/, label_2/, calib/, image_2/, ImageSets/."""
    from zod.converters.kitti import convert_to_kitti, resolve_image_mode

    try:
        images = resolve_image_mode(camera.value, None if image_mode is None else image_mode.value)
    except ValueError as err:
        fail(f"--images: {err}", 2)
    if kitti_names and label_type != LabelType.class_:
        fail("--kitti-names maps the subclasses itself: drop --label-type", 2)
    root_path, version_name = _frames_root_and_version(root, dataset_root_option, version)
    path = _convert(
        convert_to_kitti,
        root_path,
        output_dir,
        version_name,
        anonymization.value,
        images,
        label_type.value,
        camera.value,
        kitti_names,
        options=run,
    )
    typer.echo(f"Converted ZOD to KITTI format: {path}")


@_run_options
def pointcloud(
    root: str | None = ROOT,
    output_dir: Path = OUT,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    file_format: CloudFormat = typer.Option(
        CloudFormat.pcd, "--format", help="Point cloud file format."
    ),
    num_before: int = typer.Option(
        0, "--num-before", min=0, help="Scans before the core scan to aggregate."
    ),
    num_after: int = typer.Option(
        0, "--num-after", min=0, help="Scans after the core scan to aggregate."
    ),
    coordinate_frame: CloudFrame = typer.Option(
        CloudFrame.lidar, "--frame", help="Coordinate frame of the points."
    ),
    run: RunOptions | None = None,
) -> None:
    """Lidar scans (single or aggregated) to .pcd / .ply with intensity and time."""
    from zod.converters.pointcloud import convert_to_pointclouds

    root_path, version_name = _frames_root_and_version(root, dataset_root_option, version)
    path = _convert(
        convert_to_pointclouds,
        root_path,
        output_dir,
        version_name,
        file_format.value,
        num_before,
        num_after,
        coordinate_frame.value,
        options=run,
    )
    typer.echo(f"Wrote point clouds under {path}")


@_run_options
def tsr_patches(
    root: str | None = ROOT,
    output_dir: Path = OUT,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    padding_factor: float | None = typer.Option(
        None, "--padding-factor", help="Padding as a factor of the box size."
    ),
    padding_px_y: int | None = typer.Option(None, "--padding-px-y", help="Padding in y (pixels)."),
    padding_px_x: int | None = typer.Option(None, "--padding-px-x", help="Padding in x (pixels)."),
    exclude_unclear: bool = typer.Option(
        False, "--exclude-unclear", help="Leave out unclear signs."
    ),
    split_folders: bool = typer.Option(
        True,
        "--split-folders/--no-split-folders",
        help="<out>/<split>/<class>/ (reference layout) or <out>/<class>/.",
    ),
    run: RunOptions | None = None,
) -> None:
    """Traffic-sign crops (<out>/<split>/<class>/<frame>_<uuid>.png) and dataset.json."""
    from zod.converters.tsr_patches import extract_tsr_patches

    root_path, version_name = _frames_root_and_version(root, dataset_root_option, version)
    if padding_factor is not None and (padding_px_x is not None or padding_px_y is not None):
        fail("give --padding-factor or --padding-px-x/--padding-px-y, not both")
    padding_px = None
    if padding_px_x is not None or padding_px_y is not None:
        padding_px = (padding_px_x or 0, padding_px_y or 0)
    path = _convert(
        extract_tsr_patches,
        root_path,
        output_dir,
        version_name,
        "blur",
        padding_factor,
        padding_px,
        exclude_unclear,
        split_folders,
        options=run,
    )
    typer.echo(f"Wrote traffic-sign patches; metadata in {path}")


class NuScenesSubset(str, Enum):
    frames = "frames"
    sequences = "sequences"


@_run_options
def nuscenes(
    root: str | None = ROOT,
    output_dir: Path = typer.Option(
        ...,
        "--output-dir",
        file_okay=False,
        resolve_path=True,
        help="nuScenes dataroot to write (created if needed).",
    ),
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    subset: NuScenesSubset = typer.Option(
        NuScenesSubset.frames,
        "--subset",
        help="frames: one-sample scenes; sequences: scenes of many samples.",
    ),
    nuscenes_version: str = typer.Option(
        "v1.0-trainval", "--nuscenes-version", help="Table folder name (NuScenes(version=...))."
    ),
    anonymization: AnonymizationName = ANON,
    cameras: PinholeViewsName = typer.Option(
        PinholeViewsName.rig,
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
    run: RunOptions | None = None,
) -> None:
    """nuScenes v1.0 layout: <version>/*.json tables, samples/, sweeps/, maps/ (docs/convert.md)."""
    from zod.converters.nuscenes import convert_to_nuscenes

    root_path = dataset_root(root, dataset_root_option)
    version_name = dataset_version(root_path, subset.value, version)
    table_dir = _convert(
        convert_to_nuscenes,
        root_path,
        output_dir,
        version=version_name,
        subset=subset.value,
        nuscenes_version=nuscenes_version,
        anonymization=anonymization.value,
        cameras=cameras.value,
        sweeps_before=sweeps_before,
        sweeps_after=sweeps_after,
        sample_rate_hz=sample_rate_hz or None,
        options=run,
    )
    typer.echo(f"Converted ZOD {subset.value} to nuScenes: tables in {table_dir}")
    typer.echo(
        f"    NuScenes(version={nuscenes_version!r}, dataroot={str(output_dir)!r}); "
        "splits zod_train / zod_val in splits.json"
    )


def register(app: typer.Typer) -> None:
    """Add the `convert` group and the reference-compatible `generate` group."""
    convert_app = typer.Typer(help="Convert ZOD Frames to other formats.", no_args_is_help=True)
    convert_app.command("coco", no_args_is_help=True)(coco)
    convert_app.command("yolo", no_args_is_help=True)(yolo)
    convert_app.command("kitti", no_args_is_help=True)(kitti)
    convert_app.command("pointcloud", no_args_is_help=True)(pointcloud)
    convert_app.command("tsr-patches", no_args_is_help=True)(tsr_patches)
    convert_app.command("nuscenes", no_args_is_help=True)(nuscenes)
    from cli.convert_shards import shards  # imported here: cli.convert_shards imports this module

    convert_app.command("shards", no_args_is_help=True)(shards)
    app.add_typer(convert_app, name="convert")

    generate_app = typer.Typer(
        help="Reference-compatible alias of `zod convert` (coco, tsr-patches).",
        no_args_is_help=True,
    )
    generate_app.command("coco", no_args_is_help=True)(coco)
    generate_app.command("tsr-patches", no_args_is_help=True)(tsr_patches)
    app.add_typer(generate_app, name="generate")
