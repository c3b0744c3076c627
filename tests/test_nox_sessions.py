"""The nox side of mlci, driven with a recording stand-in for nox.Session."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import pytest

from mlci import nox_sessions
from mlci.commands import specs
from mlci.environments import Environment, environment_for, shared_tools
from mlci.settings import ConfigError, Settings, resolve

ROOT = Path(__file__).resolve().parents[1]
WriteProject = Callable[..., Path]


class Stop(Exception):
    pass


class FakeSession:
    def __init__(self, tmp: Path, name: str = "unit-3.11") -> None:
        self.name = name
        self.posargs: list[str] = []
        self.virtualenv = SimpleNamespace(location=str(tmp / "venv"))
        (tmp / "venv").mkdir(exist_ok=True)
        self.cache_dir = tmp / "cache"
        self.calls: list[tuple[str, tuple[str, ...], dict[str, Any]]] = []

    def log(self, message: str) -> None:
        self.calls.append(("log", (message,), {}))

    def run_install(self, *args: str, **kwargs: Any) -> bool:
        self.calls.append(("install", args, kwargs))
        if args[1] == "venv":  # what `uv venv` would leave behind
            python = Path(args[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True, exist_ok=True)
            python.touch()
        return True

    def run(self, *args: str, **kwargs: Any) -> bool:
        self.calls.append(("run", args, kwargs))
        return True

    def error(self, message: str) -> NoReturn:
        raise Stop(message)

    def of(self, kind: str) -> list[tuple[str, ...]]:
        return [args for k, args, _ in self.calls if k == kind]


@pytest.fixture(autouse=True)
def _mlci_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep generated files out of the user's cache folder."""
    monkeypatch.setenv("MLCI_CACHE_DIR", str(tmp_path / "mlci-cache"))


def sample_like(write_project: WriteProject, table: str = "") -> Settings:
    root = write_project("python-versions = ['3.11']\n" + table)
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    return resolve(root, environ={})


def spec(settings: Settings, name: str) -> Any:
    return next(s for s in specs(settings) if s.name == name)


def install(session: FakeSession, settings: Settings, name: str) -> Environment:
    """_install for one session, with the environment and tools run_session would pick."""
    chosen = specs(settings)
    environment = environment_for(session.cache_dir / "mlci", spec(settings, name), "3.11")
    tools = shared_tools(settings, chosen, "3.11", spec(settings, name).torch_backend)
    nox_sessions._install(session, settings, environment, tools)  # type: ignore[arg-type]
    return environment


def pip_installs(session: FakeSession) -> list[tuple[str, ...]]:
    return [args[2:] for args in session.of("install") if args[1:3] == ("pip", "install")]


def test_install_builds_once_then_skips_until_the_project_changes(
    write_project: WriteProject, tmp_path: Path
) -> None:
    settings = sample_like(write_project, "extras = ['cli']\ndependency-groups = ['dev']\n")
    session = FakeSession(tmp_path)
    environment = install(session, settings, "unit")
    venv, pip, check = session.of("install")
    assert venv[1:] == ("venv", "--clear", "--quiet", "--python", "3.11", str(environment.location))
    assert pip[1:5] == ("pip", "install", "--python", str(environment.interpreter))
    args = pip[5:]
    assert args[:3] == ("-e", ".[cli]", "--group=dev")
    assert "pytest-cov>=6" in args and "--index" in args and "--constraint" in args
    assert args[args.index("--index") + 1] == "https://download.pytorch.org/whl/cpu"
    assert "CUDA packages in a CPU session" in check[2]
    # Bytecode is compiled lazily (environments.py), so the install must not compile it.
    [pip_kwargs] = [kw for kind, args, kw in session.calls if kind == "install" and args == pip]
    assert pip_kwargs["env"]["UV_COMPILE_BYTECODE"] == "0"

    install(session, settings, "unit")
    assert len(pip_installs(session)) == 1
    assert any("install skipped" in args[0] for args in session.of("log"))

    pyproject = settings.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a dependency changed\n")
    install(session, settings, "unit")
    assert len(pip_installs(session)) == 2


def test_sessions_on_one_python_and_build_share_one_environment(
    write_project: WriteProject, tmp_path: Path
) -> None:
    settings = sample_like(write_project)
    session = FakeSession(tmp_path)
    first = install(session, settings, "lint")
    # The environment lint built already holds what mypy, unit, integ and nbmake need.
    [built] = pip_installs(session)
    for tool in ("pre-commit>=3.7", "pylint>=3.2", "mypy>=1.10", "pytest-cov>=6", "nbmake>=1.5"):
        assert tool in built
    for name in ("mypy", "unit", "integ", "nbmake"):
        assert install(session, settings, name) == first
    assert len(pip_installs(session)) == 1


def test_each_python_and_torch_build_gets_its_own_environment(
    write_project: WriteProject, tmp_path: Path
) -> None:
    root = write_project("python-versions = ['3.11', '3.12']\nsessions = ['mypy', 'unit', 'gpu']\n")
    (root / "src" / "my_model").mkdir(parents=True)
    settings = resolve(root, environ={})
    chosen = specs(settings)
    envdir = tmp_path / "envs"
    places = {
        (name, python): environment_for(envdir, spec(settings, name), python).location.name
        for name, python in [("mypy", "3.11"), ("unit", "3.11"), ("unit", "3.12"), ("gpu", "3.11")]
    }
    assert environment_for(Path("envs"), spec(settings, "unit"), "3.11").location.is_absolute()
    assert places == {
        ("mypy", "3.11"): "py3.11-cpu",
        ("unit", "3.11"): "py3.11-cpu",
        ("unit", "3.12"): "py3.12-cpu",
        ("gpu", "3.11"): f"py3.11-{spec(settings, 'gpu').torch_backend}",
    }
    assert spec(settings, "gpu").torch_backend.startswith("cu")
    # Only unit runs on 3.12: that environment gets unit's tools, not mypy's.
    assert "mypy>=1.10" not in shared_tools(settings, chosen, "3.12", "cpu")
    assert "mypy>=1.10" in shared_tools(settings, chosen, "3.11", "cpu")


def test_the_environment_compiles_bytecode_away_from_the_sources(tmp_path: Path) -> None:
    environment = Environment(tmp_path / "py3.11-cpu", "3.11", "cpu")
    variables = environment.variables()
    assert variables["PYTHONPYCACHEPREFIX"] == str(tmp_path / "py3.11-cpu" / "pycache")
    assert variables["PYTHONDONTWRITEBYTECODE"] is None  # None: nox removes it
    assert str(variables["PATH"]).startswith(str(environment.bin))
    assert environment.program("git") == "git"
    (environment.bin).mkdir(parents=True)
    (environment.bin / "pytest").write_text("#!/bin/sh\n")
    (environment.bin / "pytest").chmod(0o755)
    assert environment.program("pytest") == str(environment.bin / "pytest")


def test_projects_without_torch_get_no_index(write_project: WriteProject, tmp_path: Path) -> None:
    settings = sample_like(write_project, "torch-backend = 'none'\n")
    session = FakeSession(tmp_path)
    install(session, settings, "mypy")
    [args] = pip_installs(session)
    assert "--index" not in args and "mypy>=1.10" in args
    assert len(session.of("install")) == 2  # venv and pip: no CPU-only check without torch


def test_mlci_requirement_is_this_source_tree() -> None:
    assert nox_sessions.mlci_requirement() == ["-e", str(ROOT)]


def junit(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text(f"<testsuites>{body}</testsuites>")
    return path


def test_a_session_that_ran_no_tests_fails(tmp_path: Path) -> None:
    session = FakeSession(tmp_path)
    empty = junit(tmp_path, '<testsuite tests="0" failures="0" errors="0" skipped="0"/>')
    with pytest.raises(Stop, match="integ: no tests ran"):
        nox_sessions._check_tests_ran(session, "integ", empty)  # type: ignore[arg-type]
    nox_sessions._check_tests_ran(session, "unit", empty)  # type: ignore[arg-type]  # coverage guards unit


def test_a_gpu_session_with_skips_fails(tmp_path: Path) -> None:
    session = FakeSession(tmp_path)
    report = junit(
        tmp_path,
        '<testsuite tests="2" failures="0" errors="0" skipped="1">'
        '<testcase classname="t" name="a"><skipped message="CUDA not available"/></testcase>'
        '<testcase classname="t" name="b"/></testsuite>',
    )
    with pytest.raises(Stop, match=r"gpu: 1 gpu test\(s\) skipped.*t::a: CUDA not available"):
        nox_sessions._check_tests_ran(session, "gpu", report)  # type: ignore[arg-type]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_lint_scope(write_project: WriteProject, tmp_path: Path) -> None:
    settings = sample_like(write_project)
    with pytest.raises(ConfigError, match="pre-commit needs a git repository"):
        nox_sessions._lint_scope(settings)
    git(settings.root, "init", "-q")
    assert nox_sessions._lint_scope(settings) == ("--all-files",)

    sub = settings.root / "project"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[project]\nname='p'\n")
    (sub / "a.py").write_text("")
    (settings.root / "outside.py").write_text("")
    git(settings.root, "add", "-A")
    inner = resolve(sub, environ={})
    assert nox_sessions._lint_scope(inner) == ("--files", "a.py", "pyproject.toml")


def test_bad_settings_stop_the_noxfile_with_one_line(
    write_project: WriteProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project("sessions = ['unit', 'docs']\n")
    with pytest.raises(SystemExit) as done:
        nox_sessions.sessions(root)
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith("mlci: [tool.mlci] sessions: 'docs' is not a session")


def test_unit_fails_below_the_threshold_even_if_pytest_passed(
    write_project: WriteProject, tmp_path: Path
) -> None:
    settings = sample_like(write_project, "coverage-fail-under = 90\n")
    report = tmp_path / "coverage.xml"
    report.write_text(
        '<coverage lines-valid="80" lines-covered="70" branches-valid="20" branches-covered="10"/>'
    )
    with pytest.raises(Stop, match=r"unit: coverage 80.00% is under coverage-fail-under 90%"):
        nox_sessions._check_coverage(FakeSession(tmp_path), settings, report)  # type: ignore[arg-type]
    with pytest.raises(Stop, match="unit: no coverage report"):
        nox_sessions._check_coverage(FakeSession(tmp_path), settings, tmp_path / "none.xml")  # type: ignore[arg-type]
    report.write_text('<coverage lines-valid="10" lines-covered="9" branches-valid="0"/>')
    nox_sessions._check_coverage(FakeSession(tmp_path), settings, report)  # type: ignore[arg-type]


def test_a_gpu_session_accepts_only_the_multi_device_skip(tmp_path: Path) -> None:
    session = FakeSession(tmp_path)
    allowed = junit(
        tmp_path,
        '<testsuite tests="2" failures="0" errors="0" skipped="1">'
        '<testcase classname="t" name="ddp"><skipped message="needs 2 CUDA devices,'
        ' this machine has 1"/></testcase><testcase classname="t" name="b"/></testsuite>',
    )
    nox_sessions._check_tests_ran(session, "gpu", allowed)  # type: ignore[arg-type]
    only_skips = junit(
        tmp_path,
        '<testsuite tests="1" failures="0" errors="0" skipped="1">'
        '<testcase classname="t" name="ddp"><skipped message="needs 2 CUDA devices,'
        ' this machine has 1"/></testcase></testsuite>',
    )
    with pytest.raises(Stop, match="every gpu test was skipped"):
        nox_sessions._check_tests_ran(session, "gpu", only_skips)  # type: ignore[arg-type]
