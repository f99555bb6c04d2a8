"""Entry point of the `zod` console command.

Each command group lives in its own module of this package and exposes ``register(app)``.
"""

from __future__ import annotations

import importlib
import os

# The commands parallelize with processes (`--workers`); BLAS threads in each process would only
# oversubscribe the cores (and OpenBLAS starting one per core costs ~0.1 s CPU at numpy import).
# An explicit setting of the user's wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer  # after the BLAS setting, before numpy is imported anywhere

# Paragraphs are one string each: rich keeps the line breaks of a help text.
HELP = "\n\n".join(
    [
        "Zenseact Open Dataset devkit: download, inspect, convert, visualize and evaluate ZOD.",
        "Every command that reads a dataset takes its root as the first argument, ROOT, or as "
        "--dataset-root ROOT (the reference devkit's spelling; one of the two). --version "
        "defaults to the version whose index is on disk: full if trainval-<subset>-full.json "
        "is there, else mini.",
        'Errors print "ERROR: ..." on stderr and exit with status 1 (2: a wrong command line).',
    ]
)

app = typer.Typer(
    name="zod",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
)

# Modules of this package that add commands to the app, in the order of `zod --help`.
COMMAND_MODULES = [
    "cli.sample",
    "cli.info",
    "cli.download",
    "cli.convert",
    "cli.eval",
    "cli.visualize",
    "cli.view",
]

for _module_name in COMMAND_MODULES:
    importlib.import_module(_module_name).register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
