"""The package's layers hold (import-linter, [tool.importlinter]), and an import that runs
upward fails with import-linter's own message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # --config: import-linter 2.15 (the newest on Python 3.10) takes no positional file.
    program = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(program), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree / "src")},
    )


def test_the_layers_are_kept() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mlci's layers KEPT" in done.stdout


def test_an_import_that_runs_upward_is_named(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    files = tmp_path / "src" / "mlci" / "project" / "files.py"
    files.write_text(files.read_text() + "\nfrom mlci.config import settings  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1
    assert "mlci.project is not allowed to import mlci.config" in done.stdout
    assert "- mlci.project.files -> mlci.config.settings" in done.stdout
