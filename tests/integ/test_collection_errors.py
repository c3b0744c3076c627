"""A suite whose test modules import what the session did not install fails in one line per
missing module, naming the extra that holds it, instead of one traceback per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integ.conftest import RunNox

pytestmark = pytest.mark.integ


def test_missing_test_dependencies_are_one_line_naming_the_extra(
    tmp_path: Path, run_nox: RunNox
) -> None:
    root = tmp_path / "gen"
    (root / "src" / "gen").mkdir(parents=True)
    (root / "src" / "gen" / "__init__.py").write_text('"""Generated."""\n')
    (root / "tests").mkdir()
    for i in range(4):
        (root / "tests" / f"test_{i}.py").write_text("import tomli_w\n\n\ndef test_x(): ...\n")
    (root / "noxfile.py").write_text("import mlci\n\nmlci.sessions()\n")
    (root / "pyproject.toml").write_text(
        "[project]\nname = 'gen'\nversion = '0.1'\n"
        "[project.optional-dependencies]\nwrite = ['tomli-w']\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.mlci]\npython-versions = ['3.11']\ntorch-backend = 'none'\nsessions = ['unit']\n"
    )
    done = run_nox(root, "-s", "unit-3.11")
    assert done.returncode != 0
    assert (
        "unit: tests could not be collected: 4 test module(s) import tomli_w: not installed;"
        " it is in extra 'write': set extras = ['write'] in [tool.mlci]" in done.stderr
    )
