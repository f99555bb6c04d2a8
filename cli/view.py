"""`zod view ROOT ID`: a frame, sequence or drive in rerun's interactive viewer.

A thin layer over :mod:`zod.viz.rerun_log`: open the item, log it to a recording that is saved
(``--save out.rrd``, open it with ``rerun out.rrd``) or served to the web viewer (``--serve``).
"""

from __future__ import annotations

import time
import urllib.parse
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from cli._common import (
    DATASET_ROOT,
    ITEM_ID,
    ROOT,
    VERSION,
    AnonymizationName,
    PinholeViewsName,
    SubsetName,
    VersionName,
    fail,
    open_item,
    progress_option,
)
from zod.errors import ZodError

if TYPE_CHECKING:
    from zod.calibration import Calibration
    from zod.viz.rerun_log import RectifiedView


class LidarColorName(str, Enum):
    height = "height"
    intensity = "intensity"
    time = "time"


_SCALES = {"1": 1.0, "1/2": 0.5, "1/4": 0.25, "1/8": 0.125}


def _pinhole_views(choice: PinholeViewsName, calibration: Calibration) -> tuple[RectifiedView, ...]:
    """The ``--pinhole`` views as RectifiedViews of the item's front camera."""
    if choice is PinholeViewsName.none:
        return ()
    from zod.geometry.pinhole import FRONT_VIEW, THREE_VIEW_RIG
    from zod.viz.rerun_log import RectifiedView

    views = (FRONT_VIEW,) if choice is PinholeViewsName.front else THREE_VIEW_RIG
    return tuple(RectifiedView.from_pinhole(v, calibration) for v in views)


def view(
    root: str | None = ROOT,
    item_id: str | None = ITEM_ID,
    dataset_root_option: str | None = DATASET_ROOT,
    subset: SubsetName = typer.Option(SubsetName.frames, "--subset", help="Sub-dataset."),
    version: VersionName | None = VERSION,
    save: Optional[Path] = typer.Option(  # noqa: UP045 (typer)
        None, "--save", help="Write the recording to this .rrd file (default: <id>.rrd)."
    ),
    serve: bool = typer.Option(
        False, "--serve", help="Serve the recording to rerun's web viewer instead of saving."
    ),
    web_port: int = typer.Option(9090, "--web-port", help="Port of the web viewer (--serve)."),
    grpc_port: int = typer.Option(9876, "--grpc-port", help="Port of the data server (--serve)."),
    predictions: Optional[Path] = typer.Option(  # noqa: UP045 (typer)
        None,
        "--predictions",
        exists=True,
        dir_okay=False,
        help="Detection predictions JSON (the format of `zod eval detection`): boxes coloured "
        "by match, green true positive, red false positive.",
    ),
    min_score: float = typer.Option(0.0, "--min-score", min=0.0, help="Predictions to show."),
    color_by: LidarColorName = typer.Option(
        LidarColorName.height, "--color-by", help="Lidar colours: height, intensity, time."
    ),
    compensate: bool = typer.Option(
        False, "--compensate", help="Motion-compensate every scan (pointwise, to its core time)."
    ),
    aggregate: int = typer.Option(
        0,
        "--aggregate",
        min=0,
        help="Also log at the keyframe the key scan with N scans on each side, compensated.",
    ),
    num_scans_before: int = typer.Option(
        0, "--num-scans-before", min=0, help="Frames: scans before the core scan, at their times."
    ),
    num_scans_after: int = typer.Option(
        0, "--num-scans-after", min=0, help="Frames: scans after the core scan, at their times."
    ),
    image_scale: str = typer.Option(
        "1", "--image-scale", help="1 (the JPEG files as they are), 1/2, 1/4 or 1/8."
    ),
    anonymization: AnonymizationName = typer.Option(AnonymizationName.blur, "--anonymization"),
    pinhole: PinholeViewsName = typer.Option(
        PinholeViewsName.none,
        "--pinhole",
        help="Also log exact pinhole views of the fisheye (front: 90 degrees; rig: left, front, "
        "right), where rerun's 3D overlay is exact.",
    ),
    start: Optional[float] = typer.Option(  # noqa: UP045 (typer)
        None, "--start", min=0.0, help="Sequences/drives: from this many seconds after the start."
    ),
    end: Optional[float] = typer.Option(  # noqa: UP045 (typer)
        None, "--end", min=0.0, help="Sequences/drives: up to this many seconds after the start."
    ),
    radar: bool = typer.Option(True, "--radar/--no-radar", help="Log radar points."),
    signals: bool = typer.Option(
        True, "--signals/--no-signals", help="Log oxts and vehicle data time series."
    ),
    progress: bool = progress_option(),
) -> None:
    """Log one frame, sequence or drive to rerun (sensors on their real time line)."""
    if serve and save is not None:
        fail(ValueError("give --save or --serve, not both"))
    if image_scale not in _SCALES:
        fail(ValueError(f"--image-scale must be one of {', '.join(_SCALES)}"))
    try:
        from zod.constants import Anonymization
        from zod.viz import rerun_log as zr

        item = open_item(root, item_id, dataset_root_option, version, subset)
        preds = (
            None
            if predictions is None
            else zr.predictions_for_item(predictions, item.id, min_score)
        )
        options = zr.LogOptions(
            lidar_color=color_by.value,
            compensate=compensate,
            aggregate=aggregate,
            num_scans_before=num_scans_before,
            num_scans_after=num_scans_after,
            image_scale=_SCALES[image_scale],
            anonymization=Anonymization(anonymization.value),
            start_s=start,
            end_s=end,
            radar=radar,
            signals=signals,
            predictions=preds,
            views=_pinhole_views(pinhole, item.calibration),
            progress=progress,
        )
        rec = zr.new_recording(item.id, subset=subset.value)
        blueprint = zr.default_blueprint()
        if serve:
            import rerun as rr

            grpc_url = rec.serve_grpc(grpc_port=grpc_port, default_blueprint=blueprint)
            rr.serve_web_viewer(web_port=web_port, open_browser=False, connect_to=grpc_url)
            viewer_url = f"http://localhost:{web_port}/?url={urllib.parse.quote(grpc_url)}"
            typer.echo(f"web viewer: {viewer_url}")
        else:
            out = save or Path(f"{item.id}.rrd")
            rec.save(out, default_blueprint=blueprint)
        started = time.perf_counter()
        counts = zr.log_item(rec, item, options)
        rec.flush()
    except (ZodError, ValueError, KeyError, ImportError) as err:
        fail(err)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v and k != "missing")
    if serve:
        typer.echo(f"logged {summary} in {time.perf_counter() - started:.1f} s; Ctrl-C stops")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        return
    rec.disconnect()
    typer.echo(f"wrote {out} ({summary}; {time.perf_counter() - started:.1f} s)")


def register(app: typer.Typer) -> None:
    """Add the ``view`` command to the ``zod`` app."""
    app.command("view", no_args_is_help=True)(view)
