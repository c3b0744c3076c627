"""The project's own configuration of pytest, pylint, mypy and coverage, read where each tool
itself reads it. mlci fills only what these leave unsaid (docs/architecture.md, precedence).

Each tool stops at the first file it finds, so the first matching file below is the one used:
- pytest (docs "Configuration: configuration file formats"): pytest.toml, .pytest.toml
  (pytest 9), pytest.ini, .pytest.ini, pyproject.toml `[tool.pytest]` (pytest 9) or
  `[tool.pytest.ini_options]`, tox.ini `[pytest]`, setup.cfg `[tool:pytest]`; a pytest.ini
  wins even when empty.
- pylint (docs "Configuration: finding the configuration file"): pylintrc, .pylintrc,
  pylintrc.toml, .pylintrc.toml, pyproject.toml with `[tool.pylint]`, setup.cfg and tox.ini with
  `[pylint]` / `[pylint.*]` sections; every section's options in one namespace.
- mypy (docs "The mypy configuration file"): mypy.ini, .mypy.ini, pyproject.toml
  `[tool.mypy]`, setup.cfg `[mypy]`.
- coverage (docs "Configuration reference"): .coveragerc, .coveragerc.toml, then setup.cfg,
  tox.ini (their `[coverage:*]` sections), pyproject.toml `[tool.coverage.*]`, the first that
  has any.
Standard library only (this runs inside nox); a file that cannot be parsed counts as absent,
since the tool itself then reports it.
"""

from __future__ import annotations

import configparser
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci._toml import tomllib


@dataclass(frozen=True)
class ToolValue:
    """A value the project's own configuration sets, and the file it came from."""

    value: Any
    source: str  # `pyproject.toml [tool.pylint.main]`, `.pylintrc [MAIN]`, ...


@dataclass(frozen=True)
class ToolConfig:
    """What mlci needs to know of the project's tool configuration."""

    pytest: dict[str, ToolValue] = field(default_factory=dict)  # addopts, markers, timeout
    pylint: dict[str, ToolValue] = field(default_factory=dict)  # fail-under
    mypy: dict[str, ToolValue] = field(default_factory=dict)  # files, packages, modules, exclude
    coverage: dict[str, ToolValue] = field(default_factory=dict)  # fail_under, branch
    coverage_file: str = ""  # where coverage reads its settings ("" for none)
    # That file's sections as coverage reads them: {"run": {"branch": "true"}, "report": ...}
    coverage_sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def markexpr(self) -> ToolValue | None:
        """The `-m` expression the project's pytest addopts give, if any."""
        addopts = self.pytest.get("addopts")
        if addopts is None:
            return None
        expression = markexpr_of(addopts.value)
        return ToolValue(expression, addopts.source) if expression else None


def _tools_table(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """`[tool]`, or {} when it is not a table (settings.py names that mistake)."""
    tool = data.get("tool", {})
    return tool if isinstance(tool, dict) else {}


def _ini(path: Path) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    return parser


def _section(parser: configparser.ConfigParser, name: str, source: str) -> dict[str, ToolValue]:
    return {key: ToolValue(value, f"{source} [{name}]") for key, value in parser[name].items()}


def _pytest(root: Path, pyproject: Mapping[str, Any]) -> dict[str, ToolValue]:
    for name in ("pytest.toml", ".pytest.toml"):  # pytest 9's native TOML files
        if (root / name).is_file():
            table = _toml_file(root / name).get("pytest", {})
            found = table if isinstance(table, dict) else {}
            return {key: ToolValue(value, f"{name} [pytest]") for key, value in found.items()}
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            parser = _ini(root / name)
            found_ini = parser is not None and parser.has_section("pytest")
            return _section(parser, "pytest", name) if parser is not None and found_ini else {}
    tool = _tools_table(pyproject).get("pytest", {})
    native = {k: v for k, v in tool.items() if k != "ini_options"} if isinstance(tool, dict) else {}
    if native:  # pytest 9: [tool.pytest] itself
        return {
            key: ToolValue(value, "pyproject.toml [tool.pytest]") for key, value in native.items()
        }
    table = tool.get("ini_options") if isinstance(tool, dict) else None
    if isinstance(table, dict):
        source = "pyproject.toml [tool.pytest.ini_options]"
        return {key: ToolValue(value, source) for key, value in table.items()}
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        parser = _ini(root / name) if (root / name).is_file() else None
        if parser is not None and parser.has_section(section):
            return _section(parser, section, name)
    return {}


def _pylint_toml(tool: Any, source: str) -> dict[str, ToolValue]:
    """pylint reads `[tool.pylint]` flattened: every option of every section, and top-level
    keys too, so `fail-under` may stand in any of them."""
    if not isinstance(tool, dict):
        return {}
    found = {
        key: ToolValue(v, f"{source} [tool.pylint]")
        for key, v in tool.items()
        if not isinstance(v, dict)
    }
    for section, table in tool.items():
        if isinstance(table, dict):
            found.update(
                {key: ToolValue(v, f"{source} [tool.pylint.{section}]") for key, v in table.items()}
            )
    return found


def _pylint_ini(parser: configparser.ConfigParser, name: str, prefix: str) -> dict[str, ToolValue]:
    found: dict[str, ToolValue] = {}
    for section in parser.sections():
        if section.lower() == prefix.rstrip(".") or section.lower().startswith(prefix):
            found.update(_section(parser, section, name))
    return found


def _pylint(root: Path, pyproject: Mapping[str, Any]) -> dict[str, ToolValue]:
    """pylint's own search: pylintrc, .pylintrc, pylintrc.toml, .pylintrc.toml, pyproject.toml
    with [tool.pylint], setup.cfg / tox.ini with pylint sections; all sections flattened."""
    for name in ("pylintrc", ".pylintrc"):
        parser = _ini(root / name) if (root / name).is_file() else None
        if parser is not None:
            return _pylint_ini(parser, name, "")
    for name in ("pylintrc.toml", ".pylintrc.toml"):
        if (root / name).is_file():
            found = _pylint_toml(_tools_table(_toml_file(root / name)).get("pylint"), name)
            if found:
                return found
    if isinstance(_tools_table(pyproject).get("pylint"), dict):
        return _pylint_toml(pyproject["tool"]["pylint"], "pyproject.toml")
    for name in ("setup.cfg", "tox.ini"):
        parser = _ini(root / name) if (root / name).is_file() else None
        if parser is not None:
            found = _pylint_ini(parser, name, "pylint.")
            if found:
                return found
    return {}


def _toml_file(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return data


def _mypy(root: Path, pyproject: Mapping[str, Any]) -> dict[str, ToolValue]:
    for name in ("mypy.ini", ".mypy.ini"):
        if (root / name).is_file():
            parser = _ini(root / name)
            ok = parser is not None and parser.has_section("mypy")
            return _section(parser, "mypy", name) if parser is not None and ok else {}
    table = _tools_table(pyproject).get("mypy")
    if isinstance(table, dict):
        return {key: ToolValue(value, "pyproject.toml [tool.mypy]") for key, value in table.items()}
    parser = _ini(root / "setup.cfg") if (root / "setup.cfg").is_file() else None
    if parser is not None and parser.has_section("mypy"):
        return _section(parser, "mypy", "setup.cfg")
    return {}


def _coverage_sections(
    root: Path, pyproject: Mapping[str, Any]
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The file coverage reads its settings from, and its sections as a .coveragerc names
    them (`run`, `report`, ...): values are text from ini files, TOML values from pyproject."""
    if (root / ".coveragerc").is_file():
        parser = _ini(root / ".coveragerc")
        if parser is not None:
            # A .coveragerc may also spell its sections `[coverage:report]`.
            return ".coveragerc", {
                name.removeprefix("coverage:"): dict(parser[name]) for name in parser.sections()
            }
    if (root / ".coveragerc.toml").is_file():
        table = _tools_table(_toml_file(root / ".coveragerc.toml")).get("coverage")
        if isinstance(table, dict):
            return ".coveragerc.toml", {k: v for k, v in table.items() if isinstance(v, dict)}
    for name in ("setup.cfg", "tox.ini"):
        parser = _ini(root / name) if (root / name).is_file() else None
        if parser is None:
            continue
        found = {
            section.removeprefix("coverage:"): dict(parser[section])
            for section in parser.sections()
            if section.startswith("coverage:")
        }
        if found:
            return name, found
    table = _tools_table(pyproject).get("coverage")
    if isinstance(table, dict) and table:
        return "pyproject.toml", {k: v for k, v in table.items() if isinstance(v, dict)}
    return "", {}


def read(root: Path, pyproject: Mapping[str, Any]) -> ToolConfig:
    """The project's tool configuration (one read of each file; `pyproject` is the project's
    pyproject.toml, already parsed)."""
    source, sections = _coverage_sections(root, pyproject)
    coverage = {
        f"{section}.{key}": ToolValue(value, f"{source} [{section}]")
        for section, values in sections.items()
        for key, value in values.items()
    }
    return ToolConfig(
        pytest=_pytest(root, pyproject),
        pylint=_pylint(root, pyproject),
        mypy=_mypy(root, pyproject),
        coverage=coverage,
        coverage_file=source,
        coverage_sections=sections,
    )


def markexpr_of(addopts: Any) -> str:
    """The `-m` expression in pytest addopts, the last one winning as in pytest's own parsing;
    "" for none. A TOML list holds one argument per item (pytest does not split them), a string
    is split as a shell would."""
    if isinstance(addopts, list):
        words = [str(item) for item in addopts]
    else:
        try:
            words = shlex.split(str(addopts))
        except ValueError:
            return ""
    found = ""
    for i, word in enumerate(words):
        if word in ("-m", "--markexpr"):
            found = words[i + 1] if i + 1 < len(words) else found
        elif word.startswith("--markexpr="):
            found = word.split("=", 1)[1]
        elif word.startswith("-m") and not word.startswith("--"):
            found = word[2:].removeprefix("=")  # `-mEXPR`, `-m=EXPR`, a list's "-m EXPR"
    return found.strip()


def truthy(value: Any) -> bool:
    """A boolean as coverage and mypy read one from an ini file or TOML."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
