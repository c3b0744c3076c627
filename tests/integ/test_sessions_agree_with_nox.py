"""`mlci sessions` prints exactly the commands nox runs, here for a project that is a folder of
a larger git repository (where lint checks only the project's own files)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integ.conftest import QUICK, RunNox
from tests.integ.test_sample_sessions import output

pytestmark = pytest.mark.integ

NOXFILE = "import mlci\n\nmlci.sessions()\n"


def monorepo(root: Path) -> Path:
    """repo/ with another project's file, and repo/models/tiny: a torch-free project."""
    project = root / "models" / "tiny"
    (project / "src" / "tiny").mkdir(parents=True)
    (project / "src" / "tiny" / "__init__.py").write_text('"""Tiny."""\n\nVALUE = 1\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_tiny.py").write_text(
        '"""Tests."""\n\nimport tiny\n\n\ndef test_value():\n    assert tiny.VALUE == 1\n'
    )
    (project / "pyproject.toml").write_text(
        "[project]\nname = 'tiny'\nversion = '0.1'\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        "[tool.mlci]\npython-versions = ['3.11']\ntorch-backend = 'none'\n"
        "sessions = ['lint', 'unit']\ncoverage-fail-under = 50\n"
    )
    # A hook that needs no download: pre-commit's own `identity` prints the files it gets.
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n  - repo: meta\n    hooks:\n      - id: identity\n"
    )
    (project / "noxfile.py").write_text(NOXFILE)
    (root / "other-project.py").write_text("print('not tiny')\n")
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return project


def nox_commands(text: str, programs: set[str]) -> dict[str, list[str]]:
    """Program -> the arguments nox logged for it (`nox > /env/bin/pytest tests ...`)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("nox > /"):
            continue
        words = shlex.split(line.removeprefix("nox > "))
        name = Path(words[0]).name
        if name in programs:
            found[name] = words[1:]
    return found


def test_mlci_sessions_shows_the_commands_nox_runs(tmp_path: Path, run_nox: RunNox) -> None:
    project = monorepo(tmp_path / "repo")
    shown = subprocess.run(
        [sys.executable, "-m", "mlci.cli", "sessions", "--json", "--project", str(project)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **QUICK},  # the settings run_nox gives nox
    )
    expected = {
        Path(words[0]).name: words[1:]
        for row in json.loads(shown.stdout)["sessions"]
        for words in map(shlex.split, row["commands"])
    }
    assert set(expected) == {"pre-commit", "pylint", "pytest"}
    lint = expected["pre-commit"]
    # The project's own files only, never the rest of the repository.
    assert lint[lint.index("--files") + 1 :] == [
        ".pre-commit-config.yaml",
        "noxfile.py",
        "pyproject.toml",
        "src/tiny/__init__.py",
        "tests/test_tiny.py",
    ]

    done = run_nox(project, "-s", "lint", "unit-3.11")
    assert done.returncode == 0, output(done)
    assert nox_commands(output(done), set(expected)) == expected


def test_the_documented_install_puts_nox_and_mlci_on_path(tmp_path: Path) -> None:
    """README: `uv tool install --with-executables-from nox <mlci>`, in a clean tool folder."""
    root = Path(__file__).resolve().parents[2]
    tools, bins = tmp_path / "tools", tmp_path / "bin"
    env = {**os.environ, "UV_TOOL_DIR": str(tools), "UV_TOOL_BIN_DIR": str(bins)}
    subprocess.run(
        ["uv", "tool", "install", "--quiet", "--with-executables-from", "nox", str(root)],
        env=env,
        check=True,
    )
    for command in ("mlci", "nox"):
        done = subprocess.run(
            [str(bins / command), "--version"], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() or done.stderr.strip()
    readme = (root / "README.md").read_text()
    assert 'uv tool install --with-executables-from nox "git+<mlci repository URL>@<ref>"' in readme
