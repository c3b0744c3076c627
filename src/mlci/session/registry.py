"""The session registry: one definition per session, read by everything that knows sessions.

nox registration (`nox_sessions.py`), `mlci sessions`, the planner's CI legs, the choice of
sessions for a project (`validation.py`), `mlci init`, the README's sessions table and the
GitLab template's job list (kept equal by a test) all read `REGISTRY`. Adding a session is one
`SessionDef` here plus its YAML wiring (docs/architecture.md).

Nothing here imports nox, so `mlci` commands stay fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from mlci.config import shard_spec
from mlci.envs.gpu import MULTI_DEVICE_SKIP_RE
from mlci.errors import ConfigError
from mlci.project.files import REPORTS, lint_scope, pre_commit_config
from mlci.session import coverage_config, flake_finder, shards, test_map

if TYPE_CHECKING:
    from mlci.config.settings import Settings

# Tools each session installs next to the project (lower bounds only: a project may pin them).
PYTEST = ("pytest>=8", "pytest-timeout>=2.3")
RERUNS = "pytest-rerunfailures>=14"


def pytest_tools(settings: Settings) -> tuple[str, ...]:
    return (*PYTEST, RERUNS) if settings.flaky_reruns else PYTEST


XDIST = "pytest-xdist>=3.6"
SPLIT = "pytest-split>=0.10"
DURATIONS = "durations.json"  # a shard's own durations, in its report folder
# coverage's data file, in each session's report folder. Not `.coverage`: upload-artifact leaves
# hidden files out, and the combine job needs the shards' data.
DATA = "coverage.data"
TESTMON = "pytest-testmon>=2.1"
COV = "pytest-cov>=6"


def records_test_map(settings: Settings, session: str, python: str, *, sharded: bool) -> bool:
    """Does this run record the test map gpu-select decides from? unit once (on the first
    Python, unsharded, with coverage: testmon runs only some tests), and gpu. The planner asks
    too, for the legs that carry the map. Never from a run without coverage data: flake-finder's
    repeats run with `--no-cov`."""
    if not selects(settings) or settings.flake_finder:
        return False
    if session == "gpu":
        return settings.gpu_select != "off"
    unsharded = not sharded and not settings.testmon and unit_selection(settings) is None
    return session == "unit" and unsharded and python == settings.main_python


def selects(settings: Settings) -> bool:
    """Is a test map recorded and read: gpu-select or unit-select on."""
    return settings.gpu_select != "off" or settings.unit_select != "all"


def unit_selection(settings: Settings) -> tuple[str, ...] | None:
    """The unit test files unit-select chose for this run: None for all of them, () for none."""
    if not settings.unit_tests:
        return None
    if settings.unit_tests == "none":
        return ()
    return tuple(part.strip() for part in settings.unit_tests.split(",") if part.strip())


def _records(run: Run) -> bool:
    if "--no-cov" in run.posargs:  # `nox -s unit-3.11 -- --no-cov`: no data to map
        return False
    session = "gpu" if run.name == "gpu" else "unit"
    return records_test_map(run.settings, session, run.python, sharded=run.shard is not None)


def test_map_commands(run: Run, kind: str) -> list[list[str]]:
    """After the tests: the map from this run's coverage data (one context per test)."""
    if not _records(run):
        return []
    output = str(PurePosixPath(test_map.FOLDER) / f"{kind}.json")
    command = ["mlci", "test-map", "--coverage", str(run.reports / DATA), "--output", output]
    return [[*command, *(["--marker", "gpu"] if kind == "gpu" else [])]]


def unit_markexpr(settings: Settings) -> str:
    """unit's `-m`: not the integ and gpu markers, nor the excluded ones, joined with `and` to
    the project's own `-m` in its pytest addopts (given last, ours would replace it)."""
    ours = " and ".join(
        f"not {marker}"
        for marker in (settings.integ_marker, settings.gpu_marker, *settings.exclude_markers)
    )
    theirs = settings.project.tools.markexpr()
    return f"({theirs.value}) and {ours}" if theirs is not None else ours


@dataclass(frozen=True)
class Run:
    """One run of a session: what its command builder needs."""

    settings: Settings
    name: str  # the nox session: `unit-3.11`, `lint`
    reports: Path  # its report folder, relative to the project root
    posargs: tuple[str, ...] = ()
    python: str = ""  # the session's Python (per-Python sessions)

    @property
    def shard(self) -> shard_spec.Shard | None:
        return shard_spec.parse(self.settings.shard) if self.settings.shard else None

    @property
    def junit(self) -> str:
        return f"--junitxml={self.reports / 'junit.xml'}"

    def timeout(self) -> list[str]:
        """pytest-timeout's limit, and pytest-rerunfailures' reruns when flaky-reruns asks."""
        seconds = self.settings.test_timeout
        reruns = self.settings.flaky_reruns
        return [
            *([f"--timeout={seconds}"] if seconds else []),
            *(["--reruns", str(reruns)] if reruns else []),
        ]

    def tests(self) -> list[str]:
        """The tests folder, unless the user named tests to run (`-- tests/test_x.py::t`), or
        the files unit-select chose."""
        named = [arg.split("::")[0] for arg in self.posargs if not arg.startswith("-")]
        if any((self.settings.root / arg).exists() for arg in named if arg):
            return []
        chosen = unit_selection(self.settings)
        if chosen and self.name.startswith("unit"):
            return list(chosen)
        found = self.settings.tests_folder()
        return [str(found)] if found is not None else []


@dataclass(frozen=True)
class Verdict:
    """When a session whose tools all exited 0 has still not passed."""

    tests_must_run: bool = False  # a report with no test fails
    # The same for a whole run (not a shard, not testmon's selection of what changed): a unit
    # session that ran nothing is not green.
    whole_run_must_test: bool = False
    # Every skipped test fails the session, except those whose reason matches this.
    no_skips_except: str | None = None
    coverage_gate: bool = False  # coverage-fail-under applies


@dataclass(frozen=True)
class SessionDef:
    """One session, everything about it that is not wiring: see the module docstring."""

    name: str
    runs: str  # for people: what it does (README table, `mlci sessions`)
    reports: tuple[str, ...]  # files it writes in its report folder
    tools: Callable[[Settings], tuple[str, ...]]
    commands: Callable[[Run], list[list[str]]]
    # None when the project has something for it to check, else why not (a few words).
    nothing_to_check: Callable[[Settings], str | None]
    # The check above reads test files for a marker: a guess, so listing the session anyway
    # is allowed (the session fails if no test ran).
    check_is_a_guess: bool = False
    default: bool = True  # runs with a plain `nox`
    per_python: bool = False  # one session per Python version: unit-3.11, unit-3.12
    gpu: bool = False  # runs on a GPU with a CUDA build of torch
    verdict: Verdict = field(default_factory=Verdict)
    # Runs before the commands: files they read (a copy of the durations, a config).
    prepare: Callable[[Run], None] | None = None
    # Chosen with another session, never on its own (not a value of `sessions`).
    implied_by: str | None = None
    # Runs the project's tests with pytest: flaky-reruns and the quarantine apply (flaky.py).
    runs_tests: bool = False

    @property
    def runs_project_code(self) -> bool:
        """Runs the project's tests or notebooks, which may download models and data sets
        (downloads.py)."""
        return self.runs_tests or self.name == "nbmake"

    def runs_here(self, settings: Settings) -> str:
        """`runs`, naming this project's folder and markers instead of the defaults."""
        return (
            self.runs.replace("`notebooks/`", f"`{settings.notebooks}/`")
            .replace("-m integ`", f"-m {settings.integ_marker}`")
            .replace("marked `integ`", f"marked `{settings.integ_marker}`")
        )

    def why_nothing(self, settings: Settings) -> str | None:
        """Why the project has nothing for this session to check (None: it has)."""
        try:
            return self.nothing_to_check(settings)
        except ConfigError as err:
            return "; ".join(err.problems)

    def nox_names(self, settings: Settings) -> tuple[str, ...]:
        if self.per_python:
            return tuple(f"{self.name}-{python}" for python in settings.python_versions)
        return (self.name,)

    def pythons(self, settings: Settings) -> tuple[str, ...]:
        return settings.python_versions if self.per_python else (settings.main_python,)

    def backend(self, settings: Settings) -> str:
        return settings.gpu_backends[0] if self.gpu else settings.torch_backend


# --- lint ---------------------------------------------------------------------------------------


def _lint(run: Run) -> list[list[str]]:
    settings = run.settings
    commands = []
    if pre_commit_config(settings.root) is not None:
        # posargs first: `--files` takes every argument after it.
        scope = lint_scope(settings.root)
        commands.append(["pre-commit", "run", *run.posargs, "--show-diff-on-failure", *scope])
        pylint_args: tuple[str, ...] = ()
    else:
        pylint_args = run.posargs  # no pre-commit: the arguments go to pylint
    report = run.reports / "pylint.json"
    formats = f"--output-format=colorized,text:{run.reports / 'pylint.txt'},json2:{report}"
    package = str(settings.package_dir())
    if not settings.pylint_baseline:
        floor = f"--fail-under={settings.pylint_fail_under:g}"
        commands.append(["pylint", formats, floor, *pylint_args, package])
        return commands
    # Only messages the baseline lacks fail (lint_baseline.py); the score is a floor only
    # where one was set.
    judge = [
        "mlci",
        "lint-baseline",
        "--baseline",
        settings.pylint_baseline,
        "--report",
        str(report),
    ]
    if settings.given("pylint-fail-under"):
        judge += ["--fail-under", f"{settings.pylint_fail_under:g}"]
    if pylint_args:
        judge.append("--narrowed")
    commands.append([*judge, "--", "pylint", formats, *pylint_args, package])
    return commands


def _has_package(settings: Settings) -> str | None:
    try:
        settings.package_dir()
    except ConfigError as err:
        return str(err)
    return None


LINT = SessionDef(
    name="lint",
    runs="`pre-commit run --all-files` with your `.pre-commit-config.yaml` (skipped, with a"
    " note, when there is none), then `pylint` on the package, failing under"
    " `pylint-fail-under`; with `pylint-baseline`, only messages not recorded there fail",
    reports=("pylint.txt", "pylint.json"),
    tools=lambda settings: ("pre-commit>=3.7", "pre-commit-uv>=4.1", "pylint>=3.2"),
    commands=_lint,
    nothing_to_check=_has_package,
)

# --- mypy ---------------------------------------------------------------------------------------


def mypy_targets(run: Run) -> list[str]:
    """The package and the tests folder, unless the project's mypy config names its own
    (`files`, `packages`, `modules`: then mypy reads them) or excludes the tests folder."""
    config = run.settings.project.tools.mypy
    if any(key in config for key in ("files", "packages", "modules")):
        return []
    targets = [str(run.settings.package_dir()), *run.tests()]
    exclude = config.get("exclude")
    if exclude is not None and run.tests():
        patterns = exclude.value if isinstance(exclude.value, list) else [str(exclude.value)]
        tests = run.tests()[0] + "/"
        if any(re.search(pattern.strip(), tests) for pattern in patterns if pattern.strip()):
            targets = targets[:1]
    return targets


def _mypy(run: Run) -> list[list[str]]:
    baseline = run.settings.mypy_baseline
    targets = mypy_targets(run)
    if not baseline:
        junit = str(run.reports / "junit.xml")
        return [["mypy", *targets, "--junit-xml", junit, *run.posargs]]
    # Only errors the baseline lacks fail (mypy_baseline.py); mypy's own JUnit report would
    # list the accepted ones as failures, so mlci writes one of the verdict instead.
    mypy = ["mypy", *targets, *run.posargs]
    files = ["--output", str(run.reports / "mypy.txt"), "--junit", str(run.reports / "junit.xml")]
    return [["mlci", "mypy-baseline", "--baseline", baseline, *files, "--", *mypy]]


MYPY = SessionDef(
    name="mypy",
    runs="`mypy` on the package and the tests folder, with your mypy config; with"
    " `mypy-baseline`, only errors not recorded there fail",
    reports=("junit.xml", "mypy.txt"),
    tools=lambda settings: ("mypy>=1.10", "mypy-baseline>=0.7", "pytest>=8"),
    commands=_mypy,
    nothing_to_check=_has_package,
)

# --- unit ---------------------------------------------------------------------------------------


def _unit_tools(settings: Settings) -> tuple[str, ...]:
    extra: tuple[str, ...] = ()
    if settings.testmon:
        extra = (TESTMON,)
    elif settings.xdist_workers != "0":
        extra = (XDIST,)
    if settings.unit_shards > 1:
        extra += (SPLIT,)
    if settings.flake_finder:
        extra += (flake_finder.REPEAT,)
    if follows_subprocesses(settings):
        extra += (SUBPROCESS_COVERAGE,)
    return (*pytest_tools(settings), COV, *extra)


def _unit(run: Run) -> list[list[str]]:
    settings = run.settings
    args = ["pytest", *run.tests(), "-m", unit_markexpr(settings), run.junit, *run.timeout()]
    if settings.testmon:
        # forceselect: testmon turns selection off when -m is given, unless told otherwise.
        # One record per session: unit-3.11 and unit-3.12 each know what they ran.
        args += ["--testmon", "--testmon-forceselect", f"--testmon-env={run.name}"]
    else:
        # The threshold is the verdict's (verdicts.py), one number for the gate and the summary.
        args += [
            f"--cov={settings.require_package()}",
            f"--cov-report=xml:{run.reports / 'coverage.xml'}",
            "--cov-report=term-missing:skip-covered",
        ]
        if settings.xdist_workers != "0":
            args += ["-n", settings.xdist_workers]
        if _records(run):
            args.append("--cov-context=test")
    if settings.flake_finder:
        # Repeats measure determinism, not coverage: no data, and no project fail_under.
        args += [*flake_finder.pytest_args(settings.flake_finder), "--no-cov"]
    shard = run.shard
    if shard is not None or follows_subprocesses(settings):
        args.append(f"--cov-config={coverage_config.target(run.reports)}")
    if unit_selection(settings) is not None and not settings.testmon:
        args += ["--cov-fail-under=0"]  # a part of the tests: the project's fail_under is not
    if shard is not None:
        # --cov-fail-under=0: pytest-cov would apply the project's `fail_under` to the part.
        args += ["--cov-fail-under=0"]
        args += shards.pytest_args(shard, run.reports / DURATIONS)
    return [[*args, *run.posargs], *test_map_commands(run, "unit")]


DISTRIBUTED = "distributed"  # the pytest plugin's marker of tests that start processes
SUBPROCESS_COVERAGE = "coverage>=7.10"  # its `patch = subprocess`; older ones ignore it


def follows_subprocesses(settings: Settings) -> bool:
    """Does unit's coverage follow the processes tests start (the DDP ranks of tests marked
    `distributed`)? Not with xdist, whose workers pytest-cov starts coverage in itself, nor
    where unit measures no coverage (testmon, flake-finder's repeats)."""
    if settings.testmon or settings.flake_finder or settings.xdist_workers != "0":
        return False
    return settings.project.marked_tests(settings.tests_dir, DISTRIBUTED)


def _unit_prepare(run: Run) -> None:
    root = run.settings.root
    if run.shard is not None:
        digest = shards.seed(root / shards.DURATIONS, root / run.reports / DURATIONS)
        shards.write_record(root / run.reports, run.shard, digest)
    subprocesses = follows_subprocesses(run.settings)
    if run.shard is not None or subprocesses:
        coverage_config.write(
            run.settings.project.tools,
            root / run.reports,
            relative=run.shard is not None,
            subprocesses=subprocesses,
        )


def _has_tests(settings: Settings) -> str | None:
    if settings.tests_folder() is None:
        return f"no tests folder {settings.tests_dir}/ (set tests-dir)"
    if not settings.project.has_tests(settings.tests_dir):
        return f"no test functions under {settings.tests_dir}/ (only conftest.py or helpers)"
    return None


UNIT = SessionDef(
    name="unit",
    runs='`pytest -m "not integ and not gpu"` with coverage on the package and a fail-under;'
    " pytest-xdist or pytest-testmon when configured",
    reports=("junit.xml", "coverage.xml"),
    tools=_unit_tools,
    commands=_unit,
    nothing_to_check=_has_tests,
    per_python=True,
    verdict=Verdict(coverage_gate=True, whole_run_must_test=True),
    prepare=_unit_prepare,
    runs_tests=True,
)

# --- coverage: the unit shards' data, combined --------------------------------------------------


def _shard_folders(run: Run) -> list[Path]:
    """The report folders the unit shards of this Python left under mlci-reports/ (locally), or
    that CI downloaded there (one folder per artifact), relative to the project."""
    reports = run.settings.root / REPORTS
    return sorted(
        path.relative_to(run.settings.root)
        for path in reports.glob(f"**/*unit-{run.python}-shard-*")
        if path.is_dir()
    )


def _coverage(run: Run) -> list[list[str]]:
    folders = _shard_folders(run)
    data = [folder / DATA for folder in folders if (run.settings.root / folder / DATA).is_file()]
    if not data:
        raise ConfigError(
            f"no coverage data of unit-{run.python}'s shards under {REPORTS}/"
            " (the shards' reports must be there first)"
        )
    config = coverage_config.target(run.reports)
    common = [f"--rcfile={config}", f"--data-file={run.reports / DATA}"]
    commands = [
        ["coverage", "combine", "--keep", *common, *map(str, data)],
        ["coverage", "xml", *common, "-o", str(run.reports / "coverage.xml")],
        ["coverage", "report", *common, *run.posargs],
    ]
    durations = [f / DURATIONS for f in folders if (run.settings.root / f / DURATIONS).is_file()]
    if durations:
        # Every Python's merge is a whole file (each Python's shards ran every test): kept
        # for the next run's split, and with the reports.
        outputs = ["--output", shards.DURATIONS, "--output", str(run.reports / DURATIONS)]
        commands.append(["mlci", "merge-durations", *outputs, *map(str, durations)])
    return commands


def _coverage_prepare(run: Run) -> None:
    """Before combining anything: the shards ran every test exactly once (shards.py)."""
    root = run.settings.root
    folders = _shard_folders(run)
    if folders:
        problem = shards.check_complete([root / folder for folder in folders])
        if problem is not None:
            raise ConfigError(problem)
    coverage_config.write(run.settings.project.tools, root / run.reports)


COVERAGE = SessionDef(
    name="coverage",
    runs="with `unit-shards` > 1, in CI: combines the unit shards' coverage data and applies"
    " `coverage-fail-under` to the whole; merges their recorded durations for the next run",
    reports=("coverage.xml",),
    tools=lambda settings: ("coverage>=7.6",),
    commands=_coverage,
    nothing_to_check=lambda settings: (
        None if settings.unit_shards > 1 else "unit-shards is 1: unit judges its own coverage"
    ),
    default=False,
    per_python=True,
    verdict=Verdict(coverage_gate=True),
    prepare=_coverage_prepare,
    implied_by="unit",
)

# --- integ --------------------------------------------------------------------------------------


def _marked(marker_of: Callable[[Settings], str]) -> Callable[[Settings], str | None]:
    def check(settings: Settings) -> str | None:
        marker = marker_of(settings)
        if settings.project.marked_tests(settings.tests_dir, marker):
            return None
        return f"no test under {settings.tests_dir}/ is marked {marker} (@pytest.mark.{marker})"

    return check


INTEG = SessionDef(
    name="integ",
    runs="`pytest -m integ`; fails when no test is marked `integ`",
    reports=("junit.xml",),
    tools=pytest_tools,
    commands=lambda run: [
        [
            *("pytest", *run.tests(), "-m", run.settings.integ_marker),
            *(run.junit, *run.timeout(), *run.posargs),
        ]
    ],
    nothing_to_check=_marked(lambda settings: settings.integ_marker),
    check_is_a_guess=True,
    verdict=Verdict(tests_must_run=True),
    runs_tests=True,
)

# --- nbmake -------------------------------------------------------------------------------------


def _nbmake(run: Run) -> list[list[str]]:
    found = run.settings.notebook_files()
    if not found:
        raise ConfigError(f"no notebooks under {run.settings.notebooks}/")
    return [
        [
            "pytest",
            "--nbmake",
            f"--nbmake-timeout={run.settings.notebook_timeout}",
            # The session's own Python, whatever kernel each notebook was saved with (a
            # `torch-env` kernel exists on its author's machine only).
            "--nbmake-kernel=python3",
            "-p",
            "no:cacheprovider",
            run.junit,
            *found,
            *run.posargs,
        ]
    ]


NBMAKE = SessionDef(
    name="nbmake",
    runs="every notebook under `notebooks/`, executed with nbmake",
    reports=("junit.xml",),
    tools=lambda settings: ("pytest>=8", "nbmake>=1.5", "ipykernel>=6"),
    commands=_nbmake,
    nothing_to_check=lambda settings: (
        None
        if settings.notebook_files()
        else f"no notebooks under {settings.notebooks}/ (set notebooks)"
    ),
    verdict=Verdict(tests_must_run=True),
)

# --- gpu ----------------------------------------------------------------------------------------


def _gpu_coverage(run: Run) -> list[str]:
    """Coverage only to record the map: no report, no gate (`--cov-fail-under=0`: pytest-cov
    would apply the project's fail_under to the gpu tests alone)."""
    if not _records(run):
        return []
    package = run.settings.require_package()
    return [f"--cov={package}", "--cov-context=test", "--cov-report=", "--cov-fail-under=0"]


GPU = SessionDef(
    name="gpu",
    runs="only when asked (`nox -s gpu`): checks for a CUDA device before installing anything,"
    " installs a CUDA build of torch, runs `mlci doctor --require-gpu`, then `pytest -m gpu`;"
    " fails when no gpu test ran or any was skipped",
    reports=("junit.xml",),
    tools=lambda settings: (
        (*pytest_tools(settings), COV) if settings.gpu_select != "off" else pytest_tools(settings)
    ),
    commands=lambda run: [
        ["mlci", "doctor", "--require-gpu"],
        [
            *("pytest", *run.tests(), "-m", run.settings.gpu_marker, "--run-gpu"),
            *(run.junit, *run.timeout(), *_gpu_coverage(run), *run.posargs),
        ],
        *test_map_commands(run, "gpu"),
    ],
    nothing_to_check=_marked(lambda settings: settings.gpu_marker),
    check_is_a_guess=True,
    default=False,
    gpu=True,
    verdict=Verdict(tests_must_run=True, no_skips_except=MULTI_DEVICE_SKIP_RE.pattern),
    runs_tests=True,
)

REGISTRY: tuple[SessionDef, ...] = (LINT, MYPY, UNIT, COVERAGE, INTEG, NBMAKE, GPU)
BY_NAME: dict[str, SessionDef] = {session.name: session for session in REGISTRY}
