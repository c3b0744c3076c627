"""The nox side of mlci, driven with a recording stand-in for nox.Session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import nox
import pytest

from mlci.config.settings import Settings, resolve
from mlci.envs import bytecode
from mlci.envs import install as install_module
from mlci.envs.environments import Environment, environment_for
from mlci.envs.torch_source import TorchSource
from mlci.errors import ConfigError
from mlci.session import nox_sessions
from mlci.session.registry import BY_NAME
from mlci.session.validation import check

ROOT = Path(__file__).resolve().parents[2]
WriteProject = Callable[..., Path]


class Skipped(Exception):
    pass


class Stop(Exception):
    pass


class FakeSession:
    """Enough of nox.Session for mlci (nox_sessions.Session, a Protocol)."""

    def __init__(self, tmp: Path, name: str = "unit-3.11") -> None:
        self.name = name
        self.posargs: list[str] = []
        self._cache = tmp / "cache"
        self.calls: list[tuple[str, tuple[str, ...], dict[str, Any]]] = []

    @property
    def cache_dir(self) -> Path:
        return self._cache

    def log(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("log", tuple(map(str, args)), kwargs))

    def run_install(self, *args: str, **kwargs: Any) -> bool:
        self.calls.append(("install", args, kwargs))
        if args[1] == "venv":  # what `uv venv` would leave behind
            python = Path(args[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True, exist_ok=True)
            python.touch()
        return True

    def run(self, *args: str, **kwargs: Any) -> Any:
        self.calls.append(("run", args, kwargs))
        return True

    def error(self, *args: Any) -> NoReturn:
        raise Stop(" ".join(map(str, args)))

    def skip(self, *args: Any) -> NoReturn:
        raise Skipped(" ".join(map(str, args)))

    def notify(self, target: str, posargs: Any = None) -> None:
        self.calls.append(("notify", (target,), {}))

    def of(self, kind: str) -> list[tuple[str, ...]]:
        return [args for k, args, _ in self.calls if k == kind]


@pytest.fixture(autouse=True)
def _mlci_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep generated files out of the user's cache folder."""
    monkeypatch.setenv("MLCI_CACHE_DIR", str(tmp_path / "mlci-cache"))


@pytest.fixture
def uv_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    """`uv pip install` calls, recorded instead of run; each succeeds."""
    runs: list[tuple[list[str], dict[str, str]]] = []

    def fake(command: list[str], extra_env: dict[str, str]) -> tuple[int, str]:
        runs.append((command, extra_env))
        return 0, ""

    monkeypatch.setattr(nox_sessions, "_run_and_keep", fake)
    return runs


def sample_like(write_project: WriteProject, table: str = "") -> Settings:
    root = write_project("python-versions = ['3.11']\n" + table)
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("def test_a(): ...\n")
    return resolve(root, environ={})


def install(session: FakeSession, settings: Settings, name: str) -> Environment:
    """_install for one session, with the environment and tools run_session would pick."""
    choice = check(settings)
    backend = BY_NAME[name].backend(settings)
    environment = environment_for(session.cache_dir / "mlci", "3.11", backend)
    tools = nox_sessions.shared_tools(settings, choice, "3.11", backend)
    request = install_module.request(settings, backend, tools, settings.root / "mlci-cache")
    nox_sessions._install(session, settings, environment, request)
    return environment


def test_install_builds_once_then_skips_until_what_it_installs_changes(
    write_project: WriteProject, tmp_path: Path, uv_runs: list[Any]
) -> None:
    settings = sample_like(
        write_project,
        "extras = ['cli']\ndependency-groups = ['dev']\n",
    )
    pyproject = settings.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + "[project.optional-dependencies]\ncli = []\n[dependency-groups]\ndev = []\n"
    )
    settings = resolve(settings.root, environ={})  # each nox run reads the project afresh
    session = FakeSession(tmp_path)
    environment = install(session, settings, "unit")
    venv, check_cpu = session.of("install")
    assert venv[1:] == ("venv", "--clear", "--quiet", "--python", "3.11", str(environment.location))
    [(pip, _)] = uv_runs
    assert pip[1:5] == ["pip", "install", "--python", str(environment.interpreter)]
    args = pip[5:]
    assert args[:3] == ["-e", f"{settings.root}[cli]", f"--group={pyproject}:dev"]
    assert "pytest-cov>=6" in args and "--constraint" in args
    # torch from its own explicit index, everything else from the default one (see torch_source)
    routing = Path(args[args.index("-r") + 1]).read_text()
    assert 'torch = { index = "mlci-torch" }' in routing and "explicit = true" in routing
    assert "--index" not in args
    assert "mlci.envs.torch_source" in check_cpu[2]

    install(session, settings, "unit")
    assert len(uv_runs) == 1
    assert any("install skipped" in args[0] for args in session.of("log"))

    # mlci's own table and the other tools' tables install nothing: no rebuild.
    pyproject.write_text(pyproject.read_text() + "[tool.ruff]\nline-length = 99\n")
    text = pyproject.read_text().replace(
        "python-versions = ['3.11']", "python-versions = ['3.11']\ncoverage-fail-under = 12"
    )
    pyproject.write_text(text)
    install(session, resolve(settings.root, environ={}), "unit")
    assert len(uv_runs) == 1

    # A dependency is what the environment is built from: rebuild.
    pyproject.write_text(pyproject.read_text().replace("cli = []", "cli = ['rich']"))
    install(session, resolve(settings.root, environ={}), "unit")
    assert len(uv_runs) == 2


def test_sessions_on_one_python_and_build_share_one_environment(
    write_project: WriteProject, tmp_path: Path, uv_runs: list[Any]
) -> None:
    settings = sample_like(write_project, "sessions = ['lint', 'mypy', 'unit']\n")
    session = FakeSession(tmp_path)
    first = install(session, settings, "lint")
    # The environment lint built already holds what mypy and unit need.
    [(built, _)] = uv_runs
    for tool in ("pre-commit>=3.7", "pylint>=3.2", "mypy>=1.10", "pytest-cov>=6"):
        assert tool in built
    for name in ("mypy", "unit"):
        assert install(session, settings, name) == first
    assert len(uv_runs) == 1


def test_each_python_and_torch_build_gets_its_own_environment(
    write_project: WriteProject, tmp_path: Path
) -> None:
    root = write_project("python-versions = ['3.11', '3.12']\nsessions = ['mypy', 'unit']\n")
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("def test_a(): ...\n")
    settings = resolve(root, environ={})
    choice = check(settings)
    assert environment_for(Path("envs"), "3.11", "cpu").location.is_absolute()
    assert environment_for(tmp_path, "3.12", "cu130").location.name == "py3.12-cu130"
    # Only unit runs on 3.12: that environment gets unit's tools, not mypy's.
    assert "mypy>=1.10" not in nox_sessions.shared_tools(settings, choice, "3.12", "cpu")
    assert "mypy>=1.10" in nox_sessions.shared_tools(settings, choice, "3.11", "cpu")


def test_the_environment_compiles_bytecode_away_from_the_sources(tmp_path: Path) -> None:
    environment = Environment(tmp_path / "py3.11-cpu", "3.11", "cpu")
    variables = environment.variables()
    # Outside the environment (a rebuild keeps it), in uv's cache (CI saves it with that).
    assert variables["PYTHONPYCACHEPREFIX"] == str(bytecode.root())
    assert not bytecode.root().is_relative_to(environment.location)
    assert variables["PYTHONDONTWRITEBYTECODE"] is None  # None: nox removes it
    assert str(variables["PATH"]).startswith(str(environment.bin))
    assert environment.program("git") == "git"
    (environment.bin).mkdir(parents=True)
    (environment.bin / "pytest").write_text("#!/bin/sh\n")
    (environment.bin / "pytest").chmod(0o755)
    assert environment.program("pytest") == str(environment.bin / "pytest")


def test_projects_without_torch_get_no_torch_source(
    write_project: WriteProject, tmp_path: Path, uv_runs: list[Any]
) -> None:
    settings = sample_like(write_project, "torch-backend = 'none'\n")
    session = FakeSession(tmp_path)
    install(session, settings, "mypy")
    [(args, env)] = uv_runs
    assert "-r" not in args and "mypy>=1.10" in args and env == {}
    assert len(session.of("install")) == 1  # the venv: no CPU-only check without torch


def test_index_credentials_go_to_uv_as_variables_never_on_the_command_line(
    write_project: WriteProject, tmp_path: Path, uv_runs: list[Any]
) -> None:
    settings = sample_like(
        write_project, "torch-index = 'https://ci:s3cret@mirror.example/torch/simple'\n"
    )
    session = FakeSession(tmp_path)
    install(session, settings, "unit")
    [(args, env)] = uv_runs
    assert env == {"UV_INDEX_MLCI_TORCH_USERNAME": "ci", "UV_INDEX_MLCI_TORCH_PASSWORD": "s3cret"}
    routing = Path(args[args.index("-r") + 1]).read_text()
    assert "s3cret" not in " ".join(args) + routing + repr(session.calls)
    assert 'url = "https://mirror.example/torch/simple"' in routing


def test_a_failed_install_names_uvs_reason_and_is_not_repeated(
    write_project: WriteProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sample_like(write_project)
    output = (
        "Resolved 3 packages\n"
        "error: No interpreter found for Python 3.11 in managed installations\n"
    )
    monkeypatch.setattr(nox_sessions, "_run_and_keep", lambda command, env: (2, output))
    monkeypatch.setattr(nox_sessions, "FAILED", {})
    session = FakeSession(tmp_path)
    with pytest.raises(Stop) as stop:
        install(session, settings, "unit")
    assert str(stop.value).endswith(
        "failed: No interpreter found for Python 3.11 in managed installations"
    )
    assert "torch came from" not in str(stop.value)  # no network hint for a missing Python


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            "  \N{MULTIPLICATION SIGN} No solution found when resolving dependencies:\n"
            "  ╰─▶ Because nothing matches torch==9.9 ...\n",
            "No solution found when resolving dependencies: Because nothing matches torch==9.9 ...",
        ),
        (
            "error: Failed to fetch: `https://download.pytorch.org/whl/cpu/torch/`\n"
            "  Caused by: dns error\n",
            "Failed to fetch: `https://download.pytorch.org/whl/cpu/torch/` (torch comes from"
            " PyTorch index: https://download.pytorch.org/whl/cpu; uv retries network errors"
            " UV_HTTP_RETRIES times, 3 by default)",
        ),
    ],
)
def test_install_failure_reasons(tmp_path: Path, output: str, reason: str) -> None:
    source = TorchSource("cpu", "https://download.pytorch.org/whl/cpu", "PyTorch index", tmp_path)
    request = install_module.InstallRequest([], source)
    assert install_module.failure_reason(output, request) == reason


def test_mlci_requirement_is_this_source_tree() -> None:
    assert install_module.mlci_requirement() == ["-e", str(ROOT)]


def test_bad_settings_stop_the_noxfile_with_one_line(
    write_project: WriteProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project("sessions = ['unit', 'docs']\n")
    with pytest.raises(SystemExit) as done:
        nox_sessions.sessions(root)
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith(
        "mlci: error: [tool.mlci] sessions: 'docs' is not a session"
    )


def test_a_reports_symlink_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    (target / "lint").mkdir(parents=True)
    (target / "lint" / "keep.txt").write_text("data")
    project = tmp_path / "project"
    project.mkdir()
    (project / "mlci-reports").symlink_to(target)
    with pytest.raises(ConfigError, match="reports is a symbolic link"):
        nox_sessions._fresh_reports(project, "lint")
    assert (target / "lint" / "keep.txt").read_text() == "data"


def test_fresh_reports_are_kept_out_of_git(tmp_path: Path) -> None:
    folder = nox_sessions._fresh_reports(tmp_path, "unit-3.11")
    (folder / "old.xml").write_text("")
    folder = nox_sessions._fresh_reports(tmp_path, "unit-3.11")
    assert list(folder.iterdir()) == []
    assert (tmp_path / "mlci-reports" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_reports_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    """An unwritable report folder (root writes anywhere, so a file stands in for it)."""
    (tmp_path / "mlci-reports").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot prepare"):
        nox_sessions._fresh_reports(tmp_path, "lint")


# --- a whole session, with the install and the tools recorded instead of run -------------------


@pytest.fixture
def no_install(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    monkeypatch.setattr(
        nox_sessions,
        "_install",
        lambda session, settings, environment, request: built.append(environment.location.name),
    )
    return built


def coverage_report(folder: Path, covered: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "coverage.xml").write_text(
        f'<coverage lines-valid="100" lines-covered="{covered}" branches-valid="0"/>'
    )


class Reporting(FakeSession):
    """A session whose pytest writes the reports a test gives it."""

    def __init__(self, tmp: Path, root: Path, name: str, junit: str, covered: int) -> None:
        super().__init__(tmp, name)
        self.root, self.junit, self.covered = root, junit, covered

    def run(self, *args: str, **kwargs: Any) -> Any:
        super().run(*args, **kwargs)
        if Path(args[0]).name == "pytest":
            folder = self.root / "mlci-reports" / self.name
            (folder / "junit.xml").write_text(self.junit)
            coverage_report(folder, self.covered)
        return True


PASSED = '<testsuite tests="2" failures="0" errors="0" skipped="0"/>'


def test_a_session_runs_its_commands_and_logs_the_coverage_it_judged(
    write_project: WriteProject, tmp_path: Path, no_install: list[str]
) -> None:
    settings = sample_like(write_project, "coverage-fail-under = 80\nsessions = ['unit']\n")
    session = Reporting(tmp_path, settings.root, "unit-3.11", PASSED, covered=90)
    nox_sessions.run_session(session, settings, BY_NAME["unit"], check(settings), "3.11")
    assert no_install == ["py3.11-cpu"]
    [(program, *args)] = session.of("run")
    assert Path(program).name == "pytest" and "--junitxml=mlci-reports/unit-3.11/junit.xml" in args
    [kwargs] = [kw for kind, _, kw in session.calls if kind == "run"]
    # unit: "no tests" (5) reaches the verdict, which explains it in words (a whole run fails).
    assert kwargs["success_codes"] == [0, 5]
    assert kwargs["env"]["MLCI_SESSION"] == "unit"
    logged = [args[0] for args in session.of("log")]
    assert "mlci: unit: Total coverage: 90.00% (coverage-fail-under 80%)" in logged
    # nox's folder (the fake's is tmp_path) is kept out of `git status`, as nox itself does.
    assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_session_whose_tools_passed_can_still_fail_its_verdict(
    write_project: WriteProject, tmp_path: Path, no_install: list[str]
) -> None:
    settings = sample_like(write_project, "coverage-fail-under = 95\nsessions = ['unit']\n")
    session = Reporting(tmp_path, settings.root, "unit-3.11", PASSED, covered=90)
    with pytest.raises(Stop, match=r"unit: coverage 90.00% is under coverage-fail-under 95%"):
        nox_sessions.run_session(session, settings, BY_NAME["unit"], check(settings), "3.11")


def test_integ_accepts_pytests_no_tests_code_and_explains_it(
    write_project: WriteProject, tmp_path: Path, no_install: list[str]
) -> None:
    settings = sample_like(write_project, "sessions = ['integ']\n")
    (settings.root / "tests" / "test_i.py").write_text("@pytest.mark.integ\ndef test(): ...\n")
    empty = '<testsuite tests="0" failures="0" errors="0" skipped="0"/>'
    session = Reporting(tmp_path, settings.root, "integ", empty, covered=0)
    with pytest.raises(Stop, match=r"^integ: no tests ran \(mark tests with @pytest.mark.integ"):
        nox_sessions.run_session(session, settings, BY_NAME["integ"], check(settings), "3.11")
    [kwargs] = [kw for kind, _, kw in session.calls if kind == "run"]
    assert kwargs["success_codes"] == [0, 5]


def test_a_unit_selection_is_judged_without_the_coverage_gate_and_none_skips_unit(
    write_project: WriteProject,
    tmp_path: Path,
    no_install: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """unit-select's part of the tests: the gate would fail it (here 30% against 80)."""
    table = "coverage-fail-under = 80\nsessions = ['unit']\nunit-select = 'affected'\n"
    whole = sample_like(write_project, table)
    session = Reporting(tmp_path, whole.root, "unit-3.11", PASSED, covered=30)
    with pytest.raises(Stop, match="under coverage-fail-under 80%"):
        nox_sessions.run_session(session, whole, BY_NAME["unit"], check(whole), "3.11")

    monkeypatch.setenv("MLCI_UNIT_TESTS", "tests/test_x.py")
    part = resolve(whole.root)
    session = Reporting(tmp_path, part.root, "unit-3.11", PASSED, covered=30)
    nox_sessions.run_session(session, part, BY_NAME["unit"], check(part), "3.11")  # green
    [(_program, *args)] = session.of("run")[:1]
    assert args[0] == "tests/test_x.py"

    monkeypatch.setenv("MLCI_UNIT_TESTS", "none")
    none = resolve(whole.root)
    skipped, installs = FakeSession(tmp_path, "unit-3.11"), len(no_install)
    with pytest.raises(Skipped, match="unit-select found no unit test the change can reach"):
        nox_sessions.run_session(skipped, none, BY_NAME["unit"], check(none), "3.11")
    assert skipped.of("run") == [] and len(no_install) == installs  # nothing installed


def test_install_only_stops_before_the_verdict(
    write_project: WriteProject, tmp_path: Path, no_install: list[str]
) -> None:
    settings = sample_like(write_project, "sessions = ['unit']\n")

    class InstallOnly(FakeSession):
        def run(self, *args: str, **kwargs: Any) -> Any:
            super().run(*args, **kwargs)
            return None  # what nox returns under --install-only

    session = InstallOnly(tmp_path)
    nox_sessions.run_session(session, settings, BY_NAME["unit"], check(settings), "3.11")
    assert len(session.of("run")) == 1  # no verdict: no Stop for the missing reports


def test_a_gpu_session_without_a_device_stops_before_installing(
    write_project: WriteProject,
    tmp_path: Path,
    no_install: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = sample_like(write_project, "sessions = ['gpu']\n")
    (settings.root / "tests" / "test_g.py").write_text("pytestmark = pytest.mark.gpu\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    with pytest.raises(Stop, match=r"gpu: no CUDA device visible \(nvidia-smi not found on PATH\)"):
        nox_sessions.run_session(
            FakeSession(tmp_path, "gpu"), settings, BY_NAME["gpu"], check(settings), "3.11"
        )
    assert no_install == []


def test_an_environment_that_failed_in_this_run_is_not_built_again(
    write_project: WriteProject,
    tmp_path: Path,
    no_install: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = sample_like(write_project, "sessions = ['unit']\n")
    session = FakeSession(tmp_path)
    location = environment_for(session.cache_dir / "mlci", "3.11", "cpu").location
    monkeypatch.setattr(nox_sessions, "FAILED", {location: "No solution found"})
    with pytest.raises(Stop, match=r"unit: its environment py3.11-cpu failed to build earlier"):
        nox_sessions.run_session(session, settings, BY_NAME["unit"], check(settings), "3.11")
    assert no_install == []


def test_registering_makes_one_nox_session_per_python_and_a_group(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[dict[str, Any]] = []

    def fake_session(**kwargs: Any) -> Callable[[Any], Any]:
        registered.append(kwargs)
        return lambda func: func

    monkeypatch.setattr(nox, "session", fake_session)
    root = write_project("python-versions = ['3.11', '3.12']\nsessions = ['lint', 'unit']\n")
    (root / "src" / "my_model").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("def test_a(): ...\n")
    nox_sessions.sessions(root)
    names = [(kw["name"], kw.get("python"), kw.get("default")) for kw in registered]
    assert names == [
        ("lint", "3.11", True),
        ("unit-3.11", "3.11", True),
        ("unit-3.12", "3.12", True),
        ("unit", None, False),  # `nox -s unit`: every unit-<python>
    ]
    assert all(kw["venv_backend"] == "none" for kw in registered)


def test_image_mode_uses_the_images_python_and_keeps_its_torch(
    write_project: WriteProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uv_runs: list[Any],
) -> None:
    """gpu-torch = image: a venv layered over the image's Python is built and installed into,
    the image's torch left out of the install, and a moved torch is refused."""
    from mlci.envs import image

    settings = sample_like(write_project, "sessions = ['gpu']\ngpu-torch = 'image'\n")
    (settings.root / "tests" / "test_g.py").write_text("pytestmark = pytest.mark.gpu\n")
    python = tmp_path / "image" / "bin" / "python3"
    found = image.ImageTorch(
        python, tmp_path / "image", "2.11.0+cu130", "13.0", {"torch": "2.11.0+cu130"}
    )
    moved = image.ImageTorch(python, tmp_path / "image", "2.12.0", "13.0", {"torch": "2.12.0"})
    seen = iter([found, found, moved])
    monkeypatch.setattr(image, "find_python", lambda: python)
    monkeypatch.setattr(image, "inspect", lambda path: next(seen))
    monkeypatch.setattr(nox_sessions, "visible_gpus", lambda: (["GPU 0: H200"], ""))
    session = FakeSession(tmp_path, "gpu")
    with pytest.raises(
        Stop, match=r"the install changed the image's torch 2.11.0\+cu130 -> 2.12.0"
    ):
        nox_sessions.run_session(session, settings, BY_NAME["gpu"], check(settings), "3.11")
    [(args, _)] = uv_runs
    layer = (session.cache_dir / "mlci" / "py3.11-image").resolve()
    assert args[4] == str(layer / "bin" / "python")  # into the layer, never the image
    [venv] = [call for call in session.of("install") if "venv" in call]
    assert venv[venv.index("--python") + 1] == str(python) and "--system-site-packages" in venv
    overrides = Path(args[args.index("--override") + 1]).read_text()
    assert 'torch ; python_version < "0"' in overrides


def test_mypy_keeps_its_cache_in_uvs_cache_unless_told_otherwise(
    write_project: WriteProject,
    tmp_path: Path,
    uv_runs: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CI job restores uv's cache: mypy's cache there spares checking torch's stubs again.
    A MYPY_CACHE_DIR of the runner's own wins (and the project's cache_dir wins over both,
    in mypy itself)."""
    monkeypatch.delenv("MYPY_CACHE_DIR", raising=False)
    settings = sample_like(write_project, "torch-backend = 'none'\n")
    session = FakeSession(tmp_path)
    nox_sessions.run_session(session, settings, BY_NAME["mypy"], check(settings), "3.11")
    [(args, kwargs)] = [(a, k) for kind, a, k in session.calls if kind == "run"]
    assert "mypy" in Path(args[0]).name
    assert kwargs["env"]["MYPY_CACHE_DIR"] == str(bytecode.mypy_cache(settings.root))
    monkeypatch.setenv("MYPY_CACHE_DIR", str(tmp_path / "own"))
    again = FakeSession(tmp_path)
    nox_sessions.run_session(again, settings, BY_NAME["mypy"], check(settings), "3.11")
    [(_, kwargs)] = [(a, k) for kind, a, k in again.calls if kind == "run"]
    assert "MYPY_CACHE_DIR" not in kwargs["env"]
