"""Reading a project's files safely: pyproject.toml, paths that must stay inside the project,
the report folders mlci empties, and what pre-commit checks.

Every path a setting names is checked to stay inside the project, symbolic links resolved: mlci
empties report folders, so a folder that points elsewhere is refused by name instead of followed.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

from mlci._toml import tomllib
from mlci.errors import ConfigError

# A pyproject.toml is a few KB; anything this large is not one (and is never read whole).
MAX_PYPROJECT_BYTES = 4 * 2**20
# mlci's report folder. Not a Python identifier: setuptools' automatic discovery takes any
# top-level folder named like one for a package, and a second one fails the build
# ("Multiple top-level packages discovered in a flat-layout").
REPORTS = "mlci-reports"


def read_pyproject(root: Path, *, required: bool = True) -> dict[str, Any]:
    """The project's pyproject.toml as a dict; a missing or unreadable one is a ConfigError."""
    path = root / "pyproject.toml"
    try:
        info = path.stat()
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(f"no pyproject.toml in {root}") from None
    except OSError as err:  # a name too long, no permission
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    # A FIFO or a device (/dev/zero) would block or never end: only regular files are read.
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is not a regular file")
    if info.st_size > MAX_PYPROJECT_BYTES:
        raise ConfigError(f"{path} is {info.st_size} bytes, too large to be a pyproject.toml")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text (byte {err.start})") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML ({err})") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML (nested too deeply)") from None
    return data


def inside(root: Path, relative: str, name: str) -> Path:
    """root/relative, which must stay inside root once symbolic links are resolved."""
    path = root / relative
    resolved = path.resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        raise ConfigError(
            f"{name}: {relative} leads outside the project ({resolved}); it must be a folder"
            f" inside {root}"
        )
    return path


def reports_folder(root: Path, session: str) -> Path:
    """A session's report folder, emptied by the caller: refused if anything on the way is a
    symbolic link (it would empty what the link points to)."""
    for path in (root / REPORTS, root / REPORTS / session):
        if path.is_symlink():
            raise ConfigError(
                f"{path.relative_to(root)} is a symbolic link: mlci empties its report folders,"
                " so they must be real folders inside the project (remove the link)"
            )
    return root / REPORTS / session


def pre_commit_config(root: Path) -> Path | None:
    path = root / ".pre-commit-config.yaml"
    return path if path.is_file() else None


def lint_scope(root: Path) -> tuple[str, ...]:
    """What pre-commit checks: `--all-files`, or the project's own files when the project is a
    folder of a larger git repository (pre-commit works on the whole repository)."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise ConfigError(
            f"pre-commit needs a git repository with the files added: run"
            f" `git init && git add -A` in {root}"
        ) from None
    if Path(top).resolve() == root.resolve():
        return ("--all-files",)
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return ("--files", *[name for name in listed if name])
