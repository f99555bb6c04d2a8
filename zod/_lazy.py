"""Lazy package attributes (PEP 562): names imported from their module on first use.

Keeps ``import zod`` / ``import zod.download`` cheap (the CLI's start-up imports them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``names`` (attribute -> module that defines it).

    The value is cached in ``namespace`` (the package's ``globals()``) after the first use.
    """

    def __getattr__(name: str) -> Any:
        module_name = names.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        namespace[name] = value
        return value

    return __getattr__
