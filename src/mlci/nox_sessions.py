"""Register mlci's sessions into nox.  Imported only from a noxfile (through `mlci.sessions`)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, cast

import nox
from nox.command import CommandFailed

from mlci import torch_source
from mlci._version import __version__
from mlci.commands import SessionSpec, commands, specs
from mlci.environments import Environment, building, environment_for, shared_tools
from mlci.gpu import MULTI_DEVICE_SKIP_RE, visible_gpus
from mlci.junit import skip_reasons, totals
from mlci.settings import ConfigError, Settings, resolve
from mlci.summary import total_coverage

STAMP = ".mlci-installed"
# `nox -j auto` (nox 2026.8.10 and later) runs the sessions side by side; environments.building()
# lets one session build a shared environment while the others wait for it.
PARALLEL: dict[str, bool] = (
    {"allow_parallel": True}
    if "allow_parallel" in inspect.signature(nox.session).parameters
    else {}
)


def sessions(root: str | Path | None = None) -> None:
    """Register lint, mypy, unit, integ, nbmake and gpu, configured from `[tool.mlci]`."""
    try:
        settings = resolve(Path(root) if root is not None else Path.cwd())
        chosen = specs(settings)
    except ConfigError as err:
        print(f"mlci: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    for spec in chosen:
        _register(settings, spec, chosen)


def _register(settings: Settings, spec: SessionSpec, chosen: list[SessionSpec]) -> None:
    # mlci builds the environments itself, one per Python and torch build (environments.py), so
    # nox builds none ("none").  nox ignores a list of Pythons for such sessions, so each Python
    # gets its own session: unit-3.11, unit-3.12, ... (and `nox -s unit` runs them all).
    for python in spec.pythons:

        def session_func(session: nox.Session, python: str = python) -> None:
            run_session(session, settings, spec, chosen, python)

        session_func.__doc__ = spec.summary
        # cast: PARALLEL holds a keyword only newer nox releases know.
        cast(Any, nox.session)(
            name=spec.nox_names()[spec.pythons.index(python)],
            python=python,
            venv_backend="none",
            default=spec.default,
            tags=[spec.name],
            **PARALLEL,
        )(session_func)
    if spec.nox_names() != (spec.name,):
        names = spec.nox_names()

        def run_all(session: nox.Session) -> None:
            for name in names:
                session.notify(name)

        run_all.__doc__ = f"runs {', '.join(names)}"
        nox.session(name=spec.name, venv_backend="none", default=False)(run_all)


def run_session(
    session: nox.Session,
    settings: Settings,
    spec: SessionSpec,
    chosen: list[SessionSpec],
    python: str,
) -> None:
    """Body of every mlci session: fresh report folder, install, run the commands, check."""
    reports = Path(settings.text("reports-dir")) / session.name
    # Stale reports from an earlier run must never be collected as this run's results.
    shutil.rmtree(settings.root / reports, ignore_errors=True)
    (settings.root / reports).mkdir(parents=True)

    if spec.name == "gpu":
        gpus, why = visible_gpus()
        if not gpus:
            session.error(
                f"gpu: no CUDA device visible ({why}); run it on a machine with an NVIDIA GPU"
            )
        session.log("mlci: " + "; ".join(gpus))

    environment = environment_for(Path(session.cache_dir) / "mlci", spec, python)
    try:
        scope = _lint_scope(settings) if spec.name == "lint" else ("--all-files",)
        to_run = commands(settings, spec.name, reports, list(session.posargs), scope)
        with building(environment):
            _install(
                session,
                settings,
                environment,
                shared_tools(settings, chosen, python, spec.torch_backend),
            )
    except ConfigError as err:
        session.error(f"{spec.name}: {err}")

    env = {**environment.variables(), "MLCI_SESSION": spec.name, "MPLBACKEND": "Agg"}
    for program, *args in to_run:
        if session.run(environment.program(program), *args, env=env, external=True) is None:
            return  # nox --install-only: nothing ran, so there is nothing to check
    _check_tests_ran(session, spec.name, settings.root / reports / "junit.xml")
    if spec.name == "unit" and not settings.flag("testmon") and "--no-cov" not in session.posargs:
        _check_coverage(session, settings, settings.root / reports / "coverage.xml")


def _check_coverage(session: nox.Session, settings: Settings, report: Path) -> None:
    """pytest-cov enforces the threshold; this second look keeps a plugin clash from hiding it."""
    threshold = settings.number("coverage-fail-under")
    total = total_coverage(report)
    if total is None:
        session.error(f"unit: no coverage report at {report}")
    if total + 1e-9 < threshold:
        session.error(f"unit: coverage {total:.2f}% is under coverage-fail-under {threshold:g}%")


def _check_tests_ran(session: nox.Session, name: str, junit: Path) -> None:
    """A test session that ran nothing, or a gpu session that skipped, has not passed."""
    if name not in ("integ", "gpu", "nbmake"):
        return
    counts = totals(junit)
    if counts.tests == 0:
        session.error(
            f"{name}: no tests ran (mark tests with @pytest.mark.{name},"
            f" or drop {name} from sessions)"
        )
    if name == "gpu" and counts.tests == counts.skipped:
        session.error("gpu: every gpu test was skipped; a GPU job must run at least one")
    if name == "gpu":
        # Only a test needing more devices than the machine has may skip; nothing else may.
        refused = [r for r in skip_reasons(junit) if not MULTI_DEVICE_SKIP_RE.search(r)]
        if refused:
            session.error(
                f"gpu: {len(refused)} gpu test(s) skipped, a GPU job must run them all:"
                f" {'; '.join(refused)}"
            )


def _lint_scope(settings: Settings) -> tuple[str, ...]:
    """pre-commit works on a git repository; a project in a subfolder lints only its own files."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=settings.root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise ConfigError(
            f"pre-commit needs a git repository: run `git init` in {settings.root}"
        ) from None
    if Path(top).resolve() == settings.root:
        return ("--all-files",)
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=settings.root, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return ("--files", *[name for name in listed if name])


def _install(
    session: nox.Session, settings: Settings, environment: Environment, needed: tuple[str, ...]
) -> None:
    source = torch_source.resolve(
        environment.backend, settings.text("torch-index"), torch_source.mlci_cache()
    )
    extras = settings.items("extras")
    project = "." + (f"[{','.join(extras)}]" if extras else "")
    args = ["-e", project, *[f"--group={group}" for group in settings.items("dependency-groups")]]
    args += [*needed, *mlci_requirement()]
    if source is not None:
        args += source.install_args()

    stamp = environment.location / STAMP
    fingerprint = _fingerprint(settings, [environment.python, *args])
    if stamp.is_file() and stamp.read_text() == fingerprint and environment.interpreter.exists():
        session.log(
            f"mlci: environment {environment.location.name} up to date, install skipped"
            " (remove .nox/ to rebuild)"
        )
        return
    if source is not None:
        session.log(f"mlci: torch {source.backend} from {source.origin}: {source.index_url}")
    uv = _uv()
    # Built from scratch: cheap (uv links from its cache), and nothing stale survives.
    venv = [uv, "venv", "--clear", "--quiet", "--python", environment.python]
    if session.run_install(*venv, str(environment.location), external=True) is None:
        session.log("mlci: --no-install: the environment is used as it is")
        return
    # Bytecode is compiled lazily, per imported module (environments.py), never up front.
    no_compile = {"UV_COMPILE_BYTECODE": "0", "VIRTUAL_ENV": None}
    pip = [uv, "pip", "install", "--python", str(environment.interpreter)]
    try:
        session.run_install(*pip, *args, env=no_compile, external=True)
    except CommandFailed:
        where = f"; torch came from {source.origin}: {source.index_url}" if source else ""
        session.error(
            f"installing into {environment.location} failed{where} (uv's reason is above;"
            " uv retries network errors UV_HTTP_RETRIES times, 3 by default)"
        )
    if source is not None and source.backend == "cpu":
        check = [str(environment.interpreter), "-c", torch_source.CPU_ONLY_CHECK]
        session.run_install(*check, silent=True, external=True)
    stamp.write_text(fingerprint)


def _uv() -> str:
    """uv on PATH (or $UV), else the copy installed next to nox (`pipx install nox[uv]`)."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return found
    try:
        find_uv_bin = importlib.import_module("uv").find_uv_bin
    except (ImportError, AttributeError):
        raise ConfigError("uv not found: install it (https://docs.astral.sh/uv/)") from None
    return str(find_uv_bin())


def _fingerprint(settings: Settings, args: list[str]) -> str:
    """What the environment was built from: a change to any of it reinstalls."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(settings.root), __version__, *args]).encode())
    for name in ("pyproject.toml", "uv.lock", "setup.cfg", "setup.py"):
        path = settings.root / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def mlci_requirement() -> list[str]:
    """Install the same mlci into session environments (its pytest plugin, `mlci doctor`)."""
    tree = Path(__file__).resolve().parents[2]
    if (tree / "pyproject.toml").is_file() and (tree / "src" / "mlci").is_dir():
        return ["-e", str(tree)]  # a source checkout of the kit
    try:
        direct = importlib.metadata.distribution("mlci").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        direct = None
    if direct:
        origin = json.loads(direct)
        url = origin.get("url", "")
        vcs = origin.get("vcs_info")
        if vcs:  # installed from git (the GitLab template does): the very same commit
            return [f"{vcs['vcs']}+{url}@{vcs['commit_id']}"]
        if url.startswith("file://"):
            return [urllib.request.url2pathname(urllib.parse.urlparse(url).path)]
    return [f"mlci=={__version__}"]
