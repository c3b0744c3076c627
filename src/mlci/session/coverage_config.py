"""The project's coverage settings, written out with what a run of mlci adds to them.

- Sharded unit runs: each shard runs in its own job, often in another folder (another runner,
  act's workspace copy); coverage data with absolute paths would then count every file once
  per folder when combined. `relative_files = true` stores paths relative to the project.
- Tests marked `distributed` start processes of their own (DDP ranks): `patch = subprocess`
  (coverage 7.10+) makes coverage start in them too, and pytest-cov combines their data, so
  the code only the ranks run counts toward the gate.

Everything else is the project's own configuration (.coveragerc, setup.cfg, tox.ini or
[tool.coverage]), written as a .coveragerc-style file (standard library only: this runs inside
nox).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from mlci.project import tool_config
from mlci.project.tool_config import ToolConfig

NAME = "coveragerc"


def target(dest_folder: Path) -> Path:
    """Where `write` puts the configuration (one name whatever the project's configuration)."""
    return dest_folder / NAME


def write(
    tools: ToolConfig, dest_folder: Path, *, relative: bool = True, subprocesses: bool = False
) -> Path:
    """Write the configuration into `dest_folder`; return its path (for --rcfile/--cov-config).
    Every setting of the file coverage itself reads (`tools.coverage_sections`), plus
    `relative_files` and the `subprocess` patch where asked (kept beside the project's own
    patches)."""
    parser = configparser.ConfigParser(interpolation=None)
    for name, values in tools.coverage_sections.items():
        parser[name] = {key: _ini(value) for key, value in values.items()}
    if not parser.has_section("run"):
        parser.add_section("run")
    if relative:
        parser.set("run", "relative_files", "True")
    if subprocesses:
        patches = [line.strip() for line in parser.get("run", "patch", fallback="").split()]
        patches = [line for line in patches if line]
        if "subprocess" not in patches:
            parser.set("run", "patch", _ini([*patches, "subprocess"]))
    dest_folder.mkdir(parents=True, exist_ok=True)
    path = target(dest_folder)
    with path.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return path


def measures_branches(tools: ToolConfig) -> bool:
    """Is branch coverage asked for, anywhere coverage or pytest-cov reads it: the coverage
    configuration's `[run] branch`, or `--cov-branch` in the project's pytest addopts?"""
    if tool_config.truthy(tools.coverage_sections.get("run", {}).get("branch", False)):
        return True
    addopts = tools.pytest.get("addopts")
    if addopts is None:
        return False
    words = addopts.value if isinstance(addopts.value, list) else str(addopts.value).split()
    return "--cov-branch" in [str(word) for word in words]


# Pythons where coverage's sys.monitoring core runs but is not yet coverage's default (3.14
# makes it the default); it measures lines only there: with branch coverage coverage would
# warn and fall back, and a project's -W error would turn the warning into a failure.
SYSMON_PYTHONS = ("3.12", "3.13")


def core(tools: ToolConfig, python: str) -> dict[str, str]:
    """COVERAGE_CORE for a session: sys.monitoring where it is faster and measures the same
    (a COVERAGE_CORE the user set wins)."""
    if "COVERAGE_CORE" in os.environ:
        return {}
    if python in SYSMON_PYTHONS and not measures_branches(tools):
        return {"COVERAGE_CORE": "sysmon"}
    return {}


def _ini(value: Any) -> str:
    """A TOML value as coverage reads it from a .coveragerc: lists one item per line."""
    if isinstance(value, list):
        return "\n" + "\n".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value)
    return str(value)


def drop_empty_parallel_data(data_file: Path) -> list[Path]:
    """Remove the parallel data files (`coverage.data.<host>.pid<n>.<random>`) that measured
    nothing: with the subprocess patch, helper processes that outlive the tests (multiprocessing's
    resource tracker) write one after pytest-cov has combined the rest. Returns those removed."""
    removed = []
    for path in data_file.parent.glob(f"{data_file.name}.*"):
        with contextlib.suppress(sqlite3.Error, OSError):
            with contextlib.closing(sqlite3.connect(path)) as db:
                (files,) = db.execute("select count(*) from file").fetchone()
            if files == 0:
                path.unlink()
                removed.append(path)
    return removed
