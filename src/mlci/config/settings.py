"""Resolve the settings of one project: flag > MLCI_* environment > [tool.mlci] > default.

The result is typed: `settings.python_versions` is a tuple of strings, `settings.testmon` a
bool; a misspelt option is a mypy error. Where each value came from is kept beside it
(`settings.origin("testmon")`), as an `Origin`. A test keeps the fields below equal to the
option table.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.compat import load
from mlci.config.option_table import OPTIONS, OPTIONS_BY_NAME
from mlci.config.options import Option, OptionError, Origin, Value
from mlci.errors import ConfigError
from mlci.project.snapshot import Project


@dataclass(frozen=True)
class Setting:
    """A resolved value and where it came from (`note`: which variable, or how a default was
    computed, or that a given value was rejected)."""

    value: Value
    origin: Origin
    note: str = ""

    def describe(self) -> str:
        return self.origin.value + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Settings:
    """The resolved settings of a project; one attribute per option of the table, and the
    `Project` they were resolved from (every later step reads it, never the files)."""

    project: Project
    package: str
    python_versions: tuple[str, ...]
    sessions: tuple[str, ...]
    torch_backend: str
    gpu_backends: tuple[str, ...]
    gpu_torch: str
    torch_version: str
    runner: tuple[str, ...]
    gpu_runner: tuple[str, ...]
    gpu_container: str
    gpu_runner_ephemeral: bool
    call_id: str
    working_directory: str
    torch_index: str
    allow_insecure_index: bool
    extras: tuple[str, ...]
    dependency_groups: tuple[str, ...]
    resolution: str
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    coverage_fail_under: float
    coverage_margin: float
    pylint_fail_under: float
    pylint_baseline: str
    mypy_baseline: str
    xdist_workers: str
    testmon: bool
    unit_shards: int
    shard: str
    test_timeout: int
    flake_finder: int
    flaky_reruns: int
    quarantine: str
    integ_marker: str
    gpu_marker: str
    exclude_markers: tuple[str, ...]
    gpu_select: str
    unit_select: str
    unit_tests: str
    select_always: tuple[str, ...]
    test_map_max_age_days: float
    event: str
    diff_base: str
    cache_budget_gb: float
    downloads_key: str
    quarantine_ready_after: int
    tests_dir: str
    notebooks: str
    notebook_timeout: int
    sources: Mapping[str, Setting] = field(repr=False, default_factory=dict)
    # Things the user may want to know (a list entry given twice, dropped).
    warnings: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def project_name(self) -> str:
        return self.project.name

    def origin(self, name: str) -> Origin:
        return self.sources[name].origin

    def given(self, name: str) -> bool:
        """Set by the user (flag, environment or pyproject), not a default."""
        return self.origin(name) is not Origin.DEFAULT

    @property
    def main_python(self) -> str:
        return self.python_versions[0]

    def require_package(self) -> str:
        if not self.package:
            raise ConfigError(
                "[tool.mlci] package is not set and pyproject.toml has no [project].name"
            )
        return self.package

    # The layout, as these settings name it.
    def package_dir(self) -> Path:
        return self.project.package_dir(self.require_package())

    def tests_folder(self) -> Path | None:
        return self.project.tests_dir(self.tests_dir)

    def notebook_files(self) -> list[str]:
        return self.project.notebooks(self.notebooks)


def resolve(
    where: Path | Project,
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    require_pyproject: bool = True,
    problems: list[str] | None = None,
    read_project: bool = True,
) -> Settings:
    """Read the project's settings; raise ConfigError naming every bad key or value.

    An empty flag or environment value ('' or []) counts as not given: CI systems pass unset
    inputs that way.
    With `problems`, bad values are appended there and replaced by their defaults instead of
    raising, so that a caller can check further and report everything at once.
    `where` is the project already read, or its folder (read here, once).
    read_project=False: leave pyproject.toml unread (its folder is itself a rejected input).
    """
    if isinstance(where, Project):
        project = where
    elif read_project:
        project = Project.load(where, required=require_pyproject)
    else:
        project = Project.unread(where)
    table = _mlci_table(project.pyproject)
    env = os.environ if environ is None else environ
    flags = flags or {}

    found = [_unknown_key(key) for key in table if key not in OPTIONS_BY_NAME]
    found += [
        f"[tool.mlci] {option.name}: set it in the CI file (a workflow or template input), not"
        " in pyproject.toml: a pull request's own files must not choose where jobs run"
        for option in OPTIONS
        if option.name in table and not option.project
    ]
    values: dict[str, Setting] = {}
    for option in OPTIONS:
        try:
            values[option.name] = resolve_one(option, flags, env, table)
        except OptionError as err:
            found.append(str(err))
            values[option.name] = Setting(option.default, Origin.DEFAULT, "given value rejected")
    if found and problems is None:
        raise ConfigError(*found)
    if problems is not None:
        problems.extend(found)

    values = _fill_computed(values, project.name)
    if read_project:
        from_tools: list[str] = []
        values = _from_tools(values, project, from_tools)
        if from_tools and problems is None:
            raise ConfigError(*from_tools)
        if problems is not None:
            problems.extend(from_tools)
    warnings = _dedupe(values)
    typed: dict[str, Any] = {option.attribute: values[option.name].value for option in OPTIONS}
    return Settings(project=project, sources=values, warnings=warnings, **typed)


def _dedupe(values: dict[str, Setting]) -> tuple[str, ...]:
    """Lists keep the first of repeated entries: `3.11,3.11` runs once, with a warning."""
    warnings: list[str] = []
    for name, setting in values.items():
        if isinstance(setting.value, tuple) and len(set(setting.value)) < len(setting.value):
            repeated = sorted({v for v in setting.value if setting.value.count(v) > 1})
            warnings += [f"{name}: {v} is listed more than once; it runs once" for v in repeated]
            values[name] = Setting(
                tuple(dict.fromkeys(setting.value)), setting.origin, setting.note
            )
    return tuple(warnings)


def _mlci_table(pyproject: Mapping[str, Any]) -> Mapping[str, Any]:
    tool = pyproject.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError("pyproject.toml: `tool` must be a table ([tool.mlci], [tool.ruff], ...)")
    table = tool.get("mlci", {})
    if not isinstance(table, dict):
        raise ConfigError("pyproject.toml: [tool.mlci] must be a table")
    return table


def resolve_one(
    option: Option,
    flags: Mapping[str, object],
    env: Mapping[str, str] | None = None,
    table: Mapping[str, Any] | None = None,
) -> Setting:
    """One option by the precedence rule (OptionError for a bad value)."""
    env = os.environ if env is None else env
    table = table or {}
    flag = flags.get(option.name)
    if not _unset(flag):
        return Setting(option.parse(flag, option.name), Origin.FLAG)
    if not _unset(env.get(option.env_var)):
        where = f"{option.name} (from {option.env_var})"
        return Setting(option.parse(env[option.env_var], where), Origin.ENV, option.env_var)
    if option.project and option.name in table:
        where = f"[tool.mlci] {option.name}"
        return Setting(option.parse(table[option.name], where), Origin.PYPROJECT)
    return Setting(option.default, Origin.DEFAULT)


def _unset(raw: object) -> bool:
    """CI systems pass an input nobody set as '' (GitHub) or, for an array, [] (GitLab)."""
    return raw is None or (isinstance(raw, str) and raw.strip() in ("", "[]"))


def _fill_computed(values: dict[str, Setting], project_name: str) -> dict[str, Setting]:
    """Defaults that depend on the project or the running Python."""
    if not values["package"].value and project_name:
        package = project_name.replace("-", "_").replace(".", "_").lower()
        values["package"] = Setting(package, Origin.DEFAULT, "[project].name")
    if not values["gpu-backends"].value:
        # The CUDA build plain `pip install torch` gets, for the chosen (or newest) release.
        compat = load()
        wanted = str(values["torch-version"].value)
        release = (compat.release(wanted) if wanted else None) or compat.newest
        values["gpu-backends"] = Setting(
            (release.pypi_cuda,), Origin.DEFAULT, f"PyPI's build of torch {release.version}"
        )
    if not values["python-versions"].value:
        current = f"{sys.version_info.major}.{sys.version_info.minor}"
        values["python-versions"] = Setting((current,), Origin.DEFAULT, "the Python running nox")
    return values


# mlci's option, and where the project's own tool configuration says the same (tool_config).
FROM_TOOLS = {
    "pylint-fail-under": ("pylint", "fail-under"),
    "test-timeout": ("pytest", "timeout"),
    "coverage-fail-under": ("coverage", "report.fail_under"),
}


def _from_tools(
    values: dict[str, Setting], project: Project, problems: list[str]
) -> dict[str, Setting]:
    """What the project's pylint, pytest and coverage configuration say, where mlci's own
    settings say nothing: the project's configuration wins over mlci's defaults."""
    config = project.tools
    for name, (tool, key) in FROM_TOOLS.items():
        if values[name].origin is not Origin.DEFAULT:
            continue
        found = getattr(config, tool).get(key)
        if found is None:
            continue
        option = OPTIONS_BY_NAME[name]
        raw = found.value
        if option.kind == "int" and isinstance(raw, (str, float)):
            # pytest-timeout takes fractions of a second; mlci's setting counts whole ones.
            with contextlib.suppress(ValueError):  # parse() below names a bad value
                raw = math.ceil(float(raw))
        try:
            value = option.parse(raw, f"{name} (from {found.source} {key})")
        except OptionError as err:
            problems.append(str(err))
            continue
        values[name] = Setting(value, Origin.TOOL, f"{found.source} {key}")
    return values


def _unknown_key(key: str) -> str:
    # Match whole names and their first word, so `covrage` finds `coverage-fail-under`.
    candidates = {name: name for name in OPTIONS_BY_NAME}
    for name in OPTIONS_BY_NAME:
        candidates.setdefault(name.split("-")[0], name)
    close = difflib.get_close_matches(str(key).replace("_", "-"), candidates, n=1)
    hint = f" (did you mean {candidates[close[0]]}?)" if close else ""
    valid = ", ".join(OPTIONS_BY_NAME)
    return f"[tool.mlci] unknown key {key!r}{hint}; valid keys: {valid}"
