"""`zod sample OUTPUT_DIR`: write the format-exact sample dataset (a thin layer over zod.sample)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from cli._common import USAGE_ERROR, fail


def sample(
    output_dir: Path = typer.Argument(
        ..., help="Folder to write the dataset into (created if missing)."
    ),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same bytes."),
    num_frames: int | None = typer.Option(None, help="Frames in the full version."),
    num_frames_mini: int | None = typer.Option(
        None, help="Frames of the full version that are also in mini."
    ),
    num_sequences: int | None = typer.Option(None, help="Sequences in the full version."),
    num_sequences_mini: int | None = typer.Option(None, help="Sequences also in mini."),
    num_drives: int | None = typer.Option(None, help="Drives in the full version."),
    num_drives_mini: int | None = typer.Option(None, help="Drives also in mini."),
    num_blacklisted: int | None = typer.Option(None, help="Extra frames in a 'blacklisted' split."),
    core_points: int | None = typer.Option(None, help="Points of each frame's core lidar scan."),
    surrounding_points: int | None = typer.Option(
        None, help="Points of the other lidar scans of a frame."
    ),
    sequence_points: int | None = typer.Option(None, help="Points of each sequence / drive scan."),
    sequence_seconds: float | None = typer.Option(None, help="Length of each sequence (s)."),
    drive_seconds: float | None = typer.Option(None, help="Length of each drive (s)."),
    tests: bool = typer.Option(
        False, "--tests", help="Start from the small test preset instead of the default."
    ),
    workers: int = typer.Option(0, help="Worker processes (0: all cores)."),
) -> None:
    """Generate a complete sample of ZOD (frames, sequences, drives; mini and full), real layout."""
    from zod.sample import SampleConfig, generate_sample

    base = SampleConfig.for_tests() if tests else SampleConfig.default()
    changes = {
        "seed": seed,
        "num_frames": num_frames,
        "num_frames_mini": num_frames_mini,
        "num_sequences": num_sequences,
        "num_sequences_mini": num_sequences_mini,
        "num_drives": num_drives,
        "num_drives_mini": num_drives_mini,
        "num_blacklisted_frames": num_blacklisted,
        "points_per_core_scan": core_points,
        "points_per_surrounding_scan": surrounding_points,
        "points_per_sequence_scan": sequence_points,
        "sequence_duration_s": sequence_seconds,
        "drive_duration_s": drive_seconds,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    # a smaller full version shrinks mini with it unless mini was given
    for full_key, mini_key in (
        ("num_frames", "num_frames_mini"),
        ("num_sequences", "num_sequences_mini"),
        ("num_drives", "num_drives_mini"),
    ):
        if full_key in changes and mini_key not in changes:
            changes[mini_key] = min(getattr(base, mini_key), changes[full_key])
    changes["workers"] = workers if workers > 0 else (os.cpu_count() or 1)
    changes["progress"] = True
    try:
        config = base.replace(**changes)
    except ValueError as exc:
        fail(exc, USAGE_ERROR)
    start = time.perf_counter()
    root = generate_sample(output_dir, config)
    num_frames = config.num_frames + config.num_blacklisted_frames
    typer.echo(
        f"wrote {num_frames} frames, {config.num_sequences} sequences, {config.num_drives} drives "
        f"to {root} in {time.perf_counter() - start:.1f} s"
    )


def register(app: typer.Typer) -> None:
    app.command("sample")(sample)
