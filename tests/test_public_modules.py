"""Every zod module that declares ``__all__`` keeps it literal, complete and star-importable."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import warnings
from pathlib import Path
from types import ModuleType

import pytest

import zod

ZOD_DIR = Path(zod.__file__).resolve().parent
# Packages whose __init__ has no __all__ yet (owned elsewhere: see docs/architecture.md).
INIT_WITHOUT_ALL = {"zod.annotations"}


def _module_names() -> list[str]:
    return ["zod"] + sorted(m.name for m in pkgutil.walk_packages(zod.__path__, "zod."))


def _import(name: str) -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # zod.data_classes.oxts warns
        return importlib.import_module(name)


def _source(name: str) -> Path:
    relative = Path(*name.split(".")[1:])
    package_init = ZOD_DIR / relative / "__init__.py"
    return package_init if package_init.exists() else (ZOD_DIR / relative).with_suffix(".py")


def _all_assignments(path: Path) -> list[ast.expr]:
    """The values assigned to ``__all__`` at module level (plain or annotated assignments)."""
    values: list[ast.expr] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        else:
            continue
        if node.value is not None and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in targets
        ):
            values.append(node.value)
    return values


MODULES = _module_names()
PACKAGES = [name for name in MODULES if _source(name).name == "__init__.py"]


def test_walk_finds_the_packages_and_modules() -> None:
    # the walk sees subpackages, plain modules and the reference-path modules
    for name in ("zod.geometry", "zod.torch", "zod.viz.reference", "zod.data_classes.box"):
        assert name in MODULES
    assert "zod.anno.tsr" in PACKAGES and "zod.geometry.box" not in PACKAGES


@pytest.mark.parametrize("name", MODULES)
def test_all_is_a_literal_list_of_strings(name: str) -> None:
    values = _all_assignments(_source(name))
    if not values:
        assert name not in PACKAGES or name in INIT_WITHOUT_ALL, f"{name} has no __all__"
        return
    assert len(values) == 1, f"{name} assigns __all__ {len(values)} times"
    (value,) = values
    assert isinstance(value, (ast.List, ast.Tuple)), f"{name}: __all__ is computed"
    names = [element.value for element in value.elts if isinstance(element, ast.Constant)]
    assert len(names) == len(value.elts) and all(isinstance(n, str) for n in names), name
    assert len(set(names)) == len(names), f"{name}: duplicates in __all__"


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_exists_and_star_import_works(name: str) -> None:
    module = _import(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        return
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        exec(f"from {name} import *", namespace)
    assert set(exported) <= set(namespace)
    for exported_name in exported:
        assert namespace[exported_name] is getattr(module, exported_name)


def test_geometry_star_import_brings_lidar_to_image() -> None:
    from zod.geometry.fisheye import lidar_to_image

    namespace: dict[str, object] = {}
    exec("from zod.geometry import *", namespace)
    assert namespace["lidar_to_image"] is lidar_to_image
