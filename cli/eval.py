"""`zod eval detection | traffic-signs | kitti | segmentation | road-condition` (a thin layer
over `zod.eval`)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from cli._common import (
    DATASET_ROOT,
    ROOT,
    USAGE_ERROR,
    VERSION,
    SubsetName,
    VersionName,
    dataset_root,
    dataset_version,
    fail,
)


class SplitChoice(str, Enum):
    TRAIN = "train"
    VAL = "val"


class LevelChoice(str, Enum):
    ALL = "all"
    CLASS = "class"
    SUBCLASS = "subclass"


# Options both commands take.
SPLIT = typer.Option(SplitChoice.VAL, help="Split to evaluate on")
SUBSET = typer.Option(
    SubsetName.frames,
    help="ZOD Frames, or the annotated keyframes of ZOD Sequences (drives have no annotations)",
)
OUTPUT = typer.Option(None, help="Write the metrics JSON here")
WORKERS = typer.Option(1, help="Processes reading the annotations (0: all cores)")
REPORT = typer.Option(
    None, help="Write pictures (PNG) and summary.md / summary.json into this folder"
)


class KittiSplit(str, Enum):
    TRAIN = "train"
    VAL = "val"
    PREDICTED = "predicted"


class SegmentationTaskName(str, Enum):
    EGO_ROAD = "ego_road"
    LANE_MARKINGS = "lane_markings"
    LANE_KINDS = "lane_kinds"


def _root_and_version(
    root: str | None,
    dataset_root_option: str | None,
    version: VersionName | None,
    subset: SubsetName,
) -> tuple[Path | str, str]:
    """The dataset root (ROOT or --dataset-root) and the version of the annotated ``subset``."""
    if subset == SubsetName.drives:
        fail(
            "drives have no annotations to evaluate against: --subset frames|sequences", USAGE_ERROR
        )
    path = dataset_root(root, dataset_root_option)
    return path, dataset_version(path, subset.value, version)


eval_app = typer.Typer(
    name="eval",
    help="Evaluate predictions against the annotations of ZOD Frames (or Sequences).",
    no_args_is_help=True,
)


@eval_app.command("detection")
def detection(
    root: str | None = ROOT,
    dataset_root_option: str | None = DATASET_ROOT,
    predictions: Path = typer.Option(..., help="Predictions JSON (format: docs/eval.md)"),
    version: VersionName | None = VERSION,
    split: SplitChoice = SPLIT,
    subset: SubsetName = SUBSET,
    output: Path | None = OUTPUT,
    level: LevelChoice = typer.Option(
        LevelChoice.ALL, help="Names to score: all 27, the 10 classes, or the 23 subclasses"
    ),
    range_m: float = typer.Option(250.0, "--range", help="Evaluation range (m, xy distance)"),
    only_predicted_frames: bool = typer.Option(
        False, help="Evaluate only the frames present in the predictions file"
    ),
    skip_missing: bool = typer.Option(
        False, help="Skip frames whose object annotation file is not on disk"
    ),
    curves: bool = typer.Option(False, help="Include the 101-point curves in the JSON"),
    workers: int = WORKERS,
    range_bins: str | None = typer.Option(
        None, help="Also score distance bins (m, xy), e.g. 0,50,100,250"
    ),
    by_distance: bool = typer.Option(
        False,
        "--by-distance",
        help="Also score every metric per distance bin: 0-50, 50-100, 100-150, 150-245 m "
        "(or the --range-bins edges)",
    ),
    report: Path | None = REPORT,
) -> None:
    """3D detection, nuScenes style: AP at 0.5/1/2/4 m, TP errors, NDS, per class (and per
    distance bin with --by-distance)."""
    from zod.errors import ZodError
    from zod.eval.detection import (
        LEVELS,
        DetectionConfig,
        evaluate_detection,
        ground_truth_from_dataset,
        read_predictions,
    )
    from zod.eval.detection.constants import DISTANCE_BINS_M
    from zod.eval.detection.evaluate import by_range_dict, evaluate_by_range, write_json_atomic

    root_path, version_name = _root_and_version(root, dataset_root_option, version, subset)

    try:
        preds = read_predictions(predictions)
        frame_ids = preds.frame_ids if only_predicted_frames else None
        gt = ground_truth_from_dataset(
            root_path,
            version_name,
            split.value,
            frame_ids=frame_ids,
            skip_missing=skip_missing,
            workers=workers,
            subset=subset.value,
        )
        config = DetectionConfig(classes=LEVELS[level.value], default_range_m=range_m)
        result = evaluate_detection(gt, preds, config, keep_curves=curves)
        by_range = {}
        bin_results = {}
        if range_bins or by_distance:
            edges = (
                tuple(float(edge) for edge in range_bins.split(","))
                if range_bins
                else DISTANCE_BINS_M
            )
            bin_results = evaluate_by_range(gt, preds, edges, config)
            by_range = by_range_dict(bin_results)
        if report is not None and not curves:  # the report draws PR curves
            result = evaluate_detection(gt, preds, config, keep_curves=True)
    except (ZodError, ValueError) as err:
        fail(err)
    typer.echo(result.table())
    for name, summary in by_range.items():
        typer.echo(f"range {name:>9} m: NDS {summary['NDS']:.4f}  mAP {summary['mAP']:.4f}")
    if output is not None:
        payload = result.to_dict(include_curves=curves)
        if by_range:
            payload["by_range"] = by_range
        write_json_atomic(output, payload)
        typer.echo(f"wrote {output}")
    if report is not None:
        from zod.eval.plots import detection_report

        typer.echo(f"wrote {detection_report(result, bin_results, report)}")


@eval_app.command("traffic-signs")
def traffic_signs(
    root: str | None = ROOT,
    dataset_root_option: str | None = DATASET_ROOT,
    predictions: Path = typer.Option(..., help="JSON {annotation uuid: class name or index}"),
    version: VersionName | None = VERSION,
    split: SplitChoice = SPLIT,
    subset: SubsetName = SUBSET,
    output: Path | None = OUTPUT,
    skip_missing: bool = typer.Option(
        False, help="Skip frames whose traffic-sign annotation file is not on disk"
    ),
    workers: int = WORKERS,
    confusion_png: Path | None = typer.Option(
        None, help="Draw the confusion matrix of the 20 most frequent classes to this PNG"
    ),
) -> None:
    """Traffic-sign classification: accuracy, per-class precision/recall, confusion matrix."""
    from zod.errors import ZodError
    from zod.eval import traffic_signs as tsr

    root_path, version_name = _root_and_version(root, dataset_root_option, version, subset)

    try:
        preds = tsr.read_predictions(predictions)
        gt = tsr.ground_truth_from_dataset(
            root_path,
            version_name,
            split.value,
            skip_missing=skip_missing,
            workers=workers,
            subset=subset.value,
        )
        result = tsr.evaluate_traffic_signs(gt, preds)
    except (ZodError, ValueError) as err:
        fail(err)
    typer.echo(result.table())
    if output is not None:
        result.write_json(output)
        typer.echo(f"wrote {output}")
    if confusion_png is not None:
        from zod.viz.colors import write_png

        typer.echo(f"wrote {write_png(confusion_png, tsr.draw_confusion(result))}")


@eval_app.command("kitti")
def kitti(
    kitti_root: Path = typer.Argument(
        ..., help="Output folder of `zod convert kitti` (training/label_2, ImageSets)"
    ),
    predictions: Path = typer.Option(
        ..., help="Folder of KITTI result files, <frame id>.txt with a score column"
    ),
    split: KittiSplit = typer.Option(
        KittiSplit.VAL,
        help="Frames: those of ImageSets/<split>.txt, or 'predicted' (every result file)",
    ),
    labels: Path | None = typer.Option(
        None, help="Ground-truth label folder (default: KITTI_ROOT/training/label_2)"
    ),
    classes: str | None = typer.Option(
        None, help="Comma-separated classes (default: KITTI's three, or our export's names)"
    ),
    loose: bool = typer.Option(False, help="KITTI's second IoU set (Car 0.7/0.5/0.5, ...)"),
    dontcare_all_metrics: bool = typer.Option(
        False, help="Apply DontCare regions to BEV and 3D too (KITTI's C++ devkit)"
    ),
    allow_missing: bool = typer.Option(
        False, help="A frame without a result file has no detections (else an error)"
    ),
    output: Path | None = OUTPUT,
    report: Path | None = REPORT,
) -> None:
    """KITTI-style AP_R40 / AP_R11 (2D, BEV, 3D; easy, moderate, hard) on KITTI files."""
    from zod.errors import ZodError
    from zod.eval.kitti import (
        KITTI_CLASSES,
        ZOD_CLASSES,
        KittiClass,
        KittiConfig,
        evaluate_kitti_folders,
        frame_ids_from_image_set,
    )

    label_dir = labels if labels is not None else kitti_root / "training" / "label_2"
    if not label_dir.is_dir():
        fail(f"no KITTI label folder at {label_dir} (give KITTI_ROOT or --labels)", USAGE_ERROR)
    try:
        frame_ids = (
            None
            if split == KittiSplit.PREDICTED
            else frame_ids_from_image_set(kitti_root / "ImageSets" / f"{split.value}.txt")
        )
        chosen: tuple[KittiClass, ...] | None = None
        if classes:
            known = {**ZOD_CLASSES, **KITTI_CLASSES}
            unknown = [c for c in classes.split(",") if c not in known]
            if unknown:
                fail(f"unknown classes {unknown}: one of {sorted(known)}", USAGE_ERROR)
            chosen = tuple(known[c] for c in classes.split(","))
        config = KittiConfig(classes=chosen, loose=loose, dontcare_all_metrics=dontcare_all_metrics)
        result = evaluate_kitti_folders(
            label_dir, predictions, frame_ids, config, allow_missing=allow_missing
        )
    except (ZodError, ValueError) as err:
        fail(err)
    typer.echo(result.table())
    if result.missing_prediction_files:
        typer.echo(f"{len(result.missing_prediction_files)} frames had no result file")
    if output is not None:
        typer.echo(f"wrote {result.write_json(output)}")
    if report is not None:
        from zod.eval.plots import kitti_report

        typer.echo(f"wrote {kitti_report(result, report)}")


@eval_app.command("segmentation")
def segmentation(
    root: str | None = ROOT,
    dataset_root_option: str | None = DATASET_ROOT,
    predictions: Path = typer.Option(
        ..., help="Folder of <frame id>.png / .npy masks, or a polygon predictions JSON"
    ),
    task: SegmentationTaskName = typer.Option(
        SegmentationTaskName.EGO_ROAD, help="What is segmented (classes: docs/eval.md)"
    ),
    version: VersionName | None = VERSION,
    split: SplitChoice = SPLIT,
    subset: SubsetName = SUBSET,
    scale: float = typer.Option(
        1.0, help="Resolution of polygon predictions (masks carry their own), e.g. 0.25"
    ),
    only_predicted_frames: bool = typer.Option(
        False, help="Score only the frames that have a prediction"
    ),
    missing_as_empty: bool = typer.Option(
        False, help="A frame without a prediction predicts background (else an error)"
    ),
    skip_missing: bool = typer.Option(
        False, help="Skip frames whose annotation file is not on disk"
    ),
    workers: int = WORKERS,
    output: Path | None = OUTPUT,
    report: Path | None = REPORT,
) -> None:
    """Ego road / lane markings: IoU, precision, recall, F1 per image and overall."""
    from zod.errors import ZodError
    from zod.eval.segmentation import evaluate_segmentation_dataset

    root_path, version_name = _root_and_version(root, dataset_root_option, version, subset)
    if not 0 < scale <= 1:
        fail(f"--scale must be in (0, 1], not {scale}", USAGE_ERROR)
    try:
        result = evaluate_segmentation_dataset(
            root_path,
            predictions,
            task.value,
            version_name,
            split.value,
            scale=scale,
            only_predicted_frames=only_predicted_frames,
            missing_as_empty=missing_as_empty,
            skip_missing=skip_missing,
            workers=workers,
            subset=subset.value,
        )
    except (ZodError, ValueError) as err:
        fail(err)
    typer.echo(result.table())
    if output is not None:
        typer.echo(f"wrote {result.write_json(output)}")
    if report is not None:
        from zod.eval.plots import segmentation_report

        typer.echo(f"wrote {segmentation_report(result, report)}")


@eval_app.command("road-condition")
def road_condition(
    root: str | None = ROOT,
    dataset_root_option: str | None = DATASET_ROOT,
    predictions: Path = typer.Option(
        ..., help='JSON {frame id: "normal"|"wet"|"snow" or {"wetness", "snow_coverage"}}'
    ),
    version: VersionName | None = VERSION,
    split: SplitChoice = SPLIT,
    subset: SubsetName = SUBSET,
    skip_missing: bool = typer.Option(
        False, help="Skip frames whose road-condition file is not on disk"
    ),
    workers: int = WORKERS,
    output: Path | None = OUTPUT,
    report: Path | None = REPORT,
) -> None:
    """Road condition (normal / wet / snow): accuracy, per-class scores, confusion."""
    from zod.errors import ZodError
    from zod.eval import road_condition as rc

    root_path, version_name = _root_and_version(root, dataset_root_option, version, subset)
    try:
        preds = rc.read_predictions(predictions)
        gt = rc.ground_truth_from_dataset(
            root_path,
            version_name,
            split.value,
            skip_missing=skip_missing,
            workers=workers,
            subset=subset.value,
        )
        result = rc.evaluate_road_condition(gt, preds)
    except (ZodError, ValueError) as err:
        fail(err)
    typer.echo(result.table())
    if output is not None:
        typer.echo(f"wrote {result.write_json(output)}")
    if report is not None:
        from zod.eval.plots import road_condition_report

        typer.echo(f"wrote {road_condition_report(result, report)}")


def register(app: typer.Typer) -> None:
    """Add the `eval` command group."""
    app.add_typer(eval_app, name="eval")
