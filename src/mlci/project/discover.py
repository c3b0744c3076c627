"""What `mlci init` finds in a repository: how it is built, its package, its tests and tools.

Pure reading, nothing written. Each finding keeps the reason it was found, for init's table.
"""

from __future__ import annotations

import ast
import configparser
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import ConfigError
from mlci.project import setup_files
from mlci.project.snapshot import Project

# Folders that are never the package under test.
NOT_PACKAGES = {
    "tests",
    "test",
    "docs",
    "doc",
    "examples",
    "example",
    "notebooks",
    "scripts",
    "benchmarks",
    "build",
    "dist",
    "reports",
    "mlci-reports",
    "site",
    "venv",
}
SKIPPED = {
    ".git",
    ".nox",
    ".venv",
    "venv",
    "node_modules",
    ".tox",
    "build",
    "dist",
    "reports",
    "mlci-reports",
}
REQUIREMENTS = re.compile(r"requirements([-_](dev|test|tests|ci))?\.txt")
TEST_TOOLS = ("pytest", "pytest-cov", "coverage", "mypy", "pylint", "ruff", "pre-commit")


@dataclass
class Findings:
    """What the repository has; `notes` say why, one line per choice, for init's table."""

    root: Path
    built_with: str = ""  # "pyproject.toml [project]", "setup.py", ...
    name: str = ""
    package: str = ""
    layout: str = ""  # "src" or "flat"
    requires_python: str = ""
    uv_lock: bool = False
    requirements: list[str] = field(default_factory=list)
    uses_torch: bool = False
    tests_dir: str = ""
    markers: set[str] = field(default_factory=set)
    notebooks: str = ""
    pre_commit: bool = False
    tool_configs: list[str] = field(default_factory=list)  # mypy, ruff, pylint ...
    dev_dependencies: list[str] = field(default_factory=list)  # [tool.rye] / [tool.uv] dev deps
    dev_dependencies_from: str = ""
    groups: list[str] = field(default_factory=list)
    # Each extra and the distributions it names (pyproject, setup.py, setup.cfg).
    extras: dict[str, set[str]] = field(default_factory=dict)
    test_imports: set[str] = field(default_factory=set)  # top-level modules the tests import
    notebook_imports: set[str] = field(default_factory=set)  # ... and the notebooks nbmake runs
    notes: dict[str, str] = field(default_factory=dict)


def _files(root: Path, pattern: str, limit: int = 5000) -> Iterator[Path]:
    for count, path in enumerate(root.rglob(pattern)):
        if count >= limit:
            return
        if not SKIPPED & set(path.relative_to(root).parts):
            yield path


def _setup_py_extras(root: Path) -> dict[str, set[str]]:
    """`extras_require={...}` of a setup.py, where it is a literal (read without running it)."""
    path = root / "setup.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError):
        return {}
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "extras_require":
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return {}  # built in code: not knowable without running setup.py
            if isinstance(value, dict):
                return {
                    str(name): _requirement_names([str(item) for item in items])
                    for name, items in value.items()
                    if isinstance(items, (list, tuple))
                }
    return {}


def _requirement_names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if match and not line.lstrip().startswith(("#", "-")):
            names.add(match[1].lower().replace("_", "-"))
    return names


def _strings(table: dict[str, Any], key: str, where: str) -> list[str]:
    """A list of strings from pyproject.toml; anything else is one line, not a traceback."""
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"pyproject.toml: {where} {key} must be a list of strings (PEP 621), not {value!r}"
        )
    return value


def inspect(project: Project) -> Findings:
    """Read the repository; ConfigError when nothing says it is a Python project."""
    root = project.root
    found = Findings(root)
    pyproject = project.pyproject
    table = pyproject.get("project") if isinstance(pyproject.get("project"), dict) else None
    setup_py = setup_files.setup_py(root)
    setup_cfg = setup_files.setup_cfg(root)
    # Runtime, dev and test requirements; not docs or other extras.
    requirement_files = sorted(
        path.name
        for path in root.glob("requirements*.txt")
        if path.is_file() and REQUIREMENTS.fullmatch(path.name)
    )

    dependencies: set[str] = set()
    if table is not None:
        found.built_with = "pyproject.toml [project]"
        found.name = str(table.get("name", ""))
        found.requires_python = str(table.get("requires-python", ""))
        dependencies = _requirement_names(_strings(table, "dependencies", "[project]"))
    elif setup_py or (root / "setup.py").is_file():
        found.built_with = "setup.py"
        found.name = setup_py.get("name", "")
        found.requires_python = setup_py.get("python_requires", "")
        found.uses_torch = "torch" in setup_py
    elif setup_cfg.has_section("metadata"):
        found.built_with = "setup.cfg"
    if setup_cfg.has_section("metadata"):
        found.name = found.name or setup_cfg.get("metadata", "name", fallback="")
    if setup_cfg.has_section("options"):
        found.requires_python = found.requires_python or setup_cfg.get(
            "options", "python_requires", fallback=""
        )
        dependencies |= _requirement_names(
            setup_cfg.get("options", "install_requires", fallback="").splitlines()
        )
    for name in requirement_files:
        text = (root / name).read_text(encoding="utf-8", errors="replace").splitlines()
        dependencies |= _requirement_names(text)
    if not found.built_with and requirement_files:
        found.built_with = "requirements files only"
    if not found.built_with:
        raise ConfigError(
            f"{root} has no pyproject.toml [project], setup.py, setup.cfg or requirements*.txt:"
            " mlci init needs a Python project (run it in the project's folder)"
        )
    found.requirements = requirement_files if table is None else []
    found.uses_torch = (
        found.uses_torch
        or bool(dependencies & {"torch", "lightning"})
        or any(name.startswith(("torch", "pytorch-lightning")) for name in dependencies)
    )
    found.uv_lock = (root / "uv.lock").is_file()
    found.extras = _extras(table, root, setup_cfg)
    groups = pyproject.get("dependency-groups")
    found.groups = sorted(groups) if isinstance(groups, dict) else []
    _dev_dependencies(found, pyproject)
    _package(found)
    _tests(found)
    _tools(found, pyproject, setup_cfg)
    return found


def _extras(
    table: dict[str, Any] | None, root: Path, setup_cfg: configparser.ConfigParser
) -> dict[str, set[str]]:
    if table is not None:
        declared = table.get("optional-dependencies", {})
        if not isinstance(declared, dict):
            return {}
        return {
            str(name): _requirement_names([str(item) for item in items])
            for name, items in declared.items()
            if isinstance(items, list)
        }
    if setup_cfg.has_section("options.extras_require"):
        return {
            name: _requirement_names(value.splitlines())
            for name, value in setup_cfg.items("options.extras_require")
        }
    return _setup_py_extras(root)


def _dev_dependencies(found: Findings, pyproject: Mapping[str, Any]) -> None:
    """Test dependencies kept where uv pip cannot install them from: rye's and uv's old tables."""
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    for name in ("rye", "uv", "pdm"):
        table = tool.get(name) if isinstance(tool.get(name), dict) else {}
        dev = table.get("dev-dependencies") if isinstance(table, dict) else None
        if isinstance(dev, list) and dev:
            wanted = [item for item in dev if isinstance(item, str)]
            names = _requirement_names(wanted)
            if names - set(TEST_TOOLS):
                found.dev_dependencies = wanted
                found.dev_dependencies_from = f"[tool.{name}] dev-dependencies"
                return


def _package(found: Findings) -> None:
    root = found.root
    wanted = re.sub(r"[-.]+", "_", found.name).lower()
    candidates: list[tuple[str, str]] = []
    for base, layout in ((root / "src", "src"), (root, "flat")):
        if not base.is_dir():
            continue
        for init in sorted(base.glob("*/__init__.py")):
            name = init.parent.name
            if name.isidentifier() and name.lower() not in NOT_PACKAGES:
                candidates.append((name, layout))
    if not candidates:
        raise ConfigError(
            f"no package found in {root}: looked for src/<name>/__init__.py and"
            " <name>/__init__.py (set [tool.mlci] package by hand, then run mlci init again)"
        )
    chosen = next((c for c in candidates if c[0].lower() == wanted), candidates[0])
    found.package, found.layout = chosen
    if chosen[0].lower() == wanted:
        why = f"the import package named after the project ({found.name})"
    elif len(candidates) == 1:
        why = f"the only import package ({chosen[1]} layout)"
    else:
        others = ", ".join(name for name, _ in candidates if name != chosen[0])
        why = f"the first of several import packages (also {others}): set package if not"
    found.notes["package"] = why


def _tests(found: Findings) -> None:
    root = found.root
    for name in ("tests", "test"):
        if (root / name).is_dir():
            found.tests_dir = name
            break
    if found.tests_dir:
        for path in _files(root / found.tests_dir, "*.py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            found.markers |= set(re.findall(r"\bmark\.(integ|gpu|slow)\b", text))
            found.test_imports |= _imports(text)
    _notebooks(found)


def _imports(text: str) -> set[str]:
    """The top-level modules a file imports (`import a.b`, `from a import b`)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _notebook_imports(path: Path) -> set[str]:
    """The modules a notebook's code cells import (IPython's `%` and `!` lines left out)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8", errors="replace")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return set()
    found: set[str] = set()
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        lines = [line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))]
        found |= _imports("\n".join(lines))
    return found


def notebook_files(root: Path, limit: int = 5000) -> list[Path]:
    """Every notebook in the project, relative to it; hidden folders (.ipynb_checkpoints, .nox,
    .venv, .git), environments and build output are not looked into."""
    found: list[Path] = []
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in SKIPPED)
        here = Path(folder).relative_to(root)
        found += [here / name for name in sorted(files) if name.endswith(".ipynb")]
        if len(found) >= limit:
            break
    return found


def _notebooks(found: Findings) -> None:
    """The folder nbmake runs: notebooks/ when it has any, else the one holding the most."""
    by_folder: dict[str, int] = {}
    for path in notebook_files(found.root):
        top = path.parts[0] if len(path.parts) > 1 else "."
        by_folder[top] = by_folder.get(top, 0) + 1
    folders = sorted(
        (name for name in by_folder if name != "."),
        key=lambda name: (name != "notebooks", -by_folder[name], name),
    )
    if not folders:
        if by_folder:
            found.notes["notebooks"] = (
                f"{by_folder['.']} notebook(s) in the project's own folder only: nbmake runs a"
                " folder's notebooks (move them into notebooks/)"
            )
        return
    found.notebooks = folders[0]
    for path in notebook_files(found.root):
        if path.parts[0] == found.notebooks:
            found.notebook_imports |= _notebook_imports(found.root / path)
    note = f"{by_folder[folders[0]]} notebook(s) under {folders[0]}/"
    others = [
        f"{by_folder[name]} in {'the project folder' if name == '.' else name + '/'}"
        for name in [*folders[1:], "."]
        if name in by_folder
    ]
    if others:
        note += f"; not run: {', '.join(others)} (nbmake runs one folder: set notebooks)"
    found.notes["notebooks"] = note


def _tools(
    found: Findings, pyproject: Mapping[str, Any], setup_cfg: configparser.ConfigParser
) -> None:
    root = found.root
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    found.pre_commit = (root / ".pre-commit-config.yaml").is_file()
    for name, files in (
        ("mypy", ("mypy.ini", ".mypy.ini")),
        ("ruff", ("ruff.toml", ".ruff.toml")),
        ("pylint", (".pylintrc", "pylintrc")),
    ):
        if (
            name in tool
            or any((root / f).is_file() for f in files)
            or setup_cfg.has_section(f"{name}" if name != "mypy" else "mypy")
        ):
            found.tool_configs.append(name)
