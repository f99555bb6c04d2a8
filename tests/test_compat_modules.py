"""The reference devkit's module paths are real modules; the alias table, files and mypy agree."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import zod
from zod.compat import ALIASES, resolve

REPO_ROOT = Path(__file__).resolve().parent.parent
# The packages that hold only reference paths (plus the zod.zod_* / zod._zod_dataset modules).
REFERENCE_PACKAGES = ("zod.data_classes", "zod.anno", "zod.utils", "zod.visualization")


def _import(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(name)


def test_every_file_of_the_reference_packages_is_in_the_table() -> None:
    on_disk = set(REFERENCE_PACKAGES)
    for package in REFERENCE_PACKAGES:
        on_disk |= {m.name for m in pkgutil.walk_packages(_import(package).__path__, package + ".")}
    on_disk |= {
        f"zod.{m.name}"
        for m in pkgutil.iter_modules(zod.__path__)
        if m.name.startswith(("zod_", "_zod_"))
    }
    assert on_disk == set(ALIASES)


@pytest.mark.parametrize("old_module", sorted(ALIASES))
def test_module_exports_exactly_the_table_names_as_our_objects(old_module: str) -> None:
    module = _import(old_module)
    assert module.__file__ is not None and Path(module.__file__).is_file()  # a real module
    assert sorted(module.__all__) == sorted(ALIASES[old_module])
    for name, target in ALIASES[old_module].items():
        assert getattr(module, name) is resolve(target), f"{old_module}.{name}"


def test_box3d_is_our_class_and_no_import_hook_is_installed() -> None:
    import zod.data_classes.box as m
    import zod.geometry.box

    assert m.Box3D is zod.geometry.box.Box3D
    assert not [f for f in sys.meta_path if type(f).__module__.startswith("zod")]


def test_oxts_module_warns_on_each_fresh_import() -> None:
    sys.modules.pop("zod.data_classes.oxts", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from zod.data_classes.oxts import EgoMotion
    from zod.ego_motion import EgoMotion as Ours

    assert EgoMotion is Ours
    assert [w for w in caught if issubclass(w.category, DeprecationWarning)]


def _mypy_snippet() -> tuple[str, list[tuple[str, str]]]:
    """Source importing every table name by its old path and by ours, revealing both types."""
    lines = [
        "from typing_extensions import assert_type",
        "import zod.geometry.box",
        "from zod.data_classes.box import Box3D",
        "from zod.data_classes.frame import ZodFrame",
        "from zod.frame import ZodFrame as OurFrame",
        "assert_type(Box3D, type[zod.geometry.box.Box3D])",
        "assert_type(ZodFrame, type[OurFrame])",
    ]
    pairs = []
    for i, (old_module, names) in enumerate(sorted(ALIASES.items())):
        for j, (name, target) in enumerate(sorted(names.items())):
            ours, _, attribute = target.partition(":")
            old_alias, our_alias = f"old_{i}_{j}", f"ours_{i}_{j}"
            lines += [
                f"from {old_module} import {name} as {old_alias}",
                f"from {ours} import {attribute} as {our_alias}",
                f"reveal_type({old_alias})",
                f"reveal_type({our_alias})",
            ]
            pairs.append((f"{old_module}.{name}", target))
    return "\n".join(lines) + "\n", pairs


def test_mypy_resolves_the_reference_paths(tmp_path: Path) -> None:
    import mypy  # noqa: F401 - a dev dependency: the test fails, never skips, without it

    source, pairs = _mypy_snippet()
    snippet = tmp_path / "uses_reference_paths.py"
    snippet.write_text(source)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--follow-imports=silent",  # errors of the library itself are not this test's
            f"--cache-dir={tmp_path / 'mypy-cache'}",
            "--no-error-summary",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"MYPYPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "Cannot find implementation or library stub" not in output, output
    assert result.returncode == 0, output
    revealed = re.findall(r'Revealed type is "(.*)"', output)
    assert len(revealed) == 2 * len(pairs), output
    for (old_name, target), old_type, our_type in zip(pairs, revealed[::2], revealed[1::2]):
        assert old_type == our_type != "Any", (old_name, target, old_type, our_type)
