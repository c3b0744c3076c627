"""Throwaway copies of the sample project, shared by the integration and end-to-end tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-model"
# What a run leaves in the sample folder; never copied.
BUILT = (
    ".nox",
    "mlci-reports",
    "reports",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "__pycache__",
    "lightning_logs",
    ".testmondata",
    ".gitlab-ci-local",
    ".mlci-test-maps",
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True)
    return done.stdout


def commit_all(folder: Path, message: str) -> None:
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(
        folder,
        "-c",
        "user.name=mlci tests",
        "-c",
        "user.email=tests@mlci.invalid",
        "commit",
        "-q",
        "-m",
        message,
    )


def copy_sample(dest: Path) -> Path:
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns(*BUILT))
    return dest


FLAKY_TEST = '''"""A test that fails its first attempt and passes its rerun: reported flaky."""

import pathlib


def test_passes_on_a_rerun() -> None:
    marker = pathlib.Path(__file__).with_suffix(".attempted")
    if not marker.exists():
        marker.write_text("1")
        raise AssertionError("the first attempt fails")
'''
FLAKY_ID = "tests/test_flaky_once.py::test_passes_on_a_rerun"


def add_a_flaky_test(sample: Path) -> None:
    """A test that passes only on its rerun, and `flaky-reruns = 1` to rerun it."""
    (sample / "tests" / "test_flaky_once.py").write_text(FLAKY_TEST)
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("[tool.mlci]\n", "[tool.mlci]\nflaky-reruns = 1\n", 1)
    )
