"""The reference devkit's ``zod.utils`` package: its names are in the submodules."""

from __future__ import annotations

__all__: list[str] = []
