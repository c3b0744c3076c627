from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.config.options import Origin
from mlci.config.settings import resolve
from mlci.errors import ConfigError

WriteProject = Callable[..., Path]


def test_defaults_come_from_the_project(write_project: WriteProject) -> None:
    settings = resolve(write_project(), environ={})
    assert settings.package == "my_model"
    assert settings.sources["package"].origin is Origin.DEFAULT
    assert settings.sources["package"].describe() == "default ([project].name)"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert settings.python_versions == (here,)
    assert settings.coverage_fail_under == 80.0
    assert settings.origin("torch-backend") is Origin.DEFAULT


def test_precedence_flag_over_env_over_pyproject_over_default(write_project: WriteProject) -> None:
    root = write_project("coverage-fail-under = 70\ntorch-backend = 'cpu'\nnotebooks = 'nb'\n")
    env = {"MLCI_COVERAGE_FAIL_UNDER": "75", "MLCI_TORCH_BACKEND": "none"}
    settings = resolve(root, flags={"coverage-fail-under": "77"}, environ=env)
    assert settings.coverage_fail_under == 77.0
    assert settings.origin("coverage-fail-under") is Origin.FLAG
    assert settings.torch_backend == "none"
    assert settings.sources["torch-backend"].describe() == "environment (MLCI_TORCH_BACKEND)"
    assert settings.notebooks == "nb"
    assert settings.origin("notebooks") is Origin.PYPROJECT
    assert settings.origin("tests-dir") is Origin.DEFAULT


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
        settings.require_package()
    (tmp_path / "pyproject.toml").write_text("[tool.mlci]\npackage = 'pkg'\n")
    assert resolve(tmp_path, environ={}).package == "pkg"


def test_tool_mlci_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n[tool]\nmlci = 3\n")
    with pytest.raises(ConfigError, match="must be a table"):
        resolve(tmp_path, environ={})


def test_empty_values_count_as_not_given(write_project: WriteProject) -> None:
    root = write_project("coverage-fail-under = 70\n")
    settings = resolve(root, flags={"sessions": ""}, environ={"MLCI_COVERAGE_FAIL_UNDER": " "})
    assert settings.coverage_fail_under == 70.0
    assert settings.origin("sessions") is Origin.DEFAULT


def test_pyproject_may_be_absent_when_not_required(tmp_path: Path) -> None:
    settings = resolve(tmp_path, environ={"MLCI_TORCH_BACKEND": "none"}, require_pyproject=False)
    assert settings.project_name == ""
    assert settings.torch_backend == "none"


def test_repeated_list_entries_run_once_with_a_warning(write_project: WriteProject) -> None:
    settings = resolve(write_project("python-versions = ['3.11', '3.12', '3.11']\n"), environ={})
    assert settings.python_versions == ("3.11", "3.12")
    assert settings.warnings == ("python-versions: 3.11 is listed more than once; it runs once",)


def test_runner_placement_in_pyproject_is_refused(write_project: WriteProject) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(write_project("gpu-runner = ['self-hosted']\nrunner = ['big']\n"), environ={})
    assert err.value.problems == [
        f"[tool.mlci] {name}: set it in the CI file (a workflow or template input), not in"
        " pyproject.toml: a pull request's own files must not choose where jobs run"
        for name in ("runner", "gpu-runner")
    ]
    # From the CI input (the environment the workflow sets), it is taken.
    settings = resolve(write_project(), environ={"MLCI_GPU_RUNNER": "self-hosted,gpu"})
    assert settings.gpu_runner == ("self-hosted", "gpu")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[project]\nname = '\xff\xfe'\n", "is not UTF-8 text"),
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "invalid TOML"),
        (b"tool = 'x'\n", "`tool` must be a table"),
        (b"[tool]\nmlci = 3\n", r"\[tool.mlci\] must be a table"),
    ],
    ids=["not utf-8", "deeply nested", "tool is a string", "mlci is a number"],
)
def test_a_malformed_pyproject_gets_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        resolve(tmp_path, environ={})


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "huge"])
def test_a_pyproject_that_is_not_a_small_regular_file_is_refused_without_reading(
    tmp_path: Path, kind: str
) -> None:
    import os

    path = tmp_path / "pyproject.toml"
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "device":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"#" * (5 * 2**20))
    with pytest.raises(ConfigError, match=r"is not a regular file|too large"):
        resolve(tmp_path, environ={})
