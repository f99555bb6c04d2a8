"""What every command group of the `zod` command shares: the choice enums and error exit.

Kept free of library imports so that `zod --help` starts fast.
"""

from __future__ import annotations

from enum import Enum
from typing import NoReturn

import typer


class VersionName(str, Enum):
    """Dataset version (spec §2)."""

    full = "full"
    mini = "mini"


class SubsetName(str, Enum):
    """Sub-dataset."""

    frames = "frames"
    sequences = "sequences"
    drives = "drives"


def fail(err: BaseException) -> NoReturn:
    """Print ``ERROR: <err>`` on stderr (red on a terminal) and exit with status 1."""
    typer.secho(f"ERROR: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
