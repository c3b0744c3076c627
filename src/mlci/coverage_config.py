"""The project's coverage settings with `relative_files` on, for sharded unit runs.

Each shard runs in its own job, often in another folder (another runner, act's workspace copy);
coverage data with absolute paths would then count every file once per folder when combined.
`relative_files = true` stores paths relative to the project, the one setting added; the rest
is the project's own configuration (.coveragerc, setup.cfg, or [tool.coverage]).
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import tomlkit

from mlci.project import read_pyproject


def _toml_table(root: Path) -> dict[str, Any] | None:
    """[tool.coverage] when it is the project's configuration (no .coveragerc, no setup.cfg)."""
    if (root / ".coveragerc").is_file() or _setup_cfg_sections(root / "setup.cfg"):
        return None
    pyproject: dict[str, Any] = read_pyproject(root, required=False)
    coverage = pyproject.get("tool", {}).get("coverage")
    return coverage if isinstance(coverage, dict) else None


def target(root: Path, dest_folder: Path) -> Path:
    """Where `write` puts the configuration (TOML for a [tool.coverage] project)."""
    name = "coverage.toml" if _toml_table(root) is not None else "coveragerc"
    return dest_folder / name


def write(root: Path, dest_folder: Path) -> Path:
    """Write the configuration into `dest_folder`; return its path (for --rcfile/--cov-config)."""
    dest_folder.mkdir(parents=True, exist_ok=True)
    rc = root / ".coveragerc"
    setup_cfg = _setup_cfg_sections(root / "setup.cfg")
    coverage = _toml_table(root)
    if coverage is not None:
        table = {**coverage, "run": {**coverage.get("run", {}), "relative_files": True}}
        path = dest_folder / "coverage.toml"
        path.write_text(tomlkit.dumps({"tool": {"coverage": table}}), encoding="utf-8")
        return path
    parser = configparser.ConfigParser(interpolation=None)
    if rc.is_file():
        parser.read(rc, encoding="utf-8")
    else:
        for name, values in setup_cfg.items():
            parser[name] = values
    if not parser.has_section("run"):
        parser.add_section("run")
    parser.set("run", "relative_files", "True")
    path = dest_folder / "coveragerc"
    with path.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return path


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
