from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-model"

WriteProject = Callable[..., Path]


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    """A minimal project folder whose pyproject.toml ends with the given [tool.mlci] text."""

    def write(mlci_table: str = "") -> Path:
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "my-model"\nversion = "0.1"\n\n[tool.mlci]\n' + mlci_table
        )
        return tmp_path

    return write
