"""Shared fixtures: every test runs on a generated, format-exact sample dataset."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ORACLE_PYTHON = REPO_ROOT / ".venv-oracle" / "bin" / "python"


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small but complete sample dataset (all three sub-datasets, both versions).

    Read-only by convention: a test that changes files uses ``sample_copy``.
    """
    from zod.sample import SampleConfig, generate_sample

    root = tmp_path_factory.mktemp("zod-sample")
    generate_sample(root, SampleConfig.for_tests())
    return root


@pytest.fixture()
def sample_copy(sample_root: Path, tmp_path: Path) -> Path:
    """A private copy of the sample dataset that a test may modify or break."""
    target = tmp_path / "sample"
    shutil.copytree(sample_root, target)
    return target


@pytest.fixture(scope="session")
def oracle_python() -> Path:
    """Python of the venv that holds the reference devkit (zod==0.8.0), made by scripts/setup.sh."""
    if not ORACLE_PYTHON.exists():
        pytest.fail(f"reference devkit venv missing at {ORACLE_PYTHON}: run scripts/setup.sh")
    return ORACLE_PYTHON


@pytest.fixture(scope="session")
def zod_cli() -> list[str]:
    """The `zod` console command of the current environment."""
    exe = Path(sys.executable).with_name("zod")
    if not exe.exists():
        pytest.fail(f"console command {exe} missing: install the package with pip install -e .")
    return [str(exe)]


IN_CI = bool(os.environ.get("CI"))
