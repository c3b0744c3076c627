"""One validation of the settings against the project, for every entry point.

`mlci.sessions()` (so `nox -l` fails fast too), `mlci sessions` and `mlci plan` call `check`,
so a bad setting gets the same one-line message from each, before anything is installed. It
also chooses the sessions: `sessions` unset means every session that has something to check;
listed, each must have something to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlci.compat import TorchRelease, load, version_key
from mlci.config import checks
from mlci.config.settings import Settings
from mlci.envs.torch_source import checked_url
from mlci.errors import ConfigError
from mlci.project import declared
from mlci.project.files import inside
from mlci.session.registry import REGISTRY, SessionDef


@dataclass(frozen=True)
class Choice:
    """The sessions a project runs, and those left out (name -> why), in registry order."""

    sessions: tuple[SessionDef, ...]
    left_out: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    torch: TorchRelease | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(session.name for session in self.sessions)


def check(settings: Settings, earlier: list[str] | None = None) -> Choice:
    """The sessions to run; ConfigError with one line per problem (and `earlier` ones)."""
    problems: list[str] = list(earlier or [])
    warnings: list[str] = []
    pyproject = settings.project.pyproject

    problems += _backend(settings.torch_backend)
    torch = _torch_release(settings, problems)
    if torch is not None and settings.torch_backend != "none":
        problems += [
            f"python-versions: {python} is not available for torch {torch.version}"
            f" (has {', '.join(torch.pythons)})"
            for python in settings.python_versions
            if python not in torch.pythons
        ]
    spec = declared.requires_python(pyproject)
    if spec is not None:
        problems += [
            f"python-versions: {python} is excluded by requires-python {spec} in pyproject.toml"
            for python in settings.python_versions
            if checks.PYTHON.fullmatch(python) and not declared.allows(spec, python)
        ]
    problems += _groups_and_extras(settings, pyproject)
    for name, folder in (("tests-dir", settings.tests_dir), ("notebooks", settings.notebooks)):
        try:
            inside(settings.root, folder, name)
        except ConfigError as err:
            problems += err.problems
    problems += _files(settings)
    if "://" in settings.torch_index:
        try:
            checked_url(settings.torch_index, settings.allow_insecure_index)
        except ConfigError as err:
            problems += err.problems

    chosen, left_out = _sessions(settings, problems, warnings)
    problems += _shard_problems(settings, chosen)
    if problems:
        raise ConfigError(*problems, warnings=tuple(warnings))
    return Choice(chosen, left_out, tuple(warnings), torch)


# GitHub runs at most this many jobs from one matrix ("A job matrix can generate a maximum of
# 256 jobs per workflow run"); every leg of the plan is one job of the session matrix.
GITHUB_MATRIX_LIMIT = 256


def _shard_problems(settings: Settings, chosen: tuple[SessionDef, ...]) -> list[str]:
    """unit-shards that CI could not carry out: testmon beside them, or too many legs."""
    names = {session.name for session in chosen}
    if settings.unit_shards <= 1 or "unit" not in names:
        return []
    found = []
    if settings.testmon:
        found.append(
            f"unit-shards: {settings.unit_shards} shards with testmon = true: testmon runs only"
            " the affected tests and writes no coverage data, so the shards cannot be combined;"
            " turn one of them off"
        )
    legs = 0
    for session in chosen:
        if session.implied_by is not None:
            continue
        if session.gpu:
            legs += len(settings.gpu_backends) if settings.gpu_runner else 0
        elif session.per_python:
            count = settings.unit_shards if session.name == "unit" else 1
            legs += len(settings.python_versions) * count
        else:
            legs += 1
    if legs > GITHUB_MATRIX_LIMIT:
        pythons = len(settings.python_versions)
        fits = (GITHUB_MATRIX_LIMIT - (legs - pythons * settings.unit_shards)) // max(pythons, 1)
        found.append(
            f"unit-shards: {pythons} Pythons x {settings.unit_shards} shards make {legs} CI"
            f" jobs, over GitHub's {GITHUB_MATRIX_LIMIT} per matrix; use at most {fits} shards,"
            " or fewer Pythons"
        )
    return found


def _backend(backend: str) -> list[str]:
    if backend.startswith("cu"):
        return [
            f"torch-backend: {backend} is a CUDA build; CPU sessions use cpu"
            " (CUDA builds go in gpu-backends)"
        ]
    if backend not in ("cpu", "none"):
        return [f"torch-backend: {backend} is not supported yet (use cpu, or none)"]
    return []


def _torch_release(settings: Settings, problems: list[str]) -> TorchRelease | None:
    compat = load()
    wanted = settings.torch_version
    torch = compat.release(wanted) if wanted else compat.newest
    if torch is None:
        known = ", ".join(sorted(compat.releases, key=version_key))
        problems.append(f"torch-version: {wanted} is not a release mlci knows (knows {known})")
    return torch


def _files(settings: Settings) -> list[str]:
    """Files the settings name must exist, inside the project."""
    named = [("requirements", name) for name in settings.requirements]
    named += [("constraints", name) for name in settings.constraints]
    if settings.mypy_baseline:
        named.append(("mypy-baseline", settings.mypy_baseline))
    if settings.pylint_baseline:
        named.append(("pylint-baseline", settings.pylint_baseline))
    if settings.quarantine:
        named.append(("quarantine", settings.quarantine))
    if settings.downloads_key:
        named.append(("downloads-key", settings.downloads_key))
    found: list[str] = []
    for option, name in named:
        try:
            path = inside(settings.root, name, option)
        except ConfigError as err:
            found += err.problems
            continue
        if not path.is_file():
            baselines = ("mypy-baseline", "pylint-baseline")
            hint = " (record it: `mlci init --measure`)" if option in baselines else ""
            found.append(f"{option}: {name} is not a file in the project{hint}")
    return found


def _groups_and_extras(settings: Settings, pyproject: Mapping[str, object]) -> list[str]:
    found: list[str] = []
    groups = declared.declared_groups(pyproject)
    has = ", ".join(sorted(groups)) or "none"
    found += [
        f"dependency-groups: {group!r} is not a [dependency-groups] entry of pyproject.toml"
        f" (it has {has})"
        for group in settings.dependency_groups
        if group not in groups
    ]
    extras = declared.declared_extras(pyproject)
    if extras is not None:
        has = ", ".join(sorted(extras)) or "none"
        found += [
            f"extras: {extra!r} is not an extra of the project (it has {has})"
            for extra in settings.extras
            if extra.lower().replace("_", "-") not in extras
        ]
    return found


def _sessions(
    settings: Settings, problems: list[str], warnings: list[str]
) -> tuple[tuple[SessionDef, ...], dict[str, str]]:
    listed = settings.given("sessions")
    chosen: list[SessionDef] = []
    left_out: dict[str, str] = {}
    for session in REGISTRY:
        if session.implied_by is not None:
            if session.implied_by in settings.sessions and session.why_nothing(settings) is None:
                chosen.append(session)
            continue
        if session.name not in settings.sessions:
            continue
        why = session.why_nothing(settings)
        if why is None:
            chosen.append(session)
        elif not listed:
            left_out[session.name] = why
        elif session.check_is_a_guess:
            warnings.append(f"{session.name}: {why}; it fails if no test runs")
            chosen.append(session)
        else:
            problems.append(
                f"{session.name}: nothing to check: {why} (or leave it out of sessions)"
            )
    if not chosen and not problems:
        reasons = "; ".join(f"{name}: {why}" for name, why in left_out.items())
        problems.append(f"sessions: nothing to check in this project ({reasons})")
    return tuple(chosen), left_out
