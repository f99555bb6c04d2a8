"""Entry point of the `zod` console command.

Each command group lives in its own module of this package and exposes ``register(app)``.

Start-up: ``zod convert coco`` / ``zod generate coco`` with plain options (the hot batch
command) is parsed here by a small stdlib parser and goes straight to the library, without
importing Typer (whose option coercion builds pydantic adapters: ~0.25 s per run). Anything
this parser does not fully understand (``--help``, an unknown or malformed option, a value
Typer would reject) falls through to the Typer app, which gives the usual messages.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

# Modules of this package that add commands to the app, in the order of `zod --help`.
COMMAND_MODULES = [
    "cli.sample",
    "cli.info",
    "cli.download",
    "cli.convert",
    "cli.eval",
    "cli.visualize",
]

# --- fast path of `zod convert coco` (must accept exactly what cli.convert.coco accepts) ------
# option -> (keyword, kind): "value" (last wins), "multi" (repeatable), or a bool flag value.
COCO_OPTIONS: dict[str, tuple[str, Any]] = {
    "--dataset-root": ("dataset_root", "value"),
    "--output-dir": ("output_dir", "value"),
    "--version": ("version", "value"),
    "--anonymization": ("anonymization", "value"),
    "--use-png": ("use_png", True),
    "--no-use-png": ("use_png", False),
    "--classes": ("classes", "multi"),
    "--relative-paths": ("relative_paths", True),
    "--segmentation": ("segmentation", "multi"),
    "--workers": ("workers", "value"),
    "--num-workers": ("workers", "value"),
    "--engine": ("engine", "value"),
    "--ray-address": ("ray_address", "value"),
    "--overwrite": ("overwrite", True),
    "--skip-missing": ("skip_missing", True),
    "--progress": ("progress", True),
    "--no-progress": ("progress", False),
}
_CHOICES = {"version": ("full", "mini"), "anonymization": ("blur", "dnat", "original"), "engine": ("local", "ray")}


def parse_coco_args(args: list[str]) -> dict[str, Any] | None:
    """Keyword arguments of ``convert_to_coco`` from the options after ``convert coco``, or
    None when Typer should handle them (help, unknown option, invalid value)."""
    from zod.converters import DEFAULT_CLASSES

    given: dict[str, Any] = {}
    i = 0
    while i < len(args):
        option, eq, inline = args[i].partition("=")
        spec = COCO_OPTIONS.get(option)
        if spec is None:
            return None
        keyword, kind = spec
        if kind not in ("value", "multi"):
            if eq:
                return None
            given[keyword] = kind
            i += 1
            continue
        if eq:
            value = inline
        elif i + 1 < len(args):
            value, i = args[i + 1], i + 1
        else:
            return None
        i += 1
        if kind == "multi":
            given.setdefault(keyword, []).append(value)
        else:
            given[keyword] = value
    if "dataset_root" not in given or "output_dir" not in given:
        return None
    for keyword, choices in _CHOICES.items():
        if keyword in given and given[keyword] not in choices:
            return None
    if "workers" in given:
        if not given["workers"].isdigit() or int(given["workers"]) < 1:
            return None
        given["workers"] = int(given["workers"])
    root, out = os.path.realpath(given["dataset_root"]), os.path.realpath(given["output_dir"])
    if not os.path.isdir(root) or (os.path.exists(out) and not os.path.isdir(out)):
        return None
    given["dataset_root"], given["output_dir"] = root, out
    given.setdefault("classes", list(DEFAULT_CLASSES))
    return given


def _fast_coco(args: list[str]) -> int | None:
    """Run ``convert coco`` without Typer; None if the options need Typer."""
    # Before numpy loads: the COCO path does no linear algebra, and OpenBLAS starting a thread
    # per core costs ~60 ms of start-up.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    kwargs = parse_coco_args(args)
    if kwargs is None:
        return None
    # A one-shot process that builds millions of small acyclic objects (dicts, lists, floats):
    # the cyclic collector would rescan them over and over for nothing.
    import gc

    gc.disable()
    from zod.converters.coco import convert_to_coco
    from zod.errors import ZodError

    try:
        paths = convert_to_coco(**kwargs)
    except (ZodError, ValueError) as err:  # the message of the Typer path (Typer only now)
        import typer

        from cli._common import fail

        try:
            fail(err)
        except typer.Exit as status:
            return int(status.exit_code)
    lines = ["Converted ZOD to COCO format. Output files:"] + [f"    {split}:  {path}" for split, path in paths.items()]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def typer_app() -> Any:
    """The Typer app with every command group registered (built once)."""
    global _TYPER_APP
    if _TYPER_APP is None:
        import typer

        _TYPER_APP = typer.Typer(
            name="zod",
            help="Zenseact Open Dataset devkit: download, inspect, convert, visualize and evaluate ZOD.",
            no_args_is_help=True,
            add_completion=False,
        )
        for module_name in COMMAND_MODULES:
            importlib.import_module(module_name).register(_TYPER_APP)
    return _TYPER_APP


_TYPER_APP: Any = None


class ZodCommand:
    """The console entry (``cli.main:app``): the fast path, else the Typer app. Attribute access
    goes to the Typer app (``typer_app()`` for the ``typer.Typer`` object itself)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and sys.argv[1:3] in (["convert", "coco"], ["generate", "coco"]):
            code = _fast_coco(sys.argv[3:])
            if code is not None:
                return code
        return typer_app()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(typer_app(), name)


app = ZodCommand()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
