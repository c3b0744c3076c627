"""Register mlci's sessions into nox and run them. Imported only from a noxfile.

What each session runs comes from the registry (`registry.py`), what it installs from
`install.py`, whether it passed from `verdicts.py`; this module wires them to nox.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, Protocol, cast

import nox
from nox.command import CommandFailed

from mlci.config import shard_spec
from mlci.config.settings import Settings, resolve
from mlci.envs import bytecode, disk, image, install, locks, torch_source
from mlci.envs.environments import Environment, building, environment_for, find_uv, fingerprint
from mlci.envs.gpu import visible_gpus
from mlci.errors import ConfigError
from mlci.project.files import pre_commit_config, reports_folder
from mlci.session import (
    coverage_config,
    downloads,
    flake_finder,
    flaky,
    missing_modules,
    shards,
    verdicts,
)
from mlci.session.registry import DATA, UNIT, Run, SessionDef, unit_selection
from mlci.session.summary import total_coverage
from mlci.session.validation import Choice, check

# `nox -j auto` (nox 2026.8.10 and later) runs the sessions side by side; environments.building()
# lets one session build a shared environment while the others wait for it.
PARALLEL: dict[str, bool] = (
    {"allow_parallel": True}
    if "allow_parallel" in inspect.signature(nox.session).parameters
    else {}
)
# Environments that failed to build in this nox run, and why: the next session that needs one
# says so at once instead of building it again (and failing again).
FAILED: dict[Path, str] = {}


class Session(Protocol):
    """What mlci uses of `nox.Session` (tests pass a small fake)."""

    name: str
    posargs: list[str]

    @property
    def cache_dir(self) -> Path: ...

    def log(self, *args: Any, **kwargs: Any) -> None: ...

    def error(self, *args: Any) -> NoReturn: ...

    def skip(self, *args: Any) -> NoReturn: ...

    def run(self, *args: str, **kwargs: Any) -> Any: ...

    def run_install(self, *args: str, **kwargs: Any) -> Any: ...

    def notify(self, target: str, posargs: Any = None) -> None: ...


def sessions(root: str | Path | None = None) -> None:
    """Register the sessions `[tool.mlci]` asks for; a bad setting stops here, one line each."""
    try:
        settings = resolve(Path(root) if root is not None else Path.cwd())
        choice = check(settings)
    except ConfigError as err:
        for warning in err.warnings:
            print(f"mlci: warning: {warning}", file=sys.stderr)
        for problem in err.problems:
            print(f"mlci: error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    for warning in choice.warnings:
        print(f"mlci: warning: {warning}", file=sys.stderr)
    for session in choice.sessions:
        _register(settings, session, choice)


def _register(settings: Settings, session: SessionDef, choice: Choice) -> None:
    # mlci builds the environments itself, one per Python and torch build (environments.py), so
    # nox builds none ("none"). nox ignores a list of Pythons for such sessions, so each Python
    # gets its own session: unit-3.11, unit-3.12, ... (and `nox -s unit` runs them all).
    names = session.nox_names(settings)
    for python, name in zip(session.pythons(settings), names, strict=True):

        def session_func(nox_session: nox.Session, python: str = python) -> None:
            run_session(cast(Session, nox_session), settings, session, choice, python)

        session_func.__doc__ = session.runs_here(settings).split(";")[0].replace("`", "")
        # cast: PARALLEL holds a keyword only newer nox releases know.
        cast(Any, nox.session)(
            name=name,
            python=python,
            venv_backend="none",
            default=session.default,
            tags=[session.name],
            **PARALLEL,
        )(session_func)
    if names != (session.name,):

        def run_all(nox_session: nox.Session) -> None:
            for name in names:
                nox_session.notify(name)

        run_all.__doc__ = f"runs {', '.join(names)}"
        nox.session(name=session.name, venv_backend="none", default=False)(run_all)


def run_session(
    session: Session, settings: Settings, definition: SessionDef, choice: Choice, python: str
) -> None:
    """Body of every mlci session: fresh report folder, install, run the commands, judge."""
    root = settings.root
    shard = shard_spec.parse(settings.shard) if definition is UNIT and settings.shard else None
    folder = f"{session.name}-shard-{shard.index}" if shard else session.name
    try:
        reports = _fresh_reports(root, folder)
    except ConfigError as err:
        session.error(f"{definition.name}: {err}")
    if definition is UNIT and unit_selection(settings) == ():
        session.skip(
            "unit: unit-select found no unit test the change can reach (mlci plan says why)"
        )
    if definition.gpu:
        gpus, why = visible_gpus()
        if not gpus:
            session.error(
                f"gpu: no CUDA device visible ({why}); run it on a machine with an NVIDIA GPU"
            )
        session.log("mlci: " + "; ".join(gpus))

    environment = _prepared_environment(session, settings, definition, choice, python, reports)
    try:
        commands = definition.commands(
            Run(settings, session.name, reports.relative_to(root), tuple(session.posargs), python)
        )
    except ConfigError as err:
        session.error(f"{definition.name}: {err}")
    if definition.name == "lint" and pre_commit_config(root) is None:
        session.log(
            "mlci: lint: no .pre-commit-config.yaml, so pre-commit is skipped"
            " (`mlci init --pre-commit` writes a starter one)"
        )

    extra, fetched = _session_variables(session, settings, definition, reports, python)
    try:
        ran = _run_commands(
            session,
            definition,
            environment,
            reports,
            commands,
            shard is not None,
            extra,
            settings.project.pyproject,
        )
    finally:  # also when pytest failed: that is the run whose report a user reads
        _seal_bytecode(session, environment, root)
        coverage_config.drop_empty_parallel_data(reports / DATA)
        if definition.runs_tests:
            _report_flaky(session, settings, definition, reports)
        if fetched is not None:
            session.log(fetched.report())
    if ran:
        _judge(session, settings, definition, reports, sharded=shard is not None)
        # Green, and every test of the session ran (not a shard, testmon's selection or
        # repeats, nor tests named by hand): the folder holds what these tests download.
        whole = not (
            shard
            or settings.testmon
            or settings.flake_finder
            or session.posargs
            or settings.unit_tests
        )
        if fetched is not None and whole:
            fetched.complete(session.name)


def _session_variables(
    session: Session, settings: Settings, definition: SessionDef, reports: Path, python: str
) -> tuple[dict[str, str], downloads.Downloads | None]:
    """What the session's commands get in their environment besides the environment's own,
    and the downloads folder's view when downloads-key applies."""
    extra = (
        coverage_config.core(settings.project.tools, python)
        if definition.verdict.coverage_gate
        else {}
    )
    extra["MLCI_GPU_MARKER"] = settings.gpu_marker  # the pytest plugin's gating
    if definition.name == "mypy" and "MYPY_CACHE_DIR" not in os.environ:
        extra["MYPY_CACHE_DIR"] = str(bytecode.mypy_cache(settings.root))
    if definition.runs_tests:
        extra.update(_flaky_environment(session, settings, definition, reports))
    fetched = None
    if definition.runs_project_code and settings.downloads_key:
        fetched = downloads.prepare(settings.root, settings.downloads_key, session.name)
        extra.update(fetched.variables)
    return extra, fetched


def _prepared_environment(
    session: Session,
    settings: Settings,
    definition: SessionDef,
    choice: Choice,
    python: str,
    reports: Path,
) -> Environment:
    """The session's environment, built or found up to date (a ConfigError stops the session
    in one line)."""
    backend = definition.backend(settings)
    envdir = Path(session.cache_dir) / "mlci"
    _ignored_by_git(Path(session.cache_dir).parent)
    environment = environment_for(envdir, python, backend)
    in_image: image.ImageTorch | None = None
    if definition.gpu and settings.gpu_torch == "image":
        environment, in_image = _image_environment(session, envdir, python)
        backend = environment.backend
    if environment.location in FAILED:
        session.error(
            f"{definition.name}: its environment {environment.location.name} failed to build"
            f" earlier in this run: {FAILED[environment.location].rstrip('.')}"
        )
    run = Run(
        settings, session.name, reports.relative_to(settings.root), tuple(session.posargs), python
    )
    try:
        if definition.prepare is not None:
            definition.prepare(run)
        tools = shared_tools(settings, choice, python, definition.backend(settings))
        request = install.request(
            settings, backend, tools, torch_source.mlci_cache(), image=in_image
        )
        with building(environment):
            _install(session, settings, environment, request)
    except ConfigError as err:
        session.error(f"{definition.name}: {err}")
    return environment


def _seal_bytecode(session: Session, environment: Environment, root: Path) -> None:
    """Seal the bytecode this session wrote (bytecode.py), so a rebuilt environment reuses
    it; never a reason for a session to fail."""
    if not environment.interpreter.exists():
        return
    command = [
        str(environment.interpreter),
        "-m",
        "mlci.envs.bytecode",
        str(bytecode.root()),
        str(environment.location),
        str(root),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        session.log(f"mlci: bytecode not sealed: {err}")
        return
    last = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()[-1]
    session.log(last if done.returncode == 0 else f"mlci: bytecode not sealed: {last}")


def _flaky_environment(
    session: Session, settings: Settings, definition: SessionDef, reports: Path
) -> dict[str, str]:
    """The quarantine for the pytest plugin, after refusing expired entries (flaky.py)."""
    entries: list[flaky.Entry] = []
    if settings.quarantine:
        try:
            entries = flaky.read_quarantine(settings.root / settings.quarantine)
        except ConfigError as err:
            session.error(f"{definition.name}: {err}")
        late = flaky.expired(entries)
        if late:
            session.error(f"{definition.name}: " + "; ".join(late))
    if not (entries or settings.flaky_reruns):
        return {}
    return flaky.environment(entries, reports)


def _report_flaky(
    session: Session, settings: Settings, definition: SessionDef, reports: Path
) -> None:
    """The evidence on nondeterministic tests: flake-finder's repeats, reruns, quarantine."""
    if definition is UNIT and settings.flake_finder:
        count = settings.flake_finder
        session.log(flake_finder.verdict_line(session.name, reports / "junit.xml", count))
    if not (settings.flaky_reruns or settings.quarantine):
        return
    found = flaky.read_report(reports)
    flaky.annotate_junit(reports / "junit.xml", found["flaky"])
    line = flaky.verdict_line(definition.name, reports, reports.relative_to(reports.parents[1]))
    if line is not None:
        session.log(line)
    if settings.quarantine:
        try:
            entries = flaky.read_quarantine(settings.root / settings.quarantine)
        except ConfigError:
            return  # read before the tests ran; a file changed since is the next run's to name
        listed = {entry.test for entry in entries}
        streaks = flaky.record_streaks(settings.root, session.name, found["quarantined"], listed)
        ready = flaky.ready_line(
            definition.name, streaks, settings.quarantine_ready_after, settings.quarantine
        )
        if ready is not None:
            session.log(ready)


def _run_commands(
    session: Session,
    definition: SessionDef,
    environment: Environment,
    reports: Path,
    commands: list[list[str]],
    sharded: bool,
    extra: dict[str, str],
    pyproject: Mapping[str, Any],
) -> bool:
    """Run the session's commands in its environment; False under `nox --install-only`."""
    env = {
        **extra,
        **environment.variables(),
        "MLCI_SESSION": definition.name,
        "MPLBACKEND": "Agg",
        # coverage's data file with the reports, not in the project's root.
        "COVERAGE_FILE": str(reports / DATA),
    }
    if sharded:  # mlci's pytest plugin adds the collected tests to the shard's record
        env[shards.COLLECTED_ENV] = str(reports / shards.RECORD)
    # pytest's "no tests collected" (5) is the verdict's to explain, in words; a shard may
    # get no test at all (more shards than tests).
    rules = definition.verdict
    codes = [0, 5] if rules.tests_must_run or rules.whole_run_must_test or sharded else [0]
    for program, *args in commands:
        try:
            ran = session.run(
                environment.program(program),
                *args,
                env=env,
                external=True,
                success_codes=codes if program == "pytest" else [0],
            )
        except CommandFailed:
            if program == "pytest":
                _explain_collection(session, pyproject, definition, reports)
            raise
        if ran is None:
            return False  # nox --install-only: nothing ran, so there is nothing to check
    return True


def _explain_collection(
    session: Session, pyproject: Mapping[str, Any], definition: SessionDef, reports: Path
) -> None:
    """Test modules that import what is not installed: one line per missing module."""
    line = missing_modules.summary(definition.name, reports / "junit.xml", pyproject)
    if line is not None:
        session.error(line)


def _judge(
    session: Session, settings: Settings, definition: SessionDef, reports: Path, *, sharded: bool
) -> None:
    """The verdict from the reports (verdicts.py), and the coverage line GitLab reads."""
    # A shard never fails on coverage alone: the coverage session judges the whole.
    # Nor does a run of some tests (testmon) or of repeats (flake-finder).
    selected = definition is UNIT and unit_selection(settings) is not None
    partial = settings.testmon or settings.flake_finder > 0 or selected
    coverage_expected = not partial and "--no-cov" not in session.posargs and not sharded
    if definition.verdict.coverage_gate and coverage_expected:
        total = total_coverage(reports / "coverage.xml")
        if total is not None:
            # GitLab's `coverage:` regex reads this line (one number: the gate's).
            session.log(
                f"mlci: {definition.name}: Total coverage: {total:.2f}%"
                f" (coverage-fail-under {settings.coverage_fail_under:g}%)"
            )
    found = verdicts.problems(
        definition,
        reports,
        coverage_fail_under=settings.coverage_fail_under,
        coverage_expected=coverage_expected,
        partial=sharded or settings.testmon or selected,
    )
    if found:
        session.error("; ".join(found))


def _image_environment(
    session: Session, envdir: Path, python: str
) -> tuple[Environment, image.ImageTorch]:
    """gpu-torch = image: an environment in nox's envdir, layered over the image's Python."""
    try:
        found = image.inspect(image.find_python())
    except ConfigError as err:
        session.error(f"gpu: {err}")
    session.log(
        f"mlci: gpu-torch = image: {found.python}, torch {found.torch} (CUDA {found.cuda}),"
        f" kept with {len(found.pinned) - 1} CUDA packages; the image itself is not changed"
    )
    location = envdir.resolve() / f"py{python}-image"
    return Environment(location, python, "image", over=found.python), found


def _ignored_by_git(envdir: Path) -> None:
    """nox's folder (`.nox/`) holds a `*` .gitignore, as nox writes when it makes the folder
    itself; mlci's environments are made in it without nox, so it may not have."""
    ignore = envdir / ".gitignore"
    with contextlib.suppress(OSError):  # a read-only or odd folder: only `git status` suffers
        if not ignore.exists():
            envdir.mkdir(parents=True, exist_ok=True)
            ignore.write_text("# Written by mlci: environments are not sources.\n*\n")


def _fresh_reports(root: Path, name: str) -> Path:
    """The session's report folder, emptied: stale reports are never collected as this run's.
    mlci-reports/.gitignore keeps the folder out of `git status`, as nox does for .nox/."""
    reports = reports_folder(root, name)
    try:
        if reports.exists():
            shutil.rmtree(reports)
        reports.mkdir(parents=True)
        ignore = reports.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Written by mlci: session reports are not sources.\n*\n")
    except OSError as err:
        raise ConfigError(f"cannot prepare {reports}: {err.strerror}") from None
    return reports


def shared_tools(settings: Settings, choice: Choice, python: str, backend: str) -> tuple[str, ...]:
    """Every tool of every chosen session that uses the (python, backend) environment, once
    each and in a stable order, so that whichever session runs first builds the same one."""
    wanted: dict[str, None] = {}
    for session in choice.sessions:
        if python in session.pythons(settings) and session.backend(settings) == backend:
            wanted.update(dict.fromkeys(session.tools(settings)))
    return tuple(wanted)


def _install(
    session: Session, settings: Settings, environment: Environment, request: install.InstallRequest
) -> None:
    stamp = fingerprint(
        settings.project, [environment.python, *request.args], request.follows_files
    )
    if environment.up_to_date(stamp):
        session.log(
            f"mlci: environment {environment.location.name} up to date, install skipped"
            " (remove .nox/ to rebuild)"
        )
        return
    source = request.source
    if request.locked:
        locks.check_fresh(settings.root)  # one line when the lock is stale, before anything
    session.log(f"mlci: {environment.location.name} follows {request.follows}")
    if source is not None:
        session.log(f"mlci: torch {source.backend} from {source.origin}: {source.shown}")
    short = disk.check_free(environment.location, environment.backend)
    if short is not None:
        session.error(f"installing into {environment.location.name}: {short}")
    uv = find_uv()
    # Built from scratch: cheap (uv links from its cache), and nothing stale survives.
    venv = [uv, "venv", "--clear", "--quiet", "--python", environment.python]
    if environment.over is not None:
        before = image.inspect(environment.over)
        venv[-1:] = [str(environment.over), "--system-site-packages"]
    if session.run_install(*venv, str(environment.location), external=True) is None:
        session.log("mlci: --no-install: the environment is used as it is")
        return
    if environment.over is not None:
        image.see_venv(environment.interpreter, before)
    command = [uv, "pip", "install", "--python", str(environment.interpreter), *request.args]
    session.log(shlex.join(command))
    code, output = _run_and_keep(command, request.environment)
    if code != 0:
        reason = install.failure_reason(output, request)
        FAILED[environment.location] = reason
        session.error(f"installing into {environment.location.name} failed: {reason}")
    if source is not None and source.backend == "cpu":
        check_cpu = [str(environment.interpreter), "-c", torch_source.CPU_ONLY_CHECK]
        session.run_install(*check_cpu, silent=True, external=True)
    if environment.over is not None:
        # The image is as it was, and the layer's imports find its torch, not a copy.
        moved = image.changed(before, image.inspect(environment.over))
        moved = moved or image.changed(before, image.inspect(environment.interpreter))
        if moved:
            FAILED[environment.location] = "; ".join(moved)
            session.error(f"gpu-torch = image: the install changed the image's {'; '.join(moved)}")
        unmet = image.unmet_in(environment.interpreter)
        if unmet:
            FAILED[environment.location] = "; ".join(unmet)
            session.error(
                f"gpu-torch = image: {'; '.join(unmet[:5])}. The image's packages are used where"
                " the project's own requirements accept them: name that package with the"
                " version it needs in the project's dependencies to install it beside the image"
            )
    environment.stamp.write_text(stamp)
    environment.follows.write_text(request.follows + "\n")


def _run_and_keep(command: list[str], extra_env: dict[str, str]) -> tuple[int, str]:
    """Run a command, its output shown as it comes and also kept (to name a failure's cause)."""
    # Bytecode is compiled lazily, per imported module (environments.py), never up front.
    env = {**os.environ, "UV_COMPILE_BYTECODE": "0", **extra_env}
    env.pop("VIRTUAL_ENV", None)
    kept: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stderr.write(line)
            kept.append(line)
    return process.returncode, "".join(kept)
