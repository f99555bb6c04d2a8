"""`zod visualize frame|bev|lidar|sequence`: pictures and videos of ZOD items.

A thin layer over :mod:`zod.viz`: open the sub-dataset, take one item, render, write.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer

from cli._common import (
    DATASET_ROOT,
    ITEM_ID,
    ROOT,
    VERSION,
    AnonymizationName,
    SubsetName,
    VersionName,
    fail,
    open_item,
    progress_option,
)


class ColorBy(str, Enum):
    height = "height"
    intensity = "intensity"


class ColorBy3D(str, Enum):
    height = "height"
    intensity = "intensity"
    distance = "distance"


class CameraView(str, Enum):
    chase = "chase"
    top = "top"


class View(str, Enum):
    camera = "camera"
    bev = "bev"


BEFORE = typer.Option(
    0, "--num-scans-before", min=0, help="Aggregate this many lidar scans before the key scan."
)
AFTER = typer.Option(
    0, "--num-scans-after", min=0, help="Aggregate this many lidar scans after the key scan."
)
PREDICTIONS = typer.Option(
    None,
    "--predictions",
    exists=True,
    dir_okay=False,
    help="Detection predictions JSON (zod eval format): drawn in white.",
)
MIN_SCORE = typer.Option(
    0.3, "--min-score", min=0.0, help="Draw predictions with at least this score."
)


def frame(
    root: str | None = ROOT,
    item_id: str | None = ITEM_ID,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    subset: SubsetName = typer.Option(
        SubsetName.frames, "--subset", help="Sub-dataset of the item (its keyframe)."
    ),
    layers: str = typer.Option(
        "image,boxes3d,lidar,masks,trajectory,labels",
        "--layers",
        help="Comma-separated: image, boxes2d, boxes3d, lidar, masks, trajectory, labels (or all).",
    ),
    out: Path = typer.Option(
        Path("frame.png"), "--out", "-o", help="Output picture (.png / .jpg)."
    ),
    scale: float = typer.Option(
        0.5, "--scale", min=0.05, max=1.0, help="Picture size relative to the full image."
    ),
    anonymization: AnonymizationName = typer.Option(
        AnonymizationName.blur, "--anonymization", help="Image anonymization."
    ),
    num_scans_before: int = BEFORE,
    num_scans_after: int = AFTER,
    max_depth: float = typer.Option(
        60.0, "--max-depth", min=1.0, help="Depth (m) at the red end of the lidar colours."
    ),
    predictions: Path | None = PREDICTIONS,
    min_score: float = MIN_SCORE,
) -> None:
    """The key camera image with boxes, lidar, masks, trajectory and labels drawn."""
    from zod.constants import Anonymization
    from zod.errors import ZodError
    from zod.viz.frame import parse_layers, render_frame_image

    try:
        item = open_item(root, item_id, dataset_root_option, version, subset)
        picture = render_frame_image(
            item,
            parse_layers(layers),
            anonymization=Anonymization(anonymization.value),
            scale=scale,
            num_scans_before=num_scans_before,
            num_scans_after=num_scans_after,
            max_depth_m=max_depth,
            predictions=_predictions(predictions, item, min_score),
        )
        _write_picture(out, picture)
    except (ZodError, ValueError, KeyError) as err:
        fail(err)
    typer.echo(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]})")


def _predictions(path: Path | None, item: Any, min_score: float) -> Any:
    """The item's predicted boxes from ``--predictions`` (None without the option)."""
    if path is None:
        return None
    from zod.viz.frame import predictions_for_item

    return predictions_for_item(path, item.info.id, min_score)


def _write_picture(out: Path, picture: Any) -> None:
    """PNG through zod.viz.colors.write_png; other types (.jpg) by OpenCV; atomic either way."""
    from zod.viz.colors import write_png

    if out.suffix.lower() == ".png":
        write_png(out, picture)
        return
    import cv2

    from zod._atomic import atomic_write_bytes

    ok, data = cv2.imencode(out.suffix.lower() or ".png", picture[..., ::-1].copy())
    if not ok:
        raise ValueError(f"cannot write a picture as {out.suffix!r}; use .png or .jpg")
    atomic_write_bytes(out, data.tobytes())


def bev(
    root: str | None = ROOT,
    item_id: str | None = ITEM_ID,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    subset: SubsetName = typer.Option(
        SubsetName.frames, "--subset", help="Sub-dataset of the item."
    ),
    out: Path = typer.Option(Path("bev.png"), "--out", "-o", help="Output picture (.png)."),
    forward: float = typer.Option(
        80.0, "--forward", min=1.0, help="Metres shown ahead of the ego."
    ),
    backward: float = typer.Option(
        20.0, "--backward", min=0.0, help="Metres shown behind the ego."
    ),
    side: float = typer.Option(40.0, "--side", min=1.0, help="Metres shown on each side."),
    resolution: float = typer.Option(0.1, "--resolution", min=0.01, help="Metres per pixel."),
    color_by: ColorBy = typer.Option(ColorBy.height, "--color-by", help="Point colours."),
    labels: bool = typer.Option(
        False, "--labels/--no-labels", help="Write class names next to boxes."
    ),
    num_scans_before: int = BEFORE,
    num_scans_after: int = AFTER,
    predictions: Path | None = PREDICTIONS,
    min_score: float = MIN_SCORE,
) -> None:
    """Bird's-eye view of the lidar with 3D boxes, the ego and its path (ego frame, x up)."""
    from zod.errors import ZodError
    from zod.viz.bev import BevGrid
    from zod.viz.frame import render_frame_bev

    try:
        item = open_item(root, item_id, dataset_root_option, version, subset)
        grid = BevGrid((-backward, forward), (-side, side), resolution)
        picture = render_frame_bev(
            item,
            grid,
            num_scans_before=num_scans_before,
            num_scans_after=num_scans_after,
            color_by=color_by.value,
            labels=labels,
            predictions=_predictions(predictions, item, min_score),
        )
        _write_picture(out, picture)
    except (ZodError, ValueError, KeyError) as err:
        fail(err)
    typer.echo(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]})")


def lidar(
    root: str | None = ROOT,
    item_id: str | None = ITEM_ID,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    subset: SubsetName = typer.Option(
        SubsetName.frames, "--subset", help="Sub-dataset of the item."
    ),
    out: Path = typer.Option(
        Path("lidar.png"),
        "--out",
        "-o",
        help=".png: offscreen 3D render; .ply: point cloud (+ _boxes.ply).",
    ),
    width: int = typer.Option(1280, "--width", min=16),
    height: int = typer.Option(720, "--height", min=16),
    color_by: ColorBy3D = typer.Option(ColorBy3D.height, "--color-by", help="Point colours."),
    point_size: float = typer.Option(2.0, "--point-size", min=0.5),
    camera: CameraView = typer.Option(
        CameraView.chase, "--camera", help="chase: behind and above; top: from above."
    ),
    show: bool = typer.Option(
        False, "--show", help="Open an interactive open3d window (needs a display)."
    ),
    num_scans_before: int = BEFORE,
    num_scans_after: int = AFTER,
) -> None:
    """3D scene (open3d) of the lidar and the 3D boxes, in the ego frame."""
    from zod.errors import ZodError
    from zod.viz import open3d_viz as v3
    from zod.viz.frame import frame_scene

    try:
        item = open_item(root, item_id, dataset_root_option, version, subset)
        scene = frame_scene(
            item,
            num_scans_before=num_scans_before,
            num_scans_after=num_scans_after,
            color_by=color_by.value,
        )
        boxes = scene["corners"] if len(scene["corners"]) else None
        from zod.viz.colors import class_colors

        box_colors = class_colors(scene["classes"]) if boxes is not None else None
        if show:
            v3.show(
                v3.scene_geometries(scene["points"], scene["colors"], boxes, box_colors),
                f"zod {item_id}",
            )
            return
        if out.suffix.lower() == ".ply":
            written = v3.export_ply(out, scene["points"], scene["colors"], boxes, box_colors)
            typer.echo("wrote " + ", ".join(str(p) for p in written))
            return
        geoms = v3.scene_geometries(scene["points"], scene["colors"], boxes, box_colors)
        try:
            view = v3.top_camera() if camera == CameraView.top else v3.default_camera()
            picture = v3.render_offscreen(
                geoms,
                width,
                height,
                eye=view["eye"].tolist(),
                center=view["center"].tolist(),
                up=view["up"].tolist(),
                point_size=point_size,
            )
        except v3.OffscreenUnavailableError as err:
            ply = out.with_suffix(".ply")
            written = v3.export_ply(ply, scene["points"], scene["colors"], boxes, box_colors)
            typer.echo(f"WARNING: {err}\nwrote " + ", ".join(str(p) for p in written), err=True)
            return
        _write_picture(out, picture)
    except (ZodError, ValueError, KeyError, ImportError, RuntimeError) as err:
        fail(err)
    typer.echo(f"wrote {out} ({width}x{height})")


def sequence(
    root: str | None = ROOT,
    item_id: str | None = ITEM_ID,
    dataset_root_option: str | None = DATASET_ROOT,
    version: VersionName | None = VERSION,
    subset: SubsetName = typer.Option(
        SubsetName.sequences, "--subset", help="sequences or drives."
    ),
    out: Path = typer.Option(
        Path("clip.mp4"), "--out", "-o", help="Output video: .mp4, .avi or .gif."
    ),
    view: View = typer.Option(
        View.camera, "--view", help="camera: images with lidar; bev: lidar from above."
    ),
    fps: float = typer.Option(5.0, "--fps", min=0.1),
    scale: float = typer.Option(
        0.25, "--scale", min=0.05, max=1.0, help="Camera picture size (camera view)."
    ),
    stride: int = typer.Option(1, "--stride", min=1, help="Use every n-th camera image / scan."),
    max_frames: int | None = typer.Option(
        None, "--max-frames", min=1, help="Stop after this many pictures."
    ),
    progress: bool = progress_option(),
    workers: int = typer.Option(
        1, "--workers", min=0, help="Threads rendering pictures (0: all cores)."
    ),
) -> None:
    """A video of a sequence or drive with the lidar (and keyframe boxes) drawn."""
    from zod.errors import ZodError
    from zod.viz.frame import render_sequence_video

    if subset == SubsetName.frames:
        fail("a video needs a sequence or a drive: --subset sequences|drives")
    try:
        item = open_item(root, item_id, dataset_root_option, version, subset)
        path = render_sequence_video(
            item,
            out,
            view.value,
            fps=fps,
            scale=scale,
            stride=stride,
            max_frames=max_frames,
            progress=progress,
            workers=workers,
        )
    except (ZodError, ValueError, KeyError, RuntimeError) as err:
        fail(err)
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``visualize`` command group to the ``zod`` app."""
    group = typer.Typer(
        help="Pictures and videos: camera overlays, bird's-eye view, 3D (open3d), sequence videos.",
        no_args_is_help=True,
    )
    group.command("frame")(frame)
    group.command("bev")(bev)
    group.command("lidar")(lidar)
    group.command("sequence")(sequence)
    app.add_typer(group, name="visualize")
