from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.settings import ConfigError, resolve

WriteProject = Callable[..., Path]


def test_defaults_come_from_the_project(write_project: WriteProject) -> None:
    settings = resolve(write_project(), environ={})
    assert settings.package == "my_model"
    assert settings.values["package"].source == "default ([project].name)"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert settings.python_versions == (here,)
    assert settings["coverage-fail-under"] == 80.0
    assert settings.values["torch-backend"].source == "default"


def test_precedence_flag_over_env_over_pyproject_over_default(write_project: WriteProject) -> None:
    root = write_project("coverage-fail-under = 70\ntorch-backend = 'cpu'\nnotebooks = 'nb'\n")
    env = {"MLCI_COVERAGE_FAIL_UNDER": "75", "MLCI_TORCH_BACKEND": "none"}
    settings = resolve(root, flags={"coverage-fail-under": "77"}, environ=env)
    assert settings.values["coverage-fail-under"].value == 77.0
    assert settings.values["coverage-fail-under"].source == "flag"
    assert settings.values["torch-backend"].value == "none"
    assert settings.values["torch-backend"].source == "env MLCI_TORCH_BACKEND"
    assert settings.values["notebooks"].value == "nb"
    assert settings.values["notebooks"].source == "pyproject.toml"
    assert settings.values["reports-dir"].source == "default"


def test_unknown_key_names_the_key_a_suggestion_and_the_valid_keys(
    write_project: WriteProject,
) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(write_project("covrage-fail-under = 90\n"), environ={})
    message = str(err.value)
    assert "unknown key 'covrage-fail-under'" in message
    assert "did you mean coverage-fail-under?" in message
    assert "valid keys: package, python-versions" in message


def test_every_problem_is_reported_at_once(write_project: WriteProject) -> None:
    root = write_project("python-versions = ['2.7']\nbogus = 1\n")
    with pytest.raises(ConfigError) as err:
        resolve(root, environ={"MLCI_TESTMON": "perhaps"})
    message = str(err.value)
    for part in (
        "'2.7' is not a Python version",
        "unknown key 'bogus'",
        "testmon (from MLCI_TESTMON): 'perhaps'",
    ):
        assert part in message


def test_missing_and_broken_pyproject(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no pyproject\.toml"):
        resolve(tmp_path, environ={})
    (tmp_path / "pyproject.toml").write_text("[tool.mlci\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        resolve(tmp_path, environ={})


def test_package_needs_a_project_name_or_a_setting(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mlci]\n")
    settings = resolve(tmp_path, environ={})
    with pytest.raises(ConfigError, match=r"package is not set"):
        _ = settings.package
    (tmp_path / "pyproject.toml").write_text("[tool.mlci]\npackage = 'pkg'\n")
    assert resolve(tmp_path, environ={}).package == "pkg"


def test_tool_mlci_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n[tool]\nmlci = 3\n")
    with pytest.raises(ConfigError, match="must be a table"):
        resolve(tmp_path, environ={})


def test_empty_values_count_as_not_given(write_project: WriteProject) -> None:
    root = write_project("coverage-fail-under = 70\n")
    settings = resolve(root, flags={"sessions": ""}, environ={"MLCI_COVERAGE_FAIL_UNDER": " "})
    assert settings.values["coverage-fail-under"].value == 70.0
    assert settings.values["sessions"].source == "default"


def test_pyproject_may_be_absent_when_not_required(tmp_path: Path) -> None:
    settings = resolve(tmp_path, environ={"MLCI_TORCH_BACKEND": "none"}, require_pyproject=False)
    assert settings.project_name == ""
    assert settings["torch-backend"] == "none"
