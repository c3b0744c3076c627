"""`Project`: one repository as mlci sees it, read once.

A frozen snapshot of the files every command needs: the parsed pyproject.toml and each test
tool's own configuration, read where that tool reads it (tool_config.py). It knows nothing of
mlci's settings: `config.settings.resolve` turns a `Project`, flags and the environment into
`Settings`, and every later step reads the snapshot instead of the files. The layout questions
(where is the package, which tests are marked) take the names the settings chose.

Standard library only: sessions are registered inside nox.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import ConfigError
from mlci.project import setup_files, tool_config
from mlci.project.files import inside, read_pyproject
from mlci.project.tool_config import ToolConfig
from mlci.project.workspace import LOCK, Workspace, find

# Files read to find out whether tests exist or are marked: a look, bounded for huge trees.
MAX_TEST_FILES = 5000
_TEST_DEFINITION = re.compile(r"^\s*(?:async\s+)?def test|^\s*class Test", re.M)


@dataclass(frozen=True)
class Project:
    """A repository's root, its pyproject.toml ({} when there is none), its tools' own
    configuration, and the uv workspace it is a member of."""

    root: Path
    pyproject: Mapping[str, Any] = field(default_factory=dict, repr=False)
    tools: ToolConfig = field(default_factory=ToolConfig, repr=False)
    workspace: Workspace | None = field(default=None, repr=False)

    @classmethod
    def load(cls, root: Path, *, required: bool = True) -> Project:
        """Read the project at `root`: pyproject.toml once, each tool's configuration once.
        A missing pyproject.toml is a ConfigError when `required`."""
        root = root.resolve()
        pyproject = read_pyproject(root, required=required)
        return cls(root, pyproject, tool_config.read(root, pyproject), find(root))

    @classmethod
    def unread(cls, root: Path) -> Project:
        """A project whose files are not to be read (its folder is itself a rejected input)."""
        return cls(root.resolve())

    # --- what pyproject.toml says -------------------------------------------------------------

    @property
    def name(self) -> str:
        """`[project].name`, or "" when pyproject.toml names none."""
        table = self.pyproject.get("project", {})
        return str(table.get("name", "")) if isinstance(table, dict) else ""

    @property
    def shown_name(self) -> str:
        """The name to show: `[project].name`, else what setup.cfg or setup.py declares."""
        return self.name or setup_files.declared_name(self.root)

    def tool(self, name: str) -> Mapping[str, Any]:
        """The `[tool.<name>]` table ({} when absent or not a table)."""
        tools = self.pyproject.get("tool", {})
        table = tools.get(name, {}) if isinstance(tools, dict) else {}
        return table if isinstance(table, dict) else {}

    @property
    def lock(self) -> Path | None:
        """The uv.lock the project follows: its own, or its workspace root's (uv keeps one lock
        per workspace, at its root, and ignores any other)."""
        path = (self.workspace.root if self.workspace else self.root) / LOCK
        return path if path.is_file() else None

    # --- the layout, given the names the settings chose -----------------------------------------

    def package_dir(self, package: str) -> Path:
        """The package's source folder, relative to the root (src layout or flat)."""
        for candidate in (Path("src") / package, Path(package)):
            if (self.root / candidate).is_dir():
                inside(self.root, str(candidate), "package")
                return candidate
        raise ConfigError(
            f"package {package!r} not found as src/{package} or {package} in {self.root}"
            " (set [tool.mlci] package)"
        )

    def tests_dir(self, relative: str) -> Path | None:
        """The tests folder, relative to the root, or None when there is none."""
        return Path(relative) if inside(self.root, relative, "tests-dir").is_dir() else None

    def notebooks(self, relative: str) -> list[str]:
        """Every notebook under the folder, relative to the root."""
        folder = inside(self.root, relative, "notebooks")
        if not folder.is_dir():
            return []
        return sorted(
            str(path.relative_to(self.root))
            for path in folder.rglob("*.ipynb")
            if ".ipynb_checkpoints" not in path.parts
        )

    def has_tests(self, tests_dir: str) -> bool:
        """Does the tests folder define any test (a `test*` function or `Test*` class)? A
        folder of conftest.py and helpers has nothing for unit to run."""
        return self._any_test_file_says(tests_dir, _TEST_DEFINITION)

    def marked_tests(self, tests_dir: str, marker: str) -> bool:
        """Does any test file use `@pytest.mark.<marker>` (or `pytestmark = ... mark.<marker>`)?
        A look at the text, for choosing sessions; the session itself still fails if none ran."""
        return self._any_test_file_says(tests_dir, re.compile(rf"\bmark\.{re.escape(marker)}\b"))

    def _any_test_file_says(self, tests_dir: str, pattern: re.Pattern[str]) -> bool:
        folder = self.tests_dir(tests_dir)
        if folder is None:
            return False
        for path in _python_files(self.root / folder):
            try:
                if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                    return True
            except OSError:
                continue
        return False


def _python_files(folder: Path) -> Iterator[Path]:
    for count, path in enumerate(folder.rglob("*.py")):
        if count >= MAX_TEST_FILES:
            return
        yield path
