"""Resolve the settings of one project: flag > MLCI_* environment > [tool.mlci] > default."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.compat import load
from mlci.options import OPTIONS, OPTIONS_BY_NAME, Option, OptionError, Value

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """User mistakes in the settings: printed one line each, never as a traceback."""

    def __init__(self, *problems: str, warnings: tuple[str, ...] = ()) -> None:
        unique = list(dict.fromkeys(problems))  # one check may be reached by two paths
        super().__init__("; ".join(unique))
        self.problems = unique
        self.warnings = warnings


@dataclass(frozen=True)
class Setting:
    value: Value
    source: str  # "flag", "env MLCI_X", "pyproject.toml", "default"


@dataclass(frozen=True)
class Settings:
    """The resolved settings of a project, each with where it came from."""

    root: Path
    project_name: str
    values: Mapping[str, Setting]

    def __getitem__(self, name: str) -> Value:
        return self.values[name].value

    def text(self, name: str) -> str:
        value = self[name]
        assert isinstance(value, str), name
        return value

    def items(self, name: str) -> tuple[str, ...]:
        value = self[name]
        assert isinstance(value, tuple), name
        return value

    def flag(self, name: str) -> bool:
        value = self[name]
        assert isinstance(value, bool), name
        return value

    def number(self, name: str) -> float:
        value = self[name]
        assert isinstance(value, int | float), name
        assert not isinstance(value, bool), name
        return float(value)

    @property
    def package(self) -> str:
        package = self.text("package")
        if not package:
            raise ConfigError(
                "[tool.mlci] package is not set and pyproject.toml has no [project].name"
            )
        return package

    @property
    def python_versions(self) -> tuple[str, ...]:
        return self.items("python-versions")

    @property
    def main_python(self) -> str:
        return self.python_versions[0]

    def path(self, name: str) -> Path:
        return self.root / self.text(name)


def read_pyproject(root: Path, *, required: bool = True) -> dict[str, Any]:
    """The project's pyproject.toml as a dict; a missing or unreadable one is a ConfigError."""
    path = root / "pyproject.toml"
    try:
        if not required and not path.exists():
            return {}
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"no pyproject.toml in {root}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML ({err})") from None
    except OSError as err:  # a name too long, a file that is a folder, no permission
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None


def resolve(
    root: Path,
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    require_pyproject: bool = True,
    problems: list[str] | None = None,
    read_project: bool = True,
) -> Settings:
    """Read the project's settings; raise ConfigError naming every bad key or value.

    An empty flag or environment value counts as not given: CI systems pass unset inputs as ''.
    With `problems`, bad values are appended there and replaced by their defaults instead of
    raising, so that a caller can check further and report everything at once.
    read_project=False: leave pyproject.toml unread (its folder is itself a rejected input).
    """
    root = root.resolve()
    pyproject = read_pyproject(root, required=require_pyproject) if read_project else {}
    project_name = str(pyproject.get("project", {}).get("name", ""))
    table = pyproject.get("tool", {}).get("mlci", {})
    if not isinstance(table, dict):
        raise ConfigError("[tool.mlci] must be a table")
    env = os.environ if environ is None else environ
    flags = flags or {}

    found = [_unknown_key(key) for key in table if key not in OPTIONS_BY_NAME]
    values: dict[str, Setting] = {}
    for option in OPTIONS:
        try:
            values[option.name] = _resolve_one(option, flags, env, table)
        except OptionError as err:
            found.append(str(err))
            values[option.name] = Setting(option.default, "default (given value rejected)")
    if found and problems is None:
        raise ConfigError(*found)
    if problems is not None:
        problems.extend(found)

    values = _fill_computed(values, project_name)
    return Settings(root=root, project_name=project_name, values=values)


def _resolve_one(
    option: Option, flags: Mapping[str, object], env: Mapping[str, str], table: Mapping[str, Any]
) -> Setting:
    flag = flags.get(option.name)
    if flag is not None and flag != "":
        return Setting(option.parse(flag, option.name), "flag")
    if env.get(option.env_var, "").strip():
        where = f"{option.name} (from {option.env_var})"
        return Setting(option.parse(env[option.env_var], where), f"env {option.env_var}")
    if option.toml_key in table:
        where = f"[tool.mlci] {option.toml_key}"
        return Setting(option.parse(table[option.toml_key], where), "pyproject.toml")
    return Setting(option.default, "default")


def _fill_computed(values: dict[str, Setting], project_name: str) -> dict[str, Setting]:
    """Defaults that depend on the project or the running Python."""
    if not values["package"].value and project_name:
        package = project_name.replace("-", "_").replace(".", "_").lower()
        values["package"] = Setting(package, "default ([project].name)")
    if not values["gpu-backends"].value:
        # The CUDA build plain `pip install torch` gets, for the chosen (or newest) release.
        compat = load()
        wanted = str(values["torch-version"].value)
        release = (compat.release(wanted) if wanted else None) or compat.newest
        values["gpu-backends"] = Setting(
            (release.pypi_cuda,), f"default (PyPI's build of torch {release.version})"
        )
    if not values["python-versions"].value:
        current = f"{sys.version_info.major}.{sys.version_info.minor}"
        values["python-versions"] = Setting((current,), "default (the Python running nox)")
    return values


def _unknown_key(key: str) -> str:
    # Match whole names and their first word, so `covrage` finds `coverage-fail-under`.
    candidates = {name: name for name in OPTIONS_BY_NAME}
    for name in OPTIONS_BY_NAME:
        candidates.setdefault(name.split("-")[0], name)
    close = difflib.get_close_matches(key.replace("_", "-"), candidates, n=1)
    hint = f" (did you mean {candidates[close[0]]}?)" if close else ""
    valid = ", ".join(OPTIONS_BY_NAME)
    return f"[tool.mlci] unknown key {key!r}{hint}; valid keys: {valid}"
