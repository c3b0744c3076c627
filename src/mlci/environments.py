"""One environment per Python and torch build, shared by every session that needs that pair.

lint, mypy, unit, integ and nbmake all need the project with its dependencies (torch included):
building it once instead of five times is most of what a cold run saves.  Bytecode is compiled
lazily, for the modules a session imports, into the environment's own `pycache` folder
(PYTHONPYCACHEPREFIX): compiling all of torch up front took ~30 s per environment, a first
`import torch, lightning` that writes its bytecode takes ~9 s more than a warm one.

Nothing here imports nox.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock; run sessions one at a time there
    fcntl = None  # type: ignore[assignment]

from mlci.commands import SessionSpec, tools
from mlci.settings import Settings


@dataclass(frozen=True)
class Environment:
    """A uv-built virtual environment under nox's envdir, and how to run commands in it."""

    location: Path
    python: str
    backend: str

    @property
    def bin(self) -> Path:
        return self.location / ("Scripts" if os.name == "nt" else "bin")

    @property
    def interpreter(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def program(self, name: str) -> str:
        """The environment's own copy of a command when it has one, else the name (git, ...)."""
        found = shutil.which(name, path=str(self.bin))
        return found if found is not None else name

    def variables(self) -> dict[str, str | None]:
        """Variables that make child processes (pre-commit, nbmake's kernel) use this env."""
        return {
            "VIRTUAL_ENV": str(self.location),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPYCACHEPREFIX": str(self.location / "pycache"),
            # Bytecode goes to the folder above, never beside the project's sources; without
            # it every run would compile torch's imported modules again (~9 s).
            "PYTHONDONTWRITEBYTECODE": None,
        }


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


def environment_for(envdir: Path, spec: SessionSpec, python: str) -> Environment:
    # Absolute: the folder goes on PATH, and tools change directories.
    location = envdir.resolve() / f"py{python}-{spec.torch_backend}"
    return Environment(location, python, spec.torch_backend)


def shared_tools(
    settings: Settings, chosen: list[SessionSpec], python: str, backend: str
) -> tuple[str, ...]:
    """Every tool of every session that uses the (python, backend) environment, once each and
    in a stable order, so that whichever session runs first builds the same environment."""
    wanted: dict[str, None] = {}
    for spec in chosen:
        if python in spec.pythons and spec.torch_backend == backend:
            wanted.update(dict.fromkeys(tools(settings, spec.name)))
    return tuple(wanted)
