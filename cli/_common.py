"""What every command group of the `zod` command shares: choices, options, the dataset root and
version, and the one error exit.

The conventions of every command (documented in `zod --help` and docs/convert.md):

- The dataset a command reads is its first argument, ROOT. ``--dataset-root ROOT`` (the
  reference devkit's spelling) is accepted in its place: give one of the two, not both.
- ``--version`` defaults to the version whose index is on disk: ``full`` if
  ``trainval-<subset>-full.json`` is under ROOT, else ``mini``.
- An error prints ``ERROR: <message>`` on stderr and exits with status 1, or 2 when the command
  line itself is wrong (click's status for usage errors), always through :func:`fail`.

Kept free of library imports at module level so that `zod --help` starts fast.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

import typer

# Exit status of a wrong command line (click's own usage errors exit with it too).
USAGE_ERROR = 2


class VersionName(str, Enum):
    """Dataset version (spec §2)."""

    full = "full"
    mini = "mini"


class SubsetName(str, Enum):
    """Sub-dataset."""

    frames = "frames"
    sequences = "sequences"
    drives = "drives"


class AnonymizationName(str, Enum):
    """Anonymization of the camera images (``original``: the unblurred images, if present)."""

    blur = "blur"
    dnat = "dnat"
    original = "original"


class EngineName(str, Enum):
    """Where the converters run (``zod.converters.runner.ENGINES``)."""

    local = "local"
    ray = "ray"


class PinholeViewsName(str, Enum):
    """Exact pinhole views of the fisheye (zod.geometry.pinhole): none, the front view, or the
    three-view rig (left, front, right)."""

    none = "none"
    front = "front"
    rig = "rig"


ROOT_HELP = "Dataset root: the folder holding trainval-<subset>-<version>.json."
# The dataset root: first argument of every command that reads a dataset, or --dataset-root.
ROOT: Any = typer.Argument(None, metavar="ROOT", show_default=False, help=ROOT_HELP)
DATASET_ROOT: Any = typer.Option(
    None,
    "--dataset-root",
    metavar="ROOT",
    show_default=False,
    help="The same as the ROOT argument (the reference devkit's spelling); give one of them.",
)
# The item of a `ROOT ID` command (`zod visualize frame`, `zod view`); see open_item.
ITEM_ID: Any = typer.Argument(
    None, metavar="ID", show_default=False, help="Frame / sequence / drive id (009158 or 9158)."
)
VERSION: Any = typer.Option(
    None,
    "--version",
    show_default=False,
    help="Dataset version (default: full if its index is on disk, else mini).",
)


def progress_option(rich_help_panel: str | None = None) -> Any:
    """The ``--progress/--no-progress`` option (default on)."""
    return typer.Option(
        True,
        "--progress/--no-progress",
        help="Show a progress bar.",
        rich_help_panel=rich_help_panel,
    )


def fail(err: BaseException | str, code: int = 1) -> NoReturn:
    """Print ``ERROR: <err>`` on stderr (red on a terminal) and exit with status ``code``."""
    typer.secho(f"ERROR: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def dataset_root(
    root: Path | str | None, dataset_root: Path | str | None, allow_url: bool = True
) -> Path | str:
    """The dataset root, given as the ROOT argument or as ``--dataset-root`` (exactly one of them):
    a local folder (resolved, as a Path) or an object-store URL (``s3://bucket/zod``, as given;
    the store's credentials and endpoint come from fsspec's environment, e.g.
    ``FSSPEC_S3_ENDPOINT_URL``). A usage error (status 2) when neither or both are given, it is
    not a folder (or a prefix of objects), or it is a URL where ``allow_url`` is False."""
    if root is not None and dataset_root is not None:
        fail(
            f"the dataset root is given twice (ROOT {root} and --dataset-root {dataset_root}): "
            "give one of them",
            USAGE_ERROR,
        )
    given = root if root is not None else dataset_root
    if given is None:
        fail(
            "missing the dataset root: give it as the ROOT argument (or --dataset-root)",
            USAGE_ERROR,
        )
    from zod._io import is_dir, is_url, local_or_url

    location = local_or_url(given)  # a file:// URL is its local path
    if is_url(location):
        if not allow_url:
            fail(f"dataset root {location}: this command needs a local folder", USAGE_ERROR)
        from zod.errors import ZodError

        try:
            found = is_dir(location)
        except ZodError as err:
            fail(err)
        if not found:
            fail(
                f"dataset root {location} holds no objects (not a folder of the store)", USAGE_ERROR
            )
        return location
    path = Path(location).expanduser().resolve()
    if not path.is_dir():
        fail(f"dataset root {path} is not a directory", USAGE_ERROR)
    return path


def dataset_root_and_argument(
    first: str | None,
    second: str | None,
    dataset_root_option: str | None,
    name: str,
    allow_url: bool = True,
) -> tuple[Path | str, str]:
    """The dataset root and the argument ``name`` after it, of a command taking ``ROOT NAME``.

    With ``--dataset-root`` the only argument is NAME (``zod visualize frame --dataset-root R
    ID``), so the first argument slot holds it. Usage errors as in :func:`dataset_root`, and for a
    missing NAME.
    """
    if dataset_root_option is not None and second is None:
        first, second = None, first
    root = dataset_root(first, dataset_root_option, allow_url)
    if second is None:
        fail(f"missing argument {name}", USAGE_ERROR)
    return root, second


def dataset_version(root: Path | str, subset: str, version: VersionName | None) -> str:
    """``--version`` if given, else the version whose index is under ``root`` ("full" first).

    Neither index on disk: an error naming the files looked for and the download that brings
    them.
    """
    if version is not None:
        return version.value
    from zod.release import index_file_names, versions_on_disk

    found = versions_on_disk(root, subset)
    if found:
        return found[0]
    full, mini = index_file_names(subset)
    fail(
        f"no ZOD {subset.capitalize()} index under {root}: looked for {full} and {mini}. "
        f"Get one with `zod download --url <dataset link> --output-dir {root} --subset {subset} "
        "--version mini` (or --version full)"
    )


def open_item(
    root: str | None,
    item_id: str | None,
    dataset_root_option: str | None,
    version: VersionName | None,
    subset: SubsetName,
) -> Any:
    """Open the sub-dataset (ROOT or --dataset-root; --version or the one on disk) and return
    the item ``ID`` (a ZodFrame / ZodSequence); an all-digit id may omit its leading zeros."""
    from zod.dataset import open_subset

    path, name = dataset_root_and_argument(root, item_id, dataset_root_option, "ID")
    dataset = open_subset(path, dataset_version(path, subset.value, version), subset.value)
    key = name.strip()
    try:
        return dataset[key]
    except (KeyError, IndexError):
        if key.isdigit():
            return dataset[key.zfill(6)]
        raise
