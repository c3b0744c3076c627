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


def test_setup_py_metadata_given_through_module_level_names_is_read(tmp_path: Path) -> None:
    """`name = "p"` then `setup(name=name, python_requires=python_requires)`, as torchcde and
    many others write it; a name assigned twice (or computed) is not guessed."""
    from mlci.project.setup_files import setup_py

    (tmp_path / "setup.py").write_text(
        "import setuptools\nname = 'p'\npython_requires = '>=3.12'\nversion = compute()\n"
        "setuptools.setup(name=name, version=version, python_requires=python_requires)\n"
    )
    assert setup_py(tmp_path) == {"name": "p", "python_requires": ">=3.12"}
    (tmp_path / "setup.py").write_text("name = 'a'\nname = 'b'\nsetup(name=name)\n")
    assert setup_py(tmp_path) == {}
