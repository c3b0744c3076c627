"""The session registry: each session's commands, tools and verdict rules, as data."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.compat import load
from mlci.config.option_table import SESSION_NAMES
from mlci.config.settings import Settings, resolve
from mlci.errors import ConfigError
from mlci.session.registry import BY_NAME, REGISTRY, Run

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


def commands(settings: Settings, session: str, posargs: tuple[str, ...] = ()) -> list[list[str]]:
    return BY_NAME[session].commands(Run(settings, session, REPORTS, posargs))


def test_the_registry_in_order_with_its_pythons_and_builds(write_project: WriteProject) -> None:
    settings = project(write_project, "python-versions = ['3.11', '3.12']\n")
    assert SESSION_NAMES == ("lint", "mypy", "unit", "integ", "nbmake", "gpu")
    # the option table names them for `sessions`; the registry defines them, in that order
    assert tuple(s.name for s in REGISTRY if s.implied_by is None) == SESSION_NAMES
    assert BY_NAME["unit"].nox_names(settings) == ("unit-3.11", "unit-3.12")
    assert BY_NAME["lint"].nox_names(settings) == ("lint",)
    assert BY_NAME["mypy"].pythons(settings) == ("3.11",)
    assert not BY_NAME["gpu"].default
    assert BY_NAME["gpu"].backend(settings) == load().newest.pypi_cuda  # PyPI's own CUDA build
    assert BY_NAME["unit"].backend(settings) == "cpu"
    # gpu runs when asked; coverage (the combine of unit's shards) only in CI.
    assert all(s.default for s in REGISTRY if s.name not in ("gpu", "coverage"))
    assert BY_NAME["coverage"].implied_by == "unit" and "coverage" not in SESSION_NAMES


def test_unit_runs_coverage_a_timeout_and_passes_posargs(write_project: WriteProject) -> None:
    settings = project(write_project, "coverage-fail-under = 72\ntest-timeout = 90\n")
    [command] = commands(settings, "unit", ("-k", "test_mlp", "-x"))
    assert command[:4] == ["pytest", "tests", "-m", "not integ and not gpu"]
    assert "--junitxml=reports/x/junit.xml" in command
    assert "--timeout=90" in command
    assert "--cov=my_model" in command
    assert "--cov-report=xml:reports/x/coverage.xml" in command
    # The threshold is the verdict's, one number for the gate, the log line and the summary.
    assert not any(arg.startswith("--cov-fail-under") for arg in command)
    assert "-n" not in command
    assert command[-3:] == ["-k", "test_mlp", "-x"]
    assert BY_NAME["unit"].tools(settings) == ("pytest>=8", "pytest-timeout>=2.3", "pytest-cov>=6")
    assert BY_NAME["unit"].verdict.coverage_gate


def test_tests_named_after_dash_dash_replace_the_tests_folder(write_project: WriteProject) -> None:
    settings = project(write_project)
    (settings.root / "tests" / "test_x.py").write_text("")
    [command] = commands(settings, "unit", ("tests/test_x.py::test_a", "-x"))
    assert command[1:4] == ["-m", "not integ and not gpu", "--junitxml=reports/x/junit.xml"]
    assert command[-2:] == ["tests/test_x.py::test_a", "-x"]
    [command] = commands(settings, "unit", ("-k", "test_a"))  # a value, not a path
    assert command[1] == "tests"


def test_a_test_timeout_of_zero_is_off(write_project: WriteProject) -> None:
    settings = project(write_project, "test-timeout = 0\n")
    for session in ("unit", "integ"):
        assert not any(arg.startswith("--timeout") for arg in commands(settings, session)[0])


def test_unit_with_xdist(write_project: WriteProject) -> None:
    settings = project(write_project, "xdist-workers = 'auto'\n")
    [command] = commands(settings, "unit")
    assert command[command.index("-n") + 1] == "auto"
    assert "pytest-xdist>=3.6" in BY_NAME["unit"].tools(settings)


def test_testmon_replaces_coverage_and_xdist(write_project: WriteProject) -> None:
    settings = project(write_project, "xdist-workers = '4'\n", env={"MLCI_TESTMON": "true"})
    [command] = BY_NAME["unit"].commands(Run(settings, "unit-3.11", REPORTS))
    assert "--testmon" in command and "--testmon-env=unit-3.11" in command
    assert not any(arg.startswith("--cov") for arg in command)
    assert "-n" not in command
    tools = BY_NAME["unit"].tools(settings)
    assert "pytest-testmon>=2.1" in tools and "pytest-xdist>=3.6" not in tools


def test_lint_runs_pre_commit_then_pylint(write_project: WriteProject) -> None:
    settings = project(write_project)
    (settings.root / ".pre-commit-config.yaml").write_text("repos: []\n")
    subprocess.run(["git", "init", "-q"], cwd=settings.root, check=True)
    precommit, pylint = commands(settings, "lint", ("ruff-check",))
    assert precommit == ["pre-commit", "run", "ruff-check", "--show-diff-on-failure", "--all-files"]
    assert pylint[0] == "pylint" and pylint[-1] == "src/my_model"


def test_lint_without_a_pre_commit_config_runs_pylint_with_the_arguments(
    write_project: WriteProject,
) -> None:
    settings = project(write_project)
    [pylint] = commands(settings, "lint", ("--disable=C0114",))
    assert pylint[0] == "pylint" and pylint[-2:] == ["--disable=C0114", "src/my_model"]


def test_lint_in_a_monorepo_folder_checks_only_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "mine"
    (folder / "src" / "mine").mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    (folder / ".pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / "other.py").write_text("")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    precommit, _ = commands(resolve(folder, environ={}), "lint")
    assert precommit[-3:] == ["--files", ".pre-commit-config.yaml", "pyproject.toml"]
    assert "--all-files" not in precommit


def test_lint_outside_git_says_how_to_start(write_project: WriteProject, tmp_path: Path) -> None:
    settings = project(write_project)
    (settings.root / ".pre-commit-config.yaml").write_text("repos: []\n")
    with pytest.raises(ConfigError, match=r"run `git init && git add -A` in"):
        commands(settings, "lint")


def test_mypy_checks_package_and_tests(write_project: WriteProject) -> None:
    settings = project(write_project)
    [command] = commands(settings, "mypy", ("--strict",))
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
    assert resolve(root, environ={}).package_dir() == Path("flat")
    with pytest.raises(ConfigError, match="package 'other' not found as src/other or other"):
        resolve(root, environ={"MLCI_PACKAGE": "other"}).package_dir()


def test_integ_and_gpu(write_project: WriteProject) -> None:
    settings = project(write_project)
    [integ] = commands(settings, "integ")
    assert integ[:4] == ["pytest", "tests", "-m", "integ"]
    doctor, gpu = commands(settings, "gpu", ("-x",))
    assert doctor == ["mlci", "doctor", "--require-gpu"]
    assert gpu[:5] == ["pytest", "tests", "-m", "gpu", "--run-gpu"] and gpu[-1] == "-x"
    assert BY_NAME["integ"].verdict.tests_must_run and BY_NAME["gpu"].verdict.no_skips_except


def test_nbmake_runs_every_notebook_but_checkpoints(write_project: WriteProject) -> None:
    settings = project(write_project, "notebook-timeout = 30\n")
    assert settings.notebook_files() == ["notebooks/b.ipynb", "notebooks/sub/a.ipynb"]
    [command] = commands(settings, "nbmake")
    assert "--nbmake" in command and "--nbmake-timeout=30" in command
    assert "--nbmake-kernel=python3" in command  # not each notebook's own kernel name
    assert command[-2:] == ["notebooks/b.ipynb", "notebooks/sub/a.ipynb"]


@pytest.mark.parametrize(
    ("session", "table", "make", "why"),
    [
        ("nbmake", "notebooks = 'docs'\n", {}, "no notebooks under docs/ (set notebooks)"),
        ("unit", "tests-dir = 'spec'\n", {}, "no tests folder spec/ (set tests-dir)"),
        ("integ", "", {}, "no test under tests/ is marked integ (@pytest.mark.integ)"),
        ("integ", "", {"tests/test_i.py": "@pytest.mark.integ\ndef test(): ..."}, None),
        ("gpu", "", {"tests/test_g.py": "pytestmark = pytest.mark.gpu(devices=2)"}, None),
        ("lint", "package = 'nope'\n", {}, "package 'nope' not found as src/nope or nope"),
    ],
)
def test_what_each_session_needs_to_have_something_to_check(
    write_project: WriteProject, session: str, table: str, make: dict[str, str], why: str | None
) -> None:
    settings = project(write_project, table)
    for name, text in make.items():
        (settings.root / name).write_text(text)
    found = BY_NAME[session].nothing_to_check(settings)
    assert found == why if why is None else found is not None and found.startswith(why)


def test_descriptions_name_this_projects_folder_and_markers(write_project: WriteProject) -> None:
    settings = project(write_project, "notebooks = 'examples'\ninteg-marker = 'integration'\n")
    assert "every notebook under `examples/`" in BY_NAME["nbmake"].runs_here(settings)
    assert "`pytest -m integration`" in BY_NAME["integ"].runs_here(settings)
    assert "notebooks/" not in BY_NAME["nbmake"].runs_here(settings)


def test_gpu_select_records_the_test_map_in_unit_once_and_in_gpu(
    write_project: WriteProject,
) -> None:
    settings = project(write_project, "python-versions = ['3.11', '3.12']\ngpu-select = 'all'\n")
    first, second = (
        BY_NAME["unit"].commands(Run(settings, f"unit-{python}", REPORTS, python=python))
        for python in ("3.11", "3.12")
    )
    assert "--cov-context=test" in first[0]
    assert first[1] == [
        *("mlci", "test-map", "--coverage", f"{REPORTS}/coverage.data"),
        *("--output", ".mlci-test-maps/unit.json"),
    ]
    assert len(second) == 1 and "--cov-context=test" not in second[0]  # one CPU map is enough
    gpu = BY_NAME["gpu"].commands(Run(settings, "gpu", REPORTS, python="3.11"))
    assert {"--cov=my_model", "--cov-context=test", "--cov-fail-under=0"} <= set(gpu[1])
    assert gpu[2][-4:] == ["--output", ".mlci-test-maps/gpu.json", "--marker", "gpu"]
    assert "pytest-cov>=6" in BY_NAME["gpu"].tools(settings)


def test_without_gpu_select_no_map_is_recorded(write_project: WriteProject) -> None:
    settings = project(write_project)
    unit = BY_NAME["unit"].commands(Run(settings, "unit-3.11", REPORTS, python="3.11"))
    gpu = BY_NAME["gpu"].commands(Run(settings, "gpu", REPORTS, python="3.11"))
    assert len(unit) == 1 and "--cov-context=test" not in unit[0]
    assert len(gpu) == 2 and not any(arg.startswith("--cov") for arg in gpu[1])
    assert "pytest-cov>=6" not in BY_NAME["gpu"].tools(settings)


def test_flake_finder_repeats_each_unit_test_without_coverage(write_project: WriteProject) -> None:
    settings = project(write_project, "flake-finder = 20\n")
    [command] = BY_NAME["unit"].commands(Run(settings, "unit-3.11", REPORTS, python="3.11"))
    assert command[-3:] == ["--count=20", "--repeat-scope=function", "--no-cov"]
    assert "pytest-repeat>=0.9" in BY_NAME["unit"].tools(settings)


def test_no_map_is_recorded_from_a_run_without_coverage_data(write_project: WriteProject) -> None:
    """flake-finder's repeats and `-- --no-cov` leave no coverage data: a map command after
    them would fail a green run."""
    table = "python-versions = ['3.11']\ngpu-select = 'all'\n"  # unit-3.11 records the map
    repeats = project(write_project, table, env={"MLCI_FLAKE_FINDER": "3"})
    unit = BY_NAME["unit"].commands(Run(repeats, "unit-3.11", REPORTS, python="3.11"))
    assert len(unit) == 1 and "--cov-context=test" not in unit[0]
    settings = resolve(repeats.root, environ={})
    assert len(BY_NAME["unit"].commands(Run(settings, "unit-3.11", REPORTS, python="3.11"))) == 2
    run = Run(settings, "unit-3.11", REPORTS, ("--no-cov",), python="3.11")
    assert len(BY_NAME["unit"].commands(run)) == 1


def test_unit_select_records_the_cpu_map_and_runs_the_files_the_plan_chose(
    write_project: WriteProject,
) -> None:
    table = "python-versions = ['3.11']\nunit-select = 'affected'\n"
    whole = project(write_project, table)
    [run, record] = BY_NAME["unit"].commands(Run(whole, "unit-3.11", REPORTS, python="3.11"))
    assert run[1] == "tests" and "--cov-context=test" in run  # a full run keeps the map
    assert record[:2] == ["mlci", "test-map"]
    assert (
        "--cov-context=test"
        not in BY_NAME["gpu"].commands(Run(whole, "gpu", REPORTS, python="3.11"))[1]
    )  # only gpu-select has the gpu job record its map

    chosen = resolve(whole.root, environ={"MLCI_UNIT_TESTS": "tests/test_a.py,tests/test_b.py"})
    [part] = BY_NAME["unit"].commands(Run(chosen, "unit-3.11", REPORTS, python="3.11"))
    assert part[1:3] == ["tests/test_a.py", "tests/test_b.py"] and "tests" not in part[1:4]
    # A part of the tests: no map, and the project's own fail_under does not judge it.
    assert "--cov-context=test" not in part and "--cov-fail-under=0" in part


def test_the_chosen_unit_tests_are_files_inside_the_project(write_project: WriteProject) -> None:
    root = project(write_project).root
    for bad in ("--co", "tests/a.py,-p no:cov", "../outside.py", "/etc/passwd"):
        with pytest.raises(ConfigError) as err:
            resolve(root, environ={"MLCI_UNIT_TESTS": bad})
        assert "unit-tests" in str(err.value)
