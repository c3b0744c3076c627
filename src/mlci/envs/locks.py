"""Environments that follow the project's `uv.lock`: CI tests the versions the team locked.

The lock is exported (`uv export --frozen`) as constraints for the session install, so every
package the project needs gets its locked version and the test tools mlci adds move none of
them (a tool the lock pins keeps its pin). Two changes make a lock made on Linux, which pins
PyPI's torch (a CUDA build with its `nvidia-*` and `cuda-*` packages), fit a CPU job: torch's
build is swapped for the job's (`torch==2.13.0` becomes `torch==2.13.0+cpu`, from the torch
index), and the CUDA-only packages are dropped (a CUDA build brings the ones it was built
with). The locked torch *version* is kept.

A uv workspace has one lock, at its root: a member used as the project root follows it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

from mlci.envs.environments import find_uv
from mlci.envs.torch_source import CUDA_ONLY, TORCH_FAMILY
from mlci.errors import ConfigError
from mlci.project.workspace import LOCK

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^ ;+]+)(\+[^ ;]+)?(?P<rest>.*)$"
)


def lock_named(root: Path, lock: Path) -> str:
    """The lock as the follows text names it: `uv.lock`, or whose it is."""
    if lock.parent.resolve() == root.resolve():
        return LOCK
    return f"{LOCK} of the workspace root {os.path.relpath(lock.parent, root.resolve())}"


def check_fresh(root: Path) -> None:
    """ConfigError unless uv.lock agrees with pyproject.toml (as `uv sync --locked` checks)."""
    done = subprocess.run(
        [find_uv(), "lock", "--check", "--quiet", "--directory", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return
    first = next((line for line in done.stderr.splitlines() if line.strip()), "")
    if "needs to be updated" in first or not first:
        raise ConfigError(
            "uv.lock is out of date with pyproject.toml: run `uv lock` (or set"
            ' resolution = "newest" to resolve afresh)'
        )
    raise ConfigError(f"uv.lock cannot be checked: {first.removeprefix('error:').strip()}")


def export(root: Path, groups: tuple[str, ...], extras: tuple[str, ...]) -> str:
    """The lock's pins for the project with these groups and extras (no hashes, no project)."""
    command = [
        find_uv(),
        "export",
        "--frozen",
        "--format",
        "requirements-txt",
        "--no-hashes",
        "--no-header",
        "--no-annotate",
        "--no-emit-project",
        "--no-default-groups",
        "--directory",
        str(root),
        *[f"--group={group}" for group in groups],
        *[f"--extra={extra}" for extra in extras],
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "uv failed")
        raise ConfigError(f"uv.lock cannot be read: {first.removeprefix('error:').strip()}")
    return done.stdout


def for_backend(exported: str, backend: str) -> tuple[str, list[str]]:
    """The pins as constraints for a job's torch build; and the locked torch versions."""
    lines: list[str] = []
    torch_versions: list[str] = []
    for raw in exported.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = _PIN.match(line)
        name = match["name"].lower() if match else ""
        if CUDA_ONLY.match(name):
            # A CPU build needs none of these; a CUDA build brings the ones it was built with.
            continue
        if match and name in TORCH_FAMILY and backend == "image":
            continue  # the image's own torch is kept (image.py pins it)
        if match and name in TORCH_FAMILY and backend != "none":
            version = match["version"]
            if name == "torch":
                torch_versions.append(version)
            line = f"{match['name']}=={version}+{backend}{match['rest']}"
        lines.append(line)
    return "\n".join(lines) + "\n", sorted(set(torch_versions))


def constraints(
    root: Path, groups: tuple[str, ...], extras: tuple[str, ...], backend: str, cache_dir: Path
) -> tuple[Path, list[str]]:
    """A constraints file for `uv pip install -c`, kept by content in mlci's cache."""
    text, torch_versions = for_backend(export(root, groups, extras), backend)
    header = f"# mlci: {root / LOCK} for torch build {backend}\n"
    digest = hashlib.sha256((header + text).encode()).hexdigest()[:16]
    path = cache_dir.resolve() / "mlci-locks" / f"{digest}.txt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + text)
    return path, torch_versions
