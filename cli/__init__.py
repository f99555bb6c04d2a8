"""The `zod` command line: a thin Typer layer over the library (the library never imports it)."""
