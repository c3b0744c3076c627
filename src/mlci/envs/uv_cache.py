"""uv's cache folder: where mlci keeps what should outlive one project's environments (bytecode,
mypy's cache, the index made from a folder of torch wheels), because both CI front ends save and
restore that folder and every project on a machine shares it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path


@functools.cache
def folder() -> Path:
    """uv's cache folder: `UV_CACHE_DIR`, else what `uv cache dir` says, else uv's default."""
    named = os.environ.get("UV_CACHE_DIR", "").strip()
    if named:
        return Path(named).resolve()
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        done = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip()).resolve()
    return Path.home() / ".cache" / "uv"  # uv's own default on Linux and macOS
