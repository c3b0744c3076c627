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
    "reports",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "__pycache__",
    "lightning_logs",
    ".testmondata",
    ".gitlab-ci-local",
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
