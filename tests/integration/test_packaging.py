"""The distribution another team installs: the wheel built from this tree, as pip builds it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_py_typed_so_other_teams_mypy_sees_the_types(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: the build writes build/ and *.egg-info beside its sources
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "retail_deploy", source / "retail_deploy", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                           "-w", str(tmp_path / "wheels"), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = (tmp_path / "wheels").glob("retail_deploy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "retail_deploy/py.typed" in names
    assert "retail_deploy/config.py" in names and "retail_deploy/tasks/build.py" in names
