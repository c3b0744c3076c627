"""The project's coverage settings with `relative_files` on, for sharded unit runs.

Each shard runs in its own job, often in another folder (another runner, act's workspace copy);
coverage data with absolute paths would then count every file once per folder when combined.
`relative_files = true` stores paths relative to the project, the one setting added; the rest
is the project's own configuration (.coveragerc, setup.cfg, or [tool.coverage]), written as a
.coveragerc-style file (standard library only: this runs inside nox).
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Any

from mlci.project import read_pyproject

NAME = "coveragerc"


def target(root: Path, dest_folder: Path) -> Path:
    """Where `write` puts the configuration."""
    del root  # one file name whatever the project's configuration is
    return dest_folder / NAME


def write(root: Path, dest_folder: Path) -> Path:
    """Write the configuration into `dest_folder`; return its path (for --rcfile/--cov-config)."""
    parser = configparser.ConfigParser(interpolation=None)
    rc = root / ".coveragerc"
    setup_cfg = _setup_cfg_sections(root / "setup.cfg")
    if rc.is_file():
        parser.read(rc, encoding="utf-8")
    elif setup_cfg:
        for name, values in setup_cfg.items():
            parser[name] = values
    else:
        pyproject: dict[str, Any] = read_pyproject(root, required=False)
        table = pyproject.get("tool", {}).get("coverage", {})
        for name, values in (table if isinstance(table, dict) else {}).items():
            if isinstance(values, dict):
                parser[name] = {key: _ini(value) for key, value in values.items()}
    if not parser.has_section("run"):
        parser.add_section("run")
    parser.set("run", "relative_files", "True")
    dest_folder.mkdir(parents=True, exist_ok=True)
    path = target(root, dest_folder)
    with path.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return path


def measures_branches(root: Path) -> bool:
    """Does the project's coverage configuration turn branch coverage on?"""
    parser = configparser.ConfigParser(interpolation=None)
    rc = root / ".coveragerc"
    if rc.is_file():
        parser.read(rc, encoding="utf-8")
        return parser.getboolean("run", "branch", fallback=False)
    setup_cfg = _setup_cfg_sections(root / "setup.cfg")
    if setup_cfg:
        return setup_cfg.get("run", {}).get("branch", "").strip().lower() in (
            "true",
            "1",
            "yes",
            "on",
        )
    pyproject: dict[str, Any] = read_pyproject(root, required=False)
    run = pyproject.get("tool", {}).get("coverage", {}).get("run", {})
    return bool(run.get("branch", False)) if isinstance(run, dict) else False


# Pythons where coverage's sys.monitoring core runs but is not yet coverage's default (3.14
# makes it the default); it measures lines only there: with branch coverage coverage would
# warn and fall back, and a project's -W error would turn the warning into a failure.
SYSMON_PYTHONS = ("3.12", "3.13")


def core(root: Path, python: str) -> dict[str, str]:
    """COVERAGE_CORE for a session: sys.monitoring where it is faster and measures the same
    (a COVERAGE_CORE the user set wins)."""
    if "COVERAGE_CORE" in os.environ:
        return {}
    if python in SYSMON_PYTHONS and not measures_branches(root):
        return {"COVERAGE_CORE": "sysmon"}
    return {}


def _ini(value: Any) -> str:
    """A TOML value as coverage reads it from a .coveragerc: lists one item per line."""
    if isinstance(value, list):
        return "\n" + "\n".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value)
    return str(value)


def _setup_cfg_sections(path: Path) -> dict[str, dict[str, str]]:
    """setup.cfg's [coverage:*] sections, named as in a .coveragerc."""
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return {
        name.removeprefix("coverage:"): dict(parser[name])
        for name in parser.sections()
        if name.startswith("coverage:")
    }
