from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.commands import commands, notebooks, package_dir, specs, tools
from mlci.compat import load
from mlci.settings import ConfigError, Settings, resolve

WriteProject = Callable[..., Path]
REPORTS = Path("reports/x")


def project(
    write_project: WriteProject, table: str = "", env: dict[str, str] | None = None
) -> Settings:
    root = write_project(table)
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "notebooks" / ".ipynb_checkpoints").mkdir(parents=True)
    (root / "notebooks" / "b.ipynb").write_text("{}")
    (root / "notebooks" / "sub").mkdir()
    (root / "notebooks" / "sub" / "a.ipynb").write_text("{}")
    (root / "notebooks" / ".ipynb_checkpoints" / "b-checkpoint.ipynb").write_text("{}")
    return resolve(root, environ=env or {})


def test_sessions_and_their_pythons(write_project: WriteProject) -> None:
    settings = project(write_project, "python-versions = ['3.11', '3.12']\n")
    by_name = {spec.name: spec for spec in specs(settings)}
    assert list(by_name) == ["lint", "mypy", "unit", "integ", "nbmake", "gpu"]
    assert by_name["unit"].nox_names() == ("unit-3.11", "unit-3.12")
    assert by_name["lint"].nox_names() == ("lint",)
    assert by_name["mypy"].pythons == ("3.11",)
    assert not by_name["gpu"].default
    assert by_name["gpu"].torch_backend == load().newest.pypi_cuda  # PyPI's own CUDA build
    assert all(spec.default for name, spec in by_name.items() if name != "gpu")


def test_sessions_setting_limits_what_is_registered(write_project: WriteProject) -> None:
    settings = project(write_project, "sessions = ['unit', 'lint']\n")
    assert [spec.name for spec in specs(settings)] == ["lint", "unit"]


def test_unit_runs_coverage_with_threshold_and_passes_posargs(write_project: WriteProject) -> None:
    settings = project(write_project, "coverage-fail-under = 72\n")
    [command] = commands(settings, "unit", REPORTS, ["-k", "test_mlp", "-x"])
    assert command[:4] == ["pytest", "tests", "-m", "not integ and not gpu"]
    assert "--junitxml=reports/x/junit.xml" in command
    assert "--cov=my_model" in command
    assert "--cov-report=xml:reports/x/coverage.xml" in command
    assert "--cov-fail-under=72" in command
    assert "-n" not in command
    assert command[-3:] == ["-k", "test_mlp", "-x"]
    assert tools(settings, "unit") == ("pytest>=8", "pytest-cov>=6")


def test_unit_with_xdist(write_project: WriteProject) -> None:
    settings = project(write_project, "xdist-workers = 'auto'\n")
    [command] = commands(settings, "unit", REPORTS, [])
    assert command[command.index("-n") + 1] == "auto"
    assert "pytest-xdist>=3.6" in tools(settings, "unit")


def test_testmon_replaces_coverage_and_xdist(write_project: WriteProject) -> None:
    settings = project(write_project, "xdist-workers = '4'\n", env={"MLCI_TESTMON": "true"})
    [command] = commands(settings, "unit", REPORTS, [])
    assert "--testmon" in command
    assert not any(arg.startswith("--cov") for arg in command)
    assert "-n" not in command
    assert "pytest-testmon>=2.1" in tools(settings, "unit")
    assert "pytest-xdist>=3.6" not in tools(settings, "unit")


def test_lint_runs_pre_commit_then_pylint(write_project: WriteProject) -> None:
    settings = project(write_project)
    precommit, pylint = commands(settings, "lint", REPORTS, ["ruff-check"], ("--files", "a.py"))
    assert precommit == [
        "pre-commit",
        "run",
        "ruff-check",
        "--show-diff-on-failure",
        "--files",
        "a.py",
    ]
    assert pylint[0] == "pylint" and pylint[-1] == "src/my_model"


def test_mypy_checks_package_and_tests(write_project: WriteProject) -> None:
    settings = project(write_project)
    [command] = commands(settings, "mypy", REPORTS, ["--strict"])
    assert command == [
        "mypy",
        "src/my_model",
        "tests",
        "--junit-xml",
        "reports/x/junit.xml",
        "--strict",
    ]


def test_flat_layout_and_missing_package(write_project: WriteProject) -> None:
    root = write_project("package = 'flat'\n")
    (root / "flat").mkdir()
    assert package_dir(resolve(root, environ={})) == Path("flat")
    with pytest.raises(ConfigError, match="package 'other' not found as src/other or other"):
        package_dir(resolve(root, environ={"MLCI_PACKAGE": "other"}))


def test_integ_and_gpu(write_project: WriteProject) -> None:
    settings = project(write_project)
    [integ] = commands(settings, "integ", REPORTS, [])
    assert integ[:4] == ["pytest", "tests", "-m", "integ"]
    doctor, gpu = commands(settings, "gpu", REPORTS, ["-x"])
    assert doctor == ["mlci", "doctor", "--require-gpu"]
    assert gpu[:5] == ["pytest", "tests", "-m", "gpu", "--run-gpu"] and gpu[-1] == "-x"


def test_nbmake_runs_every_notebook_but_checkpoints(write_project: WriteProject) -> None:
    settings = project(write_project, "notebook-timeout = 30\n")
    assert notebooks(settings) == ["notebooks/b.ipynb", "notebooks/sub/a.ipynb"]
    [command] = commands(settings, "nbmake", REPORTS, [])
    assert "--nbmake" in command and "--nbmake-timeout=30" in command
    assert command[-2:] == ["notebooks/b.ipynb", "notebooks/sub/a.ipynb"]


def test_nbmake_without_notebooks_says_where_it_looked(write_project: WriteProject) -> None:
    settings = project(write_project, "notebooks = 'docs'\n")
    with pytest.raises(
        ConfigError, match=r"nbmake: no notebooks under .*docs \(set \[tool.mlci\] notebooks\)"
    ):
        commands(settings, "nbmake", REPORTS, [])
