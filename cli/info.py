"""`zod info ROOT`: what a local dataset holds (a thin layer over zod.summary)."""

from __future__ import annotations

from pathlib import Path

import typer


def info(
    root: Path = typer.Argument(
        ..., help="Dataset root (the folder holding trainval-*.json)."
    ),
    classes: bool = typer.Option(
        True, "--classes/--no-classes", help="Count objects per class (reads the annotations)."
    ),
    files: bool = typer.Option(True, "--files/--no-files", help="Check which streams are on disk."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    workers: int = typer.Option(4, help="Threads scanning the items."),
) -> None:
    """Summarize a local ZOD dataset: versions, splits, projects, classes, streams present or missing."""
    from zod.summary import format_summary, summarize, to_json

    if not root.is_dir():
        typer.echo(f"{root} is not a directory", err=True)
        raise typer.Exit(2)
    summaries = summarize(
        root, object_classes=classes, check_files=files, progress=not as_json, workers=workers
    )
    typer.echo(to_json(summaries) if as_json else format_summary(root, summaries))
    if not summaries:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(name="info")(info)
