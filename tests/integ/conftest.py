"""Real nox runs of the sample project's sessions, on throwaway copies of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sample import copy_sample, git

RunNox = Callable[..., subprocess.CompletedProcess[str]]
# The sample's DDP test starts two processes (~30 s on 2 cores); the runs that check other
# things leave it out, and tests/integ/test_ddp.py runs it (pass env={**NO_QUICK} to keep it).
QUICK = {"MLCI_EXCLUDE_MARKERS": "distributed"}
NO_QUICK = {"MLCI_EXCLUDE_MARKERS": ""}


@pytest.fixture(scope="session")
def envdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One nox envdir for every copy: environments are built once and reused, as on a laptop."""
    folder = tmp_path_factory.mktemp("nox-envs")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)  # GBs of environments


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A fresh copy of the sample project as its own git repository."""
    copy = copy_sample(tmp_path / "sample-model")
    git(copy, "init", "-q")
    git(copy, "add", "-A")
    return copy


@pytest.fixture
def run_nox(envdir: Path) -> RunNox:
    def run(
        project: Path, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "nox",
            "--noxfile",
            str(project / "noxfile.py"),
            "--envdir",
            str(envdir),
            *args,
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
            env={**os.environ, **QUICK, "PY_COLORS": "0", "NO_COLOR": "1", **(env or {})},
        )
        # Shown by pytest when the test fails: the whole nox log.
        print(f"$ {' '.join(command)}\n{done.stdout}\n{done.stderr}")
        return done

    return run


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def small_project(root: Path, name: str, dependencies: list[str], mlci: str) -> Path:
    """A package `name` built with hatchling, its [tool.mlci] table `mlci` (this Python's
    version first), and a noxfile of mlci's sessions; tests are the caller's."""
    (root / "src" / name).mkdir(parents=True)
    (root / "src" / name / "__init__.py").write_text("")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    (root / "pyproject.toml").write_text(
        f"[project]\nname = '{name}'\nversion = '0'\ndependencies = {dependencies!r}\n\n"
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n\n"
        f"[tool.mlci]\npython-versions = ['{version}']\n{mlci}"
    )
    (root / "tests").mkdir()
    (root / "noxfile.py").write_text("import mlci\n\nmlci.sessions()\n")
    return root
