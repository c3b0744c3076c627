"""The name `mlci sessions` shows: pyproject's, else what setup.cfg or setup.py declares."""

from __future__ import annotations

from pathlib import Path

from mlci.project.snapshot import Project


def test_a_setup_py_project_is_shown_by_its_declared_name(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mlci]\nsessions = ['unit']\n")
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='flat-pkg')\n")
    project = Project.load(tmp_path)
    # Only the shown name: the package default still needs [project].name or `package`.
    assert (project.name, project.shown_name) == ("", "flat-pkg")
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = cfg-pkg\n")
    assert Project.load(tmp_path).shown_name == "cfg-pkg"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    assert Project.load(tmp_path).shown_name == "proj"
