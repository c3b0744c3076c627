"""One environment per Python and torch build, shared by every session that needs that pair.

lint, mypy, unit, integ and nbmake all need the project with its dependencies (torch included):
building it once instead of five times is most of what a cold run saves. Bytecode is compiled
lazily, for the modules a session imports (compiling all of torch up front took ~30 s per
environment), into a folder outside the environments that survives their rebuilds and travels
with uv's cache (bytecode.py): a first `import torch, lightning` that writes its bytecode takes
~9 s more than a warm one.

Here: where an environment lives, how commands run in it, its build lock (for `nox -j`), the
fingerprint of what it was built from, and where uv is. Nothing here imports nox.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no lock; run sessions one at a time there
    fcntl = None  # type: ignore[assignment]

from mlci._version import __version__
from mlci.envs import bytecode
from mlci.errors import ConfigError
from mlci.project.snapshot import Project

STAMP = ".mlci-installed"
FOLLOWS = ".mlci-follows"  # what the environment was installed from, for `mlci doctor`
# Tool tables that change no installed file: editing them must not rebuild the environment.
_TOOLS_NOT_INSTALLED = (
    "mlci",
    "ruff",
    "mypy",
    "pylint",
    "pytest",
    "coverage",
    "black",
    "isort",
    "pyright",
    "codespell",
    "flake8",
    "bandit",
    "pydocstyle",
    "docformatter",
)
# Files beside pyproject.toml that change what is installed.
_BUILD_FILES = ("uv.lock", "setup.cfg", "setup.py", "MANIFEST.in")


@dataclass(frozen=True)
class Environment:
    """A uv-built virtual environment under nox's envdir, and how to run commands in it."""

    location: Path
    python: str
    backend: str
    # gpu-torch = image: the image's interpreter this environment is layered over (its
    # site-packages visible, never written to); None for an environment of its own.
    over: Path | None = None

    @property
    def bin(self) -> Path:
        return self.location / ("Scripts" if os.name == "nt" else "bin")

    @property
    def interpreter(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    @property
    def is_image(self) -> bool:
        return self.over is not None

    @property
    def stamp(self) -> Path:
        return self.location / STAMP

    @property
    def follows(self) -> Path:
        return self.location / FOLLOWS

    def program(self, name: str) -> str:
        """The environment's own copy of a command when it has one, else the name (git, ...)."""
        found = shutil.which(name, path=str(self.bin))
        return found if found is not None else name

    def variables(self) -> dict[str, str | None]:
        """Variables that make child processes (pre-commit, nbmake's kernel) use this env."""
        return {
            "VIRTUAL_ENV": str(self.location),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPYCACHEPREFIX": str(bytecode.root()),
            # What it was installed from, for `mlci doctor` run inside it.
            "MLCI_FOLLOWS": str(self.follows),
            # Bytecode goes to the folder above, never beside the project's sources, and
            # outlives the environment (bytecode.py); without it every run would compile
            # torch's imported modules again (~9 s).
            "PYTHONDONTWRITEBYTECODE": None,
        }

    def up_to_date(self, expected: str) -> bool:
        return (
            self.stamp.is_file()
            and self.stamp.read_text() == expected
            and self.interpreter.exists()
        )


def environment_for(envdir: Path, python: str, backend: str) -> Environment:
    # Absolute: the folder goes on PATH, and tools change directories.
    return Environment(envdir.resolve() / f"py{python}-{backend}", python, backend)


@contextlib.contextmanager
def building(environment: Environment) -> Iterator[None]:
    """Hold the environment's lock: sessions run in parallel (`nox -j`) share environments, and
    the first one builds while the others wait, then find it up to date."""
    lock = environment.location.parent / f"{environment.location.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _installed_part(pyproject: Mapping[str, Any]) -> dict[str, Any]:
    """pyproject.toml without the tool tables that install nothing."""
    data = dict(pyproject)
    tool = data.get("tool")
    if isinstance(tool, dict):
        data["tool"] = {k: v for k, v in tool.items() if k not in _TOOLS_NOT_INSTALLED}
    return data


def fingerprint(project: Project, args: list[str], extra_files: tuple[Path, ...] = ()) -> str:
    """What the environment is built from: a change to any of it rebuilds the environment.

    Not in it: mlci's own settings and the other tools' tables ([tool.mlci], [tool.ruff], ...):
    a threshold or a session list changes nothing that is installed.
    """
    digest = hashlib.sha256()
    root, pyproject = project.root, project.pyproject
    digest.update(json.dumps([str(root), __version__, *args]).encode())
    digest.update(json.dumps(_installed_part(pyproject), sort_keys=True, default=str).encode())
    for path in (*(root / name for name in _BUILD_FILES), *extra_files):
        if path.is_file():
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def find_uv() -> str:
    """uv: $UV, then PATH, then the copy installed next to nox (`pipx install nox[uv]`)."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return found
    try:
        find_uv_bin = importlib.import_module("uv").find_uv_bin
        return str(find_uv_bin())
    except (ImportError, AttributeError, FileNotFoundError):
        raise ConfigError("uv not found: install it (https://docs.astral.sh/uv/)") from None
