"""mlci's report folder never breaks a project's build: setuptools' automatic discovery takes
every top-level folder named like a Python package for one, and a flat layout with two fails
("Multiple top-level packages discovered in a flat-layout"). Seen on a real project: every
session aborted at install once the first session had written `reports/`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mlci.project.files import REPORTS

pytestmark = pytest.mark.integ

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "pkgb"
version = "0.1"
requires-python = ">=3.10"
"""


def build(root: Path) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    return subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(root / "dist"), str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_a_flat_setuptools_project_still_builds_beside_mlcis_report_folder(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pkgb"
    (root / "pkgb").mkdir(parents=True)
    (root / "pkgb" / "__init__.py").write_text("def a(x: int) -> int:\n    return x + 1\n")
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / REPORTS / "lint").mkdir(parents=True)  # what the first session leaves
    done = build(root)
    assert done.returncode == 0, done.stderr[-2000:]

    # The test can fail: the folder's old name made the project's build fail.
    shutil.rmtree(root / "dist")
    (root / "reports" / "lint").mkdir(parents=True)
    broken = build(root)
    assert broken.returncode != 0
    assert "Multiple top-level packages discovered in a flat-layout" in broken.stderr
