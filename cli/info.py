"""`zod info ROOT`: what a local dataset holds (a thin layer over zod.summary)."""

from __future__ import annotations

import typer

from cli._common import DATASET_ROOT, ROOT, dataset_root, fail


def info(
    root: str | None = ROOT,
    dataset_root_option: str | None = DATASET_ROOT,
    classes: bool = typer.Option(
        True, "--classes/--no-classes", help="Count objects per class (reads the annotations)."
    ),
    files: bool = typer.Option(True, "--files/--no-files", help="Check which streams are on disk."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    workers: int = typer.Option(4, help="Threads scanning the items."),
) -> None:
    """Summarize a local ZOD dataset: versions, splits, projects, classes, streams on disk."""
    from zod.summary import format_summary, summarize, to_json

    path = dataset_root(root, dataset_root_option)
    summaries = summarize(
        path, object_classes=classes, check_files=files, progress=not as_json, workers=workers
    )
    typer.echo(to_json(summaries) if as_json else format_summary(path, summaries))
    if not summaries:
        fail(f"no ZOD index file (trainval-<subset>-<version>.json) under {path}")


def register(app: typer.Typer) -> None:
    app.command(name="info")(info)
