"""What mlci reads from a project's files: pyproject.toml (safely), its folders, its tests.

Nothing here imports nox. Every path a setting names is checked to stay inside the project,
symbolic links resolved: mlci empties report folders, so a folder that points elsewhere is
refused by name instead of followed.
"""

from __future__ import annotations

import re
import stat
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from mlci._toml import tomllib
from mlci.errors import ConfigError

if TYPE_CHECKING:
    from mlci.settings import Settings

# A pyproject.toml is a few KB; anything this large is not one (and is never read whole).
MAX_PYPROJECT_BYTES = 4 * 2**20
REPORTS = "reports"


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


# --- the project's layout -----------------------------------------------------------------------


def package_dir(settings: Settings) -> Path:
    """The package's source folder, relative to the project root (src layout or flat)."""
    package = settings.require_package()
    for candidate in (Path("src") / package, Path(package)):
        if (settings.root / candidate).is_dir():
            inside(settings.root, str(candidate), "package")
            return candidate
    raise ConfigError(
        f"package {package!r} not found as src/{package} or {package} in {settings.root}"
        " (set [tool.mlci] package)"
    )


def tests_dir(settings: Settings) -> Path | None:
    """The tests folder, relative to the project, or None when there is none."""
    path = inside(settings.root, settings.tests_dir, "tests-dir")
    return Path(settings.tests_dir) if path.is_dir() else None


def notebooks(settings: Settings) -> list[str]:
    """Every notebook under the configured folder, relative to the project root."""
    folder = inside(settings.root, settings.notebooks, "notebooks")
    if not folder.is_dir():
        return []
    return sorted(
        str(path.relative_to(settings.root))
        for path in folder.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts
    )


def _python_files(folder: Path, limit: int = 5000) -> Iterator[Path]:
    for count, path in enumerate(folder.rglob("*.py")):
        if count >= limit:
            return
        yield path


_TEST_DEFINITION = re.compile(r"^\s*(?:async\s+)?def test|^\s*class Test", re.M)


def _any_test_file_says(settings: Settings, pattern: re.Pattern[str]) -> bool:
    """Does any Python file under the tests folder match `pattern`? (a look at the text)"""
    folder = tests_dir(settings)
    if folder is None:
        return False
    for path in _python_files(settings.root / folder):
        try:
            if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


def has_tests(settings: Settings) -> bool:
    """Does the tests folder define any test (a `test*` function or `Test*` class)? A folder of
    conftest.py and helpers has nothing for unit to run."""
    return _any_test_file_says(settings, _TEST_DEFINITION)


def marked_tests(settings: Settings, marker: str) -> bool:
    """Does any test file use `@pytest.mark.<marker>` (or `pytestmark = ... mark.<marker>`)?

    A look at the text, for choosing sessions; the session itself still fails if none ran.
    """
    return _any_test_file_says(settings, re.compile(rf"\bmark\.{re.escape(marker)}\b"))


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


# --- what pyproject.toml declares ---------------------------------------------------------------


def declared_groups(pyproject: Mapping[str, Any]) -> set[str]:
    groups = pyproject.get("dependency-groups")
    return set(groups) if isinstance(groups, dict) else set()


def declared_extras(pyproject: Mapping[str, Any]) -> set[str] | None:
    """The project's extras; None when they cannot be known (dynamic, or no [project])."""
    project = pyproject.get("project")
    if not isinstance(project, dict) or "optional-dependencies" in project.get("dynamic", []):
        return None
    extras = project.get("optional-dependencies", {})
    return {re.sub(r"[-_.]+", "-", name).lower() for name in extras}


def requires_python(pyproject: Mapping[str, Any]) -> SpecifierSet | None:
    project = pyproject.get("project")
    text = project.get("requires-python") if isinstance(project, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ConfigError(f"pyproject.toml: requires-python {text!r} is not valid") from None


def allows(spec: SpecifierSet, minor: str) -> bool:
    """Does any release of a minor version (`3.10`) satisfy requires-python?"""
    return any(spec.contains(f"{minor}.{patch}", prereleases=True) for patch in range(100))
